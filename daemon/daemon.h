/*
 * daemon.h — what both daemons (proxy, milter) need from the system:
 * dropping root after binding, systemd notification and socket
 * activation, and the metrics endpoint.
 */
#ifndef GH_DAEMON_H
#define GH_DAEMON_H

#include <stddef.h>

#include "filters/config.h"

/*
 * When running as root: switch to `user` (and `group`, else the user's
 * primary group) for good, so that nothing read from the network is
 * read as root.  Not root: nothing to do.  Root with no `user`: a
 * warning.  -1 with `err` when the switch fails (the daemon must stop).
 */
int	 gh_daemon_drop_privileges(const struct gh_config *, char *err,
	    size_t errsz);

/* Tell systemd (when NOTIFY_SOCKET is set) READY, RELOADING, STOPPING,
   or a STATUS line.  No-op otherwise. */
void	 gh_daemon_ready(void);
void	 gh_daemon_reloading(void);
void	 gh_daemon_stopping(void);
void	 gh_daemon_status(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

/* Listening sockets passed by systemd socket activation: their number
   (fds from SD_LISTEN_FDS_START on), 0 when none. */
int	 gh_daemon_listen_fds(void);

/*
 * The metrics endpoint: GET /metrics on `metrics_listen` (empty: off),
 * served by a thread of its own.  A bind failure is logged and the
 * daemon goes on without metrics: mail matters more.
 */
struct gh_metrics_http;
struct gh_metrics_http *gh_metrics_http_start(const struct gh_config *);
void	 gh_metrics_http_stop(struct gh_metrics_http *);

#endif
