"""The classic Keras MNIST convnet (keras.io/examples/vision/mnist_convnet), as a yardstick.

    TFDS_DATA_DIR=../shared/tfds python benchmarks/keras_io_convnet.py --epochs 40 --until 0.988

The model, optimizer, loss and batch size are the example's: conv 32 - pool - conv 64 - pool -
dropout 0.5 - softmax, Adam at Keras' default learning rate, batch 128. Two changes, both so it
compares with `train.py` on equal terms: the data comes from TFDS (the example downloads MNIST
with `keras.datasets`), and the test split is evaluated after every epoch. After each epoch it
prints one JSON line: the epoch, the seconds since this process started and the test accuracy.
"""

import time

PROCESS_START = time.time()  # before the imports: start-up counts, as it does for train.py

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402

# common first: it puts the project on the path.
from common import UsageError, accuracy, exit_with, positive_int, starting  # noqa: E402

from training import startup  # noqa: E402

with starting():  # Ctrl-C while TensorFlow loads: one line, no traceback
    startup.quiet_tensorflow()
    import keras
    import numpy as np
    import tensorflow_datasets as tfds
    from keras import layers

    from training import input_pipeline


def load(split: str, data_dir: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(examples, 28, 28, 1) float32 images in [0, 1] and (examples, 10) one-hot labels, read
    as train.py reads them (a missing dataset or a bad split is a UsageError that says why)."""
    examples = input_pipeline.load("mnist", data_dir, train=split)[0]["train"]
    whole_split = examples.map(lambda example: (example["image"], example["label"])).batch(10**9)
    images, labels = next(iter(tfds.as_numpy(whole_split)))
    return images.astype("float32") / 255, keras.utils.to_categorical(labels, 10)


def build() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )


class EpochReport(keras.callbacks.Callback):
    """Prints each epoch's JSON line; stops training once test accuracy reaches `until`."""

    def __init__(self, until: float):
        super().__init__()
        self.until = until

    def on_epoch_end(self, epoch, logs=None):
        report = {
            "epoch": epoch + 1,
            "seconds": time.time() - PROCESS_START,
            "test_accuracy": float(logs["val_accuracy"]),
        }
        print(json.dumps(report), flush=True)
        if report["test_accuracy"] >= self.until:
            self.model.stop_training = True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=positive_int, default=15)  # the example's own number
    parser.add_argument("--train-split", default="train[:90%]")  # = train.py's default split
    parser.add_argument("--test-split", default="test")
    parser.add_argument("--data-dir", default=None, help="default: $TFDS_DATA_DIR")
    parser.add_argument(
        "--until", type=accuracy, default=1.0, help="stop once test accuracy reaches this"
    )
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(0)
    try:
        x_train, y_train = load(args.train_split, args.data_dir)
        x_test, y_test = load(args.test_split, args.data_dir)
    except UsageError as error:
        print(f"keras_io_convnet.py: error: {error}", file=sys.stderr)
        return 2
    model = build()
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(
        x_train,
        y_train,
        batch_size=128,
        epochs=args.epochs,
        validation_data=(x_test, y_test),
        callbacks=[EpochReport(args.until)],
        verbose=0,
    )
    return 0


if __name__ == "__main__":
    exit_with(main)
