#!/usr/bin/env bash
# gatehouse scan: verdicts, scores, hits with matched text, JSON output,
# LF and CRLF files alike, forged Authentication-Results edits, errors.
set -euo pipefail
: "${GATEHOUSE:?} ${GH_SRC:?}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
scan() {
	"$GATEHOUSE" -c /dev/null -o "rules=$GH_SRC/rules/default/*.rules" \
		-o authserv_id=mx.test.example scan --offline "$@"
}

cat > "$T/gtube.eml" <<'MSG'
From: Spammer <spam@example.net>
To: you@example.org
Subject: test
Date: Mon, 23 Nov 2026 10:00:00 +0000
Message-ID: <1@example.net>

XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X
MSG
cat > "$T/ham.eml" <<'MSG'
From: Alice <alice@example.org>
To: bob@example.org
Subject: lunch tomorrow?
Date: Mon, 23 Nov 2026 10:00:00 +0000
Message-ID: <2@example.org>
Authentication-Results: mx.test.example; dkim=pass header.d=bank.example
Authentication-Results: other.example; spf=pass

Shall we meet at noon?
MSG
sed 's/$/\r/' "$T/ham.eml" > "$T/ham-crlf.eml"

scan "$T/gtube.eml" > "$T/out"
grep -q "verdict=reject score=1000.0" "$T/out" || fail "gtube: $(cat "$T/out")"
grep -q "reply  554 5.7.1 Message refused: GTUBE" "$T/out" || fail "no reply"
grep -q 'hit    GTUBE .*1000.0  "XJS\*C4JDBQADN1' "$T/out" ||
	fail "GTUBE hit or its match not shown: $(cat "$T/out")"

scan "$T/ham.eml" > "$T/out"
grep -q "verdict=continue score=0.0" "$T/out" || fail "ham: $(cat "$T/out")"
# Our authserv-id is forged in header 1 of that name: deleted; 2 kept.
grep -q "delete Authentication-Results\[1\]" "$T/out" ||
	fail "forged A-R not deleted: $(cat "$T/out")"
grep -q "delete Authentication-Results\[2\]" "$T/out" &&
	fail "foreign A-R deleted"
grep -q "insert Authentication-Results: mx.test.example; none" "$T/out" ||
	fail "our A-R missing"
grep -q "append X-Spam-Status: No, score=0.0 required=5.0" "$T/out" ||
	fail "X-Spam-Status missing"
scan "$T/ham-crlf.eml" | sed "s|$T/ham-crlf.eml|F|; s/time=[0-9.]*ms//" > "$T/a"
scan "$T/ham.eml" | sed "s|$T/ham.eml|F|; s/time=[0-9.]*ms//" > "$T/b"
diff "$T/a" "$T/b" || fail "CRLF and LF files scan differently"

scan --json "$T/gtube.eml" "$T/ham.eml" > "$T/json"
python3 - "$T/json" <<'PY' || fail "bad JSON: $(cat "$T/json")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["verdict"] for r in rows] == ["reject", "continue"], rows
assert rows[0]["reply"]["code"] == 554
assert any(h["name"] == "GTUBE" and h["score"] == 1000 for h in rows[0]["hits"])
assert rows[1]["hits"] == []
PY

# JSON is UTF-8 whatever the message: a rule matching part of a
# multi-byte character, or Latin-1 bytes, still gives valid output.
printf 'From: a@example.org\r\nTo: b@example.org\r\nSubject: caf\xe9 \xc3\xa9t\xc3\xa9\r\n\r\nbody caf\xe9\r\n' \
	> "$T/latin1.eml"
printf 'header CAF_SUBJ Subject =~ /caf./\nscore CAF_SUBJ 0.1\nrawbody CAF_RAW /caf./\nscore CAF_RAW 0.1\n' \
	> "$T/caf.rules"
"$GATEHOUSE" -c /dev/null -o "rules=$T/caf.rules" scan --json --offline \
	"$T/latin1.eml" > "$T/json8"
python3 - "$T/json8" <<'PY' || fail "JSON not UTF-8: $(od -c "$T/json8" | head)"
import json, sys
row = json.loads(open(sys.argv[1], "rb").read().decode("utf-8"))
names = sorted(h["name"] for h in row["hits"])
assert names == ["CAF_RAW", "CAF_SUBJ"], names
PY

set +e
scan "$T/missing.eml" > /dev/null 2> "$T/err"
rc=$?
set -e
[ $rc -eq 1 ] || fail "missing file: exit $rc"
grep -q "missing.eml: No such file" "$T/err" || fail "error unclear"
echo "scan: ok"
