#!/usr/bin/env bash
# haproxy_scaleout.sh — scale-out behind a load balancer: a real HAProxy
# on loopback (mode tcp, round robin) in front of TWO gatehouse proxy
# instances (proxy_protocol = yes, proxy_networks = 127.0.0.0/8), one
# reached with send-proxy-v2 and one with send-proxy (v1), in front of
# ONE private Postfix with smtpd_authorized_xclient_hosts.  The client
# connects from 127.0.0.5: mail from both paths arrives and Postfix's
# log names 127.0.0.5 as the client of every message, never the
# balancer or gatehouse.  A third instance whose proxy_networks
# (127.0.0.9/32) does not hold the balancer refuses its v1 and v2
# headers: the client gets no banner.  The HAProxy configuration is the
# one docs/scaling.md shows.
. "${GH_SRC:?set GH_SRC to the source root}/tests/lib/harness.sh"
need haproxy swaks postfix

start_postfix
pflog=$(pf_log)

GH1=$(free_port) GH2=$(free_port) GH3=$(free_port)
gh_start() {	# gh_start PORT LOG [-o KEY=VALUE]...
	local port=$1 log=$2
	shift 2
	GH_LOG=$log start_gatehouse -c /dev/null \
	    -o "listen=127.0.0.1:$port" -o "backend=127.0.0.1:$PF_PORT" \
	    -o hostname=gate.test -o spf.enable=no -o dkim.enable=no \
	    -o rules= -o "spool_dir=$T" -o log.level=debug \
	    -o proxy_protocol=yes "$@" proxy
	wait_port "$port" 10 "$GH_PID" || fail "gatehouse on $port did not start"
}
gh_start "$GH1" "$T/gh1.log" -o proxy_networks=127.0.0.0/8
gh_start "$GH2" "$T/gh2.log" -o proxy_networks=127.0.0.0/8
gh_start "$GH3" "$T/gh3.log" -o proxy_networks=127.0.0.9/32

LB=$(free_port) LB_BAD=$(free_port)
cat >"$T/haproxy.cfg" <<EOF
global
	maxconn 100

defaults
	mode tcp
	timeout connect 5s
	timeout client 60s
	timeout server 60s

frontend smtp
	bind 127.0.0.1:$LB
	default_backend gatehouse

backend gatehouse
	balance roundrobin
	option smtpchk EHLO lb.test
	server gh1 127.0.0.1:$GH1 send-proxy-v2 check check-send-proxy inter 1s
	server gh2 127.0.0.1:$GH2 send-proxy check check-send-proxy inter 1s

frontend smtp_untrusted
	bind 127.0.0.1:$LB_BAD
	default_backend untrusted

backend untrusted
	balance roundrobin
	server gh3a 127.0.0.1:$GH3 send-proxy-v2
	server gh3b 127.0.0.1:$GH3 send-proxy
EOF
haproxy -c -f "$T/haproxy.cfg" >"$T/haproxy-check.log" 2>&1 ||
	fail "haproxy -c: $(cat "$T/haproxy-check.log")"
start_bg haproxy haproxy -db -f "$T/haproxy.cfg"
wait_port "$LB" 10 "$BG_PID" || fail "haproxy did not start"

# Health checks (option smtpchk, check-send-proxy) reach both instances:
# a header (v2: LOCAL, the balancer itself), the banner, EHLO.
wait_grep 'PROXY v2 header from 127\.0\.0\.1: LOCAL' "$T/gh1.log" 10 ||
	fail "no health check with a LOCAL header reached gatehouse 1"
wait_grep 'PROXY v1 header from 127\.0\.0\.1' "$T/gh2.log" 10 ||
	fail "no health check reached gatehouse 2"
for n in 1 2; do
	wait_grep '<<< EHLO lb\.test' "$T/gh$n.log" 10 ||
		fail "no health check EHLO reached gatehouse $n"
done
ok "HAProxy's SMTP health checks pass through the PROXY header"

for i in 1 2 3 4; do
	swaks_send "m$i" --server "127.0.0.1:$LB" --local-interface 127.0.0.5 \
	    --helo "client$i.example" --from sender@example.org \
	    --to user@backend.test --header "Subject: scale-out $i" ||
		fail "message $i: $(tail -5 "$SWAKS_OUT")"
	assert_grep '^<-  250 2\.0\.0 Ok: .*queued as' "$SWAKS_OUT"
done
pf_wait_delivered 4 20
ok "4 messages through HAProxy and gatehouse delivered"

for n in 1 2; do
	c=$(grep -c 'message client="127\.0\.0\.5"' "$T/gh$n.log" || true)
	((c == 2)) || fail "gatehouse $n relayed $c messages, want 2"
done
assert_grep 'PROXY v2 header from 127\.0\.0\.1' "$T/gh1.log"
assert_grep 'PROXY v1 header from 127\.0\.0\.1' "$T/gh2.log"
ok "both paths carried mail (send-proxy-v2 to one, send-proxy to the other)"

c=$(grep -c ': client=unknown\[127\.0\.0\.5\]' "$pflog" || true)
((c == 4)) || fail "Postfix names 127.0.0.5 for $c messages, want 4"
assert_not_grep ': client=[^,]*\[127\.0\.0\.1\]' "$pflog"
for f in $(pf_mailbox user); do
	assert_grep 'from client[1-4]\.example \(unknown \[127\.0\.0\.5\]\)' "$f"
done
ok "Postfix's log and Received: show the original client 127.0.0.5"

# The third instance does not trust the balancer: its headers are refused
# and the client gets no banner, through either server line.
for i in 1 2; do
	rc=0
	swaks_send "bad$i" --server "127.0.0.1:$LB_BAD" \
	    --local-interface 127.0.0.5 --from sender@example.org \
	    --to user@backend.test || rc=$?
	((rc != 0)) || fail "a refused balancer's client got through"
	assert_not_grep '^<-  220' "$SWAKS_OUT"
done
c=$(grep -c 'PROXY header refused peer=127\.0\.0\.1: peer outside' \
    "$T/gh3.log" || true)
((c >= 2)) || fail "gatehouse 3 logged $c refusals, want 2"
assert_not_grep 'message client=' "$T/gh3.log"
ok "a balancer outside proxy_networks is refused (v1 and v2)"
