"""The speech model and its audio pipeline: the published split, the spectrogram, learning on
tones, raw waveforms in a saved model, and WAV files on evaluate.py's command line."""

import json
import math
import os

import keras
import numpy as np
import pytest
import scipy.io.wavfile
import tensorflow as tf
import tensorflow_datasets as tfds
from test_train_evaluate import summary_tags

import evaluate
import train
from conftest import fresh_process_json, tiny_flags
from models import audio
from synthetic import SPEAKERS, mock_learnable, tone_clips, tone_hertz
from training import input_pipeline

SAMPLE_RATE = 8000  # spoken_digit's
NUM_MEL_BINS = 40
TAKES = 50  # the Free Spoken Digit Dataset has 50 takes of each digit by each speaker


@pytest.fixture(scope="module")
def speech_run(tmp_path_factory):
    """A finished run of a small speech model on tones whose pitch gives the digit."""
    run_dir = tmp_path_factory.mktemp("runs") / "speech"
    # 40 mel bands, as by default: with the test models' 16, neighbouring high tones share a band.
    flags = tiny_flags(
        "speech",
        run_dir,
        "--epochs",
        "8",
        "--batch-size",
        "32",
        "--learning-rate",
        "0.003",
        "--set",
        "num_mel_bins=40",
        "--set",
        "lstm_units=16",
        "--set",
        "dense_units=16",
    )
    with mock_learnable(640):  # takes 0-31: 100 test, 100 validation, 440 training clips
        assert train.main(flags) == 0
    return run_dir


def test_published_split_puts_each_take_in_its_part():
    """Takes 0-4 of each digit and speaker test, 5-9 validate, 10-49 train: never a random cut."""
    num_examples = 10 * len(SPEAKERS) * TAKES  # every digit, speaker and take once
    with mock_learnable(num_examples):
        examples, _, splits = input_pipeline.load("spoken_digit", data_dir=None)
    names = {
        part: [
            name.decode()
            for name in examples[part]
            .map(lambda example: example["audio/filename"])
            .as_numpy_iterator()
        ]
        for part in examples
    }
    takes = {
        part: {int(name.rsplit("_", 1)[1].removesuffix(".wav")) for name in names[part]}
        for part in names
    }
    assert takes == {
        "test": set(range(5)),
        "validation": set(range(5, 10)),
        "train": set(range(10, TAKES)),
    }
    assert [len(names[part]) for part in ("train", "validation", "test")] == [800, 100, 100]
    assert len(set().union(*names.values())) == num_examples  # every clip in exactly one part
    assert splits.test == "train (takes 0-4)"


def test_a_split_flag_overrides_the_published_split():
    assert input_pipeline.recording_number_split(tf.constant("7_ana_12.wav")) == 0
    assert input_pipeline.recording_number_split(tf.constant("not a take.wav")) == -1  # in no part
    with mock_learnable(240):
        examples, _, splits = input_pipeline.load("spoken_digit", data_dir=None, test="train")
        assert splits.test == "train" and splits.train == "train (takes 10-49)"
        assert (
            examples["test"].reduce(0, lambda count, _: count + 1) == 240
        )  # the whole split, unfiltered


@pytest.mark.parametrize("length", [1, 2000, 9000])
def test_fix_length_pads_short_clips_and_crops_long_ones(length):
    waveform = np.random.default_rng(0).uniform(-1, 1, (1, length)).astype(np.float32)
    fixed = np.asarray(audio.fix_length(tf.constant(waveform), 2000))
    assert fixed.shape == (1, 2000)
    kept = min(length, 2000)
    np.testing.assert_array_equal(fixed[0, :kept], waveform[0, :kept])  # the start is kept as it is
    assert not fixed[0, kept:].any()  # and silence fills the rest


def test_spectrogram_is_the_same_eagerly_and_inside_tf_data():
    waveforms = np.random.default_rng(1).normal(0, 0.3, (4, SAMPLE_RATE)).astype(np.float32)
    eager = audio.log_mel_spectrogram(tf.constant(waveforms), SAMPLE_RATE)
    mapped = (
        tf.data.Dataset.from_tensor_slices(waveforms)
        .batch(4)
        .map(lambda batch: audio.log_mel_spectrogram(batch, SAMPLE_RATE))
    )
    assert eager.shape == (
        4,
        98,
        NUM_MEL_BINS,
    )  # 1 s: 1 + (8000 - 200) // 80 frames of 25 ms, 10 ms apart
    # Graph and eager FFT kernels round differently in the last digits (1e-5 on values near 5).
    np.testing.assert_allclose(next(iter(mapped)), eager, rtol=1e-4, atol=1e-4)


def mel(hertz):
    """The mel scale (O'Shaughnessy's formula, as in HTK and tf.signal)."""
    return 1127.0 * np.log1p(np.asarray(hertz) / 700.0)


@pytest.mark.parametrize("sample_rate", [8000, 16000])
@pytest.mark.parametrize("band", [6, 20, 33])
def test_a_pure_tone_peaks_in_its_mel_band(sample_rate, band):
    """Bands are evenly spaced in mels from 60 Hz to half the sample rate; a tone at a band's
    centre must light up that band most."""
    edges = np.linspace(
        mel(60.0), mel(sample_rate / 2), NUM_MEL_BINS + 2
    )  # centre of band i: edges[i + 1]
    hertz = 700.0 * math.expm1(edges[band + 1] / 1127.0)
    time = np.arange(sample_rate) / sample_rate
    tone = (0.5 * np.sin(2 * np.pi * hertz * time)).astype(np.float32)[np.newaxis]
    spectrogram = np.asarray(
        audio.log_mel_spectrogram(tf.constant(tone), sample_rate, NUM_MEL_BINS)
    )
    assert np.argmax(spectrogram[0].mean(axis=0)) == band


def test_learns_far_above_chance(speech_run):
    """Ten pitches, so chance is 10%."""
    assert json.loads((speech_run / "metrics.json").read_text())["accuracy"] > 0.9


def wav_file(path, label, sample_rate=SAMPLE_RATE, seconds=0.6, channels=1, dtype=np.int16):
    """A WAV file of the tone that stands for `label`."""
    time = np.arange(int(seconds * sample_rate)) / sample_rate
    tone = 0.5 * np.sin(2 * np.pi * tone_hertz(label) * time)
    samples = np.stack([tone] * channels, axis=-1) if channels > 1 else tone
    scipy.io.wavfile.write(
        path,
        sample_rate,
        (samples * 32767).astype(dtype) if dtype == np.int16 else samples.astype(dtype),
    )
    return str(path)


@pytest.mark.parametrize(
    "label, sample_rate, channels, dtype",
    [
        (3, 8000, 1, np.int16),
        (7, 16000, 1, np.int16),
        (1, 22050, 2, np.int16),
        (8, 8000, 1, np.float32),
    ],
)
def test_evaluate_transcribes_a_wav_file(
    speech_run, label, sample_rate, channels, dtype, tmp_path, capsys
):
    """Mono or stereo, 16-bit or float, at the model's rate or resampled to it."""
    path = wav_file(tmp_path / "clip.wav", label, sample_rate, channels=channels, dtype=dtype)
    assert evaluate.main([str(speech_run), "--audio", path]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith(f"{label} (probability "), line


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no audio file at"),
        (b"these bytes are not audio", "cannot read"),
        ("empty", "holds no audio samples"),
        ("nan", "samples that are not numbers"),
    ],
)
def test_evaluate_explains_bad_audio(speech_run, content, message, tmp_path, capsys):
    path = tmp_path / "clip.wav"
    if content == "empty":
        scipy.io.wavfile.write(path, SAMPLE_RATE, np.zeros(0, np.int16))
    elif content == "nan":
        scipy.io.wavfile.write(path, SAMPLE_RATE, np.full(4000, np.nan, np.float32))
    elif content is not None:
        path.write_bytes(content)
    assert evaluate.main([str(speech_run), "--audio", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_saved_model_takes_raw_waveforms_in_a_fresh_process(speech_run):
    """Features are computed inside model.keras: any length, no preprocessing by the caller."""
    clips, labels, _ = tone_clips(10, SAMPLE_RATE, 10, seed=7)
    longest = max(len(clip) for clip in clips)
    waveforms = np.stack([np.pad(clip / 32768, (0, longest - len(clip))) for clip in clips]).astype(
        np.float32
    )
    np.save(speech_run.parent / "waveforms.npy", waveforms)
    here = np.asarray(keras.saving.load_model(speech_run / "model.keras")(waveforms))
    script = (
        "import json, sys, keras, numpy, models\n"
        "model = keras.saving.load_model(sys.argv[1])\n"
        "print(json.dumps(numpy.asarray(model(numpy.load(sys.argv[2]))).tolist()))\n"
    )
    there = np.array(
        fresh_process_json(
            script, speech_run / "model.keras", speech_run.parent / "waveforms.npy", timeout=120
        )
    )
    np.testing.assert_allclose(there, here, rtol=1e-5, atol=1e-6)
    assert (np.argmax(here, axis=-1) == labels).mean() >= 0.8


def test_evaluate_writes_clips_figure_and_per_class_scores(speech_run, capsys):
    with mock_learnable(640):
        assert evaluate.main([str(speech_run)]) == 0
    assert "Split train (takes 0-4)" in capsys.readouterr().out
    metrics = json.loads((speech_run / "eval" / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.9 and metrics["split"] == "train (takes 0-4)"
    per_class = json.loads((speech_run / "eval" / "per_class.json").read_text())
    assert set(per_class) == {str(digit) for digit in range(10)}  # recall = per-class accuracy
    for name in ("clips.png", "confusion_matrix.png", "training_curves.png"):
        assert os.path.getsize(speech_run / "eval" / name) > 0, name


def test_clips_and_spectrograms_in_tensorboard(speech_run):
    tags = summary_tags(speech_run / "logs" / "validation")
    assert tags.get("clips") == "audio" and tags.get("spectrograms") == "images"
    assert tags.get("confusion_matrix") == "images"
    histograms = {
        tag
        for tag, plugin in summary_tags(speech_run / "logs" / "train").items()
        if plugin == "histograms"
    }
    assert any("lstm" in tag for tag in histograms), histograms


def test_trains_unchanged_on_speech_commands(tmp_path):
    """16 kHz and 12 classes from the dataset's info; TFDS' own mock clips are random noise of
    7 to 50 samples, far shorter than a frame: the fixed length pads them."""
    run_dir = tmp_path / "run"
    with tfds.testing.mock_data(num_examples=48, policy=tfds.testing.MockPolicy.USE_CODE):
        assert (
            train.main(
                tiny_flags("speech", run_dir, "--dataset", "speech_commands", "--epochs", "1")
            )
            == 0
        )
    config = json.loads((run_dir / "config.json").read_text())
    assert config["data"]["sample_rate"] == 16000 and config["data"]["num_classes"] == 12
    model = keras.saving.load_model(run_dir / "model.keras")
    assert model.get_layer(audio.FIXED_LENGTH_NAME).num_samples == 4000  # 0.25 s at 16 kHz


def test_any_waveform_gets_real_probabilities(speech_run):
    """Samples far beyond full scale, infinities and NaN: the model still answers with real
    numbers (its first layer keeps only what a waveform can hold)."""
    model = keras.saving.load_model(speech_run / "model.keras")
    waveforms = np.zeros((4, 4000), np.float32)
    waveforms[0] = 1e30
    waveforms[1, ::2] = np.inf
    waveforms[2, 100:200] = np.nan
    probabilities = np.asarray(model(waveforms))
    assert np.all(np.isfinite(probabilities)) and np.allclose(probabilities.sum(axis=-1), 1.0)


def test_16_bit_samples_are_scaled_as_in_training(tmp_path):
    """Full scale of a 16-bit WAV is 32768, as TFDS' int16 samples are scaled for training."""
    path = tmp_path / "loud.wav"
    scipy.io.wavfile.write(path, SAMPLE_RATE, np.array([-32768, 16384, 32767], np.int16))
    np.testing.assert_array_equal(
        audio.read_wav(str(path), SAMPLE_RATE), np.array([-1.0, 0.5, 32767 / 32768], np.float32)
    )
