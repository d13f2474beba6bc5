/*
 * test_rules_cond.c -- the necessary conditions of body rules
 * (rules__required_cond in literals.c), which eval.c uses to skip a
 * rule on texts that cannot hold a match.
 *
 * The invariant: every text a pattern matches holds a byte of the
 * required byte set (when there is one) and a run of runlen bytes in a
 * row of the required run class (when there is one).  Checked as a
 * property against PCRE2 (the engine of record, compiled as the rule
 * engine compiles): on SpamAssassin's patterns the conditions are made
 * for (long words, hex hashes, upper-case gibberish), over mutations of
 * matching examples and random texts, and on generated patterns over
 * generated texts.  The checks count matching texts, so they cannot
 * pass vacuously, and the conditions expected for the stock patterns
 * are checked exactly.
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

struct ccase {
	const char	*pattern;	/* Perl syntax, as in a rule */
	const char	*mods;
	const char	*examples[4];	/* texts, one at least matching */
	unsigned	 runlen;	/* expected; 0: no run condition */
};

static const struct ccase cases[] = {
	{ "\\b(?:[a-z]{8,}[\\s\\.]+){6}", "",
	    { "xx abcdefgh abcdefgh. abcdefgh abcdefgh  abcdefgh "
	    "abcdefghij yy" }, 54 },
	{ "\\b(?:[a-z]{5,}[\\s\\.]+){10}", "",
	    { "aaaaa bbbbb ccccc ddddd eeeee fffff ggggg hhhhh iiiii "
	    "jjjjj kk" }, 60 },
	{ "\\s[A-Z]?[a-z]{1,15}\\s(?![a-z]{10,20}\\s)[a-z]{0,10}"
	    "(?!-?\\d{1,5}-)(?!\\d{10}\\s)(?:(?!--)[-0-9a-f]){10,64}"
	    "(?:[g-z][a-z]{0,10})?\\s[A-Z]?[a-z]{1,15}\\b", "",
	    { " Your code 3f2a9b1c0d4e please", " a b c" }, 10 },
	{ "\\b[A-Za-z][a-z]{0,20}[,;)]?\\s[A-Z]{16,}[a-z]?\\s"
	    "[A-Za-z][a-z]{1,15}\\b", "",
	    { "Hello ABCDEFGHIJKLMNOPQ world", "x AAAAAAAAAAAAAAAA y" }, 16 },
	/* caseless: the class holds both cases */
	{ "[A-Z]{4}x", "i", { "abcdx", "ABCDX", "aBcDx" }, 5 },
	{ "(?:foo|ba)[0-9]{3}", "", { "foo123", "ba999", "fo123" }, 5 },
	/* negated classes: too wide for a run, a byte set */
	{ "[^a-z]{5}", "", { "12345", "ab!@#$%", "abcd" }, 0 },
	{ "q[^\\s]{3,}q", "", { "qabcq", "q a q" }, 1 },
	{ "[^\\s\\w]{3}", "", { "!!!", "a!?.b", "a b" }, 0 },
	/* alternatives: the union, the shorter */
	{ "(?:\\d{6}|[xy]{3})z", "", { "123456z", "xyxz", "12z" }, 4 },
	/* optional pieces keep a run in one piece */
	{ "ab?c{2}", "", { "acc", "abcc" }, 3 },
};

/* The longest run in T of the bytes of CLS. */
static size_t
run_of(const char *t, size_t len, const uint8_t *cls)
{
	size_t i, cur = 0, best = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)t[i];

		if (cls[c >> 3] & (1 << (c & 7))) {
			if (++cur > best)
				best = cur;
		} else
			cur = 0;
	}
	return best;
}

/* True if T holds a byte of SET. */
static bool
has_byte(const char *t, size_t len, const uint8_t *set)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)t[i];

		if (set[c >> 3] & (1 << (c & 7)))
			return true;
	}
	return false;
}

/* One pattern under test. */
struct ccheck {
	const char		*pattern, *mods;
	struct regex		 re;
	pcre2_match_data	*md;
	pcre2_match_context	*mctx;
	struct rules_cond	 c;
	int			 rc;
	size_t			 matched;
};

/* Check one text: when the pattern matches, the conditions hold. */
static void
check_text(struct ccheck *k, const char *t, size_t len)
{
	size_t ms, me;

	if (rules__regex_match(&k->re, t, len, 0, 0, k->md, k->mctx, &ms,
	    &me) < 0)
		return;
	k->matched++;
	if (k->rc != 0)
		return;
	if (k->c.rb_ok && !has_byte(t, len, k->c.rb)) {
		fprintf(stderr, "/%s/%s matches \"%.*s\" without a byte "
		    "of its set\n", k->pattern, k->mods, (int)len, t);
		fail();
	}
	if (k->c.run_ok && run_of(t, len, k->c.run) < k->c.runlen) {
		fprintf(stderr, "/%s/%s matches \"%.*s\" without a run of "
		    "%u\n", k->pattern, k->mods, (int)len, t, k->c.runlen);
		fail();
	}
}

/* Compile K's pattern as the rule engine does; false if it does not. */
static bool
setup(struct ccheck *k, pcre2_compile_context *cctx)
{
	char err[256];

	if (rules__regex_compile(&k->re, k->pattern, k->mods, cctx, err,
	    sizeof(err)) == -1)
		return false;
	rules__regex_jit(&k->re, true);
	k->md = pcre2_match_data_create(4, NULL);
	k->mctx = pcre2_match_context_create(NULL);
	k->rc = rules__required_cond(k->pattern, k->mods, &k->c);
	return true;
}

/* Free what setup() made. */
static void
teardown(struct ccheck *k)
{
	rules__regex_free(&k->re);
	pcre2_match_data_free(k->md);
	pcre2_match_context_free(k->mctx);
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

/* The cases: conditions as expected, and the property. */
static void
test_cond_cases(void **state)
{
	const uint8_t *tables = rules__perl_tables();
	pcre2_compile_context *cctx = pcre2_compile_context_create(NULL);
	static const char abc[] = "aAbBzZ09f-. \n\t,;)xX\xe9\xc9!";
	char buf[256];
	uint32_t st = 2463534242u;
	size_t i, j, e, len, n;

	(void)state;
	if (tables != NULL)
		pcre2_set_character_tables(cctx, tables);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ccheck k = { .pattern = cases[i].pattern,
		    .mods = cases[i].mods };

		assert_true(setup(&k, cctx));
		if (cases[i].runlen != (k.c.run_ok ? k.c.runlen : 0)) {
			fprintf(stderr, "/%s/%s: run %u, expected %u\n",
			    k.pattern, k.mods, k.c.run_ok ? k.c.runlen : 0,
			    cases[i].runlen);
			fail();
		}
		for (e = 0; e < 4 && cases[i].examples[e] != NULL; e++) {
			const char *ex = cases[i].examples[e];

			n = strlen(ex);
			check_text(&k, ex, n);
			for (j = 0; j < 2000; j++) {
				/* mutations: delete, insert, replace */
				size_t p;

				for (len = 0, p = 0; p < n && len + 2 <
				    sizeof(buf); p++) {
					uint32_t r = rnd(&st) % 24;

					if (r == 0)
						continue;
					if (r == 1)
						buf[len++] = abc[rnd(&st) %
						    (sizeof(abc) - 1)];
					buf[len++] = r == 2 ? abc[rnd(&st) %
					    (sizeof(abc) - 1)] : ex[p];
				}
				check_text(&k, buf, len);
			}
		}
		if (k.matched == 0) {
			fprintf(stderr, "/%s/%s matches no text\n", k.pattern,
			    k.mods);
			fail();
		}
		teardown(&k);
	}
	pcre2_compile_context_free(cctx);
	if (tables != NULL)
		pcre2_maketables_free(NULL, tables);
}

/* A random pattern from a grammar of the constructs the parser reads. */
static size_t
gen_pattern(char *out, size_t cap, uint32_t *st, int depth)
{
	static const char *atoms[] = {
		"a", "b", "ab", "X", "\\x41", "\\.", "[ab]", "[a-c]",
		"[^a]", ".", "\\d", "\\s", "\\w", "\\W", "\\b", "^", "$",
		"\\n", "(?i)", "\\1", "\\xe9", "[\\x41b]", "(?#c)", " ",
		"[\\d.]", "\\cA", "\\K", "(?-i)", "[]a]", "[a\\]]", "\\Aa",
		"b\\z", "(?s).", "\\xC9", "[_\\W]{0,3}", "[a.]", "\\W?",
		"[b!|]", "[a-z]{2,}", "[A-Z]{3}", "[^\\s]{2,4}", "\\d{3,}",
		"[^ab]", "[[:alpha:]]", "\\p{L}", "\\R", "\\x{41}",
	};
	static const char *quants[] = {
		"", "", "", "?", "*", "+", "{2}", "{0,2}", "{1,3}", "??",
		"+?", "{2,}", "{3}",
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

/* Generated patterns over generated texts. */
static void
test_cond_random(void **state)
{
	const uint8_t *tables = rules__perl_tables();
	pcre2_compile_context *cctx = pcre2_compile_context_create(NULL);
	uint32_t st = 88172645u;
	size_t p, j, i, len, tested = 0, matched = 0, runs = 0;
	static const char abc[] = "abcXAx.\n \xe9\xc9" "01#\x01]&zZ";
	char pat[512], buf[64];

	(void)state;
	if (tables != NULL)
		pcre2_set_character_tables(cctx, tables);
	for (p = 0; p < 20000; p++) {
		struct ccheck k = { .pattern = pat };

		gen_pattern(pat, sizeof(pat), &st, 0);
		k.mods = (const char *[]){ "", "", "i", "x", "ix", "s",
		    "m" }[rnd(&st) % 7];
		if (!setup(&k, cctx))
			continue;
		if (k.rc == -1) {
			teardown(&k);
			continue;
		}
		tested++;
		for (j = 0; j < 400; j++) {
			len = rnd(&st) % (j % 2 ? 12 : 40);
			for (i = 0; i < len; i++)
				buf[i] = abc[rnd(&st) % (sizeof(abc) - 1)];
			check_text(&k, buf, len);
		}
		if (k.matched > 0 && k.c.run_ok && k.c.runlen >= 2)
			runs++;
		matched += k.matched;
		teardown(&k);
	}
	printf("%zu generated patterns with conditions, %zu matching "
	    "texts, %zu matching patterns with runs of 2 or more\n",
	    tested, matched, runs);
	assert_true(tested > 3000);
	assert_true(matched > 10000);
	assert_true(runs > 300);
	pcre2_compile_context_free(cctx);
	if (tables != NULL)
		pcre2_maketables_free(NULL, tables);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cond_cases),
		cmocka_unit_test(test_cond_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
