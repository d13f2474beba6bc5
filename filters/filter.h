/*
 * filter.h — types only: stages, actions, verdicts, header edits, the
 * envelope, the transaction and the filter interface.  Everything that
 * decides includes this; nothing here knows about sockets, libevent or
 * libmilter.
 */
#ifndef GH_FILTER_H
#define GH_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

struct gh_config;
struct gh_chain;
struct gh_message;

/* SMTP stages, in protocol order. */
enum gh_stage {
	GH_STAGE_CONNECT,	/* client address, PTR name */
	GH_STAGE_HELO,		/* HELO/EHLO name */
	GH_STAGE_MAIL,		/* envelope sender */
	GH_STAGE_RCPT,		/* one recipient: the last of env.rcpts */
	GH_STAGE_HEADERS,	/* header section complete */
	GH_STAGE_EOM,		/* whole message */
	GH_NSTAGES
};
#define GH_STAGE_BIT(s)	(1u << (s))

/* What a filter (or the chain) decides.  Order matters: stronger last. */
enum gh_action {
	GH_CONTINUE,		/* no opinion, go on */
	GH_ACCEPT,		/* stop filtering, deliver */
	GH_TAG,			/* deliver, marked as spam */
	GH_DISCARD,		/* accept and drop (only where asked for) */
	GH_TEMPFAIL,		/* 4xx */
	GH_REJECT,		/* 5xx */
	GH_NACTIONS
};

/* A verdict: the action, its SMTP reply, a score, why. */
struct gh_verdict {
	enum gh_action	 action;
	int		 code;		/* SMTP code for tempfail/reject */
	char		 status[16];	/* enhanced status code, "5.7.1" */
	char		*text;		/* public reply text (malloc'd) */
	char		*reason;	/* for the log only (malloc'd) */
	double		 score;		/* contribution */
	const char	*filter;	/* name of the deciding filter */
	bool		 shadow;	/* logged, not enforced */
};

/* A header edit, applied by the front end. */
enum gh_edit_op {
	GH_EDIT_INSERT,		/* insert at the top of the header */
	GH_EDIT_APPEND,		/* add at the end of the header */
	GH_EDIT_CHANGE,		/* change the index-th NAME; value NULL
				   deletes it */
};

struct gh_edit {
	enum gh_edit_op	 op;
	char		*name;
	char		*value;		/* without the leading space; folded
					   lines use CRLF TAB */
	unsigned	 index;		/* 1-based, among headers NAME */
};

/* The envelope, as far as it is known at the current stage. */
struct gh_envelope {
	uint64_t		 session_id;
	char			 sid[17];	/* hex session id */
	char			*client_addr;	/* text form, NULL if unknown */
	uint16_t		 client_port;
	char			*client_name;	/* PTR name, "unknown" */
	struct sockaddr_storage	 client_ss;
	socklen_t		 client_sslen;
	char			*helo;
	char			*mail_from;	/* without <>, "" = null */
	/* mail_from was taken from the message, not SMTP (scan) */
	bool			 mail_from_guessed;
	char			**rcpts;
	size_t			 nrcpts;
	char			*tls_version;
	char			*tls_cipher;
	char			*auth_user;	/* authenticated login */
	char			*queue_id;
	bool			 trusted;	/* in trusted_networks */
	bool			 esmtp;		/* EHLO, not HELO */
	/*
	 * The MTA after us will prepend its Received field for this
	 * client (the proxy: Postfix gets the message after the chain).
	 * Header rules then see that field, built from this envelope
	 * (gh_received_for_client), as the topmost one.  Set by the
	 * proxy only: not by `scan`, not (yet) by the milter.
	 */
	bool			 received_pending;
};

/* One method result for Authentication-Results (RFC 8601). */
struct gh_authres {
	char	*method;	/* "spf", "dkim" */
	char	*result;	/* "pass" */
	char	*props;		/* "smtp.mailfrom=a@b.example", may be NULL */
	char	*reason;	/* may be NULL */
};

/* What one filter said at one stage: for the log line and `scan`. */
struct gh_trace {
	const char	*filter;
	enum gh_stage	 stage;
	enum gh_action	 action;
	char		*result;	/* short text, e.g. "spf=fail" */
	double		 score;
	uint64_t	 usec;
};

/* A rule or check that hit, for X-Spam-Status tests= and the log. */
struct gh_hit {
	char	*name;
	double	 score;
	char	*detail;	/* matched text, capped; may be NULL */
	bool	 shadow;
};

#define GH_MAX_FILTERS	16

/* A growable array with a session mark (kept across RSET). */
#define GH_ARRAY(type)	struct { type *v; size_t n, cap, mark; }

/*
 * A transaction: one SMTP session's filtering state.  The part before
 * MAIL (connect, HELO) survives gh_txn_reset(); the rest is per message.
 * Used by one thread at a time.
 */
struct gh_txn {
	struct gh_chain		*chain;		/* referenced */
	const struct gh_config	*cfg;		/* the chain's */
	struct gh_envelope	 env;
	struct gh_message	*msg;		/* NULL before DATA */

	double			 score;
	double			 session_score;
	bool			 in_message;	/* a MAIL stage has run */
	bool			 stopped;	/* an ACCEPT ended filtering */
	bool			 session_stopped;
	bool			 tagged;	/* a filter said TAG */
	bool			 session_tagged;
	enum gh_action		 decided;	/* final action so far */
	struct gh_verdict	 final;		/* the decisive verdict */

	GH_ARRAY(struct gh_edit)	edits;
	GH_ARRAY(struct gh_authres)	authres;
	GH_ARRAY(struct gh_trace)	trace;
	GH_ARRAY(struct gh_hit)		hits;

	void			*fstate[GH_MAX_FILTERS];
	uint64_t		 started_us;
};

/*
 * A filter.  setup() builds an instance from a configuration (compiled
 * rules, an SPF server...), shared read-only by every transaction of
 * the chain it belongs to.  run() may block only if may_block is set;
 * the proxy then calls it on a worker thread.  run() fills `v` (action
 * GH_CONTINUE by default) and returns 0, or returns -1 when it failed:
 * the chain then applies on_filter_error.
 */
struct gh_filter {
	const char	*name;
	unsigned	 stages;	/* GH_STAGE_BIT mask */
	bool		 may_block;
	int		(*setup)(const struct gh_config *, void **inst,
			    char *err, size_t errsz);
	void		(*teardown)(void *inst);
	int		(*run)(void *inst, struct gh_txn *, unsigned idx,
			    enum gh_stage, struct gh_verdict *v);
	/* Free per-transaction state txn->fstate[idx]; may be NULL. */
	void		(*txn_free)(void *inst, struct gh_txn *, unsigned idx,
			    bool session_end);
	/* `gatehouse check`: print counts, run self-tests; return the
	   number of failures.  May be NULL. */
	int		(*check)(void *inst, FILE *report);
	/* A tag threshold the filter's own files set (SpamAssassin's
	   required_score); used unless score.tag is set.  May be NULL. */
	bool		(*threshold)(void *inst, double *tag);
};

#endif
