/*
 * scan.c — `gatehouse scan`: run the daemons' filter chain offline on
 * messages and print, for each, the verdict, the score against the
 * thresholds, every rule that hit with its score and the text it matched,
 * the authentication results, the header edits and the time taken.
 *
 * Usage: gatehouse [-c FILE] [-o key=value]... scan [--json] [--offline]
 *            [--client ADDR] [--helo NAME] [--sender ADDR] [--rcpt ADDR]
 *            FILE.eml... | -
 *
 * Messages may have LF or CRLF line ends (converted to CRLF as SMTP
 * carries them).  The envelope comes from the options, else the sender
 * from Return-Path.  --offline turns off what needs DNS (SPF, DKIM).
 * Exit 0 when every message was scanned, 2 on a usage or load error,
 * 1 when a file could not be read.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "filters/chain.h"
#include "filters/log.h"
#include "filters/message.h"
#include "filters/util.h"

struct scan_opts {
	bool		 json;
	const char	*client, *helo, *sender, *rcpt;
};

/* Read a file (or stdin for "-") into a message, LF -> CRLF. */
static struct gh_message *
read_message(const char *path, const struct gh_config *cfg)
{
	struct gh_msg_limits	 lim = { 0 };
	struct gh_message	*m;
	FILE			*fp;
	char			 buf[65536], out[2 * sizeof(buf)];
	size_t			 n, i, o;
	int			 prev = 0;

	fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (fp == NULL)
		return NULL;
	lim.max_size = cfg->max_message_size;
	lim.mem_max = cfg->data_memory_max;
	lim.tmpdir = cfg->spool_dir;
	if ((m = gh_message_new(&lim)) == NULL)
		goto fail;
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0) {
		for (i = o = 0; i < n; i++) {
			if (buf[i] == '\n' && prev != '\r')
				out[o++] = '\r';
			out[o++] = buf[i];
			prev = (unsigned char)buf[i];
		}
		if (gh_message_feed(m, out, o) == -1)
			goto fail;
	}
	if (ferror(fp) || gh_message_end(m) == -1)
		goto fail;
	if (fp != stdin)
		fclose(fp);
	return m;
fail:
	gh_message_free(m);
	if (fp != stdin)
		fclose(fp);
	return NULL;
}

/* The address inside Return-Path: <...>, malloc'd, or NULL. */
static char *
return_path(struct gh_message *m)
{
	const struct gh_header	*h = gh_message_find(m, "Return-Path", 0);
	char			*v, *lt, *gt, *r = NULL;

	if (h == NULL || (v = gh_header_unfold(h, NULL)) == NULL)
		return NULL;
	if ((lt = strchr(v, '<')) && (gt = strchr(lt, '>')))
		r = gh_strndup(lt + 1, (size_t)(gt - lt - 1));
	free(v);
	return r;
}

/* Print a JSON string. */
static void
json_str(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* Print one result as text. */
static void
print_text(const char *file, const struct gh_txn *t,
    const struct gh_verdict *v, double ms)
{
	const struct gh_config	*cfg = t->cfg;
	char			 esc[512];
	size_t			 i;

	printf("%s: verdict=%s score=%.1f tag=%.1f reject=%.1f time=%.2fms\n",
	    file, gh_action_name(v->action), t->score,
	    gh_chain_score_tag(t->chain), cfg->score_reject, ms);
	if (v->code)
		printf("  reply  %d %s %s\n", v->code, v->status,
		    v->text ? v->text : "");
	if (v->reason)
		printf("  reason %s\n", v->reason);
	for (i = 0; i < t->hits.n; i++) {
		const struct gh_hit *h = &t->hits.v[i];

		printf("  hit    %-24s %7.1f%s", h->name, h->score,
		    h->shadow ? " (shadow)" : "");
		if (h->detail)
			printf("  \"%s\"", gh_printable(esc, sizeof(esc),
			    h->detail, strlen(h->detail), 100));
		putchar('\n');
	}
	for (i = 0; i < t->authres.n; i++)
		printf("  result %s=%s%s%s\n", t->authres.v[i].method,
		    t->authres.v[i].result, t->authres.v[i].props ? " " : "",
		    t->authres.v[i].props ? t->authres.v[i].props : "");
	for (i = 0; i < t->edits.n; i++) {
		const struct gh_edit *e = &t->edits.v[i];
		const char *op = e->op == GH_EDIT_INSERT ? "insert" :
		    e->op == GH_EDIT_APPEND ? "append" :
		    e->value ? "change" : "delete";

		printf("  %-6s %s", op, e->name);
		if (e->op == GH_EDIT_CHANGE)
			printf("[%u]", e->index);
		if (e->value)
			printf(": %s", gh_printable(esc, sizeof(esc),
			    e->value, strlen(e->value), 400));
		putchar('\n');
	}
}

/* Print one result as a JSON object on one line. */
static void
print_json(const char *file, const struct gh_txn *t,
    const struct gh_verdict *v, double ms)
{
	size_t	 i;

	printf("{\"file\":");
	json_str(file);
	printf(",\"verdict\":\"%s\",\"score\":%.2f,\"tag_threshold\":%.2f,"
	    "\"reject_threshold\":%.2f,\"time_ms\":%.3f",
	    gh_action_name(v->action), t->score, gh_chain_score_tag(t->chain),
	    t->cfg->score_reject, ms);
	if (v->code) {
		printf(",\"reply\":{\"code\":%d,\"status\":\"%s\",\"text\":",
		    v->code, v->status);
		json_str(v->text);
		putchar('}');
	}
	printf(",\"hits\":[");
	for (i = 0; i < t->hits.n; i++) {
		printf("%s{\"name\":", i ? "," : "");
		json_str(t->hits.v[i].name);
		printf(",\"score\":%.2f,\"shadow\":%s", t->hits.v[i].score,
		    t->hits.v[i].shadow ? "true" : "false");
		if (t->hits.v[i].detail) {
			printf(",\"match\":");
			json_str(t->hits.v[i].detail);
		}
		putchar('}');
	}
	printf("],\"results\":[");
	for (i = 0; i < t->authres.n; i++) {
		printf("%s{\"method\":", i ? "," : "");
		json_str(t->authres.v[i].method);
		printf(",\"result\":");
		json_str(t->authres.v[i].result);
		printf(",\"props\":");
		json_str(t->authres.v[i].props);
		putchar('}');
	}
	printf("],\"edits\":[");
	for (i = 0; i < t->edits.n; i++) {
		printf("%s{\"op\":\"%s\",\"name\":", i ? "," : "",
		    t->edits.v[i].op == GH_EDIT_INSERT ? "insert" :
		    t->edits.v[i].op == GH_EDIT_APPEND ? "append" : "change");
		json_str(t->edits.v[i].name);
		printf(",\"index\":%u,\"value\":", t->edits.v[i].index);
		if (t->edits.v[i].value)
			json_str(t->edits.v[i].value);
		else
			printf("null");
		putchar('}');
	}
	printf("]}\n");
}

/* Run every stage on one message; print the outcome. */
static int
scan_one(struct gh_chain *c, const struct scan_opts *o, const char *file,
    uint64_t id)
{
	struct gh_message	*m;
	struct gh_txn		*t;
	struct gh_verdict	 v;
	enum gh_stage		 s;
	char			*rp = NULL;
	uint64_t		 t0 = gh_now_us();

	if ((m = read_message(file, gh_chain_config(c))) == NULL) {
		fprintf(stderr, "gatehouse: %s: %s\n", file, strerror(errno));
		return -1;
	}
	if ((t = gh_txn_new(c, id)) == NULL) {
		gh_message_free(m);
		return -1;
	}
	if (o->client)
		gh_txn_set_client(t, o->client, 0, NULL, NULL, 0);
	if (o->helo)
		gh_txn_set_helo(t, o->helo);
	if (o->sender == NULL)
		rp = return_path(m);
	gh_txn_set_mail(t, o->sender ? o->sender : rp ? rp : "");
	gh_txn_add_rcpt(t, o->rcpt ? o->rcpt : "postmaster");
	gh_txn_set_message(t, m);
	memset(&v, 0, sizeof(v));
	for (s = GH_STAGE_CONNECT; s < GH_NSTAGES; s++) {
		if ((s == GH_STAGE_CONNECT && !o->client) ||
		    (s == GH_STAGE_HELO && !o->helo))
			continue;
		gh_verdict_clear(&v);
		if (gh_chain_run(t, s, &v) == -1) {
			v.action = GH_TEMPFAIL;
			break;
		}
		if (v.action == GH_REJECT || v.action == GH_TEMPFAIL ||
		    v.action == GH_DISCARD)
			break;
	}
	if (o->json)
		print_json(file, t, &v, (gh_now_us() - t0) / 1000.0);
	else
		print_text(file, t, &v, (gh_now_us() - t0) / 1000.0);
	gh_verdict_clear(&v);
	gh_txn_free(t);
	gh_message_free(m);
	free(rp);
	return 0;
}

int
cmd_scan(struct gh_cli *cli)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "offline", no_argument, NULL, 'O' },
		{ "client", required_argument, NULL, 'a' },
		{ "helo", required_argument, NULL, 'H' },
		{ "sender", required_argument, NULL, 's' },
		{ "rcpt", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	struct scan_opts	 o = { 0 };
	struct gh_config	*cfg;
	struct gh_chain		*c;
	char			 err[8192];
	bool			 offline = false;
	int			 ch, i, r = 0;

	/* argv[-1] is the command name: getopt skips it like a program. */
	optind = 1;
	while ((ch = getopt_long(cli->argc + 1, cli->argv - 1, "+", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'j': o.json = true; break;
		case 'O': offline = true; break;
		case 'a': o.client = optarg; break;
		case 'H': o.helo = optarg; break;
		case 's': o.sender = optarg; break;
		case 'r': o.rcpt = optarg; break;
		default: return 2;
		}
	}
	if (optind >= cli->argc + 1) {
		fprintf(stderr, "usage: gatehouse scan [--json] [--offline] "
		    "[--client ADDR] [--helo NAME] [--sender ADDR] "
		    "[--rcpt ADDR] FILE.eml... | -\n");
		return 2;
	}
	if (offline) {
		char **ov = realloc(cli->overrides, (cli->noverrides + 2) *
		    sizeof(char *));

		if (ov == NULL)
			return 2;
		cli->overrides = ov;
		ov[cli->noverrides++] = "spf.enable=no";
		ov[cli->noverrides++] = "dkim.enable=no";
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
	for (i = optind - 1; i < cli->argc; i++)
		if (scan_one(c, &o, cli->argv[i], (uint64_t)i + 1) == -1)
			r = 1;
	gh_chain_unref(c);
	gh_config_unref(cfg);
	return r;
}
