"""Callbacks every run gets: TensorBoard, weight histograms, exact backup/resume, a NaN guard,
history.csv.

Keras' own `BackupAndRestore` saves weights and optimizer state but not the state of the random
generators behind dropout, so a resumed run would draw different dropout masks and end with
different weights. `EpochBackup` below checkpoints every variable the model and optimizer own
(random-generator state included) with `tf.train.CheckpointManager`, which writes atomically:
a run killed at any moment, even with SIGKILL, resumes from its last finished epoch.
"""

import csv
import io
import os
import shutil
import time

import keras
import numpy as np
import tensorflow as tf
from tensorboard.plugins.histogram import metadata as histogram_metadata

from training import interrupts, runs
from training.errors import UsageError


def finished_epochs(backup_dir: str) -> int:
    """How many epochs the backup in `backup_dir` holds (0 when there is none)."""
    latest = tf.train.latest_checkpoint(backup_dir)
    return int(latest.rsplit("-", 1)[1]) if latest else 0


class EpochBackup(keras.callbacks.Callback):
    """Checkpoints the whole training state after every epoch as `backup/ckpt-<epochs done>`."""

    def __init__(self, backup_dir: str):
        super().__init__()
        self.backup_dir = backup_dir
        self._manager = None

    def finished_epochs(self) -> int:
        """Epochs the latest backup holds."""
        return finished_epochs(self.backup_dir)

    def usable_epochs(self) -> int:
        """Epochs the latest *readable* backup holds: the `initial_epoch` for `fit`. A backup
        whose files were damaged (a full disk, a copy cut short) is skipped, and said so; the
        next epoch's backup takes its number again."""
        state = tf.train.get_checkpoint_state(self.backup_dir)
        paths = list(reversed(state.all_model_checkpoint_paths)) if state else []
        for path in paths:
            path = os.path.join(self.backup_dir, os.path.basename(path))  # the run may have moved
            try:
                reader = tf.train.load_checkpoint(path)
                for name in reader.get_variable_to_shape_map():
                    reader.get_tensor(name)  # reads every byte: a damaged file fails here
            except Exception as error:  # a cut-short file fails as OpError, IndexError, ...
                print(
                    f"Backup {path} cannot be read ({type(error).__name__}); "
                    "trying the one before it."
                )
                continue
            return int(path.rsplit("-", 1)[1])
        if paths:
            raise UsageError(
                f"no backup in {self.backup_dir} can be read, so this run cannot resume. "
                f"Delete {self.backup_dir} to start it over, or pick a new --run-dir."
            )
        return 0

    def restore(self, model: keras.Model, epochs: int | None = None) -> None:
        """Attaches to a compiled model with a built optimizer and restores the backup taken
        after `epochs` epochs (default: the last one)."""
        # Every optimizer the model holds: a GAN keeps a second one for its generator.
        optimizers = [model.optimizer] + [
            value
            for value in vars(model).values()
            if isinstance(value, keras.optimizers.Optimizer) and value is not model.optimizer
        ]
        checkpoint = tf.train.Checkpoint(
            model=list(model.variables),
            optimizer=[variable for optimizer in optimizers for variable in optimizer.variables],
        )
        # Two kept: with several workers, one may be killed after another saved its epoch, and
        # all must resume from the last epoch every one of them saved (see distributed_fit).
        self._manager = tf.train.CheckpointManager(checkpoint, self.backup_dir, max_to_keep=2)
        path = (
            self._manager.latest_checkpoint
            if epochs is None
            else os.path.join(self.backup_dir, f"ckpt-{epochs}")
        )
        if epochs != 0 and path:
            checkpoint.restore(path).assert_existing_objects_matched()

    def on_epoch_end(self, epoch, logs=None):
        self._manager.save(checkpoint_number=epoch + 1)

    def remove(self):
        """Called once the finished model is safely on disk."""
        shutil.rmtree(self.backup_dir, ignore_errors=True)


HISTOGRAM_BUCKETS = 30  # TensorBoard's own default


def write_histogram(tag: str, values, step: int) -> None:
    """Writes one histogram of `values` (any shape) to the default summary writer, in the
    format of `tf.summary.histogram`: `(buckets, 3)` rows of (left edge, right edge, count).

    Counted with NumPy: `tf.summary.histogram` one-hot encodes every value (values x 30
    float64s), which took 0.17 s for the MLP's 784 x 1,024 kernel on the README's 2-core CPU
    (0.34 s for all its weights, a tenth of its epoch); `np.histogram` takes milliseconds."""
    values = np.asarray(values, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        buckets = np.zeros((HISTOGRAM_BUCKETS, 3))
    elif values.min() == values.max():  # one value: zero-width buckets, all counted in the last
        buckets = np.full((HISTOGRAM_BUCKETS, 3), values[0])
        buckets[:, 2] = 0
        buckets[-1, 2] = values.size
    else:
        counts, edges = np.histogram(values, HISTOGRAM_BUCKETS, (values.min(), values.max()))
        buckets = np.stack([edges[:-1], edges[1:], counts], axis=1)  # the last bin holds max
    tf.summary.write(
        tag, buckets, step=step, metadata=histogram_metadata.create_summary_metadata(None, None)
    )


class WeightHistograms(keras.callbacks.Callback):
    """After every epoch, a histogram of every weight of the model in TensorBoard's Histograms
    and Distributions tabs (the course's weights and biases, watched as they learn), under the
    tags Keras' TensorBoard callback uses (`dense/kernel/histogram`)."""

    def __init__(self, log_dir: str):
        super().__init__()
        self.log_dir = log_dir
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        with self._writer.as_default():
            for weight in self.model.weights:
                write_histogram(f"{weight.path.replace(':', '_')}/histogram", weight, epoch)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()


class EpochTensorBoard(keras.callbacks.TensorBoard):
    """Keras' TensorBoard callback for summaries once an epoch (`update_freq="epoch"`: an integer
    would write per-batch summaries and lose the epoch ones), without its per-batch hook.

    Keras 3.15's hook calls `tf.summary.scalar` for every value of every batch's logs even when
    it writes only once an epoch; with no default writer set, each call writes nothing but costs
    about 0.1 ms: 0.05 s of every MNIST epoch (3% of the MLP's, measured on the README's 2-core
    CPU). Its only other work, writing the traced training function's op graph, never happens
    under Keras 3.15's TensorFlow trainer, whose training function is a plain Python wrapper; the
    model graph in TensorBoard's Graphs tab is written when training starts (`set_model`)."""

    def __init__(self, log_dir: str):
        super().__init__(log_dir, histogram_freq=0, write_graph=True, update_freq="epoch")

    on_train_batch_end = keras.callbacks.Callback.on_train_batch_end  # Keras' do-nothing default


class StopWhenAsked(keras.callbacks.Callback):
    """Raises again, before the next training or evaluation step, a Ctrl-C or SIGTERM that a
    finalizer swallowed (see training/interrupts.py). A batch-*begin* hook, so the stop comes
    before the step it would waste. Keras calls every batch hook in this thread under the
    TensorFlow backend (`backend.IS_THREAD_SAFE` is False there, so it never hands batch-end
    hooks to a worker thread); a check costs one flag read."""

    def on_train_batch_begin(self, batch, logs=None):
        interrupts.check()

    def on_test_batch_begin(self, batch, logs=None):
        interrupts.check()


class Throughput(keras.callbacks.Callback):
    """Adds `examples_per_second` to the epoch logs, so it lands in TensorBoard and
    history.csv: training examples over the wall time from the end of the previous epoch (from
    the start of training for the first) to the end of this one. So every cost of an epoch
    counts: its training steps, its validation pass, and the work the callbacks after this one
    do at the end of the previous epoch (weight histograms, the backup). Place it first."""

    def __init__(self, examples_per_epoch: int):
        super().__init__()
        self.examples_per_epoch = examples_per_epoch

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        logs["examples_per_second"] = self.examples_per_epoch / (now - self._start)
        self._start = now


def truncate_history(path: str, epochs: int) -> None:
    """Keeps the first `epochs` rows of history.csv, so a resumed run appends no duplicates
    (and a row cut short by a kill is dropped)."""
    if not os.path.exists(path):
        return
    with open(path, newline="") as file:
        rows = list(csv.reader(file))
    kept = rows[:1] + [row for row in rows[1:] if row and row[0].isdigit() and int(row[0]) < epochs]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(kept)
    runs.write_text(path, buffer.getvalue())


def standard_callbacks(run_dir: str, backup: EpochBackup, examples_per_epoch: int) -> list:
    return [
        Throughput(examples_per_epoch),
        StopWhenAsked(),
        # raise_error=True stops at once, before any later callback can touch the backup.
        keras.callbacks.TerminateOnNaN(raise_error=True),
        keras.callbacks.CSVLogger(os.path.join(run_dir, "history.csv"), append=True),
        EpochTensorBoard(os.path.join(run_dir, "logs")),
        WeightHistograms(os.path.join(run_dir, "logs", "train")),
        # Last: an epoch counts as done only once its logs are written. A kill just before the
        # backup leaves a history row that the resumed run trims (truncate_history), not a gap.
        backup,
    ]
