/*
 * metrics.h — process-wide counters in Prometheus text format.
 *
 * One registry per process (like every Prometheus client library): the
 * chain feeds it (stage latency, filter results, rule hits, verdicts);
 * the front ends add sessions, backend errors and reloads; the proxy
 * serves gh_metrics_render() on metrics_listen.  Thread-safe.
 */
#ifndef GH_METRICS_H
#define GH_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "filters/filter.h"
#include "filters/util.h"

void	 gh_metrics_session_open(void);
void	 gh_metrics_session_close(void);
void	 gh_metrics_message(enum gh_action verdict);
void	 gh_metrics_result(const char *method, const char *result);
void	 gh_metrics_rule_hit(const char *rule, bool shadow);
void	 gh_metrics_stage_latency(enum gh_stage, uint64_t usec);
void	 gh_metrics_backend_error(const char *kind);
void	 gh_metrics_dns_timeout(void);
void	 gh_metrics_reload(bool ok);
void	 gh_metrics_refused(const char *reason);	/* limits, protocol */

/* Append every metric in Prometheus text exposition format 0.0.4. */
int	 gh_metrics_render(struct gh_buf *out);
/* Zero everything (tests). */
void	 gh_metrics_reset(void);

#endif
