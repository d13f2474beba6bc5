#!/bin/bash
# gatehouse milter over TCP (milter_listen = inet:PORT@127.0.0.1) behind a
# real Postfix: the same "no reply" steps as on a unix socket are
# negotiated (no reply after each header and body chunk; none at stages
# where no filter runs), and messages still flow: tagged and delivered
# with our headers, refused at the client with the rule's reply, ten
# more in a row all delivered.  Over TCP the engine acknowledges each
# read at once (TCP_QUICKACK), so Postfix's unanswered packets do not
# wait for our delayed ACK; once, the "no reply" steps were negotiated
# on unix sockets only.
. "${GH_SRC:?set GH_SRC to the source root}/tests/lib/harness.sh"
. "$GH_SRC/tests/milter/lib.sh"
need postfix swaks
[[ $(id -u) -eq 0 ]] || skip "needs root to run a private Postfix"

MPORT=$(free_port)
SMFIP_NR_HDR=$((0x80))
SMFIP_NR_CONN=$((0x1000))
SMFIP_NR_MAIL=$((0x4000))
SMFIP_NR_BODY=$((0x80000))

# The steps of the last negotiation the milter logged.
steps() {
	local s
	s=$(grep -o "negotiated actions=0x[0-9a-f]* steps=0x[0-9a-f]*" \
	    "$MILTER_LOG" | tail -1 | sed 's/.*steps=//')
	[[ -n $s ]] || fail "no negotiation logged: $(cat "$MILTER_LOG")"
	echo $((s))
}

# Whether the inet milter listens.
_inet_ready() {
	_gh_alive "$MILTER_PID" || fail "milter exited at start"
	grep -q "listening on" "$MILTER_LOG" && port_listening "$MPORT"
}

start_inet_milter() {
	milter_conf "milter_listen = inet:$MPORT@127.0.0.1" \
	    "log.level = debug" "$@"
	GH_LOG=$MILTER_LOG start_gatehouse -c "$T/gatehouse.conf" milter
	MILTER_PID=$GH_PID
	wait_until 10 _inet_ready || fail "inet milter did not start"
}

send() {
	local name=$1
	shift
	swaks_send "$name" --server "127.0.0.1:$PF_PORT" \
	    --helo client.example --from a@example.org "$@"
}

# Rules at every stage: no reply after headers and body chunks only.
start_inet_milter "rules = $GH_SRC/tests/milter/verdicts.rules"
start_postfix --catchall --milter "inet:127.0.0.1:$MPORT"
send tagged --to user@backend.test --h-Subject "please tag-me" ||
	fail "tagged message refused: $(cat "$SWAKS_OUT")"
pf_wait_delivered 1
st=$(steps)
((st & SMFIP_NR_HDR)) || fail "no NR_HDR over TCP (steps $st)"
((st & SMFIP_NR_BODY)) || fail "no NR_BODY over TCP (steps $st)"
msg=$(pf_mailbox user)
sed '/^\r\{0,1\}$/q' "$msg" | tr -d '\r' >"$T/hdr"
assert_eq 1 "$(grep -c "^Authentication-Results: mx.test; none$" "$T/hdr")" \
	"our Authentication-Results"
assert_grep "^X-Spam-Flag: YES$" "$T/hdr"
if send refused --to user@backend.test --h-Subject "please reject-me"; then
	fail "a refused message was accepted"
fi
assert_grep "550 5.7.1 Subject refused" "$SWAKS_OUT"
for i in $(seq 10); do
	send "m$i" --to user@backend.test --h-Subject "plain $i" ||
		fail "message $i refused: $(cat "$SWAKS_OUT")"
done
pf_wait_delivered 11
ok "inet: no reply after headers and body; tagged, refused, 10 delivered"
milter_stop

# No rules: no reply at the stages where no filter runs.  Postfix opens
# a milter connection per SMTP session: the same Postfix meets the new
# milter.
: >"$MILTER_LOG"
start_inet_milter
send plain --to user@backend.test --h-Subject "plain" ||
	fail "message refused: $(cat "$SWAKS_OUT")"
pf_wait_delivered 12
st=$(steps)
((st & SMFIP_NR_CONN)) || fail "no NR_CONN over TCP (steps $st)"
((st & SMFIP_NR_MAIL)) || fail "no NR_MAIL over TCP (steps $st)"
ok "inet, no filters: no reply at CONNECT and MAIL"
milter_stop
assert_not_grep "runtime error|AddressSanitizer|LeakSanitizer" "$MILTER_LOG"
