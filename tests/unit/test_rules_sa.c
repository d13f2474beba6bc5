/*
 * test_rules_sa.c -- SpamAssassin's stock rules (Debian's spamassassin
 * package, the .cf files in /usr/share/spamassassin) load with no error and no
 * warning, their self-tests pass, and GTUBE hits.  Skipped when the
 * package is not installed.
 */
#include <glob.h>
#include <time.h>

#include "rules_testutil.h"

#define SA_DIR	"/usr/share/spamassassin"

static struct rules_set *sa_set;

/* Skip unless the stock rules are installed. */
static void
need_sa(void)
{
	glob_t g;
	int rc;

	memset(&g, 0, sizeof(g));
	rc = glob(SA_DIR "/*.cf", 0, NULL, &g);
	globfree(&g);
	if (rc != 0)
		skip();
}

/* Print a self-test failure. */
static void
report(void *arg, const char *msg)
{
	size_t *n = arg;

	fprintf(stderr, "  selftest: %s\n", msg);
	(*n)++;
}

/* Every stock file loads without an error or a warning. */
static void
test_sa_load(void **state)
{
	const char *paths[1] = { SA_DIR "/*.cf" };
	struct rules_diag d;
	struct timespec a, b;
	size_t t, total = 0;

	(void)state;
	need_sa();
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(rules_load(paths, 1, NULL, &sa_set, &d), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	tu_print_notes(&d);
	assert_non_null(sa_set);
	assert_int_equal(d.errors, 0);
	assert_int_equal(d.warnings, 0);
	printf("  stock rules: %zu files in %.3f s\n", d.files,
	    (double)(b.tv_sec - a.tv_sec) +
	    (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	for (t = 0; t < RULES_T_COUNT; t++) {
		printf("  %-10s %5zu\n", rules_type_name((enum rules_type)t),
		    d.by_type[t]);
		total += d.by_type[t];
	}
	printf("  total      %5zu (in the set: %zu)\n", total,
	    rules_count(sa_set));
	printf("  eval: rules skipped %zu, rules in blocks for absent "
	    "plugins %zu, disabled (score 0) %zu\n", d.eval_skipped,
	    d.cond_skipped, d.disabled);
	printf("  ignored SpamAssassin settings %zu, warnings %zu\n",
	    d.ignored, d.warnings);
	printf("  regexes: JIT %zu, interpreter %zu; self-tests %zu\n",
	    d.jit, d.interpreted, d.tests);
	printf("  memory of the compiled set: %.1f MB\n",
	    (double)rules_set_memory(sa_set) / 1048576.0);
	assert_true(d.by_type[RULES_T_BODY] > 300);
	assert_true(d.by_type[RULES_T_HEADER] > 300);
	assert_true(d.by_type[RULES_T_META] > 300);
	rules_diag_free(&d);
}

/* The stock self-tests ("test NAME ok|fail STRING") pass. */
static void
test_sa_selftest(void **state)
{
	size_t failed = 0, ran, skipped;

	(void)state;
	need_sa();
	assert_non_null(sa_set);
	assert_int_equal(rules_selftest(sa_set, report, &failed, &ran,
	    &skipped), 0);
	printf("  self-tests: %zu ran, %zu skipped (eval/absent rules)\n",
	    ran, skipped);
	assert_int_equal(failed, 0);
	assert_true(ran > 20);
}

/* A GTUBE message hits GTUBE (score 1000) and stays within limits. */
static void
test_sa_gtube(void **state)
{
	static const char *const hdrs[] = {
		"From: Sender <sender@example.com>",
		"To: rcpt@example.org",
		"Subject: Test spam mail (GTUBE)",
		"Date: Wed, 23 Jul 2003 23:30:00 +0200",
		"Message-ID: <GTUBE1.1010101@example.net>",
		"MIME-Version: 1.0",
		"Content-Type: text/plain; charset=us-ascii",
		NULL
	};
	static const char *const body[] = {
		"Test spam mail (GTUBE)\n",
		"This is the GTUBE, the Generic Test for Unsolicited Bulk "
		    "Email\n",
		"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-"
		    "EMAIL*C.34X\n",
		NULL
	};
	struct tu_msg m;
	struct rules_txn *t;
	const struct rules_hit *h, *all;
	size_t n, i;
	struct timespec a, b;

	(void)state;
	need_sa();
	assert_non_null(sa_set);
	tu_headers(&m, hdrs);
	tu_body(&m, body);
	t = rules_txn_new(sa_set);
	assert_non_null(t);
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(rules_eval(t, RULES_STAGE_EOM, &m.in, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	h = tu_hit(t, "GTUBE");
	assert_non_null(h);
	assert_true(h->score >= 1000);
	assert_true(rules_score(t) > 900);
	all = rules_hits(t, &n);
	printf("  GTUBE message: score %.2f in %.2f ms, hits:",
	    rules_score(t), ((double)(b.tv_sec - a.tv_sec) * 1e3 +
	    (double)(b.tv_nsec - a.tv_nsec) / 1e6));
	for (i = 0; i < n; i++)
		if (!all[i].sub)
			printf(" %s", all[i].name);
	printf("\n");
	rules_limits(t, &n);
	assert_int_equal(n, 0);
	rules_txn_free(t);
}

/* Drop the shared set. */
static int
sa_teardown(void **state)
{
	if (sa_set != NULL)
		rules_set_unref(sa_set);
	sa_set = NULL;
	return tu_teardown(state);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sa_load),
		cmocka_unit_test(test_sa_selftest),
		cmocka_unit_test(test_sa_gtube),
	};

	return cmocka_run_group_tests(tests, tu_setup, sa_teardown);
}
