/*
 * test_rules_eval.c -- evaluating rules: each rule type against small
 * texts, meta arithmetic and precedence, tflags, score sets, envelope
 * rules by stage, actions, shadow mode, match limits, invalid UTF-8.
 */
#include <math.h>
#include <time.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "rules_testutil.h"
#include "rules/rules_int.h"

/* Evaluate SET against M through EOM; returns the transaction. */
static struct rules_txn *
run_eom(struct rules_set *set, struct tu_msg *m)
{
	struct rules_txn *t = rules_txn_new(set);

	assert_non_null(t);
	assert_int_equal(rules_eval(t, RULES_STAGE_EOM, &m->in, NULL), 0);
	return t;
}

/* Header rules: =~, !~, absent headers, if-unset, exists, joins. */
static void
test_header(void **state)
{
	static const char *const hdrs[] = {
		"Subject: Cheap pills",
		"From: \"Joe Bloggs\" <joe@example.com>",
		"To: a@example.org",
		"Cc: b@example.org, \"C\" <c@example.org>",
		"Received: from one",
		"Received: from two",
		"Message-Id: <123@example.com>",
		NULL
	};
	struct rules_set *set;
	struct rules_txn *t;
	struct tu_msg m;

	(void)state;
	set = tu_load_ok("h.rules",
	    "header SUBJ      Subject =~ /cheap/i\n"
	    "header SUBJ_CASE Subject =~ /cheap/\n"
	    "header SUBJ_NL   Subject =~ /pills\\n$/\n"
	    "header NEG_HIT   X-Absent !~ /x/\n"
	    "header NEG_MISS  Subject !~ /pills/\n"
	    "header ABSENT_EMPTY X-Absent =~ /^$/\n"
	    "header UNSET     X-Absent =~ /^dflt$/ [if-unset: dflt]\n"
	    "header EXISTS    exists:Message-Id\n"
	    "header NOEXISTS  exists:X-Absent\n"
	    "header RCVD_BOTH Received =~ /one\\nfrom two/\n"
	    "header RAW       Subject:raw =~ /^ Cheap pills\\n$/\n"
	    "header ADDR      From:addr =~ /^joe\\@example\\.com$/\n"
	    "header NAME      From:name =~ /^Joe Bloggs$/\n"
	    "header TOCC      ToCc =~ /a\\@example\\.org\\n.*c\\@example/s\n"
	    "header TOCC_ADDR ToCc:addr =~ /^c\\@/m\n"
	    "header MSGID     MESSAGEID =~ /^<123\\@example\\.com>$/\n"
	    "header ENVF      EnvelopeFrom =~ /^bounce\\@example\\.net$/\n"
	    "header ALL_HDRS  ALL =~ /^Subject: Cheap pills\\nFrom: /\n"
	    "header ALL_RAW   ALL:raw =~ /\\AReceived: x\\n\\z/\n"
	    "header FIRST     Received:first =~ /^from one\\n$/\n"
	    "header LAST      Received:last =~ /^from two\\n$/\n"
	    "header RAWLAST   Received:raw:last =~ /^ from two\\n$/\n"
	    "header PSEUDO    X-Spam-Relays-External =~ /ip=192\\.0\\.2\\.1/\n"
	    "header CASE_NAME subject =~ /Cheap/\n");
	tu_headers(&m, hdrs);
	m.in.envelope_from = tu_text("bounce@example.net");
	m.in.header_block = tu_text("  leading continuation\nReceived: x\n");
	{
		static struct rules_header ps;
		ps.name = tu_text("X-Spam-Relays-External");
		ps.value = tu_text("[ ip=192.0.2.1 rdns= ]");
		m.in.pseudo = &ps;
		m.in.npseudo = 1;
	}
	t = run_eom(set, &m);
	assert_non_null(tu_hit(t, "SUBJ"));
	assert_string_equal(tu_hit(t, "SUBJ")->match, "Cheap");
	assert_null(tu_hit(t, "SUBJ_CASE"));
	assert_non_null(tu_hit(t, "SUBJ_NL"));
	assert_non_null(tu_hit(t, "NEG_HIT"));
	assert_null(tu_hit(t, "NEG_MISS"));
	assert_non_null(tu_hit(t, "ABSENT_EMPTY"));
	assert_non_null(tu_hit(t, "UNSET"));
	assert_non_null(tu_hit(t, "EXISTS"));
	assert_null(tu_hit(t, "NOEXISTS"));
	assert_non_null(tu_hit(t, "RCVD_BOTH"));
	assert_non_null(tu_hit(t, "RAW"));
	assert_non_null(tu_hit(t, "ADDR"));
	assert_non_null(tu_hit(t, "NAME"));
	assert_non_null(tu_hit(t, "TOCC"));
	assert_non_null(tu_hit(t, "TOCC_ADDR"));
	assert_non_null(tu_hit(t, "MSGID"));
	assert_non_null(tu_hit(t, "ENVF"));
	assert_non_null(tu_hit(t, "ALL_HDRS"));
	assert_non_null(tu_hit(t, "ALL_RAW"));
	assert_non_null(tu_hit(t, "FIRST"));
	assert_non_null(tu_hit(t, "LAST"));
	assert_non_null(tu_hit(t, "RAWLAST"));
	assert_non_null(tu_hit(t, "PSEUDO"));
	assert_non_null(tu_hit(t, "CASE_NAME"));
	assert_int_equal(tu_hit(t, "SUBJ")->stage, RULES_STAGE_HEADERS);
	rules_txn_free(t);
	rules_set_unref(set);
}

/* Body rules: per line, Subject first, nosubject, multiple, maxhits. */
static void
test_body(void **state)
{
	static const char *const hdrs[] = { "Subject: x", NULL };
	static const char *const body[] = {
		"Buy now\n",
		"viagra viagra viagra viagra\n",
		"one paragraph\n",
		"viagra\n",
		NULL
	};
	struct rules_set *set;
	struct rules_txn *t;
	struct tu_msg m;
	const struct rules_hit *h;

	(void)state;
	set = tu_load_ok("b.rules",
	    "body ONCE      /viagra/\n"
	    "score ONCE     2\n"
	    "body MULTI     /viagra/\n"
	    "tflags MULTI   multiple\n"
	    "score MULTI    0.5\n"
	    "body MAX       /viagra/\n"
	    "tflags MAX     multiple maxhits=3\n"
	    "body SUBJ      /^Buy now$/m\n"
	    "body NOSUBJ    /^Buy now$/m\n"
	    "tflags NOSUBJ  nosubject\n"
	    "body ACROSS    /viagra\\none/\n"
	    "body EMPTY     /x*/\n"
	    "tflags EMPTY   multiple maxhits=50\n");
	tu_headers(&m, hdrs);
	tu_body(&m, body);
	t = run_eom(set, &m);
	h = tu_hit(t, "ONCE");
	assert_non_null(h);
	assert_int_equal(h->count, 1);
	assert_true(h->score == 2);
	h = tu_hit(t, "MULTI");
	assert_non_null(h);
	assert_int_equal(h->count, 5);
	assert_true(h->score == 2.5);	/* scored per hit, as SA */
	assert_int_equal(tu_hit(t, "MAX")->count, 3);
	assert_non_null(tu_hit(t, "SUBJ"));
	assert_null(tu_hit(t, "NOSUBJ"));
	assert_null(tu_hit(t, "ACROSS"));
	/* empty matches advance like Perl's //g: one per position + end */
	assert_int_equal(tu_hit(t, "EMPTY")->count, 50);
	assert_int_equal(tu_hit(t, "ONCE")->stage, RULES_STAGE_EOM);
	rules_txn_free(t);
	rules_set_unref(set);
}

/* rawbody, full, uri, mimeheader. */
static void
test_other_types(void **state)
{
	static const char *const hdrs[] = { "Content-Type: multipart/mixed",
	    NULL };
	struct rules_set *set;
	struct rules_txn *t;
	struct tu_msg m;
	struct rules_text raw[2], uris[2];
	struct rules_header ph[2];
	struct rules_part parts[3];

	(void)state;
	set = tu_load_ok("o.rules",
	    "rawbody RAW      /<b>bold<\\/b>/\n"
	    "rawbody RAW_NOT  /bold\\s+text/\n"
	    "full    FULL     /^Subject: hi\\r?$/m\n"
	    "full    FULL2    /\\n\\nbody text/\n"
	    "uri     URI      m{^https?://evil\\.example/}i\n"
	    "uri     URI_NOT  /bad\\.example/\n"
	    "mimeheader MIME_PDF Content-Type =~ /application\\/pdf/\n"
	    "mimeheader MIME_TOP Content-Type =~ /multipart/\n"
	    "mimeheader MIME_RAW Content-Type:raw =~ "
	    "/^ application\\/pdf;\\n\\tname/\n"
	    "mimeheader MIME_NO Content-Type =~ /image/\n"
	    "mimeheader MIME_R2 Content-Type =~ /pdf/\n"
	    "tflags MIME_R2 range=1-2\n"
	    "mimeheader MIME_R3 Content-Type =~ /pdf/\n"
	    "tflags MIME_R3 range=3\n");
	tu_headers(&m, hdrs);
	raw[0] = tu_text("<p>some <b>bold</b>\n");
	raw[1] = tu_text("text</p>\n");
	m.in.rawbody = raw;
	m.in.nrawbody = 2;
	m.in.full = tu_text("Subject: hi\r\nX: y\r\n\n\nbody text\r\n");
	uris[0] = tu_text("http://good.example/");
	uris[1] = tu_text("HTTPS://EVIL.example/path");
	m.in.uris = uris;
	m.in.nuris = 2;
	ph[0].name = tu_text("Content-Type");
	ph[0].raw = tu_text(" text/plain\n");
	ph[0].value = tu_text("text/plain");
	ph[1].name = tu_text("Content-Type");
	ph[1].raw = tu_text(" application/pdf;\n\tname=\"a.pdf\"\n");
	ph[1].value = tu_text("application/pdf; name=\"a.pdf\"");
	parts[0] = m.part;
	parts[1].headers = &ph[0];
	parts[1].nheaders = 1;
	parts[2].headers = &ph[1];
	parts[2].nheaders = 1;
	m.in.parts = parts;
	m.in.nparts = 3;
	t = run_eom(set, &m);
	assert_non_null(tu_hit(t, "RAW"));
	assert_null(tu_hit(t, "RAW_NOT"));
	assert_non_null(tu_hit(t, "FULL"));
	assert_non_null(tu_hit(t, "FULL2"));
	assert_non_null(tu_hit(t, "URI"));
	assert_null(tu_hit(t, "URI_NOT"));
	assert_non_null(tu_hit(t, "MIME_PDF"));
	assert_non_null(tu_hit(t, "MIME_TOP"));
	assert_non_null(tu_hit(t, "MIME_RAW"));
	assert_null(tu_hit(t, "MIME_NO"));
	assert_null(tu_hit(t, "MIME_R2"));
	assert_non_null(tu_hit(t, "MIME_R3"));
	rules_txn_free(t);
	rules_set_unref(set);
}

/* Meta: precedence, arithmetic, sub-rules, values, undefined names. */
static void
test_meta(void **state)
{
	static const char *const hdrs[] = { "Subject: a b c", NULL };
	static const char *const body[] = { "a b c\n", "b b b\n", NULL };
	struct rules_set *set;
	struct rules_txn *t;
	struct tu_msg m;
	const struct rules_hit *h;
	double s;

	(void)state;
	set = tu_load_ok("m.rules",
	    "header __A   Subject =~ /a/\n"
	    "header __B   Subject =~ /b/\n"
	    "header __N   Subject =~ /nope/\n"
	    "body   __BB  /b/\n"
	    "tflags __BB  multiple\n"
	    "meta PREC1   __N || __A && __B\n"		/* && binds tighter */
	    "meta PREC2   (__N || __A) && !__B\n"
	    "meta SUM     (__A + __B + __N) == 2\n"
	    "meta ARITH   __A + __B * 2 - 1 > 1.5\n"	/* 1 + 2 - 1 = 2 */
	    "meta DIV     (__BB * 10 / 4) >= 10\n"	/* 4 * 10 / 4 */
	    "meta COUNT   __BB > 3\n"
	    "meta COUNT2  __BB > 4\n"
	    "meta NOT     !__N\n"
	    "meta UNDEF   !NOT_DEFINED_ANYWHERE\n"
	    "meta VALUE   __A + __B + __BB\n"
	    "meta NESTED  PREC1 && SUM && !PREC2\n"
	    "meta NEG     -1\n"
	    "meta ZERO    ( )\n"
	    "meta LT      __N < 1 && __A <= 1 && __A >= 1 && __A != 0\n"
	    "score NESTED 3\n"
	    "score PREC1 0.5\n"
	    "meta __SUBMETA __A && __B\n"
	    "meta USES_SUB __SUBMETA\n");
	tu_headers(&m, hdrs);
	tu_body(&m, body);
	t = run_eom(set, &m);
	assert_non_null(tu_hit(t, "PREC1"));
	assert_null(tu_hit(t, "PREC2"));
	assert_non_null(tu_hit(t, "SUM"));
	assert_non_null(tu_hit(t, "ARITH"));
	assert_non_null(tu_hit(t, "DIV"));
	assert_non_null(tu_hit(t, "COUNT"));
	assert_null(tu_hit(t, "COUNT2"));
	assert_non_null(tu_hit(t, "NOT"));
	assert_non_null(tu_hit(t, "UNDEF"));
	h = tu_hit(t, "VALUE");
	assert_non_null(h);
	assert_true(h->value == 6);		/* 1 + 1 + 4 */
	assert_non_null(tu_hit(t, "NESTED"));
	assert_true(tu_hit(t, "NEG")->value == 1);
	assert_null(tu_hit(t, "ZERO"));
	assert_non_null(tu_hit(t, "LT"));
	h = tu_hit(t, "__SUBMETA");
	assert_non_null(h);
	assert_true(h->sub);
	assert_true(h->score == 0);
	assert_non_null(tu_hit(t, "USES_SUB"));
	/* score: sub-rules add nothing; others 1 unless scored */
	s = rules_score(t);
	{
		const struct rules_hit *all;
		size_t n, i;
		double sum = 0;
		all = rules_hits(t, &n);
		for (i = 0; i < n; i++)
			if (!all[i].sub)
				sum += all[i].score;
		assert_true(fabs(s - sum) < 1e-9);
	}
	assert_true(tu_hit(t, "NESTED")->score == 3);
	rules_txn_free(t);
	rules_set_unref(set);
}

/* rules__expr_run_zero: the load-time value when every rule read is 0,
 * the program otherwise, NaN when a rule never ran. */
static void
test_meta_zero_direct(void **state)
{
	/* !r0 || (r1 + 2) > 2 */
	static const struct meta_op not0[] = {
		{ .op = MO_RULE, .arg = 0 }, { .op = MO_NOT },
	};
	static const struct meta_op sum[] = {
		{ .op = MO_RULE, .arg = 1 }, { .op = MO_NUM, .num = 2 },
		{ .op = MO_ADD }, { .op = MO_NUM, .num = 2 }, { .op = MO_GT },
	};
	static const struct meta_op konst[] = {
		{ .op = MO_NUM, .num = 7 },
	};
	double zeros[2] = { 0, 0 }, one0[2] = { 1, 0 }, one1[2] = { 0, 3 };
	double nan0[2] = { NAN, 0 }, st[8];

	(void)state;
	/* all rules 0: the given value, the program is not run */
	assert_true(rules__expr_run_zero(not0, 2, zeros, st, 42) == 42);
	assert_true(rules__expr_run_zero(sum, 5, zeros, st, -3) == -3);
	/* a rule with no rules at all: always the load-time value */
	assert_true(rules__expr_run_zero(konst, 1, one0, st, 7) == 7);
	/* a non-zero rule: the program's own value */
	assert_true(rules__expr_run_zero(not0, 2, one0, st, 42) == 0);
	assert_true(rules__expr_run_zero(sum, 5, one1, st, -3) == 1);
	/* NaN wins over the shortcut */
	assert_true(isnan(rules__expr_run_zero(not0, 2, nan0, st, 1)));
	/* and the load-time values agree with rules__expr_run */
	assert_true(rules__expr_run(not0, 2, zeros, st, NULL) == 1);
	assert_true(rules__expr_run(sum, 5, zeros, st, NULL) == 0);
}

/* Metas true when nothing they read hits (the load-time value), and the
 * same metas once a rule they read hits (the program runs). */
static void
test_meta_zero(void **state)
{
	static const char *const none[] = { "Subject: x y z", NULL };
	static const char *const some[] = { "Subject: a b c", NULL };
	static const char *const body[] = { "nothing\n", NULL };
	struct rules_set *set;
	struct rules_txn *t;
	struct tu_msg m;

	(void)state;
	set = tu_load_ok("z.rules",
	    "header __A   Subject =~ /a/\n"
	    "header __B   Subject =~ /b/\n"
	    "meta NOTA    !__A\n"
	    "meta FEW     (__A + __B) < 1\n"
	    "meta EQ0     __A == 0 && __B == 0\n"
	    "meta BOTH    __A && __B\n"
	    "meta ONEOF   __A || __B\n"
	    "meta DEEP    NOTA && FEW\n");
	tu_headers(&m, none);
	tu_body(&m, body);
	t = run_eom(set, &m);
	assert_non_null(tu_hit(t, "NOTA"));
	assert_non_null(tu_hit(t, "FEW"));
	assert_non_null(tu_hit(t, "EQ0"));
	assert_null(tu_hit(t, "BOTH"));
	assert_null(tu_hit(t, "ONEOF"));
	assert_non_null(tu_hit(t, "DEEP"));
	rules_txn_free(t);
	tu_headers(&m, some);
	tu_body(&m, body);
	t = run_eom(set, &m);
	assert_null(tu_hit(t, "NOTA"));
	assert_null(tu_hit(t, "FEW"));
	assert_null(tu_hit(t, "EQ0"));
	assert_non_null(tu_hit(t, "BOTH"));
	assert_non_null(tu_hit(t, "ONEOF"));
	assert_null(tu_hit(t, "DEEP"));
	rules_txn_free(t);
	rules_set_unref(set);
}

/* Score sets, default scores, zero-score rules are not run. */
static void
test_scores(void **state)
{
	static const char *const body[] = { "hello\n", NULL };
	struct rules_opts o = { 0 };
	struct rules_diag d;
	struct rules_set *set;
	struct rules_txn *t;
	struct tu_msg m;
	static const char text[] =
	    "body FOUR   /hello/\n"
	    "score FOUR  1 2 3 4\n"
	    "body T_TEST /hello/\n"
	    "body NICE   /hello/\n"
	    "tflags NICE nice\n"
	    "body OFF    /hello/\n"
	    "score OFF   0\n"
	    "meta SEES_OFF OFF\n"
	    "meta NOT_OFF  !OFF\n"
	    "body REL    /hello/\n"
	    "score REL   1\n"
	    "score REL   (0.5)\n";

	(void)state;
	memset(&m, 0, sizeof(m));
	tu_body(&m, body);
	o.score_set = 2;
	set = tu_load_opts("s.rules", text, &o, &d);
	assert_non_null(set);
	assert_int_equal(d.disabled, 1);
	rules_diag_free(&d);
	t = run_eom(set, &m);
	assert_true(tu_hit(t, "FOUR")->score == 3);
	assert_true(tu_hit(t, "T_TEST")->score == 0.01);
	assert_true(tu_hit(t, "NICE")->score == -1);
	assert_true(tu_hit(t, "REL")->score == 1.5);
	assert_null(tu_hit(t, "OFF"));
	assert_null(tu_hit(t, "SEES_OFF"));
	assert_non_null(tu_hit(t, "NOT_OFF"));
	assert_true(fabs(rules_score(t) - (3 + 0.01 - 1 + 1.5 + 1)) < 1e-9);
	rules_txn_free(t);
	rules_set_unref(set);
	o.score_set = 4;
	assert_null(tu_load_opts("s.rules", text, &o, &d));
	rules_diag_free(&d);
}

/* auth rules see the SMTP AUTH login at MAIL; an action acts there. */
static void
test_auth_rule(void **state)
{
	struct rules_set *set;
	struct rules_txn *t;
	struct rules_input in;
	struct rules_verdict v;

	(void)state;
	set = tu_load_ok("a.rules",
	    "auth     AUTHED   /./\n"
	    "auth     ALICE    /^alice$/\n"
	    "meta     NOT_AUTHED !AUTHED\n"
	    "score    NOT_AUTHED 1\n"
	    "action   ALICE    accept\n");
	t = rules_txn_new(set);
	assert_non_null(t);
	memset(&in, 0, sizeof(in));
	in.mailfrom = tu_text("alice@example.org");
	in.auth = tu_text("alice");
	assert_int_equal(rules_eval(t, RULES_STAGE_MAIL, &in, &v), 0);
	assert_int_equal(v.action, RULES_A_ACCEPT);
	assert_non_null(tu_hit(t, "AUTHED"));
	assert_non_null(tu_hit(t, "ALICE"));
	assert_null(tu_hit(t, "NOT_AUTHED"));
	assert_int_equal(tu_hit(t, "ALICE")->stage, RULES_STAGE_MAIL);
	rules_txn_free(t);
	rules_set_unref(set);
}

/* Envelope rules at their stage; actions at the earliest stage. */
static void
test_envelope(void **state)
{
	struct rules_set *set;
	struct rules_txn *t;
	struct rules_input in;
	struct rules_verdict v;

	(void)state;
	set = tu_load_ok("e.rules",
	    "client   BADNET   /\\[192\\.0\\.2\\.\\d+\\]$/\n"
	    "client   DYNNAME  /^dyn-[\\d-]+\\.example\\.net /\n"
	    "helo     BADHELO  /^localhost$/\n"
	    "mailfrom NULLSND  /^$/\n"
	    "auth     AUTHED   /./\n"
	    "meta     NOT_AUTHED !AUTHED\n"
	    "rcptto   SPAMTRAP /^trap@/\n"
	    "action   SPAMTRAP reject \"550 5.1.1 No such user\"\n"
	    "rcptto   ABUSE    /^abuse@/\n"
	    "action   ABUSE    accept\n"
	    "meta     DYN_LOCAL DYNNAME && BADHELO\n"
	    "action   DYN_LOCAL tempfail \"451 4.7.1 Later\"\n"
	    "meta     RCPT_META ABUSE && NULLSND\n"
	    "score    RCPT_META 4\n");
	t = rules_txn_new(set);
	assert_non_null(t);
	memset(&in, 0, sizeof(in));
	in.client = tu_text("dyn-1-2.example.net [198.51.100.7]");
	assert_int_equal(rules_eval(t, RULES_STAGE_CONNECT, &in, &v), 0);
	assert_int_equal(v.action, RULES_A_NONE);
	assert_non_null(tu_hit(t, "DYNNAME"));
	assert_null(tu_hit(t, "BADNET"));
	in.helo = tu_text("localhost");
	assert_int_equal(rules_eval(t, RULES_STAGE_HELO, &in, &v), 0);
	assert_int_equal(v.action, RULES_A_TEMPFAIL);
	assert_string_equal(v.reply, "451 4.7.1 Later");
	assert_string_equal(v.rule, "DYN_LOCAL");
	assert_int_equal(v.stage, RULES_STAGE_HELO);
	assert_int_equal(tu_hit(t, "DYN_LOCAL")->stage, RULES_STAGE_HELO);
	in.mailfrom = tu_text("");
	assert_int_equal(rules_eval(t, RULES_STAGE_MAIL, &in, &v), 0);
	assert_non_null(tu_hit(t, "NULLSND"));
	/* no AUTH: the auth rule does not hit, a meta over its absence does */
	assert_null(tu_hit(t, "AUTHED"));
	assert_non_null(tu_hit(t, "NOT_AUTHED"));
	/* a refused recipient leaves no trace */
	in.rcpt = tu_text("trap@example.org");
	assert_int_equal(rules_eval(t, RULES_STAGE_RCPT, &in, &v), 0);
	assert_int_equal(v.action, RULES_A_REJECT);
	assert_string_equal(v.reply, "550 5.1.1 No such user");
	assert_null(tu_hit(t, "SPAMTRAP"));
	in.rcpt = tu_text("abuse@example.org");
	assert_int_equal(rules_eval(t, RULES_STAGE_RCPT, &in, &v), 0);
	assert_int_equal(v.action, RULES_A_ACCEPT);
	assert_non_null(tu_hit(t, "ABUSE"));
	/* the transaction's decision is still the first one (HELO) */
	rules_verdict(t, &v);
	assert_int_equal(v.action, RULES_A_TEMPFAIL);
	/* metas over rcptto rules are final at HEADERS */
	assert_null(tu_hit(t, "RCPT_META"));
	assert_int_equal(rules_eval(t, RULES_STAGE_HEADERS, &in, &v), 0);
	assert_non_null(tu_hit(t, "RCPT_META"));
	/* stages only go forward */
	assert_int_equal(rules_eval(t, RULES_STAGE_MAIL, &in, &v), -1);
	assert_int_equal(rules_eval(t, RULES_STAGE_EOM, &in, &v), 0);
	/* reuse */
	rules_txn_reset(t);
	assert_null(tu_hit(t, "ABUSE"));
	in.client = tu_text("mx.example.com [192.0.2.5]");
	assert_int_equal(rules_eval(t, RULES_STAGE_RCPT, &in, &v), 0);
	assert_non_null(tu_hit(t, "BADNET"));
	assert_int_equal(v.action, RULES_A_ACCEPT);
	rules_txn_free(t);
	rules_set_unref(set);
}

/* The decisive action is the first by stage, then by definition. */
static void
test_actions(void **state)
{
	static const char *const hdrs[] = { "Subject: spam spam", NULL };
	static const char *const body[] = { "spam\n", NULL };
	struct rules_set *set;
	struct rules_txn *t;
	struct tu_msg m;
	struct rules_verdict v;

	(void)state;
	set = tu_load_ok("a.rules",
	    "body   B_REJ  /spam/\n"
	    "action B_REJ  reject\n"
	    "header H_TAG  Subject =~ /spam/\n"
	    "action H_TAG  tag\n"
	    "header H_DISC Subject =~ /spam spam/\n"
	    "header H_REJ  Subject =~ /spam/\n"
	    "action H_REJ  reject \"550 5.7.1 Spam subject\"\n"
	    "action H_DISC discard\n");
	tu_headers(&m, hdrs);
	tu_body(&m, body);
	t = rules_txn_new(set);
	assert_int_equal(rules_eval(t, RULES_STAGE_HEADERS, &m.in, &v), 0);
	/* H_DISC is defined before H_REJ: it decides */
	assert_int_equal(v.action, RULES_A_DISCARD);
	assert_string_equal(v.rule, "H_DISC");
	assert_int_equal(rules_eval(t, RULES_STAGE_EOM, &m.in, &v), 0);
	assert_int_equal(v.action, RULES_A_REJECT);	/* this stage's */
	assert_null(v.reply);		/* the configured default */
	rules_verdict(t, &v);
	assert_int_equal(v.action, RULES_A_DISCARD);
	assert_int_equal(v.stage, RULES_STAGE_HEADERS);
	rules_txn_free(t);
	rules_set_unref(set);
	/* tag alone */
	set = tu_load_ok("a.rules",
	    "header H_TAG  Subject =~ /spam/\n"
	    "action H_TAG  tag\n");
	t = run_eom(set, &m);
	rules_verdict(t, &v);
	assert_int_equal(v.action, RULES_A_TAG);
	assert_string_equal(v.rule, "H_TAG");
	rules_txn_free(t);
	rules_set_unref(set);
}

/* Shadow: what would have happened is reported, nothing is done. */
static void
test_shadow(void **state)
{
	static const char *const body[] = { "spam\n", NULL };
	struct rules_set *set;
	struct rules_txn *t;
	struct tu_msg m;
	struct rules_verdict v;
	struct rules_opts o = { 0 };
	struct rules_diag d;
	const struct rules_hit *h;

	(void)state;
	memset(&m, 0, sizeof(m));
	tu_body(&m, body);
	set = tu_load_ok("sh.rules",
	    "body   REAL   /spam/\n"
	    "score  REAL   2\n"
	    "body   WATCH  /spam/\n"
	    "score  WATCH  5\n"
	    "action WATCH  shadow reject \"550 5.7.1 new rule\"\n"
	    "meta   USES_WATCH WATCH\n"
	    "shadow yes\n"
	    "body   NEWFILE /spam/\n"
	    "action NEWFILE reject\n"
	    "score  NEWFILE 3\n"
	    "shadow no\n"
	    "body   AFTER  /spam/\n"
	    "score  AFTER  1\n");
	t = run_eom(set, &m);
	rules_verdict(t, &v);
	assert_int_equal(v.action, RULES_A_NONE);
	h = tu_hit(t, "WATCH");
	assert_non_null(h);
	assert_true(h->shadow);
	assert_int_equal(h->action, RULES_A_REJECT);
	assert_true(tu_hit(t, "NEWFILE")->shadow);
	assert_false(tu_hit(t, "AFTER")->shadow);
	assert_non_null(tu_hit(t, "USES_WATCH"));	/* metas still see it */
	assert_true(rules_score(t) == 2 + 1 + 1);
	assert_true(rules_shadow_score(t) == 5 + 3);
	rules_txn_free(t);
	rules_set_unref(set);
	/* a whole load in shadow mode */
	o.flags = RULES_LOAD_SHADOW;
	set = tu_load_opts("sh2.rules", "body R /spam/\naction R reject\n",
	    &o, &d);
	assert_non_null(set);
	rules_diag_free(&d);
	t = run_eom(set, &m);
	rules_verdict(t, &v);
	assert_int_equal(v.action, RULES_A_NONE);
	assert_true(tu_hit(t, "R")->shadow);
	rules_txn_free(t);
	rules_set_unref(set);
}

/* Catastrophic backtracking on a 60 KB header stays within the limit. */
static void
test_match_limit(void **state)
{
	struct rules_set *set;
	struct rules_txn *t;
	struct tu_msg m;
	const struct rules_limit *l;
	static char big[60 * 1024 + 2];
	struct timespec a, b;
	struct rules_opts o = { 0 };
	struct rules_diag d;
	double secs;
	size_t n;
	int round, jit;

	(void)state;
	memset(big, 'a', sizeof(big) - 2);
	big[sizeof(big) - 2] = '!';
	big[sizeof(big) - 1] = '\0';
	memset(&m, 0, sizeof(m));
	m.h[0].name = tu_text("X-Big");
	m.h[0].raw = tu_text(big);
	m.h[0].value = tu_text(big);
	m.part.headers = m.h;
	m.part.nheaders = 1;
	m.in.parts = &m.part;
	m.in.nparts = 1;
	for (jit = 0; jit < 2; jit++) {
		o.flags = jit ? 0 : RULES_LOAD_NO_JIT;
		set = tu_load_opts("l.rules",
		    "header EVIL  X-Big =~ /(a+)+$/\n"
		    "header EVIL2 X-Big =~ /^(\\w+\\s?)*$/\n"
		    "header FINE  X-Big =~ /a!/\n", &o, &d);
		assert_non_null(set);
		rules_diag_free(&d);
		t = rules_txn_new(set);
		for (round = 0; round < 2; round++) {
			clock_gettime(CLOCK_MONOTONIC, &a);
			assert_int_equal(rules_eval(t, RULES_STAGE_EOM, &m.in,
			    NULL), 0);
			clock_gettime(CLOCK_MONOTONIC, &b);
			secs = (double)(b.tv_sec - a.tv_sec) +
			    (double)(b.tv_nsec - a.tv_nsec) / 1e9;
			assert_true(secs < 5.0);
			assert_null(tu_hit(t, "EVIL"));
			assert_null(tu_hit(t, "EVIL2"));
			assert_non_null(tu_hit(t, "FINE"));
			l = rules_limits(t, &n);
			assert_int_equal(n, 2);
			assert_string_equal(l[0].name, "EVIL");
			/* reported as new only the first time */
			assert_int_equal(l[0].first, round == 0);
			assert_true(l[0].error < 0);
			rules_txn_reset(t);
		}
		rules_txn_free(t);
		rules_set_unref(set);
	}
}

/* Invalid UTF-8 never fails a match. */
static void
test_invalid_utf8(void **state)
{
	static const char *const hdrs[] = { "Subject: caf\xe9 \xff\xfe\xc3",
	    NULL };
	static const char *const body[] = { "\n", "bad \xc3\x28 seq \xf0\x28"
	    "\x8c\x28 money \xa0\n", NULL };
	struct rules_set *set;
	struct rules_txn *t;
	struct tu_msg m;
	size_t n;

	(void)state;
	set = tu_load_ok("u.rules",
	    "header SUBJ  Subject =~ /caf\\xe9/\n"
	    "header SUBJ2 Subject =~ /\\xff.\\xc3$/\n"
	    "body   B1    /seq .{4} money/\n"
	    "body   B2    /\\bmoney\\b/i\n"
	    "body   B3    /[\\x80-\\xff]{2}/\n"
	    "body   WIDE  /[\\x{100}-\\x{2000}\\xa0]/\n"
	    "body   WIDE2 /\\x{0430}/\n"
	    "header FOLD  Subject =~ /CAF\\xc9/i\n"	/* Perl /aai */
	    "header NOFOLD Subject =~ /CAF\\xc9/\n"
	    "header WORD  Subject =~ /caf\\w/\n");
	tu_headers(&m, hdrs);
	tu_body(&m, body);
	t = run_eom(set, &m);
	assert_non_null(tu_hit(t, "SUBJ"));
	assert_non_null(tu_hit(t, "SUBJ2"));
	assert_non_null(tu_hit(t, "B1"));
	assert_non_null(tu_hit(t, "B2"));
	assert_null(tu_hit(t, "B3"));
	assert_non_null(tu_hit(t, "WIDE"));	/* \xa0 part of the class */
	assert_null(tu_hit(t, "WIDE2"));	/* octets never match U+0430 */
	assert_non_null(tu_hit(t, "FOLD"));
	assert_null(tu_hit(t, "NOFOLD"));
	assert_null(tu_hit(t, "WORD"));		/* \\w stays ASCII */
	rules_limits(t, &n);
	assert_int_equal(n, 0);
	rules_txn_free(t);
	rules_set_unref(set);
}

/* The interpreter (no JIT) gives the same results. */
static void
test_no_jit(void **state)
{
	static const char *const body[] = { "abc\n", "xyz\n", NULL };
	struct rules_opts o = { 0 };
	struct rules_diag d;
	struct rules_set *set;
	struct rules_txn *t;
	struct tu_msg m;

	(void)state;
	memset(&m, 0, sizeof(m));
	tu_body(&m, body);
	o.flags = RULES_LOAD_NO_JIT;
	set = tu_load_opts("j.rules", "body A /b/\nbody X /q/\n", &o, &d);
	assert_non_null(set);
	assert_int_equal(d.jit, 0);
	assert_int_equal(d.interpreted, 2);
	rules_diag_free(&d);
	t = run_eom(set, &m);
	assert_non_null(tu_hit(t, "A"));
	assert_null(tu_hit(t, "X"));
	rules_txn_free(t);
	rules_set_unref(set);
}

/* SpamAssassin's body and rawbody splitting. */
static void
test_split(void **state)
{
	static char para[5000];
	struct rules_text out[8];
	size_t n, need;

	(void)state;
	n = rules_split_lines(tu_text("a\nbb\n\nc"), out, 8, &need);
	assert_int_equal(n, 4);
	assert_int_equal(need, 4);
	assert_int_equal(out[0].len, 2);
	assert_int_equal(out[2].len, 1);
	assert_int_equal(out[3].len, 1);
	memset(para, 'x', sizeof(para) - 1);
	para[3000] = ' ';
	n = rules_split_lines(tu_text(para), out, 8, &need);
	assert_int_equal(n, 3);
	assert_int_equal(out[0].len, 2048);	/* no space before 2048 */
	assert_int_equal(out[1].len, 3001 - 2048);
	n = rules_split_lines(tu_text(para), out, 1, &need);
	assert_int_equal(n, 1);
	assert_int_equal(need, 3);
	n = rules_split_paragraphs(tu_text("short"), out, 8, &need);
	assert_int_equal(n, 1);
	para[4500] = '\n';
	n = rules_split_paragraphs(tu_text(para), out, 8, &need);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].len, 3001);	/* up to the space */
	assert_int_equal(out[0].len + out[1].len, sizeof(para) - 1);
}

/* A stand-in RFC 2047 decoder: =?UTF-8?Q?J=C3=B6rg?= -> Jörg. */
static size_t
fake_decode(void *arg, const char *s, size_t len, char *out, size_t cap)
{
	static const char enc[] = "=?UTF-8?Q?J=C3=B6rg?=";

	(void)arg;
	if (len >= sizeof(enc) - 1 && memcmp(s, enc, sizeof(enc) - 1) == 0 &&
	    cap >= len) {
		memcpy(out, "J\xc3\xb6rg", 5);
		memcpy(out + 5, s + sizeof(enc) - 1, len - (sizeof(enc) - 1));
		return 5 + len - (sizeof(enc) - 1);
	}
	memcpy(out, s, len < cap ? len : cap);
	return len < cap ? len : cap;
}

/* rules_matching(), zero-score metas, :addr and :name details. */
static void
test_meta_details(void **state)
{
	static const char *const hdrs[] = {
		"Subject: bad one bad two",
		"From: \"Doe, Jane\" <jane@example.com> (work), bob@example.net "
		    "(Bob B)",
		"To: Friends: a@example.org, \"B\" <b@example.org>;",
		"Reply-To: =?UTF-8?Q?J=C3=B6rg?= <j@example.de>",
		NULL
	};
	struct rules_set *set;
	struct rules_txn *t;
	struct tu_msg m;

	(void)state;
	set = tu_load_ok("md.rules",
	    "header __BAD_1  Subject =~ /bad one/\n"
	    "header __BAD_2  Subject =~ /bad two/\n"
	    "header __BAD_3  Subject =~ /bad three/\n"
	    "meta   BADS2    rules_matching(__BAD_?) == 2\n"
	    "meta   BADS_ANY rules_matching(__BAD*) > 0\n"
	    "meta   NONE     rules_matching(__NOTHING*) == 0\n"
	    "header OFFRULE  Subject =~ /bad/\n"
	    "score  OFFRULE  0\n"
	    "meta   ZMETA    __BAD_1\n"
	    "score  ZMETA    0\n"
	    "meta   USES_Z   !ZMETA\n"		/* blocked: ZMETA is true */
	    "meta   ZMETA2   __BAD_3\n"
	    "score  ZMETA2   0\n"
	    "meta   USES_Z2  !ZMETA2\n"		/* ZMETA2 false: runs */
	    "meta   ZOFF     OFFRULE || __BAD_1\n"
	    "score  ZOFF     0\n"
	    "meta   USES_ZOFF !ZOFF\n"		/* never runs */
	    "header ADDR2    From:addr =~ "
	    "/^jane\\@example\\.com\\nbob\\@example\\.net$/\n"
	    "header NAME2    From:name =~ /^Doe, Jane$/m\n"
	    "header COMMENT  From:name =~ /^Bob B$/m\n"
	    "header NOTWORK  From:name =~ /work/\n"
	    "header GROUP    To:addr =~ /^a\\@example\\.org\\nb\\@example\\.org$/\n"
	    "header RAWNAME  Reply-To:name:raw =~ /=\\?UTF-8\\?Q\\?J=C3=B6rg/\n"
	    "header DECODED  Reply-To =~ /J\\xc3\\xb6rg/\n"
	    "header DECNAME  Reply-To:name =~ /^J\\xc3\\xb6rg$/\n");
	tu_headers(&m, hdrs);
	/* decoded values as the message model gives them */
	m.h[3].value = tu_text("J\xc3\xb6rg <j@example.de>");
	m.in.decode_words = fake_decode;
	t = run_eom(set, &m);
	assert_non_null(tu_hit(t, "BADS2"));
	assert_non_null(tu_hit(t, "BADS_ANY"));
	assert_non_null(tu_hit(t, "NONE"));
	assert_null(tu_hit(t, "OFFRULE"));
	assert_null(tu_hit(t, "ZMETA"));
	assert_null(tu_hit(t, "USES_Z"));
	assert_non_null(tu_hit(t, "USES_Z2"));
	assert_null(tu_hit(t, "USES_ZOFF"));
	assert_non_null(tu_hit(t, "ADDR2"));
	assert_non_null(tu_hit(t, "NAME2"));
	assert_non_null(tu_hit(t, "COMMENT"));
	assert_null(tu_hit(t, "NOTWORK"));
	assert_non_null(tu_hit(t, "GROUP"));
	assert_non_null(tu_hit(t, "RAWNAME"));
	assert_non_null(tu_hit(t, "DECODED"));
	assert_non_null(tu_hit(t, "DECNAME"));
	rules_txn_free(t);
	rules_set_unref(set);
}

/* A pattern too large for PCRE2 (ReplaceTags) is split and still works. */
static void
test_huge_pattern(void **state)
{
	static char text[300000];
	static const char *const yes[] = { "\n", "go w0399 b stop\n", NULL };
	static const char *const no[] = { "\n", "go w0399 x stop\n", NULL };
	struct rules_set *set;
	struct rules_txn *t;
	struct tu_msg m;
	char *p = text;
	int i, j;
	pcre2_code *code;
	int ec;
	PCRE2_SIZE off;
	char pat[200000], *q = pat;

	(void)state;
	p += sprintf(p, "replace_tag W (?:");
	for (i = 0; i < 400; i++)
		p += sprintf(p, "%sw%04d", i ? "|" : "", i);
	p += sprintf(p, ")\nbody HUGE /go (?:");
	q += sprintf(q, "go (?:");
	for (j = 0; j < 16; j++) {
		p += sprintf(p, "%s<W> %c", j ? "|" : "", 'a' + j);
		q += sprintf(q, "%s(?:", j ? "|" : "");
		for (i = 0; i < 400; i++)
			q += sprintf(q, "%sw%04d", i ? "|" : "", i);
		q += sprintf(q, ") %c", 'a' + j);
	}
	p += sprintf(p, ") stop/\nreplace_rules HUGE\n");
	q += sprintf(q, ") stop");
	/* make sure it really is too large for one PCRE2 program */
	code = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, 0, &ec,
	    &off, NULL);
	if (code != NULL) {
		pcre2_code_free(code);
		skip();
	}
	assert_int_equal(ec, PCRE2_ERROR_PATTERN_TOO_LARGE);
	set = tu_load_ok("huge.cf", text);
	memset(&m, 0, sizeof(m));
	tu_body(&m, yes);
	t = run_eom(set, &m);
	assert_non_null(tu_hit(t, "HUGE"));
	assert_string_equal(tu_hit(t, "HUGE")->match, "go w0399 b stop");
	rules_txn_free(t);
	tu_body(&m, no);
	t = run_eom(set, &m);
	assert_null(tu_hit(t, "HUGE"));
	rules_txn_free(t);
	rules_set_unref(set);
}

/* Profiling adds up time per rule; a transaction keeps its set alive. */
static void
test_profile_refs(void **state)
{
	static const char *const body[] = { "abc\n", NULL };
	struct rules_set *set;
	struct rules_txn *t;
	struct tu_msg m;
	uint32_t idx;

	(void)state;
	memset(&m, 0, sizeof(m));
	tu_body(&m, body);
	set = tu_load_ok("p.rules", "body A /b/\n");
	t = rules_txn_new(set);
	rules_set_unref(set);			/* the txn still holds it */
	assert_null(rules_profile(t));
	assert_int_equal(rules_txn_profile(t, true), 0);
	assert_int_equal(rules_eval(t, RULES_STAGE_EOM, &m.in, NULL), 0);
	assert_int_equal(rules_lookup(rules_txn_set(t), "A", &idx), 0);
	assert_non_null(rules_profile(t));
	assert_true(rules_profile(t)[idx] > 0);
	rules_txn_free(t);
}

/* The joined-lines shortcut gives the per-line results, edge cases. */
static void
test_joined_equals_plain(void **state)
{
	static const char rules[] =
	    "body CROSS   /one\\s+two/\n"		/* across lines: no */
	    "body CROSS2  /one.two/s\n"
	    "body INLINE  /two three/\n"
	    "body ANCH    /^three/\n"
	    "body ENDW    /word\\b/\n"		/* at a 2048-byte cut */
	    "body SPLITW  /wordcontinued/\n"		/* split across lines */
	    "body SUBJ    /Subject line/\n"
	    "body NOSUBJ  /Subject line|four/\n"
	    "tflags NOSUBJ nosubject\n"
	    "body NOSUBJ2 /Subject line/\n"
	    "tflags NOSUBJ2 nosubject\n"
	    "body EMPTY   /x*/\n"
	    "body NEG     /[^a-z]{3}one/\n"
	    "body NEG2    /[^x]{2}two/\n"		/* "e\\n" before it */
	    "body LAST    /final$/\n"
	    "body LASTNL  /final\\n/\n"
	    "uri  URI1    /example\\.com\\/b/\n"
	    "uri  URI2    /a\\nhttp/\n";
	static char longline[2100];
	struct rules_text body[6], uris[2];
	struct rules_set *sets[2];
	struct rules_txn *t[2];
	struct rules_opts o = { 0 };
	struct rules_diag d;
	struct tu_msg m;
	const struct rules_hit *h[2];
	size_t n[2], i;
	int k;

	(void)state;
	memset(longline, 'w', sizeof(longline) - 1);
	memcpy(longline + 2048 - 4, "word", 4);
	memcpy(longline + 2048, "continued", 9);
	memset(&m, 0, sizeof(m));
	body[0] = tu_text("Subject line\n");
	body[1] = tu_text("one\n");
	body[2] = tu_text("two three\n");
	body[3] = tu_text("three four\n");
	body[4].ptr = longline;
	body[4].len = 2048;			/* a line cut without "\n" */
	body[5] = tu_text("continued final");
	m.in.body = body;
	m.in.nbody = 6;
	uris[0] = tu_text("http://example.com/a");
	uris[1] = tu_text("http://example.com/b");
	m.in.uris = uris;
	m.in.nuris = 2;
	for (k = 0; k < 2; k++) {
		o.flags = k ? RULES_LOAD_PLAIN : 0;
		sets[k] = tu_load_opts("jp.rules", rules, &o, &d);
		assert_non_null(sets[k]);
		rules_diag_free(&d);
		t[k] = run_eom(sets[k], &m);
		h[k] = rules_hits(t[k], &n[k]);
	}
	assert_int_equal(n[0], n[1]);
	for (i = 0; i < n[0]; i++) {
		assert_string_equal(h[0][i].name, h[1][i].name);
		assert_string_equal(h[0][i].match, h[1][i].match);
	}
	assert_null(tu_hit(t[0], "CROSS"));
	assert_null(tu_hit(t[0], "CROSS2"));
	assert_non_null(tu_hit(t[0], "INLINE"));
	assert_non_null(tu_hit(t[0], "ANCH"));
	assert_non_null(tu_hit(t[0], "ENDW"));
	assert_null(tu_hit(t[0], "SPLITW"));
	assert_non_null(tu_hit(t[0], "SUBJ"));
	assert_string_equal(tu_hit(t[0], "NOSUBJ")->match, "four");
	assert_null(tu_hit(t[0], "NOSUBJ2"));
	assert_non_null(tu_hit(t[0], "EMPTY"));
	assert_null(tu_hit(t[0], "NEG"));
	assert_null(tu_hit(t[0], "NEG2"));
	assert_non_null(tu_hit(t[0], "LAST"));
	assert_null(tu_hit(t[0], "LASTNL"));
	assert_non_null(tu_hit(t[0], "URI1"));
	assert_null(tu_hit(t[0], "URI2"));
	for (k = 0; k < 2; k++) {
		rules_txn_free(t[k]);
		rules_set_unref(sets[k]);
	}
}

/*
 * The prefilter and the /m join give the plain results: lines with
 * newlines inside, anchors and lookarounds, multi-byte and Latin-1
 * texts (the ASCII and the general literal databases), counts.
 */
static void
test_prefilter_equals_plain(void **state)
{
	static const char rules[] =
	    "body NLA    /foo(?!$)/\n"		/* $ inside a lookahead */
	    "body NLB    /(?<!^)bar/\n"
	    "body DOLLAR /end$/\n"		/* not before an inner \n */
	    "body CARET  /^more/\n"
	    "body MOFF   /(?-m:end$)x?/\n"
	    "body YOU    /(?:[yY]|\\xc3\\xbd)ou win/i\n"
	    "body CAFE   /CAF\\xc9 AU LAIT/i\n"
	    "body MULTI  /win/\n"
	    "tflags MULTI multiple\n"
	    "body NONE   /absent literal/\n"
	    "rawbody RAW /twice, (\\w+)/\n";
	struct rules_text body[6];
	struct tu_modes mo;
	struct tu_msg m;

	(void)state;
	memset(&m, 0, sizeof(m));
	body[0] = tu_text("Subject line\n");
	body[1] = tu_text("foo\nbar\n");
	body[2] = tu_text("the end\nmore\n");
	body[3] = tu_text("\xc3\xbdou win big\n");
	body[4] = tu_text("you win twice, win\n");
	body[5] = tu_text("caf\xe9 au lait");
	m.in.body = body;
	m.in.nbody = 6;
	m.in.rawbody = body + 1;
	m.in.nrawbody = 5;
	tu_modes_run(&mo, "pf.rules", rules, &m);
	assert_non_null(tu_hit(mo.t[0], "NLA"));
	assert_non_null(tu_hit(mo.t[0], "NLB"));
	assert_null(tu_hit(mo.t[0], "DOLLAR"));
	assert_null(tu_hit(mo.t[0], "CARET"));
	assert_null(tu_hit(mo.t[0], "MOFF"));
	assert_string_equal(tu_hit(mo.t[0], "YOU")->match, "\xc3\xbdou win");
	assert_non_null(tu_hit(mo.t[0], "CAFE"));
	assert_int_equal(tu_hit(mo.t[0], "MULTI")->count, 3);
	assert_null(tu_hit(mo.t[0], "NONE"));
	assert_string_equal(tu_hit(mo.t[0], "RAW")->match, "twice, win");
	tu_modes_free(&mo);
}

/*
 * Literal patterns counted with memmem() (a pattern, an ASCII
 * projection that is one letter, overlapping occurrences, maxhits) and
 * rules skipped by their byte or run conditions (rules__required_cond)
 * give the plain results, on ASCII and UTF-8 texts.
 */
static void
test_literal_cond_equal_plain(void **state)
{
	static const char rules[] =
	    "body LOWER_E /e/\n"
	    "tflags LOWER_E multiple maxhits=5\n"
	    "body ELIKE  /(?:e|\\xc3[\\xa8\\xa9])/\n"
	    "tflags ELIKE multiple maxhits=50\n"
	    "body AA     /aa/\n"
	    "tflags AA multiple\n"
	    "body COMMA  /a, b/\n"
	    "body UCRUN  /\\b[A-Z]{6,}\\b/\n"
	    "body NORUN  /[A-Z]{30}/\n"
	    "body HEX    /[0-9a-f]{8}x/\n"
	    "body DIGITS /\\d{3}/\n"
	    "body LONGW  /\\b(?:[a-z]{3,}[\\s\\.]+){3}/\n"
	    "body RUN4   /z{4}/\n"		/* at the very end */
	    "body RUN5   /z{5}/\n"		/* the same class, longer */
	    "body RUN3   /z{3}/\n"		/* shorter: known */
	    "body RUN6   /z{6}/\n";		/* longer: known absent */
	struct rules_text body[6];
	struct tu_modes mo;
	struct tu_msg m;

	(void)state;
	memset(&m, 0, sizeof(m));
	body[0] = tu_text("Here are some eees\n");
	body[1] = tu_text("caf\xc3\xa9 \xc3\xa8te\n");
	body[2] = tu_text("aaaaa, b\n");
	body[3] = tu_text("SHOUTING words\n");
	body[4] = tu_text("id deadbeefx\n");
	body[5] = tu_text("zzz zzzz");
	m.in.body = body;
	m.in.nbody = 6;
	tu_modes_run(&mo, "lc.rules", rules, &m);
	assert_int_equal(tu_hit(mo.t[0], "LOWER_E")->count, 5);
	assert_int_equal(tu_hit(mo.t[0], "ELIKE")->count, 13);
	assert_int_equal(tu_hit(mo.t[0], "AA")->count, 2);
	assert_non_null(tu_hit(mo.t[0], "COMMA"));
	assert_string_equal(tu_hit(mo.t[0], "UCRUN")->match, "SHOUTING");
	assert_null(tu_hit(mo.t[0], "NORUN"));
	assert_string_equal(tu_hit(mo.t[0], "HEX")->match, "deadbeefx");
	assert_null(tu_hit(mo.t[0], "DIGITS"));
	assert_string_equal(tu_hit(mo.t[0], "LONGW")->match, "are some eees\n");
	assert_non_null(tu_hit(mo.t[0], "RUN4"));
	assert_null(tu_hit(mo.t[0], "RUN5"));
	assert_non_null(tu_hit(mo.t[0], "RUN3"));
	assert_null(tu_hit(mo.t[0], "RUN6"));
	tu_modes_free(&mo);
}

/* True if SET's prefilter holds rule NAME. */
static bool
held(const struct rules_set *set, const char *name)
{
	struct rules_info info;
	uint32_t idx;

	assert_int_equal(rules_lookup(set, name, &idx), 0);
	assert_int_equal(rules_info(set, idx, &info), 0);
	return info.prefiltered;
}

/*
 * The plain, skeleton and counted literal databases (prefilter.c) give
 * the plain results, and miss no match: a tag whose "&#..;" form is in
 * a text that is not plain; separators and look-alikes a skeleton
 * removes ("v|agra": '|' is a look-alike of i and not in the
 * skeleton); a repeated group needing three literal occurrences, with
 * texts holding three (a hit), two (none possible) and literals that
 * end at the same offset (counted once).
 */
static void
test_prefilter_plain_skeleton_counted(void **state)
{
	static const char rules[] =
	    "body TAG    /(?:^|\\s)(?:[pP]|&\\#80;)(?:[aA4@]|&\\#97;)"
	    "(?:[yY]|&\\#121;)\\sme\\b/\n"
	    "body SKEL   /(?:\\b|\\s)[_\\W]{0,3}v[_\\W]{0,3}[i1!|l][_\\W]{0,3}"
	    "a[_\\W]{0,3}g[_\\W]{0,3}r[_\\W]{0,3}a(?:\\b|\\s)/i\n"
	    "body SKELM  /c[\\W_]?l[\\W_]?i[\\W_]?c[\\W_]?k/i\n"
	    "tflags SKELM multiple\n"
	    "body FORM3  /(?:(?:name|phone|e?mail)[:,]\\s?){3}/i\n"
	    "body FORM2  /(?:(?:name|ame)\\W){2}/\n";
	struct rules_text body[9];
	struct tu_modes mo;
	struct tu_msg m;

	(void)state;
	memset(&m, 0, sizeof(m));
	body[0] = tu_text("Subject line\n");
	body[1] = tu_text("please p&#97;y me now & then\n");	/* not plain */
	body[2] = tu_text("buy v|agra, c-l-i-c-k, C.L.I.C.K\n");
	body[3] = tu_text("Name: Phone, EMail:\n");	/* three */
	body[4] = tu_text("name: phone, and the rest\n");	/* two */
	body[5] = tu_text("aname.\n");	/* name, ame: one end */
	body[6] = tu_text("V_I_A_G_R_A\n");
	body[7] = tu_text("name name.\n");
	body[8] = tu_text("click\n");
	m.in.body = body;
	m.in.nbody = 9;
	tu_modes_run(&mo, "pf2.rules", rules, &m);
	/* the default set's prefilter holds them all */
	assert_true(held(mo.set[0], "TAG"));
	assert_true(held(mo.set[0], "SKEL"));
	assert_true(held(mo.set[0], "SKELM"));
	assert_true(held(mo.set[0], "FORM3"));
	assert_true(held(mo.set[0], "FORM2"));
	assert_string_equal(tu_hit(mo.t[0], "TAG")->match, " p&#97;y me");
	assert_string_equal(tu_hit(mo.t[0], "SKEL")->match, " v|agra");
	assert_int_equal(tu_hit(mo.t[0], "SKELM")->count, 3);
	assert_string_equal(tu_hit(mo.t[0], "FORM3")->match,
	    "Name: Phone, EMail:\n");
	assert_string_equal(tu_hit(mo.t[0], "FORM2")->match, "name name.");
	tu_modes_free(&mo);
}

/*
 * The pattern database (prefilter.c, pf_build_pat) gives the plain
 * results for rules without literals: obfuscated words made of
 * classes, caseless with Latin-1 letters (Vectorscan folds ASCII only:
 * on a text with bytes above 0x7f such a rule runs PCRE2 anyway, so
 * "V\xcd\xc0g" still hits through gatehouse's Latin-1 case partners),
 * a lookbehind and a back reference (widened by Vectorscan), a multiple
 * rule (counted by PCRE2 on the texts the scan lists).  A pattern PCRE2
 * skips to by its first byte is left to PCRE2.
 */
static void
test_prefilter_patterns(void **state)
{
	static const char rules[] =
	    "body OBF    /(?:\\b|\\s)[_\\W]{0,3}(?:\\\\\\/|V)[_\\W]{0,3}"
	    "[i1!|l\\xec\\xed][_\\W]{0,3}[a4@\\xe0\\xe1][_\\W]{0,3}g/i\n"
	    "body LONGW  /\\b[a-z]{12,}\\s[a-z]{12,}\\b/\n"
	    "body LOOK   /(?<![a-z0-9])[0-9]{3}[xX][0-9]{3}(?![0-9])/\n"
	    "body BREF   /\\b([a-z])\\1{3}\\b/\n"
	    "body MULT   /[0-9][a-z][0-9]/\n"
	    "tflags MULT multiple\n"
	    "rawbody RAW /[a-z][0-9]{4}[a-z]/\n"
	    "body FIRST  /Zq[a-z]+q/\n";
	struct rules_text body[8], raw[2];
	struct tu_modes mo;
	struct tu_msg m;

	(void)state;
	memset(&m, 0, sizeof(m));
	body[0] = tu_text("Subject line\n");
	body[1] = tu_text("buy V-i-a-g now\n");
	body[2] = tu_text("cheap V\xcd\xc0g here\n");	/* partners only */
	body[3] = tu_text("extraordinary circumstances\n");
	body[4] = tu_text("size 640x480 or a640x4801\n");
	body[5] = tu_text("zzzz and 1a2 3b4 5c6\n");
	body[6] = tu_text("7d8 9e0 Zqwertq\n");
	body[7] = tu_text("nothing here at all\n");
	raw[0] = tu_text("<b>x</b>\n");
	raw[1] = tu_text("id a1234b\n");
	m.in.body = body;
	m.in.nbody = 8;
	m.in.rawbody = raw;
	m.in.nrawbody = 2;
	tu_modes_run(&mo, "pat.rules", rules, &m);
	assert_true(held(mo.set[0], "OBF"));
	assert_true(held(mo.set[0], "LONGW"));
	assert_true(held(mo.set[0], "LOOK"));
	assert_true(held(mo.set[0], "BREF"));
	assert_true(held(mo.set[0], "MULT"));
	assert_true(held(mo.set[0], "RAW"));
	assert_false(held(mo.set[0], "FIRST"));
	assert_string_equal(tu_hit(mo.t[0], "OBF")->match, " V-i-a-g");
	assert_string_equal(tu_hit(mo.t[0], "LONGW")->match,
	    "extraordinary circumstances");
	assert_string_equal(tu_hit(mo.t[0], "LOOK")->match, "640x480");
	assert_string_equal(tu_hit(mo.t[0], "BREF")->match, "zzzz");
	assert_int_equal(tu_hit(mo.t[0], "MULT")->count, 7);
	assert_string_equal(tu_hit(mo.t[0], "RAW")->match, "a1234b");
	assert_string_equal(tu_hit(mo.t[0], "FIRST")->match, "Zqwertq");
	tu_modes_free(&mo);
	/* the Latin-1 partners alone: a non-ASCII text, no ASCII match */
	body[1] = tu_text("buy nothing\n");
	tu_modes_run(&mo, "pat.rules", rules, &m);
	assert_string_equal(tu_hit(mo.t[0], "OBF")->match, " V\xcd\xc0g");
	tu_modes_free(&mo);
}

/* SpamAssassin's rendered body text. */
static void
test_body_text(void **state)
{
	struct rules_text subj = { "Hello", 5 }, parts[4];
	struct rules_text out[16];
	char *text;
	size_t len, n, need;

	(void)state;
	parts[0] = tu_text("line one\nline two\n\npara\t two  \n \n"
	    "  third\xc2\xa0nbsp\xe2\x80\x83" "em\n");
	parts[1].ptr = NULL;			/* an image */
	parts[1].len = 0;
	parts[2].ptr = "after image\0nul";
	parts[2].len = 15;
	parts[3] = tu_text("last part\n");
	text = rules_body_text(&subj, parts, 4, &len);
	assert_non_null(text);
	assert_int_equal(len, strlen(text));
	assert_string_equal(text, "Hello\nline one line two\npara two \n "
	    "third nbsp em\nafter image\nnul last part ");
	n = rules_split_lines((struct rules_text){ text, len }, out, 16,
	    &need);
	assert_int_equal(n, 6);
	assert_int_equal(out[0].len, 6);		/* "Hello\n" */
	free(text);
	text = rules_body_text(NULL, NULL, 0, &len);
	assert_string_equal(text, "\n");
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_body),
		cmocka_unit_test(test_other_types),
		cmocka_unit_test(test_meta),
		cmocka_unit_test(test_meta_zero_direct),
		cmocka_unit_test(test_meta_zero),
		cmocka_unit_test(test_meta_details),
		cmocka_unit_test(test_huge_pattern),
		cmocka_unit_test(test_profile_refs),
		cmocka_unit_test(test_scores),
		cmocka_unit_test(test_envelope),
		cmocka_unit_test(test_auth_rule),
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_shadow),
		cmocka_unit_test(test_match_limit),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_no_jit),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_body_text),
		cmocka_unit_test(test_joined_equals_plain),
		cmocka_unit_test(test_prefilter_equals_plain),
		cmocka_unit_test(test_literal_cond_equal_plain),
		cmocka_unit_test(test_prefilter_plain_skeleton_counted),
		cmocka_unit_test(test_prefilter_patterns),
	};

	return cmocka_run_group_tests(tests, tu_setup, tu_teardown);
}
