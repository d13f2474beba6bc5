/*
 * spf.c — SPF checks (RFC 7208) on libspf2, over the process resolver.
 *
 * Owns: libspf2's server object (one per filter instance, read-only
 * once built), a custom libspf2 DNS layer that asks gh_dns for TXT,
 * A, AAAA, MX and PTR records only, and the per-check state that the
 * layer keeps: the RFC 7208 4.6.4 counters (DNS-querying terms across
 * include and redirect, void lookups, MX and PTR records), the
 * deadline, the record checker's verdict (spf_record.c) and the
 * explanation.
 *
 * libspf2 calls the layer without a user pointer, so the state of the
 * check running on a thread is found through a thread-local pointer,
 * set for the duration of one evaluation only.
 *
 * Where libspf2 is wrong the layer decides: it selects the record
 * itself (TXT only, exactly one "v=spf1"), hands libspf2 the checker's
 * rewritten record, stops the evaluation when a limit is exceeded (it
 * answers TRY_AGAIN so that libspf2 unwinds, and the result becomes
 * permerror), gives loopback clients no free pass, and fetches the
 * explanation itself once the result is known to be fail.
 *
 * Guards for libspf2's macro expander (CVE-2021-33912 and -33913 are
 * fixed in Debian's 1.2.10-7.1, CVE-2021-20314 too, CVE-2023-42118 is
 * not): only printable ASCII reaches it (sender local-part and HELO
 * sanitised and capped, domains validated, records and explanations
 * with other bytes refused, PTR names filtered by dns.c), and the
 * checker caps records, terms and macros (spf_int.h).
 *
 * Failure: DNS trouble is temperror, never an accept; out of memory is
 * temperror; a broken libspf2 invariant aborts (its error handler).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <spf2/spf.h>
#include <spf2/spf_dns.h>

#include "filters/chain.h"
#include "filters/log.h"
#include "filters/spf.h"
#include "filters/spf_int.h"
#include "filters/util.h"

#define EXP_SENTINEL	"\x01gh-exp"
#define DEFAULT_EXP	"%{o}%_does%_not%_designate%_%{c}%_as%_permitted%_sender"

struct gh_spf {
	struct gh_dns		*dns;
	SPF_server_t		*server;
	SPF_dns_server_t	*layer;
	uint64_t		 timeout_ms;
	uint64_t		 budget_ms;
	char			*receiver;
	const struct gh_config	*cfg;
};

enum top_status { TOP_OK, TOP_NONE, TOP_PERMERROR, TOP_TEMPERROR };

/* The state of one identity's evaluation. */
struct state {
	struct gh_spf		*spf;
	struct gh_dns_check	*dns;
	SPF_request_t		*req;
	struct gh_spf_identity	*id;
	int			 family;
	uint8_t			 client[16];
	bool			 top_done;
	enum top_status		 top;
	bool			 limit;		/* a limit was exceeded */
	bool			 in_exp;	/* fetching the explanation */
	char			*pending[SPF_MAX_MX];
	size_t			 npending, ipending;
	bool			 pending_ptr;	/* they came from a PTR */
	char			*exp_domain;
	char			*exp_cur_dom;
	char			*chunks[SPF_MAX_CHUNKS];
	unsigned		 nchunks;
};

static __thread struct state *current;

/* Note why the evaluation ends in an error (first reason wins). */
static void
problem(struct state *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
problem(struct state *st, const char *fmt, ...)
{
	va_list	 ap;

	if (st->id->problem[0])
		return;
	va_start(ap, fmt);
	vsnprintf(st->id->problem, sizeof(st->id->problem), fmt, ap);
	va_end(ap);
}

/* A limit of RFC 7208 4.6.4 was exceeded: permerror, stop asking. */
static void
exceed(struct state *st, const char *what)
{
	if (!st->limit)
		problem(st, "%s", what);
	st->limit = true;
}

/* Forget the names an MX or PTR answer announced. */
static void
pending_clear(struct state *st)
{
	size_t	 i;

	for (i = 0; i < st->npending; i++)
		free(st->pending[i]);
	st->npending = st->ipending = 0;
}

/*
 * Tell whether an address query is one of the follow-up lookups of the
 * last mx or ptr term (libspf2 asks them in answer order) rather than a
 * term of its own.
 */
static bool
is_followup(struct state *st, const char *name)
{
	if (st->ipending < st->npending &&
	    strcasecmp(st->pending[st->ipending], name) == 0) {
		st->ipending++;
		return true;
	}
	pending_clear(st);
	return false;
}

/*
 * RFC 7208 7.3: an expanded name longer than 253 characters loses
 * labels on the left until it fits.  Returns `name` or `buf`.
 */
static const char *
fit_name(const char *name, char *buf, size_t bufsz)
{
	const char	*p = name;
	size_t		 len = strlen(name);

	if (len && name[len - 1] == '.')
		len--;
	while (len > SPF_MAX_DOMAIN) {
		const char *dot = memchr(p, '.', len);

		if (dot == NULL)
			break;
		len -= (size_t)(dot + 1 - p);
		p = dot + 1;
	}
	snprintf(buf, bufsz, "%.*s", (int)len, p);
	return p == name ? name : buf;
}

/* Strip a /0 marker label; return the marker's families (4, 6, 46). */
static int
strip_marker(const char **name)
{
	static const struct { const char *m; int fam; } marks[] = {
		{ SPF_MARK46 ".", 46 }, { SPF_MARK4 ".", 4 },
		{ SPF_MARK6 ".", 6 } };
	size_t	 i, l;

	for (i = 0; i < GH_ARRAY_LEN(marks); i++) {
		l = strlen(marks[i].m);
		if (strncasecmp(*name, marks[i].m, l) == 0) {
			*name += l;
			return marks[i].fam;
		}
	}
	return 0;
}

/* A libspf2 answer with no records. */
static SPF_dns_rr_t *
rr_empty(SPF_dns_server_t *l, const char *domain, ns_type type, int herrno)
{
	return SPF_dns_rr_new_init(l, domain, type, 0, herrno);
}

/* Add one name to a libspf2 answer. */
static int
rr_add_name(SPF_dns_rr_t *rr, const char *name)
{
	size_t	 len = strlen(name) + 1;

	if (SPF_dns_rr_buf_realloc(rr, rr->num_rr, len) != SPF_E_SUCCESS)
		return -1;
	memcpy(rr->rr[rr->num_rr]->ptr, name, len);
	rr->num_rr++;
	return 0;
}

/* Add one address to a libspf2 answer. */
static int
rr_add_addr(SPF_dns_rr_t *rr, int family, const uint8_t *addr)
{
	size_t	 len = family == AF_INET ? 4 : 16;

	if (SPF_dns_rr_buf_realloc(rr, rr->num_rr, sizeof(struct in6_addr)) !=
	    SPF_E_SUCCESS)
		return -1;
	memcpy(family == AF_INET ? (void *)&rr->rr[rr->num_rr]->a :
	    (void *)&rr->rr[rr->num_rr]->aaaa, addr, len);
	rr->num_rr++;
	return 0;
}

/* Map a gh_dns status to libspf2's h_errno. */
static int
herrno_of(enum gh_dns_status s)
{
	switch (s) {
	case GH_DNS_OK:
		return NETDB_SUCCESS;
	case GH_DNS_NODATA:
		return NO_DATA;
	case GH_DNS_NXDOMAIN:
	case GH_DNS_BADNAME:
		return HOST_NOT_FOUND;
	default:
		return TRY_AGAIN;
	}
}

/* Turn an answer into libspf2's form (MX names get `mark` back). */
static SPF_dns_rr_t *
convert(struct state *st, SPF_dns_server_t *l, const char *domain,
    ns_type type, const struct gh_dns_answer *a, const char *mark,
    int synth)
{
	SPF_dns_rr_t	*rr;
	char		 buf[300];
	size_t		 i, max = a->n;

	rr = SPF_dns_rr_new_init(l, domain, type, (int)a->ttl,
	    herrno_of(a->status));
	if (rr == NULL || a->status != GH_DNS_OK)
		return rr;
	if (synth) {
		/* a/mx with /0: any address of the host matches. */
		if (rr_add_addr(rr, st->family, st->client) == -1)
			goto oom;
		return rr;
	}
	if (type == ns_t_ptr && max > SPF_MAX_PTR)
		max = SPF_MAX_PTR;	/* RFC 7208 4.6.4: ignore the rest */
	for (i = 0; i < max; i++) {
		const struct gh_dns_rr *r = &a->rr[i];

		switch (type) {
		case ns_t_a:
		case ns_t_aaaa:
			if (r->family && rr_add_addr(rr, r->family,
			    r->addr) == -1)
				goto oom;
			break;
		case ns_t_mx:
		case ns_t_ptr:
			if (r->text == NULL)
				break;
			if (mark && (size_t)snprintf(buf, sizeof(buf),
			    "%s.%s", mark, r->text) > SPF_MAX_DOMAIN)
				break;
			if (rr_add_name(rr, mark ? buf : r->text) == -1)
				goto oom;
			if (st->npending < SPF_MAX_MX)
				st->pending[st->npending++] = strdup(mark ?
				    buf : r->text);
			break;
		default:
			break;
		}
	}
	if (rr->num_rr == 0)
		rr->herrno = NO_DATA;
	return rr;
oom:
	SPF_dns_rr_free(rr);
	return rr_empty(l, domain, type, TRY_AGAIN);
}

/* The layer's lookup: A, AAAA, MX, PTR (and TXT, unused) via gh_dns. */
static SPF_dns_rr_t *
layer_lookup(SPF_dns_server_t *l, const char *domain, ns_type type,
    int should_cache)
{
	struct state		*st = current;
	struct gh_dns_answer	 a;
	char			 fitted[SPF_MAX_DOMAIN + 2];
	const char		*name = fit_name(domain, fitted, sizeof(fitted));
	const char		*mark = NULL;
	SPF_dns_rr_t		*rr;
	int			 fam, synth = 0;
	bool			 term, ptr_part;

	if (st == NULL || st->limit)
		return rr_empty(l, domain, type, TRY_AGAIN);
	if (type != ns_t_a && type != ns_t_aaaa && type != ns_t_mx &&
	    type != ns_t_ptr)
		return rr_empty(l, domain, type, NO_DATA);
	if (type == ns_t_mx || type == ns_t_ptr) {
		pending_clear(st);
		term = true;
		ptr_part = st->pending_ptr = type == ns_t_ptr;
	} else {
		term = !is_followup(st, domain);
		ptr_part = !term && st->pending_ptr;
	}
	if (term && !st->in_exp && ++st->id->terms > SPF_MAX_DNS_TERMS) {
		exceed(st, "more than 10 DNS-querying terms");
		return rr_empty(l, domain, type, TRY_AGAIN);
	}
	if ((fam = strip_marker(&name)) != 0) {
		if (type == ns_t_mx)
			mark = fam == 46 ? SPF_MARK46 : fam == 4 ? SPF_MARK4 :
			    SPF_MARK6;
		else if ((type == ns_t_a && fam != 6) ||
		    (type == ns_t_aaaa && fam != 4))
			synth = 1;
	}
	gh_dns_check_query(st->dns, name, type, &a);
	if (ptr_part && gh_dns_status_temporary(a.status) &&
	    !st->dns->budget_spent) {
		/* RFC 7208 5.5: a DNS error on the PTR lookup is no match,
		   on a name's address lookup skips the name. */
		gh_dns_answer_free(&a);
		return rr_empty(l, domain, type, NO_DATA);
	}
	if (gh_dns_status_temporary(a.status))
		problem(st, "DNS %s %s: %s", gh_dns_type_name(type), name,
		    gh_dns_status_name(a.status));
	if (term && !st->in_exp && (a.status == GH_DNS_NXDOMAIN ||
	    a.status == GH_DNS_NODATA) && ++st->id->voids > SPF_MAX_VOID) {
		gh_dns_answer_free(&a);
		exceed(st, "more than 2 void lookups");
		return rr_empty(l, domain, type, TRY_AGAIN);
	}
	if (type == ns_t_mx && a.status == GH_DNS_OK && a.n > SPF_MAX_MX &&
	    !st->in_exp) {
		gh_dns_answer_free(&a);
		exceed(st, "mx with more than 10 records");
		return rr_empty(l, domain, type, TRY_AGAIN);
	}
	rr = convert(st, l, domain, type, &a, mark, synth);
	gh_dns_answer_free(&a);
	return rr ? rr : rr_empty(l, domain, type, TRY_AGAIN);
}

/* Pick the one SPF record of a TXT answer, check and compile it. */
static SPF_errcode_t
select_record(struct state *st, SPF_response_t *resp, const char *domain,
    const struct gh_dns_answer *a, SPF_record_t **recp, bool top)
{
	const struct gh_dns_rr	*found = NULL;
	struct spf_rec		 r;
	SPF_errcode_t		 err;
	size_t			 i, n = 0;

	for (i = 0; i < a->n; i++)
		if (a->rr[i].text && spf__is_record(a->rr[i].text,
		    a->rr[i].textlen)) {
			found = &a->rr[i];
			n++;
		}
	if (n == 0) {
		if (top)
			st->top = TOP_NONE;
		problem(st, "no SPF record at %s", domain);
		return SPF_response_add_error(resp, SPF_E_NOT_SPF,
		    "No SPF record for '%s'", domain);
	}
	if (top)
		st->top = TOP_PERMERROR;
	if (n > 1) {
		problem(st, "%zu SPF records at %s", n, domain);
		return SPF_response_add_error(resp, SPF_E_MULTIPLE_RECORDS,
		    "Multiple SPF records for '%s'", domain);
	}
	if (spf__record_check(found->text, found->textlen, st->nchunks,
	    &r) == -1 || st->nchunks + r.nchunks > SPF_MAX_CHUNKS) {
		problem(st, "%s: %s", domain, r.rewritten ?
		    "too many large records" : r.err);
		spf__rec_free(&r);
		return SPF_response_add_error(resp, SPF_E_SYNTAX,
		    "Bad SPF record for '%s'", domain);
	}
	memcpy(st->chunks + st->nchunks, r.chunks, r.nchunks *
	    sizeof(r.chunks[0]));
	st->nchunks += r.nchunks;
	r.nchunks = 0;		/* the state owns them now */
	err = SPF_record_compile(st->spf->server, resp, recp, r.rewritten);
	spf__rec_free(&r);
	if (err != SPF_E_SUCCESS) {
		problem(st, "%s: libspf2 cannot compile the record (%s)",
		    domain, SPF_strerror(err));
		if (*recp)
			SPF_record_free(*recp);
		*recp = NULL;
		return err == SPF_E_DNS_ERROR ? SPF_E_SYNTAX : err;
	}
	if (top)
		st->top = TOP_OK;
	return SPF_E_SUCCESS;
}

/* A chunk record (spf_int.h): compiled from memory, no DNS.  Returns
   SPF_E_RESULT_UNKNOWN when `domain` is not a chunk name. */
static SPF_errcode_t
chunk_record(struct state *st, SPF_response_t *resp, const char *domain,
    SPF_record_t **recp)
{
	unsigned	 n;
	char		 name[64];

	if (strncasecmp(domain, "_gh-c", 5) != 0 ||
	    sscanf(domain + 5, "%u", &n) != 1 || n >= st->nchunks)
		return SPF_E_RESULT_UNKNOWN;
	snprintf(name, sizeof(name), SPF_CHUNK_FMT, n);
	if (strcasecmp(name, domain) != 0)
		return SPF_E_RESULT_UNKNOWN;
	return SPF_record_compile(st->spf->server, resp, recp,
	    st->chunks[n]);
}

/* The layer's get_spf: the record of request->cur_dom (top, include,
   redirect). */
static SPF_errcode_t
layer_get_spf(SPF_server_t *server, SPF_request_t *req, SPF_response_t *resp,
    SPF_record_t **recp)
{
	struct state		*st = current;
	struct gh_dns_answer	 a;
	char			 fitted[SPF_MAX_DOMAIN + 2];
	const char		*domain = fit_name(req->cur_dom, fitted,
				    sizeof(fitted));
	SPF_errcode_t		 err;
	bool			 top;

	*recp = NULL;
	if (st == NULL)
		return SPF_response_add_error(resp, SPF_E_DNS_ERROR, "no state");
	top = !st->top_done;
	st->top_done = true;
	if (top)
		st->top = TOP_TEMPERROR;
	pending_clear(st);
	if (st->limit)
		return SPF_response_add_error(resp, SPF_E_DNS_ERROR, "limit");
	if (!top && (err = chunk_record(st, resp, domain, recp)) !=
	    SPF_E_RESULT_UNKNOWN)
		return err;
	if (!top && ++st->id->terms > SPF_MAX_DNS_TERMS) {
		exceed(st, "more than 10 DNS-querying terms");
		return SPF_response_add_error(resp, SPF_E_DNS_ERROR, "limit");
	}
	gh_dns_check_query(st->dns, domain, GH_DNS_TXT, &a);
	switch (a.status) {
	case GH_DNS_OK:
		err = select_record(st, resp, domain, &a, recp, top);
		break;
	case GH_DNS_NXDOMAIN:
	case GH_DNS_NODATA:
	case GH_DNS_BADNAME:
		if (top)
			st->top = TOP_NONE;
		problem(st, "no SPF record at %s (%s)", domain,
		    gh_dns_status_name(a.status));
		err = SPF_response_add_error(resp, SPF_E_NOT_SPF,
		    "No SPF record for '%s'", domain);
		break;
	default:
		problem(st, "DNS TXT %s: %s", domain,
		    gh_dns_status_name(a.status));
		err = SPF_response_add_error(resp, SPF_E_DNS_ERROR,
		    "DNS failure for '%s'", domain);
		break;
	}
	gh_dns_answer_free(&a);
	return err;
}

/* The layer's get_exp: remember the exp= domain; fetched at the end,
   only for a fail (RFC 7208 6.2). */
static SPF_errcode_t
layer_get_exp(SPF_server_t *server, const char *domain, char **bufp,
    size_t *buflenp)
{
	struct state	*st = current;
	size_t		 need = sizeof(EXP_SENTINEL);

	if (st) {
		free(st->exp_domain);
		free(st->exp_cur_dom);
		st->exp_domain = strdup(domain);
		st->exp_cur_dom = st->req->cur_dom ?
		    strdup(st->req->cur_dom) : NULL;
	}
	if (*buflenp < need) {
		char *n = realloc(*bufp, need);

		if (n == NULL)
			return SPF_E_NO_MEMORY;
		*bufp = n;
		*buflenp = need;
	}
	memcpy(*bufp, EXP_SENTINEL, need);
	return SPF_E_SUCCESS;
}

/* libspf2's own layer destructor: the layer is ours, freed with us. */
static void
layer_destroy(SPF_dns_server_t *l)
{
	(void)l;
}

/* libspf2 log handlers. */
static void	spf_log_error(const char *, int, const char *)
		    __attribute__((noreturn));

static void
spf_log_error(const char *file, int line, const char *msg)
{
	gh_panic("libspf2: %s:%d: %s", file ? file : "?", line, msg);
}

static void
spf_log_warning(const char *file, int line, const char *msg)
{
	log_debug("libspf2: %s", msg);
}

/* Install the log handlers once per process. */
static void
spf_log_init(void)
{
	SPF_error_handler = spf_log_error;
	SPF_warning_handler = spf_log_warning;
	SPF_info_handler = spf_log_warning;
	SPF_debug_handler = spf_log_warning;
}

/* Build an instance. */
struct gh_spf *
gh_spf_new(const struct gh_config *cfg, char *err, size_t errsz)
{
	static pthread_once_t	 once = PTHREAD_ONCE_INIT;
	struct gh_spf		*s;
	SPF_response_t		*resp = NULL;

	pthread_once(&once, spf_log_init);
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->layer = calloc(1, sizeof(*s->layer))) == NULL) {
		free(s);
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	s->cfg = cfg;
	s->timeout_ms = cfg->dns_timeout_ms;
	s->budget_ms = cfg->dns_budget_ms;
	s->receiver = strdup(cfg->hostname);
	s->layer->destroy = layer_destroy;
	s->layer->lookup = layer_lookup;
	s->layer->get_spf = layer_get_spf;
	s->layer->get_exp = layer_get_exp;
	s->layer->name = "gatehouse";
	if ((s->dns = gh_dns_acquire(cfg, err, errsz)) == NULL)
		goto fail;
	if ((s->server = SPF_server_new_dns(s->layer, 0)) == NULL) {
		snprintf(err, errsz, "libspf2: cannot create a server");
		goto fail;
	}
	/* Our own checks cover what libspf2's limits would; its
	   counters restart inside include and are not RFC 7208's. */
	SPF_server_set_max_dns_mech(s->server, 100);
	SPF_server_set_max_dns_mx(s->server, SPF_MAX_MX);
	SPF_server_set_max_dns_ptr(s->server, SPF_MAX_PTR);
	SPF_server_set_rec_dom(s->server, cfg->hostname);
	if (SPF_server_set_explanation(s->server, DEFAULT_EXP, &resp) !=
	    SPF_E_SUCCESS) {
		snprintf(err, errsz, "libspf2: bad default explanation");
		SPF_response_free(resp);
		goto fail;
	}
	SPF_response_free(resp);
	return s;
fail:
	gh_spf_free(s);
	return NULL;
}

/* Free an instance. */
void
gh_spf_free(struct gh_spf *s)
{
	if (s == NULL)
		return;
	if (s->server)
		SPF_server_free(s->server);	/* calls layer_destroy */
	free(s->layer);
	gh_dns_release(s->dns);
	free(s->receiver);
	free(s);
}

/* Expand a compiled macro for the request into a malloc'd string. */
static char *
expand_macro(struct gh_spf *s, SPF_request_t *req, SPF_macro_t *mac)
{
	SPF_response_t	*resp;
	char		*buf = NULL;
	size_t		 buflen = 0;
	SPF_errcode_t	 err;

	if ((resp = SPF_response_new(req)) == NULL)
		return NULL;
	err = SPF_record_expand_data(s->server, req, resp,
	    (SPF_data_t *)((char *)mac + sizeof(*mac)), mac->macro_len, &buf,
	    &buflen);
	SPF_response_free(resp);
	if (err != SPF_E_SUCCESS) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The explanation of a fail: the exp= TXT record when it is usable,
   else the default (RFC 7208 6.2). */
static void
explain(struct state *st)
{
	struct gh_dns_answer	 a;
	SPF_response_t		*resp;
	SPF_macro_t		*mac = NULL;
	const char		*saved = st->req->cur_dom;
	char			*text = NULL;

	char			 fitted[SPF_MAX_DOMAIN + 2];

	st->in_exp = true;
	st->limit = false;		/* lookups for %{p} may go on */
	memset(&a, 0, sizeof(a));
	if (st->exp_domain && gh_dns_check_query(st->dns, fit_name(
	    st->exp_domain, fitted, sizeof(fitted)), GH_DNS_TXT, &a) ==
	    GH_DNS_OK && a.n == 1 && a.rr[0].text &&
	    spf__exp_check(a.rr[0].text, a.rr[0].textlen) == 0 &&
	    (resp = SPF_response_new(st->req)) != NULL) {
		char	 spaced[SPF_MAX_EXP * 2 + 1];
		size_t	 i, o = 0;

		/* libspf2's macro compiler stops at spaces: spell them
		   "%_", which the expander turns back into spaces. */
		for (i = 0; i < a.rr[0].textlen; i++)
			if (a.rr[0].text[i] == ' ') {
				spaced[o++] = '%';
				spaced[o++] = '_';
			} else
				spaced[o++] = a.rr[0].text[i];
		spaced[o] = '\0';
		spf__macro_normalize(spaced);
		if (SPF_record_compile_macro(st->spf->server, resp, &mac,
		    spaced) == SPF_E_SUCCESS) {
			if (st->exp_cur_dom)
				st->req->cur_dom = st->exp_cur_dom;
			text = expand_macro(st->spf, st->req, mac);
			st->req->cur_dom = saved;
		}
		if (mac)
			SPF_macro_free(mac);
		SPF_response_free(resp);
	}
	gh_dns_answer_free(&a);
	/* RFC 3986 2.1: percent-encodings in upper case (libspf2 writes
	   "%3d"). */
	for (char *p = text; p && *p; p++)
		if (p[0] == '%' && isxdigit((unsigned char)p[1]) &&
		    isxdigit((unsigned char)p[2])) {
			p[1] = (char)toupper((unsigned char)p[1]);
			p[2] = (char)toupper((unsigned char)p[2]);
			p += 2;
		}
	st->id->exp_default = text == NULL;
	if (text == NULL && st->spf->server->explanation)
		text = expand_macro(st->spf, st->req,
		    st->spf->server->explanation);
	st->id->explanation = text;
}

/* Map a libspf2 result. */
static enum gh_spf_result
map_result(SPF_result_t r, SPF_errcode_t err)
{
	switch (r) {
	case SPF_RESULT_PASS: return GH_SPF_PASS;
	case SPF_RESULT_FAIL: return GH_SPF_FAIL;
	case SPF_RESULT_SOFTFAIL: return GH_SPF_SOFTFAIL;
	case SPF_RESULT_NEUTRAL: return GH_SPF_NEUTRAL;
	case SPF_RESULT_NONE: return GH_SPF_NONE;
	case SPF_RESULT_TEMPERROR: return GH_SPF_TEMPERROR;
	case SPF_RESULT_PERMERROR: return GH_SPF_PERMERROR;
	default:
		/* libspf2 left it unset: an error it did not finish. */
		return err == SPF_E_DNS_ERROR || err == SPF_E_NO_MEMORY ?
		    GH_SPF_TEMPERROR : GH_SPF_PERMERROR;
	}
}

/* Set the client address of a request (IPv4-mapped IPv6 as IPv4,
   RFC 7208 5). */
static int
set_client(struct state *st, const char *ip)
{
	struct in6_addr	 a6;
	struct in_addr	 a4;

	if (inet_pton(AF_INET, ip, &a4) == 1) {
		st->family = AF_INET;
		memcpy(st->client, &a4, 4);
		return SPF_request_set_ipv4(st->req, a4) == SPF_E_SUCCESS ?
		    0 : -1;
	}
	if (inet_pton(AF_INET6, ip, &a6) != 1)
		return -1;
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		st->family = AF_INET;
		memcpy(&a4, &a6.s6_addr[12], 4);
		memcpy(st->client, &a4, 4);
		return SPF_request_set_ipv4(st->req, a4) == SPF_E_SUCCESS ?
		    0 : -1;
	}
	st->family = AF_INET6;
	memcpy(st->client, &a6, 16);
	return SPF_request_set_ipv6(st->req, a6) == SPF_E_SUCCESS ? 0 : -1;
}

/* Run libspf2 on a prepared request (no loopback free pass). */
static void
run_request(struct state *st)
{
	SPF_response_t	*resp;
	SPF_record_t	*rec = NULL;
	SPF_errcode_t	 err;

	if ((resp = SPF_response_new(st->req)) == NULL) {
		st->id->result = GH_SPF_TEMPERROR;
		problem(st, "out of memory");
		return;
	}
	st->req->cur_dom = st->req->env_from_dp;
	err = SPF_server_get_record(st->spf->server, st->req, resp, &rec);
	if (err == SPF_E_SUCCESS && rec) {
		resp->spf_record_exp = rec;
		err = SPF_record_interpret(rec, st->req, resp, 0);
		SPF_record_free(rec);
		st->id->result = map_result(resp->result, err);
	} else if (st->top == TOP_NONE)
		st->id->result = GH_SPF_NONE;
	else if (st->top == TOP_PERMERROR)
		st->id->result = GH_SPF_PERMERROR;
	else
		st->id->result = GH_SPF_TEMPERROR;
	pending_clear(st);
	if (st->limit) {
		st->id->result = GH_SPF_PERMERROR;
	} else if (st->id->result == GH_SPF_FAIL && resp->explanation &&
	    strcmp(resp->explanation, EXP_SENTINEL) == 0)
		explain(st);
	else if (st->id->result == GH_SPF_FAIL && resp->explanation) {
		st->id->explanation = strdup(resp->explanation);
		st->id->exp_default = true;
	}
	if (st->id->result == GH_SPF_TEMPERROR && !st->id->problem[0])
		problem(st, "temporary error (%s)", SPF_strerror(err));
	if (st->id->result == GH_SPF_PERMERROR && !st->id->problem[0])
		problem(st, "%s", SPF_strerror(resp->err ? resp->err : err));
	SPF_response_free(resp);
}

/*
 * Evaluate one identity: <sender> is local@domain (local may be empty,
 * RFC 7208 4.3: "postmaster").
 */
static int
evaluate(struct gh_spf *s, struct gh_dns_check *dns, const char *ip,
    const char *local, const char *domain, const char *helo,
    struct gh_spf_identity *id)
{
	struct state	 st;
	char		 lp[SPF_MAX_LOCAL + 1], hl[SPF_MAX_DOMAIN + 1];
	char		 env[SPF_MAX_LOCAL + SPF_MAX_DOMAIN + 2];
	int		 r = 0;

	memset(&st, 0, sizeof(st));
	st.spf = s;
	st.dns = dns;
	st.id = id;
	id->checked = true;
	snprintf(id->domain, sizeof(id->domain), "%s", domain);
	/* Client text reaches the macro expander: ASCII, capped. */
	spf__sanitize(lp, *local ? local : "postmaster", SPF_MAX_LOCAL);
	spf__sanitize(hl, helo ? helo : "unknown", SPF_MAX_DOMAIN);
	snprintf(env, sizeof(env), "%s@%s", lp, domain);
	snprintf(id->sender, sizeof(id->sender), "%s", env);
	if (!spf__domain_ok(domain)) {
		id->result = GH_SPF_NONE;
		snprintf(id->problem, sizeof(id->problem), "'%.150s' is not a "
		    "usable domain", id->domain);
		return 0;
	}
	if ((st.req = SPF_request_new(s->server)) == NULL)
		return -1;
	if (set_client(&st, ip) == -1) {
		SPF_request_free(st.req);
		id->result = GH_SPF_PERMERROR;
		snprintf(id->problem, sizeof(id->problem), "bad client "
		    "address");
		return 0;
	}
	if (SPF_request_set_env_from(st.req, env) != 0 ||
	    SPF_request_set_helo_dom(st.req, hl) != SPF_E_SUCCESS) {
		SPF_request_free(st.req);
		return -1;
	}
	current = &st;
	run_request(&st);
	current = NULL;
	pending_clear(&st);
	free(st.exp_domain);
	free(st.exp_cur_dom);
	while (st.nchunks)
		free(st.chunks[--st.nchunks]);
	SPF_request_free(st.req);
	return r;
}

/* Split a sender into local part and domain (at the last '@'). */
static void
split_sender(const char *sender, char *local, size_t lsz, char *dom,
    size_t dsz)
{
	const char	*at = strrchr(sender, '@');

	if (at == NULL) {
		snprintf(local, lsz, "postmaster");
		snprintf(dom, dsz, "%s", sender);
		return;
	}
	snprintf(local, lsz, "%.*s", (int)(at - sender), sender);
	snprintf(dom, dsz, "%s", at + 1);
}

/* Run the checks of a transaction (see spf.h). */
int
gh_spf_check(struct gh_spf *s, const struct gh_spf_query *q,
    gh_dns_hook *hook, void *arg, struct gh_spf_outcome *res)
{
	struct gh_dns_check	 dns;
	char			 local[1024], dom[1024];
	const char		*helo = q->helo && *q->helo ? q->helo : NULL;
	uint64_t		 t0 = gh_now_us();
	int			 r = 0;

	memset(res, 0, sizeof(*res));
	snprintf(res->ip, sizeof(res->ip), "%s", q->ip ? q->ip : "");
	gh_dns_check_init(&dns, s->dns, s->timeout_ms, s->budget_ms);
	dns.hook = hook;
	dns.hook_arg = arg;
	if (q->check_helo && helo && spf__domain_ok(helo)) {
		r = evaluate(s, &dns, res->ip, "postmaster", helo, helo,
		    &res->helo);
		if (res->helo.result == GH_SPF_FAIL || r == -1) {
			res->identity = "helo";
			res->result = r == -1 ? GH_SPF_TEMPERROR :
			    res->helo.result;
			goto done;
		}
	}
	if (q->sender == NULL || q->sender[0] == '\0') {
		/* RFC 7208 2.4: the null sender is postmaster@HELO. */
		res->identity = "helo";
		if (!res->helo.checked)
			r = evaluate(s, &dns, res->ip, "postmaster",
			    helo ? helo : "", helo, &res->helo);
		res->result = r == -1 ? GH_SPF_TEMPERROR : res->helo.result;
		goto done;
	}
	split_sender(q->sender, local, sizeof(local), dom, sizeof(dom));
	res->identity = "mailfrom";
	r = evaluate(s, &dns, res->ip, local, dom, helo, &res->mailfrom);
	res->result = r == -1 ? GH_SPF_TEMPERROR : res->mailfrom.result;
done:
	res->queries = dns.queries;
	res->usec = gh_now_us() - t0;
	return r;
}

/* The decisive identity. */
const struct gh_spf_identity *
gh_spf_decisive(const struct gh_spf_outcome *r)
{
	return r->identity && strcmp(r->identity, "helo") == 0 ? &r->helo :
	    &r->mailfrom;
}

/* Release what a result holds. */
void
gh_spf_result_clear(struct gh_spf_outcome *r)
{
	free(r->helo.explanation);
	free(r->mailfrom.explanation);
	memset(r, 0, sizeof(*r));
}
