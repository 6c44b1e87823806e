"""The Neurons tab: a small network learns to separate two classes of 2-D points, step by step.

Like TensorFlow Playground: pick the data (spirals, circles, XOR), the number of hidden layers,
neurons per layer, the activation and the learning rate; train one step or a hundred at a time,
and watch the loss, the decision boundary and what every hidden neuron computes over the plane.
Each step is plain stochastic gradient descent on a batch of BATCH_SIZE points.
"""

import keras
import numpy as np
from matplotlib.figure import Figure

DATASETS = ("spirals", "circles", "xor")
ACTIVATIONS = ("linear", "sigmoid", "tanh", "relu")
POINTS = 200
BATCH_SIZE = 10
PLANE = 1.2  # the plane drawn is [-PLANE, PLANE] squared; the points lie inside [-1, 1]
RESOLUTION = 60  # pixels per side of each drawn plane
LOSS_EVERY = 10  # steps between two points of the loss curve


def points(dataset: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(POINTS, 2) float32 coordinates in [-1, 1] and (POINTS,) labels 0/1."""
    rng = np.random.default_rng(seed)
    half = POINTS // 2
    if dataset == "circles":  # class 1 inside a radius of 0.5, class 0 in a ring around it
        radius = np.concatenate([rng.uniform(0.0, 0.45, half), rng.uniform(0.65, 1.0, half)])
        angle = rng.uniform(0, 2 * np.pi, POINTS)
        coordinates = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
        labels = np.repeat([1, 0], half)
    elif dataset == "xor":  # class 1 where x and y have the same sign
        coordinates = rng.uniform(-1, 1, (POINTS, 2))
        coordinates += np.sign(coordinates) * 0.05  # a small gap along both axes
        labels = (coordinates[:, 0] * coordinates[:, 1] > 0).astype(int)
    elif dataset == "spirals":  # two arms, one per class, each turning 1.75 times
        turn = np.sqrt(rng.uniform(0, 1, half)) * 1.75 * 2 * np.pi
        arms = []
        for offset in (0.0, np.pi):
            radius = turn / (1.75 * 2 * np.pi) * 0.95
            arm = np.stack([radius * np.cos(turn + offset), radius * np.sin(turn + offset)], 1)
            arms.append(arm + rng.normal(0, 0.03, arm.shape))
        coordinates, labels = np.concatenate(arms), np.repeat([1, 0], half)
    else:
        raise ValueError(f"unknown data {dataset!r}; pick one of {', '.join(DATASETS)}")
    return np.clip(coordinates, -1, 1).astype(np.float32), labels.astype(np.float32)


def build_network(hidden_layers: int, neurons: int, activation: str, learning_rate: float):
    """(batch, 2) points -> (batch, 1) probability of class 1, compiled for plain SGD."""
    network = keras.Sequential([keras.Input(shape=(2,), name="point")])
    for _ in range(int(hidden_layers)):
        network.add(keras.layers.Dense(int(neurons), activation=activation))
    network.add(keras.layers.Dense(1, activation="sigmoid", name="probability"))
    network.compile(keras.optimizers.SGD(learning_rate), loss="binary_crossentropy")
    return network


def new_lesson(dataset, hidden_layers, neurons, activation, learning_rate, seed: int = 0) -> dict:
    """A fresh, untrained network for these settings, and what it has learned so far."""
    keras.utils.set_random_seed(seed)
    settings = (dataset, int(hidden_layers), int(neurons), activation, float(learning_rate))
    return {
        "settings": settings,
        "network": build_network(*settings[1:]),
        "points": points(dataset, seed),
        "rng": np.random.default_rng(seed),
        "steps": 0,
        "losses": [],  # (step, loss over all points)
    }


def train(lesson: dict | None, steps: int, *settings) -> dict:
    """`steps` SGD steps; a changed setting (or no lesson yet) starts a new network first."""
    settings_now = (
        settings[0],
        int(settings[1]),
        int(settings[2]),
        settings[3],
        float(settings[4]),
    )
    if lesson is None or lesson["settings"] != settings_now:
        lesson = new_lesson(*settings)
    coordinates, labels = lesson["points"]
    network = lesson["network"]
    if not lesson["losses"]:
        lesson["losses"].append((0, _loss(network, coordinates, labels)))
    for step in range(1, int(steps) + 1):
        batch = lesson["rng"].choice(len(labels), BATCH_SIZE, replace=False)
        network.train_on_batch(coordinates[batch], labels[batch])
        lesson["steps"] += 1
        if step % LOSS_EVERY == 0 or step == int(steps):
            lesson["losses"].append((lesson["steps"], _loss(network, coordinates, labels)))
    return lesson


def _loss(network, coordinates, labels) -> float:
    probability = np.asarray(network(coordinates, training=False))[:, 0].clip(1e-7, 1 - 1e-7)
    return float(-np.mean(labels * np.log(probability) + (1 - labels) * np.log(1 - probability)))


def plane_outputs(network) -> list[np.ndarray]:
    """Every layer's output at every pixel of the plane: a list of (RESOLUTION, RESOLUTION,
    units) arrays, hidden layers first, the output probability last."""
    axis = np.linspace(-PLANE, PLANE, RESOLUTION, dtype=np.float32)
    grid_x, grid_y = np.meshgrid(axis, axis[::-1])  # row 0 is the top of the plane
    values = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1)
    outputs = []
    for layer in network.layers:
        values = np.asarray(layer(values))
        outputs.append(values.reshape(RESOLUTION, RESOLUTION, -1))
    return outputs


def boundary_figure(lesson: dict) -> Figure:
    """The loss so far, and the network's probability of class 1 over the plane with the points."""
    coordinates, labels = lesson["points"]
    figure = Figure(figsize=(8, 3.6), layout="constrained")
    loss_axes, plane_axes = figure.subplots(1, 2)
    steps, losses = zip(*lesson["losses"])
    loss_axes.plot(steps, losses)
    loss_axes.set(xlabel="steps", ylabel="loss (all points)", title=f"Loss {losses[-1]:.3f}")
    extent = (-PLANE, PLANE, -PLANE, PLANE)
    probability = plane_outputs(lesson["network"])[-1][..., 0]
    plane_axes.imshow(probability, extent=extent, cmap="RdBu", vmin=0, vmax=1)
    plane_axes.scatter(
        *coordinates.T, c=labels, cmap="RdBu", vmin=-0.2, vmax=1.2, s=14, ec="white", lw=0.4
    )
    plane_axes.set(title=f"Decision boundary after {lesson['steps']} steps", xticks=[], yticks=[])
    return figure


def neurons_figure(lesson: dict) -> Figure:
    """One small plane per hidden neuron: its output at every point (rows are layers)."""
    hidden = plane_outputs(lesson["network"])[:-1]
    if not hidden:
        figure = Figure(figsize=(6, 1))
        figure.text(
            0.5,
            0.5,
            "No hidden layer: the output neuron alone draws a straight line.",
            ha="center",
            va="center",
        )
        return figure
    columns = max(outputs.shape[-1] for outputs in hidden)
    figure = Figure(figsize=(1.3 * columns, 1.4 * len(hidden)), layout="constrained")
    grid = figure.subplots(len(hidden), columns, squeeze=False)
    for row, outputs in enumerate(hidden):
        for column in range(columns):
            axes = grid[row, column]
            axes.set(xticks=[], yticks=[])
            if column >= outputs.shape[-1]:
                axes.set_axis_off()
                continue
            axes.imshow(outputs[..., column], cmap="RdBu")
            axes.set_title(f"layer {row + 1}, neuron {column + 1}", fontsize=7)
    return figure
