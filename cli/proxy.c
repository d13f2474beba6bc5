/*
 * proxy.c — `gatehouse proxy`: load the configuration, build the chain,
 * run the SMTP proxy in the foreground until SIGTERM (systemd or any
 * supervisor keeps it; -f logs to stderr instead of syslog).
 */
#include <stdio.h>

#include "cli/cli.h"
#include "filters/chain.h"
#include "filters/log.h"
#include "proxy/proxy.h"

/* Run the SMTP proxy. */
int
cmd_proxy(struct gh_cli *cli)
{
	struct gh_config	*cfg;
	struct gh_chain		*chain;
	char			 err[1024];
	int			 rc;

	if ((cfg = cli_load_config(cli)) == NULL)
		return 2;
	cli_open_log(cli, cfg);
	if ((chain = gh_chain_new(cfg, NULL, err, sizeof(err))) == NULL) {
		fprintf(stderr, "gatehouse: %s\n", err);
		gh_config_unref(cfg);
		return 2;
	}
	rc = server_run(cli->config_path,
	    cli->overrides, cli->noverrides, cfg, chain);
	gh_chain_unref(chain);
	gh_config_unref(cfg);
	return rc;
}
