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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_lines),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_sa_lenient),
	};

	return cmocka_run_group_tests(tests, tu_setup, tu_teardown);
}
