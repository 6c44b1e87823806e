"""Every documented mistake: a message that says what and how to fix it, exit code 2, no
traceback, and nothing written."""

import time
import types

import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import evaluate
import models
import synthetic
import train
from conftest import tiny_flags
from synthetic import mock_learnable
from training import input_pipeline, keras_loop
from training.errors import UsageError


def run_train(argv, capsys, mocked=True):
    if mocked:
        # More examples than any model's default batch: the errors tested come after that check.
        with tfds.testing.mock_data(num_examples=256, policy=tfds.testing.MockPolicy.USE_CODE):
            code = train.main(argv)
    else:
        code = train.main(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.err


@pytest.mark.parametrize(
    "flags, message",
    [
        (
            ["--model", "resnet9000"],
            "unknown model 'resnet9000'; known models: " + ", ".join(models.names()),
        ),
        (["--model", "cnn", "--dataset", "imdb_reviews"], "needs an image-classification dataset"),
        (
            ["--model", "rnn", "--dataset", "mnist"],
            "needs a text-classification dataset with a 'text'",
        ),
        (
            ["--model", "speech", "--dataset", "imdb_reviews"],
            "needs an audio-classification dataset",
        ),
        (["--model", "vae", "--dataset", "imdb_reviews"], "needs an image dataset"),
        (["--model", "gan", "--dataset", "omniglot"], "need a fixed size divisible by 4"),
        (
            ["--model", "transformer", "--set", "num_heads=3"],
            "embedding_dim must be a multiple of num_heads",
        ),
        (["--model", "cnn", "--dataset", "no_such_dataset"], "unknown dataset 'no_such_dataset'"),
        (["--model", "mlp", "--set", "depth=3"], "mlp has no hyperparameter 'depth'"),
        (["--model", "mlp", "--set", "dropout_rate=a lot"], "expected float"),
        (["--model", "mlp", "--set", "hidden_units=wide"], "expected a comma-separated list"),
        (["--model", "mlp", "--set", "dropout_rate"], "--set expects key=value"),
        (["--model", "mlp", "--set", "dropout_rate=1.5"], "from 0 to below 1"),
        (["--model", "mlp", "--seed", "-1"], "must be from 0 to 4294967295"),
        (["--model", "mlp", "--seed", str(2**32)], "must be from 0 to 4294967295"),
        (["--model", "mlp", "--learning-rate", "inf"], "not infinity"),
        (["--model", "mlp", "--set", "dropout_rate=nan"], "must be a finite number"),
        (["--model", "dqn", "--set", "buffer_size=0"], "a count or size of at least 1"),
        (["--model", "dqn", "--set", "evaluation_interval=0"], "a count or size of at least 1"),
        (["--model", "policy_gradient", "--set", "evaluation_episodes=0"], "at least 1"),
        (["--model", "dqn", "--set", "discount_factor=1.5"], "from 0 to 1"),
        (["--model", "mlp", "--batch-size", "1000000"], "larger than the training split"),
        (["--model", "mlp", "--dataset", "../mnist"], "unknown dataset '../mnist'"),
        (["--model", "mlp", "--dataset", "mnist:9.9.9"], "unknown dataset 'mnist:9.9.9'"),
        (["--model", "mlp", "--dataset", ""], "must not be empty"),
        (["--model", "cnn", "--set", "filters=8,8,8,8,8,8"], "too small for 6 pooling blocks"),
        (["--model", "mlp", "--epochs", "0"], "must be a positive integer"),
        (["--model", "mlp", "--batch-size", "-4"], "must be a positive integer"),
        (["--model", "mlp", "--learning-rate", "0"], "must be a positive number"),
        (["--model", "mlp", "--mixed-precision"], "no GPU is visible"),
        (["--epochs", "3"], "--model is required"),
        (["--model", "dqn", "--env", "Pendulum-v1"], "not a discrete choice"),
        (["--model", "policy_gradient", "--env", "FrozenLake-v1"], "not a flat vector of numbers"),
        (
            ["--model", "dqn", "--env", "NoSuchGame-v0"],
            "cannot make the gymnasium environment 'NoSuchGame-v0'",
        ),
        (["--model", "dqn", "--env-steps", "0"], "must be a positive integer"),
        (
            ["--model", "dqn", "--dataset", "mnist"],
            "dqn does not take --dataset: it learns in an environment",
        ),
        (["--model", "policy_gradient", "--epochs", "3"], "does not take --epochs"),
        (
            ["--model", "cnn", "--env", "CartPole-v1"],
            "cnn does not take --env: it learns from a dataset",
        ),
        (
            ["--model", "dqn", "--strategy", "mirrored"],
            "leave out --mixed-precision, --jit-compile and --strategy",
        ),
        (
            ["--model", "policy_gradient", "--jit-compile"],
            "leave out --mixed-precision, --jit-compile and --strategy",
        ),
        (
            ["--model", "mlp", "--strategy", "multi_worker"],
            "needs TF_CONFIG to describe the cluster",
        ),
        (["--model", "dqn", "--set", "hidden_units=0"], "a count or size of at least 1"),
    ],
)
def test_train_rejects(flags, message, capsys, tmp_path):
    run_dir = tmp_path / "run"
    code, err = run_train(flags + ["--run-dir", str(run_dir)], capsys)
    assert code == 2
    assert message in err
    assert not run_dir.exists(), "nothing may be written for bad input"


def test_unprepared_dataset_fails_fast_offline(capsys, tmp_path, monkeypatch):
    # A closed local port stands for "no network", whatever network this machine has.
    monkeypatch.setattr(input_pipeline, "NETWORK_PROBE", ("127.0.0.1", 9))
    start = time.monotonic()
    code, err = run_train(
        [
            "--model",
            "mlp",
            "--data-dir",
            str(tmp_path / "empty"),
            "--run-dir",
            str(tmp_path / "run"),
        ],
        capsys,
        mocked=False,
    )
    assert code == 2 and time.monotonic() - start < 15
    assert "'mnist' is not in" in err and "--data-dir or TFDS_DATA_DIR" in err
    assert not (tmp_path / "run").exists()


def test_divergence_stops_with_a_message(capsys, tmp_path):
    with mock_learnable(64):
        code = train.main(
            tiny_flags("mlp", tmp_path / "run", "--epochs", "2", "--learning-rate", "1e30")
        )
    err = capsys.readouterr().err
    assert code == 2 and "training diverged" in err and "lower --learning-rate" in err
    assert not (tmp_path / "run" / "model.keras").exists()


def run_evaluate(argv, capsys):
    code = evaluate.main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def test_evaluate_missing_run_dir(capsys, tmp_path):
    code, err = run_evaluate([str(tmp_path / "nope")], capsys)
    assert code == 2 and "no run directory" in err


def test_evaluate_not_a_run_dir(capsys, tmp_path):
    code, err = run_evaluate([str(tmp_path)], capsys)
    assert code == 2 and "not a run directory" in err


def test_evaluate_unfinished_run(capsys, tmp_path):
    (tmp_path / "config.json").write_text(
        '{"model": "cnn", "dataset": "mnist", "run_dir": "x", '
        '"hyperparameters": {}, "epochs": 1, "batch_size": 1, '
        '"learning_rate": 0.1}'
    )
    code, err = run_evaluate([str(tmp_path)], capsys)
    assert code == 2 and "unfinished run" in err and "--run-dir" in err


def test_evaluate_corrupted_config(capsys, tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    (tmp_path / "model.keras").write_text("x")
    code, err = run_evaluate([str(tmp_path)], capsys)
    assert code == 2 and "corrupted" in err


def test_evaluate_corrupted_model(capsys, tmp_path):
    with mock_learnable(32):
        assert train.main(tiny_flags("mlp", tmp_path / "run", "--epochs", "1")) == 0
    (tmp_path / "run" / "model.keras").write_bytes(b"not a zip file")
    capsys.readouterr()
    code, err = run_evaluate([str(tmp_path / "run")], capsys)
    assert code == 2 and "damaged" in err


def test_evaluate_refuses_options_of_the_other_loop(capsys, tmp_path):
    with mock_learnable(32):
        assert train.main(tiny_flags("mlp", tmp_path / "mlp", "--epochs", "1")) == 0
    agent_flags = [
        flag
        for flag in tiny_flags("dqn", tmp_path / "dqn", "--env-steps", "50")
        if flag not in ("--batch-size", "16")
    ]
    assert train.main(agent_flags) == 0
    capsys.readouterr()
    for argv, message in [
        (
            [str(tmp_path / "mlp"), "--episodes", "5"],
            "mlp does not take --episodes; it takes --split",
        ),
        (
            [str(tmp_path / "dqn"), "--split", "test"],
            "dqn does not take --split; it takes --episodes",
        ),
        ([str(tmp_path / "dqn"), "--episodes", "0"], "must be a positive integer"),
        ([str(tmp_path / "dqn"), "--text", "hi"], "dqn cannot answer --text"),
    ]:
        code, err = run_evaluate(argv, capsys)
        assert code == 2 and message in err
    assert not (tmp_path / "dqn" / "eval").exists() and not (tmp_path / "mlp" / "eval").exists()


def test_several_replicas_need_a_batch_size_that_splits_evenly():
    """Keras builds a model under several replicas from a first batch averaged over them, so
    --batch-size must split evenly. (Evaluation batches are made to: test_reliability.py.)"""
    two_replicas = types.SimpleNamespace(num_replicas_in_sync=2)
    examples = tf.data.Dataset.range(40)

    def preprocess(index):
        return tf.cast(index, tf.float32), index

    with pytest.raises(UsageError, match="evenly across 2 replicas.*or train on one device"):
        keras_loop._check_replicas_can_split(two_replicas, examples, preprocess, 15)
    keras_loop._check_replicas_can_split(two_replicas, examples, preprocess, 16)


@pytest.mark.parametrize("split", ["train[:abc]", "validation", "train[:5%"])
def test_a_split_the_data_cannot_read_gets_one_line(split, tmp_path):
    data_dir = tmp_path / "tensorflow_datasets"
    synthetic.write_tfds_dataset(str(data_dir), "mnist", ("train", "test"), 8)
    with pytest.raises(UsageError) as refused:
        input_pipeline.load("mnist", str(data_dir), train=split)
    message = str(refused.value)
    assert "\n" not in message  # TFDS' own text runs over two lines for a malformed slice
    assert message.startswith("mnist cannot read these splits: ")
    assert message.endswith(f"fix the split you gave ('{split}').")
