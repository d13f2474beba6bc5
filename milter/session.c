/*
 * session.c — libmilter callbacks mapped onto the filter chain.
 *
 * One `struct msess` per MTA connection, in libmilter's private data:
 * the chain it runs on (pinned at negotiation: a reload applies to new
 * connections, open ones finish on the rules they started with), the
 * chain transaction (created at connect), the message being received
 * (created at its first header, end of headers or body chunk), and what
 * was negotiated.  Callback -> stage: connect -> CONNECT, helo -> HELO,
 * envfrom -> MAIL, envrcpt -> RCPT, eoh -> HEADERS, eom -> EOM; header
 * and body feed the message; abort ends the message, close the session.
 *
 * Round trips.  At negotiation the MTA is told not to wait for a reply
 * (SMFIP_NR_*) at every stage where no filter of the pinned chain runs,
 * nor after each header and body chunk; it gets only the macros we read.
 * A refusal that arises where no reply can go (a failure, or one said
 * again from earlier) is held and given at the next stage that replies —
 * at the latest at end of message, which always does.
 *
 * Invariants:
 *  - any order of callbacks is survived: a callback that finds no
 *    session, or no transaction (MAIL without CONNECT), or no message
 *    in progress (a body or EOM without MAIL) answers tempfail and logs
 *    a line; it never accepts and never asserts (Debian's OpenDKIM 2.11
 *    aborts the daemon on exactly that);
 *  - a refusal decided at CONNECT or HELO covers every later message of
 *    the session, even after the transaction was reset;
 *  - every message gets exactly one summary line (gh_txn_finish): when
 *    it is refused, discarded or delivered, or else when it ends (abort,
 *    a new MAIL, close) — marked `reply="aborted"`.
 *
 * Failures: out of memory or a message that cannot be stored (too big,
 * spool error) go through the configured failure policy
 * (on_filter_error, default tempfail), logged; a header edit libmilter
 * refuses tempfails the message.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters/chain.h"
#include "filters/log.h"
#include "filters/message.h"
#include "filters/metrics.h"
#include "milter/milter_int.h"

/* Per-connection state (libmilter's private data). */
struct msess {
	struct gh_chain		*chain;		/* pinned for the connection */
	struct gh_txn		*txn;		/* NULL until connect */
	struct gh_message	*msg;		/* NULL outside a message */
	struct gh_verdict	 conn_verdict;	/* refusal at CONNECT/HELO */
	struct gh_verdict	 held;		/* message refusal not yet said */
	uint64_t		 sid;
	unsigned		 noreply;	/* GH_STAGE_BITs without reply */
	int			 msg_err;	/* errno: message not stored */
	bool			 leadspc;	/* SMFIP_HDR_LEADSPC */
	bool			 leadspc_known;	/* negotiated or inferred */
	bool			 nr_hdr;	/* SMFIP_NR_HDR */
	bool			 nr_body;	/* SMFIP_NR_BODY */
	bool			 eoh_done;	/* HEADERS ran for this message */
	bool			 logged;	/* summary written */
};

/*
 * Macros requested from the MTA, per stage (smfi_setsymlist): only what
 * is read, so that the MTA looks up and sends as little as possible (the
 * client's address and port come with the connect packet itself).
 * Postfix takes an empty list for "its default list" (milter_*_macros),
 * so a stage where nothing is read asks for a name no MTA defines; the
 * MTA still sends the (empty) macro packet.  "i" (the queue id) is read
 * at end of headers and logged by refusals.
 */
#define NO_MACROS	"{gatehouse_none}"
static const struct {
	int		 stage;
	const char	*macros;
} symlists[] = {
	{ SMFIM_CONNECT, NO_MACROS },
	{ SMFIM_HELO, "{tls_version} {cipher}" },
	{ SMFIM_ENVFROM, "i {auth_authen}" },
	{ SMFIM_ENVRCPT, "i" },
	{ SMFIM_DATA, NO_MACROS },
	{ SMFIM_EOH, "i" },
	{ SMFIM_EOM, NO_MACROS },
};

/* The "no reply" step of each stage (EOM always replies). */
static const unsigned long nr_step[GH_NSTAGES] = {
	SMFIP_NR_CONN, SMFIP_NR_HELO, SMFIP_NR_MAIL, SMFIP_NR_RCPT,
	SMFIP_NR_EOH, 0
};

#define NEED_ACTIONS	(SMFIF_ADDHDRS | SMFIF_CHGHDRS)
#define WANT_STEPS	(SMFIP_NR_HDR | SMFIP_NR_BODY | SMFIP_HDR_LEADSPC | \
	SMFIP_NODATA | SMFIP_NOUNKNOWN)

/* A new session: counted, with its id. */
static struct msess *
sess_new(struct milter_state *st)
{
	struct msess	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->sid = st->sid_base + __atomic_add_fetch(&st->sid_next, 1,
	    __ATOMIC_RELAXED);
	__atomic_add_fetch(&st->sessions, 1, __ATOMIC_RELAXED);
	gh_metrics_session_open();
	return s;
}

/* Free a session and everything it holds. */
static void
sess_free(struct milter_state *st, struct msess *s)
{
	gh_txn_free(s->txn);
	gh_chain_unref(s->chain);
	gh_message_free(s->msg);
	gh_verdict_clear(&s->conn_verdict);
	gh_verdict_clear(&s->held);
	free(s);
	__atomic_sub_fetch(&st->sessions, 1, __ATOMIC_RELAXED);
	gh_metrics_session_close();
}

/* A macro's value, or NULL. */
static const char *
sym(struct milter_state *st, void *ctx, const char *name)
{
	const char	*v = st->api->getsymval(ctx, name);

	return v && v[0] ? v : NULL;
}

/* Tell whether an action ends the message. */
static bool
ends_message(enum gh_action a)
{
	return a == GH_REJECT || a == GH_TEMPFAIL || a == GH_DISCARD;
}

/*
 * Answer a verdict at a stage.  Where the MTA waits for no reply, a
 * refusal is held for the next stage that has one.
 */
static sfsistat
reply(struct milter_state *st, void *ctx, struct msess *s,
    const struct gh_verdict *v, enum gh_stage stage)
{
	if (s == NULL || !(s->noreply & GH_STAGE_BIT(stage)))
		return milter__answer(st->api, ctx, v, stage);
	if (ends_message(v->action) && s->held.action == GH_CONTINUE &&
	    v != &s->held && gh_verdict_copy(&s->held, v) == -1) {
		gh_verdict_clear(&s->held);
		s->held.action = GH_TEMPFAIL;
	}
	return SMFIS_NOREPLY;
}

/* A refusal waiting to be said, or NULL. */
static const struct gh_verdict *
held(const struct msess *s)
{
	if (s->conn_verdict.action != GH_CONTINUE)
		return &s->conn_verdict;
	if (s->held.action != GH_CONTINUE)
		return &s->held;
	return NULL;
}

/* Answer tempfail for a callback that cannot be served; log why. */
static sfsistat
cannot(struct milter_state *st, void *ctx, struct msess *s,
    enum gh_stage stage, const char *callback, const char *why)
{
	struct gh_verdict	 v;
	const char		*qid = sym(st, ctx, "i");
	char			 esc[64];

	if (qid)
		gh_printable(esc, sizeof(esc), qid, strlen(qid), 32);
	if (s)
		gh_log_session(LOG_WARNING, s->sid, "milter: %s %s%s%s: "
		    "tempfail", callback, why, qid ? " queue_id=" : "",
		    qid ? esc : "");
	else
		gh_log(LOG_WARNING, "milter: %s %s%s%s: tempfail", callback,
		    why, qid ? " queue_id=" : "", qid ? esc : "");
	memset(&v, 0, sizeof(v));
	v.action = GH_TEMPFAIL;
	v.code = 451;
	snprintf(v.status, sizeof(v.status), "4.3.0");
	v.text = "Temporary filter failure, try again later";
	return reply(st, ctx, s, &v, stage);
}

/* The end of the current message: its one log line and its metrics. */
static void
log_summary(struct msess *s, const struct gh_verdict *v, const char *why)
{
	gh_txn_finish(s->txn, v, why);
	s->logged = true;
}

/* End the current message (logged once); the session goes on. */
static void
end_message(struct msess *s, const char *why)
{
	if (s->txn) {
		if (s->txn->in_message && !s->logged)
			log_summary(s, NULL, why);
		gh_txn_reset(s->txn, NULL);
	}
	gh_message_free(s->msg);
	s->msg = NULL;
	s->msg_err = 0;
	s->eoh_done = false;
	s->logged = false;
	gh_verdict_clear(&s->held);
}

/* Make `v` the configured failure action for a front-end failure. */
static void
failure_verdict(const struct msess *s, struct gh_verdict *v, const char *what)
{
	const struct gh_config	*cfg = s->txn->cfg;

	gh_verdict_clear(v);
	gh_log_session(LOG_WARNING, s->sid, "milter: %s: action=%s", what,
	    gh_action_name(cfg->on_filter_error));
	if (cfg->on_filter_error == GH_REJECT)
		gh_verdict_refuse(v, s->txn, GH_REJECT,
		    &cfg->rules_reject_reply, "error", "%s", what);
	else if (cfg->on_filter_error == GH_TEMPFAIL)
		gh_verdict_refuse(v, s->txn, GH_TEMPFAIL,
		    &cfg->tempfail_reply, "error", "%s", what);
	v->filter = "milter";
}

/* Run a stage and answer its verdict. */
static sfsistat
run_stage(struct milter_state *st, void *ctx, struct msess *s,
    enum gh_stage stage)
{
	struct gh_verdict	 v;
	sfsistat		 r;

	if (gh_chain_run(s->txn, stage, &v) == -1) {
		failure_verdict(s, &v, "out of memory in the chain");
		if (v.action == GH_CONTINUE)
			v.action = GH_TEMPFAIL;	/* never a silent accept */
	}
	r = reply(st, ctx, s, &v, stage);
	if (ends_message(v.action)) {
		if (stage <= GH_STAGE_HELO && s->conn_verdict.action ==
		    GH_CONTINUE && gh_verdict_copy(&s->conn_verdict, &v) == -1)
			s->conn_verdict.action = GH_TEMPFAIL;
		/* A refused recipient is not the end of the message. */
		if (stage != GH_STAGE_RCPT || v.action == GH_DISCARD)
			if (!s->logged)
				log_summary(s, &v, NULL);
	}
	gh_verdict_clear(&v);
	return r;
}

/* Pin the session to the current chain (once). */
static void
pin_chain(struct milter_state *st, struct msess *s)
{
	if (s->chain == NULL)
		s->chain = milter__chain_get(st);
}

/* Negotiate: the actions and steps we use, the macros we read. */
sfsistat
milter__negotiate(struct milter_state *st, void *ctx, unsigned long f0,
    unsigned long f1, unsigned long *pf0, unsigned long *pf1)
{
	struct msess	*s;
	enum gh_stage	 stage;
	size_t		 i;

	if ((f0 & NEED_ACTIONS) != NEED_ACTIONS) {
		/* Without header edits a forged Authentication-Results
		   would pass: refuse the connection (MTA default action). */
		gh_log(LOG_ERR, "milter: the MTA does not allow header "
		    "changes (actions 0x%lx): refusing it", f0);
		return SMFIS_REJECT;
	}
	if ((s = st->api->getpriv(ctx)) == NULL) {
		if ((s = sess_new(st)) == NULL) {
			gh_log(LOG_ERR, "milter: out of memory");
			return SMFIS_REJECT;
		}
		if (st->api->setpriv(ctx, s) != MI_SUCCESS) {
			sess_free(st, s);
			return SMFIS_REJECT;
		}
	}
	pin_chain(st, s);
	*pf0 = NEED_ACTIONS;
	if (f0 & SMFIF_SETSYMLIST) {
		*pf0 |= SMFIF_SETSYMLIST;
		for (i = 0; i < sizeof(symlists) / sizeof(symlists[0]); i++)
			st->api->setsymlist(ctx, symlists[i].stage,
			    symlists[i].macros);
	}
	*pf1 = f1 & WANT_STEPS;
	s->noreply = 0;
	/*
	 * Over TCP too: an MTA's packets sent without waiting for a reply
	 * would each wait for our delayed ACK under its Nagle algorithm,
	 * but the engine acknowledges every read at once (TCP_QUICKACK).
	 */
	for (stage = GH_STAGE_CONNECT; stage < GH_STAGE_EOM; stage++)
		if ((f1 & nr_step[stage]) &&
		    !gh_chain_runs_at(s->chain, stage)) {
			*pf1 |= nr_step[stage];
			s->noreply |= GH_STAGE_BIT(stage);
		}
	s->leadspc = (*pf1 & SMFIP_HDR_LEADSPC) != 0;
	s->leadspc_known = true;
	s->nr_hdr = (*pf1 & SMFIP_NR_HDR) != 0;
	s->nr_body = (*pf1 & SMFIP_NR_BODY) != 0;
	gh_log_session(LOG_DEBUG, s->sid, "milter: negotiated actions=0x%lx "
	    "steps=0x%lx (offered 0x%lx 0x%lx)", *pf0, *pf1, f0, f1);
	return SMFIS_CONTINUE;
}

/* The client's address as text and its port, from a socket address. */
static void
addr_text(const struct sockaddr *sa, char *buf, size_t sz, uint16_t *port,
    socklen_t *salen)
{
	buf[0] = '\0';
	*port = 0;
	*salen = 0;
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, buf, sz);
		*port = ntohs(sin->sin_port);
		*salen = sizeof(*sin);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sz);
		*port = ntohs(sin6->sin6_port);
		*salen = sizeof(*sin6);
	}
}

/* Record the client of a new transaction; -1 when out of memory. */
static int
set_client(struct milter_state *st, void *ctx, struct msess *s,
    const char *host, const struct sockaddr *sa)
{
	char		 addr[INET6_ADDRSTRLEN];
	const char	*a, *name, *p;
	uint16_t	 port;
	socklen_t	 salen;

	addr_text(sa, addr, sizeof(addr), &port, &salen);
	a = sym(st, ctx, "{client_addr}");
	if (a == NULL)
		a = addr[0] ? addr : NULL;
	if ((p = sym(st, ctx, "{client_port}")) != NULL && port == 0)
		port = (uint16_t)strtoul(p, NULL, 10);
	/* Postfix's {client_name} is "unknown" without a verified PTR
	   name; the connect host is "[address]" then (Sendmail's way). */
	name = sym(st, ctx, "{client_name}");
	if (name == NULL)
		name = host && host[0] && host[0] != '[' ? host : "unknown";
	if (gh_txn_set_client(s->txn, a, port, name, salen ? sa : NULL,
	    salen) == -1)
		return -1;
	/* Postfix does not show milters the Received header it will add
	   for this client: header rules get it synthesised, as in the
	   proxy (filters/received.c).  Milters are not told HELO from
	   EHLO; nearly every client says EHLO. */
	s->txn->env.received_pending = true;
	s->txn->env.esmtp = true;
	if (gh_log_enabled(LOG_DEBUG)) {
		char ea[80], en[300];

		gh_log_session(LOG_DEBUG, s->sid, "milter: connect client=%s "
		    "client_name=%s", gh_printable(ea, sizeof(ea), a ? a : "",
		    a ? strlen(a) : 0, 64), gh_printable(en, sizeof(en), name,
		    strlen(name), 255));
	}
	return 0;
}

/* CONNECT: the client's address and name. */
sfsistat
milter__connect(struct milter_state *st, void *ctx, const char *host,
    const struct sockaddr *sa)
{
	struct msess	*s = st->api->getpriv(ctx);

	if (s == NULL) {
		if ((s = sess_new(st)) == NULL)
			return cannot(st, ctx, NULL, GH_STAGE_CONNECT,
			    "connect", "out of memory");
		if (st->api->setpriv(ctx, s) != MI_SUCCESS) {
			sess_free(st, s);
			return cannot(st, ctx, NULL, GH_STAGE_CONNECT,
			    "connect", "cannot set private data");
		}
	}
	if (s->txn) {
		/* A second connect on one connection: start over. */
		end_message(s, "aborted");
		gh_txn_free(s->txn);
		s->txn = NULL;
		gh_verdict_clear(&s->conn_verdict);
	}
	pin_chain(st, s);
	if ((s->txn = gh_txn_new(s->chain, s->sid)) == NULL)
		return cannot(st, ctx, s, GH_STAGE_CONNECT, "connect",
		    "out of memory");
	if (set_client(st, ctx, s, host, sa) == -1)
		return cannot(st, ctx, s, GH_STAGE_CONNECT, "connect",
		    "out of memory");
	return run_stage(st, ctx, s, GH_STAGE_CONNECT);
}

/* The session of a callback that needs a transaction, or NULL. */
static struct msess *
need_txn(struct milter_state *st, void *ctx)
{
	struct msess	*s = st->api->getpriv(ctx);

	return s && s->txn ? s : NULL;
}

/* HELO: the name the client gave. */
sfsistat
milter__helo(struct milter_state *st, void *ctx, const char *helo)
{
	struct msess	*s = need_txn(st, ctx);

	if (s == NULL)
		return cannot(st, ctx, st->api->getpriv(ctx), GH_STAGE_HELO,
		    "helo", "without connect");
	if (s->conn_verdict.action != GH_CONTINUE)
		return reply(st, ctx, s, &s->conn_verdict, GH_STAGE_HELO);
	if (gh_txn_set_helo(s->txn, helo ? helo : "") == -1 ||
	    gh_txn_set_tls(s->txn, sym(st, ctx, "{tls_version}"),
	    sym(st, ctx, "{cipher}")) == -1)
		return cannot(st, ctx, s, GH_STAGE_HELO, "helo",
		    "out of memory");
	return run_stage(st, ctx, s, GH_STAGE_HELO);
}

/* An envelope address without its angle brackets; malloc'd. */
static char *
bare_address(const char *arg)
{
	size_t	 len;

	while (*arg == ' ')
		arg++;
	len = strlen(arg);
	while (len > 0 && arg[len - 1] == ' ')
		len--;
	if (len >= 2 && arg[0] == '<' && arg[len - 1] == '>')
		return gh_strndup(arg + 1, len - 2);
	return gh_strndup(arg, len);
}

/* MAIL: a new message with its sender and what the MTA knows. */
sfsistat
milter__envfrom(struct milter_state *st, void *ctx, char **argv)
{
	struct msess	*s = st->api->getpriv(ctx);
	const char	*v;
	char		*from;
	int		 r;

	if (s)
		end_message(s, "aborted");	/* whatever came before */
	if (s == NULL || s->txn == NULL)
		return cannot(st, ctx, s, GH_STAGE_MAIL, "envfrom",
		    "without connect");
	if (s->conn_verdict.action != GH_CONTINUE)
		return reply(st, ctx, s, &s->conn_verdict, GH_STAGE_MAIL);
	if (argv == NULL || argv[0] == NULL)
		return cannot(st, ctx, s, GH_STAGE_MAIL, "envfrom",
		    "without a sender");
	if ((from = bare_address(argv[0])) == NULL)
		return cannot(st, ctx, s, GH_STAGE_MAIL, "envfrom",
		    "out of memory");
	r = gh_txn_set_mail(s->txn, from);
	free(from);
	if ((v = sym(st, ctx, "i")) != NULL)
		r |= gh_txn_set_queue_id(s->txn, v);
	if ((v = sym(st, ctx, "{auth_authen}")) != NULL)
		r |= gh_txn_set_auth(s->txn, v);
	if ((v = sym(st, ctx, "{tls_version}")) != NULL)
		r |= gh_txn_set_tls(s->txn, v, sym(st, ctx, "{cipher}"));
	if (r != 0)
		return cannot(st, ctx, s, GH_STAGE_MAIL, "envfrom",
		    "out of memory");
	return run_stage(st, ctx, s, GH_STAGE_MAIL);
}

/* RCPT: one recipient. */
sfsistat
milter__envrcpt(struct milter_state *st, void *ctx, char **argv)
{
	struct msess		*s = need_txn(st, ctx);
	const struct gh_verdict	*h;
	char			*rcpt;
	int			 r;

	if (s == NULL)
		return cannot(st, ctx, st->api->getpriv(ctx), GH_STAGE_RCPT,
		    "envrcpt", "without connect");
	if ((h = held(s)) != NULL)
		return reply(st, ctx, s, h, GH_STAGE_RCPT);
	if (!s->txn->in_message)
		return cannot(st, ctx, s, GH_STAGE_RCPT, "envrcpt",
		    "without envfrom");
	if (argv == NULL || argv[0] == NULL)
		return cannot(st, ctx, s, GH_STAGE_RCPT, "envrcpt",
		    "without a recipient");
	if ((rcpt = bare_address(argv[0])) == NULL)
		return cannot(st, ctx, s, GH_STAGE_RCPT, "envrcpt",
		    "out of memory");
	r = gh_txn_add_rcpt(s->txn, rcpt);
	free(rcpt);
	if (r == -1)
		return cannot(st, ctx, s, GH_STAGE_RCPT, "envrcpt",
		    "out of memory");
	return run_stage(st, ctx, s, GH_STAGE_RCPT);
}

/* The message of the session, created on first use; NULL on failure. */
static struct gh_message *
message(struct msess *s)
{
	const struct gh_config	*cfg = s->txn->cfg;
	struct gh_msg_limits	 lim;

	if (s->msg || s->msg_err)
		return s->msg;
	memset(&lim, 0, sizeof(lim));
	lim.mem_max = cfg->data_memory_max;
	lim.tmpdir = cfg->spool_dir;
	lim.max_size = cfg->max_message_size;
	if ((s->msg = gh_message_new(&lim)) == NULL)
		s->msg_err = ENOMEM;
	else
		gh_txn_set_message(s->txn, s->msg);
	return s->msg;
}

/* Feed bytes to the message; remember the first failure. */
static void
feed(struct msess *s, const char *p, size_t len)
{
	struct gh_message	*m = message(s);

	if (m && gh_message_feed(m, p, len) == -1 && s->msg_err == 0)
		s->msg_err = gh_message_error(m) ? gh_message_error(m) : EIO;
}

/* Tell whether message data belongs to a message still being decided. */
static bool
message_open(const struct msess *s)
{
	return s && s->txn && s->txn->in_message &&
	    s->txn->decided == GH_CONTINUE && !s->logged &&
	    held(s) == NULL;
}

/* Header: rebuild "Name: value\r\n" as it was in the message. */
sfsistat
milter__header(struct milter_state *st, void *ctx, const char *name,
    const char *value)
{
	struct msess	*s = st->api->getpriv(ctx);
	struct gh_buf	 b;
	const char	*p;

	if (!message_open(s) || s->eoh_done || name == NULL)
		goto out;	/* refused, out of order: EOH/EOM answer */
	if (value == NULL)
		value = "";
	/* A session that began without negotiation (after QUIT_NC,
	   libmilter calls close, then connect on the same connection)
	   does not know about SMFIP_HDR_LEADSPC: with it, values keep the
	   space after the colon, which nearly every header has. */
	if (!s->leadspc_known) {
		s->leadspc = value[0] == ' ';
		s->leadspc_known = true;
	}
	gh_buf_init(&b, 1024 * 1024);
	gh_buf_puts(&b, name);
	gh_buf_puts(&b, ":");
	/* Without SMFIP_HDR_LEADSPC the MTA drops the space after the
	   colon; put one back unless the value starts with white space. */
	if (!s->leadspc && value[0] != ' ' && value[0] != '\t')
		gh_buf_puts(&b, " ");
	for (p = value; *p; p++) {
		/* Milters fold with LF alone: make it CRLF. */
		if (*p == '\n' && (p == value || p[-1] != '\r'))
			gh_buf_append(&b, "\r", 1);
		gh_buf_append(&b, p, 1);
	}
	if (gh_buf_puts(&b, "\r\n") == -1 || b.p == NULL) {
		if (s->msg_err == 0)
			s->msg_err = EMSGSIZE;
	} else
		feed(s, b.p, b.len);
	gh_buf_free(&b);
out:
	return s && s->nr_hdr ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* End the header section and run HEADERS; the SMFIS_* answer. */
static sfsistat
headers_done(struct milter_state *st, void *ctx, struct msess *s)
{
	const char	*qid;

	s->eoh_done = true;
	feed(s, "\r\n", 2);
	if (s->txn->env.queue_id == NULL && (qid = sym(st, ctx, "i")) &&
	    gh_txn_set_queue_id(s->txn, qid) == -1)
		return cannot(st, ctx, s, GH_STAGE_HEADERS, "eoh",
		    "out of memory");
	return run_stage(st, ctx, s, GH_STAGE_HEADERS);
}

/* End of headers: HEADERS. */
sfsistat
milter__eoh(struct milter_state *st, void *ctx)
{
	struct msess		*s = need_txn(st, ctx);
	const struct gh_verdict	*h;

	if (s == NULL)
		return cannot(st, ctx, st->api->getpriv(ctx),
		    GH_STAGE_HEADERS, "eoh", "without connect");
	if ((h = held(s)) != NULL)
		return reply(st, ctx, s, h, GH_STAGE_HEADERS);
	if (!s->txn->in_message)
		return cannot(st, ctx, s, GH_STAGE_HEADERS, "eoh",
		    "without envfrom");
	if (!s->eoh_done)
		return headers_done(st, ctx, s);
	/* A second end of headers: say again what was decided. */
	return reply(st, ctx, s, &s->txn->final, GH_STAGE_HEADERS);
}

/* Body chunk: store it. */
sfsistat
milter__body(struct milter_state *st, void *ctx, const unsigned char *chunk,
    size_t len)
{
	struct msess	*s = st->api->getpriv(ctx);

	if (message_open(s)) {
		/* A body without an end of headers: end them now (a
		   refusal is answered at EOM). */
		if (!s->eoh_done)
			(void)headers_done(st, ctx, s);
		if (message_open(s) && chunk && len)
			feed(s, (const char *)chunk, len);
	}
	return s && s->nr_body ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* The verdict at end of message: the failure policy or the chain. */
static void
eom_verdict(struct msess *s, struct gh_verdict *v)
{
	char	 what[128];

	memset(v, 0, sizeof(*v));
	if (s->msg_err && message_open(s)) {
		snprintf(what, sizeof(what), "message not stored: %s",
		    strerror(s->msg_err));
		failure_verdict(s, v, what);
	}
	if (v->action == GH_CONTINUE) {
		gh_verdict_clear(v);
		if (gh_chain_run(s->txn, GH_STAGE_EOM, v) == -1) {
			failure_verdict(s, v, "out of memory in the chain");
			if (v->action == GH_CONTINUE)
				v->action = GH_TEMPFAIL;
		}
	}
}

/* End of message: EOM, then the header edits. */
sfsistat
milter__eom(struct milter_state *st, void *ctx)
{
	struct msess		*s = need_txn(st, ctx);
	const struct gh_verdict	*h;
	struct gh_verdict	 v;
	sfsistat		 r;

	if (s == NULL)
		return cannot(st, ctx, st->api->getpriv(ctx), GH_STAGE_EOM,
		    "eom", "without connect");
	if (!s->txn->in_message && held(s) == NULL)
		return cannot(st, ctx, s, GH_STAGE_EOM, "eom",
		    "without envfrom");
	if (!s->eoh_done && message_open(s))
		(void)headers_done(st, ctx, s);	/* a refusal is held */
	if ((h = held(s)) != NULL) {
		r = milter__answer(st->api, ctx, h, GH_STAGE_EOM);
		if (s->txn->in_message && !s->logged)
			log_summary(s, h, NULL);
		end_message(s, NULL);
		return r;
	}
	if (message(s))
		(void)gh_message_end(s->msg);
	eom_verdict(s, &v);
	if (!ends_message(v.action) && milter__apply_edits(st->api, ctx,
	    s->txn, s->leadspc) == -1) {
		gh_verdict_clear(&v);
		gh_verdict_refuse(&v, s->txn, GH_TEMPFAIL,
		    &s->txn->cfg->tempfail_reply, "error",
		    "header edit refused by the MTA");
	}
	r = milter__answer(st->api, ctx, &v, GH_STAGE_EOM);
	if (!s->logged)
		log_summary(s, &v, NULL);
	gh_verdict_clear(&v);
	end_message(s, NULL);
	return r;
}

/* Abort: the message ends here. */
sfsistat
milter__abort(struct milter_state *st, void *ctx)
{
	struct msess	*s = st->api->getpriv(ctx);

	if (s)
		end_message(s, "aborted");
	return SMFIS_CONTINUE;
}

/* Close: the session ends (possibly without any connect). */
sfsistat
milter__close(struct milter_state *st, void *ctx)
{
	struct msess	*s = st->api->getpriv(ctx);

	if (s == NULL)
		return SMFIS_CONTINUE;
	end_message(s, "aborted");
	st->api->setpriv(ctx, NULL);
	sess_free(st, s);
	return SMFIS_CONTINUE;
}
