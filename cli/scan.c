/*
 * scan.c — `gatehouse scan`: run the daemons' filter chain offline on
 * messages and print, for each, the verdict, the score against the
 * thresholds, every rule that hit with its score and the text it matched,
 * the authentication results, the header edits and the time taken.
 *
 * Usage: gatehouse [-c FILE] [-o key=value]... scan [--json] [--offline]
 *            [--client ADDR] [--helo NAME] [--sender ADDR] [--rcpt ADDR]
 *            [--stats | --profile] [--subrules]
 *            [--no-prefilter | --plain] FILE.eml... | -
 *
 * Messages may have LF or CRLF line ends (converted to CRLF as SMTP
 * carries them).  The envelope comes from the options, else the sender
 * from Return-Path.  --offline turns off what needs DNS (SPF, DKIM).
 * --stats ends the output with the CPU time per message (p50, p99,
 * messages per CPU second: the figures bench/rules.sh reports);
 * --profile adds the time spent in each rule, by rule type and for the
 * ten slowest rules (timing every rule costs a little CPU itself).
 * --subrules lists, in JSON, the sub-rules (__NAME) that hit as well.
 * --no-prefilter is rules.prefilter=no; --plain is rules.shortcuts=no
 * (one search per rule per text): both give the same hits, slower.
 * Exit 0 when every message was scanned, 2 on a usage or load error,
 * 1 when a file could not be read.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/resource.h>
#include <time.h>

#include "cli/cli.h"
#include "filters/chain.h"
#include "filters/decode.h"
#include "filters/log.h"
#include "filters/message.h"
#include "filters/regex.h"
#include "filters/util.h"
#include "rules/rules.h"

struct scan_opts {
	bool		 json;
	bool		 stats;		/* --stats or --profile */
	bool		 profile;
	bool		 subrules;	/* --subrules (JSON) */
	const char	*client, *helo, *sender, *rcpt;
};

/* Per-message figures kept for --stats. */
struct scan_stats {
	double		*cpu_ms;	/* CPU time per message */
	size_t		*size;		/* bytes per message */
	size_t		 n, cap;
	double		 cpu_total;	/* ms */
	double		 wall_total;	/* ms, over the same spans */
	uint64_t	 wall0;
};

/* CPU time of this thread, in milliseconds. */
static double
cpu_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Keep one message's CPU time and size. */
static int
stats_add(struct scan_stats *st, double ms, double wall, size_t size)
{
	if (st->n == st->cap) {
		size_t	 ncap = st->cap ? st->cap * 2 : 1024;
		double	*nc = realloc(st->cpu_ms, ncap * sizeof(*nc));
		size_t	*ns;

		if (nc == NULL)
			return -1;
		st->cpu_ms = nc;
		if ((ns = realloc(st->size, ncap * sizeof(*ns))) == NULL)
			return -1;
		st->size = ns;
		st->cap = ncap;
	}
	st->cpu_ms[st->n] = ms;
	st->size[st->n++] = size;
	st->cpu_total += ms;
	st->wall_total += wall;
	return 0;
}

/* qsort comparators. */
static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
cmp_size(const void *a, const void *b)
{
	size_t	 x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* The value at quantile Q of the sorted array V of N values. */
static double
quantile(const double *v, size_t n, double q)
{
	size_t	 i = (size_t)(q * (double)(n - 1) + 0.5);

	return n ? v[i < n ? i : n - 1] : 0;
}

/* A rule and its time, for the slowest-rules list. */
struct rule_time {
	uint32_t	 rule;
	uint64_t	 ns;
};

static int
cmp_rule_time(const void *a, const void *b)
{
	const struct rule_time	*x = a, *y = b;

	return x->ns > y->ns ? -1 : x->ns < y->ns;
}

/*
 * Print the rules' time by type and the ten slowest rules (--profile):
 * JSON members when JSON, else text.  Rules are timed with the monotonic
 * clock (a CPU-time clock costs a system call, too much per rule), so
 * on a busy machine their times include time the process was not
 * running: they are scaled by the run's CPU/wall ratio SCALE.
 */
static void
print_profile(const struct gh_chain *c, bool json, double n, double scale)
{
	const struct rules_set	*set = gh_regex_rules(c);
	const uint64_t		*prof = gh_regex_profile(c);
	struct rule_time	*rt;
	uint64_t		 bytype[RULES_T_COUNT] = { 0 };
	size_t			 nr, i, k;
	double			 total = 0;

	if (set == NULL || prof == NULL || n == 0)
		return;
	nr = rules_count(set);
	if ((rt = calloc(nr + 1, sizeof(*rt))) == NULL)
		return;
	for (i = 0; i < nr; i++) {
		bytype[rules_type_of(set, (uint32_t)i)] += prof[i];
		rt[i].rule = (uint32_t)i;
		rt[i].ns = prof[i];
		total += prof[i] / 1e6 * scale;
	}
	total += prof[nr] / 1e6 * scale;
	qsort(rt, nr, sizeof(*rt), cmp_rule_time);
	printf(json ? ",\"cpu_wall_ratio\":%.3f,\"rules_ms\":%.4f,"
	    "\"by_type_ms\":{" : "rules: (times scaled by CPU/wall %.3f) "
	    "%.4f ms per message in rules, by type:\n", scale, total / n);
	for (i = k = 0; i < RULES_T_COUNT; i++) {
		if (bytype[i] == 0)
			continue;
		printf(json ? "%s\"%s\":%.4f" : "%s  %-10s %8.4f ms\n",
		    json && k++ ? "," : "", rules_type_name(i),
		    bytype[i] / 1e6 / n * scale);
	}
	if (json)
		printf("%s\"prefilter\":%.4f", k ? "," : "",
		    prof[nr] / 1e6 / n * scale);
	else
		printf("  %-10s %8.4f ms (scans, line joins)\n", "prefilter",
		    prof[nr] / 1e6 / n * scale);
	/* the message model's work building the texts, per stage */
	printf(json ? "},\"texts_ms\":{" : "texts: (the message model, "
	    "scaled alike) ms per message:\n");
	for (i = 0; i < GH_REGEX_STAGES; i++)
		printf(json ? "%s\"%s\":%.4f" : "%s  %-10s %8.4f ms\n",
		    json && i ? "," : "", gh_regex_stage_names[i],
		    prof[nr + 1 + i] / 1e6 / n * scale);
	printf(json ? "},\"slowest\":[" : "slowest rules (ms per message):\n");
	for (i = 0; i < nr && i < 10 && rt[i].ns > 0; i++) {
		const char *name = rules_name(set, rt[i].rule);
		const char *type = rules_type_name(rules_type_of(set,
		    rt[i].rule));

		if (json)
			printf("%s{\"name\":\"%s\",\"type\":\"%s\","
			    "\"ms\":%.4f}", i ? "," : "", name, type,
			    rt[i].ns / 1e6 / n * scale);
		else
			printf("  %-32s %-10s %8.4f\n", name, type,
			    rt[i].ns / 1e6 / n * scale);
	}
	if (json)
		putchar(']');
	free(rt);
}

/* Print the --stats summary (and --profile's part). */
static void
print_stats(const struct gh_chain *c, const struct scan_opts *o,
    struct scan_stats *st)
{
	const struct rules_set	*set = gh_regex_rules(c);
	double			 wall = (gh_now_us() - st->wall0) / 1e6;
	struct rusage		 ru;
	size_t			 median;

	if (st->n == 0)
		return;
	qsort(st->cpu_ms, st->n, sizeof(*st->cpu_ms), cmp_double);
	qsort(st->size, st->n, sizeof(*st->size), cmp_size);
	median = st->size[st->n / 2];
	getrusage(RUSAGE_SELF, &ru);
	printf(o->json ? "{\"stats\":{\"messages\":%zu,\"median_size\":%zu,"
	    "\"cpu_s\":%.3f,\"wall_s\":%.3f,\"msgs_per_cpu_s\":%.1f,"
	    "\"p50_ms\":%.4f,\"p99_ms\":%.4f,\"max_ms\":%.4f,"
	    "\"rules_memory\":%zu,\"maxrss_kb\":%ld" :
	    "stats: %zu messages, median size %zu bytes, %.3f s CPU, "
	    "%.3f s wall, %.1f messages per CPU second\n"
	    "stats: CPU per message p50 %.4f ms, p99 %.4f ms, max %.4f ms\n"
	    "stats: rule set %zu bytes, max RSS %ld KB\n",
	    st->n, median, st->cpu_total / 1e3, wall,
	    st->cpu_total > 0 ? st->n / (st->cpu_total / 1e3) : 0,
	    quantile(st->cpu_ms, st->n, 0.5),
	    quantile(st->cpu_ms, st->n, 0.99), st->cpu_ms[st->n - 1],
	    set ? rules_set_memory(set) : 0, ru.ru_maxrss);
	if (o->profile)
		print_profile(c, o->json, (double)st->n,
		    st->wall_total > 0 && st->cpu_total < st->wall_total ?
		    st->cpu_total / st->wall_total : 1);
	if (o->json)
		printf("}}\n");
}

/* Read a file (or stdin for "-") into a message, LF -> CRLF. */
static struct gh_message *
read_message(const char *path, const struct gh_config *cfg)
{
	struct gh_msg_limits	 lim = { 0 };
	struct gh_message	*m;
	FILE			*fp;
	char			 buf[65536], out[2 * sizeof(buf)];
	size_t			 n, i, o;
	int			 prev = 0;

	fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (fp == NULL)
		return NULL;
	lim.max_size = cfg->max_message_size;
	lim.mem_max = cfg->data_memory_max;
	lim.tmpdir = cfg->spool_dir;
	if ((m = gh_message_new(&lim)) == NULL)
		goto fail;
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0) {
		for (i = o = 0; i < n; i++) {
			if (buf[i] == '\n' && prev != '\r')
				out[o++] = '\r';
			out[o++] = buf[i];
			prev = (unsigned char)buf[i];
		}
		if (gh_message_feed(m, out, o) == -1)
			goto fail;
	}
	if (ferror(fp) || gh_message_end(m) == -1)
		goto fail;
	if (fp != stdin)
		fclose(fp);
	return m;
fail:
	gh_message_free(m);
	if (fp != stdin)
		fclose(fp);
	return NULL;
}

/* The address inside Return-Path: <...>, malloc'd, or NULL. */
static char *
return_path(struct gh_message *m)
{
	const struct gh_header	*h = gh_message_find(m, "Return-Path", 0);
	char			*v, *lt, *gt, *r = NULL;

	if (h == NULL || (v = gh_header_unfold(h, NULL)) == NULL)
		return NULL;
	if ((lt = strchr(v, '<')) && (gt = strchr(lt, '>')))
		r = gh_strndup(lt + 1, (size_t)(gt - lt - 1));
	free(v);
	return r;
}

/*
 * Print a JSON string.  JSON is UTF-8: valid sequences pass as they are;
 * any other byte (a match in a Latin-1 text, say) is written as the
 * code point of the same value, \u00XX, so the output always parses.
 */
static void
json_str(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n = s ? strlen(s) : 0, len;
	uint32_t		 cp;

	putchar('"');
	while (n > 0) {
		unsigned char c = *p;

		if (c >= 0x80 && (len = utf8__char(p, n, &cp)) > 0) {
			fwrite(p, 1, len, stdout);
			p += len;
			n -= len;
			continue;
		}
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
		p++;
		n--;
	}
	putchar('"');
}

/* Print one result as text. */
static void
print_text(const char *file, const struct gh_txn *t,
    const struct gh_verdict *v, double ms)
{
	const struct gh_config	*cfg = t->cfg;
	char			 esc[512];
	size_t			 i;

	printf("%s: verdict=%s score=%.1f tag=%.1f reject=%.1f time=%.2fms\n",
	    file, gh_action_name(v->action), t->score,
	    gh_chain_score_tag(t->chain), cfg->score_reject, ms);
	if (v->code)
		printf("  reply  %d %s %s\n", v->code, v->status,
		    v->text ? v->text : "");
	if (v->reason)
		printf("  reason %s\n", v->reason);
	for (i = 0; i < t->hits.n; i++) {
		const struct gh_hit *h = &t->hits.v[i];

		printf("  hit    %-24s %7.1f%s", h->name, h->score,
		    h->shadow ? " (shadow)" : "");
		if (h->detail)
			printf("  \"%s\"", gh_printable(esc, sizeof(esc),
			    h->detail, strlen(h->detail), 100));
		putchar('\n');
	}
	for (i = 0; i < t->authres.n; i++)
		printf("  result %s=%s%s%s\n", t->authres.v[i].method,
		    t->authres.v[i].result, t->authres.v[i].props ? " " : "",
		    t->authres.v[i].props ? t->authres.v[i].props : "");
	for (i = 0; i < t->edits.n; i++) {
		const struct gh_edit *e = &t->edits.v[i];
		const char *op = e->op == GH_EDIT_INSERT ? "insert" :
		    e->op == GH_EDIT_APPEND ? "append" :
		    e->value ? "change" : "delete";

		printf("  %-6s %s", op, e->name);
		if (e->op == GH_EDIT_CHANGE)
			printf("[%u]", e->index);
		if (e->value)
			printf(": %s", gh_printable(esc, sizeof(esc),
			    e->value, strlen(e->value), 400));
		putchar('\n');
	}
}

/* Print one result as a JSON object on one line. */
static void
print_json(const char *file, const struct gh_txn *t,
    const struct gh_verdict *v, double ms, bool subrules)
{
	const struct rules_hit	*rh;
	size_t			 i, n, k = 0;

	printf("{\"file\":");
	json_str(file);
	printf(",\"verdict\":\"%s\",\"score\":%.2f,\"tag_threshold\":%.2f,"
	    "\"reject_threshold\":%.2f,\"time_ms\":%.3f",
	    gh_action_name(v->action), t->score, gh_chain_score_tag(t->chain),
	    t->cfg->score_reject, ms);
	if (v->code) {
		printf(",\"reply\":{\"code\":%d,\"status\":\"%s\",\"text\":",
		    v->code, v->status);
		json_str(v->text);
		putchar('}');
	}
	printf(",\"hits\":[");
	for (i = 0; i < t->hits.n; i++) {
		printf("%s{\"name\":", i ? "," : "");
		json_str(t->hits.v[i].name);
		printf(",\"score\":%.2f,\"shadow\":%s", t->hits.v[i].score,
		    t->hits.v[i].shadow ? "true" : "false");
		if (t->hits.v[i].detail) {
			printf(",\"match\":");
			json_str(t->hits.v[i].detail);
		}
		putchar('}');
	}
	if (subrules) {
		printf("],\"subrules\":[");
		rh = gh_regex_txn_hits(t, &n);
		for (i = 0; i < n; i++) {
			if (!rh[i].sub)
				continue;
			printf("%s", k++ ? "," : "");
			json_str(rh[i].name);
		}
	}
	printf("],\"results\":[");
	for (i = 0; i < t->authres.n; i++) {
		printf("%s{\"method\":", i ? "," : "");
		json_str(t->authres.v[i].method);
		printf(",\"result\":");
		json_str(t->authres.v[i].result);
		printf(",\"props\":");
		json_str(t->authres.v[i].props);
		putchar('}');
	}
	printf("],\"edits\":[");
	for (i = 0; i < t->edits.n; i++) {
		printf("%s{\"op\":\"%s\",\"name\":", i ? "," : "",
		    t->edits.v[i].op == GH_EDIT_INSERT ? "insert" :
		    t->edits.v[i].op == GH_EDIT_APPEND ? "append" : "change");
		json_str(t->edits.v[i].name);
		printf(",\"index\":%u,\"value\":", t->edits.v[i].index);
		if (t->edits.v[i].value)
			json_str(t->edits.v[i].value);
		else
			printf("null");
		putchar('}');
	}
	printf("]}\n");
}

/* Run every stage on one message; print the outcome. */
static int
scan_one(struct gh_chain *c, const struct scan_opts *o, const char *file,
    uint64_t id, struct scan_stats *st)
{
	struct gh_message	*m;
	struct gh_txn		*t;
	struct gh_verdict	 v;
	enum gh_stage		 s;
	char			*rp = NULL;
	uint64_t		 t0 = gh_now_us(), w0, w1;
	double			 c0 = cpu_ms(), ms, p0, p1;
	size_t			 size = 0;

	if ((m = read_message(file, gh_chain_config(c))) == NULL) {
		fprintf(stderr, "gatehouse: %s: %s\n", file, strerror(errno));
		return -1;
	}
	if ((t = gh_txn_new(c, id)) == NULL) {
		gh_message_free(m);
		return -1;
	}
	if (o->client)
		gh_txn_set_client(t, o->client, 0, NULL, NULL, 0);
	if (o->helo)
		gh_txn_set_helo(t, o->helo);
	if (o->sender == NULL)
		rp = return_path(m);
	gh_txn_set_mail(t, o->sender ? o->sender : rp ? rp : "");
	/* rules then guess EnvelopeFrom as SpamAssassin does */
	t->env.mail_from_guessed = o->sender == NULL;
	gh_txn_add_rcpt(t, o->rcpt ? o->rcpt : "postmaster");
	gh_txn_set_message(t, m);
	memset(&v, 0, sizeof(v));
	for (s = GH_STAGE_CONNECT; s < GH_NSTAGES; s++) {
		if ((s == GH_STAGE_CONNECT && !o->client) ||
		    (s == GH_STAGE_HELO && !o->helo))
			continue;
		gh_verdict_clear(&v);
		if (gh_chain_run(t, s, &v) == -1) {
			v.action = GH_TEMPFAIL;
			break;
		}
		if (v.action == GH_REJECT || v.action == GH_TEMPFAIL ||
		    v.action == GH_DISCARD)
			break;
	}
	ms = (gh_now_us() - t0) / 1000.0;
	/* Printing is not filtering: its CPU time is left out. */
	p0 = cpu_ms();
	w0 = gh_now_us();
	if (o->json)
		print_json(file, t, &v, ms, o->subrules);
	else
		print_text(file, t, &v, ms);
	p1 = cpu_ms();
	w1 = gh_now_us();
	size = (size_t)gh_message_size(m);
	/* The rules filter adds its profile when the transaction ends. */
	gh_verdict_clear(&v);
	gh_txn_free(t);
	gh_message_free(m);
	free(rp);
	if (o->stats && stats_add(st, cpu_ms() - c0 - (p1 - p0),
	    (gh_now_us() - t0) / 1e3 - (w1 - w0) / 1e3, size) == -1)
		return -1;
	return 0;
}

int
cmd_scan(struct gh_cli *cli)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "offline", no_argument, NULL, 'O' },
		{ "client", required_argument, NULL, 'a' },
		{ "helo", required_argument, NULL, 'H' },
		{ "sender", required_argument, NULL, 's' },
		{ "rcpt", required_argument, NULL, 'r' },
		{ "stats", no_argument, NULL, 'S' },
		{ "profile", no_argument, NULL, 'P' },
		{ "subrules", no_argument, NULL, 'U' },
		{ "no-prefilter", no_argument, NULL, 'N' },
		{ "plain", no_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 }
	};
	struct scan_opts	 o = { 0 };
	struct scan_stats	 st = { 0 };
	struct gh_config	*cfg;
	struct gh_chain		*c;
	char			 err[8192];
	const char		*eval = NULL;
	bool			 offline = false;
	int			 ch, i, r = 0;

	/* argv[-1] is the command name: getopt skips it like a program. */
	optind = 1;
	while ((ch = getopt_long(cli->argc + 1, cli->argv - 1, "+", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'j': o.json = true; break;
		case 'O': offline = true; break;
		case 'a': o.client = optarg; break;
		case 'H': o.helo = optarg; break;
		case 's': o.sender = optarg; break;
		case 'r': o.rcpt = optarg; break;
		case 'S': o.stats = true; break;
		case 'P': o.stats = o.profile = true; break;
		case 'U': o.subrules = true; break;
		case 'N': eval = "rules.prefilter=no"; break;
		case 'L': eval = "rules.shortcuts=no"; break;
		default: return 2;
		}
	}
	if (optind >= cli->argc + 1) {
		fprintf(stderr, "usage: gatehouse scan [--json] [--offline] "
		    "[--client ADDR] [--helo NAME] [--sender ADDR] "
		    "[--rcpt ADDR] [--stats | --profile] [--subrules] "
		    "[--no-prefilter | --plain] FILE.eml... | -\n");
		return 2;
	}
	if (offline) {
		char **ov = realloc(cli->overrides, (cli->noverrides + 2) *
		    sizeof(char *));

		if (ov == NULL)
			return 2;
		cli->overrides = ov;
		ov[cli->noverrides++] = "spf.enable=no";
		ov[cli->noverrides++] = "dkim.enable=no";
	}
	if (eval != NULL) {
		char **ov = realloc(cli->overrides, (cli->noverrides + 1) *
		    sizeof(char *));

		if (ov == NULL)
			return 2;
		cli->overrides = ov;
		ov[cli->noverrides++] = (char *)eval;
	}
	if ((cfg = cli_load_config(cli)) == NULL)
		return 2;
	gh_log_open("gatehouse", GH_LOG_STDERR, LOG_MAIL);
	gh_log_set_level(cli->verbose ? LOG_DEBUG : LOG_WARNING);
	if ((c = gh_chain_new(cfg, NULL, err, sizeof(err))) == NULL) {
		fprintf(stderr, "gatehouse: %s\n", err);
		gh_config_unref(cfg);
		return 2;
	}
	if (o.profile && gh_regex_profile_on(c) == -1) {
		fprintf(stderr, "gatehouse: --profile: no rules to profile\n");
		r = 2;
		goto out;
	}
	st.wall0 = gh_now_us();
	for (i = optind - 1; i < cli->argc; i++)
		if (scan_one(c, &o, cli->argv[i], (uint64_t)i + 1, &st) == -1)
			r = 1;
	if (o.stats)
		print_stats(c, &o, &st);
out:
	free(st.cpu_ms);
	free(st.size);
	gh_chain_unref(c);
	gh_config_unref(cfg);
	return r;
}
