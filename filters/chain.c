/*
 * chain.c — the filter chain and the transaction it runs on.
 *
 * Owns: the list of filter instances built from one configuration, the
 * combination of verdicts (first reject/tempfail ends the stage, scores
 * add up, an accept stops filtering), the failure policy
 * (on_filter_error: a filter that fails never turns into a silent
 * accept) and, at EOM, the thresholds and the header edits of tagging
 * (tag.c).
 *
 * Invariants: a chain is immutable once built and shared by reference;
 * a transaction is used by one thread at a time; everything a filter
 * stores in a transaction is released by its txn_free().
 */
#include "filters/chain.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "filters/dkim.h"
#include "filters/log.h"
#include "filters/metrics.h"
#include "filters/regex.h"
#include "filters/spf.h"
#include "filters/tag.h"

struct gh_chain {
	struct gh_config	*cfg;
	const struct gh_filter	*filters[GH_MAX_FILTERS];
	void			*inst[GH_MAX_FILTERS];
	size_t			 n;
	unsigned		 blocking;	/* stage mask */
	double			 score_tag;	/* score.tag or required_score */
	int			 refs;
};

/*
 * The built-in filters, in the order they run.  Each filter decides in
 * setup() whether the configuration enables it (it sets *inst to NULL
 * to stay out of the chain).
 */
static const struct gh_filter *const builtin[] = {
	&gh_filter_spf,
	&gh_filter_dkim,
	&gh_filter_rules,
};

static const char *stage_names[GH_NSTAGES] = {
	"connect", "helo", "mail", "rcpt", "headers", "eom"
};

/* Name of a stage. */
const char *
gh_stage_name(enum gh_stage s)
{
	return s < GH_NSTAGES ? stage_names[s] : "?";
}

/* Build a chain from an explicit filter list. */
struct gh_chain *
gh_chain_new_with(struct gh_config *cfg, const struct gh_filter *const *fl,
    size_t n, FILE *report, char *err, size_t errsz)
{
	struct gh_chain	*c;
	size_t		 i;
	void		*inst;

	if (n > GH_MAX_FILTERS) {
		snprintf(err, errsz, "too many filters");
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	c->cfg = gh_config_ref(cfg);
	c->refs = 1;
	c->score_tag = cfg->score_tag;
	for (i = 0; i < n; i++) {
		if (fl[i] == NULL)
			continue;
		inst = NULL;
		if (fl[i]->setup && fl[i]->setup(cfg, &inst, err,
		    errsz) == -1) {
			gh_chain_unref(c);
			return NULL;
		}
		if (fl[i]->setup && inst == NULL)
			continue;	/* disabled by the configuration */
		c->filters[c->n] = fl[i];
		c->inst[c->n] = inst;
		if (fl[i]->may_block)
			c->blocking |= fl[i]->stages;
		if (fl[i]->threshold && !gh_config_isset(cfg, "score.tag"))
			(void)fl[i]->threshold(inst, &c->score_tag);
		c->n++;
		if (report)
			fprintf(report, "filter %s: enabled\n", fl[i]->name);
	}
	return c;
}

/* Build a chain with the built-in filters. */
struct gh_chain *
gh_chain_new(struct gh_config *cfg, FILE *report, char *err, size_t errsz)
{
	return gh_chain_new_with(cfg, builtin, GH_ARRAY_LEN(builtin), report,
	    err, errsz);
}

/* Take a reference. */
struct gh_chain *
gh_chain_ref(struct gh_chain *c)
{
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
	return c;
}

/* Drop a reference; the last one tears the filters down. */
void
gh_chain_unref(struct gh_chain *c)
{
	size_t	 i;

	if (c == NULL || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL))
		return;
	for (i = 0; i < c->n; i++)
		if (c->filters[i]->teardown)
			c->filters[i]->teardown(c->inst[i]);
	gh_config_unref(c->cfg);
	free(c);
}

/* The configuration the chain was built from. */
struct gh_config *
gh_chain_config(const struct gh_chain *c)
{
	return c->cfg;
}

/* The tag threshold in force. */
double
gh_chain_score_tag(const struct gh_chain *c)
{
	return c->score_tag;
}

/* Run every filter's self-check; return the number of failures. */
int
gh_chain_check(const struct gh_chain *c, FILE *report)
{
	size_t	 i;
	int	 failed = 0;

	for (i = 0; i < c->n; i++)
		if (c->filters[i]->check)
			failed += c->filters[i]->check(c->inst[i], report);
	return failed;
}

/* Tell whether a stage has a filter that may block. */
bool
gh_chain_may_block(const struct gh_chain *c, enum gh_stage s)
{
	return (c->blocking & GH_STAGE_BIT(s)) != 0;
}

/* Tell whether any filter runs at a stage. */
bool
gh_chain_runs_at(const struct gh_chain *c, enum gh_stage s)
{
	size_t	 i;

	for (i = 0; i < c->n; i++)
		if (c->filters[i]->stages & GH_STAGE_BIT(s))
			return true;
	return false;
}

/* The instance of a filter by name. */
void *
gh_chain_instance(const struct gh_chain *c, const char *name)
{
	size_t	 i;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->filters[i]->name, name) == 0)
			return c->inst[i];
	return NULL;
}

/* Grow a GH_ARRAY by one slot; return the new slot or NULL. */
#define ARRAY_PUSH(a) ((a).n < (a).cap || array_grow((void **)&(a).v,	\
	&(a).cap, sizeof(*(a).v)) == 0 ? memset(&(a).v[(a).n++], 0,	\
	sizeof(*(a).v)) : NULL)

static int
array_grow(void **v, size_t *cap, size_t sz)
{
	size_t	 ncap = *cap ? *cap * 2 : 8;
	void	*nv;

	if ((nv = realloc(*v, ncap * sz)) == NULL)
		return -1;
	*v = nv;
	*cap = ncap;
	return 0;
}

static void
edit_clear(struct gh_edit *e)
{
	free(e->name);
	free(e->value);
}

static void
authres_clear(struct gh_authres *a)
{
	free(a->method);
	free(a->result);
	free(a->props);
	free(a->reason);
}

static void
trace_clear(struct gh_trace *t)
{
	free(t->result);
}

static void
hit_clear(struct gh_hit *h)
{
	free(h->name);
	free(h->detail);
}

/* Truncate every array to `keep_mark` ? its mark : 0. */
static void
truncate_arrays(struct gh_txn *t, bool keep_mark)
{
#define TRUNC(a, clear) do {						\
	size_t to = keep_mark ? (a).mark : 0;				\
	while ((a).n > to)						\
		clear(&(a).v[--(a).n]);					\
	if (!keep_mark) { free((a).v); (a).v = NULL; (a).cap = 0; }	\
} while (0)
	TRUNC(t->edits, edit_clear);
	TRUNC(t->authres, authres_clear);
	TRUNC(t->trace, trace_clear);
	TRUNC(t->hits, hit_clear);
#undef TRUNC
}

/* A new transaction for a session. */
struct gh_txn *
gh_txn_new(struct gh_chain *c, uint64_t sid)
{
	struct gh_txn	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->chain = gh_chain_ref(c);
	t->cfg = c->cfg;
	t->env.session_id = sid;
	snprintf(t->env.sid, sizeof(t->env.sid), "%016llx",
	    (unsigned long long)sid);
	t->started_us = gh_now_us();
	return t;
}

/* Release the per-message part of the envelope. */
static void
clear_message_env(struct gh_envelope *e)
{
	size_t	 i;

	free(e->mail_from);
	e->mail_from = NULL;
	e->mail_from_guessed = false;
	for (i = 0; i < e->nrcpts; i++)
		free(e->rcpts[i]);
	free(e->rcpts);
	e->rcpts = NULL;
	e->nrcpts = 0;
	free(e->queue_id);
	e->queue_id = NULL;
}

/* Let every filter release its state. */
static void
free_filter_state(struct gh_txn *t, bool session_end)
{
	size_t	 i;

	for (i = 0; i < t->chain->n; i++)
		if (t->chain->filters[i]->txn_free)
			t->chain->filters[i]->txn_free(t->chain->inst[i], t,
			    (unsigned)i, session_end);
}

/* End one message, keep the session (see chain.h). */
void
gh_txn_reset(struct gh_txn *t, struct gh_chain *c)
{
	free_filter_state(t, false);
	if (c && c != t->chain) {
		free_filter_state(t, true);
		memset(t->fstate, 0, sizeof(t->fstate));
		gh_chain_unref(t->chain);
		t->chain = gh_chain_ref(c);
		t->cfg = c->cfg;
	}
	if (t->in_message) {
		truncate_arrays(t, true);
		t->score = t->session_score;
		t->stopped = t->session_stopped;
		t->tagged = t->session_tagged;
	}
	t->in_message = false;
	t->decided = GH_CONTINUE;
	gh_verdict_clear(&t->final);
	clear_message_env(&t->env);
	t->msg = NULL;
	t->started_us = gh_now_us();
}

/* Free a transaction and everything it holds. */
void
gh_txn_free(struct gh_txn *t)
{
	if (t == NULL)
		return;
	free_filter_state(t, true);
	truncate_arrays(t, false);
	clear_message_env(&t->env);
	free(t->env.client_addr);
	free(t->env.client_name);
	free(t->env.helo);
	free(t->env.tls_version);
	free(t->env.tls_cipher);
	free(t->env.auth_user);
	gh_verdict_clear(&t->final);
	gh_chain_unref(t->chain);
	free(t);
}

/* Replace a string field with a copy of `s`. */
static int
set_str(char **f, const char *s)
{
	char	*n = NULL;

	if (s && (n = strdup(s)) == NULL)
		return -1;
	free(*f);
	*f = n;
	return 0;
}

/* Record the client; decides `trusted`. */
int
gh_txn_set_client(struct gh_txn *t, const char *addr, uint16_t port,
    const char *name, const struct sockaddr *sa, socklen_t salen)
{
	if (set_str(&t->env.client_addr, addr) == -1 ||
	    set_str(&t->env.client_name, name ? name : "unknown") == -1)
		return -1;
	t->env.client_port = port;
	if (sa && salen <= sizeof(t->env.client_ss)) {
		memcpy(&t->env.client_ss, sa, salen);
		t->env.client_sslen = salen;
		t->env.trusted = gh_cidr_match(&t->cfg->trusted_networks, sa);
	} else
		t->env.trusted = gh_cidr_match_text(
		    &t->cfg->trusted_networks, addr);
	return 0;
}

int
gh_txn_set_helo(struct gh_txn *t, const char *s)
{
	return set_str(&t->env.helo, s);
}

int
gh_txn_set_mail(struct gh_txn *t, const char *s)
{
	t->env.mail_from_guessed = false;
	return set_str(&t->env.mail_from, s ? s : "");
}

int
gh_txn_set_tls(struct gh_txn *t, const char *v, const char *c)
{
	return set_str(&t->env.tls_version, v) | set_str(&t->env.tls_cipher,
	    c);
}

int
gh_txn_set_auth(struct gh_txn *t, const char *s)
{
	return set_str(&t->env.auth_user, s);
}

int
gh_txn_set_queue_id(struct gh_txn *t, const char *s)
{
	return set_str(&t->env.queue_id, s);
}

void
gh_txn_set_message(struct gh_txn *t, struct gh_message *m)
{
	t->msg = m;
}

/* Append a recipient. */
int
gh_txn_add_rcpt(struct gh_txn *t, const char *r)
{
	char	**nv, *c;

	if ((c = strdup(r)) == NULL)
		return -1;
	if ((nv = realloc(t->env.rcpts, (t->env.nrcpts + 1) *
	    sizeof(*nv))) == NULL) {
		free(c);
		return -1;
	}
	t->env.rcpts = nv;
	t->env.rcpts[t->env.nrcpts++] = c;
	return 0;
}

/* Record a method result for Authentication-Results. */
int
gh_txn_authres(struct gh_txn *t, const char *method, const char *result,
    const char *reason, const char *propfmt, ...)
{
	struct gh_authres	*a;
	va_list			 ap;
	char			*props = NULL;
	int			 r = 0;

	if (propfmt) {
		va_start(ap, propfmt);
		r = vasprintf(&props, propfmt, ap);
		va_end(ap);
		if (r == -1)
			return -1;
	}
	if ((a = ARRAY_PUSH(t->authres)) == NULL) {
		free(props);
		return -1;
	}
	a->method = strdup(method);
	a->result = strdup(result);
	a->reason = reason ? strdup(reason) : NULL;
	a->props = props;
	return a->method && a->result ? 0 : -1;
}

/* Record a rule or check that hit. */
int
gh_txn_hit(struct gh_txn *t, const char *name, double score,
    const char *detail, size_t dlen, bool shadow)
{
	struct gh_hit	*h;

	if ((h = ARRAY_PUSH(t->hits)) == NULL)
		return -1;
	h->name = strdup(name);
	h->score = score;
	h->shadow = shadow;
	h->detail = detail ? gh_strndup(detail, dlen > 100 ? 100 : dlen) :
	    NULL;
	return h->name ? 0 : -1;
}

/* Record a header edit. */
int
gh_txn_edit(struct gh_txn *t, enum gh_edit_op op, const char *name,
    const char *value, unsigned index)
{
	struct gh_edit	*e;

	if ((e = ARRAY_PUSH(t->edits)) == NULL)
		return -1;
	e->op = op;
	e->index = index;
	e->name = strdup(name);
	e->value = value ? strdup(value) : NULL;
	return e->name && (value == NULL || e->value) ? 0 : -1;
}

/* Append client text to `b`: no control characters, at most `cap`. */
static void
put_safe(struct gh_buf *b, const char *s, size_t cap)
{
	size_t	 i;

	if (s == NULL)
		return;
	for (i = 0; s[i] && i < cap; i++) {
		char c = s[i];

		if ((unsigned char)c < 0x20 || c == 0x7f)
			c = '?';
		gh_buf_append(b, &c, 1);
	}
	if (s[i])
		gh_buf_puts(b, "...");
}

/* Expand the placeholders of a reply template. */
char *
gh_txn_expand(const struct gh_txn *t, const char *tmpl, const char *result)
{
	static const char *const names[] = { "sender", "rcpt", "client_addr",
	    "client_name", "helo", "session", "result" };
	struct gh_buf	 b;
	const char	*p = tmpl, *end;
	size_t		 i, n;

	gh_buf_init(&b, 4096);
	while (*p) {
		if (p[0] != '%' || p[1] != '{' ||
		    (end = strchr(p + 2, '}')) == NULL) {
			gh_buf_append(&b, p++, 1);
			continue;
		}
		n = (size_t)(end - (p + 2));
		for (i = 0; i < GH_ARRAY_LEN(names); i++)
			if (strlen(names[i]) == n &&
			    strncmp(p + 2, names[i], n) == 0)
				break;
		switch (i) {
		case 0:
			if (t->env.mail_from && t->env.mail_from[0])
				put_safe(&b, t->env.mail_from, 200);
			else
				gh_buf_puts(&b, "<>");
			break;
		case 1:
			if (t->env.nrcpts)
				put_safe(&b, t->env.rcpts[t->env.nrcpts - 1],
				    200);
			break;
		case 2: put_safe(&b, t->env.client_addr, 64); break;
		case 3: put_safe(&b, t->env.client_name, 255); break;
		case 4: put_safe(&b, t->env.helo, 255); break;
		case 5: gh_buf_puts(&b, t->env.sid); break;
		case 6: put_safe(&b, result, 64); break;
		default:
			gh_buf_append(&b, p, n + 3);	/* unknown: as is */
			break;
		}
		p = end + 1;
	}
	return gh_buf_steal(&b);
}

/* Make `v` a refusal with a configured reply. */
void
gh_verdict_refuse(struct gh_verdict *v, const struct gh_txn *t,
    enum gh_action action, const struct gh_reply_conf *rc, const char *result,
    const char *reasonfmt, ...)
{
	va_list	 ap;

	v->action = action;
	v->code = rc->code;
	snprintf(v->status, sizeof(v->status), "%s", rc->status);
	free(v->text);
	v->text = gh_txn_expand(t, rc->text, result);
	free(v->reason);
	v->reason = NULL;
	if (reasonfmt) {
		va_start(ap, reasonfmt);
		if (vasprintf(&v->reason, reasonfmt, ap) == -1)
			v->reason = NULL;
		va_end(ap);
	}
}

/* Release what a verdict holds and zero it. */
void
gh_verdict_clear(struct gh_verdict *v)
{
	free(v->text);
	free(v->reason);
	memset(v, 0, sizeof(*v));
}

/* Deep copy of a verdict. */
int
gh_verdict_copy(struct gh_verdict *d, const struct gh_verdict *s)
{
	*d = *s;
	d->text = s->text ? strdup(s->text) : NULL;
	d->reason = s->reason ? strdup(s->reason) : NULL;
	return (s->text && !d->text) || (s->reason && !d->reason) ? -1 : 0;
}

/* Turn a failed filter into the configured failure action. */
static void
filter_failed(struct gh_txn *t, const struct gh_filter *f, enum gh_stage s,
    struct gh_verdict *v)
{
	int	 a = t->cfg->on_filter_error;

	gh_log_session(LOG_WARNING, t->env.session_id, "filter=%s stage=%s "
	    "error=\"%s\" action=%s", f->name, gh_stage_name(s),
	    v->reason ? v->reason : "failed", gh_action_name(a));
	v->score = 0;
	if (a == GH_REJECT)
		gh_verdict_refuse(v, t, GH_REJECT, &t->cfg->rules_reject_reply,
		    "error", "filter %s failed", f->name);
	else if (a == GH_TEMPFAIL)
		gh_verdict_refuse(v, t, GH_TEMPFAIL, &t->cfg->tempfail_reply,
		    "error", "filter %s failed", f->name);
	else
		v->action = GH_CONTINUE;
}

/* Record what a filter said. */
static void
trace(struct gh_txn *t, const struct gh_filter *f, enum gh_stage s,
    const struct gh_verdict *v, uint64_t usec)
{
	struct gh_trace	*tr;

	if ((tr = ARRAY_PUSH(t->trace)) == NULL)
		return;
	tr->filter = f->name;
	tr->stage = s;
	tr->action = v->action;
	tr->score = v->score;
	tr->usec = usec;
	tr->result = v->reason ? strdup(v->reason) : NULL;
}

/* Remove the last recipient (refused at RCPT). */
static void
pop_rcpt(struct gh_txn *t)
{
	if (t->env.nrcpts)
		free(t->env.rcpts[--t->env.nrcpts]);
}

/* Run one filter at one stage; return true when the stage is decided. */
static bool
run_filter(struct gh_txn *t, size_t i, enum gh_stage s, struct gh_verdict *out)
{
	const struct gh_filter	*f = t->chain->filters[i];
	struct gh_verdict	 v;
	uint64_t		 t0 = gh_now_us();

	memset(&v, 0, sizeof(v));
	v.filter = f->name;
	if (f->run(t->chain->inst[i], t, (unsigned)i, s, &v) == -1)
		filter_failed(t, f, s, &v);
	v.filter = f->name;
	trace(t, f, s, &v, gh_now_us() - t0);
	t->score += v.score;
	if (v.shadow && v.action != GH_CONTINUE) {
		gh_log_session(LOG_NOTICE, t->env.session_id, "shadow "
		    "filter=%s stage=%s would=%s reason=\"%s\"", f->name,
		    gh_stage_name(s), gh_action_name(v.action),
		    v.reason ? v.reason : "");
		v.action = GH_CONTINUE;
	}
	switch (v.action) {
	case GH_REJECT:
	case GH_TEMPFAIL:
	case GH_DISCARD:
		gh_verdict_clear(out);
		*out = v;
		return true;
	case GH_ACCEPT:
		t->stopped = true;
		break;
	case GH_TAG:
		t->tagged = true;
		break;
	default:
		break;
	}
	gh_verdict_clear(&v);
	return false;
}

/* Run a stage (see chain.h). */
int
gh_chain_run(struct gh_txn *t, enum gh_stage s, struct gh_verdict *out)
{
	struct gh_chain	*c = t->chain;
	size_t		 i;
	bool		 decided = false;
	uint64_t	 t0;

	memset(out, 0, sizeof(*out));
	if (s >= GH_STAGE_MAIL && !t->in_message) {
		/* What CONNECT and HELO said stays for the whole session. */
		t->in_message = true;
		t->session_score = t->score;
		t->session_stopped = t->stopped;
		t->session_tagged = t->tagged;
		t->edits.mark = t->edits.n;
		t->authres.mark = t->authres.n;
		t->trace.mark = t->trace.n;
		t->hits.mark = t->hits.n;
	}
	if (t->decided == GH_DISCARD || t->decided == GH_REJECT ||
	    t->decided == GH_TEMPFAIL) {
		/* The message was decided earlier; say it again. */
		if (gh_verdict_copy(out, &t->final) == -1)
			return -1;
		return 0;
	}
	t0 = gh_now_us();
	for (i = 0; i < c->n && !t->stopped && !decided; i++)
		if (c->filters[i]->stages & GH_STAGE_BIT(s))
			decided = run_filter(t, i, s, out);
	gh_metrics_stage_latency(s, gh_now_us() - t0);
	if (decided && s == GH_STAGE_RCPT && out->action != GH_DISCARD) {
		pop_rcpt(t);
		return 0;
	}
	if (decided) {
		/* A refusal or discard before DATA covers the message. */
		t->decided = out->action;
		gh_verdict_clear(&t->final);
		if (gh_verdict_copy(&t->final, out) == -1)
			return -1;
		return 0;
	}
	if (s == GH_STAGE_EOM)
		return gh_tag_finish(t, out);
	return 0;
}
