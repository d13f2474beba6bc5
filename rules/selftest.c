/*
 * selftest.c -- running the "test NAME ok|fail STRING" lines of a set,
 * and SpamAssassin's text splitting helpers for building rules_input.
 *
 * A test matches STRING against the named rule's pattern alone: "ok"
 * must match, "fail" must not (for "!~" header rules, the other way
 * round).  Tests of meta rules, exists: rules and rules not in the set
 * (eval: rules, absent plugins) are skipped.
 *
 * Failure: each failed test is reported as "file:line: message".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_int.h"

#define MAX_BODY_LINE_LENGTH	2048	/* Message.pm */

/* Run the self-tests of SET. */
size_t
rules_selftest(const struct rules_set *set,
    void (*report)(void *arg, const char *msg), void *arg, size_t *ranp,
    size_t *skippedp)
{
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	size_t i, failed = 0, ran = 0, skipped = 0;
	char msg[512];

	md = pcre2_match_data_create(1, NULL);
	mctx = pcre2_match_context_copy(set->mctx_proto);
	for (i = 0; i < set->ntests; i++) {
		const struct selftest *t = &set->tests[i];
		const struct rule *r;
		uint32_t idx;
		bool hit;
		int rc;

		if (rules_lookup(set, t->rule, &idx) == -1 ||
		    (r = &set->rules[idx])->re.code == NULL ||
		    (r->flags & RF_EXISTS) || md == NULL || mctx == NULL) {
			skipped++;
			continue;
		}
		ran++;
		{
			size_t ms, me;
			rc = rules__regex_match(&r->re, t->text, t->text_len,
			    0, 0, md, mctx, &ms, &me);
		}
		if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
			snprintf(msg, sizeof(msg), "%s:%u: test %s: matching "
			    "error %d", t->file, t->line, t->rule, rc);
			report(arg, msg);
			failed++;
			continue;
		}
		hit = rc >= 0;
		if (r->flags & RF_NEG)
			hit = !hit;
		if (hit == t->ok)
			continue;
		snprintf(msg, sizeof(msg), "%s:%u: test %s %s failed: "
		    "\"%.200s\" %s", t->file, t->line, t->rule,
		    t->ok ? "ok" : "fail", t->text, t->ok ?
		    "does not hit" : "hits");
		report(arg, msg);
		failed++;
	}
	pcre2_match_data_free(md);
	pcre2_match_context_free(mctx);
	if (ranp != NULL)
		*ranp = ran;
	if (skippedp != NULL)
		*skippedp = skipped;
	return failed;
}

/* Store piece N if there is room. */
static void
put(struct rules_text *out, size_t max, size_t n, const char *p,
    size_t len)
{
	if (n < max) {
		out[n].ptr = p;
		out[n].len = len;
	}
}

/* Last index of byte C in P[0..upto], or -1 (Perl rindex). */
static long
rindex_upto(const char *p, size_t len, int c, size_t upto)
{
	size_t i = upto < len ? upto + 1 : len;

	while (i-- > 0)
		if (p[i] == c)
			return (long)i;
	return -1;
}

/* split_into_array_of_short_lines: lines (with "\n"), <= 2048 bytes. */
size_t
rules_split_lines(struct rules_text text, struct rules_text *out,
    size_t max, size_t *needed)
{
	const char *p = text.ptr, *e = text.ptr + text.len;
	size_t n = 0;

	while (p < e) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		size_t len = nl != NULL ? (size_t)(nl + 1 - p) :
		    (size_t)(e - p);

		while (len > MAX_BODY_LINE_LENGTH) {
			long sp = rindex_upto(p, len, ' ',
			    MAX_BODY_LINE_LENGTH);
			size_t cut = (size_t)(sp + 1);
			if (cut == 0)
				cut = MAX_BODY_LINE_LENGTH;
			put(out, max, n++, p, cut);
			p += cut;
			len -= cut;
		}
		put(out, max, n++, p, len);
		p += len;
	}
	if (needed != NULL)
		*needed = n;
	return n < max ? n : max;
}

/* First index of C in P at or after FROM, or -1 (Perl index). */
static long
index_from(const char *p, size_t len, int c, size_t from)
{
	const char *q;

	if (from >= len)
		return -1;
	q = memchr(p + from, c, len - from);
	return q != NULL ? (long)(q - p) : -1;
}

/* split_into_array_of_short_paragraphs: 1-2 x 2048 byte chunks. */
size_t
rules_split_paragraphs(struct rules_text text, struct rules_text *out,
    size_t max, size_t *needed)
{
	const char *p = text.ptr;
	size_t len = text.len, ofs, n = 0;
	const size_t L = MAX_BODY_LINE_LENGTH;
	long j;

	if (len <= L) {
		put(out, max, n++, p, len);
		goto done;
	}
	for (ofs = 0; len - ofs > 2 * L; ofs = (size_t)j + 1) {
		j = index_from(p, len, '\n', ofs + L);
		if (j < 0 || (size_t)j - ofs + 1 > 2 * L) {
			j = index_from(p, len, '>', ofs + L);
			if (j < 0 || (size_t)j - ofs + 1 > 2 * L) {
				j = index_from(p, len, ' ', ofs + L);
				if (j < 0 || (size_t)j - ofs + 1 > 2 * L)
					j = (long)(ofs + L);
			}
		}
		put(out, max, n++, p + ofs, (size_t)j - ofs + 1);
	}
	if (ofs < len)
		put(out, max, n++, p + ofs, len - ofs);
done:
	if (needed != NULL)
		*needed = n;
	return n < max ? n : max;
}
