/*
 * rfc2047.h: header field values as SpamAssassin's header rules see them:
 * unfolded, trimmed, RFC 2047 encoded words decoded, all in UTF-8.
 */
#ifndef GH_RFC2047_H
#define GH_RFC2047_H

#include <stddef.h>

/*
 * Decode the value RAW (RAWLEN bytes after the colon, folding kept) of
 * the field named NAME.  Returns a malloc'd NUL-terminated string, its
 * length in *OUTLEN; NULL on ENOMEM.
 */
char	*rfc2047__decode_field(const char *name, size_t nlen, const char *raw,
	    size_t rawlen, size_t *outlen);

#endif /* GH_RFC2047_H */
