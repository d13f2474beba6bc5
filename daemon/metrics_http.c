/*
 * metrics_http.c — GET /metrics in Prometheus text format, served by a
 * thread with its own libevent base, so both daemons (the proxy's event
 * loop, the milter's threads) share it without touching their loops.
 *
 * Failure: a bind error is logged and the daemon runs without metrics.
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "filters/log.h"
#include "filters/metrics.h"

struct gh_metrics_http {
	struct event_base	*base;
	struct evhttp		*http;
	pthread_t		 thread;
};

/* Answer one request. */
static void
handle(struct evhttp_request *req, void *arg)
{
	struct evbuffer	*out;
	struct gh_buf	 b;
	const char	*path = evhttp_request_get_uri(req);

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET ||
	    path == NULL || (strcmp(path, "/metrics") != 0 &&
	    strncmp(path, "/metrics?", 9) != 0)) {
		evhttp_send_error(req, HTTP_NOTFOUND, "try /metrics");
		return;
	}
	gh_buf_init(&b, 16 * 1024 * 1024);
	if (gh_metrics_render(&b) == -1 || (out = evbuffer_new()) == NULL) {
		gh_buf_free(&b);
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evbuffer_add(out, b.p, b.len);
	gh_buf_free(&b);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", out);
	evbuffer_free(out);
}

static void *
run(void *arg)
{
	struct gh_metrics_http	*m = arg;

	event_base_dispatch(m->base);
	return NULL;
}

/* Start the endpoint; NULL when off or when it cannot bind. */
struct gh_metrics_http *
gh_metrics_http_start(const struct gh_config *cfg)
{
	struct gh_metrics_http	*m;
	const struct gh_addr	*a = &cfg->metrics_listen;

	if (a->text == NULL || a->is_unix)
		return NULL;
	evthread_use_pthreads();
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	if ((m->base = event_base_new()) == NULL ||
	    (m->http = evhttp_new(m->base)) == NULL)
		goto fail;
	evhttp_set_gencb(m->http, handle, NULL);
	evhttp_set_timeout(m->http, 10);
	evhttp_set_max_headers_size(m->http, 8192);
	evhttp_set_max_body_size(m->http, 0);
	if (evhttp_bind_socket(m->http, a->host, a->port) == -1) {
		log_err("metrics: cannot listen on %s: running without "
		    "metrics", a->text);
		goto fail;
	}
	if (pthread_create(&m->thread, NULL, run, m) != 0)
		goto fail;
	log_info("metrics on http://%s/metrics", a->text);
	return m;
fail:
	if (m->http)
		evhttp_free(m->http);
	if (m->base)
		event_base_free(m->base);
	free(m);
	return NULL;
}

/* Stop the endpoint and its thread. */
void
gh_metrics_http_stop(struct gh_metrics_http *m)
{
	if (m == NULL)
		return;
	event_base_loopbreak(m->base);
	pthread_join(m->thread, NULL);
	evhttp_free(m->http);
	event_base_free(m->base);
	free(m);
}
