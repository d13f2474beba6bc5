/*
 * spf_filter.c — the SPF filter of the chain: runs gh_spf_check() at
 * the MAIL stage (on a worker thread: it blocks on DNS), turns the
 * result into a verdict by the configured policy, records the
 * Authentication-Results entry, and at EOM adds the Received-SPF
 * header (RFC 7208 9.1) when spf.received_spf is set.
 *
 * Invariants: clients in trusted_networks and authenticated clients are
 * never checked; the result lives in txn->fstate[idx] until the message
 * ends; every client-supplied text that goes into a header is reduced
 * to a safe token or a quoted-string.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters/chain.h"
#include "filters/log.h"
#include "filters/spf.h"
#include "filters/util.h"

/* Per-transaction state. */
struct spf_txn {
	struct gh_spf_outcome	 res;
	struct gh_spf_query	 q;
	char			*sender, *helo;
};

/* Copy `s` as a header token: atext and '.', '@' pass, anything else
   becomes '?' (RFC 8601 values, Received-SPF key values); capped. */
static void
token(char *dst, size_t dsz, const char *s)
{
	static const char ok[] = "!#$%&'*+-/=?^_`{|}~.@";
	size_t	 i;

	for (i = 0; s && s[i] && i + 1 < dsz; i++)
		dst[i] = ((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || strchr(ok, s[i])) &&
		    s[i] != '\0' ? s[i] : '?';
	dst[i] = '\0';
}

/* Append `s` as a quoted-string (RFC 5322 3.2.4), printable only. */
static void
quoted(struct gh_buf *b, const char *s, size_t cap)
{
	size_t	 i;

	gh_buf_puts(b, "\"");
	for (i = 0; s && s[i] && i < cap; i++) {
		char c = (unsigned char)s[i] < 0x20 ||
		    (unsigned char)s[i] > 0x7e ? '?' : s[i];

		if (c == '"' || c == '\\')
			gh_buf_append(b, "\\", 1);
		gh_buf_append(b, &c, 1);
	}
	gh_buf_puts(b, "\"");
}

/* A Received-SPF header value (RFC 7208 9.1). */
char *
gh_spf_received(const struct gh_spf_outcome *r, const struct gh_spf_query *q,
    const char *receiver)
{
	const struct gh_spf_identity *id = gh_spf_decisive(r);
	struct gh_buf	 b;
	char		 tok[300], ip[64];
	const char	*res = gh_spf_result_name(r->result);

	token(ip, sizeof(ip), r->ip);
	token(tok, sizeof(tok), receiver);
	gh_buf_init(&b, 8192);
	gh_buf_printf(&b, "%s (%s: ", res, tok);
	switch (r->result) {
	case GH_SPF_PASS:
		gh_buf_printf(&b, "domain of %s designates %s as permitted "
		    "sender", id->sender, ip);
		break;
	case GH_SPF_FAIL:
	case GH_SPF_SOFTFAIL:
		gh_buf_printf(&b, "domain of %s does not designate %s as "
		    "permitted sender", id->sender, ip);
		break;
	case GH_SPF_NEUTRAL:
		gh_buf_printf(&b, "%s is neither permitted nor denied by "
		    "domain of %s", ip, id->sender);
		break;
	case GH_SPF_NONE:
		gh_buf_printf(&b, "domain of %s does not provide an SPF "
		    "record", id->sender);
		break;
	default:
		gh_buf_printf(&b, "error in processing during lookup of %s",
		    id->sender);
		break;
	}
	/* A comment must not end early: no parentheses from outside. */
	for (char *p = b.p + strlen(res) + 2; *p; p++)
		if (*p == '(' || *p == ')' || *p == '\\')
			*p = '?';
	gh_buf_printf(&b, ")\r\n\tclient-ip=%s;", ip);
	gh_buf_puts(&b, " envelope-from=");
	quoted(&b, q->sender && *q->sender ? q->sender : "", 320);
	gh_buf_puts(&b, ";");
	if (q->helo) {
		gh_buf_puts(&b, "\r\n\thelo=");
		quoted(&b, q->helo, 255);
		gh_buf_puts(&b, ";");
	}
	gh_buf_printf(&b, " receiver=%s; identity=%s;", tok, r->identity ?
	    r->identity : "mailfrom");
	if (id->problem[0] && (r->result == GH_SPF_PERMERROR ||
	    r->result == GH_SPF_TEMPERROR)) {
		gh_buf_puts(&b, "\r\n\tproblem=");
		quoted(&b, id->problem, 200);
		gh_buf_puts(&b, ";");
	}
	return gh_buf_steal(&b);
}

/* Build the instance (NULL when spf.enable is off). */
static int
spf_setup(const struct gh_config *cfg, void **inst, char *err, size_t errsz)
{
	*inst = NULL;
	if (!cfg->spf_enable)
		return 0;
	if ((*inst = gh_spf_new(cfg, err, errsz)) == NULL)
		return -1;
	return 0;
}

static void
spf_teardown(void *inst)
{
	gh_spf_free(inst);
}

/* Free the per-transaction state. */
static void
spf_txn_free(void *inst, struct gh_txn *t, unsigned idx, bool session_end)
{
	struct spf_txn	*st = t->fstate[idx];

	if (st == NULL)
		return;
	gh_spf_result_clear(&st->res);
	free(st->sender);
	free(st->helo);
	free(st);
	t->fstate[idx] = NULL;
}

/* Apply the configured policy to a result. */
static void
policy(struct gh_txn *t, const struct gh_spf_outcome *r,
    struct gh_verdict *v)
{
	const struct gh_config		*cfg = t->cfg;
	const struct gh_spf_identity	*id = gh_spf_decisive(r);
	const char			*name = gh_spf_result_name(r->result);
	char				 why[400];

	snprintf(why, sizeof(why), "spf=%s identity=%s domain=%.100s%s%.200s",
	    name, r->identity ? r->identity : "?", id->domain,
	    id->problem[0] ? " problem=" : "", id->problem);
	v->score = cfg->spf[r->result].score;
	switch (cfg->spf[r->result].on) {
	case GH_REJECT:
		gh_verdict_refuse(v, t, GH_REJECT, &cfg->spf_reject_reply,
		    name, "%s", why);
		return;
	case GH_TEMPFAIL:
		gh_verdict_refuse(v, t, GH_TEMPFAIL, &cfg->spf_tempfail_reply,
		    name, "%s", why);
		return;
	default:
		v->action = cfg->spf[r->result].on;
		free(v->reason);
		v->reason = strdup(why);
		return;
	}
}

/* Record the Authentication-Results entry (RFC 8601 2.7.2). */
static int
authres(struct gh_txn *t, const struct gh_spf_outcome *r)
{
	const struct gh_spf_identity *id = gh_spf_decisive(r);
	char	 mf[330], helo[260], reason[210];
	bool	 err = r->result == GH_SPF_PERMERROR ||
	    r->result == GH_SPF_TEMPERROR;

	token(mf, sizeof(mf), t->env.mail_from);
	token(helo, sizeof(helo), t->env.helo);
	snprintf(reason, sizeof(reason), "%s", id->problem);
	if (mf[0] && helo[0])
		return gh_txn_authres(t, "spf", gh_spf_result_name(r->result),
		    err ? reason : NULL, "smtp.mailfrom=%s smtp.helo=%s", mf,
		    helo);
	if (mf[0])
		return gh_txn_authres(t, "spf", gh_spf_result_name(r->result),
		    err ? reason : NULL, "smtp.mailfrom=%s", mf);
	return gh_txn_authres(t, "spf", gh_spf_result_name(r->result),
	    err ? reason : NULL, "smtp.helo=%s", helo[0] ? helo : "unknown");
}

/* The MAIL stage: check; the EOM stage: Received-SPF. */
static int
spf_run(void *inst, struct gh_txn *t, unsigned idx, enum gh_stage stage,
    struct gh_verdict *v)
{
	struct spf_txn	*st = t->fstate[idx];
	char		*hdr;

	if (stage == GH_STAGE_EOM) {
		if (st == NULL || !t->cfg->spf_received_spf)
			return 0;
		if ((hdr = gh_spf_received(&st->res, &st->q,
		    t->cfg->hostname)) == NULL)
			return -1;
		if (gh_txn_edit(t, GH_EDIT_INSERT, "Received-SPF", hdr, 0) ==
		    -1) {
			free(hdr);
			return -1;
		}
		free(hdr);
		return 0;
	}
	if (stage != GH_STAGE_MAIL)
		return 0;
	spf_txn_free(inst, t, idx, false);
	if (t->env.trusted || t->env.auth_user || t->env.client_addr ==
	    NULL) {
		v->reason = strdup(t->env.client_addr == NULL ?
		    "spf skipped: client address unknown" : t->env.trusted ?
		    "spf skipped: trusted network" :
		    "spf skipped: authenticated");
		return 0;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return -1;
	st->sender = strdup(t->env.mail_from ? t->env.mail_from : "");
	st->helo = t->env.helo ? strdup(t->env.helo) : NULL;
	st->q.ip = t->env.client_addr;
	st->q.sender = st->sender;
	st->q.helo = st->helo;
	st->q.check_helo = t->cfg->spf_helo == 1;
	t->fstate[idx] = st;
	if (st->sender == NULL || gh_spf_check(inst, &st->q, NULL, NULL,
	    &st->res) == -1)
		return -1;
	st->q.ip = st->res.ip;		/* the client text may go */
	gh_log_session(LOG_INFO, t->env.session_id, "spf=%s identity=%s "
	    "terms=%u voids=%u queries=%u ms=%llu",
	    gh_spf_result_name(st->res.result), st->res.identity,
	    gh_spf_decisive(&st->res)->terms,
	    gh_spf_decisive(&st->res)->voids, st->res.queries,
	    (unsigned long long)(st->res.usec / 1000));
	policy(t, &st->res, v);
	if (v->score != 0 && gh_txn_hit(t, st->res.result == GH_SPF_FAIL ?
	    "SPF_FAIL" : st->res.result == GH_SPF_SOFTFAIL ? "SPF_SOFTFAIL" :
	    st->res.result == GH_SPF_PERMERROR ? "SPF_PERMERROR" :
	    st->res.result == GH_SPF_TEMPERROR ? "SPF_TEMPERROR" :
	    st->res.result == GH_SPF_NEUTRAL ? "SPF_NEUTRAL" :
	    st->res.result == GH_SPF_NONE ? "SPF_NONE" : "SPF_PASS",
	    v->score, NULL, 0, false) == -1)
		return -1;
	return authres(t, &st->res);
}

const struct gh_filter gh_filter_spf = {
	.name = "spf",
	.stages = GH_STAGE_BIT(GH_STAGE_MAIL) | GH_STAGE_BIT(GH_STAGE_EOM),
	.may_block = true,
	.setup = spf_setup,
	.teardown = spf_teardown,
	.run = spf_run,
	.txn_free = spf_txn_free,
};
