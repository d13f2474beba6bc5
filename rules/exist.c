/*
 * exist.c -- a pattern's existence form: a pattern that finds a match
 * in every text the pattern finds one in, with fewer attempts.
 *
 * Owns: rules__regex_exist().  A pattern whose top-level sequence
 * starts with optional items (X?, X*, X{0,n}) has PCRE2 try them at
 * every position of a text: SpamAssassin's form rules start with
 * FF_YOUR, "(?:a?\s?copy\sof\s)?(?:(?:your|...)[\s,:]{1,5})?
 * (?:present\s|current\s|...){0,3}", before the words a form asks for.
 * The existence form leaves those items out.  A group that starts the
 * sequence, repeated at least once, G{m,n}, is unrolled as G' G{m-1,
 * n-1}, G' the existence form of each of G's alternatives
 * ("(?:FF_YOUR FF_ALL ...){3}" -> "(?:FF_ALL' ...)(?:FF_YOUR FF_ALL
 * ...){2}", FF_ALL' each form word without its optional prefix), or,
 * when that is too large, with the rest of G written once as a named
 * group called again.
 *
 * Why it is a necessary condition: where the pattern matches at i with
 * the dropped items covering [i,k), what follows them matches at k
 * through the same attempts (lookbehinds see the same text), so the
 * form matches at k or before.  The converse may fail (a dropped
 * possessive item could have eaten what the rest needs), which is why
 * the form only ever rules a text out: eval.c searches it first for a
 * rule that needs only whether it matches (not "multiple"); no match,
 * no search with the pattern; a match, and the pattern is searched as
 * before -- its match is the one recorded.
 *
 * Gives up (NULL) on what would make the rest's attempts depend on what
 * was dropped or what this parser does not follow: back references and
 * subroutine calls (by number or name), conditionals, backtracking
 * verbs, \G, \K, \Q..\E, comments, extended syntax; on atomic groups
 * and possessive repeats it does not unroll; and when nothing changes.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"

#define EX_DEPTH	16	/* unrolled groups, nested */

/* What a rewrite may do (rules__regex_exist()'s FLAGS), and its state. */
struct exs {
	unsigned	 flags;		/* RULES_EXIST_* */
	int		 serial;	/* of the next group name */
};

/* The end of the class at P ('['); NULL if unterminated. */
static const char *
class_end(const char *p)
{
	p++;
	if (*p == '^')
		p++;
	if (*p == ']')
		p++;
	while (*p != '\0' && *p != ']') {
		if (*p == '\\' && p[1] != '\0')
			p += 2;
		else if (p[0] == '[' && p[1] == ':' &&
		    strstr(p + 2, ":]") != NULL)
			p = strstr(p + 2, ":]") + 2;
		else
			p++;
	}
	return *p == ']' ? p + 1 : NULL;
}

/* The end of the escape at P ('\\'); NULL to give up. */
static const char *
escape_end(const char *p)
{
	const char *q;
	int i;

	p++;
	switch (*p) {
	case '\0':
		return NULL;
	case 'x': case 'o': case 'p': case 'P': case 'N':
		if (p[1] == '{')
			return (q = strchr(p, '}')) != NULL ? q + 1 : NULL;
		if (*p == 'x') {
			for (i = 0, p++; i < 2 && *p != '\0' &&
			    strchr("0123456789abcdefABCDEF", *p) != NULL; i++)
				p++;
			return p;
		}
		if (*p == 'p' || *p == 'P')
			return p[1] != '\0' ? p + 2 : NULL;
		return p + 1;
	case 'c':
		return p[1] != '\0' ? p + 2 : NULL;
	case '0':
		for (i = 0, p++; i < 2 && *p >= '0' && *p <= '7'; i++)
			p++;
		return p;
	case 'g': case 'k': case 'G': case 'K': case 'Q': case 'E':
		return NULL;
	default:
		if (*p >= '1' && *p <= '9')
			return NULL;	/* back reference (or octal) */
		return p + 1;
	}
}

/* The end of the item at P (before any quantifier); NULL to give up. */
static const char *
atom_end(const char *p)
{
	int depth;

	if (*p == '[')
		return class_end(p);
	if (*p == '\\')
		return escape_end(p);
	if (*p != '(')
		return p + 1;
	for (depth = 0; *p != '\0';) {
		if (*p == '\\') {
			if ((p = escape_end(p)) == NULL)
				return NULL;
		} else if (*p == '[') {
			if ((p = class_end(p)) == NULL)
				return NULL;
		} else if (*p == '(') {
			depth++;
			p++;
		} else if (*p == ')') {
			p++;
			if (--depth == 0)
				return p;
		} else
			p++;
	}
	return NULL;
}

/* Read a decimal number at *PP (at most 65535); -1 if none. */
static long
number(const char **pp)
{
	const char *p = *pp;
	long v = 0;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++)
		if ((v = v * 10 + (*p - '0')) > 65535)
			return -1;
	*pp = p;
	return v;
}

/*
 * The quantifier at P: its end (P when there is none), its bounds in
 * *MIN and *MAX (LONG_MAX: no bound) and its mode in *MODE ('?' lazy,
 * '+' possessive, 0 greedy).
 */
static const char *
quant_end(const char *p, long *min, long *max, char *mode)
{
	const char *q = p;

	*min = *max = 1;
	*mode = 0;
	if (*q == '?' || *q == '*' || *q == '+') {
		*min = *q == '+' ? 1 : 0;
		*max = *q == '?' ? 1 : LONG_MAX;
		q++;
	} else if (*q == '{') {
		q++;
		if ((*min = number(&q)) < 0)
			return p;
		*max = *min;
		if (*q == ',') {
			q++;
			*max = *q == '}' ? LONG_MAX : number(&q);
			if (*max < *min)
				return p;
		}
		if (*q != '}')
			return p;
		q++;
	} else
		return p;
	if (*q == '?' || *q == '+')
		*mode = *q++;
	return q;
}

/* True if the group at P ('(') sets options only: "(?i)", "(?-s)". */
static bool
option_setting(const char *p, const char *end)
{
	if (p[1] != '?')
		return false;
	for (p += 2; p < end && strchr("imsnU-^", *p) != NULL &&
	    *p != '\0'; p++)
		;
	return p < end && *p == ')';
}

/*
 * The start of the content of the group at P ('('), and in *PREFIX
 * what the unrolled copy opens with ("(?:" or "(?i:"); NULL when it is
 * not a group this file unrolls (lookarounds, atomic groups, ...).
 */
static const char *
group_content(const char *p, const char **prefix, size_t *plen)
{
	const char *q;

	*prefix = "(?:";
	*plen = 3;
	if (p[1] != '?')
		return p + 1;			/* capturing */
	if (p[2] == ':')
		return p + 3;
	if (p[2] == '<' && p[3] != '=' && p[3] != '!')
		return (q = strchr(p, '>')) != NULL ? q + 1 : NULL;
	if (p[2] == 'P' && p[3] == '<')
		return (q = strchr(p, '>')) != NULL ? q + 1 : NULL;
	if (p[2] == '\'')
		return (q = strchr(p + 3, '\'')) != NULL ? q + 1 : NULL;
	for (q = p + 2; *q != '\0' && strchr("imsnU-^", *q) != NULL; q++)
		;
	if (q == p + 2 || *q != ':')
		return NULL;
	*prefix = p;			/* "(?flags:" as written */
	*plen = (size_t)(q + 1 - p);
	return q + 1;
}

static int	alts(const char *, const char *, struct sbuf *, int,
		    struct exs *);

/*
 * The end of the optional items that start the group content [P, END)
 * (P when none; option settings end them), when the content is one
 * sequence (no '|' at its top); NULL when it is not.
 */
static const char *
leading_optional(const char *p, const char *end)
{
	const char *q, *a, *stop = NULL;
	long min, max;
	char mode;

	for (q = p; q < end; q = a) {
		if (*q == '|')
			return NULL;
		if ((a = atom_end(q)) == NULL || a > end)
			return NULL;
	}
	for (q = p; q < end && stop == NULL; ) {
		a = atom_end(q);
		if (*q == '(' && option_setting(q, end))
			stop = q;
		else if (quant_end(a, &min, &max, &mode), min != 0)
			stop = q;
		else
			q = quant_end(a, &min, &max, &mode);
	}
	return stop != NULL ? stop : q;
}

/*
 * Append to O the unrolled group G{MIN,MAX} (group text [P, A), its
 * content from CS, what opens it PREFIX) whose content starts with the
 * optional items [CS, D): "(?:(?<ghxN>T))(?:D(?&ghxN)){MIN-1,MAX-1}",
 * T the rest of the content, written once (a large G stays within
 * PCRE2's pattern size).
 */
static void
unroll_shared(struct sbuf *o, const char *prefix, size_t plen,
    const char *cs, const char *d, const char *ce, long min, long max,
    char mode, struct exs *st)
{
	char name[32], b[48];

	snprintf(name, sizeof(name), "ghx%d", ++st->serial);
	rules__sb_add(o, prefix, plen);
	rules__sb_adds(o, "(?<");
	rules__sb_adds(o, name);
	rules__sb_addc(o, '>');
	rules__sb_add(o, d, (size_t)(ce - d));
	rules__sb_adds(o, "))");
	rules__sb_add(o, prefix, plen);
	rules__sb_add(o, cs, (size_t)(d - cs));
	rules__sb_adds(o, "(?&");
	rules__sb_adds(o, name);
	rules__sb_addc(o, ')');
	rules__sb_addc(o, ')');
	if (max == LONG_MAX)
		snprintf(b, sizeof(b), "{%ld,}", min - 1);
	else
		snprintf(b, sizeof(b), "{%ld,%ld}", min - 1, max - 1);
	rules__sb_adds(o, b);
	if (mode == '?')
		rules__sb_addc(o, '?');
}

/*
 * True if the item [P, A) (no quantifier) matches at most one byte in
 * every way it can: an assertion, a lookaround, a byte, a class, or a
 * group of alternatives each made of such items with at most one that
 * takes a byte ("(?:^|\s)", "\b", "[>\s]").
 */
static bool
context_item(const char *p, const char *a)
{
	const char *q, *e, *cs, *prefix;
	size_t plen;
	int bytes;

	if (*p != '(')
		return *p != '|' && *p != ')';
	if (p[1] == '?' && (p[2] == '=' || p[2] == '!' || (p[2] == '<' &&
	    (p[3] == '=' || p[3] == '!'))))
		return true;		/* lookaround */
	if ((cs = group_content(p, &prefix, &plen)) == NULL)
		return false;
	for (q = cs, bytes = 0; q < a - 1; q = e) {
		long min, max;
		char mode;

		if (*q == '|') {
			bytes = 0;
			e = q + 1;
			continue;
		}
		if ((e = atom_end(q)) == NULL || e > a - 1 ||
		    quant_end(e, &min, &max, &mode) != e)
			return false;
		if (*q == '(' && (option_setting(q, e) ||
		    !context_item(q, e)))
			return false;
		if (*q == '^' || *q == '$' || (*q == '\\' && q[1] != '\0' &&
		    strchr("bBAzZ", q[1]) != NULL))
			continue;	/* an assertion */
		if (++bytes > 1)
			return false;
	}
	return true;
}

/*
 * Append to O the existence form of the sequence [P, END) (one
 * alternative); 1 if it differs, 0 if not, -1 to give up.  ST->flags:
 * RULES_EXIST_SHARE to unroll a group with unroll_shared() rather than
 * by writing its existence form and the group (which drops the
 * optional items of nested groups too); RULES_EXIST_CONTEXT to drop,
 * at the top, the first item that is not optional too when it matches
 * at most one byte (context_item()), and the optional items after it.
 */
static int
seq(const char *p, const char *end, struct sbuf *o, int depth, struct exs *st)
{
	bool context = depth == 0 && (st->flags & RULES_EXIST_CONTEXT);
	const char *a, *q, *cs, *prefix, *d;
	struct sbuf sub = { 0 };
	long min, max;
	size_t plen;
	char mode;
	int changed = 0, rc;

	while (p < end) {
		if ((a = atom_end(p)) == NULL || a > end)
			return -1;
		q = quant_end(a, &min, &max, &mode);
		if (*p == '(' && option_setting(p, end)) {
			if (q != a)
				return -1;
			rules__sb_add(o, p, (size_t)(a - p));
			p = a;
			continue;
		}
		if (min == 0) {
			changed = 1;		/* dropped */
			p = q;
			continue;
		}
		if (context && q == a && context_item(p, a)) {
			context = false;
			changed = 1;
			p = q;
			continue;
		}
		if ((st->flags & RULES_EXIST_SHARE) && *p == '(' &&
		    mode != '+' &&
		    (cs = group_content(p, &prefix, &plen)) != NULL &&
		    max > 1 && (d = leading_optional(cs, a - 1)) != NULL &&
		    d > cs) {
			unroll_shared(o, prefix, plen, cs, d, a - 1, min, max,
			    mode, st);
			changed = 1;
			p = q;
		} else if (*p == '(' && mode != '+' && depth < EX_DEPTH &&
		    (cs = group_content(p, &prefix, &plen)) != NULL) {
			if ((rc = alts(cs, a - 1, &sub, depth + 1, st)) < 0) {
				free(sub.p);
				return -1;
			}
			if (rc > 0) {
				rules__sb_add(o, prefix, plen);
				if (sub.p != NULL)
					rules__sb_add(o, sub.p, sub.len);
				rules__sb_addc(o, ')');
				if (max > 1) {
					char b[48];

					rules__sb_add(o, p, (size_t)(a - p));
					if (max == LONG_MAX)
						snprintf(b, sizeof(b), "{%ld,}",
						    min - 1);
					else
						snprintf(b, sizeof(b),
						    "{%ld,%ld}", min - 1,
						    max - 1);
					rules__sb_adds(o, b);
					if (mode == '?')
						rules__sb_addc(o, '?');
				}
				changed = 1;
				p = q;
			}
			free(sub.p);
		}
		break;
	}
	rules__sb_add(o, p, (size_t)(end - p));
	return changed;
}

/*
 * Append to O the existence form of the alternatives [P, END), each
 * one's (seq()); the largest result.
 */
static int
alts(const char *p, const char *end, struct sbuf *o, int depth,
    struct exs *st)
{
	const char *start = p, *a;
	int changed = 0, rc;

	for (;;) {
		if (p >= end || *p == '|') {
			if ((rc = seq(start, p, o, depth, st)) < 0)
				return -1;
			if (rc > changed)
				changed = rc;
			if (p >= end)
				return changed;
			rules__sb_addc(o, '|');
			start = ++p;
			continue;
		}
		if ((a = atom_end(p)) == NULL || a > end)
			return -1;
		p = a;
	}
}

/*
 * The existence form of PATTERN (PCRE2 syntax, after
 * rules__regex_translate) with modifiers MODS, malloc'ed; NULL when
 * there is none (nothing to drop) or this file gives up.  FLAGS:
 * RULES_EXIST_SHARE, RULES_EXIST_CONTEXT (seq()).
 */
char *
rules__regex_exist(const char *pattern, const char *mods, unsigned flags)
{
	static const char *const never[] = {
		"(?P=", "(?P>", "(?&", "(?R", "(?(", "(?|", "(*", "(?#",
		"(?+", "(?-0", "(?-1", "(?-2", "(?-3", "(?-4", "(?-5", "(?-6",
		"(?-7", "(?-8", "(?-9", "(?0", "(?1", "(?2", "(?3", "(?4",
		"(?5", "(?6", "(?7", "(?8", "(?9"
	};
	struct sbuf o = { 0 };
	size_t i;
	struct exs st = { flags, 0 };
	int rc;

	if (strchr(mods, 'x') != NULL || strstr(pattern, "\\Q") != NULL)
		return NULL;
	for (i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		if (strstr(pattern, never[i]) != NULL)
			return NULL;
	/* an inline x anywhere: whitespace and '#' would mean else */
	if (rules__regex_inline_opts(pattern) & RULES_OPT_X)
		return NULL;
	rc = alts(pattern, pattern + strlen(pattern), &o, 0, &st);
	if (rc <= 0 || o.oom || o.p == NULL) {
		free(o.p);
		return NULL;
	}
	return rules__sb_take(&o);
}
