/*
 * charset.h: text in a declared charset to UTF-8, the way SpamAssassin's
 * Message::Node::_normalize does it (normalize_charset on, no
 * Encode::Detect).
 */
#ifndef GH_CHARSET_H
#define GH_CHARSET_H

#include <stdbool.h>
#include <stddef.h>

#include "msgbuf.h"

/*
 * Append IN (N bytes in charset CS of CSLEN bytes; CS NULL: us-ascii) to
 * OUT as UTF-8.  *DECODED tells whether SpamAssassin would hold the
 * result as characters (true) or as the original bytes, unchanged (false:
 * only for text without 8-bit bytes).  INSIST: use the declared charset
 * with replacement characters for bad input, no UTF-8 guess first (as for
 * RFC 2047 encoded words).  Never fails except on ENOMEM (OUT's err).
 */
void	cs__to_utf8(const char *in, size_t n, const char *cs, size_t cslen,
	    bool insist, struct mbuf *out, bool *decoded);

/* Append IN as Windows-1252 (bytes 0x81 0x8d 0x8f 0x90 0x9d: U+FFFD). */
void	cs__win1252(const char *in, size_t n, struct mbuf *out);

#endif /* GH_CHARSET_H */
