#!/usr/bin/env bash
# bench/rules.sh — the rule engine on SpamAssassin's stock rules over the
# SpamAssassin public corpus (issue 8), and spamd on the same messages,
# in one run.  Reports, asserts nothing.
#
#  1. gatehouse scan --stats over every message of the corpus, one
#     process (one core): messages per CPU second, CPU per message p50
#     and p99, memory of the compiled rule set; with the prefilter
#     (default), without it (rules.prefilter=no) and without any
#     shortcut (rules.shortcuts=no: one PCRE2 search per rule per text).
#  2. gatehouse scan --profile: time per message by rule type, in the
#     prefilter, and the ten slowest rules; the rest of the CPU time is
#     the message model (MIME, decoding, HTML, texts).
#  3. spamd -L with one child, spamc one message at a time (one core),
#     on a fixed sample of SA_N messages (default 300; the whole corpus
#     takes SpamAssassin about half an hour), uncached; gatehouse on the
#     same sample; the ratio.
#  4. Agreement with SpamAssassin per rule type on that sample, and the
#     rules that disagree most (sa_agree.py).
#
# usage: GATEHOUSE=build/gatehouse bench/rules.sh
# env:   SA_N (spamd sample size, 0: skip spamd), CORPUS_N (0: whole corpus)
set -euo pipefail
cd "$(dirname "$0")/.."
export GH_SRC=$PWD GATEHOUSE=${GATEHOUSE:-$PWD/build/gatehouse}
export GH_TEST_TIMEOUT=${GH_TEST_TIMEOUT:-7200}
SA_N=${SA_N:-300}
CORPUS_N=${CORPUS_N:-0}
. tests/lib/harness.sh
. tests/lib/sa.sh
need python3 perl

sa_corpus "$CORPUS_N"
mv "$T/corpus.list" "$T/all.list"
sa_setup
mapfile -t all <"$T/all.list"

# shellcheck disable=SC2086  # GH_SA_RULES is a list of globs
gh() {
	"$GATEHOUSE" -c /dev/null -o "rules=$GH_SA_RULES" "$@"
}
# The figures of one run of scan --stats on the files given.
stats() {
	local label=$1
	shift
	printf '%s\n' "--- gatehouse $label"
	gh scan --offline "$@" | sed -n '/^stats: /,$p'
}

echo "gatehouse $(git -C "$GH_SRC" rev-parse --short HEAD 2>/dev/null || echo ?)," \
    "SpamAssassin $SA_VERSION, ${#all[@]} messages," \
    "$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
gh check 2>&1 | grep '^rules:' || true
stats "(prefilter, whole corpus)" --stats "${all[@]}"
stats "rules.prefilter=no" --stats --no-prefilter "${all[@]}"
stats "rules.shortcuts=no" --stats --plain "${all[@]}"
stats "--profile (prefilter)" --profile "${all[@]}"

((SA_N > 0)) || exit 0
"$GH_PY" "$_GH_LIB/sa_corpus.py" list "$SA_CACHE/corpus" "$SA_N" \
    >"$T/sample.list"
mapfile -t sample <"$T/sample.list"
SA_CHILDREN=1 sa_start
# CPU ticks of spamd and its children (fields after the command name)
spamd_ticks() {
	# shellcheck disable=SC2046  # one argument per PID
	"$GH_PY" -c '
import sys
t = 0
for p in sys.argv[1:]:
    f = open("/proc/%s/stat" % p).read().rsplit(")", 1)[1].split()
    t += sum(int(x) for x in f[11:15])
print(t)' "$SA_PID" $(pgrep -P "$SA_PID")
}
c0=$(spamd_ticks)	# after start-up: rule loading is not counted
t0=$(date +%s.%N)
sa_results "$T/sample.list" "$T/sa.tsv" --no-cache --jobs 1 \
    --times "$T/sa.times" || fail "spamc failed"
t1=$(date +%s.%N)
spamd_cpu=$(($(spamd_ticks) - c0))
stats "(prefilter, the spamd sample)" --stats "${sample[@]}" \
    >"$T/gh-sample.txt"
cat "$T/gh-sample.txt"
gh_rate=$(awk '/messages per CPU second/ { print $(NF-4) }' \
    "$T/gh-sample.txt")
"$GH_PY" - "$T/sa.times" "$t0" "$t1" "${#sample[@]}" "$gh_rate" \
    "$spamd_cpu" "$(getconf CLK_TCK)" <<'PY'
import sys
times = sorted(float(x) for x in open(sys.argv[1]))
t0, t1, n, gh = float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
cpu = float(sys.argv[6]) / float(sys.argv[7])
wall = t1 - t0
q = lambda p: times[min(len(times) - 1, int(p * len(times)))] * 1e3
print("--- spamd -L (one child), spamc one at a time, %d messages" % n)
print("spamd: %.1f s wall, %.2f messages/s; spamc wall per message "
      "p50 %.1f ms, p99 %.1f ms; spamd CPU %.1f s while scanning "
      "(%.2f messages per CPU second)" % (wall, n / wall, q(0.5),
                                          q(0.99), cpu,
                                          n / cpu if cpu else 0))
print("ratio (CPU, the per-core figure): gatehouse %.1f / spamd %.2f "
      "messages per CPU second = %.0fx" % (gh, n / cpu if cpu else 0,
                                          gh / (n / cpu) if cpu else 0))
print("ratio (spamd wall, one child): gatehouse %.1f messages per CPU "
      "second / spamd %.2f messages/s = %.0fx" % (gh, n / wall,
                                                  gh / (n / wall)))
PY
echo "--- agreement with SpamAssassin on the sample"
perl "$_GH_LIB/sa_rules.pl" "$T/sa-site" >"$T/sa_rules.tsv"
gh rules --json >"$T/gh_rules.json"
gh scan --offline --json --subrules "${sample[@]}" >"$T/scan.jsonl"
SA_VERSION=$SA_VERSION "$GH_PY" "$_GH_LIB/sa_agree.py" \
    --rules "$T/gh_rules.json" --sa-rules "$T/sa_rules.tsv" \
    --gh "$T/scan.jsonl" --sa "$T/sa.tsv" \
    --known "$GH_SRC/tests/lib/sa_known_diffs.txt" --top 10 || true
