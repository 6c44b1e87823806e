"""Command-line value types and choices that train.py, evaluate.py and sweep.py share.

Importing this module does not import TensorFlow, so `--help` answers at once. Each type refuses
a value that would break later (argparse then exits with code 2 and the message).
"""

import argparse
import math

STRATEGIES = ("auto", "default", "one_device", "mirrored", "multi_worker")
MAX_SEED = 2**32 - 1  # NumPy's and TensorFlow's seeds are unsigned 32-bit numbers


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number (not infinity), got {value}")
    return value


def seed(text: str) -> int:
    value = int(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be from 0 to {MAX_SEED}, got {value}")
    return value
