/*
 * chain.h — the filter chain: a configuration plus the filter instances
 * built from it, immutable and reference-counted (swapped whole on
 * reload); and the transaction API the front ends drive.
 */
#ifndef GH_CHAIN_H
#define GH_CHAIN_H

#include <stdio.h>

#include "filters/config.h"
#include "filters/filter.h"
#include "filters/util.h"

/*
 * Build a chain from `cfg` with the built-in filters (those enabled by
 * the configuration).  `report`, when not NULL, receives what loading
 * says (rule counts, warnings).  NULL with `err` on error.
 */
struct gh_chain	*gh_chain_new(struct gh_config *cfg, FILE *report,
		    char *err, size_t errsz);
/* The same with an explicit filter list (tests, tools). */
struct gh_chain	*gh_chain_new_with(struct gh_config *cfg,
		    const struct gh_filter *const *filters, size_t n,
		    FILE *report, char *err, size_t errsz);
struct gh_chain	*gh_chain_ref(struct gh_chain *);
void		 gh_chain_unref(struct gh_chain *);
struct gh_config *gh_chain_config(const struct gh_chain *);
/* Tell whether running `stage` may block (DNS): run it off the loop. */
bool		 gh_chain_may_block(const struct gh_chain *, enum gh_stage);
/* The tag threshold: score.tag, or required_score from rule files. */
double		 gh_chain_score_tag(const struct gh_chain *);
/* Run each filter's self-check (gatehouse check); failures counted. */
int		 gh_chain_check(const struct gh_chain *, FILE *report);
/* Tell whether any filter of the chain runs at `stage` (the milter asks
   the MTA not to wait for replies at the other stages). */
bool		 gh_chain_runs_at(const struct gh_chain *, enum gh_stage);
/* The instance of the filter named `name`, or NULL. */
void		*gh_chain_instance(const struct gh_chain *, const char *name);

/* Transactions. */
struct gh_txn	*gh_txn_new(struct gh_chain *, uint64_t session_id);
void		 gh_txn_free(struct gh_txn *);
/* End of one message (RSET, after DATA): keep the session part; move to
   `chain` (the current one after a reload) when not NULL. */
void		 gh_txn_reset(struct gh_txn *, struct gh_chain *chain);

int	 gh_txn_set_client(struct gh_txn *, const char *addr, uint16_t port,
	    const char *name, const struct sockaddr *, socklen_t);
int	 gh_txn_set_helo(struct gh_txn *, const char *);
int	 gh_txn_set_mail(struct gh_txn *, const char *sender);
int	 gh_txn_add_rcpt(struct gh_txn *, const char *rcpt);
int	 gh_txn_set_tls(struct gh_txn *, const char *version,
	    const char *cipher);
int	 gh_txn_set_auth(struct gh_txn *, const char *user);
int	 gh_txn_set_queue_id(struct gh_txn *, const char *);
/* The message is the front end's; it must outlive the EOM stage. */
void	 gh_txn_set_message(struct gh_txn *, struct gh_message *);

/*
 * Run every filter registered for `stage`.  `out` receives the decisive
 * verdict of the stage (a copy the caller clears with gh_verdict_clear):
 *  - GH_REJECT / GH_TEMPFAIL: refuse (at RCPT: only this recipient, which
 *    is removed from the envelope); the reply is in out->code/status/text.
 *  - GH_DISCARD: accept and drop the message.
 *  - at EOM: GH_TAG or GH_CONTINUE (deliver; txn->edits hold the header
 *    edits), or GH_ACCEPT when a filter accepted (deliver, no tagging).
 * Returns 0; -1 only when out of memory (treat as tempfail).
 */
int	 gh_chain_run(struct gh_txn *, enum gh_stage, struct gh_verdict *out);

/* Helpers for filters. */
int	 gh_txn_authres(struct gh_txn *, const char *method,
	    const char *result, const char *reason, const char *propfmt, ...)
	    __attribute__((format(printf, 5, 6)));
int	 gh_txn_hit(struct gh_txn *, const char *name, double score,
	    const char *detail, size_t detail_len, bool shadow);
int	 gh_txn_edit(struct gh_txn *, enum gh_edit_op, const char *name,
	    const char *value, unsigned index);
/* Expand %{sender} %{rcpt} %{client_addr} %{client_name} %{helo}
   %{session} %{result}: client text sanitised (no CR/LF, capped). */
char	*gh_txn_expand(const struct gh_txn *, const char *tmpl,
	    const char *result);
/* Make `v` a refusal with the configured reply, reason for the log. */
void	 gh_verdict_refuse(struct gh_verdict *, const struct gh_txn *,
	    enum gh_action, const struct gh_reply_conf *, const char *result,
	    const char *reasonfmt, ...) __attribute__((format(printf, 6, 7)));
void	 gh_verdict_clear(struct gh_verdict *);
int	 gh_verdict_copy(struct gh_verdict *dst, const struct gh_verdict *);

/* The one log line per message: key=value pairs, client text escaped. */
void	 gh_txn_summary(const struct gh_txn *, const struct gh_verdict *,
	    const char *backend_reply, struct gh_buf *out);
const char *gh_stage_name(enum gh_stage);
/* At the end of every message (delivered, refused or abandoned): log the
   summary line and count it in the metrics.  The one door for both. */
void	 gh_txn_finish(const struct gh_txn *, const struct gh_verdict *,
	    const char *backend_reply);

/* Authentication-Results helpers (authres.c). */
bool	 gh_authres_claims(const char *value, size_t len, const char *id);
char	*gh_authres_format(const struct gh_txn *);

#endif
