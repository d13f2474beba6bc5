/*
 * fuzz_smtp_cmd.c — the proxy's command-line parsers on arbitrary bytes:
 * the verb, MAIL/RCPT paths and parameters, HELO, reply lines, xtext.
 * Checks that every view stays inside the input and that a parsed path
 * has no control character in it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/smtp_parse.h"

/* Abort unless the view lies within [base, base + len). */
static void
inside(const struct gh_str *v, const char *base, size_t len)
{
	if (v->p && (v->p < base || v->p + v->len > base + len))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*s = (const char *)data;
	struct smtp_cmd		 c;
	struct smtp_path	 p;
	struct gh_str		 h, t;
	char			 x[512];
	size_t			 i;
	int			 code;
	bool			 last;

	if (smtp_cmd_parse(s, size, &c) == SMTP_OK) {
		inside(&c.args, s, size);
		inside(&c.name, s, size);
		if (smtp_path_parse(c.args.p, c.args.len, true, &p) ==
		    SMTP_OK) {
			for (i = 0; p.addr[i]; i++)
				if ((unsigned char)p.addr[i] < 0x20)
					abort();
			if (p.nparams > SMTP_MAX_PARAMS)
				abort();
			for (i = 0; i < p.nparams; i++) {
				inside(&p.params[i].key, c.args.p, c.args.len);
				inside(&p.params[i].value, c.args.p,
				    c.args.len);
			}
		}
		if (smtp_helo_parse(c.args.p, c.args.len, &h) == SMTP_OK)
			inside(&h, c.args.p, c.args.len);
	}
	if (smtp_reply_line(s, size, &code, &last, &t) == 0) {
		if (code < 200 || code > 599)
			abort();
		inside(&t, s, size);
	}
	if (smtp_xtext_decode(s, size, x, sizeof(x)) == 0 &&
	    strlen(x) >= sizeof(x))
		abort();
	(void)smtp_xtext_encode(s, size, x, sizeof(x));
	return 0;
}
