#!/usr/bin/env bash
# soak_short.sh — gatehouse proxy under load and faults: many clients,
# the backend killed, refusing, slow and losing replies, unbound stopped
# and paused under SPF, clients vanishing, a SIGHUP every second with
# good and broken rules; no acknowledged message lost, nothing refused
# delivered, fds and RSS back to their level, no sanitizer report.
#
# The CI version of tests/soak/soak.py (see its header for the exact
# invariant); tools/soak runs the long one through this same script.
# Environment: SOAK_MESSAGES (20000), SOAK_SECONDS (cap on the fault
# phase, 170), SOAK_CONCURRENCY (100), SOAK_SEED (1), SOAK_MIN (the
# fewest messages that must have been pushed: SOAK_MESSAGES),
# SOAK_ARGS (more soak.py options).
: "${GH_TEST_TIMEOUT:=$((${SOAK_SECONDS:-170} + 240))}"
export GH_TEST_TIMEOUT
. "$GH_SRC/tests/lib/harness.sh"
need smtp-sink unbound

messages=${SOAK_MESSAGES:-20000}
seconds=${SOAK_SECONDS:-170}
conc=${SOAK_CONCURRENCY:-100}
seed=${SOAK_SEED:-$RANDOM}
min=${SOAK_MIN:-$messages}
ulimit -n 65536 2>/dev/null || ulimit -n 16384 2>/dev/null || true

D=$T/soak
gh_port=$(free_port)
be_port=$(free_port)
dns_port=$(free_port)
"$GH_PY" "$GH_SRC/tests/soak/soak.py" prepare --dir "$D" \
    --gh-port "$gh_port" --backend-port "$be_port" --dns-port "$dns_port"
"$GATEHOUSE" -c "$D/gatehouse.conf" check >"$T/check.log" 2>&1 ||
	fail "gatehouse check: $(tail -n 5 "$T/check.log")"

# ASan's quarantine holds up to 256 MB of freed memory by default, which
# would hide the RSS check; a smaller one still catches use after free
# in the same turn of the loop.  soak.py allows for it (--asan-extra-mib).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}
[[ $ASAN_OPTIONS == *quarantine_size_mb* ]] ||
	ASAN_OPTIONS=$ASAN_OPTIONS:quarantine_size_mb=32
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
GH_LOG=$T/gatehouse.log
start_gatehouse -c "$D/gatehouse.conf" proxy
wait_port "$gh_port" 20 "$GH_PID" || fail "gatehouse did not listen"

note "seed $seed: $messages messages, $conc clients, at most ${seconds}s of faults"
rc=0
"$GH_PY" "$GH_SRC/tests/soak/soak.py" run --dir "$D" --gh-pid "$GH_PID" \
    --gh-log "$GH_LOG" --messages "$messages" --seconds "$seconds" \
    --concurrency "$conc" --seed "$seed" ${SOAK_ARGS:-} \
    2>&1 | tee "$T/soak.log" || rc=$?
((rc == 0)) || fail "soak.py failed (status $rc; seed $seed)"

pushed=$(sed -n 's/^under faults: \([0-9]*\) messages.*/\1/p' "$T/soak.log")
warm=$(sed -n 's/^messages: [0-9]* in all (\([0-9]*\) warm-up.*/\1/p' \
    "$T/soak.log")
((${pushed:-0} + ${warm:-0} >= min)) ||
	fail "only $((pushed + warm)) messages pushed, wanted $min"

# Stop gatehouse: a clean exit, and no sanitizer report (LeakSanitizer
# reports at exit).
stop_gatehouse || fail "gatehouse did not stop on SIGTERM"
assert_not_grep 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer' "$GH_LOG"
assert_eq 0 "$GH_EXIT" "gatehouse exit status"
ok "soak: $((pushed + warm)) messages, no acknowledged message lost, clean exit"
