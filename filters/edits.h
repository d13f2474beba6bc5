/*
 * edits.h — apply a transaction's header edits (struct gh_edit) to a
 * received message while writing it out: the proxy writes to the
 * backend with it, `gatehouse scan` and the tests to a buffer.
 */
#ifndef GH_EDITS_H
#define GH_EDITS_H

#include <stddef.h>

#include "filters/filter.h"
#include "filters/message.h"

typedef int	(*gh_write_fn)(void *ctx, const char *p, size_t len);

/*
 * Write the header section of `msg` with `edits` applied, the empty line
 * that ends it included, through `write` (canonical CRLF, no
 * dot-stuffing).  INSERT edits go to the top, a later one above an
 * earlier one; APPEND edits go after the last field, in order; CHANGE
 * replaces the index-th (1-based) field of that name as it was in the
 * message, or deletes it when the value is NULL.  Returns 0, or -1 when
 * `write` failed.
 */
int	 gh_edits_write_headers(const struct gh_message *msg,
	    const struct gh_edit *edits, size_t n, gh_write_fn write,
	    void *ctx);

/* Write the whole message: the edited header section, then the body.
   -1 when `write` or reading the spool failed. */
int	 gh_edits_write(const struct gh_message *msg,
	    const struct gh_edit *edits, size_t n, gh_write_fn write,
	    void *ctx);

#endif
