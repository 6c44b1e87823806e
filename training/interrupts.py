"""Ctrl-C and SIGTERM that a run never loses.

Python turns SIGINT into a KeyboardInterrupt raised at whatever line the main thread runs next.
When that line is inside a finalizer (a `__del__`, such as the one TensorFlow runs to delete a
dataset iterator's executor as an epoch ends), Python prints "Exception ignored in ..." and drops
the exception: the run would train on, and finish, as if nobody had pressed Ctrl-C. So the
handler here also remembers the signal, and the training loops call `check()` before every step
and before they write a finished model, which raises it again. The dropped one is then not
printed either: Ctrl-C ends a run with one line, never a traceback.

Three more helpers cover a run's edges: `as_stop_if_requested()` reads an error that a stop
caused inside TensorFlow's C code as that stop, `exit_if_stopped_while_starting()` ends a stop
during an entry point's imports with one line, and `deferred()` lets a finished run tidy up.
"""

import contextlib
import signal
import sys

_stop_requested = False
_deferring = False
_previous_unraisable_hook = sys.unraisablehook


def _request_stop(signal_number, frame):
    global _stop_requested
    first = not _stop_requested
    _stop_requested = True
    if _deferring and first:
        return  # remembered; the block finishes (see deferred)
    raise KeyboardInterrupt


def _quiet_about_dropped_stops(unraisable):
    """sys.unraisablehook: Python calls it with every exception it drops."""
    if not (_stop_requested and unraisable.exc_type is KeyboardInterrupt):  # check() raises that
        _previous_unraisable_hook(unraisable)


def listen() -> None:
    """From now on Ctrl-C and SIGTERM (a cluster manager, `timeout`, `kill`) both stop this
    process with a KeyboardInterrupt that `check()` raises again if it was lost. A SIGINT that
    was ignored when Python started stays ignored: a script's background job (`cmd &`) is not
    meant to hear the terminal's Ctrl-C."""
    global _stop_requested, _previous_unraisable_hook
    _stop_requested = False
    if sys.unraisablehook is not _quiet_about_dropped_stops:
        _previous_unraisable_hook = sys.unraisablehook
        sys.unraisablehook = _quiet_about_dropped_stops
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _request_stop)
    signal.signal(signal.SIGTERM, _request_stop)


def check() -> None:
    """Raises KeyboardInterrupt if a stop was requested since `listen()`."""
    if _stop_requested:
        raise KeyboardInterrupt


@contextlib.contextmanager
def deferred():
    """Within: a first Ctrl-C or SIGTERM is only remembered, so the block runs to its end (a
    run tidying up once its model is saved: the run is finished, and stopping half-way would
    only leave its backup and summaries behind); a second one stops at once."""
    global _deferring
    _deferring = True
    try:
        yield
    finally:
        _deferring = False


@contextlib.contextmanager
def exit_if_stopped_while_starting(line: str):
    """Around an entry point's imports (TensorFlow loads for seconds): from here on Ctrl-C and
    SIGTERM stop the process (see listen), and one that comes within ends it with `line` and exit
    code 130, not a traceback from inside an import."""
    listen()
    try:
        with as_stop_if_requested():
            yield
    except KeyboardInterrupt:
        print(line, file=sys.stderr)
        sys.exit(130)


@contextlib.contextmanager
def as_stop_if_requested():
    """Within: an exception raised once a stop was requested is raised as that stop. A
    KeyboardInterrupt raised while TensorFlow's C code runs Python (tracing a function, for
    example) can come out as another error, such as SystemError; one raised while a compiled
    module initializes (TensorFlow loads dozens as it starts) comes out as ImportError
    ("initialization failed")."""
    try:
        yield
    except Exception:
        if _stop_requested:
            raise KeyboardInterrupt from None
        raise
