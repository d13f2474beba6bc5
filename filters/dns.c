/*
 * dns.c — the process's one libunbound resolver (see dns.h).
 *
 * Owns: the libunbound context (configured once, before the first
 * query), a dispatcher thread that waits on ub_fd() and runs
 * ub_process() so that answers reach their waiters, and the process-
 * wide "current resolver" that gh_dns_acquire() hands out.
 *
 * A query: the caller allocates a `struct query` (two references: its
 * own and the callback's), submits it with ub_resolve_async(), and
 * sleeps on the query's condition variable until the answer or its
 * deadline.  On the deadline it marks the query abandoned and cancels
 * it; when the cancel succeeds the callback will never run and the
 * caller drops both references, otherwise the callback drops its own
 * when it runs.  So no thread ever waits on another thread's query, and
 * a late answer only frees memory.
 *
 * Invariants: the context's options never change after creation; the
 * dispatcher thread is the only caller of ub_process(); every query
 * still outstanding when the resolver goes is freed with it.
 *
 * Failure: nothing here aborts on network input.  A bad name is
 * GH_DNS_BADNAME without a query; libunbound errors are GH_DNS_ERROR;
 * an answer not parseable as its type is GH_DNS_SERVFAIL.
 */
#include "filters/dns.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <unbound.h>

#include "filters/config.h"
#include "filters/log.h"
#include "filters/util.h"

#define MAX_FORWARDERS	16
#define MAX_NAME	253	/* text form, without the trailing dot */

/* One outstanding query. */
struct query {
	pthread_mutex_t		 m;
	pthread_cond_t		 c;
	int			 refs;		/* under m */
	bool			 done;		/* under m */
	bool			 abandoned;	/* under m */
	int			 err;		/* libunbound error */
	struct ub_result	*res;
	struct gh_dns		*dns;
	struct query		*prev, *next;	/* dns->queries, under lock */
};

/*
 * An answer as libunbound gave it, decoded once, immutable and shared:
 * by the answers handed out (gh_dns_answer.priv) and by the cache.
 */
struct shared {
	int			 refs;		/* atomic */
	uint64_t		 expires_us;
	enum gh_dns_status	 status;
	int			 rcode;
	uint32_t		 ttl;
	bool			 secure, bogus;
	struct ub_result	*res;
	struct gh_dns_rr	*rr;
	size_t			 n;
	char			 key[MAX_NAME * 4 + 16];
};

#define CACHE_SLOTS	8192		/* direct-mapped, power of two */
#define CACHE_LOCKS	64
#define CACHE_MAX_TTL	86400

struct gh_dns {
	struct ub_ctx		*ctx;
	struct shared		*cache[CACHE_SLOTS];
	pthread_mutex_t		 cache_lock[CACHE_LOCKS];
	char			*key;		/* settings it was built from */
	char			*desc;
	int			 refs;		/* under the global lock */
	pthread_mutex_t		 lock;		/* started, queries */
	bool			 started;
	pthread_t		 thread;
	int			 stop[2];	/* pipe: wakes the dispatcher */
	struct query		*queries;	/* outstanding */
};

/* The current process resolver. */
static pthread_mutex_t	 current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gh_dns	*current;

/*
 * Zones that libunbound answers by itself (RFC 6761 special-use names,
 * AS112 reverse zones).  gatehouse only forwards, so the forwarder
 * decides about them: tests serve SPF records under .test and PTR
 * records for TEST-NET addresses.
 */
static const char *const nodefault_zones[] = {
	"test.", "invalid.", "onion.", "home.arpa.", "resolver.arpa.",
	"service.arpa.",
	"10.in-addr.arpa.", "16.172.in-addr.arpa.", "17.172.in-addr.arpa.",
	"18.172.in-addr.arpa.", "19.172.in-addr.arpa.", "20.172.in-addr.arpa.",
	"21.172.in-addr.arpa.", "22.172.in-addr.arpa.", "23.172.in-addr.arpa.",
	"24.172.in-addr.arpa.", "25.172.in-addr.arpa.", "26.172.in-addr.arpa.",
	"27.172.in-addr.arpa.", "28.172.in-addr.arpa.", "29.172.in-addr.arpa.",
	"30.172.in-addr.arpa.", "31.172.in-addr.arpa.",
	"168.192.in-addr.arpa.", "0.in-addr.arpa.", "254.169.in-addr.arpa.",
	"2.0.192.in-addr.arpa.", "100.51.198.in-addr.arpa.",
	"113.0.203.in-addr.arpa.", "255.255.255.255.in-addr.arpa.",
	"64.100.in-addr.arpa.", "65.100.in-addr.arpa.", "66.100.in-addr.arpa.",
	"67.100.in-addr.arpa.", "68.100.in-addr.arpa.", "69.100.in-addr.arpa.",
	"70.100.in-addr.arpa.", "71.100.in-addr.arpa.", "72.100.in-addr.arpa.",
	"73.100.in-addr.arpa.", "74.100.in-addr.arpa.", "75.100.in-addr.arpa.",
	"76.100.in-addr.arpa.", "77.100.in-addr.arpa.", "78.100.in-addr.arpa.",
	"79.100.in-addr.arpa.", "80.100.in-addr.arpa.", "81.100.in-addr.arpa.",
	"82.100.in-addr.arpa.", "83.100.in-addr.arpa.", "84.100.in-addr.arpa.",
	"85.100.in-addr.arpa.", "86.100.in-addr.arpa.", "87.100.in-addr.arpa.",
	"88.100.in-addr.arpa.", "89.100.in-addr.arpa.", "90.100.in-addr.arpa.",
	"91.100.in-addr.arpa.", "92.100.in-addr.arpa.", "93.100.in-addr.arpa.",
	"94.100.in-addr.arpa.", "95.100.in-addr.arpa.", "96.100.in-addr.arpa.",
	"97.100.in-addr.arpa.", "98.100.in-addr.arpa.", "99.100.in-addr.arpa.",
	"100.100.in-addr.arpa.", "101.100.in-addr.arpa.",
	"102.100.in-addr.arpa.", "103.100.in-addr.arpa.",
	"104.100.in-addr.arpa.", "105.100.in-addr.arpa.",
	"106.100.in-addr.arpa.", "107.100.in-addr.arpa.",
	"108.100.in-addr.arpa.", "109.100.in-addr.arpa.",
	"110.100.in-addr.arpa.", "111.100.in-addr.arpa.",
	"112.100.in-addr.arpa.", "113.100.in-addr.arpa.",
	"114.100.in-addr.arpa.", "115.100.in-addr.arpa.",
	"116.100.in-addr.arpa.", "117.100.in-addr.arpa.",
	"118.100.in-addr.arpa.", "119.100.in-addr.arpa.",
	"120.100.in-addr.arpa.", "121.100.in-addr.arpa.",
	"122.100.in-addr.arpa.", "123.100.in-addr.arpa.",
	"124.100.in-addr.arpa.", "125.100.in-addr.arpa.",
	"126.100.in-addr.arpa.", "127.100.in-addr.arpa.",
	"d.f.ip6.arpa.", "8.e.f.ip6.arpa.", "9.e.f.ip6.arpa.",
	"a.e.f.ip6.arpa.", "b.e.f.ip6.arpa.", "8.b.d.0.1.0.0.2.ip6.arpa.",
	"0.ip6.arpa.",
};

static const char *const status_names[GH_DNS_NSTATUS] = {
	"ok", "nxdomain", "nodata", "timeout", "servfail", "badname", "error"
};

/* Name of a status. */
const char *
gh_dns_status_name(enum gh_dns_status s)
{
	return s < GH_DNS_NSTATUS ? status_names[s] : "?";
}

/* Tell whether a status is worth trying again later. */
bool
gh_dns_status_temporary(enum gh_dns_status s)
{
	return s == GH_DNS_TIMEOUT || s == GH_DNS_SERVFAIL ||
	    s == GH_DNS_ERROR;
}

/* Name of a record type. */
const char *
gh_dns_type_name(int t)
{
	switch (t) {
	case GH_DNS_A: return "A";
	case GH_DNS_CNAME: return "CNAME";
	case GH_DNS_PTR: return "PTR";
	case GH_DNS_MX: return "MX";
	case GH_DNS_TXT: return "TXT";
	case GH_DNS_AAAA: return "AAAA";
	case GH_DNS_SPF: return "SPF";
	default: return "TYPE?";
	}
}

/*
 * Normalise one forwarder (IP, IP@port, IPv4:port, [IPv6]:port,
 * [IPv6]@port) into libunbound's "IP@port" form in `out`.
 */
static int
forwarder_parse(const char *s, char *out, size_t outsz, char *err,
    size_t errsz)
{
	char		 host[INET6_ADDRSTRLEN + 1], *end;
	const char	*port = NULL, *p;
	unsigned char	 buf[16];
	unsigned long	 pn = 53;
	size_t		 hl;

	if (s[0] == '[') {
		if ((p = strchr(s, ']')) == NULL)
			goto bad;
		hl = (size_t)(p - s - 1);
		if (p[1] == ':' || p[1] == '@')
			port = p + 2;
		else if (p[1] != '\0')
			goto bad;
		s++;
	} else if ((p = strchr(s, '@')) != NULL) {
		hl = (size_t)(p - s);
		port = p + 1;
	} else if ((p = strchr(s, ':')) != NULL && strchr(p + 1, ':') ==
	    NULL) {
		hl = (size_t)(p - s);	/* IPv4:port */
		port = p + 1;
	} else
		hl = strlen(s);
	if (hl == 0 || hl >= sizeof(host))
		goto bad;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, buf) != 1 &&
	    inet_pton(AF_INET6, host, buf) != 1)
		goto bad;
	if (port) {
		errno = 0;
		pn = strtoul(port, &end, 10);
		if (*port == '\0' || *end != '\0' || errno || pn == 0 ||
		    pn > 65535)
			goto bad;
	}
	snprintf(out, outsz, "%s@%lu", host, pn);
	return 0;
bad:
	snprintf(err, errsz, "resolver: '%s' is not IP, IP@port, "
	    "IPv4:port or [IPv6]:port", s);
	return -1;
}

/* Set one libunbound option; on failure say which. */
static int
set_option(struct ub_ctx *ctx, const char *opt, const char *val, char *err,
    size_t errsz)
{
	int	 r;

	if ((r = ub_ctx_set_option(ctx, opt, val)) != 0) {
		snprintf(err, errsz, "libunbound option %s %s: %s", opt, val,
		    ub_strerror(r));
		return -1;
	}
	return 0;
}

/* Configure a fresh context (once: never again after a query). */
static int
configure(struct ub_ctx *ctx, char fwd[][64], size_t nfwd, const char *ta,
    char *err, size_t errsz)
{
	size_t	 i;
	int	 r;
	char	 zone[64];

	if ((r = ub_ctx_async(ctx, 1)) != 0) {
		snprintf(err, errsz, "libunbound threads: %s", ub_strerror(r));
		return -1;
	}
	if (set_option(ctx, "do-not-query-localhost:", "no", err, errsz) ||
	    set_option(ctx, "edns-buffer-size:", "1232", err, errsz) ||
	    set_option(ctx, "num-queries-per-thread:", "4096", err, errsz) ||
	    set_option(ctx, "outgoing-range:", "4096", err, errsz) ||
	    set_option(ctx, "msg-cache-size:", "16m", err, errsz) ||
	    set_option(ctx, "rrset-cache-size:", "32m", err, errsz))
		return -1;
	for (i = 0; i < GH_ARRAY_LEN(nodefault_zones); i++) {
		/* "nodefault" is ignored through ub_ctx_set_option() in
		   libunbound 1.17; an empty transparent zone has the same
		   effect: every query for it is resolved normally. */
		snprintf(zone, sizeof(zone), "%s transparent",
		    nodefault_zones[i]);
		if (set_option(ctx, "local-zone:", zone, err, errsz))
			return -1;
	}
	if (ta && *ta) {
		if (set_option(ctx, "module-config:", "validator iterator",
		    err, errsz) ||
		    set_option(ctx, "domain-insecure:", "test", err, errsz))
			return -1;
		/* libunbound reads the file only at the first query. */
		if (access(ta, R_OK) == -1) {
			snprintf(err, errsz, "dns.trust_anchor %s: %s", ta,
			    strerror(errno));
			return -1;
		}
		if ((r = ub_ctx_add_ta_file(ctx, ta)) != 0) {
			snprintf(err, errsz, "dns.trust_anchor %s: %s", ta,
			    ub_strerror(r));
			return -1;
		}
	} else if (set_option(ctx, "module-config:", "iterator", err, errsz))
		return -1;
	if (nfwd == 0) {
		if ((r = ub_ctx_resolvconf(ctx, NULL)) != 0) {
			snprintf(err, errsz, "/etc/resolv.conf: %s",
			    r == UB_READFILE ? strerror(errno) : ub_strerror(r));
			return -1;
		}
		return 0;
	}
	for (i = 0; i < nfwd; i++)
		if ((r = ub_ctx_set_fwd(ctx, fwd[i])) != 0) {
			snprintf(err, errsz, "resolver %s: %s", fwd[i],
			    ub_strerror(r));
			return -1;
		}
	return 0;
}

/* Build a resolver for normalised settings. */
static struct gh_dns *
dns_new(char fwd[][64], size_t nfwd, const char *ta, const char *key,
    char *err, size_t errsz)
{
	struct gh_dns	*d;
	struct gh_buf	 desc;
	size_t		 i;

	if ((d = calloc(1, sizeof(*d))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	d->stop[0] = d->stop[1] = -1;
	pthread_mutex_init(&d->lock, NULL);
	for (i = 0; i < CACHE_LOCKS; i++)
		pthread_mutex_init(&d->cache_lock[i], NULL);
	d->refs = 1;
	gh_buf_init(&desc, 4096);
	for (i = 0; i < nfwd; i++)
		gh_buf_printf(&desc, "%s%s", i ? " " : "", fwd[i]);
	if (nfwd == 0)
		gh_buf_puts(&desc, "/etc/resolv.conf");
	d->desc = gh_buf_steal(&desc);
	d->key = strdup(key);
	if ((d->ctx = ub_ctx_create()) == NULL) {
		snprintf(err, errsz, "cannot create a libunbound context");
		goto fail;
	}
	if (d->key == NULL || d->desc == NULL) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	if (configure(d->ctx, fwd, nfwd, ta, err, errsz) == -1)
		goto fail;
	if (pipe2(d->stop, O_CLOEXEC | O_NONBLOCK) == -1) {
		snprintf(err, errsz, "pipe: %s", strerror(errno));
		goto fail;
	}
	return d;
fail:
	for (i = 0; i < CACHE_LOCKS; i++)
		pthread_mutex_destroy(&d->cache_lock[i]);
	if (d->ctx)
		ub_ctx_delete(d->ctx);
	if (d->stop[0] != -1) {
		close(d->stop[0]);
		close(d->stop[1]);
	}
	pthread_mutex_destroy(&d->lock);
	free(d->key);
	free(d->desc);
	free(d);
	return NULL;
}

/* Drop one reference to a query; the last frees it. */
static void
query_unref(struct query *q, int n)
{
	int	 left;

	pthread_mutex_lock(&q->m);
	left = (q->refs -= n);
	pthread_mutex_unlock(&q->m);
	if (left > 0)
		return;
	if (q->res)
		ub_resolve_free(q->res);
	pthread_cond_destroy(&q->c);
	pthread_mutex_destroy(&q->m);
	free(q);
}

/* Unlink a query from its resolver's list. */
static void
query_unlink(struct gh_dns *d, struct query *q)
{
	pthread_mutex_lock(&d->lock);
	if (q->prev)
		q->prev->next = q->next;
	else if (d->queries == q)
		d->queries = q->next;
	if (q->next)
		q->next->prev = q->prev;
	q->prev = q->next = NULL;
	pthread_mutex_unlock(&d->lock);
}

/* Drop a reference to a shared answer; the last frees it. */
static void
shared_unref(struct shared *sh)
{
	size_t	 i;

	if (sh == NULL || __atomic_sub_fetch(&sh->refs, 1, __ATOMIC_ACQ_REL))
		return;
	for (i = 0; i < sh->n; i++)
		free(sh->rr[i].text);
	free(sh->rr);
	if (sh->res)
		ub_resolve_free(sh->res);
	free(sh);
}

/* Tear a resolver down: stop the dispatcher, free what is left. */
static void
dns_free(struct gh_dns *d)
{
	struct query	*q, *next;
	char		 c = 'x';
	size_t		 i;

	if (d->started) {
		while (write(d->stop[1], &c, 1) == -1 && errno == EINTR)
			;
		pthread_join(d->thread, NULL);
	}
	ub_ctx_delete(d->ctx);
	/* No callback runs any more: free abandoned queries. */
	for (q = d->queries; q; q = next) {
		next = q->next;
		if (q->res)
			ub_resolve_free(q->res);
		q->res = NULL;
		pthread_cond_destroy(&q->c);
		pthread_mutex_destroy(&q->m);
		free(q);
	}
	close(d->stop[0]);
	close(d->stop[1]);
	for (i = 0; i < CACHE_SLOTS; i++)
		shared_unref(d->cache[i]);
	for (i = 0; i < CACHE_LOCKS; i++)
		pthread_mutex_destroy(&d->cache_lock[i]);
	pthread_mutex_destroy(&d->lock);
	free(d->key);
	free(d->desc);
	free(d);
}

/* Acquire from explicit settings (see dns.h). */
struct gh_dns *
gh_dns_acquire_with(const char *const *fw, size_t n, const char *ta,
    char *err, size_t errsz)
{
	char		 fwd[MAX_FORWARDERS][64];
	struct gh_buf	 key;
	struct gh_dns	*d = NULL, *old = NULL;
	size_t		 i;

	if (n > MAX_FORWARDERS) {
		snprintf(err, errsz, "resolver: more than %d forwarders",
		    MAX_FORWARDERS);
		return NULL;
	}
	gh_buf_init(&key, 8192);
	for (i = 0; i < n; i++) {
		if (forwarder_parse(fw[i], fwd[i], sizeof(fwd[i]), err,
		    errsz) == -1) {
			gh_buf_free(&key);
			return NULL;
		}
		gh_buf_printf(&key, "%s,", fwd[i]);
	}
	if (gh_buf_printf(&key, "|%s", ta ? ta : "") == -1) {
		gh_buf_free(&key);
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	pthread_mutex_lock(&current_lock);
	if (current && strcmp(current->key, key.p) == 0) {
		d = current;
		d->refs++;
	} else if ((d = dns_new(fwd, n, ta, key.p, err, errsz)) != NULL) {
		/* The process holds one reference to its current one. */
		old = current;
		current = d;
		d->refs++;
		if (old && --old->refs > 0)
			old = NULL;
	}
	pthread_mutex_unlock(&current_lock);
	if (old)
		dns_free(old);
	gh_buf_free(&key);
	return d;
}

/* Acquire the resolver the configuration asks for. */
struct gh_dns *
gh_dns_acquire(const struct gh_config *cfg, char *err, size_t errsz)
{
	return gh_dns_acquire_with((const char *const *)cfg->resolver.v,
	    cfg->resolver.n, cfg->dns_trust_anchor, err, errsz);
}

/* Take another reference. */
struct gh_dns *
gh_dns_ref(struct gh_dns *d)
{
	pthread_mutex_lock(&current_lock);
	d->refs++;
	pthread_mutex_unlock(&current_lock);
	return d;
}

/* Drop a reference; the last one (the process's included) frees. */
void
gh_dns_release(struct gh_dns *d)
{
	bool	 last;

	if (d == NULL)
		return;
	pthread_mutex_lock(&current_lock);
	last = --d->refs == 0;
	pthread_mutex_unlock(&current_lock);
	if (last)
		dns_free(d);
}

/* The forwarders, for messages. */
const char *
gh_dns_describe(const struct gh_dns *d)
{
	return d->desc;
}

/* The dispatcher: hand answers to their waiters. */
static void *
dispatcher(void *arg)
{
	struct gh_dns	*d = arg;
	struct pollfd	 pfd[2];

	pfd[0].fd = ub_fd(d->ctx);
	pfd[0].events = POLLIN;
	pfd[1].fd = d->stop[0];
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			log_err("dns: poll: %s", strerror(errno));
			usleep(10000);
			continue;
		}
		if (pfd[1].revents)
			break;
		if (pfd[0].revents)
			ub_process(d->ctx);
	}
	return NULL;
}

/* Start the dispatcher on the first query. */
static int
ensure_started(struct gh_dns *d)
{
	int	 r = 0;

	pthread_mutex_lock(&d->lock);
	if (!d->started) {
		if (ub_fd(d->ctx) == -1 ||
		    pthread_create(&d->thread, NULL, dispatcher, d) != 0)
			r = -1;
		else
			d->started = true;
	}
	pthread_mutex_unlock(&d->lock);
	return r;
}

/* libunbound's callback, on the dispatcher thread. */
static void
on_answer(void *arg, int err, struct ub_result *res)
{
	struct query	*q = arg;
	bool		 abandoned;

	pthread_mutex_lock(&q->m);
	q->err = err;
	q->res = res;
	q->done = true;
	abandoned = q->abandoned;
	pthread_cond_signal(&q->c);
	pthread_mutex_unlock(&q->m);
	/* A waiter that gave up left the query on the list for us. */
	if (abandoned)
		query_unlink(q->dns, q);
	query_unref(q, 1);
}

/*
 * Turn a text name into libunbound's text form: trailing dot removed
 * (one added), labels 1..63 octets, total at most 253; printable ASCII
 * and space only (SPF macros can expand to spaces), anything but letters, digits, '-' and '_' escaped as \DDD so
 * that macro-expanded names reach the wire as they are.
 */
static int
name_prepare(const char *name, char *out, size_t outsz)
{
	size_t	 len = strlen(name), i, lab = 0, o = 0;

	if (len && name[len - 1] == '.')
		len--;
	if (len == 0 || len > MAX_NAME)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.') {
			if (lab == 0)
				return -1;
			lab = 0;
			out[o++] = '.';
			continue;
		}
		if (c < 0x20 || c > 0x7e || ++lab > 63)
			return -1;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, outsz - o, "\\%03u", c);
		if (o + 5 >= outsz)
			return -1;
	}
	if (lab == 0)
		return -1;
	out[o++] = '.';
	out[o] = '\0';
	return 0;
}

/* Decode a wire-format name (uncompressed) into text; -1 if unusable. */
static int
wire_name(const uint8_t *p, size_t len, char **out)
{
	char	 buf[MAX_NAME + 2];
	size_t	 i = 0, o = 0, l, j;

	while (i < len) {
		l = p[i++];
		if (l == 0)
			break;
		if (l > 63 || i + l > len || o + l + 1 >= sizeof(buf))
			return -1;
		for (j = 0; j < l; j++) {
			uint8_t c = p[i + j];

			/* A dot or a control byte inside a label cannot
			   travel as text: the name is unusable. */
			if (c <= 0x20 || c >= 0x7f || c == '.' || c == '\\')
				return -1;
			buf[o++] = (char)c;
		}
		buf[o++] = '.';
		i += l;
	}
	if (o)
		o--;			/* the trailing dot */
	else
		buf[o++] = '.';		/* the root */
	buf[o] = '\0';
	return (*out = strdup(buf)) ? 0 : -1;
}

/* Decode one rdata item for its type. */
static int
decode_rr(struct gh_dns_rr *rr, int type, const uint8_t *p, size_t len)
{
	size_t	 i, o;

	rr->type = (uint16_t)type;
	rr->rdata = p;
	rr->rdlen = len;
	switch (type) {
	case GH_DNS_A:
	case GH_DNS_AAAA: {
		char	 t[INET6_ADDRSTRLEN];

		if (len != (type == GH_DNS_A ? 4u : 16u))
			return -1;
		rr->family = type == GH_DNS_A ? AF_INET : AF_INET6;
		memcpy(rr->addr, p, len);
		inet_ntop(rr->family, p, t, sizeof(t));
		if ((rr->text = strdup(t)) == NULL)
			return -1;
		rr->textlen = strlen(t);
		return 0;
	}
	case GH_DNS_TXT:
	case GH_DNS_SPF:
		if ((rr->text = malloc(len + 1)) == NULL)
			return -1;
		for (i = 0, o = 0; i < len; i += 1 + p[i]) {
			if (i + 1 + p[i] > len)
				return -1;
			memcpy(rr->text + o, p + i + 1, p[i]);
			o += p[i];
		}
		rr->text[o] = '\0';
		rr->textlen = o;
		return 0;
	case GH_DNS_MX:
		if (len < 3)
			return -1;
		rr->pref = (uint16_t)(p[0] << 8 | p[1]);
		if (wire_name(p + 2, len - 2, &rr->text) == -1)
			rr->text = NULL;	/* unusable: skipped */
		else
			rr->textlen = strlen(rr->text);
		return 0;
	case GH_DNS_PTR:
	case GH_DNS_CNAME:
		if (wire_name(p, len, &rr->text) == -1)
			rr->text = NULL;
		else
			rr->textlen = strlen(rr->text);
		return 0;
	default:
		return 0;
	}
}

/* Decode a libunbound result into `sh` (which owns `res` from now on). */
static void
fill_shared(struct shared *sh, struct ub_result *res, int type)
{
	size_t	 n, i;

	sh->res = res;
	sh->rcode = res->rcode;
	sh->ttl = res->ttl > 0 ? (uint32_t)res->ttl : 0;
	sh->secure = res->secure != 0;
	sh->bogus = res->bogus != 0;
	if (res->bogus) {
		sh->status = GH_DNS_SERVFAIL;
		return;
	}
	if (res->rcode == 3 || res->nxdomain) {
		sh->status = GH_DNS_NXDOMAIN;
		return;
	}
	if (res->rcode != 0) {
		sh->status = GH_DNS_SERVFAIL;
		return;
	}
	if (!res->havedata || res->data == NULL || res->data[0] == NULL) {
		sh->status = GH_DNS_NODATA;
		return;
	}
	for (n = 0; res->data[n]; n++)
		;
	if ((sh->rr = calloc(n, sizeof(*sh->rr))) == NULL) {
		sh->status = GH_DNS_ERROR;
		return;
	}
	for (i = 0; i < n; i++) {
		if (res->len[i] < 0 || decode_rr(&sh->rr[sh->n], type,
		    (const uint8_t *)res->data[i], (size_t)res->len[i]) == -1) {
			free(sh->rr[sh->n].text);
			memset(&sh->rr[sh->n], 0, sizeof(sh->rr[sh->n]));
			sh->status = GH_DNS_SERVFAIL;
			return;
		}
		sh->n++;
	}
	sh->status = GH_DNS_OK;
}

/* Hand a shared answer out as `a` (takes one reference). */
static enum gh_dns_status
answer_from(struct gh_dns_answer *a, struct shared *sh)
{
	a->priv = sh;
	a->status = sh->status;
	a->rcode = sh->rcode;
	a->ttl = sh->ttl;
	a->secure = sh->secure;
	a->bogus = sh->bogus;
	a->rr = sh->rr;
	a->n = sh->n;
	a->pkt = sh->res ? sh->res->answer_packet : NULL;
	a->pktlen = sh->res && sh->res->answer_len > 0 ?
	    (size_t)sh->res->answer_len : 0;
	return a->status;
}

/* The cache slot of a key (FNV-1a). */
static size_t
cache_slot(const char *key)
{
	uint32_t	 h = 2166136261u;

	for (; *key; key++)
		h = (h ^ (uint8_t)*key) * 16777619u;
	return h & (CACHE_SLOTS - 1);
}

/* A live cached answer for `key`, referenced, or NULL. */
static struct shared *
cache_get(struct gh_dns *d, const char *key, uint64_t now)
{
	size_t		 slot = cache_slot(key);
	pthread_mutex_t	*m = &d->cache_lock[slot % CACHE_LOCKS];
	struct shared	*sh, *old = NULL;

	pthread_mutex_lock(m);
	if ((sh = d->cache[slot]) != NULL) {
		if (strcmp(sh->key, key) != 0)
			sh = NULL;
		else if (sh->expires_us <= now) {
			old = sh;
			d->cache[slot] = sh = NULL;
		} else
			__atomic_add_fetch(&sh->refs, 1, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(m);
	shared_unref(old);
	return sh;
}

/* Keep a positive or negative answer for its TTL. */
static void
cache_put(struct gh_dns *d, struct shared *sh, uint64_t now)
{
	size_t		 slot = cache_slot(sh->key);
	pthread_mutex_t	*m = &d->cache_lock[slot % CACHE_LOCKS];
	struct shared	*old;

	if ((sh->status != GH_DNS_OK && sh->status != GH_DNS_NXDOMAIN &&
	    sh->status != GH_DNS_NODATA) || sh->ttl == 0)
		return;
	sh->expires_us = now + (uint64_t)(sh->ttl < CACHE_MAX_TTL ? sh->ttl :
	    CACHE_MAX_TTL) * 1000000;
	__atomic_add_fetch(&sh->refs, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(m);
	old = d->cache[slot];
	d->cache[slot] = sh;
	pthread_mutex_unlock(m);
	shared_unref(old);
}

/* Release an answer. */
void
gh_dns_answer_free(struct gh_dns_answer *a)
{
	shared_unref(a->priv);
	memset(a, 0, sizeof(*a));
}

/* A CLOCK_MONOTONIC timespec for a gh_now_us() instant. */
static struct timespec
abs_time(uint64_t us)
{
	struct timespec	 ts;

	ts.tv_sec = (time_t)(us / 1000000);
	ts.tv_nsec = (long)(us % 1000000) * 1000;
	return ts;
}

/* Ask one question (see dns.h). */
enum gh_dns_status
gh_dns_query(struct gh_dns *d, const char *name, int type,
    uint64_t deadline_us, struct gh_dns_answer *a)
{
	struct query		*q;
	pthread_condattr_t	 ca;
	struct timespec		 ts;
	char			 qname[MAX_NAME * 4 + 8];
	char			 key[sizeof(((struct shared *)0)->key)], *p;
	struct shared		*sh;
	uint64_t		 t0 = gh_now_us();
	int			 id = 0, r;
	bool			 done;

	memset(a, 0, sizeof(*a));
	if (name_prepare(name, qname, sizeof(qname)) == -1)
		return a->status = GH_DNS_BADNAME;
	snprintf(key, sizeof(key), "%d/%s", type, qname);
	for (p = key; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if ((sh = cache_get(d, key, t0)) != NULL) {
		answer_from(a, sh);
		a->cached = true;
		a->usec = gh_now_us() - t0;
		return a->status;
	}
	if (t0 >= deadline_us)
		return a->status = GH_DNS_TIMEOUT;
	if (ensure_started(d) == -1 || (q = calloc(1, sizeof(*q))) == NULL)
		return a->status = GH_DNS_ERROR;
	pthread_mutex_init(&q->m, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->c, &ca);
	pthread_condattr_destroy(&ca);
	q->refs = 2;
	q->dns = d;
	pthread_mutex_lock(&d->lock);
	q->next = d->queries;
	if (d->queries)
		d->queries->prev = q;
	d->queries = q;
	pthread_mutex_unlock(&d->lock);
	if ((r = ub_resolve_async(d->ctx, qname, type, 1, q, on_answer,
	    &id)) != 0) {
		log_warn("dns: %s %s: %s", gh_dns_type_name(type), qname,
		    ub_strerror(r));
		query_unlink(d, q);
		query_unref(q, 2);
		a->usec = gh_now_us() - t0;
		return a->status = GH_DNS_ERROR;
	}
	ts = abs_time(deadline_us);
	pthread_mutex_lock(&q->m);
	while (!q->done)
		if (pthread_cond_timedwait(&q->c, &q->m, &ts) == ETIMEDOUT)
			break;
	done = q->done;
	if (!done)
		q->abandoned = true;
	pthread_mutex_unlock(&q->m);
	a->usec = gh_now_us() - t0;
	if (!done) {
		/* Cancelled: the callback never runs, its reference is ours.
		   Otherwise it has run or is running and drops its own. */
		if (ub_cancel(d->ctx, id) == 0) {
			query_unlink(d, q);
			query_unref(q, 2);
		} else {
			/* The callback unlinks it (it sees `abandoned`). */
			query_unref(q, 1);
		}
		return a->status = GH_DNS_TIMEOUT;
	}
	query_unlink(d, q);
	if (q->err != 0 || q->res == NULL) {
		log_warn("dns: %s %s: %s", gh_dns_type_name(type), qname,
		    ub_strerror(q->err));
		query_unref(q, 1);
		return a->status = GH_DNS_ERROR;
	}
	if ((sh = calloc(1, sizeof(*sh))) == NULL) {
		query_unref(q, 1);
		return a->status = GH_DNS_ERROR;
	}
	sh->refs = 1;
	snprintf(sh->key, sizeof(sh->key), "%s", key);
	fill_shared(sh, q->res, type);
	q->res = NULL;		/* owned by the shared answer now */
	query_unref(q, 1);
	cache_put(d, sh, gh_now_us());
	return answer_from(a, sh);
}

/* Start a check (see dns.h). */
void
gh_dns_check_init(struct gh_dns_check *c, struct gh_dns *d,
    uint64_t timeout_ms, uint64_t budget_ms)
{
	memset(c, 0, sizeof(*c));
	c->dns = d;
	c->timeout_us = timeout_ms * 1000;
	c->deadline_us = gh_now_us() + budget_ms * 1000;
}

/* One query of a check (see dns.h). */
enum gh_dns_status
gh_dns_check_query(struct gh_dns_check *c, const char *name, int type,
    struct gh_dns_answer *a)
{
	uint64_t	 now = gh_now_us(), dl = now + c->timeout_us;
	enum gh_dns_status s;

	if (dl > c->deadline_us)
		dl = c->deadline_us;
	if (now >= c->deadline_us) {
		memset(a, 0, sizeof(*a));
		c->budget_spent = true;
		s = a->status = GH_DNS_TIMEOUT;
	} else {
		s = gh_dns_query(c->dns, name, type, dl, a);
		c->queries++;
	}
	if (s == GH_DNS_NXDOMAIN || s == GH_DNS_NODATA)
		c->voids++;
	else if (s == GH_DNS_TIMEOUT)
		c->timeouts++;
	if (c->hook)
		c->hook(c->hook_arg, name, type, a);
	return s;
}
