#!/usr/bin/env bash
# The RFC 7208 test suite (tests/data/rfc7208-tests.json, BSD licence in
# tests/data/rfc7208-tests.LICENSE) through `gatehouse spf`, each
# scenario's zone served by a real unbound on loopback.  Prints the pass
# count; fails on any case not in the driver's EXPECTED_FAILURES list and
# on any listed case that starts to pass.
GH_TEST_TIMEOUT=${GH_TEST_TIMEOUT:-300}
. "${GH_SRC:?set GH_SRC to the source root}/tests/lib/harness.sh"
need unbound python3
[[ -x ${GATEHOUSE:-} ]] || skip "GATEHOUSE is not set"
# The driver's unbound instances live under $T: the harness's leftover
# check covers them.
TMPDIR=$T python3 "$GH_SRC/tests/spf/rfc7208.py" "$GATEHOUSE" \
	"$GH_SRC/tests/data/rfc7208-tests.json" "$@" ||
	fail "RFC 7208 suite: see the list above"
