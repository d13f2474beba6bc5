#!/usr/bin/env bash
# SPF through `gatehouse spf` with the shared harness: a real unbound
# (start_unbound) serves the zone; each result, then the resolver
# frozen (pause_unbound): temperror within dns.timeout, not later; and
# back to pass once it answers again.  The per-domain cases (limits,
# concurrency, CVE guards) are in spf_cli.sh, the RFC 7208 suite in
# spf_rfc7208.sh.
. "${GH_SRC:?set GH_SRC to the source root}/tests/lib/harness.sh"
need unbound
[[ -x ${GATEHOUSE:-} ]] || skip "GATEHOUSE is not set"

start_unbound \
	'pass.test. TXT "v=spf1 ip4:192.0.2.0/24 -all"' \
	'soft.test. TXT "v=spf1 ip4:192.0.2.0/24 ~all"' \
	'neutral.test. TXT "v=spf1 ?all"' \
	'nospf.test. TXT "hello"' \
	'inc.test. TXT "v=spf1 include:pass.test -all"' \
	'mx.test. TXT "v=spf1 mx -all"' \
	'mx.test. MX 10 mail.mx.test.' \
	'mail.mx.test. A 198.51.100.25' \
	'helo.test. TXT "v=spf1 a -all"' \
	'helo.test. A 203.0.113.5'

# spf RESULT IP SENDER [ARGS...]: one check, its result must be RESULT.
spf() {
	local want=$1 ip=$2 sender=$3 out
	shift 3
	out=$T/spf.$RANDOM
	"$GATEHOUSE" spf -o "resolver=127.0.0.1@$UNBOUND_PORT" \
	    -o dns.timeout=700ms -o dns.budget=2s --ip "$ip" \
	    --sender "$sender" --no-helo "$@" >"$out" 2>&1 ||
		fail "gatehouse spf failed: $(cat "$out")"
	assert_grep "^result: $want\$" "$out"
	ok "$sender from $ip: $want"
	LAST=$out
}

spf pass 192.0.2.10 joe@pass.test
spf fail 198.51.100.7 joe@pass.test
assert_grep '^explanation: pass.test does not designate 198.51.100.7 as permitted sender$' "$LAST"
spf softfail 198.51.100.7 joe@soft.test
spf neutral 198.51.100.7 joe@neutral.test
spf none 198.51.100.7 joe@nospf.test
spf none 198.51.100.7 joe@nowhere.test
spf pass 192.0.2.10 joe@inc.test
assert_grep '^  TXT +pass\.test -> ok' "$LAST"
spf pass 198.51.100.25 joe@mx.test
assert_grep '^  A +mail\.mx\.test -> ok 198\.51\.100\.25' "$LAST"
spf pass 203.0.113.5 '' --helo helo.test
assert_grep '^identity: helo$' "$LAST"
spf fail 192.0.2.10 '' --helo helo.test

# A resolver that stops answering: temperror after dns.timeout.
pause_unbound
t0=$(date +%s%N)
spf temperror 192.0.2.10 joe@pass.test
ms=$((($(date +%s%N) - t0) / 1000000))
((ms >= 650 && ms < 2000)) || fail "temperror after $ms ms, not ~700"
ok "temperror after $ms ms (dns.timeout 700ms)"
resume_unbound
spf pass 192.0.2.10 joe@pass.test
