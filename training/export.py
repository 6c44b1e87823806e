"""Writes a finished run for deployment: a SavedModel for TensorFlow Serving and a LiteRT file.

    RUN_DIR/export/saved_model/1/   TF Serving's layout: a model folder holding version folders
    RUN_DIR/export/model.tflite     for LiteRT (phones, microcontrollers, the Python interpreter)

What a model exports (its endpoints, their inputs and outputs) is declared by its spec's
`serving` (models/serving.py); this module writes whatever is declared and names no model.
The export is built in a temporary folder and renamed into place at the end, so a failure
leaves no half-written export behind.
"""

import contextlib
import os
import re
import shutil
import tempfile

import keras
import tensorflow as tf

from training import runs
from training.errors import UsageError

FORMATS = ("saved_model", "litert")
EXPORT_DIR = "export"
SAVED_MODEL_DIR = os.path.join("saved_model", "1")  # version 1 of the model TF Serving serves
LITERT_FILE = "model.tflite"


def parse_formats(text: str) -> tuple[str, ...]:
    """ "saved_model,litert" -> ("saved_model", "litert"), or a UsageError naming the known ones."""
    formats = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [name for name in formats if name not in FORMATS]
    if unknown or not formats:
        raise UsageError(
            f"unknown format {', '.join(unknown) or repr(text)}; --format takes a comma-separated "
            f"list of {', '.join(FORMATS)} (default: both)."
        )
    return formats


def export(config, spec, formats=FORMATS) -> dict[str, str]:
    """Writes the formats asked for; returns {format: path} of those written.

    A format the model cannot take (LiteRT for a model built on string ops) is said on stdout
    and skipped, and the others are still written; a UsageError when nothing can be written."""
    if spec.serving is None:
        raise UsageError(f"{spec.name} declares nothing to export (its spec has no `serving`).")
    export_dir = os.path.join(config.run_dir, EXPORT_DIR)
    if os.path.exists(export_dir):
        raise UsageError(
            f"{export_dir} already exists; an export is never overwritten. Delete that folder "
            f"(rm -r {export_dir}) to export again."
        )
    serving = spec.serving(runs.load_model(config.run_dir))
    try:
        scratch = tempfile.mkdtemp(prefix=f".{EXPORT_DIR}-", suffix=".partial", dir=config.run_dir)
    except OSError as error:
        raise UsageError(f"cannot write to {config.run_dir} ({error.strerror}).") from None
    try:
        written = _write(serving, spec.name, formats, scratch)
        os.replace(scratch, export_dir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {name: os.path.join(export_dir, path) for name, path in written.items()}


def _write(serving, model_name: str, formats, folder: str) -> dict[str, str]:
    written = {}
    if "saved_model" in formats:
        write_saved_model(serving, os.path.join(folder, SAVED_MODEL_DIR))
        written["saved_model"] = SAVED_MODEL_DIR
    if "litert" in formats:
        saved_model = written.get("saved_model") and os.path.join(folder, SAVED_MODEL_DIR)
        reason = serving.litert_refusal or write_litert(
            serving, os.path.join(folder, LITERT_FILE), folder, saved_model
        )
        if reason:
            if not written:
                raise UsageError(
                    f"LiteRT cannot hold {model_name}: {reason}. Export it with "
                    "--format saved_model."
                )
            print(f"LiteRT: not written: LiteRT cannot hold {model_name}: {reason}.")
        else:
            written["litert"] = LITERT_FILE
    return written


def _archive(serving, litert: bool = False) -> keras.export.ExportArchive:
    """The endpoints over the networks' weights; `litert`: with the inputs LiteRT gets."""
    archive = keras.export.ExportArchive()
    for network in serving.networks:
        archive.track(network)
    for endpoint in serving.endpoints:
        spec = (endpoint.litert_input if litert else None) or endpoint.input
        archive.add_endpoint(endpoint.name, endpoint.function, input_signature=[spec])
    return archive


def write_saved_model(serving, path: str) -> None:
    """Every endpoint as a signature; Keras adds "serving_default" for the first one."""
    _archive(serving).write_out(path, verbose=False)


def write_litert(serving, path: str, scratch: str, saved_model: str | None = None) -> str | None:
    """Converts the endpoints to one .tflite file with one signature each, using LiteRT's
    built-in ops only (the ones every LiteRT runtime has). Returns None, or why it failed.

    The converter reads a SavedModel: `saved_model` when it was just written and LiteRT takes
    the same inputs, else one written for LiteRT in `scratch`."""
    source = os.path.join(scratch, "litert_source")
    if saved_model and not any(endpoint.litert_input for endpoint in serving.endpoints):
        source = saved_model
    else:
        _archive(serving, litert=True).write_out(source, verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(
        source, signature_keys=[endpoint.name for endpoint in serving.endpoints]
    )
    with tempfile.TemporaryFile() as log:
        try:
            with _stderr_to(log):
                flatbuffer = converter.convert()
        except Exception as error:  # the converter raises its own types, with pages of MLIR
            log.seek(0)
            return _first_error(f"{error}\n{log.read().decode(errors='replace')}")
        finally:
            if source != saved_model:
                shutil.rmtree(source, ignore_errors=True)
    with open(path, "wb") as file:
        file.write(flatbuffer)
    return None


@contextlib.contextmanager
def _stderr_to(file):
    """The converter's C++ code prints its log (pages of MLIR) straight to file descriptor 2;
    it goes to `file` instead, read only when the conversion fails."""
    saved = os.dup(2)
    os.dup2(file.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _first_error(text: str) -> str:
    """What the converter says went wrong, in one short line: the ops LiteRT lacks, or the
    first op it could not convert and why."""
    lacking = re.search(r"TF Select ops: ([^\n]+)", text)
    if lacking:
        return f"LiteRT's built-in ops lack {lacking.group(1).strip()}"
    failed = re.search(r"'tf\.(\w+)' op ([^\n]+)", text)
    if failed:
        reason = f"its {failed.group(1)} op {failed.group(2).strip()}"
        return reason if len(reason) <= 300 else reason[:297] + "..."
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0][:300] if lines else "the converter failed without saying why"


def describe(written: dict[str, str], model_name: str) -> str:
    """Each written format's signatures (inputs and outputs: name, dtype, shape; None is any
    size) and how to call them, read back from the files themselves."""
    lines = []
    if "saved_model" in written:
        path = written["saved_model"]
        signatures = tf.saved_model.load(path).signatures
        lines.append(f"SavedModel (TensorFlow Serving): {path}")
        for name in sorted(signatures, key=lambda name: (name != "serving_default", name)):
            _, inputs = signatures[name].structured_input_signature
            outputs = signatures[name].structured_outputs
            lines.append(f"  signature {name}: {_specs(inputs)} -> {_specs(outputs)}")
        (default_input,) = signatures["serving_default"].structured_input_signature[1]
        lines += [
            f"  inspect: saved_model_cli show --dir {path} --all",
            f"  Python:  tf.saved_model.load({path!r})"
            f".signatures['serving_default']({default_input}=a_tensor)",
            "  serve:   TensorFlow Serving with the folder above its version folder mounted as "
            f"/models/{model_name} (the README's Deploy section)",
        ]
    if "litert" in written:
        from ai_edge_litert.interpreter import Interpreter

        path = written["litert"]
        interpreter = Interpreter(model_path=path)
        lines.append(f"LiteRT: {path}")
        signatures = interpreter.get_signature_list()  # {name: {"inputs": [...], ...}}
        for name in signatures:
            runner = interpreter.get_signature_runner(name)
            lines.append(
                f"  signature {name}: {_details(runner.get_input_details())} -> "
                f"{_details(runner.get_output_details())}"
            )
        first = next(iter(signatures))
        lines.append(
            "  Python:  from ai_edge_litert.interpreter import Interpreter; "
            f"Interpreter(model_path={path!r}).get_signature_runner({first!r})"
            f"({signatures[first]['inputs'][0]}=a_numpy_array)"
        )
    return "\n".join(lines)


def _specs(specs: dict) -> str:
    return ", ".join(
        f"{name} {spec.dtype.name} {_shape(spec.shape.as_list())}" for name, spec in specs.items()
    )


def _details(details: dict) -> str:
    return ", ".join(
        f"{name} {detail['dtype'].__name__} {_shape([int(size) for size in detail['shape_signature']])}"
        for name, detail in details.items()
    )


def _shape(sizes) -> str:
    """(None, 28, 28, 1): None (or LiteRT's -1) is a size chosen by each call."""
    sizes = [None if size is None or size < 0 else size for size in sizes]
    return "(" + ", ".join(map(str, sizes)) + ("," if len(sizes) == 1 else "") + ")"
