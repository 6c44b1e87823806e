"""Try every trained model on your own input in a local web page: python playground.py

Draw a digit, type a review, record a word, watch an agent play, walk a generator's latent
space, or train a tiny network in the Neurons tab. It lists the finished runs under --runs
(train.py's, the notebooks', a sweep's) and serves the page on 127.0.0.1 only, fully offline:
the page's files come with Gradio, analytics and update checks are off. Stop it with Ctrl-C.
"""

import argparse
import os
import socket
import sys

from training import flags, startup
from training.errors import UsageError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs", help="folder to look for runs in (default: runs)")
    parser.add_argument(
        "--port", type=flags.positive_int, default=7860, help="port on 127.0.0.1 (default: 7860)"
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:
        return exit_request.code
    try:
        _check(args)
        startup.quiet_tensorflow()
        from playground import app  # imports TensorFlow and Gradio: only once the flags are good

        page = app.build(args.runs)
        print(f"Playground: http://127.0.0.1:{args.port}  (Ctrl-C stops it)", flush=True)
        app.launch(page, args.port)
    except UsageError as error:
        print(f"playground.py: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("playground.py: stopped.", file=sys.stderr)
    return 0


def _check(args) -> None:
    if not os.path.isdir(args.runs):
        raise UsageError(
            f"--runs {args.runs} is not a folder; train a model first (python train.py --model "
            "cnn writes runs/) or point --runs at the folder that holds your runs."
        )
    if args.port > 65535:
        raise UsageError(f"--port {args.port} is not a port; pick one from 1024 to 65535.")
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", args.port))
        except OSError as error:
            raise UsageError(
                f"port {args.port} on 127.0.0.1 is taken ({error.strerror}); is the playground "
                "already running? Stop it, or pick another --port."
            ) from None


if __name__ == "__main__":
    sys.exit(main())
