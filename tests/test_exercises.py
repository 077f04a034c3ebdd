"""Every chapter ends with exercises in one format, and every starter they give runs as printed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ppstudy.project.chapters import CHAPTERS
from ppstudy.project.notebook import EXERCISE

ROOT = Path(__file__).resolve().parents[1]
def exercises(name: str) -> list[tuple[str, str, str]]:
    text = (ROOT / "book" / f"{name}.md").read_text()
    return [(m.group(4), m.group(1), m.group(5)) for m in EXERCISE.finditer(text)]


@pytest.mark.parametrize("name", list(CHAPTERS))
def test_exercises_have_a_title_difficulty_time_and_a_hidden_solution(name):
    text = (ROOT / "book" / f"{name}.md").read_text()
    found = exercises(name)
    assert len(found) >= 3, f"{name}: fewer than three exercises in the book's format"
    for label, _title, _ in found:
        assert label.startswith(f"{name}-ex-"), label
        sol = label.replace("-ex-", "-sol-")
        assert re.search(
            rf"^::::\{{solution\}} {re.escape(label)}\n:label: {re.escape(sol)}\n:class: dropdown$", text, re.M
        ), f"{label}: no hidden solution"


STARTERS = [
    (name, label, code)
    for name in CHAPTERS
    for label, _, body in exercises(name)
    for code in re.findall(r"^```python\n(.*?)^```$", body, re.M | re.S)
]


@pytest.mark.parametrize("name,label,code", STARTERS, ids=[s[1] for s in STARTERS])
def test_starters_run_without_editing_the_package(name, label, code, tmp_path):
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"{label}: {r.stderr[-2000:]}"
    assert r.stdout.strip(), f"{label}: the starter prints nothing to start from"


def test_a_run_records_what_each_starter_prints_for_the_solutions(tmp_path):
    from ppstudy import InputError
    from ppstudy.kernel.run import Run

    page = tmp_path / "book" / "etc.md"
    page.parent.mkdir()
    ok = "::::{exercise} Two lines · easy · 5 min\n:label: etc-ex-two\n\nText.\n\n```python\nprint(6 * 7)\nprint('  b ')\n```\n::::\n"
    page.write_text(ok + "\n::::{exercise} No code · easy · 5 min\n:label: etc-ex-none\n\nJust think.\n::::\n")
    run = Run("etc", "quick", {}, tmp_path / "run", data="toy")
    assert run.exercise_outputs(root=tmp_path) == {"etc-ex-two": "42 / b"}
    assert run.manifest["values"]["etc_ex_two_out"] == "42 / b"
    page.write_text(ok.replace("print(6 * 7)", "raise SystemExit('no such file')"))
    with pytest.raises(InputError, match="exercise etc-ex-two: its starter failed: no such file"):
        run.exercise_outputs(root=tmp_path)
