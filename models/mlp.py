"""A multi-layer perceptron: the plainest deep network, a stack of fully connected layers.

Each Dense layer holds a weight matrix and a bias vector; each hidden unit is a neuron that
computes activation(inputs @ weights + bias). Swap the activation and compare the learning
curves in TensorBoard:

    python train.py --model mlp
    python train.py --model mlp --set activation=sigmoid
"""

import keras
from keras import layers

from models import classification, serving
from models.registry import ModelSpec, register
from training import preprocessing


def build_mlp(data, hyperparameters) -> keras.Model:
    """(batch, height, width, channels) images -> (batch, num_classes) class probabilities."""
    model = keras.Sequential(name="mlp")
    model.add(keras.Input(shape=data.input_shape))
    model.add(layers.Flatten())  # (batch, height * width * channels): an MLP sees no 2-D structure
    for units in hyperparameters["hidden_units"]:
        model.add(layers.Dense(units, activation=hyperparameters["activation"]))
        model.add(layers.Dropout(hyperparameters["dropout_rate"]))
    # float32 output keeps softmax numerically safe under mixed precision.
    model.add(layers.Dense(data.num_classes, activation="softmax", dtype="float32"))
    return model


register(
    ModelSpec(
        name="mlp",
        description="Sequential multi-layer perceptron; compare activations with --set activation=sigmoid",
        dataset="mnist",
        describe_data=preprocessing.describe_image_classification,
        preprocess=preprocessing.image_classification_example,
        build_model=build_mlp,
        loss="sparse_categorical_crossentropy",
        metrics=("accuracy",),
        hyperparameters={"hidden_units": (1024, 512), "activation": "relu", "dropout_rate": 0.4},
        test_hyperparameters={"hidden_units": (16,), "dropout_rate": 0.0},
        epochs=20,
        batch_size=128,
        learning_rate=1e-3,
        callbacks=classification.callbacks,
        report=classification.report,
        serving=serving.image_classifier,
    )
)
