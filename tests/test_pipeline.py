"""The pipeline (ppstudy.pipeline): parameters, the run directory, locks, the atomic switch, failures, exports,
publishing with provenance, the end of a run on SIGTERM."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys

import nbformat
import numpy as np
import pytest

from ppstudy import InputError, PPStudyError, render
from ppstudy.manifest.store import pixels_only
from ppstudy.pipeline import execute, figures, publish
from ppstudy.pipeline.params import resolve
from ppstudy.project import notebook, paths
from ppstudy.project.chapters import get
from ppstudy.project.notebook import parameters_cell


def test_parameters_cell_reads_literals(tiny_root):
    nb = notebook.read_notebook(get("etc"), tiny_root)
    assert parameters_cell(nb) == {
        "profile": "smoke",
        "run_dir": "runs/etc/smoke",
        "checkpoint_dir": "",
        "n": 3,
        "scale": 1.5,
        "fail": False,
        "label": "x",
        "ratios": [1, 2],
        "key_seed": 0,
    }


def test_resolve_profile_then_overrides(tiny_root):
    nb = notebook.read_notebook(get("etc"), tiny_root)
    p = resolve(get("etc"), nb, "quick", {"n": 4}, tiny_root)
    assert p == {"n": 4, "scale": 2.0, "profile": "quick"}
    assert isinstance(p["scale"], float)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"nope": 1}, "unknown parameter 'nope'"),
        ({"n": "three"}, "parameter n: expected int"),
        ({"fail": 1}, "parameter fail: expected bool"),
        ({"n": 2.5}, "parameter n: expected int"),
        ({"run_dir": "/tmp/x"}, "set by the runner"),
        ({"n": None}, "parameter n: expected int, got None"),  # `-p n ''`
        ({"label": None}, "parameter label: expected str"),
        ({"ratios": [1, "x"]}, "element 'x' is not a int"),  # `-p ratios "[1, x]"`
        ({"ratios": []}, "an empty list"),  # `-p ratios "[]"`
        ({"key_seed": -1}, "a seed must be a non-negative integer"),  # `-p key_seed -1`
        ({"key_seed": 1.5}, "parameter key_seed: expected int"),
    ],
)
def test_resolve_rejects_bad_parameters(tiny_root, overrides, message):
    nb = notebook.read_notebook(get("etc"), tiny_root)
    with pytest.raises(InputError, match=message):
        resolve(get("etc"), nb, "smoke", overrides, tiny_root)


@pytest.mark.parametrize("profile", ["./smoke", "../etc/smoke", "Smoke", "smoke/x", "", "a" * 41])
def test_profile_names_are_plain_words(tiny_root, profile):
    nb = notebook.read_notebook(get("etc"), tiny_root)
    with pytest.raises(InputError, match="profile"):
        resolve(get("etc"), nb, profile, None, tiny_root)
    with pytest.raises(InputError, match="profile"):
        paths.run_dir("etc", profile, tiny_root)


def test_unknown_profile(tiny_root):
    nb = notebook.read_notebook(get("etc"), tiny_root)
    with pytest.raises(InputError, match=r"unknown profile 'paper' for chapter 'etc' \(profiles: quick, smoke\)"):
        resolve(get("etc"), nb, "paper", None, tiny_root)


def test_run_writes_manifest_and_notebook(tiny_root):
    out = execute.run("etc", "smoke", {"n": 2}, root=tiny_root, progress=False)
    assert out == tiny_root / "runs" / "etc" / "smoke" and out.is_symlink()
    m = json.loads((out / "results.json").read_text())
    assert m["params"] == {"n": 2, "scale": 1.5, "label": "x"}
    assert m["tables"]["t"]["rows"] == [{"n": 2, "paper": 4.5, "measured": 3.0}]
    assert m["timings_s"]["compute"] >= 0 and m["versions"]["numpy"]
    assert m["run"]["wall_s"] > 0 and m["run"]["peak_rss_mb"] > 10 and m["run"]["overrides"] == {"n": 2}
    assert m["run"]["compute_s"] == m["run"]["wall_s"]  # nothing reused: the cost from scratch is the wall time
    assert m["invocation"]["profile"] == "smoke"  # the kernel saw the runner's invocation
    # the chapter ran in this environment's Python (the kernel is the venv's, not some other python3)
    assert m["values"]["python"] == sys.executable
    # the runner gives a default checkpoint directory when the user gives none
    assert m["values"]["checkpoint_dir"] == str(tiny_root / "runs" / ".checkpoints" / "etc")
    nb = nbformat.read(out / "etc.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and 'run_dir = "runs/etc/smoke"' in injected[0].source and ".partial" not in injected[0].source
    assert "remove-cell" in injected[0].metadata["tags"]  # papermill's copy is not shown twice
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert "hide-input" in params[0].metadata["tags"]


def test_a_users_checkpoint_dir_is_kept(tiny_root, tmp_path):
    out = execute.run("etc", "smoke", {"checkpoint_dir": str(tmp_path / "mine")}, root=tiny_root, progress=False)
    assert json.loads((out / "results.json").read_text())["values"]["checkpoint_dir"] == str(tmp_path / "mine")


def test_rerun_switches_atomically_and_leaves_one_run(tiny_root):
    first = execute.run("etc", "smoke", {"n": 2}, root=tiny_root, progress=False).resolve()
    out = execute.run("etc", "smoke", {"n": 5}, root=tiny_root, progress=False)
    assert json.loads((out / "results.json").read_text())["params"]["n"] == 5
    assert not first.exists()  # the old run is removed once the link points at the new one
    store = out.parent / ".smoke.runs"
    assert [p.resolve() for p in store.iterdir()] == [out.resolve()]


def test_a_second_concurrent_run_is_refused(tiny_root):
    lock = tiny_root / "runs" / "etc" / ".smoke.lock"
    lock.parent.mkdir(parents=True)
    with open(lock, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        f.write("pid 4242")
        f.flush()
        with pytest.raises(PPStudyError, match=r"already running \(pid 4242\)"):
            execute.run("etc", "smoke", root=tiny_root, progress=False)
    assert not (tiny_root / "runs" / "etc" / "smoke").exists()


def test_failed_run_keeps_last_good_run(tiny_root):
    good = execute.run("etc", "smoke", root=tiny_root, progress=False)
    before = (good / "results.json").read_bytes()
    with pytest.raises(PPStudyError, match=r"failed in cell .*AssertionError: asked to fail"):
        execute.run("etc", "smoke", {"fail": True}, root=tiny_root, progress=False)
    assert (good / "results.json").read_bytes() == before
    assert (good.with_name("smoke.failed") / "etc.ipynb").is_file()
    assert not [p for p in (good.parent / ".smoke.runs").iterdir() if p.suffix == ".partial"]


def test_export_notebooks(tiny_root, tmp_path):
    paths = execute.export_notebooks(tmp_path / "nb", tiny_root, names=["etc"])
    nb = nbformat.read(paths[0], as_version=4)
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        execute.export_notebooks(tmp_path / "file", tiny_root, names=["etc"])


def _git(root, *args):
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def test_publish_and_provenance(tiny_root):
    _git(tiny_root, "init", "-q")
    _git(tiny_root, "-c", "user.email=a@b", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "x")
    out = execute.run("etc", "quick", root=tiny_root, progress=False)
    m = json.loads((out / "results.json").read_text())
    # a run records the commit of the checkout holding the package, not of the tiny root: publish checks it
    dest = publish.publish("etc", "quick", root=tiny_root)
    assert (dest / "results.json").is_file() and (dest / "etc.ipynb").is_file()
    assert publish.published_index(tiny_root) == {"etc": {"main": "quick", "runs": ["quick"]}}
    assert publish.published_run("etc", tiny_root) == dest
    text = render.provenance(m)
    assert "Provenance" in text and "`quick`" in text and "Wall time" in text and "ppstudy run etc" in text
    assert "has changed" not in text and "has changed" not in render.provenance(m, [])
    assert "`src/ppstudy/metrics.py`): the numbers below" in render.provenance(m, ["src/ppstudy/metrics.py"])
    with pytest.raises(InputError, match="not a finished run|no results"):
        publish.publish("etc", "smoke", root=tiny_root)


def test_publish_keeps_photographs_as_their_jpeg(tiny_root):
    _git(tiny_root, "init", "-q")
    _git(tiny_root, "-c", "user.email=a@b", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "x")
    out = execute.run("etc", "quick", root=tiny_root, progress=False)
    # the run's figure of photographs (etc's fig3_examples reads examples.npz) and an array file of numbers
    np.savez_compressed(out / "examples.npz", **{"example/plain": np.zeros((2, 8, 8), np.uint8)})
    np.savez_compressed(out / "curves.npz", far=np.linspace(0, 1, 5), frr=np.linspace(1, 0, 5))
    (out / "figures").mkdir()
    (out / "figures" / "fig3_examples.jpg").write_bytes(b"\xff\xd8 a JPEG")
    m = json.loads((out / "results.json").read_text())
    m.update(arrays=["examples", "curves"], figures=["fig3_examples"])
    (out / "results.json").write_text(json.dumps(m))
    assert pixels_only(out / "examples.npz") and not pixels_only(out / "curves.npz")
    dest = publish.publish("etc", "quick", root=tiny_root)
    assert not (dest / "examples.npz").exists() and (dest / "curves.npz").is_file()
    kept = figures.regenerate_figures("etc", "quick", tiny_root, source=dest)
    assert kept == [dest / "figures" / "fig3_examples.jpg"]
    assert kept[0].read_bytes() == b"\xff\xd8 a JPEG", "the published JPEG is kept as it is"
    (dest / "figures" / "fig3_examples.jpg").unlink()  # neither published nor redrawable: one clear error
    with pytest.raises(InputError, match="no examples.npz"):
        figures.regenerate_figures("etc", "quick", tiny_root, source=dest)
    (out / "examples.npz").unlink()  # a run of one's own must hold its arrays, even beside its JPEG
    with pytest.raises(InputError, match="no examples.npz"):
        figures.regenerate_figures("etc", "quick", tiny_root)


def test_sigterm_ends_the_kernel_and_its_children(tiny_root):
    """A run stopped with SIGTERM shuts its kernel down with the kernel's process group: a process the
    notebook started (as a process pool or the Node tracer would) does not outlive it."""
    import os
    import signal
    import time

    (tiny_root / "book" / "etc.md").write_text(
        (tiny_root / "book" / "etc.md").read_text().split("```{code-cell} ipython3\nimport sys")[0]
        + "```{code-cell} ipython3\nimport subprocess, time\n"
        + 'child = subprocess.Popen(["sleep", "300"])\n'
        + 'open("child.pid", "w").write(str(child.pid))\ntime.sleep(300)\n```\n'
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "ppstudy", "run", "etc"], cwd=tiny_root, stderr=subprocess.PIPE, text=True
    )
    pid_file = tiny_root / "child.pid"
    for _ in range(600):
        if pid_file.is_file() and pid_file.read_text():
            break
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("the notebook never started its child: " + proc.communicate()[1][-2000:])
    child = int(pid_file.read_text())
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 130
    for _ in range(100):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the notebook's child outlived the stopped run")
    assert (tiny_root / "runs" / "etc" / "smoke.failed").is_dir()  # the partial notebook is kept
