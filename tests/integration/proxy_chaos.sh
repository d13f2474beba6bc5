#!/usr/bin/env bash
# proxy_chaos.sh — gatehouse proxy under random pipelined commands, split
# writes and resets from six clients at once, against backends that
# misbehave (4xx, close, BDAT, 5xx): it stays up and exits cleanly; run it
# on an ASan/UBSan build to catch memory errors (the suite fails on any
# sanitizer report).  GH_CHAOS_SECONDS=N for a longer run (default 3 per
# backend).
set -u
command -v python3 >/dev/null || { echo "python3 missing"; exit 77; }
exec python3 "$GH_SRC/tests/lib/proxy_suite.py" chaos
