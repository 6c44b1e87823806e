"""The GPU options. --mixed-precision trains every Keras model in mixed_float16: float16 math,
float32 weights and outputs, and a dynamic loss scale in every optimizer (custom train_steps
included). --jit-compile compiles the training step with XLA.

This machine has no GPU, where train.py refuses the flag (it only slows a CPU down); the tests
pretend a GPU is visible, since the mixed-precision code path is the same on any device.
"""

import json

import keras
import numpy as np
import pytest

import models
import synthetic
import train
from conftest import tiny_flags
from training import distribution, runs

KERAS_MODELS = [
    name for name in models.names() if isinstance(models.get_spec(name), models.ModelSpec)
]


@pytest.fixture
def pretend_gpu(monkeypatch):
    monkeypatch.setattr(distribution, "gpu_visible", lambda: True)
    yield
    keras.mixed_precision.set_global_policy("float32")  # for the tests that build models themselves


@pytest.mark.parametrize("model", KERAS_MODELS)
def test_mixed_precision_trains_every_keras_model(model, pretend_gpu, tmp_path):
    run_dir = tmp_path / "run"
    flags = tiny_flags(
        model, run_dir, "--mixed-precision", "--epochs", "1", "--steps-per-epoch", "3"
    )
    with synthetic.mock_learnable(256):  # speech needs 200+ clips for its split by take
        assert train.main(flags) == 0
    assert json.loads((run_dir / "config.json").read_text())["precision"] == "mixed_float16"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics and all(np.isfinite(value) for value in metrics.values()), metrics

    reloaded = runs.load_model(str(run_dir))
    computing = [
        layer for layer in reloaded._flatten_layers() if layer.dtype_policy.name == "mixed_float16"
    ]
    assert computing, "no layer computes in float16"
    floating = [weight.dtype for weight in reloaded.weights if "float" in weight.dtype]
    assert floating and set(floating) == {"float32"}  # the weights stay float32
    optimizers = [
        value for value in vars(reloaded).values() if isinstance(value, keras.optimizers.Optimizer)
    ]
    assert optimizers and all(
        isinstance(each, keras.optimizers.LossScaleOptimizer) for each in optimizers
    )


def test_outputs_stay_float32_under_mixed_precision(pretend_gpu):
    keras.mixed_precision.set_global_policy("mixed_float16")
    images = np.random.default_rng(0).random((2, 28, 28, 1)).astype(np.float32)
    for name in ("mlp", "cnn"):
        spec = models.get_spec(name)
        data = models.get_spec(name).describe_data("mnist", _mnist_info())
        model = spec.build_model(data, {**spec.hyperparameters, **spec.test_hyperparameters})
        probabilities = model(images)
        assert probabilities.dtype == "float32"  # softmax in float32: no float16 rounding to 0 or 1
        np.testing.assert_allclose(np.sum(np.asarray(probabilities), axis=-1), 1.0, rtol=1e-5)


def _mnist_info():
    import tensorflow_datasets as tfds

    return tfds.builder("mnist", data_dir="/nonexistent").info  # features from code; nothing read


@pytest.mark.parametrize("model", ["cnn", "vae"])  # a compiled loss, and a custom train_step
def test_jit_compile_trains_with_xla(model, tmp_path, monkeypatch):
    compiled_with = []
    keras_compile = keras.Model.compile

    def spy(self, *args, **kwargs):
        compiled_with.append(kwargs.get("jit_compile"))
        return keras_compile(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "compile", spy)
    run_dir = tmp_path / "run"
    with synthetic.mock_learnable(64):
        assert (
            train.main(
                tiny_flags(
                    model, run_dir, "--jit-compile", "--epochs", "1", "--steps-per-epoch", "3"
                )
            )
            == 0
        )
    assert compiled_with == [True]
    assert json.loads((run_dir / "config.json").read_text())["jit_compile"] is True
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert all(np.isfinite(value) for value in metrics.values()), metrics
