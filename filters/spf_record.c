/*
 * spf_record.c — the RFC 7208 record checker.
 *
 * Owns: the strict reading of one SPF record (section 12's ABNF, the
 * rules of sections 4.6, 5, 6 and 7) before libspf2 compiles it, and
 * the rewriting of what libspf2 gets wrong into what it gets right.
 * libspf2 1.2.10 accepts records that RFC 7208 calls a permerror (bad
 * domain-ends, bad macros, NULs, duplicate modifiers, "redirect:"...),
 * refuses some that are valid (/0, modifier names with '.', '-', '_')
 * and follows redirect= even when an "all" matched.  The checker
 * answers permerror for the first kind and rewrites the others:
 * unknown modifiers dropped, redirect= moved to the end (and dropped
 * when the record has "all"), exp= moved to the end, mechanisms after
 * "all" dropped, ip4/ip6 /0 split into two /1, a/mx /0 marked for the
 * DNS layer (see SPF_MARK4 in spf_int.h).
 *
 * It also enforces gatehouse's caps on what can reach libspf2's macro
 * compiler and expander (record, term, explanation length, number of
 * macros per term): see spf_int.h for why.
 *
 * Invariants: input is (pointer, length) and may contain NUL bytes; the
 * rewritten text is printable ASCII.  Nothing here does DNS.
 */
#include "filters/spf_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "filters/util.h"

/* Mechanism kinds. */
enum mech {
	M_ALL, M_INCLUDE, M_A, M_MX, M_PTR, M_IP4, M_IP6, M_EXISTS, M_NONE
};

static const char *const mech_names[] = {
	"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"
};

/* Record an error; always returns -1. */
static int
fail(struct spf_rec *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
fail(struct spf_rec *r, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return -1;
}

/* Tell whether TXT text is an SPF version 1 record. */
bool
spf__is_record(const char *t, size_t len)
{
	return len >= 6 && strncasecmp(t, "v=spf1", 6) == 0 &&
	    (len == 6 || t[6] == ' ');
}

/* RFC 7208 7.1 delimiter. */
static bool
is_delim(int c)
{
	return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' ||
	    c == '_' || c == '=';
}

/*
 * Check a macro-string (RFC 7208 7.1) of `len` bytes.  `exp_text`
 * allows the letters c, r and t (explanations only) and spaces.
 * Counts %-escapes in *nmacros; sets *ends_macro when the string ends
 * with a macro-expand.  0 ok, -1 with r->err.
 */
static int
macro_string(const char *s, size_t len, bool exp_text, unsigned *nmacros,
    bool *ends_macro, struct spf_rec *r)
{
	size_t	 i = 0, d;
	int	 c;

	*ends_macro = false;
	while (i < len) {
		c = (unsigned char)s[i];
		if (c != '%') {
			if (c < 0x21 || c > 0x7e) {
				if (!(exp_text && c == ' '))
					return fail(r, "bad character 0x%02x",
					    c);
			}
			*ends_macro = false;
			i++;
			continue;
		}
		if (++*nmacros > SPF_MAX_MACROS)
			return fail(r, "more than %d macros in one term",
			    SPF_MAX_MACROS);
		if (i + 1 >= len)
			return fail(r, "'%%' at the end of a macro-string");
		c = s[i + 1];
		if (c == '%' || c == '_' || c == '-') {
			*ends_macro = false;
			i += 2;
			continue;
		}
		if (c != '{')
			return fail(r, "bad macro escape '%%%c'", c);
		i += 2;
		if (i >= len)
			return fail(r, "unterminated macro");
		c = tolower((unsigned char)s[i]);
		if (strchr("slodiphv", c) == NULL &&
		    !(exp_text && strchr("crt", c) != NULL))
			return fail(r, "bad macro letter '%c'", s[i]);
		i++;
		/* Transformers: digits (1..128, no more than 3), then r. */
		for (d = 0; i < len && isdigit((unsigned char)s[i]); d++)
			i++;
		if (d) {
			long	 n = strtol(s + i - d, NULL, 10);

			if (d > 3 || n < 1 || n > 128)
				return fail(r, "bad macro digit transformer");
		}
		if (i < len && (s[i] == 'r' || s[i] == 'R'))
			i++;
		while (i < len && is_delim((unsigned char)s[i]))
			i++;
		if (i >= len || s[i] != '}')
			return fail(r, "unterminated or bad macro");
		i++;
		*ends_macro = true;
	}
	return 0;
}

/* Tell whether `s` (len) is a toplabel (RFC 7208 section 12). */
static bool
toplabel(const char *s, size_t len)
{
	size_t	 i;
	bool	 alpha = false, dash = false;

	if (len == 0 || len > 63)
		return false;
	for (i = 0; i < len; i++) {
		if (isalpha((unsigned char)s[i]))
			alpha = true;
		else if (s[i] == '-')
			dash = true;
		else if (!isdigit((unsigned char)s[i]))
			return false;
	}
	if (alpha && !dash)
		return true;
	/* 1*alphanum "-" *( alphanum / "-" ) alphanum */
	return dash && s[0] != '-' && s[len - 1] != '-';
}

/*
 * Check a domain-spec: a macro-string ending in a macro-expand or in
 * "." toplabel ["."].  `exp_text` never applies here: c, r and t are
 * explanation-only letters (RFC 7208 7.3).
 */
static int
domain_spec(const char *s, size_t len, unsigned *nmacros, struct spf_rec *r)
{
	bool	 ends_macro;
	size_t	 e;
	const char *dot;

	if (len == 0)
		return fail(r, "empty domain-spec");
	if (len > SPF_MAX_TERM)
		return fail(r, "domain-spec longer than %d", SPF_MAX_TERM);
	if (macro_string(s, len, false, nmacros, &ends_macro, r) == -1)
		return -1;
	if (ends_macro)
		return 0;
	e = len;
	if (s[e - 1] == '.')
		e--;
	dot = e ? memrchr(s, '.', e) : NULL;
	if (dot == NULL)
		return fail(r, "domain-spec '%.*s' has no top label",
		    (int)(len > 64 ? 64 : len), s);
	if (!toplabel(dot + 1, (size_t)(s + e - dot - 1)))
		return fail(r, "bad top label in '%.*s'",
		    (int)(len > 64 ? 64 : len), s);
	return 0;
}

/* Parse "/N" cidr digits: no leading zero, at most `maxd` digits,
   value <= max.  Returns the value or -1. */
static int
cidr_value(const char *s, size_t len, size_t maxd, int max)
{
	int	 v = 0;
	size_t	 i;

	if (len == 0 || len > maxd || (s[0] == '0' && len > 1))
		return -1;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max ? v : -1;
}

/*
 * Split a dual-cidr-length off the end of `s` (len): sets *len to what
 * is left, *c4 and *c6 to the lengths (-1 when absent).  A trailing
 * "/digits" that is not a valid cidr is an error.
 */
static int
dual_cidr(const char *s, size_t *len, int *c4, int *c6, struct spf_rec *r)
{
	size_t	 n = *len, d = 0;

	*c4 = *c6 = -1;
	while (d < n && isdigit((unsigned char)s[n - 1 - d]))
		d++;
	if (d == 0 || d == n || s[n - 1 - d] != '/')
		return 0;
	if (n - d >= 2 && s[n - 2 - d] == '/') {
		if ((*c6 = cidr_value(s + n - d, d, 3, 128)) == -1)
			return fail(r, "bad ip6 cidr length");
		n -= d + 2;
		d = 0;
		while (d < n && isdigit((unsigned char)s[n - 1 - d]))
			d++;
		if (d == 0 || d == n || s[n - 1 - d] != '/') {
			*len = n;
			return 0;
		}
	}
	if ((*c4 = cidr_value(s + n - d, d, 2, 32)) == -1)
		return fail(r, "bad ip4 cidr length");
	*len = n - d - 1;
	return 0;
}

/* Append to the rewritten record. */
static void
out(struct gh_buf *b, const char *fmt, ...) __attribute__((format(printf,
    2, 3)));

static void
out(struct gh_buf *b, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	gh_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

/* Rewrite a, mx with a /0 length using the marker labels. */
static void
emit_zero_cidr(struct gh_buf *b, char q, const char *name, const char *spec,
    size_t slen, int c4, int c6)
{
	const char *mark = c4 == 0 && c6 == 0 ? SPF_MARK46 :
	    c4 == 0 ? SPF_MARK4 : SPF_MARK6;

	out(b, " %c%s:%s.", q, name, mark);
	if (slen)
		out(b, "%.*s", (int)slen, spec);
	else
		out(b, "%%{d}");
	if (c4 > 0)
		out(b, "/%d", c4);
	if (c6 > 0)
		out(b, "//%d", c6);
}

/* Check an ip4/ip6 argument ":addr[/len]" and emit it. */
static int
ip_term(struct gh_buf *b, char q, enum mech m, const char *arg, size_t len,
    struct spf_rec *r)
{
	char		 addr[64];
	unsigned char	 bin[16];
	const char	*slash;
	size_t		 alen;
	int		 c = -1, af = m == M_IP4 ? AF_INET : AF_INET6;

	if (len < 2 || arg[0] != ':')
		return fail(r, "%s needs an address", mech_names[m]);
	arg++;
	len--;
	slash = memchr(arg, '/', len);
	alen = slash ? (size_t)(slash - arg) : len;
	if (alen == 0 || alen >= sizeof(addr))
		return fail(r, "bad %s address", mech_names[m]);
	memcpy(addr, arg, alen);
	addr[alen] = '\0';
	if (inet_pton(af, addr, bin) != 1)
		return fail(r, "bad %s address '%s'", mech_names[m], addr);
	if (slash && (c = cidr_value(slash + 1, len - alen - 1,
	    m == M_IP4 ? 2 : 3, m == M_IP4 ? 32 : 128)) == -1)
		return fail(r, "bad %s cidr length", mech_names[m]);
	if (c == 0 && m == M_IP4)
		out(b, " %cip4:0.0.0.0/1 %cip4:128.0.0.0/1", q, q);
	else if (c == 0)
		out(b, " %cip6:::/1 %cip6:8000::/1", q, q);
	else
		out(b, " %c%s:%.*s", q, mech_names[m], (int)len, arg);
	return 0;
}

/* Check one directive (qualifier, mechanism, argument) and emit it. */
static int
directive(struct gh_buf *b, const char *t, size_t len, struct spf_rec *r)
{
	char		 q = '+';
	size_t		 n, i, slen;
	enum mech	 m = M_NONE;
	const char	*arg, *spec;
	unsigned	 nmacros = 0;
	int		 c4, c6;
	bool		 colon;

	if (len && strchr("+-~?", t[0])) {
		q = t[0];
		t++;
		len--;
	}
	for (n = 0; n < len && isalnum((unsigned char)t[n]); n++)
		;
	for (i = 0; i < GH_ARRAY_LEN(mech_names); i++)
		if (strlen(mech_names[i]) == n &&
		    strncasecmp(t, mech_names[i], n) == 0)
			m = (enum mech)i;
	if (m == M_NONE || n == 0)
		return fail(r, "unknown mechanism '%.*s'",
		    (int)(len > 40 ? 40 : len), t);
	arg = t + n;
	len -= n;
	if (len > SPF_MAX_TERM + 1)
		return fail(r, "%s argument longer than %d", mech_names[m],
		    SPF_MAX_TERM);
	switch (m) {
	case M_ALL:
		if (len)
			return fail(r, "all takes no argument");
		r->has_all = true;
		out(b, " %call", q);
		return 0;
	case M_IP4:
	case M_IP6:
		return ip_term(b, q, m, arg, len, r);
	case M_INCLUDE:
	case M_EXISTS:
		if (len < 1 || arg[0] != ':')
			return fail(r, "%s needs a domain", mech_names[m]);
		if (domain_spec(arg + 1, len - 1, &nmacros, r) == -1)
			return -1;
		r->dns_terms++;
		out(b, " %c%s%.*s", q, mech_names[m], (int)len, arg);
		return 0;
	case M_PTR:
		if (len && arg[0] != ':')
			return fail(r, "ptr takes no cidr length");
		if (len && domain_spec(arg + 1, len - 1, &nmacros, r) == -1)
			return -1;
		r->dns_terms++;
		out(b, " %cptr%.*s", q, (int)len, arg);
		return 0;
	default:	/* a, mx */
		break;
	}
	colon = len && arg[0] == ':';
	if (len && !colon && arg[0] != '/')
		return fail(r, "bad character after %s", mech_names[m]);
	spec = colon ? arg + 1 : arg;
	slen = len - (size_t)(spec - arg);
	if (dual_cidr(spec, &slen, &c4, &c6, r) == -1)
		return -1;
	if (colon && domain_spec(spec, slen, &nmacros, r) == -1)
		return -1;
	if (len && !colon && slen != 0)
		return fail(r, "bad cidr after %s", mech_names[m]);
	r->dns_terms++;
	if (c4 == 0 || c6 == 0)
		emit_zero_cidr(b, q, mech_names[m], spec, slen, c4, c6);
	else
		out(b, " %c%s%.*s", q, mech_names[m], (int)len, arg);
	return 0;
}

/* Length of a modifier name at `t` (ALPHA *(ALPHA/DIGIT/-/_/.)) when
   followed by '=', else 0. */
static size_t
modifier_name(const char *t, size_t len)
{
	size_t	 n;

	if (len == 0 || !isalpha((unsigned char)t[0]))
		return 0;
	for (n = 1; n < len; n++)
		if (!isalnum((unsigned char)t[n]) && t[n] != '-' &&
		    t[n] != '_' && t[n] != '.')
			break;
	return n < len && t[n] == '=' ? n : 0;
}

/* Upper bound of what libspf2 compiles a rewritten term into. */
static size_t
term_cost(const char *t, size_t len)
{
	const char	*p = t + (strchr("+-~?", t[0]) ? 1 : 0);
	size_t		 n = 0, i;

	if (strncasecmp(p, "ip4:", 4) == 0)
		return 8;
	if (strncasecmp(p, "ip6:", 4) == 0)
		return 20;
	if (strncasecmp(p, "all", 3) == 0)
		return 4;
	if (strncasecmp(p, "exp=", 4) == 0)
		return 0;		/* a modifier: its own budget */
	for (i = 0; i < len; i++)
		n += t[i] == '%';
	/* header, cidr, string header, text aligned, per macro */
	return 4 + 4 + 4 + ((len + 3) & ~(size_t)3) + 8 * n;
}

/* Tell whether a rewritten term is ip4/ip6; its qualifier in *q. */
static bool
is_ip(const char *t, char *q)
{
	*q = t[0];
	return strncasecmp(t + 1, "ip4:", 4) == 0 ||
	    strncasecmp(t + 1, "ip6:", 4) == 0;
}

/*
 * When the rewritten record would not fit libspf2's compile buffer,
 * move runs of ip4/ip6 terms into chunk records (see spf_int.h).
 */
static int
fit_libspf2(struct spf_rec *r, unsigned base)
{
	struct gh_buf	 b, c;
	const char	*p, *t, *e, *u;
	size_t		 total = 0, cost, n;
	char		 q, q2, inc[64];

	for (p = r->rewritten + 6; *p; p = e) {
		t = p + strspn(p, " ");
		e = t + strcspn(t, " ");
		if (e > t)
			total += term_cost(t, (size_t)(e - t));
	}
	if (total <= SPF_MECH_BUDGET)
		return 0;
	gh_buf_init(&b, SPF_MAX_RECORD * 2);
	gh_buf_puts(&b, "v=spf1");
	total = 0;
	for (p = r->rewritten + 6; *p; ) {
		t = p + strspn(p, " ");
		if (*t == '\0')
			break;
		e = t + strcspn(t, " ");
		if (!is_ip(t, &q)) {
			gh_buf_printf(&b, " %.*s", (int)(e - t), t);
			total += term_cost(t, (size_t)(e - t));
			p = e;
			continue;
		}
		/* A run of ip terms with one qualifier: one or more chunks,
		   each included with that qualifier. */
		gh_buf_init(&c, SPF_MAX_RECORD);
		gh_buf_puts(&c, "v=spf1");
		cost = 0;
		for (u = t; *u && is_ip(u, &q2) && q2 == q; ) {
			e = u + strcspn(u, " ");
			if (cost + term_cost(u, (size_t)(e - u)) >
			    SPF_CHUNK_BUDGET)
				break;
			gh_buf_printf(&c, " +%.*s", (int)(e - u - 1), u + 1);
			cost += term_cost(u, (size_t)(e - u));
			u = e + strspn(e, " ");
		}
		if (r->nchunks == SPF_MAX_CHUNKS) {
			gh_buf_free(&c);
			gh_buf_free(&b);
			return fail(r, "record too large for libspf2");
		}
		r->chunks[r->nchunks] = gh_buf_steal(&c);
		n = (size_t)snprintf(inc, sizeof(inc), "%cinclude:"
		    SPF_CHUNK_FMT, q, base + r->nchunks);
		gh_buf_printf(&b, " %s", inc);
		total += term_cost(inc, n);
		r->nchunks++;
		p = u;
	}
	if (total > SPF_MECH_BUDGET) {
		gh_buf_free(&b);
		return fail(r, "record too large for libspf2 (%zu bytes "
		    "compiled)", total);
	}
	free(r->rewritten);
	r->rewritten = gh_buf_steal(&b);
	return r->rewritten ? 0 : fail(r, "out of memory");
}

/* Free what a checked record holds. */
void
spf__rec_free(struct spf_rec *r)
{
	unsigned	 i;

	free(r->rewritten);
	for (i = 0; i < r->nchunks; i++)
		free(r->chunks[i]);
	r->rewritten = NULL;
	r->nchunks = 0;
}

/* Check the record (see spf_int.h). */
int
spf__record_check(const char *txt, size_t len, unsigned base,
    struct spf_rec *r)
{
	struct gh_buf	 b;
	const char	*p, *end, *t, *redirect = NULL, *exp = NULL;
	size_t		 tl, nl, i, rlen = 0, elen = 0, nterms = 0;
	unsigned	 nmacros;
	bool		 ends, after_all = false;

	memset(r, 0, sizeof(*r));
	if (len > SPF_MAX_RECORD)
		return fail(r, "record longer than %d bytes", SPF_MAX_RECORD);
	if (!spf__is_record(txt, len))
		return fail(r, "not an SPF record");
	for (i = 0; i < len; i++)
		if ((unsigned char)txt[i] < 0x20 ||
		    (unsigned char)txt[i] > 0x7e)
			return fail(r, "%s byte 0x%02x in the record",
			    (unsigned char)txt[i] > 0x7e ? "non-ASCII" :
			    "control", (unsigned char)txt[i]);
	gh_buf_init(&b, SPF_MAX_RECORD * 2);
	out(&b, "v=spf1");
	for (p = txt + 6, end = txt + len; p < end; p = t + tl) {
		while (p < end && *p == ' ')
			p++;
		if (p == end)
			break;
		t = p;
		p = memchr(t, ' ', (size_t)(end - t));
		tl = (size_t)((p ? p : end) - t);
		if (++nterms > SPF_MAX_TERMS) {
			gh_buf_free(&b);
			return fail(r, "more than %d terms", SPF_MAX_TERMS);
		}
		if ((nl = modifier_name(t, tl)) != 0) {
			const char *v = t + nl + 1;
			size_t vl = tl - nl - 1;

			nmacros = 0;
			if ((nl == 8 && strncasecmp(t, "redirect", 8) == 0) ||
			    (nl == 3 && strncasecmp(t, "exp", 3) == 0)) {
				bool is_redirect = nl == 8;

				if (is_redirect ? redirect != NULL :
				    exp != NULL) {
					gh_buf_free(&b);
					return fail(r, "%s= given twice",
					    is_redirect ? "redirect" : "exp");
				}
				if (domain_spec(v, vl, &nmacros, r) == -1) {
					gh_buf_free(&b);
					return -1;
				}
				if (is_redirect) {
					redirect = v;
					rlen = vl;
				} else {
					exp = v;
					elen = vl;
				}
				continue;
			}
			/* Unknown modifiers are checked and dropped. */
			if (vl > SPF_MAX_TERM || macro_string(v, vl, false,
			    &nmacros, &ends, r) == -1) {
				if (vl > SPF_MAX_TERM)
					fail(r, "modifier longer than %d",
					    SPF_MAX_TERM);
				gh_buf_free(&b);
				return -1;
			}
			continue;
		}
		if (after_all) {
			/* Never reached (RFC 7208 5.1), but must parse. */
			struct gh_buf	 scratch;
			bool		 had_all = r->has_all;
			int		 rc;

			gh_buf_init(&scratch, SPF_MAX_RECORD * 2);
			rc = directive(&scratch, t, tl, r);
			gh_buf_free(&scratch);
			r->has_all = had_all;
			if (rc == -1) {
				gh_buf_free(&b);
				return -1;
			}
			continue;
		}
		if (directive(&b, t, tl, r) == -1) {
			gh_buf_free(&b);
			return -1;
		}
		after_all = r->has_all;
	}
	/* RFC 7208 6.1: redirect is ignored when there is an "all". */
	if (redirect && !r->has_all) {
		out(&b, " redirect=%.*s", (int)rlen, redirect);
		r->has_redirect = true;
		r->dns_terms++;
	}
	if (exp)
		out(&b, " exp=%.*s", (int)elen, exp);
	if ((r->rewritten = gh_buf_steal(&b)) == NULL)
		return fail(r, "out of memory");
	spf__macro_normalize(r->rewritten);
	if (fit_libspf2(r, base) == -1) {
		spf__rec_free(r);
		return -1;
	}
	return 0;
}

/* Lower-case the 'R' transformer of every macro (see spf_int.h). */
void
spf__macro_normalize(char *s)
{
	size_t	 i = 0, j;

	while (s[i]) {
		if (s[i] != '%' || s[i + 1] == '\0') {
			i++;
			continue;
		}
		if (s[i + 1] != '{') {
			i += 2;		/* "%%", "%_", "%-" */
			continue;
		}
		j = i + 2;
		if (s[j])
			j++;		/* the letter */
		while (isdigit((unsigned char)s[j]))
			j++;
		if (s[j] == 'R')
			s[j] = 'r';
		i = j;
	}
}

/* Check explanation text (see spf_int.h). */
int
spf__exp_check(const char *txt, size_t len)
{
	struct spf_rec	 r;
	unsigned	 nmacros = 0;
	bool		 ends;

	if (len > SPF_MAX_EXP)
		return -1;
	return macro_string(txt, len, true, &nmacros, &ends, &r);
}

/* Tell whether a domain is usable (see spf_int.h). */
bool
spf__domain_ok(const char *d)
{
	size_t	 len = strlen(d), lab = 0, labels = 0, i;

	if (len && d[len - 1] == '.')
		len--;
	if (len == 0 || len > SPF_MAX_DOMAIN || d[0] == '[')
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)d[i];

		if (c == '.') {
			if (lab == 0)
				return false;
			lab = 0;
			continue;
		}
		if (c < 0x21 || c > 0x7e || ++lab > 63)
			return false;
		if (lab == 1)
			labels++;
	}
	return lab > 0 && labels > 1;
}

/* Copy client text for the expander (see spf_int.h). */
void
spf__sanitize(char *dst, const char *src, size_t max)
{
	size_t	 i;

	for (i = 0; src[i] && i < max; i++)
		dst[i] = (unsigned char)src[i] >= 0x20 &&
		    (unsigned char)src[i] <= 0x7e ? src[i] : '?';
	dst[i] = '\0';
}
