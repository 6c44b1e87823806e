"""What a speech-to-text model shows: transcripts and an alignment in TensorBoard, the
evaluation report (eval/transcripts.txt, eval/alignment.png, error rates by string length) and
`evaluate.py RUN_DIR --audio my_numbers.wav`.

The alignment figure is the spectrogram of one utterance with the symbol the model finds most
likely at each of its frames underneath: mostly blanks, with each word a spike of a frame or two
(CTC's characteristic "peaky" output), which is why transcripts collapse repeats and drop blanks.
"""

import functools
import os

import keras
import numpy as np
import tensorflow as tf

from models import audio, transcripts
from training import figures

SHOWN = 8  # transcripts per epoch in TensorBoard's Text tab


def transcriber(model, beam_width: int = 1):
    """A function (batch, samples) waveforms -> (probabilities (batch, frames, symbols), tokens
    (batch, n)), greedy (beam_width 1) or beam search decoding.

    The model's forward pass is traced once (a tf.function) and reused for every batch: run
    eagerly, the bidirectional LSTM steps through the frames in Python, 0.3 s (1.6 s the first
    time) for 8 utterances of 3 s with the tiny test model, against 0.01 s traced."""
    # A partial, not a lambda: TensorFlow counts the traces of all functions made from one
    # lambda as one function's, and warns when 5 of its last 10 calls traced (a sweep of
    # one-epoch runs makes a new one per run, each traced at its first call).
    forward = tf.function(functools.partial(model, training=False), reduce_retracing=True)

    def transcribe(waveforms):
        probabilities = forward(waveforms)
        return np.asarray(probabilities), np.asarray(transcripts.decode(probabilities, beam_width))

    return transcribe


def marked(reference: str, hypothesis: str) -> str:
    """The hypothesis, with the words that differ from the reference (same place) in bold."""
    said, heard = reference.split(), hypothesis.split()
    words = [
        word if index < len(said) and said[index] == word else f"**{word}**"
        for index, word in enumerate(heard)
    ]
    return " ".join(words) or "(nothing)"


def alignment_figure(spectrogram, frame_symbols, step_seconds: float, title: str, class_names):
    """spectrogram (frames, bands) above the most likely symbol of each output frame
    (frame_symbols, (output_frames,), 0 = blank)."""
    figure, (top, bottom) = figures.subplots(
        2, 1, figsize=(10, 4), squeeze=True
    )  # (figure, two axes sharing time)
    seconds = len(spectrogram) * step_seconds
    top.imshow(np.asarray(spectrogram).T, origin="lower", aspect="auto", extent=(0, seconds, 0, 1))
    top.set(yticks=[], ylabel="mel bands", title=title, xlim=(0, seconds))
    frame_seconds = seconds / max(len(frame_symbols), 1)
    symbols = np.asarray(frame_symbols)
    bottom.bar(
        (np.arange(len(symbols)) + 0.5) * frame_seconds,
        (symbols > 0).astype(float),
        width=frame_seconds,
        color="tab:orange",
    )
    for index, symbol in enumerate(symbols):
        if symbol > 0:
            bottom.text((index + 0.5) * frame_seconds, 1.05, class_names[symbol - 1], ha="center")
    bottom.set(
        xlim=(0, seconds),
        ylim=(0, 1.4),
        yticks=[],
        xlabel="seconds (bars: frames whose most likely symbol is a word, not the blank)",
    )
    return figure


def plot_alignment(model, waveform, probabilities, title: str, class_names):
    """The alignment figure of one utterance: its real frames only."""
    spectrogram = np.asarray(model.get_layer(audio.SPECTROGRAM_NAME)(waveform[np.newaxis]))[0]
    output_frames = int(transcripts.spoken_frames(probabilities[np.newaxis])[0])
    step = model.get_layer(audio.SPECTROGRAM_NAME).step_seconds
    input_frames = len(spectrogram) * output_frames // max(len(probabilities), 1)
    symbols = np.argmax(probabilities[:output_frames], axis=-1)
    return alignment_figure(spectrogram[:input_frames], symbols, step, title, class_names)


class ValidationTranscripts(keras.callbacks.Callback):
    """After each epoch: a few validation utterances' transcripts (Text tab) and the alignment
    of the first one (Images tab), greedy decoding as in the validation metrics."""

    def __init__(self, validation, class_names, log_dir: str):
        super().__init__()
        waveforms, tokens = next(iter(validation.unbatch().padded_batch(SHOWN)))
        self.waveforms, self.tokens = np.asarray(waveforms), np.asarray(tokens)
        self.class_names = class_names
        self.writer = tf.summary.create_file_writer(os.path.join(log_dir, "validation"))

    def on_train_begin(self, logs=None):
        self.transcribe = transcriber(self.model)

    def on_epoch_end(self, epoch, logs=None):
        probabilities, hypotheses = self.transcribe(self.waveforms)
        rows = ["| said | heard |", "|---|---|"]
        for tokens, hypothesis in zip(self.tokens, hypotheses):
            said = transcripts.as_words(tokens, self.class_names)
            rows.append(
                f"| {said} | {marked(said, transcripts.as_words(hypothesis, self.class_names))} |"
            )
        said = transcripts.as_words(self.tokens[0], self.class_names)
        figure = plot_alignment(
            self.model, self.waveforms[0], probabilities[0], f"said: {said}", self.class_names
        )
        with self.writer.as_default():
            tf.summary.text("transcripts", "\n".join(rows), step=epoch)
            tf.summary.image("alignment", figures.to_image_tensor(figure), step=epoch)
        self.writer.flush()

    def on_train_end(self, logs=None):
        self.writer.close()


def callbacks(data_info, validation, log_dir: str) -> list:
    return [ValidationTranscripts(validation, data_info.class_names, log_dir)]


def report(model, batches, data_info, out_dir: str) -> tuple[dict, dict]:
    """Beam search over the test utterances: word error rate and string accuracy (overall and by
    number of words), eval/transcripts.txt (worst first) and eval/alignment.png."""
    beam_width = model.get_layer("probabilities").beam_width
    names = data_info.class_names
    rows, worst = [], None  # rows: (errors, words, said, heard)
    transcribe = transcriber(model, beam_width)
    for waveforms, tokens in batches:
        probabilities, hypotheses = transcribe(waveforms)
        errors = np.asarray(transcripts.word_errors(tokens, hypotheses))
        for index, (said, heard) in enumerate(zip(np.asarray(tokens), hypotheses)):
            rows.append(
                (errors[index], int(np.sum(said > 0)), transcripts.as_words(said, names), heard)
            )
            if worst is None or errors[index] > worst[0]:
                worst = (
                    errors[index],
                    np.asarray(waveforms[index]),
                    probabilities[index],
                    rows[-1],
                )
    total_words = sum(row[1] for row in rows)
    metrics = {
        "word_error_rate": float(sum(row[0] for row in rows)) / max(total_words, 1),
        "string_accuracy": float(np.mean([row[0] == 0 for row in rows])),
        "beam_width": beam_width,
    }
    for length in sorted({row[1] for row in rows}):
        same = [row for row in rows if row[1] == length]
        metrics[f"word_error_rate_{length}_words"] = float(sum(row[0] for row in same)) / (
            length * len(same)
        )
    path = os.path.join(out_dir, "transcripts.txt")
    with open(path, "w") as file:
        file.write("errors\tsaid\theard\n")
        for errors, _, said, heard in sorted(rows, key=lambda row: -row[0] / row[1]):
            file.write(f"{int(errors)}\t{said}\t{transcripts.as_words(heard, names)}\n")
    figure = plot_alignment(
        model,
        worst[1],
        worst[2],
        f"said: {worst[3][2]}   heard: {transcripts.as_words(worst[3][3], names)}",
        names,
    )
    alignment = figures.save_png(figure, os.path.join(out_dir, "alignment.png"))
    return {"transcripts": path, "alignment": alignment}, metrics


def predict_audio(model, data: dict, path: str) -> str:
    """`evaluate.py RUN_DIR --audio my_numbers.wav`: the transcript, beam search."""
    waveform = audio.read_wav(path, data["sample_rate"])
    beam_width = model.get_layer("probabilities").beam_width
    _, hypotheses = transcriber(model, beam_width)(waveform[np.newaxis])
    text = transcripts.as_words(hypotheses[0], data["class_names"]) or "(no words heard)"
    seconds = len(waveform) / data["sample_rate"]
    return f"{text}   ({path}, {seconds:.2f} s)"
