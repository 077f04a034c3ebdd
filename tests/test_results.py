"""The run manifest, the table formatter, checks and verdicts, and figure saving."""

from __future__ import annotations

import json
import math
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from ppstudy import InputError
from ppstudy.data.source import DataFile, DataSource, smoke
from ppstudy.kernel.run import Run
from ppstudy.manifest.status import check_status
from ppstudy.manifest.store import load
from ppstudy.plots import check_readable, save_figure
from ppstudy.render import auto_format, render_table, table_frame


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


def test_table_html_has_two_level_headers_no_index_and_dashes(tmp_path):
    run = Run("etc", "quick", {}, tmp_path, data="toy")
    run.table(
        "t",
        [{"kernel": "linear", "paper: EER": 0.0223, "measured: EER": 0.023456, "dims": 1215, "measured: note": None}],
        caption="EER table",
    )
    html = render_table(run.manifest, "t")
    assert '<th rowspan="2">kernel</th>' in html and '<th colspan="2">EER</th>' in html
    assert "<th>paper</th><th>this run<br>(quick)</th>" in html
    assert ">0.0223<" in html and ">0.0235<" in html and ">1,215<" in html and ">—<" in html
    assert "Table 1. EER table" in html and "<th></th>" not in html  # numbered caption; no index column
    assert "Smoke run" not in html  # quick data are not smoke


def test_smoke_tables_warn_and_exact_tables_say_so(tmp_path):
    run = Run("etc", "smoke", {}, tmp_path)
    run.use_data(smoke("toy faces"))
    run.table("a", [{"x": 1, "measured: y": 2.5}], caption="a")
    run.table("b", [{"x": 1, "measured: y": 2.5}], caption="b", exact=True)
    assert "Smoke run" in render_table(run.manifest, "a")
    b = render_table(run.manifest, "b")
    assert "Exact" in b and "Smoke run" not in b


@pytest.mark.parametrize(
    "values, shown",
    [
        ([1, 1000, 25], ["1", "1,000", "25"]),
        ([92.98, 85.151], ["92.98", "85.15"]),
        ([0.0223, 0.3355], ["0.0223", "0.3355"]),
        ([0.000744, 5.1e-05], ["0.000744", "5.1e-05"]),
        ([3.5, 7.25], ["3.500", "7.250"]),
    ],
)
def test_auto_format_precision(values, shown):
    f = auto_format(values)
    assert [f(v) for v in values] == shown


def test_paper_values_are_shown_as_printed():
    f = auto_format([0.000744, 0.0223], paper=True)
    assert [f(0.000744), f(0.0223)] == ["0.000744", "0.0223"]


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


def test_missing_and_corrupt_results(tmp_path):
    with pytest.raises(InputError, match="run the chapter first"):
        load(tmp_path)
    (tmp_path / "results.json").write_text("{broken")
    with pytest.raises(InputError, match="corrupt"):
        load(tmp_path)
    (tmp_path / "results.json").write_text(json.dumps({"tables": []}))
    with pytest.raises(InputError, match="not a ppstudy results file"):
        load(tmp_path)


def test_tables_need_rows_and_a_caption(tmp_path):
    run = Run("etc", "smoke", {}, tmp_path)
    with pytest.raises(InputError, match="no rows"):
        run.table("t", [], caption="c")
    with pytest.raises(InputError, match="caption"):
        run.table("t", [{"a": 1}], caption=" ")


def test_figures_must_fit_the_text_column_with_readable_fonts(tmp_path):
    fig, ax = plt.subplots(figsize=(12, 3))
    with pytest.raises(InputError, match="wider|more than the text column"):
        check_readable(fig, "wide")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.set_title("tiny", fontsize=6)
    with pytest.raises(InputError, match="6.0 pt"):
        check_readable(fig, "small")
    ax.set_title("fine", fontsize=10)
    check_readable(fig, "ok")
    plt.close(fig)


def test_save_figure_png_svg_jpg_stable(tmp_path):
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.imshow(np.random.default_rng(0).integers(0, 255, (16, 16)))
    p1 = save_figure(fig, tmp_path, "fig_a", photo=True)
    svg1 = p1["svg"].read_bytes()
    save_figure(fig, tmp_path, "fig_a", photo=True)
    assert p1["png"].stat().st_size > 0 and p1["svg"].read_bytes() == svg1
    assert p1["jpg"].read_bytes()[:2] == b"\xff\xd8"
    with pytest.raises(InputError, match="figure name"):
        save_figure(fig, tmp_path, "Bad Name")
    plt.close(fig)


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


def test_html_escapes_cells(tmp_path):
    run = Run("etc", "quick", {}, tmp_path)
    run.table("t", [{"name": "<script>x</script>", "measured: v": 1}], caption="<b>c</b>")
    html = render_table(run.manifest, "t")
    assert "<script>" not in html and "&lt;script&gt;" in html and re.search("&lt;b&gt;c", html)


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


# ---------------------------------------------------------------------- verdicts: check ids, evidence, links
def _verdict_run(tmp_path, chapter="etc"):
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


def test_verdicts_show_check_ids_evidence_links_and_every_status(tmp_path):
    from bs4 import BeautifulSoup

    from ppstudy.manifest.status import STATUS_MEANINGS

    run = _verdict_run(tmp_path)
    run.verdicts()
    t = run.manifest["tables"]["verdicts"]
    assert t["verdicts"] is True and [r["check"] for r in t["rows"]] == ["rise-linear", "ordering", "no-evidence"]
    html = render_table(run.manifest, "verdicts", figure_labels={"fig4_far_frr": "fig-etc-far-frr"})
    soup = BeautifulSoup(html, "html.parser")
    heads = [th.get_text(" ") for th in soup.find_all("th")]
    assert heads[:3] == ["check", "claim", "paper"] and heads[-3:] == ["evidence", "shown in", "status"]
    rows = [[td.get_text(" ").strip() for td in tr.find_all("td")] for tr in soup.find("tbody").find_all("tr")]
    assert [r[0] for r in rows] == ["rise-linear", "ordering", "no-evidence"]
    assert rows[0][5] == "rise: 0.0213; ci95: [0.0101, 0.0325]"  # numbers and their interval; shown_in is a link
    assert rows[1][5] == "interval: 0.0120 [-0.0040, 0.0280]; rows: r0, r1, r2, r3, r4, r5, r6, r7, … (10 in all)"
    assert rows[2][5] == "—" and rows[2][6] == "hidden, elsewhere"  # not shown, unknown: plain text
    links = {a["href"]: a.get_text() for a in soup.find("tbody").find_all("a")}
    assert links == {"#ppstudy-table-invariance": "Table 1", "#fig-etc-far-frr": "Figure"}
    assert soup.find(id="ppstudy-table-verdicts") is not None  # the verdict table is a link target too
    assert [r[-1] for r in rows] == ["reproduced", "needs a larger run: the 95% interval contains 0", "exact"]
    legend = soup.find(class_="ppstudy-legend").get_text()
    for status in (
        "reproduced",
        "differs",
        "holds",
        "fails",
        "exact",
        "smoke only",
        "needs a GPU run",
        "needs a larger run",
    ):
        assert f"{status}:" in legend, status
    assert list(STATUS_MEANINGS)[:8] == [
        "reproduced",
        "differs",
        "exact",
        "holds",
        "fails",
        "smoke only",
        "needs a GPU run",
        "needs a larger run",
    ]
    # without labels a figure is named, not linked
    assert 'href="#fig-' not in render_table(run.manifest, "verdicts") and "figure fig4_far_frr" in render_table(
        run.manifest, "verdicts"
    )


def test_old_verdict_tables_are_rendered_from_their_checks(tmp_path):
    """A published run recorded before the verdict table said so (no check column, no flag) still shows
    the check ids and the legend: the table is rendered from the checks."""
    run = _verdict_run(tmp_path)
    run.verdicts()
    old = json.loads(json.dumps(run.manifest))
    t = old["tables"]["verdicts"]
    del t["verdicts"]
    t["columns"].remove("check")
    for r in t["rows"]:
        del r["check"]
    html = render_table(old, "verdicts")
    assert "<code>rise-linear</code>" in html and 'class="ppstudy-legend"' in html
    old["tables"]["other"] = dict(t)  # a table of the same rows under another name is a plain table
    assert "<code>" not in render_table(old, "other")


def test_status_kind_and_evidence_flag(tmp_path):
    from ppstudy.manifest.status import EVIDENCE_FLAG, evidence_missing, status_kind

    assert status_kind("needs a GPU run at the paper's scale") == "needs a GPU run"
    assert status_kind("needs a larger run: the 95% interval of the difference contains 0") == "needs a larger run"
    assert status_kind("needs more splits: the 95% interval [-0.1, 0.2] contains 0") == "needs a larger run"
    assert status_kind("needs the one-factor rows (not run)") == "needs …"
    assert status_kind("holds") == "holds"
    with pytest.raises(ValueError):
        status_kind("maybe")
    etc = _verdict_run(tmp_path / "etc")
    assert etc.manifest[EVIDENCE_FLAG] is True  # the etc chapter records evidence for every check
    assert evidence_missing(etc.manifest) == []
    etc.check("bare", "x", True)
    assert evidence_missing(etc.manifest) == ["bare"]
    cup = Run("cup", "quick", {}, tmp_path / "cup")
    cup.check("bare", "x", True)
    assert EVIDENCE_FLAG not in cup.manifest and evidence_missing(cup.manifest) == []


def test_dashboard_rows_carry_ids_scale_evidence_links_and_the_legend(tmp_path):
    from ppstudy.render import dashboard

    run = _verdict_run(tmp_path)
    md = dashboard({"etc": run.manifest}, {"etc": {"fig4_far_frr": "fig-etc-far-frr"}})
    row = next(line for line in md.splitlines() if "`rise-linear`" in line)
    assert "| `paper` |" in row and "rise: 0.0213; ci95: \\[0.0101, 0.0325\\]" in row
    assert '<a class="reference internal" href="etc.html#ppstudy-table-invariance">Table 1</a>' in row
    assert 'href="etc.html#fig-etc-far-frr">Figure</a>' in row
    assert "`no-evidence`" not in md  # exact checks are the chapter's, not a paper's claim
    assert "**needs a larger run**:" in md and "**smoke only**:" in md
