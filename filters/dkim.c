/*
 * dkim.c — the DKIM filter: runs at EOM on a worker thread (it does
 * DNS), verifies every signature (dkim_verify.c) and turns the results
 * into Authentication-Results entries and a verdict.
 *
 * Authentication-Results (RFC 8601 2.7.1, RFC 6008): one dkim= per
 * signature, in header order, each with header.d, header.s, header.i,
 * header.a and header.b (at least 8 characters of b=, more when needed
 * to tell two signatures apart), and a reason= for every result but
 * pass; "dkim=none" when there is no signature.
 *
 * Policy (dkim.on_RESULT, dkim.score_RESULT): a message is judged by its
 * best signature (RFC 6376 6.1: a verifier that finds one good signature
 * need not hold the bad ones against the message — mailing lists break
 * signatures), except that "policy" results (rsa-sha1, short keys, l=
 * with visible unsigned text, not exactly one From) always count: they
 * are how forged mail carrying a real signature shows.  The action is
 * the strongest among the results that count, the score the sum of
 * their scores (each result once).  More than one From field also
 * triggers dkim.multiple_from: reject, or tag.
 *
 * Fails: when verification cannot run, run() returns -1 and the chain
 * applies on_filter_error (tempfail by default), never a silent pass.
 */
#include "filters/dkim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters/chain.h"
#include "filters/log.h"
#include "filters/message.h"
#include "filters/util.h"

/* Set up the filter: NULL instance when dkim.enable is off. */
static int
dkim_setup(const struct gh_config *cfg, void **inst, char *err, size_t errsz)
{
	struct gh_dkim	*k;

	*inst = NULL;
	if (!cfg->dkim_enable)
		return 0;
	if ((k = gh_dkim_new(cfg, err, errsz)) == NULL)
		return -1;
	if (!gh_dkim_has_ed25519(k))
		log_warn("dkim: this libopendkim cannot verify ed25519-sha256; "
		    "such signatures are reported neutral");
	*inst = k;
	return 0;
}

/* Tear the filter down. */
static void
dkim_teardown(void *inst)
{
	gh_dkim_free(inst);
}

/* Tell whether `c` may stand in an RFC 2045 token (RFC 8601 pvalue). */
static bool
token_char(char c, bool at)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	if (c == '@')
		return at;
	return c != '\0' && strchr("!#$%&'*+-.^_`{|}~", c) != NULL;
}

/*
 * Append " NAME=VALUE" to `b`: VALUE as is when it is a token (or, with
 * `at`, a local-part@domain), else as a quoted-string (RFC 8601 2.2).
 * Empty values are left out.
 */
static void
put_prop(struct gh_buf *b, const char *name, const char *v, size_t len,
    bool at)
{
	size_t	 i;
	bool	 plain = true;

	if (len == 0)
		return;
	for (i = 0; i < len && plain; i++)
		plain = token_char(v[i], at);
	gh_buf_printf(b, "%s%s=", b->len ? " " : "", name);
	if (plain) {
		gh_buf_append(b, v, len);
		return;
	}
	gh_buf_puts(b, "\"");
	for (i = 0; i < len; i++) {
		if (v[i] == '"' || v[i] == '\\')
			gh_buf_puts(b, "\\");
		gh_buf_append(b, &v[i], 1);
	}
	gh_buf_puts(b, "\"");
}

/* Record the Authentication-Results entry of one signature. */
static int
authres_sig(struct gh_txn *t, const struct gh_dkim_sig *s)
{
	struct gh_buf	 b;
	int		 r;

	gh_buf_init(&b, 4096);
	put_prop(&b, "header.d", s->d, strlen(s->d), false);
	put_prop(&b, "header.s", s->s, strlen(s->s), false);
	put_prop(&b, "header.i", s->i, strlen(s->i), true);
	put_prop(&b, "header.a", s->a, strlen(s->a), false);
	put_prop(&b, "header.b", s->b, s->bshow, false);
	r = gh_txn_authres(t, "dkim", gh_dkim_result_name(s->result),
	    s->result == GH_DKIM_PASS ? NULL : s->reason, "%s",
	    b.p ? b.p : "");
	gh_buf_free(&b);
	return r;
}

/*
 * Make `v` carry `action` with the DKIM replies; `why` (malloc'd, may be
 * NULL) becomes the log reason.
 */
static void
apply_action(struct gh_verdict *v, struct gh_txn *t, int action,
    const char *result, char *why)
{
	const struct gh_config	*cfg = t->cfg;

	switch (action) {
	case GH_REJECT:
		gh_verdict_refuse(v, t, GH_REJECT, &cfg->dkim_reject_reply,
		    result, "dkim: %s", why ? why : result);
		free(why);
		break;
	case GH_TEMPFAIL:
		gh_verdict_refuse(v, t, GH_TEMPFAIL,
		    &cfg->dkim_tempfail_reply, result, "dkim: %s",
		    why ? why : result);
		free(why);
		break;
	default:
		v->action = action;
		free(v->reason);
		v->reason = why;
		break;
	}
}

/* A short summary of the results for the log and the trace. */
static char *
summary(const struct gh_dkim_report *r)
{
	struct gh_buf	 b;
	size_t		 i;
	char		 d[300];

	gh_buf_init(&b, 1024);
	if (r->n == 0)
		gh_buf_puts(&b, "dkim=none");
	for (i = 0; i < r->n; i++) {
		gh_printable(d, sizeof(d), r->v[i].d, strlen(r->v[i].d), 64);
		if (gh_buf_printf(&b, "%sdkim=%s d=%s", i ? ", " : "",
		    gh_dkim_result_name(r->v[i].result), d) == -1) {
			gh_buf_puts(&b, " ...");
			break;
		}
	}
	if (r->nfrom > 1)
		gh_buf_printf(&b, ", %zu From fields", r->nfrom);
	return gh_buf_steal(&b);
}

/* The results that count for the verdict, one bit each (see the top). */
static unsigned
counted_results(const struct gh_dkim_report *r)
{
	unsigned	 seen = 0;
	size_t		 i;

	if (r->n == 0)
		return 1u << GH_DKIM_NONE;
	for (i = 0; i < r->n; i++)
		seen |= 1u << r->v[i].result;
	if (seen & (1u << GH_DKIM_PASS))
		seen &= (1u << GH_DKIM_PASS) | (1u << GH_DKIM_POLICY);
	return seen;
}

/* Apply the configured policy to a report. */
static int
decide(struct gh_txn *t, const struct gh_dkim_report *r, struct gh_verdict *v)
{
	const struct gh_config	*cfg = t->cfg;
	unsigned		 seen = counted_results(r);
	int			 action = GH_CONTINUE, res;
	char			 hit[32];
	const char		*worst = NULL;
	char			*why;

	for (res = 0; res < GH_DKIM_NRESULTS; res++) {
		if (!(seen & (1u << res)))
			continue;
		v->score += cfg->dkim[res].score;
		if (cfg->dkim[res].score != 0 ||
		    cfg->dkim[res].on > GH_CONTINUE) {
			snprintf(hit, sizeof(hit), "DKIM_%s",
			    gh_dkim_result_name(res));
			for (char *p = hit; *p; p++)
				if (*p >= 'a' && *p <= 'z')
					*p -= 'a' - 'A';
			if (gh_txn_hit(t, hit, cfg->dkim[res].score, NULL, 0,
			    false) == -1)
				return -1;
		}
		if (worst == NULL || cfg->dkim[res].on > action) {
			action = cfg->dkim[res].on;
			worst = gh_dkim_result_name(res);
		}
	}
	if (r->nfrom > 1) {
		if (gh_txn_hit(t, "DKIM_MULTIPLE_FROM", 0, NULL, 0,
		    false) == -1)
			return -1;
		if (cfg->dkim_multiple_from == 0)
			action = GH_REJECT;
		else if (action < GH_TAG)
			action = GH_TAG;
		worst = "multiple-from";
	}
	if (action == GH_DISCARD)
		action = GH_TAG;	/* not offered for DKIM */
	why = v->reason;
	v->reason = NULL;
	apply_action(v, t, action, worst ? worst : "none", why);
	return 0;
}

/* Log one signature's outcome (debug), signature text escaped. */
static void
log_sig(const struct gh_txn *t, size_t i, const struct gh_dkim_sig *s)
{
	char	 d[300], sel[300], why[700];

	gh_printable(d, sizeof(d), s->d, strlen(s->d), 64);
	gh_printable(sel, sizeof(sel), s->s, strlen(s->s), 64);
	gh_printable(why, sizeof(why), s->reason, strlen(s->reason), 160);
	gh_log_session(LOG_DEBUG, t->env.session_id, "dkim sig=%zu "
	    "result=%s d=%s s=%s bits=%u reason=\"%s\"", i + 1,
	    gh_dkim_result_name(s->result), d, sel, s->keybits, why);
}

/* Run at EOM: verify, record, decide. */
static int
dkim_run(void *inst, struct gh_txn *t, unsigned idx, enum gh_stage stage,
    struct gh_verdict *v)
{
	struct gh_dkim_report	 r;
	char			 err[256];
	size_t			 i;
	int			 rc = 0;

	if (stage != GH_STAGE_EOM || t->msg == NULL)
		return 0;
	if (gh_dkim_verify(inst, t->msg, t->env.sid, &r, err,
	    sizeof(err)) == -1) {
		v->reason = strdup(err);
		return -1;
	}
	if (r.n == 0)
		rc = gh_txn_authres(t, "dkim", "none", "no signature", NULL);
	for (i = 0; i < r.n && i < GH_DKIM_REPORT_MAX && rc == 0; i++) {
		rc = authres_sig(t, &r.v[i]);
		if (gh_log_enabled(LOG_DEBUG))
			log_sig(t, i, &r.v[i]);
	}
	if (rc == 0 && (v->reason = summary(&r)) != NULL)
		gh_log_session(LOG_INFO, t->env.session_id, "%s sigs=%zu "
		    "dns=%u timeouts=%u usec=%llu", v->reason, r.n,
		    r.dns_queries, r.dns_timeouts,
		    (unsigned long long)r.usec);
	if (rc == 0)
		rc = decide(t, &r, v);
	gh_dkim_report_free(&r);
	if (rc == -1 && v->reason == NULL)
		v->reason = strdup("out of memory");
	return rc;
}

const struct gh_filter gh_filter_dkim = {
	.name = "dkim",
	.stages = GH_STAGE_BIT(GH_STAGE_EOM),
	.may_block = true,
	.setup = dkim_setup,
	.teardown = dkim_teardown,
	.run = dkim_run,
	.txn_free = NULL,
};
