/*
 * prefilter.c -- a multi-pattern prefilter in front of PCRE2.
 *
 * Owns: one Vectorscan (Hyperscan API) database per text type (body,
 * rawbody, uri, full) holding every enabled regex rule of that type, and
 * the scan that finds, per transaction, which texts each rule may match.
 * eval.c then runs PCRE2 -- the engine of record -- only on those texts
 * of those rules, and on every text for the rules the prefilter does not
 * hold.
 *
 * Invariant: a text is left out for a rule only if the rule's pattern
 * cannot match it; so results are identical with and without the
 * prefilter (RULES_LOAD_NO_PREFILTER, rules.prefilter = no).  What
 * Vectorscan gets for a rule is a pattern that matches wherever the
 * rule's does, often more:
 *   - the pattern as PCRE2 compiles it (Perl constructs translated);
 *   - counted repeats widened ({3,40} -> {1,}), option settings applied
 *     to the whole pattern: both only widen it, and counted repeats of
 *     complex groups take Vectorscan seconds to compile;
 *   - when caseless, each byte 0xC0-0xFE it names joined by its Latin-1
 *     case partner (gatehouse folds Latin-1 letters as Perl /aai does,
 *     Vectorscan only ASCII);
 *   - when longer than PF_BUDGET, a necessary part of it
 *     (rules__regex_shrink: a run of its concatenated elements, each
 *     alternative shrunk), so that no rule costs much to compile;
 *   - compiled in prefilter mode, where Vectorscan widens what it cannot
 *     match exactly (back references, lookaround) and never misses a
 *     match.
 * Each text is scanned on its own with the rule's own flags, so anchors
 * mean what they mean to PCRE2.  Rules whose pattern cannot be handed
 * over that way (a /x pattern too long to keep whole, a Latin-1 escape
 * fold_latin1() does not read, a pattern Vectorscan refuses) are not in
 * the database and always run.
 *
 * Failure: a database that cannot be built leaves that type without a
 * prefilter (every rule runs on every text); a memory error at scan
 * time does the same for that transaction.  Never an error for the
 * caller.
 */
#include <hs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_int.h"

#define PF_BUDGET	1200	/* bytes of expression per rule, at most */
#define PF_PAIRS_MAX	(1u << 20)	/* (rule, text) candidates per scan */

/* The types with a prefilter: texts matched rule by rule at EOM. */
static const enum rules_type pf_types[] = {
	RULES_T_BODY, RULES_T_RAWBODY, RULES_T_URI, RULES_T_FULL
};

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
static unsigned
pf_flags(const struct rule *r)
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
static char *
pf_expression(const struct rule *r, unsigned flags)
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
	if (tr == NULL || strlen(tr) <= PF_BUDGET)
		goto done;
	/* /x: white space and comments; not shrunk */
	e = x ? NULL : rules__regex_shrink(tr, PF_BUDGET);
	free(tr);
	tr = e;
done:
	if (tr != NULL && x) {
		size_t n = strlen(tr) + 8;
		if ((e = malloc(n)) != NULL)
			snprintf(e, n, "(?x)%s", tr);
		free(tr);
		tr = e;
	}
	return tr;
}

/* Free the prefilter of a set. */
void
rules__prefilter_free(struct rules_set *set)
{
	size_t i;

	for (i = 0; i < RULES_T_COUNT; i++) {
		hs_free_database(set->pf_db[i]);
		free(set->pf_ids[i]);
		set->pf_db[i] = NULL;
		set->pf_ids[i] = NULL;
	}
	hs_free_scratch(set->pf_scratch);
	set->pf_scratch = NULL;
}

/*
 * Build the database of TYPE from the expressions that Vectorscan
 * accepts one by one, then all together (leaving out any expression
 * the whole compile names, a few times at most).
 */
static int
pf_build_type(struct rules_set *set, enum rules_type type)
{
	uint32_t n = set->nbytype[type], i, k = 0, tries;
	char **expr = calloc(n + 1, sizeof(*expr));
	unsigned *flags = calloc(n + 1, sizeof(*flags));
	unsigned *ids = calloc(n + 1, sizeof(*ids));
	uint32_t *rule = calloc(n + 1, sizeof(*rule));
	hs_compile_error_t *err = NULL;
	hs_expr_info_t *info;
	hs_database_t *db = NULL;
	int rc = -1;

	if (expr == NULL || flags == NULL || ids == NULL || rule == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		const struct rule *r = &set->rules[set->bytype[type][i]];
		unsigned f = pf_flags(r);
		char *e = pf_expression(r, f);

		info = NULL;
		if (e == NULL || hs_expression_info(e, f, &info, &err) !=
		    HS_SUCCESS) {
			hs_free_compile_error(err);
			err = NULL;
			free(e);
			continue;
		}
		free(info);
		if (getenv("GH_PF_DUMP")) fprintf(stderr, "PFEXPR\t%s\t%u\t%s\n", r->name, f, e);
		expr[k] = e;
		flags[k] = f;
		rule[k] = set->bytype[type][i];
		k++;
	}
	if (getenv("GH_PF_DUMP")) goto out;
	for (tries = 0; k > 0 && tries < 8; tries++) {
		for (i = 0; i < k; i++)
			ids[i] = i;
		if (hs_compile_multi((const char *const *)expr, flags, ids, k,
		    HS_MODE_BLOCK, NULL, &db, &err) == HS_SUCCESS)
			break;
		db = NULL;
		if (err->expression < 0 || (uint32_t)err->expression >= k) {
			hs_free_compile_error(err);
			goto out;
		}
		/* leave that one out: it always runs */
		i = (uint32_t)err->expression;
		hs_free_compile_error(err);
		free(expr[i]);
		memmove(&expr[i], &expr[i + 1], (k - i - 1) * sizeof(*expr));
		memmove(&flags[i], &flags[i + 1], (k - i - 1) *
		    sizeof(*flags));
		memmove(&rule[i], &rule[i + 1], (k - i - 1) * sizeof(*rule));
		k--;
	}
	if (db == NULL)
		goto out;
	if (hs_alloc_scratch(db, &set->pf_scratch) != HS_SUCCESS) {
		hs_free_database(db);
		goto out;
	}
	for (i = 0; i < k; i++)
		set->rules[rule[i]].flags |= RF_PREFILTERED;
	set->pf_db[type] = db;
	set->pf_ids[type] = rule;
	set->pf_count += k;
	set->pf_held[type] = k;
	rule = NULL;
	rc = 0;
out:
	for (i = 0; expr != NULL && i < k; i++)
		free(expr[i]);
	free(expr);
	free(flags);
	free(ids);
	free(rule);
	return rc;
}

/*
 * Build the prefilter databases of SET.  Returns the number of rules
 * the prefilter holds (0: none, e.g. on a CPU Vectorscan cannot run).
 */
size_t
rules__prefilter_build(struct rules_set *set)
{
	size_t i;

	if (hs_valid_platform() != HS_SUCCESS)
		return 0;
	for (i = 0; i < sizeof(pf_types) / sizeof(pf_types[0]); i++)
		if (set->nbytype[pf_types[i]] > 0)
			(void)pf_build_type(set, pf_types[i]);
	return set->pf_count;
}

/* Bytes the prefilter databases and scratch hold. */
size_t
rules__prefilter_memory(const struct rules_set *set)
{
	size_t total = 0, n, i;

	for (i = 0; i < RULES_T_COUNT; i++)
		if (set->pf_db[i] != NULL &&
		    hs_database_size(set->pf_db[i], &n) == HS_SUCCESS)
			total += n + set->nbytype[i] * sizeof(uint32_t);
	if (set->pf_scratch != NULL &&
	    hs_scratch_size(set->pf_scratch, &n) == HS_SUCCESS)
		total += n;
	return total;
}

/*
 * Scan callback: text t->pf_text is a candidate for the rule.  Texts
 * are scanned in order and each pattern reports once per text
 * (HS_FLAG_SINGLEMATCH), so each rule's list stays in text order.
 */
static int
on_match(unsigned id, unsigned long long from, unsigned long long to,
    unsigned fl, void *arg)
{
	struct rules_txn *t = arg;
	uint32_t idx = t->pf_rules[id], k;

	(void)from;
	(void)to;
	(void)fl;
	if (t->pf_npairs == t->pf_cappairs) {
		size_t ncap = t->pf_cappairs ? t->pf_cappairs * 2 : 1024;
		struct pf_pair *np;

		if (ncap > PF_PAIRS_MAX || (np = realloc(t->pf_pairs,
		    ncap * sizeof(*np))) == NULL) {
			t->pf_full = true;
			return 1;	/* stop: this type runs unfiltered */
		}
		t->pf_pairs = np;
		t->pf_cappairs = ncap;
	}
	k = (uint32_t)t->pf_npairs++;
	t->pf_pairs[k].text = t->pf_text;
	t->pf_pairs[k].next = 0;
	if (t->pf_mark[idx] != t->pf_stamp) {
		t->pf_mark[idx] = t->pf_stamp;
		t->pf_head[idx] = k + 1;
	} else
		t->pf_pairs[t->pf_tail[idx]].next = k + 1;
	t->pf_tail[idx] = k;
	return 0;
}

/*
 * Scan the N texts of V for the rules of TYPE.  Afterwards, for a rule
 * the type's prefilter holds, rules__prefilter_first() and the pairs'
 * next links give the texts it may match, in order.  Returns false
 * when this type has no prefilter (every rule runs on every text).
 */
bool
rules__prefilter_scan(struct rules_txn *t, enum rules_type type,
    const struct rules_text *v, size_t n)
{
	const struct rules_set *set = t->set;
	size_t i;

	t->pf_on[type] = false;
	if (set->pf_db[type] == NULL || n > UINT32_MAX)
		return false;
	if (t->pf_scratch == NULL && hs_clone_scratch(set->pf_scratch,
	    &t->pf_scratch) != HS_SUCCESS) {
		t->pf_scratch = NULL;
		return false;
	}
	if (++t->pf_stamp == 0) {	/* wrapped: forget every mark */
		memset(t->pf_mark, 0, set->nrules * sizeof(*t->pf_mark));
		t->pf_stamp = 1;
	}
	t->pf_rules = set->pf_ids[type];
	t->pf_npairs = 0;
	t->pf_full = false;
	for (i = 0; i < n; i++) {
		const char *s = v[i].ptr != NULL ? v[i].ptr : "";

		t->pf_text = (uint32_t)i;
		if (v[i].len > UINT32_MAX || hs_scan(set->pf_db[type], s,
		    (unsigned)v[i].len, 0, t->pf_scratch, on_match, t) !=
		    HS_SUCCESS || t->pf_full)
			return false;
	}
	t->pf_type_stamp[type] = t->pf_stamp;
	t->pf_on[type] = true;
	return true;
}

/* Free a transaction's prefilter state. */
void
rules__prefilter_txn_free(struct rules_txn *t)
{
	hs_free_scratch(t->pf_scratch);
	t->pf_scratch = NULL;
	free(t->pf_mark);
	free(t->pf_head);
	free(t->pf_tail);
	free(t->pf_pairs);
	t->pf_mark = t->pf_head = t->pf_tail = NULL;
	t->pf_pairs = NULL;
}
