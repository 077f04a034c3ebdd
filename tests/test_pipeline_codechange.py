"""ppstudy.pipeline.codechange: a published run is flagged when the code its numbers came from changed, and
only then: a moved or added definition, a docstring, a comment, a module the chapter does not import or
one that only presents numbers is no change; a changed constant or body is."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from ppstudy.pipeline import codechange

STUDY = '''\
"""The etc study."""

from ppstudy.metrics import f


def table():
    from ppstudy import render

    return render.show(f(3))
'''
METRICS = '''\
"""Metrics."""

SCALE = 2


def f(x):
    """Twice x."""
    return SCALE * x  # doubled
'''


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))


@pytest.fixture
def repo(tmp_path):
    """A checkout whose chapter ``etc`` imports ``metrics`` (and ``render``, which only presents), with a
    module it does not import, committed; returns ``(root, commit)``."""
    root = tmp_path / "repo"
    _write(
        root,
        {
            "src/ppstudy/__init__.py": '"""ppstudy."""\n',
            "src/ppstudy/studies/__init__.py": "",
            "src/ppstudy/studies/etc.py": STUDY,
            "src/ppstudy/metrics.py": METRICS,
            "src/ppstudy/render.py": "def show(v):\n    return str(v)\n",
            "src/ppstudy/other.py": "def g():\n    return 1\n",
            "book/etc.md": "# EtC\n",
            "book/params/etc/paper.yml": "n: 10\n",
            "book/params/etc/smoke.yml": "n: 1\n",
        },
    )
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "-c", "user.email=a@b", "-c", "user.name=t", "commit", "-q", "-m", "x")
    return root, _git(root, "rev-parse", "HEAD")


def changed(root: Path, commit: str, **kw):
    return codechange.code_changed_since(commit, "etc", root, profile="paper", **kw)


def test_unchanged_and_docstrings_comments_layout(repo):
    root, commit = repo
    assert changed(root, commit) == []
    (root / "src/ppstudy/metrics.py").write_text(
        '"""Metrics, reworded."""\n\nSCALE = (2)\n\n\ndef f(x):\n    """Two times x."""\n\n    # the factor\n'
        '    "a note"\n    return SCALE * x\n'
    )
    assert changed(root, commit) == []


def test_a_moved_or_added_definition_is_no_change(repo):
    root, commit = repo
    # f and SCALE move to a new module; metrics re-exports f (relative import) and gains a function
    _write(
        root,
        {
            "src/ppstudy/helpers.py": 'SCALE = 2\n\n\ndef f(x):\n    """Moved here."""\n    return SCALE * x\n',
            "src/ppstudy/metrics.py": "from .helpers import f\n\n\ndef added(x):\n    return x + 1\n",
            "src/ppstudy/studies/etc.py": STUDY.replace(
                "from ppstudy.metrics import f", "from ppstudy.helpers import f"
            ),
        },
    )
    assert changed(root, commit) == []
    # the module that only presents the numbers moves too (into a package) and changes: no change
    (root / "src/ppstudy/render.py").unlink()
    _write(
        root, {"src/ppstudy/site/__init__.py": "", "src/ppstudy/site/render.py": "def show(v):\n    return repr(v)\n"}
    )
    (root / "src/ppstudy/studies/etc.py").write_text(
        STUDY.replace("from ppstudy.metrics import f", "from ppstudy.helpers import f").replace(
            "from ppstudy import render", "from ppstudy.site import render"
        )
    )
    assert changed(root, commit) == []


def test_a_changed_constant_or_body_is_a_change(repo):
    root, commit = repo
    metrics = root / "src/ppstudy/metrics.py"
    metrics.write_text(METRICS.replace("SCALE = 2", "SCALE = 3"))
    assert changed(root, commit) == ["src/ppstudy/metrics.py"]
    assert codechange.changed_definitions(
        codechange.Tree(root, commit), codechange.Tree(root), "ppstudy.studies.etc"
    ) == {"src/ppstudy/metrics.py": ["SCALE"]}
    metrics.write_text(METRICS.replace("return SCALE * x", "return SCALE * x + 1"))
    assert changed(root, commit) == ["src/ppstudy/metrics.py"]
    # moved and changed on the way: a change, of the module it was in
    metrics.write_text("")
    _write(root, {"src/ppstudy/helpers.py": METRICS.replace("SCALE * x", "SCALE * x * x")})
    (root / "src/ppstudy/studies/etc.py").write_text(STUDY.replace("ppstudy.metrics", "ppstudy.helpers"))
    assert changed(root, commit) == ["src/ppstudy/metrics.py"]
    metrics.write_text("def f(x:\n")  # does not parse: counts as changed
    assert "src/ppstudy/metrics.py" in changed(root, commit)


def test_only_what_the_chapter_imports_and_its_own_files(repo):
    root, commit = repo
    (root / "src/ppstudy/other.py").write_text("def g():\n    return 2\n")  # not imported by the chapter
    (root / "src/ppstudy/render.py").write_text("def show(v):\n    return f'{v:.2f}'\n")  # presents only
    (root / "book/params/etc/smoke.yml").write_text("n: 2\n")  # another profile than the run's
    assert changed(root, commit) == []
    assert changed(root, commit, now=commit) == []
    (root / "book/params/etc/paper.yml").write_text("n: 11\n")
    (root / "book/etc.md").write_text("# EtC, reworded\n")  # the page shows the notebook's text
    assert changed(root, commit) == ["book/etc.md", "book/params/etc/paper.yml"]
    _git(root, "add", "-A")
    _git(root, "-c", "user.email=a@b", "-c", "user.name=t", "commit", "-q", "-m", "y")
    assert changed(root, commit, now="HEAD") == ["book/etc.md", "book/params/etc/paper.yml"]
    assert changed(root, commit, now=commit) == []


def test_git_cannot_tell(repo, tmp_path):
    root, _ = repo
    assert changed(root, None) is None
    assert changed(root, "0" * 40) is None
    assert codechange.code_changed_since(_git(root, "rev-parse", "HEAD"), "etc", tmp_path) is None
