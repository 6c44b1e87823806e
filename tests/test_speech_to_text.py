"""speech_to_text: edit distance, CTC decoding, the digit-string builder, learning to transcribe
strings of tones, padding that never counts, a saved model in a fresh process, and WAV files on
evaluate.py's command line."""

import hashlib
import json
import os
import types
import zlib

import keras
import numpy as np
import pytest
import scipy.io.wavfile
import tensorflow as tf
import tensorflow_datasets as tfds
from test_train_evaluate import summary_tags

import evaluate
import models
import train
from conftest import fresh_process_json, tiny_flags
from models import spoken_strings, transcripts
from synthetic import SPEAKERS, tone_clips, tone_dataset
from training import input_pipeline
from training.errors import UsageError

SAMPLE_RATE = 8000
TONE_SECONDS = 0.2  # each "word" of the tone strings (clips are cropped to it)
NAMES = tuple(str(digit) for digit in range(10))


def mock_short_tones(num_examples: int):
    def as_dataset_fn(builder, split, *args, **kwargs):
        clips, labels, names = tone_clips(
            num_examples, SAMPLE_RATE, 10, seed=zlib.crc32(str(split).encode())
        )
        cropped = [clip[: int(TONE_SECONDS * SAMPLE_RATE)].astype(np.int64) for clip in clips]

        def examples():
            for clip, label, name in zip(cropped, labels, names):
                yield {"audio": clip, "label": label, "audio/filename": name}

        signature = {
            "audio": tf.TensorSpec((None,), tf.int64),
            "label": tf.TensorSpec((), tf.int64),
            "audio/filename": tf.TensorSpec((), tf.string),
        }
        return tf.data.Dataset.from_generator(examples, output_signature=signature)

    return tfds.testing.mock_data(
        policy=tfds.testing.MockPolicy.USE_CODE, as_dataset_fn=as_dataset_fn
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A finished run on strings of tones whose pitches give the digits; fewer fixed strings."""
    run_dir = tmp_path_factory.mktemp("runs") / "speech_to_text"
    flags = tiny_flags(
        "speech_to_text",
        run_dir,
        "--epochs",
        "3",
        "--batch-size",
        "32",
        "--learning-rate",
        "0.01",
    )
    with pytest.MonkeyPatch.context() as patch, mock_short_tones(800):
        patch.setattr(spoken_strings, "CURRICULUM_STRINGS", 200)
        patch.setitem(spoken_strings.FIXED, "validation", (32, 1))
        patch.setitem(spoken_strings.FIXED, "test", (64, 2))
        assert train.main(flags) == 0
        assert evaluate.main([str(run_dir)]) == 0
    return run_dir


# --- Word error rate and CTC decoding, by hand -------------------------------------------------


@pytest.mark.parametrize(
    "reference, hypothesis, errors",
    [
        ([1, 2, 3], [1, 2, 3], 0),
        ([1, 2, 3], [1, 5, 3], 1),  # a substitution
        ([1, 2, 3], [1, 2, 3, 4], 1),  # an insertion
        ([1, 2, 3], [1, 3], 1),  # a deletion
        ([1, 2, 3], [], 3),  # nothing heard: every word deleted
        ([4, 4, 1], [1, 4, 4], 2),  # two substitutions or a deletion and an insertion
    ],
)
def test_word_errors_are_edit_distances(reference, hypothesis, errors):
    references = np.array([reference + [0]], np.int32)  # 0 pads references
    hypotheses = np.array([hypothesis + [-1] * (5 - len(hypothesis))], np.int32)  # -1 pads these
    assert float(transcripts.word_errors(references, hypotheses)[0]) == errors
    assert transcripts.corpus_word_error_rate(references, hypotheses) == pytest.approx(errors / 3)


def frames(*symbols, confidence=0.9):
    """Probabilities (1, frames, 11): each frame's most likely symbol given, the rest shared."""
    probabilities = np.full((1, len(symbols), 11), (1 - confidence) / 10, np.float32)
    for index, symbol in enumerate(symbols):
        probabilities[0, index, symbol] = confidence
    return probabilities


@pytest.mark.parametrize("beam_width", [1, 8])  # greedy, beam search
@pytest.mark.parametrize(
    "symbols, words",
    [
        ((0, 5, 5, 0, 0, 2, 0), "4 1"),  # repeats collapse, blanks drop
        ((2, 0, 2, 2), "1 1"),  # a blank keeps the two 1s apart
        ((2, 2, 2, 2), "1"),  # without one they are one word
        ((0, 0, 0), ""),
        ((1, 0, 10, 0, 1), "0 9 0"),
    ],
)
def test_decoding_collapses_repeats_and_drops_blanks(symbols, words, beam_width):
    padded = np.concatenate([frames(*symbols), np.zeros((1, 3, 11), np.float32)], axis=1)
    tokens = transcripts.decode(padded, beam_width)  # all-zero frames are padding
    assert transcripts.as_words(tokens[0], NAMES) == words


def test_beam_search_finds_the_text_greedy_misses():
    """Each frame alone prefers the blank, but "1" is likelier in sum over its two paths."""
    probabilities = np.array([[[0.6, 0.0, 0.4] + [0.0] * 8, [0.6, 0.0, 0.4] + [0.0] * 8]])
    probabilities = probabilities.astype(np.float32) + 1e-6
    assert transcripts.as_words(transcripts.decode(probabilities, 1)[0], NAMES) == ""
    # P("") = 0.36; P("1") = 0.4*0.4 + 0.4*0.6 + 0.6*0.4 = 0.64
    assert transcripts.as_words(transcripts.decode(probabilities, 8)[0], NAMES) == "1"


def test_ctc_loss_ignores_zero_padding():
    spec = models.get_spec("speech_to_text")
    data = spec.describe_data(
        "spoken_digit", tfds.builder("spoken_digit", data_dir="/nonexistent").info
    )
    model = spec.build_model(data, {**spec.hyperparameters, **spec.test_hyperparameters})
    waveforms = np.random.default_rng(0).normal(0, 0.1, (2, 4000)).astype(np.float32)
    waveforms[1, 2500:] = 0  # the second utterance is shorter
    tokens = np.array([[3, 4, 4], [2, 0, 0]])
    longer = np.pad(waveforms, [(0, 0), (0, 3000)])
    losses = [np.asarray(transcripts.ctc_loss(tokens, model(w))) for w in (waveforms, longer)]
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)
    assert np.all(np.isfinite(losses[0])) and losses[0].min() > 0


# --- Digit strings from isolated clips ---------------------------------------------------------


def test_join_clips_puts_the_words_in_their_order():
    lengths = np.array([30, 50, 20, 40, 10, 60, 70], np.int32)
    clips = np.zeros((7, 70), np.float32)
    for index, length in enumerate(lengths):
        clips[index, :length] = (index + 1) / 10  # clip i is a constant (i + 1) / 10
    for seed in range(20):
        waveform, tokens = spoken_strings.join_clips(
            clips, lengths, np.array([3, 1, 4, 1, 5, 9, 2]), tf.constant([7, seed], tf.int64), 1000
        )
        words = len(tokens)
        assert spoken_strings.MIN_WORDS <= words <= spoken_strings.MAX_WORDS
        np.testing.assert_array_equal(tokens, np.array([3, 1, 4, 1, 5, 9, 2])[:words] + 1)
        levels = np.round(np.asarray(waveform), 1)  # the noise floor rounds to 0
        heard = [
            level for index, level in enumerate(levels) if level and level != levels[index - 1]
        ]
        np.testing.assert_allclose(heard, (np.arange(words) + 1) / 10)  # clips in order, once
        for index in range(words):  # each clip whole
            assert np.sum(levels == (index + 1) / 10) == lengths[index]


def test_strings_join_clips_of_one_speaker_from_their_own_part():
    """Every word of a test string is a test take (0-4) of the string's one speaker. Each clip
    is made a constant level here, so the level of each word in a string says which clip it is."""
    with mock_short_tones(400):
        examples, info, _ = input_pipeline.load("spoken_digit", data_dir=None)
    spec = models.get_spec("speech_to_text")
    clips = examples["test"].map(spec.preprocess)
    names = [
        name.decode()
        for name in examples["test"].map(lambda e: e["audio/filename"]).as_numpy_iterator()
    ]
    levels = 0.1 + 0.008 * np.arange(len(names))
    constant = clips.enumerate().map(
        lambda index, clip: (
            tf.fill(tf.shape(clip[0]), tf.gather(tf.constant(levels, tf.float32), index)),
            clip[1],
            clip[2],
        )
    )
    data = spec.describe_data("spoken_digit", info)
    strings = spec.transform_examples(constant, data, "test", 0, spec.hyperparameters).take(40)
    for waveform, tokens in strings.as_numpy_iterator():
        loud = np.abs(waveform) > 0.05  # words; the noise floor stays far below
        edges = np.flatnonzero(np.diff(np.concatenate([[0], loud.astype(int), [0]])))
        words = [
            np.argmin(np.abs(levels - waveform[a:b].mean()))
            for a, b in zip(edges[::2], edges[1::2])
        ]
        assert len(words) == len(tokens) and 1 <= len(words) <= spoken_strings.MAX_WORDS
        parts = [names[word].removesuffix(".wav").split("_") for word in words]
        assert [int(digit) + 1 for digit, _, _ in parts] == list(tokens)  # labels match the clips
        assert len({speaker for _, speaker, _ in parts}) == 1  # one speaker
        assert all(int(take) < 5 for *_, take in parts)  # test takes only


def test_fixed_strings_stay_the_same_after_a_first_look_at_a_few():
    """The fixed validation strings are drawn at random from the split's clips; a callback that
    looks at a few of them before validation (the transcripts in TensorBoard) must see the same
    strings that every validation pass then scores, pass after pass."""
    with mock_short_tones(300), pytest.MonkeyPatch.context() as patch:
        patch.setitem(spoken_strings.FIXED, "validation", (24, 1))
        examples, info, _ = input_pipeline.load("spoken_digit", data_dir=None)
        spec = models.get_spec("speech_to_text")
        data = spec.describe_data("spoken_digit", info)
        strings = input_pipeline.evaluation_batches(
            examples["validation"],
            spec.preprocess,
            8,
            lambda clips: spec.transform_examples(
                clips, data, "validation", 0, spec.hyperparameters
            ),
        )
        first_look = next(iter(strings))  # a few, then the reader goes away
        passes = [list(strings.as_numpy_iterator()) for _ in range(2)]
    for batch in passes:
        assert len(batch) == 3
    for one, other in [(first_look, passes[0][0]), *zip(passes[0], passes[1])]:
        np.testing.assert_array_equal(one[0], other[0])  # waveforms
        np.testing.assert_array_equal(one[1], other[1])  # tokens


def test_a_held_out_speaker_speaks_no_training_string_and_a_stranger_is_refused(tmp_path, capsys):
    with mock_short_tones(300):  # takes 0-14: 10-14 train
        examples, info, _ = input_pipeline.load("spoken_digit", data_dir=None)
    spec = models.get_spec("speech_to_text")
    data = spec.describe_data("spoken_digit", info)
    clips = examples["train"].map(spec.preprocess)
    assert spoken_strings.speakers(clips) == sorted(SPEAKERS)
    held_out = {**spec.hyperparameters, "held_out_speaker": SPEAKERS[0]}
    with_speakers = spoken_strings.utterances(
        clips.repeat(), SAMPLE_RATE, "train", 0, SPEAKERS[0], with_speakers=True
    )
    heard = {speaker.decode() for *_, speaker in with_speakers.take(60).as_numpy_iterator()}
    assert heard == set(SPEAKERS[1:])  # every other speaker, never the held-out one
    test_strings = spec.transform_examples(clips, data, "test", 0, held_out)
    assert len(list(test_strings.take(5))) == 5  # evaluation strings keep every speaker

    run_dir = tmp_path / "stranger"
    flags = tiny_flags("speech_to_text", run_dir, "--set", "held_out_speaker=nobody")
    with mock_short_tones(300):  # takes 0-14: 10-14 train
        assert train.main(flags) == 2
    message = capsys.readouterr().err
    assert "'nobody'" in message and ", ".join(sorted(SPEAKERS)) in message, message
    assert not run_dir.exists()


@pytest.mark.parametrize(
    "speakers, message",
    [
        (["?", "?"], "does not name the speaker"),  # e.g. file names of another form
        (["ana", "ana"], "'ana' is the only speaker"),  # nobody left to train on
    ],
)
def test_a_speaker_cannot_be_held_out_where_none_or_only_one_is_named(speakers, message):
    spec = models.get_spec("speech_to_text")
    clips = tf.data.Dataset.from_tensor_slices(
        (np.zeros((2, 800), np.float32), np.array([1, 2]), np.array(speakers))
    )
    data = types.SimpleNamespace(sample_rate=SAMPLE_RATE)
    held_out = {**spec.hyperparameters, "held_out_speaker": speakers[0]}
    with pytest.raises(UsageError, match=message):
        spec.transform_examples(clips, data, "validation", 0, held_out)


# --- Learning, evaluation, the saved model and WAV files ---------------------------------------


def test_learns_to_transcribe_strings_of_tones(run_dir):
    """Ten pitches, strings of 1 to 7: a model that hears nothing scores an error rate of 1."""
    metrics = json.loads((run_dir / "eval" / "metrics.json").read_text())
    assert metrics["word_error_rate"] < 0.2, metrics
    assert metrics["string_accuracy"] > 0.3, metrics
    by_length = {key: value for key, value in metrics.items() if key.endswith("_words")}
    assert by_length and set(by_length) <= {f"word_error_rate_{n}_words" for n in range(1, 8)}
    trained = json.loads((run_dir / "metrics.json").read_text())  # greedy, at the end of training
    assert trained["word_error_rate"] < 0.2, trained


def test_evaluation_writes_transcripts_worst_first_and_an_alignment(run_dir):
    lines = (run_dir / "eval" / "transcripts.txt").read_text().splitlines()
    assert lines[0] == "errors\tsaid\theard" and len(lines) == 1 + 64
    rates = []
    for line in lines[1:]:
        errors, said, heard = line.split("\t")
        rates.append(int(errors) / len(said.split()))
        if said == heard:
            assert errors == "0"
    assert rates == sorted(rates, reverse=True)
    assert os.path.getsize(run_dir / "eval" / "alignment.png") > 0


def test_transcripts_and_alignment_in_tensorboard(run_dir):
    tags = summary_tags(run_dir / "logs" / "validation")
    assert tags.get("transcripts") == "text" and tags.get("alignment") == "images", tags
    assert tags.get("epoch_word_error_rate") == "scalars", tags


def tone_string_wav(path, digits, sample_rate=SAMPLE_RATE, channels=1):
    """A WAV file of tone clips like the training ones (synthetic.tone_clips: clip k is digit
    k's pitch), with short pauses between them, over a faint noise floor."""
    clips, _, _ = tone_clips(10, sample_rate, 10, seed=11)
    pieces = []
    for digit in digits:
        pieces += [
            np.zeros(int(0.1 * sample_rate)),
            clips[digit][: int(TONE_SECONDS * sample_rate)] / 32768,
        ]
    waveform = np.concatenate(pieces + [np.zeros(int(0.1 * sample_rate))])
    waveform += np.random.default_rng(len(digits)).normal(0, 0.003, len(waveform))
    samples = np.stack([waveform] * channels, axis=-1) if channels > 1 else waveform
    scipy.io.wavfile.write(path, sample_rate, (samples * 32767).astype(np.int16))
    return str(path)


@pytest.mark.parametrize("sample_rate, channels", [(8000, 1), (8000, 2)])  # mono, stereo
def test_evaluate_transcribes_a_wav_file(run_dir, sample_rate, channels, tmp_path, capsys):
    path = tone_string_wav(tmp_path / "numbers.wav", [4, 1, 5, 5, 0], sample_rate, channels)
    assert evaluate.main([str(run_dir), "--audio", path]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("4 1 5 5 0   ("), line


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no audio file at"),
        (b"these bytes are not audio", "cannot read"),
        ("empty", "holds no audio samples"),
    ],
)
def test_evaluate_explains_bad_audio(run_dir, content, message, tmp_path, capsys):
    path = tmp_path / "numbers.wav"
    if content == "empty":
        scipy.io.wavfile.write(path, SAMPLE_RATE, np.zeros(0, np.int16))
    elif content is not None:
        path.write_bytes(content)
    assert evaluate.main([str(run_dir), "--audio", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


FRESH_PROCESS = """
import hashlib, json, sys
import keras, numpy as np, tensorflow as tf, tensorflow_datasets as tfds
import models
from models import spoken_strings, transcripts
from synthetic import tone_dataset

model = keras.saving.load_model(sys.argv[1])
probabilities = np.asarray(model(np.load(sys.argv[2])))
tokens = np.asarray(transcripts.decode(probabilities, 4))
features = tfds.builder("spoken_digit", data_dir="/nonexistent").info.features
clips = tone_dataset(features, 60, 3).map(
    lambda e: (tf.cast(e["audio"], tf.float32) / 32768, e["label"], tf.constant("x"))
)
digest = hashlib.sha256()
for waveform, words in spoken_strings.utterances(clips, 8000, "test", int(sys.argv[3])).take(20):
    digest.update(waveform.numpy().tobytes() + words.numpy().tobytes())
print(json.dumps({"probabilities": probabilities.tolist(), "tokens": tokens.tolist(),
                  "strings": digest.hexdigest()}))
"""


def test_fresh_process_transcribes_alike_and_builds_the_same_test_strings(
    run_dir, tmp_path, monkeypatch
):
    """The saved model takes raw waveforms of any length; the fixed test strings do not depend
    on the process or the run's seed."""
    test_strings = (spoken_strings.TEST_STRINGS, spoken_strings.TEST_SEED)
    monkeypatch.setitem(spoken_strings.FIXED, "test", test_strings)  # as in the fresh process
    waveforms = []
    for index, digits in enumerate([[3], [7, 7, 2], [9, 0, 1, 8, 6, 4, 5]]):
        path = tone_string_wav(tmp_path / f"{index}.wav", digits)
        waveforms.append(scipy.io.wavfile.read(path)[1] / 32768)
    longest = max(map(len, waveforms))
    batch = np.stack([np.pad(w, (0, longest - len(w))) for w in waveforms]).astype(np.float32)
    np.save(tmp_path / "waveforms.npy", batch)
    there = fresh_process_json(
        FRESH_PROCESS, run_dir / "model.keras", tmp_path / "waveforms.npy", 5
    )
    model = keras.saving.load_model(run_dir / "model.keras")
    here = np.asarray(model(batch))
    np.testing.assert_allclose(there["probabilities"], here, rtol=1e-5, atol=1e-6)
    tokens = np.asarray(transcripts.decode(here, 4))
    assert there["tokens"] == tokens.tolist()
    assert [transcripts.as_words(row, NAMES) for row in tokens][:2] == ["3", "7 7 2"]

    features = tfds.builder("spoken_digit", data_dir="/nonexistent").info.features
    clips = tone_dataset(features, 60, 3).map(
        lambda e: (tf.cast(e["audio"], tf.float32) / 32768, e["label"], tf.constant("x"))
    )
    digest = hashlib.sha256()
    for waveform, words in spoken_strings.utterances(clips, 8000, "test", 0).take(20):
        digest.update(waveform.numpy().tobytes() + words.numpy().tobytes())
    assert there["strings"] == digest.hexdigest()
