/*
 * test_metrics.c — the metrics registry and its exposition format: what
 * a transaction through the chain adds, label escaping, the label cap.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "filters/chain.h"
#include "filters/metrics.h"

/* Render and return the text (static buffer reused). */
static const char *
render(void)
{
	static struct gh_buf	 b;

	gh_buf_free(&b);
	gh_buf_init(&b, 0);
	assert_int_equal(gh_metrics_render(&b), 0);
	return b.p;
}

static void
test_counts_and_format(void **state)
{
	const char	*s;

	gh_metrics_reset();
	gh_metrics_session_open();
	gh_metrics_session_open();
	gh_metrics_session_close();
	gh_metrics_message(GH_TAG);
	gh_metrics_message(GH_TAG);
	gh_metrics_message(GH_REJECT);
	gh_metrics_result("spf", "pass");
	gh_metrics_rule_hit("GTUBE", false);
	gh_metrics_rule_hit("NEW_RULE", true);
	gh_metrics_rule_hit("EVIL\"\\\nRULE", false);
	gh_metrics_stage_latency(GH_STAGE_EOM, 2000);	/* 2 ms */
	gh_metrics_reload(false);
	s = render();
	assert_non_null(strstr(s, "\ngatehouse_sessions_total 2\n"));
	assert_non_null(strstr(s, "\ngatehouse_sessions_current 1\n"));
	assert_non_null(strstr(s,
	    "\ngatehouse_messages_total{verdict=\"tag\"} 2\n"));
	assert_non_null(strstr(s,
	    "\ngatehouse_messages_total{verdict=\"reject\"} 1\n"));
	assert_non_null(strstr(s, "gatehouse_filter_results_total{method="
	    "\"spf\",result=\"pass\"} 1\n"));
	assert_non_null(strstr(s, "gatehouse_rule_hits_total{rule=\"NEW_RULE\""
	    ",mode=\"shadow\"} 1\n"));
	assert_non_null(strstr(s, "{rule=\"EVIL\\\"\\\\\\nRULE\",mode="
	    "\"live\"} 1\n"));
	assert_non_null(strstr(s, "gatehouse_stage_duration_seconds_bucket"
	    "{stage=\"eom\",le=\"0.001\"} 0\n"));
	assert_non_null(strstr(s, "gatehouse_stage_duration_seconds_bucket"
	    "{stage=\"eom\",le=\"0.005\"} 1\n"));
	assert_non_null(strstr(s, "gatehouse_stage_duration_seconds_count"
	    "{stage=\"eom\"} 1\n"));
	assert_non_null(strstr(s, "gatehouse_reloads_total{outcome="
	    "\"refused\"} 1\n"));
}

static void
test_label_cap(void **state)
{
	char		 name[32];
	const char	*s;
	int		 i;

	gh_metrics_reset();
	for (i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "R%d", i);
		gh_metrics_rule_hit(name, false);
	}
	s = render();
	assert_non_null(strstr(s, "{rule=\"R1022\",mode=\"live\"} 1\n"));
	assert_null(strstr(s, "{rule=\"R1023\""));
	assert_non_null(strstr(s, "{rule=\"other\"} 3977\n"));
}

static void
test_chain_feeds_metrics(void **state)
{
	struct gh_config_errors	 errs = { NULL, 0 };
	struct gh_config	*cfg = gh_config_load(NULL, NULL, 0, &errs);
	char			 err[128];
	struct gh_chain		*c = gh_chain_new_with(cfg, NULL, 0, NULL,
				    err, sizeof(err));
	struct gh_txn		*t = gh_txn_new(c, 1);
	struct gh_verdict	 v;

	gh_metrics_reset();
	gh_chain_run(t, GH_STAGE_MAIL, &v);
	gh_txn_authres(t, "dkim", "fail", NULL, NULL);
	gh_txn_hit(t, "SOME_RULE", 1, NULL, 0, false);
	gh_chain_run(t, GH_STAGE_EOM, &v);
	gh_txn_finish(t, &v, "250 2.0.0 Ok");
	assert_non_null(strstr(render(), "gatehouse_stage_duration_seconds_"
	    "count{stage=\"mail\"} 1\n"));
	assert_non_null(strstr(render(), "{method=\"dkim\",result=\"fail\"} "
	    "1\n"));
	assert_non_null(strstr(render(), "{verdict=\"continue\"} 1\n"));
	assert_non_null(strstr(render(), "{rule=\"SOME_RULE\",mode=\"live\"}"
	    " 1\n"));
	gh_verdict_clear(&v);
	gh_txn_free(t);
	gh_chain_unref(c);
	gh_config_unref(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_and_format),
		cmocka_unit_test(test_label_cap),
		cmocka_unit_test(test_chain_feeds_metrics),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
