"""The one exception type for mistakes a user can fix.

`train.py` and `evaluate.py` turn a `UsageError` into a one-line message on stderr and exit
code 2, with no traceback. Anything else is a bug and keeps its traceback.
"""


class UsageError(ValueError):
    """Bad input: the message says what happened and how to fix it."""
