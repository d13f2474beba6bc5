/*
 * test_config.c — the configuration table and parser: types, bounds,
 * continuation lines, overrides, and the file:line error format.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filters/config.h"
#include "filters/util.h"

/* Write `text` to a temporary file; return its malloc'd path. */
static char *
write_tmp(const char *text)
{
	char	*path = strdup("/tmp/gh-test-config-XXXXXX");
	int	 fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

/* Load `text` with overrides; return the config (or NULL) and errors. */
static struct gh_config *
load(const char *text, char *const *ov, size_t nov,
    struct gh_config_errors *errs, char **pathp)
{
	char			*path = text ? write_tmp(text) : NULL;
	struct gh_config	*c;

	c = gh_config_load(path, ov, nov, errs);
	if (pathp)
		*pathp = path;
	else {
		if (path)
			unlink(path);
		free(path);
	}
	return c;
}

static void
test_defaults(void **state)
{
	struct gh_config_errors	 errs = { NULL, 0 };
	struct gh_config	*c = load(NULL, NULL, 0, &errs, NULL);

	assert_non_null(c);
	assert_int_equal(errs.n, 0);
	assert_int_equal(c->max_message_size, 25 * 1024 * 1024);
	assert_int_equal(c->trusted_networks.n, 0);
	assert_int_equal(c->on_filter_error, GH_TEMPFAIL);
	assert_int_equal(c->spf[GH_SPF_FAIL].on, GH_REJECT);
	assert_int_equal(c->spf_reject_reply.code, 550);
	assert_string_equal(c->spf_reject_reply.status, "5.7.23");
	assert_int_equal(c->idle_timeout_ms, 300000);
	assert_string_equal(c->authserv_id, c->hostname);
	gh_config_unref(c);
}

static void
test_three_errors(void **state)
{
	struct gh_config_errors	 errs = { NULL, 0 };
	struct gh_config	*c;
	char			*path, want[512];

	c = load("# comment\n"
	    "listen = 127.0.0.1:2525\n"
	    "no_such_key = 1\n"
	    "smtp.idle_timeout = 5 fortnights\n"
	    "\n"
	    "smtp.max_recipients = 0\n", NULL, 0, &errs, &path);
	assert_null(c);
	assert_int_equal(errs.n, 3);
	snprintf(want, sizeof(want), "%s:3: no_such_key: unknown key", path);
	assert_string_equal(errs.v[0], want);
	snprintf(want, sizeof(want), "%s:4: smtp.idle_timeout: ", path);
	assert_memory_equal(errs.v[1], want, strlen(want));
	assert_non_null(strstr(errs.v[1], "duration"));
	snprintf(want, sizeof(want), "%s:6: smtp.max_recipients: ", path);
	assert_memory_equal(errs.v[2], want, strlen(want));
	assert_non_null(strstr(errs.v[2], "out of range"));
	gh_config_errors_free(&errs);
	unlink(path);
	free(path);
}

static void
test_continuation_and_lists(void **state)
{
	struct gh_config_errors	 errs = { NULL, 0 };
	struct gh_config	*c;

	c = load("listen = 127.0.0.1:2525,\n"
	    "    [::1]:2526\n"
	    "# a comment inside does not break it\n"
	    "\tunix:/tmp/gh.sock\n"
	    "trusted_networks = 10.0.0.0/8 192.168.1.7 2001:db8::/32\n"
	    "max_message_size = 10M\n"
	    "score.tag = 3.5\n"
	    "spf.helo = off\n", NULL, 0, &errs, NULL);
	assert_non_null(c);
	assert_int_equal(c->listen.n, 3);
	assert_int_equal(c->listen.v[0].port, 2525);
	assert_string_equal(c->listen.v[1].host, "::1");
	assert_true(c->listen.v[2].is_unix);
	assert_string_equal(c->listen.v[2].path, "/tmp/gh.sock");
	assert_int_equal(c->trusted_networks.n, 3);
	assert_true(gh_cidr_match_text(&c->trusted_networks, "10.1.2.3"));
	assert_true(gh_cidr_match_text(&c->trusted_networks, "192.168.1.7"));
	assert_false(gh_cidr_match_text(&c->trusted_networks, "192.168.1.8"));
	assert_true(gh_cidr_match_text(&c->trusted_networks, "2001:db8::1"));
	assert_false(gh_cidr_match_text(&c->trusted_networks, "2001:db9::1"));
	assert_false(gh_cidr_match_text(&c->trusted_networks, "127.0.0.1"));
	assert_int_equal(c->max_message_size, 10 * 1024 * 1024);
	assert_true(c->score_tag == 3.5);
	assert_int_equal(c->spf_helo, 0);
	gh_config_unref(c);
}

static void
test_v4mapped_is_v4(void **state)
{
	struct gh_config_errors	 errs = { NULL, 0 };
	char			*ov[] = { "trusted_networks = 192.0.2.0/24" };
	struct gh_config	*c = load(NULL, ov, 1, &errs, NULL);
	struct sockaddr_in6	 s6;

	assert_non_null(c);
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:192.0.2.9", &s6.sin6_addr);
	assert_true(gh_cidr_match(&c->trusted_networks,
	    (struct sockaddr *)&s6));
	gh_config_unref(c);
}

static void
test_overrides(void **state)
{
	struct gh_config_errors	 errs = { NULL, 0 };
	char			*good[] = { "backend=[::1]:10026",
				    "authserv_id = mx.example.org" };
	char			*bad[] = { "listen=nonsense", "bogus=1",
				    "noequals" };
	struct gh_config	*c;

	c = load("backend = 127.0.0.1:1\n", good, 2, &errs, NULL);
	assert_non_null(c);
	assert_int_equal(c->backend.port, 10026);
	assert_string_equal(c->authserv_id, "mx.example.org");
	gh_config_unref(c);

	c = load(NULL, bad, 3, &errs, NULL);
	assert_null(c);
	assert_int_equal(errs.n, 3);
	assert_memory_equal(errs.v[0], "-o listen: ", 11);
	assert_string_equal(errs.v[1], "-o bogus: unknown key");
	assert_non_null(strstr(errs.v[2], "expected key=value"));
	gh_config_errors_free(&errs);
}

static void
test_bad_values(void **state)
{
	static const char *const cases[][2] = {
		{ "listen = 127.0.0.1", "host:port" },
		{ "backend = mail.example.org:25", "not an IP address" },
		{ "listen = 127.0.0.1:99999", "bad port" },
		{ "backend = unix:relative", "absolute path" },
		{ "trusted_networks = 10.0.0.0/33", "prefix" },
		{ "max_message_size = 12Q", "size" },
		{ "spf.on_fail = explode", "expected one of" },
		{ "spf.reject_reply = 450 4.7.1 nope", "5xx" },
		{ "spf.reject_reply = 550 text without status", "enhanced" },
		{ "spf.helo = maybe", "expected one of" },
		{ "tag.spam_headers = perhaps", "yes or no" },
		{ "milter_listen = tcp:25", "unix:/path" },
		{ "score.tag = lots", "number" },
		{ "log.level = chatty", "debug" },
		{ "on_filter_error = accept", "expected one of" },
	};
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct gh_config_errors	 errs = { NULL, 0 };
		char			 line[256];
		struct gh_config	*c;

		snprintf(line, sizeof(line), "%s\n", cases[i][0]);
		c = load(line, NULL, 0, &errs, NULL);
		if (c != NULL || errs.n != 1 ||
		    strstr(errs.v[0], cases[i][1]) == NULL)
			fail_msg("case '%s': got %s", cases[i][0],
			    errs.n ? errs.v[0] : "no error");
		gh_config_errors_free(&errs);
	}
}

static void
test_durations_sizes(void **state)
{
	uint64_t	 v;

	assert_int_equal(gh_parse_duration("500ms", &v), 0);
	assert_int_equal(v, 500);
	assert_int_equal(gh_parse_duration("5m", &v), 0);
	assert_int_equal(v, 300000);
	assert_int_equal(gh_parse_duration("2h", &v), 0);
	assert_int_equal(v, 7200000);
	assert_int_equal(gh_parse_duration("30", &v), 0);
	assert_int_equal(v, 30000);
	assert_int_equal(gh_parse_duration("-1s", &v), -1);
	assert_int_equal(gh_parse_duration("1y", &v), -1);
	assert_int_equal(gh_parse_size("512k", &v), 0);
	assert_int_equal(v, 512 * 1024);
	assert_int_equal(gh_parse_size("1G", &v), 0);
	assert_int_equal(v, 1024ull * 1024 * 1024);
	assert_int_equal(gh_parse_size("99999999999999999999G", &v), -2);
}

static void
test_later_wins_and_dump(void **state)
{
	struct gh_config_errors	 errs = { NULL, 0 };
	struct gh_config	*c;
	char			*buf = NULL;
	size_t			 len = 0;
	FILE			*fp;

	c = load("score.tag = 4\nscore.tag = 6\n", NULL, 0, &errs, NULL);
	assert_non_null(c);
	assert_true(c->score_tag == 6);
	fp = open_memstream(&buf, &len);
	gh_config_dump(c, fp, false);
	fclose(fp);
	assert_non_null(strstr(buf, "\nscore.tag = 6\n"));
	assert_non_null(strstr(buf, "\ntrusted_networks = \n"));
	assert_non_null(strstr(buf, "\nspf.on_softfail = tag\n"));
	free(buf);
	gh_config_unref(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_three_errors),
		cmocka_unit_test(test_continuation_and_lists),
		cmocka_unit_test(test_v4mapped_is_v4),
		cmocka_unit_test(test_overrides),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_durations_sizes),
		cmocka_unit_test(test_later_wins_and_dump),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
