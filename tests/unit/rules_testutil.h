/*
 * rules_testutil.h -- helpers for the rule engine's unit tests: rule
 * files in a private temporary directory, loading, and looking at hits.
 * Header-only (static functions) so each test_rules*.c stays one
 * executable.
 */
#ifndef GATEHOUSE_RULES_TESTUTIL_H
#define GATEHOUSE_RULES_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rules.h"

#define TU_UNUSED __attribute__((unused))

static char tu_dir[64];

/* Remove one entry (for nftw). */
static TU_UNUSED int
tu_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Create the private directory. */
static TU_UNUSED int
tu_setup(void **state)
{
	(void)state;
	snprintf(tu_dir, sizeof(tu_dir), "/tmp/gh-rules-test-XXXXXX");
	return mkdtemp(tu_dir) == NULL ? -1 : 0;
}

/* Remove the private directory. */
static TU_UNUSED int
tu_teardown(void **state)
{
	(void)state;
	return nftw(tu_dir, tu_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* Path of NAME in the private directory (static buffer rotation). */
static TU_UNUSED const char *
tu_path(const char *name)
{
	static char buf[8][512];
	static int i;

	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", tu_dir, name);
	return buf[i];
}

/* Write CONTENT to NAME (subdirectories must exist). */
static TU_UNUSED const char *
tu_write(const char *name, const char *content)
{
	const char *p = tu_path(name);
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, strlen(content), f),
	    strlen(content));
	assert_int_equal(fclose(f), 0);
	return p;
}

/* Load one file written from CONTENT with OPTS (may be NULL). */
static TU_UNUSED struct rules_set *
tu_load_opts(const char *name, const char *content,
    const struct rules_opts *opts, struct rules_diag *d)
{
	const char *paths[1];
	struct rules_set *set = NULL;
	int rc;

	paths[0] = tu_write(name, content);
	rc = rules_load(paths, 1, opts, &set, d);
	assert_true((rc == 0) == (set != NULL));
	return set;
}

/* Load one file written from CONTENT. */
static TU_UNUSED struct rules_set *
tu_load(const char *name, const char *content, struct rules_diag *d)
{
	return tu_load_opts(name, content, NULL, d);
}

/* Print the notes (for failing tests). */
static TU_UNUSED void
tu_print_notes(const struct rules_diag *d)
{
	size_t i;

	for (i = 0; i < d->nnotes; i++)
		fprintf(stderr, "  note: %s\n", d->notes[i].text);
}

/* Load and insist on success. */
static TU_UNUSED struct rules_set *
tu_load_ok(const char *name, const char *content)
{
	struct rules_diag d;
	struct rules_set *set = tu_load(name, content, &d);

	if (set == NULL || d.errors > 0)
		tu_print_notes(&d);
	assert_non_null(set);
	assert_int_equal(d.errors, 0);
	rules_diag_free(&d);
	return set;
}

/* True if a note contains TEXT. */
static TU_UNUSED bool
tu_has_note(const struct rules_diag *d, const char *text)
{
	size_t i;

	for (i = 0; i < d->nnotes; i++)
		if (strstr(d->notes[i].text, text) != NULL)
			return true;
	return false;
}

/* Load, expect failure with a note containing TEXT. */
static TU_UNUSED void
tu_load_fails(const char *name, const char *content, const char *text)
{
	struct rules_diag d;
	struct rules_set *set = tu_load(name, content, &d);

	if (set != NULL || !tu_has_note(&d, text)) {
		fprintf(stderr, "expected an error containing \"%s\"\n", text);
		tu_print_notes(&d);
	}
	assert_null(set);
	assert_true(d.errors > 0);
	assert_true(tu_has_note(&d, text));
	rules_diag_free(&d);
}

/* The hit of rule NAME, or NULL. */
static TU_UNUSED const struct rules_hit *
tu_hit(const struct rules_txn *t, const char *name)
{
	const struct rules_hit *h;
	size_t n, i;

	h = rules_hits(t, &n);
	for (i = 0; i < n; i++)
		if (strcmp(h[i].name, name) == 0)
			return &h[i];
	return NULL;
}

/* A text from a C string. */
static TU_UNUSED struct rules_text
tu_text(const char *s)
{
	struct rules_text t = { s, s != NULL ? strlen(s) : 0 };
	return t;
}

/* Room for a small message built from header lines. */
struct tu_msg {
	struct rules_header	 h[32];
	char			 raw[32][512];
	struct rules_part	 part;
	struct rules_text	 body[32];
	struct rules_input	 in;
};

/*
 * Build headers from "Name: value" strings (value taken as both raw
 * " value\n" and decoded "value").
 */
static TU_UNUSED void
tu_headers(struct tu_msg *m, const char *const *lines)
{
	size_t i;

	memset(m, 0, sizeof(*m));
	for (i = 0; lines[i] != NULL && i < 32; i++) {
		const char *c = strchr(lines[i], ':');
		const char *v = c + 1;

		assert_non_null(c);
		m->h[i].name.ptr = lines[i];
		m->h[i].name.len = (size_t)(c - lines[i]);
		snprintf(m->raw[i], sizeof(m->raw[i]), "%s\n", v);
		m->h[i].raw = tu_text(m->raw[i]);
		while (*v == ' ')
			v++;
		m->h[i].value = tu_text(v);
	}
	m->part.headers = m->h;
	m->part.nheaders = i;
	m->in.parts = &m->part;
	m->in.nparts = 1;
}

/* Set the body array from strings. */
static TU_UNUSED void
tu_body(struct tu_msg *m, const char *const *lines)
{
	size_t i;

	for (i = 0; lines[i] != NULL && i < 32; i++)
		m->body[i] = tu_text(lines[i]);
	m->in.body = m->body;
	m->in.nbody = i;
}

/* One rule file loaded the three ways that must agree: default, no
 * prefilter (RULES_LOAD_NO_PREFILTER), plain (RULES_LOAD_PLAIN). */
struct tu_modes {
	struct rules_set	*set[3];
	struct rules_txn	*t[3];
};

/*
 * Load CONTENT (as file NAME) the three ways into MO, evaluate M
 * through EOM with each, and assert that the hits are the same (names,
 * matches, counts).  MO->t[0] is the default's transaction.
 */
static TU_UNUSED void
tu_modes_run(struct tu_modes *mo, const char *name, const char *content,
    struct tu_msg *m)
{
	static const int flags[3] = { 0, RULES_LOAD_NO_PREFILTER,
	    RULES_LOAD_PLAIN };
	struct rules_opts o = { 0 };
	struct rules_diag d;
	const struct rules_hit *h[3];
	size_t n[3], i;
	int k;

	for (k = 0; k < 3; k++) {
		o.flags = flags[k];
		mo->set[k] = tu_load_opts(name, content, &o, &d);
		if (mo->set[k] == NULL)
			tu_print_notes(&d);
		assert_non_null(mo->set[k]);
		rules_diag_free(&d);
		mo->t[k] = rules_txn_new(mo->set[k]);
		assert_non_null(mo->t[k]);
		assert_int_equal(rules_eval(mo->t[k], RULES_STAGE_EOM, &m->in,
		    NULL), 0);
		h[k] = rules_hits(mo->t[k], &n[k]);
	}
	for (k = 1; k < 3; k++) {
		assert_int_equal(n[0], n[k]);
		for (i = 0; i < n[0]; i++) {
			assert_string_equal(h[0][i].name, h[k][i].name);
			assert_string_equal(h[0][i].match, h[k][i].match);
			assert_int_equal(h[0][i].count, h[k][i].count);
		}
	}
}

/* Free what tu_modes_run() made. */
static TU_UNUSED void
tu_modes_free(struct tu_modes *mo)
{
	int k;

	for (k = 0; k < 3; k++) {
		rules_txn_free(mo->t[k]);
		rules_set_unref(mo->set[k]);
	}
}

#endif /* GATEHOUSE_RULES_TESTUTIL_H */
