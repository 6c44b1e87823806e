"""What the benchmark scripts share: checks of their flags, and running train.py and evaluate.py
as a user would.

A benchmark trains for minutes, so everything that can be checked is checked before anything
trains: a mistake found at the end wastes the whole run. Bad input gets one line and exit code
2, as train.py's does; a run that fails stops the benchmark with that run's own exit code.
"""

import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from training.errors import UsageError  # noqa: E402  (these two import nothing heavy)
from training.flags import positive_int, seed  # noqa: E402, F401  (train.py's own checks)

# The environment the benchmark started with, for the runs it starts: a TF_CPP_MIN_LOG_LEVEL
# that this process sets to start quietly (training/startup.py) would tell them that the user
# chose to see TensorFlow's start-up lines.
STARTING_ENVIRONMENT = dict(os.environ)


def accuracy(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not an accuracy in (0, 1], e.g. 0.988")
    return value


def add_seeds(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seeds", type=seed, nargs="+", default=[0, 1, 2])


def check_seeds(parser: argparse.ArgumentParser, seeds: list[int]) -> None:
    """Each seed once: a seed given twice trains the same run twice and halves the spread."""
    if len(set(seeds)) < len(seeds):
        parser.error(f"--seeds {' '.join(map(str, seeds))}: give each seed once.")


# What seeds.py and agents.py set for every run they start.
SET_FOR_EVERY_RUN = ("model", "seed", "run_dir", "list")


def add_seeded_runs(parser: argparse.ArgumentParser) -> None:
    """The flags of a benchmark that trains one run a seed: --seeds, --runs, and after `--`
    flags for every train.py call."""
    add_seeds(parser)
    parser.add_argument(
        "--runs", default=os.path.join(ROOT, "runs"), help="where the run directories go"
    )
    parser.add_argument("train_flags", nargs=argparse.REMAINDER, help="-- then flags for train.py")


def parse_seeded_runs(parser, argv, model_or_refuse) -> tuple[argparse.Namespace, list] | None:
    """(args, flags for train.py), all checked before anything trains; None after saying why
    (exit code 2 for the caller)."""
    args = parser.parse_args(argv)
    check_seeds(parser, args.seeds)
    extra = args.train_flags[1:] if args.train_flags[:1] == ["--"] else args.train_flags
    try:
        model_or_refuse(args.model)
        train_flags(extra, SET_FOR_EVERY_RUN)
    except UsageError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return None
    return args, extra


def train_flags(flags: list[str], set_here: tuple[str, ...]) -> argparse.Namespace:
    """`flags` as train.py reads them, checked before anything trains: a typo gets train.py's
    own message (exit 2); a flag the benchmark sets for every run itself (`set_here`, e.g.
    "model", "seed", "run_dir") is refused, since a flag given twice takes the last value."""
    import train

    parser = train.make_parser()
    parser.prog = f"{os.path.basename(sys.argv[0])} (flags for train.py)"
    given = parser.parse_args(flags)
    overridden = [name for name in set_here if getattr(given, name) != parser.get_default(name)]
    if overridden:
        names = ", ".join("--" + name.replace("_", "-") for name in overridden)
        raise UsageError(f"this benchmark sets {names} for every run; leave it out.")
    return given


def classifier_or_refuse(name: str) -> None:
    """Raises UsageError unless `name` reports test accuracy (an unknown name: get_spec's)."""
    models = _quietly_imported_models()

    def is_classifier(model: str) -> bool:
        return "accuracy" in getattr(models.get_spec(model), "metrics", ())

    if not is_classifier(name):
        classifiers = ", ".join(model for model in models.names() if is_classifier(model))
        raise UsageError(
            f"{name} reports no accuracy; this benchmark measures the classifiers: "
            f"{classifiers}. (benchmarks/agents.py measures the agents, "
            "benchmarks/speech_to_text.py speech to text.)"
        )


def agent_or_refuse(name: str) -> None:
    """Raises UsageError unless `name` is an agent (an unknown name: get_spec's)."""
    models = _quietly_imported_models()
    from models.registry import AgentSpec

    def is_agent(model: str) -> bool:
        return isinstance(models.get_spec(model), AgentSpec)

    if not is_agent(name):
        agents = ", ".join(model for model in models.names() if is_agent(model))
        raise UsageError(
            f"{name} is not an agent; this benchmark measures the agents: {agents}. "
            "(benchmarks/seeds.py measures the classifiers.)"
        )


def _quietly_imported_models():
    from training import startup

    startup.quiet_tensorflow()
    import models

    return models


def run_or_exit(command: list[str], **options) -> subprocess.CompletedProcess:
    """Runs `command` (a script of this project and its flags) where the benchmark was started
    (relative paths in its flags and in TFDS_DATA_DIR mean what the user meant). If it fails,
    its own message is on stderr already: say which failed and exit with its code (2: bad
    input), so a benchmark never goes on to read a result that was not written."""
    try:
        finished = subprocess.run(command, env=STARTING_ENVIRONMENT, **options)
    except KeyboardInterrupt:  # the run got the Ctrl-C too, and says where it stopped
        _say_interrupted()
        sys.exit(130)
    if finished.returncode != 0:
        script = os.path.basename(command[1])
        print(
            f"{script} failed (exit {finished.returncode}); its message is above.", file=sys.stderr
        )
        sys.exit(finished.returncode if finished.returncode > 0 else 1)  # < 0: killed by a signal
    return finished


def starting():
    """Around a benchmark's imports: a Ctrl-C while TensorFlow loads ends it with the same one
    line and exit code 130 as later on."""
    from training import interrupts

    return interrupts.exit_if_stopped_while_starting(_interrupted_line())


def exit_with(main, temporary_runs: bool = False) -> None:
    """`sys.exit(main())`, where Ctrl-C ends with one line and exit code 130 (run_or_exit says
    the same for the runs it starts). With `temporary_runs` (a benchmark that trains in runs it
    removes), the line also says that train.py's offer to resume, printed just above it, points
    at a folder that is gone."""
    try:
        code = main()
    except KeyboardInterrupt:
        _say_interrupted(
            " Its runs were only for measuring and are removed: there is nothing to resume."
            if temporary_runs
            else ""
        )
        code = 130
    sys.exit(code)


def _say_interrupted(more: str = "") -> None:
    print(_interrupted_line(more), file=sys.stderr)


def _interrupted_line(more: str = "") -> str:
    return f"{os.path.basename(sys.argv[0])}: interrupted; no results.{more}"
