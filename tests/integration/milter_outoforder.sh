#!/usr/bin/env bash
# gatehouse milter survives any order of milter commands (issue 3 item 7):
# raw protocol scenarios (tests/milter/rawmilter.py) — MAIL without
# CONNECT, body without headers, EOM without MAIL, aborts and closes at
# every point, QUIT_NC, garbage — each followed by a normal message; no
# accept without state, the daemon alive and stopping cleanly after.
set -euo pipefail
: "${GATEHOUSE:?} ${GH_SRC:?}"
T=$(mktemp -d)
source "$GH_SRC/tests/milter/lib.sh"
trap milter_cleanup EXIT
command -v python3 > /dev/null || skip "python3 not installed"

milter_conf
milter_start
timeout 300 python3 "$GH_SRC/tests/milter/rawmilter.py" "$MILTER_SOCK" \
	> "$T/raw.out" 2>&1 || fail "$(cat "$T/raw.out")"
cat "$T/raw.out"
kill -0 "$MILTER_PID" || fail "milter died"
grep -q "envfrom without connect: tempfail" "$MILTER_LOG" ||
	fail "MAIL without CONNECT not logged"
milter_stop
if grep -Eq "runtime error|AddressSanitizer|LeakSanitizer" "$MILTER_LOG"; then
	fail "sanitizer report"
fi
echo "milter_outoforder: ok"
