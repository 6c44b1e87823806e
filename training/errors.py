"""The exception types for what a user can fix.

`train.py` and `evaluate.py` turn a `UsageError` into a one-line message on stderr and exit
code 2, with no traceback; `train.py` turns a `WorkerLost` into a message and exit code 1.
Anything else is a bug and keeps its traceback.
"""


class UsageError(ValueError):
    """Bad input: the message says what happened and how to fix it."""


class WorkerLost(RuntimeError):
    """A multi-worker run lost a worker: the message says how to resume."""


class Interrupted(Exception):
    """Ctrl-C (SIGINT) stopped training; the message says how far the backup got, e.g.
    "after epoch 2 of 5". The entry point prints one line and how to resume."""
