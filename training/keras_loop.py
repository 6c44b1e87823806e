"""The Keras loop: everything that learns from a TFDS dataset trains here, with `fit()`.

    train(config, spec):  data -> build + compile in strategy scope -> restore backup -> fit
                          -> model.keras, metrics.json
    evaluate(config, spec, split): model.keras -> test metrics, figures in RUN_DIR/eval

Models with an unusual loss (GAN, VAE) plug in through their own `train_step`; nothing here
depends on which model runs.
"""

import contextlib
import json
import os
import shutil
import tempfile

import keras
import tensorflow as tf

from training import (
    callbacks,
    distributed_fit,
    distribution,
    figures,
    hparams,
    input_pipeline,
    interrupts,
    runs,
)
from training.config import RunConfig, versions
from training.errors import Interrupted, UsageError, WorkerLost
from training.runs import CONFIG_FILE, MODEL_FILE

EVALUATE_OPTIONS = ("split",)  # evaluate.py's flags that apply here


def train(config: RunConfig, spec) -> dict:
    """Trains `spec` as `config` says and returns the test metrics.

    With several workers (TF_CONFIG set) every worker runs this same function; only the chief
    writes to the run directory (and holds its lock), the others write to a temporary folder
    that is deleted at the end, and each worker keeps its own backup in
    RUN_DIR/backup/worker-<index>."""
    worker = distribution.worker(config.strategy)
    if config.batch_size % worker.count:  # refused before the workers wait for each other
        raise UsageError(
            f"--batch-size {config.batch_size} does not split evenly across {worker.count} "
            f"workers; pick a multiple of {worker.count}, so every worker's examples weigh the "
            "same."
        )
    with runs.claimed(config.run_dir) if worker.is_chief else contextlib.nullcontext():
        if worker.is_chief:
            runs.check_run_dir(config)
        try:
            with interrupts.as_stop_if_requested():
                return _train(config, spec, worker)
        except KeyboardInterrupt:
            backup_dir = os.path.join(config.run_dir, "backup")
            raise Interrupted(
                f"after epoch {callbacks.finished_epochs(backup_dir)} of {config.epochs}"
            ) from None
        except tf.errors.DataLossError as error:  # a damaged TFDS record file, read mid-epoch
            raise UsageError(
                f"the files of dataset {config.dataset} are damaged "
                f"({str(error).splitlines()[0][:200]}). Delete its folder in "
                f"{input_pipeline.data_dir_or_default(config.data_dir)} and prepare it again; "
                "this run then resumes where it stopped."
            ) from None


def _train(config: RunConfig, spec, worker: distribution.Worker) -> dict:
    """The phases of a run: devices, data, model, resume, fit, final metrics and model."""
    strategy = distribution.get_strategy(config.strategy, config.worker_timeout)  # first
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    precision = distribution.set_mixed_precision(config.mixed_precision)
    devices = distribution.describe(strategy)
    print(
        f"Devices: {', '.join(devices['devices'])}; {devices['strategy']} with "
        f"{devices['replicas']} replica(s); precision {precision}."
    )
    place = (SeveralWorkers if worker.count > 1 else OneProcess)(config, strategy, worker)

    examples, info, splits = input_pipeline.load(
        config.dataset, config.data_dir, config.train_split, config.val_split, config.test_split
    )
    data_info = spec.describe_data(config.dataset, info)
    place.check_inputs(examples["train"], spec.preprocess, config.batch_size)
    backup = callbacks.EpochBackup(place.backup_dir)
    # > 0: resume, and skip the data already trained on
    initial_epoch = place.agreed_epochs(backup.usable_epochs())
    train_stream, steps_per_epoch = input_pipeline.training_stream(
        examples["train"],
        spec.preprocess,
        config.batch_size,
        config.seed,
        first_epoch=initial_epoch,
        steps_per_epoch=config.steps_per_epoch,
        transform=_transform(spec, data_info, "train", config),
        replicas=strategy.num_replicas_in_sync,
    )
    validation, test = (
        input_pipeline.evaluation_batches(
            examples[part],
            spec.preprocess,
            config.batch_size,
            _transform(spec, data_info, part, config),
            replicas=strategy.num_replicas_in_sync,
            part=part,
        )
        for part in ("validation", "test")
    )

    with strategy.scope():
        model = build_and_compile(spec, config, data_info, examples["train"], steps_per_epoch)
        build_metrics(model, train_stream.element_spec)
    os.makedirs(place.out_dir, exist_ok=True)
    runs.write_text(
        os.path.join(place.out_dir, CONFIG_FILE),
        config.to_json(
            resolved_splits=vars(splits),
            data=vars(data_info),
            versions=versions(),
            devices=devices,
            precision=precision,
        ),
    )
    backup.restore(model, initial_epoch)
    if initial_epoch:
        print(f"Resuming {config.run_dir} after epoch {initial_epoch} of {config.epochs}.")
    callbacks.truncate_history(os.path.join(place.out_dir, "history.csv"), initial_epoch)

    training_callbacks = callbacks.standard_callbacks(
        place.out_dir, backup, steps_per_epoch * config.batch_size
    ) + spec.callbacks(data_info, validation, os.path.join(place.out_dir, "logs"))
    try:
        place.fit(
            model, train_stream, validation, initial_epoch, steps_per_epoch, training_callbacks
        )
    except tf.errors.UnavailableError as error:  # multi-worker: a peer stopped answering
        raise WorkerLost(
            f"lost contact with another worker ({str(error).splitlines()[0][:200]}...). Restart "
            f"every worker with the same command: they resume from the last epoch all of them "
            f"finished (backups in {os.path.join(config.run_dir, 'backup')})."
        ) from None
    except RuntimeError as error:
        if "NaN" not in str(error):
            raise
        kept = backup.finished_epochs()
        raise UsageError(
            f"training diverged: {error}. "
            + (f"The state after epoch {kept} is kept in {backup.backup_dir}. " if kept else "")
            + "Start a new run with a lower --learning-rate."
        ) from None

    metrics = place.evaluate(model, test)
    interrupts.check()  # a Ctrl-C lost since the last step stops the run before it is "finished"
    runs.write_json(os.path.join(place.out_dir, "metrics.json"), metrics)
    runs.save_model(model, os.path.join(place.out_dir, MODEL_FILE))  # last: "finished"
    with interrupts.deferred():  # finished: a Ctrl-C now would only leave the backup behind
        backup.remove()
        place.finish(model)
        if worker.is_chief:  # the run's row in TensorBoard's HParams dashboard
            hparams.write_summary(config, metrics, "test")
        runs.print_summary("Test", metrics, config.run_dir)
    return metrics


def learning_rate_schedule(peak: float, total_steps: int, warmup_fraction: float):
    """Linear warm-up from 0 over `warmup_fraction` of the steps, then cosine decay to 0: large
    steps early, small ones to settle at the end. TensorBoard plots it (learning_rate)."""
    warmup_steps = int(warmup_fraction * total_steps)
    if warmup_steps == 0:
        return keras.optimizers.schedules.CosineDecay(peak, decay_steps=total_steps)
    return keras.optimizers.schedules.CosineDecay(
        0.0,
        decay_steps=max(1, total_steps - warmup_steps),
        warmup_target=peak,
        warmup_steps=warmup_steps,
    )


def build_and_compile(spec, config, data_info, training_examples, steps_per_epoch):
    """The model, its data-fitted layers adapted, compiled with Adam on a cosine schedule and
    its optimizer built (so a backup can be restored into it). Call inside strategy.scope()."""
    model = _build(spec, data_info, config.hyperparameters)
    if spec.adapt:  # a vocabulary, normalization statistics: learned from the training split only
        print("Adapting preprocessing layers to the training split...")
        spec.adapt(
            model,
            input_pipeline.training_inputs(training_examples, spec.preprocess, config.batch_size),
        )
    schedule = learning_rate_schedule(
        config.learning_rate, config.epochs * steps_per_epoch, spec.warmup_fraction
    )
    # Under mixed_float16, compile wraps the optimizer in a LossScaleOptimizer.
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=spec.loss,
        metrics=list(spec.metrics),
        jit_compile="auto" if config.jit_compile is None else config.jit_compile,
    )
    model.optimizer.build(model.trainable_variables)
    return model


def build_metrics(model: keras.Model, batch_spec) -> None:
    """Creates the variables of the metrics given to `compile` (accuracy, ...) from the shapes
    of one batch (`batch_spec`: a dataset's element_spec, (features, labels)).

    Keras creates them before the first step only under a tf.distribute strategy. Under
    TensorFlow's default strategy (one CPU, no distribution) it creates them while tracing the
    first training or evaluation step, and since a traced function may create variables only
    on its first trace, TensorFlow then traces the whole step a second time: measured on tiny
    runs, 0.1 s (MLP) to 1 s (speech to text) at the start of every run."""
    # The loss's running mean is built already; Keras' CompileMetrics (metrics given) is not.
    unbuilt = [metric for metric in model.metrics if getattr(metric, "built", True) is False]
    if not unbuilt:
        return  # none given (the GAN and the VAE track their own losses)
    features, labels = (
        tf.nest.map_structure(lambda spec: keras.KerasTensor(spec.shape, spec.dtype.name), part)
        for part in batch_spec[:2]
    )
    for metric in unbuilt:
        metric.build(labels, model.compute_output_spec(features))


class OneProcess:
    """How a run trains in one process, on every device of this machine: Keras' own fit and
    evaluate, everything written to the run directory."""

    def __init__(self, config: RunConfig, strategy, worker: distribution.Worker):
        self.config, self.strategy = config, strategy
        self.out_dir = config.run_dir
        self.backup_dir = os.path.join(config.run_dir, "backup")

    def check_inputs(self, training_examples, preprocess, batch_size) -> None:
        _check_replicas_can_split(self.strategy, training_examples, preprocess, batch_size)

    def agreed_epochs(self, epochs: int) -> int:
        return epochs

    def fit(self, model, stream, validation, initial_epoch, steps_per_epoch, callbacks) -> None:
        model.fit(
            stream,
            validation_data=validation,
            epochs=self.config.epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch,
            shuffle=False,  # the stream is already shuffled, reproducibly
            callbacks=callbacks,
        )

    def evaluate(self, model, test) -> dict:
        return _as_floats(model.evaluate(test, return_dict=True, verbose=0))

    def finish(self, model) -> None:
        pass


class SeveralWorkers(OneProcess):
    """How one worker of a multi-worker run trains: training/distributed_fit.py (Keras' fit
    fails there); only the chief writes the run directory, the others write to a temporary
    folder deleted at the end, and each keeps its own backup in RUN_DIR/backup/worker-<index>."""

    def __init__(self, config: RunConfig, strategy, worker: distribution.Worker):
        super().__init__(config, strategy, worker)
        self.worker = worker
        if worker.is_chief:
            print(f"Worker {worker.index} of {worker.count} (chief): writes the run directory.")
        else:
            print(
                f"Worker {worker.index} of {worker.count}: the chief writes the run directory; "
                "this worker's copy goes to a temporary folder."
            )
            self.out_dir = tempfile.mkdtemp(prefix=f"worker-{worker.index}-")
            self.backup_dir = os.path.join(config.run_dir, "backup", f"worker-{worker.index}")

    def check_inputs(self, training_examples, preprocess, batch_size) -> None:
        pass  # distributed_fit splits any input across the workers

    def agreed_epochs(self, epochs: int) -> int:
        """The last epoch every worker backed up (one may have died after another saved)."""
        return distributed_fit.epochs_every_worker_finished(self.strategy, epochs)

    def fit(self, model, stream, validation, initial_epoch, steps_per_epoch, callbacks) -> None:
        distributed_fit.fit(
            model,
            self.strategy,
            stream,
            validation,
            self.config.epochs,
            initial_epoch,
            steps_per_epoch,
            callbacks,
            verbose=1 if self.worker.is_chief else 0,
        )

    def evaluate(self, model, test) -> dict:
        return distributed_fit.evaluate(model, self.strategy, test)

    def finish(self, model) -> None:
        fingerprint = distributed_fit.weights_fingerprint(model)  # equal on every worker
        print(f"Worker {self.worker.index}: final weights fingerprint {fingerprint}")
        if not self.worker.is_chief:
            shutil.rmtree(self.out_dir, ignore_errors=True)


def evaluate(config: RunConfig, spec, split: str | None = None, **options) -> dict:
    """Evaluates a finished run on `split` (default: its test split) and writes RUN_DIR/eval;
    `options` are the model's own (spec.evaluate_options), for its report."""
    model = runs.load_model(config.run_dir)
    examples, info, splits = input_pipeline.load(
        config.dataset, config.data_dir, test=split or config.test_split
    )
    data_info = spec.describe_data(config.dataset, info)
    batches = input_pipeline.evaluation_batches(
        examples["test"],
        spec.preprocess,
        config.batch_size,
        _transform(spec, data_info, "test", config),
    )
    build_metrics(model, batches.element_spec)
    metrics = _as_floats(model.evaluate(batches, return_dict=True, verbose=0))

    out_dir = runs.output_dir(config.run_dir, "eval")
    files, report_metrics = (
        spec.report(model, batches, data_info, out_dir, **options) if spec.report else ({}, {})
    )
    metrics.update(report_metrics)
    history = figures.read_history(os.path.join(config.run_dir, "history.csv"))
    if history:
        files["training_curves"] = figures.save_png(
            figures.training_curves_figure(history), os.path.join(out_dir, "training_curves.png")
        )
    runs.write_json(os.path.join(out_dir, "metrics.json"), {"split": splits.test, **metrics})
    runs.print_summary(f"Split {splits.test}", metrics, config.run_dir)
    for name, path in files.items():
        print(f"  {name}: {path}")
    return metrics


def predict_one(config: RunConfig, spec, value: str) -> str:
    """`evaluate.py RUN_DIR --text "..."` and the like: the model's answer for one raw input."""
    with open(os.path.join(config.run_dir, CONFIG_FILE)) as file:
        data = json.load(file)["data"]  # the data description saved at training time
    return spec.command_line_input.predict(runs.load_model(config.run_dir), data, value)


def _check_replicas_can_split(strategy, examples, preprocess, batch_size: int) -> None:
    """Keras 3.15's fit() and evaluate() under a multi-replica strategy average a first batch
    over the replicas to build the model, which fails for string inputs (raw text) and for
    replicas' shares of different sizes; say so instead of failing deep inside. (Validation
    and test batches split evenly by construction: input_pipeline.batches_for_replicas.)"""
    replicas = strategy.num_replicas_in_sync
    if replicas == 1:
        return  # (mapping traces `preprocess`, a quarter of a second)
    if batch_size % replicas:
        raise UsageError(
            f"--batch-size {batch_size} does not split evenly across {replicas} replicas; "
            f"pick a multiple of {replicas}, or train on one device with --strategy default "
            f"(which also resumes a run started on another number of replicas)."
        )
    inputs = examples.map(preprocess).element_spec[0]
    if any(spec.dtype == tf.string for spec in tf.nest.flatten(inputs)):
        raise UsageError(
            f"this model reads raw strings, which Keras' fit() cannot split across "
            f"{replicas} replicas; train it on one device with "
            f"--strategy one_device (one GPU, or the CPU) or --strategy default."
        )


def _transform(spec, data_info, part: str, config: RunConfig):
    """The spec's dataset-level step for one part of the data, as the input pipeline calls it
    (examples -> examples); None when the spec has none (ModelSpec.transform_examples)."""
    if spec.transform_examples is None:
        return None
    return lambda examples: spec.transform_examples(
        examples, data_info, part, config.seed, config.hyperparameters
    )


def _build(spec, data_info, hyperparameters) -> keras.Model:
    try:
        return spec.build_model(data_info, hyperparameters)
    except (ValueError, TypeError) as error:
        raise UsageError(f"cannot build {spec.name} with {hyperparameters}: {error}") from None


def _as_floats(metrics: dict) -> dict:
    return {name: float(value) for name, value in metrics.items()}
