/*
 * test_rules_hprefilter.c -- the header rules' literal prefilter
 * (rules/hprefilter.c): which rules it holds, and that a header rule
 * hits exactly as without it (rules.prefilter = no, rules.shortcuts =
 * no): ALL, negated rules, [if-unset: ...] defaults on absent and
 * present fields, case-insensitive patterns and inline (?i), Latin-1
 * folding, multi-byte values (the general database) and ASCII ones,
 * tflags multiple, rules that share a field, fields given twice.
 */
#include "rules_testutil.h"

/* True if the prefilter holds rule NAME of SET. */
static bool
held(const struct rules_set *set, const char *name)
{
	struct rules_info info;
	uint32_t idx;

	assert_int_equal(rules_lookup(set, name, &idx), 0);
	assert_int_equal(rules_info(set, idx, &info), 0);
	return info.prefiltered;
}

static const char hrules[] =
    "header SUBJ      Subject =~ /cheap pills/i\n"
    "header SUBJ_CS   Subject =~ /cheap pills/\n"
    "header SUBJ_INL  Subject =~ /(?i)CHEAP PILLS/\n"
    "header SUBJ_ALT  Subject =~ /(?:viagra|cialis|meeting)\\b/\n"
    "header SUBJ_NEG  Subject !~ /meeting/\n"
    "header SUBJ_NEG2 Subject !~ /pills/i\n"
    "header SUBJ_MULT Subject =~ /ill/\n"
    "tflags SUBJ_MULT multiple\n"
    "header SUBJ_NOLIT Subject =~ /^\\w+/\n"	/* no literal: not held */
    "header SUBJ_ANY  Subject =~ /./\n"
    "header ALL_FROM  ALL =~ /^From: .*example\\.com/mi\n"
    "header ALL_NEG   ALL !~ /^X-Mailer: /m\n"
    "header ALL_MISS  ALL =~ /^X-Absent-Field: /m\n"
    "header UNSET_ABS X-None =~ /dflt value/ [if-unset: dflt value]\n"
    "header UNSET_PRS Subject =~ /dflt value/ [if-unset: dflt value]\n"
    "header UNSET_NEG X-None !~ /dflt value/ [if-unset: dflt value]\n"
    "header ABS_NEG   X-None !~ /something/\n"
    "header ABS_POS   X-None =~ /something/\n"
    "header LATIN     Subject =~ /CAF\\xc9/i\n"
    "header UTF8      From:name =~ /Jos\\xc3\\xa9/\n"
    "header RCVD      Received =~ /from two/\n"
    "header RCVD_BOTH Received =~ /one\\nfrom two/\n"
    "header RCVD_FST  Received:first =~ /from two/\n"
    "header ADDR      From:addr =~ /\\@example\\.com$/\n"
    "header EXISTS    exists:Subject\n";

static const char *const hdrs[] = {
	"Subject: Cheap PILLS and caf\xe9 at the meeting, will fill",
	"From: \"Jos\xc3\xa9 Bloggs\" <joe@example.com>",
	"Received: from one",
	"Received: from two",
	NULL
};

/* The names that must hit, and those that must not, with hdrs. */
static const char *const must_hit[] = {
	"SUBJ", "SUBJ_INL", "SUBJ_ALT", "SUBJ_MULT", "SUBJ_NOLIT",
	"SUBJ_ANY", "ALL_FROM", "ALL_NEG", "UNSET_ABS", "ABS_NEG", "LATIN",
	"UTF8", "RCVD", "RCVD_BOTH", "ADDR", "EXISTS", NULL
};
static const char *const must_miss[] = {
	"SUBJ_CS", "SUBJ_NEG", "SUBJ_NEG2", "ALL_MISS", "UNSET_PRS",
	"UNSET_NEG", "ABS_POS", "RCVD_FST", NULL
};

/* Load hrules with load FLAGS. */
static struct rules_set *
load_flags(int flags)
{
	struct rules_opts o = { 0 };
	struct rules_diag d;
	struct rules_set *set;

	o.flags = flags;
	set = tu_load_opts("hpf.rules", hrules, &o, &d);
	if (set == NULL)
		tu_print_notes(&d);
	assert_non_null(set);
	rules_diag_free(&d);
	return set;
}

/* The rules the prefilter holds, and those it must not. */
static void
test_held(void **state)
{
	struct rules_set *set = load_flags(0), *plain;

	(void)state;
	assert_true(held(set, "SUBJ"));
	assert_true(held(set, "SUBJ_CS"));
	assert_true(held(set, "SUBJ_NEG"));
	assert_true(held(set, "ALL_FROM"));
	assert_true(held(set, "ALL_MISS"));
	assert_true(held(set, "UNSET_ABS"));
	assert_true(held(set, "LATIN"));
	assert_false(held(set, "SUBJ_NOLIT"));
	assert_false(held(set, "SUBJ_ANY"));
	assert_false(held(set, "EXISTS"));
	rules_set_unref(set);
	plain = load_flags(RULES_LOAD_NO_PREFILTER);
	assert_false(held(plain, "SUBJ"));
	rules_set_unref(plain);
}

/* Hits with the prefilter equal hits without it, and are right. */
static void
test_equals_plain(void **state)
{
	struct tu_modes mo;
	struct tu_msg m;
	size_t i;

	(void)state;
	tu_headers(&m, hdrs);
	tu_modes_run(&mo, "hpf.rules", hrules, &m);
	for (i = 0; must_hit[i] != NULL; i++) {
		if (tu_hit(mo.t[0], must_hit[i]) == NULL)
			fail_msg("%s does not hit", must_hit[i]);
	}
	for (i = 0; must_miss[i] != NULL; i++) {
		if (tu_hit(mo.t[0], must_miss[i]) != NULL)
			fail_msg("%s hits", must_miss[i]);
	}
	assert_int_equal(tu_hit(mo.t[0], "SUBJ_MULT")->count, 2);
	assert_string_equal(tu_hit(mo.t[0], "SUBJ")->match, "Cheap PILLS");
	tu_modes_free(&mo);
}

/*
 * One transaction over several messages: a rule marked for one
 * message's value is not taken as marked for the next (stamps), and
 * an ASCII value after a multi-byte one uses the right database.
 */
static void
test_reuse(void **state)
{
	static const char *const h2[] = {
		"Subject: nothing to see",
		"From: a@example.org",
		"X-Mailer: Foo",
		NULL
	};
	struct rules_set *set = load_flags(0);
	struct rules_txn *t = rules_txn_new(set);
	struct tu_msg m;
	int round;

	(void)state;
	assert_non_null(t);
	for (round = 0; round < 3; round++) {
		tu_headers(&m, hdrs);
		rules_txn_reset(t);
		assert_int_equal(rules_eval(t, RULES_STAGE_EOM, &m.in,
		    NULL), 0);
		assert_non_null(tu_hit(t, "SUBJ"));
		assert_non_null(tu_hit(t, "LATIN"));
		assert_null(tu_hit(t, "SUBJ_NEG"));
		tu_headers(&m, h2);
		rules_txn_reset(t);
		assert_int_equal(rules_eval(t, RULES_STAGE_EOM, &m.in,
		    NULL), 0);
		assert_null(tu_hit(t, "SUBJ"));
		assert_null(tu_hit(t, "LATIN"));
		assert_null(tu_hit(t, "ALL_NEG"));	/* X-Mailer now */
		assert_null(tu_hit(t, "ALL_FROM"));
		assert_non_null(tu_hit(t, "SUBJ_NEG"));
		assert_non_null(tu_hit(t, "SUBJ_NEG2"));
		assert_null(tu_hit(t, "UTF8"));
	}
	rules_txn_free(t);
	rules_set_unref(set);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_held),
		cmocka_unit_test(test_equals_plain),
		cmocka_unit_test(test_reuse),
	};

	return cmocka_run_group_tests(tests, tu_setup, tu_teardown);
}
