"""Evaluates a finished run: python evaluate.py runs/cnn-mnist-20261123-101500

Reloads RUN_DIR/model.keras and config.json, prints the metrics on the test split (or --split)
and writes RUN_DIR/eval/metrics.json plus PNG figures. Bad input exits with code 2.
An agent's run is evaluated in its environment instead: N greedy episodes (--episodes).

Models that take a raw input on the command line answer for it instead, e.g.
python evaluate.py runs/rnn-imdb_reviews-20261124-101500 --text "a wonderful, moving film"
python evaluate.py runs/speech-spoken_digit-20261124-101500 --audio my_digit.wav
"""

import argparse
import os
import sys

from training import flags, interrupts, startup

with interrupts.exit_if_stopped_while_starting("evaluate.py: interrupted while starting."):
    startup.quiet_tensorflow()
    import models  # registers every model, which loading model.keras needs
    from training import runs
    from training.errors import UsageError

OPTIONS = ("split", "episodes", "features")  # evaluation options; each model takes some


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="a run directory written by train.py")
    parser.add_argument(
        "--split", help="TFDS split string to evaluate on (default: the run's test split)"
    )
    parser.add_argument(
        "--features",
        metavar="CLASSIFIER_RUN",
        help="gan, vae: a finished classifier run on the same dataset (e.g. of --model cnn) "
        "whose features measure the Frechet distance; name the same one for runs you compare",
    )
    parser.add_argument(
        "--data-dir",
        type=flags.non_empty,
        help="TFDS data folder (default: $TFDS_DATA_DIR, else the one the run was trained from)",
    )
    parser.add_argument(
        "--episodes", type=flags.episodes, help="agents: greedy episodes to run (default: 100)"
    )
    # One flag per kind of raw input some model declares (--text, ...), gathered from the registry.
    inputs = {
        spec.command_line_input.flag: spec.command_line_input
        for spec in map(models.get_spec, models.names())
        if spec.command_line_input
    }
    for flag, command_line_input in sorted(inputs.items()):
        parser.add_argument(flag, help=command_line_input.help)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:
        return exit_request.code
    interrupts.listen()  # SIGTERM (`kill`, `timeout`) stops an evaluation as Ctrl-C does
    try:
        config = runs.load_run_config(args.run_dir)
        # Where the data is now wins over where it was when the run was trained.
        config.data_dir = args.data_dir or (
            None if os.environ.get("TFDS_DATA_DIR") else config.data_dir
        )
        spec = models.get_spec(config.model)
        given = {
            flag: vars(args)[_dest(flag)] for flag in inputs if vars(args)[_dest(flag)] is not None
        }
        if given:
            value = _the_one_input(spec, given)  # first: it refuses models that take no such input
            print(spec.loop.predict_one(config, spec, value))
        else:
            spec.loop.evaluate(
                config, spec, **_options_for(spec, {name: vars(args)[name] for name in OPTIONS})
            )
    except UsageError as error:
        print(f"evaluate.py: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("evaluate.py: interrupted; run the same command again to evaluate.", file=sys.stderr)
        return 130
    return 0


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")  # where argparse stores "--some-flag"


def _options_for(spec, options: dict) -> dict:
    """The evaluation options given on the command line, if this model's loop takes them."""
    given = {name: value for name, value in options.items() if value is not None}
    accepted = spec.loop.EVALUATE_OPTIONS + spec.evaluate_options
    refused = sorted(set(given) - set(accepted))
    if refused:
        takes = " or ".join(f"--{name}" for name in accepted)
        raise UsageError(f"{spec.name} does not take --{refused[0]}; it takes {takes}.")
    return given


def _the_one_input(spec, given: dict) -> str:
    accepted = spec.command_line_input.flag if spec.command_line_input else None
    if list(given) != [accepted]:
        takes = f"it takes {accepted}" if accepted else "it takes no input on the command line"
        raise UsageError(f"{spec.name} cannot answer {' '.join(given)}; {takes}.")
    return given[accepted]


if __name__ == "__main__":
    sys.exit(main())
