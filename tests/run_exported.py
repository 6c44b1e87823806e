"""Calls exported models in a fresh process, as a client would: no project code, no Keras.

    python tests/run_exported.py CALLS.json INPUTS.npz OUTPUTS.npz

CALLS.json lists calls: {"path", "format" ("saved_model" or "litert"), "signature", "input"
(the input's name)}; the i-th call's input array is INPUTS.npz["i"]. Writes OUTPUTS.npz with
"i/<output name>" for each call's outputs and prints, as JSON, every signature's inputs
({path: {signature: {input name: [dtype, shape]}}}, None or -1 for a size chosen per call).
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from ai_edge_litert.interpreter import Interpreter  # noqa: E402


def saved_model_signatures(path: str):
    signatures = tf.saved_model.load(path).signatures
    inputs = {
        name: {
            key: [spec.dtype.name, spec.shape.as_list()]
            for key, spec in function.structured_input_signature[1].items()
        }
        for name, function in signatures.items()
    }
    return signatures, inputs


def litert_runners(path: str):
    interpreter = Interpreter(model_path=path)
    runners = {
        name: interpreter.get_signature_runner(name) for name in interpreter.get_signature_list()
    }
    inputs = {
        name: {
            key: [np.dtype(detail["dtype"]).name, detail["shape_signature"].tolist()]
            for key, detail in runner.get_input_details().items()
        }
        for name, runner in runners.items()
    }
    return runners, inputs


def main() -> int:
    calls_path, inputs_path, outputs_path = sys.argv[1:]
    with open(calls_path) as file:
        calls = json.load(file)
    arrays = np.load(inputs_path)
    opened, described, outputs = {}, {}, {}
    for index, call in enumerate(calls):
        key = (call["path"], call["format"])
        if key not in opened:
            opener = saved_model_signatures if call["format"] == "saved_model" else litert_runners
            opened[key], described[call["path"]] = opener(call["path"])
        inputs = {call["input"]: arrays[str(index)]}
        if call["format"] == "saved_model":
            results = opened[key][call["signature"]](
                **{name: tf.constant(value) for name, value in inputs.items()}
            )
        else:
            results = opened[key][call["signature"]](**inputs)
        for name, value in results.items():
            outputs[f"{index}/{name}"] = np.asarray(value)
    np.savez(outputs_path, **outputs)
    print(json.dumps(described))
    return 0


if __name__ == "__main__":
    sys.exit(main())
