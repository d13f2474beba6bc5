/*
 * test_edits.c: header edits applied while writing a message out
 * (filters/edits.c): INSERT order, APPEND, CHANGE and delete by
 * occurrence, malformed lines kept, messages without a body.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "filters/edits.h"
#include "filters/message.h"
#include "filters/util.h"

/* Sink into a gh_buf. */
static int
to_buf(void *ctx, const char *p, size_t n)
{
	return gh_buf_append(ctx, p, n);
}

/* Write `text` with `edits` applied; compare with `want`. */
static void
check_edits(const char *text, const struct gh_edit *edits, size_t n,
    const char *want)
{
	struct gh_message	*m = gh_message_new(NULL);
	struct gh_buf		 b;

	assert_non_null(m);
	assert_int_equal(gh_message_feed(m, text, strlen(text)), 0);
	assert_int_equal(gh_message_end(m), 0);
	gh_buf_init(&b, 0);
	assert_int_equal(gh_edits_write(m, edits, n, to_buf, &b), 0);
	assert_string_equal(b.p ? b.p : "", want);
	gh_buf_free(&b);
	gh_message_free(m);
}

#define E(op, name, value, idx)	{ op, (char *)name, (char *)value, idx }

static void
test_insert_append(void **state)
{
	const struct gh_edit e[] = {
		E(GH_EDIT_INSERT, "X-First", "1", 0),
		E(GH_EDIT_APPEND, "X-End", "a", 0),
		E(GH_EDIT_INSERT, "X-Second", "2\r\n\tfolded", 0),
		E(GH_EDIT_APPEND, "X-End", "b", 0),
	};

	check_edits("Subject: s\r\nFrom: f\r\n\r\nbody\r\n", e, 4,
	    "X-Second: 2\r\n\tfolded\r\nX-First: 1\r\nSubject: s\r\n"
	    "From: f\r\nX-End: a\r\nX-End: b\r\n\r\nbody\r\n");
}

static void
test_change_delete(void **state)
{
	const struct gh_edit e[] = {
		E(GH_EDIT_CHANGE, "received", "new", 2),
		E(GH_EDIT_CHANGE, "X-Spam-Flag", NULL, 1),
		E(GH_EDIT_CHANGE, "Subject", "[SPAM] s", 1),
		E(GH_EDIT_CHANGE, "Nope", "x", 1),
	};

	check_edits("Received: r1\r\nX-Spam-Flag: YES\r\nReceived: r2\r\n"
	    "\tcont\r\nSubject: s\r\n\r\n.body\r\n", e, 4,
	    "Received: r1\r\nreceived: new\r\nSubject: [SPAM] s\r\n\r\n"
	    ".body\r\n");
}

static void
test_malformed_and_no_body(void **state)
{
	const struct gh_edit e[] = {
		E(GH_EDIT_APPEND, "X-A", "1", 0),
	};

	check_edits("From x\r\nSubject: s\r\nno colon line\r\n\r\nb\r\n", e,
	    1, "From x\r\nSubject: s\r\nno colon line\r\nX-A: 1\r\n\r\nb\r\n");
	check_edits("Subject: only headers\r\n", e, 1,
	    "Subject: only headers\r\nX-A: 1\r\n");
	check_edits("Subject: unterminated", e, 1,
	    "Subject: unterminated\r\nX-A: 1\r\n");
	check_edits("\r\nbody only\r\n", e, 1, "X-A: 1\r\n\r\nbody only\r\n");
}

static void
test_no_edits_identity(void **state)
{
	const char *m = "A: 1\r\nB: 2\r\n\r\nline\r\n\r\n";

	check_edits(m, NULL, 0, m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insert_append),
		cmocka_unit_test(test_change_delete),
		cmocka_unit_test(test_malformed_and_no_body),
		cmocka_unit_test(test_no_edits_identity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
