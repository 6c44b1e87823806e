"""The page: one tab per application, each listing the runs the registry says it can show.

Every tab's button calls one function of this module (`classify_drawing`, `classify_text`,
...), which finds the run, loads its model once and hands both to the tab's module. What goes
wrong (no run picked, an unfinished run, a file that is not a WAV) comes back as the answer's
text, so the page always answers.
"""

import functools
import io
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no usage reports, no version check
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing fetched from a model hub
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # environments draw off screen

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import models  # noqa: E402  (registers every model, which loading model.keras needs)
from playground import agents, catalogue, generative, images, neurons, speech, text  # noqa: E402
from training.errors import UsageError  # noqa: E402

TITLE = "Deep learning playground"
TRAIN_COMMANDS = {  # what the empty tab suggests, by application
    application: [f"python train.py --model {name}" for name in catalogue.models_for(application)]
    for application in catalogue.APPLICATIONS
}


class Playground:
    """The runs found under one folder, and the functions behind the page's buttons."""

    def __init__(self, runs_dir: str):
        self.runs_dir = runs_dir
        self.runs = {run.path: run for run in catalogue.find_runs(runs_dir)}

    def choices(self, application: str) -> list[tuple[str, str]]:
        """(label, path) of this application's runs, newest first, unusable ones last."""
        found = [run for run in self.runs.values() if run.application == application]
        found.sort(key=lambda run: run.problem is not None)  # stable: newest first within each
        return [(run.label, run.path) for run in found]

    def model_and_spec(self, path: str | None):
        if not path:
            raise UsageError("pick a run first (the list above); the tab says how to make one.")
        if path not in self.runs:
            raise UsageError(f"{path} is not one of the runs found under {self.runs_dir}.")
        run = self.runs[path]
        if not os.path.isdir(path):
            raise UsageError(f"{path} is gone; restart the playground to list the runs again.")
        return catalogue.model_of(run), models.get_spec(run.model), run.description

    def classify_drawing(self, path, drawing, upload):
        model, spec, description = self.model_and_spec(path)
        picture = images.picture_of(upload if upload is not None else drawing)
        seen, probabilities = images.classify(model, spec, description, picture)
        best = max(probabilities, key=probabilities.get)
        return f"{best} (probability {probabilities[best]:.3f})", seen, probabilities

    def classify_text(self, path, review):
        model, spec, description = self.model_and_spec(path)
        answer, probabilities, figure = text.classify(model, spec, description, review or "")
        return answer, probabilities, as_picture(figure)

    def listen(self, path, recording):
        model, spec, description = self.model_and_spec(path)
        if not recording:
            raise UsageError("there is no recording yet; record a word or upload a WAV file.")
        answer, probabilities, figure = speech.listen(model, spec, description, recording)
        return answer, probabilities, as_picture(figure)

    def play(self, path, seed):
        policy, _, description = self.model_and_spec(path)
        trained, random, summary, figure = agents.play(policy, description, int(seed or 0))
        if trained is None:
            summary += (
                ' (No animation: drawing needs pygame, pip install "gymnasium[classic-control]".)'
            )
        return summary, trained, random, as_picture(figure)

    def samples(self, path, seed):
        model, _, _ = self.model_and_spec(path)
        return f"16 samples from seed {int(seed or 0)}", generative.samples(model, seed or 0)

    def interpolate(self, path, seed_a, seed_b, fraction):
        model, _, _ = self.model_and_spec(path)
        picture = generative.interpolate(model, seed_a or 0, seed_b or 0, fraction)
        return (
            f"{fraction:.0%} of the way from seed {int(seed_a or 0)} to seed {int(seed_b or 0)}",
            picture,
        )

    def at_point(self, path, x, y):
        model, _, _ = self.model_and_spec(path)
        return f"latent point ({x:.2f}, {y:.2f})", generative.at_point(model, x, y)


def answering(function, outputs: int):
    """`function`, with a UsageError (or any failure) turned into the answer's text and empty
    other outputs, so a bad input or a broken run gives a message instead of an error page."""

    @functools.wraps(function)
    def wrapper(*args):
        try:
            return function(*args)
        except UsageError as error:
            message = str(error)
        except Exception as error:  # a damaged run can fail anywhere; say so, keep serving
            message = f"this run could not answer ({type(error).__name__}: {error})"
        return (message,) + (None,) * (outputs - 1)

    return wrapper


def as_picture(figure) -> np.ndarray | None:
    """A matplotlib Figure as RGB pixels (the page shows pictures; no pyplot involved)."""
    if figure is None:
        return None
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    return np.asarray(Image.open(buffer).convert("RGB"))


def run_picker(playground: Playground, application: str) -> gr.Dropdown:
    """The tab's list of runs, or a note saying how to make one when there is none."""
    choices = playground.choices(application)
    if not choices:
        commands = " or ".join(f"`{command}`" for command in TRAIN_COMMANDS[application])
        gr.Markdown(
            f"No {application} run under `{playground.runs_dir}` yet. Make one with "
            f"{commands}, then restart the playground."
        )
    return gr.Dropdown(
        choices,
        value=choices[0][1] if choices else None,
        label="Run (newest first)",
        allow_custom_value=True,  # a run that is gone gets a message, not a refusal
    )


def images_tab(playground: Playground):
    picker = run_picker(playground, "images")
    with gr.Row():
        drawing = gr.Sketchpad(
            label="Draw a digit",
            type="numpy",
            image_mode="RGBA",
            canvas_size=(280, 280),
            brush=gr.Brush(default_size=16, colors=["#000000"], color_mode="fixed"),
            elem_id="drawing",
        )
        upload = gr.Image(label="... or upload an image", type="numpy", sources=["upload"])
    button = gr.Button("Classify", variant="primary", elem_id="classify-drawing")
    with gr.Row():
        answer = gr.Textbox(label="Answer", elem_id="image-answer")
        seen = gr.Image(label="What the model sees", type="numpy")
        probabilities = gr.Label(label="Class probabilities", num_top_classes=10)
    button.click(
        answering(playground.classify_drawing, 3),
        [picker, drawing, upload],
        [answer, seen, probabilities],
        api_name="classify_drawing",
    )


def text_tab(playground: Playground):
    picker = run_picker(playground, "text")
    review = gr.Textbox(label="A review", lines=3, elem_id="review")
    button = gr.Button("Classify", variant="primary", elem_id="classify-text")
    with gr.Row():
        answer = gr.Textbox(label="Answer", elem_id="text-answer")
        probabilities = gr.Label(label="Class probabilities")
    attention = gr.Image(label="Attention (models with self-attention only)", type="numpy")
    button.click(
        answering(playground.classify_text, 3),
        [picker, review],
        [answer, probabilities, attention],
        api_name="classify_text",
    )


def speech_tab(playground: Playground):
    picker = run_picker(playground, "speech")
    recording = gr.Audio(
        sources=["upload", "microphone"],
        type="filepath",
        format=None,  # no conversion (that needs ffmpeg): the WAV file reaches read_wav as is
        label="Record a word or upload a WAV file",
        elem_id="recording",
    )
    button = gr.Button("Listen", variant="primary", elem_id="listen")
    with gr.Row():
        answer = gr.Textbox(label="Answer", elem_id="speech-answer")
        probabilities = gr.Label(label="Word probabilities (word classifiers)")
    heard = gr.Image(label="What the model heard", type="numpy")
    button.click(
        answering(playground.listen, 3),
        [picker, recording],
        [answer, probabilities, heard],
        api_name="listen",
    )


def agents_tab(playground: Playground):
    picker = run_picker(playground, "agents")
    seed = gr.Number(value=0, precision=0, label="Episode seed")
    button = gr.Button("Play one episode", variant="primary", elem_id="play")
    summary = gr.Textbox(label="Returns", elem_id="agent-answer")
    with gr.Row():
        trained = gr.Image(label="Trained agent", type="filepath")
        random = gr.Image(label="Agent acting at random", type="filepath")
    scores = gr.Image(label="Action scores", type="numpy")
    button.click(
        answering(playground.play, 4),
        [picker, seed],
        [summary, trained, random, scores],
        api_name="play",
    )


def generative_tab(playground: Playground):
    picker = run_picker(playground, "generative")
    answer = gr.Textbox(label="Answer", elem_id="generative-answer")
    with gr.Row():
        with gr.Column():
            seed = gr.Number(value=0, precision=0, label="Seed")
            samples_button = gr.Button("Sample", variant="primary")
            samples = gr.Image(label="Samples", type="numpy")
        with gr.Column():
            with gr.Row():
                seed_a = gr.Number(value=1, precision=0, label="From seed")
                seed_b = gr.Number(value=2, precision=0, label="To seed")
            fraction = gr.Slider(
                0, 1, value=0.5, step=0.05, label="Along the way", elem_id="fraction"
            )
            between = gr.Image(label="In between", type="numpy")
        with gr.Column():
            x = gr.Slider(-3, 3, value=0, step=0.1, label="Latent x (2-D VAE)", elem_id="latent-x")
            y = gr.Slider(-3, 3, value=0, step=0.1, label="Latent y (2-D VAE)")
            point = gr.Image(label="At that point", type="numpy")
    samples_button.click(
        answering(playground.samples, 2), [picker, seed], [answer, samples], api_name="samples"
    )
    fraction.change(
        answering(playground.interpolate, 2),
        [picker, seed_a, seed_b, fraction],
        [answer, between],
        api_name="interpolate",
    )
    for slider in (x, y):
        slider.change(
            answering(playground.at_point, 2),
            [picker, x, y],
            [answer, point],
            api_name="latent_point" if slider is x else False,
        )


def neurons_tab():
    gr.Markdown(
        "A small network learns to tell the red points from the blue ones. Pick the data and "
        "the network, then train a step at a time and watch every neuron change."
    )
    with gr.Row():
        dataset = gr.Radio(list(neurons.DATASETS), value="circles", label="Data")
        activation = gr.Radio(list(neurons.ACTIVATIONS), value="tanh", label="Activation")
    with gr.Row():
        layers = gr.Slider(0, 4, value=2, step=1, label="Hidden layers")
        units = gr.Slider(1, 8, value=4, step=1, label="Neurons per layer")
        rate = gr.Dropdown(
            [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0], value=0.3, label="Learning rate"
        )
    with gr.Row():
        one = gr.Button("1 step")
        hundred = gr.Button("100 steps", variant="primary", elem_id="train-100")
        reset = gr.Button("Reset")
    lesson = gr.State(None)
    boundary = gr.Image(label="Loss and decision boundary", type="numpy")
    hidden = gr.Image(label="Every hidden neuron over the input plane", type="numpy")
    settings = [dataset, layers, units, activation, rate]

    def step(count):
        def train(state, *chosen):
            state = neurons.new_lesson(*chosen) if count is None else state
            state = neurons.train(state, count or 0, *chosen)
            pictures = neurons.boundary_figure(state), neurons.neurons_figure(state)
            return (state, *map(as_picture, pictures))

        return train

    outputs = [lesson, boundary, hidden]
    one.click(step(1), [lesson, *settings], outputs, api_name="neurons_step")
    hundred.click(step(100), [lesson, *settings], outputs, api_name="neurons_train")
    reset.click(step(None), [lesson, *settings], outputs, api_name="neurons_reset")


def build(runs_dir: str) -> gr.Blocks:
    playground = Playground(runs_dir)
    with gr.Blocks(title=TITLE, analytics_enabled=False) as page:
        gr.Markdown(f"# {TITLE}\nEvery model trained under `{runs_dir}`, on your own input.")
        with gr.Tab("Images"):
            images_tab(playground)
        with gr.Tab("Text"):
            text_tab(playground)
        with gr.Tab("Speech"):
            speech_tab(playground)
        with gr.Tab("Agents"):
            agents_tab(playground)
        with gr.Tab("Generative"):
            generative_tab(playground)
        with gr.Tab("Neurons"):
            neurons_tab()
    return page


def launch(page: gr.Blocks, port: int, block: bool = True):
    """Serves `page` on 127.0.0.1:`port` only: no public link, no server-side rendering
    (it needs Node.js), nothing fetched from elsewhere."""
    return page.launch(
        server_name="127.0.0.1",
        server_port=port,
        share=False,
        ssr_mode=False,
        prevent_thread_lock=not block,
        quiet=True,
        footer_links=[],
    )
