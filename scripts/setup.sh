#!/usr/bin/env bash
# Create or update the project's environment in .venv (idempotent; a no-op when nothing changed).
#   scripts/setup.sh            python packages: torch + torchvision pinned, ppstudy with its dev extras
#                               (torch, book, deid, test, lint), Pyfhel, and the imagetracerjs tracer
#   scripts/setup.sh --browser  also Debian's chromium for the headless browser test of the built book
# Environment: PYTHON (default python3), VENV (default .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
browser=0
[ "${1:-}" = "--browser" ] && browser=1

# Torch is pinned: these releases are the ones whose CPU/CUDA wheels work together with torchvision here.
TORCH_PINS="torch==2.14.1 torchvision==0.29.1"
case "$(uname -m)" in aarch64|arm64) TORCH_PINS="torch==2.9.1 torchvision==0.24.1" ;; esac

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
stamp="$VENV/.ppstudy-setup"
want=$(cat pyproject.toml scripts/setup.sh scripts/install_pyfhel.sh scripts/install_imagetracer.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$PY" -c "import ppstudy, torch, Pyfhel" 2>/dev/null \
    && "$PY" -c "from ppstudy.ciphers import imagetracer; imagetracer.library_path()" 2>/dev/null; then
  echo "setup: $VENV is up to date"
else
  echo "setup: installing $TORCH_PINS"
  "$PY" -m pip install -q $TORCH_PINS
  echo "setup: installing ppstudy and its dependencies"
  "$PY" -m pip install -q -e ".[dev]"
  PY="$PY" bash scripts/install_pyfhel.sh
  echo "setup: installing imagetracerjs (the de-identification chapter's tracer) from the npm registry"
  bash scripts/install_imagetracer.sh
  echo "$want" > "$stamp"
fi

if [ "$browser" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian's chromium for the browser test"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "setup: could not install chromium; the browser test will be skipped" >&2
  else
    echo "setup: chromium is not installed (sudo apt-get install chromium); the browser test will be skipped" >&2
  fi
fi
