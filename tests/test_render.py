"""Rendering a manifest (ppstudy.render): tables with two-level headers, number formats, escaping, verdict tables
with check ids, evidence and links, the dashboard."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from recorded import verdict_run

from ppstudy import InputError
from ppstudy.data.source import smoke
from ppstudy.kernel.run import Run
from ppstudy.render import auto_format, render_table

ROOT = Path(__file__).resolve().parents[1]


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
    assert "Table 1.1. EER table" in html and "<th></th>" not in html  # numbered caption; no index column
    assert "Smoke run" not in html  # quick data are not smoke


def test_tables_are_numbered_per_chapter_in_the_books_order(tmp_path):
    from ppstudy.project.chapters import CHAPTERS
    from ppstudy.render import table_label

    toc = [
        line.split("book/")[1].strip() for line in (ROOT / "_toc.yml").read_text().splitlines() if "file: book/" in line
    ]
    assert toc[: len(CHAPTERS)] == list(CHAPTERS)  # the numbered part lists the chapters in CHAPTERS' order
    for k, chapter in enumerate(CHAPTERS, 1):
        run = Run(chapter, "quick", {}, tmp_path / chapter, data="toy")
        run.table("a", [{"x": 1}], caption="A")
        run.table("hidden", [{"x": 1}], caption="H", show=False)
        run.table("b", [{"x": 2}], caption="B")
        assert [table_label(run.manifest, n) for n in ("a", "hidden", "b")] == [f"Table {k}.1", None, f"Table {k}.2"]
        assert f">Table {k}.2. B<" in render_table(run.manifest, "b")
    other = Run("toy", "quick", {}, tmp_path / "toy", data="toy")
    other.table("a", [{"x": 1}], caption="A")
    assert table_label(other.manifest, "a") == "Table 1"  # a run of no chapter


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


def test_html_escapes_cells(tmp_path):
    run = Run("etc", "quick", {}, tmp_path)
    run.table("t", [{"name": "<script>x</script>", "measured: v": 1}], caption="<b>c</b>")
    html = render_table(run.manifest, "t")
    assert "<script>" not in html and "&lt;script&gt;" in html and re.search("&lt;b&gt;c", html)


def test_verdicts_show_check_ids_evidence_links_and_every_status(tmp_path):
    from bs4 import BeautifulSoup

    from ppstudy.manifest.status import STATUS_MEANINGS

    run = verdict_run(tmp_path)
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
    assert links == {"#ppstudy-table-invariance": "Table 1.1", "#fig-etc-far-frr": "Figure"}
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
    run = verdict_run(tmp_path)
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


def test_dashboard_rows_carry_ids_scale_evidence_links_and_the_legend(tmp_path):
    from ppstudy.render import dashboard

    run = verdict_run(tmp_path)
    md = dashboard({"etc": run.manifest}, {"etc": {"fig4_far_frr": "fig-etc-far-frr"}})
    row = next(line for line in md.splitlines() if "`rise-linear`" in line)
    assert "| `paper` |" in row and "rise: 0.0213; ci95: \\[0.0101, 0.0325\\]" in row
    assert '<a class="reference internal" href="etc.html#ppstudy-table-invariance">Table 1.1</a>' in row
    assert 'href="etc.html#fig-etc-far-frr">Figure</a>' in row
    assert "`no-evidence`" not in md  # exact checks are the chapter's, not a paper's claim
    assert "**needs a larger run**:" in md and "**smoke only**:" in md


def test_costs_are_the_compute_from_scratch_with_what_was_reused(tmp_path):
    from ppstudy.render import compute_seconds, dashboard, provenance

    run = verdict_run(tmp_path)
    run.manifest["run"] = {"wall_s": 162.0, "peak_rss_mb": 2048.0}
    assert compute_seconds(run.manifest) == 162.0
    assert "* **Wall time:** 2.7 min, peak memory 2.0 GB" in provenance(run.manifest)
    run.reused_compute(4800.0, "training resumed from checkpoints")
    run.reused_compute(180.0, "training resumed from checkpoints")
    run.reused_compute(60.0, "rows reused from the row cache")
    assert compute_seconds(run.manifest) == 162.0 + 5040.0
    prov = provenance(run.manifest)
    assert "**Compute from scratch:** 86.7 min: this invocation's wall time of 2.7 min" in prov
    assert "(83.0 min of training resumed from checkpoints; 1.0 min of rows reused from the row cache)" in prov
    row = next(line for line in dashboard({"etc": run.manifest}, {}).splitlines() if line.startswith("| [etc](etc)"))
    assert "| 86.7 min | 84.0 min | 2.0 GB |" in row
    with pytest.raises(InputError):
        run.reused_compute(-1.0, "x")


def test_a_long_cell_text_a_table_repeats_is_written_once_as_a_note(tmp_path):
    why = "no such attack: BFV ciphertexts are semantically secure (RLWE): the ceiling"
    other = "no such attack: values are shuffled inside each block, not moved"
    rows = [
        {"scheme": "BFV", "a": why, "b": why, "c": why},
        {"scheme": "Tanaka", "a": "0.42", "b": other, "c": other},
        {"scheme": "EtC", "a": "0.10", "b": "no such attack: said once, so it stays in its cell", "c": "0.3"},
    ]
    run = Run("attacks", "quick", {}, tmp_path, data="toy")
    run.table("m", rows, caption="matrix")
    html = render_table(run.manifest, "m")
    # each repeated reason once, in a numbered list below the table, in order of first appearance
    notes = re.search(r'<ol class="ppstudy-cell-notes">(.*?)</ol>', html).group(1)
    assert re.findall(r"<li>(.*?)</li>", notes) == [
        "BFV ciphertexts are semantically secure (RLWE): the ceiling",
        "values are shuffled inside each block, not moved",
    ]
    assert html.count("semantically secure") == 1 and html.count("shuffled inside") == 1
    cells = re.findall(r"<td>(.*?)</td>", html)
    assert cells.count('no such attack <sup class="ppstudy-cell-note">1</sup>') == 3
    assert cells.count('no such attack <sup class="ppstudy-cell-note">2</sup>') == 2
    assert "no such attack: said once, so it stays in its cell" in cells  # said once: kept whole
    # a table without repeats has no notes
    run.table("plain", [{"x": why}, {"x": "short"}], caption="p")
    assert "ppstudy-cell-notes" not in render_table(run.manifest, "plain")
