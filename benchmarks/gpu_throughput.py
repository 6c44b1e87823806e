"""Images per second on a GPU with and without mixed precision and XLA, through the real driver.

    python benchmarks/gpu_throughput.py [--model cnn] [--batch-size 256] [--steps 200] [train.py flags]

Trains the model four times with `train.main`, for 2 epochs of `--steps` batches each:
float32, float32 + XLA (`--jit-compile`), mixed_float16 (`--mixed-precision`), and both. The
first epoch traces and compiles; the second epoch's examples per second (history.csv, whole
epoch with validation and callbacks) is the figure reported, with the speed-up over float32.

Keras turns XLA on by itself on a GPU when every layer supports it ("auto"), so the float32 and
mixed_float16 rows pass --no-jit-compile to measure without it. Needs a GPU (mixed precision is
refused on a CPU); `--cpu` runs the two float32 rows on a CPU, to try the script.
"""

import argparse
import json
import os
import sys
import tempfile

# common first: it puts the project on the path.
from common import UsageError, classifier_or_refuse, exit_with, positive_int, starting

from training import startup

with starting():  # Ctrl-C while TensorFlow loads: one line, no traceback
    startup.quiet_tensorflow()
    import tensorflow as tf

    import train
    from training import figures

SETTINGS = {
    "float32": ["--no-jit-compile"],
    "float32 + XLA": ["--jit-compile"],
    "mixed_float16": ["--mixed-precision", "--no-jit-compile"],
    "mixed_float16 + XLA": ["--mixed-precision", "--jit-compile"],
}


def images_per_second(model: str, flags: list[str]) -> float:
    with tempfile.TemporaryDirectory(prefix="gpu-benchmark-") as temporary:  # only to measure
        run_dir = os.path.join(temporary, "run")
        exit_code = train.main(["--model", model, "--run-dir", run_dir, "--epochs", "2", *flags])
        if exit_code == 130:  # train.py said where it stopped; exit_with says the run is gone
            raise KeyboardInterrupt
        if exit_code != 0:
            sys.exit(exit_code)  # train.py said why
        history = figures.read_history(os.path.join(run_dir, "history.csv"))
    return history["examples_per_second"][-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--batch-size", type=positive_int, default=256)
    parser.add_argument("--steps", type=positive_int, default=200, help="batches per epoch")
    parser.add_argument("--cpu", action="store_true", help="no GPU: run the float32 rows only")
    args, flags = parser.parse_known_args()
    try:
        classifier_or_refuse(args.model)
    except UsageError as error:
        print(f"gpu_throughput.py: error: {error}", file=sys.stderr)
        return 2
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus and not args.cpu:
        print(
            "gpu_throughput.py: error: no GPU is visible; this benchmark measures GPU speed-ups "
            "(--cpu tries it on a CPU).",
            file=sys.stderr,
        )
        return 2
    settings = {name: extra for name, extra in SETTINGS.items() if gpus or "mixed" not in name}
    common = ["--batch-size", str(args.batch_size), "--steps-per-epoch", str(args.steps), *flags]
    results = {
        name: images_per_second(args.model, common + extra) for name, extra in settings.items()
    }

    device = (
        tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
        if gpus
        else "CPU"
    )
    print(
        json.dumps(
            {
                "model": args.model,
                "device": device,
                "batch_size": args.batch_size,
                "images_per_second": results,
            },
            indent=2,
        )
    )
    print(
        f"\n{args.model} on {device}, batch {args.batch_size}:\n\n"
        "| setting | images/s | speed-up |\n| --- | --- | --- |"
    )
    for name, speed in results.items():
        print(f"| {name} | {speed:,.0f} | {speed / results['float32']:.2f}x |")
    return 0


if __name__ == "__main__":
    exit_with(main, temporary_runs=True)
