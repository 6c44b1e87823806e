"""A Transformer text classifier: self-attention instead of recurrence.

Where an LSTM reads word by word, self-attention lets every word look at every other word at
once and take a weighted mix of them; the weights (attention) are learned from how well the
words' query and key vectors match. Attention itself ignores order, so a learned position
embedding is added to each word's embedding. Padding is masked: no word attends to the zeros
that fill short reviews, and the final average is over real words only.

    python train.py --model transformer
    python evaluate.py RUN_DIR --text "dull and far too long"

TensorBoard's Images tab shows the attention weights for one validation review after training.
"""

import os

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from models import classification, serving, text
from models.registry import CommandLineInput, ModelSpec, register
from training import figures, preprocessing

ATTENTION_TOKENS = 32  # words shown in the attention heatmap


@keras.saving.register_keras_serializable(package="transformer")
class TokenAndPositionEmbedding(layers.Layer):
    """(batch, length) token ids -> (batch, length, embedding_dim): word meaning + position."""

    def __init__(self, vocabulary_size, max_length, embedding_dim, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size, self.max_length, self.embedding_dim = (
            vocabulary_size,
            max_length,
            embedding_dim,
        )
        self.token_embedding = layers.Embedding(vocabulary_size, embedding_dim)
        self.position_embedding = layers.Embedding(max_length, embedding_dim)

    def build(self, input_shape):
        self.token_embedding.build(input_shape)
        self.position_embedding.build((self.max_length,))

    def call(self, token_ids):
        positions = ops.arange(ops.shape(token_ids)[-1])  # (length,), broadcast over the batch
        return self.token_embedding(token_ids) + self.position_embedding(positions)

    def compute_mask(self, token_ids, mask=None):
        return ops.not_equal(token_ids, text.PADDING_ID)  # (batch, length), False at padding

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "max_length": self.max_length,
            "embedding_dim": self.embedding_dim,
        }


@keras.saving.register_keras_serializable(package="transformer")
class MaskedAverage(layers.Layer):
    """(batch, length, dim) and its padding mask -> (batch, dim): the mean over the real words.

    Like GlobalAveragePooling1D with a mask, except for a text with no word at all (empty, or
    only punctuation): there 0 / 0 would be NaN, and the model would answer NaN; here it is the
    zero vector, and the model answers from its biases, as it must for a text it knows nothing of."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, x, mask=None):
        if mask is None:
            return ops.mean(x, axis=1)
        weights = ops.expand_dims(ops.cast(mask, x.dtype), axis=-1)  # (batch, length, 1)
        counts = ops.maximum(ops.sum(weights, axis=1), 1.0)  # (batch, 1): at least one
        return ops.sum(x * weights, axis=1) / counts

    def compute_mask(self, x, mask=None):
        return None  # one vector per text: nothing left to mask

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


@keras.saving.register_keras_serializable(package="transformer")
class TransformerEncoder(layers.Layer):
    """Self-attention and a feed-forward network, each with dropout, a residual and LayerNorm.

    (batch, length, embedding_dim) -> same shape; the padding mask passes through unchanged."""

    def __init__(self, embedding_dim, num_heads, feed_forward_dim, dropout_rate, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.embedding_dim, self.num_heads = embedding_dim, num_heads
        self.feed_forward_dim, self.dropout_rate = feed_forward_dim, dropout_rate
        self.attention = layers.MultiHeadAttention(
            num_heads, key_dim=embedding_dim // num_heads, dropout=dropout_rate
        )
        self.feed_forward_hidden = layers.Dense(feed_forward_dim, activation="relu")
        self.feed_forward_output = layers.Dense(embedding_dim)
        self.attention_norm = layers.LayerNormalization(epsilon=1e-6)
        self.feed_forward_norm = layers.LayerNormalization(epsilon=1e-6)
        self.attention_dropout = layers.Dropout(dropout_rate)
        self.feed_forward_dropout = layers.Dropout(dropout_rate)

    def build(self, input_shape):  # (batch, length, embedding_dim)
        self.attention.build(query_shape=input_shape, value_shape=input_shape)
        self.feed_forward_hidden.build(input_shape)
        self.feed_forward_output.build((*input_shape[:-1], self.feed_forward_dim))
        self.attention_norm.build(input_shape)
        self.feed_forward_norm.build(input_shape)

    def call(self, x, mask=None, training=None, return_attention_scores=False):
        # (batch, 1, length): every word may attend to every real word, never to padding.
        # (Keras would also derive this from the mask that travels with x; here it is explicit.)
        attention_mask = None if mask is None else ops.expand_dims(mask, axis=1)
        attended, scores = self.attention(
            x, x, attention_mask=attention_mask, training=training, return_attention_scores=True
        )  # scores: (batch, num_heads, length, length), each row sums to 1
        x = self.attention_norm(x + self.attention_dropout(attended, training=training))
        feed_forward = self.feed_forward_output(
            self.feed_forward_hidden(x)
        )  # the same MLP at every position
        x = self.feed_forward_norm(x + self.feed_forward_dropout(feed_forward, training=training))
        return (x, scores) if return_attention_scores else x

    def get_config(self):
        return {
            **super().get_config(),
            "embedding_dim": self.embedding_dim,
            "num_heads": self.num_heads,
            "feed_forward_dim": self.feed_forward_dim,
            "dropout_rate": self.dropout_rate,
        }


def build_transformer(data, hyperparameters) -> keras.Model:
    """(batch,) strings -> (batch, num_classes) class probabilities."""
    if hyperparameters["embedding_dim"] % hyperparameters["num_heads"]:
        raise ValueError(
            "embedding_dim must be a multiple of num_heads (each head gets an equal share)"
        )
    inputs = text.text_input()
    token_ids = text.make_vectorizer(hyperparameters)(inputs)  # (batch, sequence_length)
    x = TokenAndPositionEmbedding(
        hyperparameters["vocabulary_size"],
        hyperparameters["sequence_length"],
        hyperparameters["embedding_dim"],
        name="embedding",
    )(token_ids)  # (batch, sequence_length, embedding_dim)
    for block in range(hyperparameters["num_blocks"]):
        x = TransformerEncoder(
            hyperparameters["embedding_dim"],
            hyperparameters["num_heads"],
            hyperparameters["feed_forward_dim"],
            hyperparameters["dropout_rate"],
            name=f"encoder_{block + 1}",
        )(x)
    x = MaskedAverage(name="average_over_words")(x)  # (batch, embedding_dim)
    outputs = classification.head(x, data.num_classes, hyperparameters)
    return keras.Model(inputs, outputs, name="transformer")


def attention_map(model: keras.Model, review: str) -> tuple[list[str], np.ndarray]:
    """The words of `review` the model sees and the first block's attention between them,
    averaged over heads: `(words, weights)`, weights (num_words, num_words), rows sum to 1."""
    token_ids = model.get_layer(text.VECTORIZER_NAME)(tf.constant([review]))  # (1, sequence_length)
    embedding = model.get_layer("embedding")
    mask = embedding.compute_mask(token_ids)
    _, scores = model.get_layer("encoder_1")(
        embedding(token_ids), mask=mask, return_attention_scores=True
    )  # (1, num_heads, sequence_length, sequence_length)
    num_words = int(ops.sum(ops.cast(mask, "int32")))
    vocabulary = model.get_layer(text.VECTORIZER_NAME).get_vocabulary()
    words = [vocabulary[index] for index in np.asarray(token_ids[0, :num_words])]
    return words, np.asarray(ops.mean(scores[0], axis=0))[:num_words, :num_words]


class AttentionImage(keras.callbacks.Callback):
    """At the end of training, puts one validation review's attention heatmap in TensorBoard."""

    def __init__(self, validation, log_dir: str):
        super().__init__()
        self.validation = validation
        self.log_dir = log_dir

    def on_train_end(self, logs=None):
        # The shortest of a few hundred reviews: few enough words to label every row and column.
        reviews = [
            bytes(review).decode()
            for batch, _ in self.validation.take(8)
            for review in batch.numpy()
        ]
        review = min(reviews, key=len)
        words, weights = attention_map(self.model, review)
        image = figures.to_image_tensor(
            figures.attention_figure(
                words[:ATTENTION_TOKENS],
                weights[:ATTENTION_TOKENS, :ATTENTION_TOKENS],
                total_words=len(words),
            )
        )
        writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "validation"))
        with writer.as_default():
            tf.summary.image("attention", image, step=self.params["epochs"])
            tf.summary.text("attention_review", review, step=self.params["epochs"])
        writer.close()


def transformer_callbacks(data_info, validation, log_dir: str) -> list:
    return classification.callbacks(data_info, validation, log_dir) + [
        AttentionImage(validation, log_dir)
    ]


register(
    ModelSpec(
        name="transformer",
        description="Transformer encoder (functional API, own layers) for TFDS text classification",
        dataset="imdb_reviews",
        describe_data=preprocessing.describe_text_classification,
        preprocess=preprocessing.text_classification_example,
        build_model=build_transformer,
        loss="sparse_categorical_crossentropy",
        metrics=("accuracy",),
        hyperparameters={
            "vocabulary_size": 10_000,
            "sequence_length": 512,  # words kept per review: 93% of IMDB training reviews fit whole
            "embedding_dim": 64,
            "num_heads": 4,
            "feed_forward_dim": 128,
            "num_blocks": 1,
            "dense_units": 32,
            "dropout_rate": 0.3,
        },
        test_hyperparameters={
            "vocabulary_size": 100,
            "sequence_length": 16,
            "embedding_dim": 8,
            "num_heads": 2,
            "feed_forward_dim": 8,
            "num_blocks": 1,
            "dense_units": 8,
            "dropout_rate": 0.0,
        },
        epochs=3,
        batch_size=32,
        learning_rate=1e-3,
        callbacks=transformer_callbacks,
        report=text.report,
        adapt=text.adapt,
        command_line_input=CommandLineInput(
            "--text", "classify this text (text models)", text.predict_text
        ),
        serving=serving.text_classifier,
    )
)
