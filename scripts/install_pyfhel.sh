#!/usr/bin/env bash
# Install Pyfhel into the current venv's python ($PY), offline-capable.
#
# Pyfhel ships only a source archive whose CMake build downloads Microsoft GSL, zlib and zstd; that
# fails without internet. When a plain install fails, this script builds the same source with
# SEAL_USE_MSGSL / SEAL_USE_ZLIB / SEAL_USE_ZSTD switched OFF (SEAL then serialises without compression,
# which nothing in ppstudy relies on) and caches the wheel in $PPSTUDY_WHEELS (default
# ~/.cache/ppstudy/wheels), so the ~2.5 minute build happens once per machine.
set -euo pipefail
PY=${PY:-python}
VERSION=${PYFHEL_VERSION:-3.5.0}
WHEELS=${PPSTUDY_WHEELS:-$HOME/.cache/ppstudy/wheels}
mkdir -p "$WHEELS"

if "$PY" -c "import Pyfhel" 2>/dev/null; then
  echo "Pyfhel: already installed"; exit 0
fi
# 1. a wheel cached by an earlier build
if ls "$WHEELS"/[Pp]yfhel-"$VERSION"-*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --find-links "$WHEELS" "Pyfhel==$VERSION" && { echo "Pyfhel: installed from cached wheel"; exit 0; }
fi
# 2. the plain install (works where the build may download its third-party code)
if timeout 900 "$PY" -m pip install -q "Pyfhel==$VERSION" >/tmp/ppstudy-pyfhel-plain.log 2>&1; then
  echo "Pyfhel: installed from the registry"; exit 0
fi
echo "Pyfhel: plain install failed (see /tmp/ppstudy-pyfhel-plain.log); building offline-capable (a few minutes)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PY" -m pip download -q --no-deps --no-binary Pyfhel "Pyfhel==$VERSION" -d "$work"
tar xzf "$work"/[Pp]yfhel-"$VERSION".tar.gz -C "$work"
src=$(find "$work" -maxdepth 1 -type d -iname "pyfhel-$VERSION")
for opt in SEAL_USE_MSGSL SEAL_USE_ZLIB SEAL_USE_ZSTD; do
  sed -i -E "s/^(\s*$opt\s*=\s*)'ON'/\1'OFF'/" "$src/pyproject.toml"
  grep -qE "^\s*$opt\s*=\s*'OFF'" "$src/pyproject.toml" || { echo "Pyfhel: could not switch $opt off in pyproject.toml" >&2; exit 1; }
done
"$PY" -m pip wheel -q --no-deps -w "$WHEELS" "$src"
"$PY" -m pip install -q --no-index --find-links "$WHEELS" "Pyfhel==$VERSION"
"$PY" -c "import Pyfhel; print('Pyfhel', Pyfhel.__version__, 'built offline and cached in $WHEELS')"
