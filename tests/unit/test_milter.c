/*
 * test_milter.c — the milter front end without a socket: the callbacks
 * driven through a fake libmilter (milter_api), with a chain whose one
 * test filter decides what each test needs.
 *
 * Shown: verdict -> SMFIS_* at every stage; smfi_setreply arguments
 * (class, enhanced code, '%' doubled, control characters, length);
 * header edits as insheader/addheader/chgheader calls (forged
 * Authentication-Results deleted, ours inserted at 0); the message the
 * chain sees rebuilt from header callbacks (leading space, LF folding);
 * the failure policy; and every out-of-order sequence of item 7 ending
 * in tempfail or a quiet no-op, never a crash or an accept.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "filters/chain.h"
#include "filters/message.h"
#include "milter/milter_int.h"

/* ---- a fake libmilter ---- */

#define MAXEDITS	32

struct fctx {
	void		*priv;
	const char	*macros[16];	/* name, value, ... NULL */
	char		 rcode[4], xcode[16], text[1024];
	int		 nreply;
	char		 edits[MAXEDITS][512];
	int		 nedits;
	bool		 fail_edits;
	bool		 fail_setpriv;
};

static void *
f_getpriv(void *ctx)
{
	return ((struct fctx *)ctx)->priv;
}

static int
f_setpriv(void *ctx, void *p)
{
	struct fctx *c = ctx;

	if (c->fail_setpriv)
		return MI_FAILURE;
	c->priv = p;
	return MI_SUCCESS;
}

static const char *
f_getsymval(void *ctx, const char *name)
{
	struct fctx	*c = ctx;
	size_t		 i;

	for (i = 0; c->macros[i]; i += 2)
		if (strcmp(c->macros[i], name) == 0)
			return c->macros[i + 1];
	return NULL;
}

static int
f_setreply(void *ctx, const char *r, const char *x, const char *t)
{
	struct fctx *c = ctx;

	snprintf(c->rcode, sizeof(c->rcode), "%s", r);
	snprintf(c->xcode, sizeof(c->xcode), "%s", x ? x : "");
	snprintf(c->text, sizeof(c->text), "%s", t ? t : "");
	c->nreply++;
	return MI_SUCCESS;
}

/* Record one edit as text. */
static int
record(struct fctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
record(struct fctx *c, const char *fmt, ...)
{
	va_list	 ap;

	if (c->fail_edits || c->nedits == MAXEDITS)
		return MI_FAILURE;
	va_start(ap, fmt);
	vsnprintf(c->edits[c->nedits++], sizeof(c->edits[0]), fmt, ap);
	va_end(ap);
	return MI_SUCCESS;
}

static int
f_insheader(void *ctx, int idx, const char *n, const char *v)
{
	return record(ctx, "ins %d %s:%s", idx, n, v);
}

static int
f_addheader(void *ctx, const char *n, const char *v)
{
	return record(ctx, "add %s:%s", n, v);
}

static int
f_chgheader(void *ctx, const char *n, int idx, const char *v)
{
	return v ? record(ctx, "chg %s %d:%s", n, idx, v) :
	    record(ctx, "del %s %d", n, idx);
}

static int
f_setsymlist(void *ctx, int stage, const char *m)
{
	return MI_SUCCESS;
}

static const struct milter_api fake_api = {
	f_getpriv, f_setpriv, f_getsymval, f_setreply, f_insheader,
	f_addheader, f_chgheader, f_setsymlist
};

/* ---- a test filter that decides what the test says ---- */

static struct {
	enum gh_stage	 stage;
	enum gh_action	 action;
	bool		 fail;
	char		 headers[4096];	/* header section seen at EOM */
	size_t		 hlen;
	uint64_t	 size;
} tf;

static int
tf_run(void *inst, struct gh_txn *t, unsigned idx, enum gh_stage s,
    struct gh_verdict *v)
{
	const char	*h;
	size_t		 len;

	if (s == GH_STAGE_EOM && t->msg) {
		h = gh_message_header_bytes(t->msg, &len);
		tf.hlen = len < sizeof(tf.headers) ? len : sizeof(tf.headers);
		memcpy(tf.headers, h, tf.hlen);
		tf.size = gh_message_size(t->msg);
	}
	if (s != tf.stage)
		return 0;
	if (tf.fail)
		return -1;
	if (tf.action == GH_REJECT || tf.action == GH_TEMPFAIL)
		gh_verdict_refuse(v, t, tf.action, tf.action == GH_REJECT ?
		    &t->cfg->rules_reject_reply :
		    &t->cfg->rules_tempfail_reply, "test", "test filter");
	else
		v->action = tf.action;
	return 0;
}

static const struct gh_filter test_filter = {
	.name = "test",
	.stages = 0x3f,
	.run = tf_run,
};

/* ---- fixtures ---- */

struct fix {
	struct gh_config	*cfg;
	struct milter_state	 st;
	struct fctx		 ctx;
};

/* Build the state over a chain with the test filter; `ov` overrides. */
static struct fix *
fix_new(const char *const *ov, size_t nov)
{
	static const struct gh_filter *const fl[] = { &test_filter };
	struct gh_config_errors	 errs = { NULL, 0 };
	struct fix		*f = calloc(1, sizeof(*f));
	struct gh_chain		*c;
	char			*o[8], err[256];
	size_t			 i;

	assert_non_null(f);
	o[0] = "authserv_id=mx.test";
	for (i = 0; i < nov; i++)
		o[i + 1] = (char *)ov[i];
	f->cfg = gh_config_load(NULL, o, nov + 1, &errs);
	assert_int_equal(errs.n, 0);
	assert_non_null(f->cfg);
	c = gh_chain_new_with(f->cfg, fl, 1, NULL, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(milter__state_init(&f->st, &fake_api, c), 0);
	gh_chain_unref(c);
	memset(&tf, 0, sizeof(tf));
	tf.stage = GH_NSTAGES;
	return f;
}

static void
fix_free(struct fix *f)
{
	milter__close(&f->st, &f->ctx);
	assert_null(f->ctx.priv);
	assert_int_equal(milter__sessions(&f->st), 0);
	milter__state_fini(&f->st);
	gh_config_unref(f->cfg);
	free(f);
}

/* Negotiate with everything offered (LEADSPC and NR_* included). */
static void
negotiate(struct fix *f, unsigned long steps)
{
	unsigned long	 a, p;

	assert_int_equal(milter__negotiate(&f->st, &f->ctx, SMFI_CURR_ACTS,
	    steps, &a, &p), SMFIS_CONTINUE);
	assert_int_equal(a & (SMFIF_ADDHDRS | SMFIF_CHGHDRS),
	    SMFIF_ADDHDRS | SMFIF_CHGHDRS);
	/* Only what is used: no body or recipient changes. */
	assert_int_equal(a & (SMFIF_CHGBODY | SMFIF_ADDRCPT | SMFIF_DELRCPT |
	    SMFIF_CHGFROM | SMFIF_QUARANTINE), 0);
}

static sfsistat
connect_ip(struct fix *f, const char *ip)
{
	struct sockaddr_in	 sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(40000);
	inet_pton(AF_INET, ip, &sin.sin_addr);
	return milter__connect(&f->st, &f->ctx, "[192.0.2.1]",
	    (struct sockaddr *)&sin);
}

static sfsistat
mail(struct fix *f, const char *from)
{
	char	*argv[] = { (char *)from, "BODY=8BITMIME", NULL };

	return milter__envfrom(&f->st, &f->ctx, argv);
}

static sfsistat
rcpt(struct fix *f, const char *to)
{
	char	*argv[] = { (char *)to, NULL };

	return milter__envrcpt(&f->st, &f->ctx, argv);
}

/* Connect, HELO, MAIL, RCPT, all continue. */
static void
envelope(struct fix *f)
{
	negotiate(f, SMFI_CURR_PROT);
	assert_int_equal(connect_ip(f, "192.0.2.1"), SMFIS_CONTINUE);
	assert_int_equal(milter__helo(&f->st, &f->ctx, "client.example"),
	    SMFIS_CONTINUE);
	assert_int_equal(mail(f, "<a@example.org>"), SMFIS_CONTINUE);
	assert_int_equal(rcpt(f, "<b@example.net>"), SMFIS_CONTINUE);
}

/* Find an edit by prefix; its index or -1. */
static int
edit_index(const struct fctx *c, const char *prefix)
{
	int	 i;

	for (i = 0; i < c->nedits; i++)
		if (strncmp(c->edits[i], prefix, strlen(prefix)) == 0)
			return i;
	return -1;
}

/* ---- tests ---- */

/* Every action at every stage maps to the right SMFIS_*. */
static void
test_status_map(void **state)
{
	enum gh_stage	 s;

	for (s = 0; s < GH_NSTAGES; s++) {
		assert_int_equal(milter__status(GH_CONTINUE, s),
		    SMFIS_CONTINUE);
		assert_int_equal(milter__status(GH_TAG, s), SMFIS_CONTINUE);
		assert_int_equal(milter__status(GH_REJECT, s), SMFIS_REJECT);
		assert_int_equal(milter__status(GH_TEMPFAIL, s),
		    SMFIS_TEMPFAIL);
		assert_int_equal(milter__status(GH_DISCARD, s),
		    s >= GH_STAGE_MAIL ? SMFIS_DISCARD : SMFIS_CONTINUE);
		assert_int_equal(milter__status(GH_ACCEPT, s),
		    s == GH_STAGE_EOM ? SMFIS_ACCEPT : SMFIS_CONTINUE);
	}
}

/* smfi_setreply arguments are always acceptable to libmilter. */
static void
test_reply_args(void **state)
{
	struct gh_verdict	 v;
	char			 r[4], x[16], t[MILTER_TEXT_MAX + 1];
	char			 longtext[2000];

	memset(&v, 0, sizeof(v));
	v.action = GH_REJECT;
	v.code = 554;
	snprintf(v.status, sizeof(v.status), "5.7.23");
	v.text = "100% spam \r\n\x01 caf\xc3\xa9";
	milter__reply_args(&v, r, x, t, sizeof(t));
	assert_string_equal(r, "554");
	assert_string_equal(x, "5.7.23");
	assert_string_equal(t, "100%% spam ??? caf??");

	/* A code or status of the wrong class is replaced. */
	v.action = GH_TEMPFAIL;
	milter__reply_args(&v, r, x, t, sizeof(t));
	assert_string_equal(r, "451");
	assert_string_equal(x, "4.7.1");
	v.code = 421;
	snprintf(v.status, sizeof(v.status), "4.3.2");
	milter__reply_args(&v, r, x, t, sizeof(t));
	assert_string_equal(r, "421");
	assert_string_equal(x, "4.3.2");
	snprintf(v.status, sizeof(v.status), "4.3");
	milter__reply_args(&v, r, x, t, sizeof(t));
	assert_string_equal(x, "4.7.1");
	snprintf(v.status, sizeof(v.status), "4.3.2x");
	milter__reply_args(&v, r, x, t, sizeof(t));
	assert_string_equal(x, "4.7.1");

	/* No text: a generic one; long text: capped, '%' never split. */
	v.text = NULL;
	milter__reply_args(&v, r, x, t, sizeof(t));
	assert_string_equal(t, "Try again later");
	memset(longtext, '%', sizeof(longtext) - 1);
	longtext[sizeof(longtext) - 1] = '\0';
	v.text = longtext;
	milter__reply_args(&v, r, x, t, sizeof(t));
	assert_true(strlen(t) <= MILTER_TEXT_MAX);
	assert_int_equal(strlen(t) % 2, 0);
}

/* Header values go out with LF folding, and a space with LEADSPC. */
static void
test_edit_value(void **state)
{
	char	*v;

	v = milter__edit_value("mx.test;\r\n\tspf=pass", false);
	assert_string_equal(v, "mx.test;\n\tspf=pass");
	free(v);
	v = milter__edit_value("mx.test;\r\n\tspf=pass", true);
	assert_string_equal(v, " mx.test;\n\tspf=pass");
	free(v);
	v = milter__edit_value("", true);
	assert_string_equal(v, " ");
	free(v);
}

/* A whole message: forged A-R removed, ours inserted, spam headers. */
static void
test_message_edits(void **state)
{
	static const char *const ov[] = { "score.tag=-1" };
	struct fix	*f = fix_new(ov, 1);
	const char	*want_hdr =
	    "From: a@example.org\r\n"
	    "Authentication-Results: mx.test; spf=pass\r\n"
	    "Subject: folded\r\n\tline\r\n"
	    "X-Other: x\r\n"
	    "Authentication-Results: other.example; spf=fail\r\n"
	    "authentication-results: (comment) mx.test; dkim=pass\r\n"
	    "\r\n";

	f->ctx.macros[0] = "i";
	f->ctx.macros[1] = "QID1";
	envelope(f);
	/* LEADSPC negotiated: values come with their leading space. */
	milter__header(&f->st, &f->ctx, "From", " a@example.org");
	milter__header(&f->st, &f->ctx, "Authentication-Results",
	    " mx.test; spf=pass");
	milter__header(&f->st, &f->ctx, "Subject", " folded\n\tline");
	milter__header(&f->st, &f->ctx, "X-Other", " x");
	milter__header(&f->st, &f->ctx, "Authentication-Results",
	    " other.example; spf=fail");
	assert_int_equal(milter__header(&f->st, &f->ctx,
	    "authentication-results", " (comment) mx.test; dkim=pass"),
	    SMFIS_NOREPLY);
	assert_int_equal(milter__eoh(&f->st, &f->ctx), SMFIS_CONTINUE);
	assert_int_equal(milter__body(&f->st, &f->ctx,
	    (const unsigned char *)"body\r\n", 6), SMFIS_NOREPLY);
	assert_int_equal(milter__eom(&f->st, &f->ctx), SMFIS_CONTINUE);

	assert_int_equal(tf.hlen, strlen(want_hdr));
	assert_memory_equal(tf.headers, want_hdr, tf.hlen);
	assert_int_equal(tf.size, strlen(want_hdr) + 6);

	/* Both of ours deleted, highest index first; the other kept. */
	assert_true(edit_index(&f->ctx, "del Authentication-Results 3") <
	    edit_index(&f->ctx, "del Authentication-Results 1"));
	assert_true(edit_index(&f->ctx, "del Authentication-Results 3") >= 0);
	assert_int_equal(edit_index(&f->ctx, "del Authentication-Results 2"),
	    -1);
	assert_true(edit_index(&f->ctx,
	    "ins 0 Authentication-Results: mx.test;") >= 0);
	assert_true(edit_index(&f->ctx, "add X-Spam-Flag: YES") >= 0);
	assert_true(edit_index(&f->ctx, "add X-Spam-Status: Yes, score=0.0 "
	    "required=-1.0\n\ttests=none") >= 0);
	fix_free(f);
}

/* Without LEADSPC: one space put back unless the value starts with
   white space; edits go out without a leading space. */
static void
test_no_leadspc(void **state)
{
	struct fix	*f = fix_new(NULL, 0);

	negotiate(f, SMFI_CURR_PROT & ~SMFIP_HDR_LEADSPC &
	    ~(SMFIP_NR_HDR | SMFIP_NR_BODY));
	assert_int_equal(connect_ip(f, "192.0.2.1"), SMFIS_CONTINUE);
	assert_int_equal(mail(f, "a@example.org"), SMFIS_CONTINUE);
	assert_int_equal(rcpt(f, "b@example.net"), SMFIS_CONTINUE);
	assert_int_equal(milter__header(&f->st, &f->ctx, "From",
	    "a@example.org"), SMFIS_CONTINUE);
	milter__header(&f->st, &f->ctx, "Subject", "\tx");
	assert_int_equal(milter__body(&f->st, &f->ctx,
	    (const unsigned char *)"b\r\n", 3), SMFIS_CONTINUE);
	assert_int_equal(milter__eom(&f->st, &f->ctx), SMFIS_CONTINUE);
	assert_int_equal(tf.hlen, strlen("From: a@example.org\r\n"
	    "Subject:\tx\r\n\r\n"));
	assert_memory_equal(tf.headers, "From: a@example.org\r\nSubject:\tx"
	    "\r\n\r\n", tf.hlen);
	assert_true(edit_index(&f->ctx,
	    "ins 0 Authentication-Results:mx.test; none") >= 0);
	fix_free(f);
}

/* Reject and tempfail at every stage: the answer and the reply. */
static void
test_refusals(void **state)
{
	static const enum gh_action acts[] = { GH_REJECT, GH_TEMPFAIL };
	enum gh_stage	 s;
	size_t		 a;

	for (a = 0; a < 2; a++)
		for (s = GH_STAGE_CONNECT; s < GH_NSTAGES; s++) {
			struct fix *f = fix_new(NULL, 0);
			sfsistat want = acts[a] == GH_REJECT ? SMFIS_REJECT :
			    SMFIS_TEMPFAIL, r;

			tf.stage = s;
			tf.action = acts[a];
			negotiate(f, SMFI_CURR_PROT);
			r = connect_ip(f, "192.0.2.1");
			if (s > GH_STAGE_CONNECT) {
				assert_int_equal(r, SMFIS_CONTINUE);
				r = milter__helo(&f->st, &f->ctx, "h");
			}
			if (s > GH_STAGE_HELO) {
				assert_int_equal(r, SMFIS_CONTINUE);
				r = mail(f, "<a@example.org>");
			}
			if (s > GH_STAGE_MAIL) {
				assert_int_equal(r, SMFIS_CONTINUE);
				r = rcpt(f, "<b@example.net>");
			}
			if (s > GH_STAGE_RCPT) {
				assert_int_equal(r, SMFIS_CONTINUE);
				milter__header(&f->st, &f->ctx, "From", " x");
				r = milter__eoh(&f->st, &f->ctx);
			}
			if (s > GH_STAGE_HEADERS) {
				assert_int_equal(r, SMFIS_CONTINUE);
				r = milter__eom(&f->st, &f->ctx);
			}
			assert_int_equal(r, want);
			assert_string_equal(f->ctx.rcode, acts[a] == GH_REJECT ?
			    "550" : "451");
			assert_string_equal(f->ctx.xcode, acts[a] == GH_REJECT ?
			    "5.7.1" : "4.7.1");
			assert_non_null(strstr(f->ctx.text, "by policy"));
			/* Refused messages are not edited. */
			assert_int_equal(f->ctx.nedits, 0);
			/* A refusal at CONNECT/HELO covers later messages. */
			if (s <= GH_STAGE_HELO) {
				tf.stage = GH_NSTAGES;
				assert_int_equal(mail(f, "<c@example.org>"),
				    want);
			}
			fix_free(f);
		}
}

/* Discard: at MAIL and later a discard; decided at CONNECT, at MAIL. */
static void
test_discard(void **state)
{
	enum gh_stage	 s;

	for (s = GH_STAGE_CONNECT; s < GH_NSTAGES; s++) {
		struct fix *f = fix_new(NULL, 0);
		sfsistat r;

		tf.stage = s;
		tf.action = GH_DISCARD;
		negotiate(f, SMFI_CURR_PROT);
		r = connect_ip(f, "192.0.2.1");
		assert_int_equal(r, SMFIS_CONTINUE);
		r = milter__helo(&f->st, &f->ctx, "h");
		assert_int_equal(r, SMFIS_CONTINUE);
		r = mail(f, "<a@example.org>");
		if (s < GH_STAGE_RCPT) {
			assert_int_equal(r, SMFIS_DISCARD);
			fix_free(f);
			continue;
		}
		assert_int_equal(r, SMFIS_CONTINUE);
		r = rcpt(f, "<b@example.net>");
		if (s == GH_STAGE_RCPT) {
			assert_int_equal(r, SMFIS_DISCARD);
			fix_free(f);
			continue;
		}
		r = milter__eoh(&f->st, &f->ctx);
		if (s == GH_STAGE_HEADERS)
			assert_int_equal(r, SMFIS_DISCARD);
		r = milter__eom(&f->st, &f->ctx);
		assert_int_equal(r, SMFIS_DISCARD);
		assert_int_equal(f->ctx.nedits, 0);
		fix_free(f);
	}
}

/* Accept at MAIL: the message goes on and gets our A-R, untagged. */
static void
test_accept(void **state)
{
	static const char *const ov[] = { "score.tag=-1" };
	struct fix	*f = fix_new(ov, 1);

	tf.stage = GH_STAGE_MAIL;
	tf.action = GH_ACCEPT;
	envelope(f);
	assert_int_equal(milter__eoh(&f->st, &f->ctx), SMFIS_CONTINUE);
	assert_int_equal(milter__eom(&f->st, &f->ctx), SMFIS_ACCEPT);
	assert_true(edit_index(&f->ctx, "ins 0 Authentication-Results") >= 0);
	assert_int_equal(edit_index(&f->ctx, "add X-Spam-Flag"), -1);
	fix_free(f);
}

/* A filter failure yields on_filter_error: tempfail, or reject. */
static void
test_filter_error(void **state)
{
	static const char *const ov[] = { "on_filter_error=reject" };
	struct fix	*f = fix_new(NULL, 0);

	tf.stage = GH_STAGE_MAIL;
	tf.fail = true;
	negotiate(f, SMFI_CURR_PROT);
	assert_int_equal(connect_ip(f, "192.0.2.1"), SMFIS_CONTINUE);
	assert_int_equal(mail(f, "<a@example.org>"), SMFIS_TEMPFAIL);
	assert_string_equal(f->ctx.rcode, "451");
	assert_string_equal(f->ctx.xcode, "4.3.0");
	fix_free(f);

	f = fix_new(ov, 1);
	tf.stage = GH_STAGE_EOM;
	tf.fail = true;
	envelope(f);
	assert_int_equal(milter__eom(&f->st, &f->ctx), SMFIS_REJECT);
	assert_string_equal(f->ctx.rcode, "550");
	assert_int_equal(f->ctx.nedits, 0);
	fix_free(f);
}

/* A message too big to store: the failure policy, never an accept. */
static void
test_message_too_big(void **state)
{
	static const char *const ov[] = { "max_message_size=1024" };
	struct fix	*f = fix_new(ov, 1);
	unsigned char	 chunk[800];

	memset(chunk, 'a', sizeof(chunk));
	envelope(f);
	milter__eoh(&f->st, &f->ctx);
	milter__body(&f->st, &f->ctx, chunk, sizeof(chunk));
	milter__body(&f->st, &f->ctx, chunk, sizeof(chunk));
	assert_int_equal(milter__eom(&f->st, &f->ctx), SMFIS_TEMPFAIL);
	assert_int_equal(f->ctx.nedits, 0);
	fix_free(f);
}

/* With on_filter_error=continue a message too big to store still goes
   through the chain (on what was stored): edited, delivered. */
static void
test_message_too_big_continue(void **state)
{
	static const char *const ov[] = { "max_message_size=1024",
	    "on_filter_error=continue" };
	struct fix	*f = fix_new(ov, 2);
	unsigned char	 chunk[800];

	memset(chunk, 'a', sizeof(chunk));
	envelope(f);
	milter__header(&f->st, &f->ctx, "Authentication-Results",
	    " mx.test; spf=pass");
	milter__eoh(&f->st, &f->ctx);
	milter__body(&f->st, &f->ctx, chunk, sizeof(chunk));
	milter__body(&f->st, &f->ctx, chunk, sizeof(chunk));
	assert_int_equal(milter__eom(&f->st, &f->ctx), SMFIS_CONTINUE);
	assert_true(edit_index(&f->ctx, "del Authentication-Results 1") >= 0);
	assert_true(edit_index(&f->ctx, "ins 0 Authentication-Results") >= 0);
	fix_free(f);
}

/* A header edit the MTA refuses tempfails the message. */
static void
test_edit_failure(void **state)
{
	struct fix	*f = fix_new(NULL, 0);

	envelope(f);
	milter__eoh(&f->st, &f->ctx);
	f->ctx.fail_edits = true;
	assert_int_equal(milter__eom(&f->st, &f->ctx), SMFIS_TEMPFAIL);
	assert_string_equal(f->ctx.rcode, "451");
	fix_free(f);
}

/* A refused recipient does not end the message. */
static void
test_rcpt_refused(void **state)
{
	struct fix	*f = fix_new(NULL, 0);

	negotiate(f, SMFI_CURR_PROT);
	connect_ip(f, "192.0.2.1");
	mail(f, "<a@example.org>");
	tf.stage = GH_STAGE_RCPT;
	tf.action = GH_REJECT;
	assert_int_equal(rcpt(f, "<bad@example.net>"), SMFIS_REJECT);
	tf.stage = GH_NSTAGES;
	assert_int_equal(rcpt(f, "<good@example.net>"), SMFIS_CONTINUE);
	assert_int_equal(milter__eoh(&f->st, &f->ctx), SMFIS_CONTINUE);
	assert_int_equal(milter__eom(&f->st, &f->ctx), SMFIS_CONTINUE);
	fix_free(f);
}

/* Item 7: MAIL, RCPT, headers, EOM without CONNECT; no negotiate. */
static void
test_no_connect(void **state)
{
	struct fix	*f = fix_new(NULL, 0);

	assert_int_equal(milter__helo(&f->st, &f->ctx, "h"), SMFIS_TEMPFAIL);
	assert_int_equal(mail(f, "<a@example.org>"), SMFIS_TEMPFAIL);
	assert_string_equal(f->ctx.rcode, "451");
	assert_int_equal(rcpt(f, "<b@example.net>"), SMFIS_TEMPFAIL);
	assert_int_equal(milter__header(&f->st, &f->ctx, "From", "x"),
	    SMFIS_CONTINUE);
	assert_int_equal(milter__eoh(&f->st, &f->ctx), SMFIS_TEMPFAIL);
	assert_int_equal(milter__body(&f->st, &f->ctx,
	    (const unsigned char *)"x", 1), SMFIS_CONTINUE);
	assert_int_equal(milter__eom(&f->st, &f->ctx), SMFIS_TEMPFAIL);
	assert_int_equal(milter__abort(&f->st, &f->ctx), SMFIS_CONTINUE);
	assert_int_equal(f->ctx.nedits, 0);
	fix_free(f);

	/* Negotiated, then MAIL straight away. */
	f = fix_new(NULL, 0);
	negotiate(f, SMFI_CURR_PROT);
	assert_int_equal(mail(f, "<a@example.org>"), SMFIS_TEMPFAIL);
	assert_int_equal(milter__header(&f->st, &f->ctx, "From", "x"),
	    SMFIS_NOREPLY);
	assert_int_equal(milter__eom(&f->st, &f->ctx), SMFIS_TEMPFAIL);
	fix_free(f);
}

/* Item 7: message stages without MAIL; body without headers. */
static void
test_no_mail(void **state)
{
	struct fix	*f = fix_new(NULL, 0);
	char		*noargs[] = { NULL };

	negotiate(f, SMFI_CURR_PROT);
	connect_ip(f, "192.0.2.1");
	assert_int_equal(rcpt(f, "<b@example.net>"), SMFIS_TEMPFAIL);
	assert_int_equal(milter__eoh(&f->st, &f->ctx), SMFIS_TEMPFAIL);
	milter__body(&f->st, &f->ctx, (const unsigned char *)"x", 1);
	assert_int_equal(milter__eom(&f->st, &f->ctx), SMFIS_TEMPFAIL);
	assert_int_equal(milter__envfrom(&f->st, &f->ctx, NULL),
	    SMFIS_TEMPFAIL);
	assert_int_equal(milter__envfrom(&f->st, &f->ctx, noargs),
	    SMFIS_TEMPFAIL);
	assert_int_equal(f->ctx.nedits, 0);

	/* Body without headers: the header section ends there. */
	assert_int_equal(mail(f, "<a@example.org>"), SMFIS_CONTINUE);
	assert_int_equal(milter__envrcpt(&f->st, &f->ctx, NULL),
	    SMFIS_TEMPFAIL);
	rcpt(f, "<b@example.net>");
	milter__body(&f->st, &f->ctx, (const unsigned char *)"body\r\n", 6);
	assert_int_equal(milter__eom(&f->st, &f->ctx), SMFIS_CONTINUE);
	assert_int_equal(tf.hlen, 2);
	assert_true(edit_index(&f->ctx, "ins 0 Authentication-Results") >= 0);

	/* EOM right after RCPT: an empty message, still edited. */
	f->ctx.nedits = 0;
	mail(f, "<a@example.org>");
	rcpt(f, "<b@example.net>");
	assert_int_equal(milter__eom(&f->st, &f->ctx), SMFIS_CONTINUE);
	assert_true(edit_index(&f->ctx, "ins 0 Authentication-Results") >= 0);
	/* A second EOM for the same message: there is no message. */
	assert_int_equal(milter__eom(&f->st, &f->ctx), SMFIS_TEMPFAIL);
	fix_free(f);
}

/* Item 7: abort and close at every point of a message. */
static void
test_abort_close_anywhere(void **state)
{
	int	 cut, how;

	for (how = 0; how < 3; how++)
		for (cut = 0; cut < 9; cut++) {
			struct fix *f = fix_new(NULL, 0);
			int step = 0;

			if (step++ < cut)
				negotiate(f, SMFI_CURR_PROT);
			if (step++ < cut)
				connect_ip(f, "192.0.2.1");
			if (step++ < cut)
				milter__helo(&f->st, &f->ctx, "h");
			if (step++ < cut)
				mail(f, "<a@example.org>");
			if (step++ < cut)
				rcpt(f, "<b@example.net>");
			if (step++ < cut)
				milter__header(&f->st, &f->ctx, "From", " x");
			if (step++ < cut)
				milter__eoh(&f->st, &f->ctx);
			if (step++ < cut)
				milter__body(&f->st, &f->ctx,
				    (const unsigned char *)"b\r\n", 3);
			if (how == 0) {
				milter__abort(&f->st, &f->ctx);
				milter__abort(&f->st, &f->ctx);
				/* The session goes on after an abort. */
				if (cut >= 2) {
					assert_int_equal(mail(f, "<a@x.org>"),
					    SMFIS_CONTINUE);
					assert_int_equal(milter__eom(&f->st,
					    &f->ctx), SMFIS_CONTINUE);
				}
			} else if (how == 1) {
				milter__close(&f->st, &f->ctx);
				milter__close(&f->st, &f->ctx);
				/* Anything after close: tempfail, no crash. */
				assert_int_equal(milter__eom(&f->st, &f->ctx),
				    SMFIS_TEMPFAIL);
			} else {
				/* A new MAIL without abort ends the old. */
				if (cut >= 2)
					assert_int_equal(mail(f, "<n@x.org>"),
					    SMFIS_CONTINUE);
			}
			fix_free(f);
		}
}

/* Item 7: connect twice, header after EOH, EOH twice. */
static void
test_repeats(void **state)
{
	struct fix	*f = fix_new(NULL, 0);

	envelope(f);
	assert_int_equal(connect_ip(f, "192.0.2.2"), SMFIS_CONTINUE);
	assert_int_equal(mail(f, "<a@example.org>"), SMFIS_CONTINUE);
	milter__header(&f->st, &f->ctx, "From", " x");
	assert_int_equal(milter__eoh(&f->st, &f->ctx), SMFIS_CONTINUE);
	milter__header(&f->st, &f->ctx, "Late", " y");
	assert_int_equal(milter__eoh(&f->st, &f->ctx), SMFIS_CONTINUE);
	assert_int_equal(milter__eom(&f->st, &f->ctx), SMFIS_CONTINUE);
	assert_int_equal(tf.hlen, strlen("From: x\r\n\r\n"));
	fix_free(f);
}

/* Private data that cannot be set: tempfail, nothing leaks. */
static void
test_setpriv_fails(void **state)
{
	struct fix	*f = fix_new(NULL, 0);
	unsigned long	 a, p;

	f->ctx.fail_setpriv = true;
	assert_int_equal(milter__negotiate(&f->st, &f->ctx, SMFI_CURR_ACTS,
	    SMFI_CURR_PROT, &a, &p), SMFIS_REJECT);
	assert_int_equal(connect_ip(f, "192.0.2.1"), SMFIS_TEMPFAIL);
	assert_int_equal(mail(f, "<a@example.org>"), SMFIS_TEMPFAIL);
	assert_int_equal(milter__sessions(&f->st), 0);
	fix_free(f);
}

/* An MTA that cannot change headers is refused. */
static void
test_negotiate_refuses(void **state)
{
	struct fix	*f = fix_new(NULL, 0);
	unsigned long	 a, p;

	assert_int_equal(milter__negotiate(&f->st, &f->ctx, SMFIF_ADDHDRS,
	    SMFI_CURR_PROT, &a, &p), SMFIS_REJECT);
	assert_null(f->ctx.priv);
	/* Only steps the MTA offered, and none that turn off a stage. */
	negotiate(f, SMFIP_NR_HDR | SMFIP_NOHELO);
	assert_int_equal(milter__negotiate(&f->st, &f->ctx, SMFI_CURR_ACTS,
	    SMFIP_NR_HDR | SMFIP_NOHELO, &a, &p), SMFIS_CONTINUE);
	assert_int_equal(p, SMFIP_NR_HDR);
	fix_free(f);
}

/* A new chain applies to new connections; open ones keep theirs. */
static void
test_chain_swap(void **state)
{
	static const char *const ov[] = { "score.tag=-1" };
	struct fix		*f = fix_new(NULL, 0);
	struct gh_config_errors	 errs = { NULL, 0 };
	struct gh_config	*cfg;
	struct gh_chain		*c;
	char			*o[] = { "authserv_id=new.test",
				    (char *)ov[0] };
	char			 err[256];

	envelope(f);
	cfg = gh_config_load(NULL, o, 2, &errs);
	assert_non_null(cfg);
	c = gh_chain_new(cfg, NULL, err, sizeof(err));
	assert_non_null(c);
	milter__chain_set(&f->st, c);
	gh_config_unref(cfg);
	/* The open session finishes on its chain, this message and the
	   next. */
	assert_int_equal(milter__eom(&f->st, &f->ctx), SMFIS_CONTINUE);
	assert_true(edit_index(&f->ctx,
	    "ins 0 Authentication-Results: mx.test;") >= 0);
	f->ctx.nedits = 0;
	mail(f, "<a@example.org>");
	rcpt(f, "<b@example.net>");
	assert_int_equal(milter__eom(&f->st, &f->ctx), SMFIS_CONTINUE);
	assert_true(edit_index(&f->ctx,
	    "ins 0 Authentication-Results: mx.test;") >= 0);
	/* A new connection runs on the new chain. */
	milter__close(&f->st, &f->ctx);
	f->ctx.nedits = 0;
	negotiate(f, SMFI_CURR_PROT);
	connect_ip(f, "192.0.2.1");
	mail(f, "<a@example.org>");
	rcpt(f, "<b@example.net>");
	assert_int_equal(milter__eom(&f->st, &f->ctx), SMFIS_CONTINUE);
	assert_true(edit_index(&f->ctx,
	    "ins 0 Authentication-Results: new.test;") >= 0);
	assert_true(edit_index(&f->ctx, "add X-Spam-Flag: YES") >= 0);
	fix_free(f);
}

/* Stages without a filter are negotiated without reply; a refusal that
   arises there is held until a stage that replies (EOM at the latest). */
static void
test_noreply(void **state)
{
	static const struct gh_filter eom_filter = {
		.name = "eomonly",
		.stages = GH_STAGE_BIT(GH_STAGE_EOM),
		.run = tf_run,
	};
	static const struct gh_filter *const fl[] = { &eom_filter };
	struct fix	*f = fix_new(NULL, 0);
	struct gh_chain	*c;
	unsigned long	 a, p;
	char		 err[256], *noargs[] = { NULL };

	c = gh_chain_new_with(f->cfg, fl, 1, NULL, err, sizeof(err));
	assert_non_null(c);
	milter__chain_set(&f->st, c);
	assert_int_equal(milter__negotiate(&f->st, &f->ctx, SMFI_CURR_ACTS,
	    SMFI_CURR_PROT, &a, &p), SMFIS_CONTINUE);
	assert_int_equal(p & (SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL |
	    SMFIP_NR_RCPT | SMFIP_NR_EOH), SMFIP_NR_CONN | SMFIP_NR_HELO |
	    SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_EOH);
	/* Never ask to skip a stage. */
	assert_int_equal(p & (SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOMAIL |
	    SMFIP_NORCPT | SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOBODY), 0);
	assert_int_equal(connect_ip(f, "192.0.2.1"), SMFIS_NOREPLY);
	assert_int_equal(milter__helo(&f->st, &f->ctx, "h"), SMFIS_NOREPLY);
	assert_int_equal(mail(f, "<a@example.org>"), SMFIS_NOREPLY);
	assert_int_equal(rcpt(f, "<b@example.net>"), SMFIS_NOREPLY);
	assert_int_equal(milter__eoh(&f->st, &f->ctx), SMFIS_NOREPLY);
	assert_int_equal(milter__eom(&f->st, &f->ctx), SMFIS_CONTINUE);
	assert_true(edit_index(&f->ctx, "ins 0 Authentication-Results") >= 0);

	/* A MAIL that cannot be served: held, said at EOM. */
	f->ctx.nedits = 0;
	assert_int_equal(milter__envfrom(&f->st, &f->ctx, noargs),
	    SMFIS_NOREPLY);
	assert_int_equal(rcpt(f, "<b@example.net>"), SMFIS_NOREPLY);
	assert_int_equal(milter__eoh(&f->st, &f->ctx), SMFIS_NOREPLY);
	f->ctx.rcode[0] = '\0';
	assert_int_equal(milter__eom(&f->st, &f->ctx), SMFIS_TEMPFAIL);
	assert_string_equal(f->ctx.rcode, "451");
	assert_int_equal(f->ctx.nedits, 0);
	/* The next message is not affected. */
	assert_int_equal(mail(f, "<a@example.org>"), SMFIS_NOREPLY);
	assert_int_equal(milter__eom(&f->st, &f->ctx), SMFIS_CONTINUE);

	/* The EOM filter refuses: said at EOM as usual. */
	tf.stage = GH_STAGE_EOM;
	tf.action = GH_REJECT;
	assert_int_equal(mail(f, "<a@example.org>"), SMFIS_NOREPLY);
	assert_int_equal(milter__eom(&f->st, &f->ctx), SMFIS_REJECT);

	/* Over TCP: the same "no reply" steps as on a unix socket (the
	   engine acknowledges each read at once, TCP_QUICKACK, so the
	   MTA's Nagle does not hold them for our delayed ACK). */
	{
		struct fctx other;
		unsigned long a2, p2, nr;

		nr = SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL |
		    SMFIP_NR_RCPT | SMFIP_NR_EOH | SMFIP_NR_HDR |
		    SMFIP_NR_BODY;
		memset(&other, 0, sizeof(other));
		f->st.tcp = true;
		assert_int_equal(milter__negotiate(&f->st, &other,
		    SMFI_CURR_ACTS, SMFI_CURR_PROT, &a2, &p2), SMFIS_CONTINUE);
		assert_int_equal(p2 & nr, nr);
		assert_int_equal(milter__connect(&f->st, &other, "h", NULL),
		    SMFIS_NOREPLY);
		milter__close(&f->st, &other);
		f->st.tcp = false;
	}

	/* An abort drops what was held. */
	tf.stage = GH_NSTAGES;
	assert_int_equal(milter__envfrom(&f->st, &f->ctx, noargs),
	    SMFIS_NOREPLY);
	milter__abort(&f->st, &f->ctx);
	assert_int_equal(mail(f, "<a@example.org>"), SMFIS_NOREPLY);
	assert_int_equal(milter__eom(&f->st, &f->ctx), SMFIS_CONTINUE);
	fix_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_map),
		cmocka_unit_test(test_reply_args),
		cmocka_unit_test(test_edit_value),
		cmocka_unit_test(test_message_edits),
		cmocka_unit_test(test_no_leadspc),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_discard),
		cmocka_unit_test(test_accept),
		cmocka_unit_test(test_filter_error),
		cmocka_unit_test(test_message_too_big),
		cmocka_unit_test(test_message_too_big_continue),
		cmocka_unit_test(test_edit_failure),
		cmocka_unit_test(test_rcpt_refused),
		cmocka_unit_test(test_no_connect),
		cmocka_unit_test(test_no_mail),
		cmocka_unit_test(test_abort_close_anywhere),
		cmocka_unit_test(test_repeats),
		cmocka_unit_test(test_setpriv_fails),
		cmocka_unit_test(test_negotiate_refuses),
		cmocka_unit_test(test_chain_swap),
		cmocka_unit_test(test_noreply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
