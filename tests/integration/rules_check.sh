#!/usr/bin/env bash
# gatehouse check with rule files: the shipped rules load and self-test;
# a broken file is refused with file:line; a failing self-test fails
# check; SpamAssassin's stock rules (Debian's spamassassin) load with no
# error and eval: rules are counted as skipped.
set -euo pipefail
: "${GATEHOUSE:?} ${GH_SRC:?}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
gh() { "$GATEHOUSE" -c /dev/null "$@"; }

gh -o "rules=$GH_SRC/rules/default/*.rules" check > "$T/out" 2>&1 ||
	fail "shipped rules: $(cat "$T/out")"
grep -q "self-tests: [1-9][0-9]* ran, 0 failed" "$T/out" ||
	fail "shipped rules ran no self-test: $(cat "$T/out")"

printf 'body GOOD /fine/\n\nheader BAD Subject =~ /(unclosed/\nbody X\n' \
	> "$T/broken.rules"
if gh -o "rules=$T/broken.rules" check > "$T/out" 2>&1; then
	fail "broken rule file accepted"
fi
grep -q "^gatehouse: $T/broken.rules:3: " "$T/out" ||
	fail "no file:line for the bad regex: $(cat "$T/out")"
grep -q "^gatehouse: $T/broken.rules:4: " "$T/out" ||
	fail "no file:line for the incomplete rule: $(cat "$T/out")"

printf 'body PILLS /cheap pills/\ntest PILLS ok no drugs here\n' \
	> "$T/selftest.rules"
if gh -o "rules=$T/selftest.rules" check > "$T/out" 2>&1; then
	fail "failing self-test passed check"
fi
grep -q "selftest.rules:2: " "$T/out" || fail "self-test failure unnamed"

if ls /usr/share/spamassassin/*.cf > /dev/null 2>&1; then
	gh -o "rules=/usr/share/spamassassin/*.cf" check > "$T/out" 2>&1 ||
		fail "stock SpamAssassin rules: $(grep -v warning "$T/out" | head)"
	line=$(grep '^rules: [0-9]* rules from' "$T/out")
	echo "$line"
	n=$(echo "$line" | sed 's/^rules: \([0-9]*\) rules.*/\1/')
	[ "$n" -gt 1000 ] || fail "only $n stock rules loaded"
	skipped=$(echo "$line" | sed 's/.*eval: rules skipped \([0-9]*\).*/\1/')
	[ "$skipped" -gt 0 ] || fail "no eval: rule counted as skipped"
else
	echo "spamassassin not installed: stock rules not checked"
fi
echo "rules_check: ok"
