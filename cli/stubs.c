/*
 * stubs.c — subcommands whose front ends are not built yet.  Each
 * disappears from here when its issue lands.
 */
#include <stdio.h>

#include "cli/cli.h"

/* Say that a command is not available in this build. */
static int
missing(const char *what)
{
	fprintf(stderr, "gatehouse: %s is not available in this build\n",
	    what);
	return 2;
}

int cmd_proxy(struct gh_cli *cli) { return missing("proxy"); }
