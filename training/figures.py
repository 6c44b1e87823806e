"""Matplotlib figures shared by TensorBoard images and `evaluate.py` PNGs.

Each function returns a figure; `save_png` and `to_image_tensor` turn it into a file or into
the `(1, height, width, 4)` uint8 tensor `tf.summary.image` expects, and a notebook shows it as
it is. The figures are made without pyplot, so they need no display, never open a window, are
freed like any Python object, and leave pyplot's backend (a notebook's inline one) alone.
"""

import csv
import io
import os

import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure

from training import runs


def subplots(rows: int = 1, columns: int = 1, figsize=None, squeeze: bool = True):
    """pyplot's `subplots` without pyplot: (figure, axes)."""
    figure = Figure(figsize=figsize)
    return figure, figure.subplots(rows, columns, squeeze=squeeze)


def save_png(figure, path: str) -> str:
    with runs.replaced(path) as temporary:  # never a half-written PNG
        figure.savefig(temporary, dpi=110, bbox_inches="tight")
    return path


def to_image_tensor(figure) -> tf.Tensor:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return tf.expand_dims(tf.image.decode_png(buffer.getvalue(), channels=4), 0)


def write_figure(log_dir: str, name: str, figure, step: int) -> None:
    """`figure` as an image named `name` in TensorBoard's Images tab, in the event files of
    `log_dir` (e.g. RUN_DIR/logs/validation), at `step` (an epoch)."""
    writer = tf.summary.create_file_writer(log_dir)
    with writer.as_default():
        tf.summary.image(name, to_image_tensor(figure), step=step)
    writer.close()


def confusion_matrix(labels, predictions, num_classes: int) -> np.ndarray:
    """Counts, rows = true class, columns = predicted class."""
    return tf.math.confusion_matrix(labels, predictions, num_classes=num_classes).numpy()


def confusion_matrix_figure(matrix: np.ndarray, class_names, title="Confusion matrix"):
    size = max(4.0, 0.55 * len(class_names) + 2)
    figure, axes = subplots(figsize=(size, size))
    # Row-normalised colours show per-class recall; the numbers are raw counts.
    recall = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    axes.imshow(recall, cmap="Blues", vmin=0, vmax=1)
    ticks = np.arange(len(class_names))
    axes.set(xticks=ticks, yticks=ticks, xlabel="predicted", ylabel="true", title=title)
    axes.set_xticklabels(class_names, rotation=45, ha="right")
    axes.set_yticklabels(class_names)
    for row, column in np.ndindex(matrix.shape):
        color = "white" if recall[row, column] > 0.5 else "black"
        axes.text(
            column, row, matrix[row, column], ha="center", va="center", color=color, fontsize=8
        )
    return figure


def example_grid_figure(images, labels, predictions, class_names, columns=8):
    """Images with 'predicted (true)' titles; mistakes in red so they stand out."""
    rows = -(-len(images) // columns)
    figure, grid = subplots(rows, columns, figsize=(1.6 * columns, 1.8 * rows), squeeze=False)
    for axes in grid.flat:
        axes.axis("off")
    for axes, image, label, prediction in zip(grid.flat, images, labels, predictions):
        image = np.asarray(image)
        axes.imshow(image.squeeze(-1) if image.shape[-1] == 1 else image, cmap="gray")
        wrong = label != prediction
        title = f"{class_names[prediction]}" + (f" ({class_names[label]})" if wrong else "")
        axes.set_title(title, color="red" if wrong else "black", fontsize=8)
    figure.suptitle("predicted (true, when wrong)")
    return figure


def read_history(path: str) -> dict[str, list[float]]:
    """history.csv (written by keras.callbacks.CSVLogger) as {column: values}; {} when the file
    is missing or damaged (said on stdout), so an evaluation goes on without its curves."""
    if not os.path.exists(path):
        return {}
    try:
        with open(path, newline="") as file:
            rows = list(csv.DictReader(file))
        return {key: [float(row[key]) for row in rows] for key in (rows[0] if rows else {})}
    except (ValueError, TypeError, UnicodeDecodeError, csv.Error) as error:
        print(f"{path} cannot be read ({type(error).__name__}: {error}); no figure from it.")
        return {}


def training_curves_figure(history: dict[str, list[float]]):
    """One panel per metric, training and validation curves side by side."""
    names = [key for key in history if key != "epoch" and not key.startswith("val_")]
    figure, panels = subplots(1, len(names), figsize=(4.2 * len(names), 3.4), squeeze=False)
    epochs = [int(epoch) + 1 for epoch in history["epoch"]]
    for axes, name in zip(panels.flat, names):
        axes.plot(epochs, history[name], marker="o", label="train")
        if f"val_{name}" in history:
            axes.plot(epochs, history[f"val_{name}"], marker="o", label="validation")
        axes.set(title=name, xlabel="epoch")
        axes.grid(alpha=0.3)
        axes.legend()
    figure.tight_layout()
    return figure


def attention_figure(words, weights, total_words=None):
    """Heatmap of attention: row i shows how much word i draws on each word (columns).

    Each full row sums to 1 over all `total_words` words of the text; when only the first
    words are shown, the rows hold the part of that attention that falls on them."""
    size = max(4.0, 0.3 * len(words) + 2)
    figure, axes = subplots(figsize=(size + 1, size))
    image = axes.imshow(weights, cmap="viridis", vmin=0)
    figure.colorbar(image, ax=axes, fraction=0.04, label="attention weight")
    ticks = np.arange(len(words))
    shown = (
        f"first {len(words)} of {total_words} words"
        if total_words and total_words > len(words)
        else "all words"
    )
    axes.set(
        xticks=ticks,
        yticks=ticks,
        xlabel="attends to",
        ylabel="word",
        title=f"Self-attention, first block, mean over heads ({shown})",
    )
    axes.set_xticklabels(words, rotation=90, fontsize=8)
    axes.set_yticklabels(words, fontsize=8)
    return figure


def audio_clips_figure(
    waveforms, spectrograms, sample_rate: int, step_seconds: float, titles, mistakes=None
):
    """One column per clip: its waveform above its log-mel spectrogram (time runs left to right,
    low pitch at the bottom). Titles of `mistakes` (booleans) are red."""
    mistakes = [False] * len(titles) if mistakes is None else mistakes
    columns = len(titles)
    figure, grid = subplots(2, columns, figsize=(2.6 * columns, 4.6), squeeze=False)
    for column, (waveform, spectrogram, title, wrong) in enumerate(
        zip(waveforms, spectrograms, titles, mistakes)
    ):
        time = np.arange(len(waveform)) / sample_rate
        grid[0, column].plot(time, waveform, linewidth=0.5)
        grid[0, column].set(ylim=(-1, 1), xlabel="seconds")
        grid[0, column].set_title(title, color="red" if wrong else "black", fontsize=9)
        spectrogram = np.asarray(spectrogram)  # (frames, mel bands), natural log of power
        # Colours span the 80 dB (a factor of 10^8 in power) below the loudest point, as is usual.
        grid[1, column].imshow(
            spectrogram.T,
            origin="lower",
            aspect="auto",
            cmap="magma",
            vmin=spectrogram.max() - np.log(1e8),
            vmax=spectrogram.max(),
            extent=(0, len(spectrogram) * step_seconds, 0, spectrogram.shape[1]),
        )
        grid[1, column].set(xlabel="seconds")
    grid[0, 0].set_ylabel("waveform")
    grid[1, 0].set_ylabel("mel band")
    figure.tight_layout()
    return figure


def image_grid_figure(images, title: str, columns: int = 8):
    """Images (n, height, width[, channels]) in rows of `columns`, thin white lines between
    them, no labels: samples, reconstructions, interpolations.

    The grid is tiled into one picture and drawn once: a subplot per image took 0.6 s for 64
    images, after every epoch of a generative model."""
    images = np.clip(np.asarray(images, np.float32), 0, 1)
    if images.ndim == 3:  # grey images without a channel axis
        images = images[..., np.newaxis]
    count, height, width, channels = images.shape
    rows, gap = -(-count // columns), max(1, height // 28)  # gap: 1 pixel at 28 x 28
    tiled = np.ones(
        (rows * (height + gap) - gap, columns * (width + gap) - gap, channels), np.float32
    )
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top, left = row * (height + gap), column * (width + gap)
        tiled[top : top + height, left : left + width] = image
    figure_height = 0.9 * rows + 0.4  # inches: the rows, and 0.4 for the title
    figure, axes = subplots(figsize=(0.9 * columns, figure_height))
    axes.imshow(
        tiled.squeeze(-1) if channels == 1 else tiled,
        cmap="gray",
        vmin=0,
        vmax=1,
        interpolation="nearest",
    )
    axes.axis("off")
    figure.suptitle(title)
    figure.subplots_adjust(top=1 - 0.4 / figure_height, bottom=0.01, left=0.01, right=0.99)
    return figure


def episode_returns_figure(steps, returns, window: int = 20, evaluations=None):
    """Training episodes: each return as a dot at the step it ended, and its moving average;
    `evaluations` = (steps, mean returns) of the greedy evaluations made while training."""
    figure, axes = subplots(figsize=(7, 3.6))
    axes.plot(steps, returns, ".", markersize=3, alpha=0.35, label="episode return while learning")
    if len(returns) >= window:
        average = np.convolve(returns, np.ones(window) / window, mode="valid")
        axes.plot(
            steps[window - 1 :], average, linewidth=2, label=f"mean of the last {window} episodes"
        )
    if evaluations is not None:
        axes.plot(*evaluations, "o-", color="tab:green", markersize=4, label="greedy evaluation")
    axes.set(xlabel="environment step", ylabel="return", title="Returns while training")
    axes.legend(loc="upper left")
    return figure


def return_distribution_figure(returns, title: str):
    """A histogram of evaluation returns, with their mean marked."""
    figure, axes = subplots(figsize=(5.5, 3.4))
    axes.hist(returns, bins=min(30, max(5, len(set(returns)))), color="tab:blue", alpha=0.8)
    axes.axvline(
        np.mean(returns), color="black", linestyle="--", label=f"mean {np.mean(returns):.1f}"
    )
    axes.set(xlabel="return", ylabel="episodes", title=title)
    axes.legend()
    return figure
