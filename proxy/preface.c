/*
 * preface.c — what a session learns before its banner: the PROXY
 * protocol header that a load balancer puts first (proxy_protocol), the
 * count against max_connections_per_client (of the client the header
 * names, not of the balancer), and the client's name by forward-
 * confirmed reverse DNS (client_name_lookup).  It ends, once, in
 * session_preface_done(); session.c then runs the CONNECT stage.
 *
 * Invariants: a PROXY header is read from at most PP_V2_MAX bytes and
 * nothing after it is consumed (a client's early commands stay in the
 * buffer); the header is awaited at most proxy_protocol_timeout and
 * the name at most dns.ptr_timeout (a timer on the loop, whatever the
 * worker queue does); the lookup runs on a worker except for a cache
 * probe that cannot wait; its result comes back by session id, so a
 * session that has gone costs only the job's memory.
 *
 * Failures: a missing, malformed or unauthorised header closes the
 * connection with a log line quoting (escaped) what came; a resolver
 * that cannot be set up or a job that cannot be queued gives the
 * temporary "no name".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters/dns.h"
#include "filters/log.h"
#include "filters/metrics.h"
#include "proxy/proxy.h"
#include "proxy/proxyproto.h"

enum pstate { P_PROXY, P_NAME, P_DONE };

struct preface {
	struct server		*srv;
	struct session		*s;
	uint64_t		 sid;
	struct bufferevent	*bev;
	const struct gh_config	*cfg;		/* the session's chain's */
	enum pstate		 state;
	int			 version;	/* of the PROXY header */
	struct sockaddr_storage	 ss;		/* the client */
	socklen_t		 sslen;
	char			 peer[INET6_ADDRSTRLEN];	/* socket's */
	char			 addr[INET6_ADDRSTRLEN], port[8];
	bool			 counted;
	bool			 moved;		/* ss is not the peer's */
	struct event		*ev_name;	/* the name's deadline */
	struct event		*ev_hdr;	/* the PROXY header's */
	enum gh_fcrdns		 name_status;
	char			 name[256];
};

/* One name lookup on a worker. */
struct name_job {
	struct gh_dns		*dns;
	struct sockaddr_storage	 ss;
	uint64_t		 deadline_us;
	enum gh_fcrdns		 result;
	char			 name[256];
};

/* End the preface: hand the result to the session (the last step). */
static void
done(struct preface *p, enum preface_end end)
{
	struct preface_result	 r;

	memset(&r, 0, sizeof(r));
	r.end = end;
	r.sa = (const struct sockaddr *)&p->ss;
	r.salen = p->sslen;
	r.addr = p->addr;
	r.port = p->port;
	r.counted = p->counted;
	r.name_status = p->name_status;
	r.name = p->name;
	p->counted = false;	/* the session's now */
	p->state = P_DONE;
	session_preface_done(p->s, &r);
}

/* Close a connection whose PROXY header is missing, bad or not ours. */
static void
refuse(struct preface *p, int level, const char *why)
{
	gh_log_session(level, p->sid, "PROXY header refused peer=%s: %s",
	    p->peer, why);
	gh_metrics_refused("proxy");
	done(p, PREFACE_CLOSE);
}

/* Take a PROXY header from the start of `in`: 1 done, 2 done (LOCAL:
   the peer is the client), 0 more needed, -1 not one (`why`). */
static int
proxy_header(struct preface *p, struct evbuffer *in, char *why,
    size_t whysz)
{
	size_t			 len = evbuffer_get_length(in), n;
	const uint8_t		*b;
	struct pp_result	 r;
	char			 esc[160];

	if (len == 0)
		return 0;
	/* The parser decides within PP_V2_MAX bytes: never more is read. */
	n = len < PP_V2_MAX ? len : PP_V2_MAX;
	if ((b = evbuffer_pullup(in, (ssize_t)n)) == NULL) {
		snprintf(why, whysz, "out of memory");
		return -1;
	}
	switch (pp_parse(b, n, &r)) {
	case PP_NEED_MORE:
		return 0;
	case PP_ERROR:
		gh_printable(esc, sizeof(esc), (const char *)b, n, 64);
		snprintf(why, whysz, "%s: \"%s\"", r.error, esc);
		return -1;
	case PP_DONE:
		break;
	}
	p->version = r.version;
	if (!r.local) {
		memcpy(&p->ss, &r.src, r.srclen);
		p->sslen = r.srclen;
		p->moved = true;
	}
	evbuffer_drain(in, r.consumed);
	return r.local ? 2 : 1;
}

/* On a worker: the lookup itself, bounded by the job's deadline. */
static void
name_run(void *arg)
{
	struct name_job	*j = arg;

	j->result = gh_fcrdns(j->dns, (const struct sockaddr *)&j->ss,
	    j->deadline_us, j->name, sizeof(j->name));
}

/* On the loop: hand the result to its session, if it is still there. */
static void
name_done(struct session *s, void *arg)
{
	struct name_job	*j = arg;

	if (s)
		session_on_name(s, j->result, j->name);
	gh_dns_release(j->dns);
	free(j);
}

/* Start the lookup: 1 when the result is known at once (a cache hit, a
   failure), 0 when it comes later to preface_on_name(). */
static int
name_lookup(struct preface *p)
{
	struct name_job	*j;
	struct gh_dns	*dns;
	char		 err[256];
	const struct sockaddr *sa = (const struct sockaddr *)&p->ss;

	p->name_status = GH_FCRDNS_TEMP;
	if ((dns = gh_dns_acquire(p->cfg, err, sizeof(err))) == NULL) {
		gh_log_session(LOG_WARNING, p->sid, "client name lookup: %s",
		    err);
		return 1;
	}
	/* A client seen lately is in the resolver's cache: no thread hop
	   (a deadline already past makes every query cache-only). */
	p->name_status = gh_fcrdns(dns, sa, 0, p->name, sizeof(p->name));
	if (p->name_status != GH_FCRDNS_TEMP || p->srv->workers == NULL ||
	    (j = calloc(1, sizeof(*j))) == NULL) {
		gh_dns_release(dns);
		return 1;
	}
	j->dns = dns;
	memcpy(&j->ss, &p->ss, p->sslen);
	j->deadline_us = gh_now_us() + p->cfg->dns_ptr_timeout_ms * 1000;
	if (workers_call(p->srv->workers, p->sid, name_run, name_done, j) ==
	    -1) {
		gh_dns_release(dns);
		free(j);
		return 1;
	}
	return 0;
}

/* The name's deadline: "unknown", for now. */
static void
name_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct preface	*p = arg;

	gh_log_session(LOG_INFO, p->sid, "client name lookup timed out "
	    "client=%s", p->addr);
	gh_metrics_dns_timeout();
	p->name_status = GH_FCRDNS_TEMP;
	done(p, PREFACE_OK);
}

/* The client is known: count it against its limit, find its name. */
static void
client_known(struct preface *p)
{
	struct timeval	 tv;
	uint64_t	 ms = p->cfg->dns_ptr_timeout_ms;

	if (p->moved)		/* a PROXY header named the client */
		relay_addr_text((const struct sockaddr *)&p->ss, p->addr,
		    sizeof(p->addr), p->port, sizeof(p->port));
	if (!(p->counted = server_count_client(p->srv, p->addr,
	    p->cfg->max_connections_per_client))) {
		done(p, PREFACE_TOO_MANY);
		return;
	}
	p->name_status = GH_FCRDNS_NONE;
	if (p->cfg->client_name_lookup) {
		/* The deadline first: no lookup is waited for without one. */
		if ((p->ev_name = evtimer_new(bufferevent_get_base(p->bev),
		    name_timeout, p)) == NULL)
			p->name_status = GH_FCRDNS_TEMP;
		else if (name_lookup(p) == 0) {
			p->state = P_NAME;
			tv.tv_sec = (time_t)(ms / 1000);
			tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
			evtimer_add(p->ev_name, &tv);
			return;
		}
	}
	done(p, PREFACE_OK);
}

/* A preface for a new connection (see proxy.h). */
struct preface *
preface_new(struct server *srv, struct session *s, uint64_t sid,
    struct bufferevent *bev, const struct sockaddr *sa, socklen_t salen,
    const struct gh_config *cfg)
{
	struct preface	*p;

	if (salen > sizeof(p->ss) || (p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->srv = srv;
	p->s = s;
	p->sid = sid;
	p->bev = bev;
	p->cfg = cfg;
	memcpy(&p->ss, sa, salen);
	p->sslen = salen;
	relay_addr_text(sa, p->addr, sizeof(p->addr), p->port,
	    sizeof(p->port));
	memcpy(p->peer, p->addr, sizeof(p->peer));
	return p;
}

/* No PROXY header in time. */
static void
header_timeout(evutil_socket_t fd, short what, void *arg)
{
	preface_event(arg, BEV_EVENT_READING | BEV_EVENT_TIMEOUT);
}

/* Start: wait for the PROXY header, or go on with the peer. */
void
preface_run(struct preface *p)
{
	struct timeval	 tv;
	uint64_t	 ms = p->cfg->proxy_protocol_timeout_ms;

	if (!p->cfg->proxy_protocol) {
		client_known(p);
		return;
	}
	if (!gh_cidr_match(&p->cfg->proxy_networks,
	    (const struct sockaddr *)&p->ss)) {
		refuse(p, LOG_NOTICE, "peer outside proxy_networks");
		return;
	}
	p->state = P_PROXY;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	/* The session reads the socket itself (io.c): a timer of our own,
	   for the whole header. */
	if ((p->ev_hdr = evtimer_new(bufferevent_get_base(p->bev),
	    header_timeout, p)) == NULL || evtimer_add(p->ev_hdr, &tv) == -1) {
		refuse(p, LOG_WARNING, "out of memory");
		return;
	}
	/* Bytes may be there already (socket activation, a fast peer). */
	if (evbuffer_get_length(bufferevent_get_input(p->bev)) > 0)
		preface_read(p);
}

/* Client data arrived (see proxy.h). */
void
preface_read(struct preface *p)
{
	char	 why[256];
	int	 r;

	if (p->state != P_PROXY)
		return;		/* kept for the session */
	r = proxy_header(p, bufferevent_get_input(p->bev), why, sizeof(why));
	if (r == 0)
		return;
	if (r == -1) {
		refuse(p, LOG_NOTICE, why);
		return;
	}
	evtimer_del(p->ev_hdr);
	if (gh_log_enabled(LOG_DEBUG))
		gh_log_session(LOG_DEBUG, p->sid, "PROXY v%d header from %s%s",
		    p->version, p->peer, r == 2 ? ": LOCAL, the peer is the client" :
		    "");
	client_known(p);
}

/* The connection timed out, ended or failed before the banner. */
void
preface_event(struct preface *p, short what)
{
	if (p->state == P_PROXY)
		refuse(p, what & BEV_EVENT_TIMEOUT ? LOG_NOTICE : LOG_INFO,
		    what & BEV_EVENT_TIMEOUT ? "no PROXY header in time" :
		    "closed before a PROXY header");
	else
		done(p, PREFACE_CLOSE);		/* gone before its banner */
}

/* The name lookup's result (see proxy.h). */
void
preface_on_name(struct preface *p, enum gh_fcrdns r, const char *name)
{
	if (p->state != P_NAME)
		return;
	evtimer_del(p->ev_name);
	if (r == GH_FCRDNS_TEMP)
		gh_log_session(LOG_INFO, p->sid, "client name lookup failed "
		    "for now (DNS timeout or failure) client=%s", p->addr);
	p->name_status = r;
	if (r == GH_FCRDNS_OK)
		snprintf(p->name, sizeof(p->name), "%s", name);
	done(p, PREFACE_OK);
}

/* Free a preface; a count not handed to the session is undone. */
void
preface_free(struct preface *p)
{
	if (p == NULL)
		return;
	if (p->counted)
		server_uncount_client(p->srv, p->addr);
	if (p->ev_name)
		event_free(p->ev_name);
	if (p->ev_hdr)
		event_free(p->ev_hdr);
	free(p);
}
