"""The papermill runner: parameters, the run directory, and keeping the last good run on failure."""

from __future__ import annotations

import json
import sys

import nbformat
import pytest

from ppstudy import InputError, PPStudyError, runner
from ppstudy.chapters import get
from ppstudy.params import parameters_cell, resolve


def test_parameters_cell_reads_literals(tiny_root):
    nb = runner.read_notebook(get("etc"), tiny_root)
    assert parameters_cell(nb) == {"profile": "smoke", "run_dir": "runs/etc/smoke", "n": 3, "scale": 1.5,
                                   "fail": False, "label": "x"}


def test_resolve_profile_then_overrides(tiny_root):
    nb = runner.read_notebook(get("etc"), tiny_root)
    p = resolve(get("etc"), nb, "quick", {"n": 4}, tiny_root)
    assert p == {"n": 4, "scale": 2.0, "profile": "quick"}
    assert isinstance(p["scale"], float)


@pytest.mark.parametrize("overrides, message", [
    ({"nope": 1}, "unknown parameter 'nope'"),
    ({"n": "three"}, "parameter n: expected int"),
    ({"fail": 1}, "parameter fail: expected bool"),
    ({"n": 2.5}, "parameter n: expected int"),
    ({"run_dir": "/tmp/x"}, "set by the runner"),
])
def test_resolve_rejects_bad_parameters(tiny_root, overrides, message):
    nb = runner.read_notebook(get("etc"), tiny_root)
    with pytest.raises(InputError, match=message):
        resolve(get("etc"), nb, "smoke", overrides, tiny_root)


def test_unknown_profile(tiny_root):
    nb = runner.read_notebook(get("etc"), tiny_root)
    with pytest.raises(InputError, match=r"unknown profile 'paper' for chapter 'etc' \(profiles: quick, smoke\)"):
        resolve(get("etc"), nb, "paper", None, tiny_root)


def test_run_writes_manifest_and_notebook(tiny_root):
    out = runner.run("etc", "smoke", {"n": 2}, root=tiny_root, progress=False)
    assert out == tiny_root / "runs" / "etc" / "smoke"
    m = json.loads((out / "results.json").read_text())
    assert m["params"] == {"n": 2, "scale": 1.5, "label": "x"}
    assert m["tables"]["t"]["rows"] == [{"n": 2, "paper": 4.5, "measured": 3.0}]
    assert m["timings_s"]["compute"] >= 0
    assert m["versions"]["numpy"]
    # the chapter ran in this environment's Python (the kernel is the venv's, not some other python3)
    assert m["values"]["python"] == sys.executable
    nb = nbformat.read(out / "etc.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and 'run_dir = "runs/etc/smoke"' in injected[0].source and ".partial" not in injected[0].source


def test_failed_run_keeps_last_good_run(tiny_root):
    good = runner.run("etc", "smoke", root=tiny_root, progress=False)
    before = (good / "results.json").read_bytes()
    with pytest.raises(PPStudyError, match=r"failed in cell .*AssertionError: asked to fail"):
        runner.run("etc", "smoke", {"fail": True}, root=tiny_root, progress=False)
    assert (good / "results.json").read_bytes() == before
    assert (good.with_name("smoke.failed") / "etc.ipynb").is_file()
    assert not good.with_name(".smoke.partial").exists()


def test_export_notebooks(tiny_root, tmp_path):
    paths = runner.export_notebooks(tmp_path / "nb", tiny_root, names=["etc"])
    nb = nbformat.read(paths[0], as_version=4)
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells)
    assert nb.metadata["kernelspec"]["name"] == "python3"
