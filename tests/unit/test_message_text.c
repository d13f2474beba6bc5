/*
 * test_message_text.c: the texts rules match (body, rawbody, uri, decoded
 * headers, full) agree with what SpamAssassin makes of the same messages
 * (message_golden.h), whatever the chunking; the MIME caps hold; junk
 * never crashes; the URI policy and the DKIM body iterator work.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "filters/decode.h"
#include "filters/message.h"
#include "message_golden.h"

/* The policy of the golden runs: the TLDs the messages use. */
static struct gh_uri_policy	*policy;

/* Feed MSG (LF line ends) as CRLF, the way the proxy does, in CHUNK
 * byte pieces; return the ended message. */
static struct gh_message *
feed(const char *msg, size_t len, size_t chunk,
    const struct gh_msg_limits *l)
{
	struct gh_message	*m;
	char			*crlf;
	size_t			 i, o = 0;

	m = gh_message_new(l);
	assert_non_null(m);
	if (policy != NULL)
		gh_message_set_uri_policy(m, policy);
	crlf = malloc(len * 2 + 1);
	assert_non_null(crlf);
	for (i = 0; i < len; i++) {
		if (msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r'))
			crlf[o++] = '\r';
		crlf[o++] = msg[i];
	}
	for (i = 0; i < o; i += chunk)
		assert_int_equal(gh_message_feed(m, crlf + i,
		    o - i < chunk ? o - i : chunk), 0);
	assert_int_equal(gh_message_end(m), 0);
	free(crlf);
	return m;
}

/* Print a text for a failure message. */
static void
show(const char *what, size_t i, const char *p, size_t n)
{
	print_error("%s[%zu] = \"%.*s\"\n", what, i, (int)(n > 300 ? 300 : n),
	    p);
}

/* Compare texts T[0 .. n) with the wanted W (NULL-terminated). */
static void
check_texts(const char *what, const struct gh_text *t, size_t n,
    const struct want *w)
{
	size_t	i;

	for (i = 0; i < n && w[i].p != NULL; i++) {
		if (t[i].len != w[i].len || memcmp(t[i].p, w[i].p,
		    w[i].len) != 0) {
			show(what, i, t[i].p, t[i].len);
			show("want", i, w[i].p, w[i].len);
			fail();
		}
		assert_int_equal(t[i].p[t[i].len], '\0');
	}
	if (i < n)
		show(what, i, t[i].p, t[i].len);
	if (w[i].p != NULL)
		show("missing", i, w[i].p, w[i].len);
	assert_int_equal(i, n);
	assert_null(w[i].p);
}

/* Order texts bytewise. */
static int
cmp_text(const void *a, const void *b)
{
	const struct gh_text	*x = a, *y = b;
	size_t			 n = x->len < y->len ? x->len : y->len;
	int			 c = memcmp(x->p, y->p, n);

	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

struct golden {
	const char		*name;
	const char		*msg;
	size_t			 len;
	const struct want	*hdr, *body, *raw, *uri;
};

#define G(n, uri) { #n, msg_##n, sizeof(msg_##n) - 1, n##_hdr, n##_body, \
	n##_raw, uri }

static const struct golden goldens[] = {
	G(nested, nested_uri),
	G(qp_b64, qp_b64_uri),
	G(rfc2047, rfc2047_uri),
	G(charsets, charsets_uri),
	G(html, html_uri),
	G(uris, uris_uri),
	G(malformed, malformed_uri),
	G(noend, noend_uri),
	G(deep, deep_uri),
	G(junk, NULL),		/* its URIs: see the IDN note in uri.c */
	G(mbox, mbox_uri),
};

/* One golden message, fed in pieces of CHUNK bytes. */
static void
check_golden(const struct golden *g, size_t chunk)
{
	struct gh_message	*m;
	const struct gh_text	*t;
	struct gh_text		*h, *s;
	size_t			 n, i, k = 0, dl;

	print_message("%s, chunks of %zu\n", g->name, chunk);
	m = feed(g->msg, g->len, chunk, NULL);
	/* "Name: decoded value\n" for every field */
	h = calloc(gh_message_nheaders(m) + 1, sizeof(*h));
	assert_non_null(h);
	for (i = 0; i < gh_message_nheaders(m); i++) {
		const struct gh_header	*f = gh_message_header(m, i);
		const char		*d;
		char			*line;

		if (f->name_len == 0)
			continue;
		d = gh_message_header_decoded(m, i, &dl);
		assert_non_null(d);
		line = malloc(f->name_len + dl + 4);
		assert_non_null(line);
		memcpy(line, f->name, f->name_len);
		memcpy(line + f->name_len, ": ", 2);
		memcpy(line + f->name_len + 2, d, dl);
		line[f->name_len + 2 + dl] = '\n';
		line[f->name_len + 3 + dl] = '\0';
		h[k].p = line;
		h[k++].len = f->name_len + 3 + dl;
	}
	check_texts("header", h, k, g->hdr);
	for (i = 0; i < k; i++)
		free((char *)h[i].p);
	free(h);
	assert_int_equal(gh_message_body_text(m, &t, &n), 0);
	check_texts("body", t, n, g->body);
	assert_int_equal(gh_message_rawbody(m, &t, &n), 0);
	check_texts("rawbody", t, n, g->raw);
	assert_int_equal(gh_message_uris(m, &t, &n), 0);
	if (g->uri != NULL) {
		s = calloc(n + 1, sizeof(*s));
		assert_non_null(s);
		memcpy(s, t, n * sizeof(*s));
		qsort(s, n, sizeof(*s), cmp_text);
		check_texts("uri", s, n, g->uri);
		free(s);
	}
	gh_message_free(m);
}

/* Every golden message, whole and in small pieces. */
static void
test_golden(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(goldens) / sizeof(goldens[0]); i++) {
		check_golden(&goldens[i], 1 << 20);
		check_golden(&goldens[i], 7);
	}
}

/* "full": LF line ends, no mbox line; headers of an mbox message. */
static void
test_full(void **state)
{
	struct gh_message	*m;
	const char		*p;
	size_t			 n;
	static const char	 want[] = "From: sender@example.org\n"
	    "Subject: mbox line\n\nBody with\nlines.\n";

	(void)state;
	m = feed(msg_mbox, sizeof(msg_mbox) - 1, 64, NULL);
	assert_int_equal(gh_message_full(m, &p, &n), 0);
	assert_int_equal(n, sizeof(want) - 1);
	assert_memory_equal(p, want, n);
	/* the mbox line is a field without a name */
	assert_int_equal(gh_message_header(m, 0)->name_len, 0);
	assert_non_null(gh_message_find(m, "subject", 0));
	gh_message_free(m);
}

/* The decoder lent to the rules engine for display names. */
static void
test_decode_words(void **state)
{
	static const char	 in[] = "  =?UTF-8?Q?J=C3=B6rg?= "
	    "=?iso-8859-1?q?M=FCller?= ";
	char			 out[64];
	size_t			 n;

	(void)state;
	n = gh_message_decode_words(NULL, in, sizeof(in) - 1, out,
	    sizeof(out));
	/* white space between encoded words goes (RFC 2047 section 6.2) */
	assert_int_equal(n, 12);
	assert_memory_equal(out, "J\303\266rgM\303\274ller", 12);
	/* cut at a character boundary */
	n = gh_message_decode_words(NULL, in, sizeof(in) - 1, out, 2);
	assert_int_equal(n, 1);
	assert_int_equal(gh_message_decode_words(NULL, in, 5, out, 0), 0);
}

/* Texts exist only once the message is complete. */
static void
test_not_ended(void **state)
{
	struct gh_message	*m;
	const struct gh_text	*t;
	size_t			 n;

	(void)state;
	m = gh_message_new(NULL);
	assert_non_null(m);
	assert_int_equal(gh_message_feed(m, "Subject: x\r\n\r\nbody\r\n",
	    20), 0);
	errno = 0;
	assert_int_equal(gh_message_body_text(m, &t, &n), -1);
	assert_int_equal(errno, EINVAL);
	/* decoded headers do not wait */
	assert_string_equal(gh_message_header_decoded(m, 0, NULL), "x");
	assert_null(gh_message_header_decoded(m, 1, NULL));
	assert_int_equal(gh_message_end(m), 0);
	assert_int_equal(gh_message_body_text(m, &t, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(t[0].p, "x\n");
	assert_string_equal(t[1].p, "body ");
	gh_message_free(m);
}

/* A message nested past mime_max_depth: the deep text is not seen. */
static void
test_depth_cap(void **state)
{
	struct gh_msg_limits	 l;
	struct gh_message	*m;
	const struct gh_text	*t;
	size_t			 n;
	char			 msg[4096];
	int			 i, o;

	(void)state;
	o = snprintf(msg, sizeof(msg), "Subject: d\nContent-Type: "
	    "multipart/mixed; boundary=b0\n\n");
	for (i = 0; i < 5; i++)
		o += snprintf(msg + o, sizeof(msg) - (size_t)o, "--b%d\n"
		    "Content-Type: multipart/mixed; boundary=b%d\n\n", i, i + 1);
	o += snprintf(msg + o, sizeof(msg) - (size_t)o,
	    "--b5\nContent-Type: text/plain\n\nfound it\n--b5--\n");
	memset(&l, 0, sizeof(l));
	l.mime_max_depth = 10;
	m = feed(msg, (size_t)o, 100, &l);
	assert_int_equal(gh_message_body_text(m, &t, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(t[1].p, "found it");
	gh_message_free(m);
	l.mime_max_depth = 3;
	m = feed(msg, (size_t)o, 100, &l);
	assert_int_equal(gh_message_body_text(m, &t, &n), 0);
	assert_int_equal(n, 1);
	gh_message_free(m);
}

/* Parts past mime_max_parts and bytes past mime_max_decoded are cut. */
static void
test_part_and_size_caps(void **state)
{
	struct gh_msg_limits	 l;
	struct gh_message	*m;
	const struct gh_text	*t;
	size_t			 n;
	char			 msg[8192];
	int			 i, o;

	(void)state;
	o = snprintf(msg, sizeof(msg), "Subject: p\nContent-Type: "
	    "multipart/mixed; boundary=b\n\n");
	for (i = 0; i < 50; i++)
		o += snprintf(msg + o, sizeof(msg) - (size_t)o,
		    "--b\nContent-Type: text/plain\n\npart%d\n", i);
	o += snprintf(msg + o, sizeof(msg) - (size_t)o, "--b--\n");
	memset(&l, 0, sizeof(l));
	l.mime_max_parts = 10;
	m = feed(msg, (size_t)o, 512, &l);
	assert_int_equal(gh_message_rawbody(m, &t, &n), 0);
	assert_int_equal(n, 10);
	assert_string_equal(t[9].p, "part9");
	assert_true(gh_message_mime_truncated(m));
	gh_message_free(m);
	memset(&l, 0, sizeof(l));
	l.mime_max_decoded = 20;
	m = feed(msg, (size_t)o, 512, &l);
	assert_int_equal(gh_message_rawbody(m, &t, &n), 0);
	/* 5 bytes a part: four whole parts, then nothing */
	assert_string_equal(t[0].p, "part0");
	assert_string_equal(t[3].p, "part3");
	assert_int_equal(t[4].len, 0);
	assert_true(gh_message_mime_truncated(m));
	gh_message_free(m);
}

/* Base64 and quoted-printable edge cases, directly. */
static void
test_decoders(void **state)
{
	static const struct {
		const char	*in, *out;
		bool		 qp, q;
	} cases[] = {
		{ "aGVsbG8=", "hello", false, false },
		{ "aGVs\r\nbG8=\r\n", "hello", false, false },
		/* an '=' inside a clean input counts as 'A' */
		{ "aG=sbG8=", "h`,lo", false, false },
		{ "aG=s", "h`,", false, false },
		/* junk: uudecode fallback, '=' inside counts as '/' */
		{ "aG!Vs*bG8", "hello", false, false },
		{ "aG=s!", "ho\354", false, false },
		{ "a", "", false, false },
		{ "soft=\r\nbreak", "softbreak", true, false },
		{ "trail  \r\nx", "trail\r\nx", true, false },
		{ "=41=4a=zz=4", "AJ=zz=4", true, false },
		{ "a_b=5Fc", "a b_c", true, true },
		/* a soft break joins '=' with hex digits for pass 3 */
		{ "=4=\r\n1 \t=\n2", "A \t2", true, false },
		{ "x \t \ny\t", "x\ny\t", true, false },
		{ "", "", true, false },
	};
	struct mbuf	b;
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&b, 0, sizeof(b));
		if (cases[i].qp)
			qp__decode(cases[i].in, strlen(cases[i].in),
			    cases[i].q, &b);
		else
			b64__decode(cases[i].in, strlen(cases[i].in), &b);
		print_message("case %zu\n", i);
		assert_int_equal(b.len, strlen(cases[i].out));
		assert_memory_equal(b.p ? b.p : "", cases[i].out, b.len);
		mbuf_free(&b);
	}
	/* qp appends to what the buffer holds */
	memset(&b, 0, sizeof(b));
	mbuf_adds(&b, "pre:");
	qp__decode("=41b", 4, false, &b);
	assert_string_equal(b.p, "pre:Ab");
	mbuf_free(&b);
	/* a buffer with a cap takes the byte-by-byte path, same output */
	memset(&b, 0, sizeof(b));
	b.max = 3;
	qp__decode("=41bcdef", 8, false, &b);
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.p, "Abcdef", 6);
	mbuf_free(&b);
}

/* The top part's fields decode as the header fields do, whether the
 * decoding is shared (same bytes) or not (a value over 8 KB). */
static void
test_parts_share_decoding(void **state)
{
	static const char head[] =
	    "Subject: =?UTF-8?Q?caf=C3=A9?= and\n"
	    "  more =?ISO-8859-1?B?6Q==?=\n"
	    "From: =?UTF-8?B?SsO2cmc=?= <j@example.org>\n"
	    "X-Empty:\n"
	    "X-Long: ";
	static const char tail[] = "\nMessage-ID: <=?UTF-8?Q?x?=@y>\n\nbody\n";
	const struct gh_part	*parts;
	struct gh_message	*m;
	char			*msg;
	size_t			 n, i, hl = strlen(head), len, dl;
	const char		*d;
	int			 order;

	(void)state;
	len = hl + 9000 + strlen(tail);
	msg = malloc(len + 1);
	assert_non_null(msg);
	memcpy(msg, head, hl);
	memset(msg + hl, 'a', 9000);
	memcpy(msg + hl + 9000, tail, strlen(tail) + 1);
	/* both orders: parts first, then the header fields; and back */
	for (order = 0; order < 2; order++) {
		m = feed(msg, len, 4096, NULL);
		if (order == 1)
			for (i = 0; i < gh_message_nheaders(m); i++)
				assert_non_null(gh_message_header_decoded(m, i,
				    NULL));
		assert_int_equal(gh_message_parts(m, &parts, &n), 0);
		assert_true(n >= 1);
		assert_int_equal(parts[0].n, 5);
		for (i = 0; i < 4; i++) {
			if (i == 3)
				continue;	/* X-Long: capped at 8 KB there */
			d = gh_message_header_decoded(m, i, &dl);
			assert_non_null(d);
			assert_int_equal(parts[0].fields[i].value.len, dl);
			assert_memory_equal(parts[0].fields[i].value.p, d, dl);
		}
		assert_string_equal(parts[0].fields[0].value.p,
		    "caf\xc3\xa9 and more \xc3\xa9");
		assert_string_equal(parts[0].fields[1].value.p,
		    "J\xc3\xb6rg <j@example.org>");
		assert_int_equal(parts[0].fields[3].value.len, 9000);
		assert_int_equal(gh_message_header_decoded(m, 3, &dl)[0], 'a');
		assert_int_equal(dl, 8191);	/* 8192 raw bytes, trimmed */
		/* Message-ID is not decoded, shared or not */
		assert_string_equal(parts[0].fields[4].value.p,
		    "<=?UTF-8?Q?x?=@y>");
		gh_message_free(m);
	}
	free(msg);
}

/* A TLD list decides which bare host names are links; redirectors. */
static void
test_uri_policy(void **state)
{
	static const char	 msg[] = "Subject: u\n\nsee shop.example.zz "
	    "and shop.example.qq and http://r.example.zz/?u=x.example.qq\n";
	struct gh_uri_policy	*p;
	struct gh_message	*m;
	const struct gh_text	*t;
	size_t			 n, i;
	char			 err[128];
	bool			 zz = false, qq = false, tgt = false;

	(void)state;
	p = gh_uri_policy_new();
	assert_non_null(p);
	assert_int_equal(gh_uri_policy_add_tlds(p, " zz  yy\n"), 0);
	assert_int_equal(gh_uri_policy_add_redirector(p,
	    "^https?://r\\.example\\.zz/\\?u=(.*)$", 34, true, err,
	    sizeof(err)), 0);
	assert_int_equal(gh_uri_policy_add_redirector(p, "(", 1, false, err,
	    sizeof(err)), -1);
	assert_int_equal(gh_uri_policy_compile(p), 0);
	assert_int_equal(gh_uri_policy_add_tlds(p, "xx"), -1);
	policy = p;
	m = feed(msg, sizeof(msg) - 1, 1000, NULL);
	policy = NULL;
	assert_int_equal(gh_message_uris(m, &t, &n), 0);
	for (i = 0; i < n; i++) {
		zz |= strcmp(t[i].p, "http://shop.example.zz") == 0;
		qq |= strstr(t[i].p, "shop.example.qq") != NULL;
		tgt |= strcmp(t[i].p, "x.example.qq") == 0;
	}
	assert_true(zz);
	assert_false(qq);
	assert_true(tgt);
	gh_message_free(m);
	gh_uri_policy_free(p);
}

/*
 * A NUL inside an HTML link (base64 lets one through) is part of the link,
 * as in SpamAssassin ("http://first.example/a\x{00}b" in its uri debug
 * output), and the links after it are all there: the list html.c hands
 * over once separated links by NULs, so one NUL hid the rest.
 */
static void
test_uri_html_nul(void **state)
{
	/* <a href="http://first.example/a\0b">l</a>
	 * <a href="http://second.example/x">m</a>
	 * <img src="http://third.example/y"> */
	static const char	 msg[] = "Subject: n\n"
	    "Content-Type: text/html\n"
	    "Content-Transfer-Encoding: base64\n\n"
	    "PGEgaHJlZj0iaHR0cDovL2ZpcnN0LmV4YW1wbGUvYQBiIj5sPC9hPiA8YSBocmVm"
	    "PSJodHRw\nOi8vc2Vjb25kLmV4YW1wbGUveCI+bTwvYT4gPGltZyBzcmM9Imh0dHA6"
	    "Ly90aGlyZC5leGFt\ncGxlL3kiPgo=\n";
	struct gh_message	*m;
	const struct gh_text	*t;
	size_t			 n, i;
	bool			 first = false, second = false, third = false;

	(void)state;
	m = feed(msg, sizeof(msg) - 1, 1000, NULL);
	assert_int_equal(gh_message_uris(m, &t, &n), 0);
	for (i = 0; i < n; i++) {
		first |= t[i].len == 24 &&
		    memcmp(t[i].p, "http://first.example/a\0b", 24) == 0;
		second |= t[i].len == 23 &&
		    memcmp(t[i].p, "http://second.example/x", 23) == 0;
		third |= t[i].len == 22 &&
		    memcmp(t[i].p, "http://third.example/y", 22) == 0;
	}
	if (!first || !second || !third)
		for (i = 0; i < n; i++)
			show("uri", i, t[i].p, t[i].len);
	assert_true(first);
	assert_true(second);
	assert_true(third);
	gh_message_free(m);
}

struct sum {
	size_t	n;
	int	stop;
};

/* Count body bytes. */
static int
count_cb(void *arg, const char *p, size_t n)
{
	struct sum	*s = arg;

	(void)p;
	s->n += n;
	return s->stop;
}

/* The DKIM body iterator covers the body, in memory and in a file. */
static void
test_body_foreach(void **state)
{
	struct gh_msg_limits	 l;
	struct gh_message	*m;
	struct sum		 s;
	char			 line[100];
	size_t			 i;

	(void)state;
	memset(&l, 0, sizeof(l));
	l.mem_max = 1000;
	m = gh_message_new(&l);
	assert_non_null(m);
	assert_int_equal(gh_message_feed(m, "A: b\r\n\r\n", 8), 0);
	memset(line, 'x', sizeof(line));
	line[98] = '\r';
	line[99] = '\n';
	for (i = 0; i < 2000; i++)
		assert_int_equal(gh_message_feed(m, line, sizeof(line)), 0);
	assert_int_equal(gh_message_end(m), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(gh_message_body_foreach(m, count_cb, &s), 0);
	assert_int_equal(s.n, 200000);
	s.n = 0;
	s.stop = 7;
	assert_int_equal(gh_message_body_foreach(m, count_cb, &s), 7);
	gh_message_free(m);
}

/* Pseudo-random junk: every call succeeds and nothing crashes. */
static void
test_junk(void **state)
{
	static const char *const frags[] = {
		"--b\n", "--b--\n",
		("Content-Type: multipart/mixed; " "boundary=b\n"),
		"Content-Type: text/html\n",
		"Content-Transfer-Encoding: base64\n",
		"Content-Transfer-Encoding: quoted-printable\n",
		"Content-Type: message/rfc822\n", "\n", "<a href=\"http://",
		"&#x", "=?utf-8?q?=C3?=", "=\n", "<style>", "<!--",
		"www.x.com ", "\xff\xfe", "\0", "<![CDATA[", "=3D", "====",
		"Subject: j\n", "x@y.z ", "\r", "<p>", "</",
	};
	struct gh_message	*m;
	const struct gh_text	*t;
	const char		*p;
	size_t			 n, k, len;
	unsigned		 seed = 12345, iter, j;
	char			 msg[4096];

	(void)state;
	for (iter = 0; iter < 300; iter++) {
		len = 0;
		for (j = 0; j < 60; j++) {
			seed = seed * 1103515245 + 12345;
			k = (seed >> 16) % (sizeof(frags) / sizeof(frags[0]));
			n = frags[k][0] == '\0' ? 1 : strlen(frags[k]);
			if (len + n > sizeof(msg))
				break;
			memcpy(msg + len, frags[k], n);
			len += n;
		}
		m = gh_message_new(NULL);
		assert_non_null(m);
		assert_int_equal(gh_message_feed(m, msg, len), 0);
		assert_int_equal(gh_message_end(m), 0);
		assert_int_equal(gh_message_body_text(m, &t, &n), 0);
		assert_true(n >= 1);
		assert_int_equal(gh_message_rawbody(m, &t, &n), 0);
		assert_int_equal(gh_message_uris(m, &t, &n), 0);
		assert_int_equal(gh_message_full(m, &p, &n), 0);
		for (k = 0; k < gh_message_nheaders(m); k++)
			assert_non_null(gh_message_header_decoded(m, k,
			    NULL));
		gh_message_free(m);
	}
}

/* The golden runs' TLDs. */
static int
setup(void **state)
{
	(void)state;
	policy = gh_uri_policy_new();
	if (policy == NULL ||
	    gh_uri_policy_add_tlds(policy, "com net org uk de jp") == -1 ||
	    gh_uri_policy_compile(policy) == -1)
		return -1;
	return 0;
}

/* Free the policy. */
static int
teardown(void **state)
{
	(void)state;
	gh_uri_policy_free(policy);
	policy = NULL;
	return 0;
}

/*
 * Links in text sit in runs of non-space bytes holding an '@', the ':'
 * of "://" or "mailto:", or a '.' that a link byte follows; the regex
 * searches only those runs (uri.c, next_token()), with the same
 * results as over whole lines: links at the edges of runs, next to
 * punctuation, lookbehinds before a run, ports, case, sentence ends.
 */
static void
test_uri_text_runs(void **state)
{
	static const char	 msg[] = "Subject: u\n\n"
	    "see www.example.com. and (http://a.example.net/x) then "
	    "mailto:joe@example.org, 10:30 Re: x\n\n"
	    "foo@bar.com. word. word.. www..com <http://b.example.com> "
	    "\"c.example.org\" [d.example.de]\n\n"
	    "ftp.example.jp|e.example.uk{f.example.com} "
	    "x.example.com:8080/path?q=1 sub.example.co.uk\n\n"
	    "MAILTO:Bob@Example.COM  HTTPS://UPPER.EXAMPLE.COM/ "
	    "end.example.com\n\n"
	    "tab\there.example.net\x1bnot a.example.com.\xa0" "b.example.com "
	    "g.example.com: h.example.com:x\n\n"
	    "e-mail: me@x.example.com;again@y.example.com "
	    "ftp://k.example.org... ..l.example.net\n\n"
	    "x@localhost http://localhost/p mailto:postmaster x:/y\n\n"
	    "line ending with www.example.org\n";
	/* as the search over whole lines found them (before next_token()) */
	static const char *const want[] = {
	    "http://www.example.com", "http://a.example.net/x",
	    "mailto:joe@example.org", "mailto:foo@bar.com", "http://b.example.com",
	    "http://c.example.org", "http://d.example.de", "ftp://ftp.example.jp",
	    "http://e.example.uk", "http://f.example.com",
	    "http://x.example.com:8080/path?q=1", "http://sub.example.co.uk",
	    "MAILTO:Bob@Example.COM", "HTTPS://UPPER.EXAMPLE.COM/",
	    "http://end.example.com", "http://here.example.net",
	    "http://a.example.com", "ftp://k.example.org", "http://www.example.org", NULL
	};
	struct gh_message	*m;
	const struct gh_text	*t;
	size_t			 n, i, k;

	(void)state;
	assert_int_equal(setup(NULL), 0);
	m = feed(msg, sizeof(msg) - 1, 1000, NULL);
	assert_int_equal(gh_message_uris(m, &t, &n), 0);
	for (k = 0; want[k] != NULL; k++)
		;
	for (i = 0; i < n; i++)
		if (i >= k || strcmp(t[i].p, want[i]) != 0)
			show("uri", i, t[i].p, t[i].len);
	assert_int_equal(n, k);
	for (i = 0; i < n; i++)
		assert_string_equal(t[i].p, want[i]);
	gh_message_free(m);
	assert_int_equal(teardown(NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_golden, setup, teardown),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_not_ended),
		cmocka_unit_test(test_decode_words),
		cmocka_unit_test(test_depth_cap),
		cmocka_unit_test(test_part_and_size_caps),
		cmocka_unit_test(test_decoders),
		cmocka_unit_test(test_parts_share_decoding),
		cmocka_unit_test(test_uri_policy),
		cmocka_unit_test(test_uri_html_nul),
		cmocka_unit_test(test_body_foreach),
		cmocka_unit_test(test_junk),
		cmocka_unit_test(test_uri_text_runs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
