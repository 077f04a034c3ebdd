"""Unpack what call 3 of the device run returned into the chapter's run directory (run HERE).

    python scripts/device/unpack.py FILES_AT pixel          # FILES_AT: the folder the device tool names
    python scripts/device/unpack.py FILES_AT deid --profile paper-gpu

``run.tar.xz`` (or its parts ``run.tar.xz.00``, ...) becomes ``runs/<chapter>/<profile>/``
(``$PPSTUDY_RUNS`` respected), so that ``ppstudy publish <chapter> --profile <profile>`` finds a finished
run; the device's figures (smoke, benchmark, environment, per-call records) are in ``device/`` inside it,
with ``call3.log`` and ``call3.json`` beside them. The run is
checked as :func:`check_run` says; a failed or interrupted run is unpacked to ``<profile>.failed``.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tarfile
from pathlib import Path

PROFILES = {"pixel": "paper-fast", "deid": "paper-gpu"}
#: rows every finished run must account for: measured, or marked "not run"
EXPECTED_ROWS = {
    "pixel": {
        "table2": ("plain", "step2", "step2_adapt", "step23", "step23_adapt", "tanaka", "etc", "chaotic"),
        "table3": ("step2", "step2_adapt", "tanaka"),
    },
    "deid": {"table6": ("plain", "pixel", "deid"), "table5_accuracy": ("rgb", "gray")},
}
NOT_RUN = "not run"


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _marked_not_run(row: dict) -> bool:
    return any(isinstance(v, str) and v.strip().lower() == NOT_RUN for v in row.values())


def _accuracy_columns(row: dict) -> dict:
    return {
        k: v for k, v in row.items() if k.startswith("measured") and any(t in k.lower() for t in ("acc", "pct", "%"))
    }


def check_run(run_dir: Path, chapter: str) -> dict:
    """Check a run directory: ``results.json`` is there, and every row of the tables in
    :data:`EXPECTED_ROWS` is either measured (all its measured accuracy columns, ``measured...`` with
    ``acc``/``pct``/``%`` in the name, are percentages) or marked ``"not run"`` (a column holding that
    text, and at least one measured accuracy missing: a Table 3 row whose cloud half ran but whose
    client half did not is such a row). Returns
    ``{"measured": [...], "not_run": [...]}`` per table; raises ``ValueError`` naming the first problem."""
    path = Path(run_dir) / "results.json"
    if not path.is_file():
        raise ValueError(f"{path} is missing")
    m = json.loads(path.read_text())
    tables = m.get("tables", {})
    out = {}
    for table, names in EXPECTED_ROWS[chapter].items():
        if table not in tables:
            if table == "table3" and m.get("params", {}).get("table3") is False:
                continue
            raise ValueError(f"{path}: no table {table!r}")
        rows = tables[table]["rows"]
        if len(rows) != len(names):
            raise ValueError(f"{path}: table {table} has {len(rows)} rows, expected {len(names)} ({', '.join(names)})")
        measured, not_run = [], []
        for name, row in zip(names, rows):
            acc = _accuracy_columns(row)
            if not acc:
                raise ValueError(f"{path}: table {table}, row {name}: no measured accuracy column")
            if _marked_not_run(row):
                if all(_is_number(v) for v in acc.values()):
                    raise ValueError(f"{path}: table {table}, row {name} is marked not run but has every accuracy")
                not_run.append(name)
            elif all(_is_number(v) and 0 <= v <= 100 for v in acc.values()):
                measured.append(name)
            else:
                raise ValueError(
                    f"{path}: table {table}, row {name}: accuracy {acc} is neither a percentage nor marked '{NOT_RUN}'"
                )
        out[table] = {"measured": measured, "not_run": not_run}
    return out


def _archive(files_at: Path) -> bytes:
    """``run.tar.xz``, or its parts ``run.tar.xz.00``, ``.01``, ... joined in order."""
    whole = files_at / "run.tar.xz"
    if whole.is_file():
        return whole.read_bytes()
    parts = sorted(files_at.glob("run.tar.xz.[0-9][0-9]"))
    if not parts:
        raise SystemExit(f"unpack: no run.tar.xz in {files_at}: call 3 returned no run (see {files_at / 'call3.log'})")
    if [p.name[-2:] for p in parts] != [f"{i:02d}" for i in range(len(parts))]:
        raise SystemExit(f"unpack: parts missing among {[p.name for p in parts]}")
    return b"".join(p.read_bytes() for p in parts)


def unpack(files_at: Path, chapter: str, profile: str, runs_root: Path) -> Path:
    import io

    files_at = Path(files_at)
    raw = _archive(files_at)
    rec = json.loads((files_at / "call3.json").read_text()) if (files_at / "call3.json").is_file() else {}
    status = rec.get("packed", {}).get("status", profile)
    final = runs_root / chapter / (profile if status == profile else f"{profile}.failed")
    staging = final.with_name(f".{final.name}.unpacking")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:xz") as tar:
        for ti in tar.getmembers():
            parts = Path(ti.name).parts
            if not parts or parts[0] != "run" or ".." in parts or ti.issym() or ti.islnk():
                raise SystemExit(f"unpack: unexpected member {ti.name!r} in the returned run")
        tar.extractall(staging, filter="data")
    run = staging / "run"
    dev = run / "device"
    dev.mkdir(exist_ok=True)
    for f in sorted(files_at.iterdir()):
        if f.is_file() and not f.name.startswith("run.tar.xz"):
            shutil.copy2(f, dev / f.name)
    if final.is_symlink():  # the usual run link: unlinked, never followed (its target is not ours to delete)
        final.unlink()
    elif final.exists():
        from ppstudy.project.paths import remove

        remove(final, runs_root)
    run.rename(final)
    shutil.rmtree(staging)
    return final


def main(argv=None) -> int:
    import os

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files_at", help="the folder holding run.tar.xz, call3.log and the *.json figures")
    ap.add_argument("chapter", choices=tuple(PROFILES))
    ap.add_argument("--profile", default=None)
    ap.add_argument("--root", default=".", help="the checkout (default: the working directory)")
    a = ap.parse_args(argv)
    profile = a.profile or PROFILES[a.chapter]
    env = os.environ.get("PPSTUDY_RUNS")
    runs_root = Path(env).expanduser().resolve() if env else Path(a.root).resolve() / "runs"
    final = unpack(Path(a.files_at), a.chapter, profile, runs_root)
    print(f"unpack: {final}")
    try:
        summary = check_run(final, a.chapter)
    except ValueError as e:
        print(f"unpack: the run is incomplete: {e}", file=sys.stderr)
        return 1
    for table, s in summary.items():
        print(f"  {table}: measured {', '.join(s['measured']) or 'none'}; not run: {', '.join(s['not_run']) or 'none'}")
    if final.name != profile:
        print(f"unpack: the device run did not finish; kept as {final}", file=sys.stderr)
        return 1
    print(f"next: ppstudy publish {a.chapter} --profile {profile}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
