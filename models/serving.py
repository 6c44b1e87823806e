"""What each kind of trained model offers once deployed: its endpoints, declared per spec.

A spec's `serving` is one of the functions below: `(trained model) -> Serving`. `export.py`
writes the endpoints as SavedModel signatures (TensorFlow Serving calls the first one,
"serving_default", unless told otherwise) and, where LiteRT can hold them, as the signatures of
a `.tflite` file. Each endpoint takes what a client has (uint8 pixels, raw strings, waveforms,
noise, observations) and returns named outputs, so nothing of the training code is needed to
call it.
"""

import tensorflow as tf

from models import audio
from models.registry import Endpoint, Serving
from training import preprocessing

# What LiteRT's built-in ops lack for a model that reads raw strings.
STRING_OPS_REFUSAL = (
    "its first layer works on strings (lower-casing, regular expressions, splitting into words, "
    "a vocabulary lookup), and LiteRT's built-in ops hold none of them; serve the SavedModel "
    "instead (TensorFlow Serving, or tf.saved_model.load in Python)"
)


def image_classifier(model) -> Serving:
    """uint8 pixels (batch, height, width, channels) -> class probabilities (batch, num_classes).

    The pixels go through the very function that prepared them for training
    (training/preprocessing.py: float32 in [0, 1]), so the model is unchanged and a client
    sends raw images."""

    def classify(image):
        pixels, _ = preprocessing.image_classification_example({"image": image, "label": 0})
        return {"probabilities": model(pixels, training=False)}

    shape = tuple(model.inputs[0].shape)  # (None, height, width, channels)
    return Serving(
        endpoints=(Endpoint("classify", classify, tf.TensorSpec(shape, tf.uint8, name="image")),),
        networks=(model,),
    )


def text_classifier(model) -> Serving:
    """Raw strings (batch,) -> class probabilities (batch, num_classes); the model's own
    vectorizer turns them into tokens, with the vocabulary learned in training."""

    def classify(text):
        return {"probabilities": model(text, training=False)}

    return Serving(
        endpoints=(Endpoint("classify", classify, tf.TensorSpec((None,), tf.string, name="text")),),
        networks=(model,),
        litert_refusal=STRING_OPS_REFUSAL,
    )


def waveform_classifier(model) -> Serving:
    """float32 waveforms (batch, samples) in [-1, 1] at the training data's sample rate, any
    length -> class probabilities (batch, num_classes).

    LiteRT gets one clip of the model's fixed length: its converter unrolls the LSTMs' loop only
    for a known batch size and length. A client pads or crops the clip to that length (what
    the model's first layer does for any other length)."""

    def classify(waveform):
        return {"probabilities": model(waveform, training=False)}

    clip_samples = model.get_layer(audio.FIXED_LENGTH_NAME).num_samples
    return Serving(
        endpoints=(
            Endpoint(
                "classify",
                classify,
                tf.TensorSpec((None, None), tf.float32, name="waveform"),
                litert_input=tf.TensorSpec((1, clip_samples), tf.float32, name="waveform"),
            ),
        ),
        networks=(model,),
    )


def transcriber(model) -> Serving:
    """float32 waveforms (batch, samples) in [-1, 1] at the training data's sample rate,
    zero-padded, any length -> the decoded transcript and the per-frame probabilities.

    "words": (batch, longest transcript) int32 word ids (the class index: digit k for
    spoken_digit), -1 after each transcript's end; decoded greedily (each frame's most likely
    symbol, repeats collapsed, blanks dropped), not with evaluate.py's beam search.
    "probabilities": (batch, frames, words + 1), symbol 0 being CTC's blank and word k symbol
    k + 1, for a client's own decoder."""

    def transcribe(waveform):
        probabilities = model(waveform, training=False)  # padding frames are all zeros
        return {"words": greedy_ctc_words(probabilities), "probabilities": probabilities}

    return Serving(
        endpoints=(
            Endpoint(
                "transcribe", transcribe, tf.TensorSpec((None, None), tf.float32, name="waveform")
            ),
        ),
        networks=(model,),
        litert_refusal=(
            "LiteRT's converter turns its LSTMs into built-in ops only for a fixed batch and "
            "length, and an utterance has no fixed length (a fixed one would cut or pad what is "
            "said)"
        ),
    )


def greedy_ctc_words(probabilities) -> tf.Tensor:
    """(batch, frames, words + 1) CTC probabilities, blank first -> (batch, longest) int32 word
    ids, -1 padded: each frame's most likely symbol, repeats collapsed, blanks dropped
    ("1 1 blank 1 2" -> words 0, 0, 1). An all-zero padding frame counts as a blank."""
    best = tf.argmax(probabilities, axis=-1, output_type=tf.int32)  # (batch, frames)
    previous = tf.pad(best[:, :-1], [[0, 0], [1, 0]], constant_values=-1)
    keep = tf.logical_and(best != previous, best != 0)
    return tf.ragged.boolean_mask(best - 1, keep).to_tensor(default_value=-1)


def _generate_endpoint(model, name: str, input_name: str) -> Endpoint:
    def generate(noise):
        return {"images": model.generate(noise)}

    return Endpoint(
        name, generate, tf.TensorSpec((None, model.latent_dim), tf.float32, name=input_name)
    )


def generator(model) -> Serving:
    """Noise (batch, latent_dim) drawn from N(0, I) -> images (batch, height, width, channels) in
    [0, 1]. Only the generator is exported: a GAN's discriminator and optimizers are training
    tools."""
    return Serving(
        endpoints=(_generate_endpoint(model, "generate", "noise"),), networks=(model.generator,)
    )


def autoencoder(model) -> Serving:
    """A VAE's three uses: generate (noise -> images), encode (images in [0, 1] -> the mean and
    log-variance of their latent Gaussian) and decode (latent points -> images)."""

    def encode(image):
        mean, log_variance = model.encoder(image, training=False)
        return {"mean": mean, "log_variance": log_variance}

    image_shape = tuple(model.encoder.inputs[0].shape)  # (None, height, width, channels)
    return Serving(
        endpoints=(
            _generate_endpoint(model, "generate", "noise"),
            Endpoint("encode", encode, tf.TensorSpec(image_shape, tf.float32, name="image")),
            _generate_endpoint(model, "decode", "latent"),
        ),
        networks=(model.encoder, model.decoder),
    )


def policy(model) -> Serving:
    """Observations (batch, observation_size) -> action scores (batch, num_actions); the greedy
    action is the argmax. (A DQN's scores are Q-values, a policy gradient's are logits.)"""

    def act(observation):
        return {"action_scores": model(observation, training=False)}

    shape = tuple(model.inputs[0].shape)
    return Serving(
        endpoints=(Endpoint("policy", act, tf.TensorSpec(shape, tf.float32, name="observation")),),
        networks=(model,),
    )
