/*
 * mime.h: the MIME structure of a message as SpamAssassin 4's
 * Mail::SpamAssassin::Message parses it: a tree walked once, kept as the
 * list of its leaves in document order, each with its type, charset,
 * transfer encoding and body lines.
 */
#ifndef GH_MIME_H
#define GH_MIME_H

#include <stdbool.h>
#include <stddef.h>

#include "msgbuf.h"

struct gh_msg_limits;

/* A body line: P[0 .. len), then a "\n" when ADDNL (a split long line). */
struct mime_line {
	const char	*p;
	size_t		 len;
	bool		 addnl;
};

/* A leaf of the MIME tree. */
struct mime_leaf {
	char		 type[128];	/* lower case, as parse_content_type */
	char		*charset;	/* NULL when not declared */
	char		*name;		/* file name, NULL if none */
	char		 cte[32];	/* lower-cased transfer encoding */
	struct mime_line *lines;
	size_t		 nlines;
	unsigned	 depth;
};

/* A header field of a MIME node: name and value (after the colon and
 * the white space that follows it), owned copies. */
struct mime_field {
	char		*name;
	size_t		 nlen;
	char		*value;
	size_t		 vlen;
};

/* The header fields of one node (message, multipart, leaf). */
struct mime_hdrs {
	struct mime_field *f;
	size_t		 n;
};

struct mime_tree {
	struct mime_leaf *leaves;
	size_t		 nleaves, leafcap;
	/* every node's fields, in SpamAssassin's find_parts order (the
	 * message first, then depth first), for mimeheader rules */
	struct mime_hdrs *nodes;
	size_t		 nnodes, nodecap;
	char		*subject;	/* decoded top-level Subject or NULL */
	size_t		 subject_len;
	size_t		 full_off;	/* past the mbox "From " line, if any */
	char		**bufs;		/* decoded sub-messages, owned */
	size_t		 nbufs, bufcap;
	size_t		 decoded;	/* bytes decoded so far (cap) */
	size_t		 max_decoded;
	unsigned	 max_depth, max_parts;
	bool		 truncated;	/* a cap was hit */
	int		 err;		/* ENOMEM */
};

/*
 * Parse MSG (LEN bytes, LF line ends) into T under the limits L.  Returns
 * 0, or -1 with errno ENOMEM (T then holds what was parsed and must still
 * be freed).  Malformed MIME is never an error.
 */
int	mime__parse(const char *msg, size_t len,
	    const struct gh_msg_limits *l, struct mime_tree *t);

/* SpamAssassin's Node::decode of leaf P, appended to OUT (within caps). */
void	mime__decode(struct mime_tree *t, const struct mime_leaf *p,
	    struct mbuf *out);

/* The effective type (text/html for *.htm(l) names). */
const char *mime__effective_type(const struct mime_leaf *p);

/* Free what T holds. */
void	mime__free(struct mime_tree *t);

#endif /* GH_MIME_H */
