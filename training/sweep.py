"""A sweep: one normal training run for every combination of a few hyperparameter values and
seeds, one after another, then a table, sweep.csv and a figure that compare them.

    runs/<sweep>/sweep.json        what the sweep is (a rerun must match it)
    runs/<sweep>/<trial>/          one run directory per combination and seed, e.g.
                                   activation=relu,hidden_units=1024-512,seed=0
    runs/<sweep>/sweep.csv         one row per trial: its values, seed, status and metrics
    runs/<sweep>/sweep.png         the headline metric per setting, every seed a dot
                                   (these two: training/sweep_report.py)

Each trial is `train.main(flags)`, so it resumes and writes TensorBoard's HParams summary like
any run. Running the same sweep again skips the finished trials and resumes the unfinished one
from its backup; a trial that fails is reported and the sweep goes on.
"""

import dataclasses
import itertools
import json
import os
import random
import traceback

import keras

from training import interrupts
from training.config import apply_overrides
from training.errors import UsageError
from training.runs import MODEL_FILE

# Training settings a grid may vary besides the model's hyperparameters: key -> (flag, type).
TRAINING_KEYS = {
    "learning_rate": ("--learning-rate", float),
    "batch_size": ("--batch-size", int),
    "epochs": ("--epochs", int),
    "env_steps": ("--env-steps", int),
}
SWEEP_FILE = "sweep.json"
OWN_FLAGS = ("--model", "--run-dir", "--seed", "--list")  # train.py flags the sweep sets itself


@dataclasses.dataclass(frozen=True)
class Trial:
    name: str
    setting: dict  # {key: value as typed on the command line}, e.g. {"hidden_units": "1024,512"}
    seed: int
    run_dir: str

    def flags(self) -> list[str]:
        """train.py flags for this trial, after the sweep's own `--model` and fixed flags."""
        flags = ["--run-dir", self.run_dir, "--seed", str(self.seed)]
        for key, value in self.setting.items():
            flags += (
                [TRAINING_KEYS[key][0], value]
                if key in TRAINING_KEYS
                else ["--set", f"{key}={value}"]
            )
        return flags


def parse_grid(assignments: list[str], hyperparameters: dict, model: str) -> dict[str, list[str]]:
    """`--grid key=v1,v2` strings -> {key: [v1, v2]}, every value checked as `--set` checks it.

    A tuple-valued hyperparameter separates its values with "/", since its own items are
    separated by commas: hidden_units=1024,512/256,256,256 is two values."""
    grid = {}
    for assignment in assignments:
        key, separator, text = assignment.partition("=")
        key = key.strip()
        if not separator or not key:
            raise UsageError(f"--grid expects key=value,value,..., got {assignment!r}.")
        if key not in hyperparameters and key not in TRAINING_KEYS:
            known = ", ".join(list(hyperparameters) + list(TRAINING_KEYS))
            raise UsageError(
                f"--grid {key}: {model} has no such setting; a grid can vary: {known}."
            )
        if key in grid:
            raise UsageError(f"--grid {key} is given twice; list all its values in one --grid.")
        is_tuple = isinstance(hyperparameters.get(key), (tuple, list))
        values = [value.strip() for value in text.split("/" if is_tuple else ",")]
        if not text.strip() or not all(values):
            example = "1024,512/256,256,256" if is_tuple else "a,b,c"
            raise UsageError(
                f"--grid {assignment!r} has an empty value; give one or more values, e.g. "
                f"{key}={example}."
            )
        if len(set(values)) < len(values):
            raise UsageError(f"--grid {key} lists a value twice: {text}.")
        for value in values:
            _check_value(key, value, hyperparameters, model)
        grid[key] = values
    if not grid:
        raise UsageError("give at least one --grid key=value,value,... to sweep over.")
    return grid


def _check_value(key: str, value: str, hyperparameters: dict, model: str) -> None:
    if key in TRAINING_KEYS:
        flag, kind = TRAINING_KEYS[key]
        try:
            if kind(value) > 0:
                return
        except ValueError:
            pass
        raise UsageError(f"--grid {key}={value!r}: {flag} takes a positive {kind.__name__}.")
    try:
        apply_overrides(hyperparameters, [f"{key}={value}"], model)  # what --set would do
    except UsageError as error:
        raise UsageError(f"--grid {str(error).removeprefix('--set ')}") from None


def settings(grid: dict[str, list[str]], sample: int | None = None) -> list[dict]:
    """Every combination of the grid's values, in grid order; with `sample`, that many of them
    drawn at random, the same ones every time (so a rerun resumes the same sweep)."""
    combinations = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    if sample is None or sample >= len(combinations):
        return combinations
    chosen = sorted(random.Random(0).sample(range(len(combinations)), sample))
    return [combinations[index] for index in chosen]


def trials(sweep_dir: str, grid: dict, seeds: list[int], sample: int | None = None) -> list[Trial]:
    """One trial per setting and seed, named by the values that differ between trials."""
    varying = [key for key, values in grid.items() if len(values) > 1] or list(grid)
    result = []
    for setting in settings(grid, sample):
        parts = [f"{key}={_path_safe(setting[key])}" for key in varying]
        for seed in seeds:
            name = ",".join(parts + ([f"seed={seed}"] if len(seeds) > 1 else []))
            result.append(Trial(name, setting, seed, os.path.join(sweep_dir, name)))
    return result


def _path_safe(value: str) -> str:
    return value.replace(",", "-").replace("/", "_").replace(" ", "")


def check_train_flags(train_flags: list[str], grid: dict) -> None:
    """Refuses the train.py flags a sweep sets per trial, and a --set of a key in the grid."""
    for flag in train_flags:
        if flag.split("=")[0] in OWN_FLAGS:
            raise UsageError(
                f"{flag} is set by the sweep for each trial; leave it out (--seeds sets seeds)."
            )
    fixed = {  # --set KEY=VALUE among the flags for every trial
        train_flags[index + 1].split("=")[0].strip()
        for index, flag in enumerate(train_flags[:-1])
        if flag == "--set"
    }
    if fixed & set(grid):
        raise UsageError(
            f"{', '.join(sorted(fixed & set(grid)))} is both in --grid and in --set; keep one."
        )


def check_sweep_dir(sweep_dir: str, description: dict) -> None:
    """Writes sweep.json for a new sweep; refuses to continue a different one in the same place."""
    path = os.path.join(sweep_dir, SWEEP_FILE)
    if os.path.exists(path):
        with open(path) as file:
            saved = json.load(file)
        if saved != description:
            raise UsageError(
                f"{sweep_dir} holds another sweep ({json.dumps(saved)}); to resume it, repeat its "
                "command; for a new sweep, pick another --name."
            )
        return
    os.makedirs(sweep_dir, exist_ok=True)
    with open(path, "w") as file:
        json.dump(description, file, indent=2)


def run_trials(
    trial_list: list[Trial], model: str, fixed_flags: list[str], train_main
) -> list[dict]:
    """Runs every trial that has not finished through `train_main(flags)`, one after another;
    returns one result per trial: {"trial", "status", "metrics"}."""
    results = []
    for number, trial in enumerate(trial_list, 1):
        print(f"\n=== Trial {number} of {len(trial_list)}: {trial.name}", flush=True)
        if os.path.exists(os.path.join(trial.run_dir, MODEL_FILE)):
            print("Finished before: skipped.")
            status = "finished"
        else:
            status = _run_one(train_main, ["--model", model, *fixed_flags, *trial.flags()])
            keras.backend.clear_session()  # the next trial starts from a clean Keras state
            interrupts.check()  # a Ctrl-C that a finalizer swallowed between two trials
        results.append({"trial": trial, "status": status, "metrics": _metrics(trial, status)})
    return results


def _run_one(train_main, flags: list[str]) -> str:
    try:
        code = train_main(flags)
    except Exception as error:  # a bug or a crash in one trial must not end the sweep
        traceback.print_exc()
        return f"failed ({type(error).__name__}: {str(error)[:120]})"
    if code == 130:  # train.py turned Ctrl-C into this exit code: stop the sweep too
        raise KeyboardInterrupt
    if code != 0:
        return f"failed (exit code {code}; see the message above)"
    return "finished"


def _metrics(trial: Trial, status: str) -> dict:
    if status != "finished":
        return {}
    with open(os.path.join(trial.run_dir, "metrics.json")) as file:
        saved = json.load(file)
    return {
        name: float(value)
        for name, value in saved.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    }
