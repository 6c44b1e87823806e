"""The model registry: each model file registers one spec, the driver looks it up by name.

A spec declares everything that differs between models (how to read the dataset, how to build
the network, which loss and metrics, which defaults), so `train.py`, `evaluate.py` and the
loops in `training/` never need to know which model they are running. Two kinds of spec:

    ModelSpec   learns from a TFDS dataset; trained by training/keras_loop.py with fit()
    AgentSpec   learns by acting in a gymnasium environment; trained by training/agent_loop.py

Each kind names its loop (`spec.loop`) and turns the command-line flags into a RunConfig
(`spec.make_config(args)`), refusing the flags that do not apply to it.
"""

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

from training import agent_loop, keras_loop
from training.config import RunConfig, apply_overrides, default_run_dir
from training.errors import UsageError

_REGISTRY: dict[str, "ModelSpec | AgentSpec"] = {}

# Hyperparameters every agent declares (overridable with --set), read by the agent loop.
AGENT_EVALUATION_HYPERPARAMETERS = {
    "evaluation_interval": 5_000,  # environment steps between greedy evaluations (and backups)
    "evaluation_episodes": 20,  # episodes in each of those evaluations
}

# train.py's flags that only one kind of spec reads (argparse destination names).
DATASET_FLAGS = (
    "dataset",
    "epochs",
    "steps_per_epoch",
    "train_split",
    "val_split",
    "test_split",
    "data_dir",
)
ENVIRONMENT_FLAGS = ("env", "env_steps")


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
class Endpoint:
    """One function of a deployed model: a signature of its SavedModel and of its LiteRT file.

    Attributes:
        name: the signature's name, e.g. "classify" (the first endpoint is also TF Serving's
            "serving_default").
        function: `(input tensor) -> {output name: tensor}`, TF ops only.
        input: a `tf.TensorSpec` whose name is the signature's input name, e.g.
            `TensorSpec((None, 28, 28, 1), tf.uint8, name="image")`.
        litert_input: the input LiteRT gets instead, where its converter needs fixed sizes
            (an LSTM's loop needs a known batch and length); None: the same as `input`.
    """

    name: str
    function: Callable[[Any], dict]
    input: Any
    litert_input: Any = None


@dataclasses.dataclass(frozen=True)
class Serving:
    """What a trained model exports (see models/serving.py, `export.py`).

    Attributes:
        endpoints: the functions it serves, the default one first.
        networks: the Keras models whose weights the endpoints read (a GAN's generator, not its
            discriminator): the export holds these and nothing else.
        litert_refusal: why LiteRT cannot hold the model (an op it lacks); None when it can.
    """

    endpoints: tuple
    networks: tuple
    litert_refusal: str | None = None


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
        warmup_fraction: the share of all training steps over which the learning rate rises
            linearly from 0 before its cosine decay (0: no warm-up). Early steps on freshly
            initialised weights are the least reliable; a warm-up keeps them small.
        callbacks: `(data_info, validation_dataset, log_dir) -> [keras.callbacks.Callback]`,
            extra callbacks such as a confusion-matrix image in TensorBoard.
        report: `(model, dataset, data_info, out_dir) -> ({name: path}, {metric: value})`
            writes evaluation figures for `evaluate.py` and returns metrics that `evaluate`
            cannot compute batch by batch (precision, recall); None when there is nothing more.
        adapt: `(model, training_inputs) -> None` fits the layers that learn from data before
            training (a vocabulary, normalization statistics); `training_inputs` are batches of
            the training split's inputs only. None when nothing needs it.
        command_line_input: what `evaluate.py RUN_DIR --flag VALUE` predicts on, if anything.
        evaluate_options: evaluate.py's flags this model takes beyond its loop's (e.g.
            "features"); each is passed to `report` as a keyword argument when given.
        transform_examples: `(examples, data_info, part, seed, hyperparameters) -> examples`,
            a dataset-level step after `preprocess`, for models whose examples are built from
            several of the dataset's (spoken words joined into sentences). `examples` is a
            `tf.data.Dataset` of what `preprocess` returns; the result holds `(inputs, targets)`
            and is batched next. For `part` "train" it is the endless, shuffled training stream
            and the result must be endless too and drawn from `seed` (so a resumed run sees the
            same data); for "validation" and "test" it is the whole split once, and the result
            must be the same in every run (a seed of the model's own). `hyperparameters` are
            the run's (a model may leave some data out of training). None: examples stay as
            they are.
        serving: `(trained model) -> Serving`, what `export.py` writes for deployment; None:
            the model cannot be exported.
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
    warmup_fraction: float = 0.0
    callbacks: Callable[[Any, Any, str], list] = lambda data_info, validation, log_dir: []
    report: Callable[[Any, Any, Any, str], tuple[dict, dict]] | None = None
    adapt: Callable[[Any, Any], None] | None = None
    command_line_input: CommandLineInput | None = None
    evaluate_options: tuple[str, ...] = ()
    transform_examples: Callable[[Any, Any, str, int, dict], Any] | None = None
    serving: Callable[[Any], Serving] | None = None
    loop: ClassVar = keras_loop

    @property
    def default_data(self) -> str:
        return self.dataset

    def make_config(self, args) -> RunConfig:
        _refuse_flags(
            self.name,
            args,
            ENVIRONMENT_FLAGS,
            "it learns from a dataset (--dataset), not in an environment",
        )
        dataset = args.dataset or self.dataset
        return _config(
            self,
            args,
            dataset,
            dataset=dataset,
            epochs=args.epochs or self.epochs,
            data_dir=args.data_dir,
            train_split=args.train_split,
            val_split=args.val_split,
            test_split=args.test_split,
            steps_per_epoch=args.steps_per_epoch,
            mixed_precision=args.mixed_precision,
            jit_compile=args.jit_compile,
        )


@dataclasses.dataclass(frozen=True)
class AgentSpec:
    """A reinforcement-learning agent and the environment it learns in by default.

    Attributes:
        name, description: as for ModelSpec.
        environment: the default gymnasium environment id (discrete actions, flat observations).
        build_agent: `(environment_info, config) -> agent`. `environment_info` has
            `observation_size` and `num_actions`; `config` is the RunConfig (hyperparameters,
            batch_size, learning_rate, seed). The agent (see training/agent_loop.py) has
                policy: a keras.Model, (batch, observation_size) -> (batch, num_actions) action
                    scores; the greedy action is the argmax. Saved as model.keras.
                networks: {name: keras.Model}, for weight histograms in TensorBoard.
                variables: every tf.Variable that training changes (networks, optimizer).
                act(observation, step) -> int: the action to take while learning (it explores).
                observe(observation, action, reward, next_observation, terminated, truncated,
                    step) -> {name: float}: records one step and learns when it is time.
                state() -> {name: np.ndarray} and load_state(state): the rest of what a resumed
                    run needs (replay buffer, random generators).
        hyperparameters, test_hyperparameters: as for ModelSpec.
        env_steps: how many environment steps to train for by default.
        batch_size: transitions per gradient step.
        learning_rate: for the agent's Adam optimizer.
        serving: as for ModelSpec; `(policy) -> Serving`.
    """

    name: str
    description: str
    environment: str
    build_agent: Callable[[Any, RunConfig], Any]
    hyperparameters: dict
    test_hyperparameters: dict
    env_steps: int
    batch_size: int
    learning_rate: float
    serving: Callable[[Any], Serving] | None = None
    command_line_input: ClassVar = None  # nothing to predict on evaluate.py's command line
    evaluate_options: ClassVar = ()
    loop: ClassVar = agent_loop

    @property
    def default_data(self) -> str:
        return self.environment

    def make_config(self, args) -> RunConfig:
        _refuse_flags(
            self.name,
            args,
            DATASET_FLAGS,
            "it learns in an environment (--env), not from a dataset",
        )
        if (
            args.mixed_precision
            or args.jit_compile is not None
            or args.strategy in ("mirrored", "multi_worker")
        ):
            raise UsageError(
                f"{self.name} acts one step at a time with tiny networks, on one device; "
                "leave out --mixed-precision, --jit-compile and --strategy."
            )
        environment = args.env or self.environment
        return _config(
            self,
            args,
            environment,
            environment=environment,
            env_steps=args.env_steps or self.env_steps,
        )


def _config(spec, args, data: str, **specific) -> RunConfig:
    """The RunConfig fields every kind of spec fills the same way, plus its own (`specific`);
    `data` (the dataset or environment) names the default run directory."""
    return RunConfig(
        model=spec.name,
        run_dir=args.run_dir or default_run_dir(spec.name, data),
        hyperparameters=apply_overrides(spec.hyperparameters, args.set, spec.name),
        batch_size=args.batch_size or spec.batch_size,
        learning_rate=args.learning_rate or spec.learning_rate,
        strategy=args.strategy,
        seed=args.seed,
        deterministic=args.deterministic,
        worker_timeout=args.worker_timeout,
        **specific,
    )


def hyperparameter_flags(hyperparameters: dict) -> list[str]:
    """`--set KEY=VALUE` flags that give these hyperparameters (tuples as comma-separated lists):
    what `apply_overrides` reads back."""
    flags = []
    for key, value in hyperparameters.items():
        text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
        flags += ["--set", f"{key}={text}"]
    return flags


def _refuse_flags(model: str, args, flags: tuple[str, ...], reason: str) -> None:
    given = [
        "--" + flag.replace("_", "-") for flag in flags if getattr(args, flag, None) is not None
    ]
    if given:
        raise UsageError(f"{model} does not take {', '.join(given)}: {reason}.")


def register(spec):
    if spec.name in _REGISTRY:
        raise ValueError(f"a model named {spec.name!r} is already registered")
    unknown = set(spec.test_hyperparameters) - set(spec.hyperparameters)
    if unknown:
        raise ValueError(f"{spec.name}: test_hyperparameters has unknown keys {sorted(unknown)}")
    _REGISTRY[spec.name] = spec
    return spec


def get_spec(name: str):
    if name not in _REGISTRY:
        raise UsageError(
            f"unknown model {name!r}; known models: {', '.join(names())}. "
            "`python train.py --list` describes them."
        )
    return _REGISTRY[name]


def names() -> list[str]:
    return sorted(_REGISTRY)
