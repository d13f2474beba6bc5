/*
 * fuzz_message_text.c — the texts rules match: MIME walk, transfer
 * decoding, charsets, HTML rendering, URI extraction and RFC 2047, on a
 * whole message taken from the input (small MIME caps so that deep and
 * wide structures are reached quickly).
 */
#include <stddef.h>
#include <stdint.h>

#include "filters/message.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gh_msg_limits	 lim = { 0 };
	struct gh_message	*m;
	const struct gh_text	*t;
	const char		*p;
	size_t			 n, i;

	lim.max_header_bytes = 32768;
	lim.max_headers = 300;
	lim.mime_max_depth = 8;
	lim.mime_max_parts = 64;
	lim.mime_max_decoded = 1 << 20;
	if ((m = gh_message_new(&lim)) == NULL)
		return 0;
	if (gh_message_feed(m, (const char *)data, size) == 0 &&
	    gh_message_end(m) == 0) {
		for (i = 0; i < gh_message_nheaders(m); i++)
			(void)gh_message_header_decoded(m, i, &n);
		(void)gh_message_body_text(m, &t, &n);
		(void)gh_message_rawbody(m, &t, &n);
		(void)gh_message_uris(m, &t, &n);
		(void)gh_message_full(m, &p, &n);
	}
	gh_message_free(m);
	return 0;
}
