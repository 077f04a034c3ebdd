"""Staging the book (ppstudy.site.stage): without published runs it says what to do; a page shows the parameters
its run used; tables re-render with the current presentation."""

from __future__ import annotations

import nbformat
import pytest

from ppstudy import PPStudyError
from ppstudy.pipeline import publish
from ppstudy.site import stage


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
