/*
 * selftest.c -- running the "test NAME ok|fail STRING" lines of a set.
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
