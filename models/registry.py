"""The model registry: each model file registers one `ModelSpec`, the driver looks it up by name.

A spec declares everything that differs between models (how to read the dataset, how to build
the network, which loss and metrics, which defaults), so `train.py`, `evaluate.py` and the
loops in `training/` never need to know which model they are running.
"""

import dataclasses
from typing import Any, Callable

from training.errors import UsageError

_REGISTRY: dict[str, "ModelSpec"] = {}


@dataclasses.dataclass(frozen=True)
class CommandLineInput:
    """One raw input a model can be asked about on evaluate.py's command line.

    Attributes:
        flag: the flag of evaluate.py, e.g. "--text" (`evaluate.py RUN_DIR --text "a review"`).
        help: its help text.
        predict: `(model, data, value) -> str`, a line to print; `data` is the run's data
            description as saved in config.json (class names, ...).
    """

    flag: str
    help: str
    predict: Callable[[Any, dict, str], str]


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What one model is and what it pairs with.

    Attributes:
        name: the `--model` name.
        description: one line for `train.py --list`.
        dataset: the default TFDS dataset name.
        describe_data: `(dataset_name, tfds_info) -> data_info`; reads shapes and classes from
            the dataset's features, or raises `UsageError` when the dataset does not fit.
        preprocess: `(example_dict) -> (inputs, targets)`, TF ops only (runs in `tf.data`).
        build_model: `(data_info, hyperparameters) -> keras.Model`, not compiled.
        loss, metrics: passed to `model.compile`.
        hyperparameters: defaults for `--set key=value`; the type of each default is the type
            a value must have.
        test_hyperparameters: tiny values for fast tests.
        epochs, batch_size, learning_rate: training defaults, tuned so the model really learns.
        callbacks: `(data_info, validation_dataset, log_dir) -> [keras.callbacks.Callback]`,
            extra callbacks such as a confusion-matrix image in TensorBoard.
        report: `(model, dataset, data_info, out_dir) -> ({name: path}, {metric: value})`
            writes evaluation figures for `evaluate.py` and returns metrics that `evaluate`
            cannot compute batch by batch (precision, recall); None when there is nothing more.
        adapt: `(model, training_inputs) -> None` fits the layers that learn from data before
            training (a vocabulary, normalization statistics); `training_inputs` are batches of
            the training split's inputs only. None when nothing needs it.
        command_line_input: what `evaluate.py RUN_DIR --flag VALUE` predicts on, if anything.
    """

    name: str
    description: str
    dataset: str
    describe_data: Callable[[str, Any], Any]
    preprocess: Callable[[dict], tuple]
    build_model: Callable[[Any, dict], Any]
    loss: Any
    metrics: tuple
    hyperparameters: dict
    test_hyperparameters: dict
    epochs: int
    batch_size: int
    learning_rate: float
    callbacks: Callable[[Any, Any, str], list] = lambda data_info, validation, log_dir: []
    report: Callable[[Any, Any, Any, str], tuple[dict, dict]] | None = None
    adapt: Callable[[Any, Any], None] | None = None
    command_line_input: CommandLineInput | None = None


def register(spec: ModelSpec) -> ModelSpec:
    if spec.name in _REGISTRY:
        raise ValueError(f"a model named {spec.name!r} is already registered")
    unknown = set(spec.test_hyperparameters) - set(spec.hyperparameters)
    if unknown:
        raise ValueError(f"{spec.name}: test_hyperparameters has unknown keys {sorted(unknown)}")
    _REGISTRY[spec.name] = spec
    return spec


def get_spec(name: str) -> ModelSpec:
    if name not in _REGISTRY:
        raise UsageError(
            f"unknown model {name!r}; known models: {', '.join(names())}. "
            "`python train.py --list` describes them."
        )
    return _REGISTRY[name]


def names() -> list[str]:
    return sorted(_REGISTRY)
