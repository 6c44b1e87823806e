"""A convolutional network for image recognition, written with the functional API.

Convolutions slide small learned filters over the image, so a feature (an edge, a loop) is
recognised wherever it appears; pooling halves the resolution so later filters see more.

    python train.py --model cnn
    python train.py --model cnn --dataset fashion_mnist
"""

import keras
from keras import layers

from models import classification, serving
from models.registry import ModelSpec, register
from training import preprocessing


def conv_block(x, filters: int):
    """Conv -> BatchNorm -> ReLU, twice, then 2x2 max pooling: (h, w, c) -> (h/2, w/2, filters)."""
    for _ in range(2):
        # No bias: BatchNormalization's learned offset plays that role.
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        # Normalises each filter's output over the batch while training; at validation time it
        # uses moving averages, which lag behind in the first epoch: expect a low first
        # validation accuracy that catches up by epoch 3 or 4.
        x = layers.BatchNormalization(synchronized=True)(x)
        x = layers.ReLU()(x)
    return layers.MaxPooling2D()(x)


def build_cnn(data, hyperparameters) -> keras.Model:
    """(batch, height, width, channels) images -> (batch, num_classes) class probabilities."""
    height, width, _ = data.input_shape
    blocks = hyperparameters["filters"]
    if min(height, width) < 2 ** len(blocks):
        raise ValueError(f"{height}x{width} images are too small for {len(blocks)} pooling blocks")
    inputs = keras.Input(shape=data.input_shape, name="image")
    x = inputs
    for filters in blocks:  # e.g. 28x28x1 -> 14x14x32 -> 7x7x64
        x = conv_block(x, filters)
    x = layers.Flatten()(x)  # (batch, h * w * filters): keeps where each feature was found
    outputs = classification.head(x, data.num_classes, hyperparameters)
    return keras.Model(inputs, outputs, name="cnn")


register(
    ModelSpec(
        name="cnn",
        description="Convolutional network (functional API) for any TFDS image-classification dataset",
        dataset="mnist",
        describe_data=preprocessing.describe_image_classification,
        preprocess=preprocessing.image_classification_example,
        build_model=build_cnn,
        loss="sparse_categorical_crossentropy",
        metrics=("accuracy",),
        hyperparameters={"filters": (32, 64), "dense_units": 128, "dropout_rate": 0.3},
        test_hyperparameters={"filters": (4,), "dense_units": 8, "dropout_rate": 0.0},
        epochs=12,
        batch_size=128,
        learning_rate=2e-3,
        callbacks=classification.callbacks,
        report=classification.report,
        serving=serving.image_classifier,
    )
)
