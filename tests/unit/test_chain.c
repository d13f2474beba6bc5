/*
 * test_chain.c — the chain: verdict combination, thresholds, failure
 * policy, header edits, forged Authentication-Results removal, reply
 * expansion, and what survives RSET.  The filters here are small
 * scripted ones: each does what the test tells it at one stage.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters/chain.h"
#include "filters/message.h"

/* What a scripted filter does. */
struct script {
	enum gh_stage	 stage;
	enum gh_action	 action;
	double		 score;
	bool		 fail;		/* return -1 */
	const char	*hit;
	int		 calls;
};

static struct script scripts[3];

/* Run the script of filter `n`. */
static int
scripted_run(int n, struct gh_txn *t, enum gh_stage s, struct gh_verdict *v)
{
	struct script	*sc = &scripts[n];

	sc->calls++;
	if (s != sc->stage)
		return 0;
	if (sc->fail)
		return -1;
	v->score = sc->score;
	if (sc->hit)
		gh_txn_hit(t, sc->hit, sc->score, NULL, 0, false);
	if (sc->action == GH_REJECT || sc->action == GH_TEMPFAIL)
		gh_verdict_refuse(v, t, sc->action, sc->action == GH_REJECT ?
		    &t->cfg->rules_reject_reply : &t->cfg->rules_tempfail_reply,
		    "hit", "script %d", n);
	else
		v->action = sc->action;
	return 0;
}

#define SCRIPTED(n)							\
static int								\
run##n(void *inst, struct gh_txn *t, unsigned idx, enum gh_stage s,	\
    struct gh_verdict *v)						\
{									\
	return scripted_run(n, t, s, v);				\
}									\
static const struct gh_filter filter##n = {				\
	.name = "f" #n, .stages = 0x3f, .run = run##n			\
};
SCRIPTED(0)
SCRIPTED(1)
SCRIPTED(2)

static const struct gh_filter *const three[] = {
	&filter0, &filter1, &filter2
};

/* A chain of the three scripted filters on a config with `ov`. */
static struct gh_chain *
make_chain(char *const *ov, size_t nov)
{
	struct gh_config_errors	 errs = { NULL, 0 };
	struct gh_config	*cfg;
	struct gh_chain		*c;
	char			 err[256];

	cfg = gh_config_load(NULL, ov, nov, &errs);
	assert_non_null(cfg);
	c = gh_chain_new_with(cfg, three, 3, NULL, err, sizeof(err));
	assert_non_null(c);
	gh_config_unref(cfg);
	return c;
}

static int
reset_scripts(void **state)
{
	memset(scripts, 0, sizeof(scripts));
	scripts[0].stage = scripts[1].stage = scripts[2].stage = GH_NSTAGES;
	return 0;
}

/* A message from text with LF line ends (converted to CRLF). */
static struct gh_message *
make_msg(const char *text)
{
	struct gh_message	*m = gh_message_new(NULL);
	const char		*p;

	for (p = text; *p; p++) {
		if (*p == '\n')
			gh_message_feed(m, "\r\n", 2);
		else
			gh_message_feed(m, p, 1);
	}
	gh_message_end(m);
	return m;
}

/* A transaction through MAIL and one RCPT. */
static struct gh_txn *
start(struct gh_chain *c, const char *sender)
{
	struct gh_txn		*t = gh_txn_new(c, 0x1234);
	struct gh_verdict	 v;

	gh_txn_set_client(t, "192.0.2.1", 4321, "client.example", NULL, 0);
	gh_txn_set_helo(t, "client.example");
	gh_chain_run(t, GH_STAGE_CONNECT, &v);
	gh_verdict_clear(&v);
	gh_chain_run(t, GH_STAGE_HELO, &v);
	gh_verdict_clear(&v);
	gh_txn_set_mail(t, sender);
	return t;
}

/* Run to the end of a message; return the EOM verdict action. */
static enum gh_action
finish(struct gh_txn *t, struct gh_message *m, struct gh_verdict *v)
{
	gh_txn_set_message(t, m);
	assert_int_equal(gh_chain_run(t, GH_STAGE_HEADERS, v), 0);
	if (v->action == GH_REJECT || v->action == GH_TEMPFAIL)
		return v->action;
	gh_verdict_clear(v);
	assert_int_equal(gh_chain_run(t, GH_STAGE_EOM, v), 0);
	return v->action;
}

/* Find an edit; return its index or -1. */
static int
find_edit(const struct gh_txn *t, enum gh_edit_op op, const char *name,
    unsigned index)
{
	size_t	 i;

	for (i = 0; i < t->edits.n; i++)
		if (t->edits.v[i].op == op &&
		    strcmp(t->edits.v[i].name, name) == 0 &&
		    (op != GH_EDIT_CHANGE || t->edits.v[i].index == index))
			return (int)i;
	return -1;
}

static void
test_first_reject_ends_stage(void **state)
{
	struct gh_chain		*c = make_chain(NULL, 0);
	struct gh_txn		*t = start(c, "a@example.org");
	struct gh_verdict	 v;

	scripts[0] = (struct script){ GH_STAGE_MAIL, GH_CONTINUE, 2, 0, 0, 0 };
	scripts[1] = (struct script){ GH_STAGE_MAIL, GH_REJECT, 1, 0, 0, 0 };
	scripts[2] = (struct script){ GH_STAGE_MAIL, GH_CONTINUE, 5, 0, 0, 0 };
	assert_int_equal(gh_chain_run(t, GH_STAGE_MAIL, &v), 0);
	assert_int_equal(v.action, GH_REJECT);
	assert_int_equal(v.code, 550);
	assert_string_equal(v.status, "5.7.1");
	assert_non_null(strstr(v.text, "0000000000001234"));
	assert_string_equal(v.filter, "f1");
	/* The third filter never ran at MAIL; the scores add up. */
	assert_int_equal(scripts[2].calls, 0);
	assert_true(t->score == 3);
	gh_verdict_clear(&v);
	gh_txn_free(t);
	gh_chain_unref(c);
}

static void
test_rcpt_reject_only_that_rcpt(void **state)
{
	struct gh_chain		*c = make_chain(NULL, 0);
	struct gh_txn		*t = start(c, "a@example.org");
	struct gh_verdict	 v;

	gh_chain_run(t, GH_STAGE_MAIL, &v);
	scripts[1] = (struct script){ GH_STAGE_RCPT, GH_REJECT, 0, 0, 0, 0 };
	gh_txn_add_rcpt(t, "bad@example.net");
	gh_chain_run(t, GH_STAGE_RCPT, &v);
	assert_int_equal(v.action, GH_REJECT);
	assert_int_equal(t->env.nrcpts, 0);
	gh_verdict_clear(&v);
	scripts[1].stage = GH_NSTAGES;
	gh_txn_add_rcpt(t, "good@example.net");
	gh_chain_run(t, GH_STAGE_RCPT, &v);
	assert_int_equal(v.action, GH_CONTINUE);
	assert_int_equal(t->env.nrcpts, 1);
	assert_string_equal(t->env.rcpts[0], "good@example.net");
	gh_txn_free(t);
	gh_chain_unref(c);
}

static void
test_thresholds(void **state)
{
	char			*ov[] = { "score.tag=5", "score.reject=10",
				    "tag.subject_prefix=[SPAM]" };
	struct gh_chain		*c = make_chain(ov, 3);
	static const struct { double score; enum gh_action want; } cases[] = {
		{ 4.9, GH_CONTINUE }, { 5, GH_TAG }, { 9.9, GH_TAG },
		{ 10, GH_REJECT }, { -3, GH_CONTINUE },
	};
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct gh_txn		*t = start(c, "a@example.org");
		struct gh_message	*m = make_msg("Subject: hello\n"
		    "X-Spam-Flag: NO\n\nbody\n");
		struct gh_verdict	 v;
		int			 e;

		memset(&v, 0, sizeof(v));
		reset_scripts(NULL);
		scripts[2] = (struct script){ GH_STAGE_EOM, GH_CONTINUE,
		    cases[i].score, 0, "SCRIPT_HIT", 0 };
		assert_int_equal(finish(t, m, &v), cases[i].want);
		if (cases[i].want == GH_REJECT) {
			assert_int_equal(v.code, 550);
			assert_string_equal(v.filter, "score");
		} else {
			/* The incoming X-Spam-Flag is always replaced. */
			assert_true(find_edit(t, GH_EDIT_CHANGE,
			    "X-Spam-Flag", 1) >= 0);
			e = find_edit(t, GH_EDIT_APPEND, "X-Spam-Status", 0);
			assert_true(e >= 0);
			assert_non_null(strstr(t->edits.v[e].value,
			    "tests=SCRIPT_HIT"));
			assert_true(strncmp(t->edits.v[e].value,
			    cases[i].want == GH_TAG ? "Yes," : "No,", 3) == 0);
			e = find_edit(t, GH_EDIT_CHANGE, "Subject", 1);
			if (cases[i].want == GH_TAG) {
				assert_true(e >= 0);
				assert_string_equal(t->edits.v[e].value,
				    "[SPAM] hello");
			} else
				assert_int_equal(e, -1);
			assert_int_equal(find_edit(t, GH_EDIT_APPEND,
			    "X-Spam-Flag", 0) >= 0, cases[i].want == GH_TAG);
		}
		gh_verdict_clear(&v);
		gh_txn_free(t);
		gh_message_free(m);
	}
	gh_chain_unref(c);
}

static void
test_filter_error_policy(void **state)
{
	static const struct { const char *policy; enum gh_action want;
	    int code; } cases[] = {
		{ "on_filter_error=tempfail", GH_TEMPFAIL, 451 },
		{ "on_filter_error=reject", GH_REJECT, 550 },
		{ "on_filter_error=continue", GH_CONTINUE, 0 },
	};
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char			*ov[] = { (char *)cases[i].policy };
		struct gh_chain		*c = make_chain(ov, 1);
		struct gh_txn		*t;
		struct gh_verdict	 v;

		reset_scripts(NULL);
		t = start(c, "a@example.org");
		scripts[0] = (struct script){ GH_STAGE_MAIL, GH_CONTINUE, 0,
		    true, 0, 0 };
		gh_chain_run(t, GH_STAGE_MAIL, &v);
		assert_int_equal(v.action, cases[i].want);
		assert_int_equal(v.code, cases[i].code);
		/* The trace records the failure for the log line. */
		assert_int_equal(t->trace.v[t->trace.n - (cases[i].want ==
		    GH_CONTINUE ? 3 : 1)].action, cases[i].want);
		gh_verdict_clear(&v);
		gh_txn_free(t);
		gh_chain_unref(c);
	}
}

static void
test_accept_stops(void **state)
{
	char			*ov[] = { "score.tag=1" };
	struct gh_chain		*c = make_chain(ov, 1);
	struct gh_txn		*t = start(c, "a@example.org");
	struct gh_message	*m = make_msg("Subject: x\n\nbody\n");
	struct gh_verdict	 v;

	scripts[0] = (struct script){ GH_STAGE_MAIL, GH_ACCEPT, 0, 0, 0, 0 };
	scripts[1] = (struct script){ GH_STAGE_EOM, GH_CONTINUE, 50, 0, 0, 0 };
	gh_chain_run(t, GH_STAGE_MAIL, &v);
	assert_int_equal(v.action, GH_CONTINUE);
	assert_int_equal(finish(t, m, &v), GH_ACCEPT);
	assert_int_equal(scripts[1].calls, 0);	/* stopped at MAIL */
	assert_int_equal(find_edit(t, GH_EDIT_APPEND, "X-Spam-Flag", 0), -1);
	/* Authentication-Results is still written. */
	assert_true(find_edit(t, GH_EDIT_INSERT, "Authentication-Results",
	    0) >= 0);
	gh_verdict_clear(&v);
	gh_txn_free(t);
	gh_message_free(m);
	gh_chain_unref(c);
}

static void
test_forged_authres_removed(void **state)
{
	char			*ov[] = { "authserv_id=mx.example.org" };
	struct gh_chain		*c = make_chain(ov, 1);
	struct gh_txn		*t = start(c, "a@example.org");
	struct gh_message	*m;
	struct gh_verdict	 v;
	size_t			 i;
	unsigned		 deleted[8], nd = 0;

	m = make_msg(
	    "Authentication-Results: mx.example.org; spf=pass\n"	/* 1 */
	    "Received: from a\n"
	    "Authentication-Results: other.example; dkim=pass\n"	/* 2 */
	    "Authentication-Results: (comment) MX.Example.ORG;\n"	/* 3 */
	    "\tdkim=pass header.d=bank.example\n"
	    "Subject: hi\n"
	    "Authentication-Results: \"mx.example.org\"; none\n"	/* 4 */
	    "Authentication-Results: mx.example.org.evil; none\n"	/* 5 */
	    "authentication-results:mx.example.org;arc=pass\n"		/* 6 */
	    "\nbody\n");
	assert_int_equal(finish(t, m, &v), GH_CONTINUE);
	for (i = 0; i < t->edits.n; i++)
		if (t->edits.v[i].op == GH_EDIT_CHANGE &&
		    strcmp(t->edits.v[i].name, "Authentication-Results") == 0) {
			assert_null(t->edits.v[i].value);
			deleted[nd++] = t->edits.v[i].index;
		}
	/* All four claims of our id, highest index first; 2 and 5 stay. */
	assert_int_equal(nd, 4);
	assert_int_equal(deleted[0], 6);
	assert_int_equal(deleted[1], 4);
	assert_int_equal(deleted[2], 3);
	assert_int_equal(deleted[3], 1);
	i = (size_t)find_edit(t, GH_EDIT_INSERT, "Authentication-Results", 0);
	assert_string_equal(t->edits.v[i].value, "mx.example.org; none");
	gh_verdict_clear(&v);
	gh_txn_free(t);
	gh_message_free(m);
	gh_chain_unref(c);
}

static void
test_authres_format(void **state)
{
	char			*ov[] = { "authserv_id=mx.example.org" };
	struct gh_chain		*c = make_chain(ov, 1);
	struct gh_txn		*t = start(c, "a@example.org");
	char			*s;

	gh_txn_authres(t, "spf", "pass", NULL, "smtp.mailfrom=%s",
	    "a@example.org");
	gh_txn_authres(t, "dkim", "fail", "body \"hash\" mismatch",
	    "header.d=%s", "example.org\r\nX-Injected: 1");
	s = gh_authres_format(t);
	assert_string_equal(s, "mx.example.org;\r\n"
	    "\tspf=pass smtp.mailfrom=a@example.org;\r\n"
	    "\tdkim=fail reason=\"body \\\"hash\\\" mismatch\" "
	    "header.d=example.org??X-Injected: 1");
	free(s);
	gh_txn_free(t);
	gh_chain_unref(c);
}

static void
test_expand(void **state)
{
	struct gh_chain		*c = make_chain(NULL, 0);
	struct gh_txn		*t = start(c, "evil\r\n250 ok@example.org");
	char			*s;

	gh_txn_add_rcpt(t, "r@example.net");
	s = gh_txn_expand(t, "for %{sender} to %{rcpt} from %{client_addr} "
	    "[%{helo}] %{session} %{result} %{unknown} 100%", "fail");
	assert_string_equal(s, "for evil??250 ok@example.org to "
	    "r@example.net from 192.0.2.1 [client.example] 0000000000001234 "
	    "fail %{unknown} 100%");
	free(s);
	gh_txn_free(t);
	t = start(c, "");
	s = gh_txn_expand(t, "%{sender}", NULL);
	assert_string_equal(s, "<>");
	free(s);
	gh_txn_free(t);
	gh_chain_unref(c);
}

static void
test_reset_keeps_session(void **state)
{
	struct gh_chain		*c = make_chain(NULL, 0);
	struct gh_txn		*t;
	struct gh_message	*m = make_msg("Subject: x\n\nbody\n");
	struct gh_verdict	 v;

	scripts[0] = (struct script){ GH_STAGE_HELO, GH_CONTINUE, 1.5, 0,
	    "HELO_HIT", 0 };
	scripts[1] = (struct script){ GH_STAGE_EOM, GH_CONTINUE, 2, 0,
	    "BODY_HIT", 0 };
	t = start(c, "a@example.org");
	gh_chain_run(t, GH_STAGE_MAIL, &v);
	assert_int_equal(finish(t, m, &v), GH_CONTINUE);
	assert_true(t->score == 3.5);
	assert_int_equal(t->hits.n, 2);
	gh_verdict_clear(&v);
	gh_txn_reset(t, NULL);
	assert_true(t->score == 1.5);
	assert_int_equal(t->hits.n, 1);
	assert_string_equal(t->hits.v[0].name, "HELO_HIT");
	assert_int_equal(t->edits.n, 0);
	assert_null(t->env.mail_from);
	assert_string_equal(t->env.helo, "client.example");
	/* A reload between messages moves the session to the new chain. */
	{
		struct gh_chain *c2 = make_chain(NULL, 0);

		gh_txn_reset(t, c2);
		assert_ptr_equal(t->chain, c2);
		gh_chain_unref(c2);
	}
	gh_txn_free(t);
	gh_message_free(m);
	gh_chain_unref(c);
}

static void
test_claims(void **state)
{
	static const struct { const char *v; bool ours; } cases[] = {
		{ " mx.example.org; spf=pass", true },
		{ "mx.example.org;", true },
		{ " MX.EXAMPLE.ORG ; none", true },
		{ " mx.example.org.; none", true },
		{ " (a (nested) comment)\r\n mx.example.org; none", true },
		{ " \"mx.example.org\"; none", true },
		{ " mx.example.org 1; none", true },	/* with a version */
		{ " mx.example.organic; none", false },
		{ " sub.mx.example.org; none", false },
		{ " ; none", false },
		{ "", false },
		{ " (unterminated comment mx.example.org; none", false },
	};
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (gh_authres_claims(cases[i].v, strlen(cases[i].v),
		    "mx.example.org") != cases[i].ours)
			fail_msg("'%s' should%s be ours", cases[i].v,
			    cases[i].ours ? "" : " not");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_first_reject_ends_stage,
		    reset_scripts),
		cmocka_unit_test_setup(test_rcpt_reject_only_that_rcpt,
		    reset_scripts),
		cmocka_unit_test_setup(test_thresholds, reset_scripts),
		cmocka_unit_test_setup(test_filter_error_policy,
		    reset_scripts),
		cmocka_unit_test_setup(test_accept_stops, reset_scripts),
		cmocka_unit_test_setup(test_forged_authres_removed,
		    reset_scripts),
		cmocka_unit_test_setup(test_authres_format, reset_scripts),
		cmocka_unit_test_setup(test_expand, reset_scripts),
		cmocka_unit_test_setup(test_reset_keeps_session,
		    reset_scripts),
		cmocka_unit_test(test_claims),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
