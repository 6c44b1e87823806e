"""CTC: the loss, the decoding and the scores of a model that writes a word sequence.

A recognizer hears T frames and must write a few words, with no one saying which frame holds
which word. CTC (connectionist temporal classification) lets the network output, for every
frame, probabilities over the words plus one extra symbol, the blank (index 0 here: word k is
symbol k + 1). A path (one symbol per frame) reads as text by collapsing repeats, then dropping
blanks:  "_ 4 4 _ _ 1 _ 1 1 _" -> "4 1 1". The blank between the two 1s keeps them apart.
The loss is -log of the summed probability of every path that reads as the right text
(`keras.ops.ctc_loss`), so no frame-by-frame labels are needed.

Decoding: greedy (the most likely symbol of each frame, collapsed) or beam search (keeps the
`beam_width` most likely texts while reading the frames). Score: the word error rate,
(substitutions + deletions + insertions) / words said, from the edit distance.

The model marks its padding frames (zero-padded waveforms in a batch) with all-zero
probabilities; `spoken_frames` counts the others, so the loss and the decoders use each
utterance's real number of frames and padding never counts.
"""

import keras
import numpy as np
import tensorflow as tf

BLANK = 0


def spoken_frames(probabilities) -> tf.Tensor:
    """(batch, frames, symbols) -> (batch,) int32: frames that are not padding (sum to 1, not 0)."""
    totals = tf.reduce_sum(tf.cast(probabilities, tf.float32), axis=-1)
    return tf.reduce_sum(tf.cast(totals > 0.5, tf.int32), axis=-1)


@keras.saving.register_keras_serializable(package="transcripts")
def ctc_loss(tokens, probabilities):
    """tokens (batch, words) with 0 as padding; probabilities (batch, frames, symbols).
    Returns (batch,) losses over each utterance's real frames and words."""
    tokens = tf.cast(tokens, tf.int32)
    probabilities = tf.cast(probabilities, tf.float32)
    word_counts = tf.reduce_sum(tf.cast(tokens != 0, tf.int32), axis=-1)
    # ctc_loss normalizes its inputs with log-softmax, which leaves log-probabilities as they are.
    return keras.ops.ctc_loss(
        tokens,
        tf.math.log(probabilities + 1e-30),
        word_counts,
        spoken_frames(probabilities),
        mask_index=BLANK,
    )


def decode(probabilities, beam_width: int = 1) -> tf.Tensor:
    """(batch, frames, symbols) -> (batch, frames) int32 tokens, -1 after the text's end.
    beam_width 1: greedy; more: beam search."""
    probabilities = tf.cast(probabilities, tf.float32)
    decoded, _ = keras.ops.ctc_decode(
        tf.math.log(probabilities + 1e-30),
        spoken_frames(probabilities),
        strategy="greedy" if beam_width <= 1 else "beam_search",
        beam_width=beam_width,
        mask_index=BLANK,
    )
    return decoded[0]


def _sparse(tokens, padding: int) -> tf.SparseTensor:
    tokens = tf.cast(tokens, tf.int64)
    return tf.sparse.from_dense(tf.where(tokens == padding, tf.zeros_like(tokens), tokens + 1))


def word_errors(references, hypotheses) -> tf.Tensor:
    """references (batch, words) tokens padded with 0; hypotheses (batch, n) padded with -1.
    Returns (batch,) edit distances: the fewest substitutions, deletions and insertions that
    turn each hypothesis into its reference."""
    # tf.edit_distance compares sparse sequences; the shift keeps token 0 (if any) a value.
    distances = tf.edit_distance(_sparse(hypotheses, -1), _sparse(references, 0), normalize=False)
    return tf.reshape(distances, [-1])  # (batch,), a shape Keras' metrics can read


def corpus_word_error_rate(references, hypotheses) -> float:
    """Total edit distance / total words said, over all the utterances given."""
    words = np.sum(np.asarray(references) != 0)
    return float(np.sum(word_errors(references, hypotheses))) / max(int(words), 1)


# Metrics as functions: Keras averages their per-utterance values. A spec holds no metric
# objects, since creating their variables at import would start TensorFlow's runtime before a
# multi-worker strategy can configure it.
@keras.saving.register_keras_serializable(package="transcripts")
def word_error_rate(tokens, probabilities):
    """Greedy decoding's word error rate of each batch, given to each of its utterances (errors
    times batch size / words in the batch), so their mean is the batch's rate; over an epoch,
    the mean of the batches' rates. evaluate.py computes the exact rate over all test strings."""
    errors = tf.cast(word_errors(tokens, decode(probabilities)), tf.float32)
    words = tf.reduce_sum(tf.cast(tf.not_equal(tokens, 0), tf.float32))
    return errors * tf.cast(tf.shape(errors)[0], tf.float32) / tf.maximum(words, 1.0)


@keras.saving.register_keras_serializable(package="transcripts")
def string_accuracy(tokens, probabilities):
    """1 for each utterance whose greedy transcript is entirely right, else 0."""
    return tf.cast(word_errors(tokens, decode(probabilities)) == 0, tf.float32)


def as_words(tokens, class_names) -> str:
    """Tokens (word k = k + 1; 0 and -1 are padding) -> "4 1 5"."""
    return " ".join(class_names[token - 1] for token in np.asarray(tokens) if token > 0)
