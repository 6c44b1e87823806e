"""Picks the `tf.distribute` strategy and the precision policy for the devices at hand.

Models are built and compiled inside `strategy.scope()`, and every batch size in this project
is the global one (split evenly across `strategy.num_replicas_in_sync` replicas).
"""

import dataclasses
import json
import os

import keras
import tensorflow as tf

from training.errors import UsageError

STRATEGIES = ("auto", "default", "one_device", "mirrored", "multi_worker")


def get_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """auto: TF_CONFIG set -> multi-worker; several GPUs -> mirrored; one GPU -> that GPU;
    otherwise TensorFlow's default strategy (one device, no distribution)."""
    if name == "auto" and os.environ.get("TF_CONFIG"):
        name = "multi_worker"
    if name == "multi_worker":
        # Before anything else touches the devices: this strategy configures TensorFlow's
        # runtime for collective operations, which is impossible once it has started.
        if not os.environ.get("TF_CONFIG"):
            raise UsageError(
                "--strategy multi_worker needs TF_CONFIG to describe the cluster; see the "
                'README\'s "Training on several machines".'
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        if len(gpus) > 1:
            name = "mirrored"
        elif len(gpus) == 1:
            name = "one_device"
        else:
            name = "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy(
            (gpus or tf.config.list_logical_devices("CPU"))[0].name
        )
    if name == "mirrored":
        # On a machine without GPUs this mirrors over the logical CPUs, which is how the tests
        # prove that results do not depend on the number of replicas.
        devices = gpus or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    raise UsageError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}.")


@dataclasses.dataclass(frozen=True)
class Worker:
    """This process's place in a multi-worker cluster (one process alone: the chief, 0 of 1)."""

    is_chief: bool
    index: int
    count: int


def worker(strategy_name: str) -> Worker:
    """This process's place in the cluster TF_CONFIG describes, read before TensorFlow starts,
    so that a bad cluster or batch size is refused before the workers wait for each other.

    The chief writes the run's outputs: the task of type "chief" if TF_CONFIG names one, else
    worker 0, as in Keras and TensorFlow's own multi-worker tutorials."""
    if strategy_name not in ("auto", "multi_worker") or not os.environ.get("TF_CONFIG"):
        return Worker(is_chief=True, index=0, count=1)
    try:
        tf_config = json.loads(os.environ["TF_CONFIG"])
        cluster, task_type, task_index = (
            tf_config["cluster"],
            tf_config["task"]["type"],
            int(tf_config["task"]["index"]),
        )
        count = sum(len(cluster.get(kind, [])) for kind in ("chief", "worker"))
    except (ValueError, KeyError, TypeError) as error:
        raise UsageError(
            f"TF_CONFIG does not describe a cluster ({type(error).__name__}: {error}); expected "
            '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": 0}}.'
        ) from None
    if "chief" in cluster:
        return Worker(
            is_chief=task_type == "chief",
            index=0 if task_type == "chief" else task_index + 1,
            count=count,
        )
    return Worker(is_chief=task_index == 0, index=task_index, count=count)


def describe(strategy: tf.distribute.Strategy) -> dict:
    """Devices and replica count, for the start-up message and config.json."""
    cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster")
    return {
        "strategy": type(strategy).__name__.lstrip("_"),  # the default one is private: _Default...
        "replicas": strategy.num_replicas_in_sync,
        "devices": [device.name for device in tf.config.list_logical_devices()],
        "gpus": [device.name for device in tf.config.list_logical_devices("GPU")],
        "cluster": cluster,
    }


def gpu_visible() -> bool:
    return bool(tf.config.list_logical_devices("GPU"))


def set_mixed_precision(enabled: bool) -> str:
    """mixed_float16 halves memory traffic on GPUs with tensor cores; on a CPU it only slows
    things down, so it is refused there instead of silently doing harm."""
    if not enabled:
        keras.mixed_precision.set_global_policy("float32")
        return "float32"
    if not gpu_visible():
        raise UsageError(
            "--mixed-precision speeds up training on GPUs only, and no GPU is visible here; "
            "drop the flag to train in float32 on the CPU."
        )
    keras.mixed_precision.set_global_policy("mixed_float16")
    return "mixed_float16"
