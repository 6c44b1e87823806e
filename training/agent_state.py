"""What an agent run keeps between steps and across a restart: the loop's state, its backup,
and the CSV logs of episodes and evaluations (see training/agent_loop.py)."""

import dataclasses
import os
import shutil
import zipfile

import numpy as np

from training import runs
from training.errors import UsageError


class RunningMeans:
    """Means of the agent's per-step logs (loss, epsilon) between two TensorBoard writes."""

    def __init__(self):
        self.totals, self.counts = {}, {}

    def add(self, logs: dict) -> None:
        for name, value in logs.items():
            self.totals[name] = self.totals.get(name, 0.0) + float(value)
            self.counts[name] = self.counts.get(name, 0) + 1

    def pop(self) -> dict:
        means = {name: total / self.counts[name] for name, total in self.totals.items()}
        self.totals, self.counts = {}, {}
        return means


class CsvLog:
    """A CSV file in the run directory, one row per event (an episode, an evaluation). A resumed
    run keeps the first `keep` rows, the ones its backup knows of, and appends after them."""

    def __init__(self, path: str, columns: tuple[str, ...], keep: int):
        self.path = path
        self.rows = []
        if os.path.exists(path):
            with open(path) as file:
                self.rows = [
                    [float(value) for value in line.split(",")]
                    for line in file.read().splitlines()[1 : keep + 1]
                ]
        lines = [",".join(columns)] + [",".join(map(_format, row)) for row in self.rows]
        runs.write_text(path, "\n".join(lines) + "\n")

    def add(self, *row) -> None:
        self.rows.append(list(row))
        with open(self.path, "a") as file:
            file.write(",".join(map(_format, row)) + "\n")

    def mean_of_last(self, count: int, column: int = 1) -> float:
        return float(np.mean([row[column] for row in self.rows[-count:]])) if self.rows else 0.0


def _format(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclasses.dataclass
class LoopState:
    """Where the agent loop is: what a backup holds besides the agent, and what a resumed run
    starts from."""

    step: int = 0  # environment steps taken
    episode: int = 0  # episodes finished
    seconds: float = 0.0  # training time so far, across resumes
    next_evaluation: int = 0  # the step at or after which the next greedy evaluation runs
    evaluations: int = 0  # greedy evaluations so far
    best_return: float = -np.inf  # the best evaluation's mean return
    best_step: int = -1  # ... and its step
    best_weights: list | None = None  # ... and the policy's weights then
    last_evaluation: float | None = None
    evaluated_step: int = -1  # the step of the last evaluation


class StepBackup:
    """RUN_DIR/backup/state.npz: the agent's variables and state, and the loop's counters.

    One file, written under a temporary name and renamed, so a kill at any moment leaves either
    the previous backup or the new one. Backups are taken at the end of an episode, so a resumed
    run starts the next episode exactly as the uninterrupted run did."""

    def __init__(self, backup_dir: str):
        self.backup_dir = backup_dir
        self.path = os.path.join(backup_dir, "state.npz")
        self.previous_path = os.path.join(backup_dir, "previous.npz")  # if `path` is damaged

    def saved_step(self) -> int:
        """The environment step the backup holds (0 without one)."""
        for path in (self.path, self.previous_path):
            try:
                with np.load(path) as saved:
                    return int(saved["loop/step"])
            except (OSError, ValueError, KeyError, zipfile.BadZipFile):
                continue
        return 0

    def restore(self, agent) -> "LoopState":
        loop = LoopState()
        path = self._readable()
        if path is None:
            return loop
        with np.load(path) as saved:
            for index, variable in enumerate(agent.variables):
                variable.assign(saved[f"variable/{index}"])
            agent.load_state(
                {
                    name[len("agent/") :]: saved[name]
                    for name in saved.files
                    if name.startswith("agent/")
                }
            )
            for name in (
                "step",
                "episode",
                "next_evaluation",
                "evaluations",
                "best_step",
                "evaluated_step",
            ):
                setattr(loop, name, int(saved[f"loop/{name}"]))
            loop.seconds, loop.best_return = (
                float(saved["loop/seconds"]),
                float(saved["loop/best_return"]),
            )
            loop.best_weights = [
                saved[f"best/{index}"] for index in range(len(agent.policy.weights))
            ]
        return loop

    def save(self, agent, loop) -> None:
        arrays = {
            f"variable/{index}": np.asarray(variable)
            for index, variable in enumerate(agent.variables)
        }
        arrays.update({f"agent/{name}": value for name, value in agent.state().items()})
        arrays.update(
            {
                f"loop/{name}": np.asarray(getattr(loop, name))
                for name in (
                    "step",
                    "episode",
                    "seconds",
                    "next_evaluation",
                    "evaluations",
                    "best_return",
                    "best_step",
                    "evaluated_step",
                )
            }
        )
        arrays.update({f"best/{index}": weight for index, weight in enumerate(loop.best_weights)})
        os.makedirs(self.backup_dir, exist_ok=True)
        # The new backup is written whole first; then two renames keep the one before it.
        with runs.replaced(self.path) as temporary:
            with open(temporary, "wb") as file:
                np.savez(file, **arrays)
            if os.path.exists(self.path):
                os.replace(self.path, self.previous_path)

    def _readable(self) -> str | None:
        """The newest backup that reads whole (a damaged one is skipped, and said so)."""
        found = [path for path in (self.path, self.previous_path) if os.path.exists(path)]
        for path in found:
            try:
                with np.load(path) as saved:
                    for name in saved.files:
                        saved[name]  # reads every array: a damaged file fails here
                return path
            except (OSError, ValueError, zipfile.BadZipFile) as error:
                print(
                    f"Backup {path} cannot be read ({type(error).__name__}); trying the one before it."
                )
        if found:
            raise UsageError(
                f"no backup in {self.backup_dir} can be read, so this run cannot resume. "
                f"Delete {self.backup_dir} to start it over, or pick a new --run-dir."
            )
        return None

    def remove(self) -> None:
        shutil.rmtree(self.backup_dir, ignore_errors=True)
