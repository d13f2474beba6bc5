/*
 * compile.c -- turning a loaded draft into an immutable rule set, and
 * the set's life cycle (rules_load, references, introspection).
 *
 * Owns, in this order: ReplaceTags rewriting; scores from the chosen
 * score set and SpamAssassin's defaults (1, 0.01 for T_ rules, negative
 * for "nice"); tflags; which rules are disabled (score 0, no action:
 * SpamAssassin does not run them); header requests interned; metas
 * compiled (rules_matching() expanded, names resolved) and sorted so
 * that dependencies come first; the SMTP stage of every rule; JIT.
 *
 * Invariants: a set holds only rules that are evaluated (eval: rules and
 * rules of absent plugins are not in it); every meta's operands come
 * earlier in its stage's list or in an earlier stage.
 *
 * Failure: an error (circular metas, action on an unknown rule, ...)
 * is a note with the file and line of the offending definition, and
 * rules_load() returns -1 without a set.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eval_int.h"

/* Point diagnostics at a definition site. */
static void
at(struct loader *ld, struct srcfile *tmp, const char *file, unsigned line)
{
	memset(tmp, 0, sizeof(*tmp));
	tmp->path = file != NULL ? file : "(rules)";
	tmp->line = line;
	ld->cur = tmp;
}

/* Free what a rule owns. */
void
rules__rule_free(struct rule *r)
{
	int k;

	free(r->name);
	rules__regex_free(&r->re);
	rules__regex_free_code(&r->jre);
	rules__regex_free_code(&r->are);
	rules__regex_free_code(&r->jare);
	rules__regex_free_code(&r->pre);
	rules__regex_free_code(&r->jpre);
	rules__regex_free_code(&r->ure);
	rules__regex_free_code(&r->jure);
	for (k = 0; r->ex != NULL && k < 4; k++)
		rules__regex_free_code(&r->ex->form[k]);
	if (r->ex != NULL) {
		free(r->ex);
		r->ex = NULL;
	}
	free(r->hdr);
	free(r->unset);
	free(r->prog);
	free(r->meta_src);
	free(r->reply);
	free(r->describe);
	free(r->tflags);
	free(r->lit);
	free(r->alit);
	memset(r, 0, sizeof(*r));
}

/* Apply ReplaceTags to every rule named by replace_rules. */
static void
replace_tags(struct loader *ld)
{
	struct srcfile tmp;
	char err[300], *np;
	uint32_t i;
	bool changed;

	for (i = 0; i < ld->nrules; i++) {
		struct rule *r = &ld->rules[i];
		struct regex nre;

		if (!(r->flags & RF_REPLACE) || !(r->flags & RF_DEFINED) ||
		    r->re.code == NULL || r->type == RULES_T_MIMEHEADER ||
		    r->type == RULES_T_META)
			continue;
		if ((np = rules__replace_tags(ld, &r->re, &changed)) == NULL) {
			ld->oom = true;
			return;
		}
		if (!changed) {
			free(np);
			continue;
		}
		memset(&nre, 0, sizeof(nre));
		if (rules__regex_compile(&nre, np, "", ld->cctx, err,
		    sizeof(err)) == -1) {
			/* SpamAssassin logs this and keeps the original */
			at(ld, &tmp, r->file, r->line);
			rules__warn(ld, "replacetags: regexp compilation failed "
			    "for %s: '%.80s...': %s", r->name, np, err);
			free(np);
			continue;
		}
		rules__regex_free_code(&r->re);
		r->re.code = nre.code;
		r->re.more = nre.more;
		r->re.nmore = nre.nmore;
		free(r->re.body);
		r->re.body = np;
		r->re.mods[0] = '\0';
	}
	ld->cur = NULL;
}

/* Parse a rule's tflags into flags, maxhits and range. */
static void
apply_tflags(struct rule *r)
{
	char *copy, *p, *w;
	size_t len;

	r->range_min = 0;
	r->range_max = 1000;
	if (r->tflags == NULL || (copy = strdup(r->tflags)) == NULL)
		return;
	p = copy;
	while ((w = rules__next_word(&p, &len)) != NULL) {
		w[len] = '\0';
		if (strcmp(w, "multiple") == 0)
			r->flags |= RF_MULTIPLE;
		else if (strcmp(w, "nice") == 0)
			r->flags |= RF_NICE;
		else if (strcmp(w, "nosubject") == 0)
			r->flags |= RF_NOSUBJECT;
		else if (strcmp(w, "concat") == 0)
			r->flags |= RF_CONCAT;
		else if (strncmp(w, "maxhits=", 8) == 0)
			r->maxhits = (uint32_t)strtoul(w + 8, NULL, 10);
		else if (strncmp(w, "range=", 6) == 0) {
			/* range=N, N-, -M, N-M */
			char *dash = strchr(w + 6, '-');
			unsigned long a = strtoul(w + 6, NULL, 10);
			if (dash == NULL)
				r->range_min = r->range_max = (uint32_t)a;
			else {
				if (dash > w + 6)
					r->range_min = (uint32_t)a;
				if (dash[1] != '\0')
					r->range_max = (uint32_t)strtoul(dash +
					    1, NULL, 10);
			}
		}
		/* others (net, publish, learn, ...) have no effect here */
	}
	free(copy);
}

/* Does NAME match the rules_matching() glob G (* and ?)? */
static bool
glob_match(const char *g, const char *name)
{
	if (*g == '\0')
		return *name == '\0';
	if (*g == '*')
		return glob_match(g + 1, name) ||
		    (*name != '\0' && glob_match(g, name + 1));
	if (*name == '\0')
		return false;
	if (*g == '?' || *g == *name)
		return glob_match(g + 1, name + 1);
	return false;
}

/* Compare names for qsort. */
static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Expand rules_matching(GLOB) in SRC, as Conf::Parser::expand_ruleglob:
 * the sorted sum of every rule known (defined, eval: or scored), the
 * meta itself excepted, or 0.
 */
static char *
expand_matching(struct loader *ld, const struct rules_set *set,
    const struct rule *self, const char *src)
{
	struct sbuf sb = { 0 };
	const char *p = src, *q, *c, *e;
	char glob[130], **names;
	size_t n, i;
	uint32_t j;

	while ((q = strstr(p, "rules_matching")) != NULL) {
		c = q + 14;
		if (q > src && (q[-1] == '_' || (q[-1] >= 'a' && q[-1] <= 'z')
		    || (q[-1] >= 'A' && q[-1] <= 'Z') ||
		    (q[-1] >= '0' && q[-1] <= '9'))) {
			rules__sb_add(&sb, p, (size_t)(c - p));
			p = c;
			continue;
		}
		while (rules__is_space((unsigned char)*c) || *c == '(')
			c++;
		for (e = c; *e != '\0' && *e != ')' &&
		    !rules__is_space((unsigned char)*e); e++)
			;
		if (e == c || (size_t)(e - c) >= sizeof(glob)) {
			rules__sb_add(&sb, p, (size_t)(c - p));
			p = c;
			continue;
		}
		memcpy(glob, c, (size_t)(e - c));
		glob[e - c] = '\0';
		while (*e != '\0' && *e != ')')
			e++;
		rules__sb_add(&sb, p, (size_t)(q - p));
		if ((names = calloc(ld->nrules + set->nrules + 1,
		    sizeof(*names))) == NULL) {
			sb.oom = true;
			break;
		}
		/* the set's rules, then eval: and scored names left over */
		for (j = 0, n = 0; j < set->nrules; j++) {
			const struct rule *r = &set->rules[j];
			if (r != self && glob_match(glob, r->name))
				names[n++] = r->name;
		}
		for (j = 0; j < ld->nrules; j++) {
			const struct rule *r = &ld->rules[j];
			if (r->name != NULL && (r->flags & (RF_EVAL |
			    RF_HAS_SCORE)) && glob_match(glob, r->name))
				names[n++] = r->name;
		}
		qsort(names, n, sizeof(*names), cmp_str);
		rules__sb_adds(&sb, " (");
		for (i = 0; i < n; i++) {
			if (i > 0)
				rules__sb_addc(&sb, '+');
			rules__sb_adds(&sb, names[i]);
		}
		if (n == 0)
			rules__sb_addc(&sb, '0');
		rules__sb_adds(&sb, ") ");
		free(names);
		p = *e == ')' ? e + 1 : e;
	}
	rules__sb_adds(&sb, p);
	return rules__sb_take(&sb);
}

/* State while resolving meta names against the new set. */
struct metactx {
	struct rules_set	*set;
	uint32_t		 self;
	uint32_t		*deps;
	uint32_t		 ndeps;
	uint32_t		 capdeps;
	bool			 undefined;	/* names no rule */
	bool			 oom;
};

/* Meta identifiers: rule names (undefined ones are 0). */
static int
meta_ident(void *arg, const char *name, size_t len, struct meta_op *op)
{
	struct metactx *m = arg;
	uint32_t idx;

	if (len == 16 && strncmp(name, "local_tests_only", 16) == 0) {
		op->op = MO_NUM;
		op->num = 1;
		return 0;
	}
	if (!rules__valid_name(name, len))
		return -1;
	if (rules__map_get(&m->set->names, name, len, m->set->rules,
	    &idx) == -1) {
		op->op = MO_NUM;
		op->num = 0;
		m->undefined = true;
		return 0;
	}
	op->op = MO_RULE;
	op->arg = idx;
	if (m->ndeps == m->capdeps) {
		uint32_t ncap = m->capdeps ? m->capdeps * 2 : 8;
		uint32_t *nd = realloc(m->deps, ncap * sizeof(*nd));
		if (nd == NULL) {
			m->oom = true;
			return -1;
		}
		m->deps = nd;
		m->capdeps = ncap;
	}
	m->deps[m->ndeps++] = idx;
	return 0;
}

/* Intern header request TEXT; returns its index or UINT32_MAX. */
static uint32_t
intern_hspec(struct rules_set *set, const char *text)
{
	struct hspec h, *nh;
	uint32_t i;
	size_t len = strlen(text);

	if (rules__hspec_parse(text, len, &h) == -1)
		return UINT32_MAX;
	for (i = 0; i < set->nhspecs; i++)
		if (set->hspecs[i].kind == h.kind &&
		    set->hspecs[i].mods == h.mods &&
		    set->hspecs[i].name_len == h.name_len &&
		    strcmp(set->hspecs[i].name, h.name) == 0) {
			free(h.name);
			return i;
		}
	if ((set->nhspecs & 63) == 0) {
		nh = realloc(set->hspecs, (set->nhspecs + 64) * sizeof(*nh));
		if (nh == NULL) {
			free(h.name);
			return UINT32_MAX;
		}
		set->hspecs = nh;
	}
	set->hspecs[set->nhspecs] = h;
	return set->nhspecs++;
}

/* The stage at which a rule's value is final (for metas). */
static enum rules_stage
final_stage(const struct rule *r)
{
	switch (r->type) {
	case RULES_T_CLIENT:	return RULES_STAGE_CONNECT;
	case RULES_T_HELO:	return RULES_STAGE_HELO;
	case RULES_T_MAILFROM:	return RULES_STAGE_MAIL;
	case RULES_T_AUTH:	return RULES_STAGE_MAIL;
	case RULES_T_RCPTTO:	return RULES_STAGE_HEADERS; /* all rcpts */
	case RULES_T_HEADER:	return RULES_STAGE_HEADERS;
	case RULES_T_META:	return (enum rules_stage)r->stage;
	default:		return RULES_STAGE_EOM;
	}
}

/* The stage a rule is evaluated at. */
static enum rules_stage
eval_stage_of(const struct rule *r)
{
	return r->type == RULES_T_RCPTTO ? RULES_STAGE_RCPT : final_stage(r);
}

/* Compare rule indices by (hspec, order) for header grouping. */
static int
cmp_hspec(const void *a, const void *b, void *arg)
{
	const struct rules_set *set = arg;
	const struct rule *x = &set->rules[*(const uint32_t *)a];
	const struct rule *y = &set->rules[*(const uint32_t *)b];

	if (x->hspec != y->hspec)
		return x->hspec < y->hspec ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Compare rule indices by definition order. */
static int
cmp_order(const void *a, const void *b, void *arg)
{
	const struct rules_set *set = arg;
	const struct rule *x = &set->rules[*(const uint32_t *)a];
	const struct rule *y = &set->rules[*(const uint32_t *)b];

	return x->order < y->order ? -1 : x->order > y->order;
}

/* Move defined, evaluated rules from the draft into SET. */
static int
take_rules(struct loader *ld, struct rules_set *set)
{
	struct srcfile tmp;
	uint32_t i;
	int sc = ld->opts->score_set;

	if ((set->rules = calloc(ld->nrules + 1, sizeof(*set->rules))) == NULL)
		return -1;
	for (i = 0; i < ld->nrules; i++) {
		struct rule *r = &ld->rules[i];

		if (r->flags & RF_EVAL) {
			ld->diag->eval_skipped++;
			if (r->action != RULES_A_NONE) {
				at(ld, &tmp, r->action_file, r->action_line);
				rules__error(ld, "action for %s, an eval: rule "
				    "gatehouse does not evaluate", r->name);
			}
			continue;
		}
		if (!(r->flags & RF_DEFINED)) {
			if (r->action != RULES_A_NONE || r->action_file) {
				at(ld, &tmp, r->action_file, r->action_line);
				rules__error(ld, "action for undefined rule %s",
				    r->name);
			}
			continue;
		}
		if (r->flags & RF_HAS_SCORE)
			r->score = r->scores[sc];
		else {
			r->score = strncmp(r->name, "T_", 2) == 0 ? 0.01 : 1.0;
		}
		apply_tflags(r);
		if (!(r->flags & RF_HAS_SCORE) && (r->flags & RF_NICE))
			r->score = -r->score;
		if (strncmp(r->name, "__", 2) == 0)
			r->flags |= RF_SUB;
		if (r->action_shadow)
			r->flags |= RF_SHADOW;
		if (r->score == 0 && r->action == RULES_A_NONE) {
			r->flags |= RF_DISABLED;
			ld->diag->disabled++;
		}
		ld->diag->by_type[r->type]++;
		set->rules[set->nrules] = *r;
		memset(r, 0, sizeof(*r));
		if (rules__map_put(&set->names, set->rules[set->nrules].name,
		    set->nrules, set->rules) == -1)
			return -1;
		set->nrules++;
	}
	ld->cur = NULL;
	return 0;
}

/* Compile metas, sort them, compute stages and flags. */
static int
build_metas(struct loader *ld, struct rules_set *set)
{
	struct srcfile tmp;
	uint32_t i, j, *indeg = NULL, **deps = NULL, *ndeps = NULL;
	uint32_t *queue = NULL, qh = 0, qt = 0, done = 0, nmeta = 0;
	uint32_t **users = NULL, *nusers = NULL;
	char err[200];
	int rc = -1;

	indeg = calloc(set->nrules + 1, sizeof(*indeg));
	deps = calloc(set->nrules + 1, sizeof(*deps));
	ndeps = calloc(set->nrules + 1, sizeof(*ndeps));
	users = calloc(set->nrules + 1, sizeof(*users));
	nusers = calloc(set->nrules + 1, sizeof(*nusers));
	queue = calloc(set->nrules + 1, sizeof(*queue));
	if (!indeg || !deps || !ndeps || !users || !nusers || !queue)
		goto out;
	for (i = 0; i < set->nrules; i++) {
		struct rule *r = &set->rules[i];
		struct metactx m = { set, i, NULL, 0, 0, false, false };
		struct expr_ctx ctx = { ld, meta_ident, NULL, &m };
		char *src;

		if (r->type != RULES_T_META)
			continue;
		nmeta++;
		if ((src = expand_matching(ld, set, r, r->meta_src)) == NULL)
			goto out;
		if (rules__expr_compile(&ctx, src, &r->prog, &r->nprog, err,
		    sizeof(err)) == -1) {
			at(ld, &tmp, r->file, r->line);
			if (m.oom)
				ld->oom = true;
			else
				rules__error(ld, "invalid expression for rule "
				    "%s: \"%s\": %s", r->name, r->meta_src,
				    err);
			free(src);
			free(m.deps);
			continue;
		}
		free(src);
		if (m.undefined) {
			r->flags |= RF_INCOMPLETE;
			/* a zero-score meta waits forever for it */
			if (r->flags & RF_DISABLED)
				r->flags |= RF_BLOCKED;
		}
		deps[i] = m.deps;
		ndeps[i] = m.ndeps;
		j = rules__expr_stack(r->prog, r->nprog);
		if (j > set->max_stack)
			set->max_stack = j;
	}
	ld->cur = NULL;
	/* Kahn's algorithm over meta -> meta edges. */
	for (i = 0; i < set->nrules; i++) {
		for (j = 0; j < ndeps[i]; j++) {
			uint32_t d = deps[i][j], *nu;
			if (set->rules[d].type != RULES_T_META)
				continue;
			indeg[i]++;
			nu = realloc(users[d], (nusers[d] + 1) * sizeof(*nu));
			if (nu == NULL)
				goto out;
			users[d] = nu;
			users[d][nusers[d]++] = i;
		}
	}
	for (i = 0; i < set->nrules; i++)
		if (set->rules[i].type == RULES_T_META && indeg[i] == 0)
			queue[qt++] = i;
	while (qh < qt) {
		uint32_t m = queue[qh++];
		struct rule *r = &set->rules[m];
		enum rules_stage st = RULES_STAGE_CONNECT;
		bool blocked = false;

		done++;
		for (j = 0; j < ndeps[m]; j++) {
			const struct rule *d = &set->rules[deps[m][j]];
			if (final_stage(d) > st)
				st = final_stage(d);
			r->uses |= d->type == RULES_T_META ? d->uses :
			    1u << d->type;
			if (d->flags & RF_INCOMPLETE)
				r->flags |= RF_INCOMPLETE;
			if (d->flags & RF_BLOCKED)
				blocked = true;
			/*
			 * A zero-score meta only runs once every operand
			 * ran: a disabled rule never runs.
			 */
			if ((r->flags & RF_DISABLED) && d->type !=
			    RULES_T_META && (d->flags & RF_DISABLED))
				blocked = true;
		}
		if (blocked)
			r->flags |= RF_BLOCKED;
		r->stage = (uint8_t)st;
		for (j = 0; j < nusers[m]; j++)
			if (--indeg[users[m][j]] == 0)
				queue[qt++] = users[m][j];
	}
	if (done != nmeta) {
		for (i = 0; i < set->nrules; i++) {
			struct rule *r = &set->rules[i];
			if (r->type == RULES_T_META && indeg[i] > 0) {
				at(ld, &tmp, r->file, r->line);
				rules__error(ld, "meta %s: circular or unsolved "
				    "meta dependencies", r->name);
			}
		}
		ld->cur = NULL;
		goto out;
	}
	/* Per-stage lists in topological order. */
	for (i = 0; i < RULES_STAGE_COUNT; i++)
		if ((set->metas[i] = calloc(qt + 1, sizeof(uint32_t))) == NULL)
			goto out;
	for (i = 0; i < qt; i++) {
		const struct rule *r = &set->rules[queue[i]];
		set->metas[r->stage][set->nmetas[r->stage]++] = queue[i];
	}
	rc = 0;
out:
	for (i = 0; deps != NULL && i < set->nrules; i++)
		free(deps[i]);
	for (i = 0; users != NULL && i < set->nrules; i++)
		free(users[i]);
	free(deps);
	free(ndeps);
	free(users);
	free(nusers);
	free(indeg);
	free(queue);
	return rc;
}

/*
 * Mark rule R for searches of all its lines at once (eval.c): as they
 * are when its pattern is local, else through a /m variant when that
 * is a superset of the per-line search (rules__regex_joinable).
 */
static void
joinable(struct loader *ld, struct rule *r, bool jit_ok)
{
	char mods[32], err[200];

	if (rules__regex_local(r->re.body)) {
		r->flags |= RF_JOINABLE;
		return;
	}
	if (r->re.nmore > 0 || strlen(r->re.mods) + 2 > sizeof(mods) ||
	    !rules__regex_joinable(r->re.body, r->re.mods))
		return;
	snprintf(mods, sizeof(mods), "%sm", r->re.mods);
	if (rules__regex_compile(&r->jre, r->re.body, mods, ld->cctx, err,
	    sizeof(err)) == -1 || r->jre.nmore > 0) {
		rules__regex_free_code(&r->jre);
		return;
	}
	rules__regex_jit(&r->jre, jit_ok);
	r->flags |= RF_JOINABLE_M;
}

/*
 * Compile rule R's ASCII projections (ascii.c), used on texts of bytes
 * below 0x80 only: the same matches, found with fewer attempts; its
 * plain projections, for such texts without '&', when they differ; and
 * its u8 projections, for the non-ASCII texts rules__u8_text() accepts.
 */
static void
ascii_variants(struct loader *ld, struct rule *r, bool jit_ok)
{
	char mods[32];
	bool jm;

	if (r->re.body == NULL || r->re.code == NULL)
		return;
	if (rules__regex_compile_ascii(&r->are, r->re.body, r->re.mods,
	    ld->cctx))
		rules__regex_jit(&r->are, jit_ok && r->re.jit);
	if (rules__regex_compile_plain(&r->pre, r->re.body, r->re.mods,
	    ld->cctx))
		rules__regex_jit(&r->pre, jit_ok && r->re.jit);
	if (r->are.code != NULL && rules__regex_compile_u8(&r->ure,
	    r->re.body, r->re.mods, ld->cctx))
		rules__regex_jit(&r->ure, jit_ok && r->re.jit);
	jm = (r->flags & RF_JOINABLE_M) &&
	    strlen(r->re.mods) + 2 <= sizeof(mods);
	if (!jm)
		return;
	snprintf(mods, sizeof(mods), "%sm", r->re.mods);
	if (r->are.code != NULL && rules__regex_compile_ascii(&r->jare,
	    r->re.body, mods, ld->cctx))
		rules__regex_jit(&r->jare, jit_ok && r->jre.jit);
	if (r->pre.code != NULL && rules__regex_compile_plain(&r->jpre,
	    r->re.body, mods, ld->cctx))
		rules__regex_jit(&r->jpre, jit_ok && r->jre.jit);
	if (r->ure.code != NULL && rules__regex_compile_u8(&r->jure,
	    r->re.body, mods, ld->cctx))
		rules__regex_jit(&r->jure, jit_ok && r->jre.jit);
}

/*
 * Compile rule R's existence forms (exist.c) when only whether it
 * matches counts (not "multiple", not negated): those of the
 * projections it has, and its pattern's when it has no ASCII
 * projection (the pattern then serves only the rare texts the u8 one
 * does not; the tag rules' forms of it held 11 MB for no gain).  R->ex
 * stays NULL when the pattern has none.
 */
static void
exist_variants(struct loader *ld, struct rule *r, bool jit_ok)
{
	const struct regex *have[4] = { &r->re, &r->are, &r->pre, &r->ure };
	struct rule_exist *x;
	int k, n = 0;

	if (r->re.body == NULL || r->re.code == NULL ||
	    (r->flags & (RF_MULTIPLE | RF_NEG)) ||
	    (x = calloc(1, sizeof(*x))) == NULL)
		return;
	for (k = RULES_EX_RE; k <= RULES_EX_U8; k++)
		if (have[k]->code != NULL && !(k == RULES_EX_RE &&
		    r->are.code != NULL) && rules__regex_compile_exist(
		    &x->form[k], r->re.body, r->re.mods, ld->cctx, k,
		    have[k])) {
			rules__regex_jit(&x->form[k], jit_ok && r->re.jit);
			n++;
		}
	if (n == 0)
		free(x);
	else
		r->ex = x;
}

/*
 * Give body, rawbody and uri rule R its necessary conditions on the
 * texts (rules__required_cond; eval.c skips it on texts without them):
 * its run class goes into SET's table (one per distinct class).  Returns -1 when memory runs out.
 */
static int
conditions(struct rules_set *set, struct rule *r)
{
	struct rules_cond c;
	uint8_t tab[256];
	uint32_t k;
	int b;

	r->cond_cls = -1;
	if (r->re.body == NULL ||
	    rules__required_cond(r->re.body, r->re.mods, &c) == -1)
		return 0;
	r->cond_rb_ok = c.rb_ok;
	memcpy(r->cond_rb, c.rb, sizeof(r->cond_rb));
	if (!c.run_ok || c.runlen < 2)
		return 0;
	for (b = 0; b < 256; b++)
		tab[b] = (c.run[b >> 3] >> (b & 7)) & 1;
	for (k = 0; k < set->ncond_cls; k++)
		if (memcmp(set->cond_cls[k], tab, 256) == 0)
			break;
	if (k == set->ncond_cls) {
		uint8_t (*nc)[256] = realloc(set->cond_cls,
		    (k + 1) * sizeof(*nc));

		if (nc == NULL)
			return -1;
		set->cond_cls = nc;
		memcpy(nc[k], tab, 256);
		set->ncond_cls++;
	}
	r->cond_cls = (int32_t)k;
	r->cond_len = c.runlen;
	return 0;
}

/*
 * The string translated pattern TR (freed here) matches and nothing
 * else, malloc'ed; NULL unless TR is, alone or in one (?:...), letters,
 * digits and punctuation that PCRE2 reads as itself, and MODS change
 * nothing for it (no i, no x).
 */
static char *
plain_literal(char *tr, const char *mods)
{
	static const char ok[] = " _,:;=@%!\"'<>/~&-";
	size_t len, i;
	char *p = tr;

	if (tr == NULL || strspn(mods, "msn") != strlen(mods)) {
		free(tr);
		return NULL;
	}
	len = strlen(p);
	if (len > 4 && strncmp(p, "(?:", 3) == 0 && p[len - 1] == ')') {
		p += 3;
		len -= 4;
	}
	for (i = 0; i < len; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') ||
		    (p[i] >= 'A' && p[i] <= 'Z') ||
		    (p[i] >= '0' && p[i] <= '9') ||
		    strchr(ok, p[i]) != NULL) || p[i] == '\0')
			break;
	if (i < len || len == 0) {
		free(tr);
		return NULL;
	}
	memmove(tr, p, len);
	tr[len] = '\0';
	return tr;
}

/*
 * Give rule R the literal strings its pattern and its ASCII projection
 * match, when they are plain (plain_literal()): eval.c then counts
 * matches with memmem() instead of one PCRE2 call per match.
 */
static void
literal_patterns(struct rule *r)
{
	char *tr;

	if (r->re.body == NULL || r->re.code == NULL || r->re.nmore > 0)
		return;
	r->lit = plain_literal(rules__regex_translate(r->re.body),
	    r->re.mods);
	if (r->are.code == NULL || r->are.nmore > 0 ||
	    (tr = rules__regex_translate(r->re.body)) == NULL)
		return;
	r->alit = plain_literal(rules__regex_ascii(tr, r->re.mods),
	    r->re.mods);
	free(tr);
}

/* Header requests, per-type lists, JIT, limits. */
static int
build_lists(struct loader *ld, struct rules_set *set)
{
	uint32_t i, t, jit_fail = 0;
	bool jit_ok = !(ld->opts->flags & RULES_LOAD_NO_JIT);
	uint32_t jit_cfg = 0;

	if (pcre2_config(PCRE2_CONFIG_JIT, &jit_cfg) < 0 || jit_cfg == 0)
		jit_ok = false;
	for (t = 0; t < RULES_T_COUNT; t++)
		if ((set->bytype[t] = calloc(set->nrules + 1,
		    sizeof(uint32_t))) == NULL)
			return -1;
	for (i = 0; i < set->nrules; i++) {
		struct rule *r = &set->rules[i];

		if (r->hdr != NULL) {
			if ((r->hspec = intern_hspec(set, r->hdr)) ==
			    UINT32_MAX)
				return -1;
		}
		if (r->type != RULES_T_META) {
			r->stage = (uint8_t)eval_stage_of(r);
			if (r->re.code != NULL) {
				/*
				 * After a few refusals (W^X policy) stop
				 * asking: the interpreter gives the same
				 * results.
				 */
				if (jit_ok && jit_fail < 3) {
					rules__regex_jit(&r->re, true);
					if (!r->re.jit)
						jit_fail++;
					else
						jit_fail = 0;
				}
				if (r->re.jit)
					ld->diag->jit++;
				else
					ld->diag->interpreted++;
			}
			if (!(ld->opts->flags & RULES_LOAD_PLAIN) &&
			    (r->type == RULES_T_BODY ||
			    r->type == RULES_T_RAWBODY ||
			    r->type == RULES_T_URI) && r->re.body != NULL &&
			    !(r->flags & RF_MULTIPLE) &&
			    !(r->flags & RF_DISABLED))
				joinable(ld, r, jit_ok);
			if (!(ld->opts->flags & RULES_LOAD_PLAIN) &&
			    !(r->flags & RF_DISABLED)) {
				ascii_variants(ld, r, jit_ok);
				exist_variants(ld, r, jit_ok);
			}
			if (!(ld->opts->flags & RULES_LOAD_PLAIN) &&
			    !(r->flags & RF_DISABLED))
				literal_patterns(r);
			r->cond_cls = -1;
			if (!(ld->opts->flags & RULES_LOAD_PLAIN) &&
			    (r->type == RULES_T_BODY ||
			    r->type == RULES_T_RAWBODY ||
			    r->type == RULES_T_URI) &&
			    !(r->flags & RF_DISABLED) &&
			    conditions(set, r) == -1)
				return -1;
			if (!(r->flags & RF_DISABLED))
				set->bytype[r->type][set->nbytype[r->type]++] =
				    i;
		}
	}
	for (t = 0; t < RULES_T_COUNT; t++)
		qsort_r(set->bytype[t], set->nbytype[t], sizeof(uint32_t),
		    t == RULES_T_HEADER || t == RULES_T_MIMEHEADER ?
		    cmp_hspec : cmp_order, set);
	if ((set->limit_seen = calloc(set->nrules + 1,
	    sizeof(*set->limit_seen))) == NULL)
		return -1;
	for (i = 0; i < set->nrules; i++)
		atomic_init(&set->limit_seen[i], false);
	if ((set->mctx_proto = pcre2_match_context_create(NULL)) == NULL)
		return -1;
	if (!(ld->opts->flags & (RULES_LOAD_PLAIN | RULES_LOAD_NO_PREFILTER)))
		ld->diag->prefiltered = rules__prefilter_build(set) +
		    rules__hprefilter_build(set);
	pcre2_set_match_limit(set->mctx_proto, set->match_limit);
	pcre2_set_depth_limit(set->mctx_proto, set->depth_limit);
	if (rules__header_init(set) == -1)
		return -1;
	return rules__hot_init(set);
}

/* Turn the draft into a set. */
int
rules__finish(struct loader *ld, struct rules_set **setp)
{
	struct rules_set *set;

	*setp = NULL;
	if (ld->diag->errors > 0 || ld->oom)
		return -1;
	if ((set = calloc(1, sizeof(*set))) == NULL)
		return -1;
	atomic_init(&set->refs, 1);
	set->match_limit = ld->opts->match_limit ? ld->opts->match_limit :
	    RULES_DEFAULT_MATCH_LIMIT;
	set->depth_limit = ld->opts->depth_limit ? ld->opts->depth_limit :
	    RULES_DEFAULT_DEPTH_LIMIT;
	set->has_required = ld->has_required;
	set->required = ld->required;
	replace_tags(ld);
	if (ld->oom || take_rules(ld, set) == -1 ||
	    build_metas(ld, set) == -1 || ld->diag->errors > 0 ||
	    build_lists(ld, set) == -1) {
		rules_set_unref(set);
		return -1;
	}
	/* The set takes the tables its patterns point to. */
	set->tables = ld->tables;
	ld->tables = NULL;
	/* The set takes the files (rule sites point into them). */
	set->files = ld->files;
	set->nfiles = ld->nfiles;
	ld->files = NULL;
	ld->nfiles = ld->capfiles = 0;
	set->settings = ld->settings;
	memset(&ld->settings, 0, sizeof(ld->settings));
	set->tests = ld->tests;
	set->ntests = ld->ntests;
	ld->tests = NULL;
	ld->ntests = ld->captests = 0;
	ld->diag->tests = set->ntests;
	*setp = set;
	return 0;
}

/* Load rule files into a new set. */
int
rules_load(const char *const paths[], size_t npaths,
    const struct rules_opts *opts, struct rules_set **setp,
    struct rules_diag *diag)
{
	static const struct rules_opts defaults;
	struct loader ld;
	size_t i;
	int rc;

	memset(diag, 0, sizeof(*diag));
	memset(&ld, 0, sizeof(ld));
	*setp = NULL;
	ld.opts = opts != NULL ? opts : &defaults;
	ld.diag = diag;
	if (ld.opts->score_set < 0 || ld.opts->score_set > 3) {
		rules__error(&ld, "score set must be 0 to 3");
		return -1;
	}
	ld.replace_start = strdup("<");
	ld.replace_end = strdup(">");
	if (ld.replace_start == NULL || ld.replace_end == NULL ||
	    (ld.cctx = pcre2_compile_context_create(NULL)) == NULL)
		ld.oom = true;
	else if ((ld.tables = rules__perl_tables()) != NULL)
		pcre2_set_character_tables(ld.cctx, ld.tables);
	for (i = 0; i < npaths && !ld.oom; i++)
		rules__load_path(&ld, paths[i], true);
	if (ld.oom)
		rules__error(&ld, "out of memory");
	rc = rules__finish(&ld, setp);
	if (rc == -1 && ld.oom && diag->errors == 0)
		rules__error(&ld, "out of memory");
	rules__loader_free(&ld);
	return rc;
}

/* Free the notes of a load. */
void
rules_diag_free(struct rules_diag *diag)
{
	size_t i;

	for (i = 0; i < diag->nnotes; i++)
		free(diag->notes[i].text);
	free(diag->notes);
	diag->notes = NULL;
	diag->nnotes = 0;
}

/* Take a reference. */
struct rules_set *
rules_set_ref(struct rules_set *set)
{
	atomic_fetch_add_explicit(&set->refs, 1, memory_order_relaxed);
	return set;
}

/* Drop a reference; the last one frees the set. */
void
rules_set_unref(struct rules_set *set)
{
	uint32_t i;
	size_t k;

	if (set == NULL || atomic_fetch_sub_explicit(&set->refs, 1,
	    memory_order_acq_rel) != 1)
		return;
	for (i = 0; i < set->nrules; i++)
		rules__rule_free(&set->rules[i]);
	free(set->rules);
	rules__map_free(&set->names);
	for (i = 0; i < set->nhspecs; i++)
		free(set->hspecs[i].name);
	free(set->hspecs);
	for (i = 0; i < RULES_T_COUNT; i++)
		free(set->bytype[i]);
	for (i = 0; i < RULES_STAGE_COUNT; i++)
		free(set->metas[i]);
	for (k = 0; k < set->ntests; k++) {
		free(set->tests[k].rule);
		free(set->tests[k].text);
	}
	free(set->tests);
	for (k = 0; k < set->nfiles; k++)
		free(set->files[k]);
	free(set->files);
	rules__kv_free(&set->settings);
	pcre2_match_context_free(set->mctx_proto);
	pcre2_code_free(set->addr_re);
	pcre2_code_free(set->mail_re);
	pcre2_code_free(set->angle_re);
	free(set->limit_seen);
	free(set->cond_cls);
	rules__prefilter_free(set);
	rules__hprefilter_free(set);
	free(set->hot);
	free(set->val0);
	free(set->ops);
	if (set->tables != NULL)
		pcre2_maketables_free(NULL, set->tables);
	free(set);
}

/* Number of rules in the set. */
size_t
rules_count(const struct rules_set *set)
{
	return set->nrules;
}

/* Name of a rule. */
const char *
rules_name(const struct rules_set *set, uint32_t rule)
{
	return rule < set->nrules ? set->rules[rule].name : NULL;
}

/* Type of a rule. */
enum rules_type
rules_type_of(const struct rules_set *set, uint32_t rule)
{
	return rule < set->nrules ? (enum rules_type)set->rules[rule].type :
	    RULES_T_COUNT;
}

/* Find a rule by name. */
int
rules_lookup(const struct rules_set *set, const char *name, uint32_t *rule)
{
	return rules__map_get(&set->names, name, strlen(name), set->rules,
	    rule);
}

/* A rule's description, or NULL. */
const char *
rules_describe(const struct rules_set *set, uint32_t rule)
{
	return rule < set->nrules ? set->rules[rule].describe : NULL;
}

/* Where a rule is defined. */
void
rules_site(const struct rules_set *set, uint32_t rule, const char **file,
    unsigned *line)
{
	*file = rule < set->nrules ? set->rules[rule].file : NULL;
	*line = rule < set->nrules ? set->rules[rule].line : 0;
}

/* required_score, if the files set it. */
bool
rules_required_score(const struct rules_set *set, double *score)
{
	if (set->has_required)
		*score = set->required;
	return set->has_required;
}

/* What a caller may want to know about one rule. */
int
rules_info(const struct rules_set *set, uint32_t rule,
    struct rules_info *info)
{
	const struct rule *r;

	if (rule >= set->nrules)
		return -1;
	r = &set->rules[rule];
	memset(info, 0, sizeof(*info));
	info->name = r->name;
	info->type = (enum rules_type)r->type;
	info->score = r->score;
	info->pattern = r->re.src;
	info->uses = r->uses;
	info->sub = (r->flags & RF_SUB) != 0;
	info->disabled = (r->flags & RF_DISABLED) != 0;
	info->incomplete = (r->flags & RF_INCOMPLETE) != 0;
	info->blocked = (r->flags & RF_BLOCKED) != 0;
	info->multiple = (r->flags & RF_MULTIPLE) != 0;
	info->prefiltered = (r->flags & (RF_PF_ANYHOLD | RF_HPF)) != 0;
	return 0;
}

/* The rules a meta uses directly, each once; returns how many. */
size_t
rules_meta_deps(const struct rules_set *set, uint32_t rule, uint32_t *out,
    size_t max)
{
	const struct rule *r;
	size_t n = 0, k;
	uint32_t i;

	if (rule >= set->nrules || set->rules[rule].type != RULES_T_META)
		return 0;
	r = &set->rules[rule];
	for (i = 0; i < r->nprog; i++) {
		if (r->prog[i].op != MO_RULE)
			continue;
		for (k = 0; k < n && k < max && out[k] != r->prog[i].arg; k++)
			;
		if (k < n && k < max)
			continue;
		if (n < max)
			out[n] = r->prog[i].arg;
		n++;
	}
	return n;
}

/* True for metas over rules the engine does not evaluate. */
bool
rules_incomplete(const struct rules_set *set, uint32_t rule)
{
	return rule < set->nrules &&
	    (set->rules[rule].flags & RF_INCOMPLETE) != 0;
}

/* Names of types, stages and actions. */
const char *
rules_type_name(enum rules_type type)
{
	static const char *const names[] = { "header", "mimeheader", "body",
	    "rawbody", "full", "uri", "meta", "client", "helo", "mailfrom",
	    "rcptto", "auth" };

	return (unsigned)type < RULES_T_COUNT ? names[type] : "?";
}

/* Name of a stage. */
const char *
rules_stage_name(enum rules_stage stage)
{
	static const char *const names[] = { "connect", "helo", "mail",
	    "rcpt", "headers", "eom" };

	return (unsigned)stage < RULES_STAGE_COUNT ? names[stage] : "?";
}

/* Name of an action. */
const char *
rules_action_name(enum rules_action action)
{
	static const char *const names[] = { "none", "tag", "accept",
	    "discard", "tempfail", "reject" };

	return (unsigned)action <= RULES_A_REJECT ? names[action] : "?";
}

/* Bytes of one compiled pattern, JIT code included. */
static size_t
code_size(const pcre2_code *c)
{
	size_t size = 0, jit = 0;

	if (c == NULL)
		return 0;
	pcre2_pattern_info(c, PCRE2_INFO_SIZE, &size);
	if (pcre2_pattern_info(c, PCRE2_INFO_JITSIZE, &jit) != 0)
		jit = 0;
	return size + jit;
}

/* Bytes of a compiled (maybe split) regex. */
static size_t
regex_size(const struct regex *re)
{
	size_t total = code_size(re->code);
	uint32_t i;

	for (i = 0; i < re->nmore; i++)
		total += code_size(re->more[i]);
	return total;
}

/* Approximate memory held by a set. */
size_t
rules_set_memory(const struct rules_set *set)
{
	size_t total = sizeof(*set), i;
	uint32_t j;

	total += set->nrules * (sizeof(struct rule) + sizeof(atomic_bool) +
	    sizeof(uint32_t) * 2);
	total += set->names.size * sizeof(*set->names.slots);
	for (j = 0; j < set->nrules; j++) {
		const struct rule *r = &set->rules[j];
		total += strlen(r->name) + 1 + code_size(r->re.code) +
		    code_size(r->jre.code) + code_size(r->are.code) +
		    code_size(r->jare.code) + code_size(r->pre.code) +
		    code_size(r->jpre.code) + code_size(r->ure.code) +
		    code_size(r->jure.code);
		for (i = 0; i < r->re.nmore; i++)
			total += code_size(r->re.more[i]);
		for (i = 0; r->ex != NULL && i < 4; i++)
			total += regex_size(&r->ex->form[i]);
		if (r->ex != NULL)
			total += sizeof(*r->ex);
		if (r->re.src != NULL)
			total += strlen(r->re.src) + strlen(r->re.body) +
			    strlen(r->re.mods) + 3;
		total += r->nprog * sizeof(*r->prog);
		if (r->describe != NULL)
			total += strlen(r->describe) + 1;
		if (r->meta_src != NULL)
			total += strlen(r->meta_src) + 1;
	}
	for (i = 0; i < set->ntests; i++)
		total += sizeof(set->tests[i]) + set->tests[i].text_len + 1;
	return total + rules__prefilter_memory(set) +
	    rules__hprefilter_memory(set);
}

/* The values of a setting kept for the caller, in file order. */
size_t
rules_settings(const struct rules_set *set, const char *key,
    const char **values, size_t max)
{
	size_t	 i, n = 0;

	for (i = 0; i < set->settings.n; i++)
		if (strcmp(set->settings.keys[i], key) == 0) {
			if (n < max)
				values[n] = set->settings.values[i];
			n++;
		}
	return n;
}

/* Whether this PCRE2 was built with its JIT. */
bool
rules_jit_available(void)
{
	uint32_t jit = 0;

	return pcre2_config(PCRE2_CONFIG_JIT, &jit) >= 0 && jit != 0;
}

/* Whether a header request of SET names Received metadata. */
bool
rules_wants_metadata(const struct rules_set *set)
{
	uint32_t	 i;

	for (i = 0; i < set->nhspecs; i++) {
		const struct hspec *h = &set->hspecs[i];

		if (h->kind == HK_ENVFROM)
			return true;
		if (h->kind == HK_NAME && h->name != NULL &&
		    (strncasecmp(h->name, "X-Spam-Relays-", 14) == 0 ||
		    strncasecmp(h->name, "ALL-", 4) == 0))
			return true;
	}
	return false;
}
