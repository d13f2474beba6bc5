/*
 * ascii.c -- a pattern's ASCII projection: what is left of it for texts
 * of bytes below 0x80.
 *
 * Owns: rules__regex_ascii(), which rewrites a pattern (PCRE2 syntax,
 * after rules__regex_translate) without the parts that need a byte >=
 * 0x80: alternatives that need one are dropped, optional pieces that
 * need one are left out, and classes lose their members >= 0x80.
 * SpamAssassin's obfuscation tags (<A> = about thirty alternatives, most
 * of them UTF-8 sequences) shrink to a class and a few "&#..;"
 * alternatives, which PCRE2 tries many times faster.
 *
 * Invariant: on a text of bytes below 0x80 the projection matches
 * exactly where the pattern does (same starts, same ends, same order
 * of attempts): what was removed could not match a byte of such a text,
 * so removing it only removes attempts that fail.  Anything the rewrite
 * does not understand is copied unchanged (negative lookarounds,
 * negated classes) or gives up (back references and subroutine calls,
 * whose group numbers a dropped group would shift; conditionals;
 * backtracking verbs other than (*FAIL); comments; \Q..\E; extended
 * syntax; branch reset).  The one difference is the
 * number of steps: the projection takes fewer, so on a text where the
 * pattern stops at the match limit the projection may still decide.
 *
 * rules__regex_plain() does the same for texts of ASCII bytes without
 * '&' (prefilter.c's "plain" texts): the "&#..;" alternatives go too,
 * and SpamAssassin's tags shrink to one class each.  rules__regex_u8()
 * does it for the non-ASCII texts of most mail, whose bytes >= 0x80
 * are UTF-8 of Latin-1 letters and punctuation (u8_allowed()): the tags
 * keep their class, "&#..;" forms and the few alternatives for those.
 *
 * Failure: NULL (no projection; the pattern itself is used) when the
 * rewrite gives up, changes nothing, or runs out of memory.
 */
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"

#define ASC_DEPTH	64	/* group nesting */

/* The rewrite's state. */
struct aparse {
	const char	*p, *end;
	bool		 bail;		/* give up */
	bool		 changed;	/* something was removed */
	int		 depth;
	unsigned	 nopt;		/* option settings (?i) seen */
	int		 mode;		/* PROJ_* */
};

#define PROJ_ASCII	0	/* bytes < 0x80 */
#define PROJ_PLAIN	1	/* ... but '&' */
#define PROJ_U8		2	/* bytes < 0xc0, 0xc2, 0xc3, 0xe2, 0xe3 */

/*
 * True if byte C >= 0x80 may occur in a text rules__regex_u8() is for:
 * UTF-8 of U+0080..U+00FF and U+2000..U+2FFF (lead bytes 0xc2, 0xc3,
 * 0xe2: accented letters, NBSP, quotes, dashes) and continuation bytes,
 * closed under the Latin-1 case partners of the Perl tables (0xc2/0xe2,
 * 0xc3/0xe3) so that a caseless pattern's dropped byte never has an
 * allowed partner.
 */
static inline bool
u8_allowed(int c)
{
	return c < 0xc0 || c == 0xc2 || c == 0xc3 || c == 0xe2 || c == 0xe3;
}

/* True if byte C cannot occur in the texts the projection is for. */
static inline bool
forbidden(const struct aparse *ap, int c)
{
	if (c < 0x80)
		return ap->mode == PROJ_PLAIN && c == '&';
	return ap->mode != PROJ_U8 || !u8_allowed(c);
}

static bool	alt(struct aparse *, struct sbuf *);

/* Cut O back to its first LEN bytes. */
static void
cut(struct sbuf *o, size_t len)
{
	o->len = len;
	if (o->p != NULL)
		o->p[len] = '\0';
}

/*
 * Read the escape at ap->p (after the backslash) that stands for one
 * byte; its value, -1 for an escape that is not one byte (a class like
 * \d, an assertion), or -2 to give up.  IN_CLASS: \b is a backspace.
 */
static int
escape(struct aparse *ap, bool in_class)
{
	const char *p = ap->p;
	int c, v = 0, d, i;

	if (p >= ap->end)
		return -2;
	c = (unsigned char)*p++;
	ap->p = p;
	switch (c) {
	case 'x':
		if (p < ap->end && *p == '{') {
			for (p++; p < ap->end && *p != '}'; p++) {
				if ((d = rules__hexval((unsigned char)*p)) < 0 ||
				    v > 0xfff)
					return -2;
				v = v * 16 + d;
			}
			if (p >= ap->end)
				return -2;
			ap->p = p + 1;
			return v > 0xff ? -2 : v;
		}
		for (i = 0; i < 2 && p < ap->end &&
		    (d = rules__hexval((unsigned char)*p)) >= 0; i++, p++)
			v = v * 16 + d;
		ap->p = p;
		return v;
	case '0':
		for (i = 0; i < 2 && p < ap->end && *p >= '0' && *p <= '7';
		    i++, p++)
			v = v * 8 + (*p - '0');
		ap->p = p;
		return v;
	case 'a': return 7;
	case 'e': return 27;
	case 'f': return 12;
	case 'n': return 10;
	case 'r': return 13;
	case 't': return 9;
	case 'b': return in_class ? 8 : -1;
	case 'c':
		if (p >= ap->end || (unsigned char)*p >= 0x80)
			return -2;
		ap->p = p + 1;
		return -1;	/* a control character: ASCII */
	case 'd': case 'D': case 'w': case 'W': case 's': case 'S':
	case 'h': case 'H': case 'v': case 'V': case 'R': case 'N':
	case 'B': case 'A': case 'z': case 'Z': case 'G': case 'K':
		if (c == 'N' && p < ap->end && *p == '{')
			return -2;
		return -1;
	case 'p': case 'P':
		if (p < ap->end && *p == '{') {
			while (p < ap->end && *p != '}')
				p++;
			if (p >= ap->end)
				return -2;
			ap->p = p + 1;
		} else if (p < ap->end)
			ap->p = p + 1;
		return -1;
	default:
		/* letters and digits not listed: back references (\1,
		   \g, \k), \Q..\E, \o{}, ... */
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c >= 0x80)
			return -2;
		return c;
	}
}

/* Append byte C as an escape, safe anywhere in a class. */
static void
add_hex(struct sbuf *o, int c)
{
	static const char hx[] = "0123456789abcdef";

	rules__sb_adds(o, "\\x");
	rules__sb_addc(o, hx[(c >> 4) & 15]);
	rules__sb_addc(o, hx[c & 15]);
}

/* True if some byte of LO..HI is forbidden. */
static bool
range_forbidden(const struct aparse *ap, int lo, int hi)
{
	int c;

	for (c = lo; c <= hi; c++)
		if (forbidden(ap, c))
			return true;
	return false;
}

/*
 * Append to K the bytes of LO..HI that are not forbidden, as ranges;
 * true if there was one.
 */
static bool
add_range(const struct aparse *ap, struct sbuf *k, int lo, int hi)
{
	bool any = false;
	int a, b;

	for (a = lo; a <= hi; a = b + 1) {
		while (a <= hi && forbidden(ap, a))
			a++;
		if (a > hi)
			break;
		for (b = a; b < hi && !forbidden(ap, b + 1); b++)
			;
		add_hex(k, a);
		if (b > a) {
			rules__sb_addc(k, '-');
			add_hex(k, b);
		}
		any = true;
	}
	return any;
}

/*
 * The class at ap->p (after '[') into O; true if it can match no byte
 * below 0x80.  A negated class is copied as it is.
 */
static bool
klass(struct aparse *ap, struct sbuf *o)
{
	const char *start = ap->p - 1, *q;
	struct sbuf k = { 0 };
	bool neg = false, first = true, never = true;
	int lo, hi;

	if (ap->p < ap->end && *ap->p == '^') {
		neg = true;
		ap->p++;
	}
	for (;;) {
		if (ap->p >= ap->end) {
			ap->bail = true;
			break;
		}
		if (*ap->p == ']' && !first) {
			ap->p++;
			break;
		}
		first = false;
		if (ap->p + 1 < ap->end && ap->p[0] == '[' &&
		    (ap->p[1] == ':' || ap->p[1] == '.' || ap->p[1] == '=')) {
			/* [:name:]: ASCII under the C locale's tables */
			if ((q = strstr(ap->p + 2, ":]")) == NULL ||
			    q >= ap->end || ap->p[1] != ':') {
				ap->bail = true;
				break;
			}
			rules__sb_add(&k, ap->p, (size_t)(q + 2 - ap->p));
			ap->p = q + 2;
			never = false;
			continue;
		}
		q = ap->p;
		if (*ap->p == '\\') {
			ap->p++;
			lo = escape(ap, true);
		} else
			lo = (unsigned char)*ap->p++;
		if (lo == -2) {
			ap->bail = true;
			break;
		}
		if (lo == -1) {		/* \d, \w, ...: copied */
			rules__sb_add(&k, q, (size_t)(ap->p - q));
			never = false;
			continue;
		}
		hi = lo;
		if (ap->p + 1 < ap->end && *ap->p == '-' && ap->p[1] != ']') {
			const char *save = ap->p;

			ap->p++;
			if (*ap->p == '\\') {
				ap->p++;
				hi = escape(ap, true);
			} else if (*ap->p == '[')
				hi = -2;	/* [a-[:digit:]]: give up */
			else
				hi = (unsigned char)*ap->p++;
			if (hi == -1) {	/* a-\d: '-' is a literal */
				ap->p = save;
				hi = lo;
			} else if (hi < lo) {
				ap->bail = true;
				break;
			}
		}
		if (hi == -2) {
			ap->bail = true;
			break;
		}
		if (add_range(ap, &k, lo, hi))
			never = false;
		if (!neg && range_forbidden(ap, lo, hi))
			ap->changed = true;
	}
	if (neg || ap->bail) {
		rules__sb_add(o, start, (size_t)(ap->p - start));
		free(rules__sb_take(&k));
		return false;
	}
	if (!never) {
		rules__sb_addc(o, '[');
		if (k.len > 0)
			rules__sb_add(o, k.p, k.len);
		rules__sb_addc(o, ']');
	}
	if (k.oom)
		o->oom = true;
	free(rules__sb_take(&k));
	return never;
}

/* Copy the group at ap->p (after its '(') unchanged, up to its ')'. */
static void
copy_group(struct aparse *ap, struct sbuf *o)
{
	const char *start = ap->p - 1;
	int depth = 1;
	bool in_class = false;

	while (ap->p < ap->end && depth > 0) {
		char c = *ap->p++;

		if (c == '\\') {
			if (ap->p < ap->end && (*ap->p == 'Q' || *ap->p == 'E'))
				ap->bail = true;
			if (ap->p < ap->end)
				ap->p++;
		} else if (in_class) {
			if (c == ']')
				in_class = false;
		} else if (c == '[') {
			in_class = true;
			if (ap->p < ap->end && *ap->p == '^')
				ap->p++;
			if (ap->p < ap->end && *ap->p == ']')
				ap->p++;
		} else if (c == '(')
			depth++;
		else if (c == ')')
			depth--;
	}
	if (depth > 0)
		ap->bail = true;
	rules__sb_add(o, start, (size_t)(ap->p - start));
}

/*
 * The group at ap->p (after '(') into O; true if it cannot match an
 * ASCII text.
 */
static bool
group(struct aparse *ap, struct sbuf *o)
{
	const char *p = ap->p, *q;
	bool never;

	if (p < ap->end && *p == '*') {
		/*
		 * (*FAIL) only fails; other verbs (*SKIP, *PRUNE, ...)
		 * change what the attempts that fail decide: give up.
		 */
		if (strncmp(p, "*FAIL)", 6) != 0 && strncmp(p, "*F)", 3) != 0)
			ap->bail = true;
		copy_group(ap, o);
		return false;
	}
	if (p >= ap->end || *p != '?') {	/* capturing */
		rules__sb_addc(o, '(');
		goto body;
	}
	p++;
	if (p >= ap->end) {
		ap->bail = true;
		return false;
	}
	switch (*p) {
	case '#':
		/* a quantifier after a comment applies to the item
		   before it: give up rather than follow that */
		ap->bail = true;
		return false;
	case ':': case '>': case '=':
		rules__sb_add(o, ap->p - 1, 3);
		ap->p = p + 1;
		goto body;
	case '!':
		copy_group(ap, o);
		return false;
	case '<':
		if (p + 1 < ap->end && p[1] == '=') {
			rules__sb_add(o, ap->p - 1, 4);
			ap->p = p + 2;
			goto body;
		}
		if (p + 1 < ap->end && p[1] == '!') {
			copy_group(ap, o);
			return false;
		}
		/* (?<name> */
		/* FALLTHROUGH */
	case '\'': case 'P':
		if (*p == 'P' && (p + 1 >= ap->end || p[1] != '<')) {
			ap->bail = true;	/* (?P=name), (?P>name) */
			return false;
		}
		for (q = p; q < ap->end && *q != '>' && *q != '\''; q++)
			;
		if (q >= ap->end || q == p) {
			ap->bail = true;
			return false;
		}
		rules__sb_add(o, ap->p - 1, (size_t)(q + 2 - ap->p));
		ap->p = q + 1;
		goto body;
	default:
		break;
	}
	/* (?flags) or (?flags:...) */
	for (q = p; q < ap->end && ((*q >= 'a' && *q <= 'z') ||
	    (*q >= 'A' && *q <= 'Z') || *q == '-' || *q == '^'); q++)
		if (*q == 'x' || *q == 'J')
			ap->bail = true;
	if (q == p || q >= ap->end || ap->bail || (*q != ')' && *q != ':')) {
		ap->bail = true;	/* (?|, (?(, (?R, (?1, (?&, ... */
		return false;
	}
	rules__sb_add(o, ap->p - 1, (size_t)(q + 2 - ap->p));
	ap->p = q + 1;
	if (*q == ')') {
		ap->nopt++;
		return false;
	}
body:
	if (++ap->depth > ASC_DEPTH) {
		ap->bail = true;
		return false;
	}
	never = alt(ap, o);
	ap->depth--;
	if (ap->p >= ap->end || *ap->p != ')') {
		ap->bail = true;
		return false;
	}
	ap->p++;
	rules__sb_addc(o, ')');
	return never;
}

/*
 * A quantifier at ap->p, copied to O; its minimum in *min (1 when there
 * is none).
 */
static void
quant(struct aparse *ap, struct sbuf *o, unsigned long *min)
{
	const char *p = ap->p, *q;

	*min = 1;
	if (p >= ap->end)
		return;
	if (*p == '*' || *p == '?')
		*min = 0;
	else if (*p == '{') {
		char *e;

		if (p + 1 >= ap->end || p[1] < '0' || p[1] > '9')
			return;		/* a literal '{' */
		*min = strtoul(p + 1, &e, 10);
		q = e;
		if (q < ap->end && *q == ',')
			for (q++; q < ap->end && *q >= '0' && *q <= '9'; q++)
				;
		if (q >= ap->end || *q != '}') {
			*min = 1;	/* a literal '{' */
			return;
		}
		p = q;
	} else if (*p != '+')
		return;
	p++;
	if (p < ap->end && (*p == '?' || *p == '+'))
		p++;
	rules__sb_add(o, ap->p, (size_t)(p - ap->p));
	ap->p = p;
}

/*
 * One branch (up to '|' or ')') into O; true if it cannot match an
 * ASCII text.
 */
static bool
seq(struct aparse *ap, struct sbuf *o)
{
	bool never = false, inever;
	unsigned long min;
	size_t mark;
	int c;

	while (!ap->bail && ap->p < ap->end && *ap->p != '|' &&
	    *ap->p != ')') {
		mark = o->len;
		c = (unsigned char)*ap->p++;
		inever = false;
		if (c == '(')
			inever = group(ap, o);
		else if (c == '[')
			inever = klass(ap, o);
		else if (c == '\\') {
			const char *q = ap->p - 1;
			int v = escape(ap, false);

			if (v == -2)
				ap->bail = true;
			inever = v >= 0 && forbidden(ap, v);
			rules__sb_add(o, q, (size_t)(ap->p - q));
		} else {
			inever = forbidden(ap, c);
			rules__sb_addc(o, c);
		}
		quant(ap, o, &min);
		if (inever) {
			/* the piece never matches: drop it, or the branch */
			cut(o, mark);
			ap->changed = true;
			if (min > 0)
				never = true;
		}
	}
	return never;
}

/*
 * Alternatives (up to ')' or the end) into O, without those that cannot
 * match an ASCII text; true if none can.
 */
static bool
alt(struct aparse *ap, struct sbuf *o)
{
	bool never = true, any = false;
	size_t mark;
	unsigned nopt;

	for (;;) {
		mark = o->len;
		nopt = ap->nopt;
		if (any)
			rules__sb_addc(o, '|');
		if (!seq(ap, o)) {
			never = false;
			any = true;
		} else {
			cut(o, mark);	/* a branch that never matches */
			ap->changed = true;
			/* an option set in it holds for the next branches */
			if (ap->nopt != nopt)
				ap->bail = true;
		}
		if (ap->bail || ap->p >= ap->end || *ap->p != '|')
			break;
		ap->p++;
	}
	return never;
}

/*
 * The projection of PATTERN (PCRE2 syntax, as translated) with MODS
 * for texts of ASCII bytes (and, with AMP, without '&'), malloc'ed;
 * NULL when there is none (see above).  A pattern that cannot match
 * such a text at all gives "(*FAIL)".
 */
static char *
project(const char *pattern, const char *mods, int mode)
{
	struct aparse ap = { 0 };
	struct sbuf o = { 0 };
	bool never;

	ap.mode = mode;
	if (strchr(mods, 'x') != NULL)
		return NULL;
	ap.p = pattern;
	ap.end = pattern + strlen(pattern);
	never = alt(&ap, &o);
	if (ap.p != ap.end)
		ap.bail = true;
	if (ap.bail || !ap.changed || o.oom) {
		free(rules__sb_take(&o));
		return NULL;
	}
	if (never) {
		cut(&o, 0);
		rules__sb_adds(&o, "(*FAIL)");
	}
	return rules__sb_take(&o);
}

/*
 * The ASCII projection of PATTERN with MODS (see project()), malloc'ed;
 * NULL when there is none.
 */
char *
rules__regex_ascii(const char *pattern, const char *mods)
{
	return project(pattern, mods, PROJ_ASCII);
}

/*
 * The "plain" projection of PATTERN with MODS: the ASCII projection
 * that also leaves out what needs a '&' (the "&#..;" alternatives of
 * SpamAssassin's obfuscation tags), for texts of ASCII bytes without
 * '&'; malloc'ed, NULL when there is none (see project()).
 */
char *
rules__regex_plain(const char *pattern, const char *mods)
{
	return project(pattern, mods, PROJ_PLAIN);
}

/*
 * The "u8" projection of PATTERN with MODS: what is left for texts
 * whose bytes >= 0x80 are all continuation bytes (0x80-0xbf) or 0xc2,
 * 0xc3, 0xe2, 0xe3 (u8_allowed(): UTF-8 of Latin-1 letters and general
 * punctuation, the non-ASCII texts of most mail); the obfuscation tags'
 * other UTF-8 alternatives go.  Malloc'ed, NULL when there is none (see
 * project()).
 */
char *
rules__regex_u8(const char *pattern, const char *mods)
{
	return project(pattern, mods, PROJ_U8);
}
