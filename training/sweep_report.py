"""What a sweep prints and writes at the end: a table with the mean and standard deviation over
seeds of every metric, sweep.csv (one row per trial) and sweep.png (the headline metric per
setting). `results` are training/sweep.py's: [{"trial": Trial, "status": str, "metrics": dict}].
"""

import csv
import json
import os

import numpy as np

from training import figures

# The metric the figure shows when --metric is not given: the first of these a trial reports.
HEADLINE_METRICS = ("accuracy", "best_evaluation_return", "loss")


def report(sweep_dir: str, grid: dict, results: list[dict], requested_metric: str | None) -> None:
    names = list(dict.fromkeys(name for result in results for name in result["metrics"]))
    print(f"\nSweep {sweep_dir}: each trial's metrics.json, mean ± standard deviation over seeds\n")
    print(format_table(summary_rows(results, names), names))
    for result in results:
        if result["status"] != "finished":
            print(f"{result['trial'].name}: {result['status']}")
    csv_path = write_csv(os.path.join(sweep_dir, "sweep.csv"), results, list(grid), names)
    print(f"\nEvery trial: {csv_path}")
    metric = headline_metric(results, requested_metric)
    if metric:
        figure = metric_figure(results, metric, f"{metric} per setting ({sweep_dir})")
        print(f"Figure: {figures.save_png(figure, os.path.join(sweep_dir, 'sweep.png'))}")
    print(f"Compare them in TensorBoard's HParams tab: tensorboard --logdir {sweep_dir}")


def headline_metric(results: list[dict], requested: str | None = None) -> str | None:
    names = [name for result in results for name in result["metrics"]]
    if requested in names or (requested and not names):
        return requested
    if requested:
        print(f"--metric {requested}: no trial reports it ({', '.join(dict.fromkeys(names))}).")
    return next((name for name in HEADLINE_METRICS if name in names), names[0] if names else None)


def summary_rows(results: list[dict], metric_names: list[str]) -> list[dict]:
    """One row per setting: its values, how many seeds finished, and each metric's values over
    those seeds (a list; None when no seed finished)."""
    groups = {}
    for result in results:
        key = json.dumps(result["trial"].setting)
        groups.setdefault(key, []).append(result)
    rows = []
    for members in groups.values():
        row = {**members[0]["trial"].setting}
        finished = [member["metrics"] for member in members if member["status"] == "finished"]
        row["finished"] = f"{len(finished)}/{len(members)}"
        for name in metric_names:
            values = [metrics[name] for metrics in finished if name in metrics]
            row[name] = values or None
        rows.append(row)
    return rows


def format_table(rows: list[dict], metric_names: list[str]) -> str:
    """A Markdown table: metrics as "mean ± standard deviation" over seeds (the sample standard
    deviation; none for a single seed), counts without decimals."""
    columns = list(rows[0]) if rows else []
    lines = [
        "| " + " | ".join(columns) + " |",
        "| " + " | ".join("---" for _ in columns) + " |",
    ]
    for row in rows:
        cells = []
        for column in columns:
            value = row[column]
            if column in metric_names:
                value = "failed" if value is None else _mean_and_spread(value)
            cells.append(str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _mean_and_spread(values: list[float]) -> str:
    counts = all(float(value).is_integer() for value in values)  # steps, episodes
    digits = (1 if len(values) > 1 else 0) if counts else 4
    text = f"{np.mean(values):.{digits}f}"
    return text + (f" ± {np.std(values, ddof=1):.{digits}f}" if len(values) > 1 else "")


def write_csv(path: str, results: list[dict], grid_keys: list[str], metric_names: list[str]):
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["trial", *grid_keys, "seed", "status", *metric_names])
        for result in results:
            trial = result["trial"]
            writer.writerow(
                [
                    trial.name,
                    *(trial.setting[key] for key in grid_keys),
                    trial.seed,
                    result["status"],
                ]
                + [result["metrics"].get(name, "") for name in metric_names]
            )
    return path


def metric_figure(results: list[dict], metric: str, title: str):
    """One row per setting: every seed's value as a dot, their mean as a black tick."""
    labels, points = [], []
    for result in results:
        label = ", ".join(f"{key}={value}" for key, value in result["trial"].setting.items())
        if label not in labels:
            labels.append(label)
            points.append([])
        if metric in result["metrics"]:
            points[labels.index(label)].append(result["metrics"][metric])
    figure, axes = figures.subplots(figsize=(7, 0.45 * len(labels) + 1.4))
    positions = np.arange(len(labels))
    for position, values in zip(positions, points):
        axes.plot(values, [position] * len(values), "o", color="tab:blue", alpha=0.6)
        if values:
            axes.plot([np.mean(values)], [position], "|", color="black", markersize=16, mew=2)
    finite = [value for values in points for value in values]
    if finite:  # zoom in on the values: small differences are what a sweep is about
        low, high = min(finite), max(finite)
        margin = 0.15 * (high - low) or 0.05 * abs(high) or 0.05
        axes.set_xlim(low - margin, high + margin)
    axes.set_yticks(positions)
    axes.set_yticklabels(labels, fontsize=8)
    axes.invert_yaxis()
    axes.set(xlabel=metric, title=title)
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    return figure
