/*
 * uri.h: the links of a message as SpamAssassin's "uri" rules see them:
 * found in the rendered text (Thunderbird-like recognition, its
 * PerMsgStatus::_tbirdurire) and in HTML tags, then canonicalised
 * (Util::uri_list_canonicalize), de-duplicated.
 */
#ifndef GH_URI_H
#define GH_URI_H

#include <stdbool.h>
#include <stddef.h>

#include "msgbuf.h"

struct gh_uri_policy;

/* A set of strings, insertion-ordered. */
struct uset {
	char	**s;
	size_t	 *len;
	size_t	  n, cap;
	size_t	 *tab;		/* open addressing, index + 1 */
	size_t	  tabsize;
	int	  err;
};

/* Add S (N bytes, copied) unless present; true if added. */
bool	uset__add(struct uset *, const char *s, size_t n);
/* True if S is in the set. */
bool	uset__has(const struct uset *, const char *s, size_t n);
void	uset__free(struct uset *);

/*
 * Find the links in one line of rendered body text and add their
 * canonical forms to OUT (SEEN: raw links already looked at).
 */
void	uri__from_text(const struct gh_uri_policy *, const char *line,
	    size_t n, struct uset *seen, struct uset *out);

/* Add the canonical forms of a link found in HTML to OUT (FLAGGED: the
 * HTML was held as characters). */
void	uri__from_html(const struct gh_uri_policy *, const char *uri,
	    size_t n, bool flagged, struct uset *out);

/* The process-wide default policy (any alphabetic TLD, no redirectors). */
const struct gh_uri_policy *uri__default_policy(void);

#endif /* GH_URI_H */
