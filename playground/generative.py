"""The Generative tab: images a GAN or VAE makes from latent points. Samples from a seed,
a walk between two seeds' points, and (for a 2-D latent space) any point you pick."""

import numpy as np

from models import generative
from playground import images
from training.errors import UsageError

SAMPLES = 16  # a 4x4 grid


def samples(model, seed: int) -> np.ndarray:
    """A 4x4 grid of images from SAMPLES latent points drawn from `seed`."""
    noise = generative.fixed_noise(SAMPLES, model.latent_dim, int(seed))
    return grid(np.asarray(model.generate(noise)), columns=4)


def interpolate(model, seed_a: int, seed_b: int, fraction: float) -> np.ndarray:
    """The image at `fraction` (0..1) of the straight line from seed_a's point to seed_b's."""
    start = generative.fixed_noise(1, model.latent_dim, int(seed_a))
    end = generative.fixed_noise(1, model.latent_dim, int(seed_b))
    point = (1.0 - fraction) * start + fraction * end  # (1, latent_dim)
    return picture(model, point)


def at_point(model, x: float, y: float) -> np.ndarray:
    """The image at (x, y) of a 2-D latent space."""
    if model.latent_dim != 2:
        raise UsageError(
            f"this model's latent space has {model.latent_dim} dimensions, so there is no plane "
            "to pick from; train one with two: python train.py --model vae --set latent_dim=2"
        )
    return picture(model, np.array([[x, y]], np.float32))


def picture(model, points: np.ndarray) -> np.ndarray:
    pixels = (np.clip(np.asarray(model.generate(points))[0], 0, 1) * 255).astype(np.uint8)
    return images.enlarged(pixels)


def grid(batch: np.ndarray, columns: int) -> np.ndarray:
    """(n, h, w, c) images in [0, 1] -> one uint8 picture of `columns` per row, each enlarged."""
    pixels = (np.clip(batch, 0, 1) * 255).astype(np.uint8)
    count, height, width, channels = pixels.shape
    rows = -(-count // columns)
    sheet = np.zeros((rows * height, columns * width, channels), np.uint8)
    for index, image in enumerate(pixels):
        row, column = divmod(index, columns)
        sheet[row * height : (row + 1) * height, column * width : (column + 1) * width] = image
    factor = max(1, 448 // sheet.shape[1])
    big = sheet.repeat(factor, axis=0).repeat(factor, axis=1)
    return big[..., 0] if channels == 1 else big
