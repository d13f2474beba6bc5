/*
 * test_proxyproto.c — PROXY protocol v1/v2: good headers, every prefix
 * of a good header (need more), and the malformed ones.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "proxy/proxyproto.h"

static const uint8_t sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* Every strict prefix of a complete header asks for more. */
static void
prefixes_need_more(const uint8_t *buf, size_t len)
{
	struct pp_result	 r;
	size_t			 i;

	for (i = 0; i < len; i++)
		if (pp_parse(buf, i, &r) != PP_NEED_MORE)
			fail_msg("prefix of %zu bytes: %s", i, r.error);
}

static void
test_v1_tcp4(void **state)
{
	const char		*h = "PROXY TCP4 192.0.2.7 198.51.100.1 "
				    "56324 25\r\nEHLO x\r\n";
	size_t			 hl = strlen("PROXY TCP4 192.0.2.7 "
				    "198.51.100.1 56324 25\r\n");
	struct pp_result	 r;
	struct sockaddr_in	*s = (struct sockaddr_in *)&r.src;
	char			 a[INET_ADDRSTRLEN];

	assert_int_equal(pp_parse((const uint8_t *)h, strlen(h), &r), PP_DONE);
	assert_int_equal(r.version, 1);
	assert_false(r.local);
	assert_int_equal(r.consumed, hl);
	assert_int_equal(s->sin_family, AF_INET);
	assert_string_equal(inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a)),
	    "192.0.2.7");
	assert_int_equal(ntohs(s->sin_port), 56324);
	prefixes_need_more((const uint8_t *)h, hl);
}

static void
test_v1_tcp6_unknown(void **state)
{
	const char		*h6 = "PROXY TCP6 2001:db8::1 2001:db8::2 "
				    "1 65535\r\n";
	struct pp_result	 r;
	char			 a[INET6_ADDRSTRLEN];

	assert_int_equal(pp_parse((const uint8_t *)h6, strlen(h6), &r),
	    PP_DONE);
	assert_string_equal(inet_ntop(AF_INET6,
	    &((struct sockaddr_in6 *)&r.src)->sin6_addr, a, sizeof(a)),
	    "2001:db8::1");
	assert_int_equal(pp_parse((const uint8_t *)"PROXY UNKNOWN\r\n", 15,
	    &r), PP_DONE);
	assert_true(r.local);
	assert_int_equal(r.consumed, 15);
	assert_int_equal(pp_parse((const uint8_t *)
	    "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", 35, &r), PP_DONE);
	assert_true(r.local);
}

static void
test_v1_bad(void **state)
{
	static const char *const bad[] = {
		"EHLO client.example\r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 56324\r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 56324 25 9\r\n",
		"PROXY TCP4 192.0.2.7  198.51.100.1 56324 25\r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 56324 65536\r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 056324 25\r\n",
		"PROXY TCP4 192.0.2.777 198.51.100.1 1 25\r\n",
		"PROXY TCP4 2001:db8::1 198.51.100.1 1 25\r\n",
		"PROXY TCP6 192.0.2.7 198.51.100.1 1 25\r\n",
		"PROXY UDP4 192.0.2.7 198.51.100.1 1 25\r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 1 25\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 1 25\rX",
		"PROXY TCP4 192.0.2.7\t198.51.100.1 1 25\r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 1 -25\r\n",
		"PROXY \r\n",
	};
	struct pp_result	 r;
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (pp_parse((const uint8_t *)bad[i], strlen(bad[i]), &r) !=
		    PP_ERROR)
			fail_msg("accepted: %s", bad[i]);
	/* 107 bytes without a CR is too long, not "need more". */
	{
		uint8_t long_line[200];

		memset(long_line, 'a', sizeof(long_line));
		memcpy(long_line, "PROXY TCP4 ", 11);
		assert_int_equal(pp_parse(long_line, sizeof(long_line), &r),
		    PP_ERROR);
	}
}

/* Build a v2 header; return its length. */
static size_t
v2(uint8_t *b, uint8_t cmd, uint8_t fam, const uint8_t *addr, size_t alen,
    size_t tlv)
{
	size_t	 blen = alen + tlv;

	memcpy(b, sig, 12);
	b[12] = 0x20 | cmd;
	b[13] = fam;
	b[14] = (uint8_t)(blen >> 8);
	b[15] = (uint8_t)blen;
	memcpy(b + 16, addr, alen);
	memset(b + 16 + alen, 0xee, tlv);
	return 16 + blen;
}

static void
test_v2(void **state)
{
	uint8_t			 b[PP_V2_MAX + 64], a4[12] = {
		192, 0, 2, 9, 198, 51, 100, 1, 0x1f, 0x90, 0, 25 };
	uint8_t			 a6[36];
	struct pp_result	 r;
	size_t			 n;
	struct sockaddr_in	*s = (struct sockaddr_in *)&r.src;

	n = v2(b, 1, 0x11, a4, 12, 7);
	prefixes_need_more(b, n);
	assert_int_equal(pp_parse(b, n + 5, &r), PP_DONE);
	assert_int_equal(r.consumed, n);
	assert_int_equal(r.version, 2);
	assert_int_equal(ntohl(s->sin_addr.s_addr), 0xc0000209);
	assert_int_equal(ntohs(s->sin_port), 8080);

	memset(a6, 0, sizeof(a6));
	a6[0] = 0x20; a6[1] = 0x01; a6[15] = 5; a6[33] = 1;
	n = v2(b, 1, 0x21, a6, 36, 0);
	assert_int_equal(pp_parse(b, n, &r), PP_DONE);
	assert_int_equal(((struct sockaddr_in6 *)&r.src)->sin6_addr.s6_addr[15],
	    5);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&r.src)->sin6_port),
	    1);

	n = v2(b, 0, 0x00, a4, 0, 0);		/* LOCAL */
	assert_int_equal(pp_parse(b, n, &r), PP_DONE);
	assert_true(r.local);

	n = v2(b, 1, 0x11, a4, 8, 0);		/* short IPv4 block */
	assert_int_equal(pp_parse(b, n, &r), PP_ERROR);
	n = v2(b, 1, 0x12, a4, 12, 0);		/* UDP */
	assert_int_equal(pp_parse(b, n, &r), PP_ERROR);
	n = v2(b, 2, 0x11, a4, 12, 0);		/* unknown command */
	assert_int_equal(pp_parse(b, n, &r), PP_ERROR);
	n = v2(b, 1, 0x31, a4, 12, 0);		/* AF_UNIX */
	assert_int_equal(pp_parse(b, n, &r), PP_ERROR);
	n = v2(b, 1, 0x11, a4, 12, PP_V2_MAX - 20);	/* too long */
	assert_int_equal(pp_parse(b, 16, &r), PP_ERROR);
	b[12] = 0x11;				/* version 1 in v2 form */
	assert_int_equal(pp_parse(b, 16, &r), PP_ERROR);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_tcp4),
		cmocka_unit_test(test_v1_tcp6_unknown),
		cmocka_unit_test(test_v1_bad),
		cmocka_unit_test(test_v2),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
