/*
 * cli.h — what every subcommand gets: the parsed common options.
 */
#ifndef GH_CLI_H
#define GH_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "filters/config.h"

struct gh_cli {
	const char	*prog;
	const char	*cmd;
	const char	*config_path;	/* -c, or NULL for the default */
	bool		 config_given;
	char		**overrides;	/* -o key=value */
	size_t		 noverrides;
	bool		 foreground;	/* -f */
	int		 verbose;	/* -v */
	int		 argc;		/* what is left after the options */
	char		**argv;
};

/* Load the configuration the options name; print errors, NULL on error. */
struct gh_config *cli_load_config(const struct gh_cli *);
/* Open the log as the options and configuration say. */
void	 cli_open_log(const struct gh_cli *, const struct gh_config *);

int	 cmd_check(struct gh_cli *);
int	 cmd_proxy(struct gh_cli *);
int	 cmd_milter(struct gh_cli *);
int	 cmd_scan(struct gh_cli *);
int	 cmd_rules(struct gh_cli *);
int	 cmd_spf(struct gh_cli *);
int	 cmd_dkim(struct gh_cli *);

#endif
