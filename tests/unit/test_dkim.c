/*
 * test_dkim.c — the DKIM filter without a DNS server: the visible-text
 * scanner behind the l= rule (simple and relaxed canonicalization, any
 * chunking), the results decided before any key lookup (tag-list
 * errors, duplicate tags, i= outside d=, From not in h=, unknown
 * algorithm, the dkim.max_signatures limit), and the filter in a chain:
 * Authentication-Results entries, their quoting, dkim.multiple_from.
 *
 * The resolver points at a port where nothing answers, with a short
 * timeout: a case that wrongly asked DNS would come out "temperror".
 * Keys, real signatures and dkimverify are in
 * tests/integration/dkim_verify.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters/chain.h"
#include "filters/dkim.h"
#include "filters/message.h"

/* ------------------------------------------------------------ scanner */

struct vis_case {
	const char	*body;
	int64_t		 simple, relaxed;
};

static const struct vis_case vis_cases[] = {
	{ "", -1, -1 },
	{ "\r\n\r\n", -1, -1 },
	{ " \t \r\n", -1, -1 },
	{ "Hello\r\n", 4, 4 },
	{ "  a  b \r\n", 5, 3 },
	{ "a\r\n\r\n\r\nb\r\n", 7, 7 },
	{ "a \t \r\n \t\r\nb", 10, 5 },
	{ "text\r\n  \r\n\t\r\n", 3, 3 },
	{ "x\r\n\r\n   y  \r\n\r\n", 8, 6 },
};

/* Scan `body` in chunks of `step` octets. */
static void
scan(const char *body, size_t step, struct gh_dkim_vis *v)
{
	size_t	 len = strlen(body), off;

	gh_dkim_vis_init(v);
	for (off = 0; off < len; off += step)
		gh_dkim_vis_feed(v, (const unsigned char *)body + off,
		    len - off < step ? len - off : step);
}

/* The last visible octet's canonical position, whatever the chunking. */
static void
test_vis(void **state)
{
	struct gh_dkim_vis	 v;
	size_t			 i, step;

	for (i = 0; i < sizeof(vis_cases) / sizeof(vis_cases[0]); i++)
		for (step = 1; step <= 7; step += 3) {
			scan(vis_cases[i].body, step, &v);
			if (v.last_simple != vis_cases[i].simple ||
			    v.last_relaxed != vis_cases[i].relaxed)
				fail_msg("case %zu step %zu: simple %lld "
				    "relaxed %lld", i, step,
				    (long long)v.last_simple,
				    (long long)v.last_relaxed);
		}
}

/* ------------------------------------------------------ verification */

/* A configuration with DNS nowhere, plus one `extra` key=value. */
static struct gh_config *
config(const char *extra)
{
	char			*ov[] = { "resolver=127.0.0.1@9",
				    "dns.timeout=50ms", "dns.budget=200ms",
				    "authserv_id=mx.test", (char *)extra };
	struct gh_config_errors	 errs = { NULL, 0 };
	struct gh_config	*cfg;

	cfg = gh_config_load(NULL, ov, extra ? 5 : 4, &errs);
	assert_non_null(cfg);
	gh_config_errors_free(&errs);
	return cfg;
}

/* A complete message from `text`. */
static struct gh_message *
message(const char *text)
{
	struct gh_message	*m = gh_message_new(NULL);

	assert_non_null(m);
	assert_int_equal(gh_message_feed(m, text, strlen(text)), 0);
	assert_int_equal(gh_message_end(m), 0);
	return m;
}

#define HDRS	"From: a@example.test\r\nTo: b@example.org\r\n" \
		"Subject: s\r\n\r\nbody\r\n"
#define SIG(tags) "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/simple; " \
		"s=sel; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; " \
		"b=dGVzdA==; " tags "\r\n"

/* Verify `text`; return the report (caller frees). */
static void
verify(const char *text, const char *extra, struct gh_dkim_report *r)
{
	struct gh_config	*cfg = config(extra);
	struct gh_dkim		*k;
	struct gh_message	*m = message(text);
	char			 err[256];

	k = gh_dkim_new(cfg, err, sizeof(err));
	if (k == NULL)
		fail_msg("gh_dkim_new: %s", err);
	assert_int_equal(gh_dkim_verify(k, m, "t", r, err, sizeof(err)), 0);
	gh_dkim_free(k);
	gh_message_free(m);
	gh_config_unref(cfg);
}

/* One signature: its result and a piece of its reason. */
static void
expect_one(const char *text, enum gh_dkim_result res, const char *why)
{
	struct gh_dkim_report	 r;

	verify(text, NULL, &r);
	assert_int_equal(r.n, 1);
	if (r.v[0].result != res || strstr(r.v[0].reason, why) == NULL)
		fail_msg("got %s \"%s\", expected %s \"%s\"",
		    gh_dkim_result_name(r.v[0].result), r.v[0].reason,
		    gh_dkim_result_name(res), why);
	assert_int_equal(r.dns_queries, 0);
	gh_dkim_report_free(&r);
}

/* No signature: nothing to report, one From. */
static void
test_unsigned(void **state)
{
	struct gh_dkim_report	 r;

	verify(HDRS, NULL, &r);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.nfrom, 1);
	gh_dkim_report_free(&r);
}

/* A broken tag-list is a permerror, and costs no DNS query. */
static void
test_tag_errors(void **state)
{
	expect_one(SIG("d=example.test; d=evil.test; h=from") HDRS,
	    GH_DKIM_PERMERROR, "duplicate tag");
	expect_one(SIG("d=example.test; h=from; junk") HDRS,
	    GH_DKIM_PERMERROR, "tag without '='");
	expect_one(SIG("d=example.test; h=from; l=12x") HDRS,
	    GH_DKIM_PERMERROR, "bad l= value");
	expect_one("DKIM-Signature: x\r\n" HDRS, GH_DKIM_PERMERROR,
	    "tag without '='");
	expect_one("DKIM-Signature:\r\n" HDRS, GH_DKIM_PERMERROR, "");
}

/* What libopendkim refuses before looking a key up. */
static void
test_rules_before_dns(void **state)
{
	expect_one(SIG("d=example.test; i=x@other.test; h=from:to") HDRS,
	    GH_DKIM_PERMERROR, "i= is not within d=");
	expect_one(SIG("d=example.test; h=to:subject") HDRS,
	    GH_DKIM_PERMERROR, "From is not in h=");
	expect_one("DKIM-Signature: v=1; a=rsa-md5; d=example.test; s=x; "
	    "h=from; bh=AAAA; b=AAAA\r\n" HDRS, GH_DKIM_PERMERROR,
	    "unknown algorithm a=rsa-md5");
}

/* Over dkim.max_signatures: the rest are neutral, not even parsed. */
static void
test_limit(void **state)
{
	struct gh_dkim_report	 r;
	char			 text[8192] = "";
	size_t			 i;

	for (i = 0; i < 12; i++)
		strcat(text, SIG("d=example.test; i=x@other.test; h=from"));
	strcat(text, HDRS);
	verify(text, "dkim.max_signatures=10", &r);
	assert_int_equal(r.n, 12);
	for (i = 0; i < 12; i++) {
		assert_int_equal(r.v[i].result, i < 10 ? GH_DKIM_PERMERROR :
		    GH_DKIM_NEUTRAL);
		assert_int_equal(r.v[i].verified, i < 10);
	}
	assert_non_null(strstr(r.v[11].reason, "max_signatures (10)"));
	gh_dkim_report_free(&r);
}

/*
 * Worker threads share one verifier; each thread's DNS failures must
 * land in its own check (the hooks find it through a thread-local).
 * Nothing answers DNS here, so every signature is a temperror.
 */
struct worker {
	struct gh_dkim	*k;
	const char	*text;
	int		 bad;
};

/* One worker: five verifications of its message. */
static void *
worker_run(void *arg)
{
	struct worker		*w = arg;
	struct gh_message	*m = gh_message_new(NULL);
	struct gh_dkim_report	 r;
	char			 err[256];
	int			 i;

	if (m == NULL || gh_message_feed(m, w->text, strlen(w->text)) ||
	    gh_message_end(m)) {
		w->bad++;
		return NULL;
	}
	for (i = 0; i < 5; i++) {
		if (gh_dkim_verify(w->k, m, "w", &r, err, sizeof(err)) ||
		    r.n != 1 || r.v[0].result != GH_DKIM_TEMPERROR ||
		    strstr(r.v[0].reason, "timed out") == NULL ||
		    r.dns_queries != 1)
			w->bad++;
		gh_dkim_report_free(&r);
	}
	gh_message_free(m);
	return NULL;
}

/* Four workers at once on one verifier. */
static void
test_threads(void **state)
{
	struct gh_config	*cfg = config("dns.timeout=20ms");
	struct worker		 w[4];
	pthread_t		 tid[4];
	char			 err[256];
	struct gh_dkim		*k = gh_dkim_new(cfg, err, sizeof(err));
	int			 i;

	assert_non_null(k);
	for (i = 0; i < 4; i++) {
		w[i].k = k;
		w[i].text = SIG("d=example.test; h=from:to") HDRS;
		w[i].bad = 0;
		assert_int_equal(pthread_create(&tid[i], NULL, worker_run,
		    &w[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(tid[i], NULL);
		assert_int_equal(w[i].bad, 0);
	}
	gh_dkim_free(k);
	gh_config_unref(cfg);
}

/* ------------------------------------------------------------ filter */

static const struct gh_filter *const dkim_only[] = { &gh_filter_dkim };

/* Run the DKIM filter's EOM on `text`; return the transaction. */
static struct gh_txn *
run_filter(const char *text, const char *extra, struct gh_verdict *v,
    struct gh_chain **chain, struct gh_message **m)
{
	struct gh_config	*cfg = config(extra);
	struct gh_txn		*t;
	char			 err[256];

	*chain = gh_chain_new_with(cfg, dkim_only, 1, NULL, err, sizeof(err));
	gh_config_unref(cfg);
	assert_non_null(*chain);
	*m = message(text);
	t = gh_txn_new(*chain, 1);
	assert_non_null(t);
	gh_txn_set_message(t, *m);
	memset(v, 0, sizeof(*v));
	assert_int_equal(gh_chain_run(t, GH_STAGE_EOM, v), 0);
	return t;
}

/* Release what run_filter() made. */
static void
done(struct gh_txn *t, struct gh_verdict *v, struct gh_chain *c,
    struct gh_message *m)
{
	gh_verdict_clear(v);
	gh_txn_free(t);
	gh_chain_unref(c);
	gh_message_free(m);
}

/* No signature: dkim=none, and no opinion. */
static void
test_filter_none(void **state)
{
	struct gh_verdict	 v;
	struct gh_chain		*c;
	struct gh_message	*m;
	struct gh_txn		*t = run_filter(HDRS, NULL, &v, &c, &m);

	assert_int_equal(t->authres.n, 1);
	assert_string_equal(t->authres.v[0].result, "none");
	assert_string_equal(t->authres.v[0].reason, "no signature");
	assert_int_equal(v.action, GH_CONTINUE);
	done(t, &v, c, m);
}

/* A value that is no token is quoted (RFC 8601 2.2). */
static void
test_filter_quoting(void **state)
{
	struct gh_verdict	 v;
	struct gh_chain		*c;
	struct gh_message	*m;
	struct gh_txn		*t = run_filter(SIG("d=ex(a)\"mple.test; "
	    "i=x@other.test; h=from") HDRS, NULL, &v, &c, &m);
	const char		*p;

	assert_int_equal(t->authres.n, 1);
	assert_string_equal(t->authres.v[0].result, "permerror");
	p = t->authres.v[0].props;
	if (strstr(p, "header.d=\"ex(a)\\\"mple.test\"") == NULL ||
	    strstr(p, "header.i=x@other.test") == NULL ||
	    strstr(p, "header.s=sel header.i") == NULL ||
	    strstr(p, "header.b=dGVzdA==") != NULL ||
	    strstr(p, "header.b=\"dGVzdA==\"") == NULL)
		fail_msg("props: %s", p);
	/* permerror: continue, score 0.5 by default */
	assert_int_equal(v.action, GH_CONTINUE);
	assert_true(t->score > 0.49 && t->score < 0.51);
	done(t, &v, c, m);
}

/* A signature without tags still gets its entry, without properties. */
static void
test_filter_empty(void **state)
{
	struct gh_verdict	 v;
	struct gh_chain		*c;
	struct gh_message	*m;
	struct gh_txn		*t = run_filter("DKIM-Signature: ;\r\n" HDRS,
	    NULL, &v, &c, &m);

	assert_int_equal(t->authres.n, 1);
	assert_string_equal(t->authres.v[0].result, "permerror");
	assert_string_equal(t->authres.v[0].props, "");
	done(t, &v, c, m);
}

/* Two From fields: rejected, or tagged with dkim.multiple_from=tag. */
static void
test_filter_multiple_from(void **state)
{
	static const char text[] = "From: ceo@example.test\r\n" HDRS;
	struct gh_verdict	 v;
	struct gh_chain		*c;
	struct gh_message	*m;
	struct gh_txn		*t = run_filter(text, NULL, &v, &c, &m);

	assert_int_equal(v.action, GH_REJECT);
	assert_int_equal(v.code, 550);
	assert_string_equal(v.status, "5.7.20");
	done(t, &v, c, m);
	t = run_filter(text, "dkim.multiple_from=tag", &v, &c, &m);
	assert_int_equal(v.action, GH_TAG);
	done(t, &v, c, m);
}

/* dkim.enable=no keeps the filter out of the chain. */
static void
test_filter_disabled(void **state)
{
	struct gh_config	*cfg = config("dkim.enable=no");
	struct gh_chain		*c;
	char			 err[256];

	c = gh_chain_new_with(cfg, dkim_only, 1, NULL, err, sizeof(err));
	assert_non_null(c);
	assert_null(gh_chain_instance(c, "dkim"));
	gh_chain_unref(c);
	gh_config_unref(cfg);
}

/* Run every test. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vis),
		cmocka_unit_test(test_unsigned),
		cmocka_unit_test(test_tag_errors),
		cmocka_unit_test(test_rules_before_dns),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_filter_none),
		cmocka_unit_test(test_filter_quoting),
		cmocka_unit_test(test_filter_empty),
		cmocka_unit_test(test_filter_multiple_from),
		cmocka_unit_test(test_filter_disabled),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
