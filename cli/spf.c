/*
 * spf.c — `gatehouse spf`: run an SPF check the way the filter does and
 * show everything a postmaster needs when a sender complains: the
 * result of each identity, the explanation, the problem, and every DNS
 * lookup made, with its answer and time.
 *
 *   gatehouse spf --ip ADDR --sender ADDR [--helo NAME] [--no-helo]
 *       [--count N [--threads T]] [-c FILE] [-o key=value]...
 *
 * Several --sender options run their checks at the same time, on the
 * same resolver, each on its own thread (one slow domain must not delay
 * the others: the output shows each check's time).  --count N repeats
 * the check N times over T threads after one warm-up run and prints the
 * rate (bench/spf.sh).  Exit: 0 when the checks ran, 2 on usage or
 * configuration errors.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "filters/log.h"
#include "filters/spf.h"
#include "filters/util.h"

#define MAX_SENDERS	16

/* One check of the command line. */
struct job {
	struct gh_spf		*spf;
	struct gh_spf_query	 q;
	struct gh_spf_outcome	 res;
	struct gh_buf		 trace;
	int			 rc;
};

/* The bench loop's shared counter. */
struct bench {
	struct gh_spf		*spf;
	struct gh_spf_query	 q;
	long			 left;
	long			 errors;
	enum gh_spf_result	 want;
	pthread_mutex_t		 m;
};

/* Print a string with non-printable bytes escaped. */
static void
put_text(struct gh_buf *b, const char *s, size_t len)
{
	char	 tmp[600];

	gh_printable(tmp, sizeof(tmp), s, len, 200);
	gh_buf_puts(b, tmp);
}

/* The DNS hook: one line per lookup. */
static void
trace_lookup(void *arg, const char *name, int type,
    const struct gh_dns_answer *a)
{
	struct gh_buf	*b = arg;
	size_t		 i;

	gh_buf_printf(b, "  %-5s ", gh_dns_type_name(type));
	put_text(b, name, strlen(name));
	gh_buf_printf(b, " -> %s", gh_dns_status_name(a->status));
	for (i = 0; i < a->n && i < 12; i++) {
		if (a->rr[i].text == NULL)
			continue;
		gh_buf_puts(b, i ? ", " : " ");
		if (type == GH_DNS_TXT) {
			gh_buf_puts(b, "\"");
			put_text(b, a->rr[i].text, a->rr[i].textlen);
			gh_buf_puts(b, "\"");
		} else if (type == GH_DNS_MX)
			gh_buf_printf(b, "%u %s", a->rr[i].pref,
			    a->rr[i].text);
		else
			put_text(b, a->rr[i].text, a->rr[i].textlen);
	}
	if (a->n > 12)
		gh_buf_printf(b, ", ... (%zu records)", a->n);
	gh_buf_printf(b, " (%.1f ms%s)\n", (double)a->usec / 1000.0,
	    a->cached ? ", cached" : "");
}

/* Run one job (a thread). */
static void *
run_job(void *arg)
{
	struct job	*j = arg;

	j->rc = gh_spf_check(j->spf, &j->q, trace_lookup, &j->trace, &j->res);
	return NULL;
}

/* Print one identity's part. */
static void
print_identity(const char *prefix, const struct gh_spf_identity *id)
{
	char	 tmp[800];

	if (*prefix)
		printf("%sresult: %s\n", prefix,
		    gh_spf_result_name(id->result));
	gh_printable(tmp, sizeof(tmp), id->domain, strlen(id->domain), 255);
	printf("%sdomain: %s\n", prefix, tmp);
	if (id->explanation) {
		gh_printable(tmp, sizeof(tmp), id->explanation,
		    strlen(id->explanation), 400);
		printf("%sexplanation: %s\n", prefix, tmp);
		printf("%sexplanation-source: %s\n", prefix,
		    id->exp_default ? "default" : "record");
	}
	if (id->problem[0])
		printf("%sproblem: %s\n", prefix, id->problem);
	printf("%sterms: %u voids: %u\n", prefix, id->terms, id->voids);
}

/* Print a job's outcome. */
static void
print_job(const struct job *j, int n, int total)
{
	char	 tmp[800];

	if (total > 1)
		printf("[%d]\n", n);
	gh_printable(tmp, sizeof(tmp), j->q.sender, strlen(j->q.sender), 320);
	printf("client-ip: %s\nsender: %s\n", j->q.ip, tmp[0] ? tmp : "<>");
	if (j->q.helo) {
		gh_printable(tmp, sizeof(tmp), j->q.helo, strlen(j->q.helo),
		    255);
		printf("helo: %s\n", tmp);
	}
	printf("result: %s\nidentity: %s\n",
	    gh_spf_result_name(j->res.result), j->res.identity);
	print_identity("", gh_spf_decisive(&j->res));
	if (j->res.helo.checked && strcmp(j->res.identity, "helo") != 0)
		print_identity("helo-", &j->res.helo);
	printf("lookups:\n%s", j->trace.p ? j->trace.p : "");
	printf("queries: %u time: %.1f ms\n", j->res.queries,
	    (double)j->res.usec / 1000.0);
}

/* The bench loop (a thread). */
static void *
bench_loop(void *arg)
{
	struct bench		*b = arg;
	struct gh_spf_outcome	 res;

	for (;;) {
		pthread_mutex_lock(&b->m);
		if (b->left <= 0) {
			pthread_mutex_unlock(&b->m);
			return NULL;
		}
		b->left--;
		pthread_mutex_unlock(&b->m);
		if (gh_spf_check(b->spf, &b->q, NULL, NULL, &res) == -1 ||
		    res.result != b->want) {
			pthread_mutex_lock(&b->m);
			b->errors++;
			pthread_mutex_unlock(&b->m);
		}
		gh_spf_result_clear(&res);
	}
}

/* Repeat a check `count` times on `threads` threads; print the rate. */
static int
bench(struct gh_spf *spf, const struct gh_spf_query *q, long count,
    int threads)
{
	struct bench		 b;
	struct gh_spf_outcome	 res;
	pthread_t		 th[64];
	uint64_t		 t0;
	double			 secs;
	int			 i;

	if (gh_spf_check(spf, q, NULL, NULL, &res) == -1)	/* warm-up */
		return 1;
	printf("result: %s\n", gh_spf_result_name(res.result));
	memset(&b, 0, sizeof(b));
	b.want = res.result;
	gh_spf_result_clear(&res);
	b.spf = spf;
	b.q = *q;
	b.left = count;
	pthread_mutex_init(&b.m, NULL);
	t0 = gh_now_us();
	for (i = 0; i < threads; i++)
		if (pthread_create(&th[i], NULL, bench_loop, &b) != 0)
			break;
	threads = i;
	for (i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	secs = (double)(gh_now_us() - t0) / 1e6;
	printf("checks: %ld threads: %d seconds: %.3f checks/s: %.0f "
	    "other results: %ld\n", count, threads, secs,
	    (double)count / secs, b.errors);
	pthread_mutex_destroy(&b.m);
	return 0;
}

/* Print usage. */
static int
spf_usage(void)
{
	fprintf(stderr, "usage: gatehouse spf --ip ADDR --sender ADDR "
	    "[--helo NAME] [--no-helo]\n"
	    "           [--count N [--threads T]] [-c FILE] "
	    "[-o key=value]...\n");
	return 2;
}

/* Add an -o override to the options. */
static int
add_override(struct gh_cli *cli, char *kv)
{
	char	**n = realloc(cli->overrides, (cli->noverrides + 1) *
	    sizeof(*n));

	if (n == NULL)
		return -1;
	cli->overrides = n;
	cli->overrides[cli->noverrides++] = kv;
	return 0;
}

int
cmd_spf(struct gh_cli *cli)
{
	static const struct option longopts[] = {
		{ "ip", required_argument, NULL, 'i' },
		{ "sender", required_argument, NULL, 's' },
		{ "helo", required_argument, NULL, 'H' },
		{ "no-helo", no_argument, NULL, 'n' },
		{ "count", required_argument, NULL, 'N' },
		{ "threads", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 }
	};
	struct gh_config	*cfg;
	struct gh_spf		*spf;
	struct job		 jobs[MAX_SENDERS];
	pthread_t		 th[MAX_SENDERS];
	const char		*ip = NULL, *helo = NULL;
	const char		*senders[MAX_SENDERS];
	char			 err[512];
	int			 nsend = 0, ch, i, threads = 1, r = 0;
	long			 count = 0;
	bool			 no_helo = false, started[MAX_SENDERS];

	optind = 0;	/* re-initialise getopt for the subcommand */
	while ((ch = getopt_long(cli->argc + 1, cli->argv - 1, "c:o:fv",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'i': ip = optarg; break;
		case 'H': helo = optarg; break;
		case 'n': no_helo = true; break;
		case 'N': count = strtol(optarg, NULL, 10); break;
		case 'T': threads = atoi(optarg); break;
		case 'c':
			cli->config_path = optarg;
			cli->config_given = true;
			break;
		case 'o':
			if (add_override(cli, optarg) == -1)
				return 2;
			break;
		case 'f': cli->foreground = true; break;
		case 'v': cli->verbose++; break;
		case 's':
			if (nsend == MAX_SENDERS)
				return spf_usage();
			senders[nsend++] = optarg;
			break;
		default:
			return spf_usage();
		}
	}
	if (optind != cli->argc + 1 || ip == NULL || nsend == 0 ||
	    threads < 1 || threads > 64 || count < 0)
		return spf_usage();
	if (!cli->config_given && access(cli->config_path, F_OK) == -1)
		cli->config_path = NULL;	/* built-in defaults */
	if ((cfg = cli_load_config(cli)) == NULL)
		return 2;
	cli->foreground = true;
	cli_open_log(cli, cfg);
	if ((spf = gh_spf_new(cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "gatehouse: %s\n", err);
		gh_config_unref(cfg);
		return 2;
	}
	memset(jobs, 0, sizeof(jobs));
	for (i = 0; i < nsend; i++) {
		jobs[i].spf = spf;
		jobs[i].q.ip = ip;
		jobs[i].q.sender = senders[i];
		jobs[i].q.helo = helo;
		jobs[i].q.check_helo = cfg->spf_helo == 1 && !no_helo;
		gh_buf_init(&jobs[i].trace, 1024 * 1024);
	}
	if (count > 0) {
		r = bench(spf, &jobs[0].q, count, threads);
	} else {
		for (i = 0; i < nsend; i++) {
			started[i] = pthread_create(&th[i], NULL, run_job,
			    &jobs[i]) == 0;
			if (!started[i])
				run_job(&jobs[i]);
		}
		for (i = 0; i < nsend; i++) {
			if (started[i])
				pthread_join(th[i], NULL);
			if (i)
				printf("\n");
			print_job(&jobs[i], i + 1, nsend);
		}
	}
	for (i = 0; i < nsend; i++) {
		gh_spf_result_clear(&jobs[i].res);
		gh_buf_free(&jobs[i].trace);
	}
	gh_spf_free(spf);
	gh_config_unref(cfg);
	return r;
}
