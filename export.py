"""Exports a finished run for deployment: python export.py runs/cnn-mnist-20261123-101500

Writes RUN_DIR/export/saved_model/1/ (a SavedModel in TensorFlow Serving's layout) and
RUN_DIR/export/model.tflite (LiteRT), then prints each signature's inputs and outputs and how
to call it. What a model exports is declared by its spec (models/serving.py). An existing
RUN_DIR/export is never overwritten. Bad input exits with code 2.
"""

import argparse
import sys

from training import interrupts, startup

with interrupts.exit_if_stopped_while_starting(
    "export.py: interrupted while starting; nothing was written."
):
    startup.quiet_tensorflow()
    import models  # registers every model, which loading model.keras needs
    from training import export, runs
    from training.errors import UsageError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="a finished run directory written by train.py")
    parser.add_argument(
        "--format",
        default=",".join(export.FORMATS),
        help="comma-separated: saved_model (TensorFlow Serving), litert (.tflite); default: both",
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:
        return exit_request.code
    try:
        formats = export.parse_formats(args.format)
        config = runs.load_run_config(args.run_dir)
        spec = models.get_spec(config.model)
        written = export.export(config, spec, formats)
        print(export.describe(written, spec.name))
    except UsageError as error:
        print(f"export.py: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
