#!/usr/bin/env bash
# The RFC 7208 test suite (tests/data/rfc7208-tests.json, BSD licence in
# tests/data/rfc7208-tests.LICENSE) through `gatehouse spf`, each
# scenario's zone served by a real unbound on loopback.  Prints the pass
# count; fails on any case not in the driver's EXPECTED_FAILURES list and
# on any listed case that starts to pass.
set -euo pipefail
: "${GATEHOUSE:?} ${GH_SRC:?}"
command -v unbound >/dev/null || { echo "unbound not installed"; exit 77; }
command -v python3 >/dev/null || { echo "python3 not installed"; exit 77; }
exec python3 "$GH_SRC/tests/spf/rfc7208.py" "$GATEHOUSE" \
	"$GH_SRC/tests/data/rfc7208-tests.json" "$@"
