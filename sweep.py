"""Trains one run per combination of hyperparameter values and seeds, then compares them.

    python sweep.py --model mlp --grid activation=relu,sigmoid,tanh --seeds 0,1 --epochs 5

Every other flag goes to train.py unchanged. The runs land in runs/<sweep name>/<trial>/; the
same command again skips the finished trials and resumes an interrupted one. The logic lives in
training/sweep.py (the trials) and training/sweep_report.py (table, sweep.csv, figure). Bad
input exits with code 2 and a message, before anything trains.
"""

import argparse
import os
import sys

import train
from training import flags, interrupts, startup
from training.errors import UsageError


def seed_list(text: str) -> list[int]:
    try:
        seeds = [flags.seed(item) for item in text.split(",")]
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(
            f"expected seeds from 0 to {flags.MAX_SEED} like 0,1,2, got {text!r}"
        ) from None
    if len(set(seeds)) < len(seeds):
        raise argparse.ArgumentTypeError(f"a seed is listed twice in {text!r}")
    return seeds


def make_parser() -> argparse.ArgumentParser:
    # allow_abbrev=False: train.py's --seed must not be taken for --seeds.
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        allow_abbrev=False,
        epilog="Any other flag is passed to train.py (see python train.py --help), e.g. --epochs 5.",
    )
    parser.add_argument("--model", required=True, help="which model to train (see train.py --list)")
    parser.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="values to try for a hyperparameter (or learning_rate, batch_size, epochs, "
        "env_steps); repeatable, every combination is trained. A tuple hyperparameter separates "
        "its values with '/': hidden_units=1024,512/256,256,256",
    )
    parser.add_argument(
        "--seeds",
        type=seed_list,
        default=[0],
        help="seeds to train each combination with (default: 0)",
    )
    parser.add_argument(
        "--random",
        type=flags.positive_int,
        metavar="N",
        help="train N combinations drawn at random (the same ones on every rerun) instead of all",
    )
    parser.add_argument(
        "--name", help="the sweep's folder under runs/ (default: <model>-sweep-<grid keys>)"
    )
    parser.add_argument(
        "--metric", help="the metric the figure shows (default: accuracy, or the model's headline)"
    )
    return parser


def plan(args, train_flags: list[str]) -> tuple[str, dict, list]:
    """The sweep folder and its trials, every trial's flags checked as train.py would."""
    import models  # registers every model (imports TensorFlow: seconds)
    from training import sweep as sweeps

    spec = models.get_spec(args.model)
    grid = sweeps.parse_grid(args.grid, spec.hyperparameters, args.model)
    sweeps.check_train_flags(train_flags, grid)
    name = args.name or f"{args.model}-sweep-{'-'.join(grid)}"
    trials = sweeps.trials(os.path.join("runs", name), grid, args.seeds, args.random)
    parser = train.make_parser()
    for trial in trials:  # bad flags or values fail here, before the first trial trains
        try:
            options = parser.parse_args(["--model", args.model, *train_flags, *trial.flags()])
        except SystemExit:  # argparse printed what is wrong
            raise UsageError("see above; python train.py --help lists train.py's flags.") from None
        spec.make_config(options)
    return os.path.join("runs", name), grid, trials


def main(argv=None) -> int:
    parser = make_parser()
    try:
        args, train_flags = parser.parse_known_args(argv)
    except SystemExit as exit_request:  # --help (0) or a bad flag (2, message already printed)
        return exit_request.code
    interrupts.listen()  # Ctrl-C and SIGTERM stop the sweep between trials too
    try:
        with interrupts.as_stop_if_requested():
            startup.quiet_tensorflow()
            from training import sweep as sweeps
            from training import sweep_report
    except KeyboardInterrupt:
        print("sweep.py: interrupted while starting; nothing was written.", file=sys.stderr)
        return 130

    try:
        sweep_dir, grid, trials = plan(args, train_flags)
        sweeps.check_sweep_dir(
            sweep_dir,
            {
                "model": args.model,
                "grid": grid,
                "seeds": args.seeds,
                "random": args.random,
                "flags": train_flags,
            },
        )
        print(f"Sweep {sweep_dir}: {len(trials)} trial{'s' if len(trials) > 1 else ''}.")
        results = sweeps.run_trials(trials, args.model, train_flags, train.main)
        sweep_report.report(sweep_dir, grid, results, args.metric)
    except UsageError as error:
        print(f"sweep.py: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nsweep.py: interrupted; the same command resumes the sweep.", file=sys.stderr)
        return 130
    return 0 if all(result["status"] == "finished" for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
