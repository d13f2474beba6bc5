/*
 * literals.c -- the literals a regex needs, for the prefilter.
 *
 * Owns: a small parser of the regex syntax gatehouse compiles (Perl as
 * PCRE2 reads it, after rules__regex_translate) that computes, for a
 * pattern, a set of byte strings such that every match of the pattern
 * contains at least one of them ("required literals").  The prefilter
 * (prefilter.c) looks for all rules' literals in one pass over a text
 * and runs PCRE2 only for rules with a literal in that text.
 *
 * For every piece of the pattern the parser keeps two facts:
 *   - exact: the finite set of strings the piece can match, when it is
 *     small (e.g. "colou?r" -> {color, colour}, "[sz]" -> {s, z});
 *   - req: a set of strings one of which every match of the piece
 *     contains (e.g. "foo\d+bar" -> {foo} or {bar}).
 * Concatenation multiplies exact sets while they stay small, else keeps
 * the best required set of its parts; alternation unites them;
 * optional pieces (?, *, {0,n}) require nothing.  Assertions (^, \b,
 * lookaround) match the empty string; back references, classes of
 * many bytes, ".", \w and anything not understood require nothing.
 * The result is only ever used as "if none of these strings is in the
 * text, the pattern cannot match", so every rule above errs towards
 * requiring less.
 *
 * X{m,n} with m >= 1 also joins what precedes it to its first copy and
 * what follows to its last.  \Q..\E is expanded to escaped characters
 * first (a quantifier after \E applies to the last one); (?#...) is
 * skipped like white space; an inline x turned on or off for a part
 * gives up (white space and # change meaning there).
 *
 * Case: when the pattern is caseless anywhere (/i or an inline (?i)),
 * ASCII letters are lowered and the set is matched caselessly; bytes
 * with a Latin-1 case partner (0xC0-0xFE, as gatehouse's Perl tables
 * fold them) are given in both cases.  That only widens the set.
 *
 * ASCII mode: for texts of bytes below 0x80 only, a piece that needs a
 * byte >= 0x80 never matches (an exact set without strings): it drops
 * out of alternations and makes a sequence never match.  A pattern
 * that never matches such a text gets the empty set.  Plain mode
 * (RULES_LIT_PLAIN) is ASCII mode for texts without '&' as well: the
 * "&#..;" alternatives of SpamAssassin's obfuscation tags drop out
 * too, and a tag is left with a class of a few letters and digits.
 *
 * Invariant (tests/unit/test_rules_literals.c checks it on tricky and
 * generated patterns against PCRE2): every text the pattern matches
 * holds one of the strings (ASCII mode: every ASCII text; plain mode:
 * every ASCII text without '&').
 *
 * Failure: returns "no usable set" (the rule then always runs); memory
 * errors do the same.
 */
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"

#define LIT_EXACT_MAX	64	/* strings in an exact set */
#define LIT_REQ_MAX	1024	/* strings in a required set */
#define LIT_LEN_MAX	64	/* bytes in one string */
#define LIT_CLASS_MAX	8	/* bytes of a class kept as an exact set */
#define LIT_DEPTH	64	/* group nesting */
#define LIT_POW_MAX	4	/* X{m,n} with n up to this: exact powers */

/* A set of byte strings (the type the callers get). */
#define lset	rules_lits

/*
 * Necessary conditions on the text (rules__required_cond): byte sets of
 * 256 bits.  All zero: nothing known.
 */
struct lcond {
	bool		 known;		/* every byte a match consumes is
					   in all */
	uint8_t		 all[32];
	size_t		 minlen;	/* no match is shorter */
	bool		 run_ok;	/* every match holds runlen bytes
					   in a row of run */
	uint8_t		 run[32];
	size_t		 runlen;
	double		 runscore;	/* run_score(run, runlen) */
	bool		 rb_ok;		/* every match holds a byte of rb */
	uint8_t		 rb[32];
};

/* What the parser knows about a piece of pattern. */
struct linfo {
	bool		 exact_ok;
	struct lset	 exact;
	bool		 req_ok;
	struct lset	 req;
	struct lcond	 c;		/* not touched by linfo_free() */
};

/* The parser's state: the pattern left, the modes in force. */
struct lparse {
	const char	*p, *end;
	bool		 x;		/* extended syntax */
	bool		 icase;		/* fold case */
	bool		 ascii;		/* texts of bytes < 0x80 only */
	bool		 noamp;		/* ... and without '&' */
	bool		 skel;		/* of skeletons (RULES_LIT_SKEL) */
	bool		 oom;
	int		 depth;
};

/* Free a set's strings. */
static void
lset_free(struct lset *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i].s);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/* Free what LI knows; it then requires nothing. */
static void
linfo_free(struct linfo *li)
{
	lset_free(&li->exact);
	lset_free(&li->req);
	li->exact_ok = li->req_ok = false;
}

/* Add S (LEN bytes, copied) to SET unless it is there. */
static bool
lset_add(struct lset *set, const char *s, size_t len)
{
	struct rules_lit *nv;
	size_t i;

	for (i = 0; i < set->n; i++)
		if (set->v[i].len == len && memcmp(set->v[i].s, s, len) == 0)
			return true;
	if ((nv = realloc(set->v, (set->n + 1) * sizeof(*nv))) == NULL)
		return false;
	set->v = nv;
	if ((nv[set->n].s = malloc(len + 1)) == NULL)
		return false;
	memcpy(nv[set->n].s, s, len);
	nv[set->n].s[len] = '\0';
	nv[set->n].len = len;
	set->n++;
	return true;
}

/* A copy of set S into D (D empty). */
static bool
lset_copy(struct lset *d, const struct lset *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (!lset_add(d, s->v[i].s, s->v[i].len))
			return false;
	return true;
}

/* True if SET holds the empty string. */
static bool
lset_has_empty(const struct lset *set)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (set->v[i].len == 0)
			return true;
	return false;
}

/* Shortest string of SET (0 for an empty set). */
static size_t
lset_minlen(const struct lset *set)
{
	size_t i, m = set->n ? SIZE_MAX : 0;

	for (i = 0; i < set->n; i++)
		if (set->v[i].len < m)
			m = set->v[i].len;
	return m;
}

/* The required set a piece gives: its exact set, else its req set. */
static const struct lset *
req_of(const struct linfo *li)
{
	if (li->exact_ok && !lset_has_empty(&li->exact) && li->exact.n > 0 &&
	    li->exact.n <= LIT_REQ_MAX)
		return &li->exact;
	if (li->req_ok)
		return &li->req;
	return NULL;
}

/* True if required set A is better than B (B may be NULL). */
static bool
better(const struct lset *a, const struct lset *b)
{
	size_t ma, mb;

	if (a == NULL || a->n == 0)
		return false;
	if (b == NULL || b->n == 0)
		return true;
	ma = lset_minlen(a);
	mb = lset_minlen(b);
	if (ma != mb)
		return ma > mb;
	return a->n < b->n;
}

/*
 * True if LI can never match (an exact set without strings): in ASCII
 * mode, a piece that needs a byte >= 0x80.
 */
static bool
is_never(const struct linfo *li)
{
	return li->exact_ok && li->exact.n == 0;
}

/* Make LI "requires nothing, not exact". */
static void
set_any(struct linfo *li)
{
	linfo_free(li);
	memset(&li->c, 0, sizeof(li->c));
}

/* Make LI the empty string exactly (zero-width assertions). */
static bool
set_empty(struct linfo *li)
{
	linfo_free(li);
	memset(&li->c, 0, sizeof(li->c));
	li->c.known = true;
	li->exact_ok = true;
	return lset_add(&li->exact, "", 0);
}

/* Fold byte C for a caseless pattern: ASCII lowered. */
static int
fold(const struct lparse *lp, int c)
{
	if (lp->icase && c >= 'A' && c <= 'Z')
		return c + 32;
	return c;
}

/* Latin-1 case partner of C (as the Perl tables fold), or -1. */
static int
partner(int c)
{
	if (c == 0xd7 || c == 0xf7)
		return -1;
	if (c >= 0xc0 && c <= 0xde)
		return c + 0x20;
	if (c >= 0xe0 && c <= 0xfe)
		return c - 0x20;
	return -1;
}

/* True if byte C is kept in a skeleton: an ASCII letter or digit. */
static bool
skel_keeps(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/*
 * Skeleton mode: make LI the skeletons of the bytes in FOLDED (256
 * bits): the letters and digits among them, and the empty string if
 * any other byte is there (a skeleton leaves it out).
 */
static bool
skel_bytes(struct lparse *lp, struct linfo *li, const uint8_t *folded)
{
	int c, n = 0;
	bool other = false;
	char b;

	(void)lp;
	for (c = 0; c < 256; c++) {
		if (!(folded[c >> 3] & (1 << (c & 7))))
			continue;
		if (skel_keeps(c))
			n++;
		else
			other = true;
	}
	linfo_free(li);
	if (n == 0 && !other) {
		li->exact_ok = true;	/* never matches */
		return true;
	}
	if (n > LIT_CLASS_MAX)
		return true;		/* nothing useful */
	li->exact_ok = true;
	if (other && !lset_add(&li->exact, "", 0))
		return false;
	for (c = 0; c < 256; c++)
		if ((folded[c >> 3] & (1 << (c & 7))) && skel_keeps(c)) {
			b = (char)c;
			if (!lset_add(&li->exact, &b, 1))
				return false;
		}
	return true;
}

/* Number of bytes in set BITS. */
static unsigned
popcount(const uint8_t *bits)
{
	static const uint8_t nib[16] = { 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2,
	    3, 2, 3, 3, 4 };
	unsigned i, n = 0;

	for (i = 0; i < 32; i++)
		n += nib[bits[i] & 15] + nib[bits[i] >> 4];
	return n;
}

/*
 * How rare a run of LEN bytes of class BITS is in text, roughly: LEN
 * times the bits of information a byte outside the class carries.
 */
static double
run_score(const uint8_t *bits, size_t len)
{
	unsigned n = popcount(bits), lg = 0;

	if (n >= 256 || len == 0)
		return 0;
	while ((1u << lg) < n)
		lg++;
	return (double)len * (8.5 - lg - (double)n / (1u << lg));
}

/* Offer a run of LEN bytes of BITS to C as its required run. */
static void
cond_offer_run(struct lcond *c, const uint8_t *bits, size_t len)
{
	double s = run_score(bits, len);

	if (s <= 0 || (c->run_ok && s <= c->runscore))
		return;
	c->run_ok = true;
	memcpy(c->run, bits, 32);
	c->runlen = len;
	c->runscore = s;
}

/*
 * Make C the condition of one byte of FOLDED (fold_bits(): ASCII
 * letters lowered, so in a caseless pattern (ICASE) their upper case
 * is added back).
 */
static void
cond_bytes(struct lcond *c, const uint8_t *in, bool icase)
{
	uint8_t folded[32];
	int b;

	memcpy(folded, in, 32);
	for (b = 'a'; icase && b <= 'z'; b++)
		if (folded[b >> 3] & (1 << (b & 7)))
			folded[(b - 32) >> 3] |= (uint8_t)(1 << ((b - 32) & 7));
	memset(c, 0, sizeof(*c));
	c->known = true;
	memcpy(c->all, folded, 32);
	c->minlen = 1;
	cond_offer_run(c, folded, 1);
	c->rb_ok = true;
	memcpy(c->rb, folded, 32);
}

/* Apply quantifier {MIN,...} to condition C. */
static void
cond_quant(struct lcond *c, unsigned long min)
{
	if (min == 0) {
		c->minlen = 0;
		c->run_ok = c->rb_ok = false;
		return;
	}
	c->minlen = c->minlen > 65536 / min ? 65536 : c->minlen * min;
	if (c->known)
		cond_offer_run(c, c->all, c->minlen);
}

/* A sequence's condition being built: the whole, the current segment. */
struct seqc {
	struct lcond	 c;
	uint8_t		 seg[32];	/* known pieces in a row */
	size_t		 seglen;
};

/* Add piece P to sequence S. */
static void
seq_add(struct seqc *s, const struct lcond *p)
{
	int i;

	s->c.minlen = s->c.minlen + p->minlen > 65536 ? 65536 :
	    s->c.minlen + p->minlen;
	s->c.known = s->c.known && p->known;
	if (p->run_ok)
		cond_offer_run(&s->c, p->run, p->runlen);
	if (p->rb_ok && (!s->c.rb_ok || popcount(p->rb) < popcount(s->c.rb))) {
		s->c.rb_ok = true;
		memcpy(s->c.rb, p->rb, 32);
	}
	if (!p->known) {
		cond_offer_run(&s->c, s->seg, s->seglen);
		memset(s->seg, 0, 32);
		s->seglen = 0;
		return;
	}
	for (i = 0; i < 32; i++) {
		s->seg[i] |= p->all[i];
		s->c.all[i] |= p->all[i];
	}
	s->seglen = s->seglen + p->minlen > 65536 ? 65536 :
	    s->seglen + p->minlen;
}

/* The condition of sequence S, complete. */
static struct lcond
seq_end(struct seqc *s)
{
	cond_offer_run(&s->c, s->seg, s->seglen);
	if (!s->c.known)
		memset(s->c.all, 0, 32);
	return s->c;
}

/* Add alternative A's condition to ACC (FIRST: ACC is empty). */
static void
alt_add(struct lcond *acc, const struct lcond *a, bool first)
{
	int i;

	if (first) {
		*acc = *a;
		return;
	}
	acc->known = acc->known && a->known;
	if (a->minlen < acc->minlen)
		acc->minlen = a->minlen;
	acc->run_ok = acc->run_ok && a->run_ok;
	if (a->runlen < acc->runlen)
		acc->runlen = a->runlen;
	acc->rb_ok = acc->rb_ok && a->rb_ok;
	for (i = 0; i < 32; i++) {
		acc->all[i] |= a->all[i];
		acc->run[i] |= a->run[i];
		acc->rb[i] |= a->rb[i];
	}
	if (acc->run_ok)
		acc->runscore = run_score(acc->run, acc->runlen);
	if (acc->run_ok && acc->runscore <= 0)
		acc->run_ok = false;
}

/* FOLDED: the bytes of BITS, folded (lowered, with Latin-1 partners). */
static void
fold_bits(const struct lparse *lp, const uint8_t *bits, uint8_t *folded)
{
	int c;

	memset(folded, 0, 32);
	for (c = 0; c < 256; c++) {
		int f = fold(lp, c);

		if (!(bits[c >> 3] & (1 << (c & 7))))
			continue;
		folded[f >> 3] |= (uint8_t)(1 << (f & 7));
		if (lp->icase && partner(f) >= 0)
			folded[partner(f) >> 3] |= (uint8_t)(1 <<
			    (partner(f) & 7));
	}
}

/* Make LI the exact set of the bytes in BITS (256 bits). */
static bool
set_bytes(struct lparse *lp, struct linfo *li, const uint8_t *bits)
{
	uint8_t folded[32];
	int c, n = 0;
	char b;

	fold_bits(lp, bits, folded);
	cond_bytes(&li->c, folded, lp->icase);
	if (lp->ascii)
		memset(folded + 16, 0, 16);	/* no byte >= 0x80 */
	if (lp->noamp)
		folded['&' >> 3] &= (uint8_t)~(1 << ('&' & 7));
	if (lp->skel)
		return skel_bytes(lp, li, folded);
	for (c = 0; c < 256; c++)
		n += (folded[c >> 3] >> (c & 7)) & 1;
	linfo_free(li);
	if (n == 0 && lp->ascii) {
		li->exact_ok = true;	/* never matches an ASCII text */
		return true;
	}
	if (n == 0 || n > LIT_CLASS_MAX)
		return true;		/* nothing useful (or never matches) */
	li->exact_ok = true;
	for (c = 0; c < 256; c++)
		if (folded[c >> 3] & (1 << (c & 7))) {
			b = (char)c;
			if (!lset_add(&li->exact, &b, 1))
				return false;
		}
	return true;
}

/* Set bit C. */
static void
bit_set(uint8_t *bits, int c)
{
	if (c >= 0 && c < 256)
		bits[c >> 3] |= (uint8_t)(1 << (c & 7));
}

/*
 * Read an escape at lp->p (just past the backslash) that stands for one
 * byte; returns it, or -1 for escapes that are not one known byte (the
 * escape is consumed either way).  IN_CLASS: octal digits are octal.
 */
static int
escape_byte(struct lparse *lp, bool in_class)
{
	const char *p = lp->p;
	int c, v = 0, d, k;

	if (p >= lp->end)
		return -1;
	c = (unsigned char)*p++;
	switch (c) {
	case 'n': lp->p = p; return '\n';
	case 'r': lp->p = p; return '\r';
	case 't': lp->p = p; return '\t';
	case 'f': lp->p = p; return '\f';
	case 'e': lp->p = p; return 0x1b;
	case 'a': lp->p = p; return 0x07;
	case 'x':
		if (p < lp->end && *p == '{') {
			for (p++; p < lp->end && *p != '}'; p++) {
				if ((d = rules__hexval((unsigned char)*p)) < 0)
					v = 0x10000;
				else if (v < 0x10000)
					v = v * 16 + d;
			}
			lp->p = p < lp->end ? p + 1 : p;
			return v <= 0xff ? v : -1;
		}
		for (k = 0; k < 2 && p < lp->end &&
		    (d = rules__hexval((unsigned char)*p)) >= 0; k++, p++)
			v = v * 16 + d;
		lp->p = p;
		return v;
	case 'c':
		lp->p = p < lp->end ? p + 1 : p;
		return p < lp->end ? (((unsigned char)*p & ~0x20) ^ 0x40) & 0xff :
		    -1;
	case '0':
		for (k = 0; k < 2 && p < lp->end && *p >= '0' && *p <= '7';
		    k++, p++)
			v = v * 8 + (*p - '0');
		lp->p = p;
		return v;
	default:
		break;
	}
	if (c >= '1' && c <= '9') {
		if (in_class) {
			v = c - '0';
			for (k = 0; k < 2 && p < lp->end && *p >= '0' &&
			    *p <= '7'; k++, p++)
				v = v * 8 + (*p - '0');
			lp->p = p;
			return v <= 0xff ? v : -1;
		}
		while (p < lp->end && *p >= '0' && *p <= '9')
			p++;		/* back reference */
		lp->p = p;
		return -1;
	}
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
		/* \d \w \s \b \p{..} \g{..} \k<..> ...: not one byte */
		if ((c == 'p' || c == 'P' || c == 'g' || c == 'k' ||
		    c == 'o' || c == 'N') && p < lp->end &&
		    (*p == '{' || *p == '<' || *p == '\'')) {
			const char *q = memchr(p, *p == '{' ? '}' : *p == '<' ?
			    '>' : '\'', (size_t)(lp->end - p - 1) + 1);
			p = q != NULL ? q + 1 : lp->end;
		} else if (c == 'g') {
			if (p < lp->end && (*p == '-' || *p == '+'))
				p++;
			while (p < lp->end && *p >= '0' && *p <= '9')
				p++;
		} else if ((c == 'p' || c == 'P') && p < lp->end)
			p++;
		lp->p = p;
		return -1;
	}
	lp->p = p;
	return c;			/* escaped punctuation: itself */
}

/* Add the bytes of escape class letter C (\d \w \s \h \v) to BITS. */
static bool
escape_class(int c, uint8_t *bits)
{
	int i;
	bool neg = c >= 'A' && c <= 'Z';
	uint8_t t[32] = { 0 };

	switch (c | 0x20) {
	case 'd':
		for (i = '0'; i <= '9'; i++)
			bit_set(t, i);
		break;
	case 'w':
		for (i = 0; i < 256; i++)
			if ((i >= '0' && i <= '9') || (i >= 'a' && i <= 'z') ||
			    (i >= 'A' && i <= 'Z') || i == '_')
				bit_set(t, i);
		break;
	case 's':
		bit_set(t, ' ');
		for (i = '\t'; i <= '\r'; i++)
			bit_set(t, i);
		break;
	case 'h':
		bit_set(t, ' ');
		bit_set(t, '\t');
		bit_set(t, 0xa0);
		break;
	case 'v':
		for (i = '\n'; i <= '\r'; i++)
			bit_set(t, i);
		bit_set(t, 0x85);
		break;
	default:
		return false;
	}
	for (i = 0; i < 32; i++)
		bits[i] |= neg ? (uint8_t)~t[i] : t[i];
	return true;
}

/* Parse a class at lp->p ('[' consumed); LI: its bytes, if few. */
static bool
parse_class(struct lparse *lp, struct linfo *li)
{
	uint8_t bits[32] = { 0 };
	bool neg = false, first = true, any = false;
	int lo, hi, i;

	if (lp->p < lp->end && *lp->p == '^') {
		neg = true;
		lp->p++;
	}
	while (lp->p < lp->end && (*lp->p != ']' || first)) {
		first = false;
		if (*lp->p == '[' && lp->p + 1 < lp->end && lp->p[1] == ':') {
			const char *q = lp->p + 2;
			while (q + 1 < lp->end && !(q[0] == ':' && q[1] == ']'))
				q++;
			lp->p = q + 2 <= lp->end ? q + 2 : lp->end;
			any = true;	/* POSIX class: many bytes */
			continue;
		}
		if (*lp->p == '\\') {
			lp->p++;
			if (lp->p < lp->end && escape_class(
			    (unsigned char)*lp->p, bits)) {
				lp->p++;
				continue;
			}
			lo = escape_byte(lp, true);
		} else
			lo = (unsigned char)*lp->p++;
		if (lo < 0) {
			any = true;
			continue;
		}
		hi = lo;
		if (lp->p + 1 < lp->end && *lp->p == '-' && lp->p[1] != ']') {
			lp->p++;
			if (*lp->p == '\\') {
				lp->p++;
				hi = escape_byte(lp, true);
			} else
				hi = (unsigned char)*lp->p++;
			if (hi < 0) {
				any = true;
				continue;
			}
		}
		for (i = lo; i <= hi && i < 256; i++)
			bit_set(bits, i);
	}
	if (lp->p < lp->end)
		lp->p++;		/* ']' */
	if (any) {
		set_any(li);
		return true;
	}
	if (neg) {
		/* no literals; the condition of the bytes left */
		uint8_t folded[32];

		set_any(li);
		for (i = 0; i < 32; i++)
			bits[i] = (uint8_t)~bits[i];
		fold_bits(lp, bits, folded);
		cond_bytes(&li->c, folded, lp->icase);
		return true;
	}
	return set_bytes(lp, li, bits);
}

static bool parse_alt(struct lparse *lp, struct linfo *out);
static bool parse_quant(struct lparse *lp, unsigned long *min, long *max);

/* Skip a group's contents to its ')' (consumed); for groups ignored. */
static void
skip_group(struct lparse *lp)
{
	struct linfo tmp = { 0 };

	(void)parse_alt(lp, &tmp);
	linfo_free(&tmp);
	if (lp->p < lp->end && *lp->p == ')')
		lp->p++;
}

/* Parse a group after its '('. */
static bool
parse_group(struct lparse *lp, struct linfo *li)
{
	const char *p = lp->p;
	bool zero = false, ignore = false;

	if (p < lp->end && *p == '*') {		/* (*VERB) */
		while (lp->p < lp->end && *lp->p != ')')
			lp->p++;
		if (lp->p < lp->end)
			lp->p++;
		return set_empty(li);
	}
	if (p < lp->end && *p == '?') {
		p++;
		if (p >= lp->end)
			return true;
		if (*p == '#') {			/* comment */
			while (lp->p < lp->end && *lp->p != ')')
				lp->p++;
			if (lp->p < lp->end)
				lp->p++;
			return set_empty(li);
		}
		if (*p == '=' || *p == '!')
			zero = true, p++;
		else if (*p == '<' && p + 1 < lp->end && (p[1] == '=' ||
		    p[1] == '!'))
			zero = true, p += 2;
		else if (*p == ':' || *p == '>' || *p == '|')
			p++;
		else if (*p == '<' || *p == '\'' || (*p == 'P' &&
		    p + 1 < lp->end && p[1] == '<')) {
			const char *q = memchr(p, *p == '\'' ? '\'' : '>',
			    (size_t)(lp->end - p));
			if (q == NULL)
				return true;
			p = q + 1;		/* named group */
		} else if (*p == '(' || *p == 'R' || *p == '&' ||
		    (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' ||
		    *p == 'P') {
			/* conditional, recursion, subroutine: unknown */
			if (*p != '-' || (p + 1 < lp->end && p[1] >= '0' &&
			    p[1] <= '9'))
				ignore = true;
		}
		if (!zero && !ignore && p == lp->p + 1) {
			/* (?flags) or (?flags:...) */
			while (p < lp->end && strchr("imnsxpaludo^-", *p) !=
			    NULL)
				p++;
			if (p < lp->end && *p == ')') {
				lp->p = p + 1;
				return set_empty(li);
			}
			if (p < lp->end && *p == ':')
				p++;
			else
				ignore = true;
		}
	}
	lp->p = p;
	if (++lp->depth > LIT_DEPTH)
		return false;
	if (zero || ignore) {
		skip_group(lp);
		lp->depth--;
		if (zero)
			return set_empty(li);
		set_any(li);
		return true;
	}
	if (!parse_alt(lp, li))
		return false;
	lp->depth--;
	if (lp->p < lp->end && *lp->p == ')')
		lp->p++;
	return true;
}

/*
 * Skip (?#...) comments, and white space and # comments in extended
 * mode: PCRE2 skips them between an item and its quantifier too.
 */
static void
skip_extended(struct lparse *lp)
{
	while (lp->p < lp->end) {
		if (lp->end - lp->p >= 3 && memcmp(lp->p, "(?#", 3) == 0) {
			while (lp->p < lp->end && *lp->p != ')')
				lp->p++;
			if (lp->p < lp->end)
				lp->p++;
		} else if (!lp->x)
			break;
		else if (*lp->p == ' ' || *lp->p == '\t' || *lp->p == '\n' ||
		    *lp->p == '\r' || *lp->p == '\f' || *lp->p == '\v')
			lp->p++;
		else if (*lp->p == '#') {
			while (lp->p < lp->end && *lp->p != '\n')
				lp->p++;
		} else
			break;
	}
}

/* Make LI exactly the one byte C (folded). */
static bool
set_byte(struct lparse *lp, struct linfo *li, int c)
{
	uint8_t bits[32] = { 0 };

	bit_set(bits, c);
	return set_bytes(lp, li, bits);
}

/* Parse one atom (without its quantifier). */
static bool
parse_atom(struct lparse *lp, struct linfo *li)
{
	int c = (unsigned char)*lp->p++;
	unsigned long min;
	long max;

	switch (c) {
	case '?':
	case '*':
	case '+':
		/* a quantifier's lazy or possessive mark after a comment */
		set_any(li);
		return true;
	case '{':
		lp->p--;
		if (parse_quant(lp, &min, &max)) {
			set_any(li);
			return true;
		}
		lp->p++;
		return set_byte(lp, li, c);
	case '(':
		return parse_group(lp, li);
	case '[':
		return parse_class(lp, li);
	case '.':
		set_any(li);
		return true;
	case '^':
	case '$':
		return set_empty(li);
	case '\\':
		if (lp->p < lp->end && strchr("bBAzZGK", *lp->p) != NULL) {
			lp->p++;
			return set_empty(li);
		}
		if (lp->p < lp->end && strchr("dDwWsShHvV", *lp->p) != NULL) {
			uint8_t bits[32] = { 0 };
			escape_class((unsigned char)*lp->p++, bits);
			return set_bytes(lp, li, bits);
		}
		c = escape_byte(lp, false);
		if (c < 0) {
			set_any(li);
			return true;
		}
		return set_byte(lp, li, c);
	default:
		return set_byte(lp, li, c);
	}
}

/* Cross product of A and B into OUT; false if too large (OUT freed). */
static bool
product(const struct lset *a, const struct lset *b, struct lset *out,
    bool *oom)
{
	char buf[2 * LIT_LEN_MAX + 1];
	size_t i, j;

	if (a->n * b->n > LIT_EXACT_MAX)
		return false;
	for (i = 0; i < a->n; i++)
		for (j = 0; j < b->n; j++) {
			if (a->v[i].len + b->v[j].len > LIT_LEN_MAX) {
				lset_free(out);
				return false;
			}
			memcpy(buf, a->v[i].s, a->v[i].len);
			memcpy(buf + a->v[i].len, b->v[j].s, b->v[j].len);
			if (!lset_add(out, buf, a->v[i].len + b->v[j].len)) {
				*oom = true;
				lset_free(out);
				return false;
			}
		}
	return true;
}

/*
 * Make LI's exact set the union of its K-th powers for MIN <= K <= MAX
 * (a bounded repeat of a small set: "[xX]{1,2}" -> {x, X, xx, xX, Xx,
 * XX}); false, LI unchanged, when that grows too large.
 */
static bool
exact_powers(struct lparse *lp, struct linfo *li, unsigned long min,
    long max)
{
	struct lset acc = { 0 }, out = { 0 };
	size_t j;
	long k;
	bool ok = lset_add(&acc, "", 0);

	for (k = 0; ok && k <= max; k++) {
		if ((unsigned long)k >= min) {
			if (out.n + acc.n > LIT_EXACT_MAX)
				ok = false;
			for (j = 0; ok && j < acc.n; j++)
				ok = lset_add(&out, acc.v[j].s, acc.v[j].len);
		}
		if (ok && k < max) {
			struct lset next = { 0 };

			ok = product(&acc, &li->exact, &next, &lp->oom);
			lset_free(&acc);
			acc = next;
		}
	}
	lset_free(&acc);
	if (!ok) {
		lset_free(&out);
		return false;
	}
	lset_free(&li->exact);
	li->exact = out;
	lset_free(&li->req);
	li->req_ok = false;
	return true;
}

static bool quantify_lits(struct lparse *, struct linfo *, unsigned long,
    long);

/* Apply quantifier {MIN,MAX} (MAX -1: unbounded) to LI. */
static bool
quantify(struct lparse *lp, struct linfo *li, unsigned long min, long max)
{
	struct lcond c = li->c;
	bool ok;

	cond_quant(&c, min);
	ok = quantify_lits(lp, li, min, max);
	li->c = c;
	return ok;
}

/* quantify() for the literal sets. */
static bool
quantify_lits(struct lparse *lp, struct linfo *li, unsigned long min,
    long max)
{
	const struct lset *r;
	struct lset keep = { 0 };
	unsigned long i;

	if (is_never(li))		/* never, or the empty string */
		return min == 0 ? set_empty(li) : true;
	if (li->exact_ok && li->exact.n == 1 && li->exact.v[0].len == 0)
		return true;		/* only "": so are its repeats */
	if (li->exact_ok && max > (long)min && max <= LIT_POW_MAX &&
	    exact_powers(lp, li, min, max))
		return !lp->oom;
	if (min == 0) {
		/* x? keeps an exact set (with ""); otherwise nothing */
		if (max == 1 && li->exact_ok && li->exact.n < LIT_EXACT_MAX) {
			lset_free(&li->req);
			li->req_ok = false;
			return lset_add(&li->exact, "", 0);
		}
		set_any(li);
		return true;
	}
	if ((r = req_of(li)) != NULL && !lset_copy(&keep, r))
		return false;
	if (li->exact_ok && max == (long)min && min <= 8) {
		struct lset acc = { 0 };
		bool ok = lset_add(&acc, "", 0);
		for (i = 0; ok && i < min; i++) {
			struct lset next = { 0 };
			ok = product(&acc, &li->exact, &next, &lp->oom);
			lset_free(&acc);
			acc = next;
		}
		if (ok) {
			lset_free(&li->exact);
			li->exact = acc;
			lset_free(&li->req);
			li->req_ok = false;
			lset_free(&keep);
			return true;
		}
		lset_free(&acc);
	}
	linfo_free(li);
	li->req = keep;
	li->req_ok = keep.n > 0;
	return !lp->oom;
}

/* Parse a quantifier at lp->p, if any, into MIN/MAX; true if one. */
static bool
parse_quant(struct lparse *lp, unsigned long *min, long *max)
{
	const char *p = lp->p;
	char *e;

	if (p >= lp->end)
		return false;
	switch (*p) {
	case '?': *min = 0; *max = 1; p++; break;
	case '*': *min = 0; *max = -1; p++; break;
	case '+': *min = 1; *max = -1; p++; break;
	case '{':
		if (p + 1 >= lp->end || p[1] < '0' || p[1] > '9')
			return false;
		*min = strtoul(p + 1, &e, 10);
		*max = (long)*min;
		if (*e == ',') {
			if (e[1] == '}')
				*max = -1, e++;
			else if (e[1] >= '0' && e[1] <= '9')
				*max = strtol(e + 1, &e, 10);
			else
				return false;
		}
		if (*e != '}')
			return false;
		p = e + 1;
		break;
	default:
		return false;
	}
	if (p < lp->end && (*p == '?' || *p == '+'))
		p++;			/* lazy, possessive */
	lp->p = p;
	return true;
}

/* Offer set CAND as the best required set so far (copied). */
static bool
offer(struct lset *best, const struct lset *cand)
{
	if (cand == NULL || lset_has_empty(cand) || !better(cand, best))
		return true;
	lset_free(best);
	return lset_copy(best, cand);
}

static bool parse_seq_lits(struct lparse *, struct linfo *, struct seqc *);

/* Parse a concatenation up to '|', ')' or the end. */
static bool
parse_seq(struct lparse *lp, struct linfo *out)
{
	struct seqc sc;

	memset(&sc, 0, sizeof(sc));
	sc.c.known = true;
	if (!parse_seq_lits(lp, out, &sc))
		return false;
	out->c = seq_end(&sc);
	return true;
}

/* parse_seq() for the literal sets; the condition into SC. */
static bool
parse_seq_lits(struct lparse *lp, struct linfo *out, struct seqc *sc)
{
	struct lset cur = { 0 }, best = { 0 }, tail = { 0 };
	bool all_exact = true, ok = true, has_tail, never = false;
	unsigned long min;
	long max;

	if (!lset_add(&cur, "", 0))
		return false;
	for (;;) {
		struct linfo a = { 0 };
		struct lset next = { 0 };

		skip_extended(lp);
		if (lp->p >= lp->end || *lp->p == '|' || *lp->p == ')')
			break;
		if (!parse_atom(lp, &a)) {
			linfo_free(&a);
			ok = false;
			break;
		}
		skip_extended(lp);
		has_tail = false;
		if (parse_quant(lp, &min, &max)) {
			/*
			 * X{m,n} with m >= 1 ends with one X and starts
			 * with one: what came before runs into the first,
			 * what follows runs on from the last.
			 */
			if (min >= 1 && a.exact_ok) {
				if (!lset_copy(&tail, &a.exact))
					lp->oom = true;
				has_tail = true;
			}
			if (lp->oom || !quantify(lp, &a, min, max)) {
				linfo_free(&a);
				lset_free(&tail);
				ok = false;
				break;
			}
		}
		seq_add(sc, &a.c);
		never |= is_never(&a);
		if (a.exact_ok && product(&cur, &a.exact, &next, &lp->oom)) {
			lset_free(&cur);
			cur = next;
		} else {
			/* cur ends here: keep the best requirement */
			all_exact = false;
			ok = offer(&best, &cur) && offer(&best, req_of(&a));
			if (ok && has_tail && product(&cur, &tail, &next,
			    &lp->oom))
				ok = offer(&best, &next);
			lset_free(&next);
			lset_free(&cur);
			if (ok && has_tail) {
				cur = tail;
				memset(&tail, 0, sizeof(tail));
			} else if (ok && a.exact_ok)
				ok = lset_copy(&cur, &a.exact);
			else if (ok)
				ok = lset_add(&cur, "", 0);
		}
		lset_free(&tail);
		linfo_free(&a);
		if (!ok || lp->oom)
			break;
	}
	linfo_free(out);
	if (!ok || lp->oom || !offer(&best, &cur)) {
		lset_free(&cur);
		lset_free(&best);
		return false;
	}
	if (never) {
		/* one piece never matches: neither does the sequence */
		lset_free(&cur);
		lset_free(&best);
		out->exact_ok = true;
		return true;
	}
	if (all_exact) {
		out->exact_ok = true;
		out->exact = cur;
		lset_free(&best);
		return true;
	}
	lset_free(&cur);
	out->req = best;
	out->req_ok = best.n > 0;
	return true;
}

/* Parse alternatives up to ')' or the end. */
static bool
parse_alt(struct lparse *lp, struct linfo *out)
{
	struct linfo acc = { 0 };
	struct lcond cacc;
	bool first = true, exact = true, req = true, cfirst = true;

	memset(&cacc, 0, sizeof(cacc));
	for (;;) {
		struct linfo a = { 0 };
		const struct lset *r;
		size_t i;

		if (!parse_seq(lp, &a)) {
			linfo_free(&a);
			linfo_free(&acc);
			return false;
		}
		alt_add(&cacc, &a.c, cfirst);
		cfirst = false;
		if (is_never(&a)) {
			/* an alternative that never matches adds nothing */
			linfo_free(&a);
		} else if (first) {
			acc = a;
			exact = acc.exact_ok;
			req = req_of(&acc) != NULL;
			if (req && !acc.req_ok) {
				if (!lset_copy(&acc.req, &acc.exact))
					return false;
				acc.req_ok = true;
			}
			first = false;
		} else {
			if (exact && a.exact_ok && acc.exact.n + a.exact.n <=
			    LIT_EXACT_MAX) {
				for (i = 0; i < a.exact.n; i++)
					if (!lset_add(&acc.exact, a.exact.v[i].s,
					    a.exact.v[i].len))
						return false;
			} else
				exact = false;
			r = req_of(&a);
			if (req && r != NULL && acc.req.n + r->n <=
			    LIT_REQ_MAX) {
				for (i = 0; i < r->n; i++)
					if (!lset_add(&acc.req, r->v[i].s,
					    r->v[i].len))
						return false;
			} else
				req = false;
			linfo_free(&a);
		}
		if (lp->p >= lp->end || *lp->p != '|')
			break;
		lp->p++;
	}
	if (first) {
		/* every alternative never matches */
		linfo_free(out);
		out->exact_ok = true;
		out->c = cacc;
		return true;
	}
	if (!exact) {
		lset_free(&acc.exact);
		acc.exact_ok = false;
	}
	if (!req) {
		lset_free(&acc.req);
		acc.req_ok = false;
	}
	acc.exact_ok = exact;
	acc.req_ok = req && acc.req.n > 0;
	linfo_free(out);
	*out = acc;
	out->c = cacc;
	return true;
}

/*
 * PAT with every \\Q...\\E quote replaced by its characters, each
 * escaped unless a letter or digit (a quantifier after \\E applies to
 * the last character only, as it does to an escaped one); malloc'ed,
 * NULL when memory runs out.
 */
static char *
unquote(const char *pat)
{
	size_t len = strlen(pat), o = 0;
	char *out = malloc(2 * len + 1);
	const char *p = pat, *end = pat + len;

	if (out == NULL)
		return NULL;
	while (p < end) {
		if (p[0] == '\\' && p + 1 < end && p[1] != 'Q') {
			out[o++] = *p++;
			out[o++] = *p++;
			continue;
		}
		if (p[0] != '\\' || p + 1 >= end) {
			out[o++] = *p++;
			continue;
		}
		for (p += 2; p < end && !(p[0] == '\\' && p + 1 < end &&
		    p[1] == 'E'); p++) {
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' &&
			    *p <= 'Z') || (*p >= '0' && *p <= '9')))
				out[o++] = '\\';
			out[o++] = *p;
		}
		if (p < end)
			p += 2;
	}
	out[o] = '\0';
	return out;
}

/*
 * The inline options anywhere in the pattern TR (X: the x modifier is
 * on): an i sets *ICASE, for the whole (that only widens a literal
 * set); an x turned on or off for a part, or a reset by (?^) under x,
 * changes what white space and # mean there: -1, no set.
 */
static int
inline_options(const char *tr, bool x, bool *icase)
{
	unsigned o = rules__regex_inline_opts(tr);

	if (o & RULES_OPT_I)
		*icase = true;
	return (o & RULES_OPT_X) || ((o & RULES_OPT_RESET) && x) ? -1 : 0;
}

/*
 * The required literals of the translated, unquoted pattern TR with
 * modifiers MODS (ICASE: caseless whatever MODS say) for the texts of
 * MODE; see rules__required_literals().
 */
static int
required(const char *tr, const char *mods, bool icase, size_t minlen,
    int mode, struct rules_lits *out, bool *caseless)
{
	struct lparse lp = { 0 };
	struct linfo li = { 0 };
	const struct lset *r;
	struct lset res = { 0 };

	lp.p = tr;
	lp.end = tr + strlen(tr);
	lp.x = strchr(mods, 'x') != NULL;
	lp.icase = icase || strchr(mods, 'i') != NULL;
	lp.ascii = mode != RULES_LIT_ANY;
	lp.noamp = mode == RULES_LIT_PLAIN || mode == RULES_LIT_SKEL;
	lp.skel = mode == RULES_LIT_SKEL;
	if (inline_options(tr, lp.x, &lp.icase) == -1)
		return -1;
	if (!parse_alt(&lp, &li) || lp.oom || lp.p != lp.end) {
		linfo_free(&li);
		return -1;
	}
	if (is_never(&li)) {
		/* no match at all (ASCII mode): the empty set */
		linfo_free(&li);
		*caseless = lp.icase;
		return 0;
	}
	r = req_of(&li);
	if (r == NULL || lset_minlen(r) < minlen || !lset_copy(&res, r)) {
		linfo_free(&li);
		lset_free(&res);
		return -1;
	}
	linfo_free(&li);
	out->v = res.v;
	out->n = res.n;
	*caseless = lp.icase;
	return 0;
}

/* PATTERN translated and unquoted, malloc'ed; NULL on failure. */
static char *
prepare(const char *pattern)
{
	char *q, *tr;

	if ((q = rules__regex_translate(pattern)) == NULL)
		return NULL;
	tr = unquote(q);
	free(q);
	return tr;
}

/*
 * The required literals of PATTERN (as written in the rule; translated
 * here) with modifiers MODS, for the texts of MODE (RULES_LIT_ANY,
 * _ASCII, _PLAIN): on success (0) *OUT holds strings of at least MINLEN
 * bytes, one of which every match contains, and *CASELESS whether to
 * look for them caselessly.  -1: no such set (the rule must always
 * run).  Free with rules__lits_free().
 */
int
rules__required_literals(const char *pattern, const char *mods,
    size_t minlen, int mode, struct rules_lits *out, bool *caseless)
{
	char *tr;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((tr = prepare(pattern)) == NULL)
		return -1;
	rc = required(tr, mods, false, minlen, mode, out, caseless);
	free(tr);
	return rc;
}

/*
 * The necessary conditions of PATTERN (as written in the rule) with
 * modifiers MODS on any text it matches in (struct rules_cond): 0 with
 * at least one in *OUT, -1 when none is known.  The same parse as the
 * literals, so the same syntax is understood or given up on.
 */
int
rules__required_cond(const char *pattern, const char *mods,
    struct rules_cond *out)
{
	struct lparse lp = { 0 };
	struct linfo li = { 0 };
	char *tr;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if ((tr = prepare(pattern)) == NULL)
		return -1;
	lp.p = tr;
	lp.end = tr + strlen(tr);
	lp.x = strchr(mods, 'x') != NULL;
	lp.icase = strchr(mods, 'i') != NULL;
	if (inline_options(tr, lp.x, &lp.icase) == -1)
		goto out;
	if (!parse_alt(&lp, &li) || lp.oom || lp.p != lp.end)
		goto out;
	if (li.c.known)
		cond_offer_run(&li.c, li.c.all, li.c.minlen);
	if (li.c.rb_ok && popcount(li.c.rb) < 256) {
		out->rb_ok = true;
		memcpy(out->rb, li.c.rb, 32);
	}
	if (li.c.run_ok) {
		out->run_ok = true;
		memcpy(out->run, li.c.run, 32);
		out->runlen = (uint32_t)li.c.runlen;
	}
	rc = out->rb_ok || out->run_ok ? 0 : -1;
out:
	linfo_free(&li);
	free(tr);
	return rc;
}

/*
 * Step over a byte at *PP that is no structure of the pattern: an
 * escape (*PP moves to the escaped byte), a byte inside a character
 * class, or a class's opening ("[", "[^", "[]", "[^]": *PP moves to its
 * last byte).  False when *PP is outside a class and unescaped, for the
 * caller to look at; IN_CLASS carries the state from byte to byte.
 */
static bool
skip_unstructured(const char **pp, const char *end, bool *in_class)
{
	const char *p = *pp;

	if (*p == '\\') {
		*pp = p + 1;
		return true;
	}
	if (*in_class) {
		if (*p == ']')
			*in_class = false;
		return true;
	}
	if (*p != '[')
		return false;
	*in_class = true;
	if (p + 1 < end && p[1] == '^')
		p++;
	if (p + 1 < end && p[1] == ']')
		p++;
	*pp = p;
	return true;
}

/*
 * The end of the group that starts at P (its '('), within END: just
 * past its ')'; NULL if unbalanced.
 */
static const char *
group_end(const char *p, const char *end)
{
	int depth = 0;
	bool in_class = false;

	for (; p < end; p++) {
		if (skip_unstructured(&p, end, &in_class))
			continue;
		if (*p == '(')
			depth++;
		else if (*p == ')' && --depth == 0)
			return p + 1;
	}
	return NULL;
}

/*
 * The minimum of the counted quantifier at P ("{m}", "{m,}", "{m,n}"),
 * 0 if there is none.
 */
static unsigned long
count_min(const char *p, const char *end)
{
	unsigned long m = 0;
	const char *q;

	if (p >= end || *p != '{' || p + 1 >= end || p[1] < '0' || p[1] > '9')
		return 0;
	for (q = p + 1; q < end && *q >= '0' && *q <= '9'; q++)
		if ((m = m * 10 + (unsigned long)(*q - '0')) > 1000000)
			return 0;
	if (q < end && *q == ',')
		for (q++; q < end && *q >= '0' && *q <= '9'; q++)
			;
	return q < end && *q == '}' ? m : 0;
}

/*
 * Repeated literals: when PATTERN is, at its top level, a sequence (no
 * '|' there) holding a group repeated at least twice, "A(?:X){m,n}B"
 * with m >= 2, every match holds m matches of X side by side, each
 * holding one of X's required literals: so m occurrences of them that
 * end at m different offsets.  On success (0) *OUT and *CASELESS are
 * X's set for MODE (as rules__required_literals()) and *COUNT is m
 * (at most 255, which only asks for less); -1 otherwise.  The
 * caselessness of inline options anywhere in PATTERN carries over.
 */
int
rules__required_repeat(const char *pattern, const char *mods,
    size_t minlen, int mode, struct rules_lits *out, bool *caseless,
    unsigned *count)
{
	char *tr, *sub;
	const char *p, *end, *ge, *best = NULL, *best_end = NULL;
	unsigned long m, best_m = 1;
	bool in_class = false, icase = false;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if ((tr = prepare(pattern)) == NULL)
		return -1;
	end = tr + strlen(tr);
	for (p = tr; p < end; p++) {
		if (skip_unstructured(&p, end, &in_class))
			continue;
		if (*p == '|')
			goto out;		/* top-level alternation */
		else if (*p == '(') {
			if ((ge = group_end(p, end)) == NULL)
				goto out;
			/* "(?:" or capturing; not lookarounds, options... */
			if ((p[1] != '?' || p[2] == ':') && p[1] != '*' &&
			    (m = count_min(ge, end)) > best_m) {
				best = p;
				best_end = ge;
				best_m = m;
			}
			p = ge - 1;
		}
	}
	if (best == NULL)
		goto out;
	if (rules__regex_inline_opts(tr) & RULES_OPT_I)
		icase = true;
	/* X alone, as a non-capturing group */
	if ((sub = malloc((size_t)(best_end - best) + 3)) == NULL)
		goto out;
	p = best[1] == '?' ? best + 3 : best + 1;
	memcpy(sub, "(?:", 3);
	memcpy(sub + 3, p, (size_t)(best_end - p));
	sub[3 + (best_end - p)] = '\0';
	rc = required(sub, mods, icase, minlen, mode, out, caseless);
	free(sub);
	if (rc == 0 && out->n == 0)
		rc = -1;	/* never matches: the plain set says so */
	if (rc == 0)
		*count = best_m > 255 ? 255 : (unsigned)best_m;
	else
		rules__lits_free(out);
out:
	free(tr);
	return rc;
}

/* Free a literal set. */
void
rules__lits_free(struct rules_lits *l)
{
	lset_free(l);
}
