/*
 * test_regex.c — the rules filter through the chain: envelope rules at
 * their stage, header/body/uri rules at EOM, replies from actions,
 * required_score, and RSET (envelope hits reported once per session).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filters/chain.h"
#include "filters/message.h"

static char	 rules_path[] = "/tmp/gh-test-regex-XXXXXX.rules";

static const char rules_text[] =
    "helo     HELO_BAD   /^bad\\.example$/\n"
    "score    HELO_BAD   1.5\n"
    "rcptto   TRAP       /^trap@/\n"
    "action   TRAP       reject \"550 5.1.1 <%{rcpt}> no such user\"\n"
    "mailfrom DEFER      /^later@/\n"
    "action   DEFER      tempfail\n"
    "header   SUBJ_FREE  Subject =~ /free money/i\n"
    "score    SUBJ_FREE  2\n"
    "body     BODY_PILLS /cheap pills/\n"
    "score    BODY_PILLS 3\n"
    "uri      URI_IP     m{^https?://\\d+\\.\\d+\\.\\d+\\.\\d+}\n"
    "score    URI_IP     1\n"
    "mimeheader PART_PDF Content-Type =~ /application\\/pdf/\n"
    "mimeheader PART_FN  Content-Disposition =~ /filename=\"report/\n"
    "mimeheader TOP_MIX  Content-Type =~ /multipart\\/mixed/\n"
    "mimeheader NO_PART  Content-Type =~ /image\\/gif/\n"
    "meta     COMBO      SUBJ_FREE && BODY_PILLS && HELO_BAD\n"
    "score    COMBO      0.5\n"
    "header   RELAY_EXT  X-Spam-Relays-External =~ "
    "/^\\[ ip=203\\.0\\.113\\.9 rdns=client\\.example\\.org /\n"
    "header   RELAY_FORGED X-Spam-Relays-External =~ /forged/\n"
    "header   RELAY_TRUSTED X-Spam-Relays-Trusted =~ /^\\[ ip=192\\.168\\.1\\.5 .* intl=1 /\n"
    "header   ALL_EXT    ALL-EXTERNAL =~ "
    "/\\AReceived: from client\\.example\\.org .*\\nReceived: .*"
    "\\nReturn-Path: <rp\\@example\\.com>\\nSubject: relays\\n\\z/s\n"
    "header   ENVF_RELAY EnvelopeFrom =~ /^bounce\\@example\\.org$/\n"
    "header   ENVF_SMTP  EnvelopeFrom =~ /^smtp\\@example\\.org$/\n"
    "header   HOP_UNTRUSTED X-Spam-Relays-Untrusted =~ /^\\[ ip=192\\.0\\.2\\.10 "
    "rdns=mail\\.example\\.net helo=mx\\.example\\.net by=gw\\.example\\.com "
    "ident= envfrom= intl=0 id= auth= msa=0 \\] \\[ ip=203\\.0\\.113\\.9 /\n"
    "score    HOP_UNTRUSTED 0.1\n"
    "header   RDNS_NONE  X-Spam-Relays-Untrusted =~ /^[^\\]]+ rdns= /\n"
    "score    RDNS_NONE  0.1\n"
    "header   HOP_ALL    ALL-UNTRUSTED =~ /\\AReceived: from mx\\.example\\.net "
    "\\(mail\\.example\\.net \\[192\\.0\\.2\\.10\\]\\)\\tby gw\\.example\\.com "
    "\\(Postfix\\) with ESMTP\\tfor <user\\@example\\.org>;\\t.*"
    "\\nReceived: from client\\.example\\.org /s\n"
    "score    HOP_ALL    0.1\n"
    "required_score 4\n";

static int
setup(void **state)
{
	int	 fd = mkstemps(rules_path, 6);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, rules_text, sizeof(rules_text) - 1),
	    (ssize_t)sizeof(rules_text) - 1);
	close(fd);
	return 0;
}

static int
teardown(void **state)
{
	unlink(rules_path);
	return 0;
}

static struct gh_chain *
chain(const char *extra)
{
	struct gh_config_errors	 errs = { NULL, 0 };
	char			 ov1[300], *ov[5] = { ov1, "score.reject=100",
				    "spf.enable=no", "dkim.enable=no", (char *)extra };
	struct gh_config	*cfg;
	struct gh_chain		*c;
	char			 err[1024];

	snprintf(ov1, sizeof(ov1), "rules=%s", rules_path);
	cfg = gh_config_load(NULL, ov, extra ? 5 : 4, &errs);
	assert_non_null(cfg);
	c = gh_chain_new(cfg, NULL, err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	gh_config_unref(cfg);
	return c;
}

static struct gh_message *
msg(const char *text)
{
	struct gh_message	*m = gh_message_new(NULL);
	const char		*p;

	for (p = text; *p; p++)
		gh_message_feed(m, *p == '\n' ? "\r\n" : p, *p == '\n' ? 2 : 1);
	gh_message_end(m);
	return m;
}

static enum gh_action
stage(struct gh_txn *t, enum gh_stage s, struct gh_verdict *v)
{
	gh_verdict_clear(v);
	assert_int_equal(gh_chain_run(t, s, v), 0);
	return v->action;
}

static bool
has_hit(const struct gh_txn *t, const char *name)
{
	size_t	 i, n = 0;

	for (i = 0; i < t->hits.n; i++)
		n += strcmp(t->hits.v[i].name, name) == 0;
	if (n > 1)
		fail_msg("%s reported %zu times", name, n);
	return n == 1;
}

static void
test_message_through_rules(void **state)
{
	struct gh_chain		*c = chain(NULL);
	struct gh_txn		*t = gh_txn_new(c, 7);
	struct gh_message	*m;
	struct gh_verdict	 v = { 0 };
	int			 round;

	gh_txn_set_client(t, "192.0.2.1", 1, "c.example", NULL, 0);
	gh_txn_set_helo(t, "bad.example");
	stage(t, GH_STAGE_CONNECT, &v);
	stage(t, GH_STAGE_HELO, &v);
	assert_true(has_hit(t, "HELO_BAD"));
	for (round = 0; round < 2; round++) {
		m = msg("Subject: =?utf-8?Q?FREE_money?=\n"
		    "Content-Type: text/html\n\n"
		    "<p>Buy <b>cheap</b> pills <a href=\"http://192.0.2.9/"
		    "shop\">here</a> today</p>\n");
		gh_txn_set_mail(t, "a@example.org");
		assert_int_equal(stage(t, GH_STAGE_MAIL, &v), GH_CONTINUE);
		gh_txn_add_rcpt(t, "trap@example.org");
		assert_int_equal(stage(t, GH_STAGE_RCPT, &v), GH_REJECT);
		assert_int_equal(v.code, 550);
		assert_string_equal(v.status, "5.1.1");
		assert_string_equal(v.text, "<trap@example.org> no such user");
		gh_txn_add_rcpt(t, "user@example.org");
		assert_int_equal(stage(t, GH_STAGE_RCPT, &v), GH_CONTINUE);
		gh_txn_set_message(t, m);
		stage(t, GH_STAGE_HEADERS, &v);
		/* The header rule saw the RFC 2047-decoded Subject. */
		assert_true(has_hit(t, "SUBJ_FREE"));
		assert_int_equal(stage(t, GH_STAGE_EOM, &v), GH_TAG);
		assert_true(has_hit(t, "BODY_PILLS"));
		assert_true(has_hit(t, "URI_IP"));
		assert_true(has_hit(t, "COMBO"));
		assert_true(has_hit(t, "HELO_BAD"));	/* still once */
		assert_true(t->score == 1.5 + 2 + 3 + 1 + 0.5);
		gh_txn_finish(t, &v, NULL);
		gh_txn_reset(t, NULL);
		gh_message_free(m);
		/* After RSET only the session's HELO hit remains. */
		assert_int_equal(t->hits.n, 1);
		assert_true(t->score == 1.5);
	}
	gh_verdict_clear(&v);
	gh_txn_free(t);
	gh_chain_unref(c);
}

/* mimeheader rules see the fields of every MIME part, not only the top. */
static void
test_mimeheader_parts(void **state)
{
	struct gh_chain		*c = chain(NULL);
	struct gh_txn		*t = gh_txn_new(c, 8);
	struct gh_message	*m;
	struct gh_verdict	 v = { 0 };

	(void)state;
	m = msg("Subject: report\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=\"b1\"\n\n"
	    "--b1\n"
	    "Content-Type: text/plain\n\n"
	    "see attached\n"
	    "--b1\n"
	    "Content-Type: application/pdf; name=\"report.pdf\"\n"
	    "Content-Disposition: attachment;\n"
	    "\tfilename=\"report.pdf\"\n"
	    "Content-Transfer-Encoding: base64\n\n"
	    "JVBERi0=\n"
	    "--b1--\n");
	gh_txn_set_client(t, "192.0.2.1", 1, "c.example", NULL, 0);
	gh_txn_set_helo(t, "good.example");
	stage(t, GH_STAGE_CONNECT, &v);
	stage(t, GH_STAGE_HELO, &v);
	gh_txn_set_mail(t, "a@example.org");
	stage(t, GH_STAGE_MAIL, &v);
	gh_txn_add_rcpt(t, "user@example.org");
	stage(t, GH_STAGE_RCPT, &v);
	gh_txn_set_message(t, m);
	stage(t, GH_STAGE_HEADERS, &v);
	stage(t, GH_STAGE_EOM, &v);
	assert_true(has_hit(t, "TOP_MIX"));
	assert_true(has_hit(t, "PART_PDF"));
	assert_true(has_hit(t, "PART_FN"));	/* a folded field */
	assert_false(has_hit(t, "NO_PART"));
	gh_txn_finish(t, &v, NULL);
	gh_message_free(m);
	gh_verdict_clear(&v);
	gh_txn_free(t);
	gh_chain_unref(c);
}

/*
 * SpamAssassin's metadata: X-Spam-Relays-* from the Received fields
 * (a forged field of that name is not seen), ALL-EXTERNAL, and
 * EnvelopeFrom: SMTP's sender, or the message's when it was guessed.
 */
static void
test_relays(void **state)
{
	static const char	 text[] =
	    "Received: from mx.example.net (mx.example.net [192.168.1.5])\n"
	    "\tby mail.example.net (Postfix) with ESMTP id 1A2B3C\n"
	    "Received: from client.example.org (client.example.org "
	    "[203.0.113.9])\n\tby mx.example.net (8.12.5/8.12.5) with ESMTP "
	    "id g75Dwvk13483\n\t(envelope-from bounce@example.org); Mon, 5 "
	    "Aug 2002 14:58:50 +0100\n"
	    "Received: from [10.0.0.2] (helo=pc) by client.example.org with "
	    "esmtp (Exim 4.50) id 1GFbZc-0006QV-L8\n"
	    "Return-Path: <rp@example.com>\n"
	    "X-Spam-Relays-External: forged\n"
	    "Subject: relays\n\nbody\n";
	struct gh_chain		*c = chain(NULL);
	struct gh_txn		*t;
	struct gh_message	*m;
	struct gh_verdict	 v = { 0 };
	int			 guessed;

	(void)state;
	for (guessed = 0; guessed < 2; guessed++) {
		t = gh_txn_new(c, 9);
		m = msg(text);
		gh_txn_set_mail(t, "smtp@example.org");
		t->env.mail_from_guessed = guessed;
		gh_txn_add_rcpt(t, "user@example.org");
		gh_txn_set_message(t, m);
		stage(t, GH_STAGE_HEADERS, &v);
		stage(t, GH_STAGE_EOM, &v);
		assert_true(has_hit(t, "RELAY_EXT"));
		assert_false(has_hit(t, "RELAY_FORGED"));
		assert_true(has_hit(t, "RELAY_TRUSTED"));
		assert_true(has_hit(t, "ALL_EXT"));
		assert_int_equal(has_hit(t, "ENVF_SMTP"), !guessed);
		assert_int_equal(has_hit(t, "ENVF_RELAY"), guessed);
		gh_txn_finish(t, &v, NULL);
		gh_message_free(m);
		gh_verdict_clear(&v);
		gh_txn_free(t);
	}
	gh_chain_unref(c);
}

static void
test_tempfail_and_thresholds(void **state)
{
	struct gh_chain		*c = chain(NULL);
	struct gh_txn		*t = gh_txn_new(c, 8);
	struct gh_verdict	 v = { 0 };

	/* required_score 4 from the rule file sets the tag threshold ... */
	assert_true(gh_chain_score_tag(c) == 4);
	gh_txn_set_mail(t, "later@example.org");
	assert_int_equal(stage(t, GH_STAGE_MAIL, &v), GH_TEMPFAIL);
	assert_int_equal(v.code, 451);
	gh_verdict_clear(&v);
	gh_txn_free(t);
	gh_chain_unref(c);
	/* ... unless score.tag is set explicitly. */
	c = chain("score.tag=9");
	assert_true(gh_chain_score_tag(c) == 9);
	gh_chain_unref(c);
}

static void
test_broken_rules_refused(void **state)
{
	struct gh_config_errors	 errs = { NULL, 0 };
	char			 path[] = "/tmp/gh-test-bad-XXXXXX.rules", ov[300];
	char			*ovp[] = { ov };
	struct gh_config	*cfg;
	char			 err[1024];
	int			 fd = mkstemps(path, 6);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "body OK /fine/\nbody BAD /(/\n", 28), 28);
	close(fd);
	snprintf(ov, sizeof(ov), "rules=%s", path);
	cfg = gh_config_load(NULL, ovp, 1, &errs);
	assert_non_null(cfg);
	assert_null(gh_chain_new(cfg, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, ":2: "));
	assert_non_null(strstr(err, path));
	gh_config_unref(cfg);
	unlink(path);
}

static void
test_uri_policy(void **state)
{
	struct gh_config_errors	 errs = { NULL, 0 };
	char			 path[] = "/tmp/gh-test-uri-XXXXXX.cf", ov[300];
	char			*ovp[] = { ov, "score.reject=100",
				    "spf.enable=no", "dkim.enable=no" };
	const char		*cf =
	    "util_rb_tld com\n"
	    "redirector_pattern m'^https?://redir\\.example\\.com"
	    "/\\?u=(.*)$'i\n"
	    "uri URI_COM  /\\.com\\b/\nscore URI_COM 1\n"
	    "uri URI_ZZZ  /\\.zzz\\b/\nscore URI_ZZZ 1\n"
	    "uri URI_TARGET /^http:\\/\\/target\\.example\\.com/\n"
	    "score URI_TARGET 1\n";
	struct gh_config	*cfg;
	struct gh_chain		*c;
	struct gh_txn		*t;
	struct gh_message	*m;
	struct gh_verdict	 v = { 0 };
	char			 err[1024];
	int			 fd = mkstemps(path, 3);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, cf, strlen(cf)), (ssize_t)strlen(cf));
	close(fd);
	snprintf(ov, sizeof(ov), "rules=%s", path);
	cfg = gh_config_load(NULL, ovp, 4, &errs);
	assert_non_null(cfg);
	c = gh_chain_new(cfg, NULL, err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	t = gh_txn_new(c, 9);
	m = msg("Subject: links\n\nSee www.example.com and www.example.zzz "
	    "and https://redir.example.com/?u=http://target.example.com/x\n");
	gh_txn_set_mail(t, "a@example.org");
	gh_txn_add_rcpt(t, "b@example.org");
	gh_txn_set_message(t, m);
	stage(t, GH_STAGE_HEADERS, &v);
	stage(t, GH_STAGE_EOM, &v);
	assert_true(has_hit(t, "URI_COM"));
	/* zzz is no TLD under util_rb_tld: not a link at all. */
	assert_false(has_hit(t, "URI_ZZZ"));
	/* The redirector's target is a URI of its own. */
	assert_true(has_hit(t, "URI_TARGET"));
	gh_verdict_clear(&v);
	gh_txn_free(t);
	gh_message_free(m);
	gh_chain_unref(c);
	gh_config_unref(cfg);
	unlink(path);
}

/*
 * The proxy's client hop: with received_pending, the Received field
 * Postfix will add for the SMTP client is the topmost relay (and the
 * 0th field of ALL-*); without it, nothing is added.
 */
static void
test_client_hop(void **state)
{
	static const char	 text[] =
	    "Received: from client.example.org (client.example.org "
	    "[203.0.113.9])\n\tby mx.example.net (8.12.5/8.12.5) with ESMTP "
	    "id g75Dwvk13483; Mon, 5 Aug 2002 14:58:50 +0100\n"
	    "Subject: hop\n\nbody\n";
	struct gh_chain		*c = chain("hostname=gw.example.com");
	struct gh_txn		*t;
	struct gh_message	*m;
	struct gh_verdict	 v = { 0 };
	int			 round;

	(void)state;
	for (round = 0; round < 3; round++) {
		t = gh_txn_new(c, 10);
		gh_txn_set_client(t, "192.0.2.10", 2525, round == 1 ?
		    NULL : "mail.example.net", NULL, 0);
		t->env.received_pending = round < 2;
		t->env.esmtp = true;
		gh_txn_set_helo(t, "mx.example.net");
		gh_txn_set_mail(t, "s@example.org");
		gh_txn_add_rcpt(t, "user@example.org");
		m = msg(text);
		gh_txn_set_message(t, m);
		stage(t, GH_STAGE_HEADERS, &v);
		stage(t, GH_STAGE_EOM, &v);
		assert_int_equal(has_hit(t, "HOP_UNTRUSTED"), round == 0);
		assert_int_equal(has_hit(t, "HOP_ALL"), round == 0);
		assert_int_equal(has_hit(t, "RDNS_NONE"), round == 1);
		gh_txn_finish(t, &v, NULL);
		gh_message_free(m);
		gh_verdict_clear(&v);
		gh_txn_free(t);
	}
	gh_chain_unref(c);
}

/*
 * Sessions that follow ended ones reuse their engine transactions (the
 * filter's pool): each starts clean, whichever came before, and two
 * sessions at once get two transactions.
 */
static void
test_txn_pool(void **state)
{
	struct gh_chain		*c = chain(NULL);
	struct gh_txn		*t, *t2;
	struct gh_message	*m;
	struct gh_verdict	 v = { 0 };
	int			 round;

	(void)state;
	for (round = 0; round < 6; round++) {
		bool spam = round % 2 == 0;

		t = gh_txn_new(c, 100 + round);
		t2 = round == 3 ? gh_txn_new(c, 200) : NULL;
		gh_txn_set_client(t, "192.0.2.1", 1, "c.example", NULL, 0);
		gh_txn_set_helo(t, spam ? "bad.example" : "good.example");
		stage(t, GH_STAGE_CONNECT, &v);
		stage(t, GH_STAGE_HELO, &v);
		if (t2 != NULL) {
			gh_txn_set_client(t2, "192.0.2.2", 1, "d.example",
			    NULL, 0);
			gh_txn_set_helo(t2, "bad.example");
			stage(t2, GH_STAGE_CONNECT, &v);
			stage(t2, GH_STAGE_HELO, &v);
			assert_true(has_hit(t2, "HELO_BAD"));
		}
		assert_int_equal(has_hit(t, "HELO_BAD"), spam);
		m = msg(spam ? "Subject: free money\n\ncheap pills\n" :
		    "Subject: minutes\n\nthe meeting notes\n");
		gh_txn_set_mail(t, "a@example.org");
		stage(t, GH_STAGE_MAIL, &v);
		gh_txn_add_rcpt(t, "user@example.org");
		stage(t, GH_STAGE_RCPT, &v);
		gh_txn_set_message(t, m);
		stage(t, GH_STAGE_HEADERS, &v);
		stage(t, GH_STAGE_EOM, &v);
		assert_int_equal(has_hit(t, "SUBJ_FREE"), spam);
		assert_int_equal(has_hit(t, "BODY_PILLS"), spam);
		assert_int_equal(has_hit(t, "COMBO"), spam);
		assert_true(t->score == (spam ? 1.5 + 2 + 3 + 0.5 : 0));
		gh_txn_finish(t, &v, NULL);
		gh_verdict_clear(&v);
		gh_txn_free(t);
		gh_message_free(m);
		if (t2 != NULL) {
			assert_true(t2->score == 1.5);
			gh_txn_free(t2);
		}
	}
	gh_chain_unref(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message_through_rules),
		cmocka_unit_test(test_mimeheader_parts),
		cmocka_unit_test(test_relays),
		cmocka_unit_test(test_client_hop),
		cmocka_unit_test(test_tempfail_and_thresholds),
		cmocka_unit_test(test_broken_rules_refused),
		cmocka_unit_test(test_uri_policy),
		cmocka_unit_test(test_txn_pool),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
