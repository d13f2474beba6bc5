#!/usr/bin/env bash
# rules_wx.sh — the rule engine under a W^X policy (the shipped units set
# MemoryDenyWriteExecute=yes): PCRE2's JIT is refused, every regex runs
# on the interpreter, the daemon says so once at load, and the results
# are the same: the default rules' self-tests pass and `gatehouse scan`
# gives the same verdicts, scores, hits and edits as with the JIT.  The
# policy is the kernel's prctl(PR_SET_MDWE) (tests/lib/mdwe.py), what
# systemd enforces with seccomp; skipped on kernels without it.
. "${GH_SRC:?set GH_SRC to the source root}/tests/lib/harness.sh"
need python3

wx() { python3 "$GH_SRC/tests/lib/mdwe.py" "$@"; }
wx /bin/true || { rc=$?; [[ $rc -eq 77 ]] && skip "no PR_SET_MDWE"; \
    fail "mdwe.py: $rc"; }
gh() {
	"$GATEHOUSE" -f -c /dev/null \
	    -o "rules=$GH_SRC/rules/default/*.rules" -o authserv_id=mx.test "$@"
}

# Load and self-tests, with and without the policy.
gh check >"$T/check.jit" 2>&1 || fail "check: $(cat "$T/check.jit")"
wx "$GATEHOUSE" -f -c /dev/null -o "rules=$GH_SRC/rules/default/*.rules" \
    -o authserv_id=mx.test check >"$T/check.wx" 2>&1 ||
	fail "check under W^X: $(cat "$T/check.wx")"
assert_grep 'regexes jit [1-9][0-9]*, interpreted 0' "$T/check.jit"
assert_grep 'regexes jit 0, interpreted [1-9]' "$T/check.wx"
assert_grep 'warning: rules: PCRE2 JIT refused' "$T/check.wx"
assert_not_grep 'JIT refused' "$T/check.jit"
assert_grep 'self-tests: [1-9][0-9]* ran, 0 failed' "$T/check.wx"
ok "JIT refused under W^X, said once, self-tests pass on the interpreter"

# The same messages scanned both ways.
i=0
for body in \
    'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X' \
    'Click here http://192.0.2.7/win and claim your prize now!!!' \
    'Shall we meet at noon?'; do
	i=$((i + 1))
	printf 'From: a@example.org\r\nTo: b@example.org\r\nSubject: t%d\r\n%s\r\n%s\r\n' \
	    "$i" "Message-ID: <$i@example.org>" "" >"$T/m$i.eml"
	printf '%s\r\n' "$body" >>"$T/m$i.eml"
done
strip() { sed -E 's/ time=[0-9.]+ms//; s/[0-9.]+ ms//g'; }
gh scan --offline "$T"/m*.eml 2>/dev/null | strip >"$T/scan.jit"
wx "$GATEHOUSE" -c /dev/null -o "rules=$GH_SRC/rules/default/*.rules" \
    -o authserv_id=mx.test scan --offline "$T"/m*.eml 2>/dev/null |
	strip >"$T/scan.wx"
assert_grep 'verdict=reject' "$T/scan.jit"
diff -u "$T/scan.jit" "$T/scan.wx" >&2 || fail "results differ under W^X"
ok "same verdicts, hits and edits with and without the JIT"
