/*
 * check.c — `gatehouse check`: parse the configuration and every rule
 * file, report each error with file:line, exit non-zero on any error
 * (like `nginx -t` and `postfix check`).  -v prints the effective
 * configuration.
 */
#include <stdio.h>

#include "cli/cli.h"
#include "filters/chain.h"

int
cmd_check(struct gh_cli *cli)
{
	struct gh_config	*cfg;
	struct gh_chain		*chain;
	char			 err[1024];
	int			 r = 0;

	if ((cfg = cli_load_config(cli)) == NULL)
		return 2;
	if (cli->verbose)
		gh_config_dump(cfg, stdout, cli->verbose > 1);
	if ((chain = gh_chain_new(cfg, stdout, err, sizeof(err))) == NULL) {
		fprintf(stderr, "gatehouse: %s\n", err);
		r = 1;
	} else
		gh_chain_unref(chain);
	if (r == 0)
		printf("gatehouse: configuration %s is valid\n",
		    cfg->path ? cfg->path : "(built-in)");
	gh_config_unref(cfg);
	return r;
}
