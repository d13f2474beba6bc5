#!/usr/bin/env bash
# SPF through `gatehouse spf` against a real unbound on loopback: every
# result, the RFC 7208 limits, bad records, temperror within the budget
# beside a concurrent check, the HELO identity, and the guards in front
# of libspf2's macro expander (tests/spf/cases.py).
set -euo pipefail
: "${GATEHOUSE:?} ${GH_SRC:?}"
command -v unbound >/dev/null || { echo "unbound not installed"; exit 77; }
command -v python3 >/dev/null || { echo "python3 not installed"; exit 77; }
exec python3 "$GH_SRC/tests/spf/cases.py" "$GATEHOUSE"
