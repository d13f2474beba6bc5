#!/bin/bash
# gatehouse milter driven by miltertest: every stage continues; forged
# Authentication-Results deleted and ours inserted; tagging (X-Spam-Flag,
# X-Spam-Status, Subject prefix); every verdict at every stage from a
# rule file (tests/milter/verdicts.rules); refusals of the failure policy
# (tempfail, reject) with the configured code, enhanced code and text;
# one summary line per message, aborted ones included; HELO twice (as
# after STARTTLS) with rules loaded.
. "${GH_SRC:?set GH_SRC to the source root}/tests/lib/harness.sh"
. "$GH_SRC/tests/milter/lib.sh"

milter_conf "tempfail_reply = 451 4.3.2 Try again (100% sure)" \
	"rules.reject_reply = 554 5.7.9 Go away"

milter_start
mtest stages.lua
milter_stop
assert_eq 4 "$(summaries)" "summary lines"
assert_grep 'from=<e@example.org> .*reply="aborted"' "$MILTER_LOG"
assert_grep 'from=<a@example.org> to=<b@example.net> .*queue_id="QID42" score=0.0 verdict=continue' \
	"$MILTER_LOG"
ok "stages: forged A-R deleted, ours inserted, one line per message"

milter_start score.tag=-1 "tag.subject_prefix=[SPAM]"
mtest tag.lua
milter_stop
assert_grep 'verdict=tag' "$MILTER_LOG"
ok "tagging"

milter_start "rules=$GH_SRC/tests/milter/verdicts.rules"
mtest verdicts.lua
milter_stop
for v in reject tempfail discard accept tag; do
	assert_grep "verdict=$v" "$MILTER_LOG"
done
ok "every verdict at every stage from rules"

milter_start "rules=$GH_SRC/tests/milter/verdicts.rules"
mtest rehelo.lua
milter_stop
assert_not_grep 'evaluation failed' "$MILTER_LOG"
ok "HELO again before MAIL (after STARTTLS) with rules: continues"

milter_start max_message_size=1024
mtest refuse.lua code=451 status=4.3.2 "text=Try again (100%% sure)"
milter_stop
milter_start max_message_size=1024 on_filter_error=reject
mtest refuse.lua code=554 status=5.7.9 "text=Go away"
milter_stop
assert_grep 'verdict=reject reason="message not stored: File too large"' \
	"$MILTER_LOG"
ok "failure policy: tempfail and reject with the configured replies"
