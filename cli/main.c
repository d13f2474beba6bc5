/*
 * main.c — the gatehouse command: common options, then a subcommand
 * from a table.
 *
 * Usage: gatehouse [-c FILE] [-o key=value]... [-f] [-v] COMMAND [ARGS]
 * (the options may also follow COMMAND).  Exit codes: 0 ok, 1 a check
 * failed or the command failed, 2 usage or configuration error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "filters/log.h"
#include "filters/util.h"

static int	cmd_version(struct gh_cli *);
static int	cmd_help(struct gh_cli *);
static int	cmd_manpage(struct gh_cli *);

static const struct {
	const char	*name;
	int		(*run)(struct gh_cli *);
	const char	*args;
	const char	*help;
} commands[] = {
	{ "proxy", cmd_proxy, "", "run the SMTP proxy daemon" },
	{ "milter", cmd_milter, "", "run the milter daemon" },
	{ "check", cmd_check, "[-v]",
	    "check the configuration and rule files (-v: print every key)" },
	{ "scan", cmd_scan, "[--json] [--offline] FILE.eml... | -",
	    "run the filter chain on messages and show the verdicts" },
	{ "rules", cmd_rules, "[--json] [NAME...]",
	    "list the rules loaded (type, score, completeness)" },
	{ "dkim", cmd_dkim, "FILE.eml... | -",
	    "verify the DKIM signatures of messages" },
	{ "spf", cmd_spf, "--ip ADDR --sender ADDR [--helo NAME]",
	    "run an SPF check and show the lookups" },
	{ "version", cmd_version, "", "print the version" },
	{ "manpage", cmd_manpage, "",
	    "print gatehouse.conf(5), made from the configuration table" },
	{ "help", cmd_help, "", "print this help" },
};

/* Print usage to `fp`. */
static void
usage(FILE *fp)
{
	size_t	 i;

	fprintf(fp, "usage: gatehouse [-c FILE] [-o key=value]... [-f] [-v] "
	    "COMMAND [ARGS]\n\ncommands:\n");
	for (i = 0; i < GH_ARRAY_LEN(commands); i++)
		fprintf(fp, "  %-8s %-38s %s\n", commands[i].name,
		    commands[i].args, commands[i].help);
	fprintf(fp, "\noptions:\n"
	    "  -c FILE        configuration file (default %s)\n"
	    "  -o key=value   override a configuration key (repeatable)\n"
	    "  -f             stay in the foreground, log to stderr\n"
	    "  -v             more output\n", GH_DEFAULT_CONFIG);
}

/* Print the version. */
static int
cmd_version(struct gh_cli *cli)
{
	printf("gatehouse %s\n", GH_VERSION);
	return 0;
}

/* Print gatehouse.conf(5). */
static int
cmd_manpage(struct gh_cli *cli)
{
	gh_config_man(stdout, GH_VERSION);
	return 0;
}

/* Print the help. */
static int
cmd_help(struct gh_cli *cli)
{
	usage(stdout);
	return 0;
}

/* Parse the common options from argv[optind...], stopping at operands. */
static int
parse_options(struct gh_cli *cli, int argc, char **argv)
{
	int	 ch;

	for (;;) {
		/* A subcommand's own long options ("spf --ip") end the
		   common ones; the subcommand parses the rest. */
		if (optind < argc && strncmp(argv[optind], "--", 2) == 0 &&
		    argv[optind][2] != '\0')
			break;
		if ((ch = getopt(argc, argv, "+c:o:fvh")) == -1)
			break;
		switch (ch) {
		case 'c':
			cli->config_path = optarg;
			cli->config_given = true;
			break;
		case 'o':
			cli->overrides = realloc(cli->overrides,
			    (cli->noverrides + 1) * sizeof(char *));
			if (cli->overrides == NULL)
				return -1;
			cli->overrides[cli->noverrides++] = optarg;
			break;
		case 'f':
			cli->foreground = true;
			break;
		case 'v':
			cli->verbose++;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	return 0;
}

/* Consume leading -c X, -o X, -f, -v, -vv... after the command. */
static int
parse_tail(struct gh_cli *cli, int *argc, char ***argv)
{
	char	*a;

	while (*argc > 0 && (a = (*argv)[0])[0] == '-' && a[1] != '-' &&
	    a[1] != '\0') {
		if (strspn(a + 1, "v") == strlen(a + 1)) {
			cli->verbose += (int)strlen(a + 1);
		} else if (strcmp(a, "-f") == 0) {
			cli->foreground = true;
		} else if (strcmp(a, "-c") == 0 || strcmp(a, "-o") == 0) {
			if (*argc < 2)
				return -1;
			if (a[1] == 'c') {
				cli->config_path = (*argv)[1];
				cli->config_given = true;
			} else {
				cli->overrides = realloc(cli->overrides,
				    (cli->noverrides + 1) * sizeof(char *));
				if (cli->overrides == NULL)
					return -1;
				cli->overrides[cli->noverrides++] = (*argv)[1];
			}
			(*argc)--;
			(*argv)++;
		} else
			break;	/* the subcommand's own option */
		(*argc)--;
		(*argv)++;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct gh_cli	 cli;
	size_t		 i;
	int		 r;

	memset(&cli, 0, sizeof(cli));
	cli.prog = argv[0];
	cli.config_path = GH_DEFAULT_CONFIG;
	if (parse_options(&cli, argc, argv) == -1) {
		usage(stderr);
		return 2;
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cli.cmd = argv[optind];
	/* Common options may also follow the command ("check -v"); the
	   first word that is not one is the subcommand's own. */
	argc -= optind + 1;
	argv += optind + 1;
	if (parse_tail(&cli, &argc, &argv) == -1) {
		usage(stderr);
		return 2;
	}
	cli.argc = argc;
	cli.argv = argv;
	for (i = 0; i < GH_ARRAY_LEN(commands); i++)
		if (strcmp(commands[i].name, cli.cmd) == 0) {
			r = commands[i].run(&cli);
			free(cli.overrides);
			return r;
		}
	fprintf(stderr, "gatehouse: unknown command '%s'\n", cli.cmd);
	usage(stderr);
	free(cli.overrides);
	return 2;
}
