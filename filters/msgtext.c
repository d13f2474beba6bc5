/*
 * msgtext.c: the texts that rules match, derived from a message on first
 * use and cached in it: "body", "rawbody", "full", "uri", and decoded
 * header values.
 *
 * They are built the way SpamAssassin 4 builds them, so that its rules
 * hit the same messages (Message::get_body_text_array_common,
 * get_decoded_body_text_array, split_into_array_of_short_lines and
 * _short_paragraphs; PerMsgStatus::get_uri_list):
 *
 *  - body: for every leaf part, a "\n" when text came before; text/plain
 *    and text/html parts (text/html also for *.htm(l) attachments) are
 *    decoded, converted to UTF-8 and, for HTML, rendered; each part is
 *    cut near 50,000 characters (body_part_scan_size); then runs of white
 *    space holding two line ends become one paragraph break, all other
 *    white space one space; the Subject goes first; lines longer than
 *    2048 bytes are split at a space.
 *  - rawbody: text and message parts transfer-decoded, no charset
 *    conversion, each cut near 500,000 bytes, in 2-4 KB chunks.
 *  - uri: links of the body lines (subject included) and of HTML tags.
 *
 * Known differences from SpamAssassin: see docs in html.c (invisible
 * text), uri.c (IDN hosts) and charset.c (charset names iconv and
 * Perl's Encode disagree on); "full" is given with LF line ends.
 *
 * Owns: struct gh_derived, hung on the message.  Only ENOMEM fails.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "charset.h"
#include "decode.h"
#include "html.h"
#include "message.h"
#include "message_int.h"
#include "mime.h"
#include "msgbuf.h"
#include "rfc2047.h"
#include "spool.h"
#include "uri.h"

#define MAX_BODY_LINE_LENGTH	2048
#define BODY_PART_SCAN_SIZE	50000
#define RAWBODY_PART_SCAN_SIZE	500000
#define MAX_HEADER_VALUE_LENGTH	8192

/* An array of texts over one buffer. */
struct textarr {
	struct mbuf	 buf;		/* texts, each followed by a NUL */
	size_t		*off, *len;
	size_t		 n, cap;
	struct gh_text	*t;		/* built when complete */
};

struct gh_derived {
	bool		 done;
	int		 err;
	char		*full;		/* LF line ends */
	size_t		 full_len;
	struct mime_tree tree;
	struct textarr	 body, raw, uris;
	struct gh_part	*parts;		/* gh_message_parts(), built once */
	struct gh_part_field *fields;
	struct mbuf	 pbuf;		/* their raw and decoded values */
	size_t		 nparts;
};

/* Append a text to A. */
static void
ta_add(struct textarr *a, const char *p, size_t n)
{
	if (a->n == a->cap) {
		size_t	 cap = a->cap ? a->cap * 2 : 64;
		size_t	*o = reallocarray(a->off, cap, sizeof(*o));

		if (o == NULL) {
			a->buf.err = ENOMEM;
			return;
		}
		a->off = o;
		if ((o = reallocarray(a->len, cap, sizeof(*o))) == NULL) {
			a->buf.err = ENOMEM;
			return;
		}
		a->len = o;
		a->cap = cap;
	}
	a->off[a->n] = a->buf.len;
	a->len[a->n] = n;
	mbuf_add(&a->buf, p, n);
	mbuf_addc(&a->buf, '\0');
	a->n++;
}

/* Build the gh_text array of A; -1 on ENOMEM. */
static int
ta_finish(struct textarr *a)
{
	size_t	i;

	if (a->buf.err)
		return -1;
	if ((a->t = calloc(a->n + 1, sizeof(*a->t))) == NULL)
		return -1;
	for (i = 0; i < a->n; i++) {
		a->t[i].p = a->buf.p + a->off[i];
		a->t[i].len = a->len[i];
	}
	return 0;
}

/* Free A. */
static void
ta_free(struct textarr *a)
{
	mbuf_free(&a->buf);
	free(a->off);
	free(a->len);
	free(a->t);
}

/* Free what was derived from M. */
void
gh_message__free_derived(struct gh_message *m)
{
	struct gh_derived	*d = m->derived;
	size_t			 i;

	if (d != NULL) {
		free(d->full);
		mime__free(&d->tree);
		ta_free(&d->body);
		ta_free(&d->raw);
		ta_free(&d->uris);
		free(d->parts);
		free(d->fields);
		mbuf_free(&d->pbuf);
		free(d);
		m->derived = NULL;
	}
	for (i = 0; i < m->hdec_n; i++)
		free(m->hdec[i]);
	free(m->hdec);
	free(m->hdec_len);
	m->hdec = NULL;
	m->hdec_len = NULL;
	m->hdec_n = 0;
}

/* Read the message with CRLF as LF into D->full. */
static int
load_full(const struct gh_message *m, struct gh_derived *d)
{
	struct mbuf	 b = { 0 };
	char		 chunk[65536];
	const char	*mem;
	size_t		 len, i, o;
	uint64_t	 off = 0;
	ssize_t		 r;

	if (mbuf_reserve(&b, (size_t)gh_message_size(m)) == -1)
		return -1;
	if ((mem = gh_spool_mem(m->spool, &len)) != NULL) {
		mbuf_add(&b, mem, len);
	} else {
		while ((r = gh_spool_pread(m->spool, chunk, sizeof(chunk),
		    off)) > 0) {
			mbuf_add(&b, chunk, (size_t)r);
			off += (uint64_t)r;
		}
		if (r == -1) {
			mbuf_free(&b);
			return -1;
		}
	}
	if (b.err) {
		mbuf_free(&b);
		errno = ENOMEM;
		return -1;
	}
	/* s/\r\n/\n/g in place, a run between CRs at a time */
	for (i = o = 0; i < b.len; ) {
		const char	*cr = memchr(b.p + i, '\r', b.len - i);
		size_t		 j = cr != NULL ? (size_t)(cr - b.p) : b.len;

		if (o != i)
			memmove(b.p + o, b.p + i, j - i);
		o += j - i;
		if ((i = j) >= b.len)
			break;
		if (i + 1 < b.len && b.p[i + 1] == '\n') {
			i++;		/* drop the CR; the LF follows */
			continue;
		}
		b.p[o++] = b.p[i++];
	}
	b.len = o;
	b.p[o] = '\0';
	d->full = mbuf_take(&b, &d->full_len);
	return 0;
}

/* Cut T (UTF-8, LEN bytes) near SCAN characters like SpamAssassin's
 * body_part_scan_size: after a "\n", else a " " within 1 KB, else hard. */
static size_t
scan_cut(const char *t, size_t len, size_t scan, bool chars, const char *seps)
{
	size_t	i, c, pos = 0;

	if (len <= scan)
		return len;	/* no more characters than bytes */
	/* the byte offset of character SCAN */
	if (chars) {
		for (i = 0, c = 0; i < len && c < scan; c++) {
			i++;
			while (i < len && ((unsigned char)t[i] & 0xc0) == 0x80)
				i++;
		}
		if (c < scan || i >= len)
			return len;
		pos = i;
	} else {
		if (len <= scan)
			return len;
		pos = scan;
	}
	for (; *seps != '\0'; seps++) {
		for (i = pos, c = 0; i < len && c <= 1024; c++) {
			if (t[i] == *seps)
				return i + 1;
			i++;
			while (chars && i < len &&
			    ((unsigned char)t[i] & 0xc0) == 0x80)
				i++;
		}
	}
	return pos;
}

/* Perl's \s at P for the squeeze: its length, or 0. */
static size_t
ws_len(const char *p, size_t n, bool unicode)
{
	uint32_t	cp;
	size_t		k;
	unsigned char	c = (unsigned char)*p;

	if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	    c == '\v')
		return 1;
	if (!unicode || c < 0x80)
		return 0;
	if ((k = utf8__char((const unsigned char *)p, n, &cp)) == 0)
		return 0;
	if (cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
	    (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
	    cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000)
		return k;
	return 0;
}

/* The white-space squeeze of get_body_text_array_common, into OUT. */
static void
squeeze(const char *t, size_t n, bool unicode, struct mbuf *out)
{
	size_t	i = 0, j, k, first, last, nl;

	while (i < n) {
		/* A run of ASCII that is neither white space nor NUL goes
		   as it is. */
		for (j = i; j < n && (unsigned char)t[j] < 0x80 &&
		    t[j] != '\0' && t[j] != ' ' && (t[j] < '\t' ||
		    t[j] > '\r'); j++)
			;
		if (j > i) {
			mbuf_add(out, t + i, j - i);
			i = j;
			continue;
		}
		if ((k = ws_len(t + i, n - i, unicode)) == 0) {
			/* tr/\x00/\n/ also turns NULs into line ends */
			mbuf_addc(out, t[i] == '\0' ? '\n' : t[i]);
			i++;
			continue;
		}
		/* a white-space run [i, j) */
		first = last = SIZE_MAX;
		nl = 0;
		for (j = i; j < n && (k = ws_len(t + j, n - j, unicode)) > 0;
		    j += k) {
			if (t[j] == '\n') {
				if (first == SIZE_MAX)
					first = j;
				last = j;
				nl++;
			}
		}
		if (nl >= 2) {
			/* s/\n+\s*\n+/\x00/ then s/\s+/ / around it */
			if (first > i)
				mbuf_addc(out, ' ');
			mbuf_addc(out, '\n');
			if (last + 1 < j)
				mbuf_addc(out, ' ');
		} else
			mbuf_addc(out, ' ');
		i = j;
	}
}

/* Latin-1 bytes of UTF-8 text whose code points are all below 256. */
static void
to_latin1(const char *t, size_t n, struct mbuf *out)
{
	size_t		i, k;
	uint32_t	cp;

	for (i = 0; i < n; ) {
		for (k = i; k < n && (unsigned char)t[k] < 0x80; k++)
			;
		if (k > i) {		/* ASCII is the same in Latin-1 */
			mbuf_add(out, t + i, k - i);
			i = k;
			continue;
		}
		k = utf8__char((const unsigned char *)t + i, n - i, &cp);
		if (k == 0 || cp > 0xff) {
			mbuf_addc(out, t[i++]);
			continue;
		}
		mbuf_addc(out, (char)cp);
		i += k;
	}
}

/* split_into_array_of_short_lines of S into A. */
static void
short_lines(const char *s, size_t n, struct textarr *a)
{
	size_t	i = 0, e, len, k;

	while (i < n) {
		const char	*nl = memchr(s + i, '\n', n - i);

		e = nl != NULL ? (size_t)(nl - s) + 1 : n;
		while (e - i > MAX_BODY_LINE_LENGTH) {
			/* rindex($line, ' ', 2048) + 1, or 2048 */
			len = 0;
			for (k = i + MAX_BODY_LINE_LENGTH + 1; k-- > i; )
				if (s[k] == ' ') {
					len = k - i + 1;
					break;
				}
			if (len == 0)
				len = MAX_BODY_LINE_LENGTH;
			ta_add(a, s + i, len);
			i += len;
		}
		ta_add(a, s + i, e - i);
		i = e;
	}
}

/* split_into_array_of_short_paragraphs of S into A. */
static void
short_paragraphs(const char *s, size_t n, struct textarr *a)
{
	size_t		ofs = 0, j;
	const char	*p;
	const char	seps[] = "\n> ";
	int		k;

	if (n <= MAX_BODY_LINE_LENGTH) {
		ta_add(a, s, n);
		return;
	}
	for (; n - ofs > 2 * MAX_BODY_LINE_LENGTH; ofs = j + 1) {
		j = SIZE_MAX;
		for (k = 0; k < 3; k++) {
			size_t	from = ofs + MAX_BODY_LINE_LENGTH;

			p = from < n ? memchr(s + from, seps[k], n - from) :
			    NULL;
			if (p != NULL && (size_t)(p - s) - ofs + 1 <=
			    2 * MAX_BODY_LINE_LENGTH) {
				j = (size_t)(p - s);
				break;
			}
		}
		if (j == SIZE_MAX)
			j = ofs + MAX_BODY_LINE_LENGTH;
		ta_add(a, s + ofs, j - ofs + 1);
	}
	if (ofs < n)
		ta_add(a, s + ofs, n - ofs);
}

/* The body text of one rendered part into TEXT; FLAGGED updated. */
static void
render_part(struct gh_derived *d, const struct gh_message *m,
    const struct mime_leaf *p, const char *dec, size_t dlen,
    struct mbuf *text, bool *flagged, struct uset *uris)
{
	const char		*type = mime__effective_type(p);
	struct mbuf		 u = { 0 };
	struct html_out		 h;
	bool			 fl = false;
	size_t			 cut, i, ul;
	const char		*up;
	const struct gh_uri_policy *pol = m->uri_policy;

	cs__to_utf8(dec, dlen, p->charset, p->charset ? strlen(p->charset) :
	    0, false, &u, &fl);
	if (dlen > 0 && strcmp(type, "text/html") == 0) {
		memset(&h, 0, sizeof(h));
		html__render(u.p ? u.p : "", u.len, fl, &h);
		fl = h.flagged;
		/* the links of its tags */
		if (pol == NULL)
			pol = uri__default_policy();
		for (i = 0, up = h.uris.p; pol != NULL && !h.err &&
		    i < h.nuris; i++) {
			memcpy(&ul, up + 1, sizeof(ul));
			uri__from_html(pol, up + 1 + sizeof(ul), ul,
			    up[0] == '1', uris);
			up += 1 + sizeof(ul) + ul;
		}
		mbuf_free(&u);
		u = h.text;
		memset(&h.text, 0, sizeof(h.text));
		if (h.err)
			d->err = ENOMEM;
		html__free(&h);
	}
	cut = scan_cut(u.p ? u.p : "", u.len, BODY_PART_SCAN_SIZE, true,
	    "\n ");
	mbuf_add(text, u.p ? u.p : "", cut);
	if (fl)
		*flagged = true;
	if (u.err)
		d->err = ENOMEM;
	mbuf_free(&u);
}

/* True if S starts with the word W (/^W\b/). */
static bool
word_prefix(const char *s, const char *w)
{
	size_t	n = strlen(w);
	char	c;

	if (strncmp(s, w, n) != 0)
		return false;
	c = s[n];
	return !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_');
}

/* Compute everything from the message. */
static int
derive(struct gh_message *m)
{
	struct gh_derived	*d;
	struct mbuf		 text = { 0 }, sq = { 0 }, out = { 0 };
	struct uset		 uris = { 0 }, seen = { 0 };
	const struct gh_uri_policy *pol;
	bool			 flagged = false;
	size_t			 i, cut;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return -1;
	m->derived = d;
	if (load_full(m, d) == -1)
		return -1;
	if (mime__parse(d->full, d->full_len, &m->limits, &d->tree) == -1)
		return -1;
	pol = m->uri_policy != NULL ? m->uri_policy : uri__default_policy();
	for (i = 0; i < d->tree.nleaves; i++) {
		const struct mime_leaf	*p = &d->tree.leaves[i];
		const char		*et = mime__effective_type(p);
		struct mbuf		 dec = { 0 };
		bool			 rendered, raw;

		if (text.len > 0)
			mbuf_addc(&text, '\n');
		rendered = !strcmp(et, "text/plain") || !strcmp(et, "text/html");
		raw = (word_prefix(et, "text") || word_prefix(et, "message")) &&
		    strcmp(p->type, "text/calendar") != 0;
		if (!rendered && !raw)
			continue;
		mime__decode(&d->tree, p, &dec);
		if (raw) {
			cut = scan_cut(dec.p ? dec.p : "", dec.len,
			    RAWBODY_PART_SCAN_SIZE, false, "\n> ");
			short_paragraphs(dec.p ? dec.p : "", cut, &d->raw);
		}
		if (rendered)
			render_part(d, m, p, dec.p ? dec.p : "", dec.len, &text,
			    &flagged, &uris);
		if (dec.err)
			d->err = ENOMEM;
		mbuf_free(&dec);
	}
	squeeze(text.p ? text.p : "", text.len, flagged, &sq);
	/* Subject (UTF-8 octets) + "\n", then the text as octets. */
	if (d->tree.subject != NULL)
		mbuf_add(&out, d->tree.subject, d->tree.subject_len);
	mbuf_addc(&out, '\n');
	if (flagged)
		mbuf_add(&out, sq.p ? sq.p : "", sq.len);
	else
		to_latin1(sq.p ? sq.p : "", sq.len, &out);
	short_lines(out.p, out.len, &d->body);
	/* Links in the text lines. */
	for (i = 0; pol != NULL && i < d->body.n; i++)
		uri__from_text(pol, d->body.buf.p + d->body.off[i],
		    d->body.len[i], &seen, &uris);
	for (i = 0; i < uris.n; i++)
		ta_add(&d->uris, uris.s[i], uris.len[i]);
	if (text.err || sq.err || out.err || uris.err || seen.err)
		d->err = ENOMEM;
	mbuf_free(&text);
	mbuf_free(&sq);
	mbuf_free(&out);
	uset__free(&uris);
	uset__free(&seen);
	if (d->err || ta_finish(&d->body) == -1 || ta_finish(&d->raw) == -1 ||
	    ta_finish(&d->uris) == -1) {
		errno = ENOMEM;
		return -1;
	}
	d->done = true;
	return 0;
}

/* Make sure the derived texts exist. */
static int
derived(struct gh_message *m)
{
	if (!m->ended) {
		errno = EINVAL;
		return -1;
	}
	if (m->derived != NULL && m->derived->done)
		return 0;
	if (m->derived != NULL) {
		errno = ENOMEM;		/* an earlier attempt failed */
		return -1;
	}
	return derive(m);
}

/* The "body" lines. */
int
gh_message_body_text(struct gh_message *m, const struct gh_text **lines,
    size_t *n)
{
	if (derived(m) == -1)
		return -1;
	*lines = m->derived->body.t;
	*n = m->derived->body.n;
	return 0;
}

/* The "rawbody" chunks. */
int
gh_message_rawbody(struct gh_message *m, const struct gh_text **chunks,
    size_t *n)
{
	if (derived(m) == -1)
		return -1;
	*chunks = m->derived->raw.t;
	*n = m->derived->raw.n;
	return 0;
}

/* The "full" text. */
int
gh_message_full(struct gh_message *m, const char **p, size_t *len)
{
	if (derived(m) == -1)
		return -1;
	*p = m->derived->full + m->derived->tree.full_off;
	*len = m->derived->full_len - m->derived->tree.full_off;
	return 0;
}

/* The "uri" list. */
int
gh_message_uris(struct gh_message *m, const struct gh_text **uris,
    size_t *n)
{
	if (derived(m) == -1)
		return -1;
	*uris = m->derived->uris.t;
	*n = m->derived->uris.n;
	return 0;
}

/*
 * True if top-level header field I of M is the field named NAME with
 * VALUE as gh_message_header_decoded() reads it (CRs before LFs out,
 * not capped), but for a last LF: its decoding is then the one cached
 * there.
 */
static bool
same_field(const struct gh_message *m, size_t i, const char *name,
    size_t nlen, const char *value, size_t vlen)
{
	const struct gh_header	*h;
	size_t			 k, o = 0;

	if (i >= m->nhdr)
		return false;
	/* the MIME parser keeps the field's last LF; rfc2047__decode_field
	 * trims white space at both ends before anything else, so the
	 * decoding is the same with it or without */
	if (vlen > 0 && value[vlen - 1] == '\n')
		vlen--;
	h = &m->hdr[i].h;
	if (h->name_len != nlen || memcmp(h->name, name, nlen) != 0 ||
	    h->raw_len > MAX_HEADER_VALUE_LENGTH || h->raw_len < vlen)
		return false;
	for (k = 0; k < h->raw_len; k++) {
		if (h->raw[k] == '\r' && k + 1 < h->raw_len &&
		    h->raw[k + 1] == '\n')
			continue;
		if (o >= vlen || h->raw[k] != value[o])
			return false;
		o++;
	}
	return o == vlen;
}

/* Build D->parts from the MIME tree's nodes (offsets into pbuf first);
 * the top part's fields share M's decoded-header cache when the bytes
 * are the same (one rfc2047 decoding a field instead of two). */
static int
build_parts(struct gh_message *m, struct gh_derived *d)
{
	const struct mime_tree	*t = &d->tree;
	size_t			 i, k, nf = 0, j = 0, o;
	char			*dec;
	const char		*cached;
	size_t			 dlen;

	for (i = 0; i < t->nnodes; i++)
		nf += t->nodes[i].n;
	if ((d->parts = calloc(t->nnodes + 1, sizeof(*d->parts))) == NULL ||
	    (d->fields = calloc(nf + 1, sizeof(*d->fields))) == NULL)
		return -1;
	for (i = 0; i < t->nnodes; i++) {
		d->parts[i].n = t->nodes[i].n;
		for (k = 0; k < t->nodes[i].n; k++, j++) {
			const struct mime_field *f = &t->nodes[i].f[k];
			struct gh_part_field *g = &d->fields[j];

			g->name.p = f->name;
			g->name.len = f->nlen;
			/* offsets now, pointers once pbuf stops moving */
			o = d->pbuf.len;
			mbuf_add(&d->pbuf, f->value, f->vlen);
			mbuf_addc(&d->pbuf, '\n');
			g->raw.p = (const char *)(uintptr_t)o;
			g->raw.len = f->vlen + 1;
			if (i == 0 && same_field(m, k, f->name, f->nlen,
			    f->value, f->vlen)) {
				if ((cached = gh_message_header_decoded(m, k,
				    &dlen)) == NULL)
					return -1;
				o = d->pbuf.len;
				mbuf_add(&d->pbuf, cached, dlen);
				mbuf_addc(&d->pbuf, '\0');
			} else {
				if ((dec = rfc2047__decode_field(f->name,
				    f->nlen, f->value, f->vlen, &dlen)) == NULL)
					return -1;
				o = d->pbuf.len;
				mbuf_add(&d->pbuf, dec, dlen);
				mbuf_addc(&d->pbuf, '\0');
				free(dec);
			}
			g->value.p = (const char *)(uintptr_t)o;
			g->value.len = dlen;
		}
	}
	if (d->pbuf.err)
		return -1;
	for (i = j = 0; i < t->nnodes; i++) {
		d->parts[i].fields = &d->fields[j];
		for (k = 0; k < t->nodes[i].n; k++, j++) {
			d->fields[j].raw.p = d->pbuf.p +
			    (uintptr_t)d->fields[j].raw.p;
			d->fields[j].value.p = d->pbuf.p +
			    (uintptr_t)d->fields[j].value.p;
		}
	}
	d->nparts = t->nnodes;
	return 0;
}

/* The header fields of every MIME part. */
int
gh_message_parts(struct gh_message *m, const struct gh_part **parts,
    size_t *n)
{
	struct gh_derived	*d;

	if (derived(m) == -1)
		return -1;
	d = m->derived;
	if (d->parts == NULL && build_parts(m, d) == -1) {
		free(d->parts);
		free(d->fields);
		mbuf_free(&d->pbuf);
		d->parts = NULL;
		d->fields = NULL;
		errno = ENOMEM;
		return -1;
	}
	*parts = d->parts;
	*n = d->nparts;
	return 0;
}

/* True if a MIME cap was hit. */
bool
gh_message_mime_truncated(struct gh_message *m)
{
	if (derived(m) == -1)
		return false;
	return m->derived->tree.truncated;
}

/* Header field I, decoded (cached). */
const char *
gh_message_header_decoded(struct gh_message *m, size_t i, size_t *len)
{
	const struct gh_header	*h;
	size_t			 k;

	if (i >= m->nhdr)
		return NULL;
	if (m->hdec_n < m->nhdr) {
		char	**nd = reallocarray(m->hdec, m->nhdr, sizeof(*nd));
		size_t	 *nl;

		if (nd == NULL)
			return NULL;
		m->hdec = nd;
		if ((nl = reallocarray(m->hdec_len, m->nhdr,
		    sizeof(*nl))) == NULL)
			return NULL;
		m->hdec_len = nl;
		for (k = m->hdec_n; k < m->nhdr; k++) {
			m->hdec[k] = NULL;
			m->hdec_len[k] = 0;
		}
		m->hdec_n = m->nhdr;
	}
	if (m->hdec[i] == NULL) {
		struct mbuf	v = { 0 };

		h = &m->hdr[i].h;
		/* SpamAssassin keeps the first 8192 bytes of a value (with
		 * LF line ends) of a message's header field. */
		for (k = 0; k < h->raw_len && v.len < MAX_HEADER_VALUE_LENGTH;
		    k++)
			if (!(h->raw[k] == '\r' && k + 1 < h->raw_len &&
			    h->raw[k + 1] == '\n'))
				mbuf_addc(&v, h->raw[k]);
		if (v.err) {
			mbuf_free(&v);
			return NULL;
		}
		m->hdec[i] = rfc2047__decode_field(h->name, h->name_len,
		    v.p ? v.p : "", v.len, &m->hdec_len[i]);
		mbuf_free(&v);
		if (m->hdec[i] == NULL)
			return NULL;
	}
	if (len != NULL)
		*len = m->hdec_len[i];
	return m->hdec[i];
}

/* Decode encoded words for the rules engine (rules_input.decode_words). */
size_t
gh_message_decode_words(void *arg, const char *str, size_t len, char *out,
    size_t outlen)
{
	char	*d;
	size_t	 dl;

	(void)arg;
	if (outlen == 0 || (d = rfc2047__decode_field("", 0, str, len,
	    &dl)) == NULL)
		return 0;
	if (dl > outlen) {
		/* do not cut a UTF-8 sequence in two */
		dl = outlen;
		while (dl > 0 && ((unsigned char)d[dl] & 0xc0) == 0x80)
			dl--;
	}
	memcpy(out, d, dl);
	free(d);
	return dl;
}

/* Call CB over the body bytes. */
int
gh_message_body_foreach(const struct gh_message *m,
    int (*cb)(void *, const char *, size_t), void *arg)
{
	char		 chunk[65536];
	const char	*mem;
	size_t		 len;
	uint64_t	 off = gh_message_body_offset(m);
	ssize_t		 r;
	int		 rc;

	if ((mem = gh_spool_mem(m->spool, &len)) != NULL)
		return off < len ? cb(arg, mem + off, len - (size_t)off) : 0;
	while ((r = gh_spool_pread(m->spool, chunk, sizeof(chunk), off)) > 0) {
		if ((rc = cb(arg, chunk, (size_t)r)) != 0)
			return rc;
		off += (uint64_t)r;
	}
	return r == -1 ? -1 : 0;
}

/* Use POLICY for URIs. */
void
gh_message_set_uri_policy(struct gh_message *m,
    const struct gh_uri_policy *policy)
{
	m->uri_policy = policy;
}
