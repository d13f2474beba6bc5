/*
 * proxy.h — the SMTP proxy's internal interfaces: the server (loop,
 * listeners, signals, the current chain), sessions (client side),
 * the backend client, and the worker pool.  Only proxy/ and cli/proxy.c
 * include this.
 */
#ifndef GH_PROXY_H
#define GH_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "filters/chain.h"
#include "filters/config.h"
#include "filters/fcrdns.h"
#include "filters/filter.h"
#include "filters/util.h"

struct session;
struct backend;
struct workers;
struct closing;		/* a backend connection saying QUIT */

/* What the backend offered in its EHLO reply. */
enum {
	XA_NAME = 1 << 0, XA_ADDR = 1 << 1, XA_PORT = 1 << 2,
	XA_PROTO = 1 << 3, XA_HELO = 1 << 4, XA_IDENT = 1 << 5,
	XA_SOURCE = 1 << 6, XA_LOGIN = 1 << 7,
};

struct backend_caps {
	bool		 known;		/* from a real EHLO reply */
	bool		 pipelining, eightbitmime, smtputf8, dsn, enhanced;
	bool		 chunking, starttls;
	char		 auth[128];	/* AUTH mechanisms, "" if none */
	bool		 xclient, xforward;
	unsigned	 xclient_attrs, xforward_attrs;	/* XA_* */
	uint64_t	 size;		/* 0: none given */
};

/* A reply from the backend; code 0 means the backend failed (why). */
struct be_reply {
	int		 code;
	const char	*text;		/* all lines, each "ddd-..." CRLF */
	size_t		 len;
	const char	*why;		/* code 0: what went wrong */
};

/* The identity the backend should see (XCLIENT/XFORWARD). */
struct client_ident {
	char	*name;		/* PTR name or "[UNAVAILABLE]" */
	char	*addr;		/* text, NULL if unknown */
	char	*port;
	char	*proto;		/* SMTP or ESMTP */
	char	*helo;
	char	*ident;		/* XFORWARD from a trusted front: queue id */
	char	*source;	/* LOCAL or REMOTE */
};

/* Per-client-address connection counts. */
struct addr_count;

struct server {
	struct event_base	*base;
	struct gh_chain		*chain;		/* current; sessions ref it */
	const char		*config_path;
	char			*const *overrides;
	size_t			 noverrides;

	struct evconnlistener	**listeners;
	size_t			 nlisteners;
	struct event		*ev_term, *ev_int, *ev_hup, *ev_drain;
	bool			 draining;

	TAILQ_HEAD(, session)	 sessions;
	size_t			 nsessions;
	struct session		**by_id;	/* hash buckets */
	size_t			 nbuckets;
	struct addr_count	**counts;	/* hash buckets */
	uint64_t		 next_id;

	struct backend_caps	 caps;		/* last seen, for our EHLO */
	struct workers		*workers;
	uint64_t		 messages;	/* relayed, for the log */
	struct backend		*probe;
	TAILQ_HEAD(, closing)	 closing;
	TAILQ_HEAD(, backend)	 pool;		/* idle, ready connections */
	size_t			 npool;
	SSL_CTX			*tls_server;	/* STARTTLS; NULL: off */
	SSL_CTX			*tls_client;	/* to the backend; NULL: off */
	bool			 tls_loaded;
};

/* server.c */
int	 server_run(const char *config_path, char *const *overrides,
	    size_t noverrides, struct gh_config *cfg, struct gh_chain *chain);
struct session *server_find_session(struct server *, uint64_t id);
struct session *session_next(struct session *);
void	 server_session_gone(struct server *, struct session *);
/* Count a new connection from `addr`; false when over the limit. */
bool	 server_count_client(struct server *, const char *addr, long long max);
void	 server_uncount_client(struct server *, const char *addr);

/* session.c */
void	 session_new(struct server *, evutil_socket_t fd,
	    const struct sockaddr *, socklen_t);
void	 session_on_backend(struct session *, const struct be_reply *);
void	 session_on_verdict(struct session *, struct gh_verdict *);
void	 session_shutdown(struct session *);	/* SIGTERM */
void	 session_abort(struct session *);	/* the drain deadline */
void	 session_free_orphan(struct gh_txn *);	/* a late worker result */
bool	 session_in_transaction(const struct session *);
uint64_t session_id(const struct session *);

/* backend.c */
struct backend *backend_open(struct server *, struct session *,
	    const struct gh_config *, const struct client_ident *);
void	 backend_free(struct backend *, bool graceful);
/* A ready connection for `s`: from the pool, or a new one. */
struct backend *backend_get(struct server *, struct session *,
	    const struct gh_config *);
/* The session is done with a connection that is in step and outside a
   transaction: keep it for the next session (backend.pool_size). */
void	 backend_release(struct backend *, const struct gh_config *);
/* Close every pooled connection (reload, shutdown). */
void	 backend_pool_flush(struct server *);
/* At exit: drop the connections still saying QUIT. */
void	 backend_close_all(struct server *);
const struct backend_caps *backend_caps(const struct backend *);
bool	 backend_ready(const struct backend *);
/* Make sure the backend sees `id` (XCLIENT again, or XFORWARD before
   MAIL), then send the command line; one reply comes back. */
void	 backend_command(struct backend *, const struct client_ident *,
	    const char *line, size_t len);
/* DATA, then the message with the edits, dot-stuffed, then the final
   reply (or the DATA refusal) comes back. */
void	 backend_message(struct backend *, struct gh_message *,
	    const struct gh_edit *, size_t nedits);
bool	 backend_busy(const struct backend *);
/* backend_command() for AUTH and SASL responses (see backend.c). */
void	 backend_sasl(struct backend *, const struct client_ident *,
	    const char *line, size_t len);
void	 backend_caps_parse(struct backend_caps *, const char *text,
	    size_t len);

/* relay.c: identities and ESMTP parameters on their way to the backend */
struct smtp_path;
void	 relay_ident_copy(struct client_ident *, const struct client_ident *);
void	 relay_ident_free(struct client_ident *);
void	 relay_ident_peer(struct client_ident *, const char *name,
	    const char *addr, const char *port, bool esmtp, const char *helo);
int	 relay_xforward(struct client_ident *, const char *args, size_t len);
/* The XCLIENT/XFORWARD attribute list for `id` limited to `attrs`. */
int	 relay_ident_attrs(const struct client_ident *, unsigned attrs,
	    bool xclient, struct gh_buf *out);
int	 relay_params(const struct smtp_path *, bool mail,
	    const struct backend_caps *, struct gh_buf *line,
	    struct gh_str *bad);
void	 relay_addr_text(const struct sockaddr *, char *addr, size_t asz,
	    char *port, size_t psz);

/* tls.c */
int	 tls_server_ctx(const struct gh_config *, SSL_CTX **, char *err,
	    size_t errsz);
int	 tls_client_ctx(const struct gh_config *, SSL_CTX **, char *err,
	    size_t errsz);
/* `gatehouse check`: -1 with the reason when a context cannot be built. */
int	 tls_check(const struct gh_config *, char *err, size_t errsz);
/* Start and SIGHUP: swap in new contexts, or keep the old (-1, logged). */
int	 tls_load(struct server *, const struct gh_config *);
void	 tls_unload(struct server *);

/* io.c: writes that skip the event loop when the socket takes them */
/* Write what the bufferevent's output holds now; EV_WRITE stays
   enabled only while something is left. */
void	 proxy_io_flush(struct bufferevent *);
/* Send bytes on the bufferevent, at once when nothing is queued before
   them; `last`: a close follows (the FIN goes in the same segment). */
void	 proxy_io_send_mem(struct bufferevent *, const char *, size_t,
	    bool last);
/* A reader: the socket read directly, no FIONREAD, large reads (io.c).
   Its callbacks are the bufferevent's, called with its arguments; each
   is the reader's last act (the owner may free the reader in it). */
struct proxy_reader {
	struct event		*ev;
	struct bufferevent	*bev;
	size_t			 high;		/* input held at most */
	bool			 want;		/* the owner wants input */
	bool			 added;		/* ev is in the loop */
	int			 err;		/* to report next time */
	bufferevent_data_cb	 readcb;
	bufferevent_event_cb	 eventcb;
	void			*arg;
};
bool	 proxy_reader_usable(struct bufferevent *);
int	 proxy_reader_start(struct proxy_reader *, struct bufferevent *,
	    size_t high, bufferevent_data_cb, bufferevent_event_cb, void *);
void	 proxy_reader_stop(struct proxy_reader *);
void	 proxy_reader_enable(struct proxy_reader *, bool);
void	 proxy_reader_resume(struct proxy_reader *);
bool	 proxy_reader_active(const struct proxy_reader *);

/* A deadline: one lazily re-armed timer; fire(arg) once it passes. */
struct proxy_deadline {
	struct event	*ev;
	uint64_t	 at;		/* monotonic us; 0: none */
	uint64_t	 armed;		/* when ev fires; 0: not armed */
	void		(*fire)(void *);
	void		*arg;
};
uint64_t proxy_io_now_us(void);
int	 proxy_deadline_init(struct proxy_deadline *, struct event_base *,
	    void (*)(void *), void *);
void	 proxy_deadline_set(struct proxy_deadline *, uint64_t ms);
bool	 proxy_deadline_pending(const struct proxy_deadline *);
void	 proxy_deadline_free(struct proxy_deadline *);

/* workers.c */
struct workers *workers_new(struct server *, int n);
void	 workers_free(struct workers *);
/* Run stages `first`..`last` of the chain for `txn` on a worker; the
   verdict comes back to session_on_verdict() by session id. */
int	 workers_submit(struct workers *, uint64_t sid, struct gh_txn *,
	    enum gh_stage first, enum gh_stage last);

/* Run fn(arg) on a worker; then, on the loop, done(session, arg) with
   the session found by `sid`, or done(NULL, arg) when it has gone (or
   the pool stops): done frees arg. */
int	 workers_call(struct workers *, uint64_t sid, void (*fn)(void *),
	    void (*done)(struct session *, void *), void *arg);

/* preface.c: what a session learns before its banner — the PROXY
   header (proxy_protocol), the per-client count, the client's name
   (client_name_lookup) — ending in session_preface_done(). */
struct preface;
enum preface_end { PREFACE_OK, PREFACE_TOO_MANY, PREFACE_CLOSE };
struct preface_result {
	enum preface_end	 end;	/* CLOSE: logged already, no reply */
	const struct sockaddr	*sa;	/* the client */
	socklen_t		 salen;
	const char		*addr, *port;
	bool			 counted;	/* the session uncounts addr */
	enum gh_fcrdns		 name_status;
	const char		*name;		/* when GH_FCRDNS_OK */
};
struct preface *preface_new(struct server *, struct session *, uint64_t sid,
	    struct bufferevent *, const struct sockaddr *, socklen_t,
	    const struct gh_config *);
void	 preface_run(struct preface *);
void	 preface_read(struct preface *);		/* client data */
void	 preface_event(struct preface *, short what);	/* EOF, error... */
void	 preface_on_name(struct preface *, enum gh_fcrdns, const char *);
void	 preface_free(struct preface *);
/* Its end: the session goes on, or closes (the preface is freed). */
void	 session_preface_done(struct session *,
	    const struct preface_result *);
/* A name lookup's result, by session id (workers.c). */
void	 session_on_name(struct session *, enum gh_fcrdns, const char *);

/* Run stages first..last; stop at the first refusal. */
int	 proxy_run_stages(struct gh_txn *, enum gh_stage first,
	    enum gh_stage last, struct gh_verdict *out);

#endif
