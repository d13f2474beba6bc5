/*
 * parse.c -- rule files, line by line, into the loader's draft.
 *
 * Owns: finding files (glob(3), include relative to the including file),
 * the directive table, if/ifplugin/else/endif, and each directive's
 * syntax.  Semantics follow SpamAssassin 4.0.1's Conf::Parser for
 * SpamAssassin files; gatehouse's own files (*.rules) use the same
 * syntax plus envelope rules, actions and "shadow", and are strict:
 * what SpamAssassin would ignore or warn about is an error there.
 *
 * Invariants: a rule's definition replaces an earlier one of the same
 * name (as in SpamAssassin), attributes (score, describe, tflags,
 * action) may come before or after it.  Regexes are compiled here (no
 * JIT yet) so that errors carry the file and line.
 *
 * Failure: every problem is a note "file:line: message"; any error
 * makes rules_load() refuse the whole set.
 */
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"

#define SA_LANG		"en_US"	/* SpamAssassin in the C locale */
#define SA_VERSION_STR	"4.000001"

static int load_file(struct loader *, const char *path);

/* Intern a file name for the lifetime of the set. */
static const char *
intern_file(struct loader *ld, const char *path)
{
	size_t i;
	char *p;

	for (i = 0; i < ld->nfiles; i++)
		if (strcmp(ld->files[i], path) == 0)
			return ld->files[i];
	if (ld->nfiles == ld->capfiles) {
		size_t ncap = ld->capfiles ? ld->capfiles * 2 : 16;
		char **nf = realloc(ld->files, ncap * sizeof(*nf));
		if (nf == NULL)
			return NULL;
		ld->files = nf;
		ld->capfiles = ncap;
	}
	if ((p = strdup(path)) == NULL)
		return NULL;
	ld->files[ld->nfiles++] = p;
	return p;
}

/* Find the entry for NAME, creating an empty one if asked. */
static struct rule *
entry(struct loader *ld, const char *name, size_t len, bool create)
{
	struct rule *r;
	uint32_t idx;

	if (rules__map_get(&ld->names, name, len, ld->rules, &idx) == 0)
		return &ld->rules[idx];
	if (!create)
		return NULL;
	if (ld->nrules >= RULES_MAX_RULES) {
		rules__error(ld, "too many rules (over %u)", RULES_MAX_RULES);
		return NULL;
	}
	if (ld->nrules == ld->caprules) {
		uint32_t ncap = ld->caprules ? ld->caprules * 2 : 256;
		struct rule *nr = realloc(ld->rules, ncap * sizeof(*nr));
		if (nr == NULL) {
			ld->oom = true;
			return NULL;
		}
		ld->rules = nr;
		ld->caprules = ncap;
	}
	r = &ld->rules[ld->nrules];
	memset(r, 0, sizeof(*r));
	if ((r->name = rules__strndup(name, len)) == NULL ||
	    rules__map_put(&ld->names, r->name, ld->nrules, ld->rules) == -1) {
		free(r->name);
		ld->oom = true;
		return NULL;
	}
	ld->nrules++;
	return r;
}

/* Drop a previous definition's compiled parts before redefining. */
static void
clear_definition(struct rule *r)
{
	rules__regex_free(&r->re);
	free(r->unset);
	free(r->meta_src);
	free(r->prog);
	free(r->hdr);
	r->hdr = NULL;
	r->unset = r->meta_src = NULL;
	r->prog = NULL;
	r->nprog = 0;
	r->flags &= ~(RF_NEG | RF_EXISTS | RF_UNSET | RF_EVAL | RF_DEFINED);
}

/* Split "NAME rest": checks the name; returns the entry or NULL. */
static struct rule *
rule_head(struct loader *ld, const char *key, char **value)
{
	char *p = *value, *name;
	size_t len;

	if ((name = rules__next_word(&p, &len)) == NULL || *p == '\0') {
		rules__error(ld, "%s: missing %s", key, name == NULL ?
		    "rule name" : "definition");
		return NULL;
	}
	if (!rules__valid_name(name, len)) {
		rules__error(ld, "%s: invalid rule name '%.*s' (letters, "
		    "digits and _, not starting with a digit)", key,
		    (int)(len > 130 ? 130 : len), name);
		return NULL;
	}
	if (len > RULES_NAME_MAX) {
		rules__error(ld, "%s: rule name '%.*s' is too long", key,
		    (int)len, name);
		return NULL;
	}
	*value = p;
	return entry(ld, name, len, true);
}

/* Mark R as defined here with TYPE. */
static void
define(struct loader *ld, struct rule *r, enum rules_type type)
{
	clear_definition(r);
	r->type = (uint8_t)type;
	r->flags |= RF_DEFINED;
	r->file = ld->cur->path;
	r->line = ld->cur->line;
	r->order = ++ld->order;
	if (ld->cur->shadow)
		r->flags |= RF_SHADOW;
}

/* Parse and compile a delimited regex into R->re. */
static int
set_regex(struct loader *ld, struct rule *r, const char *src, size_t len)
{
	char err[300];

	if (rules__regex_parse(src, len, &r->re.body, &r->re.mods, err,
	    sizeof(err)) == -1 ||
	    rules__regex_compile(&r->re, r->re.body, r->re.mods, ld->cctx,
	    err, sizeof(err)) == -1) {
		rules__error(ld, "invalid regexp for %s '%.*s': %s", r->name,
		    (int)(len > 200 ? 200 : len), src, err);
		r->flags &= ~RF_DEFINED;
		return -1;
	}
	if ((r->re.src = rules__strndup(src, len)) == NULL) {
		ld->oom = true;
		return -1;
	}
	return 0;
}

/* True if VALUE is "eval:name(args)"; checks the syntax. */
static bool
is_eval(struct loader *ld, struct rule *r, const char *value)
{
	const char *v = value, *p;

	if (strncmp(v, "rbleval:", 8) == 0)
		v += 3;
	if (strncmp(v, "eval:", 5) != 0)
		return false;
	v += 5;
	for (p = v; *p == '_' || (*p >= 'a' && *p <= 'z') ||
	    (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'); p++)
		;
	if (p == v || *p != '(' || value[strlen(value) - 1] != ')') {
		rules__error(ld, "invalid eval rule %s: %s", r->name, value);
		r->flags &= ~RF_DEFINED;
		return true;
	}
	r->flags |= RF_EVAL;
	return true;
}

/* body, rawbody, full, uri and the envelope types. */
static void
d_regex_rule(struct loader *ld, const char *key, char *value,
    enum rules_type type)
{
	struct rule *r;

	if ((r = rule_head(ld, key, &value)) == NULL)
		return;
	define(ld, r, type);
	if (is_eval(ld, r, value)) {
		if (type >= RULES_T_CLIENT && (r->flags & RF_EVAL)) {
			rules__error(ld, "%s: eval: is not supported for %s "
			    "rules", r->name, key);
			r->flags &= ~(RF_DEFINED | RF_EVAL);
		}
		return;
	}
	set_regex(ld, r, value, strlen(value));
}

/* Take "[if-unset: STR]" off the end of VALUE. */
static int
take_unset(struct loader *ld, struct rule *r, char *value)
{
	size_t len = strlen(value);
	char *p;

	if (len < 13 || value[len - 1] != ']')
		return 0;
	for (p = value + len - 1; p > value; p--) {
		if (strncmp(p, "[if-unset:", 10) == 0 &&
		    rules__is_space((unsigned char)p[10]) &&
		    rules__is_space((unsigned char)p[-1])) {
			char *s = p + 10, *e = value + len - 1;
			while (rules__is_space((unsigned char)*s))
				s++;
			if (s >= e)
				return 0;
			if ((r->unset = rules__strndup(s,
			    (size_t)(e - s))) == NULL) {
				ld->oom = true;
				return -1;
			}
			r->flags |= RF_UNSET;
			while (p > value &&
			    rules__is_space((unsigned char)p[-1]))
				p--;
			*p = '\0';
			return 0;
		}
	}
	return 0;
}

/* Intern a header request "Field[:mod[:mod]]". */
static int
hspec_intern(struct loader *ld, struct rule *r, const char *s, size_t len);

/* header NAME Field =~ /re/ [if-unset: X] | exists:Field | eval:... */
static void
d_header(struct loader *ld, const char *key, char *value)
{
	struct rule *r;
	char *p, *hdr;
	size_t hlen;

	if ((r = rule_head(ld, key, &value)) == NULL)
		return;
	define(ld, r, RULES_T_HEADER);
	if (is_eval(ld, r, value))
		return;
	if (strncmp(value, "exists:", 7) == 0) {
		hdr = value + 7;
		hlen = strlen(hdr);
		if (hlen > 0 && hdr[hlen - 1] == ':')
			hlen--;
		for (p = hdr; p < hdr + hlen; p++)
			if (!(*p == '_' || *p == '.' || *p == '-' ||
			    (*p >= 'a' && *p <= 'z') ||
			    (*p >= 'A' && *p <= 'Z') ||
			    (*p >= '0' && *p <= '9')))
				break;
		if (hlen == 0 || p != hdr + hlen) {
			rules__error(ld, "invalid head test %s header: %s",
			    r->name, hdr);
			r->flags &= ~RF_DEFINED;
			return;
		}
		r->flags |= RF_EXISTS;
		hspec_intern(ld, r, hdr, hlen);
		return;
	}
	/* ^([\w.-]+(?:\:|(?:\:[a-z]+){1,2})?)\s*([=!]~)\s*(.+)$ */
	hdr = value;
	for (p = hdr; *p == '_' || *p == '.' || *p == '-' ||
	    (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
	    (*p >= '0' && *p <= '9'); p++)
		;
	if (*p == ':') {
		int mods = 0;
		while (*p == ':' && mods < 2 && p[1] >= 'a' && p[1] <= 'z') {
			for (p++; *p >= 'a' && *p <= 'z'; p++)
				;
			mods++;
		}
		if (*p == ':' && mods == 0)
			p++;
	}
	hlen = (size_t)(p - hdr);
	while (rules__is_space((unsigned char)*p))
		p++;
	if (hlen == 0 || (p[0] != '=' && p[0] != '!') || p[1] != '~') {
		rules__error(ld, "invalid head test %s: %s", r->name, value);
		r->flags &= ~RF_DEFINED;
		return;
	}
	if (p[0] == '!')
		r->flags |= RF_NEG;
	for (p += 2; rules__is_space((unsigned char)*p); p++)
		;
	if (*p == '\0') {
		rules__error(ld, "invalid head test %s: %s", r->name, value);
		r->flags &= ~RF_DEFINED;
		return;
	}
	if (hlen > 0 && hdr[hlen - 1] == ':')
		hlen--;
	if (hspec_intern(ld, r, hdr, hlen) == -1 ||
	    take_unset(ld, r, p) == -1)
		return;
	set_regex(ld, r, p, strlen(p));
}

/* mimeheader NAME Field[:raw] =~ /re/ [if-unset: X] */
static void
d_mimeheader(struct loader *ld, const char *key, char *value)
{
	struct rule *r;
	char *p, *hdr;
	size_t hlen;

	if ((r = rule_head(ld, key, &value)) == NULL)
		return;
	define(ld, r, RULES_T_MIMEHEADER);
	/* ^([^:\s]+(?:\:(?:raw)?)?)\s*([=!]~)\s*(.+)$ */
	hdr = value;
	for (p = hdr; *p != '\0' && *p != ':' &&
	    !rules__is_space((unsigned char)*p) && *p != '=' && *p != '!';
	    p++)
		;
	if (*p == ':')
		p += strncmp(p, ":raw", 4) == 0 ? 4 : 1;
	hlen = (size_t)(p - hdr);
	while (rules__is_space((unsigned char)*p))
		p++;
	if (hlen == 0 || (p[0] != '=' && p[0] != '!') || p[1] != '~' ||
	    p[2] == '\0') {
		rules__error(ld, "invalid mimeheader test %s: %s", r->name,
		    value);
		r->flags &= ~RF_DEFINED;
		return;
	}
	if (p[0] == '!')
		r->flags |= RF_NEG;
	for (p += 2; rules__is_space((unsigned char)*p); p++)
		;
	if (hlen > 0 && hdr[hlen - 1] == ':')
		hlen--;
	if (hspec_intern(ld, r, hdr, hlen) == -1 ||
	    take_unset(ld, r, p) == -1)
		return;
	set_regex(ld, r, p, strlen(p));
}

/* Meta syntax check: any rule name is fine, values are 0. */
static int
check_ident(void *arg, const char *name, size_t len, struct meta_op *op)
{
	(void)arg;
	if (!rules__valid_name(name, len))
		return -1;
	op->op = MO_NUM;
	op->num = 0;
	return 0;
}

/* Expand rules_matching(...) to 0 for the syntax check. */
static char *
meta_for_check(const char *src)
{
	struct sbuf sb = { 0 };
	const char *p = src, *q;

	while ((q = strstr(p, "rules_matching")) != NULL) {
		const char *c = q + 14;
		if (q > src && (q[-1] == '_' || (q[-1] >= 'a' && q[-1] <= 'z')
		    || (q[-1] >= 'A' && q[-1] <= 'Z') ||
		    (q[-1] >= '0' && q[-1] <= '9'))) {
			rules__sb_add(&sb, p, (size_t)(c - p));
			p = c;
			continue;
		}
		while (rules__is_space((unsigned char)*c))
			c++;
		if (*c != '(' || strchr(c, ')') == NULL) {
			rules__sb_add(&sb, p, (size_t)(c - p));
			p = c;
			continue;
		}
		rules__sb_add(&sb, p, (size_t)(q - p));
		rules__sb_adds(&sb, " 0 ");
		p = strchr(c, ')') + 1;
	}
	rules__sb_adds(&sb, p);
	return rules__sb_take(&sb);
}

/* meta NAME expression */
static void
d_meta(struct loader *ld, const char *key, char *value)
{
	struct expr_ctx ctx = { ld, check_ident, NULL, NULL };
	struct meta_op *prog;
	uint32_t nprog;
	double st[RULES_META_DEPTH * 4 + 8], zero = 0;
	char err[200], *chk;
	const char *p;
	bool dz = false;
	struct rule *r;

	if ((r = rule_head(ld, key, &value)) == NULL)
		return;
	define(ld, r, RULES_T_META);
	for (p = value; *p != '\0'; p++) {
		if (*p == '*') {
			const char *q = p + 1;
			while (rules__is_space((unsigned char)*q))
				q++;
			if (*q == '*')
				break;
		}
		if (strchr("$@%;{}", *p) != NULL || (p[0] == ':' &&
		    p[1] == ':') || (p[0] == '-' && p[1] == '>'))
			break;
	}
	if (*p != '\0') {
		rules__error(ld, "invalid meta %s rule: %s", r->name, value);
		r->flags &= ~RF_DEFINED;
		return;
	}
	if ((chk = meta_for_check(value)) == NULL) {
		ld->oom = true;
		return;
	}
	if (rules__expr_compile(&ctx, chk, &prog, &nprog, err,
	    sizeof(err)) == -1) {
		rules__error(ld, "invalid expression for rule %s: \"%s\": %s",
		    r->name, value, err);
		r->flags &= ~RF_DEFINED;
		free(chk);
		return;
	}
	free(chk);
	if (rules__expr_stack(prog, nprog) < sizeof(st) / sizeof(st[0]))
		(void)rules__expr_run(prog, nprog, &zero, st, &dz);
	free(prog);
	if (dz) {
		rules__error(ld, "invalid expression for rule %s: \"%s\": "
		    "division by zero possible", r->name, value);
		r->flags &= ~RF_DEFINED;
		return;
	}
	if ((r->meta_src = strdup(value)) == NULL)
		ld->oom = true;
}

/* score NAME s [s s s], each maybe "(relative)". */
static void
d_score(struct loader *ld, const char *key, char *value)
{
	char *p = value, *w, buf[64];
	size_t len, n = 0, i;
	double s[4];
	bool relative = false;
	struct rule *r;
	const char *name;
	size_t nlen;

	if ((name = rules__next_word(&p, &nlen)) == NULL) {
		rules__error(ld, "%s: requires a rule name and 1 or 4 scores",
		    key);
		return;
	}
	while ((w = rules__next_word(&p, &len)) != NULL) {
		if (n == 4 || len >= sizeof(buf)) {
			n = 5;
			break;
		}
		if (len > 2 && w[0] == '(' && w[len - 1] == ')') {
			relative = true;
			w++;
			len -= 2;
		}
		memcpy(buf, w, len);
		buf[len] = '\0';
		if (buf[0] == '+' || rules__parse_number(buf, &s[n]) == -1) {
			rules__error(ld, "%s: the non-numeric score (%s) is "
			    "not valid, a numeric score is required", key, buf);
			return;
		}
		n++;
	}
	if (n != 1 && n != 4) {
		rules__error(ld, "%s: requires a rule name and 1 or 4 scores",
		    key);
		return;
	}
	if ((r = entry(ld, name, nlen, true)) == NULL)
		return;
	if (relative && !(r->flags & RF_HAS_SCORE)) {
		rules__error(ld, "%s: relative score without previous setting",
		    key);
		return;
	}
	for (i = 0; i < 4; i++) {
		double v = s[n == 4 ? i : 0];
		r->scores[i] = relative ? r->scores[i] + v : v;
	}
	r->flags |= RF_HAS_SCORE;
}

/* Replace *DST by a copy of SRC. */
static void
set_string(struct loader *ld, char **dst, const char *src)
{
	char *p = strdup(src);

	if (p == NULL) {
		ld->oom = true;
		return;
	}
	free(*dst);
	*dst = p;
}

/* describe NAME text / tflags NAME flags */
static void
d_attr(struct loader *ld, const char *key, char *value)
{
	char *p = value;
	const char *name;
	size_t nlen;
	struct rule *r;

	if ((name = rules__next_word(&p, &nlen)) == NULL || *p == '\0') {
		rules__error(ld, "missing '%s' value", key);
		return;
	}
	if ((r = entry(ld, name, nlen, true)) == NULL)
		return;
	if (strcmp(key, "describe") == 0)
		set_string(ld, &r->describe, p);
	else
		set_string(ld, &r->tflags, p);
}

/* test NAME ok|fail STRING */
static void
d_test(struct loader *ld, const char *key, char *value)
{
	char *p = value, *name, *kind;
	size_t nlen, klen;
	struct selftest *t;

	(void)key;
	if ((name = rules__next_word(&p, &nlen)) == NULL ||
	    (kind = rules__next_word(&p, &klen)) == NULL ||
	    !((klen == 2 && strncmp(kind, "ok", 2) == 0) ||
	    (klen == 4 && strncmp(kind, "fail", 4) == 0))) {
		rules__error(ld, "invalid 'test' value (test NAME ok|fail "
		    "STRING)");
		return;
	}
	if (ld->opts->flags & RULES_LOAD_NO_TESTS)
		return;
	if (ld->ntests == ld->captests) {
		size_t ncap = ld->captests ? ld->captests * 2 : 32;
		struct selftest *nt = realloc(ld->tests, ncap * sizeof(*nt));
		if (nt == NULL) {
			ld->oom = true;
			return;
		}
		ld->tests = nt;
		ld->captests = ncap;
	}
	t = &ld->tests[ld->ntests];
	t->rule = rules__strndup(name, nlen);
	t->text_len = strlen(p);
	t->text = rules__strndup(p, t->text_len);
	t->ok = klen == 2;
	t->file = ld->cur->path;
	t->line = ld->cur->line;
	if (t->rule == NULL || t->text == NULL) {
		free(t->rule);
		free(t->text);
		ld->oom = true;
		return;
	}
	ld->ntests++;
}

/* Check an SMTP reply: code of the right class, printable, capped. */
static int
check_reply(struct loader *ld, const char *reply, char cls)
{
	const unsigned char *p;

	if (strlen(reply) > 512) {
		rules__error(ld, "action: reply text too long (over 512)");
		return -1;
	}
	if (reply[0] != cls || reply[1] < '0' || reply[1] > '9' ||
	    reply[2] < '0' || reply[2] > '9' || (reply[3] != ' ' &&
	    reply[3] != '\0')) {
		rules__error(ld, "action: reply must start with a %cxx code: "
		    "\"%s\"", cls, reply);
		return -1;
	}
	for (p = (const unsigned char *)reply; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e) {
			rules__error(ld, "action: reply text must be "
			    "printable ASCII");
			return -1;
		}
	return 0;
}

/* action NAME [shadow] reject|tempfail ["code text"] | accept | ... */
static void
d_action(struct loader *ld, const char *key, char *value)
{
	static const struct {
		const char		*word;
		enum rules_action	 action;
		bool			 reply;		/* takes a reply */
	} acts[] = {
		{ "reject", RULES_A_REJECT, true },
		{ "tempfail", RULES_A_TEMPFAIL, true },
		{ "accept", RULES_A_ACCEPT, false },
		{ "discard", RULES_A_DISCARD, false },
		{ "tag", RULES_A_TAG, false },
	};
	char *p = value, *w, *reply = NULL;
	size_t len, i;
	bool shadow = false;
	struct rule *r;

	if ((w = rules__next_word(&p, &len)) == NULL) {
		rules__error(ld, "%s: missing rule name", key);
		return;
	}
	if (!rules__valid_name(w, len)) {
		rules__error(ld, "%s: invalid rule name '%.*s'", key,
		    (int)(len > 130 ? 130 : len), w);
		return;
	}
	if ((r = entry(ld, w, len, true)) == NULL)
		return;
	w = rules__next_word(&p, &len);
	if (w != NULL && len == 6 && strncmp(w, "shadow", 6) == 0) {
		shadow = true;
		w = rules__next_word(&p, &len);
	}
	if (w == NULL && shadow) {
		r->action = RULES_A_NONE;
		goto done;
	}
	for (i = 0; w != NULL && i < sizeof(acts) / sizeof(acts[0]); i++)
		if (strlen(acts[i].word) == len &&
		    strncmp(acts[i].word, w, len) == 0)
			break;
	if (w == NULL || i == sizeof(acts) / sizeof(acts[0])) {
		rules__error(ld, "%s: expected reject, tempfail, accept, "
		    "discard, tag or shadow", key);
		return;
	}
	if (*p != '\0' && !acts[i].reply) {
		rules__error(ld, "%s: '%s' takes no argument", key,
		    acts[i].word);
		return;
	}
	if (*p != '\0') {
		len = strlen(p);
		if (len < 2 || p[0] != '"' || p[len - 1] != '"') {
			rules__error(ld, "%s: reply text must be in double "
			    "quotes", key);
			return;
		}
		p[len - 1] = '\0';
		reply = p + 1;
		if (check_reply(ld, reply, acts[i].action == RULES_A_REJECT ?
		    '5' : '4') == -1)
			return;
	}
	r->action = (uint8_t)acts[i].action;
	free(r->reply);
	r->reply = NULL;
	if (reply != NULL && (r->reply = strdup(reply)) == NULL)
		ld->oom = true;
done:
	r->action_shadow = shadow || ld->cur->shadow ||
	    (ld->opts->flags & RULES_LOAD_SHADOW);
	r->action_file = ld->cur->path;
	r->action_line = ld->cur->line;
	if (r->action == RULES_A_NONE)
		r->flags |= RF_SHADOW;
}

/* shadow yes|no: actions and scores of what follows in this file. */
static void
d_shadow(struct loader *ld, const char *key, char *value)
{
	if (strcmp(value, "yes") == 0 || strcmp(value, "1") == 0)
		ld->cur->shadow = true;
	else if (strcmp(value, "no") == 0 || strcmp(value, "0") == 0)
		ld->cur->shadow = (ld->opts->flags & RULES_LOAD_SHADOW) != 0;
	else
		rules__error(ld, "%s: expected yes or no", key);
}

/* required_score N */
static void
d_required(struct loader *ld, const char *key, char *value)
{
	double v;

	if (rules__parse_number(value, &v) == -1) {
		rules__error(ld, "invalid '%s' value", key);
		return;
	}
	ld->has_required = true;
	ld->required = v;
}

/* priority NAME n: accepted, checked, not used. */
static void
d_priority(struct loader *ld, const char *key, char *value)
{
	char *p = value, *name, *n;
	size_t nlen, len, i;

	if ((name = rules__next_word(&p, &nlen)) == NULL ||
	    (n = rules__next_word(&p, &len)) == NULL) {
		rules__error(ld, "missing '%s' value", key);
		return;
	}
	for (i = (n[0] == '-'); i < len; i++)
		if (n[i] < '0' || n[i] > '9')
			break;
	if (!rules__valid_name(name, nlen) || i != len || len == 0)
		rules__error(ld, "invalid '%s' value", key);
}

/* Add a NAME VALUE pair to a tag set (replace_tag etc.). */
static void
d_tag(struct loader *ld, const char *key, char *value)
{
	struct tagset *ts;
	char *p = value, *name;
	size_t nlen;
	struct tagdef *nv;

	if (strcmp(key, "replace_tag") == 0)
		ts = &ld->tag;
	else if (strcmp(key, "replace_pre") == 0)
		ts = &ld->pre;
	else if (strcmp(key, "replace_post") == 0)
		ts = &ld->post;
	else
		ts = &ld->inter;
	if ((name = rules__next_word(&p, &nlen)) == NULL || *p == '\0') {
		rules__error(ld, "missing '%s' value", key);
		return;
	}
	if ((nv = realloc(ts->v, (ts->n + 1) * sizeof(*nv))) == NULL) {
		ld->oom = true;
		return;
	}
	ts->v = nv;
	nv[ts->n].name = rules__strndup(name, nlen);
	nv[ts->n].value = strdup(p);
	if (nv[ts->n].name == NULL || nv[ts->n].value == NULL) {
		free(nv[ts->n].name);
		free(nv[ts->n].value);
		ld->oom = true;
		return;
	}
	ts->n++;
}

/* replace_rules NAME... */
static void
d_replace_rules(struct loader *ld, const char *key, char *value)
{
	char *p = value, *w;
	size_t len;
	struct rule *r;

	(void)key;
	while ((w = rules__next_word(&p, &len)) != NULL)
		if ((r = entry(ld, w, len, true)) != NULL)
			r->flags |= RF_REPLACE;
}

/* replace_start / replace_end */
static void
d_replace_delim(struct loader *ld, const char *key, char *value)
{
	set_string(ld, strcmp(key, "replace_start") == 0 ?
	    &ld->replace_start : &ld->replace_end, value);
}

/* include FILE (relative to this file's directory; globs allowed) */
static void
d_include(struct loader *ld, const char *key, char *value)
{
	char path[PATH_MAX];
	const char *slash;
	int n;

	(void)key;
	if (value[0] == '/')
		n = snprintf(path, sizeof(path), "%s", value);
	else if ((slash = strrchr(ld->cur->path, '/')) != NULL)
		n = snprintf(path, sizeof(path), "%.*s/%s",
		    (int)(slash - ld->cur->path), ld->cur->path, value);
	else
		n = snprintf(path, sizeof(path), "%s", value);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		rules__error(ld, "include: path too long");
		return;
	}
	rules__load_path(ld, path, true);
}

/* require_version V: other versions skip the rest of the file. */
static void
d_require_version(struct loader *ld, const char *key, char *value)
{
	(void)key;
	if (strcmp(value, "@@VERSION@@") == 0 ||
	    strcmp(value, SA_VERSION_STR) == 0)
		return;
	rules__warn(ld, "file requires version %s of SpamAssassin, "
	    "skipping the rest of it", value);
	ld->cur->skipping = true;
	ld->cur->skip_file = true;
}

/* loadplugin / tryplugin: plugins are gatehouse's business. */
static void
d_ignore(struct loader *ld, const char *key, char *value)
{
	(void)key;
	(void)value;
	ld->diag->ignored++;
}

/* Rule type directives go through one handler each. */
#define TYPED(fn, type)							\
static void								\
fn(struct loader *ld, const char *key, char *value)			\
{									\
	d_regex_rule(ld, key, value, type);				\
}
TYPED(d_body, RULES_T_BODY)
TYPED(d_rawbody, RULES_T_RAWBODY)
TYPED(d_full, RULES_T_FULL)
TYPED(d_uri, RULES_T_URI)
TYPED(d_client, RULES_T_CLIENT)
TYPED(d_helo, RULES_T_HELO)
TYPED(d_mailfrom, RULES_T_MAILFROM)
TYPED(d_rcptto, RULES_T_RCPTTO)
TYPED(d_auth, RULES_T_AUTH)

#define D_VALUE		0x01	/* requires a value */
#define D_GATEHOUSE	0x02	/* gatehouse's own */

static const struct directive {
	const char	*key;
	void		(*fn)(struct loader *, const char *, char *);
	unsigned	 flags;
} directives[] = {
	{ "action",		d_action,	D_VALUE | D_GATEHOUSE },
	{ "auth",		d_auth,		D_VALUE | D_GATEHOUSE },
	{ "body",		d_body,		D_VALUE },
	{ "client",		d_client,	D_VALUE | D_GATEHOUSE },
	{ "describe",		d_attr,		D_VALUE },
	{ "full",		d_full,		D_VALUE },
	{ "header",		d_header,	D_VALUE },
	{ "helo",		d_helo,		D_VALUE | D_GATEHOUSE },
	{ "include",		d_include,	D_VALUE },
	{ "loadplugin",		d_ignore,	D_VALUE },
	{ "mailfrom",		d_mailfrom,	D_VALUE | D_GATEHOUSE },
	{ "meta",		d_meta,		D_VALUE },
	{ "mimeheader",		d_mimeheader,	D_VALUE },
	{ "priority",		d_priority,	D_VALUE },
	{ "rawbody",		d_rawbody,	D_VALUE },
	{ "rcptto",		d_rcptto,	D_VALUE | D_GATEHOUSE },
	{ "replace_end",	d_replace_delim, D_VALUE },
	{ "replace_inter",	d_tag,		D_VALUE },
	{ "replace_post",	d_tag,		D_VALUE },
	{ "replace_pre",	d_tag,		D_VALUE },
	{ "replace_rules",	d_replace_rules, D_VALUE },
	{ "replace_start",	d_replace_delim, D_VALUE },
	{ "replace_tag",	d_tag,		D_VALUE },
	{ "require_version",	d_require_version, D_VALUE },
	{ "required_hits",	d_required,	D_VALUE },
	{ "required_score",	d_required,	D_VALUE },
	{ "score",		d_score,	D_VALUE },
	{ "shadow",		d_shadow,	D_VALUE | D_GATEHOUSE },
	{ "test",		d_test,		D_VALUE },
	{ "tflags",		d_attr,		D_VALUE },
	{ "tryplugin",		d_ignore,	D_VALUE },
	{ "uri",		d_uri,		D_VALUE },
};

/* bsearch comparison of a key with a directive. */
static int
dir_cmp(const void *k, const void *d)
{
	return strcmp(k, ((const struct directive *)d)->key);
}

/* Plugins gatehouse implements (present for ifplugin / plugin()). */
static const char *const plugins_present[] = {
	"Mail::SpamAssassin::Plugin::Check",
	"Mail::SpamAssassin::Plugin::MIMEHeader",
	"Mail::SpamAssassin::Plugin::ReplaceTags",
};

/* Methods for which can()/has() is true. */
static const char *const methods_present[] = {
	"Mail::SpamAssassin::Conf::feature_originating_ip_headers",
	"Mail::SpamAssassin::Conf::feature_dns_local_ports_permit_avoid",
	"Mail::SpamAssassin::Conf::feature_bayes_auto_learn_on_error",
	"Mail::SpamAssassin::Conf::feature_uri_host_listed",
	"Mail::SpamAssassin::Conf::feature_yesno_takes_args",
	"Mail::SpamAssassin::Conf::feature_bug6558_free",
	"Mail::SpamAssassin::Conf::feature_edns",
	"Mail::SpamAssassin::Conf::feature_dns_query_restriction",
	"Mail::SpamAssassin::Conf::feature_registryboundaries",
	"Mail::SpamAssassin::Conf::feature_geodb",
	"Mail::SpamAssassin::Conf::feature_dns_block_rule",
	"Mail::SpamAssassin::Conf::feature_compile_regexp",
	"Mail::SpamAssassin::Conf::feature_meta_rules_matching",
	"Mail::SpamAssassin::Conf::feature_subjprefix",
	"Mail::SpamAssassin::Conf::feature_bayes_stopwords",
	"Mail::SpamAssassin::Conf::feature_blocklist_welcomelist",
	"Mail::SpamAssassin::Conf::feature_welcomelist_blocklist",
	"Mail::SpamAssassin::Conf::feature_header_address_parser",
	"Mail::SpamAssassin::Conf::feature_local_tests_only",
	"Mail::SpamAssassin::Conf::feature_header_first_last",
	"Mail::SpamAssassin::Conf::feature_header_match_many",
	"Mail::SpamAssassin::Conf::has_tflags_nosubject",
	"Mail::SpamAssassin::Conf::has_tflags_nolog",
	"Mail::SpamAssassin::Conf::perl_min_version_5010000",
	"Mail::SpamAssassin::Plugin::MIMEHeader::has_all_header",
	"Mail::SpamAssassin::Plugin::MIMEHeader::has_tflags_range",
	"Mail::SpamAssassin::Plugin::MIMEHeader::has_tflags_concat",
	"Mail::SpamAssassin::Plugin::MIMEHeader::has_tflags_multiple",
};

/* True if NAME (LEN bytes) is in LIST. */
static bool
in_list(const char *const *list, size_t n, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strlen(list[i]) == len && strncmp(list[i], name, len) == 0)
			return true;
	return false;
}

/* "if" identifiers: version, perl_version, local_tests_only. */
static int
cond_ident(void *arg, const char *name, size_t len, struct meta_op *op)
{
	(void)arg;
	op->op = MO_NUM;
	if (len == 7 && strncmp(name, "version", 7) == 0)
		op->num = RULES_SA_VERSION;
	else if (len == 12 && strncmp(name, "perl_version", 12) == 0)
		op->num = RULES_PERL_VERSION;
	else if (len == 16 && strncmp(name, "local_tests_only", 16) == 0)
		op->num = 1;
	else
		return -1;
	return 0;
}

/* "if" functions: plugin(X), can(X::m), has(X::m). */
static int
cond_call(void *arg, const char *fn, size_t fnlen, const char *a,
    size_t alen, double *val)
{
	static const char dmarc[] = "Mail::SpamAssassin::Plugin::Dmarc";
	(void)arg;

	if (fnlen == 6 && strncmp(fn, "plugin", 6) == 0) {
		if (alen == sizeof(dmarc) - 1 && strncmp(a, dmarc, alen) == 0)
			a = "Mail::SpamAssassin::Plugin::DMARC";
		*val = in_list(plugins_present, sizeof(plugins_present) /
		    sizeof(plugins_present[0]), a, alen);
		return 0;
	}
	if ((fnlen == 3 && strncmp(fn, "can", 3) == 0) ||
	    (fnlen == 3 && strncmp(fn, "has", 3) == 0)) {
		*val = in_list(methods_present, sizeof(methods_present) /
		    sizeof(methods_present[0]), a, alen);
		return 0;
	}
	return -1;
}

/* Evaluate an if/ifplugin condition: 1 true, 0 false, -1 error. */
static int
condition(struct loader *ld, const char *expr)
{
	struct expr_ctx ctx = { ld, cond_ident, cond_call, NULL };
	struct meta_op *prog;
	uint32_t nprog;
	double st[RULES_META_DEPTH * 4 + 8], v;
	char err[200];

	if (rules__expr_compile(&ctx, expr, &prog, &nprog, err,
	    sizeof(err)) == -1) {
		rules__error(ld, "unparseable condition '%s': %s", expr, err);
		return -1;
	}
	v = 0;
	if (rules__expr_stack(prog, nprog) < sizeof(st) / sizeof(st[0]))
		v = rules__expr_run(prog, nprog, NULL, st, NULL);
	free(prog);
	return v != 0;
}

/* Push a conditional; skip what follows if COND is false. */
static void
push_cond(struct loader *ld, const char *key, const char *expr,
    bool ifplugin)
{
	struct srcfile *f = ld->cur;
	char buf[RULES_LINE_MAX + 16];
	int c;

	if (f->nconds == f->capconds) {
		size_t ncap = f->capconds ? f->capconds * 2 : 8;
		struct cond *nc = realloc(f->conds, ncap * sizeof(*nc));
		if (nc == NULL) {
			ld->oom = true;
			return;
		}
		f->conds = nc;
		f->capconds = ncap;
	}
	f->conds[f->nconds].was_skipping = f->skipping;
	f->conds[f->nconds].line = f->line;
	f->conds[f->nconds].is_ifplugin = ifplugin;
	f->nconds++;
	if (*expr == '\0') {
		rules__error(ld, "missing '%s' condition", key);
		return;
	}
	if (f->skipping)
		return;
	if (ifplugin) {
		snprintf(buf, sizeof(buf), "plugin(%s)", expr);
		expr = buf;
	}
	if ((c = condition(ld, expr)) != 1)
		f->skipping = true;
}

/* Settings the rule engine does not use but hands to its caller. */
static bool
kept_setting(const char *key)
{
	return strcmp(key, "util_rb_tld") == 0 ||
	    strcmp(key, "util_rb_2tld") == 0 ||
	    strcmp(key, "util_rb_3tld") == 0 ||
	    strcmp(key, "redirector_pattern") == 0 ||
	    strcmp(key, "originating_ip_headers") == 0 ||
	    strcmp(key, "clear_originating_ip_headers") == 0;
}

/* Remember "key value" for rules_settings(). */
static void
keep_setting(struct loader *ld, const char *key, const char *value)
{
	struct kvlist	*kv = &ld->settings;

	if (kv->n == kv->cap) {
		size_t	 ncap = kv->cap ? kv->cap * 2 : 16;
		char	**nk = realloc(kv->keys, ncap * sizeof(*nk));
		char	**nv;

		if (nk == NULL) {
			ld->oom = true;
			return;
		}
		kv->keys = nk;
		if ((nv = realloc(kv->values, ncap * sizeof(*nv))) == NULL) {
			ld->oom = true;
			return;
		}
		kv->values = nv;
		kv->cap = ncap;
	}
	kv->keys[kv->n] = strdup(key);
	kv->values[kv->n] = strdup(value ? value : "");
	if (kv->keys[kv->n] == NULL || kv->values[kv->n] == NULL) {
		free(kv->keys[kv->n]);
		free(kv->values[kv->n]);
		ld->oom = true;
		return;
	}
	kv->n++;
}

/* Free a kvlist. */
void
rules__kv_free(struct kvlist *kv)
{
	size_t	 i;

	for (i = 0; i < kv->n; i++) {
		free(kv->keys[i]);
		free(kv->values[i]);
	}
	free(kv->keys);
	free(kv->values);
	memset(kv, 0, sizeof(*kv));
}

/* Handle one cleaned, non-empty line. */
static void
parse_line(struct loader *ld, char *line)
{
	struct srcfile *f = ld->cur;
	const struct directive *d;
	char *value, *p;
	size_t i;

	if (strncmp(line, "lang", 4) == 0 && rules__is_space(
	    (unsigned char)line[4])) {
		char *l = line + 4, *lang;
		size_t llen;
		p = l;
		if ((lang = rules__next_word(&p, &llen)) != NULL &&
		    *p != '\0') {
			/* SpamAssassin: next if $lang !~ /^$1/i */
			if (llen > strlen(SA_LANG) ||
			    strncasecmp(SA_LANG, lang, llen) != 0)
				return;
			line = p;
		}
	}
	for (p = line; *p != '\0' && !rules__is_space((unsigned char)*p); p++)
		*p = (*p == '-') ? '_' : (char)(*p >= 'A' && *p <= 'Z' ?
		    *p - 'A' + 'a' : *p);
	if (*p != '\0') {
		*p++ = '\0';
		while (rules__is_space((unsigned char)*p))
			p++;
	}
	value = p;

	if (strcmp(line, "endif") == 0) {
		if (*value != '\0')
			rules__error(ld, "'endif' must be standalone");
		else if (f->nconds == 0)
			rules__error(ld, "missing starting 'if' for 'endif'");
		else if (!f->skip_file)
			f->skipping = f->conds[--f->nconds].was_skipping;
		else
			f->nconds--;
		return;
	}
	if (strcmp(line, "if") == 0 || strcmp(line, "ifplugin") == 0) {
		push_cond(ld, line, value, line[2] == 'p');
		return;
	}
	if (strcmp(line, "else") == 0) {
		if (*value != '\0') {
			rules__error(ld, "'else' must be standalone");
			return;
		}
		if (f->nconds == 0) {
			rules__error(ld, "'else' missing starting if");
			return;
		}
		if (f->skip_file)
			return;
		for (i = 0; i < f->nconds; i++)
			if (f->conds[i].was_skipping)
				break;
		f->skipping = i < f->nconds ? true : !f->skipping;
		return;
	}
	if (f->skipping) {
		static const char *const types[] = { "header", "mimeheader",
		    "body", "rawbody", "full", "uri", "meta", "client", "helo",
		    "mailfrom", "rcptto", "auth" };
		char *v = value, *w;
		size_t wl;

		for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (strcmp(line, types[i]) == 0)
				break;
		if (i == sizeof(types) / sizeof(types[0]))
			return;
		/* an eval: rule counts as such wherever it is */
		if ((w = rules__next_word(&v, &wl)) != NULL &&
		    (strncmp(v, "eval:", 5) == 0 ||
		    strncmp(v, "rbleval:", 8) == 0))
			ld->diag->eval_skipped++;
		else
			ld->diag->cond_skipped++;
		return;
	}
	d = bsearch(line, directives, sizeof(directives) /
	    sizeof(directives[0]), sizeof(directives[0]), dir_cmp);
	if (d != NULL) {
		if ((d->flags & D_VALUE) && *value == '\0') {
			rules__error(ld, "missing '%s' value", line);
			return;
		}
		d->fn(ld, line, value);
		return;
	}
	if (rules__sa_directive(line)) {
		if (f->sa && kept_setting(line)) {
			/* a clear is an empty value of the list it clears */
			if (strcmp(line, "clear_originating_ip_headers") == 0)
				keep_setting(ld, "originating_ip_headers", "");
			else
				keep_setting(ld, line, value);
			return;
		}
		if (f->sa)
			ld->diag->ignored++;
		else
			rules__error(ld, "'%s' is a SpamAssassin setting that "
			    "gatehouse does not support", line);
		return;
	}
	rules__lenient(ld, "unknown directive '%.60s'", line);
}

/* Read and parse one file. */
static int
load_file(struct loader *ld, const char *path)
{
	struct srcfile f, *saved = ld->cur;
	char *buf, *line, *nl;
	size_t len, llen, i;

	memset(&f, 0, sizeof(f));
	if ((f.path = intern_file(ld, path)) == NULL) {
		ld->oom = true;
		return -1;
	}
	if (ld->depth >= RULES_INCLUDE_DEPTH) {
		rules__error(ld, "%s: includes nested too deeply (over %d)",
		    path, RULES_INCLUDE_DEPTH);
		return -1;
	}
	if (rules__read_file(ld, path, &buf, &len) == -1)
		return -1;
	llen = strlen(path);
	f.sa = !(llen >= 6 && strcmp(path + llen - 6, ".rules") == 0);
	f.shadow = (ld->opts->flags & RULES_LOAD_SHADOW) != 0;
	ld->diag->files++;
	ld->depth++;
	ld->cur = &f;
	for (line = buf; line < buf + len && !ld->oom; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(buf + len - line));
		if (nl == NULL)
			nl = buf + len;
		*nl = '\0';
		f.line++;
		llen = (size_t)(nl - line);
		if (llen > RULES_LINE_MAX) {
			rules__error(ld, "line too long (over %d bytes)",
			    RULES_LINE_MAX);
			continue;
		}
		if (memchr(line, '\0', llen) != NULL) {
			rules__error(ld, "NUL byte in line");
			continue;
		}
		if (rules__clean_line(line, llen) == 0)
			continue;
		parse_line(ld, line);
	}
	for (i = 0; i < f.nconds; i++) {
		f.line = f.conds[i].line;
		rules__error(ld, "unclosed '%s'", f.conds[i].is_ifplugin ?
		    "ifplugin" : "if");
	}
	ld->cur = saved;
	ld->depth--;
	free(f.conds);
	free(buf);
	if (ld->oom)
		rules__error(ld, "%s: out of memory", path);
	return 0;
}

/* True if PATH has glob(3) metacharacters. */
static bool
has_glob(const char *path)
{
	return strpbrk(path, "*?[") != NULL;
}

/* glob(3) error callback: a missing directory just matches nothing. */
static int
glob_err(const char *path, int err)
{
	(void)path;
	return err != ENOENT && err != ENOTDIR;
}

/* Load a file or every file a glob matches, in sorted order. */
int
rules__load_path(struct loader *ld, const char *path, bool glob_ok)
{
	glob_t g;
	size_t i;
	int rc;

	if (!glob_ok || !has_glob(path))
		return load_file(ld, path);
	memset(&g, 0, sizeof(g));
	rc = glob(path, 0, glob_err, &g);
	if (rc == GLOB_NOMATCH) {
		rules__warn(ld, "%s: no file matches", path);
		return 0;
	}
	if (rc != 0) {
		rules__error(ld, "%s: %s", path, rc == GLOB_NOSPACE ?
		    "out of memory" : "read error");
		globfree(&g);
		return -1;
	}
	for (i = 0; i < g.gl_pathc; i++)
		load_file(ld, g.gl_pathv[i]);
	globfree(&g);
	return 0;
}

/* Interned header request for a rule. */
static int
hspec_intern(struct loader *ld, struct rule *r, const char *s, size_t len)
{
	struct hspec h;
	char *spec;

	if (rules__hspec_parse(s, len, &h) == -1) {
		rules__error(ld, "invalid header modifier for %s: %.*s",
		    r->name, (int)len, s);
		r->flags &= ~RF_DEFINED;
		return -1;
	}
	free(h.name);
	/* Keep the request text; compile.c interns it into the set. */
	if ((spec = rules__strndup(s, len)) == NULL) {
		ld->oom = true;
		return -1;
	}
	free(r->hdr);
	r->hdr = spec;
	return 0;
}

/* Free everything the loader owns. */
void
rules__loader_free(struct loader *ld)
{
	size_t i;
	struct tagset *ts[] = { &ld->tag, &ld->pre, &ld->post, &ld->inter };

	for (i = 0; i < ld->nrules; i++)
		rules__rule_free(&ld->rules[i]);
	free(ld->rules);
	rules__map_free(&ld->names);
	for (i = 0; i < ld->ntests; i++) {
		free(ld->tests[i].rule);
		free(ld->tests[i].text);
	}
	free(ld->tests);
	for (i = 0; i < ld->nfiles; i++)
		free(ld->files[i]);
	free(ld->files);
	rules__kv_free(&ld->settings);
	for (i = 0; i < 4; i++) {
		size_t j;
		for (j = 0; j < ts[i]->n; j++) {
			free(ts[i]->v[j].name);
			free(ts[i]->v[j].value);
		}
		free(ts[i]->v);
	}
	free(ld->replace_start);
	free(ld->replace_end);
	pcre2_compile_context_free(ld->cctx);
	if (ld->tables != NULL)
		pcre2_maketables_free(NULL, ld->tables);
	memset(ld, 0, sizeof(*ld));
}
