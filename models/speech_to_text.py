"""Speech to text: a CTC recognizer that writes down spoken digit strings ("4 1 5 5 0 1").

`speech` names the one word a clip holds; this model transcribes an utterance of several words,
spoken without pauses that a program could cut at. The network turns the raw waveform into a
log-mel spectrogram (one 40-band spectrum every 10 ms), stacks every 4 consecutive spectra into
one frame (40 ms per frame: still several frames per word, and a quarter of the steps for the
LSTMs), optionally passes them through a convolution, reads the frames with stacked
bidirectional LSTMs and gives, for every frame, probabilities over the words plus
CTC's blank. The CTC loss (models/transcripts.py) learns from the word sequence alone.

    python train.py --model speech_to_text
    python evaluate.py RUN_DIR                        # beam search on the fixed test strings
    python evaluate.py RUN_DIR --audio my_numbers.wav # prints e.g. "4 1 5 5 0 1"

The utterances are built from TFDS spoken_digit's clips (models/spoken_strings.py): 1 to 7
digits of one speaker, new strings all the time in training, fixed validation and test strings
of the published split's validation and test takes.
"""

import keras
import tensorflow as tf
from keras import layers

from models import audio, serving, spoken_strings, transcription, transcripts
from models.registry import CommandLineInput, ModelSpec, register
from training import preprocessing
from training.errors import UsageError

PAD_NAME = "at_least_one_frame"
FRAMES_NAME = "spoken_frames"
OUTPUT_NAME = "probabilities"


def frame_count(waveforms, frame_length: int, frame_step: int, stacked: int) -> tf.Tensor:
    """(batch, samples) -> (batch,) int32: frames that end before the trailing zero padding,
    after stacking `stacked` spectra per frame (at least 1)."""
    nonzero = tf.cast(tf.not_equal(waveforms, 0.0), tf.int32)
    positions = tf.range(1, tf.shape(waveforms)[1] + 1)
    lengths = tf.reduce_max(nonzero * positions, axis=-1)  # last nonzero sample + 1, or 0
    spectra = 1 + (lengths - frame_length) // frame_step
    return tf.maximum(spectra // stacked, 1)  # a stacked frame is real if all its spectra are


@keras.saving.register_keras_serializable(package="speech_to_text")
class AtLeastOneFrame(layers.Layer):
    """Pads waveforms shorter than one analysis frame with zeros (the STFT needs one frame)."""

    def __init__(self, num_samples: int, **kwargs):
        super().__init__(**kwargs)
        self.num_samples = num_samples

    def call(self, waveforms):
        missing = tf.maximum(self.num_samples - tf.shape(waveforms)[1], 0)
        return tf.pad(waveforms, [[0, 0], [0, missing]])

    def get_config(self):
        return {**super().get_config(), "num_samples": self.num_samples}


@keras.saving.register_keras_serializable(package="speech_to_text")
class SpokenFrames(layers.Layer):
    """(batch, samples) waveforms -> (batch,) how many output frames hold sound, not padding."""

    def __init__(self, frame_length: int, frame_step: int, stacked: int, **kwargs):
        super().__init__(**kwargs)
        self.frame_length, self.frame_step, self.stacked = frame_length, frame_step, stacked

    def call(self, waveforms):
        return frame_count(waveforms, self.frame_length, self.frame_step, self.stacked)

    def get_config(self):
        return {
            **super().get_config(),
            "frame_length": self.frame_length,
            "frame_step": self.frame_step,
            "stacked": self.stacked,
        }


@keras.saving.register_keras_serializable(package="speech_to_text")
class StackFrames(layers.Layer):
    """(batch, frames, bands) -> (batch, frames // stacked, stacked * bands): consecutive
    spectra side by side, a lower frame rate that loses nothing (the spectra left over at the
    end, fewer than `stacked`, are dropped)."""

    def __init__(self, stacked: int, **kwargs):
        super().__init__(**kwargs)
        self.stacked = stacked

    def call(self, spectra):
        frames = tf.shape(spectra)[1] // self.stacked
        kept = spectra[:, : frames * self.stacked]
        return tf.reshape(kept, [tf.shape(spectra)[0], frames, self.stacked * spectra.shape[-1]])

    def compute_output_shape(self, input_shape):
        frames = None if input_shape[1] is None else input_shape[1] // self.stacked
        return (input_shape[0], frames, self.stacked * input_shape[2])

    def get_config(self):
        return {**super().get_config(), "stacked": self.stacked}


@keras.saving.register_keras_serializable(package="speech_to_text")
class FrameMask(layers.Layer):
    """[(batch, frames, features), (batch,) counts] -> (batch, frames) bool: True on real frames."""

    def call(self, inputs):
        frames, counts = inputs
        return tf.sequence_mask(counts, tf.shape(frames)[1])


@keras.saving.register_keras_serializable(package="speech_to_text")
class FrameProbabilities(layers.Layer):
    """[(batch, frames, symbols) logits, (batch,) counts] -> per-frame probabilities on real
    frames, zeros on padding frames (how the loss and decoders find each utterance's length).
    Also carries the beam width evaluate.py decodes with, so it travels with model.keras."""

    def __init__(self, beam_width: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.beam_width = beam_width

    def call(self, inputs, mask=None):  # the LSTMs' mask ends here: the zeros say it
        logits, counts = inputs
        real = tf.sequence_mask(counts, tf.shape(logits)[1], dtype=logits.dtype)
        return tf.nn.softmax(logits) * real[:, :, tf.newaxis]

    def compute_mask(self, inputs, mask=None):
        return None  # a Keras mask on the output would make the loss weigh frames, not utterances

    def get_config(self):
        return {**super().get_config(), "beam_width": self.beam_width}


def build_speech_to_text(data, hyperparameters) -> keras.Model:
    """(batch, samples) float waveforms at `data.sample_rate`, zero-padded, any length ->
    (batch, frames, num_classes + 1) probabilities; symbol 0 is the blank, word k is k + 1."""
    inputs = keras.Input(shape=(None,), name="waveform")
    spectrogram_layer = audio.LogMelSpectrogram(
        data.sample_rate,
        hyperparameters["num_mel_bins"],
        name=audio.SPECTROGRAM_NAME,
        dtype="float32",  # float16 cannot hold spectra's range
    )
    frame_length, frame_step, _ = audio.frame_sizes(
        data.sample_rate, spectrogram_layer.frame_seconds, spectrogram_layer.step_seconds
    )
    stacked = hyperparameters["stacked_frames"]
    x = AtLeastOneFrame(frame_length + (stacked - 1) * frame_step, name=PAD_NAME, dtype="float32")(
        inputs
    )
    x = spectrogram_layer(x)  # (batch, spectra, num_mel_bins)
    x = layers.Normalization(axis=-1, name=audio.NORMALIZATION_NAME, dtype="float32")(x)
    x = StackFrames(stacked)(x)  # (batch, spectra // stacked, stacked * num_mel_bins)
    counts = SpokenFrames(frame_length, frame_step, stacked, name=FRAMES_NAME, dtype="float32")(
        inputs
    )  # float32: float16 would round faint samples to zero
    if hyperparameters["convolution"]:
        # Causal: output frame j sees input frames up to j only, so a real frame never sees
        # the padding after it, however much padding the batch adds.
        x = layers.Conv1D(hyperparameters["conv_filters"], 3, padding="causal", activation="relu")(
            x
        )  # (batch, frames, conv_filters)
    mask = FrameMask()([x, counts])
    for units in hyperparameters["lstm_units"]:
        # The mask makes the backward LSTM start at each utterance's own last frame.
        x = layers.Bidirectional(layers.LSTM(units, return_sequences=True))(x, mask=mask)
        x = layers.Dropout(hyperparameters["dropout_rate"])(x)  # (batch, frames, 2 * units)
    logits = layers.Dense(data.num_classes + 1, dtype="float32")(x)
    outputs = FrameProbabilities(hyperparameters["beam_width"], name=OUTPUT_NAME, dtype="float32")(
        [logits, counts]
    )
    return keras.Model(inputs, outputs, name="speech_to_text")


def clip_with_speaker(example: dict):
    """A clip as (waveform in [-1, 1], word id, speaker name): spoken_strings joins such clips."""
    waveform, label = preprocessing.audio_classification_example(example)
    return waveform, label, spoken_strings.speaker_of(example)


def utterances(examples, data_info, part: str, seed: int, hyperparameters: dict):
    """ModelSpec.transform_examples: clips -> digit strings (models/spoken_strings.py), without
    the `held_out_speaker` in training; a name the data cannot hold out is refused first."""
    held_out = hyperparameters.get("held_out_speaker", "")
    if held_out and part == "validation":  # checked once, on the smallest split
        known = spoken_strings.speakers(examples)
        if known == [spoken_strings.UNKNOWN_SPEAKER]:
            raise UsageError(
                f"--set held_out_speaker={held_out!r}: this dataset does not name the speaker "
                "of its clips, so none can be left out; leave held_out_speaker empty."
            )
        if held_out not in known:
            raise UsageError(
                f"--set held_out_speaker={held_out!r}: no validation clip of this dataset is "
                f"spoken by {held_out!r}; its speakers are {', '.join(known)}. Name one of "
                f"them, or leave held_out_speaker empty to train on every speaker."
            )
        if len(known) < 2:
            raise UsageError(
                f"--set held_out_speaker={held_out!r}: {held_out!r} is the only speaker of this "
                "dataset, so nobody would be left to train on; leave held_out_speaker empty."
            )
    return spoken_strings.utterances(examples, data_info.sample_rate, part, seed, held_out)


def adapt(model: keras.Model, training_waveforms) -> None:
    """Each mel band's mean and variance over the training clips' real frames (not padding)."""
    pad, spectrogram_layer = model.get_layer(PAD_NAME), model.get_layer(audio.SPECTROGRAM_NAME)
    frames_layer = model.get_layer(FRAMES_NAME)

    def real_frames(waveforms):
        spectrograms = spectrogram_layer(pad(waveforms))
        counts = frame_count(waveforms, frames_layer.frame_length, frames_layer.frame_step, 1)
        real = tf.boolean_mask(spectrograms, tf.sequence_mask(counts, tf.shape(spectrograms)[1]))
        return real[
            tf.newaxis
        ]  # (1, real frames in the batch, num_mel_bins), as the layer was built

    model.get_layer(audio.NORMALIZATION_NAME).adapt(training_waveforms.map(real_frames))


register(
    ModelSpec(
        name="speech_to_text",
        description="CTC recognizer: log-mel frames, bidirectional LSTMs; transcribes digit "
        "strings",
        dataset="spoken_digit",
        describe_data=preprocessing.describe_audio_classification,
        preprocess=clip_with_speaker,
        build_model=build_speech_to_text,
        loss=transcripts.ctc_loss,
        metrics=(transcripts.word_error_rate, transcripts.string_accuracy),
        hyperparameters={
            "num_mel_bins": 40,
            "stacked_frames": 4,  # 10 ms spectra -> 40 ms frames
            "convolution": False,  # a convolution between the stacked spectra and the LSTMs
            "conv_filters": 64,
            "lstm_units": (64, 64),
            "dropout_rate": 0.1,
            "beam_width": 8,  # evaluate.py's beam search; 1 decodes greedily
            "held_out_speaker": "",  # a speaker left out of the training strings, e.g. "theo"
        },
        test_hyperparameters={
            "num_mel_bins": 40,  # neighbouring test tones share a band with fewer
            "stacked_frames": 4,
            "convolution": False,
            "conv_filters": 8,
            "lstm_units": (32,),
            "dropout_rate": 0.0,
            "beam_width": 4,
            "held_out_speaker": "",
        },
        serving=serving.transcriber,
        epochs=8,
        batch_size=32,
        learning_rate=3e-3,
        callbacks=transcription.callbacks,
        report=transcription.report,
        adapt=adapt,
        transform_examples=utterances,
        command_line_input=CommandLineInput(
            "--audio", "transcribe this WAV file (speech models)", transcription.predict_audio
        ),
    )
)
