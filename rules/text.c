/*
 * text.c -- building the texts of rules_input the way SpamAssassin 4.0
 * builds them (Mail::SpamAssassin::Message): the rendered body array
 * (get_body_text_array_common) and the splitting of long texts.
 *
 * These are pure text functions: the message model decodes and renders
 * MIME parts; these put the results together so that body and rawbody
 * rules see exactly the lines SpamAssassin's rules see.
 *
 * Failure: rules_body_text() returns NULL when memory runs out.
 */
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"

#define MAX_BODY_LINE_LENGTH	2048	/* Message.pm */
#define BODY_PART_SCAN_SIZE	50000	/* Conf.pm body_part_scan_size */

/* Store piece N if there is room. */
static void
put(struct rules_text *out, size_t max, size_t n, const char *p,
    size_t len)
{
	if (n < max) {
		out[n].ptr = p;
		out[n].len = len;
	}
}

/* Last index of byte C in P[0..upto], or -1 (Perl rindex). */
static long
rindex_upto(const char *p, size_t len, int c, size_t upto)
{
	size_t i = upto < len ? upto + 1 : len;

	while (i-- > 0)
		if (p[i] == c)
			return (long)i;
	return -1;
}

/* split_into_array_of_short_lines: lines (with "\n"), <= 2048 bytes. */
size_t
rules_split_lines(struct rules_text text, struct rules_text *out,
    size_t max, size_t *needed)
{
	const char *p = text.ptr, *e = text.ptr + text.len;
	size_t n = 0;

	while (p < e) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		size_t len = nl != NULL ? (size_t)(nl + 1 - p) :
		    (size_t)(e - p);

		while (len > MAX_BODY_LINE_LENGTH) {
			long sp = rindex_upto(p, len, ' ',
			    MAX_BODY_LINE_LENGTH);
			size_t cut = (size_t)(sp + 1);
			if (cut == 0)
				cut = MAX_BODY_LINE_LENGTH;
			put(out, max, n++, p, cut);
			p += cut;
			len -= cut;
		}
		put(out, max, n++, p, len);
		p += len;
	}
	if (needed != NULL)
		*needed = n;
	return n < max ? n : max;
}

/* First index of C in P at or after FROM, or -1 (Perl index). */
static long
index_from(const char *p, size_t len, int c, size_t from)
{
	const char *q;

	if (from >= len)
		return -1;
	q = memchr(p + from, c, len - from);
	return q != NULL ? (long)(q - p) : -1;
}

/* split_into_array_of_short_paragraphs: 1-2 x 2048 byte chunks. */
size_t
rules_split_paragraphs(struct rules_text text, struct rules_text *out,
    size_t max, size_t *needed)
{
	const char *p = text.ptr;
	size_t len = text.len, ofs, n = 0;
	const size_t L = MAX_BODY_LINE_LENGTH;
	long j;

	if (len <= L) {
		put(out, max, n++, p, len);
		goto done;
	}
	for (ofs = 0; len - ofs > 2 * L; ofs = (size_t)j + 1) {
		j = index_from(p, len, '\n', ofs + L);
		if (j < 0 || (size_t)j - ofs + 1 > 2 * L) {
			j = index_from(p, len, '>', ofs + L);
			if (j < 0 || (size_t)j - ofs + 1 > 2 * L) {
				j = index_from(p, len, ' ', ofs + L);
				if (j < 0 || (size_t)j - ofs + 1 > 2 * L)
					j = (long)(ofs + L);
			}
		}
		put(out, max, n++, p + ofs, (size_t)j - ofs + 1);
	}
	if (ofs < len)
		put(out, max, n++, p + ofs, len - ofs);
done:
	if (needed != NULL)
		*needed = n;
	return n < max ? n : max;
}

/*
 * Length of the Unicode white space character at P (as Perl's \s on a
 * character string: \t \n \v \f \r, space, U+0085, U+00A0, U+1680,
 * U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000), or 0.
 */
static size_t
uspace(const unsigned char *p, const unsigned char *e)
{
	if (*p == ' ' || (*p >= '\t' && *p <= '\r'))
		return 1;
	if (e - p >= 2 && p[0] == 0xc2 && (p[1] == 0x85 || p[1] == 0xa0))
		return 2;
	if (e - p >= 3 && p[0] == 0xe1 && p[1] == 0x9a && p[2] == 0x80)
		return 3;
	if (e - p >= 3 && p[0] == 0xe2 && p[1] == 0x80 && ((p[2] >= 0x80 &&
	    p[2] <= 0x8a) || p[2] == 0xa8 || p[2] == 0xa9 || p[2] == 0xaf))
		return 3;
	if (e - p >= 3 && p[0] == 0xe2 && p[1] == 0x81 && p[2] == 0x9f)
		return 3;
	if (e - p >= 3 && p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80)
		return 3;
	return 0;
}

/* Cut a rendered part at body_part_scan_size as SpamAssassin does. */
static size_t
scan_cut(const char *p, size_t len)
{
	const char *q;

	if (len <= BODY_PART_SCAN_SIZE)
		return len;
	q = memchr(p + BODY_PART_SCAN_SIZE, '\n', len - BODY_PART_SCAN_SIZE);
	if (q != NULL && (size_t)(q - p) - BODY_PART_SCAN_SIZE <= 1024)
		return (size_t)(q - p) + 1;
	q = memchr(p + BODY_PART_SCAN_SIZE, ' ', len - BODY_PART_SCAN_SIZE);
	if (q != NULL && (size_t)(q - p) - BODY_PART_SCAN_SIZE <= 1024)
		return (size_t)(q - p) + 1;
	return BODY_PART_SCAN_SIZE;
}

/*
 * SpamAssassin's rendered body text: SUBJECT, then the parts joined by
 * newlines, blank lines turned into paragraph breaks and other white
 * space into single spaces.  See rules.h.
 */
char *
rules_body_text(const struct rules_text *subject,
    const struct rules_text *parts, size_t nparts, size_t *lenp)
{
	struct sbuf text = { 0 }, out = { 0 };
	const unsigned char *p, *e;
	size_t i, w;

	/* $text .= "\n" if $text ne ''; $text .= $rendered */
	for (i = 0; i < nparts; i++) {
		if (text.len > 0)
			rules__sb_addc(&text, '\n');
		if (parts[i].ptr != NULL)
			rules__sb_add(&text, parts[i].ptr,
			    scan_cut(parts[i].ptr, parts[i].len));
	}
	/* $subject: the decoded Subject and "\n", or "\n" */
	if (subject != NULL && subject->ptr != NULL && subject->len > 0)
		rules__sb_add(&out, subject->ptr, subject->len);
	rules__sb_addc(&out, '\n');
	p = (const unsigned char *)(text.p != NULL ? text.p : "");
	e = p + text.len;
	while (p < e) {
		if ((w = uspace(p, e)) == 0) {
			/* tr/\x00/\n/ turns NULs into newlines too */
			rules__sb_addc(&out, *p == '\0' ? '\n' : *p);
			p++;
			continue;
		}
		/*
		 * A run of white space.  s/\n+\s*\n+/\x00/ takes it from
		 * its first to its last newline when it holds two or more;
		 * s/\s+/ / makes what is left on either side one space.
		 */
		{
			const unsigned char *r = p, *firstnl = NULL;
			const unsigned char *lastnl = NULL;
			while (r < e && (w = uspace(r, e)) > 0) {
				if (*r == '\n') {
					if (firstnl == NULL)
						firstnl = r;
					lastnl = r;
				}
				r += w;
			}
			if (firstnl != NULL && lastnl != firstnl) {
				/* spaces before the first \n stay a space */
				if (firstnl > p)
					rules__sb_addc(&out, ' ');
				rules__sb_addc(&out, '\n');
				if (r > lastnl + 1)
					rules__sb_addc(&out, ' ');
			} else
				rules__sb_addc(&out, ' ');
			p = r;
		}
	}
	free(text.p);
	if (text.oom)
		out.oom = true;
	*lenp = out.len;
	return rules__sb_take(&out);
}
