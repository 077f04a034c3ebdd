"""Stage the book: the static pages and the executed chapter notebooks, each opened with its provenance.

``stage_book()`` copies the book's static pages into ``_build/stage/`` beside the chapters' executed
notebooks from their published runs (or, with a profile, from the runs under ``runs/``): each shows the
values its run used in its folded parameters cell, its tables rendered by the current
:func:`ppstudy.render.render_table`, and opens with its provenance (and a warning when the code its numbers
came from changed since the run's commit); the intro receives the dashboard of every chapter's checks.
"""

from __future__ import annotations

import ast
import io
import os
import re
import shutil
import tokenize
from pathlib import Path
from typing import Any

from ppstudy import PPStudyError
from ppstudy.manifest.store import load, published_index, verify_digest
from ppstudy.pipeline.codechange import code_changed_since
from ppstudy.pipeline.publish import published_run
from ppstudy.project import chapters as _chapters
from ppstudy.project.notebook import figure_labels
from ppstudy.project.paths import build_root, project_root, remove, run_dir
from ppstudy.render import class_costs, dashboard, provenance, render_table
from ppstudy.site import config

STATIC_PAGES = ("intro.md", "rerun.md", "references.md")
#: where the intro page receives the dashboard generated from the chapters' runs
DASHBOARD_MARK = "<!-- ppstudy:dashboard -->"
#: where the rerun page shows the published teaching runs (:func:`ppstudy.render.class_costs`)
CLASS_COSTS_MARK = "<!-- ppstudy:class-costs -->"
CLASS_PROFILE = "class"


def chapter_sources(profile: str | None, root: Path | None = None) -> dict[str, Path]:
    """The run directory each chapter is rendered from: its published run (``profile=None``) or the run of
    ``profile`` under ``runs/``."""
    root = root or project_root()
    out = {}
    for name in _chapters.CHAPTERS:
        d = published_run(name, root) if profile is None else run_dir(name, profile, root)
        if not (d / f"{name}.ipynb").is_file():
            raise PPStudyError(
                f"chapter {name} has no executed notebook in {d}: run `ppstudy run {name} --profile {profile}` first"
                if profile
                else f"{d} holds no {name}.ipynb"
            )
        out[name] = d
    return out


def stage_book(profile: str | None = "smoke", root: Path | None = None) -> Path:
    """Copy the book's static pages and the executed chapter notebooks (with their provenance) into
    ``_build/stage``."""
    import nbformat

    root = root or project_root()
    stage = build_root(root) / "stage"
    remove(stage, build_root(root))  # a link there is unlinked, never followed
    (stage / "book").mkdir(parents=True)
    for f in ("_config.yml", "_toc.yml"):
        shutil.copy2(root / f, stage / f)
    for item in (root / "book").iterdir():
        if item.name == "params" or (item.suffix == ".md" and item.stem in _chapters.CHAPTERS):
            continue
        if item.is_dir():
            shutil.copytree(item, stage / "book" / item.name)
        else:
            shutil.copy2(item, stage / "book" / item.name)
    sources = chapter_sources(profile, root)
    manifests, labels = {}, {}
    for name, d in sources.items():
        verify_digest(d)  # a published run whose results.json was changed since is refused
        notebook = nbformat.read(d / f"{name}.ipynb", as_version=4)
        _show_run_parameters(notebook, name)
        manifests[name] = manifest = load(d)
        labels[name] = notebook_figure_labels(notebook)
        _rerender_tables(notebook, manifest, labels[name])
        _insert_provenance(notebook, manifest, name, root)
        nbformat.write(notebook, stage / "book" / f"{name}.ipynb")
    intro = stage / "book" / "intro.md"
    if intro.is_file():
        intro.write_text(intro.read_text().replace(DASHBOARD_MARK, dashboard(manifests, labels)))
    insert_class_costs(stage / "book" / "rerun.md", root)
    config.configure_stage(stage, root)  # repository link, launch buttons, .md downloads
    return stage


def class_runs(root: Path | None = None) -> dict[str, dict[str, Any]]:
    """The manifest of each chapter's published ``class`` run (chapters without one are left out)."""
    index = published_index(root)
    out = {}
    for name in _chapters.CHAPTERS:
        if CLASS_PROFILE in ((index.get(name) or {}).get("runs") or []):
            out[name] = load(published_run(name, root, profile=CLASS_PROFILE))
    return out


def insert_class_costs(page: Path, root: Path | None = None) -> bool:
    """Replace :data:`CLASS_COSTS_MARK` in the staged ``page`` by the table of the published class runs;
    False when the page has no such mark."""
    text = page.read_text() if page.is_file() else ""
    if CLASS_COSTS_MARK not in text:
        return False
    page.write_text(text.replace(CLASS_COSTS_MARK, class_costs(class_runs(root))))
    return True


def _relative_run_path(path: str) -> str:
    """An absolute path into a checkout's ``runs/`` as the repository-relative ``runs/...``; other text
    unchanged."""
    head, sep, rest = path.partition("/runs/")
    return f"runs/{rest}" if path.startswith("/") and sep else path


_QUOTED_RUN_PATH = re.compile(r"""(["'])(/[^"']*?/runs/[^"']*)\1""")


def _assignments(source: str) -> dict[str, ast.Assign]:
    """The ``name = value`` statements of a parameters cell by name (none when it does not parse)."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return {}
    return {
        n.targets[0].id: n
        for n in body
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name)
    }


def _line_comment(line: str) -> str:
    """The ``# ...`` comment of one line of code ("" when it has none, or is not a whole statement)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(line).readline))
    except (tokenize.TokenError, SyntaxError):
        return ""
    return next((t.string for t in tokens if t.type == tokenize.COMMENT), "")


def _show_run_parameters(nb, chapter: str) -> None:
    """The folded parameters cell of ``nb`` shows the values the run used (papermill's injected cell stays
    removed): each default the run overrode is replaced in place and a first comment says so; machine paths
    in the injected cell and the papermill metadata become repository-relative."""
    cells = [c for c in nb.cells if c.cell_type == "code"]
    defaults = next((c for c in cells if "parameters" in c.metadata.get("tags", [])), None)
    injected = next((c for c in cells if "injected-parameters" in c.metadata.get("tags", [])), None)
    if injected is not None:
        injected.source = _QUOTED_RUN_PATH.sub(
            lambda m: m.group(1) + _relative_run_path(m.group(2)) + m.group(1), injected.source
        )
    if defaults is not None and injected is not None:
        used = {
            name: ast.get_source_segment(injected.source, node.value) or ""
            for name, node in _assignments(injected.source).items()
        }
        lines = defaults.source.splitlines()
        # from the end, so that earlier line numbers stay valid
        for name, node in sorted(_assignments(defaults.source).items(), key=lambda kv: -kv[1].lineno):
            if name not in used or node.end_lineno is None:
                continue
            first, last = node.lineno - 1, node.end_lineno - 1
            comment = _line_comment(lines[first]) if first == last else ""
            text = f"{name} = {used[name]}"
            if comment:
                with_comment = text + " " * max(1, len(lines[first]) - len(comment) - len(text)) + comment
                text = with_comment if len(with_comment) <= 90 else text  # cells wrap at ~90 columns
            lines[first : last + 1] = [text]
        profile = used.get("profile", "").strip("\"'")
        head = f"# the values of this run (profile {profile}); the defaults are in book/{chapter}.md"
        defaults.source = "\n".join([head, *lines])
    pm = nb.metadata.get("papermill")
    if isinstance(pm, dict):
        for key in ("input_path", "output_path"):
            if isinstance(pm.get(key), str):
                pm[key] = os.path.basename(pm[key])
        params = pm.get("parameters")
        if isinstance(params, dict):
            for k, v in params.items():
                if isinstance(v, str):
                    params[k] = _relative_run_path(v)


_TABLE_ID = re.compile(r'id="ppstudy-table-([^"]+)"')


def notebook_figure_labels(nb) -> dict[str, str]:
    """The Sphinx label of each figure an executed notebook shows (:func:`ppstudy.project.notebook.figure_labels`
    of its markdown cells): what the page's links to its figures point at."""
    return figure_labels("\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown"))


def _rerender_tables(nb, manifest: dict[str, Any], labels: dict[str, str] | None = None) -> int:
    """Replace every recorded table in ``nb``'s outputs with :func:`ppstudy.render.render_table` of the
    current package, so that a change of presentation reaches the book without rerunning the chapter. A
    table is known by its id, or (runs rendered before tables had one) by its numbered caption. Returns the
    number of tables replaced."""
    from html import escape

    tables = manifest.get("tables") or {}
    by_caption = {
        escape((f"Table {t['number']}. " if t.get("number") else "") + t.get("caption", "")): name
        for name, t in tables.items()
    }
    done = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            html = (out.get("data") or {}).get("text/html")
            if isinstance(html, list):
                html = "".join(html)
            if not isinstance(html, str) or 'class="ppstudy-table' not in html:
                continue
            m = _TABLE_ID.search(html)
            name = m.group(1) if m and m.group(1) in tables else None
            if name is None:
                name = next((n for cap, n in by_caption.items() if f">{cap}</caption>" in html), None)
            if name is not None:
                out["data"]["text/html"] = render_table(manifest, name, figure_labels=labels)
                done += 1
    return done


def _insert_provenance(nb, manifest: dict[str, Any], chapter: str, root: Path) -> None:
    """The chapter's provenance as a markdown cell of ``nb``, after its title and opening paragraphs."""
    import nbformat

    commit = (manifest.get("git") or {}).get("commit")
    changed = code_changed_since(commit, chapter, root, profile=manifest.get("profile"))
    cell = nbformat.v4.new_markdown_cell(provenance(manifest, changed))
    cell.metadata["tags"] = ["ppstudy-provenance"]
    first = next(
        (i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.lstrip().startswith("# ")), None
    )
    if first is None:
        nb.cells.insert(0, cell)
    else:  # right after the title and its opening paragraphs, before the first section
        src = nb.cells[first].source
        cut = src.find("\n## ")
        if cut >= 0:
            rest = nbformat.v4.new_markdown_cell(src[cut + 1 :])
            nb.cells[first].source = src[:cut]
            nb.cells[first + 1 : first + 1] = [cell, rest]
        else:
            nb.cells.insert(first + 1, cell)
