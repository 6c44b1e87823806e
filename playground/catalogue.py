"""The runs the playground can show: found under a folder, sorted into applications, loaded once.

A run is any folder with a config.json (train.py's, a notebook's, a sweep's trials). Which tab
shows it follows from its spec in the registry, not from the model's name:

    AgentSpec                             -> "agents"
    command-line input --text / --audio   -> "text" / "speech"
    image data with classes / without     -> "images" / "generative"
"""

import dataclasses
import functools
import json
import os
import typing
import zipfile

from models import registry
from training import runs
from training.errors import UsageError

APPLICATIONS = ("images", "text", "speech", "agents", "generative")
# Which of metrics.json's numbers a run's label shows: the first one it has.
METRIC_NAMES = ("accuracy", "word_error_rate", "best_evaluation_return", "loss")


@dataclasses.dataclass(frozen=True)
class Run:
    """One run directory as the playground lists it."""

    path: str
    model: str
    data: str  # the dataset or environment
    application: str | None  # one of APPLICATIONS; None when no tab can show it
    problem: str | None  # why it cannot be loaded (unfinished, damaged); None when it can
    metric: str  # e.g. "accuracy 0.981", or "" when metrics.json is missing
    modified: float  # when config.json was last written (newest first)
    description: dict  # config.json's "data" (class names, sample rate, ...) or environment

    @property
    def label(self) -> str:
        """What the run picker shows, e.g. "cnn on mnist, accuracy 0.981 (runs/cnn-...)"."""
        parts = [f"{self.model} on {self.data}"]
        if self.metric:
            parts.append(self.metric)
        if self.problem:
            parts.append(f"cannot be used: {self.problem.split(';')[0]}")
        return ", ".join(parts) + f" ({self.path})"


def application_of(spec, description: dict) -> str | None:
    """The tab that shows runs of `spec`, from what the spec declares and its data."""
    if isinstance(spec, registry.AgentSpec):
        return "agents"
    flag = spec.command_line_input.flag if spec.command_line_input else None
    if flag == "--text":
        return "text"
    if flag == "--audio":
        return "speech"
    if "input_shape" in description:
        return "images" if "class_names" in description else "generative"
    return None


def models_for(application: str) -> list[str]:
    """The registered models whose runs `application`'s tab shows (without a run to look at,
    only the spec can say: image models are told apart by the data they describe)."""
    names = []
    for name in registry.names():
        spec = registry.get_spec(name)
        if application_of(spec, {}) == application or (
            application_of(spec, {}) is None and _image_kind(spec) == application
        ):
            names.append(name)
    return names


def _image_kind(spec) -> str | None:
    """Image classifiers describe their classes, generative models only an image shape: read
    from the dataclass their `describe_data` returns."""
    described = typing.get_type_hints(spec.describe_data).get("return")
    if not dataclasses.is_dataclass(described):
        return None
    fields = {field.name for field in dataclasses.fields(described)}
    return application_of(spec, dict.fromkeys(fields)) if "input_shape" in fields else None


def find_runs(runs_dir: str) -> list[Run]:
    """Every run under `runs_dir`, newest first. A folder with a config.json is a run; its
    subfolders are not searched further (a sweep's trials are runs of their own)."""
    found = []
    for folder, subfolders, files in os.walk(runs_dir):
        if runs.CONFIG_FILE in files:
            found.append(_describe(folder))
            subfolders[:] = [name for name in subfolders if not _inside_a_run(name)]
    return sorted(found, key=lambda run: run.modified, reverse=True)


def _inside_a_run(folder_name: str) -> bool:
    return folder_name in ("logs", "eval", "backup", "export", "checkpoints")


def _describe(path: str) -> Run:
    config_path = os.path.join(path, runs.CONFIG_FILE)
    modified = os.path.getmtime(config_path)
    try:
        with open(config_path) as file:
            saved = json.load(file)
        model = str(saved["model"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        return Run(path, "?", "?", None, f"config.json unreadable ({error})", "", modified, {})
    description = saved.get("data") or saved.get("environment_info") or {}
    data = saved.get("dataset") or saved.get("environment") or "?"
    application, problem = None, None
    try:
        spec = registry.get_spec(model)
        application = application_of(spec, description)
        runs.load_run_config(path)  # says what is wrong with an unfinished or damaged run
        if not zipfile.is_zipfile(os.path.join(path, runs.MODEL_FILE)):
            problem = f"{runs.MODEL_FILE} is damaged (not a Keras file); train the run again"
    except Exception as error:  # UsageError mostly; a damaged config can raise anything
        problem = str(error)
    return Run(path, model, data, application, problem, _test_metric(path), modified, description)


def _test_metric(path: str) -> str:
    """The run's first headline metric from metrics.json, e.g. "accuracy 0.981"."""
    try:
        with open(os.path.join(path, "metrics.json")) as file:
            metrics = json.load(file)
    except (OSError, ValueError):
        return ""
    for name in METRIC_NAMES:
        if isinstance(metrics.get(name), (int, float)):
            return f"{name} {metrics[name]:.3f}"
    return ""


@functools.lru_cache(maxsize=16)
def load_model(path: str, modified: float):
    """The run's trained model, loaded once per run (and again if the run changes on disk)."""
    return runs.load_model(path)


def model_of(run: Run):
    """The run's model, or a UsageError that says why it cannot be used."""
    if run.problem:
        raise UsageError(run.problem)
    return load_model(run.path, os.path.getmtime(os.path.join(run.path, runs.MODEL_FILE)))
