#!/bin/bash
# A private Postfix instance (own config dir, queue, port and maillog)
# accepts one message from swaks for a @backend.test recipient; the test
# finds it in that instance's mailbox and in its maillog; an unknown
# recipient is rejected; mail for another domain is relayed to smtp-sink.
. "${GH_SRC:?set GH_SRC to the source root}/tests/lib/harness.sh"
need postfix smtp-sink swaks

start_smtp_sink
start_postfix --relay-sink
assert_grep "daemon started .* configuration $PF_DIR\$" "$(pf_log)"

marker="pf-body-$RANDOM-$$"
swaks_send local --server "127.0.0.1:$PF_PORT" \
    --from sender@example.test --to alice@backend.test \
    --header "Subject: private postfix test" --body "$marker" ||
	fail "swaks failed: $(tail -n 5 "$SWAKS_OUT")"
qid=$(sed -n 's/^<-  250 2\.0\.0 Ok: queued as \([0-9A-F]*\)\r\{0,1\}$/\1/p' \
    "$SWAKS_OUT")
[[ -n $qid ]] || fail "no queue id in the swaks transcript"
pf_wait_delivered 1
f=$(pf_mailbox alice)
[[ -n $f ]] || fail "nothing in alice's mailbox: $(pf_mailbox)"
assert_eq 1 "$(pf_mailbox | wc -l)" "delivered files"
assert_grep "^$marker\$" "$f"
assert_grep '^Delivered-To: alice@backend\.test$' "$f"
assert_grep "^Subject: private postfix test\$" "$f"
assert_grep "by mx\\.backend\\.test \\(Postfix\\) with ESMTP id $qid" "$f"
wait_grep "$qid: to=<alice@backend\\.test>, relay=virtual, .*status=sent" \
    "$(pf_log)" 10 || fail "maillog does not show the delivery of $qid"
ok "message $qid delivered to alice's mailbox and logged"

rc=0
swaks_send unknown --server "127.0.0.1:$PF_PORT" \
    --from sender@example.test --to nobody-here@backend.test || rc=$?
[[ $rc -ne 0 ]] || fail "unknown recipient accepted"
assert_grep '^<\*\* 550 5\.1\.1 .*User unknown' "$SWAKS_OUT"
assert_grep 'NOQUEUE: reject: RCPT .*nobody-here@backend\.test' "$(pf_log)"
ok "unknown recipient rejected with 550"

swaks_send relay --server "127.0.0.1:$PF_PORT" \
    --from sender@example.test --to someone@elsewhere.test \
    --body "relay-$marker" || fail "relay send failed"
sink_wait 1
assert_grep "^relay-$marker\$" "$(sink_files)"
assert_grep '^X-Rcpt-Args: <someone@elsewhere\.test>' "$(sink_files)"
wait_grep "to=<someone@elsewhere\\.test>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:$SINK_PORT, .*status=sent" \
    "$(pf_log)" 10 || fail "maillog does not show the relay to the sink"
pf_wait_queue_empty 10 || fail "queue not empty: $(pf_queue_count)"
ok "mail for another domain relayed to smtp-sink; queue empty"
