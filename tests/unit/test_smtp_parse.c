/*
 * test_smtp_parse.c: the proxy's pure SMTP parsers.  The DATA reader is
 * checked on every end-of-data variant under every split of the input
 * (any TCP segmentation must give the same message and the same end);
 * command lines, paths, parameters, reply lines, xtext and dot-stuffing
 * are table-driven.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/smtp_parse.h"

struct out {
	char	 buf[8192];
	size_t	 len;
};

/* Sink collecting the reader's output. */
static int
collect(void *ctx, const char *p, size_t n)
{
	struct out *o = ctx;

	assert_true(o->len + n <= sizeof(o->buf));
	memcpy(o->buf + o->len, p, n);
	o->len += n;
	return 0;
}

struct data_case {
	const char	*in;		/* bytes after 354 */
	size_t		 inlen;		/* 0: strlen */
	bool		 normalize;
	bool		 ends;		/* end of data found */
	const char	*out;		/* canonical message */
	size_t		 used;		/* bytes taken when ends */
	unsigned	 flags;
	size_t		 outlen;	/* 0: strlen */
};

#define N	SMTP_DATA_BARELF
#define R	SMTP_DATA_BARECR

static const struct data_case data_cases[] = {
	{ "a\r\n.\r\n", 0, false, true, "a\r\n", 6, 0, 0 },
	{ ".\r\n", 0, false, true, "", 3, 0, 0 },
	{ "..x\r\n.\r\nMAIL", 0, false, true, ".x\r\n", 8, 0, 0 },
	{ "a\r\n..\r\n.\r\n", 0, false, true, "a\r\n.\r\n", 10, 0, 0 },
	/* smuggling variants: none of these end the data */
	{ "a\n.\nMAIL FROM:<x>\r\n", 0, false, false,
	    "a\n.\nMAIL FROM:<x>\r\n", 0, N, 0 },
	{ "a\r.\rb\r\n", 0, false, false, "a\r.\rb\r\n", 0, R, 0 },
	{ "a\n.\r\nb\r\n", 0, false, false, "a\n.\r\nb\r\n", 0, N, 0 },
	{ "a\r\n.\nb\r\n", 0, false, false, "a\r\n\nb\r\n", 0, N, 0 },
	{ "a\r.\r\nb\r\n", 0, false, false, "a\r.\r\nb\r\n", 0, R, 0 },
	{ "a\r\n.\rb\r\n", 0, false, false, "a\r\n\rb\r\n", 0, R, 0 },
	/* ... and normalised: a dot after a bare line end is content */
	{ "a\n.\nb\r\n.\r\n", 0, true, true, "a\r\n.\r\nb\r\n", 10, N, 0 },
	{ "a\r.\rb\r\n.\r\n", 0, true, true, "a\r\n.\r\nb\r\n", 10, R, 0 },
	{ "a\n.\r\nb\r\n.\r\n", 0, true, true, "a\r\n.\r\nb\r\n", 11, N, 0 },
	{ "a\r\n.\nb\r\n.\r\n", 0, true, true, "a\r\n\r\nb\r\n", 11, N, 0 },
	{ "a\r\r\nb\r\n.\r\n", 0, true, true, "a\r\n\r\nb\r\n", 10, R, 0 },
	/* NUL */
	{ "a\0b\r\n.\r\n", 8, false, true, "a\0b\r\n", 8, SMTP_DATA_NUL, 5 },
	{ "a\0b\r\n.\r\n", 8, true, true, "ab\r\n", 8, SMTP_DATA_NUL, 0 },
	/* the end of data must be at the start of a line */
	{ "a.\r\n.\r\n", 0, false, true, "a.\r\n", 7, 0, 0 },
};

/* Run one case, split into pieces at `cut1` and `cut2`. */
static void
run_split(const struct data_case *c, size_t len, size_t cut1, size_t cut2)
{
	struct smtp_data	 d;
	struct out		 o;
	size_t			 pos[4] = { 0, cut1, cut2, len }, k, used, total;
	enum smtp_data_res	 r = SMTP_DATA_MORE;

	memset(&o, 0, sizeof(o));
	smtp_data_init(&d, 1000, 100000, c->normalize);
	total = 0;
	for (k = 0; k < 3 && r == SMTP_DATA_MORE; k++) {
		r = smtp_data_feed(&d, c->in + pos[k], pos[k + 1] - pos[k],
		    &used, collect, &o);
		total += used;
	}
	if (c->ends != (r == SMTP_DATA_END))
		fail_msg("case \"%s\" split %zu/%zu: ends=%d", c->in, cut1,
		    cut2, r == SMTP_DATA_END);
	if (c->ends)
		assert_int_equal(total, c->used);
	if (o.len != (c->outlen ? c->outlen : strlen(c->out)) ||
	    memcmp(o.buf, c->out, o.len) != 0)
		fail_msg("case \"%s\" split %zu/%zu: output differs (%zu)", c->in,
		    cut1, cut2, o.len);
	assert_int_equal(d.flags, c->flags);
}

/* Every end-of-data variant, under every two-cut split. */
static void
test_data_variants(void **state)
{
	size_t	 i, a, b, len;

	for (i = 0; i < GH_ARRAY_LEN(data_cases); i++) {
		const struct data_case *c = &data_cases[i];

		len = c->inlen ? c->inlen : strlen(c->in);
		for (a = 0; a <= len; a++)
			for (b = a; b <= len; b++)
				run_split(c, len, a, b);
	}
}

/* Byte-at-a-time feeding gives the same result as one chunk. */
static void
test_data_bytewise(void **state)
{
	const char		*in = "Subject: x\r\n\r\n..a\r\nb\r\n.\r\nQUIT\r\n";
	struct smtp_data	 d;
	struct out		 o;
	size_t			 i, used;
	enum smtp_data_res	 r = SMTP_DATA_MORE;

	memset(&o, 0, sizeof(o));
	smtp_data_init(&d, 1000, 0, false);
	for (i = 0; i < strlen(in) && r == SMTP_DATA_MORE; i++)
		r = smtp_data_feed(&d, in + i, 1, &used, collect, &o);
	assert_int_equal(r, SMTP_DATA_END);
	assert_int_equal(i, strlen(in) - 6);
	assert_int_equal(o.len, strlen("Subject: x\r\n\r\n.a\r\nb\r\n"));
	assert_memory_equal(o.buf, "Subject: x\r\n\r\n.a\r\nb\r\n", o.len);
}

/* Feed `in` in pieces of `step` bytes (0: one piece); collect all. */
static enum smtp_data_res
feed_steps(const char *in, size_t len, size_t step, bool norm,
    struct out *o, struct smtp_data *d, size_t *total)
{
	enum smtp_data_res	 r = SMTP_DATA_MORE;
	size_t			 pos = 0, n, used;

	memset(o, 0, sizeof(*o));
	smtp_data_init(d, 12, 0, norm);
	*total = 0;
	while (pos < len && r == SMTP_DATA_MORE) {
		n = step && len - pos > step ? step : len - pos;
		r = smtp_data_feed(d, in + pos, n, &used, collect, o);
		*total += used;
		pos += n;
	}
	return r;
}

/* Random inputs: any chunking gives the same message, end and flags. */
static void
test_data_random(void **state)
{
	static const char	 alpha[] = "ab.\r\n\0";
	char			 in[64];
	struct out		 o1, o2;
	struct smtp_data	 d1, d2;
	size_t			 t1, t2, len, i, step;
	unsigned		 seed = 12345;
	int			 k, norm;

	for (k = 0; k < 20000; k++) {
		len = 1 + (seed = seed * 1103515245 + 12345) % 60;
		for (i = 0; i < len; i++) {
			seed = seed * 1103515245 + 12345;
			in[i] = alpha[(seed >> 16) % 6];
		}
		norm = k & 1;
		step = 1 + (seed >> 8) % 7;
		assert_int_equal(feed_steps(in, len, 0, norm, &o1, &d1, &t1),
		    feed_steps(in, len, step, norm, &o2, &d2, &t2));
		assert_int_equal(t1, t2);
		assert_int_equal(d1.flags, d2.flags);
		assert_int_equal(o1.len, o2.len);
		assert_memory_equal(o1.buf, o2.buf, o1.len);
		/* Canonical output when normalising: no bare CR/LF/NUL. */
		for (i = 0; norm && i < o1.len; i++) {
			assert_true(o1.buf[i] != '\0');
			if (o1.buf[i] == '\r')
				assert_true(i + 1 < o1.len &&
				    o1.buf[i + 1] == '\n');
			if (o1.buf[i] == '\n')
				assert_true(i > 0 && o1.buf[i - 1] == '\r');
		}
	}
}

/* Line length counts the bytes as sent, CRLF included. */
static void
test_data_long_line(void **state)
{
	char			 buf[2100];
	struct smtp_data	 d;
	struct out		 o;
	size_t			 used;

	memset(buf, 'x', 998);
	memcpy(buf + 998, "\r\n.\r\n", 5);
	memset(&o, 0, sizeof(o));
	smtp_data_init(&d, 1000, 0, false);
	assert_int_equal(smtp_data_feed(&d, buf, 1003, &used, collect, &o),
	    SMTP_DATA_END);
	assert_int_equal(d.flags, 0);

	memset(buf, 'x', 999);
	memcpy(buf + 999, "\r\n.\r\n", 5);
	memset(&o, 0, sizeof(o));
	smtp_data_init(&d, 1000, 0, false);
	assert_int_equal(smtp_data_feed(&d, buf, 1004, &used, collect, &o),
	    SMTP_DATA_END);
	assert_int_equal(d.flags, SMTP_DATA_LONGLINE);
}

/* Past max_size the sink is no longer called; the end is still found. */
static void
test_data_too_big(void **state)
{
	const char		*in = "0123456789\r\n0123456789\r\n.\r\n";
	struct smtp_data	 d;
	struct out		 o;
	size_t			 used;

	memset(&o, 0, sizeof(o));
	smtp_data_init(&d, 1000, 15, false);
	assert_int_equal(smtp_data_feed(&d, in, strlen(in), &used, collect,
	    &o), SMTP_DATA_END);
	assert_int_equal(used, strlen(in));
	assert_true(d.flags & SMTP_DATA_TOOBIG);
	assert_true(o.len <= 15);
}

/* Dot-stuffing doubles leading dots, across calls. */
static void
test_dotstuff(void **state)
{
	struct out	 o;
	bool		 bol = true;

	memset(&o, 0, sizeof(o));
	assert_int_equal(smtp_dotstuff(&bol, ".a\r\nb.\r", 7, collect, &o), 0);
	assert_int_equal(smtp_dotstuff(&bol, "\n.\r\n", 4, collect, &o), 0);
	assert_int_equal(o.len, 13);
	assert_memory_equal(o.buf, "..a\r\nb.\r\n..\r\n", 13);
}

/* Dot-stuffing in random pieces equals the byte-by-byte definition. */
static void
test_dotstuff_random(void **state)
{
	static const char	 alpha[] = "a.\r\n";
	char			 in[64], want[128];
	struct out		 o;
	size_t			 len, i, w, pos, n;
	unsigned		 seed = 777;
	bool			 bol, rbol;
	int			 k;

	for (k = 0; k < 20000; k++) {
		len = 1 + (seed = seed * 1103515245 + 12345) % 60;
		for (i = 0; i < len; i++) {
			seed = seed * 1103515245 + 12345;
			in[i] = alpha[(seed >> 16) % 4];
		}
		rbol = true;
		for (i = w = 0; i < len; i++) {
			if (rbol && in[i] == '.')
				want[w++] = '.';
			want[w++] = in[i];
			rbol = in[i] == '\n';
		}
		memset(&o, 0, sizeof(o));
		bol = true;
		for (pos = 0; pos < len; pos += n) {
			n = 1 + (seed >> 8) % 9;
			if (n > len - pos)
				n = len - pos;
			assert_int_equal(smtp_dotstuff(&bol, in + pos, n,
			    collect, &o), 0);
		}
		assert_int_equal(o.len, w);
		assert_memory_equal(o.buf, want, w);
		assert_int_equal(bol, rbol);
	}
}

/* Command lines: verbs, FROM:/TO:, control characters. */
static void
test_cmd(void **state)
{
	struct smtp_cmd	 c;

	assert_int_equal(smtp_cmd_parse("ehlo x.example", 14, &c), SMTP_OK);
	assert_int_equal(c.verb, SMTP_EHLO);
	assert_int_equal(c.args.len, 9);
	assert_int_equal(smtp_cmd_parse("MAIL FROM: <a@b> SIZE=10", 24, &c),
	    SMTP_OK);
	assert_int_equal(c.verb, SMTP_MAIL);
	assert_memory_equal(c.args.p, "<a@b> SIZE=10", c.args.len);
	assert_int_equal(smtp_cmd_parse("rcpt to:<a@b>", 13, &c), SMTP_OK);
	assert_int_equal(c.verb, SMTP_RCPT);
	assert_int_equal(smtp_cmd_parse("MAIL <a@b>", 10, &c), SMTP_E_SYNTAX);
	assert_int_equal(smtp_cmd_parse("MAIL FROM:<a\nb>", 15, &c),
	    SMTP_E_BADCHAR);
	assert_int_equal(smtp_cmd_parse("HELO a\rb", 8, &c), SMTP_E_BADCHAR);
	assert_int_equal(smtp_cmd_parse("HELO a\0b", 8, &c), SMTP_E_BADCHAR);
	assert_int_equal(smtp_cmd_parse("FOO", 3, &c), SMTP_OK);
	assert_int_equal(c.verb, SMTP_UNKNOWN);
	assert_int_equal(smtp_cmd_parse("", 0, &c), SMTP_OK);
	assert_int_equal(c.verb, SMTP_UNKNOWN);
}

/* Paths and their parameters. */
static void
test_path(void **state)
{
	struct smtp_path		 p;
	const struct smtp_param		*sz;
	const char			*s;

	s = "<a@b.example> SIZE=1000 BODY=8BITMIME SMTPUTF8";
	assert_int_equal(smtp_path_parse(s, strlen(s), true, &p), SMTP_OK);
	assert_string_equal(p.addr, "a@b.example");
	assert_int_equal(p.nparams, 3);
	assert_non_null(sz = smtp_path_param(&p, "size"));
	assert_memory_equal(sz->value.p, "1000", 4);
	assert_null(smtp_path_param(&p, "SMTPUTF8")->value.p);
	assert_int_equal(smtp_path_parse("<>", 2, true, &p), SMTP_OK);
	assert_string_equal(p.addr, "");
	assert_int_equal(smtp_path_parse("<>", 2, false, &p),
	    SMTP_E_NOTALLOWED);
	s = "<@r1,@r2:u@d>";
	assert_int_equal(smtp_path_parse(s, strlen(s), false, &p), SMTP_OK);
	assert_string_equal(p.addr, "u@d");
	s = "<\"a b>\"@d>";
	assert_int_equal(smtp_path_parse(s, strlen(s), false, &p), SMTP_OK);
	assert_string_equal(p.addr, "\"a b>\"@d");
	assert_int_equal(smtp_path_parse("u@d", 3, false, &p), SMTP_OK);
	assert_string_equal(p.addr, "u@d");
	assert_int_equal(smtp_path_parse("<a b@d>", 7, false, &p),
	    SMTP_E_SYNTAX);
	assert_int_equal(smtp_path_parse("<a@d", 4, false, &p),
	    SMTP_E_SYNTAX);
	assert_int_equal(smtp_path_parse("<a\x01@d>", 7, false, &p),
	    SMTP_E_SYNTAX);
	assert_int_equal(smtp_path_parse("<a@d>x", 6, false, &p),
	    SMTP_E_SYNTAX);
	assert_int_equal(smtp_path_parse("<a@d> =x", 8, false, &p),
	    SMTP_E_SYNTAX);
	assert_int_equal(smtp_path_parse("<a@d> K=", 8, false, &p),
	    SMTP_E_SYNTAX);
	assert_int_equal(smtp_path_parse("", 0, false, &p), SMTP_E_SYNTAX);
}

/* HELO arguments. */
static void
test_helo(void **state)
{
	struct gh_str	 n;
	char		 big[300];

	assert_int_equal(smtp_helo_parse("  a.example  x", 14, &n), SMTP_OK);
	assert_int_equal(n.len, 9);
	assert_int_equal(smtp_helo_parse("", 0, &n), SMTP_E_SYNTAX);
	assert_int_equal(smtp_helo_parse("a\x01", 2, &n), SMTP_E_SYNTAX);
	memset(big, 'a', sizeof(big));
	assert_int_equal(smtp_helo_parse(big, sizeof(big), &n),
	    SMTP_E_TOOLONG);
}

/* Reply lines. */
static void
test_reply(void **state)
{
	int		 code;
	bool		 last;
	struct gh_str	 t;

	assert_int_equal(smtp_reply_line("250-PIPELINING", 14, &code, &last,
	    &t), 0);
	assert_int_equal(code, 250);
	assert_false(last);
	assert_int_equal(smtp_reply_line("354", 3, &code, &last, &t), 0);
	assert_true(last);
	assert_int_equal(smtp_reply_line("250x", 4, &code, &last, &t), -1);
	assert_int_equal(smtp_reply_line("150 x", 5, &code, &last, &t), -1);
	assert_int_equal(smtp_reply_line("25", 2, &code, &last, &t), -1);
}

/* xtext both ways. */
static void
test_xtext(void **state)
{
	char	 out[64];

	assert_int_equal(smtp_xtext_encode("a b+c=", 6, out, sizeof(out)), 0);
	assert_string_equal(out, "a+20b+2Bc+3D");
	assert_int_equal(smtp_xtext_decode(out, strlen(out), out,
	    sizeof(out)), 0);
	assert_string_equal(out, "a b+c=");
	assert_int_equal(smtp_xtext_decode("a+0D", 4, out, sizeof(out)), -1);
	assert_int_equal(smtp_xtext_decode("a+2", 3, out, sizeof(out)), -1);
	assert_int_equal(smtp_xtext_encode("abcdef", 6, out, 4), -1);
}

/* The EHLO AUTH list: normalised, invalid names and repeats dropped. */
static void
test_auth_mechs(void **state)
{
	static const struct {
		const char	*in;
		const char	*out;
		size_t		 n;
	} t[] = {
		{ "PLAIN LOGIN", "PLAIN LOGIN", 2 },
		{ "plain  login\tcram-md5", "PLAIN LOGIN CRAM-MD5", 3 },
		{ "PLAIN PLAIN", "PLAIN", 1 },
		{ "", "", 0 },
		{ "   ", "", 0 },
		{ "PL@IN GSSAPI", "GSSAPI", 1 },
		{ "ABCDEFGHIJKLMNOPQRSTU X", "X", 1 },	/* 21 chars */
		{ "SCRAM-SHA-256 XOAUTH2", "SCRAM-SHA-256 XOAUTH2", 2 },
	};
	char	 out[128];
	size_t	 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(smtp_auth_mechs(t[i].in, strlen(t[i].in), out,
		    sizeof(out)), t[i].n);
		assert_string_equal(out, t[i].out);
	}
	/* What does not fit is dropped, never cut. */
	assert_int_equal(smtp_auth_mechs("PLAIN LOGIN", 11, out, 8), 1);
	assert_string_equal(out, "PLAIN");
	assert_true(smtp_auth_mech_in("PLAIN LOGIN", "login", 5));
	assert_false(smtp_auth_mech_in("PLAIN LOGIN", "LOG", 3));
	assert_false(smtp_auth_mech_in("", "PLAIN", 5));
}

/* AUTH arguments, base64 and the login a response names. */
static void
test_auth_parse(void **state)
{
	struct gh_str	 m, ir;
	char		 out[64];
	size_t		 n;

	assert_int_equal(smtp_auth_parse("PLAIN AGEAYg==", 14, &m, &ir),
	    SMTP_OK);
	assert_int_equal(m.len, 5);
	assert_int_equal(ir.len, 8);
	assert_int_equal(smtp_auth_parse("LOGIN", 5, &m, &ir), SMTP_OK);
	assert_int_equal(ir.len, 0);
	assert_int_equal(smtp_auth_parse("", 0, &m, &ir), SMTP_E_SYNTAX);
	assert_int_equal(smtp_auth_parse("PL/AIN", 6, &m, &ir),
	    SMTP_E_SYNTAX);
	assert_int_equal(smtp_auth_parse("PLAIN a b", 9, &m, &ir),
	    SMTP_E_SYNTAX);

	assert_int_equal(smtp_b64_decode("YWxpY2U=", 8, out, sizeof(out),
	    &n), 0);
	assert_string_equal(out, "alice");
	assert_int_equal(smtp_b64_decode("YWxpY2", 6, out, sizeof(out), &n),
	    -1);
	assert_int_equal(smtp_b64_decode("YW=pY2U=", 8, out, sizeof(out),
	    &n), -1);
	assert_int_equal(smtp_b64_decode("YWxpY2U=", 8, out, 5, &n), -1);

	/* "\0alice\0secret" */
	assert_int_equal(smtp_sasl_user("PLAIN", 0, "AGFsaWNlAHNlY3JldA==",
	    20, out, sizeof(out)), 0);
	assert_string_equal(out, "alice");
	/* "alice" as LOGIN's first response; its second names no one. */
	assert_int_equal(smtp_sasl_user("LOGIN", 0, "YWxpY2U=", 8, out,
	    sizeof(out)), 0);
	assert_string_equal(out, "alice");
	assert_int_equal(smtp_sasl_user("LOGIN", 1, "c2VjcmV0", 8, out,
	    sizeof(out)), 1);
	/* "bob 0123abcd" (CRAM-MD5) */
	assert_int_equal(smtp_sasl_user("CRAM-MD5", 0, "Ym9iIDAxMjNhYmNk",
	    16, out, sizeof(out)), 0);
	assert_string_equal(out, "bob");
	/* "n,,n=carol,r=abc" (SCRAM) */
	assert_int_equal(smtp_sasl_user("SCRAM-SHA-256", 0,
	    "biwsbj1jYXJvbCxyPWFiYw==", 24, out, sizeof(out)), 0);
	assert_string_equal(out, "carol");
	/* PLAIN without the second NUL; a control character in a name. */
	assert_int_equal(smtp_sasl_user("PLAIN", 0, "AGFsaWNl", 8, out,
	    sizeof(out)), -1);
	assert_int_equal(smtp_sasl_user("LOGIN", 0, "YQpi", 4, out,
	    sizeof(out)), -1);
	assert_int_equal(smtp_sasl_user("PLAIN", 0, "=", 1, out,
	    sizeof(out)), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_data_variants),
		cmocka_unit_test(test_data_bytewise),
		cmocka_unit_test(test_data_random),
		cmocka_unit_test(test_data_long_line),
		cmocka_unit_test(test_data_too_big),
		cmocka_unit_test(test_dotstuff),
		cmocka_unit_test(test_dotstuff_random),
		cmocka_unit_test(test_cmd),
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_helo),
		cmocka_unit_test(test_reply),
		cmocka_unit_test(test_xtext),
		cmocka_unit_test(test_auth_mechs),
		cmocka_unit_test(test_auth_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
