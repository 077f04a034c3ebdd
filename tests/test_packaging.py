"""The package's promises about itself: the ciphers and metrics need neither torch nor the book stack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ciphers_attacks_and_metrics_import_without_torch_or_the_book():
    code = (
        "import sys; import ppstudy.ciphers, ppstudy.ciphers.ope, ppstudy.metrics, ppstudy.attacks.catmap, "
        "ppstudy.attacks.pixel, ppstudy.images; "
        "heavy = [m for m in ('torch', 'matplotlib', 'papermill', 'jupyter_book', 'pandas') if m in sys.modules]; "
        "print(heavy)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_core_dependencies_are_only_what_the_core_imports():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {d.split(">")[0].split("=")[0].split("<")[0] for d in deps["dependencies"]}
    assert not core & {"torch", "torchvision", "jupyter-book", "papermill", "matplotlib", "Pyfhel"}
    extras = deps["optional-dependencies"]
    assert {"torch", "book", "fhe", "deid", "all", "test"} <= set(extras)


def test_license_and_citation_are_there():
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    assert "cff-version" in (ROOT / "CITATION.cff").read_text()
