#!/usr/bin/env bash
# bench/dkim.sh — DKIM verifications per second, rsa-sha256 with a
# 2048-bit key and ed25519-sha256, with a warm key cache (the shared
# resolver's), beside `openssl speed`'s verify/s for the same key types
# measured in the same run: the bound no verifier on this machine can
# beat.  A benchmark: it reports, it does not pass or fail on time.
#
# usage: bench/dkim.sh [COUNT]    (GATEHOUSE=path/to/gatehouse, default
#                                  build/gatehouse; COUNT messages per
#                                  run, default 2000; best of 3 runs)
#
# One `gatehouse dkim` process verifies the same signed message COUNT
# times on one thread, through the whole DKIM filter: read the file,
# parse the message, feed libopendkim header by header and the body,
# look the key up (answered from the resolver's cache after the first
# message), verify, build Authentication-Results.  The keys are served
# by a local unbound.
set -euo pipefail
GH_SRC=$(cd "$(dirname "$0")/.." && pwd)
export GH_SRC
GATEHOUSE=${GATEHOUSE:-$GH_SRC/build/gatehouse}
export GATEHOUSE
COUNT=${1:-2000}
. "$GH_SRC/tests/lib/harness.sh"

need openssl unbound
PY=/usr/bin/python3
"$PY" -c 'import dkim, nacl.signing' 2>/dev/null ||
	skip "needs python3-dkim and python3-nacl"
[[ -x $GATEHOUSE ]] || skip "no gatehouse binary at $GATEHOUSE"

D=$T/bench
mkdir -p "$D"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$D/rsa.pem" 2>/dev/null
openssl genpkey -algorithm ed25519 -out "$D/ed.pem"
openssl pkey -in "$D/ed.pem" -outform DER | tail -c 32 | base64 -w0 \
    >"$D/ed.seed"
rsapub=$(openssl pkey -in "$D/rsa.pem" -pubout -outform DER | base64 -w0)
edpub=$(openssl pkey -in "$D/ed.pem" -pubout -outform DER | tail -c 32 |
    base64 -w0)
rsatxt="v=DKIM1; k=rsa; p=$rsapub"
start_unbound \
    "rsa._domainkey.example.test. TXT \"${rsatxt:0:255}\" \"${rsatxt:255}\"" \
    "ed._domainkey.example.test. TXT \"v=DKIM1; k=ed25519; p=$edpub\""

# A typical small message: a dozen header fields, 2 KB of text.
{
	printf 'Received: from mail.example.test (mail.example.test [192.0.2.1])\n'
	printf '\tby mx.example.org with ESMTPS id 4Xyz; Mon, 1 Jan 2024 10:00:01 +0000\n'
	printf 'From: Alice <alice@example.test>\nTo: Bob <bob@example.org>\n'
	printf 'Cc: Carol <carol@example.org>\nSubject: the benchmark\n'
	printf 'Date: Mon, 01 Jan 2024 10:00:00 +0000\n'
	printf 'Message-ID: <bench@example.test>\nMIME-Version: 1.0\n'
	printf 'Content-Type: text/plain; charset=utf-8\n\n'
	for i in $(seq 1 30); do
		printf 'Line %02d of the body, long enough to look like text.\n' "$i"
	done
} >"$D/msg.eml"
"$PY" "$GH_SRC/tests/lib/dkim_sign.py" rsa example.test "$D/rsa.pem" \
    --canon relaxed/relaxed <"$D/msg.eml" >"$D/rsa.eml"
"$PY" "$GH_SRC/tests/lib/dkim_sign.py" ed example.test "$D/ed.seed" \
    --alg ed25519-sha256 --canon relaxed/relaxed <"$D/msg.eml" >"$D/ed.eml"

GH=("$GATEHOUSE" -c /dev/null -o "resolver=127.0.0.1@$UNBOUND_PORT"
    -o log.level=err dkim)

# rate FILE: best of 3 runs of COUNT verifications, in messages/s.
rate() {
	local f=$1 best=0 i t0 t1 r args=()
	for ((i = 0; i < COUNT; i++)); do args+=("$f"); done
	"${GH[@]}" "$f" | grep -q '^dkim=pass' ||
		fail "$f does not verify: $("${GH[@]}" "$f")"
	for i in 1 2 3; do
		t0=$(date +%s%N)
		"${GH[@]}" "${args[@]}" >"$D/out"
		t1=$(date +%s%N)
		[[ $(grep -c '^dkim=pass' "$D/out") == "$COUNT" ]] ||
			fail "not every verification passed"
		r=$((COUNT * 1000000000 / (t1 - t0)))
		((r > best)) && best=$r
	done
	echo "$best"
}

# ossl ALG: openssl's single-thread verify/s for rsa2048 or ed25519.
ossl() {
	openssl speed -seconds 2 "$1" 2>/dev/null | awk -v a="$1" '
	    a == "rsa2048" && /^rsa 2048 bits/ { print int($NF) }
	    a == "ed25519" && /Ed25519/ { print int($NF) }'
}

rsa=$(rate "$D/rsa.eml")
ed=$(rate "$D/ed.eml")
orsa=$(ossl rsa2048)
oed=$(ossl ed25519)
printf '\nDKIM verifications/s, one thread, warm key cache (%d messages, best of 3)\n' \
    "$COUNT"
printf '%-16s %12s %16s %8s\n' "" "gatehouse" "openssl verify" "ratio"
printf '%-16s %12d %16d %7d%%\n' rsa-sha256/2048 "$rsa" "$orsa" \
    $((100 * rsa / orsa))
printf '%-16s %12d %16d %7d%%\n' ed25519-sha256 "$ed" "$oed" \
    $((100 * ed / oed))
printf '(%s; %s)\n' "$(openssl version)" "$(grep -m1 'model name' \
    /proc/cpuinfo | sed 's/.*: //')"
