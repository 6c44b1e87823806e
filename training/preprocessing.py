"""Pure TensorFlow functions that turn a TFDS example dict into `(inputs, targets)`.

They run inside `tf.data.Dataset.map`, so they use TF ops only (no NumPy, no `py_function`).
Next to each one sits the check that a dataset has the features it reads; shapes and class
counts always come from the dataset's `info.features`, never from constants.
"""

import dataclasses

import tensorflow as tf
import tensorflow_datasets as tfds

from training.errors import UsageError


@dataclasses.dataclass(frozen=True)
class ImageClassificationData:
    """What an image classifier needs to know about its dataset."""

    dataset: str
    input_shape: tuple[int, int, int]  # (height, width, channels)
    num_classes: int
    class_names: tuple[str, ...]


def describe_image_classification(dataset_name: str, info) -> ImageClassificationData:
    """Reads image shape and classes from `info.features`, or says why the dataset does not fit."""
    image, label = _features_or_refuse(
        dataset_name,
        info,
        {"image": tfds.features.Image, "label": tfds.features.ClassLabel},
        task="an image-classification",
        suggestions="mnist, fashion_mnist or cifar10",
    )
    if image.shape[0] is None or image.shape[1] is None:
        raise UsageError(
            f"{dataset_name} has images of varying size {image.shape}; this model needs one "
            f"fixed size. Pick a dataset with fixed-size images such as mnist or cifar10."
        )
    return ImageClassificationData(
        dataset=dataset_name,
        input_shape=tuple(int(size) for size in image.shape),
        num_classes=label.num_classes,
        class_names=tuple(label.names),
    )


def _features_or_refuse(dataset_name: str, info, wanted: dict, task: str, suggestions: str) -> list:
    """The features named in `wanted` ({name: TFDS feature type}), in that order; or a
    UsageError that names what the dataset has instead."""
    features = info.features
    if all(name in features and isinstance(features[name], kind) for name, kind in wanted.items()):
        return [features[name] for name in wanted]
    needed = " and ".join(f"a '{name}'" for name in wanted)
    found = ", ".join(f"{key} ({type(value).__name__})" for key, value in features.items())
    raise UsageError(
        f"this model needs {task} dataset with {needed} feature; {dataset_name} has {found}. "
        f"Pick one such as {suggestions} with --dataset."
    )


def image_classification_example(example: dict) -> tuple[tf.Tensor, tf.Tensor]:
    """uint8 image (H, W, C) -> float32 in [0, 1]; the label stays an integer class id."""
    image = tf.cast(example["image"], tf.float32) / 255.0
    return image, example["label"]


@dataclasses.dataclass(frozen=True)
class TextClassificationData:
    """What a text classifier needs to know about its dataset."""

    dataset: str
    num_classes: int
    class_names: tuple[str, ...]


def describe_text_classification(dataset_name: str, info) -> TextClassificationData:
    """Reads the classes from `info.features`, or says why the dataset does not fit."""
    _, label = _features_or_refuse(
        dataset_name,
        info,
        {"text": tfds.features.Text, "label": tfds.features.ClassLabel},
        task="a text-classification",
        suggestions="imdb_reviews or yelp_polarity_reviews",
    )
    return TextClassificationData(
        dataset=dataset_name, num_classes=label.num_classes, class_names=tuple(label.names)
    )


def text_classification_example(example: dict) -> tuple[tf.Tensor, tf.Tensor]:
    """The raw review string stays a string: the model itself turns it into tokens."""
    return example["text"], example["label"]


@dataclasses.dataclass(frozen=True)
class AudioClassificationData:
    """What an audio classifier needs to know about its dataset."""

    dataset: str
    sample_rate: int  # samples per second of every clip
    num_classes: int
    class_names: tuple[str, ...]


def describe_audio_classification(dataset_name: str, info) -> AudioClassificationData:
    """Reads the sample rate and classes from `info.features`, or says why the dataset does not fit."""
    audio, label = _features_or_refuse(
        dataset_name,
        info,
        {"audio": tfds.features.Audio, "label": tfds.features.ClassLabel},
        task="an audio-classification",
        suggestions="spoken_digit or speech_commands",
    )
    if audio.shape != (None,) or not audio.sample_rate:
        raise UsageError(
            f"{dataset_name} has audio of shape {audio.shape} at sample rate {audio.sample_rate}; this "
            f"model needs mono clips (shape (None,)) with a known sample rate, such as spoken_digit's."
        )
    return AudioClassificationData(
        dataset=dataset_name,
        sample_rate=int(audio.sample_rate),
        num_classes=label.num_classes,
        class_names=tuple(label.names),
    )


def audio_classification_example(example: dict) -> tuple[tf.Tensor, tf.Tensor]:
    """Integer samples (TFDS decodes WAV as 16-bit PCM) -> float32 waveform in [-1, 1], any length.

    Clips keep their own length here; batches pad them with zeros (silence), and the model's
    first layer pads or crops every clip to one fixed duration."""
    audio = example["audio"]
    if audio.dtype.is_integer:
        waveform = tf.cast(audio, tf.float32) / 32768.0
    else:
        waveform = tf.cast(audio, tf.float32)
    return waveform, example["label"]


@dataclasses.dataclass(frozen=True)
class ImageGenerationData:
    """What a generative image model needs to know about its dataset (labels are not used)."""

    dataset: str
    input_shape: tuple[int, int, int]  # (height, width, channels)


def describe_image_generation(dataset_name: str, info) -> ImageGenerationData:
    """Reads the image shape from `info.features`, or says why the dataset does not fit."""
    (image,) = _features_or_refuse(
        dataset_name,
        info,
        {"image": tfds.features.Image},
        task="an image",
        suggestions="mnist or fashion_mnist",
    )
    height, width, channels = image.shape
    if height is None or width is None or height % 4 or width % 4:
        raise UsageError(
            f"{dataset_name} has images of size {height}x{width}; the generative models upsample "
            f"twice by 2, so they need a fixed size divisible by 4, such as mnist's 28x28 or cifar10's 32x32."
        )
    return ImageGenerationData(dataset=dataset_name, input_shape=(height, width, channels))


def image_only_example(example: dict) -> tuple[tf.Tensor]:
    """uint8 image -> float32 in [0, 1], alone: a generative model learns the images, not labels."""
    return (tf.cast(example["image"], tf.float32) / 255.0,)
