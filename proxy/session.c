/*
 * session.c — the client side of the proxy: one SMTP session's life.
 *
 * Owns the client connection from accept to free: its place in the
 * server's list and id table, the session's states and what it waits
 * for, the replies queued for the client, the timeouts, the chain run
 * at each stage (inline or on a worker), the CONNECT stage and the
 * banner, and the callbacks through which libevent, the backend and
 * the worker pool resume a session.  The commands, DATA and the end of
 * the message are commands.c's; STARTTLS is tls.c's, AUTH auth.c's.
 *
 * Invariants:
 *  - at most one thing is awaited at a time (s->wait): a verdict from
 *    the worker pool or one backend reply; input is not parsed
 *    meanwhile, so pipelined commands are answered in order;
 *  - replies are collected in s->out and written in one go when the
 *    session runs out of input or must wait for the client;
 *  - a session is freed only from session_kick()/finish(), never in the
 *    middle of processing; while a worker holds the transaction the
 *    worker owns it (a late result for a gone session frees it).
 *
 * Failures: protocol errors count against smtp.max_errors (421 and
 * close past it); a filter that cannot run gives a 451 tempfail
 * verdict; a client timeout gives 421; a session that cannot be set up
 * is closed without a banner.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters/log.h"
#include "filters/message.h"
#include "filters/metrics.h"
#define SESSION_SHORT_NAMES
#include "proxy/session_int.h"

#define REFUSED_MAX_ERRORS	3	/* after a 554 greeting */
#define READ_HIGH		(1024 * 1024)	/* input held at most */
#define OUT_KEEP		1024	/* reply buffer kept between flushes */

static const char *state_names[S_NSTATES] = {
	"connect", "helo", "idle", "mail", "rcpt", "data"
};

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

/* The timeouts for what the session waits for now: a deadline that
   each read moves on (see read_cb()). */
void
set_timeouts(struct session *s)
{
	if (s->wait != W_NONE && s->wait != W_TLS) {
		/* Waiting on us: no client timeout. */
		s->tmo_ms = 0;
	} else
		s->tmo_ms = s->state == S_DATA ?
		    s->txn->cfg->data_timeout_ms :
		    s->txn->cfg->idle_timeout_ms;
	proxy_deadline_set(&s->dl, s->tmo_ms);
}

/* The client's deadline passed: as a bufferevent read timeout. */
static void
deadline_passed(void *arg)
{
	struct session	*s = arg;

	event_cb(s->bev, BEV_EVENT_READING | BEV_EVENT_TIMEOUT, s);
}

/* Output that the client does not take for this long is a timeout:
   the socket bufferevent's write timeout, which runs only while output
   waits (under TLS the socket's, below the filter: the filter's would
   run on while nothing waits, and the filter passes it on). */
void
session__write_timeout(struct session *s)
{
	struct timeval		 tv = ms_tv(s->txn->cfg->idle_timeout_ms);
	struct bufferevent	*under = bufferevent_get_underlying(s->bev);

	bufferevent_set_timeouts(under ? under : s->bev, NULL, &tv);
}

/* Stop reading the client's input (closing, or it ended). */
void
session__stop_reading(struct session *s)
{
	if (proxy_reader_active(&s->rd))
		proxy_reader_enable(&s->rd, false);
	else
		bufferevent_disable(s->bev, EV_READ);
	s->tmo_ms = 0;
	proxy_deadline_set(&s->dl, 0);
}

/* Start or stop waiting. */
void
set_wait(struct session *s, enum swait w)
{
	s->wait = w;
	set_timeouts(s);
}

static void	vreply(struct session *, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));

/* Queue a reply line with CRLF: a fixed text as it is, else formatted. */
static void
vreply(struct session *s, const char *fmt, va_list ap)
{
	if (strchr(fmt, '%') == NULL)
		(void)gh_buf_puts(&s->out, fmt);
	else
		(void)gh_buf_vprintf(&s->out, fmt, ap);
	(void)gh_buf_append(&s->out, "\r\n", 2);
}

/* Queue a reply line (CRLF added). */
void
reply(struct session *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vreply(s, fmt, ap);
	va_end(ap);
}

/* A protocol error: reply, count, and close past smtp.max_errors. */
void
error_reply(struct session *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vreply(s, fmt, ap);
	va_end(ap);
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
void
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
	(void)gh_buf_append(&s->out, r->text, r->len);
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

/* Write the queued replies to the client (LAST: a close follows). */
static void
send_out(struct session *s, bool last)
{
	if (s->out.len > 0 && !s->hard)
		proxy_io_send_mem(s->bev, s->out.p, s->out.len, last);
	if (s->out.cap > OUT_KEEP)
		gh_buf_free(&s->out);	/* a big one: not kept while idle */
	else
		gh_buf_reset(&s->out);
}

/* Write the queued replies to the client. */
void
flush(struct session *s)
{
	send_out(s, false);
}

/* Ask for the session to end once its replies are out. */
void
close_session(struct session *s)
{
	s->closing = true;
}

/* A transaction that ended without a message (RSET, QUIT, refused by the
   backend): its line, verdict=none, not counted as a message. */
void
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
void
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
bool
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
	proxy_reader_stop(&s->rd);
	proxy_deadline_free(&s->dl);
	if (s->bev)
		bufferevent_free(s->bev);
	gh_buf_free(&s->out);
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

	send_out(s, true);
	if (s->hard ||
	    (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0 &&
	    !tls_pending(s))) {
		session_free(s);
		return;
	}
	session__stop_reading(s);
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
	else
		proxy_reader_resume(&s->rd);	/* held at READ_HIGH */
}

/* Client data arrived. */
void
read_cb(struct bufferevent *bev, void *arg)
{
	struct session	*s = arg;

	if (s->tmo_ms)
		proxy_deadline_set(&s->dl, s->tmo_ms);	/* not idle */
	if (s->pre) {
		preface_read(s->pre);
		return;
	}
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
	session__stop_reading(s);
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
	/* Postfix, behind us, writes the Received field for this client */
	s->txn->env.received_pending = true;
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

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		evutil_closesocket(fd);
		return;
	}
	gh_buf_init(&s->out, 0);
	(void)gh_buf_reserve(&s->out, 500);	/* an EHLO reply, at once */
	gh_metrics_session_open();
	s->srv = srv;
	s->id = srv->next_id++;
	gh_buf_init(&s->line, 4096);
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
	bufferevent_set_max_single_write(s->bev, 128 * 1024);
	session__write_timeout(s);
	/* Read the socket ourselves (io.c), and stop reading while far
	   ahead of us (pipelining abuse).  EV_WRITE: proxy_io_send_mem. */
	if (proxy_deadline_init(&s->dl, srv->base, deadline_passed, s) ==
	    -1 || proxy_reader_start(&s->rd, s->bev, READ_HIGH, read_cb,
	    event_cb, s) == -1) {
		s->hard = s->closing = true;
		kick(s);
		return;
	}
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
