"""Accuracy and training time of a model's defaults over several seeds, through the real train.py.

    TFDS_DATA_DIR=../shared/tfds python benchmarks/seeds.py --model speech --seeds 0 1 2

One run can be lucky: on spoken_digit's 250 test clips, one clip is 0.4 points. Each seed
trains in its own process (`train.py --seed S`, into runs/benchmark-<model>-seed<S>) and is
timed from start to finish, data loading included; the table gives each seed and the mean.
Extra flags after `--` go to every train.py call (e.g. `-- --set band_dropout_rate=0.2`).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

from common import (
    ROOT,
    add_seeded_runs,
    classifier_or_refuse,
    exit_with,
    parse_seeded_runs,
    run_or_exit,
)


def timed_training(model: str, seed: int, run_dir: str, extra=()) -> float:
    """Seconds `train.py --model MODEL --seed SEED` takes from start to end, in its own process,
    into a fresh `run_dir`."""
    shutil.rmtree(run_dir, ignore_errors=True)  # a benchmark measures a whole run, never a resume
    command = [
        sys.executable,
        os.path.join(ROOT, "train.py"),
        "--model",
        model,
        "--seed",
        str(seed),
        "--run-dir",
        run_dir,
        *extra,
    ]
    print(f"seed {seed}: {' '.join(command[1:])}", flush=True)
    start = time.perf_counter()
    run_or_exit(command, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="seeds.py", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    add_seeded_runs(parser)
    checked = parse_seeded_runs(parser, argv, classifier_or_refuse)
    if checked is None:
        return 2
    args, extra = checked

    rows = []
    for seed in args.seeds:
        run_dir = os.path.join(args.runs, f"benchmark-{args.model}-seed{seed}")
        seconds = timed_training(args.model, seed, run_dir, extra)
        with open(os.path.join(run_dir, "metrics.json")) as file:
            rows.append((seed, json.load(file)["accuracy"], seconds))

    print(f"\n| {args.model} seed | test accuracy | wall time |\n| --- | --- | --- |")
    for seed, accuracy, seconds in rows:
        print(f"| {seed} | {accuracy:.2%} | {seconds / 60:.1f} min |")
    accuracies = [accuracy for _, accuracy, _ in rows]
    spread = f" ± {statistics.stdev(accuracies):.2%}" if len(rows) > 1 else ""
    print(
        f"| mean | {statistics.mean(accuracies):.2%}{spread} | "
        f"{statistics.mean(seconds for _, _, seconds in rows) / 60:.1f} min |"
    )
    return 0


if __name__ == "__main__":
    exit_with(main)
