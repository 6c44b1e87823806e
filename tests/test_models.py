"""Every registered model: builds from its dataset's info, trains a few steps, saves and reloads."""

import json
import logging
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import models
import train
from conftest import ROOT, tiny_flags
from models import classification, transcription
from synthetic import mock_learnable
from training import figures, input_pipeline

BATCH = 8
EXAMPLES = 240  # enough for spoken_digit's takes 10 and up (its training part) to hold some


# Specs with a loss that classify each example; tests/test_generative.py covers the rest of the
# ModelSpecs, test_speech_to_text.py the one that builds its examples from several (a transcriber),
# test_agents.py the agents.
CLASSIFIERS = [
    name
    for name in models.names()
    if isinstance(models.get_spec(name), models.ModelSpec)
    and models.get_spec(name).loss
    and not models.get_spec(name).transform_examples
]


@pytest.fixture(params=CLASSIFIERS)
def spec(request):
    return models.get_spec(request.param)


def tiny_batch_and_info(spec):
    with mock_learnable(EXAMPLES):
        examples, info, _ = input_pipeline.load(spec.dataset, data_dir=None)
        batch = next(iter(examples["train"].map(spec.preprocess).padded_batch(BATCH)))
    return batch, spec.describe_data(spec.dataset, info)


def test_builds_trains_and_round_trips(spec, tmp_path):
    (inputs, targets), data_info = tiny_batch_and_info(spec)
    hyperparameters = {**spec.hyperparameters, **spec.test_hyperparameters}
    model = spec.build_model(data_info, hyperparameters)
    if spec.adapt:
        spec.adapt(model, tf.data.Dataset.from_tensors(inputs))
    model.compile(optimizer="adam", loss=spec.loss, metrics=list(spec.metrics))

    outputs = model.predict_on_batch(inputs)
    assert outputs.shape == (BATCH, data_info.num_classes)
    np.testing.assert_allclose(outputs.sum(axis=-1), 1.0, rtol=1e-5)  # softmax probabilities

    history = model.fit(inputs, targets, epochs=3, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))

    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(reloaded.predict_on_batch(inputs), model.predict_on_batch(inputs))


def test_list_shows_every_model(capsys):
    assert train.main(["--list"]) == 0
    listing = capsys.readouterr().out
    for name in models.names():
        assert name in listing and models.get_spec(name).default_data in listing


@pytest.mark.parametrize("model_name", ["mlp", "cnn"])
def test_learns_far_above_chance(model_name, tmp_path):
    """Band images have 10 classes (chance: 10%); both models must clearly learn them."""
    flags = [
        "--model",
        model_name,
        "--run-dir",
        str(tmp_path / "run"),
        "--epochs",
        "4",
        "--batch-size",
        "32",
    ]
    if model_name == "cnn":
        flags += ["--set", "filters=8", "--set", "dense_units=32"]
    else:
        flags += ["--set", "hidden_units=32"]
    with mock_learnable(640):
        assert train.main(flags) == 0
    with open(tmp_path / "run" / "metrics.json") as file:
        assert json.load(file)["accuracy"] > 0.9


@pytest.mark.parametrize("model_name", ["mlp", "cnn"])
@pytest.mark.parametrize(
    "dataset, input_shape", [("fashion_mnist", (28, 28, 1)), ("cifar10", (32, 32, 3))]
)
def test_trains_unchanged_on_other_image_datasets(model_name, dataset, input_shape, tmp_path):
    """Shapes and class counts come from the dataset's info, so RGB 32x32 needs no change."""
    run_dir = tmp_path / "run"
    with mock_learnable(32):
        assert (
            train.main(tiny_flags(model_name, run_dir, "--dataset", dataset, "--epochs", "1")) == 0
        )
    config = json.loads((run_dir / "config.json").read_text())
    assert config["dataset"] == dataset and tuple(config["data"]["input_shape"]) == input_shape
    assert keras.saving.load_model(run_dir / "model.keras").input_shape == (None, *input_shape)


def test_importing_the_models_leaves_tensorflow_unstarted():
    """MultiWorkerMirroredStrategy must configure TensorFlow's runtime before it starts, so
    registering the models (which train.py does first) may create no tensor or variable:
    a metric instance in a spec, say, would start it ("Collective ops must be configured at
    program startup")."""
    check = (  # devices can be configured only before the runtime starts
        "import models, tensorflow as tf; cpu = tf.config.list_physical_devices('CPU')[0]; "
        "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()])"
    )
    subprocess.run([sys.executable, "-c", check], cwd=ROOT, check=True, timeout=180)


def test_cnn_scores_well_after_one_short_epoch(tmp_path):
    """Twenty steps with the default model: its inference-time batch-norm statistics must keep
    up with the weights, so the test score is not near chance (10%) as with lagging ones."""
    run_dir = tmp_path / "run"
    flags = ["--model", "cnn", "--run-dir", str(run_dir), "--epochs", "1", "--batch-size", "32"]
    with mock_learnable(640):
        assert train.main(flags) == 0
    assert json.loads((run_dir / "metrics.json").read_text())["accuracy"] > 0.8


def test_learning_rate_warms_up_then_decays_to_zero():
    from training.keras_loop import learning_rate_schedule

    schedule = learning_rate_schedule(2e-3, total_steps=100, warmup_fraction=0.1)
    rates = [float(schedule(step)) for step in (0, 5, 10, 55, 100)]
    np.testing.assert_allclose(rates, [0.0, 1e-3, 2e-3, 1e-3, 0.0], atol=1e-6)
    no_warmup = learning_rate_schedule(2e-3, total_steps=100, warmup_fraction=0.0)
    np.testing.assert_allclose([float(no_warmup(0)), float(no_warmup(50))], [2e-3, 1e-3], atol=1e-6)


def test_a_forward_pass_per_fresh_model_never_warns_of_retracing():
    """A sweep of short runs traces a forward pass per run (confusion matrix, transcripts), each
    at its first call: TensorFlow must not count them as one function retracing and warn."""
    warnings = []
    catcher = logging.Handler()
    catcher.emit = lambda record: warnings.append(record.getMessage())
    logging.getLogger("tensorflow").addHandler(catcher)
    try:
        for _ in range(6):
            frames = keras.Sequential([keras.Input((None, 3)), keras.layers.Dense(4, "softmax")])
            labelled = tf.data.Dataset.from_tensors((tf.ones((2, 5, 3)), tf.zeros((2, 5))))
            classification.predict_labels(frames, labelled)
            probabilities, tokens = transcription.transcriber(frames)(tf.ones((2, 5, 3)))
            assert probabilities.shape == (2, 5, 4) and tokens.shape[0] == 2
    finally:
        logging.getLogger("tensorflow").removeHandler(catcher)
    assert not [message for message in warnings if "retracing" in message], warnings


def test_an_image_grid_takes_grey_images_with_or_without_a_channel_axis():
    def drawn(images, columns):
        (grid,) = figures.image_grid_figure(images, "samples", columns).axes[0].get_images()
        return grid.get_array()

    images = np.random.default_rng(0).random((3, 6, 5))  # 3 images of 6 x 5, fewer than a row
    tiled = drawn(images, 4)  # 1-pixel white lines between the images, white where none is
    assert tiled.shape == (6, 4 * 5 + 3)
    np.testing.assert_allclose(tiled[:, 6:11], images[1])
    assert np.all(tiled[:, 5] == 1) and np.all(tiled[:, 17:] == 1)
    np.testing.assert_array_equal(drawn(images[..., np.newaxis], 4), tiled)
