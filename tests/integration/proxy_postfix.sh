#!/usr/bin/env bash
# proxy_postfix.sh — gatehouse proxy in front of a real Postfix with
# smtpd_authorized_xclient_hosts: a message sent from 127.0.0.2 with HELO
# real-helo.example is delivered, and Postfix's log and Received: header
# name the client that really connected (via XCLIENT), not gatehouse.
# A recipient Postfix refuses is refused with Postfix's own reply.
set -u
for c in postfix postconf swaks python3; do
	command -v "$c" >/dev/null || { echo "skip: $c missing"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "skip: Postfix needs root"; exit 77; }

T=$(mktemp -d /tmp/gh-proxy-postfix.XXXXXX)
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
check() {	# check DESCRIPTION COMMAND...
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

PF_PORT=$(free_port)
GH_PORT=$(free_port)

. "$GH_SRC/tests/lib/postfix_local.sh"
postfix_local_start "$T" "$PF_PORT" || exit 1

"$GATEHOUSE" -f -c /dev/null -o "listen=127.0.0.1:$GH_PORT" \
	-o "backend=127.0.0.1:$PF_PORT" -o hostname=gate.test \
	-o spf.enable=no -o dkim.enable=no -o rules= \
	-o "spool_dir=$T" ${GH_DEBUG:+-v} proxy 2>"$T/gatehouse.log" &
GH_PID=$!
wait_port "$GH_PORT" || { echo "gatehouse did not start"; exit 1; }

swaks --server "127.0.0.1:$GH_PORT" --local-interface 127.0.0.2 \
	--helo real-helo.example --from sender@example.org \
	--to user@backend.test --header "Subject: through gatehouse" \
	>"$T/swaks1.log" 2>&1
check "message accepted with Postfix's own queue id" \
	grep -Eq '^<-  250 2\.0\.0 Ok: (.* )?queued as [0-9A-Z]+' "$T/swaks1.log"

for i in $(seq 1 50); do
	ls "$T"/mail/user/new/* >/dev/null 2>&1 && break
	sleep 0.1
done
msg=$(ls "$T"/mail/user/new/* 2>/dev/null | head -1)
check "delivered to the mailbox" test -n "$msg"
check "Received: names the real client and its HELO" \
	grep -q 'from real-helo.example (unknown \[127.0.0.2\])' "${msg:-/dev/null}"
check "the message went to Postfix by BDAT (it offers CHUNKING)" \
	grep -q 'disconnect from unknown\[127.0.0.2\] .*bdat=1' "$T/maillog"
check "Postfix's log shows the real client address" \
	grep -q 'client=unknown\[127.0.0.2\]' "$T/maillog"
check "Postfix never saw gatehouse as the client of the message" \
	bash -c "! grep -E ': client=[^,]*\[127\.0\.0\.1\]' '$T/maillog'"

# This session reuses the backend connection of the first (pooled):
# XCLIENT again, and Postfix must see the new client.
swaks --server "127.0.0.1:$GH_PORT" --local-interface 127.0.0.4 \
	--helo fourth.example --from sender@example.org \
	--to nobody@backend.test >"$T/swaks2.log" 2>&1
check "an unknown recipient gets Postfix's own 550 reply" \
	grep -Eq '^<\*\* 550 5\.1\.1 <nobody@backend.test>: Recipient address rejected' \
	"$T/swaks2.log"
check "Postfix's refusal names the client of the reused connection" \
	grep -q 'reject: RCPT from unknown\[127.0.0.4\]: 550 5.1.1' "$T/maillog"
check "the gatehouse log has one line for the message" \
	grep -q 'message client="127.0.0.2".*helo="real-helo.example".*reply="250 2.0.0 Ok: .*queued as' \
	"$T/gatehouse.log"
# A third client, on a fresh backend connection.
swaks --server "127.0.0.1:$GH_PORT" --local-interface 127.0.0.3 \
	--helo other-helo.example --from sender@example.org \
	--to user@backend.test --header "Subject: second" \
	>"$T/swaks3.log" 2>&1
check "second message accepted" \
	grep -Eq '^<-  250 2\.0\.0 Ok: .*queued as' "$T/swaks3.log"
sleep 1
check "Postfix names the third client" \
	grep -q 'client=unknown\[127.0.0.3\]' "$T/maillog"
check "and its HELO" \
	grep -rq 'from other-helo.example (unknown \[127.0.0.3\])' "$T/mail/user/new"
[ "$fails" = 0 ]
