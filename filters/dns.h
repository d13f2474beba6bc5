/*
 * dns.h — the process's one DNS resolver (libunbound), shared by every
 * filter (SPF, DKIM) and every worker thread.
 *
 * Lifetime.  gh_dns_acquire(cfg) returns the process resolver with a
 * reference; call it from a filter's setup() and gh_dns_release() from
 * its teardown().  The resolver is built once per process and rebuilt
 * only when the DNS settings change (`resolver`, `dns.trust_anchor`):
 * a chain built after a reload with other forwarders gets a new one,
 * chains still running keep the old one until they drop it.  Its
 * libunbound context is configured once, before the first query, and
 * never touched again (Debian's OpenDKIM re-configures its context on
 * every lookup and dies under concurrency: don't).  Threads start at
 * the first query, so a daemon may fork after acquiring, not after
 * querying.
 *
 * Upstream.  `resolver` empty: the name servers of /etc/resolv.conf;
 * otherwise forwarders written IP, IP@port, IPv4:port or [IPv6]:port.
 * The resolver only forwards: special-use names (.test, the TEST-NET and
 * RFC 1918 reverse zones...) go to the forwarder instead of being
 * answered NXDOMAIN locally, and localhost forwarders are allowed (tests
 * run unbound on 127.0.0.1).  No DNSSEC validation unless
 * dns.trust_anchor names a root key file.
 *
 * Cache.  Answers (positive and NXDOMAIN/NODATA) are kept, decoded, for
 * their TTL (at most a day) in a direct-mapped table of 8192 entries
 * with striped locks: a warm lookup costs no thread hop.  libunbound's
 * own cache sits behind it.
 *
 * Queries.  gh_dns_query() asks one question and waits, at most until
 * its deadline, for the answer; a server that never answers costs the
 * caller its deadline and nobody else anything: queries run
 * asynchronously on libunbound's own thread, one dispatcher thread
 * hands answers back, and each waiting thread sleeps on its own
 * condition variable.  A query whose deadline passes is cancelled
 * (libunbound keeps resolving it into the shared cache if it already
 * went out).  Every thread may call every function here except that
 * one gh_dns_check and one gh_dns_answer belong to one thread.
 *
 * Checks.  A check (one SPF evaluation, one DKIM verification) wraps its
 * queries in a gh_dns_check: a per-query timeout (dns.timeout), a total
 * budget (dns.budget), counters (queries, void answers — RFC 7208 4.6.4
 * — timeouts) and an optional hook that sees every query and its
 * answer (the `gatehouse spf` tool prints them; SPF counts with them).
 *
 *	struct gh_dns	*dns = gh_dns_acquire(cfg, err, sizeof(err));
 *	struct gh_dns_check chk;
 *	struct gh_dns_answer a;
 *
 *	gh_dns_check_init(&chk, dns, cfg->dns_timeout_ms, cfg->dns_budget_ms);
 *	switch (gh_dns_check_query(&chk, "sel._domainkey.example.org",
 *	    GH_DNS_TXT, &a)) {
 *	case GH_DNS_OK:		// a.rr[0..a.n-1], a.pkt = raw reply
 *	case GH_DNS_NXDOMAIN:	// name does not exist
 *	case GH_DNS_NODATA:	// name exists, no record of that type
 *	case GH_DNS_TIMEOUT:	// per-query timeout or budget: temporary
 *	case GH_DNS_SERVFAIL:	// upstream failure, bogus DNSSEC: temporary
 *	case GH_DNS_BADNAME:	// not a valid name, never asked: permanent
 *	case GH_DNS_ERROR:	// local failure (memory): temporary
 *	}
 *	gh_dns_answer_free(&a);	// always, whatever the status
 *	gh_dns_release(dns);
 */
#ifndef GH_DNS_H
#define GH_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gh_config;
struct gh_dns;

/* Record types we decode (others come back raw). */
#define GH_DNS_A	1
#define GH_DNS_CNAME	5
#define GH_DNS_PTR	12
#define GH_DNS_MX	15
#define GH_DNS_TXT	16
#define GH_DNS_AAAA	28
#define GH_DNS_SPF	99

enum gh_dns_status {
	GH_DNS_OK,		/* at least one record */
	GH_DNS_NXDOMAIN,	/* RCODE 3 */
	GH_DNS_NODATA,		/* RCODE 0, no record of the type */
	GH_DNS_TIMEOUT,		/* deadline or budget reached */
	GH_DNS_SERVFAIL,	/* SERVFAIL, REFUSED, other RCODE, bogus */
	GH_DNS_BADNAME,		/* invalid name, not asked */
	GH_DNS_ERROR,		/* local error (memory, libunbound) */
	GH_DNS_NSTATUS
};

/* One record of an answer. */
struct gh_dns_rr {
	uint16_t	 type;
	const uint8_t	*rdata;		/* raw, network order */
	size_t		 rdlen;
	/*
	 * Decoded: TXT the character-strings concatenated (RFC 7208 3.3,
	 * RFC 6376 3.6.2.2; may contain NUL bytes: use textlen), MX, PTR
	 * and CNAME the name without the trailing dot, A and AAAA the
	 * address in text form.  NULL for other types.
	 */
	char		*text;
	size_t		 textlen;
	uint16_t	 pref;		/* MX preference */
	int		 family;	/* A: AF_INET, AAAA: AF_INET6 */
	uint8_t		 addr[16];	/* A: 4 bytes, AAAA: 16 */
};

/*
 * An answer.  Filled by every query, released by gh_dns_answer_free.
 * rr[], their texts and pkt are shared with the cache and with other
 * threads' answers: read-only.
 */
struct gh_dns_answer {
	enum gh_dns_status	 status;
	int			 rcode;		/* DNS RCODE when answered */
	struct gh_dns_rr	*rr;
	size_t			 n;
	const uint8_t		*pkt;		/* the raw reply (libopendkim
						   parses this), or NULL */
	size_t			 pktlen;
	uint32_t		 ttl;
	bool			 secure;	/* DNSSEC validated */
	bool			 bogus;
	bool			 cached;	/* from gatehouse's cache */
	uint64_t		 usec;		/* time the query took */
	void			*priv;
};

typedef void	gh_dns_hook(void *arg, const char *name, int rrtype,
		    const struct gh_dns_answer *);

/* Per-check state: one thread, one SPF or DKIM evaluation. */
struct gh_dns_check {
	struct gh_dns	*dns;
	uint64_t	 timeout_us;	/* per query */
	uint64_t	 deadline_us;	/* gh_now_us() clock: end of budget */
	unsigned	 queries;	/* asked (cache hits included) */
	unsigned	 voids;		/* NXDOMAIN or NODATA answers */
	unsigned	 timeouts;	/* TIMEOUT answers */
	bool		 budget_spent;	/* a query was refused for budget */
	gh_dns_hook	*hook;		/* sees every query; may be NULL */
	void		*hook_arg;
};

/*
 * The process resolver for `cfg`'s DNS settings, referenced; NULL with
 * `err` when the settings are wrong (a bad forwarder address, an
 * unreadable trust anchor) or libunbound cannot be set up.
 */
struct gh_dns	*gh_dns_acquire(const struct gh_config *cfg, char *err,
		    size_t errsz);
/* The same from explicit settings (tests, tools): forwarders as in
   `resolver`, trust anchor file or NULL. */
struct gh_dns	*gh_dns_acquire_with(const char *const *forwarders, size_t n,
		    const char *trust_anchor, char *err, size_t errsz);
struct gh_dns	*gh_dns_ref(struct gh_dns *);
void		 gh_dns_release(struct gh_dns *);
/* The forwarders in effect, for messages: "127.0.0.1@5353 ..." */
const char	*gh_dns_describe(const struct gh_dns *);

/*
 * Ask `name` (text, trailing dot optional) for `rrtype`; wait at most
 * until `deadline_us` (gh_now_us() clock).  Fills `a` (always: release
 * it with gh_dns_answer_free) and returns a->status.
 */
enum gh_dns_status gh_dns_query(struct gh_dns *, const char *name,
		    int rrtype, uint64_t deadline_us, struct gh_dns_answer *a);
void		 gh_dns_answer_free(struct gh_dns_answer *);

/* Start a check: per-query timeout and total budget in milliseconds. */
void		 gh_dns_check_init(struct gh_dns_check *, struct gh_dns *,
		    uint64_t timeout_ms, uint64_t budget_ms);
/* One query of a check: deadline min(now + timeout, end of budget),
   counters updated, hook called. */
enum gh_dns_status gh_dns_check_query(struct gh_dns_check *,
		    const char *name, int rrtype, struct gh_dns_answer *a);

/* Names for logs: "TXT", "timeout". */
const char	*gh_dns_type_name(int rrtype);
const char	*gh_dns_status_name(enum gh_dns_status);
/* Tell whether a status is temporary (timeout, servfail, error). */
bool		 gh_dns_status_temporary(enum gh_dns_status);

#endif
