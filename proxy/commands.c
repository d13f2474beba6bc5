/*
 * commands.c — the client's commands: check -> filter -> proceed.
 *
 * Owns what a session does with its input: reading command lines,
 * the command table (the states each verb is allowed in), HELO/EHLO,
 * MAIL, RCPT, DATA and the end of the message (the DATA reader, the
 * HEADERS and EOM stages, the message sent to the backend, the final
 * reply), RSET and the small commands, and the end of a transaction.
 * The syntax is checked before the chain sees anything; the action
 * runs after the verdict; MAIL, RCPT and end of data are relayed to
 * the backend, whose reply the client gets unchanged.  STARTTLS and
 * AUTH are in the table but are tls.c's and auth.c's; the session's
 * life, its replies and its waits are session.c's.
 *
 * Invariants:
 *  - a command runs only in the states its row allows, and only while
 *    nothing is awaited (session.c's s->wait);
 *  - the client never gets a 2xx for MAIL, RCPT or a message that the
 *    backend did not give a 2xx for (DISCARD, asked for by a filter,
 *    is the one exception); any backend failure gives a 4xx;
 *  - end of data is CRLF.CRLF only (smtp_parse.c), and the message goes
 *    to the backend dot-stuffed again, so the backend sees the same
 *    message boundary as we did;
 *  - what follows a refused DATA is never read as commands.
 *
 * Failures: protocol errors get a reply and count against
 * smtp.max_errors; environmental ones (backend, spool) a 4xx and a
 * warning; memory exhaustion on client input closes the session with
 * 421.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "filters/log.h"
#include "filters/message.h"
#include "filters/metrics.h"
#define SESSION_SHORT_NAMES
#include "proxy/session_int.h"

#define ST(x)		(1u << (x))
#define ANY_STATE	(ST(S_HELO) | ST(S_IDLE) | ST(S_MAIL) | ST(S_RCPT))

static void	end_txn(struct session *);

/* The one log line per message (and its metrics). */
static void
log_message(struct session *s, const struct gh_verdict *v, const char *be)
{
	s->messages++;
	s->txn_logged = true;
	gh_txn_finish(s->txn, v, be);
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
	s->esmtp = s->txn->env.esmtp = c->verb == SMTP_EHLO;
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

/* NOOP. */
static void
cmd_noop(struct session *s, const struct smtp_cmd *c)
{
	reply(s, "250 2.0.0 Ok");
}

/* QUIT: the reply, then close. */
static void
cmd_quit(struct session *s, const struct smtp_cmd *c)
{
	reply(s, "221 2.0.0 Bye");
	close_session(s);
}

/* VRFY: never says which addresses exist. */
static void
cmd_vrfy(struct session *s, const struct smtp_cmd *c)
{
	reply(s, "252 2.0.0 Cannot VRFY; send some mail");
}

/* HELP. */
static void
cmd_help(struct session *s, const struct smtp_cmd *c)
{
	reply(s, "214 2.0.0 See RFC 5321");
}

/* A verb we know but do not offer. */
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
void
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
