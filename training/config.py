"""The fully resolved configuration of one run, saved as `RUN_DIR/config.json`.

Flags, the model's defaults and `--set key=value` overrides meet here, once, so that the rest
of the code reads a single object and a run can be repeated (or resumed) from its config.json.
"""

import dataclasses
import datetime
import json
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

    def to_json(self, **extra) -> str:
        return json.dumps({**dataclasses.asdict(self), **extra}, indent=2, default=str)

    @classmethod
    def from_json_file(cls, path: str) -> "RunConfig":
        with open(path) as file:
            saved = json.load(file)
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in saved.items() if key in names})

    def training_differences(self, other: "RunConfig") -> list[str]:
        """Fields that change what is trained (a run cannot resume under different ones)."""
        ignored = {"run_dir", "data_dir", "strategy", "jit_compile"}  # how, not what
        return [
            field.name
            for field in dataclasses.fields(self)
            if field.name not in ignored
            and _jsonable(getattr(self, field.name)) != _jsonable(getattr(other, field.name))
        ]


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
        hyperparameters[key] = _parse_like(defaults[key], text.strip(), key)
    return hyperparameters


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
