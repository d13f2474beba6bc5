/*
 * smtp_parse.h — pure, resumable SMTP parsing: command lines, paths and
 * their ESMTP parameters, the DATA reader (dot-unstuffing, end-of-data
 * detection, bare CR/LF/NUL, line and size limits), dot-stuffing for
 * output, reply lines, xtext.  No sockets, no event loop, no allocation:
 * a fuzz target or a unit test calls these on plain bytes.
 */
#ifndef GH_SMTP_PARSE_H
#define GH_SMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "filters/util.h"

enum smtp_verb {
	SMTP_UNKNOWN, SMTP_HELO, SMTP_EHLO, SMTP_MAIL, SMTP_RCPT, SMTP_DATA,
	SMTP_RSET, SMTP_NOOP, SMTP_QUIT, SMTP_VRFY, SMTP_EXPN, SMTP_HELP,
	SMTP_STARTTLS, SMTP_AUTH, SMTP_BDAT, SMTP_XFORWARD, SMTP_XCLIENT,
	SMTP_ETRN, SMTP_NVERBS
};

enum smtp_parse_err {
	SMTP_OK = 0,
	SMTP_E_BADCHAR,		/* CR, LF or NUL inside the line */
	SMTP_E_SYNTAX,		/* malformed arguments */
	SMTP_E_TOOLONG,		/* a part exceeds its limit */
	SMTP_E_NOTALLOWED,	/* e.g. <> as a recipient */
};

/* A parsed command line (views into the line). */
struct smtp_cmd {
	enum smtp_verb	 verb;
	struct gh_str	 name;		/* the verb as sent */
	struct gh_str	 args;		/* after the verb (and FROM:/TO:) */
};

/* Parse a command line (without its CRLF). */
enum smtp_parse_err smtp_cmd_parse(const char *line, size_t len,
		    struct smtp_cmd *);
const char	*smtp_verb_name(enum smtp_verb);

#define SMTP_PATH_MAX	512	/* address bytes, NUL included */
#define SMTP_MAX_PARAMS	16

struct smtp_param {
	struct gh_str	 key;
	struct gh_str	 value;		/* p NULL when there is no '=' */
};

/* A MAIL FROM or RCPT TO argument: the mailbox and its parameters. */
struct smtp_path {
	char			 addr[SMTP_PATH_MAX];	/* "" = null path */
	struct smtp_param	 params[SMTP_MAX_PARAMS];
	size_t			 nparams;
};

/*
 * Parse "<addr> KEY=VALUE ..." (RFC 5321 4.1.2).  A source route is
 * dropped; a missing pair of angle brackets is tolerated; the null path
 * is allowed only when `null_ok`.  The address is checked for control
 * characters, spaces outside quotes and length.
 */
enum smtp_parse_err smtp_path_parse(const char *s, size_t len, bool null_ok,
		    struct smtp_path *);
/* The parameter named `key` (case-insensitive), or NULL. */
const struct smtp_param *smtp_path_param(const struct smtp_path *,
		    const char *key);
/* Parse a HELO/EHLO argument: one word of printable characters. */
enum smtp_parse_err smtp_helo_parse(const char *s, size_t len,
		    struct gh_str *name);

/*
 * The DATA reader.  Feed it the bytes that follow the 354 reply, in any
 * chunking; it hands canonical, un-dot-stuffed CRLF lines to `sink` and
 * stops right after the end-of-data line, CRLF "." CRLF (the CRLF before
 * the dot ends the last line of the message; the DATA command's CRLF
 * counts as the first one).  Nothing else ends the data: a dot line after
 * a bare CR or bare LF is content (RFC 5321 4.1.1.4, SMTP smuggling).
 *
 * Bare CR, bare LF and NUL set a flag; with `normalize` each bare line
 * end becomes CRLF (a dot after it is kept as content) and NUL is
 * dropped, otherwise the bytes are still stored but the message must be
 * refused.  A line longer than `max_line` (CRLF included, as sent) sets
 * SMTP_DATA_LONGLINE; more than `max_size` canonical bytes sets
 * SMTP_DATA_TOOBIG and stops calling the sink.  A flagged message is
 * still read to its end so that the session stays in step.
 */
enum {
	SMTP_DATA_BARECR	= 1 << 0,
	SMTP_DATA_BARELF	= 1 << 1,
	SMTP_DATA_NUL		= 1 << 2,
	SMTP_DATA_LONGLINE	= 1 << 3,
	SMTP_DATA_TOOBIG	= 1 << 4,
	SMTP_DATA_SINKFAIL	= 1 << 5,
};

struct smtp_data {
	/* settings */
	size_t		 max_line;
	uint64_t	 max_size;
	bool		 normalize;
	/* state */
	int		 st;
	size_t		 linelen;
	uint64_t	 size;		/* canonical bytes handed to the sink */
	unsigned	 flags;
	bool		 done;
};

typedef int	(*smtp_sink_fn)(void *ctx, const char *p, size_t n);

enum smtp_data_res {
	SMTP_DATA_MORE,		/* all input used, no end yet */
	SMTP_DATA_END,		/* end of data seen; *used bytes taken */
};

void	 smtp_data_init(struct smtp_data *, size_t max_line, uint64_t max_size,
	    bool normalize);
enum smtp_data_res smtp_data_feed(struct smtp_data *, const char *in,
	    size_t len, size_t *used, smtp_sink_fn sink, void *ctx);

/*
 * Dot-stuffing for output (RFC 5321 4.5.2): a '.' at the start of a line
 * is doubled.  `bol` carries "at the start of a line" across calls; start
 * with true.  The terminator is written by the caller.
 */
int	 smtp_dotstuff(bool *bol, const char *in, size_t len,
	    smtp_sink_fn sink, void *ctx);

/*
 * One reply line "ddd-text" / "ddd text" / "ddd".  Returns 0 with the
 * code, whether it is the last line, and the text; -1 when malformed.
 */
int	 smtp_reply_line(const char *line, size_t len, int *code, bool *last,
	    struct gh_str *text);

/* xtext (RFC 3461 4): decode into out (NUL-terminated); -1 if invalid
   or too long. */
int	 smtp_xtext_decode(const char *in, size_t len, char *out,
	    size_t outsz);
/* xtext encode; -1 if it does not fit. */
int	 smtp_xtext_encode(const char *in, size_t len, char *out,
	    size_t outsz);

/*
 * SMTP AUTH (RFC 4954) and SASL (RFC 4422).  Mechanism names are 1 to
 * 20 of A-Z 0-9 - _ (RFC 4422 3.1), compared without case.
 */
#define SMTP_SASL_MECH_MAX	20

/* Normalise the argument list of an EHLO AUTH keyword ("PLAIN LOGIN")
   into `out`: the valid names upper-cased, one space between; invalid
   words are dropped, and so is what does not fit.  Returns the count. */
size_t	 smtp_auth_mechs(const char *in, size_t len, char *out,
	    size_t outsz);
/* Tell whether mechanism `m` is in a list made by smtp_auth_mechs(). */
bool	 smtp_auth_mech_in(const char *list, const char *m, size_t mlen);
/* "MECH [initial-response]": the mechanism (valid name) and the initial
   response (len 0 when absent); SMTP_E_SYNTAX otherwise. */
enum smtp_parse_err smtp_auth_parse(const char *args, size_t len,
	    struct gh_str *mech, struct gh_str *initial);
/* Decode base64 (RFC 4648, padding required) into out, NUL-terminated;
   -1 if invalid or too long.  *outlen gets the decoded length. */
int	 smtp_b64_decode(const char *in, size_t len, char *out, size_t outsz,
	    size_t *outlen);
/* The login a SASL client response names, for the log and the chain:
   PLAIN authcid, LOGIN's first response, CRAM-MD5's user, SCRAM's n=.
   `step` is the response's index (0: the initial or first response).
   0 with `user` set, 1 when this response names no user, -1 when it
   is malformed.  Never keeps a password anywhere. */
int	 smtp_sasl_user(const char *mech, unsigned step, const char *b64,
	    size_t len, char *user, size_t usersz);

#endif
