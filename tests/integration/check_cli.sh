#!/usr/bin/env bash
# gatehouse check: errors with file:line and a non-zero exit; -o errors;
# -v prints every key with its effective value; the shipped file is valid.
set -euo pipefail
: "${GATEHOUSE:?} ${GH_SRC:?}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cat > "$T/bad.conf" <<'CONF'
# three mistakes
listen = 127.0.0.1:2525
bogus_key = 1
smtp.idle_timeout = 10 parsecs
smtp.max_recipients = 0
CONF
set +e
"$GATEHOUSE" -c "$T/bad.conf" check > "$T/out" 2>&1
rc=$?
set -e
[ $rc -ne 0 ] || fail "check accepted a bad file"
grep -q "^gatehouse: $T/bad.conf:3: bogus_key: unknown key$" "$T/out" ||
	fail "unknown key not reported with file:line: $(cat "$T/out")"
grep -q "^gatehouse: $T/bad.conf:4: smtp.idle_timeout: expected a duration" \
	"$T/out" || fail "bad duration not reported: $(cat "$T/out")"
grep -q "^gatehouse: $T/bad.conf:5: smtp.max_recipients: 0 is out of range" \
	"$T/out" || fail "out-of-range number not reported: $(cat "$T/out")"
[ "$(grep -c "bad.conf:" "$T/out")" -eq 3 ] || fail "expected 3 errors"

set +e
"$GATEHOUSE" -c /dev/null -o listen=nonsense check > "$T/out" 2>&1
rc=$?
set -e
[ $rc -ne 0 ] || fail "-o listen=nonsense accepted"
grep -q "^gatehouse: -o listen: expected host:port" "$T/out" ||
	fail "-o error unclear: $(cat "$T/out")"

"$GATEHOUSE" -c /dev/null -o score.tag=7.5 check -v > "$T/out" 2>&1 ||
	fail "check -v failed: $(cat "$T/out")"
for key in listen backend resolver rules authserv_id milter_listen \
	max_message_size trusted_networks spf.on_fail dkim.min_key_bits; do
	grep -q "^$key = " "$T/out" || fail "check -v does not list $key"
done
grep -q "^score.tag = 7.5$" "$T/out" || fail "override not shown"
grep -q "^trusted_networks = $" "$T/out" || fail "trusted_networks not empty"

"$GATEHOUSE" -c "$GH_SRC/etc/gatehouse.conf" \
	-o "rules=$GH_SRC/rules/default/*.rules" check > "$T/out" 2>&1 ||
	fail "shipped configuration invalid: $(cat "$T/out")"
"$GATEHOUSE" version | grep -q '^gatehouse [0-9]' || fail "version"
set +e
"$GATEHOUSE" frobnicate > /dev/null 2>&1
rc=$?
set -e
[ $rc -eq 2 ] || fail "unknown command exit $rc"
echo "check_cli: ok"
