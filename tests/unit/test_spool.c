/*
 * test_spool.c: the spool keeps bytes in memory up to its threshold, then
 * in an unlinked file; reads give back exactly what was appended; the hard
 * cap refuses with EFBIG.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "spool.h"

/* Fill BUF with a pattern that depends on the offset. */
static void
pattern(unsigned char *buf, size_t n, uint64_t off)
{
	size_t	i;

	for (i = 0; i < n; i++)
		buf[i] = (unsigned char)((off + i) * 31 + ((off + i) >> 8));
}

/* Check that S holds the pattern over its whole size, read in STEP bytes. */
static void
check_pattern(const struct gh_spool *s, size_t step)
{
	unsigned char	*got, *want;
	uint64_t	 off = 0, size = gh_spool_size(s);
	ssize_t		 r;

	got = malloc(step);
	want = malloc(step);
	assert_non_null(got);
	assert_non_null(want);
	while (off < size) {
		r = gh_spool_pread(s, got, step, off);
		assert_true(r > 0);
		pattern(want, (size_t)r, off);
		assert_memory_equal(got, want, (size_t)r);
		off += (uint64_t)r;
	}
	assert_int_equal(gh_spool_pread(s, got, step, off), 0);
	free(got);
	free(want);
}

/* Small data stays in memory and is readable, contiguous. */
static void
test_memory(void **state)
{
	struct gh_spool	*s;
	unsigned char	 buf[1000];
	const void	*mem;
	size_t		 len;

	(void)state;
	s = gh_spool_new(4096, NULL);
	assert_non_null(s);
	pattern(buf, sizeof(buf), 0);
	assert_int_equal(gh_spool_append(s, buf, 600), 0);
	assert_int_equal(gh_spool_append(s, buf + 600, 400), 0);
	assert_int_equal(gh_spool_size(s), 1000);
	assert_false(gh_spool_in_file(s));
	assert_int_equal(gh_spool_fd(s), -1);
	mem = gh_spool_mem(s, &len);
	assert_non_null(mem);
	assert_int_equal(len, 1000);
	assert_memory_equal(mem, buf, 1000);
	check_pattern(s, 7);
	gh_spool_free(s);
}

/* Crossing the threshold moves to an unlinked file; reads span both. */
static void
test_threshold(void **state)
{
	struct gh_spool	*s;
	unsigned char	*buf;
	struct stat	 st;
	uint64_t	 off = 0;
	size_t		 chunk;

	(void)state;
	s = gh_spool_new(10000, "/tmp");
	assert_non_null(s);
	buf = malloc(200000);
	assert_non_null(buf);
	/* Uneven chunks, one bigger than the write buffer. */
	while (off < 300000) {
		chunk = off < 150000 ? 997 : 131072;
		pattern(buf, chunk, off);
		assert_int_equal(gh_spool_append(s, buf, chunk), 0);
		off += chunk;
		if (off <= 10000)
			assert_false(gh_spool_in_file(s));
		else
			assert_true(gh_spool_in_file(s));
	}
	assert_int_equal(gh_spool_size(s), off);
	assert_null(gh_spool_mem(s, NULL));
	assert_true(gh_spool_fd(s) >= 0);
	assert_int_equal(fstat(gh_spool_fd(s), &st), 0);
	assert_int_equal(st.st_nlink, 0);	/* no name on disk */
	check_pattern(s, 4093);
	check_pattern(s, 100000);
	/* Flushing makes the file complete. */
	assert_int_equal(gh_spool_flush(s), 0);
	assert_int_equal(fstat(gh_spool_fd(s), &st), 0);
	assert_int_equal((uint64_t)st.st_size, off);
	check_pattern(s, 65536);
	free(buf);
	gh_spool_free(s);
}

/* A zero threshold spools from the first byte. */
static void
test_zero_threshold(void **state)
{
	struct gh_spool	*s;
	unsigned char	 buf[10];

	(void)state;
	s = gh_spool_new(0, NULL);
	assert_non_null(s);
	pattern(buf, sizeof(buf), 0);
	assert_int_equal(gh_spool_append(s, buf, 10), 0);
	assert_true(gh_spool_in_file(s));
	check_pattern(s, 3);
	gh_spool_free(s);
}

/* The hard cap refuses with EFBIG and leaves the spool usable. */
static void
test_cap(void **state)
{
	struct gh_spool	*s;
	unsigned char	 buf[100];

	(void)state;
	s = gh_spool_new(50, NULL);
	assert_non_null(s);
	gh_spool_set_max(s, 120);
	pattern(buf, sizeof(buf), 0);
	assert_int_equal(gh_spool_append(s, buf, 100), 0);
	errno = 0;
	assert_int_equal(gh_spool_append(s, buf, 21), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(gh_spool_size(s), 100);
	pattern(buf, 20, 100);
	assert_int_equal(gh_spool_append(s, buf, 20), 0);
	assert_int_equal(gh_spool_size(s), 120);
	check_pattern(s, 11);
	gh_spool_free(s);
}

/* A missing directory fails the crossing, stickily, with errno. */
static void
test_bad_tmpdir(void **state)
{
	struct gh_spool	*s;
	unsigned char	 buf[100];

	(void)state;
	s = gh_spool_new(10, "/nonexistent/gatehouse-test");
	assert_non_null(s);
	pattern(buf, sizeof(buf), 0);
	assert_int_equal(gh_spool_append(s, buf, 5), 0);
	errno = 0;
	assert_int_equal(gh_spool_append(s, buf, 100), -1);
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_int_equal(gh_spool_append(s, buf, 1), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(gh_spool_size(s), 5);
	check_pattern(s, 5);
	gh_spool_free(s);
}

/* Reads at and past the end. */
static void
test_read_edges(void **state)
{
	struct gh_spool	*s;
	char		 buf[8];

	(void)state;
	s = gh_spool_new(100, NULL);
	assert_non_null(s);
	assert_int_equal(gh_spool_pread(s, buf, sizeof(buf), 0), 0);
	assert_int_equal(gh_spool_append(s, "abc", 3), 0);
	assert_int_equal(gh_spool_pread(s, buf, sizeof(buf), 1), 2);
	assert_memory_equal(buf, "bc", 2);
	assert_int_equal(gh_spool_pread(s, buf, sizeof(buf), 3), 0);
	assert_int_equal(gh_spool_pread(s, buf, sizeof(buf), 1000), 0);
	gh_spool_free(s);
	gh_spool_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_threshold),
		cmocka_unit_test(test_zero_threshold),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_bad_tmpdir),
		cmocka_unit_test(test_read_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
