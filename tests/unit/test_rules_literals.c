/*
 * test_rules_literals.c -- the prefilter's required literals (literals.c).
 *
 * The invariant the prefilter rests on: every text a pattern matches
 * holds one of the pattern's required literals (caselessly when the set
 * says so).  Checked as a property: for each tricky pattern, PCRE2 (the
 * engine of record, compiled as the rule engine compiles) decides which
 * of many texts match -- the examples given, mutations of them and
 * random texts over the pattern's own bytes -- and every text that
 * matches must hold a literal.  Each pattern must match at least one
 * text, so the check cannot pass vacuously; some expected sets (or the
 * absence of a set) are checked exactly.
 *
 * The same property for the plain mode (RULES_LIT_PLAIN: texts of ASCII
 * bytes without '&'), and for repeated literals
 * (rules__required_repeat): every text the pattern matches holds
 * literals of the repeated group ending at COUNT different offsets
 * (any text, and plain texts with the plain-mode set); and for the
 * skeleton mode (RULES_LIT_SKEL): the skeleton of every plain text the
 * pattern matches (its letters and digits) holds one of the skeleton
 * set's strings.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules_int.h"

struct lcase {
	const char	*pattern;	/* Perl syntax, as in a rule */
	const char	*mods;
	const char	*examples[6];	/* texts, some matching */
	int		 expect;	/* -1: no set; 0: a set; 1: any */
	const char	*lits;		/* exact set, '|'-separated, or NULL */
};

/* Counts of repeated literals expected (rules__required_repeat). */
static const struct {
	const char	*pattern;
	unsigned	 count;		/* 0: none */
} repeats[] = {
	{ "(?:(?:name|phone|age)\\W{1,3}){3}", 3 },
	{ "x(?:ab+c){2,}y", 2 },
	{ "(?i)(?:(?:[pP]|&\\#80;)(?:[aA4@]|&\\#97;)y\\s?){2}", 2 },
	{ "(?:aa){2}b", 2 },
	{ "(?:abc){2}|x", 0 },
	{ "(?:abc(?=def)|abd){2}", 2 },
	{ "(?:(?<=x)abc|yab){3}", 3 },
	{ "(ab|cd)\\1{2}(?:ef){2}", 2 },
};

/* The count expected for PATTERN, 0 for none, -1 when not listed. */
static int
repeat_expected(const char *pattern)
{
	size_t i;

	for (i = 0; i < sizeof(repeats) / sizeof(repeats[0]); i++)
		if (strcmp(repeats[i].pattern, pattern) == 0)
			return (int)repeats[i].count;
	return -1;
}

#define LONGQ "0123456789012345678901234567890123456789" \
    "0123456789012345678901234567890123456789"

static const struct lcase cases[] = {
	/* skeletons (RULES_LIT_SKEL): separators and look-alikes */
	{ "(?:\\b|\\s)[_\\W]{0,3}v[_\\W]{0,3}[i1!|l][_\\W]{0,3}a[_\\W]{0,3}"
	    "g[_\\W]{0,3}r[_\\W]{0,3}a", "i", { "v.i.a.g.r.a", "V!AGRA",
	    "buy v_i_a_g_r_a", "v|agra", "vi  agra" }, 1, NULL },
	{ "(?:[xX]|><){1,2}\\W{0,3}[aA@]{1,2}\\W{0,3}n", "", { "x.a.n",
	    "><@n", "XX--aan", "xn" }, 1, NULL },
	{ "c[\\W_]?l[\\W_]?i[\\W_]?c[\\W_]?k", "i", { "c-l-i-c-k",
	    "CLICK", "c l i c k", "clik" }, 1, NULL },
	/* repeated groups (rules__required_repeat), plain mode */
	{ "(?:(?:name|phone|age)\\W{1,3}){3}", "i", { "Name: phone, age;",
	    "name name name ", "age:phone:", "page: usage, stage." }, 1, NULL },
	{ "x(?:ab+c){2,}y", "", { "xabcabbcy", "xabcy", "xabcabcabcy" }, 1, NULL },
	{ "(?i)(?:(?:[pP]|&\\#80;)(?:[aA4@]|&\\#97;)y\\s?){2}", "",
	    { "pay pAy", "p&#97;ypay", "P4y&#80;ay", "pay" }, 1, NULL },
	{ "(?:aa){2}b", "", { "aaaab", "aab", "aaaaaab" }, 1, NULL },
	{ "(?:abc){2}|x", "", { "abcabc", "x" }, 1, NULL },
	{ "(?:abc(?=def)|abd){2}", "", { "abdabcdef", "abcabd" }, 1, NULL },
	{ "(?:(?<=x)abc|yab){3}", "", { "yabyabyab", "xabcabc" }, 1, NULL },
	{ "(ab|cd)\\1{2}(?:ef){2}", "", { "ababef", "ababababefef",
	    "cdcdcdefef" }, 1, NULL },
	/* alternation, optional pieces */
	{ "colou?r", "", { "the colour red", "color", "COLOR" }, 0,
	    "color|colour" },
	{ "foo|bar|bazz", "i", { "a FOO b", "xbAr", "bazz" }, 0,
	    "foo|bar|bazz" },
	{ "(?:buy|order)\\s+(?:now|today)", "i",
	    { "Buy  NOW", "order\ttoday", "buy later" }, 0, NULL },
	{ "(?:a|b|)cde", "", { "xcde", "acde", "bcd" }, 0, NULL },
	{ "a(?:bc)?def", "", { "adef", "abcdef", "abcde" }, 0,
	    "adef|abcdef" },
	{ "(?|(ab)|(cd))ef", "", { "abef", "cdef", "adef" }, 0,
	    "abef|cdef" },
	{ "(?>abc|ab)d", "", { "abd", "abcd", "ab d" }, 0, NULL },
	{ "(?:\\Q" LONGQ "\\E|bq)xyz", "", { "bqxyz", LONGQ "xyz", "xyz" },
	    0, NULL },
	/* classes */
	{ "v[i1!]agra", "i", { "V1AGRA", "v!agra", "viagra", "vxagra" }, 0,
	    NULL },
	{ "[Cc]lick\\s*here", "", { "Clickhere", "click   here",
	    "CLICK here" }, 0, NULL },
	{ "[a-c]xyz", "", { "bxyz", "dxyz", "cxyz" }, 0, "axyz|bxyz|cxyz" },
	{ "[\\]x]yzw", "", { "]yzw", "xyzw", "yyzw" }, 0, NULL },
	{ "[^abc]defg", "", { "xdefg", "adefg", "defg" }, 0, NULL },
	{ "\\d{3}-\\d{4}", "", { "555-1234", "55-1234" }, -1, NULL },
	/* case */
	{ "(?i)viagra", "", { "VIAGRA", "ViAgRa", "vi agra" }, 0, NULL },
	{ "(?i:foo)BAR", "", { "FoOBAR", "fooBar", "FOOBAR" }, 0, NULL },
	{ "(?-i:ABC)def", "i", { "ABCDEF", "abcdef", "ABCdef" }, 0, NULL },
	{ "\\xe9t\\xe9", "i", { "\xc9T\xc9", "\xe9t\xe9", "ete" }, 0, NULL },
	{ "\\x{e9}l\\x{E8}ve", "i", { "\xc9L\xc8VE", "\xe9l\xe8ve" }, 0,
	    NULL },
	/* escapes */
	{ "\\x41BC\\x{44}", "", { "xABCDx", "abcd" }, 0, "ABCD" },
	{ "\\cJfoo", "", { "a\nfoo", "afoo" }, 0, NULL },
	{ "\\012abc", "", { "\nabc", "abc" }, 0, NULL },
	{ "\\Qa.b*c\\E", "", { "a.b*c", "aXbbc" }, 0, "a.b*c" },
	{ "\\Qab.\\E{2}cd", "", { "ab..cd", "ab.ab.cd" }, 0, "ab..cd" },
	{ "x\\Qab\\E?cde", "", { "xacde", "xabcde" }, 0, "xacde|xabcde" },
	{ "price:?\\s*\\$\\d+", "i", { "PRICE: $100", "price$5" }, 0,
	    NULL },
	/* quantifiers */
	{ "a{0,3}bcd", "", { "bcd", "aaabcd", "abc" }, 0, NULL },
	{ "x(?:abc){2}y", "", { "xabcabcy", "xabcy" }, 0, "xabcabcy" },
	{ "x{2,}yz", "", { "xxyz", "xxxxxyz", "xyz" }, 0, "xyz" },
	{ "foo.{0,5}bar", "s", { "foo\nbar", "foo12345bar",
	    "foo123456bar" }, 0, NULL },
	{ "ab{,3}cd", "", { "ab{,3}cd", "abcd" }, 1, NULL },
	/* assertions, lookarounds */
	{ "\\bunsubscribe\\b", "i", { "to Unsubscribe now",
	    "unsubscribed" }, 0, NULL },
	{ "^Subject: .*free", "m", { "x\nSubject: get free", "Subject:free" },
	    0, NULL },
	{ "(?=.*foo)barn", "", { "barn foo", "foo barn" }, 0, NULL },
	{ "(?<!un)subscribe", "i", { "Subscribe", "unsubscribe" }, 0,
	    NULL },
	{ "click(?!\\s*here)", "", { "click now", "click here" }, 0, NULL },
	{ "(?<=\\$)\\d+\\.\\d\\d money", "", { "$12.50 money" }, 0, NULL },
	{ "a\\Kbcd", "", { "abcd", "bcd" }, 0, "abcd" },
	/* back references */
	{ "(\\w+) \\1 again", "", { "go go again", "go no again" }, 0, NULL },
	{ "(?P<n>ab)c(?P=n)", "", { "abcab", "abc" }, 0, NULL },
	{ "(ab)\\g1 zz", "", { "abab zz", "ab zz" }, 0, NULL },
	{ "(ab)\\g{1}zz", "", { "ababzz" }, -1, NULL },
	{ "(ab)\\g{-1}zzz", "", { "ababzzz" }, 0, NULL },
	/* x mode and comments */
	{ "hello world # comment", "x", { "helloworld", "hello world" }, 0,
	    "helloworld" },
	{ "hello\\ world", "x", { "hello world", "helloworld" }, 0,
	    "hello world" },
	{ "pre\\Qa b\\Ep[ ]ost", "x", { "prea bp ost", "preabpost" }, 0,
	    NULL },
	{ "ab c(?x) d e", "", { "ab cde", "ab c d e" }, -1, NULL },
	{ "ab c(?-x) d e", "x", { "abc d e", "abcde" }, -1, NULL },
	{ "(?#comment)literal", "", { "a literal", "litera" }, 0, "literal" },
	{ "foo(?#x)bar", "", { "foobar" }, 0, "foobar" },
	{ "a\n#c\nbcd", "x", { "abcd", "a bcd" }, 0, "abcd" },
	/* multi-byte alternatives, as SpamAssassin's replace_tag letters */
	{ "(?:[yY]|\\xc3\\xbd)(?:[oO0]|\\xc3[\\xb2-\\xb6])(?:[uU]|\\xc3\\xbc)",
	    "i", { "you", "Y0U", "\xc3\xbdou", "yo\xc3\xbc" }, 1, NULL },
	{ "\\xe9t\\xe9|fooo", "", { "\xe9t\xe9", "fooo" }, 1, NULL },
	{ "(?:^|\\s)(?:[\\xc0-\\xff]x|ab)cd", "", { " abcd", "\xe0xcd" }, 1,
	    NULL },
};

/* True if TEXT holds S, ASCII-caselessly when ICASE. */
static bool
holds(const char *text, size_t tlen, const char *s, size_t slen, bool icase)
{
	size_t i, j;

	if (slen > tlen)
		return false;
	for (i = 0; i + slen <= tlen; i++) {
		for (j = 0; j < slen; j++) {
			int a = (unsigned char)text[i + j];
			int b = (unsigned char)s[j];

			if (icase && a >= 'A' && a <= 'Z')
				a += 32;
			if (icase && b >= 'A' && b <= 'Z')
				b += 32;
			if (a != b)
				break;
		}
		if (j == slen)
			return true;
	}
	return false;
}

/* The state of one pattern's check. */
struct lcheck {
	const struct lcase	*c;
	struct regex		 re;
	struct rules_lits	 lits;
	bool			 caseless;
	int			 rc;
	struct rules_lits	 alits;	/* for texts of ASCII bytes */
	bool			 acaseless;
	int			 arc;
	struct rules_lits	 plits;	/* for plain texts */
	bool			 pcaseless;
	int			 prc;
	struct rules_lits	 rlits;	/* repeated, any text */
	bool			 rcaseless;
	int			 rrc;
	unsigned		 rcount;
	struct rules_lits	 rplits;	/* repeated, plain texts */
	bool			 rpcaseless;
	int			 rprc;
	unsigned		 rpcount;
	size_t			 repeats;	/* matches checked so */
	struct rules_lits	 slits;	/* skeletons of plain texts */
	bool			 scaseless;
	int			 src;
	size_t			 skels;		/* matches checked so */
	pcre2_match_data	*md;
	pcre2_match_context	*mctx;
	size_t			 matched;
};

/* True if TEXT holds one of LITS. */
static bool
holds_one(const char *t, size_t len, const struct rules_lits *lits,
    bool icase)
{
	size_t i;

	for (i = 0; i < lits->n; i++)
		if (holds(t, len, lits->v[i].s, lits->v[i].len, icase))
			return true;
	return false;
}

/*
 * The number of different offsets at which one of LITS ends in T (the
 * prefilter's count for repeated literals).
 */
static unsigned
count_ends(const char *t, size_t len, const struct rules_lits *lits,
    bool icase)
{
	unsigned n = 0;
	size_t e, i;

	for (e = 1; e <= len; e++)
		for (i = 0; i < lits->n; i++) {
			size_t l = lits->v[i].len;

			if (l <= e && holds(t + e - l, l, lits->v[i].s, l,
			    icase)) {
				n++;
				break;
			}
		}
	return n;
}

/* Compute the plain-mode and repeated sets of K's case C (MINLEN). */
static void
more_sets(struct lcheck *k, const char *pattern, const char *mods,
    size_t minlen)
{
	k->prc = rules__required_literals(pattern, mods, minlen,
	    RULES_LIT_PLAIN, &k->plits, &k->pcaseless);
	k->rrc = rules__required_repeat(pattern, mods, minlen,
	    RULES_LIT_ANY, &k->rlits, &k->rcaseless, &k->rcount);
	k->rprc = rules__required_repeat(pattern, mods, minlen,
	    RULES_LIT_PLAIN, &k->rplits, &k->rpcaseless, &k->rpcount);
	k->src = rules__required_literals(pattern, mods, minlen,
	    RULES_LIT_SKEL, &k->slits, &k->scaseless);
}

/* Free what more_sets() computed. */
static void
more_free(struct lcheck *k)
{
	rules__lits_free(&k->plits);
	rules__lits_free(&k->rlits);
	rules__lits_free(&k->rplits);
	rules__lits_free(&k->slits);
}

/* Check one text against the plain and repeated sets. */
static void
check_more(struct lcheck *k, const char *t, size_t len, bool plain)
{
	unsigned n;

	if (plain && k->prc == 0 && !holds_one(t, len, &k->plits,
	    k->pcaseless)) {
		fprintf(stderr, "pattern /%s/%s matches plain \"%.*s\" "
		    "without any of its %zu plain literals\n", k->c->pattern,
		    k->c->mods, (int)len, t, k->plits.n);
		fail();
	}
	if (k->rrc == 0 && (n = count_ends(t, len, &k->rlits,
	    k->rcaseless)) < k->rcount) {
		fprintf(stderr, "pattern /%s/%s matches \"%.*s\" with %u "
		    "repeated literals, %u needed\n", k->c->pattern,
		    k->c->mods, (int)len, t, n, k->rcount);
		fail();
	}
	if (plain && k->rprc == 0 && (n = count_ends(t, len, &k->rplits,
	    k->rpcaseless)) < k->rpcount) {
		fprintf(stderr, "pattern /%s/%s matches plain \"%.*s\" with "
		    "%u repeated literals, %u needed\n", k->c->pattern,
		    k->c->mods, (int)len, t, n, k->rpcount);
		fail();
	}
	if (k->rrc == 0 || (plain && k->rprc == 0))
		k->repeats++;
	if (plain && k->src == 0) {
		char skel[512];
		size_t i, m = 0;

		for (i = 0; i < len && m < sizeof(skel); i++)
			if ((t[i] >= 'a' && t[i] <= 'z') ||
			    (t[i] >= 'A' && t[i] <= 'Z') ||
			    (t[i] >= '0' && t[i] <= '9'))
				skel[m++] = t[i];
		if (!holds_one(skel, m, &k->slits, k->scaseless)) {
			fprintf(stderr, "pattern /%s/%s matches plain \"%.*s\" "
			    "whose skeleton \"%.*s\" holds none of its %zu "
			    "skeleton literals\n", k->c->pattern, k->c->mods,
			    (int)len, t, (int)m, skel, k->slits.n);
			fail();
		}
		k->skels++;
	}
}

/* Check one text against the pattern; the property must hold. */
static void
check_text(struct lcheck *k, const char *t, size_t len)
{
	size_t ms, me, i;
	bool ascii = true;
	int rc;

	bool plain;

	rc = rules__regex_match(&k->re, t, len, 0, 0, k->md, k->mctx, &ms,
	    &me);
	if (rc < 0)
		return;
	k->matched++;
	for (i = 0; i < len; i++)
		ascii &= (unsigned char)t[i] < 0x80;
	plain = ascii && memchr(t, '&', len) == NULL;
	check_more(k, t, len, plain);
	if (k->rc == 0 && !holds_one(t, len, &k->lits, k->caseless)) {
		fprintf(stderr, "pattern /%s/%s matches \"%.*s\" (%zu "
		    "bytes) without any of its %zu literals\n",
		    k->c->pattern, k->c->mods, (int)len, t, len, k->lits.n);
		fail();
	}
	if (ascii && k->arc == 0 && !holds_one(t, len, &k->alits,
	    k->acaseless)) {
		fprintf(stderr, "pattern /%s/%s matches ASCII \"%.*s\" "
		    "(%zu bytes) without any of its %zu ASCII literals\n",
		    k->c->pattern, k->c->mods, (int)len, t, len, k->alits.n);
		fail();
	}
}

/* A byte of the alphabet: pattern, examples, case partners, extras. */
static size_t
alphabet(const struct lcase *c, char *abc, size_t cap)
{
	static const char extra[] = " \n\t$.1aZ";
	bool seen[256] = { false };
	const char *srcs[8];
	size_t n = 0, i, s, ns = 0;

	srcs[ns++] = c->pattern;
	srcs[ns++] = extra;
	for (i = 0; i < 6 && c->examples[i] != NULL; i++)
		srcs[ns++] = c->examples[i];
	for (s = 0; s < ns; s++)
		for (i = 0; srcs[s][i] != '\0'; i++) {
			int b = (unsigned char)srcs[s][i], v[3], k;

			v[0] = b;
			v[1] = b >= 'a' && b <= 'z' ? b - 32 :
			    b >= 'A' && b <= 'Z' ? b + 32 : b;
			v[2] = b >= 0xc0 && b <= 0xde ? b + 32 :
			    b >= 0xe0 && b <= 0xfe ? b - 32 : b;
			for (k = 0; k < 3; k++)
				if (!seen[v[k]] && n < cap) {
					seen[v[k]] = true;
					abc[n++] = (char)v[k];
				}
		}
	return n;
}

/* A small deterministic generator (xorshift). */
static uint32_t
rnd(uint32_t *st)
{
	*st ^= *st << 13;
	*st ^= *st >> 17;
	*st ^= *st << 5;
	return *st;
}

/* Mutate EX into BUF: deletions, insertions, case flips, splices. */
static size_t
mutate(const char *ex, char *buf, size_t cap, const char *abc, size_t na,
    uint32_t *st)
{
	size_t len = strlen(ex), i, out = 0;

	for (i = 0; i < len && out + 2 < cap; i++) {
		uint32_t r = rnd(st) % 16;
		char ch = ex[i];

		if (r == 0)
			continue;			/* delete */
		if (r == 1)
			buf[out++] = abc[rnd(st) % na];	/* insert */
		if (r == 2 && ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z'))
			ch ^= 0x20;			/* flip case */
		if (r == 3)
			ch = abc[rnd(st) % na];		/* replace */
		buf[out++] = ch;
	}
	return out;
}

/* Run the property over one case. */
static void
run_case(const struct lcase *c, const uint8_t *tables)
{
	struct lcheck k = { .c = c };
	pcre2_compile_context *cctx = pcre2_compile_context_create(NULL);
	char err[256], abc[256], buf[256];
	uint32_t st = 2463534242u;
	size_t na, i, j, len;
	int rexp;

	assert_non_null(cctx);
	if (tables != NULL)
		pcre2_set_character_tables(cctx, tables);
	if (rules__regex_compile(&k.re, c->pattern, c->mods, cctx, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "/%s/%s: %s\n", c->pattern, c->mods, err);
		fail();
	}
	rules__regex_jit(&k.re, true);
	k.md = pcre2_match_data_create(4, NULL);
	k.mctx = pcre2_match_context_create(NULL);
	/* expect: as the prefilter asks (3 bytes at least) */
	k.rc = rules__required_literals(c->pattern, c->mods, 3, false,
	    &k.lits, &k.caseless);
	more_sets(&k, c->pattern, c->mods, 1);
	if ((rexp = repeat_expected(c->pattern)) != -1 && (rexp == 0 ?
	    k.rrc != -1 : k.rrc != 0 || k.rcount != (unsigned)rexp)) {
		fprintf(stderr, "/%s/%s: repeated literals %d, count %u, "
		    "expected %d\n", c->pattern, c->mods, k.rrc, k.rcount,
		    rexp);
		fail();
	}
	if (c->expect != 1 && k.rc != c->expect) {
		fprintf(stderr, "/%s/%s: literals %d, expected %d\n",
		    c->pattern, c->mods, k.rc, c->expect);
		fail();
	}
	if (c->lits != NULL) {
		/* the exact set expected, in any order */
		const char *p = c->lits;
		size_t n = 0;

		while (*p != '\0') {
			const char *e = strchr(p, '|');
			size_t l = e != NULL ? (size_t)(e - p) : strlen(p);
			bool found = false;

			for (i = 0; i < k.lits.n; i++)
				found |= k.lits.v[i].len == l &&
				    memcmp(k.lits.v[i].s, p, l) == 0;
			if (!found)
				fprintf(stderr, "/%s/: no literal %.*s\n",
				    c->pattern, (int)l, p);
			assert_true(found);
			n++;
			p += l + (e != NULL);
		}
		assert_int_equal(n, k.lits.n);
	}
	/* the property: with any length, the strongest set */
	rules__lits_free(&k.lits);
	k.rc = rules__required_literals(c->pattern, c->mods, 1, false,
	    &k.lits, &k.caseless);
	k.arc = rules__required_literals(c->pattern, c->mods, 1, true,
	    &k.alits, &k.acaseless);
	na = alphabet(c, abc, sizeof(abc));
	for (i = 0; i < 6 && c->examples[i] != NULL; i++) {
		check_text(&k, c->examples[i], strlen(c->examples[i]));
		for (j = 0; j < 300; j++) {
			len = mutate(c->examples[i], buf, sizeof(buf), abc, na,
			    &st);
			check_text(&k, buf, len);
		}
	}
	if (k.matched == 0) {
		fprintf(stderr, "/%s/%s matches no example\n", c->pattern,
		    c->mods);
		fail();
	}
	for (j = 0; j < 3000; j++) {
		len = rnd(&st) % 24;
		for (i = 0; i < len; i++)
			buf[i] = abc[rnd(&st) % na];
		check_text(&k, buf, len);
	}
	rules__lits_free(&k.lits);
	rules__lits_free(&k.alits);
	more_free(&k);
	rules__regex_free(&k.re);
	pcre2_match_data_free(k.md);
	pcre2_match_context_free(k.mctx);
	pcre2_compile_context_free(cctx);
}

/* Every case: matches hold a literal. */
static void
test_literal_property(void **state)
{
	const uint8_t *tables = rules__perl_tables();
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i], tables);
	if (tables != NULL)
		pcre2_maketables_free(NULL, tables);
}

/*
 * Random patterns built from a grammar of the constructs above: the
 * property must hold for every one that compiles.
 */
static size_t
gen_pattern(char *out, size_t cap, uint32_t *st, int depth)
{
	static const char *atoms[] = {
		"a", "b", "ab", "abc", "X", "\\x41", "\\.", "[ab]", "[a-c]",
		"[^a]", ".", "\\d", "\\s", "\\w", "\\b", "^", "$", "\\Qa.\\E",
		"\\n", "\\e", "(?i)", "\\1", "\\xe9", "[\\x41b]", "(?#c)",
		"\\Qb c\\E", " ", "# c\n", "[\\d.]", "\\x{41}", "(?x)",
		"\\cA", "\\101", "a{,2}", "|", "\\K", "(?-i)", "\\g{1}",
		"[]a]", "[a\\]]", "\\Aa", "b\\z", "(?s).", "\\xC9",
		"&", "(?:a|&\\#1;)", "[&b]", "\\x26", "[_\\W]{0,3}", "[a.]",
		"\\W?", "[b!|]",
	};
	static const char *quants[] = {
		"", "", "", "?", "*", "+", "{2}", "{0,2}", "{1,3}", "??",
		"+?", "{2,}",
	};
	size_t n = 0, i, parts = 1 + rnd(st) % 4;

	for (i = 0; i < parts && n + 40 < cap; i++) {
		uint32_t r = rnd(st) % 10;

		if (r < 2 && depth < 3) {
			static const char *opens[] = { "(", "(?:", "(?=",
			    "(?!", "(?<=", "(?>", "(?i:" };
			const char *o = opens[rnd(st) % 7];
			bool look = strstr(o, "=") != NULL ||
			    strstr(o, "!") != NULL;

			n += (size_t)snprintf(out + n, cap - n, "%s", o);
			n += gen_pattern(out + n, cap - n, st, depth + 1);
			if (rnd(st) % 2 && n + 40 < cap) {
				out[n++] = '|';
				n += gen_pattern(out + n, cap - n, st,
				    depth + 1);
			}
			if (n + 8 < cap) {
				out[n++] = ')';
				if (!look)
					n += (size_t)snprintf(out + n,
					    cap - n, "%s",
					    quants[rnd(st) % 12]);
			}
		} else {
			n += (size_t)snprintf(out + n, cap - n, "%s%s",
			    atoms[rnd(st) %
			    (sizeof(atoms) / sizeof(atoms[0]))], quants[rnd(st) % 12]);
		}
		out[n] = '\0';
	}
	return n;
}

/* Generated patterns over generated texts. */
static void
test_literal_random(void **state)
{
	const uint8_t *tables = rules__perl_tables();
	pcre2_compile_context *cctx = pcre2_compile_context_create(NULL);
	uint32_t st = 88172645u;
	size_t p, j, i, len, tested = 0, matched = 0, reptested = 0;
	size_t repmatched = 0, skelmatched = 0;
	static const char abc[] = "abcXAx.\n \xe9\xc9" "01#\x01]&";
	char pat[512], buf[64], err[256];

	(void)state;
	if (tables != NULL)
		pcre2_set_character_tables(cctx, tables);
	for (p = 0; p < 20000; p++) {
		struct lcase c = { .pattern = pat, .mods = "" };
		struct lcheck k = { .c = &c };

		pat[0] = '\0';
		if (p % 3 == 0) {
			/* a repeated group, for rules__required_repeat */
			size_t n = (size_t)snprintf(pat, sizeof(pat), "%s(?:",
			    rnd(&st) % 2 ? "a" : "");
			n += gen_pattern(pat + n, sizeof(pat) - n - 16, &st,
			    1);
			snprintf(pat + n, sizeof(pat) - n, "){%u,3}%s",
			    2 + rnd(&st) % 2, rnd(&st) % 2 ? "b" : "");
		} else
			gen_pattern(pat, sizeof(pat), &st, 0);
		c.mods = (const char *[]){ "", "", "i", "x", "ix", "s",
		    "m" }[rnd(&st) % 7];
		if (rules__regex_compile(&k.re, pat, c.mods, cctx, err,
		    sizeof(err)) == -1)
			continue;
		k.rc = rules__required_literals(pat, c.mods, 1, false,
		    &k.lits, &k.caseless);
		k.arc = rules__required_literals(pat, c.mods, 1, true,
		    &k.alits, &k.acaseless);
		more_sets(&k, pat, c.mods, 1);
		if (k.rc == -1 && k.arc == -1 && k.prc == -1 && k.rrc == -1 &&
		    k.rprc == -1 && k.src == -1) {
			more_free(&k);
			rules__regex_free(&k.re);
			continue;
		}
		tested++;
		reptested += k.rrc == 0 || k.rprc == 0;
		k.md = pcre2_match_data_create(4, NULL);
		k.mctx = pcre2_match_context_create(NULL);
		for (j = 0; j < 400; j++) {
			len = rnd(&st) % 12;
			for (i = 0; i < len; i++)
				buf[i] = abc[rnd(&st) % (sizeof(abc) - 1)];
			check_text(&k, buf, len);
			/* a literal of the set with noise around it */
			const struct rules_lits *ls = k.lits.n > 0 ?
			    &k.lits : &k.alits;

			if (ls->n > 0 && j % 4 == 0) {
				const struct rules_lit *l =
				    &ls->v[rnd(&st) % ls->n];
				size_t o = rnd(&st) % 3;

				if (l->len + o + 3 < sizeof(buf)) {
					memcpy(buf, "ab\n", o);
					memcpy(buf + o, l->s, l->len);
					memcpy(buf + o + l->len, "bc", 2);
					check_text(&k, buf, o + l->len + 2);
				}
			}
		}
		matched += k.matched;
		repmatched += k.repeats;
		skelmatched += k.skels;
		rules__lits_free(&k.lits);
		rules__lits_free(&k.alits);
		more_free(&k);
		rules__regex_free(&k.re);
		pcre2_match_data_free(k.md);
		pcre2_match_context_free(k.mctx);
	}
	printf("%zu generated patterns with literals, %zu matching texts; "
	    "%zu with repeated literals, %zu matching texts; %zu skeleton "
	    "checks\n", tested, matched, reptested, repmatched,
	    skelmatched);
	assert_true(skelmatched > 1000);
	assert_true(reptested > 1000);
	assert_true(repmatched > 1000);
	/* the generator must give the check something to hold */
	assert_true(tested > 3000);
	assert_true(matched > 1000);
	pcre2_compile_context_free(cctx);
	if (tables != NULL)
		pcre2_maketables_free(NULL, tables);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literal_property),
		cmocka_unit_test(test_literal_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
