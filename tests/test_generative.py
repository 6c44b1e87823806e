"""The GAN and the VAE: the math of their losses, the Frechet distance, global-batch averaging
under tf.distribute, saving, and train.py -> evaluate.py end to end."""

import json
import os
import shutil

import keras
import numpy as np
import pytest
from test_train_evaluate import summary_tags

import evaluate
import train
from conftest import fresh_process_json, tiny_flags
from models import generative, vae
from synthetic import mock_learnable

GENERATIVE_MODELS = ["gan", "vae"]
EPOCHS = 2


def test_kl_of_the_prior_is_zero_and_matches_a_hand_computed_value():
    zeros = np.zeros((2, 3), np.float32)
    np.testing.assert_allclose(vae.kl_divergence(zeros, zeros), [0.0, 0.0], atol=1e-7)
    # N(1, 4) against N(0, 1), per dimension: (variance + mean^2 - 1 - ln variance) / 2
    by_hand = 3 * 0.5 * (4.0 + 1.0 - 1.0 - np.log(4.0))  # 3.9205...
    kl = vae.kl_divergence(np.ones((1, 3), np.float32), np.full((1, 3), np.log(4.0), np.float32))
    np.testing.assert_allclose(kl, [by_hand], rtol=1e-6)


def test_negative_elbo_of_a_perfect_reconstruction_is_the_kl():
    images = (np.random.default_rng(0).uniform(size=(2, 4, 4, 1)) > 0.5).astype(
        np.float32
    )  # black and white
    certain = 100.0 * (2 * images - 1)  # logits: P(ink) = 1 where there is ink, 0 elsewhere
    mean, log_variance = np.full((2, 3), 0.5, np.float32), np.full((2, 3), -1.0, np.float32)
    kl = np.asarray(vae.kl_divergence(mean, log_variance))
    negative_elbo = np.asarray(vae.reconstruction_loss(images, certain)) + kl
    np.testing.assert_allclose(negative_elbo, kl, rtol=1e-6)
    # A blurry reconstruction (P(ink) = 0.5 everywhere) costs ln 2 per pixel on top.
    blurry = np.asarray(vae.reconstruction_loss(images, np.zeros_like(images)))
    np.testing.assert_allclose(blurry, [16 * np.log(2)] * 2, rtol=1e-6)


def test_frechet_distance_is_zero_for_a_set_with_itself_and_grows_with_a_shift():
    features = np.random.default_rng(1).normal(size=(500, 6))
    assert abs(generative.frechet_distance(features, features)) < 1e-4
    distances = [
        generative.frechet_distance(features, features + shift) for shift in (0.5, 1.0, 2.0)
    ]
    # Same covariance, so the distance is exactly the squared shift of the mean: 6 * shift^2.
    np.testing.assert_allclose(distances, [6 * 0.25, 6 * 1.0, 6 * 4.0], rtol=1e-3)


# One process for every model: MirroredStrategy's collective operations allow one such strategy
# per process, so both strategies are made once and each model takes a step under each.
ONE_STEP = """
import json, sys
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras, models
from training import preprocessing

strategies = {"one": tf.distribute.OneDeviceStrategy("/cpu:0"),
              "two": tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])}
data = preprocessing.ImageGenerationData("mnist", (8, 8, 1))
images = np.random.default_rng(0).uniform(size=(8, 8, 8, 1)).astype(np.float32)
answers = {}
for model_name in sys.argv[1:]:
    spec = models.get_spec(model_name)
    results = answers[model_name] = {}
    for name, strategy in strategies.items():
        keras.utils.set_random_seed(0)
        with strategy.scope():
            model = spec.build_model(data, {**spec.hyperparameters, **spec.test_hyperparameters})
            model.compile(optimizer=keras.optimizers.SGD(0.5))
        results["before"] = [np.asarray(weight).tolist() for weight in model.trainable_weights]
        model.fit(tf.data.Dataset.from_tensor_slices((images,)).batch(8), epochs=1, verbose=0,
                  shuffle=False)
        results[name] = [np.asarray(weight).tolist() for weight in model.trainable_weights]
print(json.dumps(answers))
"""


@pytest.fixture(scope="module")
def one_step_weights():
    """{model: {"before", "one", "two"}}: its trainable weights before a step and after one on
    one device and on two replicas, computed in a fresh process split into two logical CPUs."""
    return fresh_process_json(ONE_STEP, *GENERATIVE_MODELS)


@pytest.mark.parametrize("model_name", GENERATIVE_MODELS)
def test_one_step_on_two_replicas_matches_one_device(model_name, one_step_weights):
    """Plain SGD (Adam would hide a wrong gradient scale), global batch 8 = 2 replicas x 4.
    A per-replica mean instead of the global-batch mean would double every update."""
    weights = one_step_weights[model_name]
    for before, one, two in zip(weights["before"], weights["one"], weights["two"], strict=True):
        update = np.asarray(one) - np.asarray(before)
        np.testing.assert_allclose(two, one, rtol=1e-5, atol=1e-6)
        assert np.abs(np.asarray(two) - np.asarray(one)).max() <= 1e-3 * max(
            np.abs(update).max(), 1e-3
        )
    assert any(
        np.abs(np.asarray(one) - np.asarray(before)).max() > 1e-4
        for before, one in zip(weights["before"], weights["one"])
    ), "the step changed nothing"


@pytest.fixture(scope="module")
def generative_runs(tmp_path_factory):
    """{model name: finished run}, and "cnn": the classifier whose features measure both."""
    runs_root = tmp_path_factory.mktemp("runs")
    runs = {}
    for model_name in (*GENERATIVE_MODELS, "cnn"):
        runs[model_name] = runs_root / model_name
        with mock_learnable(96):
            assert (
                train.main(tiny_flags(model_name, runs[model_name], "--epochs", str(EPOCHS))) == 0
            )
    return runs


@pytest.mark.parametrize("model_name", GENERATIVE_MODELS)
def test_samples_in_tensorboard_every_epoch(model_name, generative_runs):
    assert summary_tags(generative_runs[model_name] / "logs" / "train").get("samples") == "images"
    history = (generative_runs[model_name] / "history.csv").read_text().splitlines()
    assert len(history) == 1 + EPOCHS


def test_vae_reports_losses_in_nats_per_image(generative_runs):
    metrics = json.loads((generative_runs["vae"] / "metrics.json").read_text())
    assert set(metrics) == {"loss", "reconstruction_loss", "kl_loss"}
    np.testing.assert_allclose(
        metrics["loss"], metrics["reconstruction_loss"] + metrics["kl_loss"], rtol=1e-4
    )
    assert (
        0 < metrics["loss"] < 28 * 28 * np.log(2) * 1.5
    )  # about ln 2 per pixel at worst, early on


@pytest.mark.parametrize(
    "model_name, figures",
    [
        ("vae", ["samples", "reconstructions", "latent_manifold"]),
        ("gan", ["samples", "interpolation"]),
    ],
)
def test_evaluate_writes_figures_and_a_frechet_distance(
    model_name, figures, generative_runs, capsys
):
    run_dir, classifier = generative_runs[model_name], generative_runs["cnn"]
    runs_before = sorted(os.listdir(run_dir.parent))
    with mock_learnable(96):
        if model_name == "gan":  # once is enough: the same code answers both models
            assert evaluate.main([str(run_dir)]) == 0  # without --features: figures, no distance
            assert "No Frechet distance: name the classifier run" in capsys.readouterr().out
            metrics = json.loads((run_dir / "eval" / "metrics.json").read_text())
            assert "frechet_distance" not in metrics
        assert evaluate.main([str(run_dir), "--features", str(classifier)]) == 0
    out = capsys.readouterr().out
    assert f"in the features of the classifier in {classifier}" in out
    assert "not the Inception-based FID" in out
    metrics = json.loads((run_dir / "eval" / "metrics.json").read_text())
    assert metrics["frechet_distance"] > 0 and metrics["frechet_examples"] == 96
    for name in figures:
        assert os.path.getsize(run_dir / "eval" / f"{name}.png") > 0, name
    assert sorted(os.listdir(run_dir.parent)) == runs_before, "evaluation trains nothing"


def test_features_must_come_from_a_classifier_run_on_the_same_dataset(
    generative_runs, tmp_path, capsys
):
    classifier = tmp_path / "cnn-elsewhere"
    shutil.copytree(generative_runs["cnn"], classifier)
    config = json.loads((classifier / "config.json").read_text())
    (classifier / "config.json").write_text(json.dumps({**config, "dataset": "cifar10"}))
    with mock_learnable(96):
        assert evaluate.main([str(generative_runs["gan"]), "--features", str(classifier)]) == 2
    err = capsys.readouterr().err
    assert "trained on cifar10; this run generates mnist images" in err
    with mock_learnable(96):
        assert evaluate.main([str(generative_runs["cnn"]), "--features", str(classifier)]) == 2
    assert "cnn does not take --features" in capsys.readouterr().err


@pytest.mark.parametrize("model_name", GENERATIVE_MODELS)
def test_evaluate_takes_a_split_of_fewer_images_than_a_row_of_its_figures(
    model_name, generative_runs, tmp_path
):
    """Figures lay images out in rows of 8: a test split of 5 images fills part of one row."""
    run_dir = tmp_path / model_name
    shutil.copytree(generative_runs[model_name], run_dir)
    with mock_learnable(5):
        assert evaluate.main([str(run_dir)]) == 0
    for name in ("samples", "reconstructions") if model_name == "vae" else ("samples",):
        assert os.path.getsize(run_dir / "eval" / f"{name}.png") > 0, name


SAMPLE = """
import json, sys
import keras, numpy, models
samples = {}
for name, path in zip(sys.argv[1::2], sys.argv[2::2]):
    model = keras.saving.load_model(path)
    noise = numpy.random.default_rng(0).standard_normal((3, model.latent_dim)).astype("float32")
    part = model.generator if hasattr(model, "generator") else model
    images = part.predict(noise, verbose=0) if part is not model else model.generate(noise)
    samples[name] = numpy.asarray(images).tolist()
print(json.dumps(samples))
"""


@pytest.fixture(scope="module")
def fresh_process_samples(generative_runs) -> dict:
    """{model: 3 images its saved model.keras generates in a new process}, one process for all."""
    paths = [
        str(item)
        for name in GENERATIVE_MODELS
        for item in (name, generative_runs[name] / "model.keras")
    ]
    return fresh_process_json(SAMPLE, *paths, timeout=120)


@pytest.mark.parametrize("model_name", GENERATIVE_MODELS)
def test_saved_model_samples_the_same_in_a_fresh_process(
    model_name, generative_runs, fresh_process_samples
):
    """For the GAN, the generator alone (model.generator) samples from the reloaded file."""
    path = generative_runs[model_name] / "model.keras"
    model = keras.saving.load_model(path)
    assert (
        int(model.optimizer.iterations) > 0
    )  # compile_from_config: the optimizer's state reloads too
    noise = np.random.default_rng(0).standard_normal((3, model.latent_dim)).astype("float32")
    here = np.asarray(model.generate(noise))
    there = np.array(fresh_process_samples[model_name])
    assert there.shape == (3, 28, 28, 1) and 0 <= there.min() and there.max() <= 1
    np.testing.assert_allclose(there, here, rtol=1e-5, atol=1e-6)


def test_gan_trains_unchanged_on_rgb_images(tmp_path):
    run_dir = tmp_path / "run"
    with mock_learnable(32):
        assert train.main(tiny_flags("gan", run_dir, "--dataset", "cifar10", "--epochs", "1")) == 0
    model = keras.saving.load_model(run_dir / "model.keras")
    assert model.generate(np.zeros((2, model.latent_dim), np.float32)).shape == (2, 32, 32, 3)
