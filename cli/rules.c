/*
 * rules.c — `gatehouse rules`: list the rules the configuration loads,
 * one per line: name, type, score and what the engine knows about it
 * (sub-rule, disabled by a zero score, meta over rules it does not
 * evaluate, the rule types a meta is built on).  For postmasters who
 * want to know what is live, and for the SpamAssassin agreement test,
 * which compares only the rules gatehouse evaluates completely.
 *
 * Usage: gatehouse [-c FILE] [-o key=value]... rules [--json] [NAME...]
 * NAME may be a glob(7) pattern (fnmatch).  Exit 0, or 2 when the
 * configuration or a rule file does not load.
 */
#include <fnmatch.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "filters/chain.h"
#include "filters/log.h"
#include "filters/regex.h"
#include "rules/rules.h"

/* Print a JSON string. */
static void
json_str(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* True if NAME matches one of the patterns (or there are none). */
static bool
selected(const char *name, char **pat, int npat)
{
	int	 i;

	if (npat == 0)
		return true;
	for (i = 0; i < npat; i++)
		if (fnmatch(pat[i], name, 0) == 0)
			return true;
	return false;
}

/* Print one rule as a JSON object on one line. */
static void
print_json(const struct rules_set *set, uint32_t idx,
    const struct rules_info *ri)
{
	const char	*file;
	unsigned	 line, t;
	bool		 first = true;
	uint32_t	 deps[512];
	size_t		 n, k;

	rules_site(set, idx, &file, &line);
	printf("{\"name\":");
	json_str(ri->name);
	printf(",\"type\":\"%s\",\"score\":%g,\"sub\":%s,\"disabled\":%s,"
	    "\"incomplete\":%s,\"blocked\":%s,\"multiple\":%s,\"uses\":[",
	    rules_type_name(ri->type), ri->score, ri->sub ? "true" : "false",
	    ri->disabled ? "true" : "false",
	    ri->incomplete ? "true" : "false",
	    ri->blocked ? "true" : "false", ri->multiple ? "true" : "false");
	for (t = 0; t < RULES_T_COUNT; t++)
		if (ri->uses & (1u << t)) {
			printf("%s\"%s\"", first ? "" : ",",
			    rules_type_name((enum rules_type)t));
			first = false;
		}
	printf("],\"deps\":[");
	n = rules_meta_deps(set, idx, deps, sizeof(deps) / sizeof(deps[0]));
	for (k = 0; k < n && k < sizeof(deps) / sizeof(deps[0]); k++) {
		printf("%s", k ? "," : "");
		json_str(rules_name(set, deps[k]));
	}
	printf("],\"file\":");
	json_str(file);
	printf(",\"line\":%u", line);
	if (ri->pattern != NULL) {
		printf(",\"pattern\":");
		json_str(ri->pattern);
	}
	printf("}\n");
}

/* Print one rule as a line of text. */
static void
print_text(const struct rules_info *ri)
{
	printf("%-32s %-10s %7.3f%s%s%s%s\n", ri->name,
	    rules_type_name(ri->type), ri->score, ri->sub ? " sub" : "",
	    ri->disabled ? " disabled" : "",
	    ri->incomplete ? " incomplete" : "",
	    ri->blocked ? " blocked" : "");
}

int
cmd_rules(struct gh_cli *cli)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct gh_config	*cfg;
	struct gh_chain		*c;
	const struct rules_set	*set;
	struct rules_info	 ri;
	char			 err[8192];
	bool			 json = false;
	uint32_t		 i;
	int			 ch;

	optind = 1;
	while ((ch = getopt_long(cli->argc + 1, cli->argv - 1, "+", longopts,
	    NULL)) != -1) {
		if (ch != 'j')
			return 2;
		json = true;
	}
	if ((cfg = cli_load_config(cli)) == NULL)
		return 2;
	gh_log_open("gatehouse", GH_LOG_STDERR, LOG_MAIL);
	gh_log_set_level(cli->verbose ? LOG_DEBUG : LOG_WARNING);
	if ((c = gh_chain_new(cfg, NULL, err, sizeof(err))) == NULL) {
		fprintf(stderr, "gatehouse: %s\n", err);
		gh_config_unref(cfg);
		return 2;
	}
	if ((set = gh_regex_rules(c)) != NULL) {
		for (i = 0; i < rules_count(set); i++) {
			if (rules_info(set, i, &ri) == -1 ||
			    !selected(ri.name, cli->argv + optind - 1,
			    cli->argc - optind + 1))
				continue;
			if (json)
				print_json(set, i, &ri);
			else
				print_text(&ri);
		}
	}
	gh_chain_unref(c);
	gh_config_unref(cfg);
	return 0;
}
