/*
 * check.c — `gatehouse check`: parse the configuration and every rule
 * file, report each error with file:line, exit non-zero on any error
 * (like `nginx -t` and `postfix check`).  -v prints the effective
 * configuration.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "filters/chain.h"
#include "proxy/proxy.h"

/* Print a newline-separated list of errors, each prefixed. */
static void
print_errors(const char *err)
{
	const char	*nl;

	for (;;) {
		nl = strchr(err, '\n');
		fprintf(stderr, "gatehouse: %.*s\n", nl ? (int)(nl - err) :
		    (int)strlen(err), err);
		if (nl == NULL)
			break;
		err = nl + 1;
	}
}

int
cmd_check(struct gh_cli *cli)
{
	struct gh_config	*cfg;
	struct gh_chain		*chain;
	char			 err[8192];
	int			 r = 0, failed;

	if ((cfg = cli_load_config(cli)) == NULL)
		return 2;
	if (cli->verbose)
		gh_config_dump(cfg, stdout, cli->verbose > 1);
	if (tls_check(cfg, err, sizeof(err)) == -1) {
		print_errors(err);
		r = 1;
	}
	if ((chain = gh_chain_new(cfg, stdout, err, sizeof(err))) == NULL) {
		print_errors(err);
		r = 1;
	} else {
		if ((failed = gh_chain_check(chain, stdout)) > 0) {
			fprintf(stderr, "gatehouse: %d self-test%s failed\n",
			    failed, failed == 1 ? "" : "s");
			r = 1;
		}
		gh_chain_unref(chain);
	}
	if (r == 0)
		printf("gatehouse: configuration %s is valid\n",
		    cfg->path ? cfg->path : "(built-in)");
	gh_config_unref(cfg);
	return r;
}
