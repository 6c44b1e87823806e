"""The Text tab: a review -> the model's answer (evaluate.py --text's), its class
probabilities and, for a model with self-attention, which words attended to which."""

import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure

from models import transformer


def classify(model, spec, description: dict, review: str):
    """(evaluate.py --text's line, {class name: probability}, attention figure or None)."""
    answer = spec.command_line_input.predict(model, description, review)  # refuses empty text
    probabilities = np.asarray(model(tf.constant([review]), training=False))[0]
    names = description["class_names"]
    return (
        answer,
        {name: float(p) for name, p in zip(names, probabilities)},
        attention(model, review),
    )


def has_attention(model) -> bool:
    return any(isinstance(layer, transformer.TransformerEncoder) for layer in model.layers)


def attention(model, review: str) -> Figure | None:
    """The first attention block's weights between the review's words, averaged over heads;
    None for a model without attention (a recurrent network reads the words in order)."""
    if not has_attention(model):
        return None
    words, weights = transformer.attention_map(model, review)  # weights (words, words)
    size = min(10.0, 2.0 + 0.35 * len(words))
    figure = Figure(figsize=(size, size), layout="constrained")
    axes = figure.add_subplot()
    # Colours span the weights' own range, so small differences from uniform show.
    image = axes.imshow(weights, cmap="viridis")
    axes.set_xticks(range(len(words)), words, rotation=90)
    axes.set_yticks(range(len(words)), words)
    axes.set_xlabel("attended word")
    axes.set_ylabel("word that looks")
    axes.set_title(f"Attention (first block, mean over heads; uniform: {1 / len(words):.3f})")
    figure.colorbar(image, ax=axes, shrink=0.7)
    return figure
