"""export.py: one run of every kind of model (one per `serving` function its spec declares) is
exported, then called in a fresh process the way a client would (tf.saved_model.load, the LiteRT
interpreter) and compared with the outputs of its model.keras."""

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
import toy_environment  # noqa: F401  (registers SignGame-v0, the agents' quick game)

import export
import models
import train
from conftest import ROOT, tiny_flags
from models import serving
from synthetic import mock_learnable, sentiment_reviews
from training import input_pipeline, runs
from training.config import RunConfig

EXAMPLES = 240  # spoken_digit's training takes (10 and up) need this many to hold some clips
BATCH = 3
WAVEFORM_SAMPLES = 3000  # longer than the test speech model's 0.25 s clips at 8 kHz: it crops
SAVED_MODEL_TOLERANCE = 1e-6  # the same graph, reloaded: only float rounding may differ
LITERT_TOLERANCE = 1e-5  # LiteRT's own kernels (XNNPACK); measured differences are about 1e-7

# One model per kind: the first model (by name) of each `serving` function.
KINDS = {}
for name in models.names():
    declared = models.get_spec(name).serving
    if declared and declared.__name__ not in KINDS:
        KINDS[declared.__name__] = name

# What each kind's serving_default takes, as the README documents it (for the tiny test models
# on mock mnist, IMDB, spoken_digit and the agents' two-number toy game).
DEFAULT_SIGNATURE_INPUT = {
    "image_classifier": ("image", "uint8", [None, 28, 28, 1]),
    "text_classifier": ("text", "string", [None]),
    "waveform_classifier": ("waveform", "float32", [None, None]),
    "generator": ("noise", "float32", [None, 4]),
    "autoencoder": ("noise", "float32", [None, 2]),
    "policy": ("observation", "float32", [None, 2]),
    "transcriber": ("waveform", "float32", [None, None]),
}


def make_run(name: str, run_dir) -> None:
    """A finished run directory as the loops leave it (config.json, model.keras). Agents
    train for a few steps with train.py; a ModelSpec's model is built with its tiny
    hyperparameters, adapted on mock training data (vocabulary, normalization statistics) and
    its weights moved as training would move them: train.py's tiny runs of these models cost
    about 40 s of CPU here, and tests/test_models.py already trains them."""
    spec = models.get_spec(name)
    if isinstance(spec, models.AgentSpec):
        flags = tiny_flags(name, run_dir, "--env", "SignGame-v0", "--env-steps", "100")
        index = flags.index("--batch-size")  # the agent's own batch size
        assert train.main(flags[:index] + flags[index + 2 :]) == 0
        return
    hyperparameters = {**spec.hyperparameters, **spec.test_hyperparameters}
    with mock_learnable(EXAMPLES):
        examples, info, _ = input_pipeline.load(spec.dataset, data_dir=None)
        data_info = spec.describe_data(spec.dataset, info)
        examples = examples["train"].map(spec.preprocess)
        if spec.transform_examples:
            examples = spec.transform_examples(
                examples, data_info, "test", 0, spec.test_hyperparameters
            )
        batch = next(iter(examples.padded_batch(8)))
    model = spec.build_model(data_info, hyperparameters)
    if spec.adapt:
        spec.adapt(model, tf.data.Dataset.from_tensors(batch[0]))
    move_weights(model)
    os.makedirs(run_dir)
    config = RunConfig(
        model=name,
        run_dir=str(run_dir),
        hyperparameters=hyperparameters,
        batch_size=8,
        learning_rate=spec.learning_rate,
        dataset=spec.dataset,
        epochs=1,
    )
    runs.write_text(os.path.join(run_dir, runs.CONFIG_FILE), config.to_json(data=vars(data_info)))
    runs.save_model(model, os.path.join(run_dir, runs.MODEL_FILE))


def move_weights(model, seed: int = 0) -> None:
    """Moves every float weight off its initial value (batch-norm statistics included), as
    training would, so that a weight the export dropped or mixed up changes the outputs.
    Scaling by 0.8-1.2 and adding 0-0.05 keeps variances positive."""
    rng = np.random.default_rng(seed)
    model.set_weights(
        [
            weight * rng.uniform(0.8, 1.2, weight.shape) + rng.uniform(0, 0.05, weight.shape)
            if np.issubdtype(weight.dtype, np.floating)
            else weight
            for weight in model.get_weights()
        ]
    )


def example_input(spec: tf.TensorSpec, rng) -> np.ndarray:
    """A batch a client might send for `spec`: random pixels, reviews (one empty, one of words
    never seen in training), random waveforms, noise or observations."""
    if spec.dtype == tf.string:
        reviews, _ = sentiment_reviews(BATCH - 2, seed=7)
        return np.array([*map(str.encode, reviews), b"", b"zyzzyva quux"])
    batch, *sizes = spec.shape.as_list()
    shape = [batch or BATCH] + [size or WAVEFORM_SAMPLES for size in sizes]
    if spec.dtype == tf.uint8:
        return rng.integers(0, 256, shape).astype(np.uint8)
    return rng.uniform(-1.0, 1.0, shape).astype(np.float32)


def call_in_fresh_process(calls: list[dict], inputs: list[np.ndarray], folder) -> tuple:
    """tests/run_exported.py on these calls: (outputs {"i/name": array}, signatures)."""
    with open(folder / "calls.json", "w") as file:
        json.dump(calls, file)
    np.savez(folder / "inputs.npz", **{str(index): value for index, value in enumerate(inputs)})
    process = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tests", "run_exported.py")]
        + [str(folder / name) for name in ("calls.json", "inputs.npz", "outputs.npz")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    outputs = np.load(folder / "outputs.npz")
    return {key: outputs[key] for key in outputs.files}, json.loads(process.stdout)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """{kind: {"run_dir", "printed" (export.py's stdout), "calls", "signatures"}}: each kind
    exported once; every call ({"format", "signature", "expected", "got"}) ran in one fresh
    process, and "expected" is model.keras's answer to the same input."""
    folder = tmp_path_factory.mktemp("export")
    rng = np.random.default_rng(0)
    results, calls, inputs = {}, [], []
    for kind, name in KINDS.items():
        run_dir = folder / name
        make_run(name, run_dir)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            assert export.main([str(run_dir)]) == 0
        results[kind] = {"run_dir": run_dir, "printed": printed.getvalue(), "calls": []}
        declared = models.get_spec(name).serving(keras.saving.load_model(run_dir / "model.keras"))
        for endpoint in declared.endpoints:
            formats = {"saved_model/1": endpoint.input}
            if os.path.exists(run_dir / "export" / "model.tflite"):
                formats["model.tflite"] = endpoint.litert_input or endpoint.input
            for path, spec in formats.items():
                value = example_input(spec, rng)
                call = {
                    "path": str(run_dir / "export" / path),
                    "format": "saved_model" if path == "saved_model/1" else "litert",
                    "signature": endpoint.name,
                    "input": spec.name,
                }
                expected = endpoint.function(tf.constant(value))  # model.keras, in this process
                results[kind]["calls"].append(
                    {**call, "index": len(calls), "expected": _numpy(expected)}
                )
                calls.append(call)
                inputs.append(value)
    outputs, signatures = call_in_fresh_process(calls, inputs, folder)
    for result in results.values():
        result["signatures"] = signatures
        for call in result["calls"]:
            call["got"] = {name: outputs[f"{call['index']}/{name}"] for name in call["expected"]}
    return results


def _numpy(tensors: dict) -> dict:
    return {name: np.asarray(value) for name, value in tensors.items()}


@pytest.mark.parametrize("kind", sorted(DEFAULT_SIGNATURE_INPUT))
def test_every_kind_is_registered(kind):
    assert kind in KINDS, f"no registered model declares serving={kind}"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_saved_model_reloaded_in_a_fresh_process_agrees_with_model_keras(kind, exported):
    result = exported[kind]
    assert kind in DEFAULT_SIGNATURE_INPUT, f"document {kind}'s signature in the README and here"
    input_name, dtype, shape = DEFAULT_SIGNATURE_INPUT[kind]
    saved_model = str(result["run_dir"] / "export" / "saved_model" / "1")
    assert result["signatures"][saved_model]["serving_default"] == {input_name: [dtype, shape]}
    assert "serving_default" in result["printed"] and input_name in result["printed"]
    calls = [call for call in result["calls"] if call["format"] == "saved_model"]
    assert calls  # every endpoint, e.g. the VAE's generate, encode and decode
    for call in calls:
        for name, expected in call["expected"].items():
            assert call["got"][name].shape == expected.shape, (call["signature"], name)
            np.testing.assert_allclose(
                call["got"][name], expected, atol=SAVED_MODEL_TOLERANCE, rtol=0, err_msg=name
            )


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_litert_model_agrees_with_model_keras_or_is_refused_with_a_reason(kind, exported):
    result = exported[kind]
    calls = [call for call in result["calls"] if call["format"] == "litert"]
    refused = "LiteRT: not written: LiteRT cannot hold" in result["printed"]
    assert refused == (not calls)
    if refused:  # only where the spec says why (string ops, lengths), never by surprise
        assert not os.path.exists(result["run_dir"] / "export" / "model.tflite")
        assert kind in ("text_classifier", "transcriber"), result["printed"]
        return
    for call in calls:  # one per endpoint: each is a signature of the .tflite file
        for name, expected in call["expected"].items():
            np.testing.assert_allclose(
                call["got"][name], expected, atol=LITERT_TOLERANCE, rtol=0, err_msg=name
            )


def test_image_endpoint_scales_uint8_pixels_as_training_did(exported):
    """Clients send raw pixels; the endpoint must give what model.keras gives for the float
    images in [0, 1] that training fed it."""
    result = exported["image_classifier"]
    model = keras.saving.load_model(result["run_dir"] / "model.keras")
    call = result["calls"][0]
    pixels = np.load(result["run_dir"].parent / "inputs.npz")[str(call["index"])]
    assert pixels.dtype == np.uint8
    np.testing.assert_allclose(
        call["got"]["probabilities"],
        model(pixels.astype(np.float32) / 255.0, training=False),
        atol=SAVED_MODEL_TOLERANCE,
    )


def run_export(argv, capsys) -> tuple[int, str]:
    code = export.main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.err


def test_refuses_a_missing_run(tmp_path, capsys):
    code, error = run_export([tmp_path / "nothing"], capsys)
    assert code == 2 and "no run directory" in error


def test_refuses_an_unfinished_run(exported, tmp_path, capsys):
    finished = exported["image_classifier"]["run_dir"]
    shutil.copy(finished / "config.json", tmp_path / "config.json")  # no model.keras yet
    code, error = run_export([tmp_path], capsys)
    assert code == 2 and "unfinished run" in error
    assert not os.path.exists(tmp_path / "export")


def test_refuses_an_unknown_format(exported, capsys):
    code, error = run_export([exported["policy"]["run_dir"], "--format", "onnx"], capsys)
    assert code == 2 and "unknown format onnx" in error and "saved_model, litert" in error


def test_never_overwrites_an_export(exported, capsys):
    export_dir = exported["policy"]["run_dir"] / "export"
    before = sorted(os.listdir(export_dir))
    code, error = run_export([exported["policy"]["run_dir"]], capsys)
    assert code == 2 and "already exists" in error and "rm -r" in error
    assert sorted(os.listdir(export_dir)) == before


def test_litert_alone_for_a_model_litert_cannot_hold_writes_nothing(exported, tmp_path, capsys):
    run_dir = tmp_path / "run"
    shutil.copytree(
        exported["text_classifier"]["run_dir"], run_dir, ignore=shutil.ignore_patterns("export")
    )
    code, error = run_export([run_dir, "--format", "litert"], capsys)
    assert code == 2 and "LiteRT cannot hold" in error and "--format saved_model" in error
    assert sorted(os.listdir(run_dir)) == ["config.json", "model.keras"]  # no export, no scratch


def test_transcriber_decodes_greedily_collapsing_repeats_and_dropping_blanks():
    """Symbols per frame (0 is CTC's blank, word k is k + 1): "2 2 blank 2 3" says words 1, 1,
    2; all-zero padding frames say nothing."""
    probabilities = np.zeros((2, 6, 4), np.float32)
    for frame, symbol in enumerate([2, 2, 0, 2, 3, 0]):
        probabilities[0, frame, symbol] = 1.0
    for frame, symbol in enumerate([1, 0, 1]):  # then three padding frames
        probabilities[1, frame, symbol] = 1.0
    words = serving.greedy_ctc_words(tf.constant(probabilities)).numpy()
    np.testing.assert_array_equal(words, [[1, 1, 2], [0, 0, -1]])
