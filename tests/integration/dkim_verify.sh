#!/usr/bin/env bash
# dkim_verify.sh — issue 6: DKIM verification, case by case, against
# keys made here (RSA 512/1020/1024/2048/4096 with opendkim-genkey and
# openssl, ed25519 with openssl) served by a real unbound, on messages
# signed here by an independent signer (python3-dkim), each checked
# through `gatehouse dkim` (the DKIM filter's EOM stage) and cross-
# checked with Debian's dkimverify pointed at the same unbound.
#
# gatehouse and dkimverify agree (pass <=> "signature ok") except where
# gatehouse is stricter on purpose; every such case is named in
# STRICTER below with the rule that makes the difference, and the test
# fails if dkimverify ever starts to agree (or disagree elsewhere).
[[ -f $GH_SRC/tests/lib/harness.sh ]] || {
	echo "dkim_verify: SKIP: tests/lib/harness.sh is not in this tree" >&2
	exit 77
}
. "$GH_SRC/tests/lib/harness.sh"

need openssl opendkim-genkey unbound
PY=/usr/bin/python3
"$PY" -c 'import dkim, nacl.signing, dns.resolver' 2>/dev/null ||
	skip "needs python3-dkim with python3-nacl and python3-dnspython"
[[ -x ${GATEHOUSE:-} ]] || skip "GATEHOUSE is not set"

SIGN=("$PY" "$GH_SRC/tests/lib/dkim_sign.py")
D=$T/dkim
mkdir -p "$D"

# ------------------------------------------------------------------ keys
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:512 \
    -out "$D/r512.pem" 2>/dev/null
# 1020 bits: a modulus of 128 octets that is still under 1024 bits.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1020 \
    -out "$D/r1020.pem" 2>/dev/null
opendkim-genkey -b 1024 -d example.test -s r1024 -D "$D"
opendkim-genkey -b 2048 -d example.test -s r2048 -D "$D"
mv "$D/r1024.private" "$D/r1024.pem"
mv "$D/r2048.private" "$D/r2048.pem"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 \
    -out "$D/r4096.pem" 2>/dev/null
openssl genpkey -algorithm ed25519 -out "$D/ed.pem"
# dkimpy takes an ed25519 private key as the base64 32-octet seed.
openssl pkey -in "$D/ed.pem" -outform DER | tail -c 32 | base64 -w0 \
    >"$D/ed.seed"

# The base64 SubjectPublicKeyInfo of an RSA key (RFC 6376 3.6.1).
rsapub() { openssl pkey -in "$1" -pubout -outform DER | base64 -w0; }
# The raw ed25519 public key (RFC 8463 4).
edpub() { openssl pkey -in "$1" -pubout -outform DER | tail -c 32 |
    base64 -w0; }
# A TXT RR for unbound, split into strings of at most 255 octets.
txt() {
	local v=$2 out=""
	while [[ -n $v ]]; do
		out+=" \"${v:0:255}\""
		v=${v:255}
	done
	printf '%s TXT%s' "$1" "$out"
}
K=_domainkey.example.test.
start_unbound \
    "$(txt r512.$K "v=DKIM1; k=rsa; p=$(rsapub "$D/r512.pem")")" \
    "$(txt r1020.$K "v=DKIM1; k=rsa; p=$(rsapub "$D/r1020.pem")")" \
    "$(txt r1024.$K "v=DKIM1; k=rsa; p=$(rsapub "$D/r1024.pem")")" \
    "$(txt r2048.$K "v=DKIM1; k=rsa; p=$(rsapub "$D/r2048.pem")")" \
    "$(txt r4096.$K "v=DKIM1; k=rsa; p=$(rsapub "$D/r4096.pem")")" \
    "$(txt ed.$K "v=DKIM1; k=ed25519; p=$(edpub "$D/ed.pem")")" \
    "$(txt kt.$K "v=DKIM1; k=ed25519; p=$(rsapub "$D/r2048.pem")")" \
    "$(txt rev.$K "v=DKIM1; k=rsa; p=")"
dns_query r4096.$K TXT | grep -q '^status NOERROR' ||
	fail "unbound does not serve the 4096-bit key"

# ------------------------------------------------------------- messages
cat >"$D/plain.eml" <<'EOF'
From: Alice <alice@example.test>
To: Bob <bob@example.org>
Subject: quarterly report
Date: Mon, 01 Jan 2024 10:00:00 +0000
Message-ID: <m1@example.test>
MIME-Version: 1.0
Content-Type: text/plain

Hello Bob,

the figures are in the shared folder as usual.
--
Alice
EOF

# sign NAME [dkim_sign.py options]: sign plain.eml with r2048 unless the
# options name another selector/key (-s SEL -k KEY).
sign() {
	local name=$1 sel=r2048 key=$D/r2048.pem in=$D/plain.eml
	shift
	while (($#)); do
		case $1 in
		-s) sel=$2; shift 2 ;;
		-k) key=$2; shift 2 ;;
		-i) in=$2; shift 2 ;;
		*) break ;;
		esac
	done
	"${SIGN[@]}" "$sel" example.test "$key" "$@" <"$in" >"$D/$name.eml" ||
		fail "signing $name failed"
}

sign rsa-relaxed --canon relaxed/relaxed
sign rsa-simple --canon simple/simple
sign ed25519 -s ed -k "$D/ed.seed" --alg ed25519-sha256
sign rsa-sha1 --alg rsa-sha1
sign rsa-512 -s r512 -k "$D/r512.pem"
sign rsa-1020 -s r1020 -k "$D/r1020.pem"
sign rsa-1024 -s r1024 -k "$D/r1024.pem"
sign rsa-4096 -s r4096 -k "$D/r4096.pem"
# Two signatures: a good one, then on top one made with the wrong key.
sign two-good
sign two-sigs -i "$D/two-good.eml" -s r1024 -k "$D/r2048.pem"
sign body-changed
sed -i 's/shared folder/attached file/' "$D/body-changed.eml"
sign header-changed
sed -i 's/^Subject: quarterly report/Subject: urgent invoice/' \
    "$D/header-changed.eml"
# l= (signed length), then text appended: the classic forgery.
sign l-appended --length
printf '\nP.S. New bank details: send the payment to IBAN XX00 0000.\n' \
    >>"$D/l-appended.eml"
sign l-relaxed --length --canon relaxed/relaxed
printf '\n   Click here: http://phish.example/\n' >>"$D/l-relaxed.eml"
# l= followed by nothing visible (a trailing blank line): still a pass.
sign l-blank --length --canon relaxed/relaxed
printf '\n  \n\t\n' >>"$D/l-blank.eml"
# A second From on top of a good signature (what MUAs show).
sign dup-from
sed -i '0,/^From: /s//From: CEO <ceo@example.test>\nFrom: /' \
    "$D/dup-from.eml"
sign from-not-in-h --raw --headers to:subject:date:message-id
sign i-outside-d --raw --identity alice@other.test
sign key-type -s kt
sign revoked -s rev
sign missing -s nokey
sign sixty --count 60
cp "$D/plain.eml" "$D/unsigned.eml"

# ------------------------------------------------------------ the checks
# results FILE [-o k=v]...: print the dkim= results of `gatehouse dkim`,
# one word, in header order; its whole output goes to $D/FILE.out.
results() {
	local f=$1
	shift
	"$GATEHOUSE" -c /dev/null -o "resolver=127.0.0.1@$UNBOUND_PORT" \
	    "$@" dkim "$D/$f.eml" >"$D/$f.out" 2>"$D/$f.err" ||
		fail "gatehouse dkim $f failed: $(cat "$D/$f.err")"
	sed -n 's/^dkim=\([a-z]*\).*/\1/p' "$D/$f.out" | tr '\n' ' ' |
	    sed 's/ $//'
}

# xcheck FILE INDEX: "ok" or "fail" from dkimverify.
xcheck() {
	if "$PY" "$GH_SRC/tests/lib/dkimverify_at.py" "$UNBOUND_PORT" \
	    --index "$2" <"$D/$1.eml" >"$D/$1.x$2" 2>&1; then
		echo ok
	else
		echo fail
	fi
}

# Where gatehouse is stricter than dkimverify, and why.
declare -A STRICTER=(
	[rsa-sha1]="RFC 8301 3.1: rsa-sha1 is never a pass"
	[l-appended]="l= with visible unsigned text is policy (dkim.body_length=strict)"
	[l-relaxed]="l= with visible unsigned text is policy (dkim.body_length=strict)"
	[from-not-in-h]="RFC 6376 5.4/6.1.1: a signature whose h= lacks From is PERMFAIL"
)

# expect NAME "RESULTS" [REASON-ERE]: gatehouse's results must be RESULTS;
# each signature is cross-checked with dkimverify.
expect() {
	local name=$1 want=$2 reason=${3:-} got i r x n=0
	got=$(results "$name")
	[[ $got == "$want" ]] ||
		fail "$name: gatehouse says '$got', expected '$want'" \
		    "($(cat "$D/$name.out"))"
	if [[ -n $reason ]]; then
		grep -Eq "reason=\"[^\"]*($reason)" "$D/$name.out" ||
			fail "$name: no reason matching '$reason' in" \
			    "$(cat "$D/$name.out")"
	fi
	for r in $got; do
		x=$(xcheck "$name" $n)
		if [[ $r == pass && $x != ok ]]; then
			fail "$name sig $n: gatehouse pass, dkimverify $x" \
			    "($(cat "$D/$name.x$n"))"
		elif [[ $r != pass && $x == ok && -z ${STRICTER[$name]:-} ]]
		then
			fail "$name sig $n: dkimverify ok, gatehouse $r"
		elif [[ $r != pass && $x == ok ]]; then
			note "$name: stricter than dkimverify: ${STRICTER[$name]}"
		elif [[ $r != pass && -n ${STRICTER[$name]:-} ]]; then
			fail "$name: listed as stricter, but dkimverify" \
			    "also refuses it now"
		fi
		n=$((n + 1))
	done
	ok "$name: $got${reason:+ ($reason)}"
}

expect unsigned "none"
expect rsa-relaxed "pass"
expect rsa-simple "pass"
expect ed25519 "pass"
expect rsa-1024 "pass"
expect rsa-4096 "pass"
expect two-sigs "fail pass" "signature did not verify"
expect body-changed "fail" "body hash did not verify"
expect header-changed "fail" "signature did not verify"
expect rsa-sha1 "policy" "rsa-sha1"
expect rsa-512 "policy" "512 bits is below"
expect rsa-1020 "policy" "1020 bits is below"
expect l-appended "policy" "leaves visible text unsigned"
expect l-relaxed "policy" "leaves visible text unsigned"
expect l-blank "pass"
expect dup-from "policy" "2 From header fields"
expect from-not-in-h "permerror" "From is not in h="
expect i-outside-d "permerror" "i= is not within d="
expect key-type "permerror" "k=ed25519 does not match"
expect revoked "permerror" "revoked"
expect missing "permerror" "no key for signature"

# ------------------------------------------- Authentication-Results form
b8=$(sed -n '/^DKIM-Signature/,/^[^ \t]/p' "$D/rsa-relaxed.eml" |
    tr -d ' \t\r\n' | sed 's/.*;b=//' | cut -c1-8)
# base64 holds '+': quoted for the ERE (unquoted, it made the check fail
# whenever the first 8 characters of the fresh signature held one).
b8=$(printf '%s' "$b8" | sed 's/+/\\+/g')
assert_grep "^Authentication-Results: [^;]*; dkim=pass header\.d=example\.test header\.s=r2048 header\.i=@example\.test header\.a=rsa-sha256 header\.b=\"?$b8" \
    "$D/rsa-relaxed.out"
assert_grep 'dkim=fail reason="signature did not verify" header\.d=example\.test header\.s=r1024' \
    "$D/two-sigs.out"
assert_grep '^Authentication-Results: .*dkim=fail .*; dkim=pass ' \
    "$D/two-sigs.out"
assert_grep 'dkim=none reason="no signature"' "$D/unsigned.out"
ok "Authentication-Results: one dkim= per signature with header.d/s/i/a/b"

# ------------------------------------------------------------- policy
assert_grep '^verdict=continue' "$D/two-sigs.out"	# best signature
assert_grep '^verdict=tag score=1\.0' "$D/body-changed.out"
assert_grep '^verdict=reject .*reply="550 5\.7\.20 ' "$D/dup-from.out"
results body-changed -o dkim.on_fail=reject >/dev/null
assert_grep '^verdict=reject .*reply="550 5\.7\.20 ' "$D/body-changed.out"
results dup-from -o dkim.multiple_from=tag >/dev/null
assert_grep '^verdict=tag ' "$D/dup-from.out"
results rsa-sha1 -o dkim.on_policy=tempfail >/dev/null
assert_grep '^verdict=tempfail .*reply="451 4\.7\.5 ' "$D/rsa-sha1.out"
[[ $(results rsa-512 -o dkim.min_key_bits=512) == pass ]] ||
	fail "dkim.min_key_bits=512 does not let the 512-bit key pass"
[[ $(results l-appended -o dkim.body_length=ignore) == pass ]] ||
	fail "dkim.body_length=ignore does not let l= pass"
ok "policy: dkim.on_*, dkim.multiple_from, dkim.min_key_bits, dkim.body_length"

# ------------------------------------------------------ 60 signatures
t0=$(date +%s%N)
got=$(results sixty)
ms=$((($(date +%s%N) - t0) / 1000000))
want="$(printf 'pass %.0s' {1..10})$(printf 'neutral %.0s' {1..50})"
[[ $got == "${want% }" ]] || fail "sixty: got '$got'"
assert_grep 'dkim=neutral reason="not verified: more than dkim.max_signatures \(10\)' \
    "$D/sixty.out"
((ms < 3000)) || fail "60 signatures took $ms ms"
[[ $(xcheck sixty 0) == ok && $(xcheck sixty 59) == ok ]] ||
	fail "dkimverify does not verify the sixty signatures"
ok "60 signatures: 10 verified, 50 neutral, $ms ms"

# ---------------------------------------------------- DNS timeout
# unbound stopped: queries time out.  dns.timeout bounds each lookup,
# dns.budget the message: 60 signatures cost the budget, not 60 timeouts.
pause_unbound
t0=$(date +%s%N)
got=$(results rsa-relaxed -o dns.timeout=300ms)
ms=$((($(date +%s%N) - t0) / 1000000))
[[ $got == temperror ]] || fail "timeout: got '$got'"
assert_grep 'reason="key query timed out' "$D/rsa-relaxed.out"
((ms < 2500)) || fail "one timed-out lookup took $ms ms"
ok "DNS timeout: temperror in $ms ms"
t0=$(date +%s%N)
got=$(results sixty -o dns.timeout=500ms -o dns.budget=1200ms)
ms=$((($(date +%s%N) - t0) / 1000000))
want="$(printf 'temperror %.0s' {1..10})$(printf 'neutral %.0s' {1..50})"
[[ $got == "${want% }" ]] || fail "sixty, DNS down: got '$got'"
((ms < 3500)) || fail "60 signatures with DNS down took $ms ms"
resume_unbound
ok "60 signatures, DNS down: 10 temperror, 50 neutral, $ms ms (budget 1.2 s)"
# dkimverify has no temporary result (a timeout is "verification
# failed"), so the timeout cases are not cross-checked.
