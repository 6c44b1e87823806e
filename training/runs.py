"""The run directory that `train.py` fills and `evaluate.py` reads, for every kind of model.

    RUN_DIR/config.json    the resolved RunConfig (written first: a run that has one can resume)
    RUN_DIR/backup/        the state to resume from, while training
    RUN_DIR/model.keras    the trained model (written last: a run that has one is finished)
    RUN_DIR/metrics.json, logs/ (TensorBoard), eval/ (evaluate.py)
    RUN_DIR/.lock          while a process trains in RUN_DIR: its OS lock (a killed process
                           releases it) and its process id

What a run directory promises, and where each promise is kept:
- It is relocatable: nothing inside it names its own path, and evaluate.py works on the folder
  it is given (`load_run_config`), so a run can be moved, copied or evaluated from anywhere.
- One process trains in it at a time (`claimed`); a second one is refused.
- Every file is written whole or not at all (`replaced`, `write_json`, `write_text`): a kill at
  any moment leaves the previous version or the new one, never half of one.
- A finished run is never overwritten; an unfinished one resumes (`check_run_dir`).
"""

import contextlib
import fcntl
import json
import math
import os
import tempfile
import zipfile

import keras

from training.config import RunConfig, read_config_file
from training.errors import UsageError

MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"
LOCK_FILE = ".lock"


@contextlib.contextmanager
def claimed(run_dir: str):
    """Creates `run_dir` if needed and holds its lock while the block runs, or a UsageError
    when it cannot be written or another process holds it. The lock file is removed again on
    the way out, and so is a folder this created if nothing else was written in it (a refused
    flag leaves no trace)."""
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise UsageError(f"--run-dir {run_dir} is a file, not a folder; pick another --run-dir.")
    created = not os.path.exists(run_dir)
    lock_path = os.path.join(run_dir, LOCK_FILE)
    try:
        os.makedirs(run_dir, exist_ok=True)
        handle = open(lock_path, "a+")  # closed in `finally` below
    except OSError as error:
        raise UsageError(
            f"cannot write to {run_dir} ({error.strerror}); pick a --run-dir on a writable disk."
        ) from None
    holds = False
    try:
        holds = _lock(handle, lock_path)
        if not holds:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise UsageError(
                f"{run_dir} is in use by process {holder}, which is training in it right now. "
                "Wait for it to finish (or stop it), or pick another --run-dir."
            )
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))  # named in the message a second process gets
        handle.flush()
        yield
    finally:
        if holds:
            os.remove(lock_path)  # before the lock is released: see _lock
        handle.close()  # releases the lock
        if created and os.path.isdir(run_dir) and not os.listdir(run_dir):
            os.rmdir(run_dir)


def _lock(handle, lock_path: str) -> bool:
    """Takes the OS lock on an open lock file; False if another process holds it. A holder
    removes the file before releasing it, so a lock taken on a file that is no longer at
    `lock_path` is one that was just given up: not ours to trust."""
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    try:
        return os.stat(lock_path).st_ino == os.fstat(handle.fileno()).st_ino
    except FileNotFoundError:
        return False


@contextlib.contextmanager
def replaced(path: str):
    """Yields a temporary path beside `path` to write to; renames it to `path` once the block
    succeeds, so readers (and a kill) only ever see the old file or the new one."""
    folder, name = os.path.split(path)
    stem, extension = os.path.splitext(name)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{stem}-", suffix=f".partial{extension}", dir=folder or "."
    )
    os.close(handle)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def write_text(path: str, text: str) -> None:
    with replaced(path) as temporary, open(temporary, "w") as file:
        file.write(text)


def write_json(path: str, content: dict) -> None:
    """Valid JSON always: a metric that is not a finite number is written as null."""
    write_text(path, json.dumps(_finite(content), indent=2, default=str) + "\n")


def _finite(value):
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def output_dir(run_dir: str, name: str = "eval") -> str:
    """RUN_DIR/<name>, or a temporary folder (said on stdout) when the run cannot be written,
    e.g. on a read-only disk, so that evaluating it still keeps its figures somewhere."""
    path = os.path.join(run_dir, name)
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
        return path
    except OSError as error:
        fallback = tempfile.mkdtemp(prefix=f"{name}-")
        print(f"Cannot write {path} ({error.strerror}): writing to {fallback} instead.")
        return fallback


def read_config(run_dir: str) -> RunConfig:
    """The RunConfig in `run_dir`, with `run_dir` set to where it is now (a run can be moved)."""
    if not os.path.isdir(run_dir):
        raise UsageError(f"no run directory at {run_dir}; runs live under runs/ (see `ls runs`).")
    config_path = os.path.join(run_dir, CONFIG_FILE)
    if not os.path.exists(config_path):
        raise UsageError(
            f"{run_dir} has no {CONFIG_FILE}: it is not a run directory made by train.py."
        )
    config = RunConfig.from_dict(read_config_file(config_path))
    config.run_dir = run_dir
    return config


def load_run_config(run_dir: str) -> RunConfig:
    """The config of a finished run, or a UsageError saying what is wrong with `run_dir`."""
    config = read_config(run_dir)
    if not os.path.exists(os.path.join(run_dir, MODEL_FILE)):
        raise UsageError(
            f"{run_dir} holds an unfinished run (no {MODEL_FILE}). Finish it with its own "
            f"settings: python train.py --run-dir {run_dir}"
        )
    return config


def load_model(run_dir: str) -> keras.Model:
    path = os.path.join(run_dir, MODEL_FILE)
    try:
        return keras.saving.load_model(path)
    except Exception as error:  # Keras raises many types for a damaged zip/h5 file
        saved = read_config_file(os.path.join(run_dir, CONFIG_FILE)).get("versions", {})
        if saved.get("keras", keras.__version__) != keras.__version__:
            raise UsageError(
                f"cannot load {path}: it was saved with Keras {saved['keras']} and this is Keras "
                f"{keras.__version__} ({type(error).__name__}: {error}). Install the versions "
                "in requirements.txt (pip install -r requirements.txt)."
            ) from None
        reason = (
            "it is not a whole .keras file (a .keras file is a zip archive; this one is cut "
            "short or is something else)"
            if os.path.exists(path) and not zipfile.is_zipfile(path)
            else f"{type(error).__name__}: {error}"
        )
        raise UsageError(
            f"cannot load {path} ({reason}); the file is damaged or not a Keras model. Copy it "
            "again from where the run was made, or train again."
        ) from None


def check_run_dir(config: RunConfig) -> None:
    """A finished run is never overwritten; an unfinished one resumes under the same config."""
    config_path = os.path.join(config.run_dir, CONFIG_FILE)
    if os.path.exists(os.path.join(config.run_dir, MODEL_FILE)):
        raise UsageError(
            f"{config.run_dir} already holds a finished run; pick a new --run-dir "
            f"(or leave it out for a fresh timestamped one), or delete that folder."
        )
    if os.path.exists(config_path):
        saved = RunConfig.from_dict(read_config_file(config_path))
        differences = config.training_differences(saved)
        if differences:
            raise UsageError(
                f"{config.run_dir} holds an unfinished run started with different "
                f"{', '.join(differences)}; resume it with its own settings "
                f"(python train.py --run-dir {config.run_dir}), or pick a new --run-dir."
            )
    elif set(os.listdir(config.run_dir)) - {LOCK_FILE}:
        raise UsageError(
            f"{config.run_dir} is not empty and is not a run directory; pick a new --run-dir."
        )


def save_model(model, path: str) -> None:
    """model.keras is never half-written (see `replaced`)."""
    with replaced(path) as temporary:
        model.save(temporary)


def print_summary(title: str, metrics: dict, run_dir: str) -> None:
    print(
        f"{title} metrics: "
        + ", ".join(f"{name} {_format(value)}" for name, value in metrics.items())
    )
    print(f"Run directory: {run_dir}")
    print(
        f"Watch it in TensorBoard: tensorboard --logdir {os.path.dirname(os.path.normpath(run_dir)) or '.'}"
    )


def _format(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)  # counts stay counts
