/*
 * charset.c: conversion of text parts and encoded words to UTF-8.
 *
 * Follows SpamAssassin 4's _normalize step by step: ASCII text declared
 * as an ASCII-compatible charset is left alone; 8-bit text is tried as
 * UTF-8 first; then the declared charset (ISO-8859-1 read as
 * Windows-1252, as browsers do); then Windows-1252 when the 8-bit bytes
 * look like Latin punctuation and letters; and finally Windows-1252
 * whatever the bytes are, which cannot fail.  Other charsets go through
 * glibc's iconv, which knows most of the names Perl's Encode knows.
 *
 * Owns: an iconv descriptor for the duration of one call.  Fails only on
 * ENOMEM (recorded in the output buffer); a bad or unknown charset name is
 * not an error, it only changes which step succeeds.
 */

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "charset.h"
#include "decode.h"

/* Windows-1252 0x80-0x9f; 0 where the code page has a hole. */
static const unsigned short w1252[32] = {
	0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017d, 0,
	0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0, 0x017e, 0x0178,
};

/* Append IN decoded as Windows-1252, holes as U+FFFD. */
void
cs__win1252(const char *in, size_t n, struct mbuf *out)
{
	size_t		i;
	unsigned char	c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)in[i];
		if (c < 0x80)
			mbuf_addc(out, (char)c);
		else if (c < 0xa0)
			mbuf_addcp(out, w1252[c - 0x80] ? w1252[c - 0x80] :
			    0xfffd);
		else
			mbuf_addcp(out, c);
	}
}

/* Case-insensitive match of S (N bytes) against the literal LIT. */
static bool
eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

/* Skip a literal prefix LIT of S case-insensitively; true if present. */
static bool
skip(const char **s, size_t *n, const char *lit)
{
	size_t	l = strlen(lit);

	if (*n < l || strncasecmp(*s, lit, l) != 0)
		return false;
	*s += l;
	*n -= l;
	return true;
}

/* Skip N digits at most MAX, at least MIN; true if so. */
static bool
digits(const char **s, size_t *n, size_t min, size_t max)
{
	size_t	k = 0;

	while (k < *n && k < max && isdigit((unsigned char)(*s)[k]))
		k++;
	if (k < min)
		return false;
	*s += k;
	*n -= k;
	return true;
}

/* US-ASCII and its other names. */
static bool
is_ascii_name(const char *s, size_t n)
{
	if (eq(s, n, "ASCII") || eq(s, n, "US-ASCII") ||
	    eq(s, n, "ISO646-US"))
		return true;
	if (!skip(&s, &n, "ANSI"))
		return false;
	if (n > 0 && (*s == '_' || *s == ' '))
		s++, n--;
	return eq(s, n, "X3.4-1986") || eq(s, n, "X3.4-1968");
}

/* Names SpamAssassin takes as supersets of ASCII. */
static bool
is_ext_ascii_name(const char *s, size_t n)
{
	const char	*p = s;
	size_t		 k = n;

	if (skip(&p, &k, "ISO")) {
		if (k > 0 && (*p == ' ' || *p == '-'))
			p++, k--;
		if (!skip(&p, &k, "8859"))
			return false;
		if (k == 0)
			return true;
		return skip(&p, &k, "-") && digits(&p, &k, 1, 2) && k == 0;
	}
	p = s, k = n;
	if (skip(&p, &k, "Windows-"))
		return digits(&p, &k, 4, 4) && k == 0;
	if (eq(s, n, "UTF-8") || eq(s, n, "UTF8") || eq(s, n, "Big5") ||
	    eq(s, n, "GBK"))
		return true;
	p = s, k = n;
	if (skip(&p, &k, "KOI8-") || skip(&p, &k, "EUC-")) {
		size_t	a = 0;

		while (a < k && isalpha((unsigned char)p[a]))
			a++;
		return a >= 1 && a <= 2 && a == k;
	}
	p = s, k = n;
	if (skip(&p, &k, "GB")) {
		if (k > 0 && (*p == ' ' || *p == '-'))
			p++, k--;
		if (!skip(&p, &k, "18030"))
			return false;
		if (k == 0)
			return true;
		return skip(&p, &k, "-20") && digits(&p, &k, 2, 2) && k == 0;
	}
	return false;
}

/* True for GB18030 and its spellings (decoded as GBK when unknown). */
static bool
is_gb18030(const char *s, size_t n)
{
	return is_ext_ascii_name(s, n) && n >= 2 &&
	    strncasecmp(s, "GB", 2) == 0 && !eq(s, n, "GBK");
}

/*
 * Decode IN with iconv from NAME to UTF-8 into OUT.  STRICT: fail (false,
 * OUT unchanged) on any bad sequence; else replace bad bytes with U+FFFD.
 * False also when iconv does not know NAME.
 */
static bool
iconv_decode(const char *name, const char *in, size_t n, bool strict,
    struct mbuf *out)
{
	iconv_t	 cd;
	char	 tmp[4096], *ip = (char *)in, *op;
	size_t	 il = n, ol, r, start = out->len;

	if ((cd = iconv_open("UTF-8", name)) == (iconv_t)-1)
		return false;
	while (il > 0) {
		op = tmp;
		ol = sizeof(tmp);
		r = iconv(cd, &ip, &il, &op, &ol);
		mbuf_add(out, tmp, (size_t)(op - tmp));
		if (r != (size_t)-1 || errno == E2BIG)
			continue;
		if (strict) {
			out->len = start;
			if (out->p != NULL)
				out->p[start] = '\0';
			iconv_close(cd);
			return false;
		}
		/* EILSEQ or EINVAL: one replacement, skip a byte. */
		mbuf_addcp(out, 0xfffd);
		ip++;
		il--;
		iconv(cd, NULL, NULL, NULL, NULL);
	}
	op = tmp;
	ol = sizeof(tmp);
	iconv(cd, NULL, NULL, &op, &ol);
	mbuf_add(out, tmp, (size_t)(op - tmp));
	iconv_close(cd);
	return true;
}

/* SpamAssassin's detect_utf16: "UTF-16LE", "UTF-16BE" or NULL. */
static const char *
detect_utf16(const unsigned char *d, size_t n)
{
	unsigned long	even = 0, odd = 0;
	int		le = 0, be = 0;
	size_t		i;

	if (n >= 2 && ((d[0] == 0xff && d[1] == 0xfe) ||
	    (d[0] == 0xfe && d[1] == 0xff)))
		return NULL;
	for (i = 0; i < n; i += 2) {
		unsigned	b0 = d[i], b1 = i + 1 < n ? d[i + 1] : 0;

		even += (b0 >> 4) + (b0 & 15);
		odd += (b1 >> 4) + (b1 & 15);
		if (b0 == 0x20 && b1 == 0)
			le++;
		if (b0 == 0 && b1 == 0x20)
			be++;
	}
	if (even > odd * 4)
		le++;
	if (odd * 4 > even)
		be++;
	if (le > be)
		return "UTF-16LE";
	if (be > le)
		return "UTF-16BE";
	return NULL;
}

/* True for SpamAssassin's /^UTF[ -]?16/i. */
static bool
is_utf16_name(const char *s, size_t n)
{
	if (!skip(&s, &n, "UTF"))
		return false;
	if (n > 0 && (*s == ' ' || *s == '-'))
		s++, n--;
	return n >= 2 && s[0] == '1' && s[1] == '6';
}

/* Case-insensitive search for LIT in S (NUL-terminated, lower case). */
static const char *
has(const char *s, const char *lit)
{
	return strstr(s, lit);
}

/* True if S (lower case) ends with LIT. */
static bool
ends(const char *s, const char *lit)
{
	size_t	n = strlen(s), l = strlen(lit);

	return n >= l && strcmp(s + n - l, lit) == 0;
}

/* True if position I of S is at a word boundary (\b before S[I]). */
static bool
wb(const char *s, size_t i)
{
	return i == 0 || !(isalnum((unsigned char)s[i - 1]) ||
	    s[i - 1] == '_');
}

/* True if a word starting at a boundary in S begins with LIT and the
 * rest of S matches nothing in particular (Perl's /\bLIT/). */
static const char *
word(const char *s, const char *lit)
{
	const char	*p = s;

	while ((p = strstr(p, lit)) != NULL) {
		if (wb(s, (size_t)(p - s)))
			return p;
		p++;
	}
	return NULL;
}

/*
 * The iconv name for a charset name, after the aliases of Perl's
 * Encode::Alias that glibc's iconv does not share (GB2312_CHARSET,
 * ks_c_5601-1987, x-sjis, latin2, winlatin1, ...).  NAME is lower case;
 * the result goes to OUT (SIZE bytes).  Depth-limited like the alias
 * recursion.
 */
static void
perl_alias(const char *name, char *out, size_t size, int depth)
{
	static const int	latin2iso[] = {
		0, 1, 2, 3, 4, 9, 10, 13, 14, 15, 16
	};
	const char		*p;
	char			 tmp[80];
	size_t			 n = strlen(name), i;
	unsigned long		 d;

	snprintf(out, size, "%s", name);
	if (depth > 4)
		return;
	/* ^([^\s_]+)[\s_]+([^\s_]*)$ -> $1-$2 */
	i = strcspn(name, " \t_");
	if (i > 0 && i < n) {
		size_t	j = i + strspn(name + i, " \t_");

		if (strcspn(name + j, " \t_") == n - j) {
			snprintf(tmp, sizeof(tmp), "%.*s-%s", (int)i, name,
			    name + j);
			perl_alias(tmp, out, size, depth + 1);
			return;
		}
	}
	if (ends(name, "utf-8") || has(name, "cp65001")) {
		snprintf(out, size, "UTF-8");
	} else if (has(name, "cp65000") || !strcmp(name, "utf7") ||
	    ends(name, "utf-7")) {
		snprintf(out, size, "UTF-7");
	} else if ((p = word(name, "big")) != NULL &&
	    (!strcmp(p, "big5") || !strcmp(p, "big-5") ||
	    !strncmp(p, "big5-et", 7) || !strncmp(p, "big5et", 6))) {
		snprintf(out, size, "BIG5");
	} else if (word(name, "big5") && (ends(name, "hk") ||
	    ends(name, "hkscs"))) {
		snprintf(out, size, "BIG5-HKSCS");
	} else if (ends(name, "ks_c_5601-1987") || ends(name, "uhc") ||
	    ends(name, "windows-949")) {
		snprintf(out, size, "CP949");
	} else if ((p = word(name, "euc")) != NULL && ends(p, "kr")) {
		snprintf(out, size, "EUC-KR");
	} else if (word(name, "windows-31j") && ends(name, "windows-31j")) {
		snprintf(out, size, "CP932");
	} else if ((word(name, "shift") && ends(name, "jis")) ||
	    (word(name, "sjis") && ends(name, "sjis"))) {
		snprintf(out, size, "SHIFT_JIS");
	} else if (((p = word(name, "euc")) != NULL && ends(p, "jp")) ||
	    (word(name, "ujis") && ends(name, "ujis"))) {
		snprintf(out, size, "EUC-JP");
	} else if ((p = word(name, "gb")) != NULL && (!strncmp(p, "gb2312", 6) ||
	    !strncmp(p, "gb-2312", 7) || !strncmp(p, "gb_2312", 7) ||
	    !strncmp(p, "gb 2312", 7)) && !has(p, "raw")) {
		snprintf(out, size, "EUC-CN");
	} else if (!strcmp(name, "gbk")) {
		snprintf(out, size, "CP936");
	} else if ((p = word(name, "euc")) != NULL && ends(p, "cn")) {
		snprintf(out, size, "EUC-CN");
	} else if ((p = word(name, "koi8")) != NULL && (ends(p, "r") ||
	    ends(p, "u")) && strspn(p + 4, " -_\t") == strlen(p + 4) - 1) {
		snprintf(out, size, "KOI8-%c", toupper((unsigned char)
		    name[n - 1]));
	} else if (!strcmp(name, "macintosh") || ends(name, "mac-roman") ||
	    ends(name, "mac_roman")) {
		snprintf(out, size, "MACINTOSH");
	} else if ((p = word(name, "tis")) != NULL && (!strncmp(p, "tis620",
	    6) || !strncmp(p, "tis-620", 7))) {
		snprintf(out, size, "ISO-8859-11");
	} else if ((p = word(name, "latin")) != NULL || (p = word(name,
	    "iso-latin")) != NULL || (p = word(name, "isolatin")) != NULL) {
		p = strstr(p, "latin") + 5;
		if (*p == '-' || *p == '_')
			p++;
		d = strtoul(p, NULL, 10);
		if (*p != '\0' && strspn(p, "0123456789") == strlen(p) &&
		    d >= 1 && d <= 10)
			snprintf(out, size, "ISO-8859-%d", latin2iso[d]);
	} else {
		/* (?:cp|ibm|ms|windows)[-_ ]?(\d{2,4})$ */
		static const char *const pre[] = {
			"cp", "ibm", "ms", "windows", NULL
		};
		int	k;

		for (k = 0; pre[k] != NULL; k++) {
			if ((p = word(name, pre[k])) == NULL)
				continue;
			p += strlen(pre[k]);
			if (*p == '-' || *p == '_' || *p == ' ')
				p++;
			i = strspn(p, "0123456789");
			if (i >= 2 && i <= 4 && p[i] == '\0') {
				snprintf(out, size, "CP%s", p);
				return;
			}
		}
		/* iso8859N, iso_N_M */
		if (!strncmp(name, "iso8859", 7) && name[7] != '-' &&
		    name[7] != '\0' && strspn(name + 7, "0123456789") ==
		    strlen(name + 7))
			snprintf(out, size, "ISO-8859-%s", name + 7);
	}
}

/* Try the declared charset; true if it decoded IN into OUT. */
static bool
try_declared(const char *in, size_t n, const char *cs, size_t cslen,
    bool insist, bool tried_utf8, struct mbuf *out)
{
	char		 name[80];
	const char	*u16;

	if (eq(cs, cslen, "ISO-8859-1") || eq(cs, cslen, "ISO8859-1") ||
	    eq(cs, cslen, "Windows-1252") || eq(cs, cslen, "CP1252")) {
		size_t	i;

		/* Strict Windows-1252 fails on its five holes. */
		for (i = 0; !insist && i < n; i++) {
			unsigned char	c = (unsigned char)in[i];

			if (c >= 0x80 && c < 0xa0 && w1252[c - 0x80] == 0)
				return false;
		}
		cs__win1252(in, n, out);
		return true;
	}
	if (eq(cs, cslen, "UTF-8") || eq(cs, cslen, "UTF8")) {
		if (tried_utf8)
			return false;
		return iconv_decode("UTF-8", in, n, !insist, out);
	}
	if (is_utf16_name(cs, cslen)) {
		if ((u16 = detect_utf16((const unsigned char *)in, n)) == NULL)
			return false;
		return iconv_decode(u16, in, n, true, out);
	}
	if (cslen == 0 || cslen >= sizeof(name) ||
	    memchr(cs, '\0', cslen) != NULL || memchr(cs, '/', cslen) != NULL)
		return false;
	memcpy(name, cs, cslen);
	name[cslen] = '\0';
	if (iconv_decode(name, in, n, !insist, out))
		return true;
	{
		char	low[80], alias[80];
		size_t	i;

		for (i = 0; i <= cslen; i++)
			low[i] = (char)tolower((unsigned char)name[i]);
		perl_alias(low, alias, sizeof(alias), 0);
		if (strcasecmp(alias, name) != 0 &&
		    iconv_decode(alias, in, n, !insist, out))
			return true;
	}
	if (is_gb18030(cs, cslen))
		return iconv_decode("GBK", in, n, !insist, out);
	return false;
}

/* Convert IN to UTF-8 as SpamAssassin's _normalize does. */
void
cs__to_utf8(const char *in, size_t n, const char *cs, size_t cslen,
    bool insist, struct mbuf *out, bool *decoded)
{
	size_t	c8 = utf8__count_8bit(in, n);
	bool	tried_utf8 = false;

	if (cs == NULL) {
		cs = "us-ascii";
		cslen = 8;
	}
	*decoded = false;
	if (c8 == 0 && (is_ascii_name(cs, cslen) ||
	    is_ext_ascii_name(cs, cslen))) {
		mbuf_add(out, in, n);
		return;
	}
	*decoded = true;
	if (c8 > 0 && !insist) {
		if (utf8__valid(in, n)) {
			mbuf_add(out, in, n);
			return;
		}
		tried_utf8 = true;
	}
	if (!(insist == false && (eq(cs, cslen, "ASCII") ||
	    eq(cs, cslen, "US-ASCII"))) &&
	    try_declared(in, n, cs, cslen, insist, tried_utf8, out))
		return;
	if (c8 == 0) {
		*decoded = false;
		mbuf_add(out, in, n);
		return;
	}
	/* SpamAssassin's two remaining steps are both Windows-1252: strict
	 * when the 8-bit bytes look like Latin text (no hole can occur
	 * then), else lenient; the same bytes either way. */
	cs__win1252(in, n, out);
}
