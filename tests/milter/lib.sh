# lib.sh — helpers for the milter integration tests: start `gatehouse
# milter` in the foreground on a unix socket in the test's directory,
# stop it by PID, run miltertest scripts.  Source after setting T (the
# test's temporary directory); needs GATEHOUSE and GH_SRC.

MILTER_SOCK="$T/milter.sock"
MILTER_LOG="$T/milter.log"
MILTER_PID=

fail() { echo "FAIL: $*" >&2; [ -f "$MILTER_LOG" ] && tail -20 "$MILTER_LOG" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }

# Write a configuration for the milter to $T/gatehouse.conf; extra lines
# come from the arguments.
milter_conf() {
	{
		echo "milter_listen = unix:$MILTER_SOCK"
		echo "authserv_id = mx.test"
		echo "rules ="
		echo "log.level = info"
		for line in "$@"; do echo "$line"; done
	} > "$T/gatehouse.conf"
}

# Start the milter with $T/gatehouse.conf and -o overrides; wait for it.
milter_start() {
	local args=() i
	for o in "$@"; do args+=(-o "$o"); done
	rm -f "$MILTER_SOCK"
	"$GATEHOUSE" -c "$T/gatehouse.conf" "${args[@]}" -f milter \
		>> "$MILTER_LOG" 2>&1 &
	MILTER_PID=$!
	for i in $(seq 100); do
		[ -S "$MILTER_SOCK" ] && grep -q "listening on" "$MILTER_LOG" &&
			return 0
		kill -0 "$MILTER_PID" 2>/dev/null || fail "milter exited at start"
		sleep 0.05
	done
	fail "milter did not start"
}

# Stop it with SIGTERM; it must exit 0 within 10 s and remove its socket.
milter_stop() {
	local i rc
	[ -n "$MILTER_PID" ] || return 0
	kill -TERM "$MILTER_PID"
	for i in $(seq 200); do
		kill -0 "$MILTER_PID" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$MILTER_PID" 2>/dev/null && fail "milter ignores SIGTERM"
	set +e
	wait "$MILTER_PID"
	rc=$?
	set -e
	MILTER_PID=
	[ $rc -eq 0 ] || fail "milter exited $rc"
	[ ! -e "$MILTER_SOCK" ] || fail "socket left behind"
}

# Kill it on the way out, whatever happened.
milter_cleanup() {
	[ -n "$MILTER_PID" ] && kill -KILL "$MILTER_PID" 2>/dev/null
	rm -rf "$T"
}

# Run a miltertest script from tests/milter with -D definitions.
mtest() {
	local script=$1; shift
	local defs=(-D "dir=$GH_SRC/tests/milter" -D "sock=unix:$MILTER_SOCK")
	for d in "$@"; do defs+=(-D "$d"); done
	timeout 60 miltertest "${defs[@]}" -s "$GH_SRC/tests/milter/$script" \
		> "$T/mt.out" 2>&1 || fail "$script: $(cat "$T/mt.out")"
	cat "$T/mt.out"
}

# Count the summary lines logged so far.
summaries() {
	grep -c " message client=" "$MILTER_LOG" || true
}

command -v miltertest > /dev/null || skip "miltertest not installed"
