"""What every audio classifier shares: waveform -> fixed length -> log-mel spectrogram, WAV files.

A spectrogram shows how much energy each frequency holds at each moment: the waveform is cut into
short overlapping frames (25 ms, every 10 ms), each frame's spectrum comes from a Fourier
transform (STFT), and the frequencies are pooled into mel bands, which are narrow at low pitch
and wide at high pitch, as human hearing is. The logarithm turns loudness ratios into differences.

Both steps are Keras layers (`FixedLength`, `LogMelSpectrogram`) at the start of the model, so a
saved `model.keras` takes raw waveforms (float32 in [-1, 1], at the dataset's sample rate, any
length) and computes its own features: training and `evaluate.py --audio` share one code path.
"""

import math
import os

import keras
import numpy as np
import scipy.io.wavfile
import tensorflow as tf
from keras import layers, ops

from models import classification
from training import figures
from training.errors import UsageError

FIXED_LENGTH_NAME = "fixed_length"
SPECTROGRAM_NAME = "log_mel_spectrogram"
NORMALIZATION_NAME = "normalize_spectrogram"
LOG_FLOOR = 1e-6  # log(power + floor): silence (zero padding) stays finite
CLIPS_SHOWN = 6  # in TensorBoard and in eval/clips.png
MISTAKE_POOL = 1000  # clips.png looks for mistakes among this many test clips


def fix_length(waveforms: tf.Tensor, num_samples: int) -> tf.Tensor:
    """(batch, any length) -> (batch, num_samples): longer clips lose their end, shorter ones
    get zeros (silence) appended."""
    waveforms = waveforms[:, :num_samples]
    missing = num_samples - tf.shape(waveforms)[1]
    fixed = tf.pad(waveforms, [[0, 0], [0, missing]])
    return tf.ensure_shape(fixed, [None, num_samples])


def frame_sizes(
    sample_rate: int, frame_seconds: float, step_seconds: float
) -> tuple[int, int, int]:
    """(frame_length, frame_step, fft_length) in samples; the FFT length is the next power of 2."""
    frame_length = round(frame_seconds * sample_rate)
    return frame_length, round(step_seconds * sample_rate), 2 ** math.ceil(math.log2(frame_length))


def log_mel_spectrogram(
    waveforms: tf.Tensor,
    sample_rate: int,
    num_mel_bins: int = 40,
    frame_seconds: float = 0.025,
    step_seconds: float = 0.010,
    lower_hertz: float = 60.0,
) -> tf.Tensor:
    """(batch, samples) -> (batch, frames, num_mel_bins): log power in mel bands from
    `lower_hertz` up to half the sample rate (the highest frequency a recording holds)."""
    frame_length, frame_step, fft_length = frame_sizes(sample_rate, frame_seconds, step_seconds)
    spectra = tf.signal.stft(
        waveforms, frame_length, frame_step, fft_length
    )  # (batch, frames, fft_length // 2 + 1)
    power = tf.square(tf.abs(spectra))
    mel_weights = tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins, fft_length // 2 + 1, sample_rate, lower_hertz, sample_rate / 2
    )  # (fft_length // 2 + 1, num_mel_bins): one triangular filter per mel band
    return tf.math.log(tf.tensordot(power, mel_weights, axes=1) + LOG_FLOOR)


@keras.saving.register_keras_serializable(package="audio")
class FixedLength(layers.Layer):
    """Pads or crops every clip to `num_samples`, so every clip gives the same number of frames."""

    def __init__(self, num_samples: int, **kwargs):
        super().__init__(**kwargs)
        self.num_samples = num_samples

    def call(self, waveforms):
        return fix_length(waveforms, self.num_samples)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_samples)

    def get_config(self):
        return {**super().get_config(), "num_samples": self.num_samples}


@keras.saving.register_keras_serializable(package="audio")
class LogMelSpectrogram(layers.Layer):
    """(batch, samples) waveforms -> (batch, frames, num_mel_bins) log-mel spectrograms."""

    def __init__(
        self,
        sample_rate: int,
        num_mel_bins: int = 40,
        frame_seconds: float = 0.025,
        step_seconds: float = 0.010,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.sample_rate = sample_rate
        self.num_mel_bins = num_mel_bins
        self.frame_seconds = frame_seconds
        self.step_seconds = step_seconds

    def call(self, waveforms):
        # Any input gives real numbers: no NaN or infinity, nothing beyond full scale. Training
        # data is already within [-1, 1], so this changes nothing there.
        waveforms = ops.clip(ops.where(ops.isfinite(waveforms), waveforms, 0.0), -1.0, 1.0)
        return log_mel_spectrogram(
            waveforms, self.sample_rate, self.num_mel_bins, self.frame_seconds, self.step_seconds
        )

    def compute_output_shape(self, input_shape):
        frame_length, frame_step, _ = frame_sizes(
            self.sample_rate, self.frame_seconds, self.step_seconds
        )
        samples = input_shape[1]
        frames = None if samples is None else 1 + (samples - frame_length) // frame_step
        return (input_shape[0], frames, self.num_mel_bins)

    def get_config(self):
        return {
            **super().get_config(),
            "sample_rate": self.sample_rate,
            "num_mel_bins": self.num_mel_bins,
            "frame_seconds": self.frame_seconds,
            "step_seconds": self.step_seconds,
        }


def features(model: keras.Model, waveforms) -> tuple[tf.Tensor, tf.Tensor]:
    """What the model hears: (fixed-length waveforms, log-mel spectrograms), before normalization."""
    fixed = model.get_layer(FIXED_LENGTH_NAME)(waveforms)
    return fixed, model.get_layer(SPECTROGRAM_NAME)(fixed)


def adapt(model: keras.Model, training_waveforms: tf.data.Dataset) -> None:
    """Learns each mel band's mean and variance over the training clips, so the LSTM sees inputs
    near 0 with unit spread (high bands are far quieter than low ones)."""
    spectrograms = training_waveforms.map(lambda waveforms: features(model, waveforms)[1])
    model.get_layer(NORMALIZATION_NAME).adapt(spectrograms)


def read_wav(path: str, sample_rate: int) -> np.ndarray:
    """A WAV file as a mono float32 waveform in [-1, 1] at `sample_rate` (resampled if needed)."""
    if not os.path.isfile(path):
        raise UsageError(f"no audio file at {path}; give the path of a WAV file.")
    try:
        file_rate, samples = scipy.io.wavfile.read(path)
    except Exception as error:  # scipy raises several types for files that are not valid WAV
        raise UsageError(
            f"cannot read {path} as a WAV file ({error}). Give an uncompressed WAV file; convert "
            f"other formats first, e.g. ffmpeg -i clip.mp3 clip.wav"
        ) from None
    if samples.size == 0:
        raise UsageError(
            f"{path} holds no audio samples; record a clip of at least a few hundred milliseconds."
        )
    if samples.dtype == np.uint8:  # 8-bit WAV is unsigned, centred on 128
        waveform = (samples.astype(np.float32) - 128) / 128
    elif np.issubdtype(samples.dtype, np.integer):
        # Full scale is 2^(bits - 1) (32768 for 16-bit), as TFDS' samples are scaled in training.
        waveform = samples.astype(np.float32) / -float(np.iinfo(samples.dtype).min)
    else:
        waveform = samples.astype(np.float32)
        if not np.all(np.isfinite(waveform)):
            raise UsageError(
                f"{path} holds samples that are not numbers (NaN or infinity); the file is "
                "damaged. Export the recording again."
            )
        waveform = np.clip(waveform, -1.0, 1.0)  # float WAV's full scale, as a player clips it
    if waveform.ndim == 2:  # (samples, channels): mix stereo down to mono
        waveform = waveform.mean(axis=1)
    if file_rate != sample_rate:
        # Polyphase resampling low-pass filters first, so no frequency above the new Nyquist
        # limit folds back into the band the model listens to.
        from scipy.signal import resample_poly  # here: a second to import, for every run

        divisor = math.gcd(file_rate, sample_rate)
        waveform = resample_poly(waveform, sample_rate // divisor, file_rate // divisor)
    return waveform.astype(np.float32)


def predict_audio(model, data: dict, path: str) -> str:
    """`evaluate.py RUN_DIR --audio clip.wav`: the predicted word and its probability."""
    waveform = read_wav(path, data["sample_rate"])
    probabilities = np.asarray(model(waveform[np.newaxis], training=False))[0]  # (num_classes,)
    best = int(np.argmax(probabilities))
    seconds = len(waveform) / data["sample_rate"]
    return f"{data['class_names'][best]} (probability {probabilities[best]:.3f}): {path} ({seconds:.2f} s)"


def clips_figure(model, waveforms, sample_rate: int, titles, mistakes=None):
    """Waveforms and spectrograms of a few clips, as the model hears them."""
    fixed, spectrograms = features(model, tf.constant(np.asarray(waveforms)))
    step_seconds = model.get_layer(SPECTROGRAM_NAME).step_seconds
    return figures.audio_clips_figure(
        np.asarray(fixed), np.asarray(spectrograms), sample_rate, step_seconds, titles, mistakes
    )


class ValidationClips(keras.callbacks.Callback):
    """At the start of training, puts a few validation clips in TensorBoard: the Audio tab plays
    them, the Images tab shows their waveforms and spectrograms."""

    def __init__(self, validation, data_info, log_dir: str, count: int = CLIPS_SHOWN):
        super().__init__()
        self.validation = validation
        self.data_info = data_info
        self.log_dir = log_dir
        self.count = count

    def on_train_begin(self, logs=None):
        waveforms, labels = next(iter(self.validation.unbatch().padded_batch(self.count)))
        fixed, _ = features(self.model, waveforms)
        names = [self.data_info.class_names[label] for label in np.asarray(labels)]
        writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "validation"))
        with writer.as_default():
            tf.summary.audio(
                "clips",
                fixed[:, :, tf.newaxis],
                self.data_info.sample_rate,
                step=0,
                max_outputs=self.count,
                description="spoken: " + ", ".join(names),
            )
            image = figures.to_image_tensor(
                clips_figure(self.model, waveforms, self.data_info.sample_rate, names)
            )
            tf.summary.image("spectrograms", image, step=0)
        writer.close()


def callbacks(data_info, validation, log_dir: str) -> list:
    return classification.callbacks(data_info, validation, log_dir) + [
        ValidationClips(validation, data_info, log_dir)
    ]


def report(model, batches, data_info, out_dir: str) -> tuple[dict, dict]:
    """The classifier summary plus clips.png: a few test clips, mistakes first, with true and
    predicted words."""
    labels, predictions, _, waveforms = classification.predict_labels(
        model, batches, keep_inputs=MISTAKE_POOL
    )
    files, metrics = classification.summarize(labels, predictions, data_info.class_names, out_dir)
    kept = len(waveforms)
    wrong = np.flatnonzero(labels[:kept] != predictions[:kept])
    shown = np.concatenate([wrong, np.flatnonzero(labels[:kept] == predictions[:kept])])[
        :CLIPS_SHOWN
    ]
    names = data_info.class_names
    mistakes = [labels[i] != predictions[i] for i in shown]
    titles = [
        names[predictions[i]] + (f" (true: {names[labels[i]]})" if mistake else "")
        for i, mistake in zip(shown, mistakes)
    ]
    longest = max(len(waveforms[i]) for i in shown)  # clips were padded batch by batch
    padded = np.stack([np.pad(waveforms[i], (0, longest - len(waveforms[i]))) for i in shown])
    figure = clips_figure(model, padded, data_info.sample_rate, titles, mistakes)
    files["clips"] = figures.save_png(figure, os.path.join(out_dir, "clips.png"))
    return files, metrics
