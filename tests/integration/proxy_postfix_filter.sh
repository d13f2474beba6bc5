#!/usr/bin/env bash
# proxy_postfix_filter.sh — gatehouse as Postfix's smtpd_proxy_filter
# (Postfix SMTPD_PROXY_README): client -> Postfix smtpd (front) ->
# gatehouse -> Postfix smtpd (back, the queue).  The front speaks EHLO and
# XFORWARD to gatehouse (a trusted network); gatehouse passes the original
# client on with XCLIENT (and sends with DATA: backend.chunking=no;
# proxy_postfix.sh covers BDAT); a message the chain refuses (GTUBE) is refused
# to the client with gatehouse's reply and never queued.
set -u
for c in postfix postconf swaks python3; do
	command -v "$c" >/dev/null || { echo "skip: $c missing"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "skip: Postfix needs root"; exit 77; }
. "$GH_SRC/tests/lib/postfix_local.sh"

T=$(mktemp -d /tmp/gh-proxy-pffilter.XXXXXX)
GH_PID=
fails=0
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {
	local i
	for i in $(seq 1 100); do
		(exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
check() {
	local what=$1
	shift
	if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}
cleanup() {
	[ -n "$GH_PID" ] && kill "$GH_PID" 2>/dev/null && wait "$GH_PID" 2>/dev/null
	postfix_local_stop "$T"
	if [ "$fails" = 0 ]; then rm -rf "$T"; else echo "logs in $T"; fi
}
trap cleanup EXIT

BACK=$(free_port)
FRONT=$(free_port)
GH_PORT=$(free_port)
postfix_local_start "$T" "$BACK" \
	"127.0.0.1:$FRONT inet n - n - - smtpd -o smtpd_proxy_filter=127.0.0.1:$GH_PORT -o smtpd_proxy_ehlo=front.test" ||
	exit 1
wait_port "$FRONT" || { echo "front smtpd did not start"; exit 1; }

"$GATEHOUSE" -f -c /dev/null -o "listen=127.0.0.1:$GH_PORT" \
	-o "backend=127.0.0.1:$BACK" -o hostname=gate.test \
	-o trusted_networks=127.0.0.1/32 -o "spool_dir=$T" \
	-o "rules=$GH_SRC/rules/default/*.rules" -o dkim.enable=no \
	-o spf.enable=no -o backend.chunking=no \
	proxy 2>"$T/gatehouse.log" &
GH_PID=$!
wait_port "$GH_PORT" || { echo "gatehouse did not start"; exit 1; }

swaks --server "127.0.0.1:$FRONT" --local-interface 127.0.0.2 \
	--helo real-helo.example --from sender@example.org \
	--to user@backend.test --header "Subject: via the proxy filter" \
	>"$T/swaks1.log" 2>&1
check "accepted through front -> gatehouse -> back" \
	grep -Eq '^<-  250 2\.0\.0 Ok: .*queued as' "$T/swaks1.log"
check "gatehouse learned the original client from XFORWARD" \
	grep -q 'message client="127.0.0.2".*helo="real-helo.example".*verdict=continue' \
	"$T/gatehouse.log"
for i in $(seq 1 50); do
	ls "$T"/mail/user/new/* >/dev/null 2>&1 && break
	sleep 0.1
done
check "the queueing smtpd saw the original client (XCLIENT)" \
	grep -q ': client=unknown\[127.0.0.2\]' "$T/maillog"
check "the message carries gatehouse's Authentication-Results" \
	grep -rq '^Authentication-Results: gate.test' "$T/mail/user/new"

gtube='XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'
swaks --server "127.0.0.1:$FRONT" --local-interface 127.0.0.2 \
	--helo real-helo.example --from sender@example.org \
	--to user@backend.test --body "$gtube" >"$T/swaks2.log" 2>&1
check "the chain's refusal reaches the client through the front" \
	grep -q '^<\*\* 554 5.7.1 Message refused: GTUBE' "$T/swaks2.log"
sleep 1
check "and nothing more was delivered" \
	test "$(ls "$T"/mail/user/new | wc -l)" = 1
check "Postfix logged the proxy's refusal" \
	grep -q 'proxy-reject: END-OF-MESSAGE: 554 5.7.1 Message refused: GTUBE' \
	"$T/maillog"
[ "$fails" = 0 ]
