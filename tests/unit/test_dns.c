/*
 * test_dns.c — the process resolver: forwarder syntax, sharing and
 * rebuilding, names refused before any query, decoding of answers (a
 * tiny DNS responder on loopback answers TXT, A and MX), and the
 * deadlines: a silent server costs each waiting thread its own timeout
 * and nobody else anything; the per-check budget stops a check.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "filters/dns.h"
#include "filters/util.h"

/* A UDP socket on 127.0.0.1; its port in *port. */
static int
udp_socket(unsigned *port)
{
	struct sockaddr_in	 sin = { .sin_family = AF_INET };
	socklen_t		 sl = sizeof(sin);
	int			 s = socket(AF_INET, SOCK_DGRAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	getsockname(s, (struct sockaddr *)&sin, &sl);
	*port = ntohs(sin.sin_port);
	return s;
}

/* The responder: answers until `stop` is readable. */
struct responder {
	int	 s;
	int	 stop[2];
	int	 queries;
};

/* Build the answer to one query in `q` (len) into `r`; return length. */
static size_t
answer(const uint8_t *q, size_t len, uint8_t *r)
{
	size_t		 qend = 12, o;
	unsigned	 type;
	static const uint8_t txt[] = "\x07v=spf1 \x04-all\x03" "a\0b";

	while (qend < len && q[qend])
		qend += q[qend] + 1;
	qend += 5;			/* root, type, class */
	if (qend > len)
		return 0;
	type = q[qend - 4] << 8 | q[qend - 3];
	memcpy(r, q, qend);
	r[2] = 0x81;			/* QR, RD */
	r[3] = 0x80;			/* RA */
	r[6] = 0;
	r[7] = 1;			/* one answer */
	r[8] = r[9] = r[10] = r[11] = 0;
	if (q[12] == 2 && q[13] == 'n' && q[14] == 'x') {
		r[3] = 0x83;		/* NXDOMAIN */
		r[7] = 0;
		return qend;
	}
	o = qend;
	memcpy(r + o, "\xc0\x0c", 2);	/* the question's name */
	r[o + 2] = (uint8_t)(type >> 8);
	r[o + 3] = (uint8_t)type;
	memcpy(r + o + 4, "\x00\x01\x00\x00\x00\x3c", 6);	/* IN, 60 */
	o += 10;
	switch (type) {
	case GH_DNS_TXT:
		r[o] = 0;
		r[o + 1] = sizeof(txt) - 1;
		memcpy(r + o + 2, txt, sizeof(txt) - 1);
		return o + 2 + sizeof(txt) - 1;
	case GH_DNS_A:
		memcpy(r + o, "\x00\x04\xc0\x00\x02\x01", 6);
		return o + 6;
	case GH_DNS_MX:
		memcpy(r + o, "\x00\x0f\x00\x0a\x02mx\x07" "example\x00", 17);
		return o + 17;
	default:
		r[7] = 0;		/* NODATA */
		return qend;
	}
}

static void *
respond(void *arg)
{
	struct responder	*rs = arg;
	struct pollfd		 p[2] = { { rs->s, POLLIN, 0 },
				    { rs->stop[0], POLLIN, 0 } };
	struct sockaddr_storage	 ss;
	socklen_t		 sl;
	uint8_t			 q[512], r[1024];
	ssize_t			 n;
	size_t			 m;

	while (poll(p, 2, -1) > 0 && !p[1].revents) {
		sl = sizeof(ss);
		if ((n = recvfrom(rs->s, q, sizeof(q), 0,
		    (struct sockaddr *)&ss, &sl)) <= 12)
			continue;
		__atomic_add_fetch(&rs->queries, 1, __ATOMIC_RELAXED);
		if ((m = answer(q, (size_t)n, r)) > 0)
			sendto(rs->s, r, m, 0, (struct sockaddr *)&ss, sl);
	}
	return NULL;
}

/* Forwarder syntax, sharing, rebuilding. */
static void
test_acquire(void **state)
{
	const char	*ok[] = { "127.0.0.1", "127.0.0.1@5353",
	    "127.0.0.1:5353", "::1", "[::1]:5353", "::1@53" };
	const char	*bad[] = { "localhost", "127.0.0.1:0", "[::1",
	    "127.0.0.1:99999", "1.2.3.4.5", "" };
	char		 err[256];
	struct gh_dns	*a, *b, *c;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_null(gh_dns_acquire_with(&bad[i], 1, NULL, err,
		    sizeof(err)));
		assert_non_null(strstr(err, "resolver:"));
	}
	a = gh_dns_acquire_with(ok, 6, NULL, err, sizeof(err));
	assert_non_null(a);
	assert_string_equal(gh_dns_describe(a), "127.0.0.1@53 127.0.0.1@5353 "
	    "127.0.0.1@5353 ::1@53 ::1@5353 ::1@53");
	b = gh_dns_acquire_with(ok, 6, NULL, err, sizeof(err));
	assert_ptr_equal(a, b);		/* one resolver per process */
	c = gh_dns_acquire_with(ok, 1, NULL, err, sizeof(err));
	assert_ptr_not_equal(a, c);	/* settings changed: a new one */
	gh_dns_release(a);
	gh_dns_release(b);
	gh_dns_release(c);
	assert_null(gh_dns_acquire_with(ok, 1, "/nonexistent/root.key", err,
	    sizeof(err)));
	assert_non_null(strstr(err, "dns.trust_anchor"));
}

/* Names refused before any query. */
static void
test_badname(void **state)
{
	const char		*f = "127.0.0.1@9";
	char			 err[256], longname[300];
	struct gh_dns		*d = gh_dns_acquire_with(&f, 1, NULL, err,
				    sizeof(err));
	struct gh_dns_answer	 a;
	uint64_t		 dl = gh_now_us() + 1000000;

	memset(longname, 'a', sizeof(longname));
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(gh_dns_query(d, "a..b", GH_DNS_A, dl, &a),
	    GH_DNS_BADNAME);
	gh_dns_answer_free(&a);
	assert_int_equal(gh_dns_query(d, "", GH_DNS_A, dl, &a),
	    GH_DNS_BADNAME);
	gh_dns_answer_free(&a);
	assert_int_equal(gh_dns_query(d, longname, GH_DNS_A, dl, &a),
	    GH_DNS_BADNAME);
	gh_dns_answer_free(&a);
	assert_int_equal(gh_dns_query(d, "ctrl\x01.example", GH_DNS_A, dl,
	    &a), GH_DNS_BADNAME);
	gh_dns_answer_free(&a);
	gh_dns_release(d);
}

/* Answers are decoded: TXT strings joined (NUL kept), A, MX, NXDOMAIN. */
static void
test_answers(void **state)
{
	struct responder	 rs;
	pthread_t		 th;
	unsigned		 port;
	char			 fwd[64], err[256];
	const char		*f = fwd;
	struct gh_dns		*d;
	struct gh_dns_answer	 a;
	uint64_t		 dl;

	rs.queries = 0;
	rs.s = udp_socket(&port);
	assert_int_equal(pipe(rs.stop), 0);
	pthread_create(&th, NULL, respond, &rs);
	snprintf(fwd, sizeof(fwd), "127.0.0.1@%u", port);
	d = gh_dns_acquire_with(&f, 1, NULL, err, sizeof(err));
	assert_non_null(d);
	dl = gh_now_us() + 2000000;
	assert_int_equal(gh_dns_query(d, "x.example", GH_DNS_TXT, dl, &a),
	    GH_DNS_OK);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.rr[0].textlen, 14);
	assert_memory_equal(a.rr[0].text, "v=spf1 -alla\0b", 14);
	assert_non_null(a.pkt);
	assert_false(a.cached);
	gh_dns_answer_free(&a);
	/* Warm: from the cache, the server is not asked again; the case
	   of the name does not matter. */
	assert_int_equal(gh_dns_query(d, "X.Example.", GH_DNS_TXT, dl, &a),
	    GH_DNS_OK);
	assert_true(a.cached);
	assert_int_equal(a.rr[0].textlen, 14);
	assert_non_null(a.pkt);
	gh_dns_answer_free(&a);
	assert_int_equal(__atomic_load_n(&rs.queries, __ATOMIC_RELAXED), 1);
	assert_int_equal(gh_dns_query(d, "x.example", GH_DNS_A, dl, &a),
	    GH_DNS_OK);
	assert_string_equal(a.rr[0].text, "192.0.2.1");
	assert_int_equal(a.rr[0].family, AF_INET);
	gh_dns_answer_free(&a);
	assert_int_equal(gh_dns_query(d, "x.example", GH_DNS_MX, dl, &a),
	    GH_DNS_OK);
	assert_int_equal(a.rr[0].pref, 10);
	assert_string_equal(a.rr[0].text, "mx.example");
	gh_dns_answer_free(&a);
	assert_int_equal(gh_dns_query(d, "nx.example", GH_DNS_A, dl, &a),
	    GH_DNS_NXDOMAIN);
	gh_dns_answer_free(&a);
	assert_int_equal(gh_dns_query(d, "x.example", GH_DNS_AAAA, dl, &a),
	    GH_DNS_NODATA);
	gh_dns_answer_free(&a);
	gh_dns_release(d);
	assert_int_equal(write(rs.stop[1], "x", 1), 1);
	pthread_join(th, NULL);
	close(rs.s);
	close(rs.stop[0]);
	close(rs.stop[1]);
}

struct waiter {
	struct gh_dns	*d;
	uint64_t	 ms;
	uint64_t	 took_ms;
	int		 status;
};

static void *
wait_one(void *arg)
{
	struct waiter		*w = arg;
	struct gh_dns_answer	 a;
	char			 name[64];
	uint64_t		 t0 = gh_now_us();

	snprintf(name, sizeof(name), "w%llu.example",
	    (unsigned long long)w->ms);
	w->status = gh_dns_query(w->d, name, GH_DNS_TXT, t0 + w->ms * 1000,
	    &a);
	w->took_ms = (gh_now_us() - t0) / 1000;
	gh_dns_answer_free(&a);
	return NULL;
}

/* A silent server costs each waiter its own deadline, no more. */
static void
test_deadlines(void **state)
{
	struct waiter		 w[4];
	pthread_t		 th[4];
	unsigned		 port;
	int			 s = udp_socket(&port), i;
	char			 fwd[64], err[256];
	const char		*f = fwd;
	struct gh_dns		*d;

	snprintf(fwd, sizeof(fwd), "127.0.0.1@%u", port);
	d = gh_dns_acquire_with(&f, 1, NULL, err, sizeof(err));
	for (i = 0; i < 4; i++) {
		w[i].d = d;
		w[i].ms = 100 * (uint64_t)(4 - i);
		pthread_create(&th[i], NULL, wait_one, &w[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].status, GH_DNS_TIMEOUT);
		if (w[i].took_ms + 5 < w[i].ms || w[i].took_ms > w[i].ms + 150)
			fail_msg("deadline %llu ms, took %llu ms",
			    (unsigned long long)w[i].ms,
			    (unsigned long long)w[i].took_ms);
	}
	gh_dns_release(d);
	close(s);
}

static void
count_hook(void *arg, const char *name, int type,
    const struct gh_dns_answer *a)
{
	(*(int *)arg)++;
}

/* The check's budget ends it; the hook sees every query. */
static void
test_budget(void **state)
{
	unsigned		 port;
	int			 s = udp_socket(&port), seen = 0;
	char			 fwd[64], err[256];
	const char		*f = fwd;
	struct gh_dns		*d;
	struct gh_dns_check	 c;
	struct gh_dns_answer	 a;
	uint64_t		 t0;

	snprintf(fwd, sizeof(fwd), "127.0.0.1@%u", port);
	d = gh_dns_acquire_with(&f, 1, NULL, err, sizeof(err));
	gh_dns_check_init(&c, d, 5000, 200);
	c.hook = count_hook;
	c.hook_arg = &seen;
	t0 = gh_now_us();
	assert_int_equal(gh_dns_check_query(&c, "b1.example", GH_DNS_TXT,
	    &a), GH_DNS_TIMEOUT);
	gh_dns_answer_free(&a);
	assert_true(gh_now_us() - t0 < 400000);
	assert_int_equal(gh_dns_check_query(&c, "b2.example", GH_DNS_TXT,
	    &a), GH_DNS_TIMEOUT);
	gh_dns_answer_free(&a);
	assert_true(c.budget_spent);
	assert_int_equal(c.timeouts, 2);
	assert_int_equal(c.queries, 1);
	assert_int_equal(seen, 2);
	gh_dns_release(d);
	close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_acquire),
		cmocka_unit_test(test_badname),
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_deadlines),
		cmocka_unit_test(test_budget),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
