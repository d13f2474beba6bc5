#!/bin/bash
# gatehouse milter survives any order of milter commands (issue 3 item 7):
# raw protocol scenarios (tests/milter/rawmilter.py) — MAIL without
# CONNECT, body without headers, EOM without MAIL, aborts and closes at
# every point, QUIT_NC, garbage, an MTA without "no reply" steps — each
# followed by a normal message; never an accept without state; the daemon
# alive and stopping cleanly after; with rules at every stage and without
# (then every stage but EOM is negotiated without reply).
. "${GH_SRC:?set GH_SRC to the source root}/tests/lib/harness.sh"
. "$GH_SRC/tests/milter/lib.sh"

for rules in "" "$GH_SRC/tests/milter/verdicts.rules"; do
	milter_conf "rules = $rules"
	milter_start
	timeout -k 2 300 "$GH_PY" "$GH_SRC/tests/milter/rawmilter.py" \
	    "$MILTER_SOCK" >"$T/raw.out" 2>&1 || fail "$(cat "$T/raw.out")"
	cat "$T/raw.out"
	_gh_alive "$MILTER_PID" || fail "milter died"
	assert_grep "envfrom without connect: tempfail" "$MILTER_LOG"
	milter_stop
	assert_not_grep "runtime error|AddressSanitizer|LeakSanitizer" \
		"$MILTER_LOG"
	ok "out-of-order commands survived (rules: ${rules:-none})"
	: >"$MILTER_LOG"
done
