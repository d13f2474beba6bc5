/*
 * metrics.c — the process's metrics registry.
 *
 * Plain counters are atomics.  Labelled counters live in small tables
 * (one mutex each, taken once per event: cheap beside a message); a
 * table that is full folds new labels into label value "other", so a
 * flood of distinct rule names or results cannot grow memory.  Label
 * values are escaped for the exposition format.
 */
#include "filters/metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "filters/chain.h"

#define LABELS_MAX	1024
#define LABEL_LEN	64

struct labelled {
	const char	*name;
	const char	*help;
	const char	*label;		/* label name(s), "a" or "a,b" */
	pthread_mutex_t	 mu;
	size_t		 n;
	char		 keys[LABELS_MAX][LABEL_LEN];
	uint64_t	 vals[LABELS_MAX];
};

static const double buckets[] = {
	0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30
};
#define NBUCKETS	(sizeof(buckets) / sizeof(buckets[0]))

struct histogram {
	uint64_t	 counts[NBUCKETS];	/* cumulative on render */
	uint64_t	 count;
	uint64_t	 sum_us;
};

static uint64_t		 sessions_total, sessions_current, dns_timeouts;
static struct histogram	 stage_hist[GH_NSTAGES];

#define LABELLED(var, n, h, l)						\
	static struct labelled var = { n, h, l,				\
	    PTHREAD_MUTEX_INITIALIZER, 0, { { 0 } }, { 0 } }
LABELLED(messages, "gatehouse_messages_total",
    "Messages by final verdict.", "verdict");
LABELLED(results, "gatehouse_filter_results_total",
    "Authentication results by method and result.", "method,result");
LABELLED(hits, "gatehouse_rule_hits_total",
    "Rule hits by rule (shadow hits counted separately).", "rule,mode");
LABELLED(backend_errors, "gatehouse_backend_errors_total",
    "Backend failures by kind.", "kind");
LABELLED(reloads, "gatehouse_reloads_total",
    "Configuration and rule reloads by outcome.", "outcome");
LABELLED(refused, "gatehouse_refused_total",
    "Sessions or commands refused by a limit or protocol check.", "reason");

/* Add one to the counter labelled `key` ("v" or "v1\tv2"). */
static void
bump(struct labelled *l, const char *key)
{
	size_t	 i;

	pthread_mutex_lock(&l->mu);
	for (i = 0; i < l->n; i++)
		if (strncmp(l->keys[i], key, LABEL_LEN - 1) == 0)
			break;
	if (i == l->n) {
		if (l->n == LABELS_MAX - 1) {
			/* Full: fold into "other" (kept in the last slot). */
			i = LABELS_MAX - 1;
			strcpy(l->keys[i], "other");
		} else {
			snprintf(l->keys[i], LABEL_LEN, "%s", key);
			l->n++;
		}
	}
	l->vals[i]++;
	pthread_mutex_unlock(&l->mu);
}

/* Join two label values with a tab. */
static void
bump2(struct labelled *l, const char *a, const char *b)
{
	char	 key[LABEL_LEN];

	snprintf(key, sizeof(key), "%.31s\t%.31s", a, b);
	bump(l, key);
}

void
gh_metrics_session_open(void)
{
	__atomic_add_fetch(&sessions_total, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&sessions_current, 1, __ATOMIC_RELAXED);
}

void
gh_metrics_session_close(void)
{
	__atomic_sub_fetch(&sessions_current, 1, __ATOMIC_RELAXED);
}

void
gh_metrics_message(enum gh_action v)
{
	bump(&messages, gh_action_name(v));
}

void
gh_metrics_result(const char *method, const char *result)
{
	bump2(&results, method, result);
}

void
gh_metrics_rule_hit(const char *rule, bool shadow)
{
	bump2(&hits, rule, shadow ? "shadow" : "live");
}

void
gh_metrics_stage_latency(enum gh_stage s, uint64_t usec)
{
	struct histogram	*h;
	size_t			 i;

	if (s >= GH_NSTAGES)
		return;
	h = &stage_hist[s];
	for (i = 0; i < NBUCKETS; i++)
		if ((double)usec / 1e6 <= buckets[i]) {
			__atomic_add_fetch(&h->counts[i], 1, __ATOMIC_RELAXED);
			break;
		}
	__atomic_add_fetch(&h->count, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&h->sum_us, usec, __ATOMIC_RELAXED);
}

void
gh_metrics_backend_error(const char *kind)
{
	bump(&backend_errors, kind);
}

void
gh_metrics_dns_timeout(void)
{
	__atomic_add_fetch(&dns_timeouts, 1, __ATOMIC_RELAXED);
}

void
gh_metrics_reload(bool ok)
{
	bump(&reloads, ok ? "ok" : "refused");
}

void
gh_metrics_refused(const char *reason)
{
	bump(&refused, reason);
}

/* Append a label value, escaped as the exposition format requires. */
static void
put_label(struct gh_buf *b, const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n && s[i]; i++) {
		if (s[i] == '\\' || s[i] == '"')
			gh_buf_append(b, "\\", 1);
		if (s[i] == '\n')
			gh_buf_puts(b, "\\n");
		else
			gh_buf_append(b, &s[i], 1);
	}
}

/* Render one labelled counter family. */
static void
render_labelled(struct gh_buf *b, struct labelled *l)
{
	const char	*comma = strchr(l->label, ',');
	size_t		 i;

	gh_buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n", l->name,
	    l->help, l->name);
	pthread_mutex_lock(&l->mu);
	for (i = 0; i < LABELS_MAX; i++) {
		const char	*k = l->keys[i], *tab;

		if (i >= l->n && (i != LABELS_MAX - 1 || l->vals[i] == 0))
			continue;
		gh_buf_printf(b, "%s{", l->name);
		if (comma && (tab = strchr(k, '\t')) != NULL) {
			gh_buf_printf(b, "%.*s=\"", (int)(comma - l->label),
			    l->label);
			put_label(b, k, (size_t)(tab - k));
			gh_buf_printf(b, "\",%s=\"", comma + 1);
			put_label(b, tab + 1, LABEL_LEN);
		} else {
			gh_buf_printf(b, "%.*s=\"", comma ?
			    (int)(comma - l->label) : (int)strlen(l->label),
			    l->label);
			put_label(b, k, LABEL_LEN);
		}
		gh_buf_printf(b, "\"} %llu\n", (unsigned long long)l->vals[i]);
	}
	pthread_mutex_unlock(&l->mu);
}

/* Render the per-stage latency histogram. */
static void
render_histograms(struct gh_buf *b)
{
	const char	*n = "gatehouse_stage_duration_seconds";
	size_t		 s, i;

	gh_buf_printf(b, "# HELP %s Time the filter chain took per stage.\n"
	    "# TYPE %s histogram\n", n, n);
	for (s = 0; s < GH_NSTAGES; s++) {
		struct histogram	*h = &stage_hist[s];
		uint64_t		 cum = 0, count;

		count = __atomic_load_n(&h->count, __ATOMIC_RELAXED);
		for (i = 0; i < NBUCKETS; i++) {
			cum += __atomic_load_n(&h->counts[i],
			    __ATOMIC_RELAXED);
			gh_buf_printf(b, "%s_bucket{stage=\"%s\",le=\"%g\"} "
			    "%llu\n", n, gh_stage_name(s), buckets[i],
			    (unsigned long long)cum);
		}
		gh_buf_printf(b, "%s_bucket{stage=\"%s\",le=\"+Inf\"} %llu\n"
		    "%s_sum{stage=\"%s\"} %.6f\n%s_count{stage=\"%s\"} %llu\n",
		    n, gh_stage_name(s), (unsigned long long)count, n,
		    gh_stage_name(s), __atomic_load_n(&h->sum_us,
		    __ATOMIC_RELAXED) / 1e6, n, gh_stage_name(s),
		    (unsigned long long)count);
	}
}

/* Render everything. */
int
gh_metrics_render(struct gh_buf *b)
{
	gh_buf_printf(b, "# HELP gatehouse_sessions_total SMTP or milter "
	    "sessions opened.\n# TYPE gatehouse_sessions_total counter\n"
	    "gatehouse_sessions_total %llu\n"
	    "# HELP gatehouse_sessions_current Sessions open now.\n"
	    "# TYPE gatehouse_sessions_current gauge\n"
	    "gatehouse_sessions_current %llu\n"
	    "# HELP gatehouse_dns_timeouts_total DNS queries that timed out.\n"
	    "# TYPE gatehouse_dns_timeouts_total counter\n"
	    "gatehouse_dns_timeouts_total %llu\n",
	    (unsigned long long)__atomic_load_n(&sessions_total,
	    __ATOMIC_RELAXED),
	    (unsigned long long)__atomic_load_n(&sessions_current,
	    __ATOMIC_RELAXED),
	    (unsigned long long)__atomic_load_n(&dns_timeouts,
	    __ATOMIC_RELAXED));
	render_labelled(b, &messages);
	render_labelled(b, &results);
	render_labelled(b, &hits);
	render_labelled(b, &backend_errors);
	render_labelled(b, &reloads);
	render_labelled(b, &refused);
	render_histograms(b);
	return b->p ? 0 : -1;
}

/* Zero a labelled family. */
static void
reset_labelled(struct labelled *l)
{
	pthread_mutex_lock(&l->mu);
	l->n = 0;
	memset(l->vals, 0, sizeof(l->vals));
	pthread_mutex_unlock(&l->mu);
}

void
gh_metrics_reset(void)
{
	sessions_total = sessions_current = dns_timeouts = 0;
	memset(stage_hist, 0, sizeof(stage_hist));
	reset_labelled(&messages);
	reset_labelled(&results);
	reset_labelled(&hits);
	reset_labelled(&backend_errors);
	reset_labelled(&reloads);
	reset_labelled(&refused);
}
