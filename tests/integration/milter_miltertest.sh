#!/usr/bin/env bash
# gatehouse milter driven by miltertest: every stage continues; forged
# Authentication-Results deleted and ours inserted; tagging (X-Spam-Flag,
# X-Spam-Status, Subject prefix); refusals (tempfail, reject) with the
# configured code, enhanced code and text; one summary line per message,
# aborted ones included.
set -euo pipefail
: "${GATEHOUSE:?} ${GH_SRC:?}"
T=$(mktemp -d)
source "$GH_SRC/tests/milter/lib.sh"
trap milter_cleanup EXIT

milter_conf "tempfail_reply = 451 4.3.2 Try again (100% sure)" \
	"rules.reject_reply = 554 5.7.9 Go away"

milter_start
mtest stages.lua
milter_stop
[ "$(summaries)" -eq 4 ] || fail "want 4 summary lines, got $(summaries)"
grep -q 'from=<e@example.org> .*reply="aborted"' "$MILTER_LOG" ||
	fail "aborted message not logged"
grep -q 'from=<a@example.org> to=<b@example.net> .*queue_id="QID42".*verdict=continue' \
	"$MILTER_LOG" || fail "summary line incomplete"

milter_start score.tag=-1 "tag.subject_prefix=[SPAM]"
mtest tag.lua
milter_stop
grep -q 'verdict=tag' "$MILTER_LOG" || fail "no verdict=tag logged"

milter_start max_message_size=1024
mtest refuse.lua code=451 status=4.3.2 "text=Try again (100%% sure)"
milter_stop
milter_start max_message_size=1024 on_filter_error=reject
mtest refuse.lua code=554 status=5.7.9 "text=Go away"
milter_stop
grep -q 'verdict=reject reason="message not stored: File too large"' \
	"$MILTER_LOG" || fail "reject not logged with its reason"
echo "milter_miltertest: ok"
