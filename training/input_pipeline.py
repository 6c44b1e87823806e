"""The only place that calls TFDS: load splits, then map -> cache -> (repeat -> shuffle) -> batch
-> prefetch.

Validation comes from the training split (`train[:90%]` / `train[90%:]`) unless the dataset
has its own `validation` split; the test split is only used for final metrics. A few datasets
publish a division that is not a TFDS split (spoken_digit: recordings 0-4 of each speaker and
digit are the test set); `PUBLISHED_SPLITS` applies it to every split not given by a flag.

Batches are padded: examples of different lengths (audio clips) are zero-padded to the longest
one in their batch; fixed-size examples (images) are batched as they are.

The training stream is reproducible from its seed, so a run resumed at epoch k sees exactly the
batches an uninterrupted run would have seen.
"""

import dataclasses
import os
import socket
from collections.abc import Callable

import tensorflow as tf
import tensorflow_datasets as tfds

from training.errors import UsageError

AUTOTUNE = tf.data.AUTOTUNE
SHUFFLE_BUFFER = 10_000
NETWORK_PROBE = ("storage.googleapis.com", 443)  # where TFDS downloads most datasets from


@dataclasses.dataclass(frozen=True)
class Splits:
    train: str
    validation: str
    test: str


@dataclasses.dataclass(frozen=True)
class PublishedSplit:
    """A train/validation/test division that one feature of each example decides.

    Attributes:
        source: the TFDS split that holds every example.
        feature: the feature `assign` reads.
        assign: `(feature value) -> 0 train, 1 validation, 2 test, -1 none`, TF ops only.
        names: how config.json names the three parts.
    """

    source: str
    feature: str
    assign: Callable[[tf.Tensor], tf.Tensor]
    names: Splits


def recording_number_split(filename: tf.Tensor) -> tf.Tensor:
    """Free Spoken Digit Dataset files are "<digit>_<speaker>_<take>.wav": takes 0-4 are the
    published test set; 5-9 validate here; 10-49 train. Splitting by take, never at random,
    keeps one speaker's near-identical takes of a digit out of the split they would leak into."""
    is_named_by_take = tf.strings.regex_full_match(filename, r".*_[0-9]+\.wav")
    take_text = tf.strings.regex_replace(filename, r".*_([0-9]+)\.wav", r"\1")
    take = tf.strings.to_number(tf.where(is_named_by_take, take_text, "-1"), out_type=tf.int32)
    return tf.where(take < 0, -1, tf.where(take < 5, 2, tf.where(take < 10, 1, 0)))


PUBLISHED_SPLITS = {
    "spoken_digit": PublishedSplit(
        source="train",
        feature="audio/filename",
        assign=recording_number_split,
        names=Splits(
            train="train (takes 10-49)", validation="train (takes 5-9)", test="train (takes 0-4)"
        ),
    ),
}


def data_dir_or_default(data_dir: str | None) -> str:
    """The folder TFDS reads: `--data-dir`, else `TFDS_DATA_DIR`, else TFDS' default."""
    return (
        data_dir or os.environ.get("TFDS_DATA_DIR") or os.path.expanduser("~/tensorflow_datasets")
    )


def load(name: str, data_dir: str | None, train=None, validation=None, test=None):
    """Returns `({"train": ds, "validation": ds, "test": ds}, tfds_info, Splits)` of raw examples.

    Split strings left as None get the defaults described in the module docstring.
    """
    data_dir = data_dir_or_default(data_dir)
    builder = _builder(name, data_dir)
    try:
        return _as_datasets(builder, train, validation, test)
    except AssertionError:  # TFDS' way of saying: no prepared data for `name` in `data_dir`
        pass
    _download_and_prepare(builder, data_dir)
    return _as_datasets(_builder(name, data_dir), train, validation, test)


def _builder(name, data_dir):
    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.DatasetNotFoundError:
        problem = "TFDS has no dataset of that name"
    except (ValueError, AssertionError) as error:  # a malformed name, a version TFDS lacks
        problem = str(error).splitlines()[0][:300]
    raise UsageError(
        f"unknown dataset {name!r}: {problem}. See https://www.tensorflow.org/datasets/catalog "
        "for names (for example mnist, fashion_mnist, cifar10)."
    )


def _as_datasets(builder, train, validation, test):
    published = PUBLISHED_SPLITS.get(builder.name)
    has_validation = "validation" in builder.info.splits
    defaults = (
        published.names
        if published
        else Splits(
            train="train" if has_validation else "train[:90%]",
            validation="validation" if has_validation else "train[90%:]",
            test="test",
        )
    )
    flags = (train, validation, test)  # None where no flag named the split
    splits = Splits(*(flag or default for flag, default in zip(flags, vars(defaults).values())))
    try:
        datasets = [
            _published_part(builder, published, part)
            if published and flag is None
            else builder.as_dataset(split=split)
            for part, (flag, split) in enumerate(zip(flags, vars(splits).values()))
        ]
    except ValueError as error:  # unknown split name or bad slice syntax
        problem = " ".join(str(error).split())  # TFDS' text may run over lines: one line
        raise UsageError(
            f"{builder.name} cannot read these splits: {problem} Its splits are "
            f"{sorted(builder.info.splits)}; fix the split you gave "
            f"({', '.join(repr(split) for split in flags if split)})."
        ) from None
    return dict(zip(("train", "validation", "test"), datasets)), builder.info, splits


def _published_part(builder, published: PublishedSplit, part: int):
    """Part 0 (train), 1 (validation) or 2 (test) of a published division, in file order."""
    examples = builder.as_dataset(split=published.source)
    return examples.filter(lambda example: published.assign(example[published.feature]) == part)


def _download_and_prepare(builder, data_dir):
    try:
        socket.create_connection(NETWORK_PROBE, timeout=3).close()
    except OSError:
        raise UsageError(
            f"dataset {builder.name!r} is not in {data_dir} and cannot be downloaded (no "
            f"network). Download it once where there is internet "
            f"(python -c \"import tensorflow_datasets as tfds; tfds.load('{builder.name}')\"), "
            f"then point --data-dir or TFDS_DATA_DIR at that folder."
        ) from None
    print(f"Downloading {builder.name} into {data_dir} (only the first time)...")
    builder.download_and_prepare()


def training_stream(
    examples,
    preprocess,
    batch_size,
    seed,
    first_epoch=0,
    steps_per_epoch=None,
    transform=None,
    replicas=1,
):
    """An endless stream of shuffled training batches, and the number of batches in one epoch.

    Repeat, then shuffle with a fixed seed and `reshuffle_each_iteration=False`: every iterator
    of the stream yields the same sequence, however many iterators Keras creates (under a
    tf.distribute strategy `fit` opens one extra to build the model), so runs are the same on
    any number of replicas and in every process. Shuffling across the repeated data lets the
    order differ from one epoch to the next; the price is that epochs blur at their edges (an
    example may come up twice near a boundary). `transform` (endless stream -> endless stream,
    see ModelSpec.transform_examples) builds new examples from that stream; an epoch is then
    as many of them as the split has examples. A run resumed after `first_epoch` epochs skips
    the batches it already trained on (reading, not training: about a second per MNIST epoch)
    and so sees exactly the batches an uninterrupted run would have seen. `replicas`: how many
    share every batch, so that a refused batch size is met with one that works.
    """
    cached = _with_known_size(examples.map(preprocess, num_parallel_calls=AUTOTUNE).cache())
    num_examples = int(cached.cardinality())
    if num_examples == 0:
        raise UsageError("the training split is empty; check --train-split.")
    if batch_size > num_examples:  # repeating the split into one giant batch exhausts memory
        raise UsageError(
            f"--batch-size {batch_size} is larger than the training split ({num_examples} "
            f"examples); {_batch_size_advice(num_examples, replicas)}"
        )
    steps_per_epoch = steps_per_epoch or -(-num_examples // batch_size)
    shuffled = cached.repeat().shuffle(
        min(num_examples, SHUFFLE_BUFFER), seed=seed, reshuffle_each_iteration=False
    )
    if transform:
        shuffled = transform(shuffled)
    stream = shuffled.padded_batch(batch_size).skip(first_epoch * steps_per_epoch)
    return stream.prefetch(AUTOTUNE), steps_per_epoch


def _batch_size_advice(num_examples: int, replicas: int) -> str:
    """What to pick instead of a batch larger than the training split: under several replicas
    a batch must also be a multiple of them (keras_loop._check_replicas_can_split)."""
    if replicas == 1:
        return f"pick at most {num_examples}."
    if num_examples >= replicas:
        largest = num_examples - num_examples % replicas
        return (
            f"pick a multiple of the {replicas} replicas up to {num_examples}, such as {largest}."
        )
    return (
        f"that is fewer than the {replicas} replicas that share every batch: give it at least "
        f"{replicas} examples (--train-split), or train on one device with --strategy default."
    )


def training_inputs(examples, preprocess, batch_size):
    """The training split's inputs without targets, batched: for layers that adapt to data."""
    inputs = examples.map(lambda example: preprocess(example)[0], num_parallel_calls=AUTOTUNE)
    return inputs.padded_batch(batch_size).prefetch(AUTOTUNE)


def evaluation_batches(
    examples, preprocess, batch_size, transform=None, replicas=1, part="evaluation"
):
    """Batches in a fixed order, for validation and test; `transform` (whole split -> fixed
    examples, see ModelSpec.transform_examples) builds new examples from the split. Under
    several `replicas`, every batch splits evenly across them (see `batches_for_replicas`)."""
    mapped = _with_known_size(examples.map(preprocess, num_parallel_calls=AUTOTUNE).cache())
    if transform:
        # Filled at once, even where its size is known: a transform may draw its examples at
        # random on every pass (speech to text's fixed strings), and a cache that a first reader
        # leaves half-read (a callback looking at a few examples) is thrown away, so the next
        # pass would draw other examples and validation would score a different set.
        mapped = _with_known_size(transform(mapped).cache(), fill=True)
    return batches_for_replicas(mapped, batch_size, replicas, part).prefetch(AUTOTUNE)


def batches_for_replicas(examples, batch_size: int, replicas: int, part: str = "evaluation"):
    """`examples` (of known size) in batches of `batch_size`, in order; under several
    `replicas`, in batches that are all of one size, a multiple of `replicas`: the largest
    such size up to `batch_size` that divides the examples kept. The last `count % replicas`
    examples (fewer than the replicas) are left out, and a line says so.

    A tf.distribute strategy cuts every batch into one share a replica. Where it can read the
    batch size from the pipeline (TFDS files) it fills the shares in turn, batch_size / replicas
    each, so a short last batch of 12 on 4 replicas at batch 16 becomes 4, 4, 4 and 0; where it
    cannot, it cuts a batch of n into shares of ceil(n / replicas) (4 on 3 replicas: 2, 2, 0).
    TensorFlow's kernels fail on an empty share ("Incompatible shapes: [64] vs. [0,14,14,32]"
    for the CNN, Keras 3.15), and Keras builds the model from a first batch averaged over the
    replicas, which fails for shares of different sizes. Batches of one size, a multiple of
    the replicas, split evenly both ways. (A kept count with no divisor near `batch_size`
    makes small batches: slower, never wrong.)"""
    if replicas == 1:
        return examples.padded_batch(batch_size)
    count = int(examples.cardinality())
    kept = count - count % replicas
    if kept == 0:
        raise UsageError(
            f"the {part} split holds {count} example(s), fewer than the {replicas} replicas "
            f"that share every batch; give it at least {replicas} "
            f"(--{'val' if part == 'validation' else 'test'}-split), or train on one device "
            f"with --strategy default."
        )
    if kept < count:
        print(
            f"Under {replicas} replicas every batch splits evenly: the {part} split's last "
            f"{count - kept} of {count} examples are left out (evaluate.py, on one device, "
            f"scores them all)."
        )
    per_replica = max(
        share for share in range(1, batch_size // replicas + 1) if (kept // replicas) % share == 0
    )
    return examples.take(kept).padded_batch(per_replica * replicas)


def _with_known_size(cached, fill: bool = False):
    """A filtered split (a published division) does not know its size: count it once (which
    also fills the cache), so Keras knows how many batches an epoch holds. `fill`: count it,
    and so fill the cache, even when the size is known."""
    if cached.cardinality() >= 0 and not fill:
        return cached
    num_examples = int(cached.reduce(0, lambda count, _: count + 1))
    return cached.apply(tf.data.experimental.assert_cardinality(num_examples))
