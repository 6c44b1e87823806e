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

# Batch-norm momentum: how much of the moving averages used at inference survives each step.
# Keras' default, 0.99, keeps them lagging for hundreds of steps, so a short run (one epoch on a
# few thousand images) is scored with statistics from near the start and answers near chance.
# Each convolution's per-channel statistics average over batch x height x width values (128 x
# 28 x 28 = 100,352 for the first one), so even one batch measures them well: 0.5 (about the
# last two batches) follows the weights as they change and costs nothing in long runs.
BATCH_NORM_MOMENTUM = 0.5


def conv_block(x, filters: int):
    """Conv -> BatchNorm -> ReLU, then 2x2 max pooling: (h, w, c) -> (h/2, w/2, filters)."""
    # No bias: BatchNormalization's learned offset plays that role.
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    # Normalises each filter's output over the batch while training (each layer then sees inputs
    # of a steady scale, so a larger learning rate is safe); at inference it uses moving averages.
    x = layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, synchronized=True)(x)
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
    # Cheap where the image is large, wide where it is small: 28x28x1 -> 14x14x32 -> 7x7x64 ->
    # 3x3x128. Each pooling quarters the positions, so doubling the filters keeps the cost of
    # each block about the same while each filter sees a larger part of the image.
    for filters in blocks:
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
        hyperparameters={"filters": (32, 64, 128), "dense_units": 128, "dropout_rate": 0.2},
        test_hyperparameters={"filters": (4,), "dense_units": 8, "dropout_rate": 0.0},
        epochs=6,
        batch_size=128,
        learning_rate=2e-3,
        warmup_fraction=0.1,
        callbacks=classification.callbacks,
        report=classification.report,
        serving=serving.image_classifier,
    )
)
