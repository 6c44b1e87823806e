"""The fully resolved configuration of one run, saved as `RUN_DIR/config.json`.

Flags, the model's defaults and `--set key=value` overrides meet here, once, so that the rest
of the code reads a single object and a run can be repeated (or resumed) from its config.json.
"""

import dataclasses
import datetime
import json
import math
import os
import platform

import keras
import tensorflow as tf
import tensorflow_datasets as tfds

from training.errors import UsageError


@dataclasses.dataclass
class RunConfig:
    model: str
    run_dir: str
    hyperparameters: dict
    batch_size: int  # global: split across replicas
    learning_rate: float
    dataset: str | None = None  # models that learn from a TFDS dataset
    epochs: int | None = None
    environment: str | None = None  # agents: a gymnasium environment id and how many steps in it
    env_steps: int | None = None
    data_dir: str | None = None
    train_split: str | None = None  # None: the defaults of training.input_pipeline
    val_split: str | None = None
    test_split: str | None = None
    steps_per_epoch: int | None = None
    strategy: str = "auto"
    mixed_precision: bool = False
    jit_compile: bool | None = None  # None: Keras' "auto"
    seed: int = 0
    deterministic: bool = False
    worker_timeout: float = 300.0  # multi-worker: seconds to wait for every worker to join

    def to_json(self, **extra) -> str:
        return json.dumps({**dataclasses.asdict(self), **extra}, indent=2, default=str)

    @classmethod
    def from_dict(cls, saved: dict) -> "RunConfig":
        """The RunConfig in a config.json's content (extra keys such as `versions` are kept
        there, not here), or a UsageError when it is not one."""
        fields = dataclasses.fields(cls)
        required = {field.name for field in fields if field.default is dataclasses.MISSING}
        missing = sorted(required - set(saved))
        if missing:
            raise UsageError(
                f"this config.json is not a run's configuration: it lacks {', '.join(missing)}. "
                "Was it written by train.py?"
            )
        if not isinstance(saved["model"], str) or not isinstance(saved["hyperparameters"], dict):
            raise UsageError(
                "this config.json is not a run's configuration: its model or "
                "hyperparameters have the wrong type. Was it written by train.py?"
            )
        return cls(**{field.name: saved[field.name] for field in fields if field.name in saved})

    def training_differences(self, other: "RunConfig") -> list[str]:
        """Fields that change what is trained (a run cannot resume under different ones)."""
        ignored = {
            "run_dir",
            "data_dir",
            "strategy",
            "jit_compile",
            "worker_timeout",
        }  # how, not what
        return [
            field.name
            for field in dataclasses.fields(self)
            if field.name not in ignored
            and _jsonable(getattr(self, field.name)) != _jsonable(getattr(other, field.name))
        ]


def read_config_file(path: str) -> dict:
    """A config.json's content as a dict, or a UsageError saying it is damaged."""
    try:
        with open(path) as file:
            content = json.load(file)
    except (OSError, ValueError) as error:
        raise UsageError(
            f"cannot read {path} ({error}); the run's configuration is damaged. Copy the run "
            "again from where it was made, or train again into a new --run-dir."
        ) from None
    if not isinstance(content, dict):
        raise UsageError(f"{path} holds a {type(content).__name__}, not a run's configuration.")
    return content


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


def default_run_dir(model: str, data: str) -> str:
    """runs/<model>-<dataset or environment>-<time>"""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return os.path.join("runs", f"{model}-{data.replace('/', '_')}-{stamp}")


def versions() -> dict:
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "tensorflow_datasets": tfds.__version__,
    }


def apply_overrides(defaults: dict, assignments: list[str], model: str) -> dict:
    """Applies `--set key=value` strings; each value must parse as the default's type."""
    hyperparameters = dict(defaults)
    for assignment in assignments:
        key, separator, text = assignment.partition("=")
        key = key.strip()
        if not separator or not key:
            raise UsageError(f"--set expects key=value, got {assignment!r}.")
        if key not in defaults:
            known = ", ".join(f"{name}={value!r}" for name, value in defaults.items())
            raise UsageError(
                f"{model} has no hyperparameter {key!r}; its hyperparameters are: {known}."
            )
        value = _parse_like(defaults[key], text.strip(), key)
        check_range(key, value)
        hyperparameters[key] = value
    return hyperparameters


# What a hyperparameter's name says about the values it can work with. Every other number must
# be finite, and counts and sizes (integers) at least 1: a buffer of 0 transitions, 0 evaluation
# episodes or an interval of 0 steps would fail later, mid-run, or average nothing into NaN.
FRACTIONS = {  # name: (the name's meaning, whether 1.0 itself works)
    "dropout_rate": ("the fraction of units dropped", False),
    "discount_factor": ("how much a later reward counts", True),
    "final_epsilon": ("the probability of a random action", True),
}


def check_range(key: str, value) -> None:
    """A UsageError when `value` is outside the range `key` can work with."""
    if isinstance(value, bool) or isinstance(value, str):
        return
    if isinstance(value, (tuple, list)):
        for item in value:
            check_range(key, item)
        return
    problem = None
    if not math.isfinite(value):
        problem = "a finite number"
    elif key in FRACTIONS:
        meaning, one_works = FRACTIONS[key]
        if not (0 <= value <= 1 if one_works else 0 <= value < 1):
            problem = f"{meaning}, from 0 to {'1' if one_works else 'below 1'}"
    elif isinstance(value, int) and value < 1:
        problem = "a count or size of at least 1"
    elif value < 0:
        problem = "a number of at least 0"
    if problem:
        raise UsageError(f"--set {key}={value}: {key} must be {problem}.")


def _parse_like(default, text: str, key: str):
    try:
        if isinstance(default, bool):  # before int: bool is a subclass of int
            lowered = text.lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return lowered in ("true", "1", "yes")
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, (tuple, list)):
            item_type = type(default[0]) if default else int
            return tuple(item_type(item) for item in text.split(",") if item.strip())
        return text
    except ValueError:
        kind = (
            "a comma-separated list"
            if isinstance(default, (tuple, list))
            else type(default).__name__
        )
        raise UsageError(
            f"--set {key}={text!r}: expected {kind} like the default {default!r}."
        ) from None
