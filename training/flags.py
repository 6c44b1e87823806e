"""Command-line value types and choices that train.py, evaluate.py and sweep.py share.

Importing this module does not import TensorFlow, so `--help` answers at once. Each type refuses
a value that would break later (argparse then exits with code 2 and the message).
"""

import argparse
import math

STRATEGIES = ("auto", "default", "one_device", "mirrored", "multi_worker")
MAX_SEED = 2**32 - 1  # NumPy's and TensorFlow's seeds are unsigned 32-bit numbers
MAX_EPISODES = 100_000  # evaluate.py --episodes: hours of play already; more is a typo


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


def non_empty(text: str) -> str:
    """A name or a path: an empty one would silently mean the default."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty (leave the flag out for the default)")
    return text


def episodes(text: str) -> int:
    value = positive_int(text)
    if value > MAX_EPISODES:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_EPISODES:,}, got {value:,}")
    return value


def seed(text: str) -> int:
    value = int(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be from 0 to {MAX_SEED}, got {value}")
    return value
