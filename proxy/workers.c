/*
 * workers.c — a small pool of threads for filter stages that may block
 * (DNS).  The loop hands over a transaction and a range of stages; a
 * worker runs them and queues the verdict; the loop picks it up and
 * gives it to the session by id.  A session that has gone meanwhile is
 * not found: its transaction, which the job owned, is freed then.
 *
 * Invariants: a transaction is used by one thread at a time — the
 * session does not touch it while its job is queued or running; results
 * reach sessions on the loop thread only (event_active wakes it).
 *
 * Besides chain stages a job may be any call (workers_call: the
 * client's name lookup); its result comes back the same way, by id.
 *
 * Failures: a job that cannot be queued is reported to the caller,
 * which tempfails; out of memory in the chain is a tempfail verdict.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "filters/log.h"
#include "proxy/proxy.h"

struct job {
	TAILQ_ENTRY(job)	 entry;
	uint64_t		 sid;
	struct gh_txn		*txn;
	enum gh_stage		 first, last;
	struct gh_verdict	 v;
	/* workers_call(): fn on a worker, then done on the loop */
	void			(*fn)(void *);
	void			(*done)(struct session *, void *);
	void			*arg;
};

struct workers {
	struct server		*srv;
	pthread_t		*threads;
	int			 n;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	TAILQ_HEAD(, job)	 todo, done;
	bool			 stop;
	struct event		*ev_done;
};

/* Run stages first..last, stopping at the first refusal or discard. */
int
proxy_run_stages(struct gh_txn *t, enum gh_stage first, enum gh_stage last,
    struct gh_verdict *out)
{
	int	 st;

	memset(out, 0, sizeof(*out));
	for (st = first; st <= (int)last; st++) {
		if (st != (int)first)
			gh_verdict_clear(out);
		if (gh_chain_run(t, st, out) == -1)
			return -1;
		if (out->action == GH_REJECT || out->action == GH_TEMPFAIL ||
		    out->action == GH_DISCARD)
			return 0;
	}
	return 0;
}

/* A worker thread: take jobs until told to stop. */
static void *
worker_main(void *arg)
{
	struct workers	*w = arg;
	struct job	*j;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->stop && TAILQ_EMPTY(&w->todo))
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->stop)
			break;
		j = TAILQ_FIRST(&w->todo);
		TAILQ_REMOVE(&w->todo, j, entry);
		pthread_mutex_unlock(&w->mu);
		if (j->fn)
			j->fn(j->arg);
		else if (proxy_run_stages(j->txn, j->first, j->last, &j->v) ==
		    -1) {
			gh_verdict_clear(&j->v);
			j->v.action = GH_TEMPFAIL;
			j->v.code = 451;
			strcpy(j->v.status, "4.3.0");
			j->v.text = strdup("Temporary local problem");
		}
		pthread_mutex_lock(&w->mu);
		TAILQ_INSERT_TAIL(&w->done, j, entry);
		event_active(w->ev_done, EV_READ, 0);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* On the loop: hand finished verdicts to their sessions by id. */
static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct workers		*w = arg;
	TAILQ_HEAD(, job)	 list = TAILQ_HEAD_INITIALIZER(list);
	struct job		*j;
	struct session		*s;

	pthread_mutex_lock(&w->mu);
	TAILQ_CONCAT(&list, &w->done, entry);
	pthread_mutex_unlock(&w->mu);
	while ((j = TAILQ_FIRST(&list)) != NULL) {
		TAILQ_REMOVE(&list, j, entry);
		if (j->done) {
			/* NULL when the session has gone: done frees arg. */
			j->done(server_find_session(w->srv, j->sid), j->arg);
			free(j);
			continue;
		}
		if ((s = server_find_session(w->srv, j->sid)) != NULL)
			session_on_verdict(s, &j->v);
		else {
			gh_log_session(LOG_DEBUG, j->sid, "late verdict for a "
			    "closed session dropped");
			session_free_orphan(j->txn);	/* gone: drop */
		}
		gh_verdict_clear(&j->v);
		free(j);
	}
}

/* Start `n` worker threads. */
struct workers *
workers_new(struct server *srv, int n)
{
	struct workers	*w;
	int		 i;

	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->threads = calloc((size_t)n, sizeof(pthread_t))) == NULL) {
		free(w);
		return NULL;
	}
	w->srv = srv;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	TAILQ_INIT(&w->todo);
	TAILQ_INIT(&w->done);
	if ((w->ev_done = event_new(srv->base, -1, 0, done_cb, w)) == NULL) {
		free(w->threads);
		free(w);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		if (pthread_create(&w->threads[i], NULL, worker_main, w) != 0)
			break;
		w->n++;
	}
	if (w->n == 0) {
		workers_free(w);
		return NULL;
	}
	return w;
}

/* Stop the threads and free what is left. */
void
workers_free(struct workers *w)
{
	struct job	*j;
	int		 i;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	for (i = 0; i < w->n; i++)
		pthread_join(w->threads[i], NULL);
	TAILQ_CONCAT(&w->done, &w->todo, entry);
	while ((j = TAILQ_FIRST(&w->done)) != NULL) {
		TAILQ_REMOVE(&w->done, j, entry);
		if (j->done)
			j->done(NULL, j->arg);
		else
			session_free_orphan(j->txn);
		gh_verdict_clear(&j->v);
		free(j);
	}
	event_free(w->ev_done);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w->threads);
	free(w);
}

/* Hand a job to the threads. */
static void
enqueue(struct workers *w, struct job *j)
{
	pthread_mutex_lock(&w->mu);
	TAILQ_INSERT_TAIL(&w->todo, j, entry);
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* Queue stages for a transaction (see proxy.h). */
int
workers_submit(struct workers *w, uint64_t sid, struct gh_txn *t,
    enum gh_stage first, enum gh_stage last)
{
	struct job	*j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return -1;
	j->sid = sid;
	j->txn = t;
	j->first = first;
	j->last = last;
	enqueue(w, j);
	return 0;
}

/* Queue a function call for a session (see proxy.h). */
int
workers_call(struct workers *w, uint64_t sid, void (*fn)(void *),
    void (*done)(struct session *, void *), void *arg)
{
	struct job	*j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return -1;
	j->sid = sid;
	j->fn = fn;
	j->done = done;
	j->arg = arg;
	enqueue(w, j);
	return 0;
}
