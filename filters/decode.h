/*
 * decode.h: transfer decodings (base64, quoted-printable) and UTF-8
 * helpers for the message model, each matching SpamAssassin's
 * Mail::SpamAssassin::Util on malformed input as well as on good input.
 */
#ifndef GH_DECODE_H
#define GH_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msgbuf.h"

/* Value of a base64 character (RFC 4648 alphabet), or -1. */
int	b64__value(unsigned char c);

/* Base64-decode IN into OUT, tolerating junk like SpamAssassin. */
void	b64__decode(const char *in, size_t n, struct mbuf *out);

/*
 * Quoted-printable-decode IN into OUT (trailing white space on lines
 * dropped, soft line breaks removed, =XX in either case decoded).
 * With Q (RFC 2047 "Q"), '_' stands for a space.
 */
void	qp__decode(const char *in, size_t n, bool q, struct mbuf *out);

/* Length of the valid UTF-8 sequence at P (strict: no surrogates, no
 * overlong forms, nothing past U+10FFFF), or 0; its code point in *CP. */
size_t	utf8__char(const unsigned char *p, size_t n, uint32_t *cp);

/* True if all of P is valid (strict) UTF-8. */
bool	utf8__valid(const char *p, size_t n);

/* Number of bytes >= 0x80 in P. */
size_t	utf8__count_8bit(const char *p, size_t n);

#endif /* GH_DECODE_H */
