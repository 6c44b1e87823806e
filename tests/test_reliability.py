"""Process-level guarantees: resume after SIGKILL or Ctrl-C, same seed -> same weights in any
process, and results that do not depend on the number of replicas.

The stopped runs train in new processes; the uninterrupted runs, and the stopped runs resumed,
train in the test's own process: equal weights, bit for bit, also show that a seed gives the
same weights in any process, one that has run other tests before included, and that a backup
written by one process resumes exactly in another."""

import csv
import os
import signal

import numpy as np
import pytest
import tensorflow as tf

import synthetic
import train
from conftest import (
    model_weights,
    op_determinism_restored,
    run_training,
    start_training,
    stop_when,
    tiny_flags,
)
from synthetic import mock_learnable
from training import input_pipeline
from training.callbacks import finished_epochs
from training.errors import UsageError

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
        with mock_learnable(EXAMPLES[model]), op_determinism_restored():  # as start_training's
            assert train.main(tiny_flags(model, runs[model], *FLAGS)) == 0  # process would
    return runs


def stop_after_backup(flags, model, epochs: int, stop: signal.Signals) -> tuple[int, str]:
    """Starts train.py with `flags` and sends it `stop` once the backup of epoch `epochs`
    exists: (exit code, output)."""
    backup_dir = os.path.join(flags[flags.index("--run-dir") + 1], "backup")
    return stop_when(
        lambda: finished_epochs(backup_dir) >= epochs,
        start_training(flags, examples=EXAMPLES[model]),
        f"epoch {epochs}'s backup",
        stop,
    )


def resume_here(flags, model, capsys) -> str:
    """The same command again, in this process (as start_training's would): its output."""
    capsys.readouterr()
    with mock_learnable(EXAMPLES[model]), op_determinism_restored():
        assert train.main(flags) == 0
    printed = capsys.readouterr()
    return printed.out + printed.err


def assert_finished_like(run_dir, uninterrupted) -> None:
    with open(run_dir / "history.csv") as file:
        assert [int(row["epoch"]) for row in csv.DictReader(file)] == list(range(EPOCHS))
    assert not (run_dir / "backup").exists()
    for resumed, whole in zip(model_weights(run_dir), model_weights(uninterrupted), strict=True):
        np.testing.assert_array_equal(resumed, whole)


def test_the_gan_resumes_after_sigkill_with_identical_weights(uninterrupted_runs, tmp_path, capsys):
    """Killed after its first backup, the same command resumes and ends with the uninterrupted
    run's weights, bit for bit: both networks, both optimizers, the noise generator."""
    run_dir = tmp_path / "killed"
    flags = tiny_flags("gan", run_dir, *FLAGS)
    stop_after_backup(flags, "gan", 1, signal.SIGKILL)
    done = finished_epochs(run_dir / "backup")
    assert 1 <= done < EPOCHS and not (run_dir / "model.keras").exists()

    output = resume_here(flags, "gan", capsys)
    assert f"Resuming {run_dir} after epoch {done} of {EPOCHS}" in output
    assert_finished_like(run_dir, uninterrupted_runs["gan"])


def test_sigkill_then_ctrl_c_then_a_damaged_backup_then_resume(
    uninterrupted_runs, tmp_path, capsys
):
    """One run stopped three ways before it finishes. SIGKILL after the first backup: the same
    command resumes. Ctrl-C after the second: one line says how to resume, no traceback. The
    latest backup is then damaged (a copy cut short), so resuming with `--run-dir` alone falls
    back to the one before it. The run still ends with the uninterrupted run's weights."""
    run_dir = tmp_path / "interrupted"
    flags = tiny_flags("mlp", run_dir, *FLAGS)
    stop_after_backup(flags, "mlp", 1, signal.SIGKILL)  # within 20 ms: an epoch takes seconds
    assert finished_epochs(run_dir / "backup") == 1 and not (run_dir / "model.keras").exists()

    code, output = stop_after_backup(flags, "mlp", 2, signal.SIGINT)  # the same command again
    assert f"Resuming {run_dir} after epoch 1 of {EPOCHS}" in output
    assert code == 130, output[-3000:]
    assert "Traceback" not in output and "KeyboardInterrupt" not in output
    assert (
        f"interrupted after epoch 2 of {EPOCHS}. To resume, run: python train.py --run-dir"
        in output
    )

    data_file = next((run_dir / "backup").glob("ckpt-2.data-*"))
    data_file.write_bytes(data_file.read_bytes()[: data_file.stat().st_size // 2])
    output = resume_here(["--run-dir", str(run_dir)], "mlp", capsys)
    assert "ckpt-2 cannot be read" in output and f"after epoch 1 of {EPOCHS}" in output
    assert_finished_like(run_dir, uninterrupted_runs["mlp"])


def losses(run_dir) -> np.ndarray:
    with open(os.path.join(run_dir, "history.csv")) as file:
        return np.array(
            [[float(row["loss"]), float(row["val_loss"])] for row in csv.DictReader(file)]
        )


def test_two_replicas_match_one_device(tmp_path):
    """MirroredStrategy over two logical CPUs, global batch 16 (8 per replica), against one
    device with batch 16: the same losses, for the CNN, whose batch normalization is
    synchronized across replicas. (Dropout off: masks are drawn per replica.)

    The data are files in TFDS' own format, from which tf.distribute reads the batch size and
    cuts a short batch into shares of 8 in turn: the validation split's 136 examples in batches
    of 16 would end in a batch of 8, cut 8 and 0, and a second convolution fails on the empty
    share; batches_for_replicas makes them 17 batches of 8, cut 4 and 4. The test split's 129
    examples cannot all be shared: the last one is left out, and the run says so."""
    data_dir = tmp_path / "tfds"
    synthetic.write_tfds_dataset(str(data_dir), "mnist", ("train", "test"), 265)
    flags = ["--epochs", "2", "--seed", "5", "--batch-size", "16", "--set", "dropout_rate=0.0"]
    flags += ["--set", "filters=4,8", "--data-dir", str(data_dir)]  # two convolution blocks
    flags += ["--train-split", "train", "--val-split", "test[:136]", "--test-split", "test[136:]"]
    assert train.main(tiny_flags("cnn", tmp_path / "one", *flags, "--strategy", "default")) == 0
    output = run_training(
        tiny_flags("cnn", tmp_path / "two", *flags, "--strategy", "mirrored"),
        logical_cpus=2,
        examples=0,
    )
    assert "MirroredStrategy with 2 replica(s)" in output
    assert "the test split's last 1 of 129 examples are left out" in output
    # Up to float32 rounding, which batch sums of 8 and 16 examples round differently.
    np.testing.assert_allclose(losses(tmp_path / "two"), losses(tmp_path / "one"), rtol=1e-4)


@pytest.mark.parametrize(
    "count, batch_size, replicas, sizes",
    [
        (33, 16, 2, [16, 16]),  # a last batch of 1 would leave one replica empty
        (16, 6, 3, [3] * 5),  # 15 kept: 6, 6, 3 would end in a batch cut 2, 1, 0 (TFDS files)
        (30, 16, 4, [4] * 7),  # 28 kept: 16, 12 would end in a batch cut 4, 4, 4, 0 (TFDS files)
        (10_000, 128, 8, [80] * 125),  # a test set of 10,000 on 8 GPUs
        (26, 16, 8, [8] * 3),  # 24 kept: 16 and 8 would be cut 2, 2, 2, 2, 0, 0, 0, 0
        (34, 16, 2, [2] * 17),  # 17 is prime: small batches, slower but even
        (64, 16, 4, [16] * 4),  # nothing to change
        (33, 16, 1, [16, 16, 1]),  # one replica takes any batch
        (9, 16, 2, [8]),  # the first batch, too, splits evenly
    ],
)
def test_every_evaluation_batch_splits_evenly_across_the_replicas(
    count, batch_size, replicas, sizes, capsys
):
    batches = input_pipeline.batches_for_replicas(
        tf.data.Dataset.range(count), batch_size, replicas, "test"
    )
    assert [int(batch.shape[0]) for batch in batches] == sizes
    kept = sum(sizes)
    assert kept == count - count % replicas
    assert np.concatenate(list(batches)).tolist() == list(range(kept))  # in order, each once
    assert int(batches.cardinality()) == len(sizes)
    said = capsys.readouterr().out
    assert (f"last {count - kept} of {count} examples are left out" in said) == (kept < count)


def test_a_split_smaller_than_the_replicas_is_refused():
    with pytest.raises(UsageError, match=r"the test split holds 3 example\(s\), fewer than the 4"):
        input_pipeline.batches_for_replicas(tf.data.Dataset.range(3), 16, 4, "test")


@pytest.mark.parametrize(
    "count, replicas, advice, works",
    [
        (3, 1, "pick at most 3.", 3),
        (6, 4, "pick a multiple of the 4 replicas up to 6, such as 4.", 4),
        # No batch splits 3 examples across 4 replicas: say how to get out, not "at most 3".
        (
            3,
            4,
            "give it at least 4 examples (--train-split), or train on one device with "
            "--strategy default.",
            None,
        ),
    ],
)
def test_a_batch_larger_than_the_training_split_is_met_with_one_that_works(
    count, replicas, advice, works
):
    examples = tf.data.Dataset.range(count)
    with pytest.raises(
        UsageError, match="--batch-size 8 is larger than the training split"
    ) as refused:
        input_pipeline.training_stream(examples, lambda x: (x, x), 8, 0, replicas=replicas)
    assert str(refused.value).endswith(advice)
    if works:
        assert works % replicas == 0
        stream, _ = input_pipeline.training_stream(examples, lambda x: (x, x), works, 0)
        assert next(iter(stream))[0].shape == (works,)
