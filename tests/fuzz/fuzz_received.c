/*
 * fuzz_received.c — Received fields into relays (filters/received.c)
 * on arbitrary bytes: each input line is one Received value (the first
 * GH_RCVD_MAX + 2), the last two also originating-IP values; and the
 * whole input as one field.  Every result must be a well-formed set of
 * strings.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filters/log.h"
#include "filters/received.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gh_rcvd_text	 v[GH_RCVD_MAX + 2];
	struct gh_relays	 rs;
	struct gh_relay		 r;
	const char		*p = (const char *)data, *e = p + size, *nl;
	size_t			 n = 0, i;

	gh_log_set_level(LOG_CRIT);
	while (p < e && n < sizeof(v) / sizeof(v[0])) {
		nl = memchr(p, '\n', (size_t)(e - p));
		if (nl == NULL)
			nl = e;
		v[n].p = p;
		v[n++].len = (size_t)(nl - p);
		p = nl + 1;
	}
	if (gh_relays_build(v, n > 2 ? n - 2 : n, n > 2 ? v + n - 2 : NULL,
	    n > 2 ? 2 : 0, &rs) == 0) {
		for (i = 0; i < GH_RELAYS_NSTR; i++)
			if (rs.str[i] == NULL)
				abort();
		for (i = 0; i < rs.n; i++)
			if (rs.v[i].as_string == NULL ||
			    rs.v[i].as_string[0] != '[')
				abort();
		(void)gh_relays_envfrom(&rs);
		gh_relays_free(&rs);
	}
	if (gh_received_parse_line((const char *)data, size, &r) == 1 &&
	    r.as_string == NULL)
		abort();
	gh_relay_clear(&r);
	return 0;
}
