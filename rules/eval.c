/*
 * eval.c -- evaluating a rule set for one transaction, stage by stage.
 *
 * Owns: struct rules_txn (per-transaction values, hits, verdict), the
 * matching loops of each rule type (SpamAssassin's Plugin::Check: a
 * non-multiple rule stops at its first match; "tflags multiple" counts
 * every match, Perl /g style, up to maxhits), meta evaluation, and the
 * choice of the decisive action.
 *
 * Invariants: the set is never written (except the atomic "limit seen"
 * flags); all memory a transaction needs is allocated by rules_txn_new()
 * or grown on first use and kept across rules_txn_reset(), so a worker
 * that reuses its transaction allocates nothing per message once warm.
 * Every pcre2_match() runs with the set's match and depth limits; a
 * match that stops at a limit (or fails otherwise) counts as no match
 * and is recorded in the transaction's limit list.
 *
 * A multi-pattern prefilter (prefilter.c) scans the texts of a type
 * once before its rules run; eval_type_lines() and eval_type_text()
 * then skip the rules it proves cannot match (candidate()).
 *
 * Failure: allocation failures make rules_eval() return -1; the results
 * so far stay readable.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eval_int.h"

#define JIT_STACK_MIN	(32u << 10)
#define JIT_STACK_MAX	(1u << 20)

/* Monotonic nanoseconds (profiling only). */
static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Start timing a rule if profiling. */
static inline uint64_t
prof_start(const struct rules_txn *t)
{
	return t->prof != NULL ? now_ns() : 0;
}

/* Charge the time since START to rule IDX if profiling. */
static inline void
prof_end(struct rules_txn *t, uint32_t idx, uint64_t start)
{
	if (t->prof != NULL)
		t->prof[idx] += now_ns() - start;
}

/*
 * True if the prefilter decides which texts rule IDX of TYPE runs on.
 * The flags come from the compact hot array: the rule loops skip most
 * rules on them, and reading struct rule for each would miss the cache.
 */
static inline bool
filtered(const struct rules_txn *t, uint32_t idx, enum rules_type type)
{
	return (t->set->hot[idx].flags & RF_PF_ANYHOLD) && t->pf_on[type];
}

/*
 * True if rule IDX of TYPE may match this transaction's texts of that
 * type: the type's prefilter (prefilter.c) listed texts for it, or does
 * not hold it, or did not scan.  PCRE2 stays the engine of record: a
 * candidate still has to match.
 */
static inline bool
candidate(const struct rules_txn *t, uint32_t idx, enum rules_type type)
{
	return !filtered(t, idx, type) ||
	    t->pf_mark[idx] == t->pf_type_stamp[type];
}

/* Record that RULE stopped at a limit (once per rule per txn). */
static void
limit_hit(struct rules_txn *t, uint32_t rule, int err)
{
	size_t i;

	for (i = 0; i < t->nlimits; i++)
		if (t->limits[i].rule == rule)
			return;
	if (t->nlimits == t->caplimits) {
		size_t ncap = t->caplimits ? t->caplimits * 2 : 8;
		struct rules_limit *nl = realloc(t->limits,
		    ncap * sizeof(*nl));
		if (nl == NULL) {
			t->oom = true;
			return;
		}
		t->limits = nl;
		t->caplimits = ncap;
	}
	t->limits[t->nlimits].rule = rule;
	t->limits[t->nlimits].name = t->set->rules[rule].name;
	t->limits[t->nlimits].error = err;
	t->limits[t->nlimits].first = !atomic_exchange(
	    &t->set->limit_seen[rule], true);
	t->nlimits++;
}

/* Kinds of text, for pick(). */
#define TK_UNKNOWN	0	/* not known yet */
#define TK_PLAIN	1	/* ASCII, no '&' */
#define TK_ASCII	2	/* ASCII with a '&' */
#define TK_U8		3	/* what rules__is_u8() accepts */
#define TK_OTHER	4

/* The kind of the text of LEN bytes at S. */
static inline uint8_t
text_kind(const char *s, size_t len)
{
	if (!rules__is_ascii(s, len))
		return rules__is_u8(s, len) ? TK_U8 : TK_OTHER;
	return memchr(s, '&', len) == NULL ? TK_PLAIN : TK_ASCII;
}

/*
 * The pattern of rule R to search S with: its ASCII projection (fewer
 * attempts, the same matches: ascii.c) when S is all ASCII, its plain
 * projection when S also lacks '&', its u8 projection when S's other
 * bytes are those rules__is_u8() accepts.  KIND: S's (TK_*), when
 * known.
 */
static inline const struct regex *
pick(const struct rule *r, const char *s, size_t len, uint8_t kind)
{
	if ((r->are.code == NULL && r->pre.code == NULL) || s == NULL)
		return &r->re;
	switch (kind != TK_UNKNOWN ? kind : text_kind(s, len)) {
	case TK_OTHER:
		return &r->re;
	case TK_U8:
		return r->ure.code != NULL ? &r->ure : &r->re;
	case TK_PLAIN:
		if (r->pre.code != NULL)
			return &r->pre;
		/* FALLTHROUGH */
	default:
		return r->are.code != NULL ? &r->are : &r->re;
	}
}

/*
 * The kind of text I of V for pick(): known when V is the array
 * eval_type_lines() classified.
 */
static inline uint8_t
kind_of(const struct rules_txn *t, const struct rules_text *v, size_t i)
{
	return v == t->tk_v && i < t->tk_n ? t->tk[i] : TK_UNKNOWN;
}

/*
 * One match of rule IDX (pattern RE: pick()) in S from START; true on a
 * match with its bounds in *ms, *me.
 */
static bool
match1(struct rules_txn *t, uint32_t idx, const struct regex *re,
    const char *s, size_t len, size_t start, uint32_t opts, size_t *ms,
    size_t *me)
{
	int rc;

	if (s == NULL)
		s = "";
	rc = rules__regex_match(re, s, len, start, opts, t->md, t->mctx,
	    ms, me);
	if (rc >= 0)
		return true;
	if (rc != PCRE2_ERROR_NOMATCH)
		limit_hit(t, idx, rc);
	return false;
}

/*
 * match_count() for a pattern that matches string LIT and nothing else
 * (compile.c's plain_literal()): the occurrences PCRE2 would find, left
 * to right without overlaps, found with memmem().
 */
static unsigned
literal_count(const char *lit, const char *s, size_t len, unsigned max,
    size_t *fs, size_t *fe)
{
	size_t ll = strlen(lit), start = 0;
	const char *p;
	unsigned n = 0;

	while (s != NULL && start < len && (p = memmem(s + start,
	    len - start, lit, ll)) != NULL) {
		if (n == 0) {
			*fs = (size_t)(p - s);
			*fe = *fs + ll;
		}
		if (++n >= max)
			break;
		start = (size_t)(p - s) + ll;
	}
	return n;
}

/*
 * False if rule R's existence form (exist.c) for pattern RE (pick())
 * finds no match in S: then RE finds none either.  True when it
 * matches, stops at a limit, or there is no such form.
 */
static bool
may_exist(struct rules_txn *t, const struct rule *r, const struct regex *re,
    const char *s, size_t len)
{
	const struct regex *f = r->ex->form;
	const struct regex *e = re == &r->re ? &f[RULES_EX_RE] :
	    re == &r->are ? &f[RULES_EX_ASCII] : re == &r->pre ?
	    &f[RULES_EX_PLAIN] : re == &r->ure ? &f[RULES_EX_U8] : NULL;
	size_t ms, me;

	if (e == NULL || e->code == NULL)
		return true;
	return rules__regex_match(e, s != NULL ? s : "", len, 0, 0, t->md,
	    t->mctx, &ms, &me) != PCRE2_ERROR_NOMATCH;
}

/*
 * Count matches of rule IDX in S (of KIND, TK_*), Perl "while (/re/g)"
 * style, up to MAX (0: one match only).  The first match is kept in
 * *fs, *fe.
 */
static unsigned
match_count(struct rules_txn *t, uint32_t idx, const char *s, size_t len,
    uint8_t kind, unsigned max, size_t *fs, size_t *fe)
{
	const struct rule *r = &t->set->rules[idx];
	const struct regex *re = pick(r, s, len, kind);
	size_t start = 0, ms, me;
	uint32_t opts = 0;
	unsigned n = 0;

	if (re == &r->re && r->lit != NULL)
		return literal_count(r->lit, s, len, max, fs, fe);
	if (re == &r->are && r->alit != NULL)
		return literal_count(r->alit, s, len, max, fs, fe);
	if (max == 1 && r->ex != NULL && !may_exist(t, r, re, s, len))
		return 0;

	while (start <= len) {
		if (!match1(t, idx, re, s, len, start, opts, &ms, &me)) {
			if (opts == 0)
				break;
			/* after an empty match: advance one byte */
			start++;
			opts = 0;
			continue;
		}
		if (n == 0) {
			*fs = ms;
			*fe = me;
		}
		if (++n >= max)
			break;
		opts = ms == me ? PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED : 0;
		start = me;
	}
	return n;
}

/* The hit slot of a rule, created on first use. */
static struct rules_hit *
hit_slot(struct rules_txn *t, uint32_t idx, enum rules_stage stage)
{
	const struct rule *r = &t->set->rules[idx];
	struct rules_hit *h;

	if (t->slot[idx] != 0)
		return &t->hits[t->slot[idx] - 1];
	if (t->nhits == t->caphits) {
		size_t ncap = t->caphits ? t->caphits * 2 : 32;
		struct rules_hit *nh = realloc(t->hits, ncap * sizeof(*nh));
		if (nh == NULL) {
			t->oom = true;
			return NULL;
		}
		t->hits = nh;
		t->caphits = ncap;
	}
	h = &t->hits[t->nhits];
	memset(h, 0, offsetof(struct rules_hit, match));
	h->match[0] = '\0';
	h->rule = idx;
	h->name = r->name;
	h->type = (enum rules_type)r->type;
	h->stage = stage;
	h->action = (enum rules_action)r->action;
	h->shadow = (r->flags & RF_SHADOW) != 0;
	h->sub = (r->flags & RF_SUB) != 0;
	t->slot[idx] = (uint32_t)++t->nhits;
	t->stagehit[idx] = (uint8_t)(stage + 1);
	return h;
}

/*
 * Record COUNT more hits of regex rule IDX (score per hit for multiple
 * rules, once otherwise, as got_hit() does); M/MLEN the first match.
 */
static void
record(struct rules_txn *t, uint32_t idx, enum rules_stage stage,
    unsigned count, const char *m, size_t mlen)
{
	const struct rule *r = &t->set->rules[idx];
	struct rules_hit *h;
	unsigned add;
	double s;

	if (count == 0 || (h = hit_slot(t, idx, stage)) == NULL)
		return;
	if (!(r->flags & RF_MULTIPLE)) {
		if (h->count > 0)
			return;
		count = 1;
	}
	if (h->count == 0 && m != NULL) {
		h->match_len = mlen > RULES_MATCH_MAX ? RULES_MATCH_MAX : mlen;
		memcpy(h->match, m, h->match_len);
		h->match[h->match_len] = '\0';
	}
	add = count;
	h->count += add;
	h->value = h->count;
	t->val[idx] = h->count;
	if (h->sub)
		return;
	s = r->score * add;
	h->score += s;
	if (h->shadow)
		t->shadow_score += s;
	else
		t->score += s;
}

/* Evaluate a regex rule against one text; true if it hit. */
static bool
eval_text(struct rules_txn *t, uint32_t idx, enum rules_stage stage,
    const char *s, size_t len, uint8_t kind)
{
	const struct rule *r = &t->set->rules[idx];
	size_t fs = 0, fe = 0;
	unsigned n;

	n = match_count(t, idx, s, len, kind, (r->flags & RF_MULTIPLE) ?
	    (r->maxhits ? r->maxhits : ~0u) : 1, &fs, &fe);
	if (n > 0)
		record(t, idx, stage, n, s + fs, fe - fs);
	return n > 0;
}

/*
 * Evaluate rule IDX over an array of texts (body, rawbody, uri):
 * non-multiple rules stop at the first text that matches; multiple
 * rules count matches over all texts up to maxhits.  SKIP texts at the
 * start are ignored (nosubject).
 */
static void
eval_lines(struct rules_txn *t, uint32_t idx, enum rules_stage stage,
    const struct rules_text *v, size_t n, size_t skip)
{
	const struct rule *r = &t->set->rules[idx];
	unsigned max = r->maxhits ? r->maxhits : ~0u, total = 0, c;
	size_t i, fs, fe;

	for (i = skip; i < n; i++) {
		if (!(r->flags & RF_MULTIPLE)) {
			if (eval_text(t, idx, stage, v[i].ptr, v[i].len,
			    kind_of(t, v, i)))
				return;
			continue;
		}
		c = match_count(t, idx, v[i].ptr, v[i].len, kind_of(t, v, i),
		    max - total, &fs, &fe);
		if (c > 0)
			record(t, idx, stage, c, v[i].ptr + fs, fe - fs);
		total += c;
		if (total >= max)
			return;
	}
}

/*
 * eval_lines() over the texts the prefilter listed for rule IDX (in
 * order): the texts it left out cannot match, so the result is
 * eval_lines()' over all texts.
 */
static void
eval_listed(struct rules_txn *t, uint32_t idx, const struct rules_text *v,
    size_t n, size_t skip)
{
	const struct rule *r = &t->set->rules[idx];
	unsigned max = r->maxhits ? r->maxhits : ~0u, total = 0, c;
	uint32_t k;
	size_t i, fs, fe;

	for (k = t->pf_head[idx]; k != 0; k = t->pf_pairs[k - 1].next) {
		i = t->pf_pairs[k - 1].text;
		if (i < skip || i >= n)
			continue;
		if (!(r->flags & RF_MULTIPLE)) {
			if (eval_text(t, idx, RULES_STAGE_EOM, v[i].ptr,
			    v[i].len, kind_of(t, v, i)))
				return;
			continue;
		}
		c = match_count(t, idx, v[i].ptr, v[i].len, kind_of(t, v, i),
		    max - total, &fs, &fe);
		if (c > 0)
			record(t, idx, RULES_STAGE_EOM, c, v[i].ptr + fs,
			    fe - fs);
		total += c;
		if (total >= max)
			return;
	}
}

/*
 * Find the kinds of the N texts of V once (kind_of()), rather than for
 * every search; without memory, they are found search by search.
 */
static void
classify(struct rules_txn *t, const struct rules_text *v, size_t n)
{
	size_t i;

	t->tk_v = NULL;
	t->tk_n = 0;
	if (n > t->tk_cap) {
		uint8_t *nk = realloc(t->tk, n);

		if (nk == NULL)
			return;
		t->tk = nk;
		t->tk_cap = n;
	}
	for (i = 0; i < n; i++)
		t->tk[i] = v[i].ptr != NULL ? text_kind(v[i].ptr, v[i].len) :
		    TK_UNKNOWN;
	t->tk_v = v;
	t->tk_n = n;
}

/*
 * Join the N texts of V into t->jn, each followed by a newline unless it
 * ends in one.  Returns false when memory runs out.
 */
static bool
join_lines(struct rules_txn *t, const struct rules_text *v, size_t n)
{
	struct joined *j = &t->jn;
	size_t i;

	j->buf.len = 0;
	j->buf.oom = false;
	j->n = 0;
	if (n > j->cap) {
		size_t *ns = realloc(j->start, n * sizeof(*ns));
		size_t *nl;
		if (ns == NULL)
			return false;
		j->start = ns;
		if ((nl = realloc(j->len, n * sizeof(*nl))) == NULL)
			return false;
		j->len = nl;
		j->cap = n;
	}
	for (i = 0; i < n; i++) {
		j->start[i] = j->buf.len;
		j->len[i] = v[i].ptr != NULL ? v[i].len : 0;
		if (j->len[i] > 0)
			rules__sb_add(&j->buf, v[i].ptr, v[i].len);
		if (j->len[i] == 0 || v[i].ptr[v[i].len - 1] != '\n')
			rules__sb_addc(&j->buf, '\n');
	}
	if (j->buf.oom)
		return false;
	j->n = n;
	j->ascii = rules__is_ascii(j->buf.p, j->buf.len);
	j->plain = j->ascii && memchr(j->buf.p, '&', j->buf.len) == NULL;
	j->u8 = !j->ascii && rules__is_u8(j->buf.p, j->buf.len);
	return true;
}

/* Index of the joined line holding offset OFF. */
static size_t
line_of(const struct joined *j, size_t off)
{
	size_t lo = 0, hi = j->n;

	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (j->start[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/*
 * A non-multiple rule searched over all lines joined once instead of
 * line by line: its pattern is local (RF_JOINABLE, search with re), or
 * its /m variant jre is a superset of the per-line search
 * (RF_JOINABLE_M, SUPERSET).  No match: no line matches.  A match
 * starting in line k: no line before k matches (its match would come
 * first); a local match within line k is that line's first match, else
 * the lines are searched one by one from k.  A limit falls back to the
 * lines from SKIP, so the result is always the per-line result.
 */
static void
eval_joined(struct rules_txn *t, uint32_t idx, const struct rules_text *v,
    size_t n, size_t skip, bool superset)
{
	const struct rule *r = &t->set->rules[idx];
	const struct joined *j = &t->jn;
	const struct regex *re;
	size_t ms, me, k = skip;
	int rc;

	if (skip >= n)
		return;
	if (superset)
		re = j->plain && r->jpre.code != NULL ? &r->jpre :
		    j->ascii && r->jare.code != NULL ? &r->jare :
		    j->u8 && r->jure.code != NULL ? &r->jure : &r->jre;
	else
		re = j->plain && r->pre.code != NULL ? &r->pre :
		    j->ascii && r->are.code != NULL ? &r->are :
		    j->u8 && r->ure.code != NULL ? &r->ure : &r->re;
	rc = rules__regex_match(re, j->buf.p,
	    j->buf.len, j->start[skip], 0, t->md, t->mctx, &ms, &me);
	if (rc == PCRE2_ERROR_NOMATCH)
		return;
	if (rc >= 0 && (k = line_of(j, ms)) < skip)
		k = skip;
	if (rc >= 0 && !superset && me <= j->start[k] + j->len[k] &&
	    ms >= j->start[k]) {
		record(t, idx, RULES_STAGE_EOM, 1, j->buf.p + ms, me - ms);
		return;
	}
	eval_lines(t, idx, RULES_STAGE_EOM, v, n, k);
}

/*
 * Header rules, grouped by header request.  The header prefilter
 * (hprefilter.c) scans each request's text once; a rule it proves
 * cannot match that text gets no PCRE2 search (a negated one hits).
 */
static void
eval_headers(struct rules_txn *t, const struct rules_input *in)
{
	const struct rules_set *set = t->set;
	const uint32_t *list = set->bytype[RULES_T_HEADER];
	uint32_t i, cur = UINT32_MAX;
	struct rules_text val = { "", 0 };
	bool defined = false, ascii = true;
	int kind = -1;

	for (i = 0; i < set->nbytype[RULES_T_HEADER]; i++) {
		uint32_t idx = list[i];
		const struct rule_hot *hot = &set->hot[idx];
		const struct rule *r;
		const char *s;
		size_t len, ms, me;
		uint64_t p0 = prof_start(t);

		if (hot->hspec != cur) {
			cur = hot->hspec;
			defined = rules__header_value(t, &set->hspecs[cur], in,
			    &val);
			kind = -1;
			if (set->hpf != NULL) {
				s = defined ? val.ptr : "";
				len = defined ? val.len : 0;
				ascii = rules__is_ascii(s, len);
				kind = rules__hprefilter_scan(t, cur, s, len,
				    ascii);
			}
		}
		if (hot->flags & RF_EXISTS) {
			if (defined)
				record(t, idx, RULES_STAGE_HEADERS, 1, NULL, 0);
			prof_end(t, idx, p0);
			continue;
		}
		if ((defined || !(hot->flags & RF_UNSET)) &&
		    rules__hprefilter_skip(t, idx, kind)) {
			/* no literal of the rule: it cannot match */
			if (hot->flags & RF_NEG)
				record(t, idx, RULES_STAGE_HEADERS, 1, NULL, 0);
			prof_end(t, idx, p0);
			continue;
		}
		r = &set->rules[idx];
		if (defined) {
			s = val.ptr;
			len = val.len;
		} else if (r->flags & RF_UNSET) {
			s = r->unset;
			len = strlen(r->unset);
		} else {
			s = "";		/* undef matches as "" */
			len = 0;
		}
		if (r->flags & RF_NEG) {
			if (!match1(t, idx, pick(r, s, len, TK_UNKNOWN), s,
			    len, 0, 0, &ms, &me))
				record(t, idx, RULES_STAGE_HEADERS, 1, NULL, 0);
		} else
			eval_text(t, idx, RULES_STAGE_HEADERS, s, len,
			    TK_UNKNOWN);
		prof_end(t, idx, p0);
	}
}

/* Check one mimeheader value; returns the matches counted. */
static unsigned
mime_check(struct rules_txn *t, uint32_t idx, const char *s, size_t len,
    unsigned max)
{
	const struct rule *r = &t->set->rules[idx];
	size_t fs = 0, fe = 0;
	unsigned n;

	if (r->flags & RF_NEG)
		return 0;	/* MIMEHeader::_check: "last if $negated" */
	n = match_count(t, idx, s, len, TK_UNKNOWN, max, &fs, &fe);
	if (n > 0)
		record(t, idx, RULES_STAGE_EOM, n, s + fs, fe - fs);
	return n;
}

/* mimeheader rules (Plugin::MIMEHeader::eval_hook_called). */
static void
eval_mimeheaders(struct rules_txn *t, const struct rules_input *in)
{
	const struct rules_set *set = t->set;
	uint32_t i;
	size_t p;

	for (i = 0; i < set->nbytype[RULES_T_MIMEHEADER]; i++) {
		uint32_t idx = set->bytype[RULES_T_MIMEHEADER][i];
		const struct rule *r = &set->rules[idx];
		unsigned max = r->maxhits ? r->maxhits :
		    (r->flags & RF_MULTIPLE) ? 1000 : 1;
		struct sbuf cval = { 0 };
		struct rules_text v;
		bool found = false;
		uint64_t p0 = prof_start(t);

		for (p = 0; p < in->nparts; p++) {
			if (p + 1 > r->range_max)
				break;
			if (p + 1 < r->range_min)
				continue;
			if (!rules__mime_value(t, &set->hspecs[r->hspec],
			    &in->parts[p], &v)) {
				v.ptr = r->unset != NULL ? r->unset : "";
				v.len = strlen(v.ptr);
			}
			if (r->flags & RF_CONCAT) {
				rules__sb_add(&cval, v.ptr, v.len);
				if (v.len == 0 || v.ptr[v.len - 1] != '\n')
					rules__sb_addc(&cval, '\n');
				continue;
			}
			if (mime_check(t, idx, v.ptr, v.len, max) > 0) {
				found = true;
				break;
			}
		}
		if (!found && (r->flags & RF_CONCAT)) {
			if (cval.oom)
				t->oom = true;
			else
				found = mime_check(t, idx, cval.p != NULL ?
				    cval.p : "", cval.len, max) > 0;
		}
		free(cval.p);
		/*
		 * SpamAssassin 4.0.1 returns 1 for every negated rule
		 * (no part can stop it): a negated mimeheader always hits.
		 */
		if (!found && (r->flags & RF_NEG))
			record(t, idx, RULES_STAGE_EOM, 1, NULL, 0);
		prof_end(t, idx, p0);
	}
}

/* Metas of one stage, dependencies first. */
static void
eval_metas(struct rules_txn *t, enum rules_stage stage)
{
	const struct rules_set *set = t->set;
	uint32_t i;

	for (i = 0; i < set->nmetas[stage]; i++) {
		uint32_t idx = set->metas[stage][i];
		const struct rule_hot *hot = &set->hot[idx];
		const struct rule *r;
		struct rules_hit *h;
		double v;

		if (hot->flags & RF_BLOCKED)
			continue;
		v = rules__expr_run_zero(hot->prog, hot->nprog, t->val,
		    t->stack, hot->zero);
		if (isnan(v) || (v != 0 && (hot->flags & RF_DISABLED))) {
			/* never ran, or a zero-score meta that is true */
			t->val[idx] = NAN;
			continue;
		}
		if (v == 0 || (hot->flags & RF_DISABLED)) {
			t->val[idx] = 0;
			continue;
		}
		r = &set->rules[idx];
		if (v < 0)
			v = 1;	/* got_hit: value <= 0 counts as 1 */
		t->val[idx] = v;
		if ((h = hit_slot(t, idx, stage)) == NULL)
			return;
		h->count = 1;
		h->value = v;
		if (h->sub)
			continue;
		h->score = r->score;
		if (h->shadow)
			t->shadow_score += r->score;
		else
			t->score += r->score;
	}
}

/* Run the regex rules of TYPE over TEXT (one text per rule). */
static void
eval_type_text(struct rules_txn *t, enum rules_type type,
    enum rules_stage stage, struct rules_text text)
{
	uint32_t i;
	uint64_t p0;

	if (text.ptr == NULL)
		return;
	p0 = prof_start(t);
	rules__prefilter_scan(t, type, &text, 1);
	prof_end(t, t->set->nrules, p0);
	for (i = 0; i < t->set->nbytype[type]; i++) {
		uint32_t idx = t->set->bytype[type][i];

		if (!candidate(t, idx, type))
			continue;
		p0 = prof_start(t);
		eval_text(t, idx, stage, text.ptr, text.len, TK_UNKNOWN);
		prof_end(t, idx, p0);
	}
}

/* The bytes that occur in the N texts of V into t->cond_present. */
static void
cond_bytes_of(struct rules_txn *t, const struct rules_text *v, size_t n)
{
	uint8_t seen[256] = { 0 };
	size_t i, j;
	int c;

	for (i = 0; i < n; i++) {
		const unsigned char *p = (const unsigned char *)v[i].ptr;

		for (j = 0; p != NULL && j < v[i].len; j++)
			seen[p[j]] = 1;
	}
	memset(t->cond_present, 0, sizeof(t->cond_present));
	for (c = 0; c < 256; c++)
		if (seen[c])
			t->cond_present[c >> 3] |= (uint8_t)(1 << (c & 7));
	t->cond_have = true;
}

/*
 * True if the text of LEN bytes at P holds LEN_RUN bytes in a row of
 * class CLS (256 bytes, 1: in it).  A window is checked from its end:
 * a byte outside the class moves the next window past it, so most
 * bytes are never read when the class is rare.
 */
static bool
has_run(const uint8_t *cls, const unsigned char *p, size_t len,
    uint32_t run)
{
	size_t pos = 0, k;

	while (p != NULL && len >= run && pos <= len - run) {
		for (k = pos + run; k > pos && cls[p[k - 1]]; k--)
			;
		if (k == pos)
			return true;
		pos = k;
	}
	return false;
}

/*
 * False if rule IDX cannot match any of the N texts of V: they lack
 * every byte of its required set, or a run as long as its required run
 * (rules__required_cond).  PCRE2 stays the engine of record.
 */
static bool
cond_may(struct rules_txn *t, uint32_t idx, const struct rules_text *v,
    size_t n)
{
	const struct rule *r = &t->set->rules[idx];
	int32_t k = r->cond_cls;
	size_t j;
	int i;

	if (!r->cond_rb_ok && k < 0)
		return true;
	if (!t->cond_have)
		cond_bytes_of(t, v, n);
	if (r->cond_rb_ok) {
		for (i = 0; i < 32; i++)
			if (r->cond_rb[i] & t->cond_present[i])
				break;
		if (i == 32)
			return false;
	}
	if (k < 0 || t->cond_long == NULL)
		return true;
	if (t->cond_seen[k] != t->cond_cur) {
		t->cond_long[k] = 0;
		t->cond_none[k] = UINT32_MAX;
		t->cond_seen[k] = t->cond_cur;
	}
	if (r->cond_len <= t->cond_long[k])
		return true;
	if (r->cond_len >= t->cond_none[k])
		return false;
	for (j = 0; j < n; j++)
		if (has_run(t->set->cond_cls[k], (const unsigned char *)
		    v[j].ptr, v[j].len, r->cond_len)) {
			t->cond_long[k] = r->cond_len;
			return true;
		}
	t->cond_none[k] = r->cond_len;
	return false;
}

/* Run the regex rules of TYPE over an array of texts. */
static void
eval_type_lines(struct rules_txn *t, enum rules_type type,
    const struct rules_text *v, size_t n)
{
	uint32_t i;
	uint64_t p0 = prof_start(t);
	bool joined;

	/* only rules the prefilter does not hold search the lines joined */
	joined = !rules__prefilter_scan(t, type, v, n) || t->set->nbytype[type]
	    > t->set->pf_held[type] ? n > 1 && join_lines(t, v, n) : false;
	classify(t, v, n);
	prof_end(t, t->set->nrules, p0);
	t->cond_have = false;
	if (++t->cond_cur == 0 && t->cond_seen != NULL) {
		memset(t->cond_seen, 0, t->set->ncond_cls *
		    sizeof(*t->cond_seen));
		t->cond_cur = 1;
	}
	for (i = 0; i < t->set->nbytype[type]; i++) {
		uint32_t idx = t->set->bytype[type][i];
		uint32_t flags = t->set->hot[idx].flags;
		size_t skip = (flags & RF_NOSUBJECT) && type == RULES_T_BODY ?
		    1 : 0;

		if (!candidate(t, idx, type))
			continue;
		p0 = prof_start(t);
		if (!cond_may(t, idx, v, n)) {
			prof_end(t, idx, p0);
			continue;
		}
		if (filtered(t, idx, type))
			eval_listed(t, idx, v, n, skip);
		else if (joined && (flags & (RF_JOINABLE | RF_JOINABLE_M)))
			eval_joined(t, idx, v, n, skip,
			    !(flags & RF_JOINABLE));
		else
			eval_lines(t, idx, RULES_STAGE_EOM, v, n, skip);
		prof_end(t, idx, p0);
	}
}

/* The rule with an action among hits[from..] that decides, or NULL. */
static const struct rule *
decide(struct rules_txn *t, size_t from, bool decisive, uint32_t *which)
{
	const struct rule *best = NULL, *r;
	size_t i;

	for (i = from; i < t->nhits; i++) {
		r = &t->set->rules[t->hits[i].rule];
		if (r->action == RULES_A_NONE || (r->flags & RF_SHADOW))
			continue;
		if ((r->action == RULES_A_TAG) == decisive)
			continue;
		if (best == NULL || r->order < best->order) {
			best = r;
			*which = t->hits[i].rule;
		}
	}
	return best;
}

/* Fill V from rule R deciding at STAGE. */
static void
set_verdict(struct rules_verdict *v, const struct rule *r,
    enum rules_stage stage)
{
	v->action = (enum rules_action)r->action;
	v->reply = r->reply;
	v->rule = r->name;
	v->stage = stage;
}

/* One RCPT: rcptto rules on this recipient only. */
static void
eval_rcpt(struct rules_txn *t, const struct rules_input *in,
    struct rules_verdict *out)
{
	const struct rules_set *set = t->set;
	size_t before = t->nhits, i;
	double score = t->score, shadow = t->shadow_score;
	const struct rule *best = NULL, *tag = NULL, *r;

	if (in->rcpt.ptr == NULL)
		return;
	t->nrcpt = 0;
	for (i = 0; i < set->nbytype[RULES_T_RCPTTO]; i++) {
		uint32_t idx = set->bytype[RULES_T_RCPTTO][i];
		struct rcpt_undo *u = &t->rcpt[t->nrcpt];

		u->rule = idx;
		u->count = 0;
		u->score = 0;
		if (t->slot[idx] != 0) {
			u->count = t->hits[t->slot[idx] - 1].count;
			u->score = t->hits[t->slot[idx] - 1].score;
		}
		if (!eval_text(t, idx, RULES_STAGE_RCPT, in->rcpt.ptr,
		    in->rcpt.len, TK_UNKNOWN))
			continue;
		t->nrcpt++;
		r = &set->rules[idx];
		if ((r->action == RULES_A_REJECT ||
		    r->action == RULES_A_TEMPFAIL) &&
		    !(r->flags & RF_SHADOW) &&
		    (best == NULL || r->order < best->order))
			best = r;
	}
	if (best != NULL) {
		/*
		 * This recipient is refused: take back what it added, so
		 * that only accepted recipients count.
		 */
		set_verdict(out, best, RULES_STAGE_RCPT);
		for (i = 0; i < t->nrcpt; i++) {
			struct rcpt_undo *u = &t->rcpt[i];
			struct rules_hit *h = &t->hits[t->slot[u->rule] - 1];
			if (t->slot[u->rule] - 1 >= before) {
				t->slot[u->rule] = 0;
				t->stagehit[u->rule] = 0;
				t->val[u->rule] = 0;
			} else {
				h->count = u->count;
				h->value = u->count;
				h->score = u->score;
				t->val[u->rule] = u->count;
			}
		}
		t->nhits = before;
		t->score = score;
		t->shadow_score = shadow;
		return;
	}
	/* accept, discard or tag decided by a recipient */
	for (i = 0; i < t->nrcpt; i++) {
		r = &set->rules[t->rcpt[i].rule];
		if (r->action == RULES_A_NONE || (r->flags & RF_SHADOW))
			continue;
		if (r->action == RULES_A_TAG) {
			if (tag == NULL || r->order < tag->order)
				tag = r;
			continue;
		}
		if (best == NULL || r->order < best->order)
			best = r;
	}
	if (tag != NULL && t->tag.action == RULES_A_NONE)
		set_verdict(&t->tag, tag, RULES_STAGE_RCPT);
	if (best != NULL) {
		set_verdict(out, best, RULES_STAGE_RCPT);
		if (t->verdict.action == RULES_A_NONE)
			t->verdict = *out;
	} else if (tag != NULL)
		set_verdict(out, tag, RULES_STAGE_RCPT);
}

/* Evaluate the rules of one stage. */
static void
eval_stage(struct rules_txn *t, enum rules_stage stage,
    const struct rules_input *in, struct rules_verdict *out)
{
	size_t before = t->nhits;
	const struct rule *r;
	uint32_t which;

	switch (stage) {
	case RULES_STAGE_CONNECT:
		eval_type_text(t, RULES_T_CLIENT, stage, in->client);
		break;
	case RULES_STAGE_HELO:
		eval_type_text(t, RULES_T_HELO, stage, in->helo);
		break;
	case RULES_STAGE_MAIL:
		eval_type_text(t, RULES_T_MAILFROM, stage, in->mailfrom);
		eval_type_text(t, RULES_T_AUTH, stage, in->auth);
		break;
	case RULES_STAGE_RCPT:
		eval_rcpt(t, in, out);
		before = t->nhits;	/* rcpt verdicts are done */
		break;
	case RULES_STAGE_HEADERS:
		eval_headers(t, in);
		break;
	case RULES_STAGE_EOM:
		eval_mimeheaders(t, in);
		eval_type_lines(t, RULES_T_BODY, in->body, in->nbody);
		eval_type_lines(t, RULES_T_RAWBODY, in->rawbody,
		    in->nrawbody);
		eval_type_text(t, RULES_T_FULL, stage, in->full);
		eval_type_lines(t, RULES_T_URI, in->uris, in->nuris);
		break;
	default:
		break;
	}
	eval_metas(t, stage);
	if ((r = decide(t, before, true, &which)) != NULL) {
		if (out->action == RULES_A_NONE)
			set_verdict(out, r, stage);
		if (t->verdict.action == RULES_A_NONE)
			set_verdict(&t->verdict, r, stage);
	}
	if ((r = decide(t, before, false, &which)) != NULL) {
		if (out->action == RULES_A_NONE)
			set_verdict(out, r, stage);
		if (t->tag.action == RULES_A_NONE)
			set_verdict(&t->tag, r, stage);
	}
}

/* Evaluate STAGE (and skipped earlier stages) against IN. */
int
rules_eval(struct rules_txn *t, enum rules_stage stage,
    const struct rules_input *in, struct rules_verdict *out)
{
	static const struct rules_input empty;
	struct rules_verdict local;
	int s;

	if (out == NULL)
		out = &local;
	memset(out, 0, sizeof(*out));
	if (in == NULL)
		in = &empty;
	if ((int)stage < t->next || stage >= RULES_STAGE_COUNT)
		return -1;
	for (s = t->next; s <= (int)stage; s++)
		eval_stage(t, (enum rules_stage)s, in, out);
	t->next = stage == RULES_STAGE_RCPT ? (int)stage : (int)stage + 1;
	if (t->oom) {
		t->oom = false;
		return -1;
	}
	return 0;
}

/* Forget the results of the last transaction. */
void
rules_txn_reset(struct rules_txn *t)
{
	const struct rules_set *set = t->set;

	memcpy(t->val, set->val0, set->nrules * sizeof(*t->val));
	memset(t->slot, 0, set->nrules * sizeof(*t->slot));
	memset(t->stagehit, 0, set->nrules);
	t->nhits = 0;
	t->nlimits = 0;
	t->score = t->shadow_score = 0;
	memset(&t->verdict, 0, sizeof(t->verdict));
	memset(&t->tag, 0, sizeof(t->tag));
	memset(t->pf_on, 0, sizeof(t->pf_on));
	t->next = RULES_STAGE_CONNECT;
	t->oom = false;
}

/* Every meta's value with all the rules it reads at 0 (hot[].zero). */
static int
hot_zero(struct rules_set *set, size_t n)
{
	double *zeros, *st;
	uint32_t i;

	if ((zeros = calloc(n, sizeof(*zeros))) == NULL ||
	    (st = calloc(set->max_stack + 4, sizeof(*st))) == NULL) {
		free(zeros);
		return -1;
	}
	for (i = 0; i < set->nrules; i++)
		if (set->hot[i].nprog > 0)
			set->hot[i].zero = rules__expr_run(set->hot[i].prog,
			    set->hot[i].nprog, zeros, st, NULL);
	free(st);
	free(zeros);
	return 0;
}

/*
 * The packed per-rule fields the loops read (set->hot) and the values
 * a transaction starts with (set->val0: NaN for the metas that never
 * run).  Called once the set's flags are final.
 */
int
rules__hot_init(struct rules_set *set)
{
	size_t n = set->nrules ? set->nrules : 1, nops = 0, k = 0;
	struct meta_op *ops;
	uint32_t i, st, j;

	if ((set->hot = calloc(n, sizeof(*set->hot))) == NULL ||
	    (set->val0 = calloc(n, sizeof(*set->val0))) == NULL)
		return -1;
	for (i = 0; i < set->nrules; i++) {
		const struct rule *r = &set->rules[i];

		set->hot[i].prog = r->prog;
		set->hot[i].nprog = r->nprog;
		set->hot[i].flags = r->flags;
		set->hot[i].hspec = r->hspec;
		set->val0[i] = (r->flags & RF_BLOCKED) ? NAN : 0;
	}
	/* The meta programs, copied one after the other in the order
	   eval_metas() runs them. */
	for (st = 0; st < RULES_STAGE_COUNT; st++)
		for (j = 0; j < set->nmetas[st]; j++)
			nops += set->rules[set->metas[st][j]].nprog;
	if (nops == 0)
		return 0;
	if ((ops = calloc(nops, sizeof(*ops))) == NULL)
		return -1;
	set->ops = ops;
	for (st = 0; st < RULES_STAGE_COUNT; st++)
		for (j = 0; j < set->nmetas[st]; j++) {
			const struct rule *r = &set->rules[set->metas[st][j]];

			if (r->nprog == 0 || k + r->nprog > nops)
				continue;
			memcpy(ops + k, r->prog, r->nprog * sizeof(*ops));
			set->hot[set->metas[st][j]].prog = ops + k;
			k += r->nprog;
		}
	return hot_zero(set, n);
}

/* New transaction state for SET (takes a reference). */
struct rules_txn *
rules_txn_new(struct rules_set *set)
{
	struct rules_txn *t;
	size_t n = set->nrules ? set->nrules : 1;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->set = set;
	t->val = calloc(n, sizeof(*t->val));
	t->slot = calloc(n, sizeof(*t->slot));
	t->stagehit = calloc(n, 1);
	t->rcpt = calloc(set->nbytype[RULES_T_RCPTTO] + 1, sizeof(*t->rcpt));
	t->stack = calloc(set->max_stack + 4, sizeof(*t->stack));
	t->pf_mark = calloc(n, sizeof(*t->pf_mark));
	t->pf_head = calloc(n, sizeof(*t->pf_head));
	t->pf_tail = calloc(n, sizeof(*t->pf_tail));
	t->md = pcre2_match_data_create(1, NULL);
	t->amd = pcre2_match_data_create(8, NULL);
	t->mctx = pcre2_match_context_copy(set->mctx_proto);
	t->jstack = pcre2_jit_stack_create(JIT_STACK_MIN, JIT_STACK_MAX,
	    NULL);
	if (set->ncond_cls > 0) {
		/* no tables: the run conditions are not checked */
		t->cond_long = calloc(set->ncond_cls, sizeof(uint32_t));
		t->cond_none = calloc(set->ncond_cls, sizeof(uint32_t));
		t->cond_seen = calloc(set->ncond_cls, sizeof(uint32_t));
		if (t->cond_long == NULL || t->cond_none == NULL ||
		    t->cond_seen == NULL) {
			free(t->cond_long);
			free(t->cond_none);
			free(t->cond_seen);
			t->cond_long = t->cond_none = t->cond_seen = NULL;
		}
	}
	if (t->val == NULL || t->slot == NULL || t->stagehit == NULL ||
	    t->rcpt == NULL || t->stack == NULL || t->md == NULL ||
	    t->pf_mark == NULL || t->pf_head == NULL || t->pf_tail == NULL ||
	    t->amd == NULL || t->mctx == NULL) {
		t->set = NULL;
		rules_txn_free(t);
		return NULL;
	}
	/* Without a JIT stack, PCRE2 uses its small default one. */
	if (t->jstack != NULL)
		pcre2_jit_stack_assign(t->mctx, NULL, t->jstack);
	rules_set_ref(set);
	rules_txn_reset(t);
	return t;
}

/* Free a transaction (drops its reference on the set). */
void
rules_txn_free(struct rules_txn *t)
{
	if (t == NULL)
		return;
	free(t->val);
	free(t->slot);
	free(t->stagehit);
	free(t->rcpt);
	free(t->stack);
	free(t->hits);
	free(t->limits);
	free(t->prof);
	free(t->cond_long);
	free(t->cond_none);
	free(t->cond_seen);
	free(t->jn.buf.p);
	free(t->tk);
	free(t->jn.start);
	free(t->jn.len);
	free(t->hv.buf.p);
	free(t->hv.v);
	free(t->hv2.buf.p);
	free(t->hv2.v);
	free(t->join.p);
	rules__prefilter_txn_free(t);
	rules__hprefilter_txn_free(t);
	pcre2_match_data_free(t->md);
	pcre2_match_data_free(t->amd);
	pcre2_match_context_free(t->mctx);
	pcre2_jit_stack_free(t->jstack);
	if (t->set != NULL)
		rules_set_unref(t->set);
	free(t);
}

/* The set a transaction evaluates. */
const struct rules_set *
rules_txn_set(const struct rules_txn *t)
{
	return t->set;
}

/* Hits so far. */
const struct rules_hit *
rules_hits(const struct rules_txn *t, size_t *n)
{
	*n = t->nhits;
	return t->hits;
}

/* Total score of non-shadow hits. */
double
rules_score(const struct rules_txn *t)
{
	return t->score;
}

/* Score the shadow hits would have added. */
double
rules_shadow_score(const struct rules_txn *t)
{
	return t->shadow_score;
}

/* The decisive action so far, else the first tag, else none. */
void
rules_verdict(const struct rules_txn *t, struct rules_verdict *v)
{
	if (t->verdict.action != RULES_A_NONE)
		*v = t->verdict;
	else
		*v = t->tag;
}

/* Rules that stopped at a limit in this transaction. */
const struct rules_limit *
rules_limits(const struct rules_txn *t, size_t *n)
{
	*n = t->nlimits;
	return t->limits;
}

/* Turn per-rule timing on (counters start at zero) or off. */
int
rules_txn_profile(struct rules_txn *t, bool on)
{
	free(t->prof);
	t->prof = NULL;
	if (on && (t->prof = calloc(t->set->nrules + 1,
	    sizeof(*t->prof))) == NULL)
		return -1;
	return 0;
}

/* Nanoseconds spent per rule while profiling, or NULL. */
const uint64_t *
rules_profile(const struct rules_txn *t)
{
	return t->prof;
}
