#!/usr/bin/env bash
# bench/milter.sh — what `gatehouse milter` costs Postfix.
#
# One private Postfix (tests/milter/postfix.sh) with three smtpd
# services: one without milter, one with gatehouse milter on a unix
# socket (the recommended setup), one with a second gatehouse milter on
# inet:127.0.0.1 (TCP_NODELAY set by gatehouse).  Postfix relays to
# smtp-sink.  smtp-source sends 4 KB messages at each concurrency, the
# services taking turns (ROUNDS rounds, the queue drained between runs),
# and the script prints messages per second (median of the rounds), the
# ratio milter / no milter (median of per-round ratios: neighbouring runs
# share the machine's load) and the CPU time Postfix and the milter
# spend per message (robust when the machine is shared).  Target (issue
# 3): ratio >= 0.9.
#
# Usage: bench/milter.sh [BUILD_DIR]   (default: build)
# Environment: CONCURRENCY ("10 100"), MESSAGES (2000), SIZE (4096),
# ROUNDS (3), PROCESS_LIMIT (300), MILTER_CONF (extra configuration lines
# for both milters, e.g. "tag.spam_headers = no").  Needs root (a private
# Postfix).
set -euo pipefail
cd "$(dirname "$0")/.."
GH_SRC=$PWD
GATEHOUSE=${GATEHOUSE:-$PWD/${1:-build}/gatehouse}
CONCURRENCY=${CONCURRENCY:-10 100}
MESSAGES=${MESSAGES:-2000}
SIZE=${SIZE:-4096}
ROUNDS=${ROUNDS:-3}
PROCESS_LIMIT=${PROCESS_LIMIT:-300}
[ -x "$GATEHOUSE" ] || { echo "no gatehouse binary at $GATEHOUSE" >&2; exit 2; }
source "$GH_SRC/bench/postfix.sh"

T=$(mktemp -d)
chmod 755 "$T"
PIDS=()
cleanup() {
	postfix_stop "$T/pf"
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT

PLAIN=$(free_port)
UNIX=$(free_port)
INET=$(free_port)
MINET=$(free_port)
SINK=$(free_port)

smtp-sink -u nobody -c "127.0.0.1:$SINK" 1000 > /dev/null &
PIDS+=($!)

# Two milters: unix socket and inet, same configuration.
start_milter() {
	local listen=$1 name=$2
	cat > "$T/$name.conf" <<CF
milter_listen = $listen
milter_socket_group = postfix
authserv_id = mx.test
rules =
log.level = warning
${MILTER_CONF:-}
CF
	"$GATEHOUSE" -c "$T/$name.conf" -f milter > "$T/$name.log" 2>&1 &
	PIDS+=($!)
}
start_milter "unix:$T/milter.sock" unix
UNIX_MILTER=${PIDS[-1]}
start_milter "inet:$MINET@127.0.0.1" inet
INET_MILTER=${PIDS[-1]}
for i in $(seq 100); do
	[ -S "$T/milter.sock" ] && break
	sleep 0.05
done

postfix_start "$T/pf" "$PLAIN" "$SINK" "" "$PROCESS_LIMIT" ||
	{ cat "$T/pf/start.log" "$T/pf/maillog" >&2; exit 1; }
# The same smtpd twice more, each with a milter.
cat >> "$T/pf/conf/master.cf" <<CF
127.0.0.1:$UNIX inet n - n - - smtpd
  -o smtpd_milters=unix:$T/milter.sock
127.0.0.1:$INET inet n - n - - smtpd
  -o smtpd_milters=inet:127.0.0.1:$MINET
CF
postconf -c "$T/pf/conf" -e max_use=1000000 max_idle=3600s
postfix -c "$T/pf/conf" reload > /dev/null 2>&1
sleep 1
MASTER=$(tr -d ' ' < "$T/pf/spool/pid/master.pid")

# Wait until Postfix's queue is empty (the previous run relayed).
drain() {
	local i
	for i in $(seq 600); do
		[ -z "$(find "$T/pf/spool/incoming" "$T/pf/spool/active" \
		    "$T/pf/spool/deferred" -type f 2>/dev/null | head -1)" ] &&
			return 0
		sleep 0.1
	done
	echo "queue does not drain" >&2
	exit 1
}

# CPU ticks used so far by the mail system: Postfix's master and its
# children (max_use is raised so that they live through a run) and both
# milters.  Immune to whatever else runs on the machine.
mail_ticks() {
	local pids=("$MASTER" "$UNIX_MILTER" "$INET_MILTER") p
	for p in /proc/[0-9]*/stat; do
		{ read -r -a f < "$p"; } 2>/dev/null || continue
		[ "${f[3]}" = "$MASTER" ] && pids+=("${f[0]}")
	done
	for p in "${pids[@]}"; do cat "/proc/$p/stat" 2>/dev/null; done |
		awk '{ t += $14 + $15 } END { print t }'
}

# CPU ticks used so far by the unix milter alone.
milter_ticks() { awk '{ print $14 + $15 }' "/proc/$UNIX_MILTER/stat"; }

# One run: print messages per second, mail-system CPU ms per message
# (the relay to smtp-sink included: the queue is drained) and the unix
# milter's CPU us per message.
run() {
	local port=$1 conc=$2 t0 t1 c0 c1 m0 m1
	drain
	c0=$(mail_ticks); m0=$(milter_ticks)
	t0=$(date +%s.%N)
	smtp-source -s "$conc" -m "$MESSAGES" -l "$SIZE" -f a@example.org \
		-t b@example.net "127.0.0.1:$port" > /dev/null 2>&1
	t1=$(date +%s.%N)
	drain
	c1=$(mail_ticks); m1=$(milter_ticks)
	python3 -c "hz = $(getconf CLK_TCK)
print('%.1f %.2f %.0f' % ($MESSAGES / ($t1 - $t0),
    ($c1 - $c0) * 1000.0 / hz / $MESSAGES,
    ($m1 - $m0) * 1e6 / hz / $MESSAGES))"
}

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }

run "$PLAIN" 10 > /dev/null	# warm up
run "$UNIX" 10 > /dev/null
run "$INET" 10 > /dev/null
printf '%-5s | %9s %9s %9s | %6s %6s | %s\n' conc "none" "unix" "inet" \
	"unix" "inet" "CPU ms/msg: none unix inet (unix milter us/msg)"
for conc in $CONCURRENCY; do
	p=(); u=(); n=(); ru=(); rn=(); pc=(); uc=(); nc=(); um=()
	for r in $(seq "$ROUNDS"); do
		read -r a ac _ < <(run "$PLAIN" "$conc")
		read -r b bc bm < <(run "$UNIX" "$conc")
		read -r c cc _ < <(run "$INET" "$conc")
		um+=("$bm")
		p+=("$a"); u+=("$b"); n+=("$c")
		pc+=("$ac"); uc+=("$bc"); nc+=("$cc")
		# Neighbouring runs see the same machine load: a ratio per
		# round, then the median of the ratios.
		ru+=("$(ratio "$b" "$a")"); rn+=("$(ratio "$c" "$a")")
	done
	printf '%-5s | %9s %9s %9s | %6s %6s | %s %s %s (%s)\n' "$conc" \
		"$(median "${p[@]}")" "$(median "${u[@]}")" \
		"$(median "${n[@]}")" "$(median "${ru[@]}")" \
		"$(median "${rn[@]}")" "$(median "${pc[@]}")" \
		"$(median "${uc[@]}")" "$(median "${nc[@]}")" \
		"$(median "${um[@]}")"
done
echo "msgs/s: median of $ROUNDS runs of $MESSAGES messages of $SIZE bytes;"
echo "ratio: with milter / without, median of per-round ratios (target >= 0.9);"
echo "CPU: Postfix and milter CPU time per message, relay to the sink included."
# Every message must have gone through the milters: none refused.
if grep -E "warning: milter|milter.*(error|timeout)" "$T/pf/maillog" | head -3 |
    grep -q .; then
	echo "Postfix reported milter problems:" >&2
	grep -E "warning: milter|milter.*(error|timeout)" "$T/pf/maillog" | head -3 >&2
	exit 1
fi
