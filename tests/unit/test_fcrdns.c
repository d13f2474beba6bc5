/*
 * test_fcrdns.c — the pure parts of the client name lookup: reverse
 * names of IPv4, IPv6 and IPv4-mapped addresses, and which PTR names
 * count as host names (Postfix's valid_hostname).  The lookup itself is
 * tested against unbound in tests/integration/proxy_client_name.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "filters/fcrdns.h"

/* The reverse name of a textual address. */
static const char *
rname(const char *text, char *out, size_t outsz)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else {
		assert_int_equal(inet_pton(AF_INET6, text, &sin6->sin6_addr),
		    1);
		sin6->sin6_family = AF_INET6;
	}
	if (gh_fcrdns_rname((struct sockaddr *)&ss, out, outsz) == -1)
		return NULL;
	return out;
}

static void
test_rname(void **state)
{
	char	 b[128];

	assert_string_equal(rname("192.0.2.10", b, sizeof(b)),
	    "10.2.0.192.in-addr.arpa");
	assert_string_equal(rname("::ffff:192.0.2.10", b, sizeof(b)),
	    "10.2.0.192.in-addr.arpa");
	assert_string_equal(rname("2001:db8::20", b, sizeof(b)),
	    "0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "8.b.d.0.1.0.0.2.ip6.arpa");
	assert_null(rname("2001:db8::20", b, 40));	/* too small */
}

static void
test_valid_name(void **state)
{
	static const char *good[] = { "mail.example.org", "a", "x-1.y_2.test",
	    "123.example.com", "mail.example.o1" };
	static const char *bad[] = { "", "1.2.3.4", "-a.example", "a-.example",
	    "a..example", ".example", "example.", "sp ace.example",
	    "quote\".example", "a\\.example", "mail.example.123" };
	char	 long_label[80];
	size_t	 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!gh_fcrdns_valid_name(good[i]))
			fail_msg("refused: %s", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (gh_fcrdns_valid_name(bad[i]))
			fail_msg("accepted: %s", bad[i]);
	memset(long_label, 'a', 64);
	memcpy(long_label + 64, ".test", 6);
	assert_false(gh_fcrdns_valid_name(long_label));
	long_label[1] = '.';		/* labels of 1 and 62 */
	assert_true(gh_fcrdns_valid_name(long_label));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rname),
		cmocka_unit_test(test_valid_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
