/*
 * message.c: one message being received, or received.
 *
 * Owns: the spool with all the message's bytes, a copy of the header
 * section (so header fields are plain memory whatever the spool does),
 * and the array of header fields, parsed incrementally: the parser is
 * resumable, any chunking of the input gives the same fields.
 *
 * Invariants:
 *  - hbuf holds bytes [0 .. hlen) of the message, all of them header
 *    section; once headers_done, hlen == body_offset and hbuf no longer
 *    moves, so the fields' pointers are stable;
 *  - every field's pointers point into hbuf; when hbuf moves they are
 *    rebased at once;
 *  - the caps (size, header bytes, header count) are checked before the
 *    bytes are stored.
 *
 * Failures: the first failure (a cap, ENOMEM, a spool I/O error) is
 * remembered and returned by every later feed; the bytes and fields held
 * so far stay readable.  Nothing aborts on input.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "message.h"
#include "message_int.h"
#include "spool.h"

#define DEF_MEM_MAX		(1024 * 1024)
#define DEF_MAX_SIZE		(64ULL * 1024 * 1024)
#define DEF_MAX_HEADER_BYTES	(256 * 1024)
#define DEF_MAX_HEADERS		1000
#define DEF_MIME_MAX_DEPTH	20
#define DEF_MIME_MAX_PARTS	1000
#define DEF_MIME_MAX_DECODED	(32 * 1024 * 1024)

#define NO_FIELD	SIZE_MAX

/* Fill the zero fields of L with the defaults. */
static void
limits_defaults(struct gh_msg_limits *l)
{
	if (l->mem_max == 0)
		l->mem_max = DEF_MEM_MAX;
	if (l->max_size == 0)
		l->max_size = DEF_MAX_SIZE;
	if (l->max_header_bytes == 0)
		l->max_header_bytes = DEF_MAX_HEADER_BYTES;
	if (l->max_headers == 0)
		l->max_headers = DEF_MAX_HEADERS;
	if (l->mime_max_depth == 0)
		l->mime_max_depth = DEF_MIME_MAX_DEPTH;
	if (l->mime_max_parts == 0)
		l->mime_max_parts = DEF_MIME_MAX_PARTS;
	if (l->mime_max_decoded == 0)
		l->mime_max_decoded = DEF_MIME_MAX_DECODED;
}

/* Create an empty message. */
struct gh_message *
gh_message_new(const struct gh_msg_limits *limits)
{
	struct gh_message	*m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	if (limits != NULL)
		m->limits = *limits;
	limits_defaults(&m->limits);
	/* The caller's tmpdir string need not outlive this call. */
	m->limits.tmpdir = NULL;
	m->spool = gh_spool_new(m->limits.mem_max,
	    limits != NULL ? limits->tmpdir : NULL);
	if (m->spool == NULL) {
		free(m);
		errno = ENOMEM;
		return NULL;
	}
	gh_spool_set_max(m->spool, m->limits.max_size);
	m->open_start = NO_FIELD;
	return m;
}

/* Remember errno E as the message's failure; return -1. */
static int
fail(struct gh_message *m, int e)
{
	if (m->err == 0)
		m->err = e;
	errno = m->err;
	return -1;
}

/* Point every field at the current hbuf after it moved. */
static void
rebase(struct gh_message *m)
{
	size_t	i;

	for (i = 0; i < m->nhdr; i++) {
		m->hdr[i].h.name = m->hbuf + m->hdr[i].h.offset;
		m->hdr[i].h.raw = m->hbuf + m->hdr[i].raw_off;
	}
}

/* Append N header bytes to hbuf, within max_header_bytes. */
static int
hbuf_append(struct gh_message *m, const char *p, size_t n)
{
	size_t	 cap;
	char	*nb;

	if (n > m->limits.max_header_bytes - m->hlen)
		return fail(m, EMSGSIZE);
	if (m->hlen + n > m->hcap) {
		cap = m->hcap ? m->hcap : 1024;
		while (cap < m->hlen + n)
			cap *= 2;
		if (cap > m->limits.max_header_bytes)
			cap = m->limits.max_header_bytes;
		if ((nb = realloc(m->hbuf, cap)) == NULL)
			return fail(m, ENOMEM);
		m->hbuf = nb;
		m->hcap = cap;
		rebase(m);
	}
	memcpy(m->hbuf + m->hlen, p, n);
	m->hlen += n;
	return 0;
}

/* True if hbuf[S .. E) is an mbox "From " separator line. */
static bool
is_mbox_from(const char *s, size_t n)
{
	/* SpamAssassin's /^From\s+(?!:)/, which reduces to this. */
	if (n < 5 || memcmp(s, "From", 4) != 0)
		return false;
	if (strchr(" \t\r\n\f\v", s[4]) == NULL || s[4] == '\0')
		return false;
	return n == 5 || s[5] != ':';
}

/* Add the field hbuf[S .. E) to the array. */
static int
add_field(struct gh_message *m, size_t s, size_t e, bool malformed)
{
	struct gh_hdr	*h;
	const char	*p = m->hbuf + s, *colon;
	size_t		 cend = e, nlen;

	if (m->nhdr >= m->limits.max_headers)
		return fail(m, E2BIG);
	if (m->nhdr == m->hdrcap) {
		size_t		 cap = m->hdrcap ? m->hdrcap * 2 : 32;
		struct gh_hdr	*nh;

		if ((nh = reallocarray(m->hdr, cap, sizeof(*nh))) == NULL)
			return fail(m, ENOMEM);
		m->hdr = nh;
		m->hdrcap = cap;
	}
	if (cend > s && m->hbuf[cend - 1] == '\n')
		cend--;
	if (cend > s && m->hbuf[cend - 1] == '\r')
		cend--;
	if (!malformed && s == 0 && is_mbox_from(p, cend - s))
		malformed = true;
	colon = malformed ? NULL : memchr(p, ':', cend - s);
	nlen = 0;
	if (colon != NULL) {
		nlen = (size_t)(colon - p);
		while (nlen > 0 && (p[nlen - 1] == ' ' || p[nlen - 1] == '\t'))
			nlen--;
	}
	h = &m->hdr[m->nhdr++];
	h->h.name = p;
	h->h.offset = s;
	h->h.len = e - s;
	if (colon == NULL || nlen == 0) {
		h->h.name_len = 0;
		h->raw_off = s;
	} else {
		h->h.name_len = nlen;
		h->raw_off = (size_t)(colon + 1 - m->hbuf);
	}
	h->h.raw = m->hbuf + h->raw_off;
	h->h.raw_len = cend - h->raw_off;
	return 0;
}

/* Close the open field, if any, at E (the start of the next line). */
static int
close_field(struct gh_message *m, size_t e)
{
	size_t	s = m->open_start;

	if (s == NO_FIELD)
		return 0;
	m->open_start = NO_FIELD;
	return add_field(m, s, e, m->open_malformed);
}

/* Take the line hbuf[S .. E) (E past its LF, or the end of input). */
static int
take_line(struct gh_message *m, size_t s, size_t e)
{
	size_t	cend = e;
	char	c;

	if (cend > s && m->hbuf[cend - 1] == '\n')
		cend--;
	if (cend > s && m->hbuf[cend - 1] == '\r')
		cend--;
	if (cend == s && e > s) {
		/* The empty line: RFC 5322 section 2.1. */
		if (close_field(m, s) == -1)
			return -1;
		m->headers_done = true;
		m->body_offset = e;
		return 0;
	}
	c = m->hbuf[s];
	if (c == ' ' || c == '\t') {
		if (m->open_start == NO_FIELD) {
			/* Continuation lines before any field. */
			m->open_start = s;
			m->open_malformed = true;
		}
		return 0;
	}
	if (close_field(m, s) == -1)
		return -1;
	m->open_start = s;
	m->open_malformed = false;
	return 0;
}

/* Parse the header bytes in P (the part of a chunk before the body). */
static int
parse_headers(struct gh_message *m, const char *p, size_t n)
{
	const char	*lf;
	size_t		 k, start = 0;

	while (start < n && !m->headers_done) {
		lf = memchr(p + start, '\n', n - start);
		k = lf != NULL ? (size_t)(lf - (p + start)) + 1 : n - start;
		if (hbuf_append(m, p + start, k) == -1)
			return -1;
		start += k;
		if (lf != NULL) {
			if (take_line(m, m->line_start, m->hlen) == -1)
				return -1;
			m->line_start = m->hlen;
		}
	}
	return 0;
}

/* Feed LEN more message bytes. */
int
gh_message_feed(struct gh_message *m, const char *data, size_t len)
{
	if (m->err)
		return fail(m, m->err);
	if (m->ended)
		return fail(m, EINVAL);
	if (gh_spool_append(m->spool, data, len) == -1)
		return fail(m, errno);
	if (!m->headers_done && parse_headers(m, data, len) == -1)
		return -1;
	return 0;
}

/* No more bytes: finish the header section if it never ended. */
int
gh_message_end(struct gh_message *m)
{
	if (m->err)
		return fail(m, m->err);
	if (m->ended)
		return 0;
	m->ended = true;
	if (m->headers_done)
		return 0;
	if (m->line_start < m->hlen) {
		/* An unterminated last line is a line. */
		if (take_line(m, m->line_start, m->hlen) == -1)
			return -1;
		m->line_start = m->hlen;
	}
	if (!m->headers_done) {
		if (close_field(m, m->hlen) == -1)
			return -1;
		m->headers_done = true;
		m->body_offset = m->hlen;
	}
	return 0;
}

/* The sticky errno, or 0. */
int
gh_message_error(const struct gh_message *m)
{
	return m->err;
}

/* True once the header section is complete. */
bool
gh_message_headers_done(const struct gh_message *m)
{
	return m->headers_done;
}

/* Number of fields parsed so far. */
size_t
gh_message_nheaders(const struct gh_message *m)
{
	return m->nhdr;
}

/* Field I, or NULL past the end. */
const struct gh_header *
gh_message_header(const struct gh_message *m, size_t i)
{
	return i < m->nhdr ? &m->hdr[i].h : NULL;
}

/* True if field H is named NAME (NLEN bytes), ignoring case. */
static bool
name_is(const struct gh_header *h, const char *name, size_t nlen)
{
	return h->name_len == nlen && nlen > 0 &&
	    strncasecmp(h->name, name, nlen) == 0;
}

/* The NTH field named NAME, or NULL. */
const struct gh_header *
gh_message_find(const struct gh_message *m, const char *name, unsigned nth)
{
	size_t	i, nlen = strlen(name);

	for (i = 0; i < m->nhdr; i++) {
		if (name_is(&m->hdr[i].h, name, nlen) && nth-- == 0)
			return &m->hdr[i].h;
	}
	return NULL;
}

/* Number of fields named NAME. */
size_t
gh_message_count(const struct gh_message *m, const char *name)
{
	size_t	i, n = 0, nlen = strlen(name);

	for (i = 0; i < m->nhdr; i++)
		if (name_is(&m->hdr[i].h, name, nlen))
			n++;
	return n;
}

/* The unfolded value of H, malloc'd. */
char *
gh_header_unfold(const struct gh_header *h, size_t *len)
{
	const char	*p = h->raw, *end = h->raw + h->raw_len;
	char		*out, *o;

	if ((out = malloc(h->raw_len + 1)) == NULL)
		return NULL;
	o = out;
	for (; p < end; p++) {
		if (*p == '\r' || *p == '\n')
			continue;
		if (o == out && (*p == ' ' || *p == '\t'))
			continue;
		*o++ = *p;
	}
	*o = '\0';
	if (len != NULL)
		*len = (size_t)(o - out);
	return out;
}

/* The header section bytes. */
const char *
gh_message_header_bytes(const struct gh_message *m, size_t *len)
{
	if (len != NULL)
		*len = m->hlen;
	return m->hbuf != NULL ? m->hbuf : "";
}

/* Offset of the first body byte. */
uint64_t
gh_message_body_offset(const struct gh_message *m)
{
	return m->headers_done ? m->body_offset : gh_spool_size(m->spool);
}

/* Bytes fed so far. */
uint64_t
gh_message_size(const struct gh_message *m)
{
	return gh_spool_size(m->spool);
}

/* Read message bytes at OFF. */
ssize_t
gh_message_pread(const struct gh_message *m, void *buf, size_t n,
    uint64_t off)
{
	return gh_spool_pread(m->spool, buf, n, off);
}

/* The message's spool. */
const struct gh_spool *
gh_message_spool(const struct gh_message *m)
{
	return m->spool;
}

/* Free the message. */
void
gh_message_free(struct gh_message *m)
{
	if (m == NULL)
		return;
	gh_message__free_derived(m);
	gh_spool_free(m->spool);
	free(m->hbuf);
	free(m->hdr);
	free(m);
}
