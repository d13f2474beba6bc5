/*
 * test_spf.c — the RFC 7208 record checker (table-driven: what is a
 * permerror, what libspf2 gets after rewriting), the helpers that guard
 * libspf2's macro expander, and the SPF filter in a chain: trusted and
 * authenticated clients skip it, a resolver that never answers is
 * temperror -> 451 4.7.24 with spf=temperror in Authentication-Results
 * and, at EOM, a Received-SPF header.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "filters/chain.h"
#include "filters/spf.h"
#include "filters/spf_int.h"

/* One checker case: record, NULL rewrite = permerror with `want`. */
struct rcase {
	const char	*rec;
	const char	*rewritten;	/* exact, or NULL for permerror */
	const char	*want;		/* substring of the error */
};

static const struct rcase rcases[] = {
	{ "v=spf1 -all", "v=spf1 -all", NULL },
	{ "V=SPF1 ip4:192.0.2.0/24 ~all", "v=spf1 +ip4:192.0.2.0/24 ~all",
	    NULL },
	{ "v=spf1 a mx ptr exists:%{i}.x.example -all",
	    "v=spf1 +a +mx +ptr +exists:%{i}.x.example -all", NULL },
	/* libspf2 refuses /0: split or marked */
	{ "v=spf1 ip4:1.2.3.4/0", "v=spf1 +ip4:0.0.0.0/1 +ip4:128.0.0.0/1",
	    NULL },
	{ "v=spf1 -ip6:::1/0", "v=spf1 -ip6:::/1 -ip6:8000::/1", NULL },
	{ "v=spf1 a/0 -all", "v=spf1 +a:_gh0-4.%{d} -all", NULL },
	{ "v=spf1 mx:m.example//0", "v=spf1 +mx:_gh0-6.m.example", NULL },
	{ "v=spf1 a:h.example/0//64", "v=spf1 +a:_gh0-4.h.example//64",
	    NULL },
	/* redirect moves to the end, goes with "all"; unknown modifiers
	   are dropped; exp moves to the end */
	{ "v=spf1 redirect=r.example ip4:1.2.3.4",
	    "v=spf1 +ip4:1.2.3.4 redirect=r.example", NULL },
	{ "v=spf1 redirect=r.example ~all", "v=spf1 ~all", NULL },
	{ "v=spf1 moo.cow-far_out=man:dog/cat -all exp=e.example",
	    "v=spf1 -all exp=e.example", NULL },
	{ "v=spf1 all -all", "v=spf1 +all", NULL },
	/* the reverse transformer in upper case (libspf2 wants "r") */
	{ "v=spf1 exists:%{IR}.%{l2R-}.%%{R}.x.example",
	    "v=spf1 +exists:%{Ir}.%{l2r-}.%%{R}.x.example", NULL },
	/* permerrors */
	{ "v=spf1 -all moo", NULL, "unknown mechanism" },
	{ "v=spf1 redirect:r.example", NULL, "unknown mechanism" },
	{ "v=spf1 =all", NULL, "unknown mechanism" },
	{ "v=spf1 1up=foo", NULL, "unknown mechanism" },
	{ "v=spf1 -all.", NULL, "all takes no argument" },
	{ "v=spf1 exp=a.example exp=b.example", NULL, "exp= given twice" },
	{ "v=spf1 redirect=a.example redirect=b.example", NULL,
	    "redirect= given twice" },
	{ "v=spf1 exp= -all", NULL, "empty domain-spec" },
	{ "v=spf1 a:museum", NULL, "no top label" },
	{ "v=spf1 a:abc.123", NULL, "bad top label" },
	{ "v=spf1 a:example.com:8080", NULL, "bad top label" },
	{ "v=spf1 a:example.-com", NULL, "bad top label" },
	{ "v=spf1 a:", NULL, "empty domain-spec" },
	{ "v=spf1 a/33", NULL, "bad ip4 cidr" },
	{ "v=spf1 a//129", NULL, "bad ip6 cidr" },
	{ "v=spf1 a/24/64", NULL, "bad ip4 cidr" },
	{ "v=spf1 ip4:1.2.3.4/032", NULL, "bad ip4 cidr" },
	{ "v=spf1 ip4:1.2.3", NULL, "bad ip4 address" },
	{ "v=spf1 ip4:1.2.3.4//32", NULL, "bad ip4 cidr" },
	{ "v=spf1 ip6::CAFE::BABE", NULL, "bad ip6 address" },
	{ "v=spf1 ptr/0", NULL, "ptr takes no cidr" },
	{ "v=spf1 exists", NULL, "exists needs a domain" },
	{ "v=spf1 include:x.example/24", NULL, "bad top label" },
	{ "v=spf1 exists:%(ir).x.example", NULL, "bad macro escape" },
	{ "v=spf1 exists:x%.example", NULL, "bad macro escape" },
	{ "v=spf1 -all exp=%{r}.example", NULL, "bad macro letter" },
	{ "v=spf1 a:%{x}.example", NULL, "bad macro letter" },
	{ "v=spf1 a:%{d0}.example", NULL, "digit transformer" },
	{ "v=spf1 -all foo=%abc", NULL, "bad macro escape" },
	{ "v=spf1 a:ctrl.example\rptr", NULL, "control byte" },
	{ "v=spf1 \x80" "a:example.net", NULL, "non-ASCII" },
	/* gatehouse's caps in front of libspf2 (CVE-2023-42118) */
	{ "v=spf1 exists:%{d}%{d}%{d}%{d}%{d}%{d}%{d}%{d}%{d}%{d}%{d}.x",
	    NULL, "more than 10 macros" },
};

/* Every checker case. */
static void
test_record_table(void **state)
{
	struct spf_rec	 r;
	size_t		 i;
	int		 rc;

	for (i = 0; i < sizeof(rcases) / sizeof(rcases[0]); i++) {
		const struct rcase *c = &rcases[i];

		rc = spf__record_check(c->rec, strlen(c->rec), 0, &r);
		if (c->rewritten) {
			if (rc != 0 || strcmp(r.rewritten, c->rewritten) != 0)
				fail_msg("%s: got rc %d '%s' (%s)", c->rec, rc,
				    r.rewritten ? r.rewritten : "", r.err);
		} else if (rc != -1 || strstr(r.err, c->want) == NULL)
			fail_msg("%s: want permerror '%s', got rc %d '%s'",
			    c->rec, c->want, rc, r.err);
		spf__rec_free(&r);
	}
}

/* A NUL inside a record is a permerror, not a shorter record. */
static void
test_record_nul(void **state)
{
	static const char rec[] = "v=spf1 a:foo.example.com\0 -all";
	struct spf_rec	 r;

	assert_int_equal(spf__record_check(rec, sizeof(rec) - 1, 0, &r), -1);
	assert_non_null(strstr(r.err, "control byte 0x00"));
}

/* A record too big for libspf2's compile buffer is split into chunks
   (libspf2 would drop the mechanisms that do not fit: neutral instead
   of fail). */
static void
test_record_chunks(void **state)
{
	struct spf_rec	 r;
	char		 rec[2048];
	size_t		 n = 0;
	int		 i;

	n += (size_t)snprintf(rec, sizeof(rec), "v=spf1 a");
	for (i = 1; i <= 30; i++)
		n += (size_t)snprintf(rec + n, sizeof(rec) - n,
		    " -ip6:2001:db8:%d::/48", i);
	n += (size_t)snprintf(rec + n, sizeof(rec) - n, " mx ~all");
	assert_int_equal(spf__record_check(rec, n, 5, &r), 0);
	assert_int_equal(r.nchunks, 2);
	assert_string_equal(r.rewritten, "v=spf1 +a "
	    "-include:_gh-c5.gatehouse.invalid "
	    "-include:_gh-c6.gatehouse.invalid +mx ~all");
	assert_true(strncmp(r.chunks[0], "v=spf1 +ip6:2001:db8:1::/48 "
	    "+ip6:2001:db8:2::/48", 48) == 0);
	assert_non_null(strstr(r.chunks[1], "+ip6:2001:db8:30::/48"));
	spf__rec_free(&r);
	/* Small records stay as they are. */
	assert_int_equal(spf__record_check("v=spf1 ip4:192.0.2.1 -all", 25, 0,
	    &r), 0);
	assert_int_equal(r.nchunks, 0);
	spf__rec_free(&r);
}

/* Size caps: record, term. */
static void
test_record_caps(void **state)
{
	struct spf_rec	 r;
	char		 buf[SPF_MAX_RECORD + 64];
	size_t		 n;

	n = (size_t)snprintf(buf, sizeof(buf), "v=spf1 a:%0*d.example",
	    SPF_MAX_TERM - 7, 0);
	assert_int_equal(spf__record_check(buf, n, 0, &r), -1);
	assert_non_null(strstr(r.err, "longer than"));
	memset(buf, ' ', sizeof(buf));
	memcpy(buf, "v=spf1", 6);
	assert_int_equal(spf__record_check(buf, SPF_MAX_RECORD + 1, 0, &r), -1);
	assert_non_null(strstr(r.err, "longer than 4096"));
	assert_int_equal(spf__record_check(buf, SPF_MAX_RECORD, 0, &r), 0);
	assert_string_equal(r.rewritten, "v=spf1");
	free(r.rewritten);
}

/* Record selection and explanation text. */
static void
test_is_record_exp(void **state)
{
	assert_true(spf__is_record("v=spf1", 6));
	assert_true(spf__is_record("v=spf1 -all", 11));
	assert_false(spf__is_record("v=spf10", 7));
	assert_false(spf__is_record("v=spf1\t-all", 11));
	assert_int_equal(spf__exp_check("See %{c} and %{r}", 17), 0);
	assert_int_equal(spf__exp_check("The %{x}-files.", 15), -1);
	assert_int_equal(spf__exp_check("\xef\xbb\xbf" "Explanation", 14),
	    -1);
	{
		char	 big[SPF_MAX_EXP + 2];

		memset(big, 'x', sizeof(big));
		assert_int_equal(spf__exp_check(big, SPF_MAX_EXP), 0);
		assert_int_equal(spf__exp_check(big, SPF_MAX_EXP + 1), -1);
	}
}

/* Domains and the sanitiser (CVE-2021-33912). */
static void
test_domain_sanitize(void **state)
{
	char	 out[SPF_MAX_LOCAL + 1];

	assert_true(spf__domain_ok("example.com"));
	assert_true(spf__domain_ok("example.com."));
	assert_false(spf__domain_ok("A2345678"));
	assert_false(spf__domain_ok("[1.2.3.5]"));
	assert_false(spf__domain_ok("A...example.com"));
	assert_false(spf__domain_ok("a1234567890123456789012345678901234567890"
	    "12345678901234567890123.example.com"));
	spf__sanitize(out, "j\xc3\xa9r\xc3\xb4me\r\n", SPF_MAX_LOCAL);
	assert_string_equal(out, "j??r??me??");
	memset(out, 0, sizeof(out));
	spf__sanitize(out, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxx", SPF_MAX_LOCAL);
	assert_int_equal(strlen(out), SPF_MAX_LOCAL);
}

/* A chain with the SPF filter, resolver `fwd`, extra overrides. */
static struct gh_chain *
spf_chain(const char *fwd, const char *extra)
{
	struct gh_config_errors	 errs = { NULL, 0 };
	struct gh_config	*cfg;
	struct gh_chain		*c;
	const struct gh_filter	*fl[] = { &gh_filter_spf };
	char			 r[64], err[256];
	char			*ov[] = { r, (char *)"dns.timeout=100ms",
	    (char *)"dns.budget=300ms", (char *)"trusted_networks=10.0.0.0/8",
	    (char *)"spf.received_spf=yes", (char *)"hostname=mx.test",
	    (char *)(extra ? extra : "spf.helo=check") };

	snprintf(r, sizeof(r), "resolver=%s", fwd);
	cfg = gh_config_load(NULL, ov, sizeof(ov) / sizeof(ov[0]), &errs);
	assert_non_null(cfg);
	c = gh_chain_new_with(cfg, fl, 1, NULL, err, sizeof(err));
	assert_non_null(c);
	gh_config_unref(cfg);
	return c;
}

/* Trusted and authenticated clients are not checked. */
static void
test_filter_skips(void **state)
{
	struct gh_chain		*c = spf_chain("127.0.0.1@9", NULL);
	struct gh_txn		*t = gh_txn_new(c, 1);
	struct gh_verdict	 v;
	struct sockaddr_in	 sin = { .sin_family = AF_INET };

	inet_pton(AF_INET, "10.1.2.3", &sin.sin_addr);
	gh_txn_set_client(t, "10.1.2.3", 25, NULL, (struct sockaddr *)&sin,
	    sizeof(sin));
	gh_txn_set_helo(t, "client.test");
	gh_txn_set_mail(t, "joe@example.test");
	assert_int_equal(gh_chain_run(t, GH_STAGE_MAIL, &v), 0);
	assert_int_equal(v.action, GH_CONTINUE);
	assert_int_equal(t->authres.n, 0);
	assert_non_null(strstr(t->trace.v[0].result, "trusted"));
	gh_verdict_clear(&v);
	gh_txn_free(t);

	t = gh_txn_new(c, 2);
	inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr);
	gh_txn_set_client(t, "192.0.2.1", 25, NULL, (struct sockaddr *)&sin,
	    sizeof(sin));
	gh_txn_set_auth(t, "joe");
	gh_txn_set_mail(t, "joe@example.test");
	assert_int_equal(gh_chain_run(t, GH_STAGE_MAIL, &v), 0);
	assert_int_equal(v.action, GH_CONTINUE);
	assert_int_equal(t->authres.n, 0);
	gh_verdict_clear(&v);
	gh_txn_free(t);
	gh_chain_unref(c);
}

/* A resolver that never answers: temperror, tempfail, headers. */
static void
test_filter_temperror(void **state)
{
	struct gh_chain		*c;
	struct gh_txn		*t;
	struct gh_verdict	 v;
	struct sockaddr_in	 sin = { .sin_family = AF_INET };
	socklen_t		 sl = sizeof(sin);
	char			 fwd[64];
	int			 s;
	size_t			 i;
	bool			 found = false;

	/* A UDP socket on loopback that never reads: a silent server. */
	s = socket(AF_INET, SOCK_DGRAM, 0);
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	getsockname(s, (struct sockaddr *)&sin, &sl);
	snprintf(fwd, sizeof(fwd), "127.0.0.1@%u", ntohs(sin.sin_port));
	c = spf_chain(fwd, "spf.helo=off");
	t = gh_txn_new(c, 3);
	inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr);
	gh_txn_set_client(t, "192.0.2.1", 25, NULL, (struct sockaddr *)&sin,
	    sizeof(sin));
	gh_txn_set_helo(t, "client.test");
	gh_txn_set_mail(t, "joe@example.test");
	assert_int_equal(gh_chain_run(t, GH_STAGE_MAIL, &v), 0);
	assert_int_equal(v.action, GH_TEMPFAIL);
	assert_int_equal(v.code, 451);
	assert_string_equal(v.status, "4.7.24");
	assert_int_equal(t->authres.n, 1);
	assert_string_equal(t->authres.v[0].result, "temperror");
	assert_non_null(strstr(t->authres.v[0].props,
	    "smtp.mailfrom=joe@example.test smtp.helo=client.test"));
	gh_verdict_clear(&v);
	gh_txn_free(t);
	gh_chain_unref(c);

	/* With spf.on_temperror=continue the message goes on, and EOM
	   adds the Received-SPF header. */
	c = spf_chain(fwd, "spf.on_temperror=continue");
	t = gh_txn_new(c, 4);
	gh_txn_set_client(t, "192.0.2.1", 25, NULL, (struct sockaddr *)&sin,
	    sizeof(sin));
	gh_txn_set_mail(t, "joe@example.test");
	assert_int_equal(gh_chain_run(t, GH_STAGE_MAIL, &v), 0);
	assert_int_equal(v.action, GH_CONTINUE);
	gh_verdict_clear(&v);
	assert_int_equal(gh_chain_run(t, GH_STAGE_EOM, &v), 0);
	for (i = 0; i < t->edits.n; i++)
		if (strcmp(t->edits.v[i].name, "Received-SPF") == 0) {
			found = true;
			assert_true(strncmp(t->edits.v[i].value,
			    "temperror (mx.test: ", 20) == 0);
			assert_non_null(strstr(t->edits.v[i].value,
			    "envelope-from=\"joe@example.test\";"));
			assert_non_null(strstr(t->edits.v[i].value,
			    "identity=mailfrom;"));
		}
	assert_true(found);
	gh_verdict_clear(&v);
	gh_txn_free(t);
	gh_chain_unref(c);
	close(s);
}

/* The Received-SPF value keeps client text inside its quotes. */
static void
test_received_spf(void **state)
{
	struct gh_spf_outcome	 r;
	struct gh_spf_query	 q = { "192.0.2.1", "a\"b\\c)d@x.test",
	    "evil) (helo\r\n", false };
	char			*h;

	memset(&r, 0, sizeof(r));
	r.result = GH_SPF_FAIL;
	r.identity = "mailfrom";
	snprintf(r.ip, sizeof(r.ip), "192.0.2.1");
	snprintf(r.mailfrom.sender, sizeof(r.mailfrom.sender),
	    "a)b(c@x.test");
	h = gh_spf_received(&r, &q, "mx.test");
	assert_non_null(h);
	assert_non_null(strstr(h, "fail (mx.test: domain of a?b?c@x.test "
	    "does not designate 192.0.2.1 as permitted sender)"));
	assert_non_null(strstr(h, "envelope-from=\"a\\\"b\\\\c)d@x.test\";"));
	assert_non_null(strstr(h, "helo=\"evil) (helo??\";"));
	free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_table),
		cmocka_unit_test(test_record_nul),
		cmocka_unit_test(test_record_caps),
		cmocka_unit_test(test_record_chunks),
		cmocka_unit_test(test_is_record_exp),
		cmocka_unit_test(test_domain_sanitize),
		cmocka_unit_test(test_filter_skips),
		cmocka_unit_test(test_filter_temperror),
		cmocka_unit_test(test_received_spf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
