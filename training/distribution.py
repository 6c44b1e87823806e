"""Picks the `tf.distribute` strategy and the precision policy for the devices at hand.

Models are built and compiled inside `strategy.scope()`, and every batch size in this project
is the global one (split evenly across `strategy.num_replicas_in_sync` replicas).
"""

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys

import keras
import tensorflow as tf

from training.errors import Interrupted, UsageError
from training.flags import STRATEGIES


def get_strategy(name: str = "auto", worker_timeout: float = 300.0) -> tf.distribute.Strategy:
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
        with _waiting_for_peers(worker_timeout):
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
    cluster, task_type, task_index = _cluster()
    count = sum(len(cluster.get(kind, [])) for kind in ("chief", "worker"))
    if "chief" in cluster:
        return Worker(
            is_chief=task_type == "chief",
            index=0 if task_type == "chief" else task_index + 1,
            count=count,
        )
    return Worker(is_chief=task_index == 0, index=task_index, count=count)


def _cluster() -> tuple[dict, str, int]:
    """TF_CONFIG's cluster, this task's type and index, or a UsageError saying what is wrong."""
    try:
        tf_config = json.loads(os.environ["TF_CONFIG"])
        cluster, task_type = tf_config["cluster"], tf_config["task"]["type"]
        task_index = int(tf_config["task"]["index"])
        unsupported = sorted(set(cluster) - {"chief", "worker"})
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise UsageError(
            f"TF_CONFIG does not describe a cluster ({type(error).__name__}: {error}); expected "
            '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": 0}}.'
        ) from None
    if unsupported or task_type not in ("chief", "worker"):
        raise UsageError(
            f"TF_CONFIG names {', '.join(unsupported) or task_type} tasks; these runs use only "
            '"chief" and "worker" tasks (all-reduce training: no parameter servers, no evaluator).'
        )
    return cluster, task_type, task_index


# The watchdog process of _waiting_for_peers: argv is the pipe, the timeout, the pid to end and
# what to say on a timeout. A zero byte on the pipe means every worker joined.
_WATCHDOG = """
import os, select, signal, sys
pipe, timeout, pid, reason = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches this process through the pipe
ready, _, _ = select.select([pipe], [], [], timeout)
if ready and os.read(pipe, 1) == b"\\0":
    sys.exit(0)
message = "interrupted while waiting for the other workers." if ready else "stopped: " + reason
print("train.py: " + message, file=sys.stderr, flush=True)
os.kill(pid, signal.SIGKILL)
"""


@contextlib.contextmanager
def _waiting_for_peers(timeout: float):
    """Creating MultiWorkerMirroredStrategy waits, inside TensorFlow's C++ runtime and holding
    Python's interpreter lock, until every worker has joined: no Python code runs meanwhile, so
    that wait would be deaf to Ctrl-C and SIGTERM, and endless. A small watchdog process keeps
    watch instead: Python's C-level signal handler still writes each signal's number to a pipe
    (`signal.set_wakeup_fd`), which the watchdog reads; on a signal, or after `timeout` seconds,
    it says why and ends this process (SIGKILL: nothing else can stop that wait)."""
    cluster, task_type, task_index = _cluster()
    me = cluster[task_type][task_index]
    others = [address for kind in ("chief", "worker") for address in cluster.get(kind, [])]
    others.remove(me)
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    previous_wakeup = signal.set_wakeup_fd(write_end)
    previous_terminate = signal.signal(signal.SIGTERM, signal.default_int_handler)
    reason = (
        f"not every worker joined within {timeout:g} s (waiting for {', '.join(others)}). "
        "Start the same command on every machine in TF_CONFIG, check the addresses and that "
        "their ports are open, or give more time with --worker-timeout."
    )
    watchdog = subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, str(read_end), str(timeout), str(os.getpid()), reason],
        pass_fds=(read_end,),
    )
    try:
        print(
            f"Waiting up to {timeout:g} s (--worker-timeout) for the other workers to join: "
            f"{', '.join(others)}. Start the same command on each of them.",
            flush=True,
        )
        yield
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM while Python itself ran, before the wait
        raise Interrupted("while waiting for the other workers") from None
    finally:
        os.write(write_end, b"\0")  # all joined (or we stop anyway): the watchdog leaves
        watchdog.wait()
        signal.set_wakeup_fd(previous_wakeup)
        signal.signal(signal.SIGTERM, previous_terminate)
        os.close(read_end)
        os.close(write_end)


def describe(strategy: tf.distribute.Strategy) -> dict:
    """Devices and replica count, for the start-up message and config.json."""
    multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    cluster = _cluster()[0] if multi_worker else None  # TF_CONFIG is read only when it is used
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
