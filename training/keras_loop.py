"""The Keras loop: everything that learns from a TFDS dataset trains here, with `fit()`.

    train(config, spec):  data -> build + compile in strategy scope -> restore backup -> fit
                          -> model.keras, metrics.json
    evaluate(config, spec, split): model.keras -> test metrics, figures in RUN_DIR/eval

Models with an unusual loss (GAN, VAE) plug in through their own `train_step`; nothing here
depends on which model runs.
"""

import json
import os

import keras
import tensorflow as tf

from training import callbacks, distribution, figures, input_pipeline
from training.config import RunConfig, versions
from training.errors import UsageError

MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"


def train(config: RunConfig, spec) -> dict:
    """Trains `spec` as `config` says and returns the test metrics."""
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    precision = distribution.set_mixed_precision(config.mixed_precision)
    strategy = distribution.get_strategy(config.strategy)
    devices = distribution.describe(strategy)
    print(f"Devices: {', '.join(devices['devices'])}; {devices['strategy']} with "
          f"{devices['replicas']} replica(s); precision {precision}.")

    examples, info, splits = input_pipeline.load(
        config.dataset, config.data_dir, config.train_split, config.val_split, config.test_split
    )
    data_info = spec.describe_data(config.dataset, info)
    _check_replicas_can_split(strategy, examples["train"], spec.preprocess)
    _check_run_dir(config)
    backup = callbacks.Backup(os.path.join(config.run_dir, "backup"))
    initial_epoch = backup.finished_epochs()  # > 0: resume, and skip the data already trained on

    train_stream, steps_per_epoch = input_pipeline.training_stream(
        examples["train"], spec.preprocess, config.batch_size, config.seed,
        first_epoch=initial_epoch, steps_per_epoch=config.steps_per_epoch,
    )
    validation = input_pipeline.evaluation_batches(examples["validation"], spec.preprocess, config.batch_size)
    test = input_pipeline.evaluation_batches(examples["test"], spec.preprocess, config.batch_size)

    with strategy.scope():
        model = _build(spec, data_info, config.hyperparameters)
        if spec.adapt:  # a vocabulary, normalization statistics: learned from the training split only
            print("Adapting preprocessing layers to the training split...")
            spec.adapt(model, input_pipeline.training_inputs(examples["train"], spec.preprocess, config.batch_size))
        # Cosine decay: large steps early, small ones to settle at the end; TensorBoard plots it.
        schedule = keras.optimizers.schedules.CosineDecay(
            config.learning_rate, decay_steps=config.epochs * steps_per_epoch
        )
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss=spec.loss, metrics=list(spec.metrics))
        model.optimizer.build(model.trainable_variables)  # so a backup can be restored into it

    os.makedirs(config.run_dir, exist_ok=True)
    with open(os.path.join(config.run_dir, CONFIG_FILE), "w") as file:
        file.write(config.to_json(resolved_splits=vars(splits), data=vars(data_info),
                                  versions=versions(), devices=devices, precision=precision))
    backup.restore(model)
    if initial_epoch:
        print(f"Resuming {config.run_dir} after epoch {initial_epoch} of {config.epochs}.")
    history_path = os.path.join(config.run_dir, "history.csv")
    callbacks.truncate_history(history_path, initial_epoch)

    log_dir = os.path.join(config.run_dir, "logs")
    try:
        model.fit(
            train_stream,
            validation_data=validation,
            epochs=config.epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch,
            shuffle=False,  # the stream is already shuffled, reproducibly
            callbacks=callbacks.standard_callbacks(config.run_dir, backup, steps_per_epoch * config.batch_size)
            + spec.callbacks(data_info, validation, log_dir),
        )
    except RuntimeError as error:
        if "NaN" not in str(error):
            raise
        raise UsageError(
            f"training diverged: {error}. The last finished epoch is kept in {backup.backup_dir}. "
            "Start a new run with a lower --learning-rate."
        ) from None

    metrics = _as_floats(model.evaluate(test, return_dict=True, verbose=0))
    _write_json(os.path.join(config.run_dir, "metrics.json"), metrics)
    _save_model(model, os.path.join(config.run_dir, MODEL_FILE))  # last: its presence means "finished"
    backup.remove()
    _print_summary("Test", metrics, config.run_dir)
    return metrics


def evaluate(config: RunConfig, spec, split: str | None = None) -> dict:
    """Evaluates a finished run on `split` (default: its test split) and writes RUN_DIR/eval."""
    model = load_model(config.run_dir)
    examples, info, splits = input_pipeline.load(config.dataset, config.data_dir, test=split or config.test_split)
    data_info = spec.describe_data(config.dataset, info)
    batches = input_pipeline.evaluation_batches(examples["test"], spec.preprocess, config.batch_size)
    metrics = _as_floats(model.evaluate(batches, return_dict=True, verbose=0))

    out_dir = os.path.join(config.run_dir, "eval")
    os.makedirs(out_dir, exist_ok=True)
    files, report_metrics = spec.report(model, batches, data_info, out_dir) if spec.report else ({}, {})
    metrics.update(report_metrics)
    history_path = os.path.join(config.run_dir, "history.csv")
    if os.path.exists(history_path):
        files["training_curves"] = figures.save_png(
            figures.training_curves_figure(figures.read_history(history_path)),
            os.path.join(out_dir, "training_curves.png"),
        )
    _write_json(os.path.join(out_dir, "metrics.json"), {"split": splits.test, **metrics})
    _print_summary(f"Split {splits.test}", metrics, config.run_dir)
    for name, path in files.items():
        print(f"  {name}: {path}")
    return metrics


def predict_one(config: RunConfig, spec, value: str) -> str:
    """`evaluate.py RUN_DIR --text "..."` and the like: the model's answer for one raw input."""
    with open(os.path.join(config.run_dir, CONFIG_FILE)) as file:
        data = json.load(file)["data"]  # the data description saved at training time
    return spec.command_line_input.predict(load_model(config.run_dir), data, value)


def load_run_config(run_dir: str) -> RunConfig:
    """The config of a finished run, or a UsageError saying what is wrong with `run_dir`."""
    config_path = os.path.join(run_dir, CONFIG_FILE)
    if not os.path.isdir(run_dir):
        raise UsageError(f"no run directory at {run_dir}; runs live under runs/ (see `ls runs`).")
    if not os.path.exists(config_path):
        raise UsageError(f"{run_dir} has no {CONFIG_FILE}: it is not a run directory made by train.py.")
    try:
        config = RunConfig.from_json_file(config_path)
    except (ValueError, TypeError) as error:
        raise UsageError(f"{config_path} is corrupted ({error}); train again into a new --run-dir.") from None
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
        raise UsageError(f"cannot load {path} ({type(error).__name__}: {error}); it is damaged. "
                         "Train again into a new --run-dir.") from None


def _check_run_dir(config: RunConfig) -> None:
    """A finished run is never overwritten; an unfinished one resumes under the same config."""
    config_path = os.path.join(config.run_dir, CONFIG_FILE)
    if os.path.exists(os.path.join(config.run_dir, MODEL_FILE)):
        raise UsageError(f"{config.run_dir} already holds a finished run; pick a new --run-dir "
                         f"(or leave it out for a fresh timestamped one), or delete that folder.")
    if os.path.exists(config_path):
        differences = config.training_differences(RunConfig.from_json_file(config_path))
        if differences:
            raise UsageError(f"{config.run_dir} holds an unfinished run started with different "
                             f"{', '.join(differences)}; resume it with the same flags, or pick "
                             f"a new --run-dir.")
    elif os.path.isdir(config.run_dir) and os.listdir(config.run_dir):
        raise UsageError(f"{config.run_dir} is not empty and is not a run directory; pick a new --run-dir.")


def _check_replicas_can_split(strategy, examples, preprocess) -> None:
    """Keras 3.15's fit() under a multi-replica strategy averages the first batch to build the
    model, which fails for string inputs (raw text); say so instead of failing deep inside."""
    inputs = examples.map(preprocess).element_spec[0]
    if strategy.num_replicas_in_sync > 1 and any(spec.dtype == tf.string for spec in tf.nest.flatten(inputs)):
        raise UsageError(
            f"this model reads raw strings, which Keras' fit() cannot split across "
            f"{strategy.num_replicas_in_sync} replicas; train it on one device with "
            f"--strategy one_device (one GPU, or the CPU) or --strategy default."
        )


def _build(spec, data_info, hyperparameters) -> keras.Model:
    try:
        return spec.build_model(data_info, hyperparameters)
    except (ValueError, TypeError) as error:
        raise UsageError(f"cannot build {spec.name} with {hyperparameters}: {error}") from None


def _save_model(model, path: str) -> None:
    """Writes to a temporary name, then renames: model.keras is never half-written."""
    temporary = path.replace(".keras", ".partial.keras")
    model.save(temporary)
    os.replace(temporary, path)


def _as_floats(metrics: dict) -> dict:
    return {name: float(value) for name, value in metrics.items()}


def _write_json(path: str, content: dict) -> None:
    with open(path, "w") as file:
        json.dump(content, file, indent=2)


def _print_summary(title: str, metrics: dict, run_dir: str) -> None:
    print(f"{title} metrics: " + ", ".join(f"{name} {value:.4f}" for name, value in metrics.items()))
    print(f"Run directory: {run_dir}")
    print(f"Watch it in TensorBoard: tensorboard --logdir {os.path.dirname(os.path.normpath(run_dir)) or '.'}")
