"""The results.json manifest (ppstudy.manifest): round trip, missing and corrupt files, the git state it records,
check statuses and the evidence flag."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from recorded import verdict_run

from ppstudy import InputError
from ppstudy.data.source import DataFile, DataSource
from ppstudy.kernel.run import Run
from ppstudy.manifest.store import load
from ppstudy.render import table_frame


def test_manifest_round_trip(tmp_path):
    run = Run("etc", "quick", {"a": 1}, tmp_path)
    run.use_data(DataSource("CIFAR-10", "5,000 images", (DataFile("test_batch", md5="ab" * 16),)))
    with run.stage("s"):
        pass
    run.table(
        "t1",
        [
            {"ratio": "1/20", "paper: EER": 0.02, "measured: EER": np.float64(0.5)},
            {"ratio": "1/40", "paper: EER": None, "measured: EER": math.nan},
        ],
        caption="c",
    )
    run.value("diff", np.float32(1e-12))
    run.save()
    m = load(tmp_path)
    assert m["tables"]["t1"]["rows"][1] == {"ratio": "1/40", "paper: EER": None, "measured: EER": None}
    assert m["params"] == {"a": 1} and "s" in m["timings_s"] and m["git"]["commit"] is not None
    assert m["data"]["files"] == [{"name": "test_batch", "md5": "ab" * 16}] and not m["data"]["smoke"]
    df = table_frame(m, "t1")
    assert list(df.columns) == ["ratio", "paper: EER", "this run (quick): EER"] and df.shape == (2, 3)
    assert not list(tmp_path.glob("*.tmp"))


def test_missing_and_corrupt_results(tmp_path):
    with pytest.raises(InputError, match="run the chapter first"):
        load(tmp_path)
    (tmp_path / "results.json").write_text("{broken")
    with pytest.raises(InputError, match="corrupt"):
        load(tmp_path)
    (tmp_path / "results.json").write_text(json.dumps({"tables": []}))
    with pytest.raises(InputError, match="not a ppstudy results file"):
        load(tmp_path)


def test_git_state_ignores_published_runs_but_not_code(tmp_path):
    import subprocess

    from ppstudy.manifest.environment import git_commit

    def git(*a):
        subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "src").mkdir()
    (tmp_path / "results" / "etc").mkdir(parents=True)
    (tmp_path / "src" / "m.py").write_text("x = 1\n")
    (tmp_path / "results" / "etc" / "results.json").write_text("{}\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    assert git_commit(tmp_path / "src")["dirty"] is False
    (tmp_path / "results" / "etc" / "results.json").write_text('{"published": 1}\n')  # a publish
    assert git_commit(tmp_path / "src")["dirty"] is False
    (tmp_path / "src" / "m.py").write_text("x = 2\n")  # a code edit
    state = git_commit(tmp_path / "src")
    assert state["dirty"] is True and len(state["commit"]) == 40


def test_status_kind_and_evidence_flag(tmp_path):
    from ppstudy.manifest.status import EVIDENCE_FLAG, evidence_missing, status_kind

    assert status_kind("needs a GPU run at the paper's scale") == "needs a GPU run"
    assert status_kind("needs a larger run: the 95% interval of the difference contains 0") == "needs a larger run"
    assert status_kind("needs more splits: the 95% interval [-0.1, 0.2] contains 0") == "needs a larger run"
    assert status_kind("needs the one-factor rows (not run)") == "needs …"
    assert status_kind("holds") == "holds"
    with pytest.raises(ValueError):
        status_kind("maybe")
    etc = verdict_run(tmp_path / "etc")
    assert etc.manifest[EVIDENCE_FLAG] is True  # the etc chapter records evidence for every check
    assert evidence_missing(etc.manifest) == []
    etc.check("bare", "x", True)
    assert evidence_missing(etc.manifest) == ["bare"]
    other = Run("scratch", "quick", {}, tmp_path / "scratch")  # a run of no registered chapter: no flag
    other.check("bare", "x", True)
    assert EVIDENCE_FLAG not in other.manifest and evidence_missing(other.manifest) == []


def test_the_device_names_the_cpu_model():
    from ppstudy.manifest.environment import cpu_model, device_info
    from ppstudy.render import device_label

    text = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B12\nflags\t\t: fpu\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B12\n"
    assert cpu_model(text) == "AMD EPYC 7B12" and cpu_model("processor : 0\n") is None
    assert device_label({"cpu_model": "AMD EPYC 7B12", "cpu_count": 2}) == "AMD EPYC 7B12, 2 cores"
    assert device_label({"cpu_count": 2}) == "CPU, 2 cores"  # a run recorded before the model was
    assert device_label({"gpu": "NVIDIA H200", "cpu_model": "x"}) == "NVIDIA H200"
    assert "cpu_model" in device_info()
