/*
 * test_daemon.c — the metrics endpoint over real HTTP on loopback, and
 * metrics_listen's "empty means off".
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "filters/metrics.h"

/* A free loopback port. */
static int
free_port(void)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* GET `path`; return the response in buf. */
static void
get(int port, const char *path, char *buf, size_t sz)
{
	struct sockaddr_in	 sin;
	int			 fd = socket(AF_INET, SOCK_STREAM, 0), tries;
	size_t			 n = 0;
	ssize_t			 r;
	char			 req[128];

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (tries = 0; connect(fd, (struct sockaddr *)&sin,
	    sizeof(sin)) == -1; tries++) {
		assert_true(tries < 100);
		usleep(10000);
	}
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", path);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (n + 1 < sz && (r = read(fd, buf + n, sz - n - 1)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	close(fd);
}

static void
test_endpoint(void **state)
{
	struct gh_config_errors	 errs = { NULL, 0 };
	char			 ov[64], *ovp[] = { ov }, buf[65536];
	int			 port = free_port();
	struct gh_config	*cfg;
	struct gh_metrics_http	*m;

	snprintf(ov, sizeof(ov), "metrics_listen=127.0.0.1:%d", port);
	cfg = gh_config_load(NULL, ovp, 1, &errs);
	assert_non_null(cfg);
	gh_metrics_reset();
	gh_metrics_message(GH_REJECT);
	m = gh_metrics_http_start(cfg);
	assert_non_null(m);
	get(port, "/metrics", buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.0 200"));
	assert_non_null(strstr(buf, "text/plain; version=0.0.4"));
	assert_non_null(strstr(buf,
	    "gatehouse_messages_total{verdict=\"reject\"} 1\n"));
	get(port, "/other", buf, sizeof(buf));
	assert_non_null(strstr(buf, " 404 "));
	gh_metrics_http_stop(m);
	gh_config_unref(cfg);
}

static void
test_off_when_empty(void **state)
{
	struct gh_config_errors	 errs = { NULL, 0 };
	char			*ovp[] = { "metrics_listen=" };
	struct gh_config	*cfg = gh_config_load(NULL, ovp, 1, &errs);

	assert_non_null(cfg);
	assert_null(cfg->metrics_listen.text);
	assert_null(gh_metrics_http_start(cfg));
	gh_config_unref(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoint),
		cmocka_unit_test(test_off_when_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
