"""End to end in one process: train.main, then evaluate.main, asserting files and values."""

import collections
import contextlib
import csv
import glob
import json
import os

import keras
import pytest
import tensorflow as tf

import evaluate
import train
from conftest import tiny_flags
from synthetic import mock_learnable

EPOCHS = 2
TRAINING_TRACES = collections.Counter()  # finished_run's traces of each Keras step
TRAINING_SCALARS = collections.Counter()  # finished_run's tf.summary.scalar calls, by name


@contextlib.contextmanager
def counted_traces():
    """Counts how often TensorFlow traces Keras' train_step and test_step (each trace runs the
    step's Python once; later calls run the traced graph)."""
    counts = collections.Counter()

    def counting(name: str):
        step = getattr(keras.Model, name)

        def counted_step(model, data):
            counts[name] += 1
            return step(model, data)

        return counted_step

    with pytest.MonkeyPatch.context() as patch:
        for name in ("train_step", "test_step"):
            patch.setattr(keras.Model, name, counting(name))
        yield counts


@contextlib.contextmanager
def counted_scalars():
    """Counts, by name, the scalar summaries Keras' TensorBoard callback asks for, written or
    not (no default writer set: nothing is written)."""
    counts = collections.Counter()

    class CountingSummary:
        def __getattr__(self, name):  # everything else: tf.summary itself
            return getattr(tf.summary, name)

        def scalar(self, name, *args, **kwargs):
            counts[name] += 1
            return tf.summary.scalar(name, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            keras.callbacks.TensorBoard, "summary", property(lambda self: CountingSummary())
        )
        yield counts


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "cnn"
    with mock_learnable(96), counted_traces() as traces, counted_scalars() as scalars:
        assert train.main(tiny_flags("cnn", run_dir, "--epochs", str(EPOCHS))) == 0
    TRAINING_TRACES.update(traces)
    TRAINING_SCALARS.update(scalars)
    return run_dir


def test_each_step_is_traced_once(finished_run):
    """Validation and the final test share one traced test step, and neither step is traced
    twice, as it would be if the accuracy metric's variables were created while tracing it
    (keras_loop.build_metrics creates them beforehand)."""
    assert TRAINING_TRACES == {"train_step": 1, "test_step": 1}


def test_tensorboard_is_written_once_an_epoch_and_never_per_batch(finished_run):
    """Keras' TensorBoard callback makes a summary call per batch and metric even when it writes
    only once an epoch (callbacks.EpochTensorBoard skips them: they cost 3% of an MLP epoch)."""
    per_batch = {name for name in TRAINING_SCALARS if name.startswith("batch_")}
    assert not per_batch, per_batch
    assert TRAINING_SCALARS["epoch_loss"] == 2 * EPOCHS  # training and validation, each epoch


def test_run_directory_layout(finished_run):
    for name in ("config.json", "model.keras", "history.csv", "metrics.json"):
        assert os.path.getsize(finished_run / name) > 0, name
    assert not os.path.exists(finished_run / "backup"), (
        "backup must be removed after a clean finish"
    )
    config = json.loads((finished_run / "config.json").read_text())
    assert config["model"] == "cnn" and config["dataset"] == "mnist" and config["epochs"] == EPOCHS
    assert config["hyperparameters"]["filters"] == [4]  # --set applied
    assert config["data"]["input_shape"] == [28, 28, 1] and config["data"]["num_classes"] == 10
    assert {"tensorflow", "keras"} <= set(config["versions"])
    with open(finished_run / "history.csv") as file:
        rows = list(csv.DictReader(file))
    assert [int(row["epoch"]) for row in rows] == list(range(EPOCHS))
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(rows[0])
    metrics = json.loads((finished_run / "metrics.json").read_text())
    assert 0.0 <= metrics["accuracy"] <= 1.0 and metrics["loss"] > 0


def summary_tags(log_dir) -> dict[str, str]:
    """{tag: plugin} over every event file in log_dir."""
    tags = {}
    for path in glob.glob(os.path.join(log_dir, "events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                tags[value.tag] = value.metadata.plugin_data.plugin_name
    return tags


def test_tensorboard_logs(finished_run):
    train_tags = summary_tags(finished_run / "logs" / "train")
    validation_tags = summary_tags(finished_run / "logs" / "validation")
    for tag in ("epoch_loss", "epoch_accuracy", "epoch_learning_rate"):
        assert train_tags.get(tag) == "scalars", tag
    for tag in ("epoch_loss", "epoch_accuracy"):
        assert validation_tags.get(tag) == "scalars", tag
    histograms = {tag for tag, plugin in train_tags.items() if plugin == "histograms"}
    # The course's "weights and biases": every Dense layer's kernel and bias, every conv kernel.
    assert any("dense" in tag and "kernel" in tag for tag in histograms), histograms
    assert any("dense" in tag and "bias" in tag for tag in histograms), histograms
    assert any("conv2d" in tag and "kernel" in tag for tag in histograms), histograms
    assert train_tags.get("keras") == "graph_keras_model"  # the model graph (Graphs tab)
    assert validation_tags.get("confusion_matrix") == "images"


def test_evaluate_writes_metrics_and_figures(finished_run, capsys):
    with mock_learnable(96), counted_traces() as traces:
        assert evaluate.main([str(finished_run)]) == 0
    assert traces == {"test_step": 1}  # the model is loaded, its metrics unbuilt: built first
    printed = capsys.readouterr().out
    assert "accuracy" in printed and str(finished_run) in printed
    metrics = json.loads((finished_run / "eval" / "metrics.json").read_text())
    assert metrics["split"] == "test" and 0.0 <= metrics["accuracy"] <= 1.0
    for figure in ("confusion_matrix.png", "examples.png", "training_curves.png"):
        with open(finished_run / "eval" / figure, "rb") as file:
            assert file.read(8) == b"\x89PNG\r\n\x1a\n", figure
    per_class = json.loads((finished_run / "eval" / "per_class.json").read_text())
    assert len(per_class) == 10
    assert all(0.0 <= value <= 1.0 for scores in per_class.values() for value in scores.values())
    metrics = json.loads((finished_run / "eval" / "metrics.json").read_text())
    # Ten classes: precision and recall are macro averages, here the mean of the per-class values.
    assert metrics["recall"] == pytest.approx(
        sum(scores["recall"] for scores in per_class.values()) / 10
    )


def test_evaluate_refuses_an_input_the_model_cannot_take(finished_run, capsys):
    assert evaluate.main([str(finished_run), "--text", "a fine digit"]) == 2
    assert (
        "cnn cannot answer --text; it takes no input on the command line" in capsys.readouterr().err
    )


def test_finished_run_is_never_overwritten(finished_run, capsys):
    before = os.path.getmtime(finished_run / "model.keras")
    with mock_learnable(96):
        assert train.main(tiny_flags("cnn", finished_run, "--epochs", str(EPOCHS))) == 2
    assert "already holds a finished run" in capsys.readouterr().err
    assert os.path.getmtime(finished_run / "model.keras") == before


def test_evaluate_on_another_split(finished_run):
    with mock_learnable(96):
        assert evaluate.main([str(finished_run), "--split", "train[:10%]"]) == 0
    metrics = json.loads((finished_run / "eval" / "metrics.json").read_text())
    assert metrics["split"] == "train[:10%]" and 0.0 <= metrics["accuracy"] <= 1.0
