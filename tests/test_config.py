"""Pure pieces of the driver: --set parsing, the history file a resumed run appends to, the
weight histograms and the throughput clock."""

import glob
import os

import numpy as np
import pytest
import tensorflow as tf

from training import callbacks
from training.callbacks import truncate_history
from training.config import RunConfig, apply_overrides
from training.errors import UsageError

DEFAULTS = {
    "hidden_units": (512, 256),
    "activation": "relu",
    "dropout_rate": 0.3,
    "epochs": 3,
    "bias": True,
}


def test_overrides_parse_as_the_default_type():
    parsed = apply_overrides(
        DEFAULTS,
        ["hidden_units=64,32,16", "activation=sigmoid", "dropout_rate=0", "epochs=7", "bias=false"],
        "mlp",
    )
    assert parsed == {
        "hidden_units": (64, 32, 16),
        "activation": "sigmoid",
        "dropout_rate": 0.0,
        "epochs": 7,
        "bias": False,
    }
    assert (
        type(parsed["dropout_rate"]) is float and DEFAULTS["dropout_rate"] == 0.3
    )  # defaults untouched


@pytest.mark.parametrize("assignment", ["epochs=2.5", "bias=maybe", "hidden_units=1,x"])
def test_wrong_types_are_refused(assignment):
    with pytest.raises(UsageError, match="expected"):
        apply_overrides(DEFAULTS, [assignment], "mlp")


def test_resume_refuses_a_different_training_config():
    base = dict(
        model="mlp",
        dataset="mnist",
        run_dir="a",
        hyperparameters={"units": (8,)},
        epochs=3,
        batch_size=16,
        learning_rate=0.1,
    )
    saved = RunConfig(**base)
    assert (
        RunConfig(
            **{**base, "run_dir": "b", "hyperparameters": {"units": [8]}}
        ).training_differences(saved)
        == []
    )
    assert RunConfig(**{**base, "epochs": 4, "seed": 2}).training_differences(saved) == [
        "epochs",
        "seed",
    ]


def test_truncate_history_keeps_finished_epochs(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("epoch,loss\n0,1.0\n1,0.5\n2,0.25\n")
    truncate_history(str(path), 2)
    assert path.read_text().splitlines() == ["epoch,loss", "0,1.0", "1,0.5"]
    truncate_history(str(tmp_path / "missing.csv"), 2)  # a fresh run has none: nothing to do


def histograms_written(log_dir) -> dict[str, np.ndarray]:
    """{tag: (buckets, 3) array} of the histogram summaries in log_dir's event files."""
    found = {}
    for path in glob.glob(os.path.join(log_dir, "events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(path):
            for value in tf.compat.v1.Event.FromString(record.numpy()).summary.value:
                if value.metadata.plugin_data.plugin_name == "histograms":
                    found[value.tag] = tf.make_ndarray(value.tensor)
    return found


def test_weight_histograms_match_tensorflows_own(tmp_path):
    values = {
        "spread": np.random.default_rng(0).normal(size=(64, 32)).astype(np.float32),
        "one_value": np.full((5,), 0.25, np.float32),
        "integers": np.arange(10, dtype=np.float32),  # values on bucket edges
    }
    for name, writer_dir in (("numpy", tmp_path / "numpy"), ("tensorflow", tmp_path / "tf")):
        writer = tf.summary.create_file_writer(str(writer_dir))
        with writer.as_default():
            for tag, array in values.items():
                if name == "numpy":
                    callbacks.write_histogram(tag, array, step=3)
                else:
                    tf.summary.histogram(tag, array, step=3)
        writer.close()
    ours, theirs = histograms_written(tmp_path / "numpy"), histograms_written(tmp_path / "tf")
    assert set(ours) == set(values)
    for tag in values:
        assert ours[tag].shape == (callbacks.HISTOGRAM_BUCKETS, 3), tag
        np.testing.assert_allclose(ours[tag], theirs[tag], rtol=1e-6, err_msg=tag)
        assert ours[tag][:, 2].sum() == values[tag].size, tag  # every value counted once


def test_throughput_counts_the_work_between_epochs(monkeypatch):
    """Histograms and the backup run after the epoch's own end; the next epoch pays for them."""
    clock = iter([0.0, 2.0, 5.0])  # train begins, epoch 0 ends, (1 s of extras) epoch 1 ends
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: next(clock))
    throughput = callbacks.Throughput(examples_per_epoch=600)
    throughput.on_train_begin()
    speeds = []
    for epoch in range(2):
        logs = {}
        throughput.on_epoch_begin(epoch)
        throughput.on_epoch_end(epoch, logs)
        speeds.append(logs["examples_per_second"])
    assert speeds == [300.0, 200.0]  # 600 examples in 2 s, then in 3 s (2 of training, 1 extra)
