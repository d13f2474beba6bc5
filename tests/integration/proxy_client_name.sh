#!/usr/bin/env bash
# proxy_client_name.sh — the client's name by forward-confirmed reverse
# DNS (client_name_lookup, dns.ptr_timeout): unbound serves PTR and A
# records for TEST-NET clients that gatehouse learns from PROXY headers
# (swaks --proxy-*), a real Postfix behind it logs the name it got by
# XCLIENT NAME.  A confirmed PTR gives the name (Postfix:
# client=mail.client.test[192.0.2.10]); a PTR whose A does not point
# back, no PTR, an AAAA-only name and a lookup past dns.ptr_timeout give
# "unknown" (the last one without holding the banner); the first
# confirmed of several PTR names wins; rules see the name; a direct
# client (no PROXY header) is looked up too; client_name_lookup = no
# sends [UNAVAILABLE].
. "${GH_SRC:?set GH_SRC to the source root}/tests/lib/harness.sh"
need swaks unbound postfix python3

start_unbound \
	'local-data-ptr: "192.0.2.10 mail.client.test"' \
	'mail.client.test. A 192.0.2.10' \
	'local-data-ptr: "192.0.2.11 forged.client.test"' \
	'forged.client.test. A 192.0.2.99' \
	'13.2.0.192.in-addr.arpa. PTR bad.client.test.' \
	'13.2.0.192.in-addr.arpa. PTR good.client.test.' \
	'good.client.test. A 192.0.2.13' \
	'local-data-ptr: "192.0.2.14 v6only.client.test"' \
	'v6only.client.test. AAAA 2001:db8::14' \
	'local-data-ptr: "192.0.2.16 blocked.client.test"' \
	'blocked.client.test. A 192.0.2.16' \
	'local-data-ptr: "2001:db8::20 six.client.test"' \
	'six.client.test. AAAA 2001:db8::20'
start_postfix -o "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination"
cat >"$T/name.rules" <<'RULES'
client   T_BLOCKED_NAME  /^blocked\.client\.test \[/
action   T_BLOCKED_NAME  reject "554 5.7.1 Named client refused"
RULES

gh_start() {	# gh_start PORT [-o KEY=VALUE]...
	local port=$1
	shift
	start_gatehouse -c /dev/null -o "listen=127.0.0.1:$port" \
	    -o "backend=127.0.0.1:$PF_PORT" -o hostname=gate.test \
	    -o "resolver=127.0.0.1@$UNBOUND_PORT" -o dns.ptr_timeout=1s \
	    -o spf.enable=no -o dkim.enable=no -o "rules=$T/name.rules" \
	    -o backend.pool_size=0 -o "spool_dir=$T" "$@" proxy
	wait_port "$port" 10 "$GH_PID" || fail "gatehouse did not start"
}
GH1=$(free_port)
gh_start "$GH1" -o proxy_protocol=yes -o proxy_networks=127.0.0.0/8
GH2=$(free_port)
gh_start "$GH2"
GH3=$(free_port)
gh_start "$GH3" -o client_name_lookup=no

send() {	# send NAME PORT [SWAKS-ARGS...]: one message to user@
	local name=$1 port=$2
	shift 2
	swaks_send "$name" --server "127.0.0.1:$port" --helo "$name.example" \
	    --from sender@example.org --to user@backend.test \
	    --header "Subject: $name" "$@"
}
via_proxy() {	# via_proxy NAME ADDR [VERSION]
	local fam=TCP4 dst=127.0.0.1
	[[ $2 != *:* ]] || { fam=TCP6; dst=::1; }
	if [[ ${3:-1} == 2 ]]; then
		[[ $fam == TCP4 ]] && fam=AF_INET || fam=AF_INET6
	fi
	send "$1" "$GH1" --proxy-version "${3:-1}" --proxy-family "$fam" \
	    --proxy-source "$2" --proxy-source-port 4321 \
	    --proxy-dest "$dst" --proxy-dest-port 25
}
pflog=$(pf_log)

via_proxy confirmed 192.0.2.10
wait_grep ': client=mail\.client\.test\[192\.0\.2\.10\]' "$pflog" 10 ||
	fail "Postfix did not log the confirmed name: $(grep client= "$pflog")"
ok "a forward-confirmed PTR name reaches Postfix by XCLIENT NAME"
assert_grep 'client="192\.0\.2\.10" client_name="mail\.client\.test"' \
    "$T/gatehouse.log"
ok "and the gatehouse log line"

via_proxy forged 192.0.2.11 2
via_proxy nxdomain 192.0.2.12
via_proxy v6only 192.0.2.14 2
for a in 11 12 14; do
	wait_grep ": client=unknown\\[192\\.0\\.2\\.$a\\]" "$pflog" 10 ||
		fail "192.0.2.$a: not unknown: $(grep "192.0.2.$a" "$pflog")"
done
assert_not_grep 'forged\.client\.test|v6only' "$pflog"
ok "PTR not pointing back, no PTR, AAAA-only name: unknown"

via_proxy several 192.0.2.13
wait_grep ': client=good\.client\.test\[192\.0\.2\.13\]' "$pflog" 10 ||
	fail "of two PTR names the confirmed one: $(grep 192.0.2.13 "$pflog")"
ok "of several PTR names the confirmed one is taken"

# (This Postfix is IPv4-only: it refuses XCLIENT ADDR=IPV6:..., so the
# message is not delivered; the name is in gatehouse's log line.)
via_proxy six 2001:db8::20 2 || true
wait_grep 'client="2001:db8::20" client_name="six\.client\.test"' \
    "$T/gatehouse.log" 10 || fail "IPv6 client name not confirmed"
ok "an IPv6 client (ip6.arpa, AAAA)"

rc=0
via_proxy blocked 192.0.2.16 || rc=$?
assert_grep '^<\*\* +554 5\.7\.1 Named client refused' "$SWAKS_OUT"
ok "a client rule sees the confirmed name at CONNECT"

# DNS stops answering: the banner comes at dns.ptr_timeout (1s), the
# name is unknown (XCLIENT NAME=[TEMPUNAVAIL]).
pause_unbound
t0=$(date +%s%N)
python3 - "$GH1" >"$T/slow.txt" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"PROXY TCP4 192.0.2.15 127.0.0.1 4321 25\r\n")
print(s.recv(200).decode().strip())
s.sendall(b"QUIT\r\n")
PY
ms=$((($(date +%s%N) - t0) / 1000000))
resume_unbound
assert_grep '^220 gate\.test' "$T/slow.txt"
((ms >= 800 && ms < 3000)) || fail "banner after ${ms}ms, want ~1000"
wait_grep 'client name lookup (timed out|failed for now).*client=192\.0\.2\.15' \
    "$T/gatehouse.log" 5 || fail "no timeout line"
ok "a lookup past dns.ptr_timeout: banner after ${ms}ms, name unknown"
pause_unbound
via_proxy tempunavail 192.0.2.17
resume_unbound
wait_grep ': client=unknown\[192\.0\.2\.17\]' "$pflog" 10 ||
	fail "Postfix: $(grep 192.0.2.17 "$pflog")"
ok "and the message goes on with an unknown name"

# A direct client, no PROXY header: 127.0.0.1 is localhost (the
# resolver's own zone for 127.in-addr.arpa and localhost).
send direct "$GH2"
wait_grep ': client=localhost\[127\.0\.0\.1\]' "$pflog" 10 ||
	fail "direct client: $(grep 'client=' "$pflog" | tail -1)"
ok "a direct client is looked up too"
send off "$GH3" --local-interface 127.0.0.1
pf_wait_delivered 8 20 || fail "not all delivered: $(pf_mailbox | wc -l)"
grep -rl 'Subject: off' "$T/mail/user/new" >"$T/off.txt" ||
	fail "message 'off' not delivered"
assert_grep 'from off\.example \(unknown \[127\.0\.0\.1\]\)' \
    "$(head -1 "$T/off.txt")"
ok "client_name_lookup = no: Postfix sees no name"
