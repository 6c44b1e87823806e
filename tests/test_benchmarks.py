"""The benchmark scripts: bad input refused before anything trains (exit 2, one line, no
traceback), Ctrl-C answered with one line (exit 130), and the driver-overhead benchmark
measuring a real run end to end on mock data."""

import importlib.util
import json
import os
import sys

import pytest

from conftest import ROOT, interrupted_while_starting
from synthetic import mock_learnable
from training import callbacks, input_pipeline

BENCHMARKS = os.path.join(ROOT, "benchmarks")


def benchmark(name: str):
    """benchmarks/NAME.py as a module (its main() takes argv), found as Python finds it when
    the script runs: with its own folder on the path."""
    if BENCHMARKS not in sys.path:
        sys.path.insert(0, BENCHMARKS)
    spec = importlib.util.spec_from_file_location(name, os.path.join(BENCHMARKS, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "script, argv, message",
    [
        ("cnn_throughput", ["--model", "dqn"], "dqn reports no accuracy; this benchmark measures"),
        ("cnn_throughput", ["--model", "vae"], "classifiers: cnn, mlp, rnn, speech, transformer"),
        ("cnn_throughput", ["--model", "nosuch"], "unknown model 'nosuch'"),
        ("cnn_throughput", ["--epochs", "1"], "--epochs 1: the first epoch also traces"),
        ("seeds", ["--model", "policy_gradient"], "benchmarks/agents.py measures the agents"),
        ("agents", ["--model", "cnn"], "cnn is not an agent; this benchmark measures the agents"),
        ("agents", ["--model", "nosuch"], "unknown model 'nosuch'"),
        # train.py's flags may not undo what the benchmark sets for every run.
        ("seeds", ["--model", "mlp", "--", "--model", "dqn"], "sets --model for every run"),
        ("agents", ["--model", "dqn", "--", "--run-dir", "x"], "sets --run-dir for every run"),
        ("cnn_throughput", ["--list"], "sets --list for every run"),
        ("versus_keras_io", ["--val-split", "test"], "sets --val-split for every run"),
        ("versus_keras_io", ["--figure", "/no/such/folder/f.png"], "no such folder; make it"),
    ],
)
def test_a_model_the_benchmark_cannot_measure_is_refused_before_training(
    script, argv, message, capsys
):
    assert benchmark(script).main(argv) == 2
    said = capsys.readouterr()
    assert said.err.startswith(f"{script}.py: error: ") and message in said.err
    assert said.out == ""  # no training began


@pytest.mark.parametrize(
    "script, argv, flag",
    [
        ("versus_keras_io", ["--target", "98.8"], "--target"),  # a percentage, not an accuracy
        ("versus_keras_io", ["--target", "0"], "--target"),
        ("versus_keras_io", ["--reference-epochs", "0"], "--reference-epochs"),
        ("versus_keras_io", ["--bogus"], "unrecognized arguments: --bogus"),  # train.py's flags
        ("keras_io_convnet", ["--until", "much"], "--until"),
        ("keras_io_convnet", ["--epochs", "0"], "--epochs"),
        ("cnn_throughput", ["--validation-batches", "0"], "--validation-batches"),
        ("seeds", ["--model", "mlp", "--seeds", "0", "0"], "give each seed once"),
        ("agents", ["--model", "dqn", "--seeds", "-1"], "--seeds"),
        # train.py's own check, before the first run rather than at a later seed's:
        ("seeds", ["--model", "mlp", "--", "--epochs", "x"], "--epochs"),
        ("text_baseline", ["--vocabulary-size", "0"], "--vocabulary-size"),
    ],
)
def test_a_bad_flag_is_refused_before_anything_trains(script, argv, flag, capsys):
    with pytest.raises(SystemExit) as exit_request:
        benchmark(script).main(argv)
    assert exit_request.value.code == 2
    said = capsys.readouterr()
    assert flag in said.err.splitlines()[-1] and said.out == ""


def test_the_keras_io_convnet_learns_and_reports_every_epoch(capsys):
    with mock_learnable(1024):  # its batch is the example's, 128: 8 steps an epoch
        assert benchmark("keras_io_convnet").main(["--epochs", "3"]) == 0
    reports = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [report["epoch"] for report in reports] == [1, 2, 3]
    assert reports[-1]["test_accuracy"] > 0.8  # ten classes: chance is 0.1
    assert reports[0]["seconds"] < reports[1]["seconds"]


def test_driver_overhead_benchmark_measures_a_whole_run(monkeypatch, capsys):
    # The benchmark rewires the driver (a compute-only epoch before its callbacks, shortened
    # validation); restore both after the test.
    monkeypatch.setattr(callbacks, "standard_callbacks", callbacks.standard_callbacks)
    monkeypatch.setattr(input_pipeline, "evaluation_batches", input_pipeline.evaluation_batches)
    flags = ["--model", "mlp", "--epochs", "3", "--batch-size", "16", "--set", "hidden_units=32"]
    with mock_learnable(256):
        assert benchmark("cnn_throughput").main(flags) == 0
    output = capsys.readouterr().out
    start = output.rindex("\n{\n") + 1  # after train.py's own lines
    result = json.loads(output[start : output.index("\n}", start) + 2])
    assert result["test_accuracy"] > 0.5  # it trained: ten classes, chance is 0.1
    assert len(result["epoch_ratios"]) == 2  # every epoch after the first
    # The driver's speed over the model's own: a real ratio of two positive speeds.
    assert 0.05 < result["driver_efficiency"] < 2
    assert result["examples_per_second"] > 0 and result["compute_only_examples_per_second"] > 0
    assert output.rstrip().endswith(f"{result['driver_efficiency']:.0%} |")


@pytest.mark.parametrize("exit_code", [2, 1])
def test_a_failed_script_stops_the_benchmark_with_its_exit_code(exit_code, tmp_path, capfd):
    script = tmp_path / "refuses.py"
    script.write_text(
        f"import sys\nprint('refuses.py: error: why', file=sys.stderr)\nsys.exit({exit_code})\n"
    )
    with pytest.raises(SystemExit) as stopped:
        benchmark("common").run_or_exit([sys.executable, str(script)])
    assert stopped.value.code == exit_code
    said = capfd.readouterr().err
    # Its own message first, then which script failed: nothing after it reads a missing result.
    assert said.index("refuses.py: error: why") < said.index(
        f"refuses.py failed (exit {exit_code}); its message is above."
    )


def test_the_runs_a_benchmark_starts_get_the_environment_it_started_with(monkeypatch, capfd):
    common = benchmark("common")
    # Set after the benchmark started, as its quiet TensorFlow start sets TF_CPP_MIN_LOG_LEVEL:
    # its runs would read that as the user's choice.
    monkeypatch.setenv("SET_BY_THE_BENCHMARK_ITSELF", "1")
    probe = "import os; print(os.environ.get('SET_BY_THE_BENCHMARK_ITSELF'))"
    common.run_or_exit([sys.executable, "-c", probe])
    assert capfd.readouterr().out.strip() == "None"


def test_ctrl_c_while_tensorflow_loads_ends_every_benchmark_with_one_line(tmp_path):
    """Ctrl-C while TensorFlow loads, in the benchmark or in the first run it started."""
    runs = ["--runs", str(tmp_path)]
    arguments = {
        "cnn_throughput": [],
        "gpu_throughput": ["--cpu"],
        "keras_io_convnet": [],
        "text_baseline": [],
        "seeds": ["--model", "mlp", *runs],
        "agents": ["--model", "dqn", *runs],
        "speech_to_text": runs,
        "versus_keras_io": [],
    }
    commands = {
        name: [os.path.join(BENCHMARKS, f"{name}.py"), *argv] for name, argv in arguments.items()
    }
    for name, (code, said) in interrupted_while_starting(commands, tmp_path).items():
        assert code == 130 and "Traceback" not in said, (name, said[-2000:])
        assert said.splitlines()[-1].startswith(f"{name}.py: interrupted; no results."), said
