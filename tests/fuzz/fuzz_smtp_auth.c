/*
 * fuzz_smtp_auth.c — the AUTH parsers on arbitrary bytes: the EHLO AUTH
 * list (normalised output stays within its buffer and holds only valid
 * mechanism names), AUTH arguments, base64, and the login of a SASL
 * response for each mechanism gatehouse reads one from.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/smtp_parse.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *mechs[] = { "PLAIN", "LOGIN", "CRAM-MD5",
	    "SCRAM-SHA-1", "XOAUTH2" };
	const char	*s = (const char *)data;
	char		 list[64], out[256];
	struct gh_str	 m, ir;
	size_t		 i, k, n;
	unsigned	 step;

	(void)smtp_auth_mechs(s, size, list, sizeof(list));
	n = strlen(list);
	if (n >= sizeof(list))
		abort();
	for (i = 0; i < n; i++)
		if (!((list[i] >= 'A' && list[i] <= 'Z') ||
		    (list[i] >= '0' && list[i] <= '9') || list[i] == '-' ||
		    list[i] == '_' || list[i] == ' '))
			abort();
	if (smtp_auth_parse(s, size, &m, &ir) == SMTP_OK) {
		if (m.p < s || m.p + m.len > s + size || ir.p < s ||
		    ir.p + ir.len > s + size || m.len == 0 ||
		    m.len > SMTP_SASL_MECH_MAX)
			abort();
		/* A parsed mechanism is found in a list made from it. */
		if (smtp_auth_mechs(m.p, m.len, out, sizeof(out)) != 1 ||
		    !smtp_auth_mech_in(out, m.p, m.len))
			abort();
	}
	if (smtp_b64_decode(s, size, out, sizeof(out), &n) == 0 &&
	    (n >= sizeof(out) || out[n] != '\0'))
		abort();
	for (k = 0; k < sizeof(mechs) / sizeof(mechs[0]); k++)
		for (step = 0; step < 2; step++)
			if (smtp_sasl_user(mechs[k], step, s, size, out,
			    sizeof(out)) == 0) {
				for (i = 0; out[i]; i++)
					if ((unsigned char)out[i] < 0x20)
						abort();
				if (i == 0)
					abort();
			}
	return 0;
}
