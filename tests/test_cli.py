"""The command line: one clear line and exit code 2 for anything a user can fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ppstudy.cli import main


def cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "ppstudy", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_list_names_every_chapter_and_profile():
    r = cli("list")
    assert r.returncode == 0, r.stderr
    for name in ("etc", "pixel", "deid", "cup"):
        assert any(line.startswith(name) for line in r.stdout.splitlines())
    assert "smoke" in r.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "nosuch"], "unknown chapter 'nosuch'"),
        (["run", "etc", "--profile", "huge"], "unknown profile 'huge'"),
        (["run", "etc", "-p", "no_such_param", "1"], "unknown parameter 'no_such_param'"),
        (["run", "etc", "-p", "n", "lots"], "parameter n: expected int"),
        (["figures", "nosuch"], "unknown chapter 'nosuch'"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tiny_root, args, message):
    r = cli(*args, env={"PPSTUDY_ROOT": str(tiny_root)})
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_run_and_figures(tiny_root, capsys):
    assert main(["run", "etc", "-p", "n", "5", "-p", "label", "hello"]) == 0
    out = tiny_root / "runs" / "etc" / "smoke"
    m = json.loads((out / "results.json").read_text())
    assert m["params"]["n"] == 5 and m["params"]["label"] == "hello"
    # the tiny chapter maps to the real etc study module, whose FIGURES need the real manifest;
    # figures of a run that does not exist is a one-line error
    assert main(["figures", "etc", "--profile", "quick"]) == 2
    assert "run the chapter first" in capsys.readouterr().err


def test_failed_chapter_is_one_line(tiny_root):
    r = cli("run", "etc", "-p", "fail", "true", env={"PPSTUDY_ROOT": str(tiny_root)})
    assert r.returncode == 2
    errors = [line for line in r.stderr.splitlines() if "ppstudy: error" in line]
    assert len(errors) == 1 and "asked to fail" in errors[0] and "Traceback" not in r.stderr


def test_notebooks_export(tiny_root, tmp_path):
    r = cli("notebooks", "--out", str(tmp_path / "nbs"), env={"PPSTUDY_ROOT": str(tiny_root)})
    # the tiny root holds only the etc chapter: exporting all chapters names the missing one
    assert r.returncode == 2 and "does not exist" in r.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["figures", "etc", "--profile", "../etc/smoke"], "profile '../etc/smoke'"),
        (["run", "etc", "--profile", "./smoke"], "profile './smoke'"),
        (["run", "etc", "-p", "n", ""], "expected int, got None"),
        (["run", "etc", "-p", "ratios", "[1, x]"], "element 'x'"),
        (["run", "etc", "-p", "ratios", "[]"], "empty list"),
        (["run", "etc", "-p", "key_seed", "-1"], "non-negative"),
        (["publish", "etc", "--profile", "quick"], "run the chapter first"),
        (["checkpoints", "list", "nosuch"], "unknown chapter 'nosuch'"),
    ],
)
def test_more_bad_input_is_one_line(tiny_root, args, message):
    r = cli(*args, env={"PPSTUDY_ROOT": str(tiny_root)})
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr


def test_notebooks_out_is_a_file(tiny_root, tmp_path):
    (tmp_path / "f").write_text("x")
    r = cli("notebooks", "--out", str(tmp_path / "f"), env={"PPSTUDY_ROOT": str(tiny_root)})
    assert r.returncode == 2 and "is a file" in r.stderr and "Traceback" not in r.stderr


def test_list_into_a_closed_pipe_and_a_full_disk(tiny_root):
    p = subprocess.run(
        f"{sys.executable} -m ppstudy list | head -c 1",
        shell=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PPSTUDY_ROOT": str(tiny_root)},
        timeout=120,
    )
    assert "Traceback" not in p.stderr and "BrokenPipe" not in p.stderr
    if os.path.exists("/dev/full"):
        with open("/dev/full", "w") as full:
            r = subprocess.run(
                [sys.executable, "-m", "ppstudy", "list"],
                stdout=full,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "PPSTUDY_ROOT": str(tiny_root)},
                timeout=120,
            )
        assert r.returncode == 2 and "No space left" in r.stderr and "Traceback" not in r.stderr


def test_checkpoints_list_and_clean(tiny_root):
    import numpy as np
    import torch

    from ppstudy import schedules, train

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (16, 8, 8, 3), dtype=np.uint8)
    y = rng.integers(0, 2, 16)
    ck = tiny_root / "runs" / ".checkpoints" / "etc"
    for tag in ("keep-me", "drop-me"):
        torch.manual_seed(0)
        train.fit(
            torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(192, 2)),
            (x, y),
            device="cpu",
            schedule=schedules.paper_sgd(1, batch_size=8),
            checkpoint_dir=ck,
            tag=tag,
            progress=False,
        )
    r = cli("checkpoints", "list", "etc", env={"PPSTUDY_ROOT": str(tiny_root)})
    assert r.returncode == 0 and "tag=keep-me" in r.stdout and "2 checkpoint(s)" in r.stdout
    r = cli("checkpoints", "clean", "etc", "--keep", "keep", env={"PPSTUDY_ROOT": str(tiny_root)})
    assert r.returncode == 0 and "removed 1" in r.stdout
    assert [d["tag"] for d in train.list_checkpoints(ck)] == ["keep-me"]


def test_figures_of_a_damaged_run_is_one_line(tiny_root):
    """A results.json without the tables a figure needs, or a truncated array file: one clear error."""
    out = tiny_root / "runs" / "etc" / "smoke"
    out.mkdir(parents=True)
    (out / "results.json").write_text(
        json.dumps({"chapter": "etc", "profile": "smoke", "tables": {}, "figures": ["fig_tables"]})
    )
    r = cli("figures", "etc", env={"PPSTUDY_ROOT": str(tiny_root)})
    assert r.returncode == 2 and "cannot redraw fig_tables: results.json lacks" in r.stderr, r.stderr
    (out / "results.json").write_text(
        json.dumps({"chapter": "etc", "profile": "smoke", "tables": {}, "figures": ["fig4_far_frr"]})
    )
    (out / "curves.npz").write_bytes(b"PK\x03\x04 truncated")
    r = cli("figures", "etc", env={"PPSTUDY_ROOT": str(tiny_root)})
    assert r.returncode == 2 and "curves.npz is unreadable" in r.stderr and "Traceback" not in r.stderr, r.stderr
