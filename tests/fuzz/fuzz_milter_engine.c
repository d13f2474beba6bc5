/*
 * fuzz_milter_engine.c — the milter protocol engine (milter/engine.c)
 * on arbitrary byte streams from the MTA (issue 3 item 7, issue 10):
 * packets of any length (truncated, over-long, empty), unknown and
 * out-of-order commands, macros without their NULs, negotiation with
 * any version, actions and steps, body chunks, aborts, QUIT and
 * QUIT_NC, all driven through the real session code (milter/session.c)
 * and a filter chain.
 *
 * The input is fed in pieces (their sizes derived from the input) to
 * one connection without a socket (milter__conn_input()), as reads from
 * the MTA would come.  The chain's one filter decides from what the MTA
 * sent: a sender or HELO with "reject", "tempfail", "discard",
 * "accept" or "error" in it gets that verdict at that stage; a body
 * with "spam" scores; every message gets header edits and an
 * Authentication-Results result, so the replies carry edits too.  The
 * filter runs at every stage or (odd-sized inputs) only at end of
 * message, where the engine negotiates "no reply" steps and refusals
 * are held; half the inputs take the TCP rules of negotiation.
 *
 * Besides the sanitizers, checked: every reply the engine queues is a
 * well-formed packet with a known reply command; no session outlives
 * the connection.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "filters/chain.h"
#include "filters/log.h"
#include "filters/util.h"
#include "milter/milter_int.h"

/* Tell whether S (may be NULL) contains WORD. */
static int
has(const char *s, const char *word)
{
	return s != NULL && strstr(s, word) != NULL;
}

/* The verdict a text asks for; 0 continue, -1 a filter error. */
static int
verdict_of(struct gh_txn *t, const char *s, struct gh_verdict *v)
{
	if (has(s, "error"))
		return -1;
	if (has(s, "reject"))
		gh_verdict_refuse(v, t, GH_REJECT,
		    &t->cfg->rules_reject_reply, "x", "fuzz %s", s);
	else if (has(s, "tempfail"))
		gh_verdict_refuse(v, t, GH_TEMPFAIL,
		    &t->cfg->rules_tempfail_reply, "x", "fuzz");
	else if (has(s, "discard"))
		v->action = GH_DISCARD;
	else if (has(s, "accept"))
		v->action = GH_ACCEPT;
	else if (has(s, "tag"))
		v->action = GH_TAG;
	return 0;
}

/* The filter: verdicts from the envelope, edits at end of message. */
static int
ff_run(void *inst, struct gh_txn *t, unsigned idx, enum gh_stage s,
    struct gh_verdict *v)
{
	(void)inst;
	(void)idx;
	switch (s) {
	case GH_STAGE_CONNECT:
		return verdict_of(t, t->env.client_name, v);
	case GH_STAGE_HELO:
		return verdict_of(t, t->env.helo, v);
	case GH_STAGE_MAIL:
		return verdict_of(t, t->env.mail_from, v);
	case GH_STAGE_RCPT:
		return t->env.nrcpts ? verdict_of(t,
		    t->env.rcpts[t->env.nrcpts - 1], v) : 0;
	case GH_STAGE_HEADERS:
		return 0;
	default:
		break;
	}
	/* EOM: every path through the header edits. */
	if (gh_txn_authres(t, "spf", "pass", NULL, "smtp.mailfrom=%s",
	    t->env.mail_from ? t->env.mail_from : "") == -1 ||
	    gh_txn_edit(t, GH_EDIT_INSERT, "X-Fuzz", "one\r\n\ttwo", 0) == -1 ||
	    gh_txn_edit(t, GH_EDIT_APPEND, "X-Fuzz-End", "", 0) == -1 ||
	    gh_txn_edit(t, GH_EDIT_CHANGE, "Subject", "[fuzz]", 1) == -1 ||
	    gh_txn_edit(t, GH_EDIT_CHANGE, "X-Gone", NULL, 2) == -1)
		return -1;
	v->score = t->env.helo && has(t->env.helo, "spam") ? 20 : 1;
	return verdict_of(t, t->env.queue_id, v);
}

static const struct gh_filter fuzz_filter = {
	.name = "fuzz",
	.stages = 0x3f,
	.run = ff_run,
};

static const struct gh_filter fuzz_filter_eom = {
	.name = "fuzz",
	.stages = 1u << GH_STAGE_EOM,
	.run = ff_run,
};

/* Check that OUT holds whole reply packets with known commands. */
static void
check_replies(const struct gh_buf *out)
{
	size_t		 off = 0;
	uint32_t	 len;

	while (off < out->len) {
		if (out->len - off < 5)
			abort();
		memcpy(&len, out->p + off, 4);
		len = ntohl(len);
		if (len < 1 || len > out->len - off - 4 ||
		    strchr("Oacdrtyihm", out->p[off + 4]) == NULL)
			abort();
		off += 4 + (size_t)len;
	}
}

/* A chain over one of the two filters; aborts on failure. */
static struct gh_chain *
chain(struct gh_config *cfg, const struct gh_filter *f)
{
	const struct gh_filter *const	 fl[] = { f };
	struct gh_chain			*c;
	char				 err[128];

	if ((c = gh_chain_new_with(cfg, fl, 1, NULL, err,
	    sizeof(err))) == NULL)
		abort();
	return c;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gh_config	*cfg;
	static struct gh_chain	*chains[2];
	struct milter_state	 st;
	struct milter_conn	*c;
	struct gh_buf		*out;
	size_t			 off = 0, n, h = size;
	int			 r = 0;

	if (cfg == NULL) {
		struct gh_config_errors errs = { NULL, 0 };
		char *ov[] = { "authserv_id=mx.test",
		    "max_message_size=8192", "score.tag=5",
		    "score.reject=50", "tag.subject_prefix=[SPAM]" };

		gh_log_set_level(LOG_CRIT);
		cfg = gh_config_load(NULL, ov, 5, &errs);
		if (cfg == NULL)
			abort();
		chains[0] = chain(cfg, &fuzz_filter);
		chains[1] = chain(cfg, &fuzz_filter_eom);
	}
	if (milter__state_init(&st, milter__engine_api(),
	    chains[size & 1]) == -1)
		abort();
	st.tcp = (size & 2) != 0;
	if ((c = milter__conn_new(&st, -1)) == NULL)
		abort();
	out = milter__conn_output(c);
	/* Pieces as reads would bring them: sizes from the input. */
	while (off < size && r == 0) {
		h = h * 31 + data[off];
		n = h % 4 == 0 ? size - off : 1 + h % 97;
		if (n > size - off)
			n = size - off;
		r = milter__conn_input(c, data + off, n);
		off += n;
		check_replies(out);
		gh_buf_reset(out);
	}
	milter__conn_free(c);
	if (milter__sessions(&st) != 0)
		abort();
	milter__state_fini(&st);
	return 0;
}
