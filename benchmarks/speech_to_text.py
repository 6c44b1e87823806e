"""speech_to_text's defaults over several seeds, and a speaker it never heard in training.

    TFDS_DATA_DIR=../shared/tfds python benchmarks/speech_to_text.py --seeds 0 1 2 --held-out theo

Each seed trains with the default settings in its own process (`train.py --model speech_to_text
--seed S`, timed from start to end, data loading and the per-epoch validation included) and is
then scored by `evaluate.py` (beam search on the 1,000 fixed test strings). With `--held-out
NAME`, one more run (seed 0, trained first) has `--set held_out_speaker=NAME`: that speaker's
clips are in none of its training strings. Every run is then also scored speaker by speaker on the same
test strings, so the held-out speaker's error rate sits next to the four speakers the model
knows, and next to what the default runs score on that speaker's strings.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

import numpy as np
from common import ROOT, add_seeds, check_seeds, exit_with, run_or_exit
from seeds import timed_training


def error_rates_by_speaker(run_dir: str) -> dict[str, float]:
    """The run's model on the fixed test strings, beam search: word error rate per speaker."""
    from training import startup

    startup.quiet_tensorflow()
    import models
    from models import spoken_strings, transcription, transcripts
    from training import input_pipeline, runs

    config = runs.read_config(run_dir)
    spec = models.get_spec("speech_to_text")
    model = runs.load_model(run_dir)
    data_dir = None if os.environ.get("TFDS_DATA_DIR") else config.data_dir  # as evaluate.py
    examples, info, _ = input_pipeline.load(config.dataset, data_dir, test=config.test_split)
    sample_rate = spec.describe_data(config.dataset, info).sample_rate
    strings = spoken_strings.utterances(
        examples["test"].map(spec.preprocess), sample_rate, "test", 0, with_speakers=True
    ).padded_batch(64)
    beam_width = model.get_layer("probabilities").beam_width
    errors, words = {}, {}
    transcribe = transcription.transcriber(model, beam_width)
    for waveforms, tokens, speakers in strings:
        _, hypotheses = transcribe(waveforms)
        for speaker, wrong, said in zip(
            speakers.numpy(), transcripts.word_errors(tokens, hypotheses), np.asarray(tokens)
        ):
            name = speaker.decode()
            errors[name] = errors.get(name, 0.0) + float(wrong)
            words[name] = words.get(name, 0) + int(np.sum(said > 0))
    return {name: errors[name] / words[name] for name in sorted(errors)}


def trained_and_scored(seed: int, run_dir: str, extra=()) -> dict:
    seconds = timed_training("speech_to_text", seed, run_dir, extra)
    with open(os.path.join(run_dir, "metrics.json")) as file:
        greedy = json.load(file)
    run_or_exit(
        [sys.executable, os.path.join(ROOT, "evaluate.py"), run_dir], stdout=subprocess.DEVNULL
    )
    with open(os.path.join(run_dir, "eval", "metrics.json")) as file:
        beam = json.load(file)
    return {
        "seed": seed,
        "minutes": seconds / 60,
        "greedy": greedy["word_error_rate"],
        "beam": beam,
        "speakers": error_rates_by_speaker(run_dir),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_seeds(parser)
    parser.add_argument("--held-out", default="", help="a speaker to leave out of one more run")
    parser.add_argument(
        "--runs", default=os.path.join(ROOT, "runs"), help="where the run directories go"
    )
    args = parser.parse_args(argv)
    check_seeds(parser, args.seeds)

    held_out = None
    if args.held_out:  # first: a name the data cannot hold out is refused before any training
        run_dir = os.path.join(args.runs, f"benchmark-speech_to_text-without-{args.held_out}")
        held_out = trained_and_scored(0, run_dir, ["--set", f"held_out_speaker={args.held_out}"])
        print(json.dumps(held_out), flush=True)
    results = []
    for seed in args.seeds:
        run_dir = os.path.join(args.runs, f"benchmark-speech_to_text-seed{seed}")
        result = trained_and_scored(seed, run_dir)
        results.append(result)
        print(json.dumps(result), flush=True)

    lengths = sorted(
        int(key.split("_")[-2]) for key in results[0]["beam"] if key.endswith("_words")
    )
    print(
        "\n| seed | training time | word error rate, greedy | word error rate, beam | "
        "strings right, beam | " + " | ".join(f"{n} words" for n in lengths) + " |"
    )
    print("| --- " * (5 + len(lengths)) + "|")
    for result in results:
        beam = result["beam"]
        by_length = " | ".join(f"{beam[f'word_error_rate_{n}_words']:.2%}" for n in lengths)
        print(
            f"| {result['seed']} | {result['minutes']:.1f} min | {result['greedy']:.2%} | "
            f"{beam['word_error_rate']:.2%} | {beam['string_accuracy']:.1%} | {by_length} |"
        )
    beams = [result["beam"]["word_error_rate"] for result in results]
    spread = f" ± {statistics.stdev(beams):.2%}" if len(beams) > 1 else ""
    no_means = " |" * len(lengths)  # one empty cell under each length
    print(
        f"| mean | {statistics.mean(r['minutes'] for r in results):.1f} min | "
        f"{statistics.mean(r['greedy'] for r in results):.2%} | "
        f"{statistics.mean(beams):.2%}{spread} | "
        f"{statistics.mean(r['beam']['string_accuracy'] for r in results):.1%} |{no_means}"
    )

    speakers = sorted(results[0]["speakers"])
    print("\nWord error rate by speaker, beam search, test strings:\n")
    print("| run | " + " | ".join(speakers) + " |\n" + "| --- " * (1 + len(speakers)) + "|")
    rows = [(f"seed {r['seed']}", r) for r in results]
    if held_out:
        rows.append((f"seed 0, {args.held_out} held out of training", held_out))
    for label, result in rows:
        rates = " | ".join(f"{result['speakers'].get(name, float('nan')):.2%}" for name in speakers)
        print(f"| {label} | {rates} |")
    return 0


if __name__ == "__main__":
    exit_with(main)
