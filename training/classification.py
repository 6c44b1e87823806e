"""What every classifier shares: a TensorBoard confusion matrix and the evaluation report.

Model specs point at `callbacks` and `report` here; the driver only calls what a spec declares.
"""

import json
import os

import keras
import numpy as np
import tensorflow as tf

from training import figures

GRID_EXAMPLES = 32
MISTAKE_POOL = 2000  # mistakes for the grid are looked for among this many test examples


def predict_labels(model, batches, keep_inputs: int = 0):
    """Runs the model over `(inputs, labels)` batches.

    Returns `(labels, predicted labels, confidences, the first keep_inputs inputs)` as NumPy."""
    labels, predictions, confidences, kept = [], [], [], []
    for inputs, targets in batches:
        # Direct call, not predict_on_batch: under MirroredStrategy that one returns an output
        # per replica for a plain tensor.
        probabilities = np.asarray(model(inputs, training=False))  # (batch, num_classes)
        predictions.append(np.argmax(probabilities, axis=-1))
        confidences.append(np.max(probabilities, axis=-1))
        labels.append(np.asarray(targets))
        if sum(len(batch) for batch in kept) < keep_inputs:
            kept.append(np.asarray(inputs))
    kept_inputs = np.concatenate(kept)[:keep_inputs] if kept else None
    return np.concatenate(labels), np.concatenate(predictions), np.concatenate(confidences), kept_inputs


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
        image = figures.to_image_tensor(
            figures.confusion_matrix_figure(matrix, self.class_names, "Validation confusion matrix")
        )
        writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "validation"))
        with writer.as_default():
            tf.summary.image("confusion_matrix", image, step=self.params["epochs"])
        writer.close()


def callbacks(data_info, validation, log_dir: str) -> list:
    return [ConfusionMatrixImage(validation, data_info.class_names, log_dir)]


def report(model, batches, data_info, out_dir: str) -> dict:
    """Writes confusion_matrix.png, examples.png and per_class_accuracy.json into `out_dir`."""
    labels, predictions, _, images = predict_labels(model, batches, keep_inputs=MISTAKE_POOL)
    names = data_info.class_names
    matrix = figures.confusion_matrix(labels, predictions, len(names))
    # Show mistakes first: they teach more than the easy cases.
    wrong = np.flatnonzero(labels[: len(images)] != predictions[: len(images)])
    right = np.flatnonzero(labels[: len(images)] == predictions[: len(images)])
    shown = np.concatenate([wrong, right])[:GRID_EXAMPLES]
    per_class = {
        name: float(matrix[index, index] / max(matrix[index].sum(), 1)) for index, name in enumerate(names)
    }
    per_class_path = os.path.join(out_dir, "per_class_accuracy.json")
    with open(per_class_path, "w") as file:
        json.dump(per_class, file, indent=2)
    return {
        "confusion_matrix": figures.save_png(
            figures.confusion_matrix_figure(matrix, names), os.path.join(out_dir, "confusion_matrix.png")
        ),
        "examples": figures.save_png(
            figures.example_grid_figure(images[shown], labels[shown], predictions[shown], names),
            os.path.join(out_dir, "examples.png"),
        ),
        "per_class_accuracy": per_class_path,
    }
