"""What every classifier shares: its head, a TensorBoard confusion matrix and the evaluation
report.

Model specs point at `callbacks` and `report` here; the driver only calls what a spec declares.
"""

import functools
import os

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from training import figures, runs

GRID_EXAMPLES = 32
MISTAKE_POOL = 2000  # mistakes for the grid are looked for among this many test examples


def head(features, num_classes: int, hyperparameters: dict):
    """(batch, features) -> (batch, num_classes) probabilities: dropout, a ReLU layer of
    `dense_units`, dropout, softmax. The softmax is computed in float32 even under mixed
    precision, where float16 would round small probabilities to 0 and their log to -inf."""
    x = layers.Dropout(hyperparameters["dropout_rate"])(features)
    x = layers.Dense(hyperparameters["dense_units"], activation="relu")(x)
    x = layers.Dropout(hyperparameters["dropout_rate"])(x)
    return layers.Dense(num_classes, activation="softmax", dtype="float32", name="probabilities")(x)


def predict_labels(model, batches, keep_inputs: int = 0):
    """Runs the model over `(inputs, labels)` batches.

    Returns `(labels, predicted labels, confidences)` as NumPy arrays and a list of the first
    `keep_inputs` inputs (one array each: images, texts or audio clips)."""
    labels, predictions, confidences, kept = [], [], [], []
    # A direct call, not predict_on_batch: under MirroredStrategy that one returns an output per
    # replica for a plain tensor. Compiled, because an eager call runs an LSTM step by step
    # (minutes instead of seconds for 5,000 reviews); a partial, as in transcription.transcriber.
    forward = tf.function(functools.partial(model, training=False), reduce_retracing=True)
    for inputs, targets in batches:
        probabilities = np.asarray(forward(inputs))  # (batch, num_classes)
        predictions.append(np.argmax(probabilities, axis=-1))
        confidences.append(np.max(probabilities, axis=-1))
        labels.append(np.asarray(targets))
        if len(kept) < keep_inputs:
            kept.extend(np.asarray(inputs)[: keep_inputs - len(kept)])
    return np.concatenate(labels), np.concatenate(predictions), np.concatenate(confidences), kept


class ConfusionMatrixImage(keras.callbacks.Callback):
    """At the end of training, puts the validation confusion matrix in TensorBoard's Images tab."""

    def __init__(self, validation, class_names, log_dir: str):
        super().__init__()
        self.validation = validation
        self.class_names = class_names
        self.log_dir = log_dir

    def on_train_end(self, logs=None):
        labels, predictions, _, _ = predict_labels(self.model, self.validation)
        matrix = figures.confusion_matrix(labels, predictions, len(self.class_names))
        figure = figures.confusion_matrix_figure(
            matrix, self.class_names, "Validation confusion matrix"
        )
        figures.write_figure(
            os.path.join(self.log_dir, "validation"),
            "confusion_matrix",
            figure,
            self.params["epochs"],
        )


def callbacks(data_info, validation, log_dir: str) -> list:
    return [ConfusionMatrixImage(validation, data_info.class_names, log_dir)]


def summarize(labels, predictions, class_names, out_dir: str) -> tuple[dict, dict]:
    """Writes confusion_matrix.png and per_class.json; returns `(files, {precision, recall})`.

    With two classes, precision and recall are those of the positive class (label 1, e.g.
    imdb_reviews' "pos"), as usual for a yes/no question; with more, the unweighted mean over
    classes (macro average), so a rare class counts as much as a common one."""
    matrix = figures.confusion_matrix(labels, predictions, len(class_names))
    true_positives = np.diag(matrix).astype(float)
    precision = true_positives / np.maximum(
        matrix.sum(axis=0), 1
    )  # of those predicted as the class
    recall = true_positives / np.maximum(matrix.sum(axis=1), 1)  # of those truly in the class
    per_class = {
        name: {"precision": float(precision[index]), "recall": float(recall[index])}
        for index, name in enumerate(class_names)
    }
    per_class_path = os.path.join(out_dir, "per_class.json")
    runs.write_json(per_class_path, per_class)
    headline = slice(1, 2) if len(class_names) == 2 else slice(None)
    metrics = {
        "precision": float(precision[headline].mean()),
        "recall": float(recall[headline].mean()),
    }
    files = {
        "confusion_matrix": figures.save_png(
            figures.confusion_matrix_figure(matrix, class_names),
            os.path.join(out_dir, "confusion_matrix.png"),
        ),
        "per_class": per_class_path,
    }
    return files, metrics


def report(model, batches, data_info, out_dir: str) -> tuple[dict, dict]:
    """The summary above plus examples.png: a grid of test images, mistakes first."""
    labels, predictions, _, images = predict_labels(model, batches, keep_inputs=MISTAKE_POOL)
    images = np.stack(images)  # (examples, height, width, channels)
    files, metrics = summarize(labels, predictions, data_info.class_names, out_dir)
    # Show mistakes first: they teach more than the easy cases.
    wrong = np.flatnonzero(labels[: len(images)] != predictions[: len(images)])
    right = np.flatnonzero(labels[: len(images)] == predictions[: len(images)])
    shown = np.concatenate([wrong, right])[:GRID_EXAMPLES]
    files["examples"] = figures.save_png(
        figures.example_grid_figure(
            images[shown], labels[shown], predictions[shown], data_info.class_names
        ),
        os.path.join(out_dir, "examples.png"),
    )
    return files, metrics
