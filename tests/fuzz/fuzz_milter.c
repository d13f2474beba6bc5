/*
 * fuzz_milter.c — the milter front end's callbacks in any order, with any
 * arguments (issue 3 item 7, issue 10): the input is a program of
 * operations (negotiate, connect, helo, envfrom, envrcpt, header, eoh,
 * body, eom, abort, close, and faults of the fake libmilter) run against
 * one connection through a fake libmilter, over a chain whose one filter
 * takes its verdicts from the input too.  Sanitizers and the invariant
 * checks below catch what goes wrong: a crash, a leak, an accept at end
 * of message without a session, a session count that does not return to
 * zero.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "filters/chain.h"
#include "filters/log.h"
#include "milter/milter_int.h"

/* The input, consumed byte by byte. */
struct in {
	const uint8_t	*p;
	size_t		 n;
};

static uint8_t
byte(struct in *in)
{
	if (in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

/* A NUL-terminated string of up to 255 bytes from the input. */
static char *
str(struct in *in, char *buf)
{
	size_t	 len = byte(in), i;

	for (i = 0; i < len && in->n; i++)
		buf[i] = (char)byte(in);
	buf[i] = '\0';
	return buf;
}

/* ---- the fake libmilter ---- */

struct fctx {
	void	*priv;
	bool	 fail_setpriv, fail_edits;
	char	 macro[256];
};

static void *
f_getpriv(void *ctx)
{
	return ((struct fctx *)ctx)->priv;
}

static int
f_setpriv(void *ctx, void *p)
{
	struct fctx *c = ctx;

	if (c->fail_setpriv && p != NULL)
		return MI_FAILURE;
	c->priv = p;
	return MI_SUCCESS;
}

static const char *
f_getsymval(void *ctx, const char *name)
{
	struct fctx *c = ctx;

	return c->macro[0] && name[0] == c->macro[0] ? c->macro + 1 : NULL;
}

static int
f_setreply(void *ctx, const char *r, const char *x, const char *t)
{
	/* libmilter's own checks (smfi.c). */
	if (strlen(r) != 3 || (r[0] != '4' && r[0] != '5') ||
	    strpbrk(t, "\r\n") != NULL || strlen(t) > 980)
		abort();
	return MI_SUCCESS;
}

static int
f_edit(struct fctx *c, const char *n)
{
	if (n == NULL || n[0] == '\0')
		abort();	/* libmilter refuses an empty name */
	return c->fail_edits ? MI_FAILURE : MI_SUCCESS;
}

static int
f_insheader(void *ctx, int idx, const char *n, const char *v)
{
	return idx < 0 || v == NULL ? (abort(), 0) : f_edit(ctx, n);
}

static int
f_addheader(void *ctx, const char *n, const char *v)
{
	return v == NULL ? (abort(), 0) : f_edit(ctx, n);
}

static int
f_chgheader(void *ctx, const char *n, int idx, const char *v)
{
	return idx < 1 ? (abort(), 0) : f_edit(ctx, n);
}

static int
f_setsymlist(void *ctx, int stage, const char *m)
{
	return MI_SUCCESS;
}

static const struct milter_api fake_api = {
	f_getpriv, f_setpriv, f_getsymval, f_setreply, f_insheader,
	f_addheader, f_chgheader, f_setsymlist
};

/* ---- a filter whose verdicts come from the input ---- */

static struct in	*cur;

static int
ff_run(void *inst, struct gh_txn *t, unsigned idx, enum gh_stage s,
    struct gh_verdict *v)
{
	uint8_t	 b = byte(cur);

	switch (b % 8) {
	case 0:
		return -1;
	case 1:
		gh_verdict_refuse(v, t, GH_REJECT,
		    &t->cfg->rules_reject_reply, "x", "fuzz");
		break;
	case 2:
		gh_verdict_refuse(v, t, GH_TEMPFAIL,
		    &t->cfg->rules_tempfail_reply, "x", "fuzz");
		break;
	case 3:
		v->action = (enum gh_action)(b / 8 % GH_NACTIONS);
		break;
	default:
		v->score = (double)(b % 16) - 4;
		break;
	}
	return 0;
}

static const struct gh_filter fuzz_filter = {
	.name = "fuzz",
	.stages = 0x3f,
	.run = ff_run,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct gh_filter *const fl[] = { &fuzz_filter };
	static struct gh_config	*cfg;
	struct milter_state	 st;
	struct gh_chain		*chain;
	struct fctx		 ctx;
	struct in		 in = { data, size };
	struct sockaddr_in6	 sin6;
	struct sockaddr_in	 sin;
	char			 a[256], b[256], err[128], *argv[3];
	unsigned long		 pf0, pf1;
	unsigned		 ops = 0;
	sfsistat		 r;

	if (cfg == NULL) {
		struct gh_config_errors errs = { NULL, 0 };
		char *ov[] = { "authserv_id=mx.test", "max_message_size=4096",
		    "score.reject=10" };

		gh_log_set_level(LOG_CRIT);
		cfg = gh_config_load(NULL, ov, 3, &errs);
		if (cfg == NULL)
			abort();
	}
	cur = &in;
	/* The filter runs at the stages the first byte says. */
	chain = gh_chain_new_with(cfg, fl, byte(&in) & 1, NULL, err,
	    sizeof(err));
	if (chain == NULL || milter__state_init(&st, &fake_api, chain) == -1)
		abort();
	gh_chain_unref(chain);
	memset(&ctx, 0, sizeof(ctx));
	while (in.n && ops++ < 200) {
		uint8_t op = byte(&in);

		switch (op % 16) {
		case 0:
			milter__negotiate(&st, &ctx, byte(&in) | byte(&in) << 8,
			    (unsigned long)byte(&in) << 12 | byte(&in) << 4 |
			    (unsigned long)byte(&in) << 20, &pf0, &pf1);
			break;
		case 1:
			memset(&sin, 0, sizeof(sin));
			sin.sin_family = AF_INET;
			sin.sin_addr.s_addr = htonl(0xc0000200 | byte(&in));
			milter__connect(&st, &ctx, str(&in, a),
			    (struct sockaddr *)&sin);
			break;
		case 2:
			memset(&sin6, 0, sizeof(sin6));
			sin6.sin6_family = AF_INET6;
			sin6.sin6_addr.s6_addr[15] = byte(&in);
			milter__connect(&st, &ctx, str(&in, a), byte(&in) & 1 ?
			    (struct sockaddr *)&sin6 : NULL);
			break;
		case 3:
			milter__helo(&st, &ctx, byte(&in) & 1 ? str(&in, a) :
			    NULL);
			break;
		case 4:
		case 5:
			argv[0] = str(&in, a);
			argv[1] = byte(&in) & 1 ? str(&in, b) : NULL;
			argv[2] = NULL;
			if (op % 16 == 4)
				milter__envfrom(&st, &ctx, byte(&in) & 1 ?
				    argv : NULL);
			else
				milter__envrcpt(&st, &ctx, argv);
			break;
		case 6:
		case 7:
			milter__header(&st, &ctx, str(&in, a), str(&in, b));
			break;
		case 8:
			milter__eoh(&st, &ctx);
			break;
		case 9:
			str(&in, a);
			milter__body(&st, &ctx, (const unsigned char *)a,
			    strlen(a));
			break;
		case 10:
			r = milter__eom(&st, &ctx);
			/* No session, no accept. */
			if (ctx.priv == NULL && r != SMFIS_TEMPFAIL)
				abort();
			break;
		case 11:
			milter__abort(&st, &ctx);
			break;
		case 12:
			milter__close(&st, &ctx);
			break;
		case 13:
			ctx.fail_setpriv = byte(&in) & 1;
			ctx.fail_edits = byte(&in) & 1;
			break;
		case 14:
			str(&in, ctx.macro);
			break;
		default:
			memset(a, 'x', sizeof(a) - 1);
			a[sizeof(a) - 1] = '\0';
			milter__body(&st, &ctx, (const unsigned char *)a,
			    sizeof(a) - 1);
			break;
		}
	}
	milter__close(&st, &ctx);
	if (ctx.priv != NULL || milter__sessions(&st) != 0)
		abort();
	milter__state_fini(&st);
	return 0;
}
