/*
 * session_int.h — the client session's insides, shared by session.c
 * (life, states, replies), commands.c (commands, DATA), tls.c
 * (STARTTLS) and auth.c (AUTH relay).  Nothing outside those four
 * files includes this.
 */
#ifndef GH_SESSION_INT_H
#define GH_SESSION_INT_H

#include <netinet/in.h>

#include "proxy/proxy.h"
#include "proxy/smtp_parse.h"

enum sstate { S_CONNECT, S_HELO, S_IDLE, S_MAIL, S_RCPT, S_DATA,
	S_NSTATES };
/* What the session waits for: nothing, a verdict, one backend reply,
   what comes before the banner (preface.c), or the client's side of a
   TLS handshake. */
enum swait { W_NONE, W_CHAIN, W_BACKEND, W_PREFACE, W_TLS };

typedef void	(*verdict_fn)(struct session *, struct gh_verdict *);
typedef void	(*reply_fn)(struct session *, const struct be_reply *);

struct session {
	TAILQ_ENTRY(session)	 entry;
	struct session		*hnext;		/* id hash chain */
	struct server		*srv;
	uint64_t		 id;
	struct bufferevent	*bev;
	struct gh_buf		 out;		/* replies not yet written */
	struct gh_txn		*txn;
	struct gh_message	*msg;
	struct backend		*be;
	struct client_ident	 ident;		/* what the backend is told */
	char			 addr[INET6_ADDRSTRLEN];
	char			 port[8];
	char			 name[256];	/* for XCLIENT NAME */
	struct preface		*pre;		/* before the banner */

	enum sstate		 state;
	enum swait		 wait;
	verdict_fn		 on_verdict;
	reply_fn		 on_reply;
	struct smtp_data	 data;
	struct gh_buf		 line;		/* MAIL/RCPT line to relay */

	unsigned		 nerrors;
	unsigned		 ncommands;
	unsigned		 messages;	/* summary lines logged */
	bool			 txn_logged;	/* this transaction's line */
	char			 last_be[200];	/* backend's last reply */
	size_t			 naccepted;	/* recipients the backend took */
	bool			 esmtp;
	bool			 trusted;	/* may send XFORWARD */
	bool			 discarding;	/* an over-long command line */
	bool			 eof;		/* the client closed */
	bool			 closing;	/* close once replies are out */
	bool			 hard;		/* close at once */
	bool			 in_kick;
	bool			 counted;
	bool			 xforwarded;
	bool			 refused;	/* 554 greeting: only QUIT */
	struct proxy_reader	 rd;		/* reads a plain socket */
	struct proxy_deadline	 dl;		/* idle / DATA timeout */
	uint64_t		 tmo_ms;	/* the one that runs now */

	/* tls.c */
	bool			 tls;		/* TLS is up */
	struct evbuffer_cb_entry *tls_drain;	/* see tls_pending() */
	/* auth.c */
	bool			 sasl;		/* in a SASL exchange */
	bool			 sasl_cancelled; /* "*" sent for a long line */
	unsigned		 sasl_step;	/* client responses so far */
	bool			 authed;	/* AUTH succeeded */
	bool			 ident_pinned;	/* the backend knows the login */
	char			*auth_mech;
	char			*auth_login;	/* decoded, NULL if unknown */
};

/* session.c, for tls.c and auth.c */
void	 session__reply(struct session *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 session__error_reply(struct session *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 session__enter_state(struct session *, enum sstate);
void	 session__set_wait(struct session *, enum swait);
void	 session__flush(struct session *);
void	 session__close(struct session *);
void	 session__kick(struct session *);
void	 session__stop_reading(struct session *);
void	 session__write_timeout(struct session *);
void	 session__drop_backend(struct session *);
void	 session__make_ident(struct session *);
void	 session__relay(struct session *, const struct be_reply *);
void	 session__first_line(const struct be_reply *, char *, size_t);
void	 session__to_backend(struct session *, const struct client_ident *,
	    const char *line, size_t len, reply_fn);
void	 session__read_cb(struct bufferevent *, void *);
void	 session__write_cb(struct bufferevent *, void *);
void	 session__event_cb(struct bufferevent *, short, void *);

/* session.c, for commands.c */
void	 session__set_timeouts(struct session *);
void	 session__reply_verdict(struct session *, const struct gh_verdict *);
void	 session__run_stages(struct session *, enum gh_stage first,
	    enum gh_stage last, verdict_fn);
bool	 session__refuses(const struct gh_verdict *);
void	 session__log_abandoned(struct session *);

/* commands.c */
/* Take complete command lines (and DATA) while nothing is awaited. */
void	 session__process_input(struct session *);

/* tls.c */
void	 tls_cmd_starttls(struct session *, const struct smtp_cmd *);
/* Tell whether STARTTLS goes into our EHLO reply. */
bool	 tls_offer(const struct session *);
/* The session's bufferevent had an event while the handshake ran;
   true when tls.c took care of it. */
bool	 tls_event(struct session *, short what);
/* Tell whether encrypted bytes still wait for the socket (a closing
   session waits for them; its write callback runs once they are out). */
bool	 tls_pending(struct session *);
void	 tls_free(struct session *);

/* auth.c */
void	 auth_cmd(struct session *, const struct smtp_cmd *);
/* A client line while a SASL exchange runs (never logged). */
void	 auth_response(struct session *, const char *line, size_t len);
/* The AUTH keyword for our EHLO reply, or NULL. */
const char *auth_offer(const struct session *, char *buf, size_t bufsz);
void	 auth_free(struct session *);
/* The longest command line to take now: `max`, or more for AUTH. */
size_t	 auth_line_max(struct session *, struct evbuffer *in, size_t max);

#ifdef SESSION_SHORT_NAMES
/* session.c and commands.c call the session's helpers by their short
   names. */
#define reply		session__reply
#define error_reply	session__error_reply
#define enter_state	session__enter_state
#define set_wait	session__set_wait
#define set_timeouts	session__set_timeouts
#define flush		session__flush
#define close_session	session__close
#define kick		session__kick
#define drop_backend	session__drop_backend
#define make_ident	session__make_ident
#define relay		session__relay
#define first_line	session__first_line
#define to_backend	session__to_backend
#define reply_verdict	session__reply_verdict
#define run_stages	session__run_stages
#define refuses		session__refuses
#define log_abandoned	session__log_abandoned
#define process_input	session__process_input
#define read_cb		session__read_cb
#define write_cb	session__write_cb
#define event_cb	session__event_cb
#endif

#endif
