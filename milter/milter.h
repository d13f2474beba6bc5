/*
 * milter.h — `gatehouse milter`: the libmilter front end over the filter
 * chain (see milter_int.h for its insides).
 */
#ifndef GH_MILTER_H
#define GH_MILTER_H

#include <stdbool.h>

struct gh_config;

struct milter_opts {
	bool		  foreground;	/* else detach once listening */
	bool		  keep_log_level; /* -v given: ignore log.level */
	/* Load a fresh configuration for SIGHUP, logging every error;
	   NULL when it has any. */
	struct gh_config *(*reload)(void *arg);
	void		 *reload_arg;
};

/*
 * Run the milter daemon on `cfg` until SIGTERM/SIGINT.  Returns the
 * process exit code: 0 after a clean stop, 1 when it could not start.
 */
int	 milter_main(struct gh_config *cfg, const struct milter_opts *);

#endif
