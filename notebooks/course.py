"""What every notebook here shares: the project on the import path, quick mode, and one call
each to the project's own train.py and evaluate.py.

    import course                                 # the first cell of every notebook
    run_dir = course.train("cnn")                 # = python train.py --model cnn --run-dir RUN_DIR
    metrics = course.evaluate(run_dir)            # = python evaluate.py RUN_DIR; eval/metrics.json
    course.show(run_dir, "eval/examples.png")     # a figure evaluate.py wrote

Quick mode (environment variable NOTEBOOK_QUICK=1) trains every model for a few seconds with its
tiny test hyperparameters (and speech_to_text's fixed validation and test strings to 16 each),
so a whole notebook runs in about a minute or less; the test suite runs every notebook that way.
Without it, the notebooks train at full size, with the same defaults as
`python train.py --model NAME`.

Runs go to runs/notebooks/ (or $NOTEBOOK_RUNS), so `tensorboard --logdir runs` shows them.
"""

import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
from training import startup  # noqa: E402

startup.quiet_tensorflow()  # TensorFlow's C++ start-up lines read as errors to a beginner

import evaluate as evaluate_script  # noqa: E402
import models  # noqa: E402  (registers every model)
import train as train_script  # noqa: E402
from models import registry  # noqa: E402

try:  # in Jupyter: show figures inline, including the Figure objects training/figures.py returns
    from IPython import get_ipython

    if get_ipython() is not None:
        get_ipython().run_line_magic("matplotlib", "inline")
except ImportError:  # plain Python: nothing to show inline
    pass

QUICK = os.environ.get("NOTEBOOK_QUICK") == "1"
RUNS_DIR = os.environ.get("NOTEBOOK_RUNS", os.path.join(ROOT, "runs", "notebooks"))

QUICK_EPOCHS = 2
QUICK_FIXED_STRINGS = 16

if QUICK:
    # speech_to_text is scored on fixed strings built from the clips (300 for validation, 1,000
    # for test): a few are enough to try things out.
    from models import spoken_strings

    spoken_strings.FIXED.update(
        validation=(QUICK_FIXED_STRINGS, spoken_strings.VALIDATION_SEED),
        test=(QUICK_FIXED_STRINGS, spoken_strings.TEST_SEED),
    )
QUICK_BATCH_SIZE = 16
QUICK_ENV_STEPS = 600


def quick_flags(model: str) -> list[str]:
    """train.py flags for a few-second run: the model's tiny test hyperparameters, few epochs
    (agents: few environment steps)."""
    spec = models.get_spec(model)
    if isinstance(spec, models.AgentSpec):
        flags = ["--env-steps", str(QUICK_ENV_STEPS)]
    else:
        flags = ["--epochs", str(QUICK_EPOCHS), "--batch-size", str(QUICK_BATCH_SIZE)]
    return flags + registry.hyperparameter_flags(spec.test_hyperparameters)


def train(model: str, *flags: str, label: str | None = None) -> str:
    """Trains `model` with train.py's `flags` into a new run directory and returns its path.

    `label` names the run (default: the model's name), e.g. "mlp-sigmoid". In quick mode the
    quick flags come first, so a notebook's own flags (such as --set activation=sigmoid) win."""
    run_dir = os.path.join(RUNS_DIR, f"{label or model}-{time.strftime('%Y%m%d-%H%M%S')}")
    size_flags = quick_flags(model) if QUICK else []
    exit_code = train_script.main(["--model", model, "--run-dir", run_dir, *size_flags, *flags])
    if exit_code != 0:
        raise RuntimeError(f"train.py stopped with exit code {exit_code}; its message is above.")
    return run_dir


def evaluate(run_dir: str, *flags: str) -> dict | None:
    """Runs evaluate.py on `run_dir` and returns what it wrote to eval/metrics.json.

    With --text or --audio, evaluate.py prints the model's answer instead: returns None."""
    exit_code = evaluate_script.main([run_dir, *flags])
    if exit_code != 0:
        raise RuntimeError(f"evaluate.py stopped with exit code {exit_code}; its message is above.")
    if any(flag in ("--text", "--audio") for flag in flags):
        return None
    return read_json(run_dir, os.path.join("eval", "metrics.json"))


def read_json(run_dir: str, name: str = "metrics.json") -> dict:
    """A JSON file of a run: metrics.json (test metrics at the end of training), config.json, ..."""
    with open(os.path.join(run_dir, name)) as file:
        return json.load(file)


def show(run_dir: str, figure: str):
    """A PNG or GIF that train.py or evaluate.py wrote, displayed in the notebook."""
    from IPython.display import Image

    return Image(filename=os.path.join(run_dir, figure))
