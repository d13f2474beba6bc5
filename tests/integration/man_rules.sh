#!/usr/bin/env bash
# man_rules.sh — gatehouse-rules(5): man renders it (and gatehouse(8),
# gatehouse.conf(5)) without a warning;
# every directive of the rule parser's table (rules/parse.c
# directives[]), every rule type, action and tflag the parser knows, and
# the conditional keywords, are documented in it (taken from the source,
# so the page cannot drift); and the example rule file in EXAMPLES loads
# with `gatehouse check`, its self-tests passing.
. "${GH_SRC:?set GH_SRC to the source root}/tests/lib/harness.sh"
need man

page=$GH_SRC/docs/man/gatehouse-rules.5
parse=$GH_SRC/rules/parse.c
[[ -f $page ]] || fail "no $page"

warn=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$page" 2>&1 >/dev/null)
[[ -z $warn ]] || fail "man --warnings: $warn"
# The other two pages: gatehouse(8) as shipped, gatehouse.conf(5) as
# generated from the configuration table.
"$GATEHOUSE" manpage >"$T/gatehouse.conf.5" || fail "gatehouse manpage"
for other in "$GH_SRC/docs/man/gatehouse.8" "$T/gatehouse.conf.5"; do
	warn=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$other" \
	    2>&1 >/dev/null)
	[[ -z $warn ]] || fail "man --warnings ${other##*/}: $warn"
done
MANWIDTH=80 LC_ALL=C.UTF-8 man -l "$page" 2>/dev/null | col -bx >"$T/page.txt"
[[ -s $T/page.txt ]] || fail "man rendered nothing"
ok "renders without warnings"

# The directive table: lines '	{ "key",	d_fn, ... },' between
# "directives[] = {" and the closing "};".
keys=$(sed -n '/^} directives\[\] = {/,/^};/p' "$parse" |
    sed -n 's/^[[:space:]]*{ "\([a-z_0-9]*\)",.*/\1/p')
n=$(wc -w <<<"$keys")
((n >= 30)) || fail "only $n directives found in $parse: has the table moved?"
# Rule types (the skip list), actions, and the conditionals.
types=$(sed -n '/static const char \*const types\[\] = {/,/};/p' "$parse" |
    grep -o '"[a-z]*"' | tr -d '"')
acts=$(sed -n '/} acts\[\] = {/,/};/p' "$parse" | grep -o '{ "[a-z]*"' |
    tr -d '{" ')
conds=$(grep -o 'strcmp(line, "[a-z]*")' "$parse" | grep -o '"[a-z]*"' |
    tr -d '"' | sort -u)
tflags=$(grep -o 'str[n]*cmp(w, "[a-z]*=*"' "$GH_SRC/rules/compile.c" |
    grep -o '"[a-z]*=*"' | tr -d '"' | sort -u)
[[ -n $types && -n $acts && -n $conds && -n $tflags ]] ||
	fail "keyword lists not found in the rules source"
missing=()
for k in $keys $types $acts $conds lang; do
	# documented as a directive: bold, in the roff source
	grep -Eq "(\\\\fB|^\\.B[IR]? \"?)${k}(\\\\f|[ \"]|\$)" "$page" ||
		missing+=("$k")
done
for k in $tflags; do
	grep -Eq "(\\\\fB|^\\.B[IR]? \"?)(tflags )?${k}" "$page" ||
		missing+=("tflags:$k")
done
((${#missing[@]} == 0)) || fail "not documented in $page: ${missing[*]}"
ok "all $n directives, $(wc -w <<<"$types") rule types, actions," \
    "conditionals and tflags are documented"

# The example file of EXAMPLES loads, and its self-tests pass.
awk '/^EXAMPLES/ {on = 1; next} on && /^[A-Z]/ {exit} on' "$T/page.txt" |
    awk '/^ *# \/etc\/gatehouse\/rules\/local.rules/ {on = 1} on' |
    awk '/^ *Overriding/ {exit} {print}' | sed 's/^ *//' \
    >"$T/example.rules"
grep -q '^client   LOCAL_BAD_NET' "$T/example.rules" ||
	fail "example not extracted: $(head -5 "$T/example.rules")"
"$GATEHOUSE" -c /dev/null -o "rules=$T/example.rules" check \
    >"$T/check.out" 2>&1 || fail "gatehouse check: $(cat "$T/check.out")"
assert_grep 'warnings 0' "$T/check.out"
assert_grep 'self-tests: [1-9][0-9]* ran, 0 failed' "$T/check.out"
ok "the example rule file loads and its self-tests pass"
