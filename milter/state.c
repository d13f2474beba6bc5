/*
 * state.c — what the milter's sessions share: the current filter chain
 * (swapped whole on reload), session ids, the count of open sessions.
 *
 * Invariants: `chain` is never NULL once initialised; a session holds
 * its own reference to the chain it runs on, so a swap never pulls a
 * chain from under a transaction (the old one goes when its last
 * session moves on).  The lock is held only to copy or swap the
 * pointer, never while a filter runs.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "filters/chain.h"
#include "milter/milter_int.h"

/* Initialise the shared state; takes a reference to `chain`. */
int
milter__state_init(struct milter_state *st, const struct milter_api *api,
    struct gh_chain *chain)
{
	uint64_t	 r;

	memset(st, 0, sizeof(*st));
	if (pthread_mutex_init(&st->lock, NULL) != 0)
		return -1;
	st->api = api;
	st->chain = gh_chain_ref(chain);
	/* Session ids: unique per process run, unpredictable enough that
	   log lines of two runs do not collide. */
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint64_t)time(NULL) << 32 ^ (uint64_t)getpid() << 16;
	st->sid_base = r & ~(uint64_t)0xffffff;
	return 0;
}

/* Release the shared state. */
void
milter__state_fini(struct milter_state *st)
{
	gh_chain_unref(st->chain);
	st->chain = NULL;
	pthread_mutex_destroy(&st->lock);
}

/* A new reference to the current chain. */
struct gh_chain *
milter__chain_get(struct milter_state *st)
{
	struct gh_chain	*c;

	pthread_mutex_lock(&st->lock);
	c = gh_chain_ref(st->chain);
	pthread_mutex_unlock(&st->lock);
	return c;
}

/* Make `chain` current (the caller's reference moves in). */
void
milter__chain_set(struct milter_state *st, struct gh_chain *chain)
{
	struct gh_chain	*old;

	pthread_mutex_lock(&st->lock);
	old = st->chain;
	st->chain = chain;
	pthread_mutex_unlock(&st->lock);
	gh_chain_unref(old);
}

/* Number of open sessions. */
int
milter__sessions(struct milter_state *st)
{
	return __atomic_load_n(&st->sessions, __ATOMIC_RELAXED);
}
