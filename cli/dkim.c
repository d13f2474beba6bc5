/*
 * dkim.c — `gatehouse dkim FILE.eml... | -`: verify the DKIM signatures
 * of messages offline, through the same filter the daemons run (a chain
 * holding only the DKIM filter, its EOM stage), and print one line per
 * signature as Authentication-Results writes it, then the verdict the
 * dkim.* policy gives.  DNS goes to `resolver` (-o resolver=IP@PORT).
 *
 * Files may use LF line ends (as mail files on disk do): a bare LF is
 * read as CRLF, the form DKIM signs.
 *
 * Exit: 0 every message was verified (whatever the results), 1 a file
 * could not be read or verified, 2 usage or configuration error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "filters/chain.h"
#include "filters/dkim.h"
#include "filters/message.h"

/* Feed a stream into a message, a bare LF as CRLF. */
static int
read_message(FILE *fp, struct gh_message *m)
{
	char	 in[16384], out[2 * sizeof(in)];
	size_t	 n, i, o;
	char	 prev = '\0';

	while ((n = fread(in, 1, sizeof(in), fp)) > 0) {
		for (i = 0, o = 0; i < n; i++) {
			if (in[i] == '\n' && prev != '\r')
				out[o++] = '\r';
			out[o++] = in[i];
			prev = in[i];
		}
		if (gh_message_feed(m, out, o) == -1)
			return -1;
	}
	if (ferror(fp))
		return -1;
	return gh_message_end(m);
}

/* Print what the filter recorded and decided for one message. */
static void
print_result(const struct gh_txn *t, const struct gh_verdict *v)
{
	size_t		 i;
	const char	*p;

	for (i = 0; i < t->authres.n; i++) {
		const struct gh_authres *a = &t->authres.v[i];

		printf("%s=%s", a->method, a->result);
		if (a->reason) {
			printf(" reason=\"");
			for (p = a->reason; *p; p++)
				printf("%s%c", *p == '"' || *p == '\\' ?
				    "\\" : "", *p);
			printf("\"");
		}
		printf("%s%s\n", a->props && a->props[0] ? " " : "",
		    a->props ? a->props : "");
	}
	printf("verdict=%s score=%.1f", gh_action_name(v->action), t->score);
	if (v->code)
		printf(" reply=\"%d %s %s\"", v->code, v->status,
		    v->text ? v->text : "");
	printf("\n");
	for (i = 0; i < t->edits.n; i++) {
		const struct gh_edit *e = &t->edits.v[i];

		if (e->value == NULL ||
		    strcasecmp(e->name, "Authentication-Results") != 0)
			continue;
		printf("%s: ", e->name);
		for (p = e->value; *p; p++)
			if (*p != '\r' && *p != '\n')
				putchar(*p == '\t' ? ' ' : *p);
		printf("\n");
	}
}

/* Verify one file ("-" is standard input); 0 or -1. */
static int
verify_file(struct gh_chain *chain, const char *path, uint64_t id)
{
	struct gh_message	*m;
	struct gh_txn		*t;
	struct gh_verdict	 v;
	FILE			*fp;
	int			 r = -1;

	fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (fp == NULL) {
		fprintf(stderr, "gatehouse: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if ((m = gh_message_new(NULL)) == NULL ||
	    read_message(fp, m) == -1) {
		fprintf(stderr, "gatehouse: %s: cannot read the message: %s\n",
		    path, strerror(m ? gh_message_error(m) : ENOMEM));
		goto out;
	}
	if ((t = gh_txn_new(chain, id)) == NULL)
		goto out;
	gh_txn_set_message(t, m);
	memset(&v, 0, sizeof(v));
	if (gh_chain_run(t, GH_STAGE_EOM, &v) == 0) {
		printf("== %s\n", path);
		print_result(t, &v);
		r = 0;
	} else
		fprintf(stderr, "gatehouse: %s: out of memory\n", path);
	gh_verdict_clear(&v);
	gh_txn_free(t);
out:
	gh_message_free(m);
	if (fp != stdin)
		fclose(fp);
	return r;
}

/* gatehouse dkim: verify each file named (see the top). */
int
cmd_dkim(struct gh_cli *cli)
{
	static const struct gh_filter *const filters[] = { &gh_filter_dkim };
	struct gh_config	*cfg;
	struct gh_chain		*chain;
	char			 err[1024];
	int			 i, r = 0;

	if (cli->argc < 1) {
		fprintf(stderr, "usage: gatehouse dkim [-o key=value]... "
		    "FILE.eml... | -\n");
		return 2;
	}
	if ((cfg = cli_load_config(cli)) == NULL)
		return 2;
	cli_open_log(cli, cfg);
	chain = gh_chain_new_with(cfg, filters, 1, NULL, err, sizeof(err));
	if (chain == NULL) {
		fprintf(stderr, "gatehouse: %s\n", err);
		gh_config_unref(cfg);
		return 2;
	}
	if (gh_chain_instance(chain, "dkim") == NULL) {
		fprintf(stderr, "gatehouse: dkim.enable is off\n");
		r = 2;
	}
	for (i = 0; i < cli->argc && r != 2; i++)
		if (verify_file(chain, cli->argv[i], (uint64_t)i + 1) == -1)
			r = 1;
	gh_chain_unref(chain);
	gh_config_unref(cfg);
	return r;
}
