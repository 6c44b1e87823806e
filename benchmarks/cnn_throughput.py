"""How fast and how well the CNN trains through the real driver, and what the driver costs.

    TFDS_DATA_DIR=../shared/tfds python benchmarks/cnn_throughput.py [--model cnn] [train.py flags]

1. Trains with `train.main` (default settings unless flags are given) and reports test accuracy,
   wall time and end-to-end training throughput: examples per second over whole epochs,
   validation and callbacks included, median of the epochs after the first (the first also
   decodes the data into the cache and traces the graph).
2. Trains the same model, compiled the same way, on a few in-memory batches repeated: pure
   compute throughput, with no input pipeline work and no callbacks.
   The best of five short windows counts, since short windows vary a lot on a shared machine.
The ratio of the two is the share of the time the driver leaves to the model itself.

With --validation-batches 1 the run validates on one batch only, so the end-to-end figure
shows what the validation pass costs apart from the rest of the driver.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import models  # noqa: E402
import train  # noqa: E402
from training import figures, input_pipeline  # noqa: E402
from training.config import RunConfig  # noqa: E402  (type only)

COMPUTE_STEPS = 30
COMPUTE_REPEATS = 5


def end_to_end(argv: list[str], run_dir: str) -> dict:
    start = time.perf_counter()
    if train.main(argv) != 0:
        sys.exit("training failed; see the message above")
    wall_seconds = time.perf_counter() - start
    history = figures.read_history(os.path.join(run_dir, "history.csv"))
    with open(os.path.join(run_dir, "metrics.json")) as file:
        metrics = json.load(file)
    steady = history["examples_per_second"][1:] or history["examples_per_second"]
    return {
        "test_accuracy": metrics["accuracy"],
        "wall_seconds": wall_seconds,
        "epochs": len(history["epoch"]),
        "examples_per_second": statistics.median(steady),
    }


def compute_only(config: RunConfig) -> float:
    """Training examples per second on in-memory tensors: the model's speed, nothing else."""
    spec = models.get_spec(config.model)
    examples, info, _ = input_pipeline.load(config.dataset, config.data_dir, test=config.test_split)
    data_info = spec.describe_data(config.dataset, info)
    batches = input_pipeline.evaluation_batches(
        examples["validation"], spec.preprocess, config.batch_size
    )
    inputs, targets = (tf.concat(parts, axis=0) for parts in zip(*batches.take(8)))  # in memory
    model = spec.build_model(data_info, config.hyperparameters)
    if spec.adapt:  # e.g. a text model's vocabulary, learned from the training split
        spec.adapt(
            model,
            input_pipeline.training_inputs(examples["train"], spec.preprocess, config.batch_size),
        )
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss=spec.loss,
        metrics=list(spec.metrics),
    )
    # Batched like the driver's data, with an unknown batch size: one batch repeated with
    # `from_tensors` has a static batch shape, which on a CPU can pick other, slower kernels
    # (2x slower for this CNN on the 2-core machine in the README) and compares nothing.
    repeated = (
        tf.data.Dataset.from_tensor_slices((inputs, targets)).repeat().batch(config.batch_size)
    )
    model.fit(repeated, steps_per_epoch=10, epochs=1, verbose=0, shuffle=False)  # trace and warm up
    speeds = []
    for _ in range(COMPUTE_REPEATS):
        start = time.perf_counter()
        model.fit(repeated, steps_per_epoch=COMPUTE_STEPS, epochs=1, verbose=0, shuffle=False)
        speeds.append(COMPUTE_STEPS * config.batch_size / (time.perf_counter() - start))
    # The best window: short windows on a shared 2-core machine varied twofold (626 to 1,222
    # examples/s for the CNN); the peak is the model's own speed and the fair bar to compare with.
    return max(speeds)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cnn")
    parser.add_argument(
        "--validation-batches",
        type=int,
        default=None,
        help="validate on this many batches only (default: the whole validation split)",
    )
    args, flags = parser.parse_known_args()
    run_dir = os.path.join(tempfile.mkdtemp(prefix="benchmark-"), "run")
    argv = [
        "--model",
        args.model,
        "--run-dir",
        run_dir,
        *flags,
    ]  # one argv: both measure one config
    config = models.get_spec(args.model).make_config(train.make_parser().parse_args(argv))
    # Compute-only first: afterwards the training run's prefetching threads may still hold a core.
    compute_only_speed = compute_only(config)
    if args.validation_batches is not None:
        only_validation_shortened(args.validation_batches)
    result = end_to_end(argv, run_dir)
    result["compute_only_examples_per_second"] = compute_only_speed
    result["driver_efficiency"] = (
        result["examples_per_second"] / result["compute_only_examples_per_second"]
    )
    result.update(
        model=args.model,
        dataset=config.dataset,
        batch_size=config.batch_size,
        cpus=os.cpu_count(),
        gpus=len(tf.config.list_physical_devices("GPU")),
    )
    print(json.dumps(result, indent=2))
    print(
        f"\n| {args.model} | {config.dataset} | {result['epochs']} | {result['test_accuracy']:.2%} | "
        f"{result['wall_seconds'] / 60:.1f} min | {result['examples_per_second']:.0f} | "
        f"{result['compute_only_examples_per_second']:.0f} | {result['driver_efficiency']:.0%} |"
    )


if __name__ == "__main__":
    main()
