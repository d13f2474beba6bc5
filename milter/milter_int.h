/*
 * milter_int.h — the milter front end's insides, for its own files, the
 * unit tests and the fuzz target.
 *
 * The session code (session.c) never calls libmilter directly: it goes
 * through a `struct milter_api` table, which daemon.c fills with the
 * smfi_* functions and a test fills with fakes.  So every callback can be
 * driven, in any order, without a socket.
 */
#ifndef GH_MILTER_INT_H
#define GH_MILTER_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <libmilter/mfapi.h>

#include "filters/filter.h"

struct gh_chain;
struct gh_config;

/* The libmilter calls the session code makes (ctx is a SMFICTX *). */
struct milter_api {
	void		*(*getpriv)(void *ctx);
	int		 (*setpriv)(void *ctx, void *priv);
	const char	*(*getsymval)(void *ctx, const char *name);
	int		 (*setreply)(void *ctx, const char *rcode,
			    const char *xcode, const char *text);
	int		 (*insheader)(void *ctx, int idx, const char *name,
			    const char *value);
	int		 (*addheader)(void *ctx, const char *name,
			    const char *value);
	int		 (*chgheader)(void *ctx, const char *name, int idx,
			    const char *value);
	int		 (*setsymlist)(void *ctx, int stage,
			    const char *macros);
};

/* What every session shares: the current chain, counters. */
struct milter_state {
	const struct milter_api	*api;
	pthread_mutex_t		 lock;		/* guards chain */
	struct gh_chain		*chain;		/* swapped on reload */
	uint64_t		 sid_base;	/* random, per process */
	uint64_t		 sid_next;	/* atomic */
	int			 sessions;	/* atomic: open connections */
	bool			 tcp;		/* listening on inet: */
};

/* state.c */
int		 milter__state_init(struct milter_state *,
		    const struct milter_api *, struct gh_chain *);
void		 milter__state_fini(struct milter_state *);
struct gh_chain	*milter__chain_get(struct milter_state *);
void		 milter__chain_set(struct milter_state *, struct gh_chain *);
int		 milter__sessions(struct milter_state *);

/* session.c: one function per libmilter callback. */
sfsistat	 milter__negotiate(struct milter_state *, void *ctx,
		    unsigned long f0, unsigned long f1, unsigned long *pf0,
		    unsigned long *pf1);
sfsistat	 milter__connect(struct milter_state *, void *ctx,
		    const char *host, const struct sockaddr *sa);
sfsistat	 milter__helo(struct milter_state *, void *ctx,
		    const char *helo);
sfsistat	 milter__envfrom(struct milter_state *, void *ctx,
		    char **argv);
sfsistat	 milter__envrcpt(struct milter_state *, void *ctx,
		    char **argv);
sfsistat	 milter__header(struct milter_state *, void *ctx,
		    const char *name, const char *value);
sfsistat	 milter__eoh(struct milter_state *, void *ctx);
sfsistat	 milter__body(struct milter_state *, void *ctx,
		    const unsigned char *chunk, size_t len);
sfsistat	 milter__eom(struct milter_state *, void *ctx);
sfsistat	 milter__abort(struct milter_state *, void *ctx);
sfsistat	 milter__close(struct milter_state *, void *ctx);

/* engine.c: the milter protocol on the MTA's connections. */
/* The API table the session code is driven through. */
const struct milter_api *milter__engine_api(void);
/* Accept connections on the listening socket `lfd` (a thread per
   connection); when accepting fails for good, a byte ('X') goes to
   `notify`.  -1 with errno when the acceptor cannot start. */
int		 milter__engine_start(struct milter_state *, int lfd,
		    int notify);
/* Stop accepting and close the listening socket; open connections go
   on (milter__sessions() counts them). */
void		 milter__engine_stop(void);
/* Before exit, once no session is open: wait (until DEADLINE, gh_now_us())
   for every connection thread to rest in the pool. */
void		 milter__engine_quiesce(uint64_t deadline);
/*
 * One MTA connection without its socket (the fuzz target, the tests):
 * milter__conn_input() takes bytes as read from the MTA, handles every
 * complete packet in them (a partial one waits for the next call) and
 * queues the replies on milter__conn_output(), which the caller reads
 * and resets.  -1 when the connection has ended (QUIT, a protocol
 * error, an over-long packet): the abort and close callbacks have run
 * and later input is refused.  milter__conn_free() ends the connection
 * the same way if it has not ended, and frees it.
 */
struct milter_conn;
struct gh_buf;
struct milter_conn *milter__conn_new(struct milter_state *, int fd);
int		 milter__conn_input(struct milter_conn *, const void *,
		    size_t);
struct gh_buf	*milter__conn_output(struct milter_conn *);
void		 milter__conn_free(struct milter_conn *);

/* reply.c: verdicts to libmilter. */
#define MILTER_TEXT_MAX	400	/* reply text, after escaping */

/* The SMFIS_* answer for an action at a stage. */
sfsistat	 milter__status(enum gh_action, enum gh_stage);
/*
 * The arguments of smfi_setreply() for a refusal: a code of the action's
 * class, a valid enhanced status code, text that is printable ASCII with
 * '%' doubled, at most MILTER_TEXT_MAX bytes.
 */
void		 milter__reply_args(const struct gh_verdict *,
		    char rcode[4], char xcode[16], char *text, size_t textsz);
/* A header value as libmilter sends it: LF folding, leading space if
   the MTA negotiated SMFIP_HDR_LEADSPC.  malloc'd; NULL on ENOMEM. */
char		*milter__edit_value(const char *value, bool leadspc);
/* Apply a transaction's header edits; 0, or -1 when one failed. */
int		 milter__apply_edits(const struct milter_api *, void *ctx,
		    const struct gh_txn *, bool leadspc);
/* Set the reply of a refusal and return its SMFIS_* answer. */
sfsistat	 milter__answer(const struct milter_api *, void *ctx,
		    const struct gh_verdict *, enum gh_stage);

#endif
