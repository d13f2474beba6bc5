/*
 * regex.c — the rules filter: the adapter between the chain and the rule
 * engine in rules/.  It hands the engine the texts of the transaction
 * (envelope, headers, rendered body, raw body, full message, URIs, from
 * the message model; SpamAssassin's pseudo-headers X-Spam-Relays-*,
 * ALL-TRUSTED ... ALL-EXTERNAL and its EnvelopeFrom guess, from
 * received.c) and turns the engine's hits and actions into chain
 * verdicts, hits and scores.
 *
 * Invariants: the rule set is loaded once per chain and shared read-only
 * by every transaction; a transaction's engine state lives in its
 * fstate slot.  After RSET the engine starts a fresh transaction and
 * evaluates the envelope rules of CONNECT and HELO again (metas need
 * their values), but those hits are not reported twice: the chain keeps
 * the first report for the whole session.  A second HELO/EHLO before
 * any MAIL (the one RFC 3207 asks for after STARTTLS) starts the engine
 * over in the same way.
 *
 * Failure: a load error refuses the chain (file:line messages); an
 * evaluation that runs out of memory returns -1 (on_filter_error).
 */
#include <ctype.h>
#include <stddef.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters/chain.h"
#include "filters/log.h"
#include "filters/message.h"
#include "filters/received.h"
#include "filters/regex.h"
#include "filters/util.h"
#include "rules/rules.h"

#define MAX_ORIG_IP	16
#define TXN_POOL_MAX	32	/* engine transactions kept for reuse */

/* SpamAssassin's metadata pseudo-headers, in the order of pseudo[]. */
static const char *const pseudo_names[] = {
	"X-Spam-Relays-Trusted", "X-Spam-Relays-Untrusted",
	"X-Spam-Relays-Internal", "X-Spam-Relays-External",
	"ALL-TRUSTED", "ALL-UNTRUSTED", "ALL-INTERNAL", "ALL-EXTERNAL",
};
#define NPSEUDO	(sizeof(pseudo_names) / sizeof(pseudo_names[0]))

struct regex_inst {
	struct rules_set	*set;
	struct gh_uri_policy	*uri_policy;	/* util_rb_tld, redirectors */
	struct rules_diag	 diag;		/* kept for `gatehouse check` */
	bool			 has_required;
	double			 required;
	/* Profiling (benchmarks): per-rule nanoseconds of ended txns. */
	pthread_mutex_t		 prof_mu;
	uint64_t		*prof;
	/* The filter's index in its chain (fstate slot), -1 before run. */
	atomic_int		 idx;
	/* originating_ip_headers: field names, NULL-terminated */
	char			*orig_ip[MAX_ORIG_IP + 1];
	/* Some rule tests X-Spam-Relays-*, ALL-* or EnvelopeFrom: only
	   then are the Received fields parsed (build_metadata). */
	bool			 want_meta;
	/* Engine transactions of ended sessions, reset, for the next
	   ones: a warm transaction allocates nothing (no JIT stack, no
	   prefilter scratch, no per-rule arrays to zero). */
	pthread_mutex_t		 pool_mu;
	struct rules_txn	*pool[TXN_POOL_MAX];
	size_t			 npool;
};

static void	regex_teardown(void *);

/* Per-transaction state. */
struct regex_txn {
	struct rules_txn	*rt;
	size_t			 reported;	/* hits handed to the chain */
	bool			 replay;	/* envelope rules seen before */
	bool			 started;	/* a stage ran since the reset */
	enum gh_stage		 last;		/* the last stage that ran */
	struct rules_header	*hdrs;		/* parts[0], built at HEADERS */
	size_t			 nhdrs;
	char			*hbuf;		/* raw values with LF ends */
	char			*client;	/* "name [addr]" */
	struct rules_part	*parts;		/* at EOM: every MIME part */
	size_t			 partcap;
	/* Built at HEADERS with hdrs: relays, pseudo-headers. */
	struct gh_relays	 relays;
	struct rules_header	 pseudo[NPSEUDO];
	size_t			 npseudo;
	char			*ranges[4];	/* ALL-TRUSTED ... values */
	char			*envfrom;	/* EnvelopeFrom guessed */
	char			*top;		/* the next MTA's Received */
};

/* A MIME part's fields are handed to the engine as they are. */
_Static_assert(sizeof(struct gh_part_field) == sizeof(struct rules_header) &&
    offsetof(struct gh_part_field, raw) == offsetof(struct rules_header, raw) &&
    offsetof(struct gh_part_field, value) ==
    offsetof(struct rules_header, value) &&
    offsetof(struct gh_text, len) == offsetof(struct rules_text, len),
    "gh_part_field and rules_header differ");

/*
 * Split "/re/flags" or "m{re}flags" (SpamAssassin's redirector_pattern)
 * into the pattern and its caseless flag.  -1 if malformed.
 */
static int
split_regex(const char *v, const char **re, size_t *len, bool *caseless)
{
	char		 open, close;
	const char	*end;

	/* Perl: m and any punctuation as the delimiter, or /.../. */
	if (v[0] == 'm' && ispunct((unsigned char)v[1])) {
		open = v[1];
		v++;
	} else if (v[0] == '/')
		open = '/';
	else
		return -1;
	close = open == '{' ? '}' : open == '(' ? ')' : open == '[' ? ']' :
	    open == '<' ? '>' : open;
	if ((end = strrchr(v + 1, close)) == NULL || end == v)
		return -1;
	*re = v + 1;
	*len = (size_t)(end - (v + 1));
	*caseless = strchr(end + 1, 'i') != NULL;
	return 0;
}

/* Build the URI policy from util_rb_tld and redirector_pattern lines. */
static int
uri_policy(struct regex_inst *ri, char *err, size_t errsz)
{
	const char	*vals[4096], *re;
	size_t		 n, i, len;
	bool		 caseless;
	char		 rerr[256];

	if ((ri->uri_policy = gh_uri_policy_new()) == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	n = rules_settings(ri->set, "util_rb_tld", vals, GH_ARRAY_LEN(vals));
	for (i = 0; i < n && i < GH_ARRAY_LEN(vals); i++)
		if (gh_uri_policy_add_tlds(ri->uri_policy, vals[i]) == -1) {
			snprintf(err, errsz, "out of memory");
			return -1;
		}
	n = rules_settings(ri->set, "redirector_pattern", vals,
	    GH_ARRAY_LEN(vals));
	for (i = 0; i < n && i < GH_ARRAY_LEN(vals); i++) {
		if (split_regex(vals[i], &re, &len, &caseless) == -1) {
			log_warn("rules: redirector_pattern '%.60s' is not "
			    "/regex/: ignored", vals[i]);
			continue;
		}
		if (gh_uri_policy_add_redirector(ri->uri_policy, re, len,
		    caseless, rerr, sizeof(rerr)) == -1)
			log_warn("rules: redirector_pattern '%.60s': %s: "
			    "ignored", vals[i], rerr);
	}
	if (gh_uri_policy_compile(ri->uri_policy) == -1) {
		snprintf(err, errsz, "rules: cannot compile the URI policy");
		return -1;
	}
	return 0;
}

/*
 * originating_ip_headers (and clear_originating_ip_headers, kept as
 * an empty value) from the rule files, in order, without duplicates.
 */
static int
orig_ip_headers(struct regex_inst *ri)
{
	const char	*vals[256];
	size_t		 n, i, k = 0, j;
	char		*copy, *w, *save;

	n = rules_settings(ri->set, "originating_ip_headers", vals,
	    GH_ARRAY_LEN(vals));
	for (i = 0; i < n && i < GH_ARRAY_LEN(vals); i++) {
		if (vals[i][0] == '\0') {	/* clear_originating_ip_headers */
			while (k > 0)
				free(ri->orig_ip[--k]);
			continue;
		}
		if ((copy = strdup(vals[i])) == NULL)
			return -1;
		for (w = strtok_r(copy, " \t", &save); w != NULL && k <
		    MAX_ORIG_IP; w = strtok_r(NULL, " \t", &save)) {
			for (j = 0; j < k; j++)
				if (strcasecmp(ri->orig_ip[j], w) == 0)
					break;
			if (j < k)
				continue;
			if ((ri->orig_ip[k] = strdup(w)) == NULL) {
				free(copy);
				return -1;
			}
			k++;
		}
		free(copy);
	}
	ri->orig_ip[k] = NULL;
	return 0;
}

/* Load the rule files named by `rules`; NULL inst when there are none. */
static int
regex_setup(const struct gh_config *cfg, void **instp, char *err,
    size_t errsz)
{
	struct regex_inst	*ri;
	struct rules_opts	 opts;
	size_t			 i, off = 0;

	*instp = NULL;
	if (cfg->rules.n == 0)
		return 0;
	if ((ri = calloc(1, sizeof(*ri))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	memset(&opts, 0, sizeof(opts));
	opts.score_set = (int)cfg->rules_score_set;
	if (!cfg->rules_prefilter)
		opts.flags |= RULES_LOAD_NO_PREFILTER;
	if (!cfg->rules_shortcuts)
		opts.flags |= RULES_LOAD_PLAIN;
	if (rules_load((const char *const *)cfg->rules.v, cfg->rules.n, &opts,
	    &ri->set, &ri->diag) == -1) {
		/* Every error, one per line, file:line first. */
		err[0] = '\0';
		for (i = 0; i < ri->diag.nnotes && off + 1 < errsz; i++) {
			if (ri->diag.notes[i].severity != RULES_ERROR)
				continue;
			off += (size_t)snprintf(err + off, errsz - off, "%s%s",
			    off ? "\n" : "", ri->diag.notes[i].text);
		}
		if (off == 0)
			snprintf(err, errsz, "rules: load failed");
		rules_diag_free(&ri->diag);
		free(ri);
		return -1;
	}
	if (ri->diag.jit == 0 && ri->diag.interpreted > 0 &&
	    rules_jit_available())
		/* A W^X policy (MemoryDenyWriteExecute=yes) refused the JIT. */
		gh_log(LOG_WARNING, "rules: PCRE2 JIT refused (W^X policy, "
		    "e.g. MemoryDenyWriteExecute=yes): %zu regexes run on the "
		    "interpreter, slower with large rule sets (gatehouse(8))",
		    ri->diag.interpreted);
	ri->has_required = rules_required_score(ri->set, &ri->required);
	ri->want_meta = rules_wants_metadata(ri->set);
	/* the Received table is process-wide: compile it here, once,
	 * rather than inside the first message's scan */
	if (ri->want_meta && gh_received_init() == -1)
		gh_log(LOG_WARNING, "rules: the Received expressions do not "
		    "compile: relays are not parsed");
	pthread_mutex_init(&ri->prof_mu, NULL);
	pthread_mutex_init(&ri->pool_mu, NULL);
	atomic_init(&ri->idx, -1);
	if (uri_policy(ri, err, errsz) == -1) {
		regex_teardown(ri);
		return -1;
	}
	if (orig_ip_headers(ri) == -1) {
		snprintf(err, errsz, "out of memory");
		regex_teardown(ri);
		return -1;
	}
	*instp = ri;
	return 0;
}

/* Release the rule set. */
static void
regex_teardown(void *inst)
{
	struct regex_inst	*ri = inst;
	size_t			 i;

	for (i = 0; ri->orig_ip[i] != NULL; i++)
		free(ri->orig_ip[i]);
	rules_set_unref(ri->set);
	rules_diag_free(&ri->diag);
	gh_uri_policy_free(ri->uri_policy);
	pthread_mutex_destroy(&ri->prof_mu);
	for (i = 0; i < ri->npool; i++)
		rules_txn_free(ri->pool[i]);
	pthread_mutex_destroy(&ri->pool_mu);
	free(ri->prof);
	free(ri);
}

/* An engine transaction: a pooled one, else a new one; NULL on error. */
static struct rules_txn *
txn_get(struct regex_inst *ri)
{
	struct rules_txn	*rt = NULL;

	pthread_mutex_lock(&ri->pool_mu);
	if (ri->npool > 0)
		rt = ri->pool[--ri->npool];
	pthread_mutex_unlock(&ri->pool_mu);
	return rt != NULL ? rt : rules_txn_new(ri->set);
}

/* Reset RT and keep it for the next session (free it if the pool is
 * full, or when profiling: a profiled one carries its times). */
static void
txn_put(struct regex_inst *ri, struct rules_txn *rt)
{
	if (rt == NULL)
		return;
	if (ri->prof == NULL) {
		rules_txn_reset(rt);
		pthread_mutex_lock(&ri->pool_mu);
		if (ri->npool < TXN_POOL_MAX) {
			ri->pool[ri->npool++] = rt;
			rt = NULL;
		}
		pthread_mutex_unlock(&ri->pool_mu);
	}
	rules_txn_free(rt);
}

/* Free the header view built at HEADERS. */
static void
free_headers(struct regex_txn *st)
{
	size_t	 i;

	free(st->hdrs);
	free(st->hbuf);
	free(st->parts);
	st->hdrs = NULL;
	st->hbuf = NULL;
	st->parts = NULL;
	st->partcap = 0;
	st->nhdrs = 0;
	gh_relays_free(&st->relays);
	for (i = 0; i < GH_ARRAY_LEN(st->ranges); i++) {
		free(st->ranges[i]);
		st->ranges[i] = NULL;
	}
	free(st->envfrom);
	st->envfrom = NULL;
	free(st->top);
	st->top = NULL;
	st->npseudo = 0;
}

/*
 * At EOM: part 0 (the message's own fields, as header rules see them)
 * and the fields of every MIME part after it, for mimeheader rules.
 */
static int
fill_parts(struct regex_txn *st, struct gh_message *m,
    struct rules_input *in)
{
	const struct gh_part	*gp;
	size_t			 gn, i;

	if (gh_message_parts(m, &gp, &gn) == -1)
		return -1;
	if (gn + 1 > st->partcap) {
		struct rules_part *np = reallocarray(st->parts, gn + 1,
		    sizeof(*np));

		if (np == NULL)
			return -1;
		st->parts = np;
		st->partcap = gn + 1;
	}
	st->parts[0] = in->parts[0];
	/* the MIME parser's node 0 is the message itself: part 0 */
	for (i = 1; i < gn; i++) {
		st->parts[i].headers =
		    (const struct rules_header *)gp[i].fields;
		st->parts[i].nheaders = gp[i].n;
	}
	in->parts = st->parts;
	in->nparts = gn > 1 ? gn : 1;
	return 0;
}

const char *const gh_regex_stage_names[GH_REGEX_STAGES] = {
	"headers", "body text", "rawbody", "full", "uris"
};

/* Monotonic nanoseconds (profiling only). */
static uint64_t
prof_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Charge the time since *T0 to message-model stage S; restart *T0. */
static void
prof_stage(struct regex_inst *ri, enum gh_regex_stage s, uint64_t *t0)
{
	uint64_t	 now;

	if (ri->prof == NULL)
		return;
	now = prof_ns();
	pthread_mutex_lock(&ri->prof_mu);
	ri->prof[rules_count(ri->set) + 1 + s] += now - *t0;
	pthread_mutex_unlock(&ri->prof_mu);
	*t0 = now;
}

/* Add a transaction's rule times to the filter's totals (profiling). */
static void
add_profile(struct regex_inst *ri, const struct rules_txn *rt)
{
	const uint64_t	*p = rules_profile(rt);
	size_t		 i, n = rules_count(ri->set);

	if (p == NULL || ri->prof == NULL)
		return;
	pthread_mutex_lock(&ri->prof_mu);
	for (i = 0; i <= n; i++)	/* n: the prefilter's time */
		ri->prof[i] += p[i];
	pthread_mutex_unlock(&ri->prof_mu);
}

/* Release (or, between messages, recycle) the per-transaction state. */
static void
regex_txn_free(void *inst, struct gh_txn *t, unsigned idx, bool session_end)
{
	struct regex_txn	*st = t->fstate[idx];

	if (st == NULL)
		return;
	free_headers(st);
	if (session_end) {
		add_profile(inst, st->rt);
		txn_put(inst, st->rt);
		free(st->client);
		free(st);
		t->fstate[idx] = NULL;
		return;
	}
	rules_txn_reset(st->rt);
	st->reported = 0;
	st->replay = true;
	st->started = false;
}

/* Whether NAME is one of the four X-Spam-Relays-* pseudo-headers. */
static bool
is_relays_name(const char *name, size_t len)
{
	size_t	 i;

	for (i = 0; i < 4; i++)
		if (strlen(pseudo_names[i]) == len &&
		    strncasecmp(pseudo_names[i], name, len) == 0)
			return true;
	return false;
}

/* Append S without its line ends, as a field's value is unfolded. */
static int
append_unfolded(struct gh_buf *b, const char *s)
{
	const char	*nl;

	while ((nl = strchr(s, '\n')) != NULL) {
		if (gh_buf_append(b, s, (size_t)(nl - s)) == -1)
			return -1;
		s = nl + 1;
	}
	return gh_buf_append(b, s, strlen(s));
}

/*
 * get_all_hdrs_in_rcvd_index_range(START, END) with both ends
 * included: "Name: value\n" for each field from the START-th
 * Received field (0-based) on, up to and including the END-th (-1:
 * no bound).  NULL when empty or on ENOMEM (*ERR set).
 */
static char *
rcvd_range(const struct regex_txn *st, int start, int end, int *err)
{
	struct gh_buf	 b;
	size_t		 i = 0;
	int		 cur = -1;

	gh_buf_init(&b, 0);
	if (st->top != NULL) {
		/* the next MTA's Received field is the 0th */
		cur = 0;
		if (start <= 0 && (gh_buf_append(&b, "Received: ", 10) == -1 ||
		    append_unfolded(&b, st->top) == -1 ||
		    gh_buf_append(&b, "\n", 1) == -1)) {
			gh_buf_free(&b);
			*err = -1;
			return NULL;
		}
		if (end == 0)
			i = st->nhdrs;	/* the range ends with it */
	}
	for (; i < st->nhdrs; i++) {
		const struct rules_header	*h = &st->hdrs[i];
		bool				 in, last = false;

		if (h->name.len == 8 &&
		    strncasecmp(h->name.ptr, "Received", 8) == 0)
			cur++;
		in = (start < 0 || start <= cur) && (end < 0 || cur < end);
		if (!in && end >= 0 && cur == end)
			in = last = true;
		if (in && (gh_buf_append(&b, h->name.ptr, h->name.len) == -1 ||
		    gh_buf_append(&b, ": ", 2) == -1 ||
		    gh_buf_append(&b, h->value.ptr, h->value.len) == -1 ||
		    gh_buf_append(&b, "\n", 1) == -1)) {
			gh_buf_free(&b);
			*err = -1;
			return NULL;
		}
		if (last)
			break;
	}
	if (b.len == 0) {
		gh_buf_free(&b);
		return NULL;
	}
	return gh_buf_steal(&b);
}

/*
 * SpamAssassin's metadata for header rules: the relays (Received.pm),
 * X-Spam-Relays-*, ALL-TRUSTED ... ALL-EXTERNAL and, when SMTP did
 * not give the sender, EnvelopeFrom as get_envelope_from() guesses it.
 */
static int
build_metadata(struct regex_inst *ri, struct regex_txn *st,
    struct gh_txn *t)
{
	int	 err = 0, lt, li;
	size_t	 i;

	/* the proxy: Postfix adds the client's Received after us */
	if (t->env.received_pending && t->env.client_addr != NULL &&
	    (st->top = gh_received_for_client(&t->env,
	    t->cfg->hostname)) == NULL)
		return -1;
	if (gh_relays_message(t->msg, st->top,
	    (const char *const *)ri->orig_ip, &st->relays) == -1)
		return -1;
	lt = st->relays.last_trusted + 1;
	li = st->relays.last_internal + 1;
	st->ranges[0] = rcvd_range(st, -1, lt, &err);
	st->ranges[1] = rcvd_range(st, lt, -1, &err);
	st->ranges[2] = rcvd_range(st, -1, li, &err);
	st->ranges[3] = rcvd_range(st, li, -1, &err);
	if (err)
		return -1;
	st->npseudo = 0;
	for (i = 0; i < NPSEUDO; i++) {
		const char	*v = i < 4 ? st->relays.str[i] :
		    st->ranges[i - 4];

		if (v == NULL)
			continue;	/* no such field: get() finds nothing */
		st->pseudo[st->npseudo].name = (struct rules_text){
		    pseudo_names[i], strlen(pseudo_names[i]) };
		st->pseudo[st->npseudo].value = (struct rules_text){ v,
		    strlen(v) };
		st->npseudo++;
	}
	if (t->env.mail_from == NULL || t->env.mail_from_guessed) {
		st->envfrom = gh_envelope_from_guess(t->msg, &st->relays, &err);
		if (err)
			return -1;
	}
	return 0;
}

/* Build parts[0]: name, raw value with LF line ends, decoded value. */
static int
build_headers(struct regex_txn *st, struct gh_message *m)
{
	size_t	 n = gh_message_nheaders(m), i, j, total = 0, k = 0, o = 0;

	for (i = 0; i < n; i++)
		total += gh_message_header(m, i)->raw_len + 1;
	if ((st->hdrs = calloc(n ? n : 1, sizeof(*st->hdrs))) == NULL ||
	    (st->hbuf = malloc(total + 1)) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		const struct gh_header	*h = gh_message_header(m, i);
		const char		*dec;
		size_t			 dlen = 0;

		if (h->name_len == 0)
			continue;	/* malformed line: not a field */
		/* SpamAssassin deletes these and puts its own values */
		if (h->name_len > 14 &&
		    strncasecmp(h->name, "X-Spam-Relays-", 14) == 0 &&
		    is_relays_name(h->name, h->name_len))
			continue;
		if ((dec = gh_message_header_decoded(m, i, &dlen)) == NULL)
			return -1;
		st->hdrs[k].name.ptr = h->name;
		st->hdrs[k].name.len = h->name_len;
		st->hdrs[k].raw.ptr = st->hbuf + o;
		for (j = 0; j < h->raw_len; j++)
			if (h->raw[j] != '\r')
				st->hbuf[o++] = h->raw[j];
		st->hbuf[o++] = '\n';
		st->hdrs[k].raw.len = (size_t)(st->hbuf + o -
		    st->hdrs[k].raw.ptr);
		st->hdrs[k].value.ptr = dec;
		st->hdrs[k].value.len = dlen;
		k++;
	}
	st->nhdrs = k;
	return 0;
}

/* Fill what the engine may look at for `stage`. */
static int
fill_input(struct regex_inst *ri, struct regex_txn *st,
    struct gh_txn *t, enum gh_stage stage, struct rules_input *in,
    struct rules_part *part)
{
	const struct gh_envelope	*e = &t->env;
	struct gh_message		*m = t->msg;
	const struct gh_text		*tx;
	size_t				 n, hlen;
	uint64_t			 t0;

	memset(in, 0, sizeof(*in));
	if (st->client == NULL && e->client_addr &&
	    asprintf(&st->client, "%s [%s]", e->client_name ?
	    e->client_name : "unknown", e->client_addr) == -1) {
		st->client = NULL;
		return -1;
	}
	if (st->client)
		in->client = (struct rules_text){ st->client,
		    strlen(st->client) };
	if (e->helo)
		in->helo = (struct rules_text){ e->helo, strlen(e->helo) };
	if (e->mail_from) {
		in->mailfrom = (struct rules_text){ e->mail_from,
		    strlen(e->mail_from) };
		in->envelope_from = in->mailfrom;
	}
	if (e->auth_user)
		in->auth = (struct rules_text){ e->auth_user,
		    strlen(e->auth_user) };
	if (e->nrcpts)
		in->rcpt = (struct rules_text){ e->rcpts[e->nrcpts - 1],
		    strlen(e->rcpts[e->nrcpts - 1]) };
	in->decode_words = gh_message_decode_words;
	if (stage < GH_STAGE_HEADERS || m == NULL)
		return 0;
	gh_message_set_uri_policy(m, ri->uri_policy);
	t0 = ri->prof != NULL ? prof_ns() : 0;
	if (st->hdrs == NULL && (build_headers(st, m) == -1 ||
	    (ri->want_meta && build_metadata(ri, st, t) == -1)))
		return -1;
	in->pseudo = st->pseudo;
	in->npseudo = st->npseudo;
	if (e->mail_from == NULL || e->mail_from_guessed)
		in->envelope_from = st->envfrom != NULL ? (struct rules_text){
		    st->envfrom, strlen(st->envfrom) } :
		    (struct rules_text){ NULL, 0 };
	prof_stage(ri, GH_RS_HEADERS, &t0);
	part->headers = st->hdrs;
	part->nheaders = st->nhdrs;
	in->parts = part;
	in->nparts = 1;
	in->header_block.ptr = gh_message_header_bytes(m, &hlen);
	/* Without the empty line that ends the header section. */
	if (hlen >= 2 && in->header_block.ptr[hlen - 1] == '\n' &&
	    (hlen == 2 || in->header_block.ptr[hlen - 3] == '\n' ||
	    in->header_block.ptr[hlen - 2] == '\n'))
		hlen -= in->header_block.ptr[hlen - 2] == '\r' ? 2 : 1;
	in->header_block.len = hlen;
	if (stage < GH_STAGE_EOM)
		return 0;
	t0 = ri->prof != NULL ? prof_ns() : 0;
	if (gh_message_body_text(m, &tx, &n) == -1)
		return -1;
	prof_stage(ri, GH_RS_BODY, &t0);
	in->body = (const struct rules_text *)tx;
	in->nbody = n;
	if (gh_message_rawbody(m, &tx, &n) == -1)
		return -1;
	prof_stage(ri, GH_RS_RAWBODY, &t0);
	in->rawbody = (const struct rules_text *)tx;
	in->nrawbody = n;
	if (gh_message_full(m, &in->full.ptr, &in->full.len) == -1)
		return -1;
	prof_stage(ri, GH_RS_FULL, &t0);
	if (gh_message_uris(m, &tx, &n) == -1)
		return -1;
	prof_stage(ri, GH_RS_URIS, &t0);
	if (fill_parts(st, m, in) == -1)
		return -1;
	in->uris = (const struct rules_text *)tx;
	in->nuris = n;
	return 0;
}

/* Parse "550 5.7.1 text" from a rule's action into a reply. */
static bool
parse_reply(const char *s, struct gh_reply_conf *rc)
{
	size_t	 n;

	if (s == NULL || !isdigit((unsigned char)s[0]) ||
	    !isdigit((unsigned char)s[1]) || !isdigit((unsigned char)s[2]) ||
	    s[3] != ' ')
		return false;
	rc->code = atoi(s);
	s += 4;
	n = strspn(s, "0123456789.");
	if (n >= 5 && n < sizeof(rc->status) && (s[n] == ' ' || !s[n])) {
		memcpy(rc->status, s, n);
		rc->status[n] = '\0';
		s += n;
	} else
		snprintf(rc->status, sizeof(rc->status), "%c.7.1",
		    rc->code >= 500 ? '5' : '4');
	while (*s == ' ')
		s++;
	rc->text = (char *)s;
	return true;
}

/* Report new hits to the chain; return the score they add. */
static double
report_hits(struct regex_txn *st, struct gh_txn *t)
{
	const struct rules_hit	*h;
	size_t			 n, i;
	double			 score = 0;

	h = rules_hits(st->rt, &n);
	for (i = st->reported; i < n; i++) {
		if (h[i].sub)
			continue;
		if (st->replay && h[i].stage < RULES_STAGE_MAIL)
			continue;	/* reported in the first message */
		gh_txn_hit(t, h[i].name, h[i].score, h[i].match,
		    h[i].match_len, h[i].shadow);
		if (h[i].shadow) {
			if (h[i].action != RULES_A_NONE)
				gh_log_session(LOG_NOTICE, t->env.session_id,
				    "shadow rule=%s would=%s score=%.1f",
				    h[i].name, rules_action_name(h[i].action),
				    h[i].score);
		} else
			score += h[i].score;
	}
	st->reported = n;
	return score;
}

/* Log each rule that stopped at a match limit, once per rule set. */
static void
log_limits(struct regex_txn *st, struct gh_txn *t)
{
	const struct rules_limit	*l;
	size_t				 n, i;

	l = rules_limits(st->rt, &n);
	for (i = 0; i < n; i++)
		if (l[i].first)
			gh_log_session(LOG_WARNING, t->env.session_id,
			    "rule=%s stopped at its match limit (pcre2 error "
			    "%d): counted as no match", l[i].name,
			    l[i].error);
}

/* Run the rules of one stage. */
static int
regex_run(void *inst, struct gh_txn *t, unsigned idx, enum gh_stage stage,
    struct gh_verdict *v)
{
	struct regex_inst	*ri = inst;
	struct regex_txn	*st = t->fstate[idx];
	struct rules_input	 in;
	struct rules_part	 part;
	struct rules_verdict	 rv;
	struct gh_reply_conf	 rc;
	const struct gh_reply_conf *def;

	if (st == NULL) {
		atomic_store(&ri->idx, (int)idx);
		if ((st = calloc(1, sizeof(*st))) == NULL ||
		    (st->rt = txn_get(ri)) == NULL) {
			free(st);
			return -1;
		}
		if (ri->prof != NULL && rules_txn_profile(st->rt, true) == -1) {
			rules_txn_free(st->rt);
			free(st);
			return -1;
		}
		t->fstate[idx] = st;
	}
	if (st->started && stage <= st->last && stage < GH_STAGE_MAIL) {
		/* HELO/EHLO again before a MAIL (as after STARTTLS, RFC 3207
		   4.2): the engine only goes forward, so it starts over; the
		   session's first report of these stages stands. */
		rules_txn_reset(st->rt);
		st->reported = 0;
		st->replay = true;
	}
	st->started = true;
	st->last = stage;
	if (fill_input(ri, st, t, stage, &in, &part) == -1 ||
	    rules_eval(st->rt, (enum rules_stage)stage, &in, &rv) == -1) {
		v->reason = strdup("rules: evaluation failed");
		return -1;
	}
	v->score = report_hits(st, t);
	log_limits(st, t);
	switch (rv.action) {
	case RULES_A_REJECT:
	case RULES_A_TEMPFAIL:
		def = rv.action == RULES_A_REJECT ?
		    &t->cfg->rules_reject_reply : &t->cfg->rules_tempfail_reply;
		if (!parse_reply(rv.reply, &rc))
			rc = *def;
		gh_verdict_refuse(v, t, rv.action == RULES_A_REJECT ?
		    GH_REJECT : GH_TEMPFAIL, &rc, rv.rule, "rule %s",
		    rv.rule ? rv.rule : "?");
		break;
	case RULES_A_ACCEPT:
		v->action = GH_ACCEPT;
		break;
	case RULES_A_DISCARD:
		v->action = GH_DISCARD;
		break;
	case RULES_A_TAG:
		v->action = GH_TAG;
		break;
	default:
		break;
	}
	return 0;
}

/* Print what the load found and run the self-tests (gatehouse check). */
static void
print_note(void *arg, const char *msg)
{
	fprintf(arg, "gatehouse: %s\n", msg);
}

static int
regex_check(void *inst, FILE *fp)
{
	struct regex_inst	*ri = inst;
	struct rules_diag	*d = &ri->diag;
	size_t			 i, ran = 0, skipped = 0, failed;

	for (i = 0; i < d->nnotes; i++)
		fprintf(fp, "gatehouse: %s\n", d->notes[i].text);
	fprintf(fp, "rules: %zu rules from %zu files:", rules_count(ri->set),
	    d->files);
	for (i = 0; i < RULES_T_COUNT; i++)
		if (d->by_type[i])
			fprintf(fp, " %s %zu", rules_type_name(i),
			    d->by_type[i]);
	fprintf(fp, "; eval: rules skipped %zu; warnings %zu; "
	    "regexes jit %zu, interpreted %zu; prefilter holds %zu\n",
	    d->eval_skipped, d->warnings, d->jit, d->interpreted,
	    d->prefiltered);
	failed = rules_selftest(ri->set, print_note, fp, &ran, &skipped);
	fprintf(fp, "rules: self-tests: %zu ran, %zu failed, %zu skipped\n",
	    ran, failed, skipped);
	return (int)failed;
}

/* The tag threshold the rule files set with required_score. */
static bool
regex_threshold(void *inst, double *tag)
{
	struct regex_inst	*ri = inst;

	if (ri->has_required)
		*tag = ri->required;
	return ri->has_required;
}

/* The rule set of a chain's rules filter. */
const struct rules_set *
gh_regex_rules(const struct gh_chain *c)
{
	const struct regex_inst	*ri = gh_chain_instance(c, "rules");

	return ri != NULL ? ri->set : NULL;
}

/* Every hit of a transaction's rules, sub-rules included, or NULL. */
const struct rules_hit *
gh_regex_txn_hits(const struct gh_txn *t, size_t *n)
{
	const struct regex_inst	*ri = gh_chain_instance(t->chain, "rules");
	const struct regex_txn	*st;
	int			 idx;

	*n = 0;
	if (ri == NULL || (idx = atomic_load(&ri->idx)) < 0 ||
	    (st = t->fstate[idx]) == NULL)
		return NULL;
	return rules_hits(st->rt, n);
}

/* Turn per-rule profiling on for the transactions to come. */
int
gh_regex_profile_on(struct gh_chain *c)
{
	struct regex_inst	*ri = gh_chain_instance(c, "rules");

	if (ri == NULL)
		return -1;
	if (ri->prof == NULL && (ri->prof = calloc(rules_count(ri->set) + 1 +
	    GH_REGEX_STAGES, sizeof(*ri->prof))) == NULL)
		return -1;
	return 0;
}

/* Per-rule nanoseconds of the transactions ended so far, or NULL. */
const uint64_t *
gh_regex_profile(const struct gh_chain *c)
{
	const struct regex_inst	*ri = gh_chain_instance(c, "rules");

	return ri != NULL ? ri->prof : NULL;
}

const struct gh_filter gh_filter_rules = {
	.name = "rules",
	.stages = 0x3f,
	.may_block = false,
	.setup = regex_setup,
	.teardown = regex_teardown,
	.run = regex_run,
	.txn_free = regex_txn_free,
	.check = regex_check,
	.threshold = regex_threshold,
};
