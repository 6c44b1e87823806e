"""Two worker processes on 127.0.0.1 train one model together (MultiWorkerMirroredStrategy,
configured through TF_CONFIG as a cluster manager would), as train.py runs on each machine.

Most tests read one two-worker run, stopped by a killed worker and restarted, which is every
worker process's life a cluster can see. Workers listen on free ports chosen at run time, and a
watchdog kills every worker still running after a time limit, so a worker waiting for a missing
peer cannot hang the suite.
"""

import json
import os
import re
import signal
import socket
import time

import numpy as np
import pytest

import train
from conftest import model_weights, start_training, tiny_flags, wait_until
from synthetic import mock_learnable

WATCHDOG_SECONDS = 240
FLAGS = ("--epochs", "3", "--seed", "3")


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for each in sockets:
        each.bind(("127.0.0.1", 0))
    ports = [each.getsockname()[1] for each in sockets]
    for each in sockets:
        each.close()
    return ports


def start_workers(flags, ports) -> list:
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    return [
        start_training(
            flags,
            environment={
                "TF_CONFIG": json.dumps(
                    {"cluster": cluster, "task": {"type": "worker", "index": index}}
                )
            },
        )
        for index in range(len(ports))
    ]


def wait_for(workers, seconds=WATCHDOG_SECONDS) -> list[str]:
    """Every worker's output; kills them all if any runs past `seconds`."""
    deadline, outputs = time.monotonic() + seconds, []
    try:
        for worker in workers:
            outputs.append(worker.communicate(timeout=max(1, deadline - time.monotonic()))[0])
    except Exception:
        for worker in workers:
            worker.kill()
        raise
    return outputs


def fingerprint(output: str) -> str:
    return re.search(r"final weights fingerprint (\w+)", output).group(1)


@pytest.fixture(scope="module")
def two_worker_run(tmp_path_factory):
    """Two workers train; worker 1 is killed once it has backed up epoch 1; the chief notices
    and stops; both are restarted with the same command (on new ports, as a cluster manager
    would) and finish. Every test below reads this one run: what the killed cluster printed,
    and the finished run directory with the restarted workers' outputs."""
    run_dir = tmp_path_factory.mktemp("two-workers") / "run"
    flags = tiny_flags("cnn", run_dir, *FLAGS)
    workers = start_workers(flags, free_ports(2))
    try:
        backup = run_dir / "backup" / "worker-1" / "checkpoint"  # worker 1 finished epoch 1
        wait_until(backup.exists, workers[0], "worker 1's first backup", WATCHDOG_SECONDS)
        workers[1].send_signal(signal.SIGKILL)
        chief_output = wait_for(workers[:1], seconds=120)[0]  # it notices and stops: no hang
        chief_code = workers[0].returncode
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()

    restarted = start_workers(flags, free_ports(2))
    outputs = wait_for(restarted)
    for worker, output in zip(restarted, outputs):
        assert worker.returncode == 0, output[-3000:]
    return {"run_dir": run_dir, "chief": (chief_code, chief_output), "outputs": outputs}


def test_a_killed_worker_stops_the_other_with_a_message(two_worker_run):
    code, output = two_worker_run["chief"]
    assert code != 0 and "lost contact with another worker" in output, output[-2000:]
    assert "Traceback" not in output


def test_restarted_workers_resume_and_end_with_identical_weights(two_worker_run):
    outputs = two_worker_run["outputs"]
    assert "Worker 0 of 2 (chief)" in outputs[0] and "Worker 1 of 2:" in outputs[1]
    for output in outputs:
        assert re.search(r"Resuming .* after epoch [12] of 3", output), output[-2000:]
    assert fingerprint(outputs[0]) == fingerprint(outputs[1])


def test_only_the_chief_writes_the_run_directory(two_worker_run):
    run_dir, outputs = two_worker_run["run_dir"], two_worker_run["outputs"]
    assert sorted(os.listdir(run_dir)) == [
        "config.json",
        "history.csv",
        "logs",
        "metrics.json",
        "model.keras",
    ]  # the backups are gone too
    assert len(open(run_dir / "history.csv").readlines()) == 1 + 3  # one history: the chief's
    assert "Epoch 3/3" in outputs[0] and "Epoch" not in outputs[1]  # one progress bar


def test_two_workers_match_one_process_with_the_same_global_batch(two_worker_run, tmp_path):
    """Same global batch of 16, split 8 + 8: the same math up to the order of float additions,
    epoch by epoch, although the two workers were stopped and resumed on the way: nothing was
    lost or repeated."""
    run_dir = two_worker_run["run_dir"]
    with mock_learnable(256):  # as start_training's process would (one device: this process)
        assert train.main(tiny_flags("cnn", tmp_path / "one", *FLAGS)) == 0
    for two, one in zip(model_weights(run_dir), model_weights(tmp_path / "one"), strict=True):
        np.testing.assert_allclose(two, one, rtol=1e-4, atol=1e-5)
    two_history = np.genfromtxt(run_dir / "history.csv", delimiter=",", names=True)
    one_history = np.genfromtxt(tmp_path / "one" / "history.csv", delimiter=",", names=True)
    np.testing.assert_allclose(two_history["loss"], one_history["loss"], rtol=1e-4)
    np.testing.assert_allclose(two_history["val_loss"], one_history["val_loss"], rtol=1e-4)


@pytest.mark.parametrize(
    "tf_config, message",
    [
        (
            json.dumps(
                {
                    "cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]},
                    "task": {"type": "worker", "index": 0},
                }
            ),
            "--batch-size 15 does not split evenly across 2 workers; pick a multiple of 2",
        ),
        ('{"cluster": ', "TF_CONFIG does not describe a cluster"),
        (
            json.dumps(
                {
                    "cluster": {"worker": ["127.0.0.1:1"], "ps": ["127.0.0.1:2"]},
                    "task": {"type": "worker", "index": 0},
                }
            ),
            "TF_CONFIG names ps tasks",
        ),
    ],
)
def test_bad_cluster_settings_are_refused_before_any_worker_waits(
    tf_config, message, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv(
        "TF_CONFIG", tf_config
    )  # refused before the strategy exists: safe in this process
    assert train.main(tiny_flags("mlp", tmp_path / "run", "--batch-size", "15")) == 2
    assert message in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "run")


def test_a_worker_that_never_comes_ends_the_wait_with_a_message(tmp_path):
    """One worker of two is started: it says whom it waits for, gives up after --worker-timeout,
    and Ctrl-C ends the wait at once (TensorFlow's C++ wait alone ignores both)."""

    def lone_worker(name: str, timeout: str):
        ports = free_ports(2)  # worker 1's port: nobody will ever listen there
        cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}})
        flags = tiny_flags("mlp", tmp_path / name, "--worker-timeout", timeout)
        return start_training(flags, environment={"TF_CONFIG": tf_config})

    timed_out, interrupted = lone_worker("timed-out", "3"), lone_worker("interrupted", "600")
    lines = []
    while not any("Waiting up to 600 s" in line for line in lines):
        lines.append(interrupted.stdout.readline())
        assert lines[-1], "".join(lines)
    interrupted.send_signal(signal.SIGINT)
    for process, code, message in (
        # Ctrl-C lands in TensorFlow's wait (the watchdog ends it) or just before (exit 130).
        (interrupted, (-signal.SIGKILL, 130), "interrupted while waiting for the other workers"),
        (
            timed_out,
            (-signal.SIGKILL,),
            "not every worker joined within 3 s (waiting for 127.0.0.1:",
        ),
    ):
        output = process.communicate(timeout=60)[0]
        assert process.returncode in code and message in output, output[-2000:]
        assert "Traceback" not in output


def test_a_malformed_tf_config_is_ignored_by_a_single_process_strategy(tmp_path, monkeypatch):
    """TF_CONFIG is read only by the strategy that uses it: --strategy default trains."""
    monkeypatch.setenv("TF_CONFIG", '{"cluster": ')
    with mock_learnable(64):
        assert train.main(tiny_flags("mlp", tmp_path / "run", "--strategy", "default")) == 0
