/*
 * regex.c -- Perl regexes as SpamAssassin writes them, compiled by PCRE2.
 *
 * Owns: splitting "/re/flags", "m{re}flags", "m!re!flags" (any non-word
 * delimiter after m or qr) exactly as SpamAssassin's
 * Util::compile_regexp does; translating the few Perl constructs PCRE2
 * reads differently; compiling; JIT with a fallback to the interpreter;
 * and the ReplaceTags plugin's rewriting of <tag> references.
 *
 * Patterns are compiled without UTF mode: SpamAssassin matches octets
 * with /aa, so \w, \d, \s and POSIX classes are ASCII, and input bytes
 * need not be valid UTF-8.  Perl code points above 0xFF (\x{456}) can
 * never match octets: they are turned into something that never matches.
 * Perl 5.34's "{,n}" quantifier becomes "{0,n}".
 *
 * Failure: compile errors are returned as text with the offset; a JIT
 * failure (e.g. under MemoryDenyWriteExecute) silently leaves the
 * interpreter in use.
 */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"

/* Split SRC into pattern body and modifiers, as compile_regexp does. */
int
rules__regex_parse(const char *src, size_t len, char **bodyp, char **modsp,
    char *err, size_t errlen)
{
	const char *b, *e, *m;
	char dend;
	size_t i;

	*bodyp = *modsp = NULL;
	if (len > 0 && src[0] == '/') {
		b = src + 1;
		dend = '/';
	} else {
		if (len > 1 && src[0] == 'm')
			b = src + 1;
		else if (len > 2 && src[0] == 'q' && src[1] == 'r')
			b = src + 2;
		else {
			snprintf(err, errlen, "missing regexp delimiters");
			return -1;
		}
		switch (*b) {
		case '{': dend = '}'; break;
		case '(': dend = ')'; break;
		case '<': dend = '>'; break;
		case '[': dend = ']'; break;
		default:
			dend = *b;
			if (dend == '\\') {
				snprintf(err, errlen,
				    "backslash delimiter not allowed");
				return -1;
			}
			if (dend == '_' || (dend >= 'a' && dend <= 'z') ||
			    (dend >= 'A' && dend <= 'Z') ||
			    (dend >= '0' && dend <= '9') || dend == '\0') {
				snprintf(err, errlen,
				    "missing regexp delimiters");
				return -1;
			}
			break;
		}
		b++;
	}
	/* Modifiers: [a-df-z]* at the very end, after the delimiter. */
	e = src + len;
	while (e > b && e[-1] >= 'a' && e[-1] <= 'z' && e[-1] != 'e')
		e--;
	m = e;
	if (e == b || e[-1] != dend) {
		snprintf(err, errlen, "invalid end delimiter/mods");
		return -1;
	}
	e--;
	if ((m - src) < (b - src) + 1) {
		snprintf(err, errlen, "invalid end delimiter/mods");
		return -1;
	}
	/* Unescaped delimiter inside (not for }, ), ]). */
	if (dend != '}' && dend != ')' && dend != ']') {
		for (i = 0; b + i < e; i++) {
			if (b[i] == '\\' && b + i + 1 < e && b[i + 1] == '\\') {
				i++;
				continue;
			}
			if (b[i] == dend && (i == 0 || b[i - 1] != '\\')) {
				snprintf(err, errlen,
				    "unquoted delimiter '%c' found", dend);
				return -1;
			}
		}
	}
	*bodyp = rules__strndup(b, (size_t)(e - b));
	*modsp = rules__strndup(m, (size_t)(src + len - m));
	if (*bodyp == NULL || *modsp == NULL) {
		free(*bodyp);
		free(*modsp);
		*bodyp = *modsp = NULL;
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (strstr(*bodyp, "(?{") != NULL || strstr(*bodyp, "(??{") != NULL) {
		snprintf(err, errlen, "eval (?{}) found");
		free(*bodyp);
		free(*modsp);
		*bodyp = *modsp = NULL;
		return -1;
	}
	return 0;
}

/* Value of a hex digit, or -1. */
int
rules__hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * At P (just after a backslash) read \x{...}, \o{...} or \N{U+...}:
 * returns the code point and sets *used to the bytes after the
 * backslash, or returns -1 if P is not such an escape.
 */
static long
wide_escape(const char *p, const char *end, size_t *used)
{
	const char *q;
	long v = 0;
	int base, d;

	if (end - p < 3)
		return -1;
	if (p[0] == 'x' && p[1] == '{')
		base = 16, q = p + 2;
	else if (p[0] == 'o' && p[1] == '{')
		base = 8, q = p + 2;
	else if (p[0] == 'N' && p[1] == '{' && end - p > 4 && p[2] == 'U' &&
	    p[3] == '+')
		base = 16, q = p + 4;
	else
		return -1;
	while (q < end && *q == ' ')
		q++;
	while (q < end && *q != '}') {
		if (*q == '_' || *q == ' ') {
			q++;
			continue;
		}
		d = rules__hexval((unsigned char)*q);
		if (d < 0 || d >= base)
			return -1;
		if (v < 0x1000000)
			v = v * base + d;
		q++;
	}
	if (q >= end)
		return -1;
	*used = (size_t)(q + 1 - p);
	return v;
}

/* One class member: its text and, if a single character, its value. */
struct atom {
	const char	*s;
	size_t		 len;
	long		 val;		/* -1: not a single known character */
};

/* Read one class member at *P. */
static void
class_atom(const char **pp, const char *end, struct atom *a)
{
	const char *p = *pp;
	size_t used;
	long v;

	a->s = p;
	a->val = -1;
	if (*p == '[' && p + 1 < end && (p[1] == ':' || p[1] == '.' ||
	    p[1] == '=')) {
		const char *q = p + 2;
		while (q + 1 < end && !(q[0] == p[1] && q[1] == ']'))
			q++;
		if (q + 1 < end) {
			*pp = q + 2;
			a->len = (size_t)(*pp - p);
			return;
		}
	}
	if (*p == '\\' && p + 1 < end) {
		if ((v = wide_escape(p + 1, end, &used)) >= 0) {
			a->val = v;
			*pp = p + 1 + used;
		} else
			*pp = p + 2;
		a->len = (size_t)(*pp - p);
		return;
	}
	a->val = (unsigned char)*p;
	*pp = p + 1;
	a->len = 1;
}

/*
 * Translate a bracketed class starting at *PP ('['); append to OUT.
 * Members above 0xFF are dropped (a range's upper bound is clamped).
 */
static void
translate_class(const char **pp, const char *end, struct sbuf *out)
{
	const char *p = *pp + 1;
	struct sbuf cls = { 0 };
	struct atom a, b;
	bool neg = false, first = true;
	size_t kept = 0;

	if (p < end && *p == '^') {
		neg = true;
		p++;
	}
	while (p < end && (*p != ']' || first)) {
		first = false;
		class_atom(&p, end, &a);
		if (p + 1 < end && *p == '-' && p[1] != ']') {
			p++;
			class_atom(&p, end, &b);
			if (a.val > 0xff)
				continue;	/* whole range is too high */
			if (b.val > 0xff) {
				rules__sb_add(&cls, a.s, a.len);
				rules__sb_adds(&cls, "-\\xff");
				kept++;
				continue;
			}
			rules__sb_add(&cls, a.s, (size_t)(p - a.s));
			kept++;
			continue;
		}
		if (a.val > 0xff)
			continue;
		rules__sb_add(&cls, a.s, a.len);
		kept++;
	}
	if (p < end)
		p++;			/* the closing ']' */
	*pp = p;
	if (kept == 0)
		rules__sb_adds(out, neg ? "[\\x00-\\xff]" : "(?:(?!))");
	else {
		rules__sb_adds(out, neg ? "[^" : "[");
		if (cls.p != NULL)
			rules__sb_add(out, cls.p, cls.len);
		rules__sb_addc(out, ']');
	}
	if (cls.oom)
		out->oom = true;
	free(cls.p);
}

/* Translate Perl regex syntax PCRE2 reads differently. */
static char *
translate(const char *src)
{
	const char *p = src, *end = src + strlen(src), *q;
	struct sbuf out = { 0 };
	size_t used;
	long v;

	while (p < end) {
		if (*p == '\\' && p + 1 < end) {
			if (p[1] == 'Q') {	/* \Q...\E: copy as is */
				q = strstr(p + 2, "\\E");
				q = q != NULL ? q + 2 : end;
				rules__sb_add(&out, p, (size_t)(q - p));
				p = q;
				continue;
			}
			if ((v = wide_escape(p + 1, end, &used)) >= 0) {
				if (v > 0xff)
					rules__sb_adds(&out, "(?:(?!))");
				else {
					char hex[8];
					snprintf(hex, sizeof(hex), "\\x{%lx}",
					    v);
					rules__sb_adds(&out, hex);
				}
				p += 1 + used;
				continue;
			}
			rules__sb_add(&out, p, 2);
			p += 2;
			continue;
		}
		if (*p == '[') {
			translate_class(&p, end, &out);
			continue;
		}
		if (*p == '{' && p + 1 < end && p[1] == ',') {
			q = p + 2;
			while (q < end && *q >= '0' && *q <= '9')
				q++;
			if (q > p + 2 && q < end && *q == '}') {
				rules__sb_adds(&out, "{0,");
				p += 2;
				continue;
			}
		}
		rules__sb_addc(&out, *p);
		p++;
	}
	return rules__sb_take(&out);
}

/* The pattern as compiled (Perl constructs translated), malloc'ed. */
char *
rules__regex_translate(const char *pattern)
{
	return translate(pattern);
}

/*
 * The option letters set inline anywhere in PATTERN ("(?i)", "(?-s:",
 * "(?^"), as RULES_OPT_* bits.  Any "(?" counts, even inside a class
 * or after a backslash: callers use it to give up or to widen.
 */
unsigned
rules__regex_inline_opts(const char *pattern)
{
	const char *p, *f;
	unsigned o = 0;

	for (p = pattern; (p = strstr(p, "(?")) != NULL; p += 2)
		for (f = p + 2; *f != '\0' &&
		    strchr("imnsxpaludoUJ^-", *f) != NULL; f++)
			o |= *f == 'i' ? RULES_OPT_I : *f == 's' ? RULES_OPT_S :
			    *f == 'x' ? RULES_OPT_X : *f == '-' ?
			    RULES_OPT_NEG : *f == '^' ? RULES_OPT_RESET : 0;
	return o;
}

/* Map modifier letters to PCRE2 options; -1 on an unknown one. */
static int
mod_options(const char *mods, uint32_t *opts, char *bad)
{
	const char *m;

	*opts = 0;
	for (m = mods; *m != '\0'; m++) {
		switch (*m) {
		case 'i': *opts |= PCRE2_CASELESS; break;
		case 'm': *opts |= PCRE2_MULTILINE; break;
		case 's': *opts |= PCRE2_DOTALL; break;
		case 'x':
			if (*opts & PCRE2_EXTENDED)
				*opts |= PCRE2_EXTENDED_MORE;
			*opts |= PCRE2_EXTENDED;
			break;
		case 'n': *opts |= PCRE2_NO_AUTO_CAPTURE; break;
		case 'p': case 'a': case 'u': case 'l': case 'd': case 'o':
			break;		/* no effect on octet matching */
		default:
			*bad = *m;
			return -1;
		}
	}
	return 0;
}

#define SPLIT_MAX	512	/* pieces of one pattern */
#define SPLIT_DEPTH	12

/* A list of pattern strings. */
struct pieces {
	char		**v;
	size_t		 n;
	bool		 oom;
};

/* Add a copy of P (LEN bytes) to the list. */
static void
pieces_add(struct pieces *ps, const char *p, size_t len)
{
	char **nv;

	if (ps->oom)
		return;
	if ((nv = realloc(ps->v, (ps->n + 1) * sizeof(*nv))) == NULL ||
	    (nv[ps->n] = rules__strndup(p, len)) == NULL) {
		if (nv != NULL)
			ps->v = nv;
		ps->oom = true;
		return;
	}
	ps->v = nv;
	ps->n++;
}

/* Length of the syntax element at P that is not a group or '|'. */
static size_t
elem_len(const char *p, const char *end)
{
	const char *q;

	if (*p == '\\') {
		if (p + 1 < end && p[1] == 'Q') {
			q = strstr(p + 2, "\\E");
			return q != NULL && q < end ? (size_t)(q + 2 - p) :
			    (size_t)(end - p);
		}
		return p + 1 < end ? 2 : 1;
	}
	if (*p == '[') {
		q = p + 1;
		if (q < end && *q == '^')
			q++;
		if (q < end && *q == ']')
			q++;
		while (q < end && *q != ']') {
			if (*q == '\\' && q + 1 < end)
				q += 2;
			else if (*q == '[' && q + 1 < end && q[1] == ':') {
				const char *c = strstr(q + 2, ":]");
				q = c != NULL && c < end ? c + 2 : q + 1;
			} else
				q++;
		}
		return q < end ? (size_t)(q + 1 - p) : (size_t)(end - p);
	}
	return 1;
}

/* True if P has back references or recursion (splitting would break). */
static bool
has_backrefs(const char *p)
{
	const char *end = p + strlen(p);

	while (p < end) {
		if (*p == '\\' && p + 1 < end && ((p[1] >= '1' &&
		    p[1] <= '9') || p[1] == 'g' || p[1] == 'k'))
			return true;
		if (*p == '(' && p + 2 < end && p[1] == '?' && (p[2] == 'R' ||
		    p[2] == '&' || (p[2] >= '0' && p[2] <= '9') ||
		    (p[2] == 'P' && p + 3 < end && (p[3] == '=' ||
		    p[3] == '>')) || p[2] == '('))
			return true;
		p += elem_len(p, end);
	}
	return false;
}

/* True if the group opener at P can be distributed over. */
static size_t
plain_group(const char *p, const char *end)
{
	const char *q;

	if (p + 1 < end && p[1] != '?')
		return 1;			/* capturing "(" */
	if (p + 2 < end && p[2] == ':')
		return 3;			/* "(?:" */
	/* "(?flags:" */
	for (q = p + 2; q < end && ((*q >= 'a' && *q <= 'z') || *q == '-' ||
	    *q == '^'); q++)
		;
	if (q > p + 2 && q < end && *q == ':')
		return (size_t)(q + 1 - p);
	return 0;
}

/* True if a quantifier follows at P. */
static bool
quantified(const char *p, const char *end)
{
	return p < end && (*p == '?' || *p == '*' || *p == '+' || (*p == '{' &&
	    p + 1 < end && ((p[1] >= '0' && p[1] <= '9') || p[1] == ',')));
}

/*
 * Find the '|' that cuts the alternatives between A and END (at group
 * depth 0 relative to A) in two halves; NULL if there is none.
 */
static const char *
middle_bar(const char *a, const char *end, const char *limit)
{
	const char *p;
	size_t nalt = 1, k = 0;
	int d = 0;

	for (p = a; p < end; ) {
		if (*p == '|' && d == 0)
			nalt++, p++;
		else if (*p == '(')
			d++, p++;
		else if (*p == ')')
			d--, p++;
		else
			p += elem_len(p, limit);
	}
	if (nalt < 2)
		return NULL;
	for (p = a, d = 0; p < end; ) {
		if (*p == '|' && d == 0) {
			if (++k == nalt / 2)
				return p;
			p++;
		} else if (*p == '(')
			d++, p++;
		else if (*p == ')')
			d--, p++;
		else
			p += elem_len(p, limit);
	}
	return NULL;
}

/*
 * Emit two pieces: PAT[0..pre) OPEN ALTS SUFFIX, where ALTS is the first
 * or the second half of the alternatives in [A, B) and SUFFIX is
 * PAT[b..], so that their union matches what PAT matches.
 */
static int
emit_halves(const char *pat, const char *pre, const char *open,
    size_t openlen, const char *a, const char *b, struct pieces *out)
{
	const char *end = pat + strlen(pat), *mid;
	size_t k;

	if ((mid = middle_bar(a, b, end)) == NULL)
		return -1;
	for (k = 0; k < 2; k++) {
		struct sbuf sb = { 0 };
		const char *from = k == 0 ? a : mid + 1;
		const char *to = k == 0 ? mid : b;

		rules__sb_add(&sb, pat, (size_t)(pre - pat));
		rules__sb_add(&sb, open, openlen);
		rules__sb_add(&sb, from, (size_t)(to - from));
		if (openlen > 0)
			rules__sb_add(&sb, b, (size_t)(end - b));
		if (sb.oom)
			return -1;
		pieces_add(out, sb.p, sb.len);
		free(sb.p);
	}
	return out->oom ? -1 : 0;
}

/* One group of a pattern, for choosing where to split. */
struct grp {
	const char	*start;		/* '(' */
	const char	*end;		/* ')' */
	size_t		 open;		/* opener length, 0: not splittable */
	size_t		 bars;		/* '|' at its own level */
	int		 parent;
	bool		 quant;
};

/*
 * The largest group with alternatives whose enclosing groups are all
 * plain, unquantified concatenations (PREFIX (A|B) SUFFIX can then be
 * distributed textually).  Returns its index in *G, or -1.
 */
static int
best_group(const char *body, const char *end, struct grp **gp)
{
	struct grp *g;
	const char *p;
	int stack[64], sp = 0, ng = 0, i, a, best = -1, maxg = 0;

	for (p = body; p < end; p++)
		maxg += *p == '(';
	if ((g = calloc((size_t)maxg + 1, sizeof(*g))) == NULL)
		return -1;
	*gp = g;
	for (p = body; p < end; ) {
		if (*p == '(') {
			if (ng == maxg || sp == 64)
				return -1;
			g[ng].start = p++;
			g[ng].open = plain_group(g[ng].start, end);
			g[ng].parent = sp > 0 ? stack[sp - 1] : -1;
			stack[sp++] = ng++;
		} else if (*p == ')') {
			if (sp == 0)
				return -1;
			i = stack[--sp];
			g[i].end = p++;
			g[i].quant = quantified(p, end);
		} else if (*p == '|') {
			if (sp > 0)
				g[stack[sp - 1]].bars++;
			p++;
		} else
			p += elem_len(p, end);
	}
	if (sp != 0)
		return -1;
	for (i = 0; i < ng; i++) {
		if (g[i].open == 0 || g[i].bars == 0 || g[i].quant)
			continue;
		for (a = g[i].parent; a >= 0; a = g[a].parent)
			if (g[a].open == 0 || g[a].bars > 0 || g[a].quant)
				break;
		if (a < 0 && (best < 0 || g[i].end - g[i].start >
		    g[best].end - g[best].start))
			best = i;
	}
	return best;
}

/*
 * Split PAT (too large for PCRE2's 64 KB link size) into two patterns
 * whose union matches where PAT matches: its top-level alternatives in
 * two halves, or PREFIX (A|B|C|D) SUFFIX into PREFIX (A|B) SUFFIX and
 * PREFIX (C|D) SUFFIX for the largest splittable group.  Leading
 * "(?flags)" settings stay in front of both.  Returns 0 with the
 * pieces, -1 if PAT cannot be split.
 */
static int
split_pattern(const char *pat, struct pieces *out)
{
	const char *end = pat + strlen(pat), *p, *body = pat, *q;
	struct grp *g = NULL;
	int depth = 0, best, rc;
	bool bars = false;

	/* leading option settings such as "(?i)" */
	while (body + 3 < end && body[0] == '(' && body[1] == '?') {
		for (q = body + 2; q < end && ((*q >= 'a' && *q <= 'z') ||
		    *q == '-' || *q == '^'); q++)
			;
		if (q == end || *q != ')' || q == body + 2)
			break;
		body = q + 1;
	}
	for (p = body; p < end; ) {
		if (*p == '(')
			depth++, p++;
		else if (*p == ')')
			depth--, p++;
		else if (*p == '|' && depth == 0)
			bars = true, p++;
		else
			p += elem_len(p, end);
	}
	if (depth != 0)
		return -1;
	if (bars)
		return emit_halves(pat, body, "", 0, body, end, out);
	best = best_group(body, end, &g);
	if (best < 0) {
		free(g);
		return -1;
	}
	rc = g[best].open == 1 ?
	    emit_halves(pat, g[best].start, "(?:", 3, g[best].start + 1,
	    g[best].end, out) :
	    emit_halves(pat, g[best].start, g[best].start, g[best].open,
	    g[best].start + g[best].open, g[best].end, out);
	free(g);
	return rc;
}

/*
 * Rewrite the largest group with a counted repeat, G{m,n}, as a named
 * group called again: (?<ghN>G)(?&ghN){m-1,n-1}.  PCRE2 copies a
 * repeated group m..n times into the compiled pattern; a subroutine
 * call (not atomic since PCRE2 10.30, as in Perl) is compiled once.
 * Returns the new pattern or NULL.
 */
static char *
factor_repeat(const char *pat, int serial)
{
	const char *end = pat + strlen(pat), *p, *best = NULL, *bestend = NULL;
	const char *q, *qend = NULL;
	const char *stack[64];
	unsigned long m, n, bm = 0, bn = 0;
	bool open_ended = false, bopen = false, lazy = false;
	struct sbuf sb = { 0 };
	char name[32], num[64];
	int sp = 0;

	for (p = pat; p < end; ) {
		if (*p == '(') {
			if (sp == 64)
				return NULL;
			stack[sp++] = p++;
			continue;
		}
		if (*p != ')') {
			p += elem_len(p, end);
			continue;
		}
		if (sp == 0)
			return NULL;
		q = stack[--sp];
		p++;
		if (*p != '{' || p[1] < '0' || p[1] > '9')
			continue;
		{
			char *e;
			m = strtoul(p + 1, &e, 10);
			n = m;
			open_ended = false;
			if (*e == ',') {
				if (e[1] == '}') {
					open_ended = true;
					e++;
				} else
					n = strtoul(e + 1, &e, 10);
			}
			if (*e != '}' || n < m || (n < 2 && !open_ended) ||
			    e[1] == '+')
				continue;
			if (best == NULL || p - q > bestend - best) {
				best = q;
				bestend = p;
				qend = e + 1;
				bm = m;
				bn = n;
				bopen = open_ended;
				lazy = e[1] == '?';
			}
		}
	}
	if (best == NULL)
		return NULL;
	snprintf(name, sizeof(name), "ghr%d", serial);
	rules__sb_add(&sb, pat, (size_t)(best - pat));
	if (bm == 0)
		rules__sb_adds(&sb, "(?:");
	rules__sb_adds(&sb, "(?<");
	rules__sb_adds(&sb, name);
	rules__sb_adds(&sb, ">");
	rules__sb_add(&sb, best, (size_t)(bestend - best));
	rules__sb_adds(&sb, ")(?&");
	rules__sb_adds(&sb, name);
	rules__sb_adds(&sb, ")");
	if (bopen)
		snprintf(num, sizeof(num), "{%lu,}", bm > 0 ? bm - 1 : 0);
	else
		snprintf(num, sizeof(num), "{%lu,%lu}", bm > 0 ? bm - 1 : 0,
		    bn - 1);
	rules__sb_adds(&sb, num);
	if (lazy)
		rules__sb_addc(&sb, '?');
	if (bm == 0)
		rules__sb_adds(&sb, lazy ? ")??" : ")?");
	q = qend + (lazy ? 1 : 0);
	rules__sb_add(&sb, q, (size_t)(end - q));
	return rules__sb_take(&sb);
}

/* Compile PAT, splitting it when PCRE2 finds it too large. */
static int
compile_split(struct regex *re, const char *pat, uint32_t opts,
    pcre2_compile_context *cctx, int depth, char *err, size_t errlen)
{
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off;
	pcre2_code *code, **nm;
	struct pieces ps = { 0 };
	size_t i;
	int ec, rc = 0;

	code = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, opts,
	    &ec, &off, cctx);
	if (code != NULL) {
		if (re->code == NULL) {
			re->code = code;
			return 0;
		}
		if (re->nmore + 1 >= SPLIT_MAX || (nm = realloc(re->more,
		    (re->nmore + 1) * sizeof(*nm))) == NULL) {
			pcre2_code_free(code);
			snprintf(err, errlen, "pattern too large to split");
			return -1;
		}
		re->more = nm;
		re->more[re->nmore++] = code;
		return 0;
	}
	if (ec == PCRE2_ERROR_PATTERN_TOO_LARGE && depth < SPLIT_DEPTH &&
	    !has_backrefs(pat) && (split_pattern(pat, &ps) == -1 ||
	    ps.n < 2)) {
		char *f = factor_repeat(pat, depth);
		for (i = 0; i < ps.n; i++)
			free(ps.v[i]);
		ps.n = 0;
		if (f != NULL) {
			rc = compile_split(re, f, opts, cctx, depth + 1, err,
			    errlen);
			free(f);
			free(ps.v);
			return rc;
		}
	}
	if (ec != PCRE2_ERROR_PATTERN_TOO_LARGE || depth >= SPLIT_DEPTH ||
	    has_backrefs(pat) || ps.n < 2) {
		pcre2_get_error_message(ec, msg, sizeof(msg));
		snprintf(err, errlen, "%s at offset %zu", (char *)msg,
		    (size_t)off);
		rc = -1;
	}
	for (i = 0; rc == 0 && i < ps.n; i++)
		rc = compile_split(re, ps.v[i], opts, cctx, depth + 1, err,
		    errlen);
	for (i = 0; i < ps.n; i++)
		free(ps.v[i]);
	free(ps.v);
	return rc;
}

/*
 * Character tables for Perl's /aa on octets: the C locale's (\w, \d,
 * \s and POSIX classes ASCII only), plus Latin-1 case folding of bytes
 * 0xC0-0xDE <-> 0xE0-0xFE (not 0xD7, 0xF7) for /i, which Perl applies
 * to native strings under /a: /\xC9/aai matches "\xE9".  Built in the
 * C locale whatever the process's locale.  The table layout is
 * PCRE2's (lower-case table, then flip-case table); a self-check falls
 * back to NULL (PCRE2's built-in ASCII tables) if it ever changes.
 * Returns tables to free with pcre2_maketables_free(), or NULL.
 */
const uint8_t *
rules__perl_tables(void)
{
	locale_t c, old;
	uint8_t *t;
	pcre2_code *code;
	pcre2_compile_context *cctx;
	pcre2_match_data *md;
	int ec, i, ok = 0;
	PCRE2_SIZE off;

	if ((c = newlocale(LC_ALL_MASK, "C", (locale_t)0)) == (locale_t)0)
		return NULL;
	old = uselocale(c);
	t = (uint8_t *)pcre2_maketables(NULL);
	uselocale(old);
	freelocale(c);
	if (t == NULL)
		return NULL;
	for (i = 0xc0; i <= 0xde; i++) {
		if (i == 0xd7)
			continue;
		t[i] = (uint8_t)(i + 0x20);		/* lcc */
		t[256 + i] = (uint8_t)(i + 0x20);	/* fcc */
		t[256 + i + 0x20] = (uint8_t)i;
	}
	/* self-check: é ~ É, and \w still ASCII */
	if ((cctx = pcre2_compile_context_create(NULL)) != NULL &&
	    pcre2_set_character_tables(cctx, t) == 0 &&
	    (code = pcre2_compile((PCRE2_SPTR)"^\\xc9[a-z]\\W$",
	    PCRE2_ZERO_TERMINATED, PCRE2_CASELESS, &ec, &off, cctx)) != NULL) {
		if ((md = pcre2_match_data_create(1, NULL)) != NULL) {
			ok = pcre2_match(code, (PCRE2_SPTR)"\xe9" "A" "\xe9",
			    3, 0, 0, md, NULL) >= 0 && pcre2_match(code,
			    (PCRE2_SPTR)"\xe9\xe9\xe9", 3, 0, 0, md, NULL) < 0;
			pcre2_match_data_free(md);
		}
		pcre2_code_free(code);
	}
	pcre2_compile_context_free(cctx);
	if (!ok) {
		pcre2_maketables_free(NULL, t);
		return NULL;
	}
	return t;
}

/* Compile PATTERN (Perl syntax) with MODS into RE. */
int
rules__regex_compile(struct regex *re, const char *pattern, const char *mods,
    pcre2_compile_context *cctx, char *err, size_t errlen)
{
	uint32_t opts;
	char *tr, bad = 0;
	int rc;

	if (mod_options(mods, &opts, &bad) == -1) {
		snprintf(err, errlen, "unsupported modifier '%c'", bad);
		return -1;
	}
	if ((tr = translate(pattern)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = compile_split(re, tr, opts, cctx, 0, err, errlen);
	free(tr);
	if (rc == -1)
		rules__regex_free_code(re);
	re->jit = false;
	return rc;
}

/*
 * Compile TEXT, a rewrite of a translated pattern, with MODS into RE;
 * false (RE left empty) when it does not compile.
 */
static bool
compile_rewrite(struct regex *re, const char *text, const char *mods,
    pcre2_compile_context *cctx)
{
	uint32_t opts;
	char bad = 0, err[200];
	int rc = -1;

	if (mod_options(mods, &opts, &bad) == 0)
		rc = compile_split(re, text, opts, cctx, 0, err, sizeof(err));
	if (rc == -1)
		rules__regex_free_code(re);
	re->jit = false;
	return rc == 0;
}

/* A projection of a translated pattern (ascii.c); NULL when none. */
typedef char	*projection(const char *, const char *);

/*
 * Compile projection PROJ of PATTERN (Perl syntax) with MODS into RE;
 * false (RE left empty) when there is none, or when it is the same as
 * projection UNLESS (if given).
 */
static bool
compile_projection(struct regex *re, const char *pattern, const char *mods,
    pcre2_compile_context *cctx, projection *proj, projection *unless)
{
	char *tr, *pr, *other = NULL;
	bool ok;

	if ((tr = translate(pattern)) == NULL)
		return false;
	pr = proj(tr, mods);
	if (pr != NULL && unless != NULL)
		other = unless(tr, mods);
	free(tr);
	if (pr == NULL || (other != NULL && strcmp(other, pr) == 0)) {
		free(other);
		free(pr);
		return false;
	}
	free(other);
	ok = compile_rewrite(re, pr, mods, cctx);
	free(pr);
	return ok;
}

/*
 * Compile the ASCII projection (ascii.c) of PATTERN (Perl syntax) with
 * MODS into RE; false (RE left empty) when there is none.
 */
bool
rules__regex_compile_ascii(struct regex *re, const char *pattern,
    const char *mods, pcre2_compile_context *cctx)
{
	return compile_projection(re, pattern, mods, cctx, rules__regex_ascii,
	    NULL);
}

/*
 * Compile the u8 projection (ascii.c: for non-ASCII texts whose bytes
 * >= 0x80 are UTF-8 of Latin-1 and punctuation) of PATTERN (Perl
 * syntax) with MODS into RE; false (RE left empty) when there is none.
 */
bool
rules__regex_compile_u8(struct regex *re, const char *pattern,
    const char *mods, pcre2_compile_context *cctx)
{
	return compile_projection(re, pattern, mods, cctx, rules__regex_u8,
	    NULL);
}

/*
 * Compile the plain projection (ascii.c) of PATTERN (Perl syntax) with
 * MODS into RE when it differs from the ASCII projection (the pattern
 * has "&"-alternatives to drop); false (RE left empty) otherwise.
 */
bool
rules__regex_compile_plain(struct regex *re, const char *pattern,
    const char *mods, pcre2_compile_context *cctx)
{
	return compile_projection(re, pattern, mods, cctx, rules__regex_plain,
	    rules__regex_ascii);
}

/*
 * How often, roughly, in ten thousand bytes of mail text, each ASCII
 * byte occurs (English prose: letters, space, newline, digits,
 * punctuation); other bytes 5.  Only used to compare where PCRE2 may
 * start a match (start_weight()).
 */
static unsigned
byte_weight(unsigned c)
{
	static const unsigned short lower[26] = {
		650, 120, 230, 330, 1000, 180, 160, 450, 600, 10, 60, 330,
		200, 600, 620, 160, 8, 500, 550, 700, 230, 80, 160, 15, 150, 7
	};

	if (c == ' ')
		return 1500;
	if (c == '\n' || c == '\r')
		return 200;
	if (c == '\t')
		return 20;
	if (c >= 'a' && c <= 'z')
		return lower[c - 'a'];
	if (c >= 'A' && c <= 'Z')
		return lower[c - 'A'] / 10 + 1;
	if (c >= '0' && c <= '9')
		return 50;
	if (c == '.' || c == ',')
		return 90;
	if (c > ' ' && c < 0x7f)
		return 10;
	return 5;
}

/*
 * The share of a text's positions where PCRE2 tries to match code C,
 * roughly (byte_weight()): its first byte or start bitmap; line starts;
 * every position when it knows neither.
 */
static unsigned long
start_weight(const pcre2_code *c)
{
	const uint8_t *bits = NULL;
	uint32_t type = 0, unit = 0, opts = 0;
	unsigned long w = 0;
	unsigned i;

	if (pcre2_pattern_info(c, PCRE2_INFO_FIRSTCODETYPE, &type) != 0)
		return 10000;
	if (type == 1 && pcre2_pattern_info(c, PCRE2_INFO_FIRSTCODEUNIT,
	    &unit) == 0) {
		(void)pcre2_pattern_info(c, PCRE2_INFO_ALLOPTIONS, &opts);
		if ((opts & PCRE2_CASELESS) && (unit | 0x20) >= 'a' &&
		    (unit | 0x20) <= 'z')
			return byte_weight(unit | 0x20) +
			    byte_weight(unit & ~0x20u);
		return byte_weight(unit);
	}
	if (type == 2)
		return byte_weight('\n');
	if (pcre2_pattern_info(c, PCRE2_INFO_FIRSTBITMAP, &bits) != 0 ||
	    bits == NULL)
		return 10000;
	for (i = 0; i < 256; i++)
		if (bits[i / 8] & (1u << (i % 8)))
			w += byte_weight(i);
	return w;
}

/* start_weight() of a compiled (maybe split) pattern: its pieces'. */
static unsigned long
regex_weight(const struct regex *re)
{
	unsigned long w = 0;
	uint32_t i;

	for (i = 0; re->code != NULL && i <= re->nmore; i++)
		w += start_weight(i == 0 ? re->code : re->more[i - 1]);
	return w;
}

/*
 * Compile the existence form (exist.c, rules__regex_exist() FLAGS) of
 * projection PROJ (NULL: none) of PATTERN into RE, with the unrolled
 * groups written once when the other form is too large for PCRE2;
 * false (RE left empty) when there is none, or when it matches the
 * empty text (it would rule out little).
 */
static bool
compile_form(struct regex *re, const char *pattern, const char *mods,
    pcre2_compile_context *cctx, projection *proj, unsigned flags)
{
	pcre2_match_data *md;
	char *tr, *p = NULL, *e;
	size_t ms, me;
	bool ok = false;
	int rc, k;

	if ((tr = translate(pattern)) == NULL)
		return false;
	if (proj != NULL && (p = proj(tr, mods)) == NULL) {
		free(tr);
		return false;
	}
	for (k = 0; k < 2 && !ok; k++) {
		e = rules__regex_exist(p != NULL ? p : tr, mods,
		    flags | (k ? RULES_EXIST_SHARE : 0));
		ok = e != NULL && compile_rewrite(re, e, mods, cctx);
		free(e);
	}
	free(p);
	free(tr);
	if (!ok)
		return false;
	/* (PCRE2's minimum length is 0 for a split pattern's pieces) */
	if ((md = pcre2_match_data_create(1, NULL)) == NULL)
		rc = 0;
	else {
		rc = rules__regex_match(re, "", 0, 0, 0, md, NULL, &ms, &me);
		pcre2_match_data_free(md);
	}
	if (rc != PCRE2_ERROR_NOMATCH) {
		rules__regex_free_code(re);
		return false;
	}
	return true;
}

/*
 * Compile existence form KIND (RULES_EX_*) of PATTERN (Perl syntax)
 * with MODS into RE, for ORIG, the pattern or projection it is searched
 * before: the form without the leading optional items, or the one that
 * also drops a leading one-byte item ("(?:^|\s)") when PCRE2 may start
 * that one at less than half as many positions (start_weight(): a
 * SpamAssassin tag rule then starts at a 'y', not at every space).
 * False (RE left empty) when there is none.
 */
bool
rules__regex_compile_exist(struct regex *re, const char *pattern,
    const char *mods, pcre2_compile_context *cctx, int kind,
    const struct regex *orig)
{
	static projection *const proj[4] = { NULL, rules__regex_ascii,
	    rules__regex_plain, rules__regex_u8 };
	struct regex cx = { 0 };
	unsigned long w;

	if (kind < 0 || kind > RULES_EX_U8)
		return false;
	(void)compile_form(re, pattern, mods, cctx, proj[kind], 0);
	if (!compile_form(&cx, pattern, mods, cctx, proj[kind],
	    RULES_EXIST_CONTEXT))
		return re->code != NULL;
	w = re->code != NULL ? regex_weight(re) : regex_weight(orig);
	if (2 * regex_weight(&cx) < w) {
		rules__regex_free_code(re);
		*re = cx;
		return true;
	}
	rules__regex_free_code(&cx);
	return re->code != NULL;
}

/* JIT-compile if allowed; on failure the interpreter is used. */
void
rules__regex_jit(struct regex *re, bool allowed)
{
	uint32_t i;

	if (!allowed || re->code == NULL || re->jit)
		return;
	re->jit = pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0;
	for (i = 0; re->jit && i < re->nmore; i++)
		re->jit = pcre2_jit_compile(re->more[i],
		    PCRE2_JIT_COMPLETE) == 0;
}

/*
 * Match RE in S from START.  A split pattern matches at the leftmost
 * start any piece matches at (the first piece on a tie).  Returns >= 0
 * on a match (bounds in *ms, *me), PCRE2_ERROR_NOMATCH, or the first
 * other error.
 */
int
rules__regex_match(const struct regex *re, const char *s, size_t len,
    size_t start, uint32_t opts, pcre2_match_data *md,
    pcre2_match_context *mctx, size_t *ms, size_t *me)
{
	PCRE2_SIZE *ov;
	uint32_t i;
	int rc, best = PCRE2_ERROR_NOMATCH;
	size_t bs = 0, be = 0;

	for (i = 0; i <= re->nmore; i++) {
		pcre2_code *c = i == 0 ? re->code : re->more[i - 1];

		/*
		 * JIT's fast path skips pcre2_match()'s checks (a tenth
		 * of all matching time: millions of short searches); it
		 * ignores PCRE2_ANCHORED, which pcre2_match() runs on
		 * the interpreter.
		 */
		if (re->jit && !(opts & PCRE2_ANCHORED))
			rc = pcre2_jit_match(c, (PCRE2_SPTR)s, len, start,
			    opts, md, mctx);
		else
			rc = pcre2_match(c, (PCRE2_SPTR)s, len, start, opts,
			    md, mctx);
		/* out of JIT stack: the interpreter works on the heap */
		if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
			rc = pcre2_match(c, (PCRE2_SPTR)s, len, start,
			    opts | PCRE2_NO_JIT, md, mctx);
		if (rc == PCRE2_ERROR_NOMATCH)
			continue;
		if (rc < 0) {
			if (best == PCRE2_ERROR_NOMATCH)
				best = rc;
			continue;
		}
		ov = pcre2_get_ovector_pointer(md);
		if (best < 0 || ov[0] < bs) {
			best = 0;
			bs = ov[0];
			be = ov[1] < ov[0] ? ov[0] : ov[1];
			if (bs == start)
				break;	/* cannot get more leftmost */
		}
	}
	if (best >= 0) {
		*ms = bs;
		*me = be;
	}
	return best;
}

/*
 * True if whether PATTERN matches at a position depends only on the
 * text it consumes: no anchors (^ $ \A \z \Z \G), no lookaround, no
 * conditionals or verbs.  Such a pattern finds the same matches inside
 * a line whether the line stands alone or sits between other lines
 * (with newlines around it).  Conservative: may say no when yes.
 */
bool
rules__regex_local(const char *pattern)
{
	const char *p = pattern, *end = pattern + strlen(pattern);

	while (p < end) {
		if (*p == '\\' && p + 1 < end && strchr("AzZG", p[1]) != NULL)
			return false;
		if (*p == '^' || *p == '$')
			return false;
		if (*p == '(' && p + 1 < end && (p[1] == '*' || (p[1] == '?' &&
		    p + 2 < end && (p[2] == '=' || p[2] == '!' || p[2] == '(' ||
		    (p[2] == '<' && p + 3 < end && (p[3] == '=' ||
		    p[3] == '!'))))))
			return false;
		p += elem_len(p, end);
	}
	return true;
}

/* End of the group opened at P ('('), just past its ')'; NULL if none. */
static const char *
group_end(const char *p, const char *end)
{
	int depth = 0;

	while (p < end) {
		if (*p == '(')
			depth++, p++;
		else if (*p == ')') {
			p++;
			if (--depth == 0)
				return p;
		} else
			p += elem_len(p, end);
	}
	return NULL;
}

/*
 * True if [P, END) holds ^ or $ outside classes: under /m they match
 * at more places, which a negative lookaround turns into fewer matches.
 */
static bool
has_anchor(const char *p, const char *end)
{
	while (p < end) {
		if (*p == '^' || *p == '$')
			return true;
		p += elem_len(p, end);
	}
	return false;
}

#define NL_MAY	(-2)	/* a class member that may match a newline */
#define NL_NOT	(-3)	/* one that cannot (\\d, \\w, \\h...) */

/*
 * Read one character or escape at *PP (before END): its byte value,
 * NL_MAY for \\s \\W \\D \\v \\R \\n \\C \\X \\p \\P, NL_NOT for other
 * letter escapes.
 */
static int
nl_member(const char **pp, const char *end)
{
	const char *q = *pp;
	int v = 0, d, k;

	if (*q != '\\' || q + 1 >= end) {
		*pp = q + 1;
		return (unsigned char)*q;
	}
	q++;
	if (*q == 'x') {
		q++;
		if (q < end && *q == '{') {
			for (q++; q < end && *q != '}'; q++)
				v = (d = rules__hexval(*q)) < 0 || v > 0xfff ?
				    0x1000 : v * 16 + d;
			*pp = q < end ? q + 1 : q;
			return v;
		}
		for (k = 0; k < 2 && q < end &&
		    (d = rules__hexval(*q)) >= 0; k++, q++)
			v = v * 16 + d;
		*pp = q;
		return v;
	}
	if (*q == '0') {
		for (k = 0; k < 3 && q < end && *q >= '0' && *q <= '7'; k++, q++)
			v = v * 8 + (*q - '0');
		*pp = q;
		return v;
	}
	*pp = q + 1;
	if (*q == 'n')
		return '\n';
	if (*q == 'c')			/* \cJ is a newline: say maybe */
		return *pp < end ? (*pp += 1, NL_MAY) : NL_MAY;
	/* \1-\9 \g \k: back references, may hold anything; \o{}: any */
	if ((*q >= '1' && *q <= '9') || strchr("sWDHvRCXpPgko", *q) != NULL)
		return NL_MAY;
	if ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z'))
		return NL_NOT;
	return (unsigned char)*q;
}

/*
 * True if the pattern text [P, END) may match a newline somewhere:
 * "." under /s, \\s \\W \\D \\v \\R \\n \\C \\X \\p, an escape naming 0x0A,
 * negated classes and classes holding any of those (or a range over
 * 0x0A).  Conservative: may say yes when no.
 */
static bool
can_match_nl(const char *p, const char *end, bool dotall)
{
	const char *q, *ce;
	int lo, hi;

	while (p < end) {
		if ((*p == '.' && dotall) || *p == '\n')
			return true;
		if (*p == '\\') {
			lo = nl_member(&p, end);
			if (lo == NL_MAY || lo == '\n')
				return true;
			continue;
		}
		if (*p != '[') {
			p += elem_len(p, end);
			continue;
		}
		ce = p + elem_len(p, end) - 1;	/* at the closing ']' */
		q = p + 1;
		if (q < ce && *q == '^')
			return true;
		if (q < ce && *q == ']')
			q++;			/* a leading ']' is literal */
		while (q < ce) {
			if (*q == '[' && q + 1 < ce && q[1] == ':') {
				if (strncmp(q, "[:space:]", 9) == 0 ||
				    strncmp(q, "[:cntrl:]", 9) == 0 ||
				    strncmp(q, "[:^", 3) == 0)
					return true;
				while (q < ce && !(q[0] == ':' && q[1] == ']'))
					q++;
				q += 2;
				continue;
			}
			lo = hi = nl_member(&q, ce);
			if (q + 1 < ce && *q == '-') {
				q++;
				hi = nl_member(&q, ce);
			}
			if (lo == NL_MAY || hi == NL_MAY || (lo >= 0 &&
			    hi >= 0 && lo <= '\n' && hi >= '\n'))
				return true;
		}
		p = ce + 1;
	}
	return false;
}

/*
 * True if PATTERN (with MODS), compiled with /m added, matches at every
 * position of a line where it matches the line alone, when the line
 * sits among other lines in one text (each line followed by a newline):
 * then a search of all lines joined finds no match only if no line
 * matches, and its first match starts in or before the first line that
 * matches.  That holds unless the pattern has \A \z \Z \G, recursion,
 * conditionals or verbs (anchored to the text, not the line), a
 * lookaround whose body may match a newline (it could see the next or
 * the previous line), or a $ when it may consume a newline (per line,
 * $ also matches after the line's final newline).  Conservative.
 */
bool
rules__regex_joinable(const char *pattern, const char *mods)
{
	const char *p = pattern, *end = pattern + strlen(pattern), *e;
	bool dotall = strchr(mods, 's') != NULL, dollar = false;
	unsigned opts = rules__regex_inline_opts(pattern);

	if (opts & RULES_OPT_S)
		dotall = true;
	/* (?-m) (?^): /m could be turned off again */
	if (opts & (RULES_OPT_NEG | RULES_OPT_RESET))
		return false;
	while (p < end) {
		if (*p == '\\' && p + 1 < end && strchr("AzZGK", p[1]) != NULL)
			return false;
		if (*p == '$')
			dollar = true;
		if (*p == '(' && p + 2 < end && (p[1] == '*' || (p[1] == '?' &&
		    (p[2] == '(' || p[2] == 'R' || p[2] == '&' ||
		    p[2] == 'P' || p[2] == '+' || (p[2] >= '0' &&
		    p[2] <= '9')))))
			return false;
		if (*p == '(' && p + 2 < end && p[1] == '?' && (p[2] == '=' ||
		    p[2] == '!' || (p[2] == '<' && p + 3 < end &&
		    (p[3] == '=' || p[3] == '!')))) {
			if ((e = group_end(p, end)) == NULL ||
			    can_match_nl(p + 3, e - 1, dotall) ||
			    has_anchor(p + 3, e - 1))
				return false;
			p = e;
			continue;
		}
		p += elem_len(p, end);
	}
	return !dollar || !can_match_nl(pattern, end, dotall);
}

/* Free the compiled code of RE (not its source). */
void
rules__regex_free_code(struct regex *re)
{
	uint32_t i;

	pcre2_code_free(re->code);
	for (i = 0; i < re->nmore; i++)
		pcre2_code_free(re->more[i]);
	free(re->more);
	re->code = NULL;
	re->more = NULL;
	re->nmore = 0;
}

/* Free a regex. */
void
rules__regex_free(struct regex *re)
{
	rules__regex_free_code(re);
	free(re->src);
	free(re->body);
	free(re->mods);
	memset(re, 0, sizeof(*re));
}

/* Look a tag up; NULL (or empty, which Perl treats as false) if none. */
static const char *
tag_find(const struct tagset *ts, const char *name, size_t len)
{
	size_t i;

	for (i = ts->n; i-- > 0; )
		if (strncmp(ts->v[i].name, name, len) == 0 &&
		    ts->v[i].name[len] == '\0')
			return ts->v[i].value[0] != '\0' &&
			    strcmp(ts->v[i].value, "0") != 0 ?
			    ts->v[i].value : NULL;
	return NULL;
}

/*
 * Find START.+?END in S from FROM: returns the offset of START and sets
 * *inner and *innerlen to what lies between, *total to the whole length.
 */
static const char *
find_tag(const char *s, const char *start, const char *endm,
    const char **inner, size_t *innerlen, size_t *total)
{
	size_t sl = strlen(start), el = strlen(endm);
	const char *p, *q;

	for (p = strstr(s, start); p != NULL; p = strstr(p + 1, start)) {
		q = p + sl;
		if (*q == '\0')
			return NULL;
		/* .+? : at least one byte, shortest, no newline */
		for (q = q + 1; *q != '\0'; q++) {
			if (q[-1] == '\n')
				break;
			if (strncmp(q, endm, el) == 0) {
				*inner = p + sl;
				*innerlen = (size_t)(q - (p + sl));
				*total = (size_t)(q + el - p);
				return p;
			}
		}
	}
	return NULL;
}

/* Remove the first START "kind " NAME END from *S; return NAME. */
static char *
take_directive(char *s, const char *start, const char *endm,
    const char *kind)
{
	const char *p, *inner;
	size_t innerlen, total, kl = strlen(kind);
	char *name;

	for (p = s; (p = find_tag(p, start, endm, &inner, &innerlen,
	    &total)) != NULL; p++) {
		if (innerlen > kl && strncmp(inner, kind, kl) == 0) {
			name = rules__strndup(inner + kl, innerlen - kl);
			memmove((char *)p, p + total, strlen(p + total) + 1);
			return name;
		}
		/* The regex is anchored on kind: try later positions. */
	}
	return NULL;
}

/* Split S like Perl's split(/(<[^<>]+>)/, S) (trailing empties dropped). */
static size_t
split_tags(const char *s, char ***piecesp)
{
	char **v = NULL, **nv;
	size_t n = 0;
	const char *p = s, *lt, *q;

	for (;;) {
		lt = NULL;
		for (q = p; *q != '\0'; q++) {
			if (*q == '<') {
				const char *r = q + 1;
				while (*r != '\0' && *r != '<' && *r != '>')
					r++;
				if (*r == '>' && r > q + 1) {
					lt = q;
					break;
				}
			}
		}
		if ((nv = realloc(v, (n + 2) * sizeof(*v))) == NULL)
			goto oom;
		v = nv;
		if (lt == NULL) {
			v[n++] = strdup(p);
			break;
		}
		v[n++] = rules__strndup(p, (size_t)(lt - p));
		q = strchr(lt, '>');
		v[n++] = rules__strndup(lt, (size_t)(q + 1 - lt));
		p = q + 1;
	}
	while (n > 0 && v[n - 1] != NULL && v[n - 1][0] == '\0')
		free(v[--n]);
	*piecesp = v;
	return n;
oom:
	while (n > 0)
		free(v[--n]);
	free(v);
	*piecesp = NULL;
	return 0;
}

/* Replace the first (or every) START.+?END in *P by PRE+it+POST. */
static int
wrap_tags(char **pp, const char *start, const char *endm, const char *pre,
    const char *post, bool all)
{
	struct sbuf sb = { 0 };
	const char *p = *pp, *t, *inner;
	size_t innerlen, total;

	while ((t = find_tag(p, start, endm, &inner, &innerlen, &total)) !=
	    NULL) {
		rules__sb_add(&sb, p, (size_t)(t - p));
		rules__sb_adds(&sb, pre);
		rules__sb_add(&sb, t, total);
		rules__sb_adds(&sb, post);
		p = t + total;
		if (!all)
			break;
	}
	rules__sb_adds(&sb, p);
	free(*pp);
	*pp = rules__sb_take(&sb);
	return *pp == NULL ? -1 : 0;
}

/* Replace every START NAME END in *P by VALUE. */
static int
subst_tag(char **pp, const char *start, const char *endm, const char *name,
    size_t nlen, const char *value)
{
	struct sbuf sb = { 0 }, pat = { 0 };
	const char *p = *pp, *t;

	rules__sb_adds(&pat, start);
	rules__sb_add(&pat, name, nlen);
	rules__sb_adds(&pat, endm);
	if (pat.oom)
		return -1;
	while ((t = strstr(p, pat.p)) != NULL) {
		rules__sb_add(&sb, p, (size_t)(t - p));
		rules__sb_adds(&sb, value);
		p = t + pat.len;
	}
	rules__sb_adds(&sb, p);
	free(pat.p);
	free(*pp);
	*pp = rules__sb_take(&sb);
	return *pp == NULL ? -1 : 0;
}

/* One pass of ReplaceTags over *RE; sets *again if tags remain. */
static int
replace_pass(struct loader *ld, char **re, bool *again)
{
	const char *start = ld->replace_start, *endm = ld->replace_end;
	char *pre, *post, *inter, **pieces;
	const char *v, *inner;
	size_t n, i, innerlen, total;
	struct sbuf sb = { 0 };
	int rc = 0;

	*again = false;
	pre = take_directive(*re, start, endm, "pre ");
	post = take_directive(*re, start, endm, "post ");
	inter = take_directive(*re, start, endm, "inter ");
	n = split_tags(*re, &pieces);
	if (pieces == NULL) {
		rc = -1;
		goto out;
	}
	for (i = 0; i < n && rc == 0; i++) {
		if (pre != NULL && (v = tag_find(&ld->pre, pre,
		    strlen(pre))) != NULL)
			rc = wrap_tags(&pieces[i], start, endm, v, "", false);
		if (rc == 0 && post != NULL && (v = tag_find(&ld->post, post,
		    strlen(post))) != NULL)
			rc = wrap_tags(&pieces[i], start, endm, "", v, true);
		if (rc == 0 && inter != NULL && pieces[i][0] == '\0' &&
		    (v = tag_find(&ld->inter, inter, strlen(inter))) != NULL) {
			free(pieces[i]);
			if ((pieces[i] = strdup(v)) == NULL)
				rc = -1;
		}
	}
	for (i = 0; i < n && rc == 0; i++) {
		char *name;

		if (find_tag(pieces[i], start, endm, &inner, &innerlen,
		    &total) == NULL)
			continue;
		if ((name = rules__strndup(inner, innerlen)) == NULL) {
			rc = -1;
			break;
		}
		if ((v = tag_find(&ld->tag, name, innerlen)) != NULL) {
			rc = subst_tag(&pieces[i], start, endm, name,
			    innerlen, v);
			if (!*again && find_tag(v, "<", ">", &inner,
			    &innerlen, &total) != NULL)
				*again = true;
		}
		free(name);
	}
	for (i = 0; i < n; i++) {
		if (pieces[i] != NULL)
			rules__sb_adds(&sb, pieces[i]);
		else
			rc = -1;
		free(pieces[i]);
	}
	free(pieces);
	if (rc == 0) {
		free(*re);
		if ((*re = rules__sb_take(&sb)) == NULL)
			rc = -1;
	} else
		free(sb.p);
out:
	free(pre);
	free(post);
	free(inter);
	return rc;
}

/*
 * Apply ReplaceTags to RE as Plugin::ReplaceTags does, on the pattern as
 * Perl stringifies it ("(?aa)(?MODS)BODY").  Returns the new pattern
 * (without the "(?aa)") and sets *changed, or NULL on allocation failure.
 */
char *
rules__replace_tags(struct loader *ld, const struct regex *re, bool *changed)
{
	struct sbuf sb = { 0 };
	char *s, *orig;
	bool again;
	int passes = 0;

	rules__sb_adds(&sb, "(?aa)");
	if (re->mods[0] != '\0') {
		rules__sb_adds(&sb, "(?");
		rules__sb_adds(&sb, re->mods);
		rules__sb_adds(&sb, ")");
	}
	rules__sb_adds(&sb, re->body);
	if ((s = rules__sb_take(&sb)) == NULL)
		return NULL;
	if ((orig = strdup(s)) == NULL) {
		free(s);
		return NULL;
	}
	do {
		if (replace_pass(ld, &s, &again) == -1) {
			free(orig);
			free(s);
			return NULL;
		}
		passes++;
	} while (again && passes <= 5);
	*changed = strcmp(s, orig) != 0;
	free(orig);
	memmove(s, s + 5, strlen(s + 5) + 1);	/* drop "(?aa)" */
	return s;
}
