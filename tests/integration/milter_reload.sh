#!/usr/bin/env bash
# gatehouse milter: SIGHUP loads the configuration again and new messages
# use it; a broken file is refused with file:line and the running
# configuration stays; a burst of SIGHUPs does not stop the daemon
# (libmilter's own signal thread would stop it on SIGHUP); SIGTERM stops
# it cleanly.  Without -f it detaches once listening, and a start that
# fails says why on stderr with exit 1.
set -euo pipefail
: "${GATEHOUSE:?} ${GH_SRC:?}"
T=$(mktemp -d)
source "$GH_SRC/tests/milter/lib.sh"
trap milter_cleanup EXIT

# Wait until the log has N lines matching a pattern.
wait_log() {
	local pattern=$1 n=$2 i
	for i in $(seq 100); do
		[ "$(grep -c -- "$pattern" "$MILTER_LOG" || true)" -ge "$n" ] &&
			return 0
		sleep 0.05
	done
	fail "log: no $n × '$pattern'"
}

milter_conf "authserv_id = one.test"
milter_start
mtest authserv.lua authserv=one.test

milter_conf "authserv_id = two.test"
kill -HUP "$MILTER_PID"
wait_log "configuration reloaded" 1
mtest authserv.lua authserv=two.test

# A broken file: refused with file:line, two.test stays.
milter_conf "authserv_id = three.test" "score.tag = many"
kill -HUP "$MILTER_PID"
wait_log "reload failed" 1
grep -q "$T/gatehouse.conf:6: score.tag: " "$MILTER_LOG" ||
	fail "the error does not name file:line"
mtest authserv.lua authserv=two.test

# A burst of SIGHUPs: still alive, still serving, on the newest file.
milter_conf "authserv_id = four.test"
for i in $(seq 20); do kill -HUP "$MILTER_PID"; done
sleep 0.2
kill -0 "$MILTER_PID" || fail "SIGHUP burst killed the milter"
wait_log "configuration reloaded" 2
mtest authserv.lua authserv=four.test
grep -q "libmilter stopped" "$MILTER_LOG" && fail "libmilter took a SIGHUP"
milter_stop

# Detached: the command returns once the milter listens.
milter_conf "authserv_id = five.test"
"$GATEHOUSE" -c "$T/gatehouse.conf" milter > "$T/detach.out" 2>&1 ||
	fail "detached start failed: $(cat "$T/detach.out")"
[ -S "$MILTER_SOCK" ] || fail "detached milter does not listen"
for p in /proc/[0-9]*; do
	if tr '\0' ' ' < "$p/cmdline" 2>/dev/null |
	    grep -qF -- "-c $T/gatehouse.conf milter"; then
		MILTER_PID=${p#/proc/}
	fi
done
[ -n "$MILTER_PID" ] || fail "detached milter not found"
mtest authserv.lua authserv=five.test
kill -TERM "$MILTER_PID"
for i in $(seq 100); do
	kill -0 "$MILTER_PID" 2>/dev/null || break
	sleep 0.05
done
kill -0 "$MILTER_PID" 2>/dev/null && fail "detached milter ignores SIGTERM"
MILTER_PID=

# A start that cannot listen: exit 1, the reason on stderr.
milter_conf
set +e
"$GATEHOUSE" -c "$T/gatehouse.conf" -o "milter_listen=unix:$T/no/such/dir/s" \
	milter > "$T/bad.out" 2>&1
rc=$?
set -e
[ $rc -eq 1 ] || fail "bad socket: exit $rc"
grep -q "cannot listen on unix:$T/no/such/dir/s" "$T/bad.out" ||
	fail "bad socket: $(cat "$T/bad.out")"
echo "milter_reload: ok"
