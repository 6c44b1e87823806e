"""The text models: they learn, they mask padding, they keep their vocabulary to the training
split, and a saved model answers raw strings in a fresh process."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_train_evaluate import summary_tags

import evaluate
import models
import train
from conftest import fresh_process_json, start_training, tiny_flags
from models import text
from synthetic import (
    NEGATIVE_WORDS,
    POSITIVE_WORDS,
    TEST_ONLY_WORD,
    mock_learnable,
    sentiment_reviews,
)
from training import preprocessing

TEXT_MODELS = ["rnn", "transformer"]
REVIEWS = ["a wonderful, moving film", "dull and far too long"]


def learnable_flags(model_name, run_dir, *extra):
    """Tiny models, but big enough to find one sentiment word among up to 14 others."""
    return tiny_flags(
        model_name,
        run_dir,
        "--epochs",
        "4",
        "--batch-size",
        "32",
        "--set",
        "embedding_dim=16",
        "--set",
        "dense_units=16",
        *extra,
    )


@pytest.fixture(scope="module")
def text_runs(tmp_path_factory):
    """{model name: finished run directory}, trained on learnable synthetic reviews."""
    runs = {}
    for model_name in TEXT_MODELS:
        runs[model_name] = tmp_path_factory.mktemp("runs") / model_name
        with mock_learnable(640):
            assert train.main(learnable_flags(model_name, runs[model_name])) == 0
    return runs


@pytest.mark.parametrize("model_name", TEXT_MODELS)
def test_learns_far_above_chance(model_name, text_runs):
    """Two classes, so chance is 50%: the model must find the one word that decides."""
    metrics = json.loads((text_runs[model_name] / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.9


@pytest.mark.parametrize("model_name", TEXT_MODELS)
def test_vocabulary_comes_from_the_training_split_only(model_name, text_runs):
    model = keras.saving.load_model(text_runs[model_name] / "model.keras")
    vocabulary = model.get_layer(text.VECTORIZER_NAME).get_vocabulary()
    # Every test review holds TEST_ONLY_WORD, so adapting on the test split would have added it.
    assert TEST_ONLY_WORD not in vocabulary
    assert set(POSITIVE_WORDS + NEGATIVE_WORDS) <= set(vocabulary)
    token_ids = np.asarray(
        model.get_layer(text.VECTORIZER_NAME)(tf.constant([f"good {TEST_ONLY_WORD}"]))
    )
    assert (
        token_ids[0, 1] == text.OUT_OF_VOCABULARY_ID and token_ids[0, 0] > text.OUT_OF_VOCABULARY_ID
    )


def classifier_of_token_ids(model: keras.Model) -> keras.Model:
    """The model without its vectorizer, taking token ids of any length (the layers form a chain)."""
    token_ids = keras.Input(shape=(None,), dtype="int64")
    x = token_ids
    for layer in model.layers[2:]:  # after the string input and the vectorizer
        x = layer(x)
    return keras.Model(token_ids, x)


@pytest.mark.parametrize("model_name", TEXT_MODELS)
def test_padding_does_not_change_the_output(model_name):
    spec = models.get_spec(model_name)
    hyperparameters = {**spec.hyperparameters, **spec.test_hyperparameters}
    data = preprocessing.TextClassificationData(
        "imdb_reviews", num_classes=2, class_names=("neg", "pos")
    )
    classifier = classifier_of_token_ids(spec.build_model(data, hyperparameters))
    review = [5, 17, 42, 8]  # token ids of a four-word review
    short = classifier.predict_on_batch(np.array([review + [0] * 2]))
    long = classifier.predict_on_batch(np.array([review + [0] * 12]))
    np.testing.assert_allclose(short, long, rtol=1e-5, atol=1e-6)
    # The check can fail: a real word in place of the padding does change the answer.
    other = classifier.predict_on_batch(np.array([review + [9] + [0] * 11]))
    assert not np.allclose(other, long, rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def fresh_process_answers(text_runs) -> dict:
    """{model: its saved model's answers to REVIEWS}, every saved model read in one new process."""
    script = (
        "import json, sys, keras, numpy, tensorflow as tf, models\n"
        "answers = {}\n"
        "for name, path in zip(sys.argv[1::2], sys.argv[2::2]):\n"
        "    model = keras.saving.load_model(path)\n"
        f"    answers[name] = numpy.asarray(model(tf.constant({REVIEWS!r}))).tolist()\n"
        "print(json.dumps(answers))\n"
    )
    paths = [str(item) for name in TEXT_MODELS for item in (name, text_runs[name] / "model.keras")]
    return fresh_process_json(script, *paths, timeout=120)


@pytest.mark.parametrize("model_name", TEXT_MODELS)
def test_saved_model_answers_raw_strings_in_a_fresh_process(
    model_name, text_runs, fresh_process_answers
):
    path = text_runs[model_name] / "model.keras"
    here = np.asarray(keras.saving.load_model(path)(tf.constant(REVIEWS)))
    there = np.array(fresh_process_answers[model_name])
    np.testing.assert_allclose(there, here, rtol=1e-6)
    assert (
        here.shape == (2, 2) and here[0, 1] > 0.5 > here[1, 1]
    )  # "wonderful" is positive, "dull" not


def test_evaluate_reports_precision_recall_and_confident_mistakes(text_runs, capsys):
    run_dir = text_runs["transformer"]
    with mock_learnable(200):
        assert evaluate.main([str(run_dir)]) == 0
    output = capsys.readouterr().out
    metrics = json.loads((run_dir / "eval" / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.9 and metrics["precision"] > 0.8 and metrics["recall"] > 0.8
    per_class = json.loads((run_dir / "eval" / "per_class.json").read_text())
    assert set(per_class) == {"neg", "pos"}
    for name in ("confusion_matrix.png", "confident_mistakes.txt", "training_curves.png"):
        assert os.path.getsize(run_dir / "eval" / name) > 0, name
    assert "most confident mistakes" in output and "precision" in output


@pytest.mark.parametrize(
    "review, label", [("a great and brilliant film", "pos"), ("boring and awful", "neg")]
)
def test_evaluate_answers_one_text(review, label, text_runs, capsys):
    assert evaluate.main([str(text_runs["rnn"]), "--text", review]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    predicted, probability = line.split(" (probability ")
    assert predicted == label and 0.5 < float(probability.split(")")[0]) <= 1.0


def test_trains_unchanged_on_another_text_dataset(tmp_path):
    """Classes come from the dataset's info: yelp_polarity_reviews labels its classes "1" and "2"."""
    run_dir = tmp_path / "run"
    with mock_learnable(64):
        assert (
            train.main(
                tiny_flags("rnn", run_dir, "--dataset", "yelp_polarity_reviews", "--epochs", "1")
            )
            == 0
        )
    config = json.loads((run_dir / "config.json").read_text())
    assert config["dataset"] == "yelp_polarity_reviews" and config["data"]["class_names"] == [
        "1",
        "2",
    ]


def test_several_replicas_are_refused_with_a_way_out(tmp_path):
    """Keras 3.15's fit() cannot split raw strings across replicas; the driver says so up front."""
    process = start_training(
        tiny_flags("rnn", tmp_path / "run", "--strategy", "mirrored"), logical_cpus=2
    )
    output, _ = process.communicate(timeout=120)
    assert (
        process.returncode == 2 and "--strategy one_device" in output and "Traceback" not in output
    )
    assert not (tmp_path / "run").exists()


def test_evaluate_refuses_an_empty_text(text_runs, capsys):
    assert evaluate.main([str(text_runs["rnn"]), "--text", "  "]) == 2
    err = capsys.readouterr().err
    assert "the text is empty" in err and "Traceback" not in err


def test_attention_heatmap_in_tensorboard(text_runs):
    tags = summary_tags(text_runs["transformer"] / "logs" / "validation")
    assert tags.get("attention") == "images" and tags.get("confusion_matrix") == "images"


def test_sentiment_reviews_are_balanced_and_decided_by_one_word():
    reviews, labels = sentiment_reviews(200, seed=1)
    assert 0.35 < labels.mean() < 0.65
    for review, label in zip(reviews, labels):
        words = set(review.lower().rstrip(".").split())
        assert bool(words & set(POSITIVE_WORDS)) == bool(label) != bool(words & set(NEGATIVE_WORDS))


@pytest.mark.parametrize("model_name", ["rnn", "transformer"])
def test_a_text_with_no_word_gets_a_real_probability(model_name, text_runs, capsys):
    """Punctuation alone leaves no token at all (every position is padding): the Transformer's
    average over words would be 0 / 0 without care. evaluate.py refuses such a text; the
    model itself still answers it with real numbers."""
    assert evaluate.main([str(text_runs[model_name]), "--text", "!!! ... ???"]) == 2
    assert "has no word in it" in capsys.readouterr().err
    model = keras.saving.load_model(text_runs[model_name] / "model.keras")
    probabilities = np.asarray(model(tf.constant(["!!! ... ???", "", "<br />"])))
    assert np.all(np.isfinite(probabilities)) and np.allclose(probabilities.sum(axis=-1), 1.0)
