"""Ctrl-C is never lost: a KeyboardInterrupt that Python drops because it arrived inside a
finalizer still stops the run (training/interrupts.py), in both loops and between a sweep's
trials, with the usual one line and no traceback.

The stops here happen in the test's own process, at a chosen moment: a signal raised inside a
`__del__`, where Python drops the exception and carries on."""

import os
import signal
import sys

import keras
import pytest
import toy_environment  # noqa: F401  (registers SignGame-v0, the agents' quick game)

import evaluate
import train
from conftest import ROOT, interrupted_while_starting, tiny_flags
from synthetic import mock_learnable
from training import agent_loop, callbacks, interrupts, keras_loop, runs, sweep
from training.agent_state import StepBackup
from training.callbacks import finished_epochs


class _FinalizerThatHearsCtrlC:
    def __del__(self):
        signal.raise_signal(signal.SIGINT)  # its handler runs here, inside the finalizer


def ctrl_c_lost_in_a_finalizer() -> None:
    """Ctrl-C while a finalizer runs: Python drops the KeyboardInterrupt (and prints it as
    "Exception ignored in ...", unless interrupts.listen() says it will be raised again)."""
    _FinalizerThatHearsCtrlC()  # no reference kept: finalized at once


def run_mlp_here(run_dir, capsys, epochs: int = 2) -> tuple[int, str, str]:
    """A tiny MLP run in this process, on learnable mock data: (exit code, stdout, stderr)."""
    with mock_learnable(64):
        code = train.main(tiny_flags("mlp", run_dir, "--epochs", str(epochs)))
    printed = capsys.readouterr()
    return code, printed.out, printed.err


@pytest.fixture
def printed_as_ignored(monkeypatch) -> list:
    """The types of the exceptions that Python drops during the test and that would be printed
    as "Exception ignored in ..." (what reaches the sys.unraisablehook in place before
    interrupts.listen())."""
    types = []
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: types.append(unraisable.exc_type))
    return types


@pytest.fixture(autouse=True)
def signal_handlers_restored():
    """SIGINT as an interactive Python has it (a test worker may have it ignored), and both
    handlers as they were afterwards."""
    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


class _FinalizerThatFails:
    def __del__(self):
        raise ValueError("a bug in a finalizer")


def test_a_ctrl_c_dropped_by_a_finalizer_is_raised_again_by_check(printed_as_ignored):
    interrupts.listen()
    interrupts.check()  # nothing asked yet: no exception
    ctrl_c_lost_in_a_finalizer()  # reaching the next line shows that Python dropped it
    _FinalizerThatFails()
    assert printed_as_ignored == [ValueError]  # the Ctrl-C is not printed: check() raises it
    with pytest.raises(KeyboardInterrupt):
        interrupts.check()
    interrupts.listen()  # a new run forgets an earlier one's stop
    interrupts.check()


def test_a_ctrl_c_ignored_from_the_start_stays_ignored():
    """A script's background job (`python train.py ... &`) starts with SIGINT ignored, so the
    terminal's Ctrl-C is not meant for it; SIGTERM still stops it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    interrupts.listen()
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGTERM)


def test_training_stops_after_the_epoch_whose_ctrl_c_was_dropped(
    tmp_path, monkeypatch, capsys, printed_as_ignored
):
    """The Ctrl-C is lost in a finalizer just after the first epoch's backup (as TensorFlow's
    iterators are finalized when an epoch ends). The run stops before the next step, as if it
    had been heard: exit 130, the line that says how to resume, no finished model."""

    class LoseACtrlCAfterTheFirstBackup(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                ctrl_c_lost_in_a_finalizer()

    standard = callbacks.standard_callbacks  # the backup is the last of these
    monkeypatch.setattr(
        callbacks,
        "standard_callbacks",
        lambda *args: standard(*args) + [LoseACtrlCAfterTheFirstBackup()],
    )
    run_dir = tmp_path / "run"
    code, out, err = run_mlp_here(run_dir, capsys, epochs=3)
    assert KeyboardInterrupt not in printed_as_ignored
    assert code == 130, err[-3000:]
    assert "train.py: interrupted after epoch 1 of 3. To resume, run:" in err
    assert "Epoch 2/3" in out and "Epoch 3/3" not in out
    assert finished_epochs(run_dir / "backup") == 1 and not (run_dir / "model.keras").exists()


def test_an_agent_stops_at_the_backup_whose_ctrl_c_was_dropped(
    tmp_path, monkeypatch, capsys, printed_as_ignored
):
    """The agent's loop backs up after its greedy evaluations (the first one at the end of
    its first episode); a Ctrl-C lost just after one stops it before the next step."""

    def save_then_lose_a_ctrl_c(self, agent, loop):
        save(self, agent, loop)
        ctrl_c_lost_in_a_finalizer()

    save = StepBackup.save
    monkeypatch.setattr(agent_loop.StepBackup, "save", save_then_lose_a_ctrl_c)
    run_dir = tmp_path / "run"
    code = train.main(tiny_flags("dqn", run_dir, "--env", "SignGame-v0", "--env-steps", "2000"))
    printed = capsys.readouterr()
    saved_step = StepBackup(str(run_dir / "backup")).saved_step()
    assert KeyboardInterrupt not in printed_as_ignored
    assert code == 130, printed.err[-3000:]
    assert 1 <= saved_step < 2000 and not (run_dir / "model.keras").exists()
    assert f"train.py: interrupted at step {saved_step} of 2000. To resume, run:" in printed.err


def test_a_sweep_stops_before_its_next_trial_when_a_ctrl_c_was_dropped(tmp_path):
    """Between two trials the sweep clears Keras' state, which finalizes many objects."""
    started = []

    def train_main(flags):  # a trial that finishes just as Ctrl-C is lost
        interrupts.listen()
        started.append(flags)
        run_dir = flags[flags.index("--run-dir") + 1]
        os.makedirs(run_dir)
        runs.write_json(os.path.join(run_dir, "metrics.json"), {"accuracy": 0.9})
        ctrl_c_lost_in_a_finalizer()
        return 0

    trials = [
        sweep.Trial(f"activation={name}", {"activation": name}, 0, str(tmp_path / name))
        for name in ("relu", "tanh")
    ]
    with pytest.raises(KeyboardInterrupt):
        sweep.run_trials(trials, "mlp", [], train_main)
    assert len(started) == 1


def test_within_deferred_a_first_stop_waits_for_the_block_and_a_second_stops_at_once():
    interrupts.listen()
    with interrupts.deferred():
        signal.raise_signal(signal.SIGTERM)  # remembered only
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        interrupts.check()


def test_an_error_raised_once_a_stop_was_requested_is_that_stop():
    """TensorFlow's C code can turn a KeyboardInterrupt raised inside it into another error."""
    interrupts.listen()
    with pytest.raises(SystemError), interrupts.as_stop_if_requested():
        raise SystemError("bad argument to internal function")  # no stop: the error itself
    ctrl_c_lost_in_a_finalizer()
    with pytest.raises(KeyboardInterrupt), interrupts.as_stop_if_requested():
        raise SystemError("bad argument to internal function")


def test_stopped_before_its_settings_are_written_the_same_command_starts_again(
    tmp_path, monkeypatch, capsys
):
    """The run's folder is removed again (nothing in it), so `--run-dir DIR` alone could not
    resume it: the line says to run the same command."""

    def stopped_while_loading(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(keras_loop.input_pipeline, "load", stopped_while_loading)
    code, _, err = run_mlp_here(tmp_path / "run", capsys)
    assert code == 130 and not (tmp_path / "run").exists()
    assert "interrupted after epoch 0 of 2. To resume, run: the same command" in err


def test_stopped_as_its_model_is_saved_the_run_says_it_finished(tmp_path, monkeypatch, capsys):
    def saved_then_stopped(model, path):
        save_model(model, path)
        signal.raise_signal(signal.SIGINT)

    save_model = runs.save_model
    monkeypatch.setattr(keras_loop.runs, "save_model", saved_then_stopped)
    code, _, err = run_mlp_here(tmp_path / "run", capsys)
    assert code == 130 and (tmp_path / "run" / "model.keras").exists()
    assert f"train.py: interrupted as the run finished; {tmp_path / 'run'} holds its whole" in err
    assert "To resume" not in err


def test_a_stop_while_a_finished_run_tidies_up_lets_it_finish(tmp_path, monkeypatch, capsys):
    """Once model.keras is saved, a first Ctrl-C waits for the backup's removal and the
    summaries: the run ends as finished runs do."""

    def stopped_then_removed(self):
        signal.raise_signal(signal.SIGINT)
        remove(self)

    remove = callbacks.EpochBackup.remove
    monkeypatch.setattr(callbacks.EpochBackup, "remove", stopped_then_removed)
    code, out, err = run_mlp_here(tmp_path / "run", capsys)
    assert code == 0 and "interrupted" not in err, err
    assert "Test metrics:" in out and not (tmp_path / "run" / "backup").exists()


def test_sigterm_stops_an_evaluation_as_ctrl_c_does(tmp_path, monkeypatch, capsys):
    code, _, _ = run_mlp_here(tmp_path / "run", capsys)
    assert code == 0

    def terminated(*args, **kwargs):
        signal.raise_signal(signal.SIGTERM)

    # Without evaluate.py's own handler this one hears the signal and does nothing: the test
    # then fails (exit 0), instead of SIGTERM ending the test process.
    signal.signal(signal.SIGTERM, lambda *args: None)
    monkeypatch.setattr(keras_loop, "evaluate", terminated)
    assert evaluate.main([str(tmp_path / "run")]) == 130
    assert "evaluate.py: interrupted; run the same command again" in capsys.readouterr().err


def test_ctrl_c_while_tensorflow_loads_ends_each_entry_point_with_one_line(tmp_path):
    """Also when it lands as one of TensorFlow's compiled modules initializes, where Python
    turns the KeyboardInterrupt into ImportError("initialization failed"), and when an import
    swallows it (the run then stops before its first step: "interrupted after epoch 0")."""
    commands = {
        "train": [os.path.join(ROOT, "train.py"), "--model", "mlp", "--run-dir", "run"],
        "evaluate": [os.path.join(ROOT, "evaluate.py"), "run"],
        "sweep": [os.path.join(ROOT, "sweep.py"), "--model", "mlp", "--name", "s"],
        "export": [os.path.join(ROOT, "export.py"), "run"],
    }
    for name, (code, said) in interrupted_while_starting(commands, tmp_path).items():
        assert code == 130 and "Traceback" not in said, (name, said[-2000:])
        assert said.splitlines()[-1].startswith(f"{name}.py: interrupted"), said
