/*
 * fuzz_message.c — the message model: the header parser fed in chunks
 * whose sizes come from the input, then every accessor.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "filters/message.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gh_msg_limits	 lim = { 0 };
	struct gh_message	*m;
	size_t			 off = 1, n, i;
	uint8_t			 step;

	if (size < 1)
		return 0;
	step = data[0] ? data[0] : 1;
	lim.max_header_bytes = 16384;
	lim.max_headers = 200;
	if ((m = gh_message_new(&lim)) == NULL)
		return 0;
	while (off < size) {
		n = size - off < step ? size - off : step;
		if (gh_message_feed(m, (const char *)data + off, n) == -1)
			break;
		off += n;
	}
	gh_message_end(m);
	for (i = 0; i < gh_message_nheaders(m); i++) {
		const struct gh_header *h = gh_message_header(m, i);
		char *v = gh_header_unfold(h, NULL);

		free(v);
	}
	(void)gh_message_find(m, "From", 1);
	gh_message_free(m);
	return 0;
}
