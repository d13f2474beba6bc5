/*
 * test_rules_ascii.c -- ASCII projections of patterns (ascii.c).
 *
 * The invariant: on a text of bytes below 0x80, a pattern's projection
 * matches exactly where the pattern does.  Checked as a property with
 * PCRE2 compiled as the rule engine compiles (Perl's tables): for
 * tricky patterns and 20,000 generated ones, over examples, mutations
 * and random ASCII texts, both are searched from every start offset
 * and must give the same result and the same bounds.  Some projections
 * (or their absence) are checked exactly, and each case must match
 * some text so that the check cannot pass vacuously.
 *
 * The plain projection (rules__regex_plain: for ASCII texts without
 * '&', which also drops what needs a '&') is checked the same way on
 * the texts without '&', and some of its rewrites exactly.
 *
 * The u8 projection (rules__regex_u8: for texts whose bytes >= 0x80
 * are continuation bytes or 0xc2, 0xc3, 0xe2, 0xe3) is checked the same
 * way, against the unoptimised pattern and with the engine's compiled
 * forms, on generated patterns over generated texts of such bytes and
 * ASCII (eval.c uses it only on texts rules__is_u8() accepts), and some
 * of its rewrites exactly, case partners (0xc3/0xe3) included.
 *
 * The existence form (exist.c: leading optional items dropped, a
 * leading repeated group unrolled, copied or written once, a leading
 * one-byte item dropped too) must match wherever the pattern matches:
 * checked on 20,000 generated patterns, most of them behind an
 * optional prefix or a one-byte item, in all four forms, over
 * generated texts, and some forms exactly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/eval_int.h"

struct acase {
	const char	*pattern;	/* Perl syntax, as in a rule */
	const char	*mods;
	const char	*examples[4];	/* ASCII texts, some matching */
	const char	*expect;	/* projection, "-": none */
};

/* SpamAssassin's tag style: a class, UTF-8 sequences, &#..; forms. */
#define TAG_O	"(?:[oO0\\xd2-\\xd6\\xf2]|[\\xc3][\\x92-\\x96]|" \
    "&\\#(?:79|111);|[\\xce][\\x9f\\xbf])"
#define TAG_U	"(?:[uUv\\xd9-\\xdc]|[\\xc3][\\x99-\\x9c]|&\\#117;)"

static const struct acase cases[] = {
	{ "(?:^|\\s)(?:[yY]|\\xc3\\xbd)" TAG_O TAG_U "r\\b", "i",
	    { "see yOur", "y0ur", "yo&#117;r x", "your" }, NULL },
	{ TAG_O "{2}", "", { "o0", "&#79;O", "o" },
	    "(?:[\\x6f\\x4f\\x30]|&\\#(?:79|111);){2}" },
	{ "a\\xe9?b|c\\xe9d", "", { "ab", "cd", "a b" }, "ab" },
	{ "x[\\x00-\\xff]y", "", { "x y", "xy" }, "x[\\x00-\\x7f]y" },
	{ "x[^\\xe9]y", "", { "x y" }, "-" },
	{ "\\xe9t\\xe9", "i", { "ete" }, "(*FAIL)" },
	{ "(\\xe9|a)\\1", "", { "aa" }, "-" },
	{ "(?:\\xe9|a)b(?!\\xe9)", "", { "ab", "b" }, "(?:a)b(?!\\xe9)" },
	{ "(?<=\\xe9|a)b", "", { "ab", "b" }, "(?<=a)b" },
	{ "(?i:\\xc3\\xa9|E)x", "", { "ex", "Ex" }, "(?i:E)x" },
	{ "a\\Q\\xe9\\E", "", { "a\\xe9" }, "-" },
	{ "a b\\xe9?", "x", { "ab" }, "-" },
	{ "(?x: a)\\xe9?", "", { "a" }, "-" },
	{ "[[:alpha:]\\xe0-\\xff]+\\d", "", { "abc1", "1" },
	    "[[:alpha:]]+\\d" },
	{ "[\\w\\xe9-]{2}", "", { "a-", "--", "a" }, "[\\w\\x2d]{2}" },
	{ "[a-\\xff]", "", { "b", "A" }, "[\\x61-\\x7f]" },
	{ "\\x{e9}|\\x41", "", { "A" }, "\\x41" },
	{ "(?<n>\\xe9|z)k", "", { "zk" }, "(?<n>z)k" },
	{ "a{2}\\xe9{0}b", "", { "aab" }, "a{2}b" },
	{ "a\\xe9*+b", "", { "ab" }, "ab" },
	{ "a(*SKIP)\\xe9|ab", "", { "ab" }, "-" },
	{ "a(*FAIL)|\\xe9|ab", "", { "ab" }, "a(*FAIL)|ab" },
	{ "foo(?#\\xe9)bar", "", { "foobar" }, "-" },
	{ "(?=\\xe9)(?#c){0,2}a", "", { "a" }, "-" },
	{ "(?:(?-i)\\xe9|ab)", "i", { "AB", "ab" }, "-" },
	{ "(?:(?-i:\\xe9)|ab)", "i", { "AB", "ab" }, "(?:ab)" },
	{ "(?|a|\\xe9)b", "", { "ab" }, "-" },
	{ "(a)(?1)\\xe9?", "", { "aa" }, "-" },
	{ "plain text", "", { "plain text" }, "-" },
	{ "^\\s*(?:\\xe2\\x80\\x8b)*hello$", "m", { "  hello\nx" },
	    "^\\s*hello$" },
	{ "[\\]\\xe9]x", "", { "]x" }, "[\\x5d]x" },
	{ "[]\\xe9]x", "", { "]x" }, "[\\x5d]x" },
};

/* Plain projections expected ("-": none). */
static const struct acase plain_cases[] = {
	{ TAG_O "{2}", "", { "o0", "O", "o&#79;" },
	    "(?:[\\x6f\\x4f\\x30]){2}" },
	{ "(?:^|\\s)(?:[yY]|\\xc3\\xbd)" TAG_O TAG_U "r\\b", "i",
	    { "see yOur", "y0ur", "yo&#117;r x" }, NULL },
	{ "[!-/]x", "", { "!x", "&x", "/x" }, "[\\x21-\\x25\\x27-\\x2f]x" },
	{ "a&b|c\\x26d|[&]e|f", "", { "f", "a&b" }, "f" },
	{ "x&?y", "", { "xy", "x&y" }, "xy" },
	{ "&\\#\\d+;", "", { "&#1;" }, "(*FAIL)" },
	{ "[^&]x", "", { "ax", "&x" }, "-" },
	{ "a\\Wb", "", { "a b", "a&b" }, "-" },
};

/* u8 projections expected ("-": none), over texts with such bytes. */
static const struct acase u8_cases[] = {
	{ TAG_O "{2}", "", { "o\xc3\x92", "\xc3\x96O", "\xce\x9fo", "\xd2o" },
	    "(?:[\\x6f\\x4f\\x30]|[\\xc3][\\x92-\\x96]|&\\#(?:79|111);){2}" },
	{ "a\\xe9b|c\\xe3d", "i", { "a\xc9" "b", "c\xc3" "d", "C\xe3" "D" },
	    "c\\xe3d" },
	{ "x[\\xc0-\\xff]", "", { "x\xc3", "x\xe2", "xa" },
	    "x[\\xc2-\\xc3\\xe2-\\xe3]" },
	{ "[\\x80-\\xbf]\\xe1", "", { "\xa0\xe1" }, "(*FAIL)" },
	{ "\\xe2\\x80\\x99s|\\xf0\\x9d\\x90\\x80", "", { "it\xe2\x80\x99s" },
	    "\\xe2\\x80\\x99s" },
};

/* A small deterministic generator (xorshift). */
static uint32_t
rnd(uint32_t *st)
{
	*st ^= *st << 13;
	*st ^= *st >> 17;
	*st ^= *st << 5;
	return *st;
}

/* The state of one pattern's check. */
struct acheck {
	const char		*pattern, *mods;
	struct regex		 re, are;	/* as the engine compiles */
	pcre2_code		*ru, *au;	/* unoptimised, interpreted */
	pcre2_code		*pu;		/* plain projection, or NULL */
	pcre2_code		*uu;		/* u8 projection, or NULL */
	struct regex		 ure;		/* as the engine compiles it */
	pcre2_match_data	*md;
	pcre2_match_context	*mctx;
	size_t			 matched;
	size_t			 pcre2_differs;	/* optimiser disagreements */
	bool			 strict;	/* those fail too */
};

/* Match C (unoptimised) in T from S: the result, bounds in *ms, *me. */
static int
plain_match(struct acheck *k, pcre2_code *c, const char *t, size_t len,
    size_t s, size_t *ms, size_t *me)
{
	int rc = pcre2_match(c, (PCRE2_SPTR)t, len, s, PCRE2_NO_JIT, k->md,
	    k->mctx);
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(k->md);

	if (rc >= 0) {
		*ms = ov[0];
		*me = ov[1];
	}
	return rc;
}

/* Report a disagreement; WHAT names the pair compared. */
static void
differ(struct acheck *k, const char *what, const char *t, size_t len,
    size_t s, int rc, size_t ms, size_t me, int arc, size_t ams, size_t ame)
{
	fprintf(stderr, "%s: /%s/%s on \"%.*s\" from %zu: pattern %d "
	    "%zu-%zu, projection %d %zu-%zu\n", what, k->pattern, k->mods,
	    (int)len, t, s, rc, rc >= 0 ? ms : 0, rc >= 0 ? me : 0, arc,
	    arc >= 0 ? ams : 0, arc >= 0 ? ame : 0);
}

/* True if two results (a limit: no decision) disagree. */
static bool
disagree(int rc, size_t ms, size_t me, int arc, size_t ams, size_t ame)
{
	if ((rc < 0 && rc != PCRE2_ERROR_NOMATCH) ||
	    (arc < 0 && arc != PCRE2_ERROR_NOMATCH))
		return false;
	return (rc >= 0) != (arc >= 0) || (rc >= 0 && (ms != ams ||
	    me != ame));
}

/*
 * Both searches of T from every start must agree: the rewrite is
 * checked on PCRE2 without its start-up optimisations and JIT (which
 * have bugs in 10.42 that an equivalent pattern can avoid or meet:
 * counted, and failed only for the table's cases); the engine's
 * compiled forms are compared too.
 */
static void
check_text(struct acheck *k, const char *t, size_t len)
{
	size_t s, ms = 0, me = 0, ams = 0, ame = 0;
	bool ascii = rules__is_ascii(t, len);
	int rc, arc;

	for (s = 0; s <= len; s++) {
		rc = plain_match(k, k->ru, t, len, s, &ms, &me);
		arc = ascii ? plain_match(k, k->au, t, len, s, &ams, &ame) :
		    rc;
		if (rc >= 0)
			k->matched++;
		if (ascii && disagree(rc, ms, me, arc, ams, ame)) {
			differ(k, "rewrite", t, len, s, rc, ms, me, arc, ams,
			    ame);
			fail();
		}
		if (k->uu != NULL && rules__is_u8(t, len)) {
			arc = plain_match(k, k->uu, t, len, s, &ams, &ame);
			if (disagree(rc, ms, me, arc, ams, ame)) {
				differ(k, "u8 rewrite", t, len, s, rc, ms,
				    me, arc, ams, ame);
				fail();
			}
		}
		if (ascii && k->pu != NULL && memchr(t, '&', len) == NULL) {
			arc = plain_match(k, k->pu, t, len, s, &ams, &ame);
			if (disagree(rc, ms, me, arc, ams, ame)) {
				differ(k, "plain rewrite", t, len, s, rc, ms,
				    me, arc, ams, ame);
				fail();
			}
		}
		rc = rules__regex_match(&k->re, t, len, s, 0, k->md, k->mctx,
		    &ms, &me);
		if (k->ure.code != NULL && !rules__is_ascii(t, len) &&
		    rules__is_u8(t, len)) {
			arc = rules__regex_match(&k->ure, t, len, s, 0,
			    k->md, k->mctx, &ams, &ame);
			if (disagree(rc, ms, me, arc, ams, ame)) {
				k->pcre2_differs++;
				if (k->strict) {
					differ(k, "u8 engine", t, len, s, rc,
					    ms, me, arc, ams, ame);
					fail();
				}
			}
		}
		if (!rules__is_ascii(t, len))
			continue;
		arc = rules__regex_match(&k->are, t, len, s, 0, k->md,
		    k->mctx, &ams, &ame);
		if (disagree(rc, ms, me, arc, ams, ame)) {
			k->pcre2_differs++;
			if (k->strict) {
				differ(k, "engine", t, len, s, rc, ms, me, arc,
				    ams, ame);
				fail();
			}
		}
	}
}

/* PCRE2 options of MODS, plus the ones that turn optimisations off. */
static uint32_t
plain_options(const char *mods)
{
	uint32_t o = PCRE2_NO_START_OPTIMIZE | PCRE2_NO_AUTO_POSSESS |
	    PCRE2_NO_DOTSTAR_ANCHOR;

	if (strchr(mods, 'i') != NULL)
		o |= PCRE2_CASELESS;
	if (strchr(mods, 'm') != NULL)
		o |= PCRE2_MULTILINE;
	if (strchr(mods, 's') != NULL)
		o |= PCRE2_DOTALL;
	return o;
}

/* Compile K's pattern and projection; false if there is none. */
static bool
setup(struct acheck *k, pcre2_compile_context *cctx)
{
	char err[256], *tr, *asc, *pl, *u8;
	PCRE2_SIZE off;
	bool noasc = false;
	int ec;

	if (rules__regex_compile(&k->re, k->pattern, k->mods, cctx, err,
	    sizeof(err)) == -1)
		return false;
	if (!rules__regex_compile_ascii(&k->are, k->pattern, k->mods,
	    cctx)) {
		/* no ASCII projection: the pattern stands for it, so that
		   a plain projection is still checked */
		tr = rules__regex_translate(k->pattern);
		assert_non_null(tr);
		pl = rules__regex_plain(tr, k->mods);
		free(tr);
		if (pl == NULL || rules__regex_compile(&k->are, k->pattern,
		    k->mods, cctx, err, sizeof(err)) == -1) {
			free(pl);
			rules__regex_free(&k->re);
			return false;
		}
		free(pl);
		noasc = true;
	}
	rules__regex_jit(&k->re, true);
	rules__regex_jit(&k->are, true);
	tr = rules__regex_translate(k->pattern);
	assert_non_null(tr);
	asc = noasc ? strdup(tr) : rules__regex_ascii(tr, k->mods);
	assert_non_null(asc);
	pl = rules__regex_plain(tr, k->mods);
	if (pl != NULL) {
		k->pu = pcre2_compile((PCRE2_SPTR)pl, PCRE2_ZERO_TERMINATED,
		    plain_options(k->mods), &ec, &off, cctx);
		assert_non_null(k->pu);
		free(pl);
	}
	u8 = rules__regex_u8(tr, k->mods);
	if (u8 != NULL) {
		k->uu = pcre2_compile((PCRE2_SPTR)u8, PCRE2_ZERO_TERMINATED,
		    plain_options(k->mods), &ec, &off, cctx);
		assert_non_null(k->uu);
		free(u8);
		assert_true(rules__regex_compile_u8(&k->ure, k->pattern,
		    k->mods, cctx));
		rules__regex_jit(&k->ure, true);
	}
	k->ru = pcre2_compile((PCRE2_SPTR)tr, PCRE2_ZERO_TERMINATED,
	    plain_options(k->mods), &ec, &off, cctx);
	k->au = pcre2_compile((PCRE2_SPTR)asc, PCRE2_ZERO_TERMINATED,
	    plain_options(k->mods), &ec, &off, cctx);
	assert_non_null(k->ru);
	assert_non_null(k->au);
	free(tr);
	free(asc);
	return true;
}

/* Release what setup() built. */
static void
teardown(struct acheck *k)
{
	rules__regex_free(&k->re);
	rules__regex_free(&k->are);
	pcre2_code_free(k->ru);
	pcre2_code_free(k->au);
	pcre2_code_free(k->pu);
	pcre2_code_free(k->uu);
	rules__regex_free_code(&k->ure);
}

/* Mutate EX into BUF (ASCII only): deletions, insertions, case flips. */
static size_t
mutate(const char *ex, char *buf, size_t cap, uint32_t *st)
{
	static const char abc[] = "aoO0uy &#;179\n";
	size_t len = strlen(ex), i, out = 0;

	for (i = 0; i < len && out + 2 < cap; i++) {
		uint32_t r = rnd(st) % 12;
		char ch = ex[i];

		if (r == 0)
			continue;
		if (r == 1)
			buf[out++] = abc[rnd(st) % (sizeof(abc) - 1)];
		if (r == 2 && ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z'))
			ch ^= 0x20;
		buf[out++] = ch;
	}
	return out;
}

/* Fail unless case C's projection by PROJ (named WHAT) is the expected
 * one ("-": none), when the case says which it expects. */
static void
expect_projection(const struct acase *c, const char *what,
    char *(*proj)(const char *, const char *))
{
	char *tr = rules__regex_translate(c->pattern);
	char *p = proj(tr, c->mods);

	if (c->expect != NULL && strcmp(c->expect, p != NULL ? p :
	    "-") != 0) {
		fprintf(stderr, "/%s/%s: %s projection %s, expected %s\n",
		    c->pattern, c->mods, what, p != NULL ? p : "-",
		    c->expect);
		fail();
	}
	free(tr);
	free(p);
}
/* The projections expected, and the property on each case. */
static void
test_ascii_cases(void **state)
{
	const uint8_t *tables = rules__perl_tables();
	pcre2_compile_context *cctx = pcre2_compile_context_create(NULL);
	pcre2_match_data *md = pcre2_match_data_create(4, NULL);
	pcre2_match_context *mctx = pcre2_match_context_create(NULL);
	uint32_t st = 2463534242u;
	char buf[128];
	size_t i, j, e;

	(void)state;
	if (tables != NULL)
		pcre2_set_character_tables(cctx, tables);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct acase *c = &cases[i];
		struct acheck k = { .pattern = c->pattern, .mods = c->mods,
		    .md = md, .mctx = mctx, .strict = true };
		expect_projection(c, "ASCII", rules__regex_ascii);
		if (!setup(&k, cctx))
			continue;
		for (e = 0; e < 4 && c->examples[e] != NULL; e++) {
			check_text(&k, c->examples[e],
			    strlen(c->examples[e]));
			for (j = 0; j < 200; j++)
				check_text(&k, buf, mutate(c->examples[e],
				    buf, sizeof(buf), &st));
		}
		if (k.matched == 0 && strcmp(c->expect != NULL ? c->expect :
		    "", "(*FAIL)") != 0) {
			fprintf(stderr, "/%s/%s matches no example\n",
			    c->pattern, c->mods);
			fail();
		}
		teardown(&k);
	}
	pcre2_match_data_free(md);
	pcre2_match_context_free(mctx);
	pcre2_compile_context_free(cctx);
	if (tables != NULL)
		pcre2_maketables_free(NULL, tables);
}

/* A random pattern from a grammar mixing ASCII and non-ASCII pieces. */
static size_t
gen_pattern(char *out, size_t cap, uint32_t *st, int depth)
{
	static const char *atoms[] = {
		"a", "b", "ab", "X", "\\x41", "\\.", "[ab]", "[a-c]", "[^a]",
		".", "\\d", "\\s", "\\w", "\\W", "\\b", "^", "$", "\\n",
		"(?i)", "\\xe9", "\\xc3\\xa9", "[\\xc0-\\xff]", "[a\\xe9]",
		"[^\\xe9]", "[\\x20-\\xff]", "\\xC9", "&\\#1;", "\\x{e9}",
		"[[:alpha:]\\xe0]", "(?#c)", "|", "\\K", "(?-i)", "\\Aa",
		"b\\z", "[\\w\\xe9]", "\\S", "&", "[&a]", "[\\x20-\\x2f]",
		"\\x26",
	};
	static const char *quants[] = {
		"", "", "", "?", "*", "+", "{2}", "{0,2}", "{1,3}", "??",
		"+?", "{2,}", "*+",
	};
	size_t n = 0, i, parts = 1 + rnd(st) % 4;

	for (i = 0; i < parts && n + 40 < cap; i++) {
		uint32_t r = rnd(st) % 10;

		if (r < 3 && depth < 3) {
			static const char *opens[] = { "(", "(?:", "(?=",
			    "(?!", "(?<=", "(?>", "(?i:", "(?<n>" };
			const char *o = opens[rnd(st) % 8];
			bool look = strstr(o, "=") != NULL ||
			    strstr(o, "!") != NULL;

			if (strcmp(o, "(?<n>") == 0 && strstr(out, "?<n>"))
				o = "(";
			n += (size_t)snprintf(out + n, cap - n, "%s", o);
			n += gen_pattern(out + n, cap - n, st, depth + 1);
			while (rnd(st) % 2 && n + 40 < cap) {
				out[n++] = '|';
				n += gen_pattern(out + n, cap - n, st,
				    depth + 1);
			}
			if (n + 8 < cap) {
				out[n++] = ')';
				if (!look)
					n += (size_t)snprintf(out + n,
					    cap - n, "%s",
					    quants[rnd(st) % 13]);
			}
		} else
			n += (size_t)snprintf(out + n, cap - n, "%s%s",
			    atoms[rnd(st) % (sizeof(atoms) /
			    sizeof(atoms[0]))], quants[rnd(st) % 13]);
		out[n] = '\0';
	}
	return n;
}

/* Generated patterns over generated ASCII texts. */
static void
test_ascii_random(void **state)
{
	const uint8_t *tables = rules__perl_tables();
	pcre2_compile_context *cctx = pcre2_compile_context_create(NULL);
	pcre2_match_data *md = pcre2_match_data_create(4, NULL);
	pcre2_match_context *mctx = pcre2_match_context_create(NULL);
	static const char abc[] = "abXAx.\n &#1;EI01]";
	uint32_t st = 88172645u;
	size_t p, j, i, len, tested = 0, matched = 0, differs = 0, plain = 0;
	char pat[512], buf[32];

	(void)state;
	if (tables != NULL)
		pcre2_set_character_tables(cctx, tables);
	for (p = 0; p < 20000; p++) {
		struct acheck k = { .pattern = pat, .md = md, .mctx = mctx };

		pat[0] = '\0';
		gen_pattern(pat, sizeof(pat), &st, 0);
		k.mods = (const char *[]){ "", "", "i", "s", "m", "im" }
		    [rnd(&st) % 6];
		if (!setup(&k, cctx))
			continue;
		tested++;
		for (j = 0; j < 200; j++) {
			len = rnd(&st) % 12;
			for (i = 0; i < len; i++)
				buf[i] = abc[rnd(&st) % (sizeof(abc) - 1)];
			check_text(&k, buf, len);
		}
		matched += k.matched;
		differs += k.pcre2_differs;
		plain += k.pu != NULL;
		teardown(&k);
	}
	printf("%zu generated patterns with a projection (%zu with a plain "
	    "one), %zu matches; PCRE2's optimised forms disagree on %zu "
	    "searches\n", tested, plain, matched, differs);
	assert_true(tested > 3000);
	assert_true(plain > 1000);
	assert_true(matched > 100000);
	pcre2_match_data_free(md);
	pcre2_match_context_free(mctx);
	pcre2_compile_context_free(cctx);
	if (tables != NULL)
		pcre2_maketables_free(NULL, tables);
}

/*
 * Generated patterns over generated texts of ASCII and the bytes the u8
 * projection keeps (case partners included), and some it drops (those
 * texts check nothing but the pattern).
 */
static void
test_u8_random(void **state)
{
	const uint8_t *tables = rules__perl_tables();
	pcre2_compile_context *cctx = pcre2_compile_context_create(NULL);
	pcre2_match_data *md = pcre2_match_data_create(4, NULL);
	pcre2_match_context *mctx = pcre2_match_context_create(NULL);
	static const char abc[] = "abXAx.\n &#1;E\xc3\xa9\xe9\xc9\xe3"
	    "\xe2\x80\x99\xc2\xa0\xbf\xe1";
	uint32_t st = 521288629u;
	size_t p, j, i, len, tested = 0, withu8 = 0, u8texts = 0;
	size_t matched = 0;
	char pat[512], buf[32];

	(void)state;
	if (tables != NULL)
		pcre2_set_character_tables(cctx, tables);
	for (p = 0; p < 20000; p++) {
		struct acheck k = { .pattern = pat, .md = md, .mctx = mctx };

		pat[0] = '\0';
		gen_pattern(pat, sizeof(pat), &st, 0);
		k.mods = (const char *[]){ "", "", "i", "s", "m", "im" }
		    [rnd(&st) % 6];
		if (!setup(&k, cctx))
			continue;
		tested++;
		withu8 += k.uu != NULL;
		for (j = 0; k.uu != NULL && j < 200; j++) {
			len = rnd(&st) % 12;
			for (i = 0; i < len; i++)
				buf[i] = abc[rnd(&st) % (sizeof(abc) - 1)];
			u8texts += !rules__is_ascii(buf, len) &&
			    rules__is_u8(buf, len);
			check_text(&k, buf, len);
		}
		matched += k.matched;
		teardown(&k);
	}
	printf("%zu generated patterns with a projection (%zu with a u8 "
	    "one), %zu non-ASCII u8 texts, %zu matches\n", tested, withu8,
	    u8texts, matched);
	assert_true(withu8 > 1000);
	assert_true(u8texts > 100000);
	assert_true(matched > 50000);
	pcre2_match_data_free(md);
	pcre2_match_context_free(mctx);
	pcre2_compile_context_free(cctx);
	if (tables != NULL)
		pcre2_maketables_free(NULL, tables);
}

/* The u8 projections expected, and the property on each case. */
static void
test_u8_cases(void **state)
{
	const uint8_t *tables = rules__perl_tables();
	pcre2_compile_context *cctx = pcre2_compile_context_create(NULL);
	pcre2_match_data *md = pcre2_match_data_create(4, NULL);
	pcre2_match_context *mctx = pcre2_match_context_create(NULL);
	size_t i, e, matched = 0;

	(void)state;
	if (tables != NULL)
		pcre2_set_character_tables(cctx, tables);
	for (i = 0; i < sizeof(u8_cases) / sizeof(u8_cases[0]); i++) {
		const struct acase *c = &u8_cases[i];
		struct acheck k = { .pattern = c->pattern, .mods = c->mods,
		    .md = md, .mctx = mctx, .strict = true };
		expect_projection(c, "u8", rules__regex_u8);
		assert_true(setup(&k, cctx));
		for (e = 0; e < 4 && c->examples[e] != NULL; e++)
			check_text(&k, c->examples[e],
			    strlen(c->examples[e]));
		matched += k.matched;
		teardown(&k);
	}
	assert_true(matched > 0);
	pcre2_match_data_free(md);
	pcre2_match_context_free(mctx);
	pcre2_compile_context_free(cctx);
	if (tables != NULL)
		pcre2_maketables_free(NULL, tables);
}

/* The plain projections expected, and the property on each case. */
static void
test_plain_cases(void **state)
{
	const uint8_t *tables = rules__perl_tables();
	pcre2_compile_context *cctx = pcre2_compile_context_create(NULL);
	pcre2_match_data *md = pcre2_match_data_create(4, NULL);
	pcre2_match_context *mctx = pcre2_match_context_create(NULL);
	uint32_t st = 2463534242u;
	char buf[128];
	size_t i, j, e, matched = 0;

	(void)state;
	if (tables != NULL)
		pcre2_set_character_tables(cctx, tables);
	for (i = 0; i < sizeof(plain_cases) / sizeof(plain_cases[0]); i++) {
		const struct acase *c = &plain_cases[i];
		struct acheck k = { .pattern = c->pattern, .mods = c->mods,
		    .md = md, .mctx = mctx, .strict = true };
		expect_projection(c, "plain", rules__regex_plain);
		if (!setup(&k, cctx)) {
			/* no ASCII projection: check the plain one alone */
			continue;
		}
		for (e = 0; e < 4 && c->examples[e] != NULL; e++) {
			check_text(&k, c->examples[e],
			    strlen(c->examples[e]));
			for (j = 0; j < 200; j++)
				check_text(&k, buf, mutate(c->examples[e],
				    buf, sizeof(buf), &st));
		}
		matched += k.matched;
		teardown(&k);
	}
	assert_true(matched > 0);
	pcre2_match_data_free(md);
	pcre2_match_context_free(mctx);
	pcre2_compile_context_free(cctx);
	if (tables != NULL)
		pcre2_maketables_free(NULL, tables);
}

/*
 * Existence forms expected ("-": none): plain, unrolled groups written
 * once (RULES_EXIST_SHARE), a leading one-byte item dropped too
 * (RULES_EXIST_CONTEXT).
 */
static const struct {
	const char	*pattern, *mods, *expect[3];
} exist_cases[] = {
	{ "(?:your\\s)?(?:new\\s|full\\s){0,3}name", "i",
	    { "name", "name", "ame" } },
	{ "(?i)(?:(?:your\\s)?name[:,]\\s?){3}", "",
	    { "(?i)(?:name[:,]\\s?)(?:(?:your\\s)?name[:,]\\s?){2,2}",
	    "(?i)(?:(?<ghx1>name[:,]\\s?))(?:(?:your\\s)?(?&ghx1)){2,2}",
	    "(?i)(?:name[:,]\\s?)(?:(?:your\\s)?name[:,]\\s?){2,2}" } },
	{ "(?:a?b)+c", "", { "(?:b)(?:a?b){0,}c",
	    "(?:(?<ghx1>b))(?:a?(?&ghx1)){0,}c", "(?:b)(?:a?b){0,}c" } },
	{ "x?(?i:y?z){2,4}?w", "", { "(?i:z)(?i:y?z){1,3}?w",
	    "(?i:(?<ghx1>z))(?i:y?(?&ghx1)){1,3}?w",
	    "(?i:z)(?i:y?z){1,3}?w" } },
	{ "a?b|c*d", "", { "b|d", "b|d", "|" } },
	{ "(?:(?:a|b?c)d)e", "", { "(?:(?:a|c)d)e", "(?:(?:a|c)d)e",
	    "(?:(?:a|c)d)e" } },
	{ "^a?b", "m", { "-", "-", "b" } },
	{ "\\bx?y", "", { "-", "-", "y" } },
	{ "(?:^|\\s)(?:your|my)\\s+pass", "i",
	    { "-", "-", "(?:your|my)\\s+pass" } },
	{ "(?:\\b|\\s)[_\\W]{0,3}v[_\\W]{0,3}i", "i",
	    { "-", "-", "v[_\\W]{0,3}i" } },
	{ "[>\\s]\\s*(?:x|y)z", "", { "-", "-", "(?:x|y)z" } },
	{ "(?:\\s\\s|^)x", "", { "-", "-", "-" } },
	{ "(?=a)?bc", "", { "bc", "bc", "c" } },
	{ "abc", "", { "-", "-", "bc" } },
	{ "a?", "", { "", "", "" } },
	{ "a?(b)\\1", "", { "-", "-", "-" } },
	{ "a?b(?&n)(?<n>c)", "", { "-", "-", "-" } },
	{ "a?b(*SKIP)c", "", { "-", "-", "-" } },
	{ "a? b", "x", { "-", "-", "-" } },
	{ "a?\\Kb", "", { "-", "-", "-" } },
	{ "(?>a?b)c", "", { "-", "-", "-" } },
	{ "(?:a?b)++c", "", { "-", "-", "-" } },
};

/* The existence forms of exist_cases[], exactly. */
static void
test_exist_cases(void **state)
{
	static const unsigned flags[3] = { 0, RULES_EXIST_SHARE,
	    RULES_EXIST_CONTEXT };
	size_t i;
	int k;

	(void)state;
	for (i = 0; i < sizeof(exist_cases) / sizeof(exist_cases[0]); i++)
		for (k = 0; k < 3; k++) {
			const char *want = exist_cases[i].expect[k];
			char *tr = rules__regex_translate(
			    exist_cases[i].pattern);
			char *e;

			assert_non_null(tr);
			e = rules__regex_exist(tr, exist_cases[i].mods,
			    flags[k]);
			if (strcmp(e != NULL ? e : "-", want) != 0) {
				fprintf(stderr, "/%s/%s: existence form %d "
				    "%s, not %s\n", exist_cases[i].pattern,
				    exist_cases[i].mods, k, e != NULL ? e :
				    "-", want);
				fail();
			}
			free(e);
			free(tr);
		}
}

/* Compile translated pattern P with MODS (i, s, m) as the engine does. */
static pcre2_code *
exist_compile(const char *p, const char *mods, pcre2_compile_context *cctx)
{
	uint32_t o = 0;
	PCRE2_SIZE off;
	int ec;

	o |= strchr(mods, 'i') != NULL ? PCRE2_CASELESS : 0;
	o |= strchr(mods, 's') != NULL ? PCRE2_DOTALL : 0;
	o |= strchr(mods, 'm') != NULL ? PCRE2_MULTILINE : 0;
	return pcre2_compile((PCRE2_SPTR)p, PCRE2_ZERO_TERMINATED, o, &ec,
	    &off, cctx);
}

/*
 * Generated patterns, most behind an optional prefix, a repeated group
 * or a one-byte item: wherever the pattern matches a generated text,
 * each existence form (plain, shared, context, both) matches it.
 */
static void
test_exist_random(void **state)
{
	static const char *prefix[] = {
		"", "", "a?", "(?:ab|X)?", "\\s*", "(?:b|a\\s){0,3}",
		"(?i)x?", "(?:[ab]?X)+", "(?:a?b){2}", "(?:\\w?a|b?){1,3}",
		"(?:^|\\s)", "\\b", "[>\\s]a?", "(?<=a)", "(?:\\b|\\s)x?",
		"^",
	};
	static const char abc[] = "abXAx.\n \xe9\xc9";
	const uint8_t *tables = rules__perl_tables();
	pcre2_compile_context *cctx = pcre2_compile_context_create(NULL);
	pcre2_match_data *md = pcre2_match_data_create(4, NULL);
	uint32_t st = 2463534242u;
	size_t p, j, i, len, forms = 0, matched = 0;
	char pat[600], buf[32];
	int share;

	(void)state;
	if (tables != NULL)
		pcre2_set_character_tables(cctx, tables);
	for (p = 0; p < 20000; p++) {
		const char *mods = (const char *[]){ "", "", "i", "s", "m" }
		    [rnd(&st) % 5];
		size_t n = (size_t)snprintf(pat, sizeof(pat), "%s",
		    prefix[rnd(&st) % 16]);
		char *tr;
		pcre2_code *re;

		gen_pattern(pat + n, sizeof(pat) - n, &st, 0);
		if ((tr = rules__regex_translate(pat)) == NULL ||
		    (re = exist_compile(tr, mods, cctx)) == NULL) {
			free(tr);
			continue;
		}
		for (share = 0; share < 4; share++) {
			char *e = rules__regex_exist(tr, mods,
			    (unsigned)share);
			pcre2_code *ex;

			if (e == NULL)
				continue;
			if ((ex = exist_compile(e, mods, cctx)) == NULL) {
				fprintf(stderr, "/%s/%s: existence form %s "
				    "does not compile\n", pat, mods, e);
				fail();
			}
			forms++;
			for (j = 0; j < 100; j++) {
				len = rnd(&st) % 14;
				for (i = 0; i < len; i++)
					buf[i] = abc[rnd(&st) %
					    (sizeof(abc) - 1)];
				if (pcre2_match(re, (PCRE2_SPTR)buf, len, 0,
				    0, md, NULL) < 0)
					continue;
				matched++;
				if (pcre2_match(ex, (PCRE2_SPTR)buf, len, 0,
				    0, md, NULL) < 0) {
					fprintf(stderr, "/%s/%s matches "
					    "\"%.*s\", its existence form %s "
					    "does not\n", pat, mods, (int)len,
					    buf, e);
					fail();
				}
			}
			pcre2_code_free(ex);
			free(e);
		}
		pcre2_code_free(re);
		free(tr);
	}
	printf("%zu existence forms, %zu texts their pattern matches\n",
	    forms, matched);
	assert_true(forms > 10000);
	assert_true(matched > 100000);
	pcre2_match_data_free(md);
	pcre2_compile_context_free(cctx);
	if (tables != NULL)
		pcre2_maketables_free(NULL, tables);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ascii_cases),
		cmocka_unit_test(test_plain_cases),
		cmocka_unit_test(test_ascii_random),
		cmocka_unit_test(test_u8_cases),
		cmocka_unit_test(test_u8_random),
		cmocka_unit_test(test_exist_cases),
		cmocka_unit_test(test_exist_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
