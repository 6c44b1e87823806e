"""A quiet start: the entry points call `quiet_tensorflow()` before anything imports TensorFlow.

TensorFlow's C++ runtime prints several lines as it loads (no CUDA drivers found, CPU
instructions, and an E-level "failed call to cuInit" on every machine without a GPU) that read
as errors to a beginner and say nothing about the run. Set TF_CPP_MIN_LOG_LEVEL yourself (0
shows everything) to see them again.
"""

import os
import sys


def quiet_tensorflow() -> None:
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        return  # the user chose what to see
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # errors reach Python as exceptions anyway
    # A few lines are printed while the library loads, before that level applies: hide the
    # process's stderr for the import alone.
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
