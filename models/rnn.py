"""A recurrent text classifier: word embeddings read by stacked bidirectional LSTMs.

An LSTM reads a review one word at a time and carries a memory (its state) from word to word;
gates learn what to keep, what to forget and what to output. Bidirectional runs a second LSTM
from the last word backwards, so each position sees both sides of its context. Padding is
masked: the LSTMs skip the zeros that fill short reviews up to `sequence_length`.

    python train.py --model rnn
    python evaluate.py RUN_DIR --text "a wonderful, moving film"

The model takes raw strings: its first layer turns text into token ids with a vocabulary learned
from the training split.
"""

import keras
from keras import layers

from models import classification, serving, text
from models.registry import CommandLineInput, ModelSpec, register
from training import preprocessing


def build_rnn(data, hyperparameters) -> keras.Model:
    """(batch,) strings -> (batch, num_classes) class probabilities."""
    inputs = text.text_input()
    token_ids = text.make_vectorizer(hyperparameters)(inputs)  # (batch, sequence_length)
    # mask_zero: id 0 is padding; the mask travels with the tensor to the LSTMs.
    x = layers.Embedding(
        hyperparameters["vocabulary_size"],
        hyperparameters["embedding_dim"],
        mask_zero=True,
        name="embedding",
    )(token_ids)  # (batch, sequence_length, embedding_dim)
    *lower_units, top_units = hyperparameters["lstm_units"]
    for units in lower_units:  # each lower LSTM hands its whole sequence to the next one
        x = layers.Bidirectional(layers.LSTM(units, return_sequences=True))(
            x
        )  # (batch, length, 2 * units)
    x = layers.Bidirectional(layers.LSTM(top_units))(x)  # (batch, 2 * units): the last states
    outputs = classification.head(x, data.num_classes, hyperparameters)
    return keras.Model(inputs, outputs, name="rnn")


register(
    ModelSpec(
        name="rnn",
        description="Bidirectional LSTM (functional API) for TFDS text classification, raw strings in",
        dataset="imdb_reviews",
        describe_data=preprocessing.describe_text_classification,
        preprocess=preprocessing.text_classification_example,
        build_model=build_rnn,
        loss="sparse_categorical_crossentropy",
        metrics=("accuracy",),
        hyperparameters={
            "vocabulary_size": 10_000,
            "sequence_length": 400,  # words kept per review: 88% of IMDB training reviews fit whole
            "embedding_dim": 64,
            "lstm_units": (64, 32),
            "dense_units": 32,
            "dropout_rate": 0.4,
        },
        test_hyperparameters={
            "vocabulary_size": 100,
            "sequence_length": 16,
            "embedding_dim": 8,
            "lstm_units": (8,),
            "dense_units": 8,
            "dropout_rate": 0.0,
        },
        epochs=5,
        batch_size=32,
        learning_rate=1e-3,
        callbacks=classification.callbacks,
        report=text.report,
        adapt=text.adapt,
        command_line_input=CommandLineInput(
            "--text", "classify this text (text models)", text.predict_text
        ),
        serving=serving.text_classifier,
    )
)
