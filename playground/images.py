"""The Images tab: a drawing or a photo -> the image classifier's input -> class probabilities.

A drawing becomes an MNIST-like digit the way MNIST's digits were made: grey ink on black,
cropped to the stroke, scaled so its longer side is 20 of 28 pixels, then placed so its centre
of mass sits in the middle of the 28x28 field. Colour datasets (cifar10) get the whole picture
resized instead. The model's own `preprocess` then turns those pixels into its input.
"""

import numpy as np
import scipy.ndimage
from PIL import Image

from training.errors import UsageError

INK_THRESHOLD = 0.1  # a pixel with less ink than this (0..1) is background when cropping
DIGIT_FRACTION = 20 / 28  # MNIST: the digit's box is 20x20 inside the 28x28 field
SHOWN_SIZE = 224  # the model's view is drawn this wide on the page, in sharp pixels


def picture_of(editor_value) -> np.ndarray:
    """The pixels of what the page sends: a Sketchpad's {"composite": ...} or a plain array."""
    if isinstance(editor_value, dict):
        editor_value = editor_value.get("composite")
    if editor_value is None:
        raise UsageError("there is no picture yet; draw a digit on the canvas or upload an image.")
    return np.asarray(editor_value)


def ink(picture: np.ndarray) -> np.ndarray:
    """(height, width) ink in [0, 1]: 1 where the stroke is. Transparent pixels are paper; a
    light background (paper, a photo of a page) is inverted so the stroke is bright, as in MNIST."""
    picture = picture.astype(np.float32) / 255.0
    if picture.ndim == 2:
        grey = picture
    else:
        rgb = picture[..., :3].mean(axis=-1) if picture.shape[-1] >= 3 else picture[..., 0]
        alpha = picture[..., 3] if picture.shape[-1] == 4 else np.ones_like(rgb)
        grey = rgb * alpha + (1.0 - alpha)  # composited onto white paper
    return 1.0 - grey if np.median(grey) > 0.5 else grey


def mnist_like(picture: np.ndarray, size: int = 28) -> np.ndarray:
    """(size, size) uint8 digit, bright on black, cropped, scaled into the inner box and
    centred by mass, like MNIST's."""
    strokes = ink(picture)
    rows, columns = np.nonzero(strokes > INK_THRESHOLD)
    if rows.size == 0:
        raise UsageError("the picture is empty; draw a digit (a stroke of ink) first.")
    cropped = strokes[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1]
    box = round(size * DIGIT_FRACTION)
    scale = box / max(cropped.shape)
    height = max(1, round(cropped.shape[0] * scale))
    width = max(1, round(cropped.shape[1] * scale))
    digit = np.asarray(
        Image.fromarray(cropped).resize((width, height), Image.Resampling.LANCZOS)
    ).clip(0, 1)
    # Put the box's centre of mass on the field's centre, as far as the field allows.
    mass_row, mass_column = scipy.ndimage.center_of_mass(digit)
    top = int(np.clip(round((size - 1) / 2 - mass_row), 0, size - height))
    left = int(np.clip(round((size - 1) / 2 - mass_column), 0, size - width))
    field = np.zeros((size, size), np.float32)
    field[top : top + height, left : left + width] = digit
    return (field * 255).round().astype(np.uint8)


def model_pixels(picture: np.ndarray, input_shape) -> np.ndarray:
    """uint8 (height, width, channels) pixels as the dataset stores them: an MNIST-like digit
    for square grey datasets, the resized picture for the others."""
    height, width, channels = input_shape
    if channels == 1 and height == width:
        return mnist_like(picture, height)[..., np.newaxis]
    rgb = picture[..., :3] if picture.ndim == 3 else np.stack([picture] * 3, axis=-1)
    resized = np.asarray(Image.fromarray(rgb.astype(np.uint8)).resize((width, height)))
    return resized if channels == 3 else resized.mean(axis=-1, keepdims=True).astype(np.uint8)


def classify(model, spec, description: dict, picture: np.ndarray):
    """(the model's view as a large picture, {class name: probability})."""
    pixels = model_pixels(picture, description["input_shape"])
    # The model's own preprocessing, as in training: uint8 pixels -> its input tensor.
    inputs, _ = spec.preprocess({"image": pixels, "label": 0})
    probabilities = np.asarray(model(np.asarray(inputs)[np.newaxis], training=False))[0]
    names = description["class_names"]
    return enlarged(pixels), {name: float(p) for name, p in zip(names, probabilities)}


def enlarged(pixels: np.ndarray) -> np.ndarray:
    """Pixels blown up to about SHOWN_SIZE wide, each a sharp square, for the page."""
    factor = max(1, SHOWN_SIZE // pixels.shape[1])
    big = pixels.repeat(factor, axis=0).repeat(factor, axis=1)
    return big[..., 0] if big.shape[-1] == 1 else big
