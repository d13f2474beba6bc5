#!/usr/bin/env bash
# Started as root, the proxy binds, then runs as `user` before reading a
# byte from a client; GET /metrics after a run shows that run's counts
# (sessions, messages by verdict, rule hits, stage latency).
. "$GH_SRC/tests/lib/harness.sh"
need swaks python3
[ "$(id -u)" = 0 ] || skip "needs root to test dropping it"

start_smtp_sink
port=$(free_port)
mport=$(free_port)
cat > "$T/gtube.txt" <<'MSG'
XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X
MSG
start_gatehouse -c /dev/null -o "listen=127.0.0.1:$port" \
	-o "backend=127.0.0.1:$SINK_PORT" -o "metrics_listen=127.0.0.1:$mport" \
	-o spf.enable=no -o dkim.enable=no -o user=nobody \
	-o "rules=$GH_SRC/rules/default/*.rules" -o "spool_dir=$T" proxy
wait_port "$port" 20 "$GH_PID" || fail "proxy did not listen"

uid=$(awk '/^Uid:/ { print $2 "," $3 "," $4 "," $5 }' "/proc/$GH_PID/status")
nobody=$(id -u nobody)
assert_eq "$nobody,$nobody,$nobody,$nobody" "$uid"
grep -q "running as user nobody" "$T/gatehouse.log" || fail "drop not logged"

for i in 1 2 3; do
	swaks_send ham$i --server "127.0.0.1:$port" --from a@example.org \
		--to b@example.org --header "Subject: hello $i" ||
		fail "ham $i refused"
done
swaks_send gtube --server "127.0.0.1:$port" --from a@example.org \
	--to b@example.org --body "$T/gtube.txt" && fail "GTUBE accepted"
assert_grep '554 5.7.1' "$SWAKS_OUT"

python3 - "$mport" > "$T/metrics" <<'PY' || fail "cannot scrape /metrics"
import sys, urllib.request
print(urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1],
                             timeout=10).read().decode())
PY
assert_grep '^gatehouse_messages_total\{verdict="continue"\} 3$' "$T/metrics"
assert_grep '^gatehouse_messages_total\{verdict="reject"\} 1$' "$T/metrics"
assert_grep '^gatehouse_rule_hits_total\{rule="GTUBE",mode="live"\} 1$' "$T/metrics"
assert_grep '^gatehouse_sessions_total 4$' "$T/metrics"
assert_grep '^gatehouse_stage_duration_seconds_count\{stage="eom"\} 4$' "$T/metrics"
stop_gatehouse
ok "dropped to nobody; metrics counted the run"
