"""Staging the book (ppstudy.site.stage): without published runs it says what to do; a page shows the parameters
its run used; tables re-render with the current presentation."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from ppstudy import PPStudyError
from ppstudy.pipeline import execute, publish
from ppstudy.site import stage

ROOT = Path(__file__).resolve().parents[1]


def test_book_without_published_runs_says_what_to_do(tiny_root):
    with pytest.raises(PPStudyError, match="no published run"):
        publish.published_run("etc", tiny_root)


def test_the_book_shows_the_parameters_a_run_used(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    defaults = nbformat.v4.new_code_cell(
        'profile = "smoke"\nn = 3            # images\nsizes = [1,\n         2]\nlabel = "x"  # kept\ncheckpoint_dir = ""'
    )
    defaults.metadata["tags"] = ["parameters"]
    injected = nbformat.v4.new_code_cell(
        '# Parameters\nn = 500\nsizes = [4, 5]\nprofile = "quick"\ncheckpoint_dir = "/home/u/repo/runs/.checkpoints/etc"\n'
    )
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells = [defaults, injected]
    nb.metadata["papermill"] = {
        "input_path": "/home/u/repo/runs/etc/.quick.runs/x.partial/etc.source.ipynb",
        "parameters": {"checkpoint_dir": "/home/u/repo/runs/.checkpoints/etc", "n": 500},
    }
    stage._show_run_parameters(nb, "etc")
    path = tmp_path / "etc.ipynb"
    nbformat.write(nb, path)
    out = nbformat.read(path, as_version=4)
    shown = out.cells[0].source.splitlines()
    assert shown[0] == "# the values of this run (profile quick); the defaults are in book/etc.md"
    assert shown[1:] == [
        'profile = "quick"',
        "n = 500          # images",
        "sizes = [4, 5]",
        'label = "x"  # kept',
        'checkpoint_dir = "runs/.checkpoints/etc"',
    ]
    assert "/home/u" not in path.read_text(), "no machine path left in the downloadable notebook"
    assert out.metadata["papermill"]["input_path"] == "etc.source.ipynb"


def test_staging_rerenders_tables_with_the_current_presentation():
    from ppstudy.render import render_table

    manifest = {
        "chapter": "etc",
        "profile": "quick",
        "data": {"dataset": "D", "description": "d", "smoke": False},
        "tables": {
            "t1": {
                "caption": "EERs (the paper's Table 1)",
                "number": 1,
                "columns": ["ratio", "paper: EER", "measured: EER"],
                "rows": [{"ratio": "1/20", "paper: EER": 0.0223, "measured: EER": 0.023}],
            },
            "t2": {
                "caption": "Two",
                "number": 2,
                "columns": ["x", "measured: y"],
                "rows": [{"x": 1, "measured: y": 2.5}],
            },
        },
    }
    old = (  # how a run rendered its tables before they had an id: the caption inside the table
        '<div class="ppstudy-table ppstudy-scroll"><table class="table"><caption style="caption-side: top;">'
        "Table 1. EERs (the paper&#x27;s Table 1)</caption><tbody><tr><td>stale</td></tr></tbody></table></div>"
    )
    new = render_table(manifest, "t2").replace("2.5", "stale")
    other = "<p>not a table</p>"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "x",
            outputs=[
                nbformat.v4.new_output("display_data", data={"text/html": h, "text/plain": "t"})
                for h in (old, new, other)
            ],
        )
    ]
    assert stage._rerender_tables(nb, manifest) == 2
    html = [o["data"]["text/html"] for o in nb.cells[0].outputs]
    assert html == [render_table(manifest, "t1"), render_table(manifest, "t2"), other]
    assert "stale" not in "".join(html) and "<caption" not in html[0]


def test_the_rerun_page_lists_the_published_class_runs_with_their_compute(tiny_root):
    import subprocess

    from ppstudy.render import class_costs
    from ppstudy.site.stage import CLASS_COSTS_MARK, class_runs

    for args in (
        ["init", "-q"],
        ["-c", "user.email=a@b", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "x"],
    ):
        subprocess.run(["git", *args], cwd=tiny_root, check=True, capture_output=True)
    assert class_runs(tiny_root) == {} and "No chapter has a published `class` run" in class_costs({})
    (tiny_root / "book" / "params" / "etc" / "class.yml").write_text("n: 4\n")
    execute.run("etc", "quick", root=tiny_root, progress=False)
    publish.publish("etc", "quick", root=tiny_root)
    assert class_runs(tiny_root) == {}  # a quick run is not a class run
    execute.run("etc", "class", root=tiny_root, progress=False)
    publish.publish("etc", "class", root=tiny_root)
    runs = class_runs(tiny_root)
    assert list(runs) == ["etc"] and runs["etc"]["profile"] == "class"
    runs["etc"]["run"]["wall_s"] = 90.0
    runs["etc"]["reused_compute_s"] = {"training resumed from checkpoints": 150.0}
    table = class_costs(runs)
    row = next(line for line in table.splitlines() if line.startswith("| [etc](etc)"))
    assert "`ppstudy run etc --profile class`" in row and "| 4.0 min |" in row  # (90 + 150) s
    page = tiny_root / "rerun.md"
    page.write_text(f"# Rerun\n\n{CLASS_COSTS_MARK}\n")
    assert stage.insert_class_costs(page, tiny_root) and not stage.insert_class_costs(page, tiny_root)
    text = page.read_text()
    assert CLASS_COSTS_MARK not in text and "`ppstudy run etc --profile class`" in text
    assert CLASS_COSTS_MARK in (ROOT / "book" / "rerun.md").read_text()  # the book's rerun page has the mark
