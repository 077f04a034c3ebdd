"""What is read from a chapter's notebook (``book/<chapter>.md``, a MyST text notebook) without running it.

:func:`read_notebook` reads it with jupytext (for the kernel ``python3``); :func:`parameters_cell` gives the
names and defaults of its cell tagged ``parameters`` (literals only, read with :mod:`ast`);
:func:`figure_labels` the Sphinx label of each glued figure (``{glue:figure} KEY`` with ``:name: LABEL``);
:func:`exercise_starters` the starter code of each exercise as the page prints it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from ppstudy import InputError
from ppstudy.project.chapters import Chapter
from ppstudy.project.paths import notebook

KERNEL = "python3"
#: names every chapter declares and the runner injects
RUNNER_PARAMS = ("profile", "run_dir")
_GLUE_FIGURE = re.compile(r"^[`:]{3,}\{glue:figure\}\s+(\S+)\s*\n((?:[ \t]*:[\w-]+:.*\n)*)", re.M)
_NAME_OPTION = re.compile(r"^[ \t]*:name:[ \t]*(\S+)", re.M)
#: an exercise in the book's format: title · difficulty · minutes, its label, its body
EXERCISE = re.compile(
    r"^::::\{exercise\} ([^\n]+?) · (easy|medium|hard) · (\d+) min[^\n]*\n:label: (\S+)\n(.*?)^::::$", re.M | re.S
)
_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.M | re.S)


def exercise_starters(chapter: Chapter, root: Path | None = None) -> dict[str, str]:
    """Exercise label -> its starter code (the exercise's first ``python`` block), as the chapter's page
    prints it; exercises without one are left out."""
    path = notebook(chapter, root)
    if not path.is_file():
        raise InputError(f"chapter {chapter.name}: {path} does not exist")
    out = {}
    for m in EXERCISE.finditer(path.read_text()):
        code = _PYTHON_BLOCK.findall(m.group(5))
        if code:
            out[m.group(4)] = code[0]
    return out


def read_notebook(chapter: Chapter, root: Path | None = None):
    import jupytext

    path = notebook(chapter, root)
    if not path.is_file():
        raise InputError(f"chapter {chapter.name}: {path} does not exist")
    nb = jupytext.read(path)
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3", "language": "python"}
    return nb


def parameters_cell(nb) -> dict[str, Any]:
    """Names and default values of the cell tagged ``parameters`` (literals only)."""
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            break
    else:
        raise InputError("the notebook has no cell tagged 'parameters'")
    out: dict[str, Any] = {}
    for node in ast.parse(cell.source).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            raise InputError(f"parameters cell: only `name = literal` lines are allowed (line {node.lineno})")
        try:
            out[node.targets[0].id] = ast.literal_eval(node.value)
        except ValueError:
            raise InputError(f"parameters cell: {node.targets[0].id} is not a literal") from None
    return out


def figure_labels(text: str) -> dict[str, str]:
    """The Sphinx label of each figure a MyST notebook shows through glue: ``{glue:figure} KEY`` followed
    by a ``:name: LABEL`` option gives ``{KEY: LABEL}`` (a figure without ``:name:`` has no label)."""
    out = {}
    for m in _GLUE_FIGURE.finditer(text):
        name = _NAME_OPTION.search(m.group(2))
        if name:
            out[m.group(1)] = name.group(1)
    return out


def chapter_figure_labels(chapter: Chapter, root: Path | None = None) -> dict[str, str]:
    """:func:`figure_labels` of the chapter's notebook (none when it cannot be read)."""
    try:
        return figure_labels(notebook(chapter, root).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return {}
