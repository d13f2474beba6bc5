/*
 * fcrdns.h — the client's name by forward-confirmed reverse DNS, the
 * way Postfix's smtpd finds it: the address's PTR names, each kept only
 * when its own A (or AAAA) records contain the address again.
 */
#ifndef GH_FCRDNS_H
#define GH_FCRDNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct gh_dns;

enum gh_fcrdns {
	GH_FCRDNS_OK,		/* `name` is confirmed */
	GH_FCRDNS_NONE,		/* no PTR, or none confirmed: "unknown" */
	GH_FCRDNS_TEMP		/* a lookup failed or timed out: "unknown",
				   but only for now */
};

/* At most this many PTR names are tried (the rest are ignored). */
#define GH_FCRDNS_MAX_NAMES	10

/*
 * Find the confirmed name of `sa` (IPv4, IPv6, IPv4-mapped IPv6 taken as
 * IPv4), every query ending by `deadline_us` (gh_now_us() clock).  With
 * a deadline already past only the resolver's cache is used and nothing
 * waits: GH_FCRDNS_TEMP then means "not all in the cache".  `name`
 * (the first confirmed PTR name, no trailing dot) is set on OK only.
 */
enum gh_fcrdns	 gh_fcrdns(struct gh_dns *, const struct sockaddr *sa,
		    uint64_t deadline_us, char *name, size_t namesz);
/* The reverse-lookup name of an address; -1 when not IPv4/IPv6. */
int		 gh_fcrdns_rname(const struct sockaddr *sa, char *out,
		    size_t outsz);
/* Tell whether a PTR name is usable as a host name (Postfix's
   valid_hostname: LDH labels and '_', a non-numeric last label). */
bool		 gh_fcrdns_valid_name(const char *name);
const char	*gh_fcrdns_name(enum gh_fcrdns);

#endif
