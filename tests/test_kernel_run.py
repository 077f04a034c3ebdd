"""The kernel-side recording API (ppstudy.kernel.run.Run): parameters from the namespace, checks and verdicts,
smoke-only checks, tables that need rows and a caption."""

from __future__ import annotations

import pytest

from ppstudy import InputError
from ppstudy.data.source import DataSource, smoke
from ppstudy.kernel.run import Run
from ppstudy.manifest.status import check_status
from ppstudy.render import render_table


def test_run_start_takes_the_parameters_from_the_namespace(tiny_root):
    ns = {
        "profile": "quick",
        "run_dir": str(tiny_root / "r"),
        "n": 7,
        "scale": 1.5,
        "fail": False,
        "label": "x",
        "helper": 3,
    }
    run = Run.start("etc", ns)
    assert run.manifest["params"] == {"n": 7, "scale": 1.5, "fail": False, "label": "x"}
    assert run.manifest["profile"] == "quick"
    with pytest.raises(InputError, match="run_dir"):
        Run.start("etc", {"profile": "smoke"})


def test_checks_statuses_and_verdicts(tmp_path):
    run = Run("etc", "paper", {}, tmp_path)
    run.use_data(DataSource("Yale B", "all", ()))
    run.check("a", "common key changes nothing", True, kind="paper", paper="identical", measured="0")
    run.check("b", "RBF EER rises", False, kind="paper", paper="0.05 to 0.09", measured="flat")
    run.check("c", "Q is orthogonal", True, kind="exact", measured=0.0)
    run.check("d", "plain > deid", True, kind="paper", needs="a GPU run")
    assert [c["status"] for c in run.manifest["checks"].values()] == [
        "reproduced",
        "differs",
        "exact",
        "needs a GPU run",
    ]
    run.verdicts()
    html = render_table(run.manifest, "verdicts")
    assert "reproduced" in html and "differs" in html and "needs a GPU run" in html
    from ppstudy.render import Summary

    assert "common key changes nothing" in Summary(run.manifest)._repr_html_()
    with pytest.raises(InputError, match="kind"):
        run.check("e", "x", True, kind="vibe")
    with pytest.raises(InputError, match="check name"):
        run.check("Bad Name", "x", True)


def test_smoke_checks_are_smoke_only(tmp_path):
    run = Run("etc", "smoke", {}, tmp_path)
    run.use_data(smoke("toy"))
    run.check("a", "x", True, kind="paper")
    run.check("b", "y", True, kind="exact")
    assert check_status(run.manifest["checks"]["a"]) == "smoke only"
    assert run.manifest["checks"]["b"]["status"] == "exact"  # no data involved: exact in every profile


def test_tables_need_rows_and_a_caption(tmp_path):
    run = Run("etc", "smoke", {}, tmp_path)
    with pytest.raises(InputError, match="no rows"):
        run.table("t", [], caption="c")
    with pytest.raises(InputError, match="caption"):
        run.table("t", [{"a": 1}], caption=" ")
