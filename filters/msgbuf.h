/*
 * msgbuf.h: a growable byte buffer with a hard maximum, private to the
 * message model (message*.c, mime.c, html.c, uri.c, charset.c, ...).
 *
 * Invariant: p[0 .. len) are the bytes; p[len] is a NUL when p != NULL.
 * Failure: an allocation failure or passing max sets err (ENOMEM or
 * EFBIG) and later appends do nothing, so callers check once at the end.
 */
#ifndef GH_MSGBUF_H
#define GH_MSGBUF_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct mbuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
	size_t	 max;		/* 0: SIZE_MAX / 2 */
	int	 err;
};

/* Make room for N more bytes and the NUL; 0 or -1 (err set). */
static inline int
mbuf_reserve(struct mbuf *b, size_t n)
{
	size_t	 max = b->max ? b->max : SIZE_MAX / 2, cap;
	char	*np;

	if (b->err)
		return -1;
	if (n > max || b->len > max - n) {
		b->err = EFBIG;
		return -1;
	}
	if (b->len + n + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < b->len + n + 1)
		cap *= 2;
	if ((np = realloc(b->p, cap)) == NULL) {
		b->err = ENOMEM;
		return -1;
	}
	np[b->len] = '\0';	/* the invariant, for a first block too */
	b->p = np;
	b->cap = cap;
	return 0;
}

/* Append N bytes of S. */
static inline void
mbuf_add(struct mbuf *b, const void *s, size_t n)
{
	if (mbuf_reserve(b, n) == -1)
		return;
	if (n > 0)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* Append one byte. */
static inline void
mbuf_addc(struct mbuf *b, char c)
{
	if (b->len + 2 <= b->cap && !b->err) {
		b->p[b->len++] = c;
		b->p[b->len] = '\0';
		return;
	}
	mbuf_add(b, &c, 1);
}

/* Append a NUL-terminated string. */
static inline void
mbuf_adds(struct mbuf *b, const char *s)
{
	mbuf_add(b, s, strlen(s));
}

/* Append code point CP as UTF-8 (CP must be below 0x110000). */
static inline void
mbuf_addcp(struct mbuf *b, uint32_t cp)
{
	char	u[4];

	if (cp < 0x80) {
		mbuf_addc(b, (char)cp);
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		mbuf_add(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		mbuf_add(b, u, 3);
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		mbuf_add(b, u, 4);
	}
}

/* Empty the buffer, keeping its memory. */
static inline void
mbuf_reset(struct mbuf *b)
{
	b->len = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

/* Hand the bytes over (malloc'd, NUL-terminated, never NULL unless ENOMEM). */
static inline char *
mbuf_take(struct mbuf *b, size_t *len)
{
	char	*p;

	if (b->p == NULL && mbuf_reserve(b, 0) == -1)
		return NULL;
	p = b->p;
	if (len != NULL)
		*len = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

/* Release the memory. */
static inline void
mbuf_free(struct mbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

#endif /* GH_MSGBUF_H */
