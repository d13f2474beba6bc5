/*
 * cli.c — helpers shared by the subcommands: loading the configuration
 * named on the command line and opening the log.
 */
#include <stdio.h>

#include "cli/cli.h"
#include "filters/log.h"

/* Load the configuration; print every error; NULL on any error. */
struct gh_config *
cli_load_config(const struct gh_cli *cli)
{
	struct gh_config_errors	 errs = { NULL, 0 };
	struct gh_config	*cfg;
	size_t			 i;

	cfg = gh_config_load(cli->config_path, cli->overrides,
	    cli->noverrides, &errs);
	for (i = 0; i < errs.n; i++)
		fprintf(stderr, "gatehouse: %s\n", errs.v[i]);
	gh_config_errors_free(&errs);
	return cfg;
}

/* Open the log: stderr in the foreground, else syslog. */
void
cli_open_log(const struct gh_cli *cli, const struct gh_config *cfg)
{
	int	 fac = gh_log_facility_parse(cfg->log_facility);

	gh_log_open("gatehouse", cli->foreground ? GH_LOG_STDERR :
	    GH_LOG_SYSLOG, fac == -1 ? LOG_MAIL : fac);
	gh_log_set_level(cli->verbose ? LOG_DEBUG : cfg->log_level);
}
