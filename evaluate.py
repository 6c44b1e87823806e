"""Evaluates a finished run: python evaluate.py runs/cnn-mnist-20261123-101500

Reloads RUN_DIR/model.keras and config.json, prints the metrics on the test split (or --split)
and writes RUN_DIR/eval/metrics.json plus PNG figures. Bad input exits with code 2.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import models  # noqa: E402  (registers every model, which loading model.keras needs)
from training import keras_loop  # noqa: E402
from training.errors import UsageError  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="a run directory written by train.py")
    parser.add_argument("--split", help="TFDS split string to evaluate on (default: the run's test split)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:
        return exit_request.code
    try:
        config = keras_loop.load_run_config(args.run_dir)
        keras_loop.evaluate(config, models.get_spec(config.model), args.split)
    except UsageError as error:
        print(f"evaluate.py: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
