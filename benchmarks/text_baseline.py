"""The bar for the text models: bag-of-words logistic regression on the same data.

    TFDS_DATA_DIR=../shared/tfds python benchmarks/text_baseline.py [--dataset imdb_reviews]

A review becomes a vector with one entry per word or word pair of the vocabulary (TF-IDF
weighted: frequent in this review, rare elsewhere); one Dense softmax layer on top of it is
exactly multinomial logistic regression. It ignores word order beyond pairs, yet on a few
thousand reviews it is hard to beat: each weight is one word's vote, which little data can
estimate well, while a sequence model must first learn what words mean.

It trains on the same training split as `train.py` (the first 90% of train; the last 10%
picks the number of epochs) and reports accuracy on the same test split, plus wall time.
"""

import argparse
import json
import sys
import time

# common first: it puts the project on the path.
from common import UsageError, exit_with, positive_int, seed, starting

from training import startup

with starting():  # Ctrl-C while TensorFlow loads: one line, no traceback
    startup.quiet_tensorflow()
    import keras
    from keras import layers

    from models import text
    from training import input_pipeline, preprocessing


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="imdb_reviews")
    parser.add_argument("--data-dir", default=None, help="default: $TFDS_DATA_DIR")
    parser.add_argument("--vocabulary-size", type=positive_int, default=20_000)
    parser.add_argument("--epochs", type=positive_int, default=10)
    parser.add_argument("--seed", type=seed, default=0)
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(args.seed)

    start = time.perf_counter()
    try:
        examples, info, splits = input_pipeline.load(args.dataset, args.data_dir)
        data = preprocessing.describe_text_classification(args.dataset, info)
    except UsageError as error:
        print(f"text_baseline.py: error: {error}", file=sys.stderr)
        return 2
    validation, test = (
        input_pipeline.evaluation_batches(
            examples[name], preprocessing.text_classification_example, 64
        )
        for name in ("validation", "test")
    )
    train = examples["train"].map(preprocessing.text_classification_example).cache()
    train = train.shuffle(10_000, seed=args.seed).batch(64)
    # Words and word pairs ("not good"), TF-IDF weighted; learned from the training split only.
    bag_of_words = layers.TextVectorization(
        max_tokens=args.vocabulary_size,
        standardize=text.standardize,
        ngrams=2,
        output_mode="tf_idf",
    )
    bag_of_words.adapt(train.map(lambda texts, labels: texts))
    inputs = text.text_input()
    outputs = layers.Dense(data.num_classes, activation="softmax")(bag_of_words(inputs))
    model = keras.Model(inputs, outputs, name="logistic_regression")
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    best_epoch = keras.callbacks.EarlyStopping(
        monitor="val_accuracy", patience=2, restore_best_weights=True
    )
    history = model.fit(
        train,
        validation_data=validation,
        epochs=args.epochs,
        callbacks=[best_epoch],
        shuffle=False,
        verbose=2,
    )  # already shuffled
    result = {
        "dataset": args.dataset,
        "train_split": splits.train,
        "test_split": splits.test,
        "epochs_run": len(history.history["loss"]),
        "test_accuracy": round(
            float(model.evaluate(test, return_dict=True, verbose=0)["accuracy"]), 4
        ),
        "wall_seconds": round(time.perf_counter() - start, 1),
    }
    print(json.dumps(result, indent=2))
    print(
        f"| bag-of-words logistic regression | {result['test_accuracy']:.2%} | {result['wall_seconds']:.0f} s |"
    )
    return 0


if __name__ == "__main__":
    exit_with(main)
