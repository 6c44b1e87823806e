"""Process-level guarantees: resume after SIGKILL or Ctrl-C, same seed -> same weights in any
process, and results that do not depend on the number of replicas."""

import csv
import os
import signal
import time

import numpy as np
import pytest

import train
from conftest import model_weights, run_training, start_training, tiny_flags
from synthetic import mock_learnable
from training.callbacks import finished_epochs

EPOCHS = 3
# Dropout on, so the test also proves that the dropout random state is restored on resume.
FLAGS = [
    "--epochs",
    str(EPOCHS),
    "--seed",
    "3",
    "--deterministic",
    "--batch-size",
    "8",
    "--set",
    "dropout_rate=0.5",
]
# Steps an epoch (batch 8): long enough to stop a run between two epochs. The GAN's steps cost
# more (two networks), so fewer of them give it as long an epoch.
EXAMPLES = {"mlp": 2048, "gan": 1024}


@pytest.fixture(scope="module")
def uninterrupted_runs(tmp_path_factory):
    """{model: finished run}; the GAN also has a second optimizer and its own noise generator."""
    runs = {}
    for model in ("mlp", "gan"):
        runs[model] = tmp_path_factory.mktemp("runs") / f"uninterrupted-{model}"
        run_training(tiny_flags(model, runs[model], *FLAGS), examples=EXAMPLES[model])
    return runs


@pytest.mark.parametrize("model", ["mlp", "gan"])
def test_resume_after_sigkill_ends_with_identical_weights(model, uninterrupted_runs, tmp_path):
    """Killed after its first backup, the same command resumes and ends with the uninterrupted
    run's weights, bit for bit. The two runs are separate processes with the same seed, so this
    also shows that a seed gives the same weights in any process (the first epoch of each was
    trained by a different process)."""
    run_dir = tmp_path / "killed"
    flags = tiny_flags(model, run_dir, *FLAGS)
    process = start_training(flags, examples=EXAMPLES[model])
    deadline = time.monotonic() + 180
    while finished_epochs(run_dir / "backup") < 1:  # wait for the first epoch's backup
        assert process.poll() is None, process.stdout.read()[-3000:]
        assert time.monotonic() < deadline, "no backup appeared"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = finished_epochs(run_dir / "backup")
    assert 1 <= done < EPOCHS and not (run_dir / "model.keras").exists()

    output = run_training(flags, examples=EXAMPLES[model])  # the same command again
    assert f"Resuming {run_dir} after epoch {done} of {EPOCHS}" in output
    with open(run_dir / "history.csv") as file:
        assert [int(row["epoch"]) for row in csv.DictReader(file)] == list(range(EPOCHS))
    assert not (run_dir / "backup").exists()
    for resumed, uninterrupted in zip(
        model_weights(run_dir), model_weights(uninterrupted_runs[model])
    ):
        np.testing.assert_array_equal(resumed, uninterrupted)


def losses(run_dir) -> np.ndarray:
    with open(os.path.join(run_dir, "history.csv")) as file:
        return np.array(
            [[float(row["loss"]), float(row["val_loss"])] for row in csv.DictReader(file)]
        )


def test_two_replicas_match_one_device(tmp_path):
    """MirroredStrategy over two logical CPUs, global batch 16 (8 per replica), against one
    device with batch 16: the same loss history. (Dropout off: masks are drawn per replica.)"""
    flags = ["--epochs", "2", "--seed", "5", "--batch-size", "16", "--set", "dropout_rate=0.0"]
    with mock_learnable(256):  # one device: this process will do
        assert train.main(tiny_flags("mlp", tmp_path / "one", *flags, "--strategy", "default")) == 0
    output = run_training(
        tiny_flags("mlp", tmp_path / "two", *flags, "--strategy", "mirrored"), logical_cpus=2
    )
    assert "MirroredStrategy with 2 replica(s)" in output
    np.testing.assert_allclose(losses(tmp_path / "two"), losses(tmp_path / "one"), rtol=1e-5)


def test_ctrl_c_then_a_damaged_backup_then_resume_by_run_dir(uninterrupted_runs, tmp_path):
    """Ctrl-C prints one line and how to resume; the latest backup is then damaged (a copy cut
    short), so the resumed run falls back to the one before it; resuming with `--run-dir` alone
    ends with the uninterrupted run's weights."""
    run_dir = tmp_path / "interrupted"
    process = start_training(tiny_flags("mlp", run_dir, *FLAGS), examples=EXAMPLES["mlp"])
    deadline = time.monotonic() + 180
    while finished_epochs(run_dir / "backup") < 2:
        assert process.poll() is None, process.stdout.read()[-3000:]
        assert time.monotonic() < deadline, "no second backup appeared"
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=60)[0]
    assert process.returncode == 130, output[-3000:]
    assert "Traceback" not in output and "KeyboardInterrupt" not in output
    assert (
        f"interrupted after epoch 2 of {EPOCHS}. To resume, run: python train.py --run-dir"
        in output
    )

    data_file = next((run_dir / "backup").glob("ckpt-2.data-*"))
    data_file.write_bytes(data_file.read_bytes()[: data_file.stat().st_size // 2])
    output = run_training(["--run-dir", str(run_dir)], examples=EXAMPLES["mlp"])
    assert "ckpt-2 cannot be read" in output and f"after epoch 1 of {EPOCHS}" in output
    with open(run_dir / "history.csv") as file:
        assert [int(row["epoch"]) for row in csv.DictReader(file)] == list(range(EPOCHS))
    for resumed, uninterrupted in zip(
        model_weights(run_dir), model_weights(uninterrupted_runs["mlp"]), strict=True
    ):
        np.testing.assert_array_equal(resumed, uninterrupted)
