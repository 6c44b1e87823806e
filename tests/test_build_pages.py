"""notebooks/build_pages.py: lessons become HTML pages with their outputs and figures inside."""

import os
import sys

import nbformat
import pytest

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "notebooks"))
import build_pages  # noqa: E402


def write_notebook(path, *sources):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# A lesson\n\n$y = w x + b$")] + [
        nbformat.v4.new_code_cell(source) for source in sources
    ]
    nbformat.write(notebook, str(path))
    return str(path)


def test_page_holds_the_executed_outputs_and_figures(tmp_path):
    path = write_notebook(
        tmp_path / "01_lesson.ipynb",
        "print('weights:', 6 * 7)",
        "import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0])\nplt.show()",
    )
    page = build_pages.build_page(path, str(tmp_path))
    assert page == str(tmp_path / "01_lesson.html")
    text = open(page, encoding="utf-8").read()
    assert "weights: 42" in text  # computed by the kernel, not copied from the source
    assert "data:image/png;base64," in text  # the figure is inside the page
    assert not nbformat.read(path, as_version=4).cells[1].outputs  # the notebook stays clean


def test_failing_lesson_is_named_and_writes_no_page(tmp_path, capsys, monkeypatch):
    notebooks = tmp_path / "lessons"
    notebooks.mkdir()
    write_notebook(notebooks / "01_broken.ipynb", "1 / 0")
    out = tmp_path / "pages"
    monkeypatch.setattr(build_pages, "NOTEBOOKS_DIR", str(notebooks))
    exit_code = build_pages.main(["01", "--out", str(out)])
    assert exit_code == 1
    assert "01_broken.ipynb" in capsys.readouterr().err
    assert not (out / "01_broken.html").exists()


def test_unknown_lesson_is_refused_with_the_names_there_are(capsys):
    assert build_pages.main(["99"]) == 2
    error = capsys.readouterr().err
    assert "no lesson starts with 99" in error and "01_neurons_layers_activations.ipynb" in error


@pytest.mark.parametrize("prefixes", [[], ["03", "01"]])
def test_lessons_are_selected_by_prefix_in_order(prefixes):
    names = [os.path.basename(path) for path in build_pages.lessons(prefixes)]
    expected = 7 if not prefixes else 2
    assert len(names) == expected and names == sorted(names)
    assert all(any(name.startswith(prefix) for prefix in prefixes or [""]) for name in names)
