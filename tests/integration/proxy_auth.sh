#!/usr/bin/env bash
# proxy_auth.sh — SMTP AUTH relayed to the backend: a private Postfix
# with SASL through a private Dovecot (auth service only, passwd-file
# users, its socket in Postfix's queue directory, all state under $T).
# gatehouse offers AUTH with Postfix's mechanisms only after STARTTLS
# (530 before it); AUTH PLAIN and LOGIN succeed, the message is
# delivered and Postfix's log shows sasl_username=; a wrong password
# gets Postfix's own 535; an unknown mechanism 504; the delivered
# message says auth=pass and the TLS facts in Authentication-Results;
# an `auth` rule sees the login; and no password, in clear or in
# base64, is in gatehouse's debug log.
. "${GH_SRC:?set GH_SRC to the source root}/tests/lib/harness.sh"
need openssl swaks postfix dovecot python3

PASS=Wh1te-Rabbit-42
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=gate.test" \
    -keyout "$T/gh.key" -out "$T/gh.crt" >/dev/null 2>&1 ||
	fail "openssl req failed"
chmod 600 "$T/gh.key"

# Postfix first (its queue directory holds Dovecot's socket), SASL on.
start_postfix -o smtpd_sasl_auth_enable=yes -o smtpd_sasl_type=dovecot \
    -o smtpd_sasl_path=private/auth \
    -o "smtpd_relay_restrictions=permit_sasl_authenticated, permit_mynetworks, reject"

DV=$T/dovecot
mkdir -p "$DV/run" "$DV/state"
printf 'alice:{PLAIN}%s\n' "$PASS" >"$DV/users"
chmod 644 "$DV/users"
cat >"$DV/dovecot.conf" <<EOF
base_dir = $DV/run
state_dir = $DV/state
log_path = $T/dovecot.log
protocols = none
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DV/users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
service auth {
  unix_listener $T/pfspool/private/auth {
    mode = 0660
    user = postfix
    group = postfix
  }
}
service anvil {
  chroot =
}
EOF
start_bg dovecot dovecot -c "$DV/dovecot.conf" -F
DV_PID=$BG_PID
_sock() { [[ -S $T/pfspool/private/auth ]]; }
wait_until 10 _sock ||
	fail "dovecot did not start: $(tail -n 5 "$T/dovecot.log" "$T/dovecot.log.log" 2>/dev/null)"

# Rules can test the login.
cat >"$T/auth.rules" <<'EOF'
auth     GH_AUTH_ALICE  /^alice$/
describe GH_AUTH_ALICE  authenticated as alice
score    GH_AUTH_ALICE  -1
EOF
GH_PORT=$(free_port)
start_gatehouse -c /dev/null -o "listen=127.0.0.1:$GH_PORT" \
    -o "backend=127.0.0.1:$PF_PORT" -o hostname=gate.test \
    -o authserv_id=gate.test -o spf.enable=no -o dkim.enable=no \
    -o client_name_lookup=no \
    -o "rules=$T/auth.rules" -o metrics_listen= -o "spool_dir=$T" \
    -o log.level=debug \
    -o tls.level=may -o "tls.cert_file=$T/gh.crt" \
    -o "tls.key_file=$T/gh.key" proxy
wait_port "$GH_PORT" 10 "$GH_PID" || fail "gatehouse did not listen"
LOG=$T/gatehouse.log
# The capability probe must have seen Postfix's AUTH.
_probed() { grep -q 'backend <<< 250-mx.backend.test.*AUTH' "$LOG"; }
wait_until 10 _probed || fail "the probe did not see AUTH"

python3 "$GH_SRC/tests/lib/tls_smtp.py" "$GH_PORT" auth alice "$PASS" \
    >"$T/auth-raw.out" 2>&1 || fail "auth: $(tail -n 3 "$T/auth-raw.out")"
assert_grep '^<- 530 5\.7\.0 Must issue a STARTTLS command first' \
    "$T/auth-raw.out"
assert_grep '^auth-reply 235' "$T/auth-raw.out"
ok "AUTH before STARTTLS: 530; offered and accepted after it"

swaks_send plain --server "127.0.0.1:$GH_PORT" --tls --auth PLAIN \
    --auth-user alice --auth-password "$PASS" --from alice@x.test \
    --to user@backend.test --body "authenticated plain" ||
	fail "swaks AUTH PLAIN failed"
assert_grep '^<~  235 2\.7\.0 Authentication successful' "$SWAKS_OUT"
pf_wait_delivered 1
wait_grep 'sasl_method=PLAIN, sasl_username=alice' "$(pf_log)" 5 ||
	fail "Postfix's log has no sasl_username=alice"
assert_grep 'auth client=127\.0\.0\.1 mech=PLAIN login=alice: accepted' \
    "$LOG"
assert_grep 'message .* auth="alice" .* hits=GH_AUTH_ALICE ' "$LOG"
msg=$(pf_mailbox user | head -n 1)
assert_grep 'gate\.test \(TLSv1\.[23] [A-Z0-9_-]+\);' "$msg"
assert_grep 'auth=pass smtp\.auth=alice' "$msg"
ok "AUTH PLAIN relayed: delivered, sasl_username=alice in Postfix's log, auth=pass in A-R, an auth rule hits"

swaks_send login --server "127.0.0.1:$GH_PORT" --tls --auth LOGIN \
    --auth-user alice --auth-password "$PASS" --from alice@x.test \
    --to user@backend.test --body "authenticated login" ||
	fail "swaks AUTH LOGIN failed"
pf_wait_delivered 2
assert_grep 'mech=LOGIN login=alice: accepted' "$LOG"
ok "AUTH LOGIN relayed (334 challenges both ways)"

rc=0
swaks_send wrong --server "127.0.0.1:$GH_PORT" --tls --auth PLAIN \
    --auth-user alice --auth-password "not-$PASS" --from alice@x.test \
    --to user@backend.test --body "wrong" || rc=$?
((rc != 0)) || fail "a wrong password was accepted"
assert_grep '^<~\* 535 5\.7\.8 Error: authentication failed' "$SWAKS_OUT"
assert_grep 'login=alice: refused by the backend: 535' "$LOG"
ok "a wrong password gets the backend's 535"

rc=0
swaks_send mech --server "127.0.0.1:$GH_PORT" --tls --auth CRAM-MD5 \
    --auth-user alice --auth-password "$PASS" --from alice@x.test \
    --to user@backend.test --body "cram" || rc=$?
((rc != 0)) || fail "an unoffered mechanism was accepted"
assert_not_grep '^<~  235' "$SWAKS_OUT"
ok "a mechanism the backend does not offer is refused"

# No credential reaches gatehouse's log, at debug level.
b64() { printf '%s' "$1" | base64 -w0; }
for secret in "$PASS" "$(b64 "$PASS")" "$(b64 "not-$PASS")" \
    "$(printf '\0alice\0%s' "$PASS" | base64 -w0)"; do
	assert_not_grep "$secret" "$LOG"
done
grep -q 'SASL data not logged' "$LOG" ||
	fail "the backend's debug log shows no masked SASL line"
ok "no password, clear or base64, in gatehouse's debug log"

stop_gatehouse
((GH_EXIT == 0)) || fail "gatehouse exited with $GH_EXIT"
stop_bg "$DV_PID"
