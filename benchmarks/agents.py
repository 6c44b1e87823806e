"""How fast an agent's defaults solve its environment, over several seeds, through the real
train.py and evaluate.py.

    python benchmarks/agents.py --model dqn --seeds 0 1 2

Each seed trains in its own process (`train.py --seed S`, into runs/benchmark-<model>-seed<S>),
then `evaluate.py` runs 100 greedy episodes with fixed seeds. The table gives, per seed: the
first training step at which a greedy evaluation during training (20 episodes) reached the
environment's reward threshold (475 for CartPole-v1), the step of the policy kept in
model.keras, the evaluation's mean, std and minimum return, whether that mean reaches the
threshold ("solved"), and the training wall time.
Extra flags after `--` go to every train.py call (e.g. `-- --env-steps 50000`).
"""

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys

from common import ROOT, add_seeded_runs, agent_or_refuse, exit_with, parse_seeded_runs, run_or_exit  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="agents.py", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="an agent, e.g. dqn or policy_gradient")
    add_seeded_runs(parser)
    checked = parse_seeded_runs(parser, argv, agent_or_refuse)
    if checked is None:
        return 2
    args, extra = checked

    rows = []
    for seed in args.seeds:
        run_dir = os.path.join(args.runs, f"benchmark-{args.model}-seed{seed}")
        shutil.rmtree(
            run_dir, ignore_errors=True
        )  # a benchmark measures a whole run, never a resume
        for command in (
            [
                sys.executable,
                os.path.join(ROOT, "train.py"),
                "--model",
                args.model,
                "--seed",
                str(seed),
                "--run-dir",
                run_dir,
                *extra,
            ],
            [sys.executable, os.path.join(ROOT, "evaluate.py"), run_dir],
        ):
            print(" ".join(command[1:]), flush=True)
            run_or_exit(command, stdout=subprocess.DEVNULL)
        rows.append(summarize(seed, run_dir))

    print(
        f"\n| {args.model} seed | steps trained | first greedy evaluation >= threshold | step kept | "
        "100 greedy episodes: mean ± std (min) | solved | training time |\n| --- | --- | --- | --- | --- | --- | --- |"
    )
    for row in rows:
        print(
            "| {seed} | {steps:,} | {first} | {kept:,} | {mean:.1f} ± {std:.1f} ({min:.0f}) | {solved} | "
            "{minutes:.1f} min |".format(**row)
        )
    solved = sum(row["solved"] == "yes" for row in rows)
    print(f"\nSolved by {solved} of {len(rows)} seeds.")
    return 0


def summarize(seed: int, run_dir: str) -> dict:
    def read_json(name):
        with open(os.path.join(run_dir, name)) as file:
            return json.load(file)

    training, evaluation = (
        read_json("metrics.json"),
        read_json(os.path.join("eval", "metrics.json")),
    )
    threshold = evaluation.get("reward_threshold", float("inf"))
    with open(os.path.join(run_dir, "evaluations.csv")) as file:
        reached = [
            float(row["step"])
            for row in csv.DictReader(file)
            if float(row["mean_return"]) >= threshold
        ]
    return {
        "seed": seed,
        "steps": training["env_steps"],
        "first": f"{reached[0]:,.0f}" if reached else "never",
        "kept": training["best_evaluation_step"],
        "mean": evaluation["mean_return"],
        "std": evaluation["std_return"],
        "min": evaluation["min_return"],
        "solved": "yes" if evaluation.get("solved") else "no",
        "minutes": training["training_seconds"] / 60,
    }


if __name__ == "__main__":
    exit_with(main)
