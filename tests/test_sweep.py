"""sweep.py: bad grids refused before anything trains; a 2x2 sweep killed mid-trial resumes
without retraining its finished trials; a failing trial is reported and the sweep goes on."""

import contextlib
import csv
import io
import os
import signal
import subprocess
import sys

import pytest

import sweep
from conftest import ROOT, stop_when
from synthetic import mock_learnable
from training import sweep as training_sweep
from training import sweep_report
from training.callbacks import finished_epochs

EXAMPLES = 512  # 64 steps an epoch at batch 8: time to kill a trial after its first epoch
FLAGS = ["--epochs", "3", "--batch-size", "8", "--set", "dropout_rate=0.0"]
GRID = ["--grid", "activation=relu,tanh", "--grid", "hidden_units=8/4,4"]
TRIALS = [
    "activation=relu,hidden_units=8",
    "activation=relu,hidden_units=4-4",
    "activation=tanh,hidden_units=8",
    "activation=tanh,hidden_units=4-4",
]
SWEEP_DIR = os.path.join("runs", "mlp-sweep-activation-hidden_units")
# sweep.main on learnable mock data, in a process of its own (so that it can be killed).
SWEEP_IN_A_PROCESS = (
    f"import sys; sys.path[:0] = [{ROOT!r}, {os.path.join(ROOT, 'tests')!r}]; "
    "import synthetic, sweep; "
    f"context = synthetic.mock_learnable({EXAMPLES}); context.__enter__(); "
    "sys.exit(sweep.main(sys.argv[1:]))"
)


def run_sweep(argv, examples=EXAMPLES) -> tuple[int, str]:
    """sweep.main(argv) in this process on mock data: (exit code, what it printed)."""
    output = io.StringIO()
    with mock_learnable(examples), contextlib.redirect_stdout(output):
        code = sweep.main(argv)
    return code, output.getvalue()


@pytest.fixture(scope="module")
def resumed_sweep(tmp_path_factory):
    """A 2x2 sweep killed with SIGKILL during its second trial, then run again to the end:
    (sweep folder, output of the second run, model.keras times of the first trial before)."""
    folder = tmp_path_factory.mktemp("sweep")
    sweep_dir = folder / SWEEP_DIR
    argv = ["--model", "mlp", *GRID, *FLAGS]
    process = subprocess.Popen(
        [sys.executable, "-c", SWEEP_IN_A_PROCESS, *argv],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stop_when(  # the second trial is halfway
        lambda: finished_epochs(sweep_dir / TRIALS[1] / "backup") >= 1,
        process,
        "the second trial's first backup",
        signal.SIGKILL,
    )
    first_model = sweep_dir / TRIALS[0] / "model.keras"
    before = first_model.stat().st_mtime_ns
    assert not (sweep_dir / TRIALS[1] / "model.keras").exists()

    old_directory = os.getcwd()
    os.chdir(folder)
    try:
        code, output = run_sweep(argv)  # the same command again
    finally:
        os.chdir(old_directory)
    assert code == 0, output[-3000:]
    return sweep_dir, output, before


def test_each_trial_has_its_own_readable_run_directory(resumed_sweep):
    sweep_dir, _, _ = resumed_sweep
    trial_dirs = sorted(entry.name for entry in sweep_dir.iterdir() if entry.is_dir())
    assert trial_dirs == sorted(TRIALS)
    for trial in TRIALS:
        assert (sweep_dir / trial / "model.keras").exists()
        assert (sweep_dir / trial / "logs" / "hparams").is_dir()  # a row in the HParams table


def test_a_killed_sweep_resumes_without_retraining_finished_trials(resumed_sweep):
    sweep_dir, output, first_model_time = resumed_sweep
    assert (sweep_dir / TRIALS[0] / "model.keras").stat().st_mtime_ns == first_model_time
    assert output.count("Finished before: skipped.") == 1
    assert f"Resuming {os.path.join(SWEEP_DIR, TRIALS[1])} after epoch 1 of 3" in output


def test_the_sweep_writes_its_table_csv_and_figure(resumed_sweep):
    sweep_dir, output, _ = resumed_sweep
    with open(sweep_dir / "sweep.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["trial"] for row in rows] == TRIALS
    assert [(row["activation"], row["hidden_units"]) for row in rows] == [
        ("relu", "8"),
        ("relu", "4,4"),
        ("tanh", "8"),
        ("tanh", "4,4"),
    ]
    assert all(row["status"] == "finished" and 0 <= float(row["accuracy"]) <= 1 for row in rows)
    assert "| activation | hidden_units | finished | accuracy | loss |" in output
    assert "| tanh | 4,4 | 1/1 |" in output
    assert (sweep_dir / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    assert f"tensorboard --logdir {SWEEP_DIR}" in output


def test_a_failing_trial_is_reported_and_the_sweep_goes_on(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # Files where the trials' run directories should be: each trial fails at once (nothing to
    # train), and a failure does not stop the sweep from trying the next trial.
    sweep_dir = tmp_path / "runs" / "mlp-sweep-activation"
    sweep_dir.mkdir(parents=True)
    for trial in ("activation=relu", "activation=tanh"):
        (sweep_dir / trial).write_text("in the way")
    code, output = run_sweep(["--model", "mlp", "--grid", "activation=relu,tanh", *FLAGS])
    assert code == 1
    assert "Trial 2 of 2: activation=tanh" in output
    assert "| relu | 0/1 |" in output and "| tanh | 0/1 |" in output
    assert "activation=relu: failed (exit code 2; see the message above)" in output
    with open(sweep_dir / "sweep.csv", newline="") as file:
        statuses = [row["status"] for row in csv.DictReader(file)]
    assert statuses == ["failed (exit code 2; see the message above)"] * 2


@pytest.mark.parametrize(
    "grid, message",
    [
        (["--grid", "depth=1,2"], "--grid depth: mlp has no such setting; a grid can vary: "),
        (["--grid", "dropout_rate=0.1,half"], "--grid dropout_rate='half': expected float"),
        (["--grid", "hidden_units=64,64/wide"], "expected a comma-separated list"),
        (["--grid", "activation="], "has an empty value"),
        (["--grid", "activation=relu,,tanh"], "has an empty value"),
        (["--grid", "learning_rate=0.1,-1"], "--learning-rate takes a positive float"),
        (["--grid", "activation=relu", "--set", "activation=tanh"], "both in --grid and in --set"),
        (["--grid", "activation=relu", "--seed", "3"], "--seed is set by the sweep"),
        ([], "give at least one --grid"),
    ],
)
def test_bad_grids_are_refused_before_anything_trains(grid, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert sweep.main(["--model", "mlp", *grid]) == 2
    error = capsys.readouterr().err
    assert error.startswith("sweep.py: error: ") and message in error, error
    assert not (tmp_path / "runs").exists()  # nothing written, nothing trained


def test_a_train_flag_with_a_bad_value_is_refused_before_anything_trains(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert sweep.main(["--model", "mlp", "--grid", "activation=relu", "--epochs", "0"]) == 2
    assert not (tmp_path / "runs").exists()


def test_random_picks_the_same_combinations_every_time_and_names_say_what_differs():
    grid = {"activation": ["relu", "tanh", "sigmoid"], "hidden_units": ["8", "4,4"]}
    picked = training_sweep.settings(grid, sample=4)
    assert len(picked) == 4 and picked == training_sweep.settings(grid, sample=4)
    assert len({str(setting) for setting in picked}) == 4
    everything = training_sweep.settings(grid)
    assert picked == [setting for setting in everything if setting in picked]  # in grid order
    assert training_sweep.settings(grid, sample=10) == everything  # more than there are: all
    fixed = {"activation": ["relu"], "hidden_units": ["8", "4,4"]}
    names = [trial.name for trial in training_sweep.trials("sweep", fixed, seeds=[0, 1])]
    assert names == [
        "hidden_units=8,seed=0",
        "hidden_units=8,seed=1",
        "hidden_units=4-4,seed=0",
        "hidden_units=4-4,seed=1",
    ]


def test_the_table_gives_mean_and_spread_over_seeds():
    def result(setting, seed, metrics, status="finished"):
        trial = training_sweep.Trial(f"{setting}-{seed}", {"activation": setting}, seed, "unused")
        return {"trial": trial, "status": status, "metrics": metrics}

    results = [
        result("relu", 0, {"accuracy": 0.8, "episodes": 15}),
        result("relu", 1, {"accuracy": 1.0, "episodes": 16}),
        result("tanh", 0, {"accuracy": 0.5, "episodes": 300}),
        result("tanh", 1, {}, status="failed (exit code 2)"),
    ]
    names = ["accuracy", "episodes"]
    table = sweep_report.format_table(sweep_report.summary_rows(results, names), names)
    assert table.splitlines()[2:] == [
        "| relu | 2/2 | 0.9000 ± 0.1414 | 15.5 ± 0.7 |",  # sample standard deviation
        "| tanh | 1/2 | 0.5000 | 300 |",
    ]
