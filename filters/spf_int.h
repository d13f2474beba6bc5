/*
 * spf_int.h — internals of the SPF filter shared by spf.c, spf_record.c
 * and the unit tests: the RFC 7208 record checker that every record
 * passes before libspf2 sees it, and the limits that keep hostile
 * records and senders away from libspf2's macro expander.
 */
#ifndef GH_SPF_INT_H
#define GH_SPF_INT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Limits (RFC 7208 4.6.4 and gatehouse's own guards for libspf2).
 *
 * The term and macro caps keep every compiled mechanism far below
 * libspf2's 511-byte compile buffer, so the length arithmetic of
 * SPF_c_parse_macro() (CVE-2021-20314, and the integer underflow of
 * CVE-2023-42118 that Debian's 1.2.10 still carries) is never near
 * its edge: at most 253 + 10 * 7 + 11 * 8 bytes.  No literal run can
 * reach libspf2's 255-byte string limit either (a 250-byte label was
 * seen compiled into a query for "test").
 */
#define SPF_MAX_DNS_TERMS	10	/* include a mx ptr exists redirect */
#define SPF_MAX_VOID		2	/* NXDOMAIN/NODATA answers to terms */
#define SPF_MAX_MX		10	/* MX records per mx term */
#define SPF_MAX_PTR		10	/* PTR names looked at */
#define SPF_MAX_RECORD		4096	/* bytes of one record */
#define SPF_MAX_TERMS		100	/* terms of one record */
#define SPF_MAX_TERM		253	/* bytes of one term's argument */
#define SPF_MAX_MACROS		10	/* %-escapes in one term */
#define SPF_MAX_EXP		300	/* bytes of an explanation */
#define SPF_MAX_LOCAL		64	/* local-part (RFC 5321 4.5.3.1.1) */
#define SPF_MAX_DOMAIN		253

/*
 * Marker labels: libspf2 cannot express a CIDR length of /0 on a or mx
 * (0 means "default" in its compiled form), so the checker rewrites
 * "a:D/0" as "a:_gh0-4.D" and the DNS layer answers an A query under
 * the marker with the client's own address when D has any A record.
 */
#define SPF_MARK4	"_gh0-4"
#define SPF_MARK6	"_gh0-6"
#define SPF_MARK46	"_gh0-46"

/*
 * libspf2 1.2.10 silently drops every mechanism that does not fit in
 * 511 bytes of compiled record (SPF_c_mech_add returns SPF_E_BIG_MECH
 * without recording an error): a record with 26 ip6 or 64 ip4 terms
 * before "-all" evaluates to neutral instead of fail.  The checker
 * moves long runs of ip4/ip6 terms into synthetic records, included
 * under names SPF_CHUNK_FMT that the DNS layer answers from memory
 * (not DNS lookups, not counted), and refuses a record that still
 * does not fit.
 */
#define SPF_MECH_BUDGET		448	/* compiled bytes we let libspf2 use */
#define SPF_CHUNK_BUDGET	400	/* compiled bytes of one chunk */
#define SPF_MAX_CHUNKS		64	/* per check */
#define SPF_CHUNK_FMT		"_gh-c%u.gatehouse.invalid"

/* What the checker says about one record. */
struct spf_rec {
	char	*rewritten;	/* malloc'd text for libspf2 */
	char	*chunks[SPF_MAX_CHUNKS];	/* records for the includes */
	unsigned nchunks;
	bool	 has_all;
	bool	 has_redirect;	/* a redirect survived (no all) */
	unsigned dns_terms;	/* DNS-querying terms in the record */
	char	 err[160];	/* why it is a permerror */
};

/* Tell whether TXT text (with length) is an SPF record: "v=spf1" then
   SP or end, case-insensitive (RFC 7208 4.5). */
bool	 spf__is_record(const char *txt, size_t len);
/* Check a record against RFC 7208 section 12's ABNF and gatehouse's
   caps; fill `out` (free with spf__rec_free); chunk records are
   numbered from `chunk_base`.  0 ok, -1 permerror. */
int	 spf__record_check(const char *txt, size_t len, unsigned chunk_base,
	    struct spf_rec *out);
/* Free what a checked record holds. */
void	 spf__rec_free(struct spf_rec *);
/* Check explanation text (RFC 7208 6.2: macro-strings and spaces, all
   macro letters) within the caps; 0 usable, -1 not. */
int	 spf__exp_check(const char *txt, size_t len);
/* ABNF is case-insensitive, libspf2 knows only "r": lower-case the
   reverse transformer of every macro in a checked string, in place. */
void	 spf__macro_normalize(char *s);
/* Tell whether a domain is usable as an SPF <domain>: ASCII, labels
   1..63, total <= 253, more than one label, not a literal (4.3). */
bool	 spf__domain_ok(const char *d);
/* Copy client text for the macro expander: printable ASCII only (other
   bytes become '?'), at most `max` bytes.  CVE-2021-33912: an 8-bit
   byte in a URL-encoded macro overflows libspf2's buffer. */
void	 spf__sanitize(char *dst, const char *src, size_t max);

#endif
