/*
 * pfexpr.c -- Vectorscan prefilter-mode expressions for rules without
 * required literals (see prefilter.c).
 */
#include <hs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"

/* True if PATTERN sets option letter OPT somewhere ("(?i)", "(?si:"). */
static bool
inline_option(const char *p, int opt)
{
	const char *q;

	for (; (p = strstr(p, "(?")) != NULL; p += 2)
		for (q = p + 2; *q != '\0' && *q != '-' &&
		    strchr("imnsxpaludo^", *q) != NULL; q++)
			if (*q == opt && (q[1] == ')' || q[1] == ':' ||
			    strchr("imnsxpaludo^-", q[1]) != NULL))
				return true;
	return false;
}

/* Value of a hex digit, or -1. */
static int
latin1_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The Latin-1 case partner of byte C (as Perl /aai folds), or -1. */
static int
latin1_partner(int c)
{
	if (c == 0xd7 || c == 0xf7)
		return -1;
	if (c >= 0xc0 && c <= 0xde)
		return c + 0x20;
	if (c >= 0xe0 && c <= 0xfe)
		return c - 0x20;
	return -1;
}

/*
 * Read one character of a pattern at P: a byte or an escape naming a
 * byte (\xHH, \x{HH}, in a class also octal \ooo).  *V is its value,
 * or -1 when it is not a single known byte (\w, \1, ...); returns its
 * length.  *UNSURE is set for escapes naming a high byte that this
 * reader does not interpret (octal outside a class, \o{}, \N{}).
 */
static size_t
pattern_char(const char *p, bool in_class, int *v, bool *unsure)
{
	const char *q;
	int d, n;

	*v = -1;
	if (*p != '\\') {
		*v = (unsigned char)*p;
		return 1;
	}
	if (p[1] == '\0')
		return 1;
	if (p[1] == 'x') {
		q = p + 2;
		if (*q == '{') {
			for (n = 0, q++; *q != '\0' && *q != '}'; q++) {
				if ((d = latin1_hex(*q)) < 0)
					break;
				n = n * 16 + d;
				if (n > 0xffff)
					n = 0xffff;
			}
			if (*q != '}')
				return 2;
			*v = n;
			return (size_t)(q + 1 - p);
		}
		for (n = 0; q < p + 4 && (d = latin1_hex(*q)) >= 0; q++)
			n = n * 16 + d;
		*v = n;
		return (size_t)(q - p);
	}
	if (p[1] >= '0' && p[1] <= '7' && (in_class || p[1] == '0')) {
		for (n = 0, q = p + 1; q < p + 4 && *q >= '0' && *q <= '7';
		    q++)
			n = n * 8 + (*q - '0');
		*v = n;
		return (size_t)(q - p);
	}
	if ((p[1] >= '1' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7') ||
	    ((p[1] == 'o' || p[1] == 'N') && p[2] == '{'))
		*unsure = true;
	return 2;
}

/* Append "\xHH" for byte C. */
static char *
put_hex(char *w, int c)
{
	return w + sprintf(w, "\\x%02x", c);
}

/*
 * For a caseless pattern: add to every byte 0xC0-0xFE that PATTERN
 * names its Latin-1 case partner ("\xE9" becomes "[\xE9\xC9]", a class
 * with \xE0-\xE6 gains \xC0-\xC6), so that Vectorscan, which folds
 * ASCII only, matches wherever PCRE2 with gatehouse's Perl tables does.
 * Returns a malloc'ed string, or NULL when the pattern names high bytes
 * in a way this does not read (the rule then always runs).
 */
static char *
fold_latin1(const char *p)
{
	char *out = malloc(strlen(p) * 12 + 1), *w = out;
	bool cls = false, unsure = false;
	int v, v2, c;
	size_t n, n2;

	if (out == NULL)
		return NULL;
	while (*p != '\0' && !unsure) {
		if (!cls && *p == '[') {
			*w++ = *p++;
			if (*p == '^')
				*w++ = *p++;
			if (*p == ']')
				*w++ = *p++;
			cls = true;
			continue;
		}
		if (cls && *p == ']') {
			cls = false;
			*w++ = *p++;
			continue;
		}
		if (cls && *p == '[' && p[1] == ':') {
			const char *q = strstr(p, ":]");
			n = q != NULL ? (size_t)(q + 2 - p) : 1;
			memcpy(w, p, n);
			w += n;
			p += n;
			continue;
		}
		n = pattern_char(p, cls, &v, &unsure);
		if (cls && v >= 0 && p[n] == '-' && p[n + 1] != ']' &&
		    p[n + 1] != '\0') {
			n2 = pattern_char(p + n + 1, true, &v2, &unsure);
			memcpy(w, p, n + 1 + n2);
			w += n + 1 + n2;
			p += n + 1 + n2;
			for (c = v; v2 >= 0 && c <= v2 && c <= 0xff; c++)
				if (latin1_partner(c) >= 0 &&
				    (latin1_partner(c) < v ||
				    latin1_partner(c) > v2))
					w = put_hex(w, latin1_partner(c));
			continue;
		}
		memcpy(w, p, n);
		p += n;
		if (v < 0 || v > 0xff || latin1_partner(v) < 0) {
			w += n;
			continue;
		}
		if (cls) {
			w += n;
			w = put_hex(w, latin1_partner(v));
			continue;
		}
		*w++ = '[';
		w = put_hex(w, v);
		w = put_hex(w, latin1_partner(v));
		*w++ = ']';
	}
	*w = '\0';
	if (unsure) {
		free(out);
		return NULL;
	}
	return out;
}


/*
 * PATTERN with its counted repeats widened: {m,n}, {m,} or {m} becomes
 * {0,} or {1,} (m = 0 or not), and its option settings removed ("(?i)"
 * goes, "(?i:" becomes "(?:"; the caller applies the options found to
 * the whole pattern, which only widens it).  The result matches wherever
 * the original does (and more), which is all a prefilter needs;
 * Vectorscan compiles counted repeats of complex groups very slowly
 * (seconds for {0,99} around {0,1024}, or {3} around a long
 * alternation).  Escapes and character classes are copied as they are.
 * Returns a malloc'ed string, or NULL.
 */
static char *
widen_repeats(const char *p)
{
	char *out = malloc(strlen(p) * 2 + 1), *w = out, *q;
	unsigned long m, n;
	bool cls = false;

	if (out == NULL)
		return NULL;
	while (*p != '\0') {
		if (*p == '\\' && p[1] != '\0') {
			*w++ = *p++;
			*w++ = *p++;
			continue;
		}
		if (cls || *p == '[') {
			if (!cls) {
				*w++ = *p++;
				if (*p == '^')
					*w++ = *p++;
				if (*p == ']')
					*w++ = *p++;
				cls = true;
				continue;
			}
			cls = *p != ']';
			*w++ = *p++;
			continue;
		}
		if (*p == '(' && p[1] == '?' && p[2] != '\0' &&
		    strchr("imnsxpaludo^-", p[2]) != NULL) {
			for (q = (char *)p + 2; *q != '\0' &&
			    strchr("imnsxpaludo^-", *q) != NULL; q++)
				;
			if (*q == ')') {	/* (?i): dropped */
				p = q + 1;
				continue;
			}
			if (*q == ':') {	/* (?i: -> (?: */
				w += sprintf(w, "(?:");
				p = q + 1;
				continue;
			}
		}
		if (*p != '{' || p[1] < '0' || p[1] > '9') {
			*w++ = *p++;
			continue;
		}
		m = n = strtoul(p + 1, &q, 10);
		if (*q == ',' && q[1] == '}')
			q++;		/* {m,}: unbounded above */
		else if (*q == ',' && q[1] >= '0' && q[1] <= '9')
			n = strtoul(q + 1, &q, 10);
		if (*q != '}' || (m <= 1 && n <= 1)) {
			*w++ = *p++;
			continue;
		}
		w += sprintf(w, "{%d,}", m > 0);
		p = q + 1;
	}
	*w = '\0';
	return out;
}

/* Vectorscan flags for rule R: its modifiers and inline options. */
unsigned
rules__pf_flags(const struct rule *r)
{
	unsigned f = HS_FLAG_PREFILTER | HS_FLAG_SINGLEMATCH |
	    HS_FLAG_ALLOWEMPTY;

	if (strchr(r->re.mods, 'i') != NULL || inline_option(r->re.body, 'i'))
		f |= HS_FLAG_CASELESS;
	if (strchr(r->re.mods, 's') != NULL || inline_option(r->re.body, 's'))
		f |= HS_FLAG_DOTALL;
	if (strchr(r->re.mods, 'm') != NULL || inline_option(r->re.body, 'm'))
		f |= HS_FLAG_MULTILINE;
	return f;
}

/*
 * The expression to give Vectorscan for rule R (see the top of this
 * file), or NULL if the rule must always run.
 */
char *
rules__pf_expression(const struct rule *r, unsigned flags)
{
	bool x = strchr(r->re.mods, 'x') != NULL || inline_option(r->re.body,
	    'x');
	char *tr, *e;

	if (r->re.body == NULL || r->re.code == NULL)
		return NULL;
	if ((e = rules__regex_translate(r->re.body)) == NULL)
		return NULL;
	tr = widen_repeats(e);
	free(e);
	if (tr != NULL && (flags & HS_FLAG_CASELESS)) {
		e = fold_latin1(tr);
		free(tr);
		tr = e;
	}
	if (tr != NULL && strlen(tr) > 16000) {
		free(tr);
		tr = NULL;
	}
	if (tr != NULL && x) {
		size_t n = strlen(tr) + 8;
		if ((e = malloc(n)) != NULL)
			snprintf(e, n, "(?x)%s", tr);
		free(tr);
		tr = e;
	}
	return tr;
}

