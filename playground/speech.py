"""The Speech tab: a recording or a WAV file -> the model's answer (evaluate.py --audio's: a
word, or a transcript), the class probabilities of a word classifier and the spectrogram the
model read."""

import os

import numpy as np
import tensorflow as tf

from models import audio
from training import figures


def listen(model, spec, description: dict, path: str):
    """(evaluate.py --audio's line, {class name: probability} or None, spectrogram figure)."""
    answer = spec.command_line_input.predict(model, description, path)  # refuses bad files
    answer = answer.replace(path, os.path.basename(path))  # the page's upload folder says nothing
    waveform = audio.read_wav(path, description["sample_rate"])  # (samples,) in [-1, 1]
    return answer, probabilities(model, description, waveform), heard(model, description, waveform)


def probabilities(model, description: dict, waveform: np.ndarray) -> dict | None:
    """{word: probability} for a model that names one word per clip; None for one that
    transcribes (its output has a time axis)."""
    output = np.asarray(model(waveform[np.newaxis], training=False))
    names = description["class_names"]
    if output.ndim != 2 or output.shape[-1] != len(names):
        return None
    return {name: float(p) for name, p in zip(names, output[0])}


def heard(model, description: dict, waveform: np.ndarray):
    """The waveform the model keeps (padded or cut to its clip length, if it has one) and its
    log-mel spectrogram, drawn as evaluate.py draws validation clips."""
    layer_names = {layer.name for layer in model.layers}
    if audio.SPECTROGRAM_NAME not in layer_names:
        return None
    waveforms = tf.constant(waveform[np.newaxis])
    if audio.FIXED_LENGTH_NAME in layer_names:
        waveforms = model.get_layer(audio.FIXED_LENGTH_NAME)(waveforms)
    spectrogram_layer = model.get_layer(audio.SPECTROGRAM_NAME)
    spectrograms = spectrogram_layer(waveforms)  # (1, frames, mel bins)
    return figures.audio_clips_figure(
        np.asarray(waveforms),
        np.asarray(spectrograms),
        description["sample_rate"],
        spectrogram_layer.step_seconds,
        ["What the model heard"],
    )
