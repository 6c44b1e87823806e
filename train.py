"""Trains any registered model: python train.py --model cnn  (see --help and --list).

Flags become a RunConfig (training/config.py); the model's spec says what to train and which
loop trains it: training/keras_loop.py for models that learn from a dataset,
training/agent_loop.py for agents that learn in an environment. Bad input exits with code 2
and a message.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter quiet

import models  # noqa: E402  (registers every model)
from training import distribution  # noqa: E402
from training.errors import UsageError, WorkerLost  # noqa: E402


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {value}")
    return value


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="which model to train (see --list)")
    parser.add_argument(
        "--list", action="store_true", help="list the models and their default data, then exit"
    )
    parser.add_argument(
        "--dataset", help="TFDS dataset name (default: the model's own, e.g. mnist)"
    )
    parser.add_argument(
        "--epochs", type=positive_int, help="passes over the training split (default: the model's)"
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        help="global batch size, split across replicas (agents: transitions per update)",
    )
    parser.add_argument(
        "--learning-rate",
        type=positive_float,
        help="peak learning rate of the cosine schedule (agents: of Adam)",
    )
    parser.add_argument(
        "--steps-per-epoch",
        type=positive_int,
        help="batches per epoch (default: one pass over the data)",
    )
    parser.add_argument(
        "--env",
        help="agents: gymnasium environment id with discrete actions (default: CartPole-v1)",
    )
    parser.add_argument(
        "--env-steps",
        type=positive_int,
        help="agents: environment steps to train for (default: the agent's)",
    )
    parser.add_argument(
        "--run-dir",
        help="where outputs go (default: runs/<model>-<dataset or environment>-<time>); "
        "an unfinished run there is resumed",
    )
    parser.add_argument(
        "--data-dir", help="TFDS data folder (default: $TFDS_DATA_DIR or ~/tensorflow_datasets)"
    )
    parser.add_argument(
        "--train-split",
        help="TFDS split string (default: train, or train[:90%%] without a validation split)",
    )
    parser.add_argument(
        "--val-split", help="TFDS split string (default: validation, or train[90%%:])"
    )
    parser.add_argument(
        "--test-split", help="TFDS split string for the final metrics (default: test)"
    )
    parser.add_argument(
        "--strategy",
        default="auto",
        choices=distribution.STRATEGIES,
        help="tf.distribute strategy (default: auto picks from TF_CONFIG and the GPUs)",
    )
    parser.add_argument(
        "--mixed-precision", action="store_true", help="train in mixed_float16 (GPU only)"
    )
    parser.add_argument(
        "--jit-compile",
        action=argparse.BooleanOptionalAction,
        help="compile each training step with XLA (default: Keras decides; on when a GPU is "
        "present and every layer supports it); --no-jit-compile turns it off",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed for weights, dropout and shuffling"
    )
    parser.add_argument(
        "--deterministic",
        action="store_true",
        help="make TensorFlow ops deterministic: same seed, same weights (slower)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a model hyperparameter, e.g. --set activation=sigmoid (repeatable)",
    )
    return parser


def list_models() -> None:
    for name in models.names():
        spec = models.get_spec(name)
        print(f"{name:16} {spec.default_data:14} {spec.description}")


def main(argv=None) -> int:
    parser = make_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:  # --help (0) or a bad flag (2, message already printed)
        return exit_request.code
    if args.list:
        list_models()
        return 0
    if not args.model:
        parser.print_usage(sys.stderr)
        print(
            "train.py: error: --model is required; `python train.py --list` shows the models.",
            file=sys.stderr,
        )
        return 2
    try:
        spec = models.get_spec(args.model)
        spec.loop.train(spec.make_config(args), spec)
    except UsageError as error:
        print(f"train.py: error: {error}", file=sys.stderr)
        return 2
    except WorkerLost as error:
        print(f"train.py: stopped: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
