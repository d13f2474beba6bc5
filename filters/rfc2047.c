/*
 * rfc2047.c: header field values for header rules (RFC 2047 encoded
 * words, RFC 2231 language suffixes), as SpamAssassin 4's
 * Message::Node::header and _decode_header make them:
 *
 *  - line ends are dropped, folding white space becomes one space, the
 *    value is trimmed;
 *  - 8-bit bytes are kept when they are UTF-8 (RFC 6532), else read as
 *    Windows-1252;
 *  - fields whose values are not text (Received, Message-ID, Date,
 *    MIME-Version, References, In-Reply-To, List-*) are not decoded;
 *  - white space between adjacent encoded words is dropped, and adjacent
 *    words in the same charset are joined before conversion, so that a
 *    character split across words (common, though RFC 2047 section 5
 *    forbids it) comes out whole.
 *
 * Owns nothing past a call.  Malformed words are left as text, unknown
 * charsets fall back as in charset.c; only ENOMEM fails.
 */

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "charset.h"
#include "decode.h"
#include "msgbuf.h"
#include "rfc2047.h"

/* One section of the value: decoded bytes and their charset ("" plain). */
struct section {
	struct mbuf	 bytes;
	const char	*cs;
	size_t		 cslen;
};

/* Perl's \s on bytes. */
static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\f' || c == '\v';
}

/* Charset characters of an encoded word. */
static bool
is_cs_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '*' || c == '_' || c == '-';
}

/*
 * If an encoded word =?cs?e?text?= starts at P, return its length and set
 * the charset, encoding letter and text; else 0.
 */
static size_t
encoded_word(const char *p, size_t n, const char **cs, size_t *cslen,
    char *enc, const char **text, size_t *tlen)
{
	size_t	i = 2, c0;

	if (n < 8 || p[0] != '=' || p[1] != '?')
		return 0;
	c0 = i;
	while (i < n && is_cs_char(p[i]))
		i++;
	if (i == c0 || i + 3 > n || p[i] != '?')
		return 0;
	*cs = p + c0;
	*cslen = i - c0;
	i++;
	if (strchr("bBqQ", p[i]) == NULL || p[i] == '\0' || p[i + 1] != '?')
		return 0;
	*enc = p[i];
	i += 2;
	*text = p + i;
	while (i < n && p[i] != '?')
		i++;
	if (i + 1 >= n || p[i + 1] != '=')
		return 0;
	*tlen = (size_t)(p + i - *text);
	return i + 2;
}

/* True if the field's value is not to be MIME-decoded (bugs 6945, 7249). */
static bool
no_decode(const char *name, size_t n)
{
	static const char	*const names[] = {
		"Received", "Message-ID", "Date", "Resent-Message-ID",
		"Resent-Date", "MIME-Version", "References", "In-Reply-To",
	};
	size_t			 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == n && strncasecmp(name, names[i], n) == 0)
			return true;
	return n >= 5 && strncasecmp(name, "List-", 5) == 0;
}

/* Unfold and trim RAW into OUT (empty) like Node::header, then drop
 * line ends; OUT is sized once (it never grows past the trimmed RAW). */
static void
unfold(const char *raw, size_t n, struct mbuf *out)
{
	size_t	i, o, s = 0, e = n;
	char	*w;

	while (s < e && is_space(raw[s]))
		s++;
	while (e > s && is_space(raw[e - 1]))
		e--;
	if (mbuf_reserve(out, e - s) == -1)
		return;
	for (i = s, o = out->len, w = out->p; i < e; i++) {
		if (raw[i] == '\r' && i + 1 < e && raw[i + 1] == '\n')
			continue;
		if (raw[i] == '\n') {
			/* s/\n[ \t]+/ /g, then s/\015?\012//g */
			if (i + 1 < e && (raw[i + 1] == ' ' ||
			    raw[i + 1] == '\t')) {
				while (i + 1 < e && (raw[i + 1] == ' ' ||
				    raw[i + 1] == '\t'))
					i++;
				w[o++] = ' ';
			}
			continue;
		}
		w[o++] = raw[i];
	}
	out->len = o;
	w[o] = '\0';
}

/* Append section bytes (decoded if encoded) to the sections array. */
static void
push(struct section *sec, size_t *nsec, const char *cs, size_t cslen,
    const char *b, size_t blen)
{
	struct section	*last = *nsec ? &sec[*nsec - 1] : NULL;

	if (last != NULL && last->cslen == cslen &&
	    (cslen == 0 || strncasecmp(last->cs, cs, cslen) == 0)) {
		mbuf_add(&last->bytes, b, blen);
		return;
	}
	last = &sec[(*nsec)++];
	memset(last, 0, sizeof(*last));
	last->cs = cs;
	last->cslen = cslen;
	mbuf_add(&last->bytes, b, blen);
}

/* Decode the encoded words of V (N bytes) into OUT. */
static void
decode_words(const char *v, size_t n, struct mbuf *out)
{
	struct mbuf	 w = { 0 }, tmp = { 0 };
	struct section	*sec;
	const char	*cs, *text, *lang;
	size_t		 i, k, cslen, tlen, nsec = 0, j, cl;
	char		 enc;
	bool		 dec;

	/* Drop white space between adjacent encoded words. */
	for (i = 0; i < n; ) {
		k = encoded_word(v + i, n - i, &cs, &cslen, &enc, &text,
		    &tlen);
		if (k == 0) {
			mbuf_addc(&w, v[i++]);
			continue;
		}
		mbuf_add(&w, v + i, k);
		i += k;
		for (j = i; j < n && is_space(v[j]); j++)
			;
		if (j > i && encoded_word(v + j, n - j, &cs, &cslen, &enc,
		    &text, &tlen) != 0)
			i = j;
	}
	/* At most one section per byte. */
	if (w.err || (sec = calloc(w.len + 1, sizeof(*sec))) == NULL) {
		out->err = ENOMEM;
		mbuf_free(&w);
		return;
	}
	for (i = 0; i < w.len; i += k) {
		k = encoded_word(w.p + i, w.len - i, &cs, &cslen, &enc,
		    &text, &tlen);
		if (k == 0) {
			/* ([^=]+|.) */
			for (k = 1; i + k < w.len && w.p[i + k] != '=' &&
			    w.p[i] != '='; k++)
				;
			push(sec, &nsec, "", 0, w.p + i, k);
			continue;
		}
		mbuf_reset(&tmp);
		if (enc == 'b' || enc == 'B')
			b64__decode(text, tlen, &tmp);
		else
			qp__decode(text, tlen, true, &tmp);
		push(sec, &nsec, cs, cslen, tmp.p ? tmp.p : "", tmp.len);
	}
	for (j = 0; j < nsec; j++) {
		cl = sec[j].cslen;
		/* RFC 2231 section 5: strip a "*language" suffix. */
		if (cl > 0 && (lang = memchr(sec[j].cs, '*', cl)) != NULL)
			cl = (size_t)(lang - sec[j].cs);
		if (sec[j].cslen == 0)
			mbuf_add(out, sec[j].bytes.p, sec[j].bytes.len);
		else
			cs__to_utf8(sec[j].bytes.p ? sec[j].bytes.p : "",
			    sec[j].bytes.len, sec[j].cs, cl, true, out, &dec);
		if (sec[j].bytes.err)
			out->err = sec[j].bytes.err;
		mbuf_free(&sec[j].bytes);
	}
	free(sec);
	mbuf_free(&tmp);
	mbuf_free(&w);
}

/* The decoded value of one header field. */
char *
rfc2047__decode_field(const char *name, size_t nlen, const char *raw,
    size_t rawlen, size_t *outlen)
{
	struct mbuf	u = { 0 }, v = { 0 }, out = { 0 };
	bool		dec;

	unfold(raw, rawlen, &u);
	if (utf8__count_8bit(u.p ? u.p : "", u.len) > 0) {
		cs__to_utf8(u.p, u.len, "UTF-8", 5, false, &v, &dec);
		mbuf_free(&u);
		u = v;
	}
	if (!no_decode(name, nlen) && u.len > 0 &&
	    memmem(u.p, u.len, "=?", 2) != NULL) {
		decode_words(u.p, u.len, &out);
		mbuf_free(&u);
		u = out;
	}
	if (u.err) {
		mbuf_free(&u);
		return NULL;
	}
	return mbuf_take(&u, outlen);
}
