"""Trains any registered model: python train.py --model cnn  (see --help and --list).

Flags become a RunConfig (training/config.py); the model's spec says what to train and which
loop trains it: training/keras_loop.py for models that learn from a dataset,
training/agent_loop.py for agents that learn in an environment. Bad input exits with code 2
and a message.
"""

import argparse
import os
import sys

from training import flags, interrupts, startup
from training.errors import Interrupted, UsageError, WorkerLost


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="which model to train (see --list)")
    parser.add_argument(
        "--list", action="store_true", help="list the models and their default data, then exit"
    )
    parser.add_argument(
        "--dataset",
        type=flags.non_empty,
        help="TFDS dataset name (default: the model's own, e.g. mnist)",
    )
    parser.add_argument(
        "--epochs",
        type=flags.positive_int,
        help="passes over the training split (default: the model's)",
    )
    parser.add_argument(
        "--batch-size",
        type=flags.positive_int,
        help="global batch size, split across replicas (agents: transitions per update)",
    )
    parser.add_argument(
        "--learning-rate",
        type=flags.positive_float,
        help="peak learning rate of the cosine schedule (agents: of Adam)",
    )
    parser.add_argument(
        "--steps-per-epoch",
        type=flags.positive_int,
        help="batches per epoch (default: one pass over the data)",
    )
    parser.add_argument(
        "--env",
        type=flags.non_empty,
        help="agents: gymnasium environment id with discrete actions (default: CartPole-v1)",
    )
    parser.add_argument(
        "--env-steps",
        type=flags.positive_int,
        help="agents: environment steps to train for (default: the agent's)",
    )
    parser.add_argument(
        "--run-dir",
        type=flags.non_empty,
        help="where outputs go (default: runs/<model>-<dataset or environment>-<time>); "
        "an unfinished run there is resumed",
    )
    parser.add_argument(
        "--data-dir",
        type=flags.non_empty,
        help="TFDS data folder (default: $TFDS_DATA_DIR or ~/tensorflow_datasets)",
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
        choices=flags.STRATEGIES,
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
        "--seed", type=flags.seed, default=0, help="seed for weights, dropout and shuffling"
    )
    parser.add_argument(
        "--deterministic",
        action="store_true",
        help="make TensorFlow ops deterministic: same seed, same weights (slower)",
    )
    parser.add_argument(
        "--worker-timeout",
        type=flags.positive_float,
        default=300.0,
        help="multi-worker: seconds to wait for every worker in TF_CONFIG to join (default: 300)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a model hyperparameter, e.g. --set activation=sigmoid (repeatable)",
    )
    return parser


# What `train.py --run-dir DIR` alone may be given with: how to run, not what to train.
RESUME_FLAGS = {"run_dir", "data_dir", "strategy", "jit_compile", "worker_timeout"}


def list_models(models) -> None:
    for name in models.names():
        spec = models.get_spec(name)
        print(f"{name:16} {spec.default_data:14} {spec.description}")


def main(argv=None) -> int:
    parser = make_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:  # --help (0) or a bad flag (2, message already printed)
        return exit_request.code
    # SIGTERM (a cluster manager, `timeout`, `kill`) stops a run as Ctrl-C does: one line.
    interrupts.listen()
    try:
        with interrupts.as_stop_if_requested():
            startup.quiet_tensorflow()
            # Imported once the flags are known to be good: they import TensorFlow (seconds).
            import models  # registers every model
            from training import runs
    except KeyboardInterrupt:
        print("train.py: interrupted while starting; nothing was written.", file=sys.stderr)
        return 130

    if args.list:
        list_models(models)
        return 0
    if not args.model and not (args.run_dir and os.path.isdir(args.run_dir)):
        parser.print_usage(sys.stderr)
        print(
            "train.py: error: --model is required (or --run-dir alone, to resume an unfinished "
            "run); `python train.py --list` shows the models.",
            file=sys.stderr,
        )
        return 2
    config = None
    try:
        spec, config = _spec_and_config(models, runs, args, parser)
        spec.loop.train(config, spec)
    except UsageError as error:
        print(f"train.py: error: {error}", file=sys.stderr)
        return 2
    except WorkerLost as error:
        print(f"train.py: stopped: {error}", file=sys.stderr)
        return 1
    except (Interrupted, KeyboardInterrupt) as interruption:
        print(f"train.py: {_interrupted(interruption, config, runs)}", file=sys.stderr)
        return 130
    return 0


def _interrupted(interruption, config, runs) -> str:
    """The line a stopped run ends with: where it stopped, and what to run next."""
    if config and os.path.exists(os.path.join(config.run_dir, runs.MODEL_FILE)):
        return f"interrupted as the run finished; {config.run_dir} holds its whole model."
    where = f" {interruption}" if isinstance(interruption, Interrupted) else ""
    # Stopped before the run wrote its settings (config.json), the folder is removed again:
    # the same command starts the run afresh.
    written = config and os.path.exists(os.path.join(config.run_dir, runs.CONFIG_FILE))
    resume = f"python train.py --run-dir {config.run_dir}" if written else "the same command"
    return f"interrupted{where}. To resume, run: {resume}"


def _spec_and_config(models, runs, args, parser):
    """The spec and RunConfig the flags ask for; `--run-dir DIR` alone resumes the unfinished
    run in DIR with the settings saved in its config.json."""
    if args.model:
        spec = models.get_spec(args.model)
        return spec, spec.make_config(args)
    given = sorted(
        name
        for name, value in vars(args).items()
        if value != parser.get_default(name) and name not in RESUME_FLAGS
    )
    if given:
        flags_given = ", ".join("--" + name.replace("_", "-") for name in given)
        raise UsageError(
            f"resuming {args.run_dir} takes its settings from its config.json; leave out "
            f"{flags_given} (or give --model and the run's own flags)."
        )
    config = runs.read_config(args.run_dir)
    for name in RESUME_FLAGS - {"run_dir"}:  # how to run may change between sessions
        if getattr(args, name) != parser.get_default(name):
            setattr(config, name, getattr(args, name))
    return models.get_spec(config.model), config


if __name__ == "__main__":
    sys.exit(main())
