#!/usr/bin/env bash
# gatehouse milter behind a real Postfix (smtpd_milters = unix:...):
# a tagged message is delivered with our Authentication-Results (once, at
# the top of what we add), X-Spam-Flag/-Status and the Subject prefix,
# and without the forged Authentication-Results that claim our
# authserv-id (two of them, interleaved with other headers); a message
# the milter refuses is refused at the SMTP client with the configured
# code, enhanced code and text (reject and tempfail), and never reaches
# the next hop.  The socket's group (milter_socket_group) lets Postfix in.
set -euo pipefail
: "${GATEHOUSE:?} ${GH_SRC:?}"
T=$(mktemp -d)
source "$GH_SRC/tests/milter/lib.sh"
source "$GH_SRC/tests/milter/postfix.sh"
command -v postfix > /dev/null || skip "postfix not installed"
command -v swaks > /dev/null || skip "swaks not installed"
[ "$(id -u)" -eq 0 ] || skip "needs root to run a private Postfix"
SINK_PID=
cleanup() {
	postfix_stop "$T/pf"
	[ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null
	milter_cleanup
}
trap cleanup EXIT
chmod 755 "$T"

SMTP=$(free_port)
SINK=$(free_port)
mkdir -m 777 "$T/sink"
smtp-sink -u nobody -d "$T/sink/%H%M%S." "127.0.0.1:$SINK" 100 &
SINK_PID=$!

milter_conf "milter_socket_group = postfix" "milter_socket_mode = 0660" \
	"score.tag = -1" "tag.subject_prefix = [SPAM]"
milter_start
[ "$(stat -c %G:%a "$MILTER_SOCK")" = "postfix:660" ] ||
	fail "socket: $(stat -c %G:%a "$MILTER_SOCK")"
postfix_start "$T/pf" "$SMTP" "$SINK" "unix:$MILTER_SOCK" ||
	fail "postfix: $(cat "$T/pf/start.log" "$T/pf/maillog" 2>/dev/null)"

# Send one message with swaks; extra arguments go to swaks.
send() {
	swaks --server "127.0.0.1:$SMTP" --helo client.example \
		--from a@example.org --to b@example.net "$@" > "$T/swaks.out" 2>&1
}

# Wait for N messages at the sink.
wait_sink() {
	local i
	for i in $(seq 100); do
		[ "$(ls "$T/sink" | wc -l)" -ge "$1" ] && return 0
		sleep 0.1
	done
	fail "no delivery: $(tail -5 "$T/pf/maillog")"
}

send --h-Subject "hello" \
	--add-header "Authentication-Results: mx.test; spf=pass smtp.mailfrom=a@example.org" \
	--add-header "X-Between: 1" \
	--add-header "Authentication-Results: other.example; dkim=fail" \
	--add-header "Authentication-Results: (forged) MX.TEST; dkim=pass" ||
	fail "tagged message refused: $(cat "$T/swaks.out")"
wait_sink 1
msg=$(ls "$T/sink"/* | head -1)
hdr=$(sed '/^\r\?$/q' "$msg" | tr -d '\r')
echo "$hdr" | grep -qi "mx.test; spf=pass" && fail "forged A-R delivered: $hdr"
echo "$hdr" | grep -qi "MX.TEST; dkim=pass" && fail "forged A-R delivered: $hdr"
echo "$hdr" | grep -q "^Authentication-Results: other.example; dkim=fail" ||
	fail "someone else's A-R removed: $hdr"
[ "$(echo "$hdr" | grep -c "^Authentication-Results: mx.test; none$")" -eq 1 ] ||
	fail "our A-R not there once: $hdr"
echo "$hdr" | grep -q "^X-Spam-Flag: YES$" || fail "no X-Spam-Flag: $hdr"
echo "$hdr" | grep -q "^X-Spam-Status: Yes, score=0.0 required=-1.0$" ||
	fail "no X-Spam-Status: $hdr"
echo "$hdr" | grep -q "^Subject: \[SPAM\] hello$" || fail "Subject: $hdr"
echo "$hdr" | grep -q "^X-Between: 1$" || fail "X-Between lost: $hdr"
# Ours is above the headers of the message (inserted at the top).
ar_line=$(echo "$hdr" | grep -n "^Authentication-Results: mx.test" | cut -d: -f1)
from_line=$(echo "$hdr" | grep -n "^From: " | cut -d: -f1)
[ "$ar_line" -lt "$from_line" ] || fail "our A-R not at the top: $hdr"
grep -q 'verdict=tag' "$MILTER_LOG" || fail "no summary line"
qid=$(grep -o 'queue_id="[0-9A-F]*"' "$MILTER_LOG" | head -1 | cut -d'"' -f2)
[ -n "$qid" ] && grep -q "$qid" "$T/pf/maillog" ||
	fail "queue_id does not match Postfix's log"

# Refusals: the reply the SMTP client sees is the configured one.
big=$(head -c 3000 /dev/zero | tr '\0' 'x' | fold -w 70)
milter_conf "milter_socket_group = postfix" "max_message_size = 1024" \
	"on_filter_error = reject" "rules.reject_reply = 554 5.7.9 Go away"
kill -HUP "$MILTER_PID"
for i in $(seq 100); do
	grep -q "configuration reloaded" "$MILTER_LOG" && break
	sleep 0.05
done
send --body "$big" && fail "big message accepted"
grep -q "<\*\* 554 5.7.9 Go away" "$T/swaks.out" ||
	fail "reject reply: $(cat "$T/swaks.out")"

milter_conf "milter_socket_group = postfix" "max_message_size = 1024" \
	"tempfail_reply = 451 4.3.2 Later please"
kill -HUP "$MILTER_PID"
for i in $(seq 100); do
	[ "$(grep -c "configuration reloaded" "$MILTER_LOG")" -ge 2 ] && break
	sleep 0.05
done
send --body "$big" && fail "big message accepted"
grep -q "<\*\* 451 4.3.2 Later please" "$T/swaks.out" ||
	fail "tempfail reply: $(cat "$T/swaks.out")"
sleep 0.5
[ "$(ls "$T/sink" | wc -l)" -eq 1 ] || fail "a refused message was delivered"
if grep -E "warning: milter|error: milter" "$T/pf/maillog"; then
	fail "Postfix complains about the milter"
fi
milter_stop
echo "milter_postfix: ok"
