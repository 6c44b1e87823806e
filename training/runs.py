"""The run directory that `train.py` fills and `evaluate.py` reads, for every kind of model.

RUN_DIR/config.json    the resolved RunConfig (written first: a run that has one can resume)
RUN_DIR/backup/        the state to resume from, while training
RUN_DIR/model.keras    the trained model (written last: a run that has one is finished)
RUN_DIR/metrics.json, logs/ (TensorBoard), eval/ (evaluate.py)
"""

import json
import os

import keras

from training.config import RunConfig
from training.errors import UsageError

MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"


def load_run_config(run_dir: str) -> RunConfig:
    """The config of a finished run, or a UsageError saying what is wrong with `run_dir`."""
    config_path = os.path.join(run_dir, CONFIG_FILE)
    if not os.path.isdir(run_dir):
        raise UsageError(f"no run directory at {run_dir}; runs live under runs/ (see `ls runs`).")
    if not os.path.exists(config_path):
        raise UsageError(
            f"{run_dir} has no {CONFIG_FILE}: it is not a run directory made by train.py."
        )
    try:
        config = RunConfig.from_json_file(config_path)
    except (ValueError, TypeError) as error:
        raise UsageError(
            f"{config_path} is corrupted ({error}); train again into a new --run-dir."
        ) from None
    if not os.path.exists(os.path.join(run_dir, MODEL_FILE)):
        raise UsageError(
            f"{run_dir} holds an unfinished run (no {MODEL_FILE}). Finish it by running the "
            f"same command again: python train.py --model {config.model} --run-dir {run_dir}"
        )
    return config


def load_model(run_dir: str) -> keras.Model:
    path = os.path.join(run_dir, MODEL_FILE)
    try:
        return keras.saving.load_model(path)
    except Exception as error:  # Keras raises many types for a damaged zip/h5 file
        raise UsageError(
            f"cannot load {path} ({type(error).__name__}: {error}); it is damaged. "
            "Train again into a new --run-dir."
        ) from None


def check_run_dir(config: RunConfig) -> None:
    """A finished run is never overwritten; an unfinished one resumes under the same config."""
    config_path = os.path.join(config.run_dir, CONFIG_FILE)
    if os.path.exists(os.path.join(config.run_dir, MODEL_FILE)):
        raise UsageError(
            f"{config.run_dir} already holds a finished run; pick a new --run-dir "
            f"(or leave it out for a fresh timestamped one), or delete that folder."
        )
    if os.path.exists(config_path):
        differences = config.training_differences(RunConfig.from_json_file(config_path))
        if differences:
            raise UsageError(
                f"{config.run_dir} holds an unfinished run started with different "
                f"{', '.join(differences)}; resume it with the same flags, or pick "
                f"a new --run-dir."
            )
    elif os.path.isdir(config.run_dir) and os.listdir(config.run_dir):
        raise UsageError(
            f"{config.run_dir} is not empty and is not a run directory; pick a new --run-dir."
        )


def save_model(model, path: str) -> None:
    """Writes to a temporary name, then renames: model.keras is never half-written."""
    temporary = path.replace(".keras", ".partial.keras")
    model.save(temporary)
    os.replace(temporary, path)


def write_json(path: str, content: dict) -> None:
    with open(path, "w") as file:
        json.dump(content, file, indent=2)


def print_summary(title: str, metrics: dict, run_dir: str) -> None:
    print(
        f"{title} metrics: "
        + ", ".join(f"{name} {_format(value)}" for name, value in metrics.items())
    )
    print(f"Run directory: {run_dir}")
    print(
        f"Watch it in TensorBoard: tensorboard --logdir {os.path.dirname(os.path.normpath(run_dir)) or '.'}"
    )


def _format(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)  # counts stay counts
