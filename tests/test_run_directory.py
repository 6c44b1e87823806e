"""What a run directory promises: it can be moved, copied and evaluated from anywhere; damaged
files are refused with a message; one that cannot be written is refused before training; and
evaluation keeps its figures somewhere when the run cannot be written."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import evaluate
import synthetic
import train
from conftest import ROOT, tiny_flags
from synthetic import mock_learnable
from training import runs


@pytest.fixture(scope="module")
def relative_run(tmp_path_factory):
    """A finished mlp run trained with a relative --run-dir, as `runs/...` is by default."""
    home = tmp_path_factory.mktemp("home")
    cwd = os.getcwd()
    os.chdir(home)
    try:
        with mock_learnable(64):
            assert train.main(tiny_flags("mlp", os.path.join("runs", "mlp"), "--epochs", "1")) == 0
    finally:
        os.chdir(cwd)
    return home / "runs" / "mlp"


def run_evaluate(argv, capsys):
    with mock_learnable(64):
        code = evaluate.main(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured


def test_a_moved_run_evaluates_from_another_folder(relative_run, tmp_path, capsys, monkeypatch):
    moved = tmp_path / "elsewhere" / "my-run"
    shutil.copytree(relative_run, moved)
    elsewhere = tmp_path / "another-working-directory"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, captured = run_evaluate([str(moved)], capsys)
    assert code == 0, captured.err
    metrics = json.loads((moved / "eval" / "metrics.json").read_text())
    assert np.isfinite(metrics["accuracy"])
    assert not (relative_run / "eval").exists(), "evaluate.py must not write into the original"
    saved = json.loads((moved / "config.json").read_text())
    assert not os.path.isabs(saved["run_dir"]), "config.json names no absolute path"


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"model": "mlp", "hyperpar', "cannot read"),  # cut short by a kill or a full disk
        ("[1, 2, 3]", "not a run's configuration"),
        ('{"something": "else"}', "not a run's configuration: it lacks"),
    ],
)
def test_a_damaged_config_is_refused_by_train_and_evaluate(content, message, tmp_path, capsys):
    (tmp_path / "config.json").write_text(content)
    code, captured = run_evaluate([str(tmp_path)], capsys)
    assert code == 2 and message in captured.err
    for argv in (["--run-dir", str(tmp_path)], tiny_flags("mlp", tmp_path)):
        with mock_learnable(64):
            assert train.main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    assert sorted(os.listdir(tmp_path)) == ["config.json"], "nothing else may be written"


def test_a_run_dir_that_is_a_file_is_refused_up_front(tmp_path, capsys):
    path = tmp_path / "a-file"
    path.write_text("not a folder")
    with mock_learnable(64):
        assert train.main(tiny_flags("mlp", path)) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


HOLD_THE_LOCK = """
import sys, time
from training import runs
with runs.claimed(sys.argv[1]):
    print("holding", flush=True)
    time.sleep(120)
"""


def test_a_second_process_is_refused_while_one_trains(tmp_path, capsys):
    """Another process holds the run directory, as a training process does: this one is
    refused and writes nothing; once that process is killed, the lock is gone with it."""
    run_dir = tmp_path / "busy"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_LOCK, str(run_dir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        with mock_learnable(64):
            assert train.main(tiny_flags("mlp", run_dir)) == 2
        err = capsys.readouterr().err
        assert f"is in use by process {holder.pid}" in err and "Traceback" not in err
        assert os.listdir(run_dir) == [runs.LOCK_FILE], "the refused process wrote nothing"
    finally:
        holder.kill()  # SIGKILL: no clean-up code runs, the operating system drops the lock
        holder.wait()
    with mock_learnable(64):
        assert train.main(tiny_flags("mlp", run_dir, "--epochs", "1")) == 0
    assert not (run_dir / runs.LOCK_FILE).exists()


def test_evaluation_keeps_its_figures_when_eval_cannot_be_written(relative_run, tmp_path, capsys):
    run_dir = tmp_path / "read-only-eval"
    shutil.copytree(relative_run, run_dir)
    (run_dir / "eval").write_text("a file where the eval folder should be")  # makedirs fails
    code, captured = run_evaluate([str(run_dir)], capsys)
    assert code == 0, captured.err
    assert "writing to" in captured.out and "metrics: " in captured.out
    fallback = captured.out.split("writing to ")[1].split(" instead")[0]
    assert os.path.exists(os.path.join(fallback, "metrics.json"))


def test_a_model_from_another_keras_says_so(relative_run, tmp_path, capsys):
    run_dir = tmp_path / "old-keras"
    shutil.copytree(relative_run, run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    config["versions"]["keras"] = "2.15.0"
    (run_dir / "config.json").write_text(json.dumps(config))
    (run_dir / "model.keras").write_bytes(b"PK\x03\x04 not what this Keras reads")
    code, captured = run_evaluate([str(run_dir)], capsys)
    assert code == 2 and "saved with Keras 2.15.0" in captured.err
    assert "requirements.txt" in captured.err


def test_help_is_fast_and_start_up_is_quiet():
    """--help imports no TensorFlow; a command that does prints none of its start-up lines."""
    check = "import sys, train; train.main(['--help']); assert 'tensorflow' not in sys.modules"
    environment = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    subprocess.run([sys.executable, "-c", check], cwd=ROOT, check=True, capture_output=True)
    listed = subprocess.run(
        [sys.executable, "train.py", "--list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    assert listed.returncode == 0 and "mlp" in listed.stdout
    assert listed.stderr == "", listed.stderr  # no cuInit, no "Could not find cuda drivers"


def test_a_damaged_dataset_file_is_named_and_the_run_resumes_once_it_is_fixed(tmp_path, capsys):
    data_dir = tmp_path / "tensorflow_datasets"
    synthetic.write_tfds_dataset(str(data_dir), "mnist", ("train", "test"), 512)
    records = sorted(data_dir.glob("mnist/*/mnist-train.tfrecord*"))
    assert records, "the dataset was written where TFDS reads it"
    for record in records:  # a download or a copy cut short
        record.write_bytes(record.read_bytes()[: record.stat().st_size // 2])
    flags = tiny_flags("mlp", tmp_path / "run", "--epochs", "1", "--data-dir", str(data_dir))
    assert train.main(flags) == 2
    err = capsys.readouterr().err
    assert "the files of dataset mnist are damaged" in err and "Traceback" not in err
    shutil.rmtree(data_dir)
    synthetic.write_tfds_dataset(str(data_dir), "mnist", ("train", "test"), 512)
    assert train.main(flags) == 0


@pytest.mark.parametrize("content", [b"", b"epoch,loss\n0,abc\n", b"x,y\ngarbage\x00\xff"])
def test_a_damaged_history_leaves_out_its_figure(content, relative_run, tmp_path, capsys):
    run_dir = tmp_path / "damaged-history"
    shutil.copytree(relative_run, run_dir)
    (run_dir / "history.csv").write_bytes(content)
    code, captured = run_evaluate([str(run_dir)], capsys)
    assert code == 0, captured.err
    assert not (run_dir / "eval" / "training_curves.png").exists()
    assert json.loads((run_dir / "eval" / "metrics.json").read_text())["accuracy"] >= 0
    if content:
        assert "history.csv cannot be read" in captured.out


def test_a_cut_short_model_file_is_named_as_such(relative_run, tmp_path, capsys):
    run_dir = tmp_path / "cut-short"
    shutil.copytree(relative_run, run_dir)
    model_file = run_dir / "model.keras"
    model_file.write_bytes(model_file.read_bytes()[:5000])
    code, captured = run_evaluate([str(run_dir)], capsys)
    assert code == 2 and "not a whole .keras file" in captured.err


def test_an_empty_run_dir_or_a_huge_episode_count_is_refused(capsys):
    assert train.main(["--model", "mlp", "--run-dir", ""]) == 2
    assert "must not be empty" in capsys.readouterr().err
    assert evaluate.main(["somewhere", "--episodes", "99999999999999999999"]) == 2
    assert "must be at most 100,000" in capsys.readouterr().err
