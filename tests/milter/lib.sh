# lib.sh — helpers for the milter integration tests, on top of
# tests/lib/harness.sh (source that first): a configuration for `gatehouse
# milter` on a unix socket in $T, start and stop it by PID (tracked by the
# harness), run the miltertest scripts of this directory.

MILTER_SOCK=$T/milter.sock
MILTER_LOG=$T/milter.log
MILTER_PID=

# Write $T/gatehouse.conf for the milter; extra lines from the arguments
# (later lines win).  DKIM and SPF are off: these tests are about the
# milter, not about DNS.
milter_conf() {
	{
		echo "milter_listen = unix:$MILTER_SOCK"
		echo "authserv_id = mx.test"
		echo "rules ="
		echo "dkim.enable = no"
		echo "spf.enable = no"
		echo "log.level = info"
		local line
		for line in "$@"; do echo "$line"; done
	} >"$T/gatehouse.conf"
}

# True once the milter listens (its socket, its log line).
_milter_ready() {
	_gh_alive "$MILTER_PID" || fail "milter exited at start"
	[[ -S $MILTER_SOCK ]] && grep -q "listening on" "$MILTER_LOG"
}

# Start the milter on $T/gatehouse.conf with -o overrides; wait for it.
milter_start() {
	local args=() o
	for o in "$@"; do args+=(-o "$o"); done
	GH_LOG=$MILTER_LOG start_gatehouse -c "$T/gatehouse.conf" \
	    "${args[@]}" milter
	MILTER_PID=$GH_PID
	wait_until 10 _milter_ready || fail "milter did not start"
}

# Stop it with SIGTERM: it must exit 0 and remove its socket.
milter_stop() {
	[[ -n $MILTER_PID ]] || return 0
	stop_gatehouse "$MILTER_PID" || fail "milter ignored SIGTERM"
	MILTER_PID=
	assert_eq 0 "$GH_EXIT" "milter exit status"
	[[ ! -e $MILTER_SOCK ]] || fail "socket left behind"
}

# Run a miltertest script of tests/milter with -D definitions.
mtest() {
	local script=$1 d
	shift
	local defs=(-D "dir=$GH_SRC/tests/milter" -D "sock=unix:$MILTER_SOCK")
	for d in "$@"; do defs+=(-D "$d"); done
	timeout -k 2 60 miltertest "${defs[@]}" \
	    -s "$GH_SRC/tests/milter/$script" >"$T/mt.out" 2>&1 ||
		fail "$script: $(cat "$T/mt.out")"
	cat "$T/mt.out"
}

# Print the number of summary lines logged so far.
summaries() {
	grep -c " message client=" "$MILTER_LOG" || true
}

need miltertest
