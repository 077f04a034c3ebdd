"""A recorded run with checks of every kind, for the manifest and rendering tests."""

from __future__ import annotations

from ppstudy.data.source import DataSource
from ppstudy.kernel.run import Run


def verdict_run(tmp_path, chapter="etc"):
    run = Run(chapter, "paper", {}, tmp_path)
    run.use_data(DataSource("Yale B", "all", ()))
    run.table("invariance", [{"k": 1, "measured: d": 0.0}], caption="Kernels")
    run.table("hidden", [{"k": 1}], caption="Not shown", show=False)
    run.manifest["figures"].append("fig4_far_frr")
    run.check(
        "rise-linear",
        "The EER rises",
        True,
        kind="paper",
        paper="+0.03",
        measured="+0.02",
        evidence={"rise": 0.0213, "ci95": [0.0101, 0.0325], "shown_in": ["invariance", "fig4_far_frr"]},
    )
    run.check(
        "ordering",
        "plain > deid",
        True,
        kind="paper",
        evidence={"interval": {"diff": 0.012, "lo": -0.004, "hi": 0.028}, "rows": [f"r{i}" for i in range(10)]},
        needs="a larger run: the 95% interval contains 0",
    )
    run.check("no-evidence", "Q is orthogonal", True, kind="exact", evidence={"shown_in": ["hidden", "elsewhere"]})
    return run
