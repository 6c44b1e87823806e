"""A deep convolutional GAN (DCGAN): two networks trained against each other.

The generator turns random noise into an image; the discriminator tells real images from
generated ones. Each step, the discriminator learns to say "real" to real images and "fake"
to generated ones, then the generator learns to make the discriminator say "real". Neither sees
a target image: the generator learns what digits look like only through the discriminator.

    python train.py --model gan
    python evaluate.py RUN_DIR [--features CNN_RUN]  # samples, interpolation, Frechet distance

Watch the samples from one fixed noise vector sharpen epoch by epoch in TensorBoard (Images).
"""

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from models import generative, serving
from models.registry import ModelSpec, register
from training import figures, preprocessing

INTERPOLATION_STEPS = 10
ADAM_BETA_1 = 0.5


def discriminator_loss(real_logits, fake_logits):
    """Binary cross-entropy per example: real images should score 1, generated ones 0. (batch,)"""
    real = tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.ones_like(real_logits), logits=real_logits
    )
    fake = tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.zeros_like(fake_logits), logits=fake_logits
    )
    return tf.reshape(real + fake, [-1])


def generator_loss(fake_logits):
    """The generator wins when generated images score 1 ("non-saturating" loss). (batch,)"""
    return tf.reshape(
        tf.nn.sigmoid_cross_entropy_with_logits(
            labels=tf.ones_like(fake_logits), logits=fake_logits
        ),
        [-1],
    )


@keras.saving.register_keras_serializable(package="gan")
class GAN(generative.GenerativeModel):
    """Generator + discriminator, trained with `fit()` through their own train_step.

    `compile` takes the driver's one optimizer for the discriminator and a fresh copy of it
    (same class, settings and schedule) for the generator."""

    def __init__(self, generator, discriminator, seed=None, **kwargs):
        super().__init__(("discriminator_loss", "generator_loss"), **kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    @property
    def latent_dim(self) -> int:
        return self.generator.input_shape[-1]

    def compile(self, optimizer="adam", loss=None, metrics=None, **kwargs):
        optimizer = keras.optimizers.get(optimizer)
        settings = optimizer.get_config()
        if (
            "beta_1" in settings
        ):  # Adam: the DCGAN paper's momentum of 0.5 steadies the two-player game
            settings["beta_1"] = ADAM_BETA_1
        super().compile(
            optimizer=optimizer.__class__.from_config(settings), **kwargs
        )  # the discriminator's
        self.generator_optimizer = optimizer.__class__.from_config(settings)
        if isinstance(
            self.optimizer, keras.optimizers.LossScaleOptimizer
        ):  # mixed precision: compile
            # wrapped the discriminator's optimizer; the generator's needs its own loss scale.
            self.generator_optimizer = keras.optimizers.LossScaleOptimizer(self.generator_optimizer)
        self.generator_optimizer.build(self.generator.trainable_variables)

    def call(self, images, training=False):
        """Images -> (batch, 1) logits, how real each looks: what `fit` feeds in is images."""
        return self.discriminator(images, training=training)

    def generate(self, noise):
        """Noise (batch, latent_dim) -> new images in [0, 1]."""
        return self.generator(noise, training=False)

    def train_step(self, data):
        real_images = data[0]
        batch_size = tf.shape(real_images)[0]
        # 1. The discriminator: real images -> 1, generated images -> 0.
        noise = generative.replica_normal(
            self.seed_generator, tf.stack([batch_size, self.latent_dim])
        )
        with tf.GradientTape() as tape:
            fake_images = self.generator(noise, training=True)
            per_example = discriminator_loss(
                self.discriminator(real_images, training=True),
                self.discriminator(fake_images, training=True),
            )
            loss = self.optimizer.scale_loss(generative.global_batch_mean(per_example))
        variables = self.discriminator.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        # 2. The generator: make the (now updated) discriminator answer 1 to new fakes.
        noise = generative.replica_normal(
            self.seed_generator, tf.stack([batch_size, self.latent_dim])
        )
        with tf.GradientTape() as tape:
            fooled = generator_loss(
                self.discriminator(self.generator(noise, training=True), training=True)
            )
            loss = self.generator_optimizer.scale_loss(generative.global_batch_mean(fooled))
        variables = self.generator.trainable_variables
        self.generator_optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return self.track(per_example, fooled)

    def test_step(self, data):
        real_images = data[0]
        noise = generative.replica_normal(
            self.seed_generator, tf.stack([tf.shape(real_images)[0], self.latent_dim])
        )
        fake_logits = self.discriminator(self.generator(noise))
        return self.track(
            discriminator_loss(self.discriminator(real_images), fake_logits),
            generator_loss(fake_logits),
        )

    def get_config(self):
        return {
            **super().get_config(),
            "seed": self.seed,
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
        }

    @classmethod
    def from_config(cls, config):
        generator = keras.saving.deserialize_keras_object(config.pop("generator"))
        discriminator = keras.saving.deserialize_keras_object(config.pop("discriminator"))
        return cls(generator, discriminator, **config)


def build_generator(input_shape, hyperparameters) -> keras.Model:
    """(batch, latent_dim) noise -> (batch, h, w, c) images in [0, 1]."""
    height, width, channels = input_shape
    filters = hyperparameters["filters"]  # e.g. (64, 128): discriminator order, reversed here
    noise = keras.Input(shape=(hyperparameters["latent_dim"],), name="noise")
    x = layers.Dense(height // 4 * width // 4 * filters[-1], use_bias=False)(noise)
    # synchronized=True: under several replicas the batch statistics cover the global batch.
    x = layers.LeakyReLU(0.2)(layers.BatchNormalization(synchronized=True)(x))
    x = layers.Reshape((height // 4, width // 4, filters[-1]))(x)  # e.g. (7, 7, 128)
    for units in reversed(filters[:-1]):
        x = layers.Conv2DTranspose(units, 4, strides=2, padding="same", use_bias=False)(
            x
        )  # doubles h, w
        x = layers.LeakyReLU(0.2)(layers.BatchNormalization(synchronized=True)(x))
    images = layers.Conv2DTranspose(
        channels, 4, strides=2, padding="same", activation="sigmoid", dtype="float32", name="images"
    )(x)
    return keras.Model(noise, images, name="generator")


def build_discriminator(input_shape, hyperparameters) -> keras.Model:
    """(batch, h, w, c) images -> (batch, 1) logits: high for "real"."""
    images = keras.Input(shape=input_shape, name="image")
    x = images
    for units in hyperparameters["filters"]:  # strided convolutions halve h, w; no pooling
        x = layers.LeakyReLU(0.2)(layers.Conv2D(units, 4, strides=2, padding="same")(x))
        x = layers.Dropout(hyperparameters["dropout_rate"])(x)
    logits = layers.Dense(1, dtype="float32", name="logits")(layers.Flatten()(x))
    return keras.Model(images, logits, name="discriminator")


def build_gan(data, hyperparameters) -> GAN:
    if len(hyperparameters["filters"]) != 2:
        raise ValueError("filters needs exactly two values (two halvings: 28 -> 14 -> 7)")
    return GAN(
        build_generator(data.input_shape, hyperparameters),
        build_discriminator(data.input_shape, hyperparameters),
        name="gan",
    )


def report(model, batches, data_info, out_dir: str, features=None) -> tuple[dict, dict]:
    """Samples and the Frechet distance, plus interpolation.png: straight lines between random
    noise vectors, decoded step by step (a smooth morph means a smooth latent space)."""
    files, metrics = generative.frechet_report(model, batches, data_info, out_dir, features)
    ends = generative.fixed_noise(8, model.latent_dim, seed=generative.SAMPLES_SEED + 2)
    weights = np.linspace(0, 1, INTERPOLATION_STEPS)[np.newaxis, :, np.newaxis]  # (1, steps, 1)
    lines = (1 - weights) * ends[0::2, np.newaxis] + weights * ends[
        1::2, np.newaxis
    ]  # (4, steps, latent)
    files["interpolation"] = figures.save_png(
        figures.image_grid_figure(
            model.generate(lines.reshape(-1, model.latent_dim).astype(np.float32)),
            "Each row: a straight line between two noise vectors",
            INTERPOLATION_STEPS,
        ),
        f"{out_dir}/interpolation.png",
    )
    return files, metrics


register(
    ModelSpec(
        name="gan",
        description="DCGAN (Model subclass: compile with two optimizers, train_step), images in",
        dataset="mnist",
        describe_data=preprocessing.describe_image_generation,
        preprocess=preprocessing.image_only_example,
        build_model=build_gan,
        loss=None,
        metrics=(),
        hyperparameters={"latent_dim": 64, "filters": (64, 128), "dropout_rate": 0.3},
        test_hyperparameters={"latent_dim": 4, "filters": (4, 8), "dropout_rate": 0.0},
        epochs=20,
        batch_size=64,
        learning_rate=2e-4,
        callbacks=generative.callbacks,
        report=report,
        evaluate_options=("features",),  # evaluate.py RUN_DIR --features CLASSIFIER_RUN
        serving=serving.generator,
    )
)
