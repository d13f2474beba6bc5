#!/bin/bash
# The harness stops what it starts: unbound, smtp-sink and a private
# Postfix (with a message relayed through it, so that smtpd, cleanup and
# smtp processes exist) are started, then stop_all; none of their PIDs,
# no Postfix child and no listening port may remain.  Also checks that the
# leftover detector sees a stray process and that a process ignoring
# SIGTERM is killed.
. "${GH_SRC:?set GH_SRC to the source root}/tests/lib/harness.sh"
need unbound postfix smtp-sink swaks

start_unbound 'example.test. TXT "v=spf1 -all"'
start_smtp_sink
start_postfix --relay-sink
GH_STOP_GRACE=1
start_bg stubborn bash -c 'trap "" TERM; while :; do sleep 0.2; done'
stubborn=$BG_PID

swaks_send relay --server "127.0.0.1:$PF_PORT" --from a@example.test \
    --to b@elsewhere.test --body cleanup-test || fail "send failed"
sink_wait 1
dns_query example.test TXT >"$T/q.txt"
assert_grep 'TXT "v=spf1 -all"' "$T/q.txt"

pids="$UNBOUND_PID $SINK_PID $PF_PID $stubborn"
# Postfix's processes as "pid:starttime" (a PID may be reused later).
pf_procs=
for p in $(ps -o pid= -g "$PF_PID"); do
	st=$(_gh_stat "$p")
	pf_procs+=" $p:${st#* }"
done
n=$(wc -w <<<"$pf_procs")
((n >= 4)) || fail "expected Postfix master and children, got:$pf_procs"
tcp_ports="$UNBOUND_PORT $SINK_PORT $PF_PORT"
for p in $tcp_ports; do
	port_listening "$p" || fail "port $p not listening before stop"
done
port_udp_bound "$UNBOUND_PORT" || fail "unbound UDP port not bound"
ok "running: $pids, Postfix processes: $n, ports $tcp_ports"

stop_all

for p in $pids; do
	if _gh_alive "$p"; then
		fail "process $p still alive: $(tr '\0' ' ' </proc/"$p"/cmdline)"
	fi
done
for p in $pf_procs; do
	st=$(_gh_stat "${p%%:*}")
	if [[ -n $st && ${st%% *} != Z && ${st#* } == "${p#*:}" ]]; then
		fail "Postfix process ${p%%:*} still alive"
	fi
done
for p in $tcp_ports; do
	! port_listening "$p" || fail "port $p still listening after stop"
done
! port_udp_bound "$UNBOUND_PORT" || fail "UDP port $UNBOUND_PORT still bound"
left=$(gh_leftovers)
[[ -z $left ]] || fail "leftovers: $left"
ok "after stop_all: no process, no port left (SIGTERM-ignoring one killed)"

# The detector must see a process the harness did not start but that
# runs inside $T (e.g. a forgotten child): otherwise the checks above
# prove nothing.
(cd "$T" && exec sleep 30) &
stray=$!
wait_until 5 _gh_alive "$stray" || fail "stray process did not start"
left=$(gh_leftovers)
grep -q "^$stray sleep 30" <<<"$left" ||
	fail "gh_leftovers missed stray $stray: '$left'"
kill "$stray"
wait "$stray" 2>/dev/null || true
[[ -z $(gh_leftovers) ]] || fail "leftovers after killing the stray"
ok "gh_leftovers detects a stray process inside \$T"
