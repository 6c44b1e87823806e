"""How fast and how well the CNN trains through the real driver, and what the driver costs.

    TFDS_DATA_DIR=../shared/tfds python benchmarks/cnn_throughput.py [--model cnn] [train.py flags]

Trains with `train.main` (default settings unless flags are given) and reports test accuracy,
wall time and two speeds, side by side, epoch by epoch:

- end to end: training examples per second over whole epochs, from one epoch's end to the
  next (input pipeline, validation, weight histograms, backup and progress bar included; see
  callbacks.Throughput);
- compute only: the same model, built and compiled by the driver's own code (optimizer,
  learning-rate schedule), trained for as many steps on a few in-memory batches repeated, with
  no input pipeline, no validation and no callbacks: the model's own speed.

The two alternate: after each of the driver's epochs, a callback trains the compute-only copy
for one epoch and clocks it (its time is then taken out of the driver's figures). This shared
machine's speed drifts by up to a third within minutes, so only measurements taken side by
side compare one machine with itself. Each epoch's ratio, end to end over compute only, is the
share of the time the driver leaves to the model; the median over the epochs after the first
(which also decodes the data into the cache and traces the graph) is reported.

With --validation-batches 1 the run validates on one batch only, so the end-to-end figure
shows what the validation pass costs apart from the rest of the driver.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

# common first: it puts the project on the path.
from common import UsageError, classifier_or_refuse, exit_with, positive_int, starting, train_flags

from training import startup

with starting():  # Ctrl-C while TensorFlow loads: one line, no traceback
    startup.quiet_tensorflow()
    import keras
    import tensorflow as tf

    import models
    import train
    from training import callbacks, figures, input_pipeline, keras_loop
    from training.config import RunConfig


class EpochClock(keras.callbacks.Callback):
    """Seconds of every epoch, from its start to its end."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


class ComputeOnlyEpochs(keras.callbacks.Callback):
    """After each of the driver's epochs, one compute-only epoch: its examples per second, and
    the wall time this callback took, to be taken out of the driver's clock."""

    def __init__(self, config: RunConfig):
        super().__init__()
        spec = models.get_spec(config.model)
        examples, info, _ = input_pipeline.load(
            config.dataset, config.data_dir, config.train_split, config.val_split
        )
        data_info = spec.describe_data(config.dataset, info)
        batches = input_pipeline.evaluation_batches(
            examples["validation"], spec.preprocess, config.batch_size
        )
        # As many steps as the driver's epochs (also refuses a batch larger than the split).
        _, self.steps = input_pipeline.training_stream(
            examples["train"],
            spec.preprocess,
            config.batch_size,
            config.seed,
            steps_per_epoch=config.steps_per_epoch,
        )
        self.examples = self.steps * config.batch_size
        self.compute_model = keras_loop.build_and_compile(
            spec, config, data_info, examples["train"], self.steps
        )
        # Eight batches' examples, held in memory and batched again like the driver's data:
        # padded to each batch's longest (clips of different lengths), with an unknown batch
        # size (one batch repeated with `from_tensors` has a static batch shape, which on a CPU
        # can pick other, slower kernels: 2x slower for this CNN on the README's 2-core CPU).
        self.repeated = batches.take(8).unbatch().cache().repeat().padded_batch(config.batch_size)
        self.compute_model.fit(self.repeated, steps_per_epoch=10, epochs=1, verbose=0)  # trace
        self.examples_per_second = []
        self.seconds_taken = []

    def on_epoch_end(self, epoch, logs=None):
        start = time.perf_counter()
        clock = EpochClock()
        self.compute_model.fit(
            self.repeated, steps_per_epoch=self.steps, epochs=1, verbose=0, callbacks=[clock]
        )
        self.examples_per_second.append(self.examples / clock.seconds[0])
        self.seconds_taken.append(time.perf_counter() - start)


def with_compute_only_epochs(config: RunConfig) -> ComputeOnlyEpochs:
    """Puts a ComputeOnlyEpochs before the driver's own callbacks, so that it runs inside the
    span that callbacks.Throughput clocks for the same epoch."""
    compute_only = ComputeOnlyEpochs(config)
    standard_callbacks = callbacks.standard_callbacks
    callbacks.standard_callbacks = lambda *args: [compute_only, *standard_callbacks(*args)]
    return compute_only


def only_validation_shortened(batches: int) -> None:
    """The driver's validation batches cut to `batches` (its first evaluation_batches call is
    the validation split's, the second the test split's, which stays whole)."""
    whole = input_pipeline.evaluation_batches
    calls = []

    def shortened(*args, **kwargs):
        calls.append(None)
        dataset = whole(*args, **kwargs)
        return dataset.take(batches) if len(calls) == 1 else dataset

    input_pipeline.evaluation_batches = shortened


def checked_config(model: str, flags: list[str]) -> RunConfig:
    """train.py's settings for the run, refused where this benchmark cannot report them: it
    reports test accuracy beside the speeds, and its ratio leaves out the first epoch."""
    classifier_or_refuse(model)
    config = models.get_spec(model).make_config(train.make_parser().parse_args(flags))
    if config.epochs < 2:
        raise UsageError(
            f"--epochs {config.epochs}: the first epoch also traces the model and fills the "
            "data cache, so the ratio is taken over the epochs after it; give at least 2."
        )
    return config


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cnn")
    parser.add_argument(
        "--validation-batches",
        type=positive_int,
        default=None,
        help="validate on this many batches only (default: the whole validation split)",
    )
    args, flags = parser.parse_known_args(argv)
    temporary = tempfile.mkdtemp(prefix="benchmark-")
    try:
        return measure(args, flags, os.path.join(temporary, "run"))
    except UsageError as error:
        print(f"cnn_throughput.py: error: {error}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(temporary, ignore_errors=True)  # the run was only for measuring


def measure(args, flags: list[str], run_dir: str) -> int:
    train_flags(flags, ("model", "run_dir", "list"))
    argv = ["--model", args.model, "--run-dir", run_dir, *flags]
    config = checked_config(args.model, argv)
    compute_only = with_compute_only_epochs(config)
    if args.validation_batches is not None:
        only_validation_shortened(args.validation_batches)

    start = time.perf_counter()
    exit_code = train.main(argv)
    if exit_code == 130:  # train.py said where it stopped; exit_with says the run is gone
        raise KeyboardInterrupt
    if exit_code != 0:
        return exit_code  # train.py said why
    wall_seconds = time.perf_counter() - start - sum(compute_only.seconds_taken)
    with open(os.path.join(run_dir, "metrics.json")) as file:
        test_accuracy = json.load(file)["accuracy"]
    clocked = figures.read_history(os.path.join(run_dir, "history.csv"))["examples_per_second"]
    # Each epoch's clocked span holds its compute-only epoch: take that time out.
    end_to_end = [
        compute_only.examples / (compute_only.examples / speed - taken)
        for speed, taken in zip(clocked, compute_only.seconds_taken)
    ][1:]
    compute = compute_only.examples_per_second[1:]
    ratios = [driver / alone for driver, alone in zip(end_to_end, compute)]
    result = {
        "model": args.model,
        "dataset": config.dataset,
        "epochs": len(clocked),
        "test_accuracy": test_accuracy,
        "wall_seconds": wall_seconds,
        "examples_per_second": statistics.median(end_to_end),
        "compute_only_examples_per_second": statistics.median(compute),
        "driver_efficiency": statistics.median(ratios),
        "epoch_ratios": [round(ratio, 3) for ratio in ratios],
        "batch_size": config.batch_size,
        "cpus": os.cpu_count(),
        "gpus": len(tf.config.list_physical_devices("GPU")),
    }
    print(json.dumps(result, indent=2))
    print(
        f"\n| {args.model} | {config.dataset} | {result['epochs']} | {test_accuracy:.2%} | "
        f"{wall_seconds / 60:.1f} min | {result['examples_per_second']:.0f} | "
        f"{result['compute_only_examples_per_second']:.0f} | {result['driver_efficiency']:.0%} |"
    )
    return 0


if __name__ == "__main__":
    exit_with(main, temporary_runs=True)
