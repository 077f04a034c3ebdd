"""Shared fixtures: a throwaway project root with a tiny chapter, and an isolated dataset cache."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

TINY_CHAPTER = textwrap.dedent("""\
    ---
    jupytext:
      text_representation:
        extension: .md
        format_name: myst
    kernelspec:
      display_name: Python 3
      language: python
      name: python3
    ---
    # A tiny chapter

    ```{code-cell} ipython3
    :tags: [parameters]
    profile = "smoke"
    run_dir = "runs/etc/smoke"
    checkpoint_dir = ""
    n = 3
    scale = 1.5
    fail = False
    label = "x"
    ratios = [1, 2]
    key_seed = 0
    ```

    ```{code-cell} ipython3
    import sys
    from ppstudy.results import Run
    run = Run("etc", profile, params=dict(n=n, scale=scale, label=label), run_dir=run_dir, data="tiny")
    assert not fail, "asked to fail"
    with run.stage("compute"):
        total = n * scale
    run.table("t", rows=[{"n": n, "paper": 4.5, "measured": total}], caption="tiny")
    run.value("python", sys.executable)
    run.value("checkpoint_dir", checkpoint_dir)
    run.save()
    ```
    """)


@pytest.fixture
def tiny_root(tmp_path, monkeypatch) -> Path:
    """A project root whose chapter ``etc`` is a three-second notebook; runs go under it."""
    root = tmp_path / "project"
    (root / "book" / "params" / "etc").mkdir(parents=True)
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n")
    (root / "book" / "etc.md").write_text(TINY_CHAPTER)
    (root / "book" / "params" / "etc" / "smoke.yml").write_text("n: 3\n")
    (root / "book" / "params" / "etc" / "quick.yml").write_text("n: 10\nscale: 2\n")
    monkeypatch.setenv("PPSTUDY_ROOT", str(root))
    monkeypatch.delenv("PPSTUDY_RUNS", raising=False)
    return root


@pytest.fixture
def data_cache(tmp_path, monkeypatch) -> Path:
    """An empty dataset cache (``$PPSTUDY_DATA``) for loader tests."""
    d = tmp_path / "data-cache"
    d.mkdir()
    monkeypatch.setenv("PPSTUDY_DATA", str(d))
    return d


@pytest.fixture(autouse=True)
def _quiet_threads(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
