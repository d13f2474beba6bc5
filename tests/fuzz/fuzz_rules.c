/*
 * fuzz_rules.c -- the rule loader (lexer, parser, regex translation and
 * splitting, meta compiler) on arbitrary file contents, then the set
 * evaluated against the same bytes as a message and self-tested.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rules/rules.h"

/* Ignore self-test reports. */
static void
quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rules_header h[2];
	struct rules_part part;
	struct rules_text lines[64];
	struct rules_input in;
	struct rules_diag d;
	struct rules_set *set;
	struct rules_txn *t;
	const char *paths[1];
	char path[64];
	size_t n, need;
	int fd;

	if ((fd = memfd_create("rules", 0)) == -1)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	paths[0] = path;
	if (rules_load(paths, 1, NULL, &set, &d) == -1 && d.errors == 0)
		abort();	/* a refusal always says why */
	rules_diag_free(&d);
	if (set != NULL && (t = rules_txn_new(set)) != NULL) {
		memset(&in, 0, sizeof(in));
		h[0].name.ptr = "Subject";
		h[0].name.len = 7;
		h[0].raw.ptr = h[0].value.ptr = (const char *)data;
		h[0].raw.len = h[0].value.len = size;
		h[1] = h[0];
		h[1].name.ptr = "From";
		h[1].name.len = 4;
		part.headers = h;
		part.nheaders = 2;
		in.parts = &part;
		in.nparts = 1;
		in.header_block.ptr = (const char *)data;
		in.header_block.len = size;
		in.full = in.header_block;
		in.client = in.helo = in.mailfrom = in.rcpt = in.full;
		n = rules_split_lines(in.full, lines, 64, &need);
		in.body = in.rawbody = in.uris = lines;
		in.nbody = in.nrawbody = in.nuris = n;
		(void)rules_eval(t, RULES_STAGE_EOM, &in, NULL);
		rules_txn_free(t);
		(void)rules_selftest(set, quiet, NULL, NULL, NULL);
	}
	rules_set_unref(set);
	close(fd);
	return 0;
}
