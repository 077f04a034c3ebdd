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
from ppstudy.plots import check_readable, save_figure
from ppstudy.results import Run, auto_format, check_status, load, render_table, table_frame


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
    from ppstudy.results import Summary

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

    from ppstudy.results import git_commit

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
