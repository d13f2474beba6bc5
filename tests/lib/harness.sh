# shellcheck shell=bash disable=SC2034,SC2119,SC2120
# (SC2034: variables are for the tests; SC2119/2120: optional arguments)
#
# harness.sh - integration test harness for gatehouse.
#
# Every test in tests/integration/ sources this file first:
#
#	#!/bin/bash
#	. "$GH_SRC/tests/lib/harness.sh"
#	start_unbound 'example.test. TXT "v=spf1 ip4:127.0.0.0/8 -all"'
#	start_postfix
#	port=$(free_port)
#	start_gatehouse -c /dev/null -o listen=127.0.0.1:$port \
#	    -o backend=127.0.0.1:$PF_PORT \
#	    -o resolver=127.0.0.1@$UNBOUND_PORT proxy
#	wait_port "$port" 10 "$GH_PID" || fail "gatehouse did not listen"
#	swaks_send one --server 127.0.0.1:$port --from a@example.test \
#	    --to user@backend.test --body "hello" || fail "send failed"
#	pf_wait_delivered 1
#	assert_grep '^hello$' "$(pf_mailbox user)"
#	ok "delivered"
#
# Run one by hand: GH_SRC=$PWD GATEHOUSE=build/gatehouse bash TEST.sh
# (GH_KEEP=1 keeps $T, GH_VERBOSE=1 shows the logs).
#
# What it owns: a per-test directory $T and every process the test starts
# through it.  Everything is on loopback; nothing uses a system instance.
# Invariants: every started process is recorded by PID (and start time,
# as PIDs are reused) and stopped by PID in the EXIT trap; the trap then
# checks that none of them (nor any process whose cwd or command line is
# inside $T, which covers every Postfix child) is still alive, kills and
# reports any that is, and fails the test.  All waits are bounded.
# How it fails: `fail` exits 1, `skip` exits 77 (ctest: skipped) when a
# needed program is missing, an unchecked failing command (set -e) is
# named with its line; on failure the tails of all logs are printed to
# stderr (ctest --output-on-failure shows them).
#
# Environment (inputs):
#   GH_SRC           source root (default: derived from this file's path)
#   GATEHOUSE        the built binary (only start_gatehouse needs it)
#   GH_BUILD         build dir (informational)
#   TMPDIR           parent of $T (default /tmp; must be traversable by
#                    the postfix and nobody users, else /tmp is used)
#   GH_KEEP=1        keep $T after the test (its path is printed)
#   GH_TEST_TIMEOUT  watchdog: SIGTERM the test after this many seconds
#                    (default 570, under ctest's TIMEOUT of 600, so that
#                    the EXIT trap still cleans up before ctest kills)
#   GH_VERBOSE=1     print the log tails even when the test passes
#   GH_STOP_GRACE    seconds between SIGTERM and SIGKILL (default 5)
#   GH_PF_FULLSTART=1  start Postfix with "postfix start" (all its checks,
#                    1-3 s slower) instead of "master -w"
#
# Functions (outputs in CAPS variables; start_* must be called in the main
# shell, never inside $(...), because they set variables and record PIDs):
#
#   skip MSG | fail MSG | ok MSG | note MSG
#   need PROG...                 skip (77) unless every PROG is in PATH
#   on_exit 'CMD'                extra cleanup, run first by the EXIT trap
#   free_port                    print a free 127.0.0.1 port (TCP and UDP),
#                                random in 20000..32767 (below the kernel's
#                                ephemeral range, so no client socket takes it)
#   port_listening PORT          true if a TCP socket listens on PORT
#   wait_port PORT [SECS] [PID]  wait (default 10 s) until PORT listens;
#                                fails early if PID dies
#   wait_until SECS CMD...       retry CMD every 0.1 s for SECS; status of CMD
#   wait_grep PATTERN FILE [SECS]  wait until FILE matches (grep -E)
#
#   start_unbound RR...          unbound on UNBOUND_PORT serving the RRs.
#                                Each argument is a local-data RR
#                                ('a.test. TXT "x"', 'h.test. A 127.0.0.2')
#                                or a raw unbound line starting with
#                                "local-zone:", "local-data:" or
#                                "local-data-ptr:".  The root zone is
#                                `static`: names not given are NXDOMAIN, no
#                                query ever leaves the machine.
#                                Sets UNBOUND_PORT, UNBOUND_PID, UNBOUND_CONF.
#   stop_unbound                 stop it (queries then get "connection refused")
#   restart_unbound [RR...]      start again on the same port; with RRs,
#                                replace the zone data first
#   pause_unbound / resume_unbound  SIGSTOP/SIGCONT: queries time out
#   dns_query NAME [TYPE] [--tcp]  ask unbound; prints "status RCODE" then
#                                one "name ttl TYPE data" line per answer
#                                (python3 stdlib client tests/lib/dnsq.py;
#                                dig is not installed on Debian by default)
#
#   start_smtp_sink [FAULTS] [-- RAW-OPTS]  Postfix's smtp-sink on SINK_PORT,
#                                one file per message in SINK_DIR ($T/sink).
#                                FAULTS: --hard CMDS (5xx), --soft CMDS (4xx),
#                                --drop CMDS (disconnect, no reply),
#                                --421 CMDS (421 and disconnect); CMDS is a
#                                comma list of CONNECT,HELO,EHLO,MAIL,RCPT,
#                                DATA,.,RSET,QUIT (. = end of data).
#                                Anything after "--" goes to smtp-sink as is
#                                (e.g. -- -w 5 to delay the DATA reply).
#                                Sets SINK_PORT, SINK_PID, SINK_DIR.
#   stop_smtp_sink
#   sink_count                   print the number of captured messages
#                                (smtp-sink also captures a message it
#                                rejects at "."; not one rejected earlier)
#   sink_files                   list the capture files
#   sink_wait N [SECS]           wait until sink_count >= N
#
#   start_postfix [OPTIONS]      a private Postfix: config dir PF_DIR
#                                ($T/postfix), queue $T/pfspool, log
#                                $T/maillog, smtpd on 127.0.0.1:PF_PORT,
#                                XCLIENT allowed from 127.0.0.0/8, mail for
#                                @backend.test delivered by virtual(8) into
#                                maildirs $T/mail/USER/new/ (one file per
#                                message).  OPTIONS:
#         --users "a b"          the mailboxes that exist (default: user
#                                alice bob carol postmaster); other local
#                                parts are rejected 550 "User unknown"
#         --catchall             also accept any other @backend.test
#                                recipient (into $T/mail/catchall/)
#         --relay-sink           relayhost = [127.0.0.1]:$SINK_PORT
#                                (start_smtp_sink first); without a relay
#                                host, mail for other domains bounces
#                                (DNS is off: no MX lookups)
#         --relayhost HOST       relayhost = HOST (e.g. [127.0.0.1]:2525)
#         --milter SPEC          smtpd_milters = SPEC (inet:127.0.0.1:PORT or
#                                unix:/path), milter_default_action =
#                                tempfail (change it with -o)
#         -o KEY=VALUE           any main.cf setting (postconf -e), last wins
#         --master LINE          append a line to master.cf
#                                Sets PF_PORT, PF_DIR, PF_PID (master).
#   stop_postfix                 postfix -c PF_DIR stop, then kill master
#   pf_log                       print the path of the maillog
#   pf_mailbox [USER]            list delivered files (of USER, or all)
#   pf_wait_delivered N [SECS]   wait (default 10 s) until >= N delivered
#   pf_queue_count               print the number of queued messages
#   pf_wait_queue_empty [SECS]
#
#   start_gatehouse ARGS...      run "$GATEHOUSE" -f ARGS in the background
#                                (no -f added if ARGS has one), e.g.
#                                start_gatehouse -c /dev/null -o listen=...
#                                proxy; stdout+stderr appended to
#                                ${GH_LOG:-$T/gatehouse.log}.  Sets GH_PID
#                                (the latest; several may run).  Skips (77)
#                                if GATEHOUSE is unset or not executable.
#   stop_gatehouse [PID] [SIG]   send SIG (TERM), wait up to 10 s, set
#                                GH_EXIT to its exit status; returns 1 if it
#                                had to be SIGKILLed
#
#   swaks_send NAME SWAKS-ARGS...  run swaks (timeout 30 s, --timeout 10)
#                                with its transcript in $T/swaks-NAME.log
#                                (also in SWAKS_OUT); returns swaks' status,
#                                so under set -e a failed send ends the test
#                                unless used in `if` or with `|| rc=$?`
#   assert_grep PATTERN FILE     grep -E; fail (showing FILE) unless found
#   assert_not_grep PATTERN FILE fail if found
#   assert_eq EXPECTED ACTUAL MSG
#
#   start_bg NAME CMD...         any other process (fake peer, miltertest):
#                                output in $T/NAME.log, PID in BG_PID,
#                                stopped by the trap like the servers
#   stop_bg PID                  TERM, KILL after 5 s
#
#   stop_all                     stop everything started (as the trap does)
#   gh_started_pids              print every PID the harness ever started
#   gh_leftovers                 print "pid cmd" of each process still alive
#                                that the harness started, or whose cwd or
#                                command line is inside $T (this covers
#                                every Postfix process: cwd = its queue)

set -euo pipefail

if [[ -n "${_GH_HARNESS_LOADED:-}" ]]; then
	return 0
fi
_GH_HARNESS_LOADED=1

GH_SRC=${GH_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
GH_TEST_NAME=$(basename "${0%.sh}")
GH_PY=/usr/bin/python3
[[ -x $GH_PY ]] || GH_PY=$(command -v python3 || true)
_GH_LIB=$GH_SRC/tests/lib

# ---------------------------------------------------------------- basics

# Print a note on stderr.
note() { printf '%s: %s\n' "$GH_TEST_NAME" "$*" >&2; }

# Report a passed check.
ok() { printf 'ok - %s\n' "$*"; }

# End the test as failed.
fail() {
	printf '%s: FAIL: %s\n' "$GH_TEST_NAME" "$*" >&2
	exit 1
}

# End the test as skipped (ctest SKIP_RETURN_CODE 77).
skip() {
	printf '%s: SKIP: %s\n' "$GH_TEST_NAME" "$*" >&2
	exit 77
}

# Skip unless every named program is available.
need() {
	local p
	for p in "$@"; do
		command -v "$p" >/dev/null 2>&1 ||
			skip "needs '$p' (not found in PATH)"
	done
}

# Register a cleanup command for the EXIT trap (run before the stops).
_GH_ON_EXIT=()
on_exit() { _GH_ON_EXIT+=("$1"); }

# Print "STATE STARTTIME" of PID from /proc/PID/stat, nothing if gone.
_gh_stat() {
	local s f
	{ read -r s <"/proc/$1/stat"; } 2>/dev/null || return 0
	s=${s##*) }
	read -ra f <<<"$s"
	printf '%s %s' "${f[0]}" "${f[19]}"
}

# Start times of the processes the harness started, by PID: PIDs are
# reused quickly here (pid_max 32768, many tests), so a PID alone does not
# name a process; this is checked before any signal is sent.
declare -A _GH_START=()

# True if PID exists, is not a zombie, and (if the harness started it) is
# still the same process.
_gh_alive() {
	local st
	st=$(_gh_stat "$1")
	[[ -n $st && ${st%% *} != Z && ${st%% *} != X ]] || return 1
	[[ -z ${_GH_START[$1]:-} || ${_GH_START[$1]} == "${st#* }" ]]
}

# Sleep briefly (0.1 s by default).
_gh_nap() { sleep "${1:-0.1}"; }

# Retry a command every 0.1 s until it succeeds or SECS pass.  Bounded by
# a count of tries, not the clock (the wall clock of a VM may jump).
wait_until() {
	local secs=$1 i
	shift
	for ((i = secs * 10; i > 0; i--)); do
		if "$@"; then
			return 0
		fi
		_gh_nap
	done
	"$@"
}

# Wait until FILE contains a line matching the extended regex PATTERN.
wait_grep() {
	local pat=$1 file=$2 secs=${3:-10}
	wait_until "$secs" grep -Eq -- "$pat" "$file" 2>/dev/null
}

# Fail unless FILE has a line matching PATTERN (grep -E).
assert_grep() {
	local pat=$1 file=$2
	[[ -f $file ]] || fail "assert_grep: no file $file"
	grep -Eq -- "$pat" "$file" && return 0
	note "---- $file (last 40 lines)"
	tail -n 40 "$file" >&2 || true
	fail "pattern '$pat' not found in $file"
}

# Fail if FILE has a line matching PATTERN (grep -E).
assert_not_grep() {
	local pat=$1 file=$2
	[[ -f $file ]] || fail "assert_not_grep: no file $file"
	grep -Eq -- "$pat" "$file" || return 0
	note "---- matching lines of $file"
	grep -En -- "$pat" "$file" | head -n 20 >&2 || true
	fail "pattern '$pat' unexpectedly found in $file"
}

# Fail unless EXPECTED equals ACTUAL.
assert_eq() {
	[[ "$1" == "$2" ]] || fail "${3:-values differ}: expected '$1', got '$2'"
}

# ------------------------------------------------------------- test dir

[[ -n $GH_PY ]] || skip "needs python3 (free_port, dns_query)"
need timeout

# Return 0 if every directory from $1 up to / is searchable by others.
_gh_traversable() {
	local d=$1
	while [[ -n $d && $d != / ]]; do
		[[ $(stat -c %A "$d") == ?????????[xt] ]] || return 1
		d=$(dirname "$d")
	done
}

_gh_tmp=${TMPDIR:-/tmp}
if ! _gh_traversable "$(cd "$_gh_tmp" && pwd -P)"; then
	note "TMPDIR $_gh_tmp not searchable by other users; using /tmp"
	_gh_tmp=/tmp
fi
T=$(mktemp -d "$_gh_tmp/gh-$GH_TEST_NAME.XXXXXX")
chmod 755 "$T"
export T
: >"$T/.pids"
: >"$T/.ports"

# ------------------------------------------------------- process registry

_GH_PROCS=()	# "pid:kind" of running processes, in start order

# Record a started process.
_gh_track() {
	local st
	st=$(_gh_stat "$1")
	_GH_START[$1]=${st#* }
	_GH_PROCS+=("$1:$2")
	printf '%s %s %s\n' "$1" "$2" "${_GH_START[$1]:-0}" >>"$T/.pids"
}

# Forget a process (after it was stopped).
_gh_untrack() {
	local e keep=()
	for e in "${_GH_PROCS[@]}"; do
		[[ ${e%%:*} == "$1" ]] || keep+=("$e")
	done
	_GH_PROCS=("${keep[@]}")
}

# Print every PID the harness ever started (also already stopped ones).
gh_started_pids() { awk '{print $1}' "$T/.pids"; }

# Signal PID, wait up to SECS, SIGKILL if needed, reap.  Returns 0 if it
# ended after SIG, 1 if it was killed, and sets _GH_WAIT to the status
# that `wait` gave (children of this shell only).  Its stderr is meant to
# be discarded: bash prints "Killed"/"Terminated" job notices there.
_gh_signal_wait() {
	local pid=$1 secs=$2 sig=$3 rc=0 i
	_GH_WAIT=
	if _gh_alive "$pid"; then
		kill "-$sig" "$pid" || true
		kill -CONT "$pid" || true
		for ((i = secs * 20; i > 0; i--)); do
			_gh_alive "$pid" || break
			_gh_nap 0.05
		done
		if _gh_alive "$pid"; then
			kill -KILL "$pid" || true
			rc=1
			for ((i = 40; i > 0; i--)); do
				_gh_alive "$pid" || break
				_gh_nap 0.05
			done
		fi
	fi
	_GH_WAIT=0
	wait "$pid" || _GH_WAIT=$?
	return $rc
}

# Stop PID: SIGTERM (plus SIGCONT), wait up to SECS (GH_STOP_GRACE, 5),
# then SIGKILL.  Returns 1 if SIGKILL was needed.
_gh_stop_pid() {
	local pid=$1 secs=${2:-${GH_STOP_GRACE:-5}}
	_gh_signal_wait "$pid" "$secs" TERM 2>/dev/null && return 0
	note "pid $pid ignored SIGTERM for ${secs}s; SIGKILL"
	return 1
}

# Print "pid command" of each process still alive that the harness
# started (same PID and start time), or whose cwd or command line is
# inside $T - every Postfix process has its cwd in the queue directory.
# One python3 scan of /proc; $T is passed in the environment so that the
# scanner does not match itself.
gh_leftovers() {
	GH_T=$T GH_SELF=$$ "$GH_PY" - "$T/.pids" <<'EOF'
import os, sys
T, self_pid = os.environ["GH_T"], os.environ["GH_SELF"]
started = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) >= 3:
        started[f[0]] = f[2]
skip = {self_pid, str(os.getpid()), str(os.getppid())}
for pid in os.listdir("/proc"):
    if not pid.isdigit() or pid in skip:
        continue
    try:
        stat = open("/proc/%s/stat" % pid).read()
        cmd = open("/proc/%s/cmdline" % pid, "rb").read()
    except OSError:
        continue
    rest = stat[stat.rindex(")") + 2:].split()
    if rest[0] in ("Z", "X") or not cmd:
        continue
    cmd = cmd.replace(b"\0", b" ").decode("utf-8", "replace").strip()
    try:
        cwd = os.readlink("/proc/%s/cwd" % pid)
    except OSError:
        cwd = ""
    if (started.get(pid) == rest[19] or cwd == T
            or cwd.startswith(T + "/") or (T + "/") in cmd):
        print(pid, cmd)
EOF
}

# Stop everything still running, most recently started first.
stop_all() {
	local i e pid kind
	for ((i = ${#_GH_PROCS[@]} - 1; i >= 0; i--)); do
		e=${_GH_PROCS[i]}
		pid=${e%%:*}
		kind=${e#*:}
		case $kind in
		postfix-master) stop_postfix || true ;;
		watchdog) ;;
		*) _gh_stop_pid "$pid" || true ;;
		esac
		_gh_untrack "$pid"
	done
}

# Print the tails of every log of this test on stderr.
_gh_dump_logs() {
	local f
	for f in "$T"/*.log "$T"/maillog "$T"/unbound/unbound.log \
	    "${SWAKS_OUT:-}"; do
		[[ -n $f && -s $f ]] || continue
		[[ $f == "$T"/swaks-*.log && $f != "${SWAKS_OUT:-}" ]] &&
			continue
		printf '==== %s (last 30 lines)\n' "$f" >&2
		tail -n 30 "$f" >&2
	done
}

# EXIT trap: run on_exit hooks, stop everything, check for leftovers,
# dump logs on failure, remove $T.
_gh_on_exit() {
	local rc=$? h left i
	set +e
	trap - EXIT INT TERM ERR
	cd / || true
	for h in "${_GH_ON_EXIT[@]}"; do
		eval "$h" || true
	done
	stop_all
	[[ -n ${_GH_WATCHDOG:-} ]] && _gh_stop_pid "$_GH_WATCHDOG" 2
	left=
	for ((i = 0; i < 50; i++)); do
		left=$(gh_leftovers)
		[[ -z $left ]] && break
		_gh_nap 0.1
	done
	if [[ -n $left ]]; then
		printf '%s: FAIL: processes left behind:\n%s\n' \
		    "$GH_TEST_NAME" "$left" >&2
		while read -r i _; do
			kill -KILL "$i" 2>/dev/null
		done <<<"$left"
		rc=1
	fi
	if [[ $rc -ne 0 && $rc -ne 77 ]] || [[ -n ${GH_VERBOSE:-} ]]; then
		_gh_dump_logs
	fi
	if [[ -n ${GH_KEEP:-} && ${GH_KEEP:-} != 0 ]]; then
		note "kept test directory $T"
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
trap _gh_on_exit EXIT
# With set -e an unchecked failing command ends the test: say which.
trap 'note "line $LINENO: \"$BASH_COMMAND\" failed (status $?)"' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

# Watchdog: a background shell that SIGTERMs the test after the timeout.
# bash runs the TERM trap only once its foreground command has ended, so
# the watchdog then also SIGTERMs that command (a child of the test shell
# that the harness did not start as a server).
_gh_start_watchdog() {
	local secs=${GH_TEST_TIMEOUT:-570} main=$$
	(
		trap 'kill "$sp" 2>/dev/null; exit 0' TERM
		sleep "$secs" &
		sp=$!
		wait "$sp"
		printf '%s: watchdog: test ran over %ss\n' \
		    "$GH_TEST_NAME" "$secs" >&2
		kill -TERM "$main"
		sleep 1
		for c in $(ps -o pid= --ppid "$main"); do
			[[ $c == "$BASHPID" ]] && continue
			grep -q "^$c " "$T/.pids" || kill -TERM "$c"
		done
	) </dev/null >/dev/null 2>>"$T/watchdog.log" &
	_GH_WATCHDOG=$!
}
_gh_start_watchdog

# ---------------------------------------------------------------- ports

# Print a free loopback port (TCP and UDP) not yet handed out in this test.
free_port() {
	local p
	p=$("$GH_PY" - "$T/.ports" <<'EOF'
import random, socket, sys
used = set(open(sys.argv[1]).read().split())
lo, hi = 20000, 32767
try:
    a, b = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    if a <= hi:
        hi = max(lo + 1000, a - 1)
except (OSError, ValueError):
    pass
for _ in range(500):
    p = random.randint(lo, hi)
    if str(p) in used:
        continue
    try:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            with socket.socket(socket.AF_INET, kind) as s:
                s.bind(("127.0.0.1", p))
    except OSError:
        continue
    print(p)
    sys.exit(0)
sys.exit(1)
EOF
) || fail "free_port: no free port found"
	echo "$p" >>"$T/.ports"
	echo "$p"
}

# True if a TCP socket is listening on PORT (any address, IPv4 or IPv6).
port_listening() {
	local hex
	hex=$(printf '%04X' "$1")
	awk -v h=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == h \
	    { f = 1 } END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# True if any UDP socket is bound to PORT.
port_udp_bound() {
	local hex
	hex=$(printf '%04X' "$1")
	awk -v h=":$hex" 'substr($2, length($2) - 4) == h { f = 1 } \
	    END { exit !f }' /proc/net/udp /proc/net/udp6 2>/dev/null
}

# Wait until PORT listens (SECS, default 10); fail early if PID dies.
wait_port() {
	local port=$1 secs=${2:-10} pid=${3:-} i
	for ((i = secs * 20; i > 0; i--)); do
		port_listening "$port" && return 0
		if [[ -n $pid ]] && ! _gh_alive "$pid"; then
			note "process $pid exited before listening on $port"
			return 1
		fi
		_gh_nap 0.05
	done
	port_listening "$port" && return 0
	note "port $port not listening after ${secs}s"
	return 1
}

# --------------------------------------------------------------- unbound

UNBOUND_PORT=
UNBOUND_PID=
UNBOUND_CONF=

# Write the unbound configuration for the given RRs / raw lines.
_gh_unbound_conf() {
	local a q
	mkdir -p "$T/unbound"
	{
		cat <<EOF
server:
  interface: 127.0.0.1
  port: $UNBOUND_PORT
  so-reuseport: no
  do-ip6: no
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "$T/unbound"
  pidfile: ""
  use-syslog: no
  logfile: ""
  verbosity: 1
  num-threads: 1
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  local-zone: "." static
EOF
		for a in "$@"; do
			case $a in
			local-zone:* | local-data:* | local-data-ptr:*)
				printf '  %s\n' "$a"
				;;
			*\'*)
				q=${a//\\/\\\\}
				printf '  local-data: "%s"\n' "${q//\"/\\\"}"
				;;
			*)
				printf "  local-data: '%s'\n" "$a"
				;;
			esac
		done
		cat <<EOF
remote-control:
  control-enable: no
EOF
	} >"$UNBOUND_CONF"
}

# Start unbound on UNBOUND_PORT and wait until it answers.
_gh_unbound_launch() {
	local i
	unbound -d -c "$UNBOUND_CONF" </dev/null \
	    >>"$T/unbound/unbound.log" 2>&1 &
	UNBOUND_PID=$!
	_gh_track "$UNBOUND_PID" unbound
	for ((i = 0; i < 100; i++)); do
		if "$GH_PY" "$_GH_LIB/dnsq.py" -t 0.2 127.0.0.1 \
		    "$UNBOUND_PORT" localhost. A >/dev/null 2>&1; then
			return 0
		fi
		_gh_alive "$UNBOUND_PID" || break
		_gh_nap 0.05
	done
	tail -n 20 "$T/unbound/unbound.log" >&2 || true
	fail "unbound did not come up on 127.0.0.1:$UNBOUND_PORT"
}

# Start unbound serving the given RRs (see the header).
start_unbound() {
	need unbound
	[[ -z $UNBOUND_PID ]] || fail "start_unbound: already running"
	UNBOUND_PORT=$(free_port)
	UNBOUND_CONF=$T/unbound/unbound.conf
	_gh_unbound_conf "$@"
	unbound-checkconf "$UNBOUND_CONF" >/dev/null 2>&1 ||
		fail "bad unbound config: $(unbound-checkconf "$UNBOUND_CONF" 2>&1)"
	_gh_unbound_launch
}

# Stop unbound (its port then refuses queries).
stop_unbound() {
	[[ -n $UNBOUND_PID ]] || return 0
	_gh_stop_pid "$UNBOUND_PID" || true
	_gh_untrack "$UNBOUND_PID"
	UNBOUND_PID=
}

# Start unbound again on the same port, optionally with new zone data.
restart_unbound() {
	[[ -n $UNBOUND_PORT ]] || fail "restart_unbound: never started"
	stop_unbound
	if (($#)); then
		_gh_unbound_conf "$@"
	fi
	_gh_unbound_launch
}

# Freeze unbound: queries time out instead of being refused.
pause_unbound() {
	[[ -n $UNBOUND_PID ]] || fail "pause_unbound: unbound not running"
	kill -STOP "$UNBOUND_PID"
}

# Let a paused unbound answer again.
resume_unbound() {
	[[ -n $UNBOUND_PID ]] || fail "resume_unbound: unbound not running"
	kill -CONT "$UNBOUND_PID"
}

# Query the test unbound; prints "status RCODE" and the answers.  Exit
# status 0 on any reply, 2 on timeout or refusal, 1 on a bad reply.
dns_query() {
	local tcp=()
	[[ -n $UNBOUND_PORT ]] || fail "dns_query: start_unbound first"
	[[ ${3:-} == --tcp ]] && tcp=(--tcp)
	"$GH_PY" "$_GH_LIB/dnsq.py" -t 2 "${tcp[@]}" 127.0.0.1 \
	    "$UNBOUND_PORT" "$1" "${2:-A}"
}

# -------------------------------------------------------------- smtp-sink

SINK_PORT=
SINK_PID=
SINK_DIR=$T/sink

# Start smtp-sink capturing one file per message (see the header).
start_smtp_sink() {
	local opts=()
	need smtp-sink
	[[ -z $SINK_PID ]] || fail "start_smtp_sink: already running"
	while (($#)); do
		case $1 in
		--hard) opts+=(-f "$2"); shift 2 ;;
		--soft) opts+=(-r "$2"); shift 2 ;;
		--drop) opts+=(-q "$2"); shift 2 ;;
		--421) opts+=(-Q "$2"); shift 2 ;;
		--) shift; opts+=("$@"); break ;;
		*) fail "start_smtp_sink: unknown option $1" ;;
		esac
	done
	SINK_PORT=$(free_port)
	mkdir -p "$SINK_DIR"
	chown nobody "$SINK_DIR" 2>/dev/null || chmod 777 "$SINK_DIR"
	smtp-sink -u nobody -4 -h sink.test -d "$SINK_DIR/%H%M%S." \
	    "${opts[@]}" "127.0.0.1:$SINK_PORT" 100 </dev/null \
	    >>"$T/sink.log" 2>&1 &
	SINK_PID=$!
	_gh_track "$SINK_PID" smtp-sink
	wait_port "$SINK_PORT" 10 "$SINK_PID" ||
		fail "smtp-sink did not start: $(tail -n 5 "$T/sink.log")"
}

# Stop smtp-sink.
stop_smtp_sink() {
	[[ -n $SINK_PID ]] || return 0
	_gh_stop_pid "$SINK_PID" || true
	_gh_untrack "$SINK_PID"
	SINK_PID=
}

# List the captured message files.
sink_files() {
	[[ -d $SINK_DIR ]] || return 0
	find "$SINK_DIR" -type f | sort
}

# Print the number of captured messages.
sink_count() { sink_files | wc -l; }

# True once at least N messages were captured (used by sink_wait).
_gh_sink_ge() { (($(sink_count) >= $1)); }

# Wait until at least N messages were captured (SECS, default 10).
sink_wait() {
	wait_until "${2:-10}" _gh_sink_ge "$1" ||
		fail "sink_wait: $(sink_count) messages, wanted $1"
}

# ---------------------------------------------------------------- postfix

PF_DIR=$T/postfix
PF_PORT=
PF_PID=

. "$GH_SRC/tests/lib/postfix_conf.sh"

# Start a private Postfix instance (see the header for OPTIONS).
start_postfix() {
	local users="user alice bob carol postmaster" catchall=
	local relay='' milter='' sets=() master=() u
	need postfix postconf
	[[ -z $PF_PID ]] || fail "start_postfix: already running"
	while (($#)); do
		case $1 in
		--users) users=$2; shift 2 ;;
		--catchall) catchall=1; shift ;;
		--relay-sink)
			[[ -n $SINK_PORT ]] ||
				fail "start_postfix --relay-sink: no smtp-sink"
			relay="[127.0.0.1]:$SINK_PORT"
			shift
			;;
		--relayhost) relay=$2; shift 2 ;;
		--milter) milter=$2; shift 2 ;;
		-o) sets+=("$2"); shift 2 ;;
		--master) master+=("$2"); shift 2 ;;
		*) fail "start_postfix: unknown option $1" ;;
		esac
	done
	PF_PORT=$(free_port)
	mkdir -p "$PF_DIR"
	pf_make_dirs "$T/pfspool" "$T/pfdata" "$T/mail"
	{
		echo "# private Postfix instance of test $GH_TEST_NAME" \
		    "(tests/lib/harness.sh)"
		pf_main_cf "$PF_DIR" "$T/pfspool" "$T/pfdata" "$T/mail" \
		    "$T/maillog"
		echo "relayhost = $relay"
	} >"$PF_DIR/main.cf"
	if [[ -n $milter ]]; then
		printf '%s\n' "smtpd_milters = $milter" \
		    "milter_default_action = tempfail" >>"$PF_DIR/main.cf"
	fi
	{
		for u in $users; do
			printf '%s@backend.test %s/\n' "$u" "$u"
		done
		[[ -z $catchall ]] || printf '@backend.test catchall/\n'
	} >"$PF_DIR/mailboxes"
	{
		pf_master_cf "$PF_PORT"
		((${#master[@]} == 0)) || printf '%s\n' "${master[@]}"
	} >"$PF_DIR/master.cf"
	for u in "${sets[@]}"; do
		postconf -c "$PF_DIR" -e "$u" ||
			fail "start_postfix: bad setting -o $u"
	done
	# "postfix start" is post-install create-missing + postsuper + checks
	# + "master -w"; on a fresh instance whose directories were made
	# above the checks find nothing but cost 1-3 s of shell forks, so by
	# default only "master -w" runs (GH_PF_FULLSTART=1: postfix start).
	if [[ -n ${GH_PF_FULLSTART:-} ]]; then
		postfix -c "$PF_DIR" start </dev/null \
		    >>"$T/postfix-start.log" 2>&1 ||
			fail "postfix start failed: $(tail -n 5 "$T/postfix-start.log")"
	else
		"$(postconf -c "$PF_DIR" -h daemon_directory)/master" \
		    -c "$PF_DIR" -w </dev/null >>"$T/postfix-start.log" 2>&1 ||
			fail "postfix master failed: $(tail -n 5 "$T/postfix-start.log")"
	fi
	PF_PID=$(awk '{print $1; exit}' "$T/pfspool/pid/master.pid" \
	    2>/dev/null) || true
	[[ -n $PF_PID ]] || fail "postfix started but wrote no master.pid"
	_gh_track "$PF_PID" postfix-master
	wait_port "$PF_PORT" 10 "$PF_PID" ||
		fail "postfix smtpd not listening on $PF_PORT"
	# postlogd writes asynchronously: let the maillog catch up, so that
	# tests can rely on it from here on.
	wait_grep "master\\[$PF_PID\\]: daemon started" "$T/maillog" 10 ||
		fail "no 'daemon started' line in $T/maillog"
}

# Stop the private Postfix: postfix stop, then the master PID by force.
stop_postfix() {
	local i
	[[ -n $PF_PID ]] || return 0
	postfix -c "$PF_DIR" stop </dev/null >>"$T/postfix-start.log" 2>&1 ||
		true
	for ((i = 0; i < 100; i++)); do
		_gh_alive "$PF_PID" || break
		_gh_nap 0.05
	done
	_gh_stop_pid "$PF_PID" 3 || true
	_gh_untrack "$PF_PID"
	PF_PID=
}

# Print the path of the private Postfix's maillog.
pf_log() { printf '%s\n' "$T/maillog"; }

# List delivered message files (of USER, or of every mailbox).
pf_mailbox() {
	local base=$T/mail
	[[ -n ${1:-} ]] && base=$T/mail/$1
	[[ -d $base ]] || return 0
	find "$base" -type f \( -path '*/new/*' -o -path '*/cur/*' \) | sort
}

# True once at least N messages were delivered.
_gh_pf_ge() { (($(pf_mailbox | wc -l) >= $1)); }

# Wait until at least N messages were delivered (SECS, default 10).
pf_wait_delivered() {
	wait_until "${2:-10}" _gh_pf_ge "$1" ||
		fail "pf_wait_delivered: $(pf_mailbox | wc -l) delivered, wanted $1"
}

# Print the number of messages in the private Postfix's queue.
pf_queue_count() {
	local d n=0 c
	for d in incoming active deferred hold maildrop; do
		[[ -d $T/pfspool/$d ]] || continue
		c=$(find "$T/pfspool/$d" -type f | wc -l)
		n=$((n + c))
	done
	echo "$n"
}

# True if the queue is empty.
_gh_pf_q0() { (($(pf_queue_count) == 0)); }

# Wait until the queue is empty (SECS, default 10).
pf_wait_queue_empty() { wait_until "${1:-10}" _gh_pf_q0; }

# -------------------------------------------------------------- gatehouse

GH_PID=
GH_EXIT=

# Run "$GATEHOUSE" -f ARGS (foreground mode) in the background.
start_gatehouse() {
	local args=("$@") a hasf=
	[[ -n ${GATEHOUSE:-} ]] || skip "GATEHOUSE (path of the binary) not set"
	[[ -x $GATEHOUSE ]] || skip "GATEHOUSE=$GATEHOUSE is not executable"
	for a in "${args[@]}"; do
		[[ $a == -f ]] && hasf=1
	done
	# gatehouse takes its common options before or after the command.
	[[ -n $hasf ]] || args=(-f "${args[@]}")
	"$GATEHOUSE" "${args[@]}" </dev/null \
	    >>"${GH_LOG:-$T/gatehouse.log}" 2>&1 &
	GH_PID=$!
	_gh_track "$GH_PID" gatehouse
}

# Stop gatehouse PID (default GH_PID) with SIG (TERM); set GH_EXIT to its
# exit status (128+N if a signal ended it).  Returns 1 if it was still
# running 10 s after SIG and had to be killed.
stop_gatehouse() {
	local pid=${1:-$GH_PID} sig=${2:-TERM} rc=0
	[[ -n $pid ]] || return 0
	_gh_signal_wait "$pid" 10 "$sig" 2>/dev/null || rc=1
	GH_EXIT=$_GH_WAIT
	((rc == 0)) ||
		note "gatehouse $pid still running 10s after SIG$sig; killed"
	_gh_untrack "$pid"
	[[ $pid != "$GH_PID" ]] || GH_PID=
	return $rc
}

# ---------------------------------------------------------------- generic

BG_PID=

# Run CMD in the background, output in $T/NAME.log, tracked and stopped
# by PID like the servers (for fake peers, miltertest, load generators).
start_bg() {
	local name=$1
	shift
	"$@" </dev/null >>"$T/$name.log" 2>&1 &
	BG_PID=$!
	_gh_track "$BG_PID" "$name"
}

# Stop a process started with start_bg (TERM, then KILL after 5 s).
stop_bg() {
	_gh_stop_pid "$1" || true
	_gh_untrack "$1"
}

# ------------------------------------------------------------------ swaks

SWAKS_OUT=

# Run swaks with a timeout; transcript in $T/swaks-NAME.log.
swaks_send() {
	local name=$1 rc=0
	shift
	need swaks
	SWAKS_OUT=$T/swaks-$name.log
	timeout -k 2 30 swaks --timeout 10 "$@" </dev/null \
	    >"$SWAKS_OUT" 2>&1 || rc=$?
	return $rc
}
