"""The default CNN against the classic Keras MNIST convnet, side by side, in one run.

    TFDS_DATA_DIR=../shared/tfds python benchmarks/versus_keras_io.py [--figure docs/cnn_versus_keras_io.png]

Both are whole processes, start-up and data loading included, run one after the other on the
same training images (`train[:90%]`, train.py's default) and scored on the test split after
every epoch:

1. Time to accuracy: `python train.py --model cnn` with its defaults (`--val-split test`, so the
   accuracy it reports after each epoch is test accuracy), and benchmarks/keras_io_convnet.py
   until it reaches `--target` (98.8%; at most `--reference-epochs` epochs). Prints, for each,
   the wall time at the end of the first epoch at or above the target, their ratio, and draws
   test accuracy against wall time.
2. A short budget: one epoch on the first 4,000 training images, test accuracy of both.

Extra flags go to train.py (e.g. `--set filters=32,64`), to compare other settings with the
same yardstick.
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

from common import ROOT, UsageError, accuracy, exit_with, positive_int, run_or_exit, train_flags


def run_ours(flags: list[str]) -> list[dict]:
    """train.py in a new process; [{epoch, seconds since launch, test_accuracy}, ...]."""
    run_dir = os.path.join(tempfile.mkdtemp(prefix="versus-keras-io-"), "run")
    command = [sys.executable, os.path.join(ROOT, "train.py"), "--model", "cnn"]
    command += ["--run-dir", run_dir, "--val-split", "test", *flags]
    launched = time.time()
    run_or_exit(command, stdout=subprocess.DEVNULL)
    return [
        {"epoch": epoch, "seconds": wall_time - launched, "test_accuracy": score}
        for epoch, wall_time, score in _validation_accuracy(run_dir)
    ]


def _validation_accuracy(run_dir: str) -> list[tuple[int, float, float]]:
    """(epoch, wall time, accuracy) from the TensorBoard events Keras wrote after each epoch."""
    from training import startup

    startup.quiet_tensorflow()
    import tensorflow as tf

    rows = []
    for path in glob.glob(os.path.join(run_dir, "logs", "validation", "events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.tag == "epoch_accuracy":
                    score = float(tf.make_ndarray(value.tensor))
                    rows.append((event.step + 1, event.wall_time, score))
    return sorted(rows)


def run_reference(flags: list[str]) -> list[dict]:
    """benchmarks/keras_io_convnet.py in a new process; its JSON lines."""
    command = [sys.executable, os.path.join(ROOT, "benchmarks", "keras_io_convnet.py"), *flags]
    output = run_or_exit(command, stdout=subprocess.PIPE, text=True).stdout
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def time_to(target: float, curve: list[dict]) -> float | None:
    """Seconds at the end of the first epoch whose test accuracy reaches `target`, else None."""
    return next((row["seconds"] for row in curve if row["test_accuracy"] >= target), None)


def plot(curves: dict, target: float, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 4))
    for name, curve in curves.items():
        seconds = [row["seconds"] for row in curve]
        accuracies = [100 * row["test_accuracy"] for row in curve]
        axes.plot(seconds, accuracies, marker="o", markersize=3, label=name)
    axes.axhline(100 * target, color="grey", linestyle=":", label=f"{target:.1%}")
    axes.set_ylim(97, 99.6)
    axes.set_xlim(left=0)
    axes.set_xlabel("wall time since the process started (s)")
    axes.set_ylabel("MNIST test accuracy after each epoch (%)")
    axes.set_title("Test accuracy against wall time (points below 97% are off the chart)")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=accuracy, default=0.988)
    parser.add_argument("--reference-epochs", type=positive_int, default=40)
    parser.add_argument("--short-split", default="train[:4000]")
    parser.add_argument("--figure", default=None, help="where to save the accuracy-time figure")
    args, flags = parser.parse_known_args(argv)
    try:
        given = train_flags(flags, ("model", "run_dir", "val_split", "list"))
        if args.figure and not os.path.isdir(os.path.dirname(os.path.abspath(args.figure))):
            raise UsageError(f"--figure {args.figure}: no such folder; make it first.")
    except UsageError as error:
        print(f"versus_keras_io.py: error: {error}", file=sys.stderr)
        return 2
    # The reference reads the data train.py reads.
    data = ["--data-dir", given.data_dir] if given.data_dir else []

    # The short runs first: a --short-split the data lacks is refused within seconds.
    short_reference = run_reference(["--epochs", "1", "--train-split", args.short_split, *data])
    short_ours = run_ours([*flags, "--epochs", "1", "--train-split", args.short_split])
    reference = run_reference(
        ["--epochs", str(args.reference_epochs), "--until", str(args.target), *data]
    )
    ours = run_ours(flags)

    ours_time, reference_time = time_to(args.target, ours), time_to(args.target, reference)
    print(json.dumps({"ours": ours, "keras_io": reference}, indent=1))
    print(
        f"\n| | time to {args.target:.1%} | epochs | final test accuracy | "
        f"1 epoch on {args.short_split} |"
    )
    print("| --- | --- | --- | --- | --- |")
    for name, curve, short, seconds in (
        ("cnn (train.py defaults)", ours, short_ours, ours_time),
        ("keras-io convnet", reference, short_reference, reference_time),
    ):
        reached = f"{seconds:.0f} s" if seconds is not None else "not reached"
        epochs = next((row["epoch"] for row in curve if row["test_accuracy"] >= args.target), "-")
        print(
            f"| {name} | {reached} | {epochs} | {curve[-1]['test_accuracy']:.2%} | "
            f"{short[-1]['test_accuracy']:.1%} |"
        )
    if ours_time and reference_time:
        print(f"\nours / keras-io time to {args.target:.1%}: {ours_time / reference_time:.2f}")
    if args.figure:
        plot(
            {"cnn (train.py defaults)": ours, "keras-io convnet": reference},
            args.target,
            args.figure,
        )
        print(f"figure: {args.figure}")
    return 0


if __name__ == "__main__":
    exit_with(main)
