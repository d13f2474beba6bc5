#!/bin/bash
# e2e_proxy.sh - end to end through `gatehouse proxy` in front of a real
# Postfix, with a real unbound serving the SPF records and the DKIM key
# (issues 3, 5, 6, 7, "Shown by ... end to end through the proxy"):
#   - SPF fail: spf.reject_reply (550 5.7.23) at MAIL FROM, no delivery;
#   - SPF pass + good rsa-sha256 signature (python3-dkim): delivered with
#     Authentication-Results: mx.test; spf=pass, dkim=pass header.d=;
#     X-Spam-Status present;
#   - body changed: delivered with dkim=fail; with dkim.on_fail=reject
#     (a second proxy) 550 5.7.20 at end of data, no delivery;
#   - GTUBE: 554 5.7.1 at end of data, no delivery;
#   - an envelope rule with `action reject` refuses one recipient at RCPT
#     while another of the same transaction is delivered;
#   - a forged A-R with our authserv-id is removed, another server's kept;
#   - SIGHUP with a broken rule file while a session is open: file:line in
#     the log, the old rules stay; a good reload takes effect for the next
#     transaction (also in the session that stayed open).
. "${GH_SRC:?set GH_SRC to the source root}/tests/lib/harness.sh"
. "$GH_SRC/tests/lib/e2e.sh"
need postfix swaks unbound openssl
[[ $(id -u) -eq 0 ]] || skip "needs root to run a private Postfix"
"$GH_PY" -c 'import dkim' 2>/dev/null || skip "needs python3-dkim"

e2e_dns
cat >"$E/rules/50-trap.rules" <<'EOF'
rcptto   TRAP  /^trap@/
describe TRAP  a recipient that must be refused at RCPT
score    TRAP  0.1
action   TRAP  reject "550 5.1.1 no such user"
EOF
# The client hop Postfix adds after us, seen by header rules already
# (received_pending): loopback is private, so it is trusted.
cat >"$E/rules/55-hop.rules" <<'EOF'
header   HOP_TRUSTED X-Spam-Relays-Trusted =~ /^\[ ip=127\.0\.0\.1 rdns=\S* helo=client\.example by=gate\.test ident= envfrom= intl=1 id= auth= msa=0 \]/
score    HOP_TRUSTED 0.01
EOF
# The same hop parsed from the field Postfix really wrote (scan, below).
cat >"$E/real-hop.rules" <<'EOF'
header   REAL_HOP X-Spam-Relays-Trusted =~ /^\[ ip=127\.0\.0\.1 rdns=\S* helo=client\.example by=\S+ ident= envfrom= intl=1 id=[0-9A-Za-z]+ auth= msa=0 \]/
score    REAL_HOP 0.01
EOF
e2e_conf "log.level = info"
# "trap" exists in Postfix: if the rule did not refuse it, it would be
# delivered there.
start_postfix --users "user alice trap"
start_proxy main
PLOG=$T/proxy-main.log
MAIN_PORT=$PROXY_PORT MAIN_PID=$PROXY_PID

# Send through the proxy: px NAME SWAKS-ARGS...; status of swaks.
px() {
	local name=$1
	shift
	swaks_send "$name" --server "127.0.0.1:$PROXY_PORT" \
	    --helo client.example "$@"
}

# The reply line that follows the client's command CMD in the transcript.
reply_after() {
	awk -v c="$1" 'f && /^<(-|\*\*) / { print; exit }
	    index($0, " -> " c) == 1 { f = 1 }' "$2"
}

# ---------------------------------------------------------------- SPF fail
px spf-fail --from bad@fail.test --to user@backend.test \
    --header "Message-ID: <spf-fail@e2e>" || true
r=$(reply_after "MAIL FROM" "$SWAKS_OUT")
[[ $r == '<** 550 5.7.23 '* ]] ||
	fail "SPF fail: wanted 550 5.7.23 at MAIL FROM, got '$r' ($SWAKS_OUT)"
assert_not_grep '^ -> RCPT TO' "$SWAKS_OUT"
ok "SPF fail: $r"

# ----------------------------------------------------- SPF pass, DKIM pass
e2e_msg "$E/good.eml" good "signed and good"
e2e_sign "$E/good.eml" "$E/good.signed"
px good --from alice@example.test --to user@backend.test \
    --data "$E/good.signed" || fail "good message refused: $(cat "$SWAKS_OUT")"
f=$(e2e_wait_delivered good)
hdrs "$f" >"$T/good.hdr"
assert_grep '^Authentication-Results: mx\.test;' "$T/good.hdr"
assert_grep '^Authentication-Results: mx\.test;.* spf=pass .*smtp\.mailfrom=alice@example\.test' "$T/good.hdr"
assert_grep '^Authentication-Results: mx\.test;.* dkim=pass .*header\.d=example\.test' "$T/good.hdr"
assert_grep '^X-Spam-Status: ' "$T/good.hdr"
ok "SPF pass + good DKIM: delivered, A-R spf=pass dkim=pass, X-Spam-Status"
assert_grep '^X-Spam-Status: .*HOP_TRUSTED' "$T/good.hdr"
assert_grep '^Received: from client\.example \(\S+ \[127\.0\.0\.1\]\) by \S+ \(Postfix\) with ESMTP id ' "$T/good.hdr"
"$GATEHOUSE" -c /dev/null -o "rules=$E/real-hop.rules" scan --offline "$f" \
    >"$T/real-hop.out" 2>&1 || true
assert_grep 'REAL_HOP' "$T/real-hop.out"
ok "client hop: rules saw it before Postfix (HOP_TRUSTED); Postfix's own field parses alike"

# ------------------------------------------------------- DKIM body changed
sed 's/plain test message/changed test message/; s/<good@e2e>/<changed@e2e>/' \
    "$E/good.signed" >"$E/changed.eml"
px changed --from alice@example.test --to user@backend.test \
    --data "$E/changed.eml" || fail "changed message refused: $(cat "$SWAKS_OUT")"
f=$(e2e_wait_delivered changed)
hdrs "$f" >"$T/changed.hdr"
assert_grep '^Authentication-Results: mx\.test;.* dkim=fail' "$T/changed.hdr"
assert_not_grep 'dkim=pass' "$T/changed.hdr"
ok "DKIM body changed (on_fail=tag): delivered with dkim=fail"

# ------------------------------------------------------------------- GTUBE
e2e_msg "$E/gtube.eml" gtube "gtube" "$GTUBE"
px gtube --from alice@example.test --to user@backend.test \
    --data "$E/gtube.eml" || true
r=$(reply_after "." "$SWAKS_OUT")
[[ $r == '<** 554 5.7.1 '* ]] ||
	fail "GTUBE: wanted 554 5.7.1 at end of data, got '$r' ($SWAKS_OUT)"
ok "GTUBE: $r"

# ------------------------------------------------- envelope rule at RCPT
e2e_msg "$E/trap.eml" trap "two recipients"
px trap --from alice@example.test --to trap@backend.test,alice@backend.test \
    --data "$E/trap.eml" || true
r=$(reply_after "RCPT TO:<trap@" "$SWAKS_OUT")
[[ $r == '<** 550 5.1.1 no such user'* ]] ||
	fail "trap: wanted '550 5.1.1 no such user' at RCPT, got '$r' ($SWAKS_OUT)"
r2=$(reply_after "RCPT TO:<alice@" "$SWAKS_OUT")
[[ $r2 == '<-  250 '* ]] || fail "trap: alice refused: '$r2' ($SWAKS_OUT)"
f=$(e2e_wait_delivered trap)
[[ $f == "$T/mail/alice/"* ]] || fail "trap: delivered to $f, not alice"
ok "envelope rule: trap@ refused at RCPT ($r), alice@ delivered"

# ------------------------------------------------------------ forged A-R
e2e_msg "$E/forged.eml" forged "forged A-R"
sed -i '1i Authentication-Results: mx.test; dkim=pass header.d=bank.test header.s=x\r\nAuthentication-Results: other.test; spf=pass smtp.mailfrom=forged-kept@other.test\r' \
    "$E/forged.eml"
px forged --from alice@example.test --to user@backend.test \
    --data "$E/forged.eml" || fail "forged message refused: $(cat "$SWAKS_OUT")"
f=$(e2e_wait_delivered forged)
hdrs "$f" >"$T/forged.hdr"
assert_not_grep 'bank\.test' "$T/forged.hdr"
assert_grep '^Authentication-Results: other\.test; spf=pass smtp\.mailfrom=forged-kept@other\.test' "$T/forged.hdr"
n=$(grep -c '^Authentication-Results: mx\.test;' "$T/forged.hdr" || true)
assert_eq 1 "$n" "A-R headers with our authserv-id"
ok "forged A-R with our authserv-id removed, another server's kept"

# ------------------------------------------------- dkim.on_fail = reject
start_proxy reject -o dkim.on_fail=reject
sed 's/<changed@e2e>/<changed2@e2e>/' "$E/changed.eml" >"$E/changed2.eml"
px changed2 --from alice@example.test --to user@backend.test \
    --data "$E/changed2.eml" || true
r=$(reply_after "." "$SWAKS_OUT")
[[ $r == '<** 550 5.7.20 '* ]] ||
	fail "dkim.on_fail=reject: wanted 550 5.7.20 at end of data, got '$r' ($SWAKS_OUT)"
stop_gatehouse "$PROXY_PID" || fail "second proxy ignored SIGTERM"
PROXY_PORT=$MAIN_PORT PROXY_PID=$MAIN_PID
ok "dkim.on_fail=reject: $r"

# ----------------------------------------------------- nothing delivered
pf_wait_queue_empty 20 || fail "Postfix queue not empty"
for id in spf-fail gtube changed2; do
	[[ -z $(delivered "$id") ]] || fail "refused message $id was delivered"
done
[[ -z $(pf_mailbox trap) ]] || fail "the trap recipient got mail"
assert_eq 4 "$(pf_mailbox | wc -l)" "delivered messages"
ok "refused messages were not delivered (4 delivered in all)"

# ----------------------------------------------------------------- reload
# A session that has done MAIL FROM and RCPT and waits ($E/go): on the
# old rules it sends its message; its next transaction runs on the rules
# of the good reload; GTUBE (default rules) is still refused.
e2e_msg "$E/held.eml" held "held across reloads"
cat >"$E/held.script" <<EOS
E 220
C 250 EHLO client.example
C 250 MAIL FROM:<alice@example.test>
C 250 RCPT TO:<user@backend.test>
W $E/go
C 354 DATA
D 250 $E/held.eml
C 550 MAIL FROM:<blocked@example.test>
C 250 RSET
C 250 MAIL FROM:<alice@example.test>
C 250 RCPT TO:<user@backend.test>
C 354 DATA
D 554 $E/gtube.eml
C 221 QUIT
EOS
start_bg held "$GH_PY" "$GH_SRC/tests/lib/smtp_step.py" 127.0.0.1 \
    "$PROXY_PORT" "$E/held.script"
HELD_PID=$BG_PID
_held_at_rcpt() { sed -n '/^-> RCPT/,$p' "$T/held.log" | grep -q '^<- 250'; }
_held_done() { ! _gh_alive "$HELD_PID"; }
wait_until 20 _held_at_rcpt ||
	fail "held session did not get to RCPT: $(cat "$T/held.log")"

printf '%s\n' 'mailfrom BLOCKED /^blocked@/' \
    'action   BLOCKED reject "550 5.7.1 blocked sender"' \
    'bogus    BLOCKED x' >"$E/rules/60-reload.rules"
kill -HUP "$MAIN_PID"
wait_grep 'reload failed' "$PLOG" 30 || fail "no 'reload failed' in $PLOG"
assert_grep "$E/rules/60-reload.rules:3: unknown directive" "$PLOG"
px old-rules --from blocked@example.test --to user@backend.test \
    --data "$E/gtube.eml" || true
r=$(reply_after "MAIL FROM" "$SWAKS_OUT")
[[ $r == '<-  250 '* ]] || fail "broken reload: MAIL refused: '$r' ($SWAKS_OUT)"
r=$(reply_after "." "$SWAKS_OUT")
[[ $r == '<** 554 5.7.1 '* ]] ||
	fail "broken reload: GTUBE not refused: '$r' ($SWAKS_OUT)"
_gh_alive "$HELD_PID" || fail "held session ended: $(cat "$T/held.log")"
ok "SIGHUP with a broken rule file: file:line logged, old rules stay"

sed -i '/^bogus/d' "$E/rules/60-reload.rules"
kill -HUP "$MAIN_PID"
wait_grep 'reloaded configuration' "$PLOG" 30 ||
	fail "no 'reloaded configuration' in $PLOG"
px new-rules --from blocked@example.test --to user@backend.test || true
r=$(reply_after "MAIL FROM" "$SWAKS_OUT")
[[ $r == '<** 550 5.7.1 blocked sender'* ]] ||
	fail "good reload: wanted 550 5.7.1 blocked sender, got '$r' ($SWAKS_OUT)"
touch "$E/go"
wait_until 60 _held_done ||
	fail "held session did not finish: $(cat "$T/held.log")"
stop_bg "$HELD_PID"
assert_not_grep 'MISMATCH|ERROR|TIMEOUT' "$T/held.log"
assert_grep '^<- 221' "$T/held.log"
e2e_wait_delivered held >/dev/null
ok "good reload: new rule for the next transaction, also in the open session"
