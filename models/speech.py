"""Speech recognition: a bidirectional LSTM reads a clip's log-mel spectrogram, frame by frame.

A spoken word is a sequence of sounds. The model turns the raw waveform into a spectrogram (one
40-band spectrum every 10 ms: 98 frames for a 1-second clip), normalizes each band, and lets
two stacked bidirectional LSTMs read the frames in both directions; their final states say
which word was spoken.

    python train.py --model speech
    python evaluate.py RUN_DIR --audio my_digit.wav

The default data, TFDS spoken_digit (Free Spoken Digit Dataset: 2,500 clips, 5 speakers), is
split as published: takes 0-4 of each digit and speaker are the test set (see
training/input_pipeline.py). `--dataset speech_commands` (12 classes, 16 kHz) runs unchanged.
"""

import keras
from keras import layers

from models import audio, classification, serving
from models.registry import CommandLineInput, ModelSpec, register
from training import preprocessing


def build_speech(data, hyperparameters) -> keras.Model:
    """(batch, samples) float waveforms at `data.sample_rate` -> (batch, num_classes) probabilities."""
    inputs = keras.Input(shape=(None,), name="waveform")  # any length: the next layer fixes it
    clip_samples = round(hyperparameters["clip_seconds"] * data.sample_rate)
    # Features in float32 whatever the precision policy: float16 cannot hold spectra's range.
    x = audio.FixedLength(clip_samples, name=audio.FIXED_LENGTH_NAME, dtype="float32")(inputs)
    x = audio.LogMelSpectrogram(
        data.sample_rate,
        hyperparameters["num_mel_bins"],
        name=audio.SPECTROGRAM_NAME,
        dtype="float32",
    )(x)  # (batch, frames, num_mel_bins)
    # Per band, adapted on training clips (float32 too: its statistics are computed in it).
    x = layers.Normalization(axis=-1, name=audio.NORMALIZATION_NAME, dtype="float32")(x)
    *lower_units, top_units = hyperparameters["lstm_units"]
    for units in lower_units:
        x = layers.Bidirectional(layers.LSTM(units, return_sequences=True))(
            x
        )  # (batch, frames, 2 * units)
    x = layers.Bidirectional(layers.LSTM(top_units))(x)  # (batch, 2 * units)
    outputs = classification.head(x, data.num_classes, hyperparameters)
    return keras.Model(inputs, outputs, name="speech")


register(
    ModelSpec(
        name="speech",
        description="Bidirectional LSTM over log-mel spectrograms (functional API), raw waveforms in",
        dataset="spoken_digit",
        describe_data=preprocessing.describe_audio_classification,
        preprocess=preprocessing.audio_classification_example,
        build_model=build_speech,
        loss="sparse_categorical_crossentropy",
        metrics=("accuracy",),
        hyperparameters={
            "clip_seconds": 1.0,  # longer than 99% of spoken_digit clips; speech_commands' length
            "num_mel_bins": 40,
            "lstm_units": (64, 64),
            "dense_units": 64,
            "dropout_rate": 0.3,
        },
        test_hyperparameters={
            "clip_seconds": 0.25,
            "num_mel_bins": 16,
            "lstm_units": (8,),
            "dense_units": 8,
            "dropout_rate": 0.0,
        },
        epochs=30,
        batch_size=32,
        learning_rate=1e-3,
        callbacks=audio.callbacks,
        report=audio.report,
        adapt=audio.adapt,
        command_line_input=CommandLineInput(
            "--audio", "transcribe this WAV file (speech models)", audio.predict_audio
        ),
        serving=serving.waveform_classifier,
    )
)
