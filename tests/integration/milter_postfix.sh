#!/bin/bash
# gatehouse milter behind a real Postfix (smtpd_milters = unix:...):
# a tagged message is delivered with our Authentication-Results (once, at
# the top), X-Spam-Flag/-Status and the Subject prefix, and without the
# forged Authentication-Results that claim our authserv-id (two of them,
# interleaved with other headers); what the rules refuse is refused at the
# SMTP client with the configured code, enhanced code and text (reject at
# MAIL with a '%' in the text, one recipient refused, reject and tempfail
# at end of data) and never delivered; a discarded message is accepted
# and dropped; the failure policy's reply too; the summary's queue_id is
# Postfix's; the socket's group (milter_socket_group) lets Postfix in.
. "${GH_SRC:?set GH_SRC to the source root}/tests/lib/harness.sh"
. "$GH_SRC/tests/milter/lib.sh"
need postfix swaks
[[ $(id -u) -eq 0 ]] || skip "needs root to run a private Postfix"

milter_conf "milter_socket_group = postfix" "milter_socket_mode = 0660" \
	"rules = $GH_SRC/tests/milter/verdicts.rules" \
	"tag.subject_prefix = [SPAM]" \
	"tempfail_reply = 451 4.3.2 Later please"
milter_start
assert_eq "postfix:660" "$(stat -c %G:%a "$MILTER_SOCK")" "socket group:mode"
start_postfix --catchall --milter "unix:$MILTER_SOCK"

# Send one message to user@backend.test; extra arguments go to swaks.
send() {
	local name=$1
	shift
	swaks_send "$name" --server "127.0.0.1:$PF_PORT" \
	    --helo client.example --from a@example.org "$@"
}

send tagged --to user@backend.test --h-Subject "please tag-me" \
	--add-header "Authentication-Results: mx.test; spf=pass smtp.mailfrom=a@example.org" \
	--add-header "X-Between: 1" \
	--add-header "Authentication-Results: other.example; dkim=fail" \
	--add-header "Authentication-Results: (forged) MX.TEST; dkim=pass" ||
	fail "tagged message refused: $(cat "$SWAKS_OUT")"
pf_wait_delivered 1
msg=$(pf_mailbox user)
sed '/^\r\{0,1\}$/q' "$msg" | tr -d '\r' >"$T/hdr"
assert_not_grep "mx.test; spf=pass" "$T/hdr"
assert_not_grep "MX.TEST; dkim=pass" "$T/hdr"
assert_grep "^Authentication-Results: other.example; dkim=fail" "$T/hdr"
assert_eq 1 "$(grep -c "^Authentication-Results: mx.test; none$" "$T/hdr")" \
	"our Authentication-Results"
assert_grep "^X-Spam-Flag: YES$" "$T/hdr"
assert_grep "^X-Spam-Status: Yes, score=0.0 required=5.0$" "$T/hdr"
assert_grep "^	tests=T_HDR_TAG$" "$T/hdr"
assert_grep "^Subject: \[SPAM\] please tag-me$" "$T/hdr"
assert_grep "^X-Between: 1$" "$T/hdr"
# Ours is above the message's own headers (inserted at the top).
ar=$(grep -n "^Authentication-Results: mx.test" "$T/hdr" | cut -d: -f1)
from=$(grep -n "^From: " "$T/hdr" | cut -d: -f1)
((ar < from)) || fail "our A-R is not at the top: $(cat "$T/hdr")"
qid=$(grep -o 'queue_id="[0-9A-F]*" score=0.0 verdict=tag' "$MILTER_LOG" |
	cut -d'"' -f2)
[[ -n $qid ]] || fail "no summary line with a queue_id"
assert_grep "$qid: " "$(pf_log)"
ok "tagged: our A-R at the top, forged ones gone, X-Spam-*, Subject"

rc=0
send mailrej --from reject-mail@example.org --to user@backend.test || rc=$?
((rc != 0)) || fail "refused sender accepted"
assert_grep '^<\*\* 550 5\.7\.1 Sender refused \(100% sure\)' "$SWAKS_OUT"
ok "reject at MAIL: 550 5.7.1 and the text with its '%'"

send rcpt --to trap@backend.test,user@backend.test --body "two recipients" ||
	fail "message with one refused recipient: $(cat "$SWAKS_OUT")"
assert_grep '^<\*\* 550 5\.1\.1 No such user' "$SWAKS_OUT"
pf_wait_delivered 2
ok "one recipient refused, the other delivered"

rc=0
send bodyrej --to user@backend.test --body "XREJECTBODYX" || rc=$?
((rc != 0)) || fail "refused body accepted"
assert_grep '^<\*\*  *554 5\.7\.1 Body refused' "$SWAKS_OUT"
rc=0
send bodytemp --to user@backend.test --body "XTEMPBODYX" || rc=$?
((rc != 0)) || fail "deferred body accepted"
assert_grep '^<\*\*  *451 4\.7\.1 Body later' "$SWAKS_OUT"
send discard --to user@backend.test --body "XDISCARDBODYX" ||
	fail "discarded message not accepted: $(cat "$SWAKS_OUT")"
ok "end of data: reject, tempfail (refused), discard (accepted)"

# The failure policy: a message the milter cannot store.
milter_conf "milter_socket_group = postfix" "max_message_size = 1024" \
	"tempfail_reply = 451 4.3.2 Later please"
kill -HUP "$MILTER_PID"
wait_grep "configuration reloaded" "$MILTER_LOG" ||
	fail "reload not logged"
big=$(head -c 3000 /dev/zero | tr '\0' 'x' | fold -w 70)
rc=0
send big --to user@backend.test --body "$big" || rc=$?
((rc != 0)) || fail "a message the milter cannot store was accepted"
assert_grep '^<\*\*  *451 4\.3\.2 Later please' "$SWAKS_OUT"
ok "failure policy: tempfail with the configured reply"

sleep 0.5
assert_eq 2 "$(pf_mailbox | wc -l)" "delivered messages"
assert_not_grep "warning: milter|error: milter" "$(pf_log)"
milter_stop
ok "nothing refused was delivered; Postfix has no complaint"
