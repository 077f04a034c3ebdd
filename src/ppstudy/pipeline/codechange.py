"""Whether the code a published run's numbers came from changed since the run's commit.

A run's commit vouches for the code its chapter ran: the chapter's study module and every module of the
package it imports (anywhere in them, functions included: its import closure), except the modules that
only record and present numbers (:data:`PRESENTING`: the manifest, its rendering, the kernel's ``Run``,
running, publishing, the site and the command line). That code changed when one of its top-level
statements (a function, a class, a constant, any other statement) at the commit has no equal now anywhere
in the package: equal syntax trees, without docstrings, comments or layout, and with each import of the
package's own names compared by the names it imports, not by the module it imports them from. So a
definition only moved to another module (its importers now importing it from there), or only added, is no
change; a changed constant or body is. (An import redirected to another definition of the same name is
seen only through that definition: a new one is an addition.) The chapter's notebook and the run's profile count for any change: the page shows
the notebook's text.
"""

from __future__ import annotations

import ast
import hashlib
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ppstudy.project import chapters as _chapters

PACKAGE = "ppstudy"
SOURCE_DIR = "src/ppstudy"
#: syntax trees and statement dumps by (kind, module, is package, digest of the source): shared by the
#: trees of every commit and by the working tree, so that a file seen once is parsed once
_CACHE: dict[tuple[str, str, bool, str], Any] = {}
#: modules (and packages) that record and present a run's numbers but compute none: a change there is
#: not a change of the numbers (the old homes of their code included)
PRESENTING = (
    "ppstudy.project",
    "ppstudy.manifest",
    "ppstudy.render",
    "ppstudy.kernel",
    "ppstudy.pipeline",
    "ppstudy.site",
    "ppstudy.cli",
    "ppstudy.__main__",
    "ppstudy.results",
    "ppstudy.runner",
    "ppstudy.chapters",
    "ppstudy.params",
    "ppstudy.book",
    "ppstudy.bookcheck",
    "ppstudy.bookconfig",
    "ppstudy.sphinxext",
)


def presenting(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in PRESENTING)


def module_of(path: str) -> str | None:
    """``src/ppstudy/a/b.py`` -> ``ppstudy.a.b`` (``__init__.py``: the package); None outside the package."""
    if not (path.startswith(SOURCE_DIR + "/") and path.endswith(".py")):
        return None
    parts = path[len("src/") : -len(".py")].split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


class Tree:
    """The package's Python sources at one commit (``commit``) or in the working tree (``commit=None``)."""

    def __init__(self, root: Path, commit: str | None = None):
        self.root, self.commit = Path(root), commit
        self.paths: dict[str, str] = {}  # module -> path
        self.sources: dict[str, str] = {}  # module -> source
        if commit is None:
            for p in sorted((self.root / SOURCE_DIR).rglob("*.py")):
                rel = p.relative_to(self.root).as_posix()
                mod = module_of(rel)
                if mod is not None:
                    try:
                        self.sources[mod] = p.read_text(encoding="utf-8")
                    except (OSError, UnicodeDecodeError):
                        self.sources[mod] = "\0"  # unreadable: does not parse, so it counts as changed
                    self.paths[mod] = rel
        else:
            self._read_commit(commit)

    def _read_commit(self, commit: str) -> None:
        ls = subprocess.run(
            ["git", "ls-tree", "-r", "-z", "--name-only", commit, "--", SOURCE_DIR],
            cwd=self.root,
            capture_output=True,
            timeout=30,
            check=True,
        )
        paths = [p.decode() for p in ls.stdout.split(b"\0") if p.endswith(b".py")]
        if not paths:
            return
        cat = subprocess.run(
            ["git", "cat-file", "--batch"],
            cwd=self.root,
            input="".join(f"{commit}:{p}\n" for p in paths).encode(),
            capture_output=True,
            timeout=60,
            check=True,
        )
        out, pos = cat.stdout, 0
        for p in paths:
            end = out.index(b"\n", pos)
            header = out[pos:end].split()
            pos = end + 1
            if len(header) < 3 or header[1] != b"blob":
                continue
            size = int(header[2])
            mod = module_of(p)
            if mod is not None:
                self.sources[mod] = out[pos : pos + size].decode("utf-8", errors="replace")
                self.paths[mod] = p
            pos += size + 1

    def is_module(self, name: str) -> bool:
        return name in self.sources


def _package_module(node: ast.ImportFrom, module: str, is_package: bool) -> str | None:
    """The absolute module an ``ImportFrom`` of the package names; None for another distribution."""
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        name = ".".join(base + ([node.module] if node.module else []))
    else:
        name = node.module or ""
    return name if name == PACKAGE or name.startswith(PACKAGE + ".") else None


def _normalize(tree: ast.Module, module: str, is_package: bool) -> ast.Module:
    """``tree`` (changed in place) without string statements (docstrings do nothing), and with imports of
    the package's names keeping the names only, wherever they are imported from (``from ppstudy.a import
    f`` and ``from .b import f`` both read ``from ppstudy import f``; ``import ppstudy.a.b`` reads ``import
    ppstudy``, the name it binds)."""
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            stmts = getattr(node, field, None)
            if isinstance(stmts, list) and stmts and isinstance(stmts[0], ast.stmt):
                kept = [
                    s
                    for s in stmts
                    if not (
                        isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and isinstance(s.value.value, str)
                    )
                ]
                if len(kept) != len(stmts):
                    # a body of only a docstring keeps a ``pass`` (as an empty body cannot be)
                    stmts[:] = kept or ([] if node is tree else [ast.Pass()])
        if isinstance(node, ast.ImportFrom):
            if _package_module(node, module, is_package) is not None:
                node.module, node.level = PACKAGE, 0
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == PACKAGE:
                    a.name = PACKAGE
    return tree


class Definitions:
    """Every module's top-level statements of one :class:`Tree`, each as a key (a definition's name, or the
    statement itself) and a dump of its syntax tree without docstrings, in which imports of the package's
    own names keep the names only (:func:`_normalize`)."""

    def __init__(self, tree: Tree):
        self.tree = tree

    def _key(self, kind: str, mod: str) -> tuple[str, str, bool, str]:
        src = self.tree.sources[mod]
        return kind, mod, self._is_package(mod), hashlib.sha1(src.encode("utf-8", "replace")).hexdigest()

    def parsed(self, mod: str) -> ast.Module | None:
        """The module's syntax tree as it is (None when it does not parse); shared, never changed."""
        key = self._key("parsed", mod)
        if key not in _CACHE:
            try:
                _CACHE[key] = ast.parse(self.tree.sources[mod])
            except (SyntaxError, ValueError):
                _CACHE[key] = None
        return _CACHE[key]

    def _is_package(self, mod: str) -> bool:
        return self.tree.paths.get(mod, "").endswith("__init__.py")

    def imports(self, mod: str) -> set[str]:
        """The package's modules ``mod`` imports (anywhere in it)."""
        t = self.parsed(mod) if self.tree.is_module(mod) else None
        out: set[str] = set()
        for node in ast.walk(t) if t is not None else ():
            if isinstance(node, ast.Import):
                out |= {a.name for a in node.names if a.name.split(".")[0] == PACKAGE}
            elif isinstance(node, ast.ImportFrom):
                base = _package_module(node, mod, self._is_package(mod))
                if base is not None:
                    out.add(base)
                    out |= {f"{base}.{a.name}" for a in node.names if self.tree.is_module(f"{base}.{a.name}")}
        return {m for m in out if self.tree.is_module(m)}

    def closure(self, start: str) -> set[str]:
        """``start`` and the modules it imports, transitively, with their packages; the traversal stops at
        :func:`presenting` modules, which are left out."""
        seen: set[str] = set()
        todo = [start]
        while todo:
            m = todo.pop()
            if m in seen or not self.tree.is_module(m) or presenting(m):
                continue
            seen.add(m)
            parts = m.split(".")
            todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # importing a module runs its packages
            todo += sorted(self.imports(m))
        return seen

    def dumps(self, mod: str) -> list[tuple[str, str]] | None:
        """``(key, dump)`` of each top-level statement of ``mod``; None when it does not parse."""
        key = self._key("dumps", mod)
        if key in _CACHE:
            return _CACHE[key]
        if self.parsed(mod) is None:
            _CACHE[key] = None
            return None
        out = []
        # a fresh tree, normalized in place (``parsed`` keeps the imports as they are)
        for node in _normalize(ast.parse(self.tree.sources[mod]), mod, self._is_package(mod)).body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                out += self._bindings(mod, node)
                continue
            names = _names(node)
            if names == ["__all__"]:
                continue  # what a star import exports computes nothing
            dump = ast.dump(node, include_attributes=False)
            out.append((",".join(names) if names else dump, dump))
        _CACHE[key] = out
        return out

    def _bindings(self, mod: str, node: ast.Import | ast.ImportFrom) -> list[tuple[str, str]]:
        """A top-level import as one entry per name it binds, so that importing one more name is an
        addition; an import of the package's names is the name only (where it comes from is no change)."""
        if isinstance(node, ast.Import):
            return [
                (f"import {a.asname or a.name}", f"import {PACKAGE if a.name.split('.')[0] == PACKAGE else a.name}")
                for a in node.names
            ]
        base = _package_module(node, mod, self._is_package(mod))
        source = PACKAGE if base is not None else f"{'.' * node.level}{node.module or ''}"
        return [(f"import {a.asname or a.name}", f"from {source} import {a.name}") for a in node.names]


def _names(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def changed_definitions(old: Tree, new: Tree, study: str) -> dict[str, list[str]]:
    """For each module of ``study``'s import closure at ``old`` (presenting modules left out), the keys of
    its top-level statements that have no equal anywhere in ``new``'s package (a module that does not parse
    at either side: ``["(does not parse)"]``)."""
    before, after = Definitions(old), Definitions(new)
    everywhere: set[str] | None = None  # every statement of the package now, made when first needed
    out: dict[str, list[str]] = {}
    for mod in sorted(before.closure(study)):
        path = old.paths[mod]
        d = before.dumps(mod)
        if d is None:
            out[path] = ["(does not parse)"]
            continue
        if new.sources.get(mod) == old.sources[mod]:
            continue  # the same file
        here = after.dumps(mod) if new.is_module(mod) else None
        same = {dump for _, dump in here or ()}
        missing = [(key, dump) for key, dump in d if dump not in same]
        if missing and everywhere is None:
            everywhere = {dump for m in new.sources for _, dump in after.dumps(m) or ()}
        gone = [key if len(key) <= 60 else key[:57] + "..." for key, dump in missing if dump not in (everywhere or ())]
        if gone:
            out[path] = gone
    for mod in sorted(after.closure(study)):  # a module of the closure that does not parse now
        if after.dumps(mod) is None:
            out.setdefault(new.paths[mod], ["(does not parse)"])
    return out


def _text_changes(commit: str, paths: Iterable[str], root: Path) -> list[str] | None:
    r = subprocess.run(
        ["git", "diff", "--name-only", commit, "--", *paths], cwd=root, capture_output=True, text=True, timeout=20
    )
    if r.returncode != 0:
        return None
    return [line for line in r.stdout.splitlines() if line.strip()]


def code_changed_since(
    commit: str | None, chapter: str, root: Path, *, profile: str | None = None, now: str | None = None
) -> list[str] | None:
    """What changed of the code behind a run of ``chapter`` (at ``commit``): the paths of its study
    module's import closure whose definitions changed (:func:`changed_definitions`), its notebook and the
    run's profile (all profiles when ``profile`` is None); None when git cannot tell (no checkout, unknown
    commit). ``now``: compare with that commit instead of the working tree."""
    if not commit:
        return None
    ch = _chapters.get(chapter)
    params = f"book/params/{chapter}/{profile}.yml" if profile else f"book/params/{chapter}"
    try:
        if now is None:
            text = _text_changes(commit, [f"book/{chapter}.md", params], root)
        else:
            text = _text_changes(f"{commit}..{now}", [f"book/{chapter}.md", params], root)
        if text is None:
            return None
        old = Tree(root, commit)
        new = Tree(root, now)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if not old.sources:
        return None
    return sorted(set(text) | set(changed_definitions(old, new, ch.study)))
