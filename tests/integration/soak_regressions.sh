#!/usr/bin/env bash
# soak_regressions.sh — exact reproductions of the proxy bugs the soak
# found (tests/soak/regressions.py): real gatehouse, scripted backends
# and raw SMTP clients on loopback.
set -u
command -v python3 >/dev/null || { echo "python3 missing"; exit 77; }
exec python3 "$GH_SRC/tests/soak/regressions.py"
