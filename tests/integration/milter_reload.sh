#!/bin/bash
# gatehouse milter: SIGHUP loads the configuration again and new
# connections use it; a broken file is refused with file:line and the
# running configuration stays; a burst of SIGHUPs does not stop the daemon
# (libmilter's own signal thread would stop it on SIGHUP); SIGTERM stops
# it cleanly.  Without -f it detaches once listening, and a start that
# fails says why on stderr with exit 1.
. "${GH_SRC:?set GH_SRC to the source root}/tests/lib/harness.sh"
. "$GH_SRC/tests/milter/lib.sh"

# Wait until the log has N lines matching a pattern.
_count_ge() { (($(grep -c -- "$1" "$MILTER_LOG" || true) >= $2)); }
wait_log() {
	wait_until 10 _count_ge "$1" "$2" || fail "log: no $2 × '$1'"
}

milter_conf "authserv_id = one.test"
milter_start
mtest authserv.lua authserv=one.test

milter_conf "authserv_id = two.test"
kill -HUP "$MILTER_PID"
wait_log "configuration reloaded" 1
mtest authserv.lua authserv=two.test
ok "SIGHUP: new connections use the new configuration"

# A broken file: refused with file:line, two.test stays.
milter_conf "authserv_id = three.test" "score.tag = many"
kill -HUP "$MILTER_PID"
wait_log "reload failed" 1
assert_grep "$T/gatehouse.conf:8: score.tag: " "$MILTER_LOG"
mtest authserv.lua authserv=two.test
ok "SIGHUP with a broken file: refused with file:line, the old one stays"

# A burst of SIGHUPs: still alive, still serving, on the newest file.
milter_conf "authserv_id = four.test"
for i in $(seq 50); do kill -HUP "$MILTER_PID"; done
wait_log "configuration reloaded" 2
_gh_alive "$MILTER_PID" || fail "SIGHUP burst killed the milter"
mtest authserv.lua authserv=four.test
assert_not_grep "libmilter stopped" "$MILTER_LOG"
milter_stop
ok "a burst of SIGHUPs; SIGTERM stops it cleanly"

# Detached: the command returns once the milter listens.
milter_conf "authserv_id = five.test"
"$GATEHOUSE" -c "$T/gatehouse.conf" milter >"$T/detach.out" 2>&1 ||
	fail "detached start failed: $(cat "$T/detach.out")"
[[ -S $MILTER_SOCK ]] || fail "detached milter does not listen"
pid=
for p in /proc/[0-9]*; do
	if tr '\0' ' ' <"$p/cmdline" 2>/dev/null |
	    grep -qF -- "-c $T/gatehouse.conf milter"; then
		pid=${p#/proc/}
	fi
done
[[ -n $pid ]] || fail "detached milter not found"
on_exit "kill -KILL $pid 2>/dev/null || true"
mtest authserv.lua authserv=five.test
kill -TERM "$pid"
_gone() { ! kill -0 "$pid" 2>/dev/null; }
wait_until 10 _gone || fail "detached milter ignores SIGTERM"
ok "detached milter serves and stops"

# A start that cannot listen: exit 1, the reason on stderr.
milter_conf
rc=0
"$GATEHOUSE" -c "$T/gatehouse.conf" \
	-o "milter_listen=unix:$T/no/such/dir/s" milter >"$T/bad.out" 2>&1 ||
	rc=$?
assert_eq 1 "$rc" "exit status of a start that cannot listen"
assert_grep "cannot listen on unix:$T/no/such/dir/s" "$T/bad.out"
ok "a start that cannot listen fails with the reason"
