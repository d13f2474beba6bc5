#!/usr/bin/env bash
# bench/milter.sh — what `gatehouse milter` costs Postfix.
#
# One private Postfix (bench/postfix.sh) with four smtpd services: one
# without milter; one with the cheapest milter there is
# (bench/noop_milter.c, libmilter, every skippable step skipped: the
# floor, what Postfix's own milter client costs whatever the milter
# does); one with gatehouse milter on a unix socket (the recommended
# setup); one with a second gatehouse milter on inet:127.0.0.1.  Postfix
# relays to smtp-sink.  smtp-source sends 4 KB messages at each
# concurrency, the services taking turns (ROUNDS rounds, the queue
# drained between runs), and the script prints messages per second
# (median of the rounds), the ratios to no milter (median of per-round
# ratios: neighbouring runs share the machine's load), the CPU time
# Postfix and the milter spend per message, and the context switches
# per message (both robust when the machine is shared).  Target (issue
# 3): gatehouse / no milter >= 0.9.
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
NOOP=$(free_port)
UNIX=$(free_port)
INET=$(free_port)
MINET=$(free_port)
SINK=$(free_port)
DNS=$(free_port)

# DNS from a local unbound, so that SPF runs for real (pass: the
# sender's domain allows loopback) and no query leaves the machine.
cat > "$T/unbound.conf" <<CF
server:
  interface: 127.0.0.1
  port: $DNS
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "$T"
  pidfile: ""
  use-syslog: no
  logfile: "$T/unbound.log"
  num-threads: 1
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  local-zone: "." static
  local-data: 'bench.test. 3600 TXT "v=spf1 ip4:127.0.0.0/8 -all"'
remote-control:
  control-enable: no
CF
unbound -d -c "$T/unbound.conf" > /dev/null 2>&1 &
PIDS+=($!)

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
resolver = 127.0.0.1@$DNS
metrics_listen =
${MILTER_CONF:-}
CF
	"$GATEHOUSE" -c "$T/$name.conf" -f milter > "$T/$name.log" 2>&1 &
	PIDS+=($!)
}
start_milter "unix:$T/milter.sock" unix
UNIX_MILTER=${PIDS[-1]}
start_milter "inet:$MINET@127.0.0.1" inet
INET_MILTER=${PIDS[-1]}
cc -O2 -o "$T/noop_milter" bench/noop_milter.c -lmilter -lpthread
"$T/noop_milter" "unix:$T/noop.sock" > "$T/noop.log" 2>&1 &
PIDS+=($!)
NOOP_MILTER=${PIDS[-1]}
for i in $(seq 100); do
	[ -S "$T/milter.sock" ] && [ -S "$T/noop.sock" ] && break
	sleep 0.05
done

postfix_start "$T/pf" "$PLAIN" "$SINK" "" "$PROCESS_LIMIT" ||
	{ cat "$T/pf/start.log" "$T/pf/maillog" >&2; exit 1; }
# The same smtpd three times more, each with a milter.
cat >> "$T/pf/conf/master.cf" <<CF
127.0.0.1:$NOOP inet n - n - - smtpd
  -o smtpd_milters=unix:$T/noop.sock
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

# CPU ticks and context switches used so far by the mail system:
# Postfix's master and its children (max_use is raised so that they live
# through a run) and the milters, every thread.  Immune to whatever else
# runs on the machine.
mail_ticks() {
	local pids=("$MASTER" "$UNIX_MILTER" "$INET_MILTER" "$NOOP_MILTER") p
	for p in /proc/[0-9]*/stat; do
		{ read -r -a f < "$p"; } 2>/dev/null || continue
		[ "${f[3]}" = "$MASTER" ] && pids+=("${f[0]}")
	done
	for p in "${pids[@]}"; do
		cat "/proc/$p/stat" 2>/dev/null | awk '{ print "t", $14 + $15 }'
		cat /proc/$p/task/*/status 2>/dev/null |
			awk '/ctxt_switches/ { print "c", $2 }'
	done | awk '$1 == "t" { t += $2 } $1 == "c" { c += $2 }
		END { print t, c }'
}

# CPU ticks used so far by the milter of the service on port $1.
milter_ticks() {
	local p=
	case $1 in
	"$UNIX") p=$UNIX_MILTER ;;
	"$INET") p=$INET_MILTER ;;
	"$NOOP") p=$NOOP_MILTER ;;
	*) echo 0; return ;;
	esac
	awk '{ print $14 + $15 }' "/proc/$p/stat"
}

# One run: print messages per second, mail-system CPU ms per message
# (the relay to smtp-sink included: the queue is drained), the milter's
# CPU us per message and the mail system's context switches per message.
run() {
	local port=$1 conc=$2 t0 t1 c0 c1 s0 s1 m0 m1
	drain
	read -r c0 s0 < <(mail_ticks); m0=$(milter_ticks "$port")
	t0=$(date +%s.%N)
	smtp-source -s "$conc" -m "$MESSAGES" -l "$SIZE" -f a@bench.test \
		-t b@example.net "127.0.0.1:$port" > /dev/null 2>&1
	t1=$(date +%s.%N)
	drain
	read -r c1 s1 < <(mail_ticks); m1=$(milter_ticks "$port")
	python3 -c "hz = $(getconf CLK_TCK)
print('%.1f %.2f %.0f %.1f' % ($MESSAGES / ($t1 - $t0),
    ($c1 - $c0) * 1000.0 / hz / $MESSAGES,
    ($m1 - $m0) * 1e6 / hz / $MESSAGES, ($s1 - $s0) / $MESSAGES))"
}

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }

run "$PLAIN" 10 > /dev/null	# warm up
run "$NOOP" 10 > /dev/null
run "$UNIX" 10 > /dev/null
run "$INET" 10 > /dev/null
printf '%-4s | %7s %7s %7s %7s | %5s %5s %5s | %s\n' conc none noop unix \
	inet noop unix inet \
	"CPU ms/msg none noop unix inet | milter us/msg noop unix | cs/msg none noop unix"
for conc in $CONCURRENCY; do
	declare -A v=()
	for r in $(seq "$ROUNDS"); do
		for svc in PLAIN NOOP UNIX INET; do
			read -r mps cpu mus cs < <(run "${!svc}" "$conc")
			v[$svc.mps]+="$mps "; v[$svc.cpu]+="$cpu "
			v[$svc.mus]+="$mus "; v[$svc.cs]+="$cs "
			eval "last_$svc=$mps"
		done
		# Neighbouring runs see the same machine load: a ratio per
		# round, then the median of the ratios.
		for svc in NOOP UNIX INET; do
			v[$svc.r]+="$(ratio "$(eval echo \$last_$svc)" "$last_PLAIN") "
		done
	done
	m() { median ${v[$1]}; }
	printf '%-4s | %7s %7s %7s %7s | %5s %5s %5s | %s %s %s %s | %s %s | %s %s %s\n' \
		"$conc" "$(m PLAIN.mps)" "$(m NOOP.mps)" "$(m UNIX.mps)" \
		"$(m INET.mps)" "$(m NOOP.r)" "$(m UNIX.r)" "$(m INET.r)" \
		"$(m PLAIN.cpu)" "$(m NOOP.cpu)" "$(m UNIX.cpu)" "$(m INET.cpu)" \
		"$(m NOOP.mus)" "$(m UNIX.mus)" \
		"$(m PLAIN.cs)" "$(m NOOP.cs)" "$(m UNIX.cs)"
	unset v
done
echo "msgs/s: median of $ROUNDS runs of $MESSAGES messages of $SIZE bytes;"
echo "ratios: with that milter / without, median of per-round ratios"
echo "(target for gatehouse, unix: >= 0.9; noop: the floor, Postfix's own"
echo "milter client); CPU: Postfix and milter CPU time per message, relay"
echo "to the sink included; cs: context switches per message, same scope."
# Every message must have gone through the milters: none refused.
if grep -E "warning: milter|milter.*(error|timeout)" "$T/pf/maillog" | head -3 |
    grep -q .; then
	echo "Postfix reported milter problems:" >&2
	grep -E "warning: milter|milter.*(error|timeout)" "$T/pf/maillog" | head -3 >&2
	exit 1
fi
