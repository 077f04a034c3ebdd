#!/usr/bin/env bash
# One call of the prepared device run: bash scripts/device/call.sh CALL CHAPTER [WALL_S]
# (CALL 1, 2 or 3; CHAPTER pixel or deid; WALL_S: the seconds call 3 may take). The whole output goes
# to the reply and to $OUT/callCALL.log; figures to $OUT/*.json; call 3's run to $OUT/run.tar.xz.
set -o pipefail
: "${OUT:?OUT must be set (the device tool sets it)}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
"${PPDEV_PYTHON:-python3}" scripts/device/device_call.py "$@" 2>&1 | tee "$OUT/call$1.log"
rc=$?
# a returned file may be at most 16 MiB: keep the log's end
if [ "$(stat -c %s "$OUT/call$1.log")" -gt 15000000 ]; then
  tail -c 15000000 "$OUT/call$1.log" > "$OUT/call$1.log.tmp" && mv "$OUT/call$1.log.tmp" "$OUT/call$1.log"
fi
exit $rc
