/*
 * hprefilter.c -- the literal prefilter in front of header rules.
 *
 * Owns: per header request (struct hspec: "Subject", "From:addr", "ALL",
 * "X-Spam-Relays-External"...), two Vectorscan literal databases -- any
 * text, texts of ASCII bytes only -- holding the required literals
 * (literals.c) of the enabled regex header rules of that request; and
 * the scan that marks, per transaction and request, the rules whose
 * literals occur in the value.  eval_headers() (eval.c) then runs PCRE2
 * -- the engine of record -- only for the marked rules and for the rules
 * no database holds; an unmarked held rule cannot match the value.
 *
 * The text scanned is the text the rules see: the value when the
 * request is defined, "" when it is not.  A rule with [if-unset: ...]
 * matches its own default on an absent request, so the scan of "" does
 * not decide for it then (hprefilter_skip()'s UNSET argument).  A
 * negated rule (!~) whose literals are absent cannot match, so it hits
 * without a PCRE2 search, as it would with one.  exists: rules have no
 * pattern and are never held.
 *
 * Invariant: results are identical with and without this prefilter
 * (RULES_LOAD_NO_PREFILTER, rules.prefilter = no); only rules__limit
 * reports differ, for searches that are not made.
 *
 * Failure: a database that cannot be built leaves its request without
 * a prefilter (every rule runs PCRE2); a scan error or a memory error
 * at scan time does the same for that value.  Never an error for the
 * caller.
 */
#include <hs.h>
#include <stdlib.h>
#include <string.h>

#include "eval_int.h"

#define HPF_LIT_MIN	3	/* shortest literal worth looking for */
#define HPF_ANY		0	/* database for any text */
#define HPF_ASCII	1	/* database for texts of bytes < 0x80 */

/* The databases of one header request. */
struct hpf_group {
	hs_database_t	*db[2];
	uint32_t	*ids[2];	/* literal id -> rule */
	uint32_t	 nheld[2];	/* rules held by each kind */
};

/* A set's header prefilter. */
struct hpf {
	struct hpf_group *g;		/* per hspec */
	uint32_t	 ng;
	uint8_t		*held;		/* per rule: 1 << kind if held */
	hs_scratch_t	*scratch;	/* prototype, cloned per txn */
	size_t		 count;		/* rules held by either kind */
};

/* A transaction's header prefilter state. */
struct hpf_txn {
	hs_scratch_t	*scratch;
	uint32_t	*mark;		/* per rule: stamp if a literal seen */
	uint32_t	 stamp;
	const uint32_t	*ids;		/* the scanned database's ids */
};

/* True if rule R may be held: an enabled regex header rule. */
static bool
holdable(const struct rule *r)
{
	return !(r->flags & RF_EXISTS) && r->re.body != NULL &&
	    r->re.code != NULL;
}

/*
 * Build database KIND of header request G from the rules LIST[0..N)
 * (the enabled header rules of that request).  A rule without a usable
 * literal set is not held; one whose set is empty (it cannot match such
 * a text) is held without literals.
 */
static void
build_kind(struct rules_set *set, struct hpf *h, uint32_t g,
    const uint32_t *list, uint32_t n, int kind)
{
	struct hpf_group *grp = &h->g[g];
	struct rules_pflits x = { 0 };
	struct rules_lits rl;
	hs_database_t *db = NULL;
	uint32_t i, nheld = 0;
	uint8_t *mine;
	size_t j, n0;
	bool caseless;

	if ((mine = calloc(n + 1, 1)) == NULL)
		return;
	for (i = 0; i < n; i++) {
		const struct rule *r = &set->rules[list[i]];

		if (!holdable(r) || rules__required_literals(r->re.body,
		    r->re.mods, HPF_LIT_MIN, kind == HPF_ASCII, &rl,
		    &caseless) == -1)
			continue;
		n0 = x.n;
		for (j = 0; j < rl.n; j++)
			if (!rules__pflits_add(&x, &rl.v[j],
			    HS_FLAG_SINGLEMATCH |
			    (caseless ? HS_FLAG_CASELESS : 0), list[i], 1))
				break;
		rules__lits_free(&rl);
		if (j < rl.n) {
			rules__pflits_drop(&x, n0);
			continue;
		}
		mine[i] = 1;
		nheld++;
	}
	if (nheld == 0)
		goto out;
	if (rules__pflits_compile(&x, &db) == -1)
		goto out;
	if (db != NULL && hs_alloc_scratch(db, &h->scratch) != HS_SUCCESS) {
		hs_free_database(db);
		goto out;
	}
	for (i = 0; i < n; i++)
		if (mine[i])
			h->held[list[i]] |= (uint8_t)(1u << kind);
	grp->db[kind] = db;
	grp->ids[kind] = x.rule;
	grp->nheld[kind] = nheld;
	x.rule = NULL;
out:
	free(mine);
	rules__pflits_free(&x);
}

/* Free the header prefilter of SET. */
void
rules__hprefilter_free(struct rules_set *set)
{
	struct hpf *h = set->hpf;
	uint32_t g;
	int k;

	if (h == NULL)
		return;
	for (g = 0; g < h->ng; g++)
		for (k = 0; k < 2; k++) {
			hs_free_database(h->g[g].db[k]);
			free(h->g[g].ids[k]);
		}
	hs_free_scratch(h->scratch);
	free(h->g);
	free(h->held);
	free(h);
	set->hpf = NULL;
}

/*
 * Build the header prefilter of SET (its header rules are sorted by
 * request).  Returns the number of rules it holds.
 */
size_t
rules__hprefilter_build(struct rules_set *set)
{
	const uint32_t *list = set->bytype[RULES_T_HEADER];
	uint32_t n = set->nbytype[RULES_T_HEADER], i, j, k;
	struct hpf *h;

	if (n == 0 || set->nhspecs == 0 ||
	    hs_valid_platform() != HS_SUCCESS)
		return 0;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return 0;
	h->ng = set->nhspecs;
	h->g = calloc(h->ng, sizeof(*h->g));
	h->held = calloc(set->nrules + 1, 1);
	set->hpf = h;
	if (h->g == NULL || h->held == NULL) {
		rules__hprefilter_free(set);
		return 0;
	}
	for (i = 0; i < n; i = j) {
		uint32_t g = set->rules[list[i]].hspec;

		for (j = i; j < n && set->rules[list[j]].hspec == g; j++)
			;
		if (g >= h->ng)
			continue;
		build_kind(set, h, g, list + i, j - i, HPF_ANY);
		build_kind(set, h, g, list + i, j - i, HPF_ASCII);
	}
	for (i = 0; i < n; i++) {
		k = list[i];
		if (h->held[k]) {
			set->rules[k].flags |= RF_HPF;
			h->count++;
		}
	}
	if (h->count == 0) {
		rules__hprefilter_free(set);
		return 0;
	}
	return h->count;
}

/* Bytes the header prefilter's databases and scratch hold. */
size_t
rules__hprefilter_memory(const struct rules_set *set)
{
	const struct hpf *h = set->hpf;
	size_t total = 0, sz;
	uint32_t g;
	int k;

	if (h == NULL)
		return 0;
	total += h->ng * sizeof(*h->g) + set->nrules;
	for (g = 0; g < h->ng; g++)
		for (k = 0; k < 2; k++)
			if (h->g[g].db[k] != NULL &&
			    hs_database_size(h->g[g].db[k], &sz) ==
			    HS_SUCCESS)
				total += sz;
	if (h->scratch != NULL && hs_scratch_size(h->scratch, &sz) ==
	    HS_SUCCESS)
		total += sz;
	return total;
}

/* Scan callback: a literal of rule ids[ID] is in the value. */
static int
on_match(unsigned id, unsigned long long from, unsigned long long to,
    unsigned fl, void *arg)
{
	struct hpf_txn *x = arg;

	(void)from;
	(void)to;
	(void)fl;
	x->mark[x->ids[id]] = x->stamp;
	return 0;
}

/* The transaction's state, made on first use; NULL on memory error. */
static struct hpf_txn *
txn_state(struct rules_txn *t)
{
	const struct hpf *h = t->set->hpf;
	struct hpf_txn *x;

	if (t->hpf != NULL)
		return t->hpf;
	if ((x = calloc(1, sizeof(*x))) == NULL)
		return NULL;
	x->mark = calloc(t->set->nrules + 1, sizeof(*x->mark));
	if (x->mark == NULL || (h->scratch != NULL &&
	    hs_clone_scratch(h->scratch, &x->scratch) != HS_SUCCESS)) {
		free(x->mark);
		free(x);
		return NULL;
	}
	t->hpf = x;
	return x;
}

/*
 * Scan S (LEN bytes), the text the rules of header request G see, for
 * their literals.  Returns the kind of database that decides (HPF_ANY,
 * HPF_ASCII), or -1 when nothing does (no prefilter for G, an error):
 * then every rule of G runs.  ASCII tells whether S is all ASCII.
 */
int
rules__hprefilter_scan(struct rules_txn *t, uint32_t g, const char *s,
    size_t len, bool ascii)
{
	const struct hpf *h = t->set->hpf;
	const struct hpf_group *grp;
	struct hpf_txn *x;
	int kind = ascii ? HPF_ASCII : HPF_ANY;

	if (h == NULL || g >= h->ng || len > UINT32_MAX)
		return -1;
	grp = &h->g[g];
	if (grp->nheld[kind] == 0 || (x = txn_state(t)) == NULL)
		return -1;
	if (++x->stamp == 0) {	/* wrapped: forget every mark */
		memset(x->mark, 0, t->set->nrules * sizeof(*x->mark));
		x->stamp = 1;
	}
	x->ids = grp->ids[kind];
	if (grp->db[kind] != NULL && hs_scan(grp->db[kind], s != NULL ? s :
	    "", (unsigned)len, 0, x->scratch, on_match, x) != HS_SUCCESS)
		return -1;
	return kind;
}

/*
 * After rules__hprefilter_scan() returned KIND >= 0: true if rule IDX
 * cannot match the scanned text (held by that database, no literal of
 * its seen).
 */
bool
rules__hprefilter_skip(const struct rules_txn *t, uint32_t idx, int kind)
{
	const struct hpf *h = t->set->hpf;

	return kind >= 0 && (h->held[idx] & (1u << kind)) &&
	    t->hpf->mark[idx] != t->hpf->stamp;
}

/* Free a transaction's header prefilter state. */
void
rules__hprefilter_txn_free(struct rules_txn *t)
{
	struct hpf_txn *x = t->hpf;

	if (x == NULL)
		return;
	hs_free_scratch(x->scratch);
	free(x->mark);
	free(x);
	t->hpf = NULL;
}
