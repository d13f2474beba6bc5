/*
 * decode.c: base64 and quoted-printable decoding and UTF-8 validation,
 * as SpamAssassin does them (Mail::SpamAssassin::Util::base64_decode,
 * qp_decode), so that "body" and "rawbody" texts agree with it byte for
 * byte, malformed input included.
 *
 * Owns nothing; output goes to the caller's buffer, whose error flag
 * reports allocation failure.  Never reads past the input.
 */

#include <stdbool.h>
#include <string.h>

#include "decode.h"

/* Value of a base64 character, or -1 (also the proxy's SASL decoder). */
int
b64__value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Perl's \s on bytes: ASCII white space. */
static bool
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\f' || c == '\v';
}

/* Decode groups of sextets V[0 .. n) into OUT; a last partial group of
 * 2 or 3 gives 1 or 2 bytes, of 1 nothing. */
static void
sextets_out(const unsigned char *v, size_t n, struct mbuf *out)
{
	size_t		i;
	unsigned	w;

	for (i = 0; i + 4 <= n; i += 4) {
		w = (unsigned)v[i] << 18 | (unsigned)v[i + 1] << 12 |
		    (unsigned)v[i + 2] << 6 | v[i + 3];
		mbuf_addc(out, (char)(w >> 16));
		mbuf_addc(out, (char)(w >> 8));
		mbuf_addc(out, (char)w);
	}
	if (n - i >= 2) {
		w = (unsigned)v[i] << 18 | (unsigned)v[i + 1] << 12;
		if (n - i == 3)
			w |= (unsigned)v[i + 2] << 6;
		mbuf_addc(out, (char)(w >> 16));
		if (n - i == 3)
			mbuf_addc(out, (char)(w >> 8));
	}
}

/* Base64-decode like SpamAssassin: a clean input is decoded with
 * MIME::Base64 semantics, anything else through its uudecode fallback. */
void
b64__decode(const char *in, size_t n, struct mbuf *out)
{
	unsigned char	*v;
	size_t		 i, k = 0, m = 0, last;
	bool		 clean = true;
	int		 x;

	if ((v = malloc(n + 1)) == NULL) {
		out->err = ENOMEM;
		return;
	}
	/* s/\s+//g, and note whether only [A-Za-z0-9+/=] remain. */
	for (i = 0; i < n; i++) {
		unsigned char	c = (unsigned char)in[i];

		if (is_space(c))
			continue;
		if (b64__value(c) < 0 && c != '=')
			clean = false;
		v[k++] = c;
	}
	if (clean && k >= 2 && k % 4 == 0) {
		/* Trailing '='s are padding; other '=' runs become 'A'. */
		last = k;
		while (last > 0 && v[last - 1] == '=')
			last--;
		for (i = 0; i < last; i++)
			v[m++] = v[i] == '=' ? 0 : (unsigned char)b64__value(v[i]);
		/* MIME::Base64 stops at the padding. */
		sextets_out(v, m, out);
		free(v);
		return;
	}
	/* Fallback: drop non-base64, strip trailing '=', map '=' to 63. */
	for (i = 0; i < k; i++) {
		x = v[i] == '=' ? 64 : b64__value(v[i]);
		if (x >= 0)
			v[m++] = (unsigned char)x;
	}
	while (m > 0 && v[m - 1] == 64)
		m--;
	for (i = 0; i < m; i++)
		if (v[i] == 64)
			v[i] = 63;
	if (m % 4 == 1)
		m--;
	sextets_out(v, m, out);
	free(v);
}

/* Value of a hex digit, or -1. */
static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Quoted-printable decoding in SpamAssassin's three passes.  Each pass
 * writes at most what it reads: the buffers are sized once and filled
 * by index (the byte-at-a-time appends were the cost on large parts). */
void
qp__decode(const char *in, size_t n, bool q, struct mbuf *out)
{
	struct mbuf	a = { 0 }, b = { 0 };
	size_t		i, j, o;
	int		h, l;
	char		*w;

	if (mbuf_reserve(&a, n) == -1 || mbuf_reserve(&b, n) == -1) {
		out->err = a.err ? a.err : b.err;
		goto done;
	}
	/* 1. s/[ \t]+(?=\r?\n)//g (and _ as space in an encoded word) */
	for (i = o = 0, w = a.p; i < n; i = j) {
		if (in[i] != ' ' && in[i] != '\t') {
			w[o++] = q && in[i] == '_' ? ' ' : in[i];
			j = i + 1;
			continue;
		}
		for (j = i; j < n && (in[j] == ' ' || in[j] == '\t'); j++)
			;
		if ((j < n && in[j] == '\n') ||
		    (j + 1 < n && in[j] == '\r' && in[j + 1] == '\n'))
			continue;
		memcpy(w + o, in + i, j - i);
		o += j - i;
	}
	a.len = o;
	/* 2. s/=\r?\n//g, then 3. s/=([0-9a-fA-F]{2})/chr(hex($1))/ge
	 * (a soft break removed in pass 2 can join "=" with hex digits
	 * only after pass 2, so the passes are kept apart). */
	for (i = o = 0, w = b.p; i < a.len; i++) {
		if (a.p[i] == '=' && i + 1 < a.len && a.p[i + 1] == '\n') {
			i += 1;
			continue;
		}
		if (a.p[i] == '=' && i + 2 < a.len &&
		    a.p[i + 1] == '\r' && a.p[i + 2] == '\n') {
			i += 2;
			continue;
		}
		w[o++] = a.p[i];
	}
	b.len = o;
	if (out->err || b.len > (out->max ? out->max : SIZE_MAX / 2) -
	    out->len || mbuf_reserve(out, b.len) == -1) {
		/* over OUT's cap: append what fits, byte by byte, as ever */
		for (i = 0; i < b.len; i++) {
			if (b.p[i] == '=' && i + 2 < b.len &&
			    (h = hexval((unsigned char)b.p[i + 1])) >= 0 &&
			    (l = hexval((unsigned char)b.p[i + 2])) >= 0) {
				mbuf_addc(out, (char)(h << 4 | l));
				i += 2;
				continue;
			}
			mbuf_addc(out, b.p[i]);
		}
		goto done;
	}
	for (i = 0, o = out->len, w = out->p; i < b.len; i++) {
		if (b.p[i] == '=' && i + 2 < b.len &&
		    (h = hexval((unsigned char)b.p[i + 1])) >= 0 &&
		    (l = hexval((unsigned char)b.p[i + 2])) >= 0) {
			w[o++] = (char)(h << 4 | l);
			i += 2;
			continue;
		}
		w[o++] = b.p[i];
	}
	out->len = o;
	out->p[o] = '\0';
done:
	mbuf_free(&a);
	mbuf_free(&b);
}

/* Decode one strict UTF-8 character. */
size_t
utf8__char(const unsigned char *p, size_t n, uint32_t *cp)
{
	uint32_t	c;
	size_t		len, i;

	if (n == 0)
		return 0;
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		c = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		c = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		c = p[0] & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* True if P is all valid UTF-8, as Perl's strict "UTF-8" decoder sees
 * it (no surrogates, overlongs, noncharacters). */
bool
utf8__valid(const char *p, size_t n)
{
	const unsigned char	*s = (const unsigned char *)p;
	size_t			 i = 0, k;
	uint32_t		 cp;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((k = utf8__char(s + i, n - i, &cp)) == 0)
			return false;
		/* Perl's strict UTF-8 refuses noncharacters as well. */
		if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe)
			return false;
		i += k;
	}
	return true;
}

/* Count the bytes with the high bit set. */
size_t
utf8__count_8bit(const char *p, size_t n)
{
	size_t	i, c = 0;

	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			c++;
	return c;
}
