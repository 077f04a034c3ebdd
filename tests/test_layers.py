"""The package's import graph: the import-linter contracts of pyproject.toml hold (one-way layers, the science
never importing the orchestration), every top-level module is named by them, and no module imports itself
back through others (no cycle)."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = SRC / "ppstudy"


def _contracts() -> list[dict]:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def _lint_imports() -> str | None:
    local = Path(sys.executable).parent / "lint-imports"
    return str(local) if local.exists() else shutil.which("lint-imports")


def module_name(path: Path, src: Path = SRC) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, src: Path = SRC) -> set[str]:
    """The ppstudy modules ``path`` imports (anywhere in it, functions included), as dotted names; ``from a
    import b`` names ``a.b`` when that is a module of the package, else ``a``."""
    me = module_name(path, src)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            out.add(base)
            out |= {f"{base}.{a.name}" for a in node.names}
    return {m for m in out if m == "ppstudy" or m.startswith("ppstudy.")}


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    """Module -> the package's modules it imports. An import of a module's own ancestor package (``from
    ppstudy import InputError`` in ``ppstudy.images``) is left out: a package's ``__init__`` importing its
    children is how packages work, not a cycle."""
    files = {module_name(p, src): p for p in sorted((src / "ppstudy").rglob("*.py"))}
    return {
        m: {t for t in imports_of(p, src) if t in files and t != m and not m.startswith(t + ".")}
        for m, p in files.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


@pytest.mark.skipif(_lint_imports() is None, reason="import-linter (pip install import-linter) not installed")
def test_import_linter_contracts_are_kept():
    r = subprocess.run(
        [_lint_imports(), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )
    assert r.returncode == 0 and "0 broken" in r.stdout, r.stdout[-3000:] + r.stderr[-2000:]


def test_every_top_level_module_is_in_a_contract():
    """A new module of ppstudy is placed in a layer (or among the science) before it is imported."""
    named: set[str] = set()
    for c in _contracts():
        for layer in c.get("layers", []):
            named |= {m.strip() for m in layer.replace(":", "|").split("|")}
        named |= set(c.get("source_modules", []))
    top = {
        f"ppstudy.{p.stem if p.is_file() else p.name}"
        for p in PACKAGE.iterdir()
        if p.suffix == ".py" or (p / "__init__.py").is_file()
    }
    top -= {"ppstudy.__init__", "ppstudy.__main__"}
    assert sorted(top - named) == []


def test_no_import_cycle_between_modules():
    graph = import_graph()
    assert "ppstudy.project.paths" in graph and "ppstudy.runner" in graph
    assert cycles(graph) == []


def test_cycles_finds_a_cycle_through_three_modules():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_import_graph_resolves_relative_and_from_imports(tmp_path):
    pkg = tmp_path / "ppstudy"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("class InputError(Exception): ...\n")
    (pkg / "low.py").write_text("from ppstudy import InputError\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "high.py").write_text("from .. import low\n\ndef f():\n    from ppstudy.sub import mid\n")
    (pkg / "sub" / "mid.py").write_text("import ppstudy.sub.high\n")
    graph = import_graph(tmp_path)
    assert graph["ppstudy.low"] == set()  # its own ancestor package: not an edge
    assert graph["ppstudy.sub.high"] == {"ppstudy.low", "ppstudy.sub.mid"}
    assert cycles(graph) == [["ppstudy.sub.high", "ppstudy.sub.mid"]]
