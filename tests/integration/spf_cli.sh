#!/usr/bin/env bash
# SPF through `gatehouse spf` against a real unbound on loopback: every
# result, the RFC 7208 limits, bad records, temperror within the budget
# beside a concurrent check, the HELO identity, and the guards in front
# of libspf2's macro expander (tests/spf/cases.py).
. "${GH_SRC:?set GH_SRC to the source root}/tests/lib/harness.sh"
need unbound python3
[[ -x ${GATEHOUSE:-} ]] || skip "GATEHOUSE is not set"
# The driver's unbound instances live under $T: the harness's leftover
# check covers them.
TMPDIR=$T python3 "$GH_SRC/tests/spf/cases.py" "$GATEHOUSE" ||
	fail "SPF cases failed"
