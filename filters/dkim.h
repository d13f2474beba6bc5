/*
 * dkim.h — DKIM verification (RFC 6376) on libopendkim, strict where
 * RFC 8301, RFC 8463 and the known attacks demand.
 *
 * A verifier (struct gh_dkim) is built once per configuration and
 * shared read-only by every worker thread; gh_dkim_verify() runs one
 * message synchronously (it does DNS: never call it on an event loop)
 * and reports one result per DKIM-Signature field, in header order.
 * The chain filter (gh_filter_dkim) turns the report into
 * Authentication-Results entries and a verdict.
 */
#ifndef GH_DKIM_H
#define GH_DKIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "filters/config.h"
#include "filters/filter.h"

struct gh_message;
struct gh_dkim;

/*
 * Signatures reported in Authentication-Results at most (the largest
 * dkim.max_signatures); beyond them a message is only logged.
 */
#define GH_DKIM_REPORT_MAX	100

/* Display sizes of the signature's tags (longer values are cut). */
#define GH_DKIM_DOMAIN_MAX	256
#define GH_DKIM_TAG_MAX		128

/* One signature's outcome. */
struct gh_dkim_sig {
	enum gh_dkim_result	 result;
	char			 reason[160];	/* empty for pass */
	char			 d[GH_DKIM_DOMAIN_MAX];
	char			 s[GH_DKIM_TAG_MAX];
	char			 i[GH_DKIM_DOMAIN_MAX];	/* "@d" if absent */
	char			 a[32];
	char			 b[GH_DKIM_TAG_MAX];	/* b= without FWS,
							   cut */
	unsigned		 bshow;		/* chars of b for header.b */
	unsigned		 keybits;	/* RSA key size, 0 if unknown */
	bool			 verified;	/* handed to libopendkim */
};

/* The outcome of one message. */
struct gh_dkim_report {
	struct gh_dkim_sig	*v;		/* malloc'd; NULL when none */
	size_t			 n;		/* signatures found */
	size_t			 nfrom;		/* From header fields */
	unsigned		 dns_queries;
	unsigned		 dns_timeouts;
	uint64_t		 usec;		/* time spent */
};

/*
 * Build a verifier from the configuration (dkim.*, dns.*, resolver).
 * NULL with `err` on failure.
 */
struct gh_dkim	*gh_dkim_new(const struct gh_config *, char *err,
		    size_t errsz);
void		 gh_dkim_free(struct gh_dkim *);
/* Tell whether this libopendkim verifies ed25519-sha256 (RFC 8463). */
bool		 gh_dkim_has_ed25519(const struct gh_dkim *);

/*
 * Verify every signature of `msg` (headers complete, gh_message_end
 * called).  Fills `r` (release with gh_dkim_report_free).  Returns 0;
 * -1 with `err` when verification itself could not run (memory,
 * libopendkim internal error): the caller applies on_filter_error.
 * Per-signature DNS failures are results (temperror), not errors.
 */
int		 gh_dkim_verify(struct gh_dkim *, const struct gh_message *msg,
		    const char *id, struct gh_dkim_report *r, char *err,
		    size_t errsz);
void		 gh_dkim_report_free(struct gh_dkim_report *);

/*
 * The canonical position of the last visible (not white space) body
 * octet, for the simple and relaxed body canonicalizations (RFC 6376
 * 3.4.3, 3.4.4), computed in one pass over the body: an l= at or
 * below it leaves visible text unsigned.  Exposed for unit tests.
 */
struct gh_dkim_vis {
	uint64_t	 off;		/* raw body octets seen */
	int64_t		 last_simple;	/* -1: nothing visible */
	uint64_t	 rpos;		/* relaxed: canonical octets so far */
	uint64_t	 rcrlf;		/* relaxed: deferred line ends */
	bool		 rwsp;		/* relaxed: deferred space */
	int64_t		 last_relaxed;
};

void	 gh_dkim_vis_init(struct gh_dkim_vis *);
void	 gh_dkim_vis_feed(struct gh_dkim_vis *, const unsigned char *,
	    size_t);

extern const struct gh_filter gh_filter_dkim;

#endif
