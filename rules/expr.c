/*
 * expr.c -- arithmetic/boolean expressions of "meta" rules and of "if"
 * conditions, compiled to a small stack program and run with Perl's
 * value semantics (as SpamAssassin evals them as Perl).
 *
 * Grammar, tightest first (Perl's precedence):
 *	primary	:= NUMBER | IDENT | IDENT '(' ARG ')' | '(' expr ')'
 *	unary	:= ('!' | '-' | '+') unary | primary
 *	mul	:= unary (('*' | '/') unary)*
 *	add	:= mul (('+' | '-') mul)*
 *	rel	:= add (('<' | '>' | '<=' | '>=') add)?
 *	eq	:= rel (('==' | '!=') rel)?
 *	and	:= eq ('&&' eq)*
 *	or	:= and ('||' and)*
 * "a && b" is a if a is false, else b; "a || b" is a if a is true, else
 * b; "!a" and comparisons are 1 or 0.  An empty expression or "( )" is 0.
 *
 * Invariants: nesting is capped at RULES_META_DEPTH; programs record the
 * stack depth they need.  Failure: a message in err, -1 returned.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"

enum tok {
	T_END, T_NUM, T_IDENT, T_LP, T_RP, T_NOT, T_AND, T_OR,
	T_PLUS, T_MINUS, T_MUL, T_DIV, T_LT, T_GT, T_LE, T_GE, T_EQ, T_NE,
	T_BAD
};

struct parser {
	struct expr_ctx	*ctx;
	const char	*s;
	const char	*p;
	enum tok	 tok;
	const char	*tstart;
	size_t		 tlen;
	double		 num;
	struct meta_op	*prog;
	uint32_t	 n, cap;
	int		 depth;
	char		*err;
	size_t		 errlen;
	bool		 failed;
};

/* Record the first error. */
static void
fail(struct parser *ps, const char *msg, const char *what, size_t len)
{
	if (ps->failed)
		return;
	ps->failed = true;
	if (what != NULL)
		snprintf(ps->err, ps->errlen, "%s '%.*s'", msg,
		    (int)(len > 60 ? 60 : len), what);
	else
		snprintf(ps->err, ps->errlen, "%s", msg);
}

/* True for Perl's \w. */
static bool
is_word(int c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* Read the next token. */
static void
next(struct parser *ps)
{
	const char *p = ps->p;
	char *end;

	while (rules__is_space((unsigned char)*p))
		p++;
	ps->tstart = p;
	ps->tlen = 1;
	switch (*p) {
	case '\0':
		ps->tok = T_END;
		ps->tlen = 0;
		break;
	case '(': ps->tok = T_LP; p++; break;
	case ')': ps->tok = T_RP; p++; break;
	case '+': ps->tok = T_PLUS; p++; break;
	case '-': ps->tok = T_MINUS; p++; break;
	case '*': ps->tok = T_MUL; p++; break;
	case '/': ps->tok = T_DIV; p++; break;
	case '!':
		if (p[1] == '=') {
			ps->tok = T_NE;
			p += 2;
		} else {
			ps->tok = T_NOT;
			p++;
		}
		break;
	case '<':
	case '>':
		if (p[1] == '=') {
			ps->tok = *p == '<' ? T_LE : T_GE;
			p += 2;
		} else {
			ps->tok = *p == '<' ? T_LT : T_GT;
			p++;
		}
		break;
	case '=':
		ps->tok = p[1] == '=' ? T_EQ : T_BAD;
		p += p[1] == '=' ? 2 : 1;
		break;
	case '&':
		ps->tok = p[1] == '&' ? T_AND : T_BAD;
		p += p[1] == '&' ? 2 : 1;
		break;
	case '|':
		ps->tok = p[1] == '|' ? T_OR : T_BAD;
		p += p[1] == '|' ? 2 : 1;
		break;
	default:
		if ((*p >= '0' && *p <= '9') || (*p == '.' &&
		    p[1] >= '0' && p[1] <= '9')) {
			ps->num = strtod(p, &end);
			ps->tok = T_NUM;
			p = end;
		} else if (is_word((unsigned char)*p)) {
			while (is_word((unsigned char)*p) || *p == ':')
				p++;
			ps->tok = T_IDENT;
		} else {
			ps->tok = T_BAD;
			p++;
		}
		break;
	}
	ps->tlen = (size_t)(p - ps->tstart);
	ps->p = p;
}

/* Append one instruction; returns its index. */
static uint32_t
emit(struct parser *ps, uint8_t op, uint32_t arg, double num)
{
	if (ps->n == ps->cap) {
		uint32_t ncap = ps->cap ? ps->cap * 2 : 16;
		struct meta_op *np = realloc(ps->prog, ncap * sizeof(*np));
		if (np == NULL) {
			fail(ps, "out of memory", NULL, 0);
			return 0;
		}
		ps->prog = np;
		ps->cap = ncap;
	}
	ps->prog[ps->n].op = op;
	ps->prog[ps->n].arg = arg;
	ps->prog[ps->n].num = num;
	return ps->n++;
}

static void parse_or(struct parser *);

/* primary := NUMBER | IDENT | IDENT '(' ARG ')' | '(' expr ')' */
static void
parse_primary(struct parser *ps)
{
	struct meta_op op;
	const char *name, *arg;
	size_t nlen, alen;
	double v;

	switch (ps->tok) {
	case T_NUM:
		emit(ps, MO_NUM, 0, ps->num);
		next(ps);
		return;
	case T_LP:
		next(ps);
		if (ps->tok == T_RP) {		/* "( )" is 0 */
			emit(ps, MO_NUM, 0, 0);
			next(ps);
			return;
		}
		parse_or(ps);
		if (ps->tok != T_RP)
			fail(ps, "missing ')' at", ps->tstart, ps->tlen);
		next(ps);
		return;
	case T_IDENT:
		name = ps->tstart;
		nlen = ps->tlen;
		next(ps);
		if (ps->tok == T_LP && ps->ctx->call != NULL) {
			next(ps);
			if (ps->tok != T_IDENT) {
				fail(ps, "bad argument to", name, nlen);
				return;
			}
			arg = ps->tstart;
			alen = ps->tlen;
			next(ps);
			if (ps->tok != T_RP) {
				fail(ps, "missing ')' after", arg, alen);
				return;
			}
			next(ps);
			if (ps->ctx->call(ps->ctx->arg, name, nlen, arg, alen,
			    &v) == -1) {
				fail(ps, "unknown function", name, nlen);
				return;
			}
			emit(ps, MO_NUM, 0, v);
			return;
		}
		memset(&op, 0, sizeof(op));
		if (ps->ctx->ident(ps->ctx->arg, name, nlen, &op) == -1) {
			fail(ps, "invalid token", name, nlen);
			return;
		}
		emit(ps, op.op, op.arg, op.num);
		return;
	case T_END:
		fail(ps, "unexpected end of expression", NULL, 0);
		return;
	default:
		fail(ps, "unexpected", ps->tstart, ps->tlen);
		return;
	}
}

/* unary := ('!' | '-' | '+') unary | primary */
static void
parse_unary(struct parser *ps)
{
	enum tok t = ps->tok;

	if (++ps->depth > RULES_META_DEPTH) {
		fail(ps, "expression nested too deeply", NULL, 0);
		return;
	}
	if (t == T_NOT || t == T_MINUS || t == T_PLUS) {
		next(ps);
		parse_unary(ps);
		if (t == T_NOT)
			emit(ps, MO_NOT, 0, 0);
		else if (t == T_MINUS)
			emit(ps, MO_NEG, 0, 0);
	} else
		parse_primary(ps);
	ps->depth--;
}

/* mul := unary (('*' | '/') unary)* */
static void
parse_mul(struct parser *ps)
{
	parse_unary(ps);
	while (!ps->failed && (ps->tok == T_MUL || ps->tok == T_DIV)) {
		enum tok t = ps->tok;
		next(ps);
		parse_unary(ps);
		emit(ps, t == T_MUL ? MO_MUL : MO_DIV, 0, 0);
	}
}

/* add := mul (('+' | '-') mul)* */
static void
parse_add(struct parser *ps)
{
	parse_mul(ps);
	while (!ps->failed && (ps->tok == T_PLUS || ps->tok == T_MINUS)) {
		enum tok t = ps->tok;
		next(ps);
		parse_mul(ps);
		emit(ps, t == T_PLUS ? MO_ADD : MO_SUB, 0, 0);
	}
}

/* rel := add (('<' | '>' | '<=' | '>=') add)? */
static void
parse_rel(struct parser *ps)
{
	parse_add(ps);
	if (!ps->failed && ps->tok >= T_LT && ps->tok <= T_GE) {
		enum tok t = ps->tok;
		next(ps);
		parse_add(ps);
		emit(ps, t == T_LT ? MO_LT : t == T_GT ? MO_GT :
		    t == T_LE ? MO_LE : MO_GE, 0, 0);
		if (ps->tok >= T_LT && ps->tok <= T_GE)
			fail(ps, "comparisons do not chain at", ps->tstart,
			    ps->tlen);
	}
}

/* eq := rel (('==' | '!=') rel)? */
static void
parse_eq(struct parser *ps)
{
	parse_rel(ps);
	if (!ps->failed && (ps->tok == T_EQ || ps->tok == T_NE)) {
		enum tok t = ps->tok;
		next(ps);
		parse_rel(ps);
		emit(ps, t == T_EQ ? MO_EQ : MO_NE, 0, 0);
		if (ps->tok == T_EQ || ps->tok == T_NE)
			fail(ps, "comparisons do not chain at", ps->tstart,
			    ps->tlen);
	}
}

/* and := eq ('&&' eq)* */
static void
parse_and(struct parser *ps)
{
	parse_eq(ps);
	while (!ps->failed && ps->tok == T_AND) {
		uint32_t j;
		next(ps);
		j = emit(ps, MO_AND, 0, 0);
		parse_eq(ps);
		if (!ps->failed)
			ps->prog[j].arg = ps->n;
	}
}

/* or := and ('||' and)* */
static void
parse_or(struct parser *ps)
{
	if (++ps->depth > RULES_META_DEPTH) {
		fail(ps, "expression nested too deeply", NULL, 0);
		return;
	}
	parse_and(ps);
	while (!ps->failed && ps->tok == T_OR) {
		uint32_t j;
		next(ps);
		j = emit(ps, MO_OR, 0, 0);
		parse_and(ps);
		if (!ps->failed)
			ps->prog[j].arg = ps->n;
	}
	ps->depth--;
}

/* Compile SRC into a program. */
int
rules__expr_compile(struct expr_ctx *ctx, const char *src,
    struct meta_op **prog, uint32_t *nprog, char *err, size_t errlen)
{
	struct parser ps;

	memset(&ps, 0, sizeof(ps));
	ps.ctx = ctx;
	ps.s = ps.p = src;
	ps.err = err;
	ps.errlen = errlen;
	next(&ps);
	if (ps.tok == T_END)
		emit(&ps, MO_NUM, 0, 0);
	else
		parse_or(&ps);
	if (!ps.failed && ps.tok != T_END)
		fail(&ps, ps.tok == T_BAD ? "unsupported operator" :
		    "unexpected", ps.tstart, ps.tlen);
	if (ps.failed) {
		free(ps.prog);
		return -1;
	}
	*prog = ps.prog;
	*nprog = ps.n;
	return 0;
}

/* The stack depth a program needs. */
uint32_t
rules__expr_stack(const struct meta_op *prog, uint32_t nprog)
{
	uint32_t i, sp = 0, max = 1;

	/* Jumps keep one value, as does falling through: linear is safe. */
	for (i = 0; i < nprog; i++) {
		switch (prog[i].op) {
		case MO_NUM:
		case MO_RULE:
			sp++;
			break;
		case MO_NOT:
		case MO_NEG:
			break;
		case MO_AND:
		case MO_OR:
			sp--;		/* popped when falling through */
			break;
		default:
			sp--;
			break;
		}
		if (sp > max)
			max = sp;
	}
	return max + 1;
}

static double	run_ops(const struct meta_op *, uint32_t, const double *,
	    double *, bool *);

/*
 * Run a program.  vals[] gives rule values; a NaN value means the rule
 * never ran, which (as in SpamAssassin) keeps the meta from running:
 * the result is then NaN.  Division by zero yields 0 and sets *divzero.
 */
double
rules__expr_run(const struct meta_op *prog, uint32_t nprog,
    const double *vals, double *st, bool *divzero)
{
	uint32_t i;

	for (i = 0; i < nprog; i++)
		if (prog[i].op == MO_RULE && isnan(vals[prog[i].arg]))
			return NAN;
	return run_ops(prog, nprog, vals, st, divzero);
}

/*
 * rules__expr_run() for a meta whose value with every rule it reads at
 * 0 is ZERO (computed once, at load): NaN if a rule never ran, ZERO
 * without running the program if every rule read is 0 (most metas on
 * most messages), else the program's value.  No division-by-zero flag.
 */
double
rules__expr_run_zero(const struct meta_op *prog, uint32_t nprog,
    const double *vals, double *st, double zero)
{
	uint32_t i;
	bool any = false;

	for (i = 0; i < nprog; i++)
		if (prog[i].op == MO_RULE) {
			double v = vals[prog[i].arg];

			if (isnan(v))
				return NAN;
			if (v != 0)
				any = true;
		}
	return any ? run_ops(prog, nprog, vals, st, NULL) : zero;
}

/* Run the operations of a program whose rule values are all numbers. */
static double
run_ops(const struct meta_op *prog, uint32_t nprog, const double *vals,
    double *st, bool *divzero)
{
	uint32_t i, sp = 0;
	double a, b;

	for (i = 0; i < nprog; i++) {
		const struct meta_op *o = &prog[i];

		switch (o->op) {
		case MO_NUM:
			st[sp++] = o->num;
			continue;
		case MO_RULE:
			st[sp++] = vals[o->arg];
			continue;
		case MO_NOT:
			st[sp - 1] = st[sp - 1] == 0 ? 1 : 0;
			continue;
		case MO_NEG:
			st[sp - 1] = -st[sp - 1];
			continue;
		case MO_AND:
			if (st[sp - 1] == 0)
				i = o->arg - 1;
			else
				sp--;
			continue;
		case MO_OR:
			if (st[sp - 1] != 0)
				i = o->arg - 1;
			else
				sp--;
			continue;
		default:
			break;
		}
		b = st[--sp];
		a = st[sp - 1];
		switch (o->op) {
		case MO_ADD: a = a + b; break;
		case MO_SUB: a = a - b; break;
		case MO_MUL: a = a * b; break;
		case MO_DIV:
			if (b == 0) {
				if (divzero != NULL)
					*divzero = true;
				a = 0;
			} else
				a = a / b;
			break;
		case MO_LT: a = a < b; break;
		case MO_GT: a = a > b; break;
		case MO_LE: a = a <= b; break;
		case MO_GE: a = a >= b; break;
		case MO_EQ: a = a == b; break;
		case MO_NE: a = a != b; break;
		}
		st[sp - 1] = a;
	}
	return sp > 0 ? st[sp - 1] : 0;
}
