/*
 * spf.h — SPF (RFC 7208) on libspf2 and the shared resolver.
 *
 * gh_spf_check() runs the checks one SMTP transaction needs: the HELO
 * identity (when asked for and the HELO is a domain) and the MAIL FROM
 * identity (a null sender is checked as postmaster@HELO, RFC 7208 2.4),
 * each with RFC 7208's limits (10 DNS-querying terms across includes and
 * redirects, 2 void lookups, 10 MX, 10 PTR names) and the per-query
 * timeout and total budget of the configuration.  A HELO "fail" decides;
 * otherwise the MAIL FROM result does.  The filter gh_filter_spf turns
 * the result into a verdict (spf.on_RESULT, spf.score_RESULT), an
 * Authentication-Results entry and, when configured, a Received-SPF
 * header (RFC 7208 9.1).
 */
#ifndef GH_SPF_H
#define GH_SPF_H

#include <stdbool.h>
#include <stdint.h>

#include "filters/config.h"
#include "filters/dns.h"
#include "filters/filter.h"

struct gh_spf;

/* What to check. */
struct gh_spf_query {
	const char	*ip;		/* client address, text */
	const char	*sender;	/* MAIL FROM without <>; "" = null */
	const char	*helo;		/* may be NULL */
	bool		 check_helo;	/* spf.helo = check */
};

/* One identity's outcome. */
struct gh_spf_identity {
	bool			 checked;
	enum gh_spf_result	 result;
	char			 domain[256];	/* the <domain> checked */
	char			 sender[320];	/* <sender>, sanitised */
	char			*explanation;	/* fail only, or NULL */
	bool			 exp_default;	/* no usable exp= */
	char			 problem[200];	/* why none/perm/temperror */
	unsigned		 terms;		/* DNS-querying terms */
	unsigned		 voids;
};

/* The outcome of a check. */
struct gh_spf_outcome {
	enum gh_spf_result	 result;	/* the decisive one */
	const char		*identity;	/* "mailfrom" or "helo" */
	struct gh_spf_identity	 helo;
	struct gh_spf_identity	 mailfrom;
	char			 ip[64];	/* as evaluated */
	unsigned		 queries;	/* DNS queries asked */
	uint64_t		 usec;
};

struct gh_spf	*gh_spf_new(const struct gh_config *, char *err, size_t errsz);
void		 gh_spf_free(struct gh_spf *);
/* Run the checks; `hook` (may be NULL) sees every DNS query.  Returns 0,
   or -1 when out of memory (the result is then temperror). */
int		 gh_spf_check(struct gh_spf *, const struct gh_spf_query *,
		    gh_dns_hook *hook, void *hook_arg, struct gh_spf_outcome *);
void		 gh_spf_result_clear(struct gh_spf_outcome *);
/* The decisive identity's part of a result. */
const struct gh_spf_identity *gh_spf_decisive(const struct gh_spf_outcome *);
/* A Received-SPF header value (RFC 7208 9.1), folded, malloc'd. */
char		*gh_spf_received(const struct gh_spf_outcome *,
		    const struct gh_spf_query *, const char *receiver);

extern const struct gh_filter gh_filter_spf;

#endif
