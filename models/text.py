"""What every text classifier shares: raw strings in, tokens inside the model, and its report.

The vectorizer (text -> token ids) is the model's first layer, so a saved `model.keras` takes raw
strings and carries its own vocabulary. Its vocabulary is learned ("adapted") from the training
split only: a word that appears only in the test split maps to the out-of-vocabulary id 1, as it
would for any new review.

Model specs point at `make_vectorizer`, `adapt`, `report` and `predict_text` here.
"""

import os
import re

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from models import classification
from training import runs
from training.errors import UsageError

VECTORIZER_NAME = "vectorize"
PADDING_ID, OUT_OF_VOCABULARY_ID = 0, 1  # TextVectorization's reserved ids
MISTAKES_PRINTED, MISTAKES_SAVED = 5, 25


@keras.saving.register_keras_serializable(package="text")
def standardize(texts: tf.Tensor) -> tf.Tensor:
    """Lower case; "don't" -> "dont"; HTML line breaks (common in web reviews) and anything
    that is not a letter or a digit (punctuation, control characters) separate words."""
    texts = tf.strings.lower(texts, encoding="utf-8")
    texts = tf.strings.regex_replace(texts, "['\u2019]", "")  # straight and curly apostrophes
    texts = tf.strings.regex_replace(texts, r"<br\s*/?>", " ")
    return tf.strings.regex_replace(texts, r"[^\p{L}\p{N}]+", " ")


def make_vectorizer(hyperparameters) -> layers.TextVectorization:
    """(batch,) strings -> (batch, sequence_length) token ids, 0-padded or cut at the end."""
    return layers.TextVectorization(
        max_tokens=hyperparameters["vocabulary_size"],
        standardize=standardize,
        output_sequence_length=hyperparameters["sequence_length"],
        name=VECTORIZER_NAME,
    )


def text_input() -> keras.KerasTensor:
    """One raw string per example: shape (batch,)."""
    return keras.Input(shape=(), dtype="string", name="text")


def adapt(model: keras.Model, training_texts: tf.data.Dataset) -> None:
    """Learns the vocabulary (the most frequent words) from batches of training texts."""
    model.get_layer(VECTORIZER_NAME).adapt(training_texts)


def report(model, batches, data_info, out_dir: str) -> tuple[dict, dict]:
    """The classifier summary plus confident_mistakes.txt: the wrong answers the model was surest of.

    Those teach most: on IMDB, reviews that change their mind halfway, or praise with irony."""
    labels, predictions, confidences, texts = classification.predict_labels(
        model, batches, keep_inputs=10**9
    )
    files, metrics = classification.summarize(labels, predictions, data_info.class_names, out_dir)
    names = data_info.class_names
    wrong = np.flatnonzero(labels != predictions)
    wrong = wrong[np.argsort(-confidences[wrong], kind="stable")][:MISTAKES_SAVED]
    lines = [
        f"{confidences[index]:.3f} {names[predictions[index]]} (true: {names[labels[index]]}): "
        f"{shorten(texts[index])}"
        for index in wrong
    ]
    path = os.path.join(out_dir, "confident_mistakes.txt")
    runs.write_text(path, "confidence, predicted (true): review\n" + "\n".join(lines) + "\n")
    print(
        f"The {min(MISTAKES_PRINTED, len(lines))} most confident mistakes (all {len(lines)} in {path}):"
    )
    for line in lines[:MISTAKES_PRINTED]:
        print(f"  {line}")
    files["confident_mistakes"] = path
    return files, metrics


def shorten(text, width: int = 160) -> str:
    """A review on one line, cut to `width` characters."""
    text = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else str(text)
    text = " ".join(re.sub(r"<br\s*/?>", " ", text).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def predict_text(model, data: dict, text: str) -> str:
    """`evaluate.py RUN_DIR --text "..."`: the predicted class and its probability."""
    if not text.strip():
        raise UsageError(
            'the text is empty; give a sentence to classify, e.g. --text "a moving film".'
        )
    if not bytes(standardize(tf.constant(text)).numpy()).strip():
        raise UsageError(
            f"the text {shorten(text)!r} has no word in it (only punctuation or symbols); give "
            'a sentence to classify, e.g. --text "a moving film".'
        )
    probabilities = np.asarray(model(tf.constant([text]), training=False))[0]  # (num_classes,)
    best = int(np.argmax(probabilities))
    return f"{data['class_names'][best]} (probability {probabilities[best]:.3f}): {shorten(text)}"
