#!/usr/bin/env bash
# Install imagetracerjs (the tracer of Ko et al. 2020) from the npm registry into the ppstudy cache.
#
#   bash scripts/install_imagetracer.sh        -> <cache>/imagetracer/node_modules/imagetracerjs
#
# <cache> is $PPSTUDY_DATA, else $XDG_CACHE_HOME/ppstudy, else ~/.cache/ppstudy (as ppstudy.data.registry);
# $PPSTUDY_IMAGETRACER_DIR replaces <cache>/imagetracer.
# The version is pinned (IMAGETRACER_VERSION, default 1.2.6) and the library file is checked against its
# SHA-256, so a second run is a no-op and works offline. Tracing needs a JavaScript engine at run time:
# Node (any recent version) or the mini-racer wheel from PyPI (V8 in-process); npm is needed only here.
set -euo pipefail
VERSION=${IMAGETRACER_VERSION:-1.2.6}
SHA256_1_2_6=1f7e21062196c53f2565120fc0708eac197c8403ec1bea28b381056ea0c3fdb9
if [ -n "${PPSTUDY_DATA:-}" ]; then
  CACHE=$PPSTUDY_DATA
else
  CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/ppstudy
fi
DEST=${PPSTUDY_IMAGETRACER_DIR:-$CACHE/imagetracer}
LIB="$DEST/node_modules/imagetracerjs/imagetracer_v$VERSION.js"

check() {
  [ -f "$LIB" ] || return 1
  [ "$VERSION" != 1.2.6 ] && return 0
  [ "$(sha256sum "$LIB" | cut -d' ' -f1)" = "$SHA256_1_2_6" ]
}

if check; then
  echo "imagetracerjs $VERSION: already installed in $DEST"; exit 0
fi
if [ -f "$LIB" ]; then
  echo "imagetracerjs $VERSION: $LIB fails its SHA-256 check; reinstalling" >&2
  rm -rf "$DEST/node_modules/imagetracerjs"
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "imagetracerjs: npm is not installed (Debian: apt-get install npm), and $LIB is missing" >&2
  exit 1
fi
mkdir -p "$DEST"
# a package.json of our own keeps npm from walking up to a project above the cache
[ -f "$DEST/package.json" ] || echo '{"name": "ppstudy-imagetracer", "private": true}' > "$DEST/package.json"
if ! npm install --prefix "$DEST" --no-audit --no-fund --save-exact --ignore-scripts "imagetracerjs@$VERSION" \
    >/tmp/ppstudy-imagetracer-npm.log 2>&1; then
  echo "imagetracerjs: npm install imagetracerjs@$VERSION failed (offline? see /tmp/ppstudy-imagetracer-npm.log);" \
       "copy a machine's $DEST here instead" >&2
  exit 1
fi
if ! check; then
  echo "imagetracerjs $VERSION: installed, but $LIB is missing or fails its SHA-256 check" >&2
  exit 1
fi
echo "imagetracerjs $VERSION: installed in $DEST"
