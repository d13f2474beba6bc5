/*
 * html.h: HTML reduced to text, and the links found in its tags, the way
 * SpamAssassin 4 does it (Mail::SpamAssassin::HTML on HTML::Parser 3.81).
 */
#ifndef GH_HTML_H
#define GH_HTML_H

#include <stdbool.h>
#include <stddef.h>

#include "msgbuf.h"

struct html_out {
	struct mbuf	 text;		/* rendered text, UTF-8 */
	bool		 flagged;	/* Perl would hold it as characters */
	struct mbuf	 uris;		/* the links: each a '1' (characters)
					 * or '0', its length (a size_t, as
					 * bytes), its bytes (NULs may be
					 * among them) */
	size_t		 nuris;
	int		 err;		/* ENOMEM */
};

/*
 * Render IN (N bytes of UTF-8; FLAGGED: Perl holds it as characters)
 * into OUT.  Script and style contents are dropped, entities decoded,
 * block elements break lines and paragraphs.  Never fails except on
 * ENOMEM (OUT->err); any input renders to something.
 */
void	html__render(const char *in, size_t n, bool flagged,
	    struct html_out *out);

/* Free what OUT holds. */
void	html__free(struct html_out *out);

/*
 * Resolve the link R against the base B as SpamAssassin's target_uri
 * does (RFC 3986 section 5.2, loosely); appended to OUT.
 */
void	html__target_uri(const char *b, size_t bl, const char *r, size_t rl,
	    struct mbuf *out);

#endif /* GH_HTML_H */
