/*
 * test_rules.c -- the rule engine's loader: lexer, parser, directives,
 * conditionals, includes, globs, diagnostics with file:line, regex
 * translation, ReplaceTags, self-tests.
 */
#include "rules_testutil.h"

/* Every directive of both file kinds loads and is counted. */
static void
test_good_lines(void **state)
{
	struct rules_diag d;
	struct rules_set *set;
	uint32_t idx;
	double req;

	(void)state;
	set = tu_load("good.rules",
	    "# a comment\n"
	    "   \n"
	    "header   H_SUBJ   Subject =~ /free/i\n"
	    "header   H_EXISTS exists:X-Foo\n"
	    "header   H_UNSET  X-Bar !~ /x/ [if-unset: x]\n"
	    "body     B_ONE    /cheap\\s+pills/i   # trailing comment\n"
	    "rawbody  R_ONE    m{<b>}i\n"
	    "full     F_ONE    m!^Received:!m\n"
	    "uri      U_ONE    /example\\.com/\n"
	    "mimeheader M_ONE  Content-Type =~ /pdf/\n"
	    "meta     META1    (H_SUBJ && B_ONE) || U_ONE\n"
	    "client   C_ONE    /\\[192\\.0\\.2\\.1\\]$/\n"
	    "helo     HE_ONE   /^localhost$/\n"
	    "mailfrom MF_ONE   /@example\\.net$/\n"
	    "rcptto   RC_ONE   /^postmaster@/\n"
	    "score    H_SUBJ   2.5\n"
	    "score    B_ONE    1 2 3 4\n"
	    "describe H_SUBJ   Subject says free\n"
	    "tflags   B_ONE    multiple maxhits=3\n"
	    "action   C_ONE    reject \"554 5.7.1 Go away\"\n"
	    "action   HE_ONE   tempfail\n"
	    "action   RC_ONE   accept\n"
	    "action   MF_ONE   shadow discard\n"
	    "action   U_ONE    tag\n"
	    "priority H_SUBJ   -100\n"
	    "required_score 6.5\n"
	    "test     H_SUBJ   ok Free stuff\n"
	    "lang de  describe H_SUBJ Betreff\n"
	    "loadplugin Mail::SpamAssassin::Plugin::Foo\n", &d);
	if (set == NULL)
		tu_print_notes(&d);
	assert_non_null(set);
	assert_int_equal(d.errors, 0);
	assert_int_equal(d.warnings, 0);
	assert_int_equal(d.files, 1);
	assert_int_equal(d.by_type[RULES_T_HEADER], 3);
	assert_int_equal(d.by_type[RULES_T_BODY], 1);
	assert_int_equal(d.by_type[RULES_T_RAWBODY], 1);
	assert_int_equal(d.by_type[RULES_T_FULL], 1);
	assert_int_equal(d.by_type[RULES_T_URI], 1);
	assert_int_equal(d.by_type[RULES_T_MIMEHEADER], 1);
	assert_int_equal(d.by_type[RULES_T_META], 1);
	assert_int_equal(d.by_type[RULES_T_CLIENT], 1);
	assert_int_equal(d.by_type[RULES_T_HELO], 1);
	assert_int_equal(d.by_type[RULES_T_MAILFROM], 1);
	assert_int_equal(d.by_type[RULES_T_RCPTTO], 1);
	assert_int_equal(d.tests, 1);
	assert_int_equal(rules_count(set), 13);
	assert_int_equal(rules_lookup(set, "META1", &idx), 0);
	assert_string_equal(rules_name(set, idx), "META1");
	assert_int_equal(rules_type_of(set, idx), RULES_T_META);
	assert_int_equal(rules_lookup(set, "NOPE", &idx), -1);
	assert_int_equal(rules_lookup(set, "H_SUBJ", &idx), 0);
	assert_string_equal(rules_describe(set, idx), "Subject says free");
	{
		const char *file;
		unsigned line;
		rules_site(set, idx, &file, &line);
		assert_string_equal(file, tu_path("good.rules"));
		assert_int_equal(line, 3);
	}
	assert_true(rules_required_score(set, &req));
	assert_true(req == 6.5);
	rules_diag_free(&d);
	rules_set_unref(set);
}

/* Bad lines: each error names the file and the line. */
static void
test_bad_lines(void **state)
{
	char want[600];
	static const struct {
		const char	*text;
		const char	*error;
		unsigned	 line;
	} cases[] = {
		{ "body B /x/\nfrobnicate yes\n", "unknown directive "
		    "'frobnicate'", 2 },
		{ "\n\nbody B /x(/\n", "invalid regexp for B", 3 },
		{ "body B x\n", "missing regexp delimiters", 1 },
		{ "body B /x/e\n", "invalid end delimiter", 1 },
		{ "body B /a/b/\n", "unquoted delimiter", 1 },
		{ "body B /x/g\n", "unsupported modifier 'g'", 1 },
		{ "body 9B /x/\n", "invalid rule name '9B'", 1 },
		{ "body B\n", "missing definition", 1 },
		{ "header H Subject ~ /x/\n", "invalid head test H", 1 },
		{ "header H Subject:bogus =~ /x/\n",
		    "invalid header modifier", 1 },
		{ "score X abc\n", "non-numeric score", 1 },
		{ "score X 1 2\n", "1 or 4 scores", 1 },
		{ "meta M (A && B\n", "invalid expression for rule M", 1 },
		{ "meta M A ? B : C\n", "invalid expression for rule M", 1 },
		{ "meta M A / B\n", "division by zero possible", 1 },
		{ "meta M A ** 2\n", "invalid meta M", 1 },
		{ "meta M $x\n", "invalid meta M", 1 },
		{ "body B /x/\nif (version >= 3)\n", "unclosed 'if'", 2 },
		{ "endif\n", "missing starting 'if'", 1 },
		{ "if (1)\nelse foo\nendif\n", "'else' must be standalone",
		    2 },
		{ "if (bogus_thing > 1)\nendif\n", "unparseable condition",
		    1 },
		{ "action NOPE reject\n", "action for undefined rule NOPE",
		    1 },
		{ "body B /x/\naction B reject \"450 4.7.1 no\"\n",
		    "reply must start with a 5xx code", 2 },
		{ "body B /x/\naction B tempfail \"550 no\"\n",
		    "reply must start with a 4xx code", 2 },
		{ "body B /x/\naction B explode\n", "expected reject", 2 },
		{ "body B /x/\naction B accept \"250 ok\"\n",
		    "takes no argument", 2 },
		{ "body B /x/\naction B reject 550 no\n", "double quotes", 2 },
		{ "meta A B\nmeta B A\n", "circular", 1 },
		{ "bayes_auto_learn 1\n", "SpamAssassin setting that "
		    "gatehouse does not support", 1 },
		{ "include nonexistent.rules\n", "nonexistent.rules", 1 },
		{ "test B maybe x\n", "invalid 'test' value", 1 },
		{ "shadow perhaps\n", "expected yes or no", 1 },
		{ "body B eval:check_foo()\naction B reject\n",
		    "an eval: rule", 2 },
		{ "client C eval:check_foo()\n", "eval: is not supported", 1 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(want, sizeof(want), "%s:%u: ", tu_path("bad.rules"),
		    cases[i].line);
		tu_load_fails("bad.rules", cases[i].text, cases[i].error);
		tu_load_fails("bad.rules", cases[i].text, want);
	}
}

/* SpamAssassin files: unknown directives warn, known settings pass. */
static void
test_sa_lenient(void **state)
{
	struct rules_diag d;
	struct rules_set *set;

	(void)state;
	set = tu_load("local.cf",
	    "body B /x/\n"
	    "frobnicate yes\n"
	    "bayes_auto_learn 1\n"
	    "report_safe 0\n"
	    "bayes_stopword_en foo\n"
	    "header E eval:check_for_forged_received_trail()\n"
	    "body E2 eval:check_stock_info()\n"
	    "meta M E && B\n", &d);
	assert_non_null(set);
	assert_int_equal(d.errors, 0);
	assert_int_equal(d.warnings, 1);
	assert_true(tu_has_note(&d, "local.cf:2: unknown directive "
	    "'frobnicate'"));
	assert_int_equal(d.ignored, 3);
	assert_int_equal(d.eval_skipped, 2);
	assert_int_equal(rules_count(set), 2);
	{
		uint32_t m;
		assert_int_equal(rules_lookup(set, "M", &m), 0);
		assert_true(rules_incomplete(set, m));
		assert_int_equal(rules_lookup(set, "B", &m), 0);
		assert_false(rules_incomplete(set, m));
	}
	rules_diag_free(&d);
	rules_set_unref(set);
	/* errors are still errors in SpamAssassin files */
	tu_load_fails("local.cf", "body B /x(/\n", "local.cf:1: invalid "
	    "regexp");
}

/* Evaluate the body LINES against SET; true if rule NAME hit. */
static bool
body_hits(struct rules_set *set, const char *name, const char *const *lines)
{
	struct tu_msg m;
	struct rules_txn *t;
	bool hit;

	memset(&m, 0, sizeof(m));
	tu_body(&m, lines);
	t = rules_txn_new(set);
	assert_non_null(t);
	assert_int_equal(rules_eval(t, RULES_STAGE_EOM, &m.in, NULL), 0);
	hit = tu_hit(t, name) != NULL;
	rules_txn_free(t);
	return hit;
}

/* Comments, \#, white space, case of keys, "lang" lines. */
static void
test_lexer(void **state)
{
	static const char *const issue[] = { "issue #42 fixed\n", NULL };
	struct rules_set *set;
	uint32_t idx;

	(void)state;
	set = tu_load_ok("lex.rules",
	    "  BODY   HASH   /issue \\#42/   # comment here\n"
	    "\tBody\tTABS\t/fixed/\t\r\n"
	    "lang xx body NOT_EN /issue/\n"
	    "lang en body IS_EN /issue/\n"
	    "#body COMMENTED /x/\n"
	    "describe HASH a #hash in text is a comment\n");
	assert_true(body_hits(set, "HASH", issue));
	assert_true(body_hits(set, "TABS", issue));
	assert_true(body_hits(set, "IS_EN", issue));
	assert_int_equal(rules_lookup(set, "NOT_EN", &idx), -1);
	assert_int_equal(rules_lookup(set, "COMMENTED", &idx), -1);
	rules_set_unref(set);
	/* an unescaped # cuts the pattern */
	tu_load_fails("lex.rules", "body B /#42/\n", "lex.rules:1: invalid "
	    "regexp for B '/'");
}

/* Perl regex syntax: delimiters, modifiers, translations. */
static void
test_regex_syntax(void **state)
{
	static const char *const l1[] = { "Hello World\n", "second LINE\n",
	    NULL };
	static const char *const l2[] = { "path a/b/c and {x} \xa0 q\n", NULL };
	struct rules_set *set;

	(void)state;
	set = tu_load_ok("re.rules",
	    "body I      /hello world/i\n"
	    "body NOI    /hello world/\n"
	    "body BRACE  m{World$}m\n"
	    "body BANG   m!^second!\n"
	    "body PAREN  m(Hel+o)\n"
	    "body ANGLE  m<W.rld>\n"
	    "body QR     qr/World/\n"
	    "body X      / H e l l o \\s W /x\n"
	    "body S      /World.second/s\n"
	    "body NOS    /World.second/\n"
	    "body SLASH  /a\\/b\\/c/\n"
	    "body PIPE   m|a/b/c|\n"
	    "body CURLY  /\\{x\\}/\n"
	    "body UPTO   /l{,2}o W/\n"
	    "body WIDE   /[\\x{400}-\\x{4ff}q]/\n"
	    "body WIDE2  /[^\\x{400}]/\n"
	    "body NEVER  /[\\x{400}]/\n"
	    "body POSIX  /[[:upper:]]{4}/\n"
	    "body NOTASCII /\\w\\xa0/\n"
	    "body QE     m{\\Qa/b\\E}\n");
	assert_true(body_hits(set, "I", l1));
	assert_false(body_hits(set, "NOI", l1));
	assert_true(body_hits(set, "BRACE", l1));
	assert_true(body_hits(set, "BANG", l1));
	assert_true(body_hits(set, "PAREN", l1));
	assert_true(body_hits(set, "ANGLE", l1));
	assert_true(body_hits(set, "QR", l1));
	assert_true(body_hits(set, "X", l1));
	assert_false(body_hits(set, "S", l1));	/* per line */
	assert_true(body_hits(set, "SLASH", l2));
	assert_true(body_hits(set, "PIPE", l2));
	assert_true(body_hits(set, "CURLY", l2));
	assert_true(body_hits(set, "UPTO", l1));
	assert_true(body_hits(set, "WIDE", l2));
	assert_true(body_hits(set, "WIDE2", l2));
	assert_false(body_hits(set, "NEVER", l2));
	assert_true(body_hits(set, "POSIX", l1));
	assert_false(body_hits(set, "NOTASCII", l2));	/* \w is ASCII */
	assert_true(body_hits(set, "QE", l2));
	rules_set_unref(set);
	{
		static const char *const joined[] = { "World\nsecond\n", NULL };
		set = tu_load_ok("re2.rules", "body S /World.second/s\n"
		    "body NOS /World.second/\n");
		assert_true(body_hits(set, "S", joined));
		assert_false(body_hits(set, "NOS", joined));
		rules_set_unref(set);
	}
	tu_load_fails("re.rules", "body B m\\x\\\n", "backslash delimiter");
	tu_load_fails("re.rules", "body B /(?{ 1 })/\n", "eval (?{}) found");
}

/* if / ifplugin / else / endif as SpamAssassin's stock files use them. */
static void
test_conditionals(void **state)
{
	struct rules_diag d;
	struct rules_set *set;
	uint32_t idx;
	static const char *const yes[] = {
	    "V4", "V3", "CAN", "HAS", "PLUG_RT", "PLUG_MH", "NOT_FREEMAIL",
	    "ELSE1", "NESTED_OK", "PERL", "LOCAL", "NOT_CAPTURE", NULL };
	static const char *const no[] = {
	    "V5", "CANNOT", "FREEMAIL", "IF1", "NESTED_NO", "NESTED_ELSE",
	    "NOT_RT", "CAPTURE", NULL };
	size_t i;

	(void)state;
	set = tu_load("cond.cf",
	    "if (version >= 4.000000)\n body V4 /x/\nendif\n"
	    "if (version >= 3.004002)\n body V3 /x/\nendif\n"
	    "if (version >= 5.000000)\n body V5 /x/\nendif\n"
	    "if can(Mail::SpamAssassin::Conf::feature_bug6558_free)\n"
	    " body CAN /x/\nendif\n"
	    "if can(Mail::SpamAssassin::Conf::no_such_feature)\n"
	    " body CANNOT /x/\nendif\n"
	    "if has(Mail::SpamAssassin::Conf::feature_welcomelist_blocklist)\n"
	    " body HAS /x/\nendif\n"
	    "if can(Mail::SpamAssassin::Conf::feature_capture_rules)\n"
	    " body CAPTURE /x/\nendif\n"
	    "if !can(Mail::SpamAssassin::Conf::feature_capture_rules)\n"
	    " body NOT_CAPTURE /x/\nendif\n"
	    "ifplugin Mail::SpamAssassin::Plugin::ReplaceTags\n"
	    " body PLUG_RT /x/\nendif\n"
	    "ifplugin Mail::SpamAssassin::Plugin::MIMEHeader\n"
	    " body PLUG_MH /x/\nendif\n"
	    "ifplugin Mail::SpamAssassin::Plugin::FreeMail\n"
	    " body FREEMAIL /x/\n freemail_domains example.com\n"
	    " header FM_EVAL eval:check_freemail_from()\nendif\n"
	    "if !plugin(Mail::SpamAssassin::Plugin::FreeMail)\n"
	    " body NOT_FREEMAIL /x/\nendif\n"
	    "if !plugin(Mail::SpamAssassin::Plugin::ReplaceTags)\n"
	    " body NOT_RT /x/\nendif\n"
	    "if (1 > 2)\n body IF1 /x/\nelse\n body ELSE1 /x/\nendif\n"
	    "if (version >= 3)\n"
	    " if !(can(Mail::SpamAssassin::Conf::feature_bug6558_free))\n"
	    "  body NESTED_NO /x/\n"
	    " else\n"
	    "  body NESTED_OK /x/\n"
	    " endif\n"
	    "endif\n"
	    "if (0)\n"
	    " if (1)\n  body NESTED_NO /x/\n else\n  body NESTED_ELSE /x/\n"
	    " endif\n"
	    "endif\n"
	    "if (perl_version >= 5.010000)\n body PERL /x/\nendif\n"
	    "if (local_tests_only)\n body LOCAL /x/\nendif\n", &d);
	if (set == NULL)
		tu_print_notes(&d);
	assert_non_null(set);
	assert_int_equal(d.cond_skipped, 9);
	assert_int_equal(d.eval_skipped, 1);
	for (i = 0; yes[i] != NULL; i++) {
		if (rules_lookup(set, yes[i], &idx) != 0)
			fail_msg("%s should be defined", yes[i]);
	}
	for (i = 0; no[i] != NULL; i++) {
		if (rules_lookup(set, no[i], &idx) == 0)
			fail_msg("%s should not be defined", no[i]);
	}
	rules_diag_free(&d);
	rules_set_unref(set);
}

/* include (relative) and globs, in order; later definitions win. */
static void
test_include_glob(void **state)
{
	static const char *const text[] = { "one two\n", NULL };
	const char *paths[2];
	struct rules_diag d;
	struct rules_set *set;
	uint32_t idx;

	(void)state;
	assert_int_equal(mkdir(tu_path("conf.d"), 0700), 0);
	assert_int_equal(mkdir(tu_path("conf.d/sub"), 0700), 0);
	tu_write("conf.d/10-a.rules", "body R /one/\nscore R 1\n"
	    "include sub/inc.rules\n");
	tu_write("conf.d/sub/inc.rules", "body INC /two/\n");
	tu_write("conf.d/20-b.rules", "body R /nomatch/\n");
	tu_write("conf.d/30-c.cf", "score R 7\n");
	tu_write("conf.d/ignored.txt", "garbage garbage\n");
	paths[0] = tu_path("conf.d/*.rules");
	paths[1] = tu_path("conf.d/*.cf");
	if (rules_load(paths, 2, NULL, &set, &d) != 0)
		tu_print_notes(&d);
	assert_non_null(set);
	assert_int_equal(d.files, 4);
	assert_int_equal(d.errors, 0);
	assert_int_equal(rules_lookup(set, "INC", &idx), 0);
	assert_true(body_hits(set, "INC", text));
	assert_false(body_hits(set, "R", text));	/* 20-b redefined it */
	rules_diag_free(&d);
	rules_set_unref(set);
	/* a glob matching nothing is a warning, a missing file an error */
	paths[0] = tu_path("nothing/*.rules");
	assert_int_equal(rules_load(paths, 1, NULL, &set, &d), 0);
	assert_int_equal(d.warnings, 1);
	assert_true(tu_has_note(&d, "no file matches"));
	rules_diag_free(&d);
	rules_set_unref(set);
	paths[0] = tu_path("missing.rules");
	assert_int_equal(rules_load(paths, 1, NULL, &set, &d), -1);
	assert_null(set);
	assert_true(tu_has_note(&d, "missing.rules"));
	rules_diag_free(&d);
	/* an error in an included file names that file */
	tu_write("conf.d/sub/broken.rules", "\nbody B /(/\n");
	tu_load_fails("inc.rules", "include conf.d/sub/broken.rules\n",
	    "conf.d/sub/broken.rules:2: invalid regexp");
	/* include loops end at the depth limit */
	tu_load_fails("loop.rules", "include loop.rules\n", "nested too "
	    "deeply");
}

/* ReplaceTags, as Plugin::ReplaceTags rewrites rules. */
static void
test_replace_tags(void **state)
{
	static const char *const text[] = { "v-i-a-g-r-a now\n", NULL };
	static const char *const plain[] = { "viagra\n", NULL };
	struct rules_set *set;

	(void)state;
	set = tu_load_ok("rt.cf",
	    "replace_tag  V   [vV]\n"
	    "replace_tag  I   [iI1!]\n"
	    "replace_tag  A   [aA@4]\n"
	    "replace_tag  G   [gG]\n"
	    "replace_tag  R   [rR]\n"
	    "replace_tag  VI  <V>-?<I>\n"		/* nested tag */
	    "replace_inter SEP -?\n"
	    "body OBFU    /<inter SEP><V><I><A><G><R><A>/i\n"
	    "body OBFU2   /<VI>-?<A>/\n"
	    "body UNTOUCH /<V><I>/\n"
	    "replace_rules OBFU OBFU2\n");
	assert_true(body_hits(set, "OBFU", text));
	assert_true(body_hits(set, "OBFU", plain));
	assert_true(body_hits(set, "OBFU2", text));
	assert_false(body_hits(set, "UNTOUCH", text));
	rules_set_unref(set);
}

/* Collect self-test reports into a buffer. */
static void
collect(void *arg, const char *msg)
{
	char *buf = arg;
	size_t len = strlen(buf);

	snprintf(buf + len, 4096 - len, "%s\n", msg);
}

/* Self-tests: failures carry the file and line of the test line. */
static void
test_selftest(void **state)
{
	struct rules_set *set;
	size_t failed, ran, skipped;
	char buf[4096] = "", want[600];

	(void)state;
	set = tu_load_ok("st.rules",
	    "body   B    /cheap pills/i\n"
	    "header H    Subject !~ /^Re:/\n"
	    "meta   M    B\n"
	    "test   B    ok   CHEAP PILLS here\n"
	    "test   B    fail nothing to see\n"
	    "test   B    ok   this does not match\n"
	    "test   H    ok   Hello\n"
	    "test   H    fail Re: hello\n"
	    "test   H    ok   Re: wrong\n"
	    "test   M    ok   whatever\n"
	    "test   NONE ok   whatever\n");
	failed = rules_selftest(set, collect, buf, &ran, &skipped);
	assert_int_equal(failed, 2);
	assert_int_equal(ran, 6);
	assert_int_equal(skipped, 2);
	snprintf(want, sizeof(want), "%s:6: test B ok failed: \"this does "
	    "not match\" does not hit", tu_path("st.rules"));
	assert_non_null(strstr(buf, want));
	snprintf(want, sizeof(want), "%s:9: test H ok failed",
	    tu_path("st.rules"));
	assert_non_null(strstr(buf, want));
	rules_set_unref(set);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_lines),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_sa_lenient),
		cmocka_unit_test(test_lexer),
		cmocka_unit_test(test_regex_syntax),
		cmocka_unit_test(test_conditionals),
		cmocka_unit_test(test_include_glob),
		cmocka_unit_test(test_replace_tags),
		cmocka_unit_test(test_selftest),
	};

	return cmocka_run_group_tests(tests, tu_setup, tu_teardown);
}
