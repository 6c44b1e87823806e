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
    features = info.features
    image = features["image"] if "image" in features else None
    label = features["label"] if "label" in features else None
    if not isinstance(image, tfds.features.Image) or not isinstance(label, tfds.features.ClassLabel):
        found = ", ".join(f"{key} ({type(value).__name__})" for key, value in features.items())
        raise UsageError(
            f"this model needs an image-classification dataset with an 'image' and a 'label' "
            f"feature; {dataset_name} has {found}. Pick one such as mnist, fashion_mnist or "
            f"cifar10 with --dataset."
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


def image_classification_example(example: dict) -> tuple[tf.Tensor, tf.Tensor]:
    """uint8 image (H, W, C) -> float32 in [0, 1]; the label stays an integer class id."""
    image = tf.cast(example["image"], tf.float32) / 255.0
    return image, example["label"]
