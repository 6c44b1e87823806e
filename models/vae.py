"""A variational autoencoder (VAE): compress an image to a few random numbers, then rebuild it.

The encoder maps an image to a Gaussian in a small latent space (a mean and a log-variance per
dimension); a point is sampled from it and the decoder turns that point back into an image.
Training maximises the evidence lower bound (ELBO), i.e. minimises

    reconstruction loss (how badly the image is rebuilt) + KL (how far the Gaussian is from N(0, I))

The KL term keeps the latent space smooth and centred, so decoding *any* point drawn from
N(0, I) gives a plausible new image: the VAE is a generative model.

    python train.py --model vae
    python train.py --model vae --set latent_dim=2     # a 2-D latent space you can plot
    python evaluate.py RUN_DIR                         # negative ELBO, reconstructions, samples

Pixel likelihood: each intensity in [0, 1] is the probability of a Bernoulli "ink" variable,
so the reconstruction loss is the binary cross-entropy summed over pixels, in nats per image.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops
from scipy.special import erfinv

from models import generative, serving
from models.registry import ModelSpec, register
from training import figures, preprocessing

MANIFOLD_STEPS = 15  # the 2-D latent manifold figure decodes a 15x15 grid of points


def kl_divergence(mean, log_variance):
    """KL(N(mean, exp(log_variance)) || N(0, I)) per example, summed over latent dimensions:
    (batch, latent_dim) -> (batch,)."""
    return -0.5 * ops.sum(1 + log_variance - ops.square(mean) - ops.exp(log_variance), axis=-1)


def reconstruction_loss(images, logits):
    """Bernoulli negative log-likelihood of the images given the decoder's logits, summed over
    pixels: (batch, h, w, c) -> (batch,)."""
    per_pixel = tf.nn.sigmoid_cross_entropy_with_logits(labels=images, logits=logits)
    return ops.sum(per_pixel, axis=(1, 2, 3))


@keras.saving.register_keras_serializable(package="vae")
class Sampling(layers.Layer):
    """z = mean + standard deviation * epsilon, epsilon ~ N(0, I): the "reparameterisation
    trick", which keeps the sample differentiable with respect to mean and log-variance."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        mean, log_variance = inputs
        epsilon = generative.replica_normal(self.seed_generator, tf.shape(mean))
        return mean + ops.exp(0.5 * log_variance) * epsilon

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="vae")
class VAE(generative.GenerativeModel):
    """Encoder + sampling + decoder, trained with `fit()` through its own train_step."""

    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(("loss", "reconstruction_loss", "kl_loss"), **kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.sampling = Sampling(
            name="sampling", dtype="float32"
        )  # as the mean and log-variance are

    @property
    def latent_dim(self) -> int:
        return self.decoder.input_shape[-1]

    def call(self, images, training=False):
        """Images -> reconstructed images in [0, 1]."""
        mean, log_variance = self.encoder(images, training=training)
        return ops.sigmoid(self.decoder(self.sampling([mean, log_variance]), training=training))

    def generate(self, noise):
        """Latent points (from N(0, I) for new images) -> images in [0, 1]."""
        return ops.sigmoid(self.decoder(noise, training=False))

    def losses_per_image(self, images, training=False):
        """(reconstruction loss, KL), each (batch,) in nats per image; their sum is the negative ELBO."""
        mean, log_variance = self.encoder(images, training=training)
        logits = self.decoder(self.sampling([mean, log_variance]), training=training)
        return reconstruction_loss(images, logits), kl_divergence(mean, log_variance)

    def train_step(self, data):
        images = data[0]
        with tf.GradientTape() as tape:
            reconstruction, kl = self.losses_per_image(images, training=True)
            loss = generative.global_batch_mean(reconstruction + kl)
            scaled = self.optimizer.scale_loss(loss)  # loss scaling under mixed precision
        gradients = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        return self.track(reconstruction + kl, reconstruction, kl)

    def test_step(self, data):
        reconstruction, kl = self.losses_per_image(data[0])
        return self.track(reconstruction + kl, reconstruction, kl)

    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
        }

    @classmethod
    def from_config(cls, config):
        encoder = keras.saving.deserialize_keras_object(config.pop("encoder"))
        decoder = keras.saving.deserialize_keras_object(config.pop("decoder"))
        return cls(encoder, decoder, **config)


def build_encoder(input_shape, hyperparameters) -> keras.Model:
    """(batch, h, w, c) images -> mean and log-variance, each (batch, latent_dim)."""
    images = keras.Input(shape=input_shape, name="image")
    x = images
    for filters in hyperparameters["filters"]:  # each strided conv halves the resolution
        x = layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Dense(hyperparameters["dense_units"], activation="relu")(layers.Flatten()(x))
    # float32 under mixed precision: the KL term and exp(log_variance) need the range.
    mean = layers.Dense(hyperparameters["latent_dim"], dtype="float32", name="mean")(x)
    log_variance = layers.Dense(
        hyperparameters["latent_dim"], dtype="float32", name="log_variance"
    )(x)
    return keras.Model(images, [mean, log_variance], name="encoder")


def build_decoder(input_shape, hyperparameters) -> keras.Model:
    """(batch, latent_dim) points -> (batch, h, w, c) logits of each pixel's intensity."""
    height, width, channels = input_shape
    filters = hyperparameters["filters"]
    points = keras.Input(shape=(hyperparameters["latent_dim"],), name="latent")
    x = layers.Dense(height // 4 * width // 4 * filters[-1], activation="relu")(points)
    x = layers.Reshape((height // 4, width // 4, filters[-1]))(x)
    for units in reversed(filters):  # each transposed conv doubles the resolution
        x = layers.Conv2DTranspose(units, 3, strides=2, padding="same", activation="relu")(x)
    logits = layers.Conv2DTranspose(channels, 3, padding="same", dtype="float32", name="logits")(x)
    return keras.Model(points, logits, name="decoder")


def report(model, batches, data_info, out_dir: str, features=None) -> tuple[dict, dict]:
    """Samples and the Frechet distance; reconstructions; for a 2-D latent space, the manifold."""
    files, metrics = generative.frechet_report(model, batches, data_info, out_dir, features)
    images = generative.first_images(batches, 32)
    rebuilt = np.asarray(model(images))
    columns = min(8, len(images))  # a test split may hold fewer than a row of 8
    pairs = np.concatenate(
        [
            np.stack([images[start : start + columns], rebuilt[start : start + columns]])
            for start in range(0, len(images) - columns + 1, columns)
        ]
    ).reshape(-1, *images.shape[1:])
    files["reconstructions"] = figures.save_png(
        figures.image_grid_figure(
            pairs, "Test images (odd rows) and their reconstructions (even rows)", columns
        ),
        f"{out_dir}/reconstructions.png",
    )
    if model.latent_dim == 2:
        # Evenly spaced quantiles of N(0, 1) along both axes: equal probability mass per step.
        steps = np.sqrt(2) * np.array(
            [erfinv(2 * q - 1) for q in np.linspace(0.05, 0.95, MANIFOLD_STEPS)]
        )
        points = np.array([[x, y] for y in steps[::-1] for x in steps], np.float32)
        files["latent_manifold"] = figures.save_png(
            figures.image_grid_figure(
                model.generate(points),
                "Decoded latent grid (z1 left to right, z2 bottom to top)",
                MANIFOLD_STEPS,
            ),
            f"{out_dir}/latent_manifold.png",
        )
    return files, metrics


def build_vae(data, hyperparameters) -> VAE:
    if len(hyperparameters["filters"]) != 2:
        raise ValueError("filters needs exactly two values (two halvings: 28 -> 14 -> 7)")
    return VAE(
        build_encoder(data.input_shape, hyperparameters),
        build_decoder(data.input_shape, hyperparameters),
        name="vae",
    )


register(
    ModelSpec(
        name="vae",
        description="Convolutional variational autoencoder (Model subclass with train_step), images in",
        dataset="mnist",
        describe_data=preprocessing.describe_image_generation,
        preprocess=preprocessing.image_only_example,
        build_model=build_vae,
        loss=None,
        metrics=(),
        hyperparameters={"latent_dim": 16, "filters": (32, 64), "dense_units": 128},
        test_hyperparameters={"latent_dim": 2, "filters": (4, 8), "dense_units": 8},
        epochs=20,
        batch_size=128,
        learning_rate=1e-3,
        callbacks=generative.callbacks,
        report=report,
        evaluate_options=("features",),  # evaluate.py RUN_DIR --features CLASSIFIER_RUN
        serving=serving.autoencoder,
    )
)
