"""`fit` and `evaluate` for several machines (MultiWorkerMirroredStrategy), where Keras' own fail.

Keras 3.15's `model.fit` does not run under `tf.distribute.MultiWorkerMirroredStrategy`
(keras-team/keras issue 20585, tensorflow/tensorflow issue 72388). This module does what `fit`
does with public APIs only, and reuses each model's own `train_step` and `test_step`, so a
classifier's compiled loss and a GAN's or VAE's custom step train unchanged:

    every step:  strategy.run(model.train_step, (the worker's share of one global batch,))
                 inside one tf.function; Keras' optimizer sums the gradients of all replicas
                 on all workers (an all-reduce), so every worker applies the same update;
    every epoch: a validation pass with model.test_step, then the same Keras callbacks as fit
                 (history.csv, TensorBoard, backup, ...) with the same logs.

The global batch is split across the workers by position within the batch (auto-shard policy
DATA: each worker reads the whole stream and keeps its share of every batch), so each worker
sees different examples, and the model trains exactly as one process would on the same global
batches, up to floating-point rounding. Batch normalization must be synchronized across
replicas (`BatchNormalization(synchronized=True)`) for that to hold: otherwise each worker
normalizes with the statistics of its own share only, and the workers' moving averages drift
apart.

Every worker runs all of this, the callbacks included: a worker that skipped a step (saving,
reading a metric) would leave the others waiting for it in a collective operation.
"""

import hashlib

import keras
import numpy as np
import tensorflow as tf


def fit(
    model,
    strategy,
    train_stream,
    validation,
    epochs,
    initial_epoch,
    steps_per_epoch,
    callbacks,
    verbose=1,
):
    """`model.fit(train_stream, validation_data=validation, epochs=..., initial_epoch=...,
    steps_per_epoch=..., callbacks=...)` under `strategy`; returns the last epoch's logs."""
    train_function = _step_function(model, strategy, model.train_step)
    test_function = _step_function(
        model, strategy, model.test_step
    )  # traced once, used every epoch
    model.train_function = train_function  # where Keras' TensorBoard callback finds the graph
    callback_list = keras.callbacks.CallbackList(
        callbacks,
        add_progbar=verbose > 0,
        model=model,
        verbose=verbose,
        epochs=epochs,
        steps=steps_per_epoch,
    )
    batches = iter(strategy.experimental_distribute_dataset(_shard_by_data(train_stream)))
    model.stop_training = False
    callback_list.on_train_begin()
    epoch_logs = {}
    for epoch in range(initial_epoch, epochs):
        model.reset_metrics()
        callback_list.on_epoch_begin(epoch)
        for step in range(steps_per_epoch):
            callback_list.on_train_batch_begin(step)
            logs = _as_floats(train_function(next(batches)))
            callback_list.on_train_batch_end(step, logs)
        epoch_logs = dict(logs)
        epoch_logs.update(
            {
                f"val_{name}": value
                for name, value in evaluate(model, strategy, validation, test_function).items()
            }
        )
        callback_list.on_epoch_end(epoch, epoch_logs)
        if model.stop_training:
            break
    callback_list.on_train_end(epoch_logs)
    return epoch_logs


def evaluate(model, strategy, batches, test_function=None) -> dict:
    """`model.evaluate(batches, return_dict=True)` under `strategy`: metrics over all batches."""
    test_function = test_function or _step_function(model, strategy, model.test_step)
    model.reset_metrics()
    for batch in strategy.experimental_distribute_dataset(_shard_by_data(batches)):
        test_function(batch)
    # Read outside the replicas, each metric's totals and counts are summed over all of them
    # (an all-reduce): exact averages over every example, however unevenly the last, partial
    # batch was shared.
    logs = _as_floats(tf.function(model.get_metrics_result)())
    model.reset_metrics()  # the next training epoch starts its own averages
    return logs


def epochs_every_worker_finished(strategy, finished_epochs: int) -> int:
    """The last epoch that every worker's backup holds, from this worker's `finished_epochs`.

    A worker killed at an epoch's end may die after another worker saved that epoch but before
    it saved it itself. It cannot be more than one epoch behind (the next epoch's first step
    needs every worker), so the values are m or m + 1 for some m, and their minimum is the floor
    of their mean, which one all-reduce gives."""

    @tf.function
    def mean_over_workers():
        value = strategy.run(lambda: tf.constant(float(finished_epochs)))
        return strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None)

    return int(np.floor(float(mean_over_workers()) + 1e-6))


def weights_fingerprint(model) -> str:
    """A short hash of every weight's bytes: equal on two workers means identical weights."""
    digest = hashlib.sha256()
    for weight in model.weights:
        digest.update(np.ascontiguousarray(np.asarray(weight)).tobytes())
    return digest.hexdigest()[:16]


def _step_function(model, strategy, step):
    """One compiled step on every replica; the logs are averaged over all replicas.

    A replica's logs are its running averages over the batches it saw this epoch; every replica
    sees equally large shares, so their mean is the average over the global batches."""

    if model.jit_compile:  # XLA compiles the step itself; the all-reduce stays outside it
        step = tf.function(step, jit_compile=True)

    @tf.function
    def run(distributed_batch):
        logs = strategy.run(step, args=(distributed_batch,))
        return {
            name: strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None)
            for name, value in logs.items()
        }

    return run


def _shard_by_data(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """Split each global batch across workers (the stream is one file-less pipeline, so the
    default policy, by file, would give every worker everything or fail)."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def _as_floats(logs) -> dict:
    return {name: float(value) for name, value in logs.items()}
