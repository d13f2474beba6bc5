#!/bin/bash
# smtp-sink receives one message sent by swaks and the test finds the
# message (envelope and body) in the sink directory; a sink told to reject
# RCPT makes swaks fail and captures nothing.
. "${GH_SRC:?set GH_SRC to the source root}/tests/lib/harness.sh"
need smtp-sink swaks

start_smtp_sink
marker="sink-body-$RANDOM-$$"
swaks_send one --server "127.0.0.1:$SINK_PORT" \
    --from sender@example.test --to rcpt@sink.test \
    --header "Subject: harness sink test" --body "$marker" ||
	fail "swaks failed: $(tail -n 5 "$SWAKS_OUT")"
assert_grep '^<-  250 ' "$SWAKS_OUT"
sink_wait 1
assert_eq 1 "$(sink_count)" "messages in the sink"
f=$(sink_files)
assert_grep "^$marker\$" "$f"
assert_grep '^X-Mail-Args: <sender@example\.test>' "$f"
assert_grep '^X-Rcpt-Args: <rcpt@sink\.test>' "$f"
assert_grep '^Subject: harness sink test$' "$f"
ok "message captured with envelope and body"
stop_smtp_sink

# A second sink (same SINK_DIR, so the count carries on) rejecting RCPT.
start_smtp_sink --hard rcpt
rc=0
swaks_send rejected --server "127.0.0.1:$SINK_PORT" \
    --from sender@example.test --to rcpt@sink.test --body "$marker" || rc=$?
[[ $rc -ne 0 ]] || fail "swaks succeeded against a sink rejecting RCPT"
assert_grep '^<\*\* 5[0-9][0-9] ' "$SWAKS_OUT"
assert_eq 1 "$(sink_count)" "messages captured after RCPT reject"
ok "sink rejecting RCPT: swaks fails ($rc), nothing new captured"
