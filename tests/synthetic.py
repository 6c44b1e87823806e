"""Small, learnable stand-ins for TFDS datasets, fed through the real `tfds.load` path.

`tfds.testing.mock_data` replaces the files on disk, not TFDS' code: `tfds.builder`,
`info.features` and `as_dataset` behave as for the real dataset. Its default examples are
random noise; `as_dataset_fn` below gives images whose class is visible instead (a bright
horizontal band whose row depends on the label), so a test can demand real learning.
"""

import zlib

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds


def band_images(num_examples: int, image_shape, num_classes: int, seed: int):
    """uint8 images (num_examples, *image_shape) with a bright band at rows [2k, 2k + 2) for label k."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, num_examples)
    images = rng.integers(0, 80, (num_examples, *image_shape))
    band = image_shape[0] // num_classes
    for image, label in zip(images, labels):
        image[label * band : (label + 1) * band] += 150
    return images.astype(np.uint8), labels.astype(np.int64)


def mock_band_images(num_examples: int):
    """`mock_data(...)` whose splits hold band images (each split its own draw, so the test
    split is data the model has not seen)."""

    def as_dataset_fn(builder, split, *args, **kwargs):
        features = builder.info.features
        images, labels = band_images(
            num_examples, features["image"].shape, features["label"].num_classes, zlib.crc32(str(split).encode())
        )
        return tf.data.Dataset.from_tensor_slices({"image": images, "label": labels})

    return tfds.testing.mock_data(policy=tfds.testing.MockPolicy.USE_CODE, as_dataset_fn=as_dataset_fn)
