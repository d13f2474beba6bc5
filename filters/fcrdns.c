/*
 * fcrdns.c — forward-confirmed reverse DNS for the client's name (see
 * fcrdns.h), on the process resolver (dns.c).
 *
 * Postfix's smtpd takes the PTR name of the client's address and keeps
 * it only when that name's addresses include the client's address
 * ("hostname X does not resolve to address Y" otherwise); the name is
 * then "unknown".  We do the same, trying each PTR name (at most
 * GH_FCRDNS_MAX_NAMES) until one is confirmed, and tell a permanent
 * "no name" from a temporary one (a timeout, SERVFAIL) as Postfix's
 * XCLIENT does ([UNAVAILABLE] / [TEMPUNAVAIL]).
 *
 * Invariants: every query shares the caller's one deadline, so the
 * whole lookup never outlasts it; names that are not valid host names
 * are never returned (they reach logs and XCLIENT).
 *
 * Failures are results: anything temporary is GH_FCRDNS_TEMP.
 */
#include "filters/fcrdns.h"

#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "filters/dns.h"

/* Name of a result, for logs. */
const char *
gh_fcrdns_name(enum gh_fcrdns r)
{
	switch (r) {
	case GH_FCRDNS_OK:
		return "ok";
	case GH_FCRDNS_NONE:
		return "none";
	default:
		return "temp";
	}
}

/* The address bytes and family of `sa`, IPv4-mapped IPv6 as IPv4. */
static int
addr_bytes(const struct sockaddr *sa, uint8_t *out)
{
	const struct sockaddr_in6	*s6;

	if (sa->sa_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return AF_INET;
	}
	if (sa->sa_family != AF_INET6)
		return -1;
	s6 = (const struct sockaddr_in6 *)sa;
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		memcpy(out, &s6->sin6_addr.s6_addr[12], 4);
		return AF_INET;
	}
	memcpy(out, &s6->sin6_addr, 16);
	return AF_INET6;
}

/* The in-addr.arpa or ip6.arpa name of an address. */
int
gh_fcrdns_rname(const struct sockaddr *sa, char *out, size_t outsz)
{
	static const char	 hex[] = "0123456789abcdef";
	uint8_t			 a[16];
	size_t			 n = 0;
	int			 i;

	switch (addr_bytes(sa, a)) {
	case AF_INET:
		snprintf(out, outsz, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2],
		    a[1], a[0]);
		return 0;
	case AF_INET6:
		if (outsz < 64 + sizeof("ip6.arpa"))
			return -1;
		for (i = 15; i >= 0; i--) {
			out[n++] = hex[a[i] & 0xf];
			out[n++] = '.';
			out[n++] = hex[a[i] >> 4];
			out[n++] = '.';
		}
		memcpy(out + n, "ip6.arpa", sizeof("ip6.arpa"));
		return 0;
	default:
		return -1;
	}
}

/* Tell whether a name is a usable host name (Postfix valid_hostname). */
bool
gh_fcrdns_valid_name(const char *name)
{
	const char	*p, *label = name;
	bool		 numeric = true;
	size_t		 len = strlen(name);

	if (len == 0 || len > 253)
		return false;
	for (p = name;; p++) {
		if (*p == '.' || *p == '\0') {
			if (p == label || p - label > 63 || label[0] == '-' ||
			    p[-1] == '-')
				return false;
			if (*p == '\0')
				break;
			label = p + 1;
			numeric = true;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return false;
		if (!isdigit((unsigned char)*p))
			numeric = false;
	}
	return !numeric;	/* "1.2.3.4" is an address, not a name */
}

/* Does `host` have the address `a` (of `family`)?  OK, NONE or TEMP. */
static enum gh_fcrdns
confirm(struct gh_dns *dns, const char *host, int family, const uint8_t *a,
    uint64_t deadline_us)
{
	struct gh_dns_answer	 ans;
	enum gh_dns_status	 st;
	enum gh_fcrdns		 r = GH_FCRDNS_NONE;
	size_t			 i, alen = family == AF_INET ? 4 : 16;

	st = gh_dns_query(dns, host, family == AF_INET ? GH_DNS_A :
	    GH_DNS_AAAA, deadline_us, &ans);
	if (st == GH_DNS_OK) {
		for (i = 0; i < ans.n; i++)
			if (ans.rr[i].family == family &&
			    memcmp(ans.rr[i].addr, a, alen) == 0)
				r = GH_FCRDNS_OK;
	} else if (gh_dns_status_temporary(st))
		r = GH_FCRDNS_TEMP;
	gh_dns_answer_free(&ans);
	return r;
}

/* Find the client's confirmed name (see fcrdns.h). */
enum gh_fcrdns
gh_fcrdns(struct gh_dns *dns, const struct sockaddr *sa,
    uint64_t deadline_us, char *name, size_t namesz)
{
	struct gh_dns_answer	 ptr;
	enum gh_dns_status	 st;
	enum gh_fcrdns		 r = GH_FCRDNS_NONE, c;
	char			 rname[80];
	uint8_t			 a[16];
	int			 family;
	size_t			 i, tried = 0;

	if ((family = addr_bytes(sa, a)) == -1 ||
	    gh_fcrdns_rname(sa, rname, sizeof(rname)) == -1)
		return GH_FCRDNS_NONE;
	st = gh_dns_query(dns, rname, GH_DNS_PTR, deadline_us, &ptr);
	if (st != GH_DNS_OK) {
		gh_dns_answer_free(&ptr);
		return gh_dns_status_temporary(st) ? GH_FCRDNS_TEMP :
		    GH_FCRDNS_NONE;
	}
	for (i = 0; i < ptr.n && tried < GH_FCRDNS_MAX_NAMES; i++) {
		const char *host = ptr.rr[i].text;

		if (ptr.rr[i].type != GH_DNS_PTR || host == NULL ||
		    !gh_fcrdns_valid_name(host) || strlen(host) >= namesz)
			continue;
		tried++;
		if ((c = confirm(dns, host, family, a, deadline_us)) ==
		    GH_FCRDNS_OK) {
			memcpy(name, host, strlen(host) + 1);
			r = GH_FCRDNS_OK;
			break;
		}
		if (c == GH_FCRDNS_TEMP)
			r = GH_FCRDNS_TEMP;
	}
	gh_dns_answer_free(&ptr);
	return r;
}
