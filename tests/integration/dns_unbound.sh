#!/bin/bash
# unbound serves TXT records from a test zone under .test; names that are
# not in the zone get NXDOMAIN without leaving the machine; stop and
# restart (used by fault-injection tests) work on the same port.
. "${GH_SRC:?set GH_SRC to the source root}/tests/lib/harness.sh"
need unbound

spf='v=spf1 ip4:127.0.0.0/8 -all'
# A DKIM-like record longer than 255 octets, split into two strings.
long_a=$(printf 'a%.0s' {1..200})
long_b=$(printf 'b%.0s' {1..150})
start_unbound \
    "example.test. TXT \"$spf\"" \
    "sel._domainkey.example.test. TXT \"v=DKIM1; k=rsa; p=$long_a\" \"$long_b\"" \
    'mx.example.test. A 127.0.0.2'

out=$T/q1.txt
dns_query example.test TXT >"$out" || fail "query failed"
assert_grep '^status NOERROR$' "$out"
assert_grep "^example\\.test\\. [0-9]+ TXT \"v=spf1 ip4:127\\.0\\.0\\.0/8 -all\"\$" "$out"
assert_eq 1 "$(grep -c ' TXT ' "$out")" "number of TXT answers"
ok "TXT record over UDP"

dns_query example.test TXT --tcp >"$T/q1tcp.txt" || fail "TCP query failed"
assert_grep 'TXT "v=spf1 ip4:127\.0\.0\.0/8 -all"$' "$T/q1tcp.txt"
ok "TXT record over TCP"

dns_query sel._domainkey.example.test TXT >"$T/q2.txt"
assert_grep "TXT \"v=DKIM1; k=rsa; p=$long_a\" \"$long_b\"\$" "$T/q2.txt"
ok "TXT record with two strings (> 255 octets)"

dns_query mx.example.test A >"$T/q3.txt"
assert_grep '^mx\.example\.test\. [0-9]+ A 127\.0\.0\.2$' "$T/q3.txt"
dns_query nosuch.example.test TXT >"$T/q4.txt"
assert_grep '^status NXDOMAIN$' "$T/q4.txt"
dns_query www.example.com A >"$T/q5.txt"
assert_grep '^status NXDOMAIN$' "$T/q5.txt"
ok "A record; unknown names NXDOMAIN"

port=$UNBOUND_PORT
stop_unbound
if dns_query example.test TXT >"$T/q6.txt" 2>&1; then
	fail "query answered after stop_unbound: $(cat "$T/q6.txt")"
fi
restart_unbound 'example.test. TXT "v=spf1 -all"'
assert_eq "$port" "$UNBOUND_PORT" "port after restart"
dns_query example.test TXT >"$T/q7.txt"
assert_grep 'TXT "v=spf1 -all"$' "$T/q7.txt"
ok "stop, then restart with new data on the same port"

pause_unbound
if dns_query example.test TXT >"$T/q8.txt" 2>&1; then
	fail "query answered while unbound paused"
fi
resume_unbound
dns_query example.test TXT >"$T/q9.txt"
assert_grep 'TXT "v=spf1 -all"$' "$T/q9.txt"
ok "pause makes queries time out; resume answers again"
