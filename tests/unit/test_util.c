/*
 * test_util.c — the one-pass helpers behind the per-message log line:
 * gh_buf_put_printable() gives exactly gh_printable()'s text,
 * gh_buf_printf() formats once yet keeps its limit, and a ready-made
 * session line (gh_log_session_str) reads as a formatted one does.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "filters/log.h"
#include "filters/util.h"

/* Escape IN both ways and compare. */
static void
same_text(const char *in, size_t len, size_t cap)
{
	char		 want[1100];
	struct gh_buf	 b;

	gh_printable(want, sizeof(want), in, len, cap);
	gh_buf_init(&b, 0);
	assert_int_equal(gh_buf_puts(&b, "k=\""), 0);
	assert_int_equal(gh_buf_put_printable(&b, in, len, cap), 0);
	assert_non_null(b.p);
	assert_int_equal(b.len, 3 + strlen(want));
	assert_memory_equal(b.p, "k=\"", 3);
	assert_string_equal(b.p + 3, want);
	gh_buf_free(&b);
}

/* Plain text, every escape, a cut at the cap, the empty string. */
static void
test_put_printable(void **state)
{
	static const char mixed[] = "a\"b\\c\r\nd\te\x01\x7f\xff\x80z";
	char		 all[256];
	size_t		 i;

	(void)state;
	same_text("user@example.org", 16, 255);
	same_text(mixed, sizeof(mixed) - 1, 255);
	same_text(mixed, sizeof(mixed) - 1, 5);
	same_text("", 0, 64);
	for (i = 0; i < sizeof(all); i++)
		all[i] = (char)i;
	same_text(all, sizeof(all), 255);
	same_text(all, sizeof(all), 200);
}

/* A NULL value reads "(null)" in both. */
static void
test_put_printable_null(void **state)
{
	struct gh_buf	 b;

	(void)state;
	gh_buf_init(&b, 0);
	assert_int_equal(gh_buf_put_printable(&b, NULL, 0, 10), 0);
	assert_string_equal(b.p, "(null)");
	gh_buf_free(&b);
}

/* Formatting once: short and long texts, and the limit. */
static void
test_buf_printf(void **state)
{
	struct gh_buf	 b;
	char		 big[600];

	(void)state;
	gh_buf_init(&b, 0);
	assert_int_equal(gh_buf_printf(&b, "%s=%d", "n", 42), 0);
	assert_string_equal(b.p, "n=42");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(gh_buf_printf(&b, " %s.", big), 0);
	assert_int_equal(b.len, 4 + 1 + 599 + 1);
	assert_int_equal(b.p[b.len - 1], '.');
	assert_int_equal(b.p[b.len], '\0');
	gh_buf_free(&b);

	/* Past the limit: -1, the buffer as it was. */
	gh_buf_init(&b, 10);
	assert_int_equal(gh_buf_printf(&b, "%s", "12345"), 0);
	errno = 0;
	assert_int_equal(gh_buf_printf(&b, "%s", "678901"), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(b.len, 5);
	assert_string_equal(b.p, "12345");
	assert_int_equal(gh_buf_printf(&b, "%s", "67890"), 0);
	assert_string_equal(b.p, "1234567890");
	gh_buf_free(&b);
}

/* Read one line that the logger wrote to FD. */
static void
read_line(int fd, char *out, size_t outsz)
{
	size_t	 n = 0;
	ssize_t	 r;

	while (n + 1 < outsz && (r = read(fd, out + n, 1)) == 1)
		if (out[n++] == '\n')
			break;
	out[n] = '\0';
}

/* A ready-made line reads as the formatted one (after the time). */
static void
test_log_session_str(void **state)
{
	char	 a[4096], b[4096], big[3000];
	int	 p[2], saved;

	(void)state;
	assert_int_equal(pipe(p), 0);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(p[1], STDERR_FILENO), STDERR_FILENO);
	gh_log_open("gatehouse", GH_LOG_STDERR, LOG_MAIL);
	gh_log_set_level(LOG_INFO);
	gh_log_session(LOG_INFO, 0x00c0ffee12345678ull, "%s",
	    "message a=\"b\"");
	gh_log_session_str(LOG_INFO, 0x00c0ffee12345678ull, "message a=\"b\"",
	    13);
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	gh_log_session(LOG_INFO, 7, "%s", big);		/* cut alike */
	gh_log_session_str(LOG_INFO, 7, big, sizeof(big) - 1);
	gh_log_session_str(LOG_DEBUG, 7, "not written", 11);
	gh_log(LOG_INFO, "end");
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	close(p[1]);
	read_line(p[0], a, sizeof(a));
	read_line(p[0], b, sizeof(b));
	/* "YYYY-MM-DDTHH:MM:SS.mmm " first, then the same text. */
	assert_true(strlen(a) > 24 && strlen(b) > 24);
	assert_string_equal(a + 24, b + 24);
	assert_non_null(strstr(a, "info: 00c0ffee12345678 message a=\"b\"\n"));
	read_line(p[0], a, sizeof(a));
	read_line(p[0], b, sizeof(b));
	assert_string_equal(a + 24, b + 24);
	read_line(p[0], a, sizeof(a));
	assert_non_null(strstr(a, "info: end\n"));	/* no debug line */
	close(p[0]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_printable),
		cmocka_unit_test(test_put_printable_null),
		cmocka_unit_test(test_buf_printf),
		cmocka_unit_test(test_log_session_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
