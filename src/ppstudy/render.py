"""Everything that turns a manifest (``results.json``) into text: HTML tables, the summary, Markdown.

One formatter for every number (:func:`format_value`, :func:`auto_format`) and every recorded table
(:func:`render_table`: no index, two-level headers ``Q`` / paper | this run (profile), per-column precision,
``—`` for missing values, a numbered caption, the data line, a smoke or exact note); the notebook displays
of a run (:class:`Table`, :class:`Summary`); and the Markdown the book's pages open with: a chapter's
:func:`provenance` and the intro's :func:`dashboard`. Rendering reads a manifest and nothing else: what
it needs from elsewhere (the code changed since a run's commit) is given to it.

Table rows are plain dicts. A column named ``paper: Q`` (or ``paper Q``) holds the paper's published value
of quantity ``Q`` (``None`` where the paper gives none); ``measured: Q`` this run's; any other column is a
row label.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from html import escape
from typing import Any

import numpy as np

from ppstudy import InputError
from ppstudy.manifest.status import STATUS_MEANINGS
from ppstudy.project import chapters as _chapters


def measured_label(manifest: Mapping[str, Any]) -> str:
    """Header of measured columns, e.g. ``this run (smoke)``."""
    return f"this run ({manifest.get('profile', '?')})"


def device_label(device: Mapping[str, Any]) -> str:
    """A short human label: the GPU's name, else the CPU's model (runs recorded before it was: "CPU") and
    cores."""
    if device.get("gpu"):
        return str(device["gpu"])
    return f"{device.get('cpu_model') or 'CPU'}, {device.get('cpu_count', '?')} cores"


def format_value(v: Any, fmt: str | None = None) -> str:
    """One cell: ``—`` for missing, ``yes``/``no`` for booleans, ``fmt`` when given, else :func:`auto_format`."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (list, tuple)):
        return ", ".join(format_value(x, fmt) for x in v)
    if isinstance(v, (int, float, np.integer, np.floating)) and fmt:
        if fmt == "%":
            return f"{100 * float(v):.1f}%"
        return format(v, fmt)
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        return auto_format([float(v)])(float(v))
    return str(v)


def auto_format(values: list[Any], *, paper: bool = False):
    """A formatter for a column of numbers with the precision its values justify.

    Integers get thousands separators; the paper's numbers are shown as printed (shortest form); measured
    floats get 1-2 decimals above 10, 3 above 1, 4 below 1, and 3 significant digits below 0.001.
    """
    nums = [
        float(v)
        for v in values
        if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(float(v))
    ]
    if (
        nums
        and all(float(v).is_integer() and abs(v) < 1e15 for v in nums)
        and all(isinstance(v, (int, np.integer)) for v in values if v is not None and not isinstance(v, bool))
    ):
        return lambda v: f"{int(v):,}"
    if paper:
        return lambda v: f"{float(v):.6g}"
    big = max((abs(v) for v in nums), default=0.0)
    small = min((abs(v) for v in nums if v != 0), default=1.0)
    if big >= 1000:
        return lambda v: f"{float(v):,.0f}"
    if big >= 10:
        return lambda v: f"{float(v):.2f}"
    if big >= 1:
        return lambda v: f"{float(v):.3f}"
    if small >= 1e-3:
        return lambda v: "0" if v == 0 else f"{float(v):.4f}"
    return lambda v: "0" if v == 0 else f"{float(v):.3g}"


def _split_column(col: str) -> tuple[str, str]:
    """``("paper" | "measured" | "", quantity)`` of a column name."""
    for kind in ("paper", "measured"):
        if col == kind:
            return kind, ""
        if col.startswith(kind) and col[len(kind)] in " _:":
            return kind, col[len(kind) :].strip(" _:").replace("_", " ")
    return "", col.replace("_", " ") if "_" in col and " " not in col else col


def _cell_formatter(table: Mapping[str, Any], col: str):
    kind, q = _split_column(col)
    fmts = table.get("formats") or {}
    fmt = fmts.get(col) or fmts.get(q)
    values = [r.get(col) for r in table["rows"]]
    if fmt:
        return lambda v: format_value(v, fmt)
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not nums:
        return format_value
    auto = auto_format(values, paper=(kind == "paper"))

    def f(v):
        if v is None or isinstance(v, (bool, str, list, tuple)) or (isinstance(v, float) and not math.isfinite(v)):
            return format_value(v)
        return auto(v)

    return f


def render_table(manifest: Mapping[str, Any], name: str, *, figure_labels: Mapping[str, str] | None = None) -> str:
    """The recorded table as HTML: no index, two-level headers (quantity / paper | this run), per-column
    precision, ``—`` for missing values, the caption above, a smoke or exact note below. The verdict table
    is rendered from the run's checks (:func:`render_verdicts`; ``figure_labels``: the Sphinx label of each
    figure, for its links)."""
    try:
        t = manifest["tables"][name]
    except KeyError:
        raise InputError(f"no table {name!r} in the results of {manifest.get('chapter')!r}") from None
    if is_verdicts(manifest, name):
        return render_verdicts(manifest, name, figure_labels=figure_labels)
    cols = t["columns"]
    parts = [_split_column(c) for c in cols]
    label = measured_label(manifest)
    groups: list[tuple[str, list[int]]] = []  # (top header, column indices)
    for i, (kind, q) in enumerate(parts):
        if (
            kind
            and groups
            and groups[-1][0] == q
            and parts[groups[-1][1][-1]][0] in ("paper", "measured")
            and kind not in {parts[j][0] for j in groups[-1][1]}
        ):
            groups[-1][1].append(i)
        else:
            groups.append((q if kind else cols[i], [i]))
    top, sub = [], []
    two_level = any(k == "paper" for k, _ in parts)  # measured-only tables need no "this run" row
    for head, idx in groups:
        kinds = [parts[i][0] for i in idx]
        if kinds == [""] or not two_level:
            span = ' rowspan="2"' if two_level else ""
            top.append(f"<th{span}>{escape(str(head))}</th>")
            continue
        top.append(f'<th colspan="{len(idx)}">{escape(head) if head else ""}</th>')
        for k in kinds:
            # "this run (quick)" on two lines: a column no wider than its numbers
            sub.append(f"<th>{'paper' if k == 'paper' else escape(label).replace(' (', '<br>(', 1)}</th>")
    fmts = [_cell_formatter(t, c) for c in cols]
    texts = [[f(r.get(c)) for c, f in zip(cols, fmts)] for r in t["rows"]]
    notes = repeated_cell_notes(texts)
    body = []
    for r, row_texts in zip(t["rows"], texts):
        cells = []
        for c, text in zip(cols, row_texts):
            v = r.get(c)
            cls = ' class="num"' if isinstance(v, (int, float)) and not isinstance(v, bool) else ""
            if text in notes:
                n, short, _ = notes[text]
                cells.append(f'<td>{escape(short)} <sup class="ppstudy-cell-note">{n}</sup></td>')
            else:
                cells.append(f"<td{cls}>{escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    head = "<tr>" + "".join(top) + "</tr>" + ("<tr>" + "".join(sub) + "</tr>" if sub else "")
    extra = ""
    if notes:
        items = "".join(f"<li>{escape(notes[k][2])}</li>" for k in sorted(notes, key=lambda k: notes[k][0]))
        extra = f'<ol class="ppstudy-cell-notes">{items}</ol>'
    return _table_html(manifest, name, head, body, len(cols), extra)


#: a cell text this long that a table repeats is written once, under the table, as a numbered note
NOTE_MIN_CHARS = 40


def repeated_cell_notes(rows: list[list[str]]) -> dict[str, tuple[int, str, str]]:
    """The cell texts of ``rows`` (each a list of rendered cell texts) that are at least
    :data:`NOTE_MIN_CHARS` long and occur more than once: text -> (note number from 1 in order of first
    appearance, what the cell keeps: the text before its first ": " or "see note", what the note says:
    the rest of the text, or all of it)."""
    counts: dict[str, int] = {}
    for row in rows:
        for text in row:
            if len(text) >= NOTE_MIN_CHARS:
                counts[text] = counts.get(text, 0) + 1
    out: dict[str, tuple[int, str, str]] = {}
    for row in rows:
        for text in row:
            if counts.get(text, 0) > 1 and text not in out:
                head, sep, rest = text.partition(": ")
                split = bool(sep and head and rest)
                out[text] = (len(out) + 1, head if split else "see note", rest if split else text)
    return out


def _table_html(manifest: Mapping[str, Any], name: str, head: str, body: list[str], ncols: int, extra: str = "") -> str:
    """A recorded table's HTML around its header and body rows: the numbered caption above (its id is the
    table's anchor, ``#ppstudy-table-<name>``), the data line and a smoke or exact note below."""
    t = manifest["tables"][name]
    label = table_label(manifest, name)
    cap = (f"{label}. " if label else "") + t["caption"]
    notes = []
    d = manifest.get("data")
    smoke = bool(d.get("smoke")) if isinstance(d, dict) else manifest.get("profile") == "smoke"
    if t.get("exact"):
        notes.append('<p class="ppstudy-note">Exact: computed without data; the same in every profile.</p>')
    elif smoke:
        notes.append(
            '<div class="admonition warning"><p class="admonition-title">Smoke run</p><p>These numbers '
            "come from stand-in data (the smoke profile): they show that the pipeline runs, not "
            "what the paper measured.</p></div>"
        )
    data = "" if t.get("exact") else _data_line(manifest)
    # the caption above the scrolling part (so that it wraps in the text column however wide the table);
    # tables of many columns in a smaller font
    ident = table_anchor(name)
    wide = " ppstudy-wide" if ncols >= 8 else ""
    return (
        f'<div class="ppstudy-table{wide}"><p class="ppstudy-caption" id="{ident}">{escape(cap)}</p>'
        f'<div class="ppstudy-scroll" style="overflow-x: auto; max-width: 100%;">'
        f'<table class="table" aria-labelledby="{ident}">'
        f"<thead>{head}</thead><tbody>{''.join(body)}</tbody></table></div>{extra}{data}{''.join(notes)}</div>"
    )


def is_verdicts(manifest: Mapping[str, Any], name: str) -> bool:
    """Whether the table ``name`` is the run's verdict table (:meth:`ppstudy.kernel.run.Run.verdicts`; runs
    recorded before the table said so name it ``verdicts``)."""
    t = (manifest.get("tables") or {}).get(name) or {}
    return bool(t.get("verdicts") or (name == "verdicts" and manifest.get("checks")))


# ---------------------------------------------------------------------- verdicts: checks, evidence, statuses
def format_evidence(evidence: Any) -> str:
    """A check's evidence as text: ``name: value`` pairs (``shown_in`` left out: it is shown as links), an
    interval as ``[lo, hi]`` (a mapping with ``lo`` and ``hi`` as its point estimate and interval), a long
    list cut after eight items; ``—`` when there is none."""
    if evidence is None or evidence == {} or evidence == []:
        return "—"
    if not isinstance(evidence, Mapping):
        return _evidence_value("", evidence)
    parts = [f"{k}: {_evidence_value(str(k), v)}" for k, v in evidence.items() if k != "shown_in"]
    return "; ".join(parts) if parts else "—"


def _evidence_value(key: str, v: Any) -> str:
    if isinstance(v, Mapping):
        if "lo" in v and "hi" in v:
            point = next((v[k] for k in ("diff", "mean", "estimate", "value") if k in v), None)
            iv = f"[{format_value(v['lo'])}, {format_value(v['hi'])}]"
            rest = [
                f"{k} {format_value(x)}"
                for k, x in v.items()
                if k not in ("lo", "hi", "diff", "mean", "estimate", "value")
            ]
            text = (f"{format_value(point)} " if point is not None else "") + iv
            return text + (f" ({', '.join(rest)})" if rest else "")
        return "(" + ", ".join(f"{k}: {_evidence_value(str(k), x)}" for k, x in v.items()) + ")"
    if isinstance(v, (list, tuple)):
        if (
            len(v) == 2
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
            and ("ci" in key.lower() or "interval" in key.lower())
        ):
            return f"[{format_value(v[0])}, {format_value(v[1])}]"
        shown = ", ".join(_evidence_value("", x) for x in v[:8])
        return shown + (f", … ({len(v)} in all)" if len(v) > 8 else "")
    return format_value(v)


def shown_in(check: Mapping[str, Any]) -> list[str]:
    """The tables and figures a check's evidence names as showing it (``evidence["shown_in"]``)."""
    ev = check.get("evidence")
    names = ev.get("shown_in") if isinstance(ev, Mapping) else None
    if isinstance(names, str):
        return [names]
    return [str(n) for n in names] if isinstance(names, (list, tuple)) else []


def table_label(manifest: Mapping[str, Any], name: str) -> str | None:
    """A shown table's label, "Table <chapter>.<k>" (its chapter's number in the book and its place among
    the tables the notebook showed; "Table <k>" for a run of no chapter); None for a table not shown."""
    k = (manifest.get("tables") or {}).get(name, {}).get("number")
    if not k:
        return None
    ch = _chapters.number(str(manifest.get("chapter", "")))
    return f"Table {ch}.{k}" if ch else f"Table {k}"


def shown_in_links(
    manifest: Mapping[str, Any], names: list[str], figure_labels: Mapping[str, str] | None = None, page: str = ""
) -> str:
    """HTML links to the tables and figures ``names`` of the run on ``page`` ("" for the page itself):
    a table by its number (``#ppstudy-table-<name>``), a figure by its Sphinx label (the link text,
    "Figure", becomes its number in the built book: :mod:`ppstudy.site.sphinxext`); a name the run did
    not show is plain text."""
    tables = manifest.get("tables") or {}
    figures = manifest.get("figures") or []
    labels = figure_labels or {}
    out = []
    for n in names:
        t = tables.get(n)
        if t is not None and t.get("number"):
            label = table_label(manifest, n)
            out.append(f'<a class="reference internal" href="{escape(page)}#{table_anchor(n)}">{label}</a>')
        elif n in figures and n in labels:
            out.append(
                f'<a class="reference internal ppstudy-figref" href="{escape(page)}#{escape(labels[n])}">Figure</a>'
            )
        else:
            out.append(escape(f"figure {n}" if n in figures else n))
    return ", ".join(out) if out else "—"


def status_legend() -> str:
    """Every status a check can have, with what it means, as one HTML paragraph."""
    items = "; ".join(f"<strong>{escape(s)}</strong>: {escape(m)}" for s, m in STATUS_MEANINGS.items())
    return f'<p class="ppstudy-legend"><small>Statuses. {items}.</small></p>'


def status_legend_markdown() -> str:
    """:func:`status_legend` as Markdown."""
    return "Statuses. " + "; ".join(f"**{s}**: {m}" for s, m in STATUS_MEANINGS.items()) + "."


def _verdict_data(manifest: Mapping[str, Any], check: Mapping[str, Any]) -> str:
    if check.get("kind") == "exact":
        return "—"
    d = manifest.get("data")
    smoke = bool(d.get("smoke")) if isinstance(d, dict) else manifest.get("profile") == "smoke"
    return "smoke data" if smoke else (d.get("dataset", "") if isinstance(d, dict) else str(d or ""))


def render_verdicts(manifest: Mapping[str, Any], name: str, *, figure_labels: Mapping[str, str] | None = None) -> str:
    """The verdict table, from the run's checks: check id, claim, paper, this run, data, the evidence
    (:func:`format_evidence`), links to where it is shown (:func:`shown_in_links`) and the status, with the
    legend of every status below."""
    label = escape(measured_label(manifest)).replace(" (", "<br>(", 1)
    heads = ["check", "claim", "paper", label, "data", "evidence", "shown in", "status"]
    head = "<tr>" + "".join(f"<th>{h}</th>" for h in heads) + "</tr>"
    body = []
    for cid, c in (manifest.get("checks") or {}).items():
        cells = [
            f'<td class="ppstudy-check-id"><code>{escape(cid)}</code></td>',
            f"<td>{escape(c.get('claim', ''))}</td>",
            f"<td>{escape(format_value(c.get('paper')))}</td>",
            f"<td>{escape(format_value(c.get('measured')))}</td>",
            f"<td>{escape(_verdict_data(manifest, c))}</td>",
            f'<td class="ppstudy-evidence">{escape(format_evidence(c.get("evidence")))}</td>',
            f"<td>{shown_in_links(manifest, shown_in(c), figure_labels)}</td>",
            f'<td class="ppstudy-status"><strong>{escape(c.get("status", ""))}</strong></td>',
        ]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return _table_html(manifest, name, head, body, len(heads), extra=status_legend())


def table_anchor(name: str) -> str:
    """The HTML id of a recorded table's caption (what a link to the table points at)."""
    return f"ppstudy-table-{escape(name)}"


def _data_line(manifest: Mapping[str, Any]) -> str:
    d = manifest.get("data")
    if isinstance(d, dict):
        text = f"{d.get('dataset', '')}: {d.get('description', '')}".strip(": ")
    else:
        text = str(d or "")
    if not text:
        return ""
    return f'<p class="ppstudy-data"><small>{escape(measured_label(manifest))}: {escape(text)}</small></p>'


def table_frame(manifest: Mapping[str, Any], name: str):
    """A recorded table as a pandas DataFrame (for analysis; the book shows :func:`render_table`)."""
    import pandas as pd

    try:
        t = manifest["tables"][name]
    except KeyError:
        raise InputError(f"no table {name!r} in the results of {manifest.get('chapter')!r}") from None
    df = pd.DataFrame(t["rows"], columns=t["columns"])
    label = measured_label(manifest)
    ren = {}
    for c in df.columns:
        kind, q = _split_column(c)
        if kind:
            ren[c] = ("paper" if kind == "paper" else label) + (f": {q}" if q else "")
    df = df.rename(columns=ren)
    df.attrs["caption"] = t.get("caption", "")
    return df


class Table:
    """A recorded table, shown in a notebook through :func:`render_table` (and as text outside one)."""

    def __init__(self, manifest: Mapping[str, Any], name: str, figure_labels: Mapping[str, str] | None = None):
        self._manifest, self.name, self._labels = manifest, name, figure_labels

    @property
    def rows(self) -> list[dict[str, Any]]:
        return self._manifest["tables"][self.name]["rows"]

    def _repr_html_(self) -> str:
        return render_table(self._manifest, self.name, figure_labels=self._labels)

    def __repr__(self) -> str:
        t = self._manifest["tables"][self.name]
        return f"<table {self.name!r}: {t['caption']} ({len(t['rows'])} rows)>"

    def frame(self):
        return table_frame(self._manifest, self.name)


class Summary:
    """The checks of a run as a list of sentences with their status (the chapter's summary)."""

    def __init__(self, manifest: Mapping[str, Any]):
        self._manifest = manifest

    def _repr_html_(self) -> str:
        items = []
        for c in self._manifest["checks"].values():
            ev = format_evidence(c.get("evidence"))
            ev_txt = "" if ev == "—" else f" <small>({escape(ev)})</small>"
            items.append(f"<li><strong>[{escape(c['status'])}]</strong> {escape(c['claim'])}{ev_txt}</li>")
        return '<ul class="ppstudy-summary">' + "".join(items) + "</ul>"

    def __repr__(self) -> str:
        return "\n".join(f"[{c['status']}] {c['claim']}" for c in self._manifest["checks"].values())


# ---------------------------------------------------------------------- Markdown: provenance and dashboard
def compute_seconds(manifest: Mapping[str, Any]) -> float | None:
    """What the run costs from scratch: its wall time plus the work it reused from earlier invocations
    (``reused_compute_s``: training resumed from checkpoints, rows from a row cache); None without a wall
    time."""
    run = manifest.get("run") or {}
    if run.get("wall_s") is None:
        return None
    return float(run["wall_s"]) + reused_seconds(manifest)


def reused_seconds(manifest: Mapping[str, Any]) -> float:
    """The seconds of work the run reused from earlier invocations (:meth:`ppstudy.kernel.run.Run.reused_compute`)."""
    return float(sum((manifest.get("reused_compute_s") or {}).values()))


def provenance(manifest: Mapping[str, Any], changed: list[str] | None = None) -> str:
    """The chapter's provenance as MyST markdown: profile, data and checksums, commit, device, wall time,
    memory, date, and a visible note when the chapter's code changed since the run's commit (``changed``:
    what changed, from :func:`ppstudy.pipeline.codechange.code_changed_since`)."""
    data = manifest.get("data") or {}
    run = manifest.get("run") or {}
    git = manifest.get("git") or {}
    commit = git.get("commit")
    lines = [
        f"* **Profile:** `{manifest.get('profile')}`"
        + (f" — rerun with `{run['command']}`" if run.get("command") else "")
    ]
    if isinstance(data, dict) and data:
        lines.append(f"* **Data:** {data.get('dataset', '')} — {data.get('description', '')}")
        for f in data.get("files", []):
            sums = ", ".join(f"{k} `{f[k]}`" for k in ("md5", "sha256") if f.get(k))
            lines.append(f"  * `{f.get('name')}`" + (f": {sums}" if sums else ""))
    elif data:
        lines.append(f"* **Data:** {data}")
    dev = manifest.get("device") or {}
    lines.append(
        f"* **Device:** {device_label(dev)}; Python {dev.get('python', '?')}, "
        f"torch {(manifest.get('versions') or {}).get('torch') or '—'}"
    )
    if run.get("wall_s") is not None:
        mem = f", peak memory {run['peak_rss_mb'] / 1024:.1f} GB" if run.get("peak_rss_mb") else ""
        reused = {k: v for k, v in (manifest.get("reused_compute_s") or {}).items() if v}
        if reused:
            parts = "; ".join(f"{v / 60:,.1f} min of {k}" for k, v in reused.items())
            lines.append(
                f"* **Compute from scratch:** {(compute_seconds(manifest) or 0.0) / 60:,.1f} min: this invocation's wall time "
                f"of {run['wall_s'] / 60:.1f} min{mem}, and work it reused from earlier ones ({parts})"
            )
        else:
            lines.append(f"* **Wall time:** {run['wall_s'] / 60:.1f} min{mem}")
    lines.append(
        f"* **Commit:** `{(commit or 'unknown')[:12]}`"
        + (" (with uncommitted changes)" if git.get("dirty") else "")
        + f"; finished {manifest.get('finished') or '—'}"
    )
    body = "\n".join(lines)
    out = f":::{{admonition}} Provenance of this page\n:class: note\n\n{body}\n:::\n"
    if changed:
        shown = ", ".join(f"`{c}`" for c in changed[:6]) + (f" and {len(changed) - 6} more" if len(changed) > 6 else "")
        out += (
            f"\n:::{{warning}}\nThe chapter's code has changed since this run's commit "
            f"`{(commit or '')[:12]}` ({shown}): the numbers below are those of that commit.\n:::\n"
        )
    if isinstance(data, dict) and data.get("smoke"):
        out += (
            "\n:::{warning}\nThis page was executed in the smoke profile on stand-in data: every number "
            "on it shows that the pipeline runs, not what the paper measured.\n:::\n"
        )
    return out


def _md_cell(v: Any) -> str:
    return format_value(v).replace("|", "\\|").replace("\n", " ")


def _md_text(text: str) -> str:
    """Text as Markdown that reads as it is (its ``*``, ``_``, backquotes, brackets and ``<`` escaped)."""
    for ch in "\\`*_[]<>|":
        text = text.replace(ch, "\\" + ch)
    return text.replace("\n", " ")


def _minutes(seconds: float | None) -> str:
    """Seconds as minutes for the cost tables ("—" for none)."""
    return f"{seconds / 60:,.1f} min" if seconds else "—"


def class_costs(manifests: Mapping[str, Mapping[str, Any]]) -> str:
    """The rerun page's table of the teaching runs, as MyST markdown, from their published manifests
    (``{chapter: manifest}`` of each chapter's published ``class`` run): the profile's command (the run's own
    overrides, such as a fresh checkpoint folder, left out), the dataset, what a rerun from scratch costs
    (:func:`compute_seconds`) and the machine it was measured on."""
    if not manifests:
        return "No chapter has a published `class` run yet (`ppstudy publish CHAPTER --profile class`).\n"
    rows = [
        "| chapter | command | data | compute from scratch | measured on |",
        "|---|---|---|---|---|",
    ]
    for name, m in manifests.items():
        data = m.get("data") or {}
        dataset = data.get("dataset", "") if isinstance(data, dict) else str(data)
        cost = _minutes(compute_seconds(m))
        rows.append(
            f"| [{name}]({name}) | `ppstudy run {name} --profile {m.get('profile')}` | {_md_cell(dataset)} | "
            f"{cost} | {_md_cell(device_label(m.get('device') or {}))} |"
        )
    return "\n".join(rows) + "\n"


def dashboard(
    manifests: Mapping[str, Mapping[str, Any]], figure_labels: Mapping[str, Mapping[str, str]] | None = None
) -> str:
    """The intro's dashboard as MyST markdown, from the runs the book shows: every claim of a paper that
    a chapter checks (check id, claim, paper, this book and the run's profile, evidence, links to the table
    or figure of the chapter that shows it, status; ``figure_labels``: each chapter's figure labels), the
    legend of every status, and what each run cost (profile, data, device, wall time, memory)."""
    out = [
        "| chapter | check | the paper's claim | paper | this book | run | evidence | shown in | status |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, m in manifests.items():
        title = _chapters.get(name).title.split(" (")[0]
        labels = (figure_labels or {}).get(name)
        for cid, c in (m.get("checks") or {}).items():
            if c.get("kind") != "paper":
                continue
            links = shown_in_links(m, shown_in(c), labels, page=f"{name}.html").replace("|", "\\|")
            out.append(
                f"| [{title}]({name}) | `{cid}` | {_md_cell(c['claim'])} | {_md_cell(c.get('paper'))} | "
                f"{_md_cell(c.get('measured'))} | `{m.get('profile')}` | {_md_text(format_evidence(c.get('evidence')))} | "
                f"{links} | **{c['status']}** |"
            )
    out += ["", status_legend_markdown()]
    cost = [
        "| chapter | profile | data | device | compute from scratch | of it reused from earlier invocations | peak memory |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in manifests.items():
        run = m.get("run") or {}
        data = m.get("data") or {}
        ds = data.get("dataset", "") if isinstance(data, dict) else str(data)
        wall = _minutes(compute_seconds(m))
        reused = _minutes(reused_seconds(m))
        mem = f"{run['peak_rss_mb'] / 1024:.1f} GB" if run.get("peak_rss_mb") else "—"
        cost.append(
            f"| [{name}]({name}) | `{m.get('profile')}` | {_md_cell(ds)} | "
            f"{_md_cell(device_label(m.get('device') or {}))} | {wall} | {reused} | {mem} |"
        )
    return (
        "\n".join(out) + "\n\nWhat the runs shown in this book cost (rerun any of them with the command in its "
        "chapter's provenance):\n\n" + "\n".join(cost) + "\n"
    )
