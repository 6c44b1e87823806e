"""A run's hyperparameters and final metrics for TensorBoard's HParams dashboard, and its
config.json for the Text tab.

    RUN_DIR/logs/hparams/   one event file: the hyperparameters (the HParams plugin's
                            "session start"), the final metrics as scalars, config.json as text

The HParams dashboard treats the folder that holds a run's hyperparameters as one "session" and
reads the session's metrics from the scalars in that folder (and its subfolders), by tag. So the
hyperparameters and the headline metrics are written together, into a folder of their own: the
table then lists exactly these metrics (not every curve of logs/train), under the same tags for
every run. No experiment summary (`hp.hparams_config`) is written: TensorBoard takes the first one
it finds as the only one for the whole log folder, which would hide the hyperparameters and
metrics of other models trained side by side. Without it, the dashboard gathers the columns from
every run's own hyperparameters and scalars.
"""

import csv
import json
import os

import tensorflow as tf
from tensorboard.plugins.hparams import api as hp

from training.config import RunConfig

LOG_FOLDER = os.path.join("logs", "hparams")


def hyperparameters(config: RunConfig, saved: dict | None = None) -> dict:
    """{name: bool, int, float or str}: the model's hyperparameters (after --set) and the
    training settings. Tuples become readable strings such as "1024,512"; unset settings are
    left out. `saved` is the run's config.json, for the strategy and precision it resolved."""
    saved = saved or {}
    values = {name: _readable(value) for name, value in config.hyperparameters.items()}
    values.update(
        model=config.model,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        seed=config.seed,
        strategy=saved.get("devices", {}).get("strategy", config.strategy),
        precision=saved.get("precision", "mixed_float16" if config.mixed_precision else "float32"),
    )
    optional = {
        "dataset": config.dataset,
        "epochs": config.epochs,
        "steps_per_epoch": config.steps_per_epoch,
        "environment": config.environment,
        "env_steps": config.env_steps,
    }
    values.update({name: value for name, value in optional.items() if value is not None})
    return values


def final_metrics(run_dir: str, metrics: dict, group: str) -> dict:
    """{tag: float}: `metrics` as "<group>/<name>", and the last epoch's validation metrics
    from history.csv (if the run has one) as "validation/<name>". Counts and flags that are not
    numbers are left out."""
    tags = {f"{group}/{name}": value for name, value in metrics.items()}
    history_path = os.path.join(run_dir, "history.csv")
    if os.path.exists(history_path):
        with open(history_path, newline="") as file:
            rows = list(csv.DictReader(file))
        if rows:
            tags.update(
                {
                    f"validation/{name[len('val_') :]}": float(value)
                    for name, value in rows[-1].items()
                    if name.startswith("val_")
                }
            )
    return {
        tag: float(value)
        for tag, value in tags.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool)
    }


def write_summary(config: RunConfig, metrics: dict, group: str = "test") -> str:
    """Writes RUN_DIR/logs/hparams (see the module docstring); returns that folder.

    `metrics` are the run's final metrics (the test split's for a Keras model, the training
    summary for an agent), logged under "<group>/<name>"."""
    config_path = os.path.join(config.run_dir, "config.json")
    with open(config_path) as file:
        config_text = file.read()
    log_dir = os.path.join(config.run_dir, LOG_FOLDER)
    writer = tf.summary.create_file_writer(log_dir)
    with writer.as_default(step=0):
        hp.hparams(hyperparameters(config, json.loads(config_text)), trial_id=trial_name(config))
        for tag, value in final_metrics(config.run_dir, metrics, group).items():
            tf.summary.scalar(tag, value)
        # Four leading spaces make a Markdown code block: the Text tab shows the JSON as it is.
        tf.summary.text("config.json", "    " + config_text.replace("\n", "\n    "))
    writer.close()
    return log_dir


def trial_name(config: RunConfig) -> str:
    """What the dashboard's "Trial ID" column shows: the run's folder, then the folder above it,
    e.g. "activation=relu,seed=0 (mlp-sweep-activation)". Runs with the same trial ID are merged
    into one row, so the folder alone is not enough; it comes first because the column is narrow."""
    path = os.path.normpath(os.path.abspath(config.run_dir))
    folder, parent = os.path.basename(path), os.path.basename(os.path.dirname(path))
    return f"{folder} ({parent})" if parent else folder


def _readable(value):
    if isinstance(value, (tuple, list)):
        return ",".join(str(item) for item in value)
    if value is None:
        return "none"
    return value
