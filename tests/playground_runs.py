"""What the playground tests share: one set of tiny runs trained on mock data, one served page.

Both are session-scoped, so the function tests, the served-app tests and the browser test train
the models once and start Gradio once. Import the fixtures into a test module by name.
"""

import os
import socket

import numpy as np
import pytest
import scipy.io.wavfile

import synthetic
import train
from conftest import tiny_flags

# One run per tab that needs one, each as small and short as the model allows: (flags, mock
# examples per split). spoken_digit's splits are made from its one split by take number, so
# the speech model needs enough clips for each of them to hold some.
TRAINED = {
    "cnn": (["--epochs", "1"], 48),
    "transformer": (["--epochs", "1"], 48),
    "speech": (["--epochs", "1"], 240),
    "vae": (["--epochs", "1"], 48),
    "dqn": (["--env-steps", "200"], 0),
}
SAMPLE_RATE = 8000  # spoken_digit's


@pytest.fixture(scope="session")
def runs_dir(tmp_path_factory):
    """A runs folder as a learner's looks: finished runs, an unfinished one, a damaged one."""
    folder = tmp_path_factory.mktemp("runs")
    for model, (extra, examples) in TRAINED.items():
        with synthetic.mock_learnable(examples):
            assert train.main(tiny_flags(model, folder / model, *extra)) == 0
    unfinished = folder / "unfinished-cnn"
    unfinished.mkdir()
    (unfinished / "config.json").write_text((folder / "cnn" / "config.json").read_text())
    damaged = folder / "damaged-transformer"
    damaged.mkdir()
    (damaged / "config.json").write_text((folder / "transformer" / "config.json").read_text())
    (damaged / "model.keras").write_bytes(b"not a zip file")
    return str(folder)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def served(runs_dir):
    """The URL of the playground serving `runs_dir`, on a free port of 127.0.0.1."""
    from playground import app

    port = free_port()
    page = app.build(runs_dir)
    app.launch(page, port, block=False)
    yield f"http://127.0.0.1:{port}/"
    page.close()


def tone_wav(folder, label: int = 3, seconds: float = 0.5) -> str:
    """A WAV file of the tone the mock speech data uses for `label`."""
    time = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    samples = 0.5 * np.sin(2 * np.pi * synthetic.tone_hertz(label) * time)
    path = os.path.join(folder, f"tone-{label}.wav")
    scipy.io.wavfile.write(path, SAMPLE_RATE, (samples * 32767).astype(np.int16))
    return path


def stroke_png(folder) -> str:
    """A PNG of a dark stroke on white paper, as a photo of a drawn digit would be."""
    from PIL import Image

    paper = np.full((120, 100, 3), 255, np.uint8)
    paper[20:100, 45:58] = 0  # a "1"
    path = os.path.join(folder, "stroke.png")
    Image.fromarray(paper).save(path)
    return path
