"""What the generative models (GAN, VAE) share: correct losses under tf.distribute, random
draws that do not depend on the number of replicas, samples in TensorBoard, and a Frechet
distance to compare the models with one number.

A generative model here is a `keras.Model` with its own `train_step` and two more things:
`latent_dim` and `generate(noise) -> images in [0, 1]`.
"""

import os

import keras
import numpy as np
import scipy.linalg
import tensorflow as tf

from training import figures, runs
from training.errors import UsageError

GRID_SAMPLES = 64  # an 8x8 grid
SAMPLES_SEED = 1234  # the fixed noise behind the samples in TensorBoard and eval/


class GenerativeModel(keras.Model):
    """The base of the GAN and the VAE: losses tracked per example, and a clean reload.

    Subclasses write `train_step` and `test_step`, which end with `return self.track(...)`, and
    define `latent_dim` and `generate(noise)`."""

    def __init__(self, loss_names, **kwargs):
        super().__init__(**kwargs)
        self.trackers = [keras.metrics.Mean(name) for name in loss_names]

    def track(self, *per_example_losses) -> dict:
        """Adds (batch,) losses, one per name, to running means (Keras merges the replicas'),
        which the progress bar, history.csv and TensorBoard show."""
        for tracker, values in zip(self.trackers, per_example_losses):
            tracker.update_state(values)
        return {tracker.name: tracker.result() for tracker in self.trackers}

    @property
    def metrics(self):
        return self.trackers  # so Keras resets them at every epoch

    def compile_from_config(self, config):
        """Called by `load_model`: compile again with the saved optimizer's settings, built as the
        driver builds it (over all trainable variables), so its saved state loads into it."""
        self.compile(optimizer=keras.optimizers.deserialize(config["optimizer"]))
        self.optimizer.build(self.trainable_variables)


def global_batch_mean(per_example: tf.Tensor) -> tf.Tensor:
    """The mean over the *global* batch of a per-example loss, from inside one replica.

    Under a tf.distribute strategy each replica sees batch / replicas examples, and the
    replicas' gradients are summed. Dividing this replica's sum by the global batch size makes
    that sum the gradient of the global mean; a plain per-replica mean would make gradients
    `replicas` times too large. With one replica both are the same."""
    return tf.nn.compute_average_loss(per_example)


def replica_normal(seed_generator, shape) -> tf.Tensor:
    """Standard normal noise of `shape` (batch first) for this replica's part of the batch.

    Every replica draws the noise of the whole global batch from the same generator state and
    keeps its own rows (MirroredStrategy hands replica i the i-th slice of each batch), so a
    step draws the same numbers on one device and on several."""
    context = tf.distribute.get_replica_context()
    replicas = context.num_replicas_in_sync if context else 1
    replica = context.replica_id_in_sync_group if context else 0
    global_shape = tf.concat([[shape[0] * replicas], shape[1:]], axis=0)
    noise = keras.random.normal(global_shape, seed=seed_generator)
    return noise[replica * shape[0] : (replica + 1) * shape[0]]


def fixed_noise(count: int, latent_dim: int, seed: int = SAMPLES_SEED) -> np.ndarray:
    """The same latent vectors every epoch, so samples show the model changing, not the noise."""
    return np.random.default_rng(seed).standard_normal((count, latent_dim)).astype(np.float32)


class SampleGrid(keras.callbacks.Callback):
    """After every epoch, images generated from one fixed noise vector, in TensorBoard's Images tab."""

    def __init__(self, log_dir: str, count: int = GRID_SAMPLES):
        super().__init__()
        self.log_dir = log_dir
        self.count = count

    def on_epoch_end(self, epoch, logs=None):
        images = np.asarray(self.model.generate(fixed_noise(self.count, self.model.latent_dim)))
        figure = figures.image_grid_figure(images, f"Samples after epoch {epoch + 1}")
        figures.write_figure(os.path.join(self.log_dir, "train"), "samples", figure, epoch + 1)


def callbacks(data_info, validation, log_dir: str) -> list:
    return [SampleGrid(log_dir)]


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two sets of feature vectors (rows):
    |mean_a - mean_b|^2 + trace(cov_a + cov_b - 2 (cov_a cov_b)^(1/2)). 0 for identical sets."""
    mean_a, mean_b = features_a.mean(axis=0), features_b.mean(axis=0)
    # A feature that never fires (a dead ReLU) makes a covariance singular; adding 1e-6 to
    # every variance keeps the matrix square root stable and the distance all but unchanged.
    ridge = 1e-6 * np.eye(features_a.shape[1])
    cov_a, cov_b = (
        np.cov(features_a, rowvar=False) + ridge,
        np.cov(features_b, rowvar=False) + ridge,
    )
    root = scipy.linalg.sqrtm(cov_a @ cov_b)
    root = root.real  # rounding can leave tiny imaginary parts
    return float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a + cov_b - 2 * root))


FRECHET_EXAMPLES = 2000  # real test images and generated images compared


def feature_network(classifier_run: str, dataset: str) -> keras.Model:
    """The input of a finished classifier run's output layer, as a feature extractor.

    Which classifier measures the distance is the user's choice (`evaluate.py RUN_DIR
    --features CLASSIFIER_RUN`): one run named for every generative run compared keeps their
    distances comparable, and evaluating never trains anything."""
    config = runs.load_run_config(classifier_run)
    if config.dataset != dataset:
        raise UsageError(
            f"--features {classifier_run} is a {config.model} trained on {config.dataset}; this "
            f"run generates {dataset} images. Name a classifier run trained on {dataset}, e.g. "
            f"one made by python train.py --model cnn --dataset {dataset}"
        )
    classifier = runs.load_model(classifier_run)
    return keras.Model(classifier.inputs, classifier.layers[-1].input)


def frechet_report(
    model, batches, data_info, out_dir: str, features: str | None = None
) -> tuple[dict, dict]:
    """samples.png (64 images from fixed noise) and the Frechet distance between FRECHET_EXAMPLES
    generated and real test images in the feature space of the project's own classifier."""
    files = {
        "samples": figures.save_png(
            figures.image_grid_figure(
                model.generate(fixed_noise(GRID_SAMPLES, model.latent_dim)), "Samples"
            ),
            os.path.join(out_dir, "samples.png"),
        )
    }
    real = first_images(batches, FRECHET_EXAMPLES)
    generated = np.concatenate(
        [
            np.asarray(model.generate(noise))
            for noise in np.array_split(
                fixed_noise(len(real), model.latent_dim, seed=SAMPLES_SEED + 1),
                max(1, len(real) // 256),
            )
        ]
    )
    if features is None:
        print(
            "No Frechet distance: name the classifier run that measures it with --features "
            f"RUN_DIR (a run of python train.py --model cnn --dataset {data_info.dataset}; name "
            "the same one for every run you compare)."
        )
        return files, {}
    extractor = feature_network(features, data_info.dataset)
    distance = frechet_distance(
        np.asarray(extractor.predict(generated, verbose=0), np.float64),
        np.asarray(extractor.predict(real, verbose=0), np.float64),
    )
    print(
        f"Frechet distance {distance:.2f} between {len(real)} generated and {len(real)} real "
        f"test images, in the features of the classifier in {features}; not the "
        "Inception-based FID."
    )
    return files, {
        "frechet_distance": distance,
        "frechet_examples": len(real),
        "frechet_features": os.path.abspath(features),
    }


def first_images(batches, count: int) -> np.ndarray:
    """The first `count` images of `(images,)` batches."""
    kept = []
    for (images,) in batches:
        kept.append(np.asarray(images))
        if sum(map(len, kept)) >= count:
            break
    return np.concatenate(kept)[:count]
