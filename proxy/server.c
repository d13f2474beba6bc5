/*
 * server.c — the proxy daemon: the event loop, the listeners, signals,
 * reload and drain, the session registry and per-client counts.
 *
 * Owns the current chain (sessions hold their own references and move
 * to a new chain only at a transaction boundary), the listening
 * sockets, the worker pool, and the table of open sessions by id.
 *
 * Invariants: everything here runs on the loop thread; a reload swaps
 * the chain whole or not at all (a configuration or rule error leaves
 * the old one live and is logged with file:line); after SIGTERM no
 * connection is accepted, idle sessions get 421 at once, sessions in a
 * transaction finish it, and at shutdown_timeout the rest are cut.
 *
 * Failures: a listener that cannot be bound stops the start (exit 1);
 * accept errors (EMFILE) are logged and the loop goes on.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/thread.h>
#include <systemd/sd-daemon.h>

#include "daemon/daemon.h"
#include "filters/log.h"
#include "filters/metrics.h"
#include "proxy/proxy.h"

#define NBUCKETS	4096

struct addr_count {
	struct addr_count	*next;
	long long		 n;
	char			 addr[];
};

/* FNV-1a of a string, for the per-client table. */
static size_t
hash_str(const char *s)
{
	uint64_t	 h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return (size_t)(h % NBUCKETS);
}

/* Count a connection from `addr`; false when past `max`. */
bool
server_count_client(struct server *srv, const char *addr, long long max)
{
	struct addr_count	**pp = &srv->counts[hash_str(addr)], *c;

	for (c = *pp; c; c = c->next)
		if (strcmp(c->addr, addr) == 0)
			break;
	if (c == NULL) {
		if ((c = calloc(1, sizeof(*c) + strlen(addr) + 1)) == NULL)
			return false;
		strcpy(c->addr, addr);
		c->next = *pp;
		*pp = c;
	}
	if (c->n >= max) {
		if (c->n == 0) {
			*pp = c->next;
			free(c);
		}
		return false;
	}
	c->n++;
	return true;
}

/* Forget a connection from `addr`. */
void
server_uncount_client(struct server *srv, const char *addr)
{
	struct addr_count	**pp = &srv->counts[hash_str(addr)], *c;

	for (; (c = *pp) != NULL; pp = &c->next)
		if (strcmp(c->addr, addr) == 0) {
			if (--c->n <= 0) {
				*pp = c->next;
				free(c);
			}
			return;
		}
}

/* A session has ended (session.c unregistered it): end a drain. */
void
server_session_gone(struct server *srv, struct session *s)
{
	srv->nsessions--;
	if (srv->draining && srv->nsessions == 0)
		event_base_loopexit(srv->base, NULL);
}

/* A new connection. */
static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct server	*srv = arg;

	if (srv->draining) {
		evutil_closesocket(fd);
		return;
	}
	session_new(srv, fd, sa, (socklen_t)salen);
}

/* accept() failed (EMFILE...): log and go on. */
static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	log_warn("accept: %s", strerror(errno));
}

/* Bind and listen on one configured address. */
static evutil_socket_t
bind_one(const struct gh_addr *a)
{
	evutil_socket_t	 fd;
	int		 one = 1;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (a->is_unix)
		(void)unlink(a->path);
	else {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (a->ss.ss_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			    sizeof(one));
	}
	if (bind(fd, (const struct sockaddr *)&a->ss, a->sslen) == -1 ||
	    listen(fd, 1024) == -1) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Wrap a listening socket in a listener. */
static int
add_listener(struct server *srv, evutil_socket_t fd, const char *what)
{
	struct evconnlistener	*l;
	int			 one = 1;

	/* Accepted TCP connections inherit TCP_NODELAY from the listening
	   socket: one call here, none per connection (on a unix socket it
	   fails, harmlessly). */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	l = evconnlistener_new(srv->base, accept_cb, srv,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (l == NULL) {
		close(fd);
		return -1;
	}
	evconnlistener_set_error_cb(l, accept_error_cb);
	srv->listeners[srv->nlisteners++] = l;
	log_info("listening on %s", what);
	return 0;
}

/*
 * Open every listener; -1 (logged) if one fails.  Sockets passed by
 * systemd (socket activation: gatehouse-proxy.socket) take the place of
 * `listen`, so the daemon never needs the privilege to bind port 25.
 */
static int
open_listeners(struct server *srv, const struct gh_config *cfg)
{
	size_t		 i;
	int		 n, k;
	evutil_socket_t	 fd;
	char		 what[64];

	n = sd_listen_fds(1);
	if (n < 0)
		n = 0;
	srv->listeners = calloc(n > 0 ? (size_t)n : cfg->listen.n,
	    sizeof(*srv->listeners));
	if (srv->listeners == NULL)
		return -1;
	if (n > 0) {
		for (k = 0; k < n; k++) {
			fd = SD_LISTEN_FDS_START + k;
			if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
				log_err("socket activation: fd %d is not a "
				    "listening stream socket", fd);
				return -1;
			}
			evutil_make_socket_nonblocking(fd);
			snprintf(what, sizeof(what), "fd %d from systemd", fd);
			if (add_listener(srv, fd, what) == -1)
				return -1;
		}
		return 0;
	}
	for (i = 0; i < cfg->listen.n; i++) {
		if ((fd = bind_one(&cfg->listen.v[i])) == -1) {
			log_err("listen %s: %s", cfg->listen.v[i].text,
			    strerror(errno));
			return -1;
		}
		if (add_listener(srv, fd, cfg->listen.v[i].text) == -1)
			return -1;
	}
	return 0;
}

/* Close the listeners. */
static void
close_listeners(struct server *srv)
{
	size_t	 i;

	for (i = 0; i < srv->nlisteners; i++)
		evconnlistener_free(srv->listeners[i]);
	free(srv->listeners);
	srv->listeners = NULL;
	srv->nlisteners = 0;
}

static void	reload_load(struct server *);

/* SIGHUP: a new configuration and chain, or keep the old ones. */
static void
reload(struct server *srv)
{
	sd_notify(0, "RELOADING=1");
	reload_load(srv);
	sd_notify(0, "READY=1");
}

/* Load the configuration and build the chain; swap or keep the old. */
static void
reload_load(struct server *srv)
{
	struct gh_config_errors	 errs = { NULL, 0 };
	struct gh_config	*cfg;
	struct gh_chain		*chain;
	char			 err[1024];
	size_t			 i;

	cfg = gh_config_load(srv->config_path, srv->overrides,
	    srv->noverrides, &errs);
	for (i = 0; i < errs.n; i++)
		log_err("reload: %s", errs.v[i]);
	gh_config_errors_free(&errs);
	if (cfg == NULL) {
		log_err("reload failed: configuration has errors; the old "
		    "configuration stays");
		gh_metrics_reload(false);
		return;
	}
	if ((chain = gh_chain_new(cfg, NULL, err, sizeof(err))) == NULL) {
		log_err("reload failed: %s; the old configuration stays",
		    err);
		gh_config_unref(cfg);
		gh_metrics_reload(false);
		return;
	}
	gh_config_unref(cfg);
	/* New certificates for new sessions; a broken one keeps the old
	   (logged), the rest of the configuration still applies. */
	(void)tls_load(srv, gh_chain_config(chain));
	gh_metrics_reload(true);
	backend_pool_flush(srv);	/* the backend may have changed */
	gh_chain_unref(srv->chain);
	srv->chain = chain;
	gh_log_set_level(gh_chain_config(chain)->log_level);
	log_info("reloaded configuration %s", srv->config_path ?
	    srv->config_path : "(built-in)");
}

/* The drain deadline: cut every session still open. */
static void
drain_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;
	struct session	*s;

	log_notice("shutdown timeout: closing %zu session(s)",
	    srv->nsessions);
	while ((s = TAILQ_FIRST(&srv->sessions)) != NULL)
		session_abort(s);
	event_base_loopexit(srv->base, NULL);
}

/* SIGTERM/SIGINT: stop accepting, let sessions finish. */
static void
drain(struct server *srv)
{
	struct session	*s, *next;
	struct timeval	 tv;
	uint64_t	 ms = gh_chain_config(srv->chain)->shutdown_timeout_ms;

	if (srv->draining)
		return;
	srv->draining = true;
	sd_notify(0, "STOPPING=1");
	close_listeners(srv);
	backend_pool_flush(srv);
	log_notice("shutting down: %zu session(s) open", srv->nsessions);
	for (s = TAILQ_FIRST(&srv->sessions); s; s = next) {
		next = session_next(s);
		session_shutdown(s);
	}
	if (srv->nsessions == 0) {
		event_base_loopexit(srv->base, NULL);
		return;
	}
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	srv->ev_drain = evtimer_new(srv->base, drain_deadline, srv);
	if (srv->ev_drain)
		evtimer_add(srv->ev_drain, &tv);
}

/* Signals, delivered on the loop. */
static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server	*srv = arg;

	if (sig == SIGHUP)
		reload(srv);
	else
		drain(srv);
}

/* Run the proxy until SIGTERM (see proxy.h). */
int
server_run(const char *config_path, char *const *overrides,
    size_t noverrides, struct gh_config *cfg, struct gh_chain *chain)
{
	struct server		 srv;
	struct session		*s;
	struct event_config	*ecfg;
	struct gh_metrics_http	*metrics = NULL;
	char			 errbuf[256];
	int			 rc = 0;

	memset(&srv, 0, sizeof(srv));
	signal(SIGPIPE, SIG_IGN);
	if (evthread_use_pthreads() == -1 || (ecfg = event_config_new()) ==
	    NULL) {
		log_err("cannot start the event loop");
		return 1;
	}
	/* Coalesce epoll_ctl calls: bufferevents toggle EV_WRITE for every
	   reply, and the changelist turns that into one call per turn. */
	event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	srv.base = event_base_new_with_config(ecfg);
	event_config_free(ecfg);
	if (srv.base == NULL) {
		log_err("cannot start the event loop");
		return 1;
	}
	srv.config_path = config_path;
	srv.overrides = overrides;
	srv.noverrides = noverrides;
	srv.chain = gh_chain_ref(chain);
	srv.nbuckets = NBUCKETS;
	srv.by_id = calloc(NBUCKETS, sizeof(*srv.by_id));
	srv.counts = calloc(NBUCKETS, sizeof(*srv.counts));
	TAILQ_INIT(&srv.sessions);
	TAILQ_INIT(&srv.closing);
	TAILQ_INIT(&srv.pool);
	if (getentropy(&srv.next_id, sizeof(srv.next_id)) == -1)
		srv.next_id = (uint64_t)getpid() << 32;
	srv.next_id &= ~(uint64_t)0xffffff;	/* room to count up */
	if (srv.by_id == NULL || srv.counts == NULL ||
	    tls_load(&srv, cfg) == -1 || open_listeners(&srv, cfg) == -1) {
		rc = 1;
		goto out;
	}
	/* Root only to bind: drop it before a byte is read from a client. */
	if (gh_daemon_drop_privileges(cfg, errbuf, sizeof(errbuf)) == -1) {
		log_err("%s", errbuf);
		rc = 1;
		goto out;
	}
	metrics = gh_metrics_http_start(cfg);
	if ((srv.workers = workers_new(&srv, (int)cfg->workers)) == NULL)
		log_warn("no worker threads: blocking filters tempfail");
	srv.ev_term = evsignal_new(srv.base, SIGTERM, signal_cb, &srv);
	srv.ev_int = evsignal_new(srv.base, SIGINT, signal_cb, &srv);
	srv.ev_hup = evsignal_new(srv.base, SIGHUP, signal_cb, &srv);
	evsignal_add(srv.ev_term, NULL);
	evsignal_add(srv.ev_int, NULL);
	evsignal_add(srv.ev_hup, NULL);
	/* Learn the backend's capabilities for our EHLO reply. */
	srv.probe = backend_open(&srv, NULL, cfg, NULL);
	log_info("gatehouse proxy %s ready, backend %s", GH_VERSION,
	    cfg->backend.text);
	sd_notifyf(0, "READY=1\nSTATUS=relaying to %s", cfg->backend.text);
	event_base_dispatch(srv.base);
	log_info("gatehouse proxy stopped");
out:
	while ((s = TAILQ_FIRST(&srv.sessions)) != NULL)
		session_abort(s);
	if (srv.probe)
		backend_free(srv.probe, false);
	backend_pool_flush(&srv);
	backend_close_all(&srv);
	workers_free(srv.workers);
	close_listeners(&srv);
	if (srv.ev_term) {
		event_free(srv.ev_term);
		event_free(srv.ev_int);
		event_free(srv.ev_hup);
	}
	if (srv.ev_drain)
		event_free(srv.ev_drain);
	free(srv.by_id);
	if (srv.counts) {
		size_t i;

		for (i = 0; i < NBUCKETS; i++)
			while (srv.counts[i]) {
				struct addr_count *c = srv.counts[i];

				srv.counts[i] = c->next;
				free(c);
			}
		free(srv.counts);
	}
	gh_metrics_http_stop(metrics);
	gh_chain_unref(srv.chain);
	tls_unload(&srv);
	event_base_free(srv.base);
	return rc;
}
