/*
 * fuzz_smtp_data.c — the DATA reader and dot-stuffing on arbitrary bytes.
 *
 * Properties (each violation aborts):
 *  - chunking does not matter: the input whole and split at a point the
 *    input chooses give the same message, end and flags;
 *  - the end of data is preceded by CRLF "." CRLF on the wire;
 *  - when normalising, the message is canonical (no bare CR, LF, NUL);
 *  - round trip: the message dot-stuffed again plus ".\r\n", read by a
 *    new reader, ends exactly at the end and gives the same message —
 *    the backend sees the message boundary the proxy saw.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/smtp_parse.h"

struct out {
	char	*p;
	size_t	 len, cap;
};

static int
sink(void *ctx, const char *p, size_t n)
{
	struct out	*o = ctx;

	if (o->len + n > o->cap) {
		size_t cap = (o->len + n) * 2 + 64;
		char *np = realloc(o->p, cap);

		if (np == NULL)
			abort();
		o->p = np;
		o->cap = cap;
	}
	memcpy(o->p + o->len, p, n);
	o->len += n;
	return 0;
}

/* Read `in` split at `cut`; return the result, bytes used, the output. */
static enum smtp_data_res
read_all(const char *in, size_t len, size_t cut, bool norm, size_t *used,
    unsigned *flags, struct out *o)
{
	struct smtp_data	 d;
	enum smtp_data_res	 r;
	size_t			 u;

	smtp_data_init(&d, 1000, 0, norm);
	r = smtp_data_feed(&d, in, cut, &u, sink, o);
	*used = u;
	if (r == SMTP_DATA_MORE) {
		r = smtp_data_feed(&d, in + cut, len - cut, &u, sink, o);
		*used += u;
	}
	*flags = d.flags;
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct out		 a = { 0 }, b = { 0 }, st = { 0 }, back = { 0 };
	enum smtp_data_res	 ra, rb, rr;
	size_t			 ua, ub, ur, i, cut;
	unsigned		 fa, fb, fr;
	bool			 norm, bol = true;

	if (size < 2)
		return 0;
	norm = data[0] & 1;
	cut = data[1] % (size - 1);
	data += 2;
	size -= 2;
	ra = read_all((const char *)data, size, size, norm, &ua, &fa, &a);
	rb = read_all((const char *)data, size, cut, norm, &ub, &fb, &b);
	if (ra != rb || ua != ub || fa != fb || a.len != b.len ||
	    (a.len && memcmp(a.p, b.p, a.len) != 0))
		abort();
	if (ra == SMTP_DATA_END && (ua < 3 ||
	    memcmp(data + ua - 3, ".\r\n", 3) != 0 ||
	    (ua > 3 && (ua < 5 || memcmp(data + ua - 5, "\r\n", 2) != 0))))
		abort();
	if (norm)
		for (i = 0; i < a.len; i++)
			if (a.p[i] == '\0' || (a.p[i] == '\r' &&
			    (i + 1 == a.len || a.p[i + 1] != '\n')) ||
			    (a.p[i] == '\n' && (i == 0 || a.p[i - 1] != '\r')))
				abort();
	if (ra == SMTP_DATA_END && fa == 0) {
		/* What the backend gets, read back. */
		smtp_dotstuff(&bol, a.p ? a.p : "", a.len, sink, &st);
		if (!bol)
			sink(&st, "\r\n", 2);
		sink(&st, ".\r\n", 3);
		rr = read_all(st.p, st.len, st.len / 2, false, &ur, &fr,
		    &back);
		if (rr != SMTP_DATA_END || ur != st.len || fr != 0)
			abort();
		if (back.len != a.len + (a.len && a.p[a.len - 1] != '\n' ?
		    2 : 0) || (a.len && memcmp(back.p, a.p, a.len) != 0))
			abort();
	}
	free(a.p);
	free(b.p);
	free(st.p);
	free(back.p);
	return 0;
}
