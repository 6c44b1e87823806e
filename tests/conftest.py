"""Shared fixtures. No test touches the network or ../shared: data is mocked or made here."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import models  # noqa: E402,F401  (registers the models, needed to load model.keras)
from models import registry, spoken_strings  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HELPER = os.path.join(ROOT, "tests", "run_with_mock_data.py")


# pytest-xdist hands each of the two workers one whole file (or class) at a time, in the order
# collected. The longest go first, so that the short ones fill in at the end and both workers
# finish together. Seconds on the README's 2-core CPU (pytest --durations=0).
LONGEST_FIRST = {
    "test_notebooks.py": 125,  # two classes, about 60 s each
    "test_reliability.py": 52,
    "test_multi_worker.py": 46,
    "test_precision_and_xla.py": 42,
    "test_speech_to_text.py": 36,
    "test_agents.py": 35,
    "test_models.py": 33,
    "test_generative.py": 32,
    "test_playground.py": 29,
    "test_speech.py": 28,
    "test_text.py": 27,
    "test_export.py": 22,
    "test_run_directory.py": 20,
    "test_sweep.py": 18,
}


def pytest_collection_modifyitems(items):
    """Longest files first (a stable sort: each file's own order is kept)."""
    items.sort(key=lambda item: -LONGEST_FIRST.get(item.path.name, 0))


@pytest.fixture(autouse=True)
def few_fixed_strings(monkeypatch):
    """speech_to_text is scored on 300 fixed validation and 1,000 fixed test strings; a test
    that trains it in this process scores a few (tests/test_speech_to_text.py sets its own)."""
    for part, (_, seed) in list(spoken_strings.FIXED.items()):
        monkeypatch.setitem(spoken_strings.FIXED, part, (16, seed))


def tiny_flags(model: str, run_dir, *extra) -> list[str]:
    """train.py flags for a few-second run with the model's tiny test hyperparameters."""
    spec = models.get_spec(model)
    flags = ["--model", model, "--run-dir", str(run_dir), "--batch-size", "16"]
    return flags + registry.hyperparameter_flags(spec.test_hyperparameters) + list(extra)


def start_training(flags, logical_cpus=1, examples=256, environment=None) -> subprocess.Popen:
    """train.main(flags) on learnable mock data (synthetic.mock_learnable), in a new process
    with `environment` added to this one's (e.g. TF_CONFIG)."""
    command = [
        sys.executable,
        HELPER,
        "--logical-cpus",
        str(logical_cpus),
        "--examples",
        str(examples),
        "--",
    ]
    return subprocess.Popen(
        command + list(flags),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(environment or {})},
    )


def interrupted_while_starting(commands: dict, folder, seconds: float = 1.5) -> dict:
    """Starts every command (python and its arguments, by name) at once in `folder`, and
    `seconds` later, while TensorFlow loads, presses Ctrl-C as a terminal does (SIGINT to each
    one's whole process group): {name: (exit code, stderr)}."""
    started = {
        name: subprocess.Popen(
            [sys.executable, *command],
            cwd=folder,
            env={**os.environ, "TFDS_DATA_DIR": str(folder)},  # nothing to read: all must stop
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            # Heard as a terminal's would be (a test worker may have SIGINT ignored).
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        for name, command in commands.items()
    }
    time.sleep(seconds)
    for process in started.values():
        os.killpg(process.pid, signal.SIGINT)
    return {name: (process.wait(60), process.stderr.read()) for name, process in started.items()}


def wait_until(ready, process: subprocess.Popen, what: str, seconds: float = 180) -> None:
    """Polls `ready()` every 20 ms until it holds, as a test waits for a backup before stopping
    a run; fails with the process's output if it ends first, or names `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not ready():
        assert process.poll() is None, process.stdout.read()[-3000:]
        assert time.monotonic() < deadline, f"{what} did not appear within {seconds:g} s"
        time.sleep(0.02)


def stop_when(ready, process: subprocess.Popen, what: str, stop: int, seconds: float = 180):
    """Waits until `ready()` holds (see wait_until), then sends `process` the signal `stop`, as
    a test stops a run after a backup: returns (exit code, output)."""
    wait_until(ready, process, what, seconds)
    process.send_signal(stop)
    output = process.communicate(timeout=60)[0]
    return process.returncode, output


def fresh_process_json(script: str, *args, timeout=180):
    """Runs `python -c SCRIPT ARGS...` in a new process from the project root (tests/ importable,
    TensorFlow's start-up lines hidden) and returns the JSON its last line of output holds."""
    result = subprocess.run(
        [sys.executable, "-c", script, *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={
            **os.environ,
            "PYTHONPATH": os.path.join(ROOT, "tests"),
            "TF_CPP_MIN_LOG_LEVEL": "3",
        },
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_training(flags, timeout=240, **kwargs) -> str:
    process = start_training(flags, **kwargs)
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output[-3000:]
    return output


@contextlib.contextmanager
def op_determinism_restored():
    """`train.main([... "--deterministic"])` in a test's own process turns TensorFlow's op
    determinism on for the rest of the process; this turns it back off after the run, so the
    tests that follow in this process run as they would alone."""
    from tensorflow.python.framework import config  # the switch back off is not public API

    enabled = config.is_op_determinism_enabled()
    try:
        yield
    finally:
        if not enabled:
            config.disable_op_determinism()


def model_weights(run_dir) -> list[np.ndarray]:
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"))
    return [np.asarray(weight) for weight in model.weights]
