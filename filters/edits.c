/*
 * edits.c — header edits applied while a message is written out.
 *
 * Owns nothing: it reads the message's parsed header fields and its
 * spool, and writes through a callback.  The message itself is never
 * changed, so the same message can be written again (a retry, a scan).
 *
 * Invariants: a CHANGE counts occurrences in the message as received,
 * whatever other edits do; unparsable header lines are written as they
 * came; every written field ends in CRLF.  Failures of the callback or
 * of the spool are returned as -1.
 */
#include "filters/edits.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

/* Write "Name: value" CRLF. */
static int
put_field(const char *name, const char *value, gh_write_fn write, void *ctx)
{
	if (write(ctx, name, strlen(name)) == -1 ||
	    write(ctx, ": ", 2) == -1 ||
	    write(ctx, value, strlen(value)) == -1 ||
	    write(ctx, "\r\n", 2) == -1)
		return -1;
	return 0;
}

/* The CHANGE edit for the `occ`-th field named like `h`, or NULL. */
static const struct gh_edit *
find_change(const struct gh_header *h, unsigned occ,
    const struct gh_edit *edits, size_t n)
{
	const struct gh_edit	*found = NULL;
	size_t			 i;

	for (i = 0; i < n; i++)
		if (edits[i].op == GH_EDIT_CHANGE && edits[i].index == occ &&
		    strlen(edits[i].name) == h->name_len &&
		    strncasecmp(edits[i].name, h->name, h->name_len) == 0)
			found = &edits[i];	/* the last one wins */
	return found;
}

/* How many fields before index `i` have the same name as field `i`. */
static unsigned
occurrence(const struct gh_message *msg, size_t i)
{
	const struct gh_header	*h = gh_message_header(msg, i), *o;
	unsigned		 k = 1;
	size_t			 j;

	for (j = 0; j < i; j++) {
		o = gh_message_header(msg, j);
		if (o->name_len == h->name_len &&
		    strncasecmp(o->name, h->name, h->name_len) == 0)
			k++;
	}
	return k;
}

/* Write the edited header section (see edits.h). */
int
gh_edits_write_headers(const struct gh_message *msg,
    const struct gh_edit *edits, size_t n, gh_write_fn write, void *ctx)
{
	const struct gh_header	*h;
	const struct gh_edit	*e;
	const char		*hb;
	size_t			 hlen, i, nh = gh_message_nheaders(msg);
	uint64_t		 end = 0;

	hb = gh_message_header_bytes(msg, &hlen);
	for (i = n; i > 0; i--)
		if (edits[i - 1].op == GH_EDIT_INSERT && edits[i - 1].value &&
		    put_field(edits[i - 1].name, edits[i - 1].value, write,
		    ctx) == -1)
			return -1;
	for (i = 0; i < nh; i++) {
		h = gh_message_header(msg, i);
		end = h->offset + h->len;
		e = h->name_len ? find_change(h, occurrence(msg, i), edits,
		    n) : NULL;
		if (e == NULL) {
			if (write(ctx, hb + h->offset, h->len) == -1)
				return -1;
			if (h->len == 0 || hb[h->offset + h->len - 1] != '\n')
				if (write(ctx, "\r\n", 2) == -1)
					return -1;
		} else if (e->value && put_field(e->name, e->value, write,
		    ctx) == -1)
			return -1;
	}
	for (i = 0; i < n; i++)
		if (edits[i].op == GH_EDIT_APPEND && edits[i].value &&
		    put_field(edits[i].name, edits[i].value, write, ctx) == -1)
			return -1;
	/* The empty line (and anything the parser left after the fields). */
	if (end < hlen && write(ctx, hb + end, hlen - end) == -1)
		return -1;
	return 0;
}

/* Write the whole message (see edits.h). */
int
gh_edits_write(const struct gh_message *msg, const struct gh_edit *edits,
    size_t n, gh_write_fn write, void *ctx)
{
	char		 buf[65536];
	uint64_t	 off = gh_message_body_offset(msg);
	ssize_t		 r;
	size_t		 hlen;

	if (gh_edits_write_headers(msg, edits, n, write, ctx) == -1)
		return -1;
	(void)gh_message_header_bytes(msg, &hlen);
	if (off < hlen)
		off = hlen;
	while ((r = gh_message_pread(msg, buf, sizeof(buf), off)) > 0) {
		if (write(ctx, buf, (size_t)r) == -1)
			return -1;
		off += (uint64_t)r;
	}
	return r == -1 ? -1 : 0;
}
