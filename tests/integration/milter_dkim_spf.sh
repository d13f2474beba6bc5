#!/bin/bash
# gatehouse milter behind Postfix with the real DKIM and SPF filters: the
# message the chain sees is rebuilt from milter header callbacks byte for
# byte, so that a c=simple/simple signature over awkward headers (two
# spaces after the colon, a tab, none, folding) verifies; SPF sees the
# client Postfix saw.  A changed body fails, and is tagged.  Keys and the
# SPF record come from a real unbound.
. "${GH_SRC:?set GH_SRC to the source root}/tests/lib/harness.sh"
. "$GH_SRC/tests/milter/lib.sh"
need postfix swaks unbound openssl
[[ $(id -u) -eq 0 ]] || skip "needs root to run a private Postfix"
"$GH_PY" -c 'import dkim' 2>/dev/null || skip "needs python3-dkim"

D=$T/dkim
mkdir -p "$D"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$D/k.pem" 2>/dev/null
pub=$(openssl pkey -in "$D/k.pem" -pubout -outform DER | base64 -w0)
# The TXT record in strings of at most 255 octets.
v="v=DKIM1; k=rsa; p=$pub"
rr="sel._domainkey.example.test. TXT"
while [[ -n $v ]]; do
	rr+=" \"${v:0:255}\""
	v=${v:255}
done
start_unbound "$rr" 'example.test. TXT "v=spf1 ip4:127.0.0.1 -all"'

cat >"$D/msg.eml" <<'EOF2'
From: Alice <alice@example.test>
To: Bob <user@backend.test>
Subject:  two  spaces  kept
X-Tab:	a tab after the colon
X-None:no space at all
X-Folded: first line,
	second line,
  third line
Date: Mon, 01 Jan 2024 10:00:00 +0000
Message-ID: <milter-dkim@example.test>

Hello Bob,

exactly these bytes.
EOF2
sed -i 's/$/\r/' "$D/msg.eml"
"$GH_PY" "$GH_SRC/tests/lib/dkim_sign.py" sel example.test "$D/k.pem" \
    --canon simple/simple \
    --headers from:to:subject:x-tab:x-none:x-folded:date:message-id \
    <"$D/msg.eml" >"$D/signed.eml" || fail "signing failed"
sed 's/exactly these bytes/other bytes/' "$D/signed.eml" >"$D/changed.eml"

milter_conf "milter_socket_group = postfix" "dkim.enable = yes" \
	"spf.enable = yes" "resolver = 127.0.0.1@$UNBOUND_PORT"
milter_start
start_postfix --milter "unix:$MILTER_SOCK"

swaks_send signed --server "127.0.0.1:$PF_PORT" --helo client.example \
    --from alice@example.test --to user@backend.test \
    --data "$D/signed.eml" || fail "signed message refused: $(cat "$SWAKS_OUT")"
pf_wait_delivered 1
f=$(pf_mailbox user)
tr -d '\r' <"$f" | sed '/^$/q' >"$T/hdr"
assert_grep '^Authentication-Results: mx.test;$' "$T/hdr"
assert_grep '^	spf=pass .*smtp.mailfrom=alice@example.test' "$T/hdr"
assert_grep '^	dkim=pass .*header.d=example.test' "$T/hdr"
assert_grep '^Subject:  two  spaces  kept$' "$T/hdr"
assert_grep '^X-None:no space at all$' "$T/hdr"
ok "c=simple/simple signature over awkward headers passes; SPF passes"

swaks_send changed --server "127.0.0.1:$PF_PORT" --helo client.example \
    --from alice@example.test --to user@backend.test \
    --data "$D/changed.eml" || fail "changed message refused: $(cat "$SWAKS_OUT")"
pf_wait_delivered 2
f=$(pf_mailbox user | while read -r m; do
	grep -l "other bytes" "$m" || true; done | head -1)
[[ -n $f ]] || fail "changed message not delivered"
tr -d '\r' <"$f" | sed '/^$/q' >"$T/hdr2"
assert_grep '^	dkim=fail ' "$T/hdr2"
assert_grep '^X-Spam-Status: ' "$T/hdr2"
milter_stop
ok "a changed body fails DKIM"
