"""Connected spoken words from isolated ones: the utterances `speech_to_text` learns from.

TFDS audio-classification datasets hold one word per clip (spoken_digit: one digit). An
utterance here joins 1 to MAX_WORDS clips of one speaker, with a short random pause before each
word and after the last, and a faint noise floor over the whole; its label is the word
sequence ("4 1 5 5 0 1"). Everything is TF ops inside `tf.data` and seeded:

    train        drawn afresh all the time from the training clips (the driver's shuffled,
                 endless stream), so every epoch hears new strings; same seed, same strings.
                 Short strings first: the first CURRICULUM_STRINGS have one word, the next
                 up to two, and so on up to MAX_WORDS. A CTC model first learns to answer
                 "blank" everywhere and may stay there a long time; one word per utterance,
                 where finding the word is easy, gets it past that quickly (the idea of
                 SortaGrad in Deep Speech 2: short utterances first).
    validation   VALIDATION_STRINGS fixed strings of the validation clips, a seed of their own;
    test         TEST_STRINGS fixed strings of the test clips, a seed of their own: every run,
                 whatever its --seed, is scored on the same strings, so runs compare.
                 Drawn on every pass over the split, so the input pipeline keeps the first
                 whole pass's strings (input_pipeline.evaluation_batches).

A string only ever joins clips of the part it is built for (the published split keeps each
take of spoken_digit in one part), so no test clip is heard in training. A held-out speaker
(`--set held_out_speaker=theo`) is left out of the training strings only: validation and test
strings keep every speaker, so one run measures how well the model hears a voice it never heard
next to the voices it knows (benchmarks/speech_to_text.py scores each speaker apart).

Labels become tokens: word k -> k + 1, because 0 is both the padding of a batch of labels and
CTC's blank symbol (see models/transcripts.py).
"""

import tensorflow as tf

MIN_WORDS, MAX_WORDS = 1, 7
PAUSE_SECONDS = (0.05, 0.30)  # before each word and after the last
NOISE_LEVELS = (0.0005, 0.005)  # standard deviation of the noise floor, waveforms in [-1, 1]
CURRICULUM_STRINGS = 1000  # training strings at each maximum length on the way to MAX_WORDS
VALIDATION_STRINGS, VALIDATION_SEED = 300, 1001
TEST_STRINGS, TEST_SEED = 1000, 2002
FIXED = {"validation": (VALIDATION_STRINGS, VALIDATION_SEED), "test": (TEST_STRINGS, TEST_SEED)}
UNKNOWN_SPEAKER = "?"  # datasets whose examples do not name the speaker: one speaker


def speaker_of(example: dict) -> tf.Tensor:
    """The speaker's name from a Free Spoken Digit Dataset file name "<digit>_<speaker>_<take>.wav";
    UNKNOWN_SPEAKER when the dataset has no such feature or the name has another form."""
    if "audio/filename" not in example:
        return tf.constant(UNKNOWN_SPEAKER)
    filename = example["audio/filename"]
    pattern = r"[^_/]+_(.+)_[0-9]+\.wav"
    named = tf.strings.regex_full_match(filename, ".*/" + pattern) | tf.strings.regex_full_match(
        filename, pattern
    )
    speaker = tf.strings.regex_replace(filename, "^(.*/)?" + pattern + "$", r"\2")
    return tf.where(named, speaker, UNKNOWN_SPEAKER)


def join_clips(clips, clip_lengths, labels, seed, sample_rate: int, most_words=MAX_WORDS):
    """One utterance from the first words of a few clips of one speaker.

    clips (k, max_samples) float32, zero-padded; clip_lengths (k,); labels (k,) word ids;
    seed (2,) int64 for the stateless draws. Draws how many words (MIN_WORDS to min(k,
    most_words)), the pauses and the noise level. Returns (waveform (samples,), tokens (words,)).
    """
    seeds = tf.random.experimental.stateless_split(seed, 4)
    available = tf.minimum(tf.minimum(tf.shape(clips)[0], MAX_WORDS), tf.cast(most_words, tf.int32))
    words = tf.random.stateless_uniform(
        [], seeds[0], MIN_WORDS, available + 1, dtype=tf.int32
    )  # may exceed `available` only if k < MIN_WORDS, which a window never is
    pauses = tf.cast(
        tf.random.stateless_uniform([words + 1], seeds[1], *PAUSE_SECONDS) * sample_rate, tf.int32
    )
    spoken = tf.RaggedTensor.from_tensor(
        clips[:words], lengths=clip_lengths[:words], row_splits_dtype=tf.int32
    )
    silent = tf.RaggedTensor.from_row_lengths(
        tf.zeros([tf.reduce_sum(pauses[:words])]), pauses[:words]
    )
    # (words, 2, None): pause 0, word 0, pause 1, word 1, ... in row-major order
    pieces = tf.stack([silent, spoken], axis=1)
    waveform = tf.concat([pieces.flat_values, tf.zeros([pauses[words]])], axis=0)
    noise_level = tf.random.stateless_uniform([], seeds[2], *NOISE_LEVELS)
    waveform += noise_level * tf.random.stateless_normal(tf.shape(waveform), seeds[3])
    return tf.clip_by_value(waveform, -1.0, 1.0), tf.cast(labels[:words], tf.int32) + 1


def utterances(
    examples: tf.data.Dataset,
    sample_rate: int,
    part: str,
    seed: int,
    held_out_speaker: str = "",
    with_speakers: bool = False,
):
    """(waveform, label, speaker) clips -> (waveform, tokens) utterances, as the module says;
    (waveform, tokens, speaker) with `with_speakers`.

    `examples` is the endless shuffled stream of training clips for part "train" (the result
    is endless too), else the whole validation or test split once (the result: its fixed strings).
    `held_out_speaker`, if given, speaks none of the training strings.
    """
    if part == "train" and held_out_speaker:
        examples = examples.filter(lambda waveform, label, speaker: speaker != held_out_speaker)
    if part != "train":
        count, seed = FIXED[part]
        clips = int(examples.cardinality())
        examples = examples.repeat().shuffle(max(clips, 1), seed=seed)
    with_lengths = examples.map(
        lambda waveform, label, speaker: (waveform, tf.size(waveform), label, speaker)
    )
    # Windows of MAX_WORDS consecutive clips of one speaker; join_clips uses the first few.
    windows = with_lengths.group_by_window(
        key_func=lambda waveform, length, label, speaker: tf.strings.to_hash_bucket_fast(
            speaker, 2**31 - 1
        ),
        reduce_func=lambda key, window: window.padded_batch(MAX_WORDS),
        window_size=MAX_WORDS,
    )

    def most_words(index):  # the curriculum for training; every length for evaluation
        if part != "train":
            return MAX_WORDS
        return tf.minimum(tf.constant(MAX_WORDS, tf.int64), 1 + index // CURRICULUM_STRINGS)

    def utterance(index, window):
        waveform, tokens = join_clips(
            window[0],
            window[1],
            window[2],
            tf.stack([tf.constant(seed, tf.int64), index]),
            sample_rate,
            most_words(index),
        )
        return (waveform, tokens, window[3][0]) if with_speakers else (waveform, tokens)

    joined = windows.enumerate().map(utterance, num_parallel_calls=tf.data.AUTOTUNE)
    return joined if part == "train" else joined.take(count)


def speakers(examples: tf.data.Dataset) -> list[str]:
    """The names of the speakers of (waveform, label, speaker) clips, sorted; a finite dataset."""
    names = examples.map(lambda waveform, label, speaker: speaker)
    return sorted({name.decode() for name in names.as_numpy_iterator()})
