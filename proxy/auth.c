/*
 * auth.c — SMTP AUTH (RFC 4954) relayed to the backend, which decides.
 *
 * gatehouse offers AUTH with the mechanisms the backend offered, only
 * over TLS unless auth.plaintext is set.  The AUTH line, the backend's
 * 334 challenges, the client's responses and the final reply pass
 * through unchanged; gatehouse reads the login out of the first
 * response (PLAIN, LOGIN, CRAM-MD5, SCRAM-*) for its log line and the
 * chain (env.auth_user: SPF skipped, Authentication-Results auth=pass).
 *
 * Why relay and not XCLIENT LOGIN: the backend checks the password, so
 * it knows the login itself (Postfix: sasl_username= in its log,
 * permit_sasl_authenticated, smtpd_sender_login_maps).  XCLIENT LOGIN
 * would only be needed if gatehouse checked passwords, which it does
 * not.  The order on the backend connection is XCLIENT (the real
 * client), EHLO, then AUTH; afterwards the identity is pinned, because
 * another XCLIENT would make Postfix forget the login, and the
 * connection is never pooled (backend_sasl()).
 *
 * Invariants: credentials never reach a log — not the AUTH line, not a
 * response, not the decoded login's password; lines that held them are
 * wiped (commands.c, backend.c).  Only a 334 keeps the exchange going;
 * 235 authenticates; any other code ends it; a reply that makes no
 * sense becomes 454 and the backend connection is dropped.
 *
 * Failures: no backend: 454 4.7.0; the backend lost after AUTH: the
 * session is closed at the next MAIL (421), as its login is gone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "filters/log.h"
#include "proxy/session_int.h"

#define LOGIN_MAX	256
#define SASL_LINE_MAX	12288	/* RFC 4954 4 */

static void	auth_reply(struct session *, const struct be_reply *);

/* The AUTH keyword for our EHLO reply, or NULL. */
const char *
auth_offer(const struct session *s, char *buf, size_t bufsz)
{
	const struct gh_config	*cfg = s->txn->cfg;
	const char		*mechs = s->srv->caps.auth;

	if (!cfg->auth_enable || mechs[0] == '\0' || s->authed ||
	    (!s->tls && !cfg->auth_plaintext))
		return NULL;
	snprintf(buf, bufsz, "AUTH %s", mechs);
	return buf;
}

/* Send one line of the exchange to the backend; auth_reply() next. */
static void
to_backend(struct session *s, const struct client_ident *id,
    const char *line, size_t len)
{
	s->on_reply = auth_reply;
	session__set_wait(s, W_BACKEND);
	backend_sasl(s->be, id, line, len);	/* may call back at once */
}

/* Note the login a response names (responses are counted by `step`). */
static void
note_login(struct session *s, const char *b64, size_t len)
{
	char	 user[LOGIN_MAX];

	if (s->auth_login == NULL && s->sasl_step < 2 &&
	    smtp_sasl_user(s->auth_mech, s->sasl_step, b64, len, user,
	    sizeof(user)) == 0)
		s->auth_login = strdup(user);
	s->sasl_step++;
}

/* AUTH mechanism [initial-response]. */
void
auth_cmd(struct session *s, const struct smtp_cmd *c)
{
	const struct gh_config	*cfg = s->txn->cfg;
	struct gh_str		 mech, initial;

	if (!cfg->auth_enable || s->srv->caps.auth[0] == '\0') {
		session__error_reply(s, "503 5.5.1 Error: authentication "
		    "not enabled");
		return;
	}
	if (s->state == S_HELO) {
		session__error_reply(s, "503 5.5.1 Error: send HELO/EHLO "
		    "first");
		return;
	}
	if (!s->tls && !cfg->auth_plaintext) {
		session__error_reply(s, "530 5.7.0 Must issue a STARTTLS "
		    "command first");
		return;
	}
	if (s->authed) {
		session__error_reply(s, "503 5.5.1 Error: already "
		    "authenticated");
		return;
	}
	if (smtp_auth_parse(c->args.p, c->args.len, &mech, &initial) !=
	    SMTP_OK) {
		session__error_reply(s, "501 5.5.4 Syntax: AUTH mechanism");
		return;
	}
	if (!smtp_auth_mech_in(s->srv->caps.auth, mech.p, mech.len)) {
		session__error_reply(s, "504 5.5.4 Unsupported "
		    "authentication mechanism");
		return;
	}
	free(s->auth_mech);
	free(s->auth_login);
	s->auth_login = NULL;
	s->sasl_step = 0;
	if ((s->auth_mech = gh_strndup(mech.p, mech.len)) == NULL) {
		session__reply(s, "454 4.7.0 Temporary authentication "
		    "failure");
		return;
	}
	if (initial.len)
		note_login(s, initial.p, initial.len);
	session__make_ident(s);
	if (s->be && !backend_ready(s->be))
		session__drop_backend(s);
	if (s->be == NULL && (s->be = backend_get(s->srv, s,
	    s->txn->cfg)) == NULL) {
		gh_log_session(LOG_WARNING, s->id, "cannot connect to the "
		    "backend for AUTH");
		session__reply(s, "454 4.7.0 Temporary authentication "
		    "failure");
		return;
	}
	s->sasl = true;
	/* XCLIENT (if due) goes first: AUTH is then on the real client's
	   behalf, and the backend session keeps the login. */
	to_backend(s, &s->ident, c->name.p, c->name.len + (c->args.len ?
	    (size_t)(c->args.p + c->args.len - (c->name.p + c->name.len)) :
	    0));
}

/* A client line while the exchange runs (see session_int.h). */
void
auth_response(struct session *s, const char *line, size_t len)
{
	if (line == NULL) {
		/* Too long (RFC 4954 4: the server may refuse it): cancel
		   the exchange on the backend and drop its 501. */
		session__reply(s, "500 5.5.6 Authentication exchange line "
		    "is too long");
		s->sasl_cancelled = true;
		to_backend(s, NULL, "*", 1);
		return;
	}
	note_login(s, line, len);
	to_backend(s, NULL, line, len);
}

/* Count a failed attempt like a protocol error. */
static void
count_failure(struct session *s)
{
	if (++s->nerrors >= (unsigned)s->txn->cfg->max_errors) {
		gh_log_session(LOG_INFO, s->id, "too many errors client=%s",
		    s->addr);
		session__reply(s, "421 4.7.0 %s Error: too many errors",
		    s->txn->cfg->hostname);
		session__close(s);
	}
}

/* The backend answered a step of the exchange. */
static void
auth_reply(struct session *s, const struct be_reply *r)
{
	char	 login[LOGIN_MAX + 16], be[256];

	gh_printable(login, sizeof(login), s->auth_login ? s->auth_login :
	    "?", s->auth_login ? strlen(s->auth_login) : 1, LOGIN_MAX);
	if (s->sasl_cancelled) {
		s->sasl_cancelled = s->sasl = false;
		if (r->code == 0 || r->code / 100 == 3)
			session__drop_backend(s);
		return;
	}
	if (r->code == 334 && r->len <= 1024 &&
	    memchr(r->text, '\n', r->len) == r->text + r->len - 1) {
		session__relay(s, r);		/* one challenge line */
		return;
	}
	s->sasl = false;
	if (r->code == 235) {
		session__relay(s, r);
		s->authed = true;
		s->ident_pinned = true;
		if (gh_txn_set_auth(s->txn, s->auth_login ? s->auth_login :
		    "(unknown)") == -1) {
			session__reply(s, "421 4.3.0 %s Out of memory",
			    s->txn->cfg->hostname);
			session__close(s);
			return;
		}
		gh_log_session(LOG_INFO, s->id, "auth client=%s mech=%s "
		    "login=%s: accepted by the backend", s->addr,
		    s->auth_mech, login);
		return;
	}
	if (r->code / 100 == 4 || r->code / 100 == 5) {
		session__relay(s, r);
		session__first_line(r, be, sizeof(be));
		gh_log_session(LOG_INFO, s->id, "auth client=%s mech=%s "
		    "login=%s: refused by the backend: %s", s->addr,
		    s->auth_mech, login, be);
		count_failure(s);
		return;
	}
	if (r->code == 0)
		gh_log_session(LOG_WARNING, s->id, "backend failure at AUTH: "
		    "%s", r->why ? r->why : "?");
	else {
		session__first_line(r, be, sizeof(be));
		gh_log_session(LOG_WARNING, s->id, "backend reply to AUTH "
		    "makes no sense: %s", be);
	}
	session__drop_backend(s);
	session__reply(s, "454 4.7.0 Temporary authentication failure");
}

/* The longest line to take now (see session_int.h): long SASL tokens
   (GSSAPI, XOAUTH2) need more than a command line. */
size_t
auth_line_max(struct session *s, struct evbuffer *in, size_t max)
{
	char	 head[5];

	if (max >= SASL_LINE_MAX)
		return max;
	if (s->sasl)
		return SASL_LINE_MAX;
	if (s->srv->caps.auth[0] == '\0' || !s->txn->cfg->auth_enable ||
	    evbuffer_copyout(in, head, sizeof(head)) != sizeof(head) ||
	    strncasecmp(head, "AUTH ", 5) != 0)
		return max;
	return SASL_LINE_MAX;
}

/* Free what auth.c holds. */
void
auth_free(struct session *s)
{
	free(s->auth_mech);
	free(s->auth_login);
	s->auth_mech = s->auth_login = NULL;
}
