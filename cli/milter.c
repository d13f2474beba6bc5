/*
 * milter.c — `gatehouse milter`: load the configuration, open the log,
 * run the milter daemon (milter/daemon.c).  SIGHUP reloads the same
 * file with the same -o overrides.
 */
#include <stdio.h>

#include "cli/cli.h"
#include "filters/log.h"
#include "milter/milter.h"

/* Load the configuration again for SIGHUP; log each error. */
static struct gh_config *
reload_config(void *arg)
{
	const struct gh_cli	*cli = arg;
	struct gh_config_errors	 errs = { NULL, 0 };
	struct gh_config	*cfg;
	size_t			 i;

	cfg = gh_config_load(cli->config_path, cli->overrides,
	    cli->noverrides, &errs);
	for (i = 0; i < errs.n; i++)
		gh_log(LOG_ERR, "%s", errs.v[i]);
	gh_config_errors_free(&errs);
	return cfg;
}

int
cmd_milter(struct gh_cli *cli)
{
	struct gh_config	*cfg;
	struct milter_opts	 o = {
		.foreground = cli->foreground,
		.keep_log_level = cli->verbose > 0,
		.reload = reload_config,
		.reload_arg = cli,
	};
	int			 r;

	if (cli->argc != 0) {
		fprintf(stderr, "usage: gatehouse milter [-c FILE] "
		    "[-o key=value]... [-f] [-v]\n");
		return 2;
	}
	if ((cfg = cli_load_config(cli)) == NULL)
		return 2;
	cli_open_log(cli, cfg);
	r = milter_main(cfg, &o);
	gh_config_unref(cfg);
	return r;
}
