/*
 * fuzz_proxyproto.c — the PROXY protocol parser on arbitrary bytes, whole
 * and at every split (the need-more answer must be consistent).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "proxy/proxyproto.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pp_result	 whole, part;
	enum pp_status		 st, pst;
	size_t			 i;

	st = pp_parse(data, size, &whole);
	if (st == PP_DONE && (whole.consumed == 0 || whole.consumed > size))
		abort();
	/* A prefix never says more than the whole says. */
	for (i = 0; i < size && i < 128; i++) {
		pst = pp_parse(data, i, &part);
		if (pst == PP_DONE && (st != PP_DONE ||
		    part.consumed != whole.consumed))
			abort();
	}
	return 0;
}
