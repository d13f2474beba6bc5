/*
 * prefilter.c -- a multi-pattern prefilter in front of PCRE2.
 *
 * Owns: one Vectorscan (Hyperscan API) literal database per text type
 * (body, rawbody, uri, full) holding the required literals
 * (literals.c) of every enabled regex rule of that type that has them,
 * and the scan that finds, per transaction, which texts each rule may
 * match: the texts holding one of its literals.  eval.c then runs PCRE2
 * -- the engine of record -- only on those texts of those rules, and on
 * every text for the rules the prefilter does not hold (no literal of
 * PF_LIT_MIN bytes or more in every match: obfuscated-word patterns
 * made of classes, ".*" patterns...).
 *
 * Invariant: a text is left out for a rule only if the rule's pattern
 * cannot match it (every match holds one of the rule's literals; a text
 * without any has none); so results are identical with and without the
 * prefilter (RULES_LOAD_NO_PREFILTER, rules.prefilter = no).
 *
 * Why literals and not Vectorscan's prefilter mode over the whole
 * patterns: with SpamAssassin's stock rules that database takes tens of
 * seconds to compile and scans at about 10 MB/s (the obfuscation rules
 * are large automata); the literal database compiles in a fraction of a
 * second and scans at memory speed.  The rules without literals
 * (obfuscated words made of classes: "v[_\W]{0,3}[i1!|l]...") ran
 * PCRE2 on every text; those of them with a short pattern go into a
 * fifth database per type (pf_build_pat()) that holds their whole
 * patterns in Vectorscan's prefilter mode: a superset of each
 * pattern's matches, found for all of them in one pass at a fraction
 * of PCRE2's cost, and precise enough that PCRE2 then runs on almost
 * no text.
 *
 * Failure: a database that cannot be built leaves that type without a
 * prefilter (every rule runs on every text); a memory error at scan
 * time does the same for that transaction.  Never an error for the
 * caller.
 */
#include <hs.h>
#include <stdlib.h>
#include <string.h>

#include "eval_int.h"

#define PF_LIT_MIN	3	/* shortest literal worth looking for */
#define PF_PAIRS_MAX	(1u << 20)	/* (rule, text) candidates per scan */
#define PF_ANY		0	/* database for any text */
#define PF_ASCII	1	/* database for texts of bytes < 0x80 */
#define PF_PLAIN	2	/* database for plain texts (text_kind()) */
#define PF_SKEL		3	/* database for their skeletons */
#define PF_PAT		4	/* whole patterns, for any text */
#define PF_KINDS	5
#define PF_PAT_MAX	1500	/* longest pattern the pattern database
				   takes (compile time grows with size) */
#define PF_PAT_TRIES	32	/* compiles dropping a refused pattern */
#define PF_PAT_MINLEN	3	/* shortest match (PCRE2's minimum) */

/* The types with a prefilter: texts matched rule by rule at EOM. */
static const enum rules_type pf_types[] = {
	RULES_T_BODY, RULES_T_RAWBODY, RULES_T_URI, RULES_T_FULL
};

/* Free the prefilter of a set. */
void
rules__prefilter_free(struct rules_set *set)
{
	size_t i, k;

	for (i = 0; i < RULES_T_COUNT; i++)
		for (k = 0; k < PF_KINDS; k++) {
			hs_free_database(set->pf_db[i][k]);
			set->pf_plain_on[i] = false;
			set->pf_skel_on[i] = false;
			free(set->pf_ids[i][k]);
			free(set->pf_extra[i][k]);
			free(set->pf_needs[i][k]);
			set->pf_needs[i][k] = NULL;
			set->pf_db[i][k] = NULL;
			set->pf_ids[i][k] = NULL;
			set->pf_extra[i][k] = NULL;
		}
	hs_free_scratch(set->pf_scratch);
	set->pf_scratch = NULL;
}

/*
 * Add literal L of RULE with FLAGS, NEED occurrences of the rule's
 * literals needed; false when memory runs out.
 */
bool
rules__pflits_add(struct rules_pflits *x, const struct rules_lit *l,
    unsigned flags, uint32_t rule, unsigned need)
{
	if (x->n == x->cap) {
		size_t ncap = x->cap ? x->cap * 2 : 512;
		char **ns = realloc(x->s, ncap * sizeof(*ns));
		size_t *nl;
		unsigned *nf;
		uint32_t *nr;
		uint8_t *nn;

		if (ns == NULL)
			return false;
		x->s = ns;
		if ((nl = realloc(x->len, ncap * sizeof(*nl))) == NULL)
			return false;
		x->len = nl;
		if ((nf = realloc(x->flags, ncap * sizeof(*nf))) == NULL)
			return false;
		x->flags = nf;
		if ((nr = realloc(x->rule, ncap * sizeof(*nr))) == NULL)
			return false;
		x->rule = nr;
		if ((nn = realloc(x->need, ncap * sizeof(*nn))) == NULL)
			return false;
		x->need = nn;
		x->cap = ncap;
	}
	if ((x->s[x->n] = malloc(l->len + 1)) == NULL)
		return false;
	memcpy(x->s[x->n], l->s, l->len + 1);
	x->len[x->n] = l->len;
	x->flags[x->n] = flags;
	x->rule[x->n] = rule;
	x->need[x->n] = (uint8_t)need;
	if (need > 1)
		x->counted = true;
	x->n++;
	return true;
}

/* Free a literal list (see rules_int.h). */
void
rules__pflits_free(struct rules_pflits *x)
{
	size_t i;

	for (i = 0; i < x->n; i++)
		free(x->s[i]);
	free(x->s);
	free(x->len);
	free(x->flags);
	free(x->rule);
	free(x->need);
	memset(x, 0, sizeof(*x));
}

/* Drop the literals added since there were N0 (see rules_int.h). */
void
rules__pflits_drop(struct rules_pflits *x, size_t n0)
{
	while (x->n > n0)
		free(x->s[--x->n]);
}

/* Build the database of X's literals into *DB (see rules_int.h). */
int
rules__pflits_compile(const struct rules_pflits *x, hs_database_t **db)
{
	hs_compile_error_t *err = NULL;
	unsigned *ids;
	size_t j;
	int rc = 0;

	*db = NULL;
	if (x->n == 0)
		return 0;
	if ((ids = calloc(x->n, sizeof(*ids))) == NULL)
		return -1;
	for (j = 0; j < x->n; j++)
		ids[j] = (unsigned)j;
	if (hs_compile_lit_multi((const char *const *)x->s, x->flags, ids,
	    x->len, (unsigned)x->n, HS_MODE_BLOCK, NULL, db, &err) !=
	    HS_SUCCESS) {
		hs_free_compile_error(err);
		*db = NULL;
		rc = -1;
	}
	free(ids);
	return rc;
}

/*
 * The literals of rule R for the texts of KIND into *RL, *CASELESS,
 * and in *NEED how many occurrences (ending at different offsets) a
 * text needs: the required literals (one), or those of a repeated
 * group (rules__required_repeat) when there are no more of them;
 * -1 when there is no usable set.
 */
static int
rule_literals(const struct rule *r, int kind, struct rules_lits *rl,
    bool *caseless, unsigned *need)
{
	struct rules_lits rep;
	bool repcase;
	unsigned count;
	int rc;

	*need = 1;
	rc = rules__required_literals(r->re.body, r->re.mods, PF_LIT_MIN,
	    kind, rl, caseless);
	if (rules__required_repeat(r->re.body, r->re.mods, PF_LIT_MIN, kind,
	    &rep, &repcase, &count) == -1)
		return rc;
	if (rc == 0 && rl->n < rep.n) {
		rules__lits_free(&rep);
		return 0;
	}
	if (rc == 0)
		rules__lits_free(rl);
	*rl = rep;
	*caseless = repcase;
	*need = count;
	return 0;
}

/* The length of the shortest string of RL. */
static size_t
lits_minlen(const struct rules_lits *rl)
{
	size_t i, m = SIZE_MAX;

	for (i = 0; i < rl->n; i++)
		if (rl->v[i].len < m)
			m = rl->v[i].len;
	return m;
}

/*
 * True if rule R's skeleton literals are better than its plain ones PL:
 * their shortest string is longer (skeletons are dense: "your" in
 * plain texts is weaker than "password" in their skeletons).
 */
static bool
skeleton_better(const struct rule *r, const struct rules_lits *pl)
{
	struct rules_lits sk;
	bool caseless, better;
	unsigned need;

	if (pl->n == 0 || rule_literals(r, PF_SKEL, &sk, &caseless,
	    &need) == -1)
		return false;
	better = sk.n > 0 && lits_minlen(&sk) > lits_minlen(pl);
	rules__lits_free(&sk);
	return better;
}

/*
 * Build database KIND (PF_ANY, PF_ASCII or PF_PLAIN) of TYPE: the
 * required literals of every enabled rule of that type that has a
 * usable set, for any text, for texts of ASCII bytes only or for plain
 * texts (literals.c's modes, numbered as the kinds).  A rule whose set is
 * empty (it cannot match such a text) is held without literals.  The
 * rules held get FLAG.  Returns -1 when nothing is held.
 */
static int
pf_build_kind(struct rules_set *set, enum rules_type type, int kind,
    uint32_t flag)
{
	struct rules_pflits x = { 0 };
	struct rules_lits rl;
	hs_database_t *db = NULL;
	uint32_t i, *held = NULL, nheld = 0;
	size_t j, n0;
	unsigned need;
	bool caseless;
	int rc = -1;

	if ((held = calloc(set->nbytype[type] + 1, sizeof(*held))) == NULL)
		return -1;
	for (i = 0; i < set->nbytype[type]; i++) {
		uint32_t idx = set->bytype[type][i];
		const struct rule *r = &set->rules[idx];

		if (r->re.body == NULL || r->re.code == NULL ||
		    (kind == PF_SKEL && (r->flags & RF_PF_PLAIN)) ||
		    rule_literals(r, kind, &rl, &caseless, &need) == -1)
			continue;
		if (kind == PF_PLAIN && skeleton_better(r, &rl)) {
			rules__lits_free(&rl);
			continue;	/* the skeleton database takes it */
		}
		n0 = x.n;
		for (j = 0; j < rl.n; j++)
			if (!rules__pflits_add(&x, &rl.v[j], (need > 1 ? 0 :
			    HS_FLAG_SINGLEMATCH) | (caseless ?
			    HS_FLAG_CASELESS : 0), idx, need))
				break;
		rules__lits_free(&rl);
		if (j < rl.n) {
			rules__pflits_drop(&x, n0);
			goto out;
		}
		held[nheld++] = idx;
	}
	if (nheld == 0)
		goto out;
	if (rules__pflits_compile(&x, &db) == -1)
		goto out;
	if (db != NULL &&
	    hs_alloc_scratch(db, &set->pf_scratch) != HS_SUCCESS) {
		hs_free_database(db);
		goto out;
	}
	for (i = 0; i < nheld; i++)
		set->rules[held[i]].flags |= flag;
	set->pf_db[type][kind] = db;
	set->pf_ids[type][kind] = x.rule;
	x.rule = NULL;
	if (x.counted) {
		set->pf_needs[type][kind] = x.need;
		x.need = NULL;
	}
	rc = 0;
out:
	free(held);
	rules__pflits_free(&x);
	return rc;
}

/*
 * The rules of TYPE that database KIND does not hold but another one
 * does: they run on every text of that kind.
 */
static int
pf_extras(struct rules_set *set, enum rules_type type, int kind)
{
	uint32_t i, n = 0, mine = kind == PF_PLAIN ? RF_PF_PLAIN | RF_PF_SKEL :
	    kind == PF_ASCII ? RF_PF_ASCII : RF_PREFILTERED,
	    other = RF_PF_ANYHOLD;
	uint32_t *v;

	if ((v = calloc(set->nbytype[type] + 1, sizeof(*v))) == NULL)
		return -1;
	for (i = 0; i < set->nbytype[type]; i++) {
		uint32_t idx = set->bytype[type][i];
		uint32_t f = set->rules[idx].flags;

		if ((f & other) && !(f & (mine | RF_PF_PAT)))
			v[n++] = idx;
	}
	set->pf_extra[type][kind] = v;
	set->pf_nextra[type][kind] = n;
	return 0;
}

/*
 * True if translated pattern P may name a byte above 0x7f: a raw one,
 * "\x" with such a value, an octal escape of 0200 or more, "\o{",
 * "\N".  Errs towards true.
 */
static bool
pat_high(const char *p)
{
	const char *q;

	for (; *p != '\0'; p++) {
		if ((unsigned char)*p >= 0x80)
			return true;
		if (*p != '\\' || p[1] == '\0')
			continue;
		q = p + 1;
		if (*q == 'x') {
			if (q[1] == '{') {
				for (q += 2; *q == '0'; q++)
					;
				if (*q != '}' && (q[1] != '}' ||
				    strchr("89abcdefABCDEF", *q) != NULL))
					return true;
			} else if (q[1] != '\0' &&
			    strchr("89abcdefABCDEF", q[1]) != NULL)
				return true;
		} else if (((*q == '2' || *q == '3') && q[1] >= '0' &&
		    q[1] <= '7') || *q == 'o' || *q == 'N')
			return true;
		p++;			/* the escaped byte */
	}
	return false;
}

/*
 * Vectorscan flags for rule R's translated pattern TR in prefilter
 * mode, from its modifiers; -1 when it is not taken: too long (the
 * compile time grows fast with size), /x, shorter than PF_PAT_MINLEN
 * (it matches most texts: PCRE2 would run on them all the same), or
 * PCRE2 knows where a match can start (its first byte, or line
 * starts: PCRE2 skips to them with memchr(), faster than the scan).
 * *ASCII_ONLY: Vectorscan's reading is a superset on texts of ASCII
 * bytes only: the pattern is caseless and names a byte above 0x7f
 * (gatehouse's tables fold Latin-1 letters, Vectorscan folds ASCII
 * letters only; on an ASCII text neither such byte nor its partner
 * occurs, so there the readings agree).
 */
static int
pat_flags(const struct rule *r, const char *tr, unsigned *flags,
    bool *ascii_only)
{
	const char *m;
	uint32_t minlen = 0, first = 0;

	if (strlen(tr) > PF_PAT_MAX || r->re.nmore > 0 ||
	    pcre2_pattern_info(r->re.code, PCRE2_INFO_MINLENGTH,
	    &minlen) != 0 || minlen < PF_PAT_MINLEN ||
	    pcre2_pattern_info(r->re.code, PCRE2_INFO_FIRSTCODETYPE,
	    &first) != 0 || first != 0)
		return -1;
	*flags = HS_FLAG_PREFILTER | HS_FLAG_SINGLEMATCH;
	for (m = r->re.mods; *m != '\0'; m++)
		switch (*m) {
		case 'i': *flags |= HS_FLAG_CASELESS; break;
		case 'm': *flags |= HS_FLAG_MULTILINE; break;
		case 's': *flags |= HS_FLAG_DOTALL; break;
		case 'n': case 'p': case 'a': case 'u': case 'l': case 'd':
		case 'o':
			break;
		default:
			return -1;	/* 'x' and what else may come */
		}
	*ascii_only = (strchr(r->re.mods, 'i') != NULL ||
	    (rules__regex_inline_opts(tr) & RULES_OPT_I)) && pat_high(tr);
	return 0;
}

/*
 * The pattern database of TYPE: the whole patterns, in Vectorscan's
 * prefilter mode (it matches a superset of what each pattern matches;
 * lookarounds and back references are widened), of the rules no
 * literal database holds and pat_flags() takes; in pf_extra[type]
 * [PF_PAT] those that must run on every non-ASCII text.  A pattern
 * Vectorscan refuses is dropped and the rest compiled again.
 */
static void
pf_build_pat(struct rules_set *set, enum rules_type type)
{
	struct rules_pflits x = { 0 };
	struct rules_lit l;
	hs_compile_error_t *err = NULL;
	hs_database_t *db = NULL;
	unsigned *ids = NULL, fl;
	uint32_t i, k, *ao = NULL, nao = 0;
	bool ascii_only;
	char *tr;
	int tries;

	for (i = 0; i < set->nbytype[type]; i++) {
		uint32_t idx = set->bytype[type][i];
		const struct rule *r = &set->rules[idx];

		if (r->re.body == NULL || r->re.code == NULL ||
		    (r->flags & RF_PF_ANYHOLD))
			continue;
		if ((tr = rules__regex_translate(r->re.body)) == NULL)
			goto out;
		l.s = tr;
		l.len = strlen(tr);
		/* x.need[] marks the patterns for ASCII texts only */
		if (pat_flags(r, tr, &fl, &ascii_only) == 0 &&
		    !rules__pflits_add(&x, &l, fl, idx, ascii_only ? 2 : 1)) {
			free(tr);
			goto out;
		}
		free(tr);
	}
	if (x.n == 0 || (ids = calloc(x.n, sizeof(*ids))) == NULL ||
	    (ao = calloc(x.n, sizeof(*ao))) == NULL)
		goto out;
	for (tries = 0; tries < PF_PAT_TRIES; tries++) {
		for (k = 0; k < x.n; k++)
			ids[k] = k;
		if (hs_compile_multi((const char *const *)x.s, x.flags, ids,
		    (unsigned)x.n, HS_MODE_BLOCK, NULL, &db, &err) ==
		    HS_SUCCESS)
			break;
		db = NULL;
		k = err->expression < 0 ? UINT32_MAX :
		    (uint32_t)err->expression;
		hs_free_compile_error(err);
		if (k >= x.n || x.n == 1)
			goto out;
		/* drop pattern k: the last one takes its place */
		free(x.s[k]);
		x.n--;
		x.s[k] = x.s[x.n];
		x.len[k] = x.len[x.n];
		x.flags[k] = x.flags[x.n];
		x.rule[k] = x.rule[x.n];
		x.need[k] = x.need[x.n];
	}
	if (db == NULL ||
	    hs_alloc_scratch(db, &set->pf_scratch) != HS_SUCCESS) {
		hs_free_database(db);
		goto out;
	}
	for (k = 0; k < x.n; k++) {
		set->rules[x.rule[k]].flags |= RF_PF_PAT;
		if (x.need[k] > 1)
			ao[nao++] = x.rule[k];
	}
	set->pf_db[type][PF_PAT] = db;
	set->pf_ids[type][PF_PAT] = x.rule;
	set->pf_extra[type][PF_PAT] = ao;
	set->pf_nextra[type][PF_PAT] = nao;
	x.rule = NULL;
	ao = NULL;
out:
	free(ao);
	free(ids);
	rules__pflits_free(&x);
}

/* Build the prefilter of TYPE: both databases, then the extras. */
static void
pf_build_type(struct rules_set *set, enum rules_type type)
{
	uint32_t i, held = 0;

	(void)pf_build_kind(set, type, PF_ANY, RF_PREFILTERED);
	(void)pf_build_kind(set, type, PF_ASCII, RF_PF_ASCII);
	set->pf_plain_on[type] = pf_build_kind(set, type, PF_PLAIN,
	    RF_PF_PLAIN) == 0;
	set->pf_skel_on[type] = set->pf_plain_on[type] &&
	    pf_build_kind(set, type, PF_SKEL, RF_PF_SKEL) == 0;
	/* uri texts are short, full is one text: PCRE2 alone is cheaper */
	if (type == RULES_T_BODY || type == RULES_T_RAWBODY)
		pf_build_pat(set, type);
	if (pf_extras(set, type, PF_ANY) == -1 ||
	    pf_extras(set, type, PF_ASCII) == -1 ||
	    pf_extras(set, type, PF_PLAIN) == -1) {
		/* without the extras lists, hold nothing of this type */
		for (i = 0; i < set->nbytype[type]; i++)
			set->rules[set->bytype[type][i]].flags &=
			    ~RF_PF_ANYHOLD;
		set->pf_plain_on[type] = set->pf_skel_on[type] = false;
		return;
	}
	for (i = 0; i < set->nbytype[type]; i++)
		if (set->rules[set->bytype[type][i]].flags & RF_PF_ANYHOLD)
			held++;
	set->pf_count += held;
	set->pf_held[type] = held;
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
			pf_build_type(set, pf_types[i]);
	return set->pf_count;
}

/* Bytes the prefilter databases and scratch hold. */
size_t
rules__prefilter_memory(const struct rules_set *set)
{
	size_t total = 0, n, i, k;

	for (i = 0; i < RULES_T_COUNT; i++)
		for (k = 0; k < PF_KINDS; k++)
			if (set->pf_db[i][k] != NULL &&
			    hs_database_size(set->pf_db[i][k], &n) ==
			    HS_SUCCESS)
				total += n + 2 * set->nbytype[i] *
				    sizeof(uint32_t);
	if (set->pf_scratch != NULL &&
	    hs_scratch_size(set->pf_scratch, &n) == HS_SUCCESS)
		total += n;
	return total;
}

/*
 * Text t->pf_text is a candidate for rule IDX.  Texts are visited in
 * order, so each rule's list stays in text order; a rule is listed once
 * per text.  False when the pair memory runs out.
 */
static bool
add_pair(struct rules_txn *t, uint32_t idx)
{
	uint32_t k;

	if (t->pf_mark[idx] == t->pf_stamp &&
	    t->pf_pairs[t->pf_tail[idx]].text == t->pf_text)
		return true;
	if (t->pf_npairs == t->pf_cappairs) {
		size_t ncap = t->pf_cappairs ? t->pf_cappairs * 2 : 1024;
		struct pf_pair *np;

		if (ncap > PF_PAIRS_MAX || (np = realloc(t->pf_pairs,
		    ncap * sizeof(*np))) == NULL) {
			t->pf_full = true;
			return false;
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
	return true;
}

/* Scan callback: a literal of rule pf_rules[ID] is in the text. */
static int
on_match(unsigned id, unsigned long long from, unsigned long long to,
    unsigned fl, void *arg)
{
	struct rules_txn *t = arg;
	uint32_t idx = t->pf_rules[id];

	(void)from;
	(void)fl;
	if (t->pf_needs != NULL && t->pf_needs[id] > 1) {
		/* count the occurrences that end at different offsets */
		if (t->pf_cmark[idx] != t->pf_tstamp) {
			t->pf_cmark[idx] = t->pf_tstamp;
			t->pf_cnt[idx] = 0;
		} else if (t->pf_cend[idx] == to)
			return 0;
		t->pf_cend[idx] = to;
		if (++t->pf_cnt[idx] < t->pf_needs[id])
			return 0;
	}
	return add_pair(t, idx) ? 0 : 1;	/* 1: stop */
}

/*
 * Which database a text of LEN bytes at S is scanned with: PF_PLAIN for
 * a plain text (bytes 0x20-0x7e but '&'; TAB, CR, LF) when TYPE has a
 * plain database, PF_ASCII for other texts of bytes below 0x80, PF_ANY
 * for the rest.  ('&' is what the "&#..;" alternatives need; the
 * control bytes are left out so that the plain kind could one day
 * take Vectorscan's own reading of \s as well.)
 */
static int
text_kind(const struct rules_set *set, enum rules_type type, const char *s,
    size_t len)
{
	size_t i;

	if (!rules__is_ascii(s, len))
		return PF_ANY;
	if (!set->pf_plain_on[type])
		return PF_ASCII;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') ||
		    c == '&' || c == 0x7f)
			return PF_ASCII;
	}
	return PF_PLAIN;
}

/*
 * A new text for the counted literals: their counts start again (the
 * counters are allocated on first use).  False when memory runs out.
 */
static bool
next_text(struct rules_txn *t)
{
	size_t n = t->set->nrules ? t->set->nrules : 1;

	if (t->pf_cmark == NULL) {
		t->pf_cmark = calloc(n, sizeof(*t->pf_cmark));
		t->pf_cnt = calloc(n, sizeof(*t->pf_cnt));
		t->pf_cend = calloc(n, sizeof(*t->pf_cend));
		if (t->pf_cmark == NULL || t->pf_cnt == NULL ||
		    t->pf_cend == NULL) {
			free(t->pf_cmark);
			free(t->pf_cnt);
			free(t->pf_cend);
			t->pf_cmark = t->pf_cnt = NULL;
			t->pf_cend = NULL;
			return false;
		}
	}
	if (++t->pf_tstamp == 0) {	/* wrapped: forget every mark */
		memset(t->pf_cmark, 0, n * sizeof(*t->pf_cmark));
		t->pf_tstamp = 1;
	}
	return true;
}

/*
 * Scan the skeleton of the plain text of LEN bytes at S (its letters
 * and digits, in order) with TYPE's skeleton database.  False when
 * memory runs out or the scan fails.
 */
static bool
scan_skeleton(struct rules_txn *t, enum rules_type type, const char *s,
    size_t len)
{
	const struct rules_set *set = t->set;
	const hs_database_t *db = set->pf_db[type][PF_SKEL];
	size_t i, n = 0;

	if (len > t->pf_skelcap) {
		size_t ncap = len < 256 ? 256 : len;
		char *nb = realloc(t->pf_skel, ncap);

		if (nb == NULL)
			return false;
		t->pf_skel = nb;
		t->pf_skelcap = ncap;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9'))
			t->pf_skel[n++] = (char)c;
	}
	t->pf_rules = set->pf_ids[type][PF_SKEL];
	t->pf_needs = set->pf_needs[type][PF_SKEL];
	if (t->pf_needs != NULL && !next_text(t))
		return false;
	return db == NULL || n == 0 || (hs_scan(db, t->pf_skel, (unsigned)n,
	    0, t->pf_scratch, on_match, t) == HS_SUCCESS && !t->pf_full);
}

/*
 * Scan the text of LEN bytes at S with TYPE's pattern database; on a
 * text with a byte above 0x7f (HIGH), list the rules whose patterns
 * are read for ASCII texts only.  False when memory runs out or the
 * scan fails.
 */
static bool
scan_patterns(struct rules_txn *t, enum rules_type type, const char *s,
    size_t len, bool high)
{
	const struct rules_set *set = t->set;
	uint32_t j;

	t->pf_rules = set->pf_ids[type][PF_PAT];
	t->pf_needs = NULL;
	if (hs_scan(set->pf_db[type][PF_PAT], s, (unsigned)len, 0,
	    t->pf_scratch, on_match, t) != HS_SUCCESS || t->pf_full)
		return false;
	for (j = 0; high && j < set->pf_nextra[type][PF_PAT]; j++)
		if (!add_pair(t, set->pf_extra[type][PF_PAT][j]))
			return false;
	return true;
}

/*
 * Scan the N texts of V for the rules of TYPE.  Afterwards, for a rule
 * the type's prefilter holds, t->pf_head[rule] and the pairs' next
 * links give the texts it may match, in order (eval_listed()).  Returns false
 * when this type has no prefilter (every rule runs on every text).
 */
bool
rules__prefilter_scan(struct rules_txn *t, enum rules_type type,
    const struct rules_text *v, size_t n)
{
	const struct rules_set *set = t->set;
	size_t i;

	t->pf_on[type] = false;
	if (set->pf_held[type] == 0 || n > UINT32_MAX)
		return false;
	if (t->pf_scratch == NULL && set->pf_scratch != NULL &&
	    hs_clone_scratch(set->pf_scratch,
	    &t->pf_scratch) != HS_SUCCESS) {
		t->pf_scratch = NULL;
		return false;
	}
	if (++t->pf_stamp == 0) {	/* wrapped: forget every mark */
		memset(t->pf_mark, 0, set->nrules * sizeof(*t->pf_mark));
		t->pf_stamp = 1;
	}
	t->pf_npairs = 0;
	t->pf_full = false;
	for (i = 0; i < n; i++) {
		const char *s = v[i].ptr != NULL ? v[i].ptr : "";
		int kind = text_kind(set, type, s, v[i].len);
		const hs_database_t *db = set->pf_db[type][kind];
		uint32_t j;

		t->pf_text = (uint32_t)i;
		if (v[i].len > UINT32_MAX)
			return false;
		t->pf_rules = set->pf_ids[type][kind];
		t->pf_needs = set->pf_needs[type][kind];
		if (t->pf_needs != NULL && !next_text(t))
			return false;
		if (db != NULL && (hs_scan(db, s, (unsigned)v[i].len, 0,
		    t->pf_scratch, on_match, t) != HS_SUCCESS || t->pf_full))
			return false;
		if (kind == PF_PLAIN && set->pf_skel_on[type] &&
		    !scan_skeleton(t, type, s, v[i].len))
			return false;
		if (set->pf_db[type][PF_PAT] != NULL && !scan_patterns(t,
		    type, s, v[i].len, kind == PF_ANY))
			return false;
		for (j = 0; j < set->pf_nextra[type][kind]; j++)
			if (!add_pair(t, set->pf_extra[type][kind][j]))
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
	free(t->pf_cmark);
	free(t->pf_cnt);
	free(t->pf_cend);
	free(t->pf_skel);
	t->pf_skel = NULL;
	t->pf_skelcap = 0;
	t->pf_cmark = t->pf_cnt = NULL;
	t->pf_cend = NULL;
	t->pf_mark = t->pf_head = t->pf_tail = NULL;
	t->pf_pairs = NULL;
}
