/*
 * rules.h -- the gatehouse rule engine: load rule files, evaluate them.
 *
 * The engine depends on PCRE2 (libpcre2-8) only.  It knows nothing about
 * MIME, sockets or SMTP sessions: the caller (filters/regex.c) hands it
 * texts that it has already extracted from the transaction, through
 * struct rules_input, and reads back hits, a score and an action.
 *
 * Life cycle:
 *
 *	struct rules_set *set;
 *	struct rules_diag diag;
 *	if (rules_load(paths, npaths, &opts, &set, &diag) != 0)
 *		print diag.notes, keep the old set;
 *	rules_diag_free(&diag);
 *
 *	per worker thread, per transaction:
 *	struct rules_txn *t = rules_txn_new(set);    (takes a reference)
 *	rules_eval(t, RULES_STAGE_CONNECT, &in);     ... one call per stage
 *	rules_eval(t, RULES_STAGE_EOM, &in);
 *	rules_verdict(t) / rules_hits(t)
 *	rules_txn_reset(t) for the next transaction on the same set, or
 *	rules_txn_free(t)                            (drops the reference)
 *
 * A struct rules_set is immutable once loaded and may be used by any
 * number of threads at once without locks; its reference count is atomic.
 * A struct rules_txn belongs to one thread at a time.
 *
 * Regexes are byte regexes (PCRE2 without UTF mode), which is what
 * SpamAssassin does: it compiles with Perl's /aa and matches octets.
 * Input texts may therefore hold any bytes, including invalid UTF-8;
 * a match never fails because of them.
 */
#ifndef GATEHOUSE_RULES_H
#define GATEHOUSE_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Rule types.  Envelope types are gatehouse's own. */
enum rules_type {
	RULES_T_HEADER,
	RULES_T_MIMEHEADER,
	RULES_T_BODY,
	RULES_T_RAWBODY,
	RULES_T_FULL,
	RULES_T_URI,
	RULES_T_META,
	RULES_T_CLIENT,
	RULES_T_HELO,
	RULES_T_MAILFROM,
	RULES_T_RCPTTO,
	RULES_T_AUTH,		/* the SMTP AUTH login, at MAIL */
	RULES_T_COUNT
};

/* SMTP stages, in order.  RCPT may be evaluated once per recipient. */
enum rules_stage {
	RULES_STAGE_CONNECT,	/* client rules */
	RULES_STAGE_HELO,	/* helo rules */
	RULES_STAGE_MAIL,	/* mailfrom rules */
	RULES_STAGE_RCPT,	/* rcptto rules, per recipient */
	RULES_STAGE_HEADERS,	/* header rules; metas over envelope/rcpt */
	RULES_STAGE_EOM,	/* body, rawbody, full, uri, mimeheader */
	RULES_STAGE_COUNT
};

/* Actions a rule may carry ("action NAME ..."), weakest first. */
enum rules_action {
	RULES_A_NONE,
	RULES_A_TAG,		/* tag the message whatever the score */
	RULES_A_ACCEPT,		/* stop filtering, deliver */
	RULES_A_DISCARD,	/* accept and drop */
	RULES_A_TEMPFAIL,	/* 4xx with the rule's reply */
	RULES_A_REJECT		/* 5xx with the rule's reply */
};

/* A byte string that carries its length; need not be NUL-terminated. */
struct rules_text {
	const char	*ptr;
	size_t		 len;
};

/*
 * One header field, as SpamAssassin's Mail::SpamAssassin::Message keeps
 * it.  name: the field name as in the message (without the colon and
 * trailing blanks).  raw: everything after the first colon up to and
 * including the line end of the field's last line, folding kept, line
 * ends as LF (so "Subject: hi\r\n" gives " hi\n").  value: the decoded
 * value: unfolded ("\n[ \t]+" -> " "), leading and trailing white space
 * removed, RFC 2047 encoded words decoded (UTF-8), no final newline.
 */
struct rules_header {
	struct rules_text name;
	struct rules_text raw;
	struct rules_text value;
};

/* The headers of one MIME part; part 0 is the message itself. */
struct rules_part {
	const struct rules_header	*headers;
	size_t				 nheaders;
};

/*
 * What the caller knows at a stage.  Fields a stage does not use may be
 * left zero.  Every text is matched exactly as given: the engine copies
 * nothing it is not asked to match, and keeps no pointer after
 * rules_eval() returns.
 */
struct rules_input {
	/* CONNECT: "name [address]", name "unknown" without a PTR name. */
	struct rules_text	 client;
	/* HELO: the HELO/EHLO argument. */
	struct rules_text	 helo;
	/* MAIL: the reverse-path without angle brackets ("" for <>). */
	struct rules_text	 mailfrom;
	/* MAIL: the SMTP AUTH login; ptr NULL when the client did not
	   authenticate (an `auth` rule then does not hit). */
	struct rules_text	 auth;
	/* RCPT: this recipient, without angle brackets. */
	struct rules_text	 rcpt;

	/*
	 * HEADERS and EOM.  parts[0] holds the message's own header
	 * fields (header rules); every part, parts[0] included, is
	 * searched by mimeheader rules, in find_parts() order.
	 */
	const struct rules_part	*parts;
	size_t			 nparts;
	/* The pristine header section, without the empty line (ALL:raw). */
	struct rules_text	 header_block;
	/* EnvelopeFrom for header rules; ptr NULL when unknown. */
	struct rules_text	 envelope_from;
	/*
	 * Pseudo-headers looked up when the message has no such field,
	 * e.g. X-Spam-Relays-External (SpamAssassin's metadata); only
	 * name and value are used.
	 */
	const struct rules_header *pseudo;
	size_t			 npseudo;

	/*
	 * EOM.  body: SpamAssassin's rendered body text array: element 0
	 * is the decoded Subject followed by "\n" (just "\n" without a
	 * Subject), then the text of all text parts, HTML rendered, each
	 * paragraph made one line, lines over 2048 bytes split: build it
	 * with rules_body_text() and rules_split_lines().  rawbody: each
	 * text/ and message/ part (not text/calendar), decoded but not
	 * rendered, cut at 500,000 bytes (rawbody_part_scan_size) and
	 * split with rules_split_paragraphs(), all parts' pieces in one
	 * array.  full: the pristine message.  uris: each URI found,
	 * matched one by one.
	 */
	const struct rules_text	*body;
	size_t			 nbody;
	const struct rules_text	*rawbody;
	size_t			 nrawbody;
	struct rules_text	 full;
	const struct rules_text	*uris;
	size_t			 nuris;

	/*
	 * Optional: decode the RFC 2047 encoded words in STR (LEN bytes)
	 * to UTF-8 as the message model decodes header values, writing at
	 * most OUTLEN bytes to OUT; returns the length written.  Used for
	 * :name values (SpamAssassin decodes display names); NULL leaves
	 * them as they are in the message.
	 */
	size_t			(*decode_words)(void *arg, const char *str,
				    size_t len, char *out, size_t outlen);
	void			*decode_arg;
};

/* Load options.  Zero-initialise, then set what you need. */
struct rules_opts {
	int		 score_set;	/* 0..3; SpamAssassin's score set */
	uint32_t	 match_limit;	/* pcre2 match limit, 0 = default */
	uint32_t	 depth_limit;	/* pcre2 depth limit, 0 = default */
	unsigned	 flags;
};
#define RULES_LOAD_NO_JIT	0x01	/* never use the JIT */
#define RULES_LOAD_SHADOW	0x02	/* every action of this load is shadow */
#define RULES_LOAD_NO_TESTS	0x04	/* do not keep "test" lines */
#define RULES_LOAD_PLAIN	0x08	/* no evaluation shortcuts: one
					   search per rule per text, as
					   SpamAssassin; same results */
#define RULES_LOAD_NO_PREFILTER	0x10	/* no multi-pattern prefilter
					   (PLAIN implies it); same results */

#define RULES_DEFAULT_MATCH_LIMIT	1000000u
#define RULES_DEFAULT_DEPTH_LIMIT	50000u
#define RULES_MATCH_MAX			100	/* bytes of matched text kept */

enum rules_severity {
	RULES_WARNING,
	RULES_ERROR
};

/* One diagnostic, formatted "file:line: message". */
struct rules_note {
	enum rules_severity	 severity;
	char			*text;
};

/* What a load found: counts and notes.  Filled even when a load fails. */
struct rules_diag {
	struct rules_note	*notes;
	size_t			 nnotes;
	size_t			 notes_dropped;	/* beyond the cap */
	size_t			 errors;
	size_t			 warnings;
	size_t			 files;		/* files read */
	size_t			 by_type[RULES_T_COUNT];
	size_t			 eval_skipped;	/* "eval:" rules, anywhere */
	size_t			 cond_skipped;	/* other rules in false blocks */
	size_t			 ignored;	/* known SA directives ignored */
	size_t			 disabled;	/* rules with score 0 */
	size_t			 jit;		/* regexes JIT-compiled */
	size_t			 interpreted;	/* regexes on the interpreter */
	size_t			 tests;		/* "test" lines kept */
	size_t			 prefiltered;	/* rules the prefilter holds */
};

struct rules_set;
struct rules_txn;

/*
 * Load rule files.  paths[] are files or glob(3) patterns, read in that
 * order; a glob that matches nothing is a warning, a missing file an
 * error.  Files whose names end in ".rules" are gatehouse rule files
 * (unknown directives are errors); others are SpamAssassin files
 * (unknown directives are warnings).  On success *setp holds a new set
 * with one reference and 0 is returned; on any error *setp is NULL and
 * -1 is returned.  diag is always filled; free it with rules_diag_free().
 */
int	 rules_load(const char *const paths[], size_t npaths,
	    const struct rules_opts *opts, struct rules_set **setp,
	    struct rules_diag *diag);
void	 rules_diag_free(struct rules_diag *diag);

/* Take and drop references; the last unref frees the set. */
struct rules_set *rules_set_ref(struct rules_set *set);
void	 rules_set_unref(struct rules_set *set);

/* Introspection. */
size_t	 rules_count(const struct rules_set *set);
/* Whether this PCRE2 has a JIT (it may still be refused at run time). */
bool	 rules_jit_available(void);
/* Whether a rule of SET asks for SpamAssassin's Received metadata:
   X-Spam-Relays-*, ALL-TRUSTED .. ALL-EXTERNAL or EnvelopeFrom. */
bool	 rules_wants_metadata(const struct rules_set *set);
const char *rules_name(const struct rules_set *set, uint32_t rule);
enum rules_type rules_type_of(const struct rules_set *set, uint32_t rule);
int	 rules_lookup(const struct rules_set *set, const char *name,
	    uint32_t *rule);
/* A rule's "describe" text, or NULL. */
const char *rules_describe(const struct rules_set *set, uint32_t rule);
/* Where a rule is defined (file name valid while the set lives). */
void	 rules_site(const struct rules_set *set, uint32_t rule,
	    const char **file, unsigned *line);
/* Approximate bytes the set holds (compiled patterns, JIT code, rules). */
size_t	 rules_set_memory(const struct rules_set *set);
/* required_score from the rule files; false if none was given. */
bool	 rules_required_score(const struct rules_set *set, double *score);
/* One rule, as rules_info() describes it (valid while the set lives). */
struct rules_info {
	const char	*name;
	enum rules_type	 type;
	double		 score;		/* from the active score set */
	const char	*pattern;	/* as written, or NULL (meta, exists:) */
	unsigned	 uses;		/* meta: 1u << type of every non-meta
					   rule it uses, transitively */
	bool		 sub;		/* __NAME: never scored */
	bool		 disabled;	/* score 0, no action: not evaluated */
	bool		 incomplete;	/* see rules_incomplete() */
	bool		 blocked;	/* a meta that never runs */
	bool		 multiple;	/* tflags multiple */
	bool		 prefiltered;	/* held by the multi-pattern prefilter */
};
int	 rules_info(const struct rules_set *set, uint32_t rule,
	    struct rules_info *info);
/*
 * The rules meta RULE uses directly, each once, into OUT (at most MAX);
 * returns how many there are (0 for a rule that is not a meta).  Names
 * no rule defines are not in it (they make the meta incomplete).
 */
size_t	 rules_meta_deps(const struct rules_set *set, uint32_t rule,
	    uint32_t *out, size_t max);
/* "header", "body", ... */
const char *rules_type_name(enum rules_type type);
const char *rules_stage_name(enum rules_stage stage);
const char *rules_action_name(enum rules_action action);
/*
 * True if the rule is a meta whose value depends on rules the engine
 * does not evaluate (eval: rules, rules of absent plugins, undefined
 * names): its result may differ from SpamAssassin's.
 */
bool	 rules_incomplete(const struct rules_set *set, uint32_t rule);

/*
 * SpamAssassin settings the engine does not interpret but keeps for its
 * caller, in file order: util_rb_tld, util_rb_2tld, util_rb_3tld and
 * redirector_pattern (the message model's URI policy),
 * originating_ip_headers (the relays; clear_originating_ip_headers is
 * kept as an empty value of it, in its place).  Stores up to MAX
 * values (valid while the set lives) and returns how many there are.
 */
size_t	 rules_settings(const struct rules_set *set, const char *key,
	    const char **values, size_t max);

/*
 * Per-transaction state, for one thread at a time.  rules_txn_new()
 * takes a reference on the set; rules_txn_reset() readies it for the
 * next transaction on the same set without allocating (after a reload,
 * free it and make a new one on the new set).  NULL on ENOMEM.
 */
struct rules_txn *rules_txn_new(struct rules_set *set);
void	 rules_txn_reset(struct rules_txn *txn);
void	 rules_txn_free(struct rules_txn *txn);
const struct rules_set *rules_txn_set(const struct rules_txn *txn);

/* The decision of one stage, or of the whole transaction so far. */
struct rules_verdict {
	enum rules_action	 action;	/* RULES_A_NONE: none */
	/* "550 5.7.1 ...", or NULL: use the configured default reply */
	const char		*reply;
	const char		*rule;		/* the deciding rule */
	enum rules_stage	 stage;		/* where it was decided */
};

/*
 * Evaluate the rules of STAGE (and of earlier stages not yet evaluated)
 * against IN.  At RCPT, rcptto rules see in->rcpt; a reject or tempfail
 * found there refuses this recipient only and is returned in *out but is
 * not kept as the transaction's verdict.  Returns 0, or -1 if the stage
 * is out of order (already evaluated) or an allocation failed.  *out (if
 * not NULL) receives the verdict of this call.
 */
int	 rules_eval(struct rules_txn *txn, enum rules_stage stage,
	    const struct rules_input *in, struct rules_verdict *out);

/* One rule that hit. */
struct rules_hit {
	uint32_t		 rule;
	const char		*name;
	enum rules_type		 type;
	enum rules_stage	 stage;
	unsigned		 count;		/* hits ("tflags multiple") */
	double			 value;		/* meta value, else count */
	double			 score;		/* added to the total */
	enum rules_action	 action;	/* the rule's action, if any */
	bool			 shadow;	/* action and score not applied */
	bool			 sub;		/* __SUBRULE: never scored */
	size_t			 match_len;
	char			 match[RULES_MATCH_MAX + 1]; /* first match */
};

/*
 * Hits in the order they happened (sub-rules and shadow hits included,
 * flagged); valid until the next rules_eval(), reset or free.
 */
const struct rules_hit *rules_hits(const struct rules_txn *txn, size_t *n);
/* Sum of the scores of the non-shadow hits. */
double	 rules_score(const struct rules_txn *txn);
/* Sum of the scores the shadow hits would have added. */
double	 rules_shadow_score(const struct rules_txn *txn);
/* The transaction's decisive action (first reject/tempfail/...). */
void	 rules_verdict(const struct rules_txn *txn, struct rules_verdict *v);

/*
 * Rules whose match stopped at the match, depth or JIT stack limit (or
 * another matching error) in this transaction: counted as no match.
 * first is true only the first time that rule hit a limit in this set,
 * so the caller logs each such rule once.
 */
struct rules_limit {
	uint32_t	 rule;
	const char	*name;
	int		 error;		/* pcre2 error code */
	bool		 first;
};
const struct rules_limit *rules_limits(const struct rules_txn *txn,
	    size_t *n);

/*
 * Profiling, for benchmarks: with it on, the time spent on each rule is
 * added up (across rules_txn_reset()) in an array indexed like
 * rules_name(), plus one more element (index rules_count()): the time
 * the multi-pattern prefilter spent scanning texts, and joining lines.
 * Costs two clock reads per rule.
 */
int	 rules_txn_profile(struct rules_txn *txn, bool on);
const uint64_t *rules_profile(const struct rules_txn *txn);

/*
 * Self-tests: every "test NAME ok|fail STRING" line.  The string is
 * matched against the rule's pattern alone (for header rules, as the
 * header's value; !~ inverts).  Tests of rules that are not regex rules
 * are skipped.  Each failure is reported through REPORT as
 * "file:line: message".  Returns the number of failures; *ran and
 * *skipped (may be NULL) receive counts.
 */
size_t	 rules_selftest(const struct rules_set *set,
	    void (*report)(void *arg, const char *msg), void *arg,
	    size_t *ran, size_t *skipped);

/*
 * SpamAssassin's rendered body (Message::get_body_text_array_common),
 * to be split with rules_split_lines() into rules_input.body.  SUBJECT
 * is the decoded value of the last Subject field (NULL or empty: none).
 * PARTS are all leaf MIME parts in order: the rendered text (UTF-8, HTML
 * rendered) of text/plain and text/html parts, ptr NULL for the others
 * (they still separate paragraphs, as in SpamAssassin).  Each part is
 * cut at 50,000 bytes (body_part_scan_size); parts are joined by "\n";
 * a run of white space holding two newlines becomes a paragraph break,
 * any other run one space (Unicode white space included); the Subject
 * and "\n" come first.  Returns a malloc'ed buffer of *len bytes, or
 * NULL when memory runs out.
 */
char	*rules_body_text(const struct rules_text *subject,
	    const struct rules_text *parts, size_t nparts, size_t *len);

/*
 * Helpers for building rules_input the way SpamAssassin does.  Both
 * return the number of pieces written to out (at most max), and store
 * the number of pieces needed in *needed.
 */
/* Message::split_into_array_of_short_lines (body): lines <= 2048 B. */
size_t	 rules_split_lines(struct rules_text text, struct rules_text *out,
	    size_t max, size_t *needed);
/* Message::split_into_array_of_short_paragraphs (rawbody). */
size_t	 rules_split_paragraphs(struct rules_text text,
	    struct rules_text *out, size_t max, size_t *needed);

#endif /* GATEHOUSE_RULES_H */
