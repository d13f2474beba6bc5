/*
 * session.c — the client side of the proxy: one SMTP session.
 *
 * Owns the client connection, the transaction (struct gh_txn), the
 * message being received and the session's backend connection.  Each
 * command goes check -> filter -> proceed: a row of the command table
 * says in which states it is allowed; the syntax is checked before the
 * chain sees anything; the action runs after the verdict; MAIL, RCPT and
 * end of data are relayed to the backend, whose reply the client gets
 * unchanged.
 *
 * Invariants:
 *  - at most one thing is awaited at a time (s->wait): a verdict from
 *    the worker pool or one backend reply; input is not parsed
 *    meanwhile, so pipelined commands are answered in order;
 *  - replies are collected in s->out and written in one go when the
 *    session runs out of input or must wait for the client;
 *  - the client never gets a 2xx for MAIL, RCPT or a message that the
 *    backend did not give a 2xx for (DISCARD, asked for by a filter,
 *    is the one exception); any backend failure gives a 4xx;
 *  - end of data is CRLF.CRLF only (smtp_parse.c), and the message goes
 *    to the backend dot-stuffed again, so the backend sees the same
 *    message boundary as we did;
 *  - a session is freed only from session_kick()/finish(), never in the
 *    middle of processing; while a worker holds the transaction the
 *    worker owns it (a late result for a gone session frees it).
 *
 * Failures: protocol errors get a reply and count against
 * smtp.max_errors; environmental ones (backend, spool) a 4xx and a
 * warning; memory exhaustion on client input closes the session with
 * 421.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "filters/log.h"
#include "filters/message.h"
#include "filters/metrics.h"
#include "proxy/session_int.h"

#define ST(x)		(1u << (x))
#define REFUSED_MAX_ERRORS	3	/* after a 554 greeting */
#define ANY_STATE	(ST(S_HELO) | ST(S_IDLE) | ST(S_MAIL) | ST(S_RCPT))

/* The helpers tls.c and auth.c share go by their short names here. */
#define reply		session__reply
#define error_reply	session__error_reply
#define enter_state	session__enter_state
#define set_wait	session__set_wait
#define flush		session__flush
#define close_session	session__close
#define kick		session__kick
#define drop_backend	session__drop_backend
#define make_ident	session__make_ident
#define relay		session__relay
#define first_line	session__first_line
#define to_backend	session__to_backend
#define read_cb		session__read_cb
#define write_cb	session__write_cb
#define event_cb	session__event_cb

static const char *state_names[S_NSTATES] = {
	"connect", "helo", "idle", "mail", "rcpt", "data"
};

static void	end_txn(struct session *);

/* Name of a state for the log. */
static const char *
state_name(enum sstate st)
{
	return st < S_NSTATES ? state_names[st] : "?";
}

/* One door for state changes: log old -> new at debug level. */
void
enter_state(struct session *s, enum sstate st)
{
	if (gh_log_enabled(LOG_DEBUG) && s->state != st)
		gh_log_session(LOG_DEBUG, s->id, "state %s -> %s",
		    state_name(s->state), state_name(st));
	s->state = st;
}

/* Milliseconds into a timeval. */
static struct timeval
ms_tv(uint64_t ms)
{
	struct timeval	 tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	return tv;
}

/* The timeouts for what the session waits for now. */
static void
set_timeouts(struct session *s)
{
	struct timeval	 tv;

	if (s->wait != W_NONE && s->wait != W_TLS) {
		/* Waiting on us: no client timeout (libevent would stop
		   reading when it fired). */
		bufferevent_set_timeouts(s->bev, NULL, NULL);
		return;
	}
	tv = ms_tv(s->state == S_DATA ? s->txn->cfg->data_timeout_ms :
	    s->txn->cfg->idle_timeout_ms);
	bufferevent_set_timeouts(s->bev, &tv, &tv);
}

/* Start or stop waiting. */
void
set_wait(struct session *s, enum swait w)
{
	s->wait = w;
	set_timeouts(s);
}

/* Queue a reply line (CRLF added). */
void
reply(struct session *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(s->out, fmt, ap);
	va_end(ap);
	evbuffer_add(s->out, "\r\n", 2);
}

/* A protocol error: reply, count, and close past smtp.max_errors. */
void
error_reply(struct session *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(s->out, fmt, ap);
	va_end(ap);
	evbuffer_add(s->out, "\r\n", 2);
	if (++s->nerrors >= (unsigned)s->txn->cfg->max_errors ||
	    (s->refused && s->nerrors >= REFUSED_MAX_ERRORS)) {
		gh_log_session(LOG_INFO, s->id, "too many errors client=%s",
		    s->addr);
		gh_metrics_refused("errors");
		reply(s, "421 4.7.0 %s Error: too many errors",
		    s->txn->cfg->hostname);
		close_session(s);
	}
}

/* Reply with a verdict's code, status and text. */
static void
reply_verdict(struct session *s, const struct gh_verdict *v)
{
	int	 code = v->code;

	if (code < 400 || code > 599)
		code = v->action == GH_TEMPFAIL ? 451 : 550;
	reply(s, "%d %s %s", code, v->status[0] ? v->status :
	    (code < 500 ? "4.7.1" : "5.7.1"), v->text ? v->text :
	    "Refused by policy");
}

/* Relay the backend's reply unchanged. */
void
relay(struct session *s, const struct be_reply *r)
{
	evbuffer_add(s->out, r->text, r->len);
}

/* The first line of a backend reply, for the log. */
void
first_line(const struct be_reply *r, char *out, size_t outsz)
{
	size_t	 n = 0;

	while (n < r->len && r->text[n] != '\r' && r->text[n] != '\n')
		n++;
	gh_printable(out, outsz, r->text, n, 200);
}

/* Write the queued replies to the client. */
void
flush(struct session *s)
{
	if (evbuffer_get_length(s->out) > 0 && !s->hard)
		proxy_io_send(s->bev, s->out);
}

/* Ask for the session to end once its replies are out. */
void
close_session(struct session *s)
{
	s->closing = true;
}

/* The one log line per message (and its metrics). */
static void
log_message(struct session *s, const struct gh_verdict *v, const char *be)
{
	s->messages++;
	s->txn_logged = true;
	gh_txn_finish(s->txn, v, be);
}

/* A transaction that ended without a message (RSET, QUIT, refused by the
   backend): its line, verdict=none, not counted as a message. */
static void
log_abandoned(struct session *s)
{
	struct gh_buf	 b;

	if (s->txn_logged || s->txn->env.mail_from == NULL)
		return;
	s->txn_logged = true;
	s->messages++;
	gh_buf_init(&b, 16 * 1024);
	gh_txn_summary(s->txn, NULL, s->last_be[0] ? s->last_be : NULL, &b);
	gh_log_session(LOG_INFO, s->id, "%s", b.p ? b.p : "message");
	gh_buf_free(&b);
}

/* Make a tempfail verdict for a failure of our own. */
static void
internal_tempfail(struct session *s, struct gh_verdict *v, const char *why)
{
	memset(v, 0, sizeof(*v));
	v->action = GH_TEMPFAIL;
	v->code = 451;
	snprintf(v->status, sizeof(v->status), "4.3.0");
	v->text = strdup("Temporary local problem, try again later");
	v->reason = strdup(why);
}

/* Run chain stages first..last, inline or on a worker, then `cont`. */
static void
run_stages(struct session *s, enum gh_stage first, enum gh_stage last,
    verdict_fn cont)
{
	struct gh_verdict	 v;
	bool			 block = false;
	int			 st;

	for (st = first; st <= (int)last; st++)
		block |= gh_chain_may_block(s->txn->chain, st);
	if (block && s->srv->workers) {
		s->on_verdict = cont;
		set_wait(s, W_CHAIN);
		if (workers_submit(s->srv->workers, s->id, s->txn, first,
		    last) == 0)
			return;
		set_wait(s, W_NONE);
		internal_tempfail(s, &v, "cannot queue filter work");
	} else if (proxy_run_stages(s->txn, first, last, &v) == -1) {
		gh_verdict_clear(&v);
		internal_tempfail(s, &v, "out of memory in the chain");
	}
	cont(s, &v);
	gh_verdict_clear(&v);
}

/* Tell whether a verdict refuses. */
static bool
refuses(const struct gh_verdict *v)
{
	return v->action == GH_REJECT || v->action == GH_TEMPFAIL;
}

/* Send a command to the backend; `cont` gets the reply. */
void
to_backend(struct session *s, const struct client_ident *id,
    const char *line, size_t len, reply_fn cont)
{
	s->on_reply = cont;
	set_wait(s, W_BACKEND);
	backend_command(s->be, id, line, len);	/* may call back at once */
}

/* Drop the backend connection (QUIT when it is in step). */
void
drop_backend(struct session *s)
{
	if (s->be) {
		backend_free(s->be, !backend_busy(s->be));
		s->be = NULL;
	}
}

/* Log a backend failure and answer the client with a 4xx. */
static void
backend_failed(struct session *s, const struct be_reply *r, const char *at)
{
	gh_log_session(LOG_WARNING, s->id, "backend failure at %s: %s", at,
	    r->why ? r->why : "unexpected reply");
	gh_metrics_backend_error(r->why ? r->why : "unexpected reply");
	drop_backend(s);
}

/* ------------------------------------------------------------------ */
/* HELO / EHLO */

/* Our EHLO reply: what works end to end. */
static void
ehlo_reply(struct session *s)
{
	const struct backend_caps	*c = &s->srv->caps;
	const struct gh_config		*cfg = s->txn->cfg;
	const char			*kw[14];
	char				 size[40], auth[160];
	size_t				 n = 0, i;

	kw[n++] = "PIPELINING";
	snprintf(size, sizeof(size), "SIZE %llu",
	    (unsigned long long)cfg->max_message_size);
	kw[n++] = size;
	if (c->eightbitmime || !c->known)
		kw[n++] = "8BITMIME";
	kw[n++] = "ENHANCEDSTATUSCODES";
	if (c->dsn)
		kw[n++] = "DSN";
	if (c->smtputf8)
		kw[n++] = "SMTPUTF8";
	if (tls_offer(s))
		kw[n++] = "STARTTLS";
	if (auth_offer(s, auth, sizeof(auth)))
		kw[n++] = auth;
	if (s->trusted)
		kw[n++] = "XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE";
	reply(s, "250-%s", cfg->hostname);
	for (i = 0; i < n; i++)
		reply(s, "250%c%s", i + 1 == n ? ' ' : '-', kw[i]);
}

/* After the HELO stage. */
static void
helo_done(struct session *s, struct gh_verdict *v)
{
	if (refuses(v)) {
		reply_verdict(s, v);
		return;
	}
	enter_state(s, S_IDLE);
	if (s->esmtp)
		ehlo_reply(s);
	else
		reply(s, "250 %s", s->txn->cfg->hostname);
}

/* HELO and EHLO. */
static void
cmd_helo(struct session *s, const struct smtp_cmd *c)
{
	struct gh_str	 name;
	char		*h;

	if (smtp_helo_parse(c->args.p, c->args.len, &name) != SMTP_OK) {
		error_reply(s, "501 5.5.4 Syntax: %s hostname",
		    c->verb == SMTP_EHLO ? "EHLO" : "HELO");
		return;
	}
	if (s->state == S_MAIL || s->state == S_RCPT) {
		/* EHLO resets the transaction (4.1.4); the backend's goes
		   with its connection. */
		drop_backend(s);
		end_txn(s);
	}
	if ((h = gh_strndup(name.p, name.len)) == NULL ||
	    gh_txn_set_helo(s->txn, h) == -1) {
		free(h);
		reply(s, "451 4.3.0 Temporary local problem");
		return;
	}
	free(h);
	s->esmtp = c->verb == SMTP_EHLO;
	run_stages(s, GH_STAGE_HELO, GH_STAGE_HELO, helo_done);
}

/* ------------------------------------------------------------------ */
/* MAIL */

/* Build the identity that the backend must see. */
void
make_ident(struct session *s)
{
	/* A trusted front told us already, or an AUTH relayed to the
	   backend must not be undone by another XCLIENT. */
	if (!s->xforwarded && !s->ident_pinned)
		relay_ident_peer(&s->ident, s->name, s->addr, s->port,
		    s->esmtp, s->txn->env.helo);
}

/* Append the parameters the backend may see; -1 (with the reply
   queued) on one we cannot pass. */
static int
pass_params(struct session *s, const struct smtp_path *p, bool mail,
    struct gh_buf *line)
{
	struct gh_str	 bad;
	char		 esc[80];

	switch (relay_params(p, mail, &s->srv->caps, line, &bad)) {
	case 0:
		return 0;
	case -1:
		gh_printable(esc, sizeof(esc), bad.p, bad.len, 40);
		error_reply(s, "555 5.5.4 Unsupported option: %s", esc);
		return -1;
	default:
		reply(s, "451 4.3.0 Temporary local problem");
		return -1;
	}
}

/* The MAIL failed or was refused: log it, forget the sender. */
static void
reset_mail(struct session *s)
{
	log_abandoned(s);
	gh_txn_reset(s->txn, s->srv->chain);
	s->txn_logged = false;
	s->last_be[0] = '\0';
}

/* The backend answered MAIL. */
static void
mail_reply(struct session *s, const struct be_reply *r)
{
	char	 be[256];

	if (r->code)
		first_line(r, s->last_be, sizeof(s->last_be));
	if (r->code == 0) {
		snprintf(s->last_be, sizeof(s->last_be), "backend failure: %s",
		    r->why ? r->why : "?");
		backend_failed(s, r, "MAIL");
		reply(s, "451 4.4.1 Temporary backend failure, try again "
		    "later");
		reset_mail(s);
		return;
	}
	if (r->code / 100 == 2) {
		relay(s, r);
		enter_state(s, S_MAIL);
		return;
	}
	if (r->code / 100 == 4 || r->code / 100 == 5)
		relay(s, r);
	else {
		first_line(r, be, sizeof(be));
		gh_log_session(LOG_WARNING, s->id, "backend reply to MAIL "
		    "makes no sense: %s", be);
		reply(s, "451 4.3.0 Temporary backend failure");
	}
	reset_mail(s);
}

/* After the MAIL stage: open the backend if needed, relay MAIL. */
static void
mail_done(struct session *s, struct gh_verdict *v)
{
	struct gh_buf	*line = &s->line;

	if (refuses(v) || v->action == GH_DISCARD) {
		if (v->action == GH_DISCARD)
			reply(s, "250 2.0.0 Ok");	/* then dropped */
		else
			reply_verdict(s, v);
		log_message(s, v, NULL);
		if (v->action != GH_DISCARD)
			reset_mail(s);
		else
			enter_state(s, S_MAIL);
		return;
	}
	make_ident(s);
	if (s->be && !backend_ready(s->be))
		drop_backend(s);
	if (s->authed && s->be == NULL) {
		/* The backend's session that knew the login is gone. */
		reply(s, "421 4.4.1 %s Backend connection lost",
		    s->txn->cfg->hostname);
		close_session(s);
		return;
	}
	if (s->be == NULL &&
	    (s->be = backend_get(s->srv, s, s->txn->cfg)) == NULL) {
		gh_log_session(LOG_WARNING, s->id, "cannot connect to the "
		    "backend");
		reply(s, "451 4.4.1 Temporary backend failure, try again "
		    "later");
		snprintf(s->last_be, sizeof(s->last_be), "backend failure: "
		    "cannot connect");
		reset_mail(s);
		return;
	}
	to_backend(s, &s->ident, line->p, line->len, mail_reply);
}

/* MAIL FROM. */
static void
cmd_mail(struct session *s, const struct smtp_cmd *c)
{
	struct smtp_path		 p;
	const struct smtp_param		*sz;
	struct gh_buf			*line = &s->line;
	unsigned long long		 n;

	if (smtp_path_parse(c->args.p, c->args.len, true, &p) != SMTP_OK) {
		error_reply(s, "501 5.1.7 Bad sender address syntax");
		return;
	}
	if ((sz = smtp_path_param(&p, "SIZE")) != NULL) {
		char	 num[24], *end;

		if (sz->value.p == NULL || sz->value.len >= sizeof(num)) {
			error_reply(s, "501 5.5.4 Bad SIZE parameter");
			return;
		}
		memcpy(num, sz->value.p, sz->value.len);
		num[sz->value.len] = '\0';
		n = strtoull(num, &end, 10);
		if (*end != '\0' || num[0] < '0' || num[0] > '9') {
			error_reply(s, "501 5.5.4 Bad SIZE parameter");
			return;
		}
		if (n > s->txn->cfg->max_message_size) {
			reply(s, "552 5.3.4 Message size exceeds fixed limit");
			return;
		}
	}
	gh_buf_reset(line);
	if (gh_buf_printf(line, "MAIL FROM:<%s>", p.addr) == -1 ||
	    pass_params(s, &p, true, line) == -1)
		return;
	if (s->xforwarded)
		gh_txn_set_client(s->txn, s->ident.addr, (uint16_t)atoi(
		    s->ident.port ? s->ident.port : "0"), s->ident.name, NULL,
		    0);
	/* A new transaction: on the current rules (SIGHUP). */
	if (s->txn->chain != s->srv->chain)
		gh_txn_reset(s->txn, s->srv->chain);
	if (gh_txn_set_mail(s->txn, p.addr) == -1) {
		reply(s, "451 4.3.0 Temporary local problem");
		return;
	}
	run_stages(s, GH_STAGE_MAIL, GH_STAGE_MAIL, mail_done);
}

/* ------------------------------------------------------------------ */
/* RCPT */

/* Take the last recipient out of the envelope (the backend refused). */
static void
pop_rcpt(struct session *s)
{
	struct gh_envelope	*e = &s->txn->env;

	if (e->nrcpts)
		free(e->rcpts[--e->nrcpts]);
}

/* The backend answered RCPT. */
static void
rcpt_reply(struct session *s, const struct be_reply *r)
{
	char	 be[256];

	if (r->code)
		first_line(r, s->last_be, sizeof(s->last_be));
	if (r->code == 0) {
		/* Only this recipient fails; the transaction stays open so
		   that the client's next RCPT gets a 4xx as well, not a
		   503 (which would bounce it), and DATA a 4xx at the end. */
		backend_failed(s, r, "RCPT");
		reply(s, "451 4.4.1 Temporary backend failure, try again "
		    "later");
		pop_rcpt(s);
		return;
	}
	if (r->code / 100 == 2) {
		relay(s, r);
		s->naccepted++;
		enter_state(s, S_RCPT);
		return;
	}
	if (r->code / 100 == 4 || r->code / 100 == 5)
		relay(s, r);
	else {
		first_line(r, be, sizeof(be));
		gh_log_session(LOG_WARNING, s->id, "backend reply to RCPT "
		    "makes no sense: %s", be);
		reply(s, "451 4.3.0 Temporary backend failure");
	}
	pop_rcpt(s);
}

/* After the RCPT stage: relay the recipient. */
static void
rcpt_done(struct session *s, struct gh_verdict *v)
{
	struct gh_buf	*line = &s->line;

	if (refuses(v)) {
		reply_verdict(s, v);	/* the chain removed the recipient */
		return;
	}
	if (s->txn->decided == GH_DISCARD) {
		reply(s, "250 2.1.5 Ok");
		enter_state(s, S_RCPT);
		s->naccepted++;
		return;
	}
	if (s->be == NULL || !backend_ready(s->be)) {
		/* The backend went away earlier in this transaction. */
		drop_backend(s);
		reply(s, "451 4.4.1 Temporary backend failure, try again "
		    "later");
		pop_rcpt(s);
		return;
	}
	to_backend(s, NULL, line->p, line->len, rcpt_reply);
}

/* RCPT TO. */
static void
cmd_rcpt(struct session *s, const struct smtp_cmd *c)
{
	struct smtp_path	 p;
	struct gh_buf		*line = &s->line;

	if (smtp_path_parse(c->args.p, c->args.len, false, &p) != SMTP_OK) {
		error_reply(s, "501 5.1.3 Bad recipient address syntax");
		return;
	}
	if (s->txn->env.nrcpts >= (size_t)s->txn->cfg->max_recipients) {
		reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	gh_buf_reset(line);
	if (gh_buf_printf(line, "RCPT TO:<%s>", p.addr) == -1 ||
	    pass_params(s, &p, false, line) == -1)
		return;
	if (gh_txn_add_rcpt(s->txn, p.addr) == -1) {
		reply(s, "451 4.3.0 Temporary local problem");
		return;
	}
	run_stages(s, GH_STAGE_RCPT, GH_STAGE_RCPT, rcpt_done);
}

/* ------------------------------------------------------------------ */
/* DATA */

/* The DATA reader's sink: the message model. */
static int
data_sink(void *ctx, const char *p, size_t n)
{
	struct session	*s = ctx;

	return gh_message_feed(s->msg, p, n);
}

/* DATA. */
static void
cmd_data(struct session *s, const struct smtp_cmd *c)
{
	const struct gh_config	*cfg = s->txn->cfg;
	struct gh_msg_limits	 lim;

	if (c->args.len) {
		error_reply(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	memset(&lim, 0, sizeof(lim));
	lim.mem_max = cfg->data_memory_max ? cfg->data_memory_max : 1;
	lim.tmpdir = cfg->spool_dir;
	lim.max_size = cfg->max_message_size + 1;
	if ((s->msg = gh_message_new(&lim)) == NULL) {
		reply(s, "451 4.3.0 Temporary local problem");
		return;
	}
	gh_txn_set_message(s->txn, s->msg);
	smtp_data_init(&s->data, (size_t)cfg->max_text_line,
	    cfg->max_message_size, cfg->data_bare_newline == 1);
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
	enter_state(s, S_DATA);
	set_timeouts(s);
}

/* The backend answered the end of data (or refused DATA). */
static void
dot_reply(struct session *s, const struct be_reply *r)
{
	struct gh_verdict	*v = &s->txn->final;
	char			 be[256];

	if (r->code == 0) {
		backend_failed(s, r, "end of data");
		reply(s, "451 4.4.1 Temporary backend failure, message not "
		    "accepted");
		snprintf(be, sizeof(be), "backend failure: %s", r->why);
	} else if (r->code / 100 >= 2 && r->code / 100 <= 5 &&
	    r->code / 100 != 3) {
		relay(s, r);
		first_line(r, be, sizeof(be));
		if (r->code / 100 == 2)
			s->srv->messages++;
	} else {
		first_line(r, be, sizeof(be));
		gh_log_session(LOG_WARNING, s->id, "backend reply to end of "
		    "data makes no sense: %s", be);
		reply(s, "451 4.3.0 Temporary backend failure");
		drop_backend(s);
	}
	log_message(s, v, be);
	end_txn(s);
}

/* The backend answered our RSET after a local refusal. */
static void
rset_reply(struct session *s, const struct be_reply *r)
{
	if (r->code / 100 != 2)
		drop_backend(s);
	end_txn(s);
}

/* Abort the backend's transaction, then end ours. */
static void
abort_backend_txn(struct session *s)
{
	if (s->be && backend_ready(s->be) && !backend_busy(s->be)) {
		to_backend(s, NULL, "RSET", 4, rset_reply);
		return;
	}
	drop_backend(s);
	end_txn(s);
}

/* After HEADERS and EOM: send the message, or refuse it. */
static void
eom_done(struct session *s, struct gh_verdict *v)
{
	struct gh_txn		*t = s->txn;
	struct gh_verdict	 gone;

	if (s->eof &&
	    evbuffer_get_length(bufferevent_get_input(s->bev)) == 0) {
		/* The client vanished before it could see a reply: it must
		   send again, so delivering now would only make a copy. */
		memset(&gone, 0, sizeof(gone));
		gone.action = GH_TEMPFAIL;
		gone.reason = (char *)"client gone before the message was "
		    "relayed";
		log_message(s, &gone, NULL);
		abort_backend_txn(s);
		return;
	}

	if (refuses(v) || v->action == GH_DISCARD) {
		if (v->action == GH_DISCARD)
			reply(s, "250 2.0.0 Ok: discarded");
		else
			reply_verdict(s, v);
		gh_verdict_clear(&t->final);
		gh_verdict_copy(&t->final, v);
		log_message(s, v, NULL);
		abort_backend_txn(s);
		return;
	}
	gh_verdict_clear(&t->final);
	gh_verdict_copy(&t->final, v);
	if (s->be == NULL || !backend_ready(s->be) || backend_busy(s->be)) {
		drop_backend(s);
		reply(s, "451 4.4.1 Temporary backend failure, message not "
		    "accepted");
		log_message(s, v, "backend lost");
		end_txn(s);
		return;
	}
	s->on_reply = dot_reply;
	set_wait(s, W_BACKEND);
	backend_message(s->be, s->msg, t->edits.v, t->edits.n);
}

/* Refuse a message the reader flagged; true when it did. */
static bool
refuse_flagged(struct session *s)
{
	unsigned		 f = s->data.flags;
	struct gh_verdict	 v;
	const char		*why;
	int			 err = gh_message_error(s->msg);

	memset(&v, 0, sizeof(v));
	v.action = GH_REJECT;
	if (f & SMTP_DATA_TOOBIG) {
		reply(s, "552 5.3.4 Message size exceeds fixed limit");
		why = "message too big";
	} else if (f & (SMTP_DATA_BARECR | SMTP_DATA_BARELF |
	    SMTP_DATA_NUL) && !s->data.normalize) {
		reply(s, "550 5.6.0 Message refused: bare CR, bare LF or NUL "
		    "in the message (RFC 5321 2.3.8)");
		why = "bare CR, LF or NUL";
	} else if (f & SMTP_DATA_LONGLINE) {
		reply(s, "500 5.5.2 Message refused: line too long");
		why = "line too long";
	} else if (f & SMTP_DATA_SINKFAIL || err) {
		if (err == EMSGSIZE || err == E2BIG || err == EFBIG) {
			reply(s, "552 5.3.4 Message header too large");
			why = "header too large";
		} else {
			gh_log_session(LOG_WARNING, s->id, "spool: %s",
			    strerror(err));
			reply(s, "451 4.3.0 Temporary local problem");
			v.action = GH_TEMPFAIL;
			why = "spool failure";
		}
	} else
		return false;
	v.reason = (char *)why;
	log_message(s, &v, NULL);
	abort_backend_txn(s);
	return true;
}

/* End of data seen: check, filter, then relay. */
static void
data_end(struct session *s)
{
	enter_state(s, S_RCPT);		/* until the transaction ends */
	set_timeouts(s);
	(void)gh_message_end(s->msg);
	if (refuse_flagged(s))
		return;
	run_stages(s, GH_STAGE_HEADERS, GH_STAGE_EOM, eom_done);
}

/* Feed what the client sent to the DATA reader; false: need more. */
static bool
read_data(struct session *s)
{
	struct evbuffer		*in = bufferevent_get_input(s->bev);
	struct evbuffer_iovec	 v[8];
	size_t			 total = 0, used;
	int			 n, i;
	enum smtp_data_res	 r = SMTP_DATA_MORE;

	if ((n = evbuffer_peek(in, -1, NULL, v, 8)) <= 0)
		return false;
	for (i = 0; i < n && i < 8 && r == SMTP_DATA_MORE; i++) {
		r = smtp_data_feed(&s->data, v[i].iov_base, v[i].iov_len,
		    &used, data_sink, s);
		total += used;
	}
	evbuffer_drain(in, total);
	if (r == SMTP_DATA_END) {
		data_end(s);
		return true;
	}
	return evbuffer_get_length(in) > 0;
}

/* ------------------------------------------------------------------ */
/* Other commands */

/* End the transaction: keep the session, move to the current chain. */
static void
end_txn(struct session *s)
{
	log_abandoned(s);
	s->txn_logged = false;
	s->last_be[0] = '\0';
	gh_txn_reset(s->txn, s->srv->chain);
	gh_message_free(s->msg);
	s->msg = NULL;
	s->naccepted = 0;
	if (s->state != S_HELO && s->state != S_CONNECT)
		enter_state(s, S_IDLE);
	set_timeouts(s);
	if (s->srv->draining) {
		reply(s, "421 4.3.2 %s Service shutting down",
		    s->txn->cfg->hostname);
		close_session(s);
	}
}

/* RSET. */
static void
cmd_rset(struct session *s, const struct smtp_cmd *c)
{
	reply(s, "250 2.0.0 Ok");
	if (s->state == S_MAIL || s->state == S_RCPT)
		abort_backend_txn(s);
	else
		end_txn(s);
}

static void
cmd_noop(struct session *s, const struct smtp_cmd *c)
{
	reply(s, "250 2.0.0 Ok");
}

static void
cmd_quit(struct session *s, const struct smtp_cmd *c)
{
	reply(s, "221 2.0.0 Bye");
	close_session(s);
}

static void
cmd_vrfy(struct session *s, const struct smtp_cmd *c)
{
	reply(s, "252 2.0.0 Cannot VRFY; send some mail");
}

static void
cmd_help(struct session *s, const struct smtp_cmd *c)
{
	reply(s, "214 2.0.0 See RFC 5321");
}

static void
cmd_not_impl(struct session *s, const struct smtp_cmd *c)
{
	error_reply(s, "502 5.5.1 Error: command not implemented");
}

/* XFORWARD from a trusted front end (Postfix smtpd_proxy_filter). */
static void
cmd_xforward(struct session *s, const struct smtp_cmd *c)
{
	if (!s->trusted) {
		error_reply(s, "550 5.7.0 Error: insufficient authorization");
		return;
	}
	if (c->args.len == 0) {
		error_reply(s, "501 5.5.4 Syntax: XFORWARD attribute=value");
		return;
	}
	if (!s->xforwarded) {
		make_ident(s);
		s->xforwarded = true;
	}
	if (relay_xforward(&s->ident, c->args.p, c->args.len) == -1) {
		error_reply(s, "501 5.5.4 Bad XFORWARD attribute");
		return;
	}
	if (s->ident.helo)
		gh_txn_set_helo(s->txn, s->ident.helo);
	reply(s, "250 2.0.0 Ok");
}

/* The command table: states where each verb is allowed. */
static const struct cmd {
	enum smtp_verb	 verb;
	unsigned	 states;
	void		(*fn)(struct session *, const struct smtp_cmd *);
	const char	*bad_state;
} commands[] = {
	{ SMTP_HELO, ANY_STATE, cmd_helo, NULL },
	{ SMTP_EHLO, ANY_STATE, cmd_helo, NULL },
	{ SMTP_MAIL, ST(S_IDLE), cmd_mail, NULL },
	{ SMTP_RCPT, ST(S_MAIL) | ST(S_RCPT), cmd_rcpt,
	    "503 5.5.1 Error: need MAIL command" },
	{ SMTP_DATA, ST(S_RCPT), cmd_data, NULL },
	{ SMTP_RSET, ANY_STATE, cmd_rset, NULL },
	{ SMTP_NOOP, ANY_STATE, cmd_noop, NULL },
	{ SMTP_QUIT, ANY_STATE, cmd_quit, NULL },
	{ SMTP_VRFY, ANY_STATE, cmd_vrfy, NULL },
	{ SMTP_HELP, ANY_STATE, cmd_help, NULL },
	{ SMTP_XFORWARD, ST(S_HELO) | ST(S_IDLE), cmd_xforward,
	    "503 5.5.1 Error: XFORWARD not allowed in a transaction" },
	{ SMTP_STARTTLS, ST(S_HELO) | ST(S_IDLE), tls_cmd_starttls,
	    "503 5.5.1 Error: MAIL transaction in progress" },
	{ SMTP_AUTH, ST(S_HELO) | ST(S_IDLE), auth_cmd,
	    "503 5.5.1 Error: MAIL transaction in progress" },
	{ SMTP_BDAT, ANY_STATE, cmd_not_impl, NULL },
	{ SMTP_EXPN, ANY_STATE, cmd_not_impl, NULL },
	{ SMTP_ETRN, ANY_STATE, cmd_not_impl, NULL },
	{ SMTP_XCLIENT, ANY_STATE, cmd_not_impl, NULL },
};

/* The reply to a command sent in the wrong state. */
static void
bad_state(struct session *s, const struct cmd *c)
{
	if (c->bad_state)
		error_reply(s, "%s", c->bad_state);
	else if (c->verb == SMTP_MAIL && s->state == S_HELO)
		error_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
	else if (c->verb == SMTP_MAIL)
		error_reply(s, "503 5.5.1 Error: nested MAIL command");
	else if (c->verb == SMTP_DATA && s->state == S_MAIL)
		error_reply(s, "554 5.5.1 Error: no valid recipients");
	else if (c->verb == SMTP_DATA)
		error_reply(s, "503 5.5.1 Error: need RCPT command");
	else
		error_reply(s, "503 5.5.1 Error: bad sequence of commands");
	if (c->verb == SMTP_DATA &&
	    evbuffer_get_length(bufferevent_get_input(s->bev)) > 0) {
		/* DATA ends a pipelined group (RFC 2920 3.1): what follows a
		   refused DATA is message text.  Never read it as commands. */
		gh_log_session(LOG_NOTICE, s->id, "client=%s sent text after "
		    "a refused DATA: closing", s->addr);
		close_session(s);
	}
}

/* Check and run one command line. */
static void
handle_line(struct session *s, const char *line, size_t len)
{
	struct smtp_cmd		 c;
	size_t			 i;
	enum smtp_parse_err	 rc;

	s->ncommands++;
	rc = smtp_cmd_parse(line, len, &c);
	if (s->refused) {
		/* RFC 5321 3.1: after a 554 greeting, 503 to all but QUIT. */
		if (rc == SMTP_OK && c.verb == SMTP_QUIT)
			cmd_quit(s, &c);
		else
			error_reply(s, "503 5.5.1 Error: bad sequence of "
			    "commands: connection refused, send QUIT");
		return;
	}
	switch (rc) {
	case SMTP_OK:
		break;
	case SMTP_E_BADCHAR:
		error_reply(s, "500 5.5.2 Error: bad character in command");
		return;
	default:
		error_reply(s, "501 5.5.4 Syntax: %s",
		    c.verb == SMTP_MAIL ? "MAIL FROM:<address>" :
		    "RCPT TO:<address>");
		return;
	}
	if (gh_log_enabled(LOG_DEBUG)) {
		char esc[600];

		/* An AUTH line may carry credentials: the verb only. */
		gh_printable(esc, sizeof(esc), line, c.verb == SMTP_AUTH ?
		    c.name.len : len, 512);
		gh_log_session(LOG_DEBUG, s->id, "<<< %s", esc);
	}
	for (i = 0; i < GH_ARRAY_LEN(commands); i++)
		if (commands[i].verb == c.verb)
			break;
	if (i == GH_ARRAY_LEN(commands)) {
		error_reply(s, "500 5.5.2 Error: command not recognized");
		return;
	}
	if ((commands[i].states & ST(s->state)) == 0) {
		bad_state(s, &commands[i]);
		return;
	}
	commands[i].fn(s, &c);
}

/* Take complete command lines (and DATA) while nothing is awaited. */
static void
process_input(struct session *s)
{
	struct evbuffer		*in = bufferevent_get_input(s->bev);
	struct evbuffer_ptr	 eol;
	size_t			 eol_len, len, max;
	char			 stackbuf[1024], *line;
	bool			 secret;

	while (s->wait == W_NONE && !s->closing) {
		if (s->state == S_DATA) {
			if (!read_data(s))
				break;
			continue;
		}
		max = auth_line_max(s, in,
		    (size_t)s->txn->cfg->max_command_line);
		eol = evbuffer_search_eol(in, NULL, &eol_len,
		    EVBUFFER_EOL_CRLF_STRICT);
		if (eol.pos == -1) {
			len = evbuffer_get_length(in);
			if (len > max) {
				/* Keep a final CR: it may start the CRLF. */
				evbuffer_drain(in, len - 1);
				s->discarding = true;
			}
			break;
		}
		len = (size_t)eol.pos;
		if (s->discarding || len + 2 > max) {
			evbuffer_drain(in, len + 2);
			s->discarding = false;
			if (s->sasl)
				auth_response(s, NULL, 0);
			else
				error_reply(s, "500 5.5.2 Error: line too long");
			continue;
		}
		line = len < sizeof(stackbuf) ? stackbuf : malloc(len + 1);
		if (line == NULL) {
			reply(s, "421 4.3.0 Out of memory");
			close_session(s);
			break;
		}
		evbuffer_remove(in, line, len);
		evbuffer_drain(in, 2);
		line[len] = '\0';
		/* SASL data and AUTH lines are wiped after use. */
		secret = s->sasl || strncasecmp(line, "AUTH", 4) == 0;
		if (s->sasl)
			auth_response(s, line, len);	/* never logged */
		else
			handle_line(s, line, len);
		if (secret)
			explicit_bzero(line, len);
		if (line != stackbuf)
			free(line);
	}
}

/* Take the session out of the server's list and id table. */
static void
unregister(struct session *s)
{
	struct server	*srv = s->srv;
	struct session	**pp = &srv->by_id[s->id % srv->nbuckets];

	while (*pp && *pp != s)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = s->hnext;
	TAILQ_REMOVE(&srv->sessions, s, entry);
}

/* Find an open session by id (worker results come back this way). */
struct session *
server_find_session(struct server *srv, uint64_t id)
{
	struct session	*s;

	for (s = srv->by_id[id % srv->nbuckets]; s; s = s->hnext)
		if (s->id == id)
			return s;
	return NULL;
}

/* The next session in the server's list. */
struct session *
session_next(struct session *s)
{
	return TAILQ_NEXT(s, entry);
}

/* Free the session and everything it holds. */
static void
session_free(struct session *s)
{
	struct server	*srv = s->srv;

	/* Sessions that sent a message have had their line already. */
	gh_log_session(s->messages ? LOG_DEBUG : LOG_INFO, s->id,
	    "disconnect client=%s state=%s commands=%u errors=%u", s->addr,
	    state_name(s->state), s->ncommands, s->nerrors);
	if (s->wait != W_CHAIN && s->txn)
		log_abandoned(s);
	if (s->be && s->wait == W_NONE && !backend_busy(s->be) &&
	    (s->state == S_IDLE || s->state == S_HELO)) {
		/* In step and outside a transaction: reusable. */
		backend_release(s->be, s->txn->cfg);
		s->be = NULL;
	}
	drop_backend(s);
	if (s->wait == W_CHAIN) {
		/* The worker owns the transaction and its message now. */
	} else {
		gh_txn_free(s->txn);
		gh_message_free(s->msg);
	}
	relay_ident_free(&s->ident);
	auth_free(s);
	tls_free(s);
	gh_buf_free(&s->line);
	preface_free(s->pre);
	if (s->counted)
		server_uncount_client(srv, s->addr);
	gh_metrics_session_close();
	if (s->bev)
		bufferevent_free(s->bev);
	evbuffer_free(s->out);
	unregister(s);
	server_session_gone(srv, s);
	free(s);
}

/* Output written: a closing session goes once it is all out. */
void
write_cb(struct bufferevent *bev, void *arg)
{
	struct session	*s = arg;

	if (s->closing && !s->in_kick && (s->wait == W_NONE || s->hard) &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0 &&
	    !tls_pending(s))
		session_free(s);
}

/* Finish a session that asked to close. */
static void
finish(struct session *s)
{
	struct timeval	 tv = { 10, 0 };

	flush(s);
	if (s->hard ||
	    (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0 &&
	    !tls_pending(s))) {
		session_free(s);
		return;
	}
	bufferevent_disable(s->bev, EV_READ);
	bufferevent_set_timeouts(s->bev, NULL, &tv);
}

/* Process what can be processed; flush; free a finished session. */
void
kick(struct session *s)
{
	if (s->in_kick)
		return;
	s->in_kick = true;
	process_input(s);
	s->in_kick = false;
	if (s->wait == W_NONE && !s->closing && s->srv->draining &&
	    (s->state == S_HELO || s->state == S_IDLE)) {
		/* Shutting down and between transactions: say so now. */
		reply(s, "421 4.3.2 %s Service shutting down",
		    s->txn->cfg->hostname);
		close_session(s);
	}
	if (s->wait == W_NONE && !s->closing) {
		flush(s);
		if (s->eof) {
			/* Nothing complete is left: the client is gone. */
			close_session(s);
		}
	}
	if (s->closing && s->wait == W_NONE)
		finish(s);
	else if (s->closing && s->hard)
		finish(s);
}

/* Client data arrived. */
void
read_cb(struct bufferevent *bev, void *arg)
{
	struct session	*s = arg;

	if (s->pre)
		preface_read(s->pre);
	else
		kick(s);
}

/* The client closed, failed or timed out. */
void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct session	*s = arg;

	if (s->pre) {
		preface_event(s->pre, what);
		return;
	}
	if (tls_event(s, what))
		return;
	if (what & BEV_EVENT_TIMEOUT) {
		if (s->closing) {
			s->hard = true;
			finish(s);
			return;
		}
		gh_log_session(LOG_INFO, s->id, "timeout client=%s state=%s",
		    s->addr, state_name(s->state));
		reply(s, "421 4.4.2 %s Error: timeout exceeded",
		    s->txn->cfg->hostname);
		close_session(s);
		kick(s);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		s->hard = true;
		s->closing = true;
		kick(s);
		return;
	}
	s->eof = true;			/* BEV_EVENT_EOF */
	bufferevent_disable(bev, EV_READ);
	if (s->state == S_DATA && !s->in_kick) {
		/* Gone in the middle of a message: nothing is relayed. */
		s->in_kick = true;
		process_input(s);
		s->in_kick = false;
		if (s->state == S_DATA) {
			gh_log_session(LOG_INFO, s->id, "lost connection "
			    "in DATA client=%s", s->addr);
			s->hard = true;
			s->closing = true;
		}
	}
	kick(s);
}

/* After the CONNECT stage: the banner, or a refusal. */
static void
connect_done(struct session *s, struct gh_verdict *v)
{
	struct gh_verdict	 r;

	if (refuses(v)) {
		gh_log_session(LOG_INFO, s->id, "refused at connect client=%s "
		    "filter=%s", s->addr, v->filter ? v->filter : "-");
		r = *v;		/* shallow: for the reply only */
		r.code = v->action == GH_TEMPFAIL ? 421 : 554;
		reply_verdict(s, &r);
		if (v->action == GH_TEMPFAIL)
			close_session(s);	/* 421 closes (RFC 5321 3.8) */
		else
			s->refused = true;	/* 3.1: wait for QUIT */
		enter_state(s, S_HELO);
		return;
	}
	enter_state(s, S_HELO);
	reply(s, "220 %s ESMTP", s->txn->cfg->hostname);
}

/* Refuse a connection past a limit: 421 and close. */
static void
too_many(struct session *s)
{
	gh_log_session(LOG_NOTICE, s->id, "too many connections client=%s",
	    s->addr);
	gh_metrics_refused("connections");
	reply(s, "421 4.7.0 %s Error: too many connections",
	    s->txn->cfg->hostname);
	close_session(s);
	kick(s);
}

/* The preface is over (see proxy.h): CONNECT stage, then the banner. */
void
session_preface_done(struct session *s, const struct preface_result *r)
{
	const char	*name = r->name_status == GH_FCRDNS_OK ? r->name : NULL;
	struct preface	*p = s->pre;

	s->pre = NULL;
	set_wait(s, W_NONE);
	snprintf(s->addr, sizeof(s->addr), "%s", r->addr);
	snprintf(s->port, sizeof(s->port), "%s", r->port);
	snprintf(s->name, sizeof(s->name), "%s", name ? name :
	    r->name_status == GH_FCRDNS_TEMP ? "[TEMPUNAVAIL]" :
	    "[UNAVAILABLE]");
	s->counted = r->counted;
	if (r->end != PREFACE_OK || gh_txn_set_client(s->txn, s->addr,
	    (uint16_t)atoi(s->port), name, r->sa, r->salen) == -1) {
		preface_free(p);
		if (r->end == PREFACE_TOO_MANY)
			too_many(s);
		else {
			s->hard = s->closing = true;
			kick(s);
		}
		return;
	}
	preface_free(p);
	s->trusted = s->txn->env.trusted;
	gh_log_session(LOG_DEBUG, s->id, "connect client=%s port=%s name=%s",
	    s->addr, s->port, s->name);
	set_timeouts(s);
	s->in_kick = true;
	run_stages(s, GH_STAGE_CONNECT, GH_STAGE_CONNECT, connect_done);
	s->in_kick = false;
	kick(s);
}

/* A name lookup's result for this session (see proxy.h). */
void
session_on_name(struct session *s, enum gh_fcrdns r, const char *name)
{
	if (s->pre)	/* else the deadline came first */
		preface_on_name(s->pre, r, name);
}

/* A new client connection (see proxy.h). */
void
session_new(struct server *srv, evutil_socket_t fd,
    const struct sockaddr *sa, socklen_t salen)
{
	struct session		*s;
	const struct gh_config	*cfg = gh_chain_config(srv->chain);
	int			 one = 1;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->out = evbuffer_new()) == NULL) {
		free(s);
		evutil_closesocket(fd);
		return;
	}
	gh_metrics_session_open();
	s->srv = srv;
	s->id = srv->next_id++;
	gh_buf_init(&s->line, 4096);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	relay_addr_text(sa, s->addr, sizeof(s->addr), s->port, sizeof(s->port));
	s->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	s->txn = gh_txn_new(srv->chain, s->id);
	TAILQ_INSERT_TAIL(&srv->sessions, s, entry);
	srv->nsessions++;
	s->hnext = srv->by_id[s->id % srv->nbuckets];
	srv->by_id[s->id % srv->nbuckets] = s;
	if (s->bev == NULL || s->txn == NULL) {
		s->hard = s->closing = true;
		if (s->bev == NULL)
			evutil_closesocket(fd);
		session_free(s);
		return;
	}
	bufferevent_setcb(s->bev, read_cb, write_cb, event_cb, s);
	/* Stop reading while far ahead of us (pipelining abuse).  Read and
	   write in large pieces: libevent's default is 4 KB per read(2). */
	bufferevent_setwatermark(s->bev, EV_READ, 0, 1024 * 1024);
	bufferevent_set_max_single_read(s->bev, 128 * 1024);
	bufferevent_set_max_single_write(s->bev, 128 * 1024);
	bufferevent_enable(s->bev, EV_READ);	/* EV_WRITE: proxy_io_send */
	gh_log_session(LOG_DEBUG, s->id, "accept peer=%s port=%s", s->addr,
	    s->port);
	if ((long long)srv->nsessions > cfg->max_connections) {
		too_many(s);
		return;
	}
	/* The PROXY header, the per-client count, the name: preface.c,
	   which ends in session_preface_done(). */
	set_wait(s, W_PREFACE);
	if ((s->pre = preface_new(srv, s, s->id, s->bev, sa, salen, cfg)) ==
	    NULL) {
		s->hard = s->closing = true;
		kick(s);
		return;
	}
	preface_run(s->pre);
}

/* A backend reply or failure arrived (see proxy.h). */
void
session_on_backend(struct session *s, const struct be_reply *r)
{
	reply_fn	 cont = s->on_reply;

	if (s->wait != W_BACKEND) {
		/* Unasked: the idle backend went away.  A transaction in
		   progress is lost; the next command finds out. */
		gh_log_session(LOG_INFO, s->id, "backend closed: %s",
		    r->why ? r->why : "unexpected reply");
		drop_backend(s);
		return;
	}
	s->on_reply = NULL;
	set_wait(s, W_NONE);
	cont(s, r);
	kick(s);
}

/* A worker's verdict for this session (see proxy.h). */
void
session_on_verdict(struct session *s, struct gh_verdict *v)
{
	verdict_fn	 cont = s->on_verdict;

	s->on_verdict = NULL;
	set_wait(s, W_NONE);
	if (s->closing) {
		/* Closed while the worker ran: just finish now. */
		kick(s);
		return;
	}
	cont(s, v);
	kick(s);
}

/* A worker's late result for a session that is gone. */
void
session_free_orphan(struct gh_txn *t)
{
	struct gh_message	*m = t->msg;

	gh_txn_free(t);
	gh_message_free(m);
}

/* SIGTERM: close now when idle, else after the transaction. */
void
session_shutdown(struct session *s)
{
	if (s->pre) {
		s->hard = s->closing = true;	/* no banner yet */
		kick(s);
		return;
	}
	if (s->state == S_MAIL || s->state == S_RCPT || s->state == S_DATA ||
	    s->wait != W_NONE)
		return;		/* end_txn() says 421 */
	reply(s, "421 4.3.2 %s Service shutting down",
	    s->txn->cfg->hostname);
	close_session(s);
	kick(s);
}

/* Force a session closed (the shutdown deadline). */
void
session_abort(struct session *s)
{
	if (!s->hard)
		reply(s, "421 4.3.2 %s Service shutting down",
		    s->txn->cfg->hostname);
	flush(s);
	s->hard = true;
	s->closing = true;
	session_free(s);
}

/* Tell whether a transaction is open. */
bool
session_in_transaction(const struct session *s)
{
	return s->state == S_MAIL || s->state == S_RCPT ||
	    s->state == S_DATA;
}

/* The session's id. */
uint64_t
session_id(const struct session *s)
{
	return s ? s->id : 0;
}
