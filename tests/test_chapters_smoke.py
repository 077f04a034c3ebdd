"""Every chapter executes in the smoke profile and leaves a complete manifest, tables and figures."""

from __future__ import annotations

import json
import os
from unittest import mock

import pytest
from chapter_runs import ensure_run, shared_dir

from ppstudy.pipeline import figures
from ppstudy.project.chapters import CHAPTERS

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", list(CHAPTERS))
def test_chapter_smoke(name, tmp_path_factory):
    shared = shared_dir(tmp_path_factory)
    out = ensure_run(name, shared)
    m = json.loads((out / "results.json").read_text())
    assert m["chapter"] == name and m["profile"] == "smoke" and m["finished"]
    assert m["data"], "the manifest must say what data the smoke run used"
    assert m["timings_s"] and all(t >= 0 for t in m["timings_s"].values())
    assert m["versions"]["torch"] and m["device"]["python"]
    # at least one reproduced table with the paper's values beside measured ones
    reproduced = [
        t
        for t in m["tables"].values()
        if any(c.startswith("paper") for c in t["columns"]) and any(c.startswith("measured") for c in t["columns"])
    ]
    assert reproduced, f"{name}: no table has both paper and measured columns"
    # every measured column holds values (a cell may be empty where a row has nothing to measure there)
    for tname, t in m["tables"].items():
        for col in t["columns"]:
            if col.startswith("measured"):
                assert any(r.get(col) is not None for r in t["rows"]), f"{name}/{tname}: column {col!r} is empty"
    # figures: PNG + SVG, non-empty, and regenerable from the manifest alone
    assert m["figures"], f"{name}: no figures"
    for fig in m["figures"]:
        for ext in ("png", "svg"):
            assert (out / "figures" / f"{fig}.{ext}").stat().st_size > 0
    with mock.patch.dict(os.environ, {"PPSTUDY_RUNS": str(shared / "runs")}):
        redrawn = figures.regenerate_figures(name, "smoke")
    assert {p.stem for p in redrawn} >= set(m["figures"])
