"""Runs the lessons top to bottom and writes each as an HTML page with its figures, so a lesson
can be read without running it.

    python notebooks/build_pages.py                  # every lesson at full size (about an hour)
    NOTEBOOK_QUICK=1 python notebooks/build_pages.py # quick mode: a few minutes, tiny trainings
    python notebooks/build_pages.py 01 05            # only the lessons whose names start so

Pages go to docs/build/ (not committed; `--out` changes it), with an index.html that links
them. The committed notebooks stay without outputs: each is executed in memory (nbclient, in
the notebooks folder, as Jupyter would) and exported with nbconvert. Formulas are typeset by
MathJax, which the page fetches when it is opened online; offline they show as LaTeX source.
"""

import argparse
import glob
import html
import os
import sys
import tempfile
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert import HTMLExporter

NOTEBOOKS_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(os.path.dirname(NOTEBOOKS_DIR), "docs", "build")


def lessons(prefixes: list[str]) -> list[str]:
    """The notebooks whose file names start with one of `prefixes` (all when none is given)."""
    paths = sorted(glob.glob(os.path.join(NOTEBOOKS_DIR, "*.ipynb")))
    if not prefixes:
        return paths
    unknown = [
        prefix
        for prefix in prefixes
        if not any(os.path.basename(p).startswith(prefix) for p in paths)
    ]
    if unknown:
        names = ", ".join(os.path.basename(path) for path in paths)
        raise ValueError(f"no lesson starts with {', '.join(unknown)}; the lessons are: {names}")
    return [p for p in paths if any(os.path.basename(p).startswith(x) for x in prefixes)]


def build_page(path: str, out_dir: str) -> str:
    """Executes the notebook at `path` in its own folder and writes OUT_DIR/NAME.html; returns
    that path. A failing cell raises CellExecutionError, and no page is written."""
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook,
        timeout=None,  # full-size trainings take minutes per cell
        kernel_name="python3",
        resources={"metadata": {"path": os.path.dirname(path)}},
    ).execute()
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(notebook)
    page = os.path.join(out_dir, os.path.splitext(os.path.basename(path))[0] + ".html")
    _write(page, body)
    return page


def _write(path: str, text: str) -> None:
    """Writes to a temporary name, then renames: a reader never sees half a page."""
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".part")
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(temporary, path)


def write_index(pages: list[str], out_dir: str) -> str:
    items = "\n".join(
        f'<li><a href="{html.escape(os.path.basename(page))}">'
        f"{html.escape(os.path.splitext(os.path.basename(page))[0])}</a></li>"
        for page in pages
    )
    mode = "quick mode (tiny trainings)" if os.environ.get("NOTEBOOK_QUICK") == "1" else "full size"
    index = os.path.join(out_dir, "index.html")
    _write(
        index,
        "<!doctype html><meta charset='utf-8'><title>Lessons</title>\n"
        f"<h1>Lessons</h1><p>Executed at {html.escape(mode)} on "
        f"{time.strftime('%Y-%m-%d %H:%M')}.</p>\n<ol>\n{items}\n</ol>\n",
    )
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="name prefixes, e.g. 01 05 (default: all)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder for the pages (docs/build)")
    args = parser.parse_args(argv)
    try:
        paths = lessons(args.lessons)
        os.makedirs(args.out, exist_ok=True)
    except (ValueError, OSError) as error:
        print(f"build_pages.py: {error}", file=sys.stderr)
        return 2
    pages, failed = [], []
    for number, path in enumerate(paths, 1):
        name = os.path.basename(path)
        print(f"[{number}/{len(paths)}] {name} ...", flush=True)
        start = time.perf_counter()
        try:
            pages.append(build_page(path, args.out))
        except CellExecutionError as error:
            failed.append(name)
            print(f"  {name} stopped at a failing cell; no page written:\n{error}", file=sys.stderr)
            continue
        print(f"  {time.perf_counter() - start:.0f} s -> {pages[-1]}", flush=True)
    if pages:
        print(f"Open {write_index(pages, args.out)} in a browser.")
    if failed:
        print(
            f"build_pages.py: {len(failed)} lesson(s) failed: {', '.join(failed)}", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
