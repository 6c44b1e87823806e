"""Every notebook runs top to bottom in quick mode, against tiny data in TFDS' own format.

The data is written here (synthetic.write_tfds_dataset) and found through TFDS_DATA_DIR, as a
learner's downloaded datasets would be; nothing in the notebooks knows it is being tested.
"""

import glob
import os

import nbformat
import pytest
from nbclient import NotebookClient

import synthetic
from conftest import ROOT

NOTEBOOKS = sorted(glob.glob(os.path.join(ROOT, "notebooks", "*.ipynb")))
TINY_DATASETS = {  # name: (splits, examples per split)
    "mnist": (("train", "test"), 128),
    "imdb_reviews": (("train", "test", "unsupervised"), 128),
    # spoken_digit splits by take number: takes 0-4 test, 5-9 validation, 10+ train (20 clips a take).
    "spoken_digit": (("train",), 300),
}


def test_there_is_a_notebook_per_lesson():
    names = [os.path.basename(path) for path in NOTEBOOKS]
    assert len(names) == 7, names
    assert [name[:2] for name in names] == ["01", "02", "03", "04", "05", "06", "07"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_committed_notebook_holds_no_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code_cells and "import course" in code_cells[0].source  # quick mode is read first
    for cell in code_cells:
        assert not cell.outputs and cell.execution_count is None, (
            f"{os.path.basename(path)} holds outputs; clear them before committing "
            "(Jupyter: Edit > Clear Outputs of All Cells)."
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_lesson_checks_its_mechanics_and_asks_exercises(path):
    """Each mechanic shown by hand ends in a check against the project's code or Keras (a code
    cell tagged "check" that asserts), so the lesson fails in this suite the day it drifts from
    the code; and each lesson asks 2-4 exercises, each with an answer folded under <details>."""
    notebook = nbformat.read(path, as_version=4)
    checks = [
        cell
        for cell in notebook.cells
        if cell.cell_type == "code" and "check" in cell.metadata.get("tags", [])
    ]
    assert len(checks) >= 2, f"{os.path.basename(path)}: {len(checks)} cells tagged 'check'"
    for cell in checks:
        assert "assert" in cell.source, f"a 'check' cell asserts nothing:\n{cell.source}"
    exercises = [
        cell
        for cell in notebook.cells
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith("### Exercise")
    ]
    assert 2 <= len(exercises) <= 4, f"{os.path.basename(path)}: {len(exercises)} exercises"
    for cell in exercises:
        assert "<details>" in cell.source and "</details>" in cell.source, cell.source


@pytest.fixture(scope="session")
def tiny_tfds(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("tfds")
    for name, (splits, examples) in TINY_DATASETS.items():
        synthetic.write_tfds_dataset(str(data_dir), name, splits, examples)
    return data_dir


def run_in_quick_mode(path, data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("NOTEBOOK_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("TFDS_DATA_DIR", str(data_dir))
    notebook = nbformat.read(path, as_version=4)
    # A failing cell raises CellExecutionError, with the cell and its traceback, and fails the test.
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": os.path.dirname(path)}},
    ).execute()
    outputs = [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]
    assert not [output for output in outputs if output.output_type == "error"]
    assert any("image/png" in output.get("data", {}) for output in outputs), "no figure was shown"
    for run_dir in glob.glob(str(tmp_path / "runs" / "*")):  # every run a notebook started...
        assert os.path.exists(os.path.join(run_dir, "model.keras")), run_dir  # ...finished


# Two classes: pytest-xdist (`--dist loadscope`, pytest.ini) gives each class to one process, so
# the two halves of the lessons run side by side instead of one after the other.
class TestFirstLessonsRun:
    @pytest.mark.parametrize("path", NOTEBOOKS[:4], ids=os.path.basename)
    def test_top_to_bottom_in_quick_mode(self, path, tiny_tfds, tmp_path, monkeypatch):
        run_in_quick_mode(path, tiny_tfds, tmp_path, monkeypatch)


class TestLaterLessonsRun:
    @pytest.mark.parametrize("path", NOTEBOOKS[4:], ids=os.path.basename)
    def test_top_to_bottom_in_quick_mode(self, path, tiny_tfds, tmp_path, monkeypatch):
        run_in_quick_mode(path, tiny_tfds, tmp_path, monkeypatch)
