"""Small, learnable stand-ins for TFDS datasets, fed through the real `tfds.load` path.

`tfds.testing.mock_data` replaces the files on disk, not TFDS' code: `tfds.builder`,
`info.features` and `as_dataset` behave as for the real dataset. Its default examples are
random noise; `mock_learnable` gives examples whose class can be learned instead (images with a
bright band whose row depends on the label, reviews with one sentiment word, tones whose pitch
depends on the label), so a test can demand real learning. Each split is its own draw, so the
test split is data the model has not seen.
"""

import os
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
        words.insert(
            rng.integers(0, len(words) + 1), rng.choice(POSITIVE_WORDS if label else NEGATIVE_WORDS)
        )
        reviews.append(" ".join(words + ([extra_word] if extra_word else [])).capitalize() + ".")
    return np.array(reviews, dtype=object), labels.astype(np.int64)


SPEAKERS = ("ana", "bo")
TONE_SECONDS = (0.1, 2.0)  # clips range from much shorter to much longer than test models' 0.25 s


def tone_hertz(label: int) -> float:
    """The pitch that says the class: 250 Hz apart, all below 4 kHz (8 kHz audio's limit)."""
    return 300.0 + 250.0 * label


def tone_clips(num_examples: int, sample_rate: int, num_classes: int, seed: int):
    """Clips of a noisy pure tone whose pitch gives the label, of random length, loudness and
    start, named like the Free Spoken Digit Dataset: "<label>_<speaker>_<take>.wav", each name once.

    Returns (list of int16 waveforms, labels, file names)."""
    rng = np.random.default_rng(seed)
    clips, labels, names = [], [], []
    for index in range(num_examples):
        label = index % num_classes
        take = index // (num_classes * len(SPEAKERS))
        names.append(f"{label}_{SPEAKERS[index // num_classes % len(SPEAKERS)]}_{take}.wav")
        length = int(rng.uniform(*TONE_SECONDS) * sample_rate)
        time = np.arange(length) / sample_rate
        tone = rng.uniform(0.1, 0.8) * np.sin(
            2 * np.pi * tone_hertz(label) * time + rng.uniform(0, 2 * np.pi)
        )
        tone[: rng.integers(0, sample_rate // 20)] = 0  # the sound starts up to 50 ms late
        noisy = tone + rng.normal(0, 0.01, length)
        clips.append(np.clip(noisy * 32767, -32768, 32767).astype(np.int16))
        labels.append(label)
    return clips, np.array(labels, dtype=np.int64), names


def tone_dataset(features, num_examples: int, seed: int) -> tf.data.Dataset:
    """Examples with the features of an audio dataset (spoken_digit, speech_commands)."""
    clips, labels, names = tone_clips(
        num_examples, features["audio"].sample_rate, features["label"].num_classes, seed
    )
    audio_dtype = features["audio"].dtype

    def examples():
        for clip, label, name in zip(clips, labels, names):
            example = {"audio": clip.astype(audio_dtype.as_numpy_dtype), "label": label}
            if "audio/filename" in features:
                example["audio/filename"] = name
            yield example

    signature = {"audio": tf.TensorSpec((None,), audio_dtype), "label": tf.TensorSpec((), tf.int64)}
    if "audio/filename" in features:
        signature["audio/filename"] = tf.TensorSpec((), tf.string)
    return tf.data.Dataset.from_generator(examples, output_signature=signature)


def learnable_dataset(features, split: str, num_examples: int) -> tf.data.Dataset:
    """Examples for `features` (a dataset's `info.features`): band images, reviews or tones.

    The seed comes from the split's name, so each split is its own draw."""
    seed = zlib.crc32(str(split).encode())
    if "audio" in features:
        return tone_dataset(features, num_examples, seed)
    if "text" in features:
        extra_word = TEST_ONLY_WORD if str(split).startswith("test") else ""
        reviews, labels = sentiment_reviews(num_examples, seed, extra_word)
        return tf.data.Dataset.from_tensor_slices({"text": reviews, "label": labels})
    images, labels = band_images(
        num_examples, features["image"].shape, features["label"].num_classes, seed
    )
    return tf.data.Dataset.from_tensor_slices({"image": images, "label": labels})


def mock_learnable(num_examples: int):
    """`mock_data(...)` whose examples suit the dataset asked for: band images, reviews or tones."""

    def as_dataset_fn(builder, split, *args, **kwargs):
        return learnable_dataset(builder.info.features, split, num_examples)

    return tfds.testing.mock_data(
        policy=tfds.testing.MockPolicy.USE_CODE, as_dataset_fn=as_dataset_fn
    )


def write_tfds_dataset(data_dir: str, name: str, splits, num_examples: int) -> None:
    """Writes `splits` of learnable examples for dataset `name` to `data_dir` in TFDS' own
    on-disk format.

    Same name, version, config, features and splits as the real dataset, so `tfds.load(name,
    data_dir=data_dir)` in any process reads them as it would a download (used where mocking in
    the process is not possible, such as a notebook's kernel)."""
    real = tfds.builder(
        name, data_dir=os.path.join(data_dir, "empty")
    )  # the code's info; no data read
    tfds.dataset_builders.store_as_tfds_dataset(
        name=name,
        version=str(real.info.version),
        config=real.builder_config.name if real.builder_config else None,
        split_datasets={
            split: learnable_dataset(real.info.features, split, num_examples) for split in splits
        },
        features=real.info.features,
        data_dir=data_dir,
        description=f"Learnable stand-in for {name} (tests/synthetic.py)",
    )
