/*
 * test_message.c: header parsing of the message model: any chunking gives
 * the same fields, folding, malformed lines, caps, messages without a body.
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

#include "message.h"

static const char sample[] =
    "Received: from mx.example.org (mx.example.org [192.0.2.1])\r\n"
    "\tby gate.example.net with ESMTP id 42\r\n"
    "From: Alice <alice@example.org>\r\n"
    "To: bob@example.net,\r\n"
    "  carol@example.net\r\n"
    "Subject : obsolete space before colon\r\n"
    "X-Empty:\r\n"
    "received: second one\r\n"
    "\r\n"
    "Body line 1\r\n"
    "\r\n"
    "Body: not a header\r\n";

struct want {
	const char	*name;
	const char	*raw;
};

static const struct want sample_fields[] = {
	{ "Received", " from mx.example.org (mx.example.org [192.0.2.1])\r\n"
	    "\tby gate.example.net with ESMTP id 42" },
	{ "From", " Alice <alice@example.org>" },
	{ "To", " bob@example.net,\r\n  carol@example.net" },
	{ "Subject", " obsolete space before colon" },
	{ "X-Empty", "" },
	{ "received", " second one" },
};

/* Parse MSG fed in chunks of the given sizes (0-terminated, then rest). */
static struct gh_message *
parse_chunked(const char *msg, size_t len, const size_t *chunks)
{
	struct gh_message	*m;
	size_t			 off = 0, k;

	m = gh_message_new(NULL);
	assert_non_null(m);
	for (; chunks != NULL && *chunks != 0 && off < len; chunks++) {
		k = *chunks < len - off ? *chunks : len - off;
		assert_int_equal(gh_message_feed(m, msg + off, k), 0);
		off += k;
	}
	assert_int_equal(gh_message_feed(m, msg + off, len - off), 0);
	assert_int_equal(gh_message_end(m), 0);
	return m;
}

/* Check that M holds the sample's fields, offsets and body. */
static void
check_sample(const struct gh_message *m)
{
	const struct gh_header	*h;
	size_t			 i, n = sizeof(sample_fields) /
				    sizeof(sample_fields[0]);
	uint64_t		 off = 0;
	char			 buf[sizeof(sample)];

	assert_true(gh_message_headers_done(m));
	assert_int_equal(gh_message_nheaders(m), n);
	for (i = 0; i < n; i++) {
		h = gh_message_header(m, i);
		assert_non_null(h);
		assert_int_equal(h->name_len, strlen(sample_fields[i].name));
		assert_memory_equal(h->name, sample_fields[i].name,
		    h->name_len);
		assert_int_equal(h->raw_len, strlen(sample_fields[i].raw));
		assert_memory_equal(h->raw, sample_fields[i].raw, h->raw_len);
		assert_int_equal(h->offset, off);
		assert_memory_equal(sample + off, h->name, h->name_len);
		assert_true(h->len >= 2);
		assert_memory_equal(sample + off + h->len - 2, "\r\n", 2);
		off += h->len;
	}
	assert_null(gh_message_header(m, n));
	/* The empty line follows the last field. */
	assert_int_equal(gh_message_body_offset(m), off + 2);
	assert_int_equal(gh_message_size(m), sizeof(sample) - 1);
	assert_int_equal(gh_message_pread(m, buf, sizeof(buf), 0),
	    sizeof(sample) - 1);
	assert_memory_equal(buf, sample, sizeof(sample) - 1);
}

/* Whole, in two pieces at every split point, and byte by byte. */
static void
test_chunking(void **state)
{
	struct gh_message	*m;
	size_t			 len = sizeof(sample) - 1, split;
	size_t			 chunks[2] = { 0, 0 };
	size_t			 ones[sizeof(sample)];

	(void)state;
	m = parse_chunked(sample, len, NULL);
	check_sample(m);
	gh_message_free(m);
	for (split = 1; split < len; split++) {
		chunks[0] = split;
		m = parse_chunked(sample, len, chunks);
		check_sample(m);
		gh_message_free(m);
	}
	for (split = 0; split < len; split++)
		ones[split] = 1;
	ones[len] = 0;
	m = parse_chunked(sample, len, ones);
	check_sample(m);
	gh_message_free(m);
}

/* Headers are available as soon as the empty line arrived. */
static void
test_incremental(void **state)
{
	struct gh_message	*m;
	const char		*body = strstr(sample, "\r\n\r\n") + 4;
	size_t			 hlen = (size_t)(body - sample), len;
	const char		*hb;

	(void)state;
	m = gh_message_new(NULL);
	assert_non_null(m);
	assert_int_equal(gh_message_feed(m, sample, hlen - 1), 0);
	assert_false(gh_message_headers_done(m));
	assert_int_equal(gh_message_feed(m, sample + hlen - 1, 1), 0);
	assert_true(gh_message_headers_done(m));
	assert_int_equal(gh_message_nheaders(m), 6);
	assert_int_equal(gh_message_body_offset(m), hlen);
	hb = gh_message_header_bytes(m, &len);
	assert_int_equal(len, hlen);
	assert_memory_equal(hb, sample, hlen);
	assert_int_equal(gh_message_feed(m, body, strlen(body)), 0);
	assert_int_equal(gh_message_end(m), 0);
	check_sample(m);
	/* Nothing may be fed after the end. */
	errno = 0;
	assert_int_equal(gh_message_feed(m, "x", 1), -1);
	assert_int_equal(errno, EINVAL);
	gh_message_free(m);
}

/* Find by name, case-insensitively, nth; count; unfold. */
static void
test_find_unfold(void **state)
{
	struct gh_message	*m;
	const struct gh_header	*h;
	char			*v;
	size_t			 len;

	(void)state;
	m = parse_chunked(sample, sizeof(sample) - 1, NULL);
	h = gh_message_find(m, "RECEIVED", 1);
	assert_non_null(h);
	assert_memory_equal(h->raw, " second one", 11);
	assert_null(gh_message_find(m, "received", 2));
	assert_int_equal(gh_message_count(m, "Received"), 2);
	assert_null(gh_message_find(m, "Body", 0));
	assert_null(gh_message_find(m, "", 0));
	h = gh_message_find(m, "to", 0);
	v = gh_header_unfold(h, &len);
	assert_string_equal(v, "bob@example.net,  carol@example.net");
	assert_int_equal(len, strlen(v));
	free(v);
	h = gh_message_find(m, "received", 0);
	v = gh_header_unfold(h, NULL);
	assert_string_equal(v, "from mx.example.org (mx.example.org "
	    "[192.0.2.1])\tby gate.example.net with ESMTP id 42");
	free(v);
	h = gh_message_find(m, "x-empty", 0);
	v = gh_header_unfold(h, &len);
	assert_int_equal(len, 0);
	assert_string_equal(v, "");
	free(v);
	gh_message_free(m);
}

/* Malformed lines are entries without a name; parsing goes on. */
static void
test_malformed(void **state)
{
	static const char	 msg[] =
	    "From alice@example.org Sat Jan  3 01:05:34 1996\r\n"
	    "Subject: hello\r\n"
	    "this line has no colon\r\n"
	    "\tand a continuation\r\n"
	    ": empty name\r\n"
	    "Bad name here: value\r\n"
	    "X-Last: yes\r\n"
	    "\r\n"
	    "body\r\n";
	struct gh_message	*m;
	const struct gh_header	*h;

	(void)state;
	m = parse_chunked(msg, sizeof(msg) - 1, NULL);
	assert_int_equal(gh_message_nheaders(m), 6);
	h = gh_message_header(m, 0);
	assert_int_equal(h->name_len, 0);
	assert_int_equal(h->offset, 0);
	assert_int_equal(h->raw_len, 47);
	assert_memory_equal(h->raw, "From alice@example.org Sat Jan  3 "
	    "01:05:34 1996", 47);
	h = gh_message_header(m, 1);
	assert_int_equal(h->name_len, 7);
	h = gh_message_header(m, 2);
	assert_int_equal(h->name_len, 0);
	assert_int_equal(h->raw_len, 22 + 2 + 19);
	h = gh_message_header(m, 3);
	assert_int_equal(h->name_len, 0);
	/* SpamAssassin keeps "Bad name here" as a name: so do we. */
	h = gh_message_header(m, 4);
	assert_int_equal(h->name_len, 13);
	assert_non_null(gh_message_find(m, "x-last", 0));
	assert_null(gh_message_find(m, "From", 0));
	assert_int_equal(gh_message_body_offset(m), sizeof(msg) - 1 - 6);
	gh_message_free(m);
}

/* A "From " line is an mbox separator only as the first line. */
static void
test_mbox_from(void **state)
{
	static const char	 a[] = "From: alice@example.org\r\n\r\n";
	static const char	 b[] = "From : alice@example.org\r\n\r\n";
	static const char	 c[] = "X: y\r\nFrom bob 01:02\r\n\r\n";
	struct gh_message	*m;

	(void)state;
	m = parse_chunked(a, sizeof(a) - 1, NULL);
	assert_non_null(gh_message_find(m, "from", 0));
	gh_message_free(m);
	m = parse_chunked(b, sizeof(b) - 1, NULL);
	assert_non_null(gh_message_find(m, "from", 0));
	gh_message_free(m);
	m = parse_chunked(c, sizeof(c) - 1, NULL);
	assert_int_equal(gh_message_header(m, 1)->name_len, 11);
	gh_message_free(m);
}

/* No empty line: all headers, the last one unterminated. */
static void
test_no_body(void **state)
{
	static const char	 msg[] = "A: 1\r\nB: 2\r\n continued";
	static const char	 msg2[] = "A: 1\r\nB: 2\r\n";
	struct gh_message	*m;
	const struct gh_header	*h;

	(void)state;
	m = parse_chunked(msg, sizeof(msg) - 1, NULL);
	assert_true(gh_message_headers_done(m));
	assert_int_equal(gh_message_nheaders(m), 2);
	h = gh_message_find(m, "b", 0);
	assert_int_equal(h->raw_len, 14);
	assert_memory_equal(h->raw, " 2\r\n continued", 14);
	assert_int_equal(h->len, 16);
	assert_int_equal(gh_message_body_offset(m), sizeof(msg) - 1);
	gh_message_free(m);

	m = parse_chunked(msg2, sizeof(msg2) - 1, NULL);
	assert_int_equal(gh_message_nheaders(m), 2);
	assert_int_equal(gh_message_body_offset(m), sizeof(msg2) - 1);
	gh_message_free(m);

	/* Empty message; message that is only the empty line. */
	m = parse_chunked("", 0, NULL);
	assert_int_equal(gh_message_nheaders(m), 0);
	assert_int_equal(gh_message_body_offset(m), 0);
	gh_message_free(m);
	m = parse_chunked("\r\nbody\r\n", 8, NULL);
	assert_int_equal(gh_message_nheaders(m), 0);
	assert_int_equal(gh_message_body_offset(m), 2);
	gh_message_free(m);
}

/* Bare LF line ends are accepted. */
static void
test_bare_lf(void **state)
{
	static const char	 msg[] = "A: 1\nB: 2\n x\n\nbody\n";
	struct gh_message	*m;
	const struct gh_header	*h;

	(void)state;
	m = parse_chunked(msg, sizeof(msg) - 1, NULL);
	assert_int_equal(gh_message_nheaders(m), 2);
	h = gh_message_header(m, 1);
	assert_int_equal(h->raw_len, 5);
	assert_memory_equal(h->raw, " 2\n x", 5);
	assert_int_equal(gh_message_body_offset(m), 14);
	gh_message_free(m);
}

/* Header bytes, header count and size caps, all sticky. */
static void
test_caps(void **state)
{
	struct gh_msg_limits	 l;
	struct gh_message	*m;
	char			 line[64];
	unsigned		 i;
	int			 r = 0;

	(void)state;
	memset(&l, 0, sizeof(l));
	l.max_header_bytes = 100;
	m = gh_message_new(&l);
	assert_non_null(m);
	for (i = 0; i < 20 && r == 0; i++)
		r = gh_message_feed(m, "X-Header: 0123456789\r\n", 22);
	assert_int_equal(r, -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(i, 5);
	assert_int_equal(gh_message_error(m), EMSGSIZE);
	errno = 0;
	assert_int_equal(gh_message_feed(m, "\r\n", 2), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(gh_message_end(m), -1);
	gh_message_free(m);

	memset(&l, 0, sizeof(l));
	l.max_headers = 3;
	m = gh_message_new(&l);
	assert_non_null(m);
	for (i = 0; i < 3; i++) {
		snprintf(line, sizeof(line), "H%u: v\r\n", i);
		assert_int_equal(gh_message_feed(m, line, strlen(line)), 0);
	}
	/* The third field is closed by the next line: still fine. */
	assert_int_equal(gh_message_feed(m, "H3: v\r\n", 7), 0);
	assert_int_equal(gh_message_feed(m, "\r\n", 2), -1);
	assert_int_equal(errno, E2BIG);
	gh_message_free(m);

	memset(&l, 0, sizeof(l));
	l.max_size = 30;
	m = gh_message_new(&l);
	assert_non_null(m);
	assert_int_equal(gh_message_feed(m, "A: b\r\n\r\n0123456789", 18), 0);
	assert_int_equal(gh_message_feed(m, "0123456789AB", 12), 0);
	assert_int_equal(gh_message_feed(m, "x", 1), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(gh_message_size(m), 30);
	gh_message_free(m);
}

/* A big message goes to the spool file; headers and reads still work. */
static void
test_spooled(void **state)
{
	struct gh_msg_limits	 l;
	struct gh_message	*m;
	char			 buf[1000], got[1000];
	unsigned		 i;

	(void)state;
	memset(&l, 0, sizeof(l));
	l.mem_max = 4096;
	m = gh_message_new(&l);
	assert_non_null(m);
	assert_int_equal(gh_message_feed(m, "Subject: big\r\n\r\n", 16), 0);
	memset(buf, 'a', sizeof(buf));
	buf[998] = '\r';
	buf[999] = '\n';
	for (i = 0; i < 100; i++)
		assert_int_equal(gh_message_feed(m, buf, sizeof(buf)), 0);
	assert_int_equal(gh_message_end(m), 0);
	assert_int_equal(gh_message_size(m), 16 + 100000);
	assert_int_equal(gh_message_pread(m, got, sizeof(got), 16 + 50000),
	    1000);
	assert_memory_equal(got, buf, 1000);
	assert_non_null(gh_message_find(m, "subject", 0));
	gh_message_free(m);
	gh_message_free(NULL);
}

/* Junk: NULs, 8-bit bytes and lone CRs never break the parser. */
static void
test_junk(void **state)
{
	static const char	 msg[] = "A\0B: \xff\xfe\r\r\n\x80: x\r\n\r\n";
	struct gh_message	*m;
	const struct gh_header	*h;

	(void)state;
	m = parse_chunked(msg, sizeof(msg) - 1, NULL);
	assert_int_equal(gh_message_nheaders(m), 2);
	h = gh_message_header(m, 0);
	assert_int_equal(h->name_len, 3);
	assert_int_equal(h->raw_len, 4);
	gh_message_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chunking),
		cmocka_unit_test(test_incremental),
		cmocka_unit_test(test_find_unfold),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_mbox_from),
		cmocka_unit_test(test_no_body),
		cmocka_unit_test(test_bare_lf),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_spooled),
		cmocka_unit_test(test_junk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
