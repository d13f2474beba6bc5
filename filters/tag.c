/*
 * tag.c — the end of a message: the reject threshold, then the header
 * edits of tagging: our Authentication-Results at the top (after every
 * incoming one that claims our authserv-id is removed), the
 * SpamAssassin-style X-Spam-* headers, and the Subject prefix.
 *
 * Deletions are emitted from the highest index down, so that front ends
 * which renumber after each deletion (libmilter's smfi_chgheader) and
 * those which do not both remove exactly the right headers (OpenDKIM
 * CVE-2022-48521 left some behind).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters/chain.h"
#include "filters/log.h"
#include "filters/message.h"
#include "filters/metrics.h"
#include "filters/tag.h"

/* Delete every header NAME for which `pred` holds, highest index first. */
static int
delete_headers(struct gh_txn *t, const char *name,
    bool (*pred)(const struct gh_header *, const char *), const char *arg)
{
	size_t		 n, k;
	unsigned	 idx[256], m = 0;

	if (t->msg == NULL)
		return 0;
	n = gh_message_count(t->msg, name);
	for (k = 0; k < n; k++) {
		const struct gh_header *h = gh_message_find(t->msg, name,
		    (unsigned)k);

		if (h && (pred == NULL || pred(h, arg))) {
			if (m == GH_ARRAY_LEN(idx))
				return -1;	/* absurd count: refuse */
			idx[m++] = (unsigned)k + 1;
		}
	}
	while (m > 0)
		if (gh_txn_edit(t, GH_EDIT_CHANGE, name, NULL, idx[--m]) == -1)
			return -1;
	return 0;
}

/* Tell whether an A-R header claims our authserv-id. */
static bool
claims_ours(const struct gh_header *h, const char *id)
{
	return gh_authres_claims(h->raw, h->raw_len, id);
}

/* Append ",NAME" for each hit (SpamAssassin's tests= list). */
static void
tests_list(const struct gh_txn *t, struct gh_buf *b)
{
	size_t	 i, n = 0;

	for (i = 0; i < t->hits.n; i++) {
		if (t->hits.v[i].shadow)
			continue;
		gh_buf_puts(b, n++ ? "," : "");
		gh_buf_puts(b, t->hits.v[i].name);
	}
	if (n == 0)
		gh_buf_puts(b, "none");
}

/* Add X-Spam-Flag/-Score/-Status, replacing incoming ones. */
static int
spam_headers(struct gh_txn *t, bool spam)
{
	struct gh_buf	 b;
	char		 num[32];
	int		 r = 0;

	if (delete_headers(t, "X-Spam-Flag", NULL, NULL) == -1 ||
	    delete_headers(t, "X-Spam-Score", NULL, NULL) == -1 ||
	    delete_headers(t, "X-Spam-Status", NULL, NULL) == -1)
		return -1;
	if (spam && gh_txn_edit(t, GH_EDIT_APPEND, "X-Spam-Flag", "YES",
	    0) == -1)
		return -1;
	snprintf(num, sizeof(num), "%.1f", t->score);
	if (gh_txn_edit(t, GH_EDIT_APPEND, "X-Spam-Score", num, 0) == -1)
		return -1;
	gh_buf_init(&b, 64 * 1024);
	gh_buf_printf(&b, "%s, score=%.1f required=%.1f\r\n\ttests=",
	    spam ? "Yes" : "No", t->score, gh_chain_score_tag(t->chain));
	tests_list(t, &b);
	if (b.p == NULL || gh_txn_edit(t, GH_EDIT_APPEND, "X-Spam-Status",
	    b.p, 0) == -1)
		r = -1;
	gh_buf_free(&b);
	return r;
}

/* Put the configured prefix in front of the Subject. */
static int
subject_prefix(struct gh_txn *t)
{
	const struct gh_header	*h;
	const char		*pfx = t->cfg->tag_subject_prefix;
	char			*v, *nv;
	int			 r;

	if (t->msg == NULL || pfx[0] == '\0')
		return 0;
	if ((h = gh_message_find(t->msg, "Subject", 0)) == NULL)
		return gh_txn_edit(t, GH_EDIT_APPEND, "Subject", pfx, 0);
	if ((v = gh_header_unfold(h, NULL)) == NULL)
		return -1;
	if (strncmp(v, pfx, strlen(pfx)) == 0) {
		free(v);		/* already prefixed (a resend) */
		return 0;
	}
	r = asprintf(&nv, "%s %s", pfx, v);
	free(v);
	if (r == -1)
		return -1;
	r = gh_txn_edit(t, GH_EDIT_CHANGE, "Subject", nv, 1);
	free(nv);
	return r;
}

/* Decide the end of a message (see gh_chain_run). */
int
gh_tag_finish(struct gh_txn *t, struct gh_verdict *out)
{
	const struct gh_config	*cfg = t->cfg;
	char			*ar;
	bool			 spam;

	out->score = t->score;
	if (!t->stopped && cfg->score_reject > 0 &&
	    t->score >= cfg->score_reject) {
		gh_verdict_refuse(out, t, GH_REJECT, &cfg->score_reject_reply,
		    "spam", "score %.1f >= reject %.1f", t->score,
		    cfg->score_reject);
		out->filter = "score";
		t->decided = GH_REJECT;
		return gh_verdict_copy(&t->final, out);
	}
	spam = !t->stopped && (t->tagged ||
	    t->score >= gh_chain_score_tag(t->chain));
	if (delete_headers(t, "Authentication-Results", claims_ours,
	    cfg->authserv_id) == -1)
		return -1;
	if ((ar = gh_authres_format(t)) == NULL)
		return -1;
	if (gh_txn_edit(t, GH_EDIT_INSERT, "Authentication-Results", ar,
	    0) == -1) {
		free(ar);
		return -1;
	}
	free(ar);
	if (cfg->tag_spam_headers && spam_headers(t, spam) == -1)
		return -1;
	if (spam && subject_prefix(t) == -1)
		return -1;
	out->action = t->stopped ? GH_ACCEPT : spam ? GH_TAG : GH_CONTINUE;
	return 0;
}

/* Append a key=value pair with an escaped, capped value. */
static void
kv(struct gh_buf *b, const char *key, const char *val, size_t cap)
{
	if (val == NULL)
		return;
	gh_buf_append(b, " ", 1);
	gh_buf_puts(b, key);
	gh_buf_append(b, "=\"", 2);
	gh_buf_put_printable(b, val, strlen(val), cap);
	gh_buf_append(b, "\"", 1);
}

/* Append the decimal digits of n. */
static void
put_u64(struct gh_buf *b, uint64_t n)
{
	char	 d[24];
	size_t	 i = sizeof(d);

	do
		d[--i] = (char)('0' + n % 10);
	while ((n /= 10) != 0);
	gh_buf_append(b, d + i, sizeof(d) - i);
}

/* Append "%.1f" of x (the common 0.0 without printf). */
static void
put_tenths(struct gh_buf *b, double x)
{
	if (x == 0.0)
		gh_buf_append(b, "0.0", 3);
	else
		gh_buf_printf(b, "%.1f", x);
}

/* The one log line per message (without the session id). */
void
gh_txn_summary(const struct gh_txn *t, const struct gh_verdict *v,
    const char *backend_reply, struct gh_buf *b)
{
	size_t	 i;
	uint64_t us;

	gh_buf_puts(b, "message");
	kv(b, "client", t->env.client_addr, 64);
	kv(b, "client_name", t->env.client_name, 255);
	kv(b, "helo", t->env.helo, 255);
	if (t->env.tls_version) {
		gh_buf_puts(b, " tls=");
		gh_buf_put_printable(b, t->env.tls_version,
		    strlen(t->env.tls_version), 20);
		gh_buf_append(b, "/", 1);
		if (t->env.tls_cipher)
			gh_buf_put_printable(b, t->env.tls_cipher,
			    strlen(t->env.tls_cipher), 100);
	}
	kv(b, "auth", t->env.auth_user, 255);
	gh_buf_puts(b, " from=<");
	if (t->env.mail_from)
		gh_buf_put_printable(b, t->env.mail_from,
		    strlen(t->env.mail_from), 255);
	gh_buf_puts(b, "> to=");
	for (i = 0; i < t->env.nrcpts && i < 20; i++) {
		if (i)
			gh_buf_append(b, ",<", 2);
		else
			gh_buf_append(b, "<", 1);
		gh_buf_put_printable(b, t->env.rcpts[i],
		    strlen(t->env.rcpts[i]), 255);
		gh_buf_append(b, ">", 1);
	}
	if (t->env.nrcpts > 20)
		gh_buf_printf(b, ",...(%zu)", t->env.nrcpts);
	if (t->msg) {
		gh_buf_puts(b, " size=");
		put_u64(b, gh_message_size(t->msg));
	}
	for (i = 0; i < t->trace.n; i++) {
		const struct gh_trace *tr = &t->trace.v[i];

		gh_buf_printf(b, " %s=%s/%s/%.1f/%.1fms", tr->filter,
		    gh_stage_name(tr->stage), gh_action_name(tr->action),
		    tr->score, tr->usec / 1000.0);
	}
	gh_buf_puts(b, " hits=");
	for (i = 0; i < t->hits.n; i++) {
		if (i)
			gh_buf_append(b, ",", 1);
		if (t->hits.v[i].shadow)
			gh_buf_puts(b, "shadow:");
		gh_buf_puts(b, t->hits.v[i].name);
	}
	if (t->hits.n == 0)
		gh_buf_puts(b, "none");
	kv(b, "queue_id", t->env.queue_id, 64);
	gh_buf_puts(b, " score=");
	put_tenths(b, t->score);
	gh_buf_puts(b, " verdict=");
	gh_buf_puts(b, v ? gh_action_name(v->action) : "none");
	if (v && v->reason)
		kv(b, "reason", v->reason, 200);
	kv(b, "reply", backend_reply, 200);
	/* "%.1f" of the milliseconds, from the integer microseconds. */
	us = (gh_now_us() - t->started_us + 50) / 100;
	gh_buf_puts(b, " time=");
	put_u64(b, us / 10);
	gh_buf_append(b, ".", 1);
	put_u64(b, us % 10);
	gh_buf_append(b, "ms", 2);
}

/* The end of a message for the front end: one log line, the metrics. */
void
gh_txn_finish(const struct gh_txn *t, const struct gh_verdict *v,
    const char *backend_reply)
{
	struct gh_buf	 b;
	size_t		 i;

	if (gh_log_enabled(LOG_INFO)) {	/* not formatted for nothing */
		gh_buf_init(&b, 16 * 1024);
		(void)gh_buf_reserve(&b, 1024);	/* one allocation */
		gh_txn_summary(t, v, backend_reply, &b);
		if (b.p)
			gh_log_session_str(LOG_INFO, t->env.session_id, b.p,
			    b.len);
		else
			gh_log_session(LOG_INFO, t->env.session_id,
			    "message (log line too long)");
		gh_buf_free(&b);
	}
	gh_metrics_message(v ? v->action : GH_CONTINUE);
	for (i = 0; i < t->authres.n; i++)
		gh_metrics_result(t->authres.v[i].method,
		    t->authres.v[i].result);
	for (i = 0; i < t->hits.n; i++)
		gh_metrics_rule_hit(t->hits.v[i].name, t->hits.v[i].shadow);
}
