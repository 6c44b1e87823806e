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


POSITIVE_WORDS = ("good", "great", "wonderful", "moving", "brilliant")
NEGATIVE_WORDS = ("bad", "dull", "awful", "boring", "terrible")
NEUTRAL_WORDS = tuple(f"word{index}" for index in range(40))
TEST_ONLY_WORD = "unseenintraining"  # appears in the test split only


def sentiment_reviews(num_examples: int, seed: int, extra_word: str = ""):
    """Reviews of 3-14 neutral words with one sentiment word somewhere: label 1 if positive.

    The position varies, so a model must find the word, not read one fixed slot."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, num_examples)
    reviews = []
    for label in labels:
        words = list(rng.choice(NEUTRAL_WORDS, rng.integers(3, 15)))
        words.insert(rng.integers(0, len(words) + 1), rng.choice(POSITIVE_WORDS if label else NEGATIVE_WORDS))
        reviews.append(" ".join(words + ([extra_word] if extra_word else [])).capitalize() + ".")
    return np.array(reviews, dtype=object), labels.astype(np.int64)


def mock_sentiment_reviews(num_examples: int):
    """`mock_data(...)` for a text dataset such as imdb_reviews, with learnable reviews; only
    the test split holds TEST_ONLY_WORD."""

    def as_dataset_fn(builder, split, *args, **kwargs):
        extra_word = TEST_ONLY_WORD if str(split).startswith("test") else ""
        reviews, labels = sentiment_reviews(num_examples, zlib.crc32(str(split).encode()), extra_word)
        return tf.data.Dataset.from_tensor_slices({"text": reviews, "label": labels})

    return tfds.testing.mock_data(policy=tfds.testing.MockPolicy.USE_CODE, as_dataset_fn=as_dataset_fn)
