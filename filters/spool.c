/*
 * spool.c: the bytes of one message, in memory up to a threshold, then in
 * an unlinked temporary file.
 *
 * Owns: one growable memory block and, once the threshold is passed, one
 * file descriptor of a file that has no name (O_TMPFILE, else mkostemp and
 * an immediate unlink), so that a crash leaves nothing behind on disk.
 *
 * Invariants:
 *  - in memory (fd == -1): mem[0 .. mem_len) are bytes [0 .. size);
 *  - in a file: the file holds bytes [0 .. file_len), and mem is a write
 *    buffer holding bytes [file_len .. size), mem_len < WBUF_SIZE after
 *    every append; so memory stays bounded by max(mem_max, WBUF_SIZE).
 *  - size never passes max (the hard cap).
 *
 * Failures: appends report errno; a failed allocation or write makes the
 * spool broken (sticky errno), an append past the cap (EFBIG) does not.
 * Nothing here aborts.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spool.h"

#define WBUF_SIZE	(64 * 1024)

struct gh_spool {
	char		*mem;
	size_t		 mem_len;
	size_t		 mem_cap;
	size_t		 mem_max;
	int		 fd;
	uint64_t	 file_len;
	uint64_t	 size;
	uint64_t	 max;
	int		 err;		/* sticky errno, 0 when healthy */
	char		*tmpdir;
};

/* Create a spool that keeps up to MEM_MAX bytes in memory. */
struct gh_spool *
gh_spool_new(size_t mem_max, const char *tmpdir)
{
	struct gh_spool	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->fd = -1;
	s->mem_max = mem_max;
	s->max = UINT64_MAX;
	if (tmpdir != NULL && (s->tmpdir = strdup(tmpdir)) == NULL) {
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

/* Set the hard cap on the number of bytes. */
void
gh_spool_set_max(struct gh_spool *s, uint64_t max)
{
	s->max = max;
}

/* Open an unnamed file in the spool's directory; fd or -1 + errno. */
static int
open_tmpfile(const struct gh_spool *s)
{
	const char	*dir = s->tmpdir;
	char		 path[4096];
	int		 fd, n;

	if (dir == NULL && (dir = getenv("TMPDIR")) == NULL)
		dir = "/tmp";
#ifdef O_TMPFILE
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd != -1)
		return fd;
	/* Filesystems without O_TMPFILE say so in various ways. */
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return -1;
#endif
	n = snprintf(path, sizeof(path), "%s/gatehouse-spool.XXXXXX", dir);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = mkostemp(path, O_CLOEXEC)) == -1)
		return -1;
	if (unlink(path) == -1) {
		int	save = errno;

		close(fd);
		errno = save;
		return -1;
	}
	return fd;
}

/* Write all of BUF at OFF; 0 or -1 + errno (a short write is ENOSPC). */
static int
pwrite_all(int fd, const char *buf, size_t n, uint64_t off)
{
	ssize_t	r;

	while (n > 0) {
		r = pwrite(fd, buf, n, (off_t)off);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = ENOSPC;
			return -1;
		}
		buf += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

/* Mark the spool broken with errno E; return -1 with errno set. */
static int
broken(struct gh_spool *s, int e)
{
	s->err = e;
	errno = e;
	return -1;
}

/* Move the in-memory bytes to a new unlinked file. */
static int
to_file(struct gh_spool *s)
{
	char	*wbuf;
	int	 fd;

	if ((fd = open_tmpfile(s)) == -1)
		return broken(s, errno);
	if (pwrite_all(fd, s->mem, s->mem_len, 0) == -1) {
		int	save = errno;

		close(fd);
		return broken(s, save);
	}
	if ((wbuf = malloc(WBUF_SIZE)) == NULL) {
		close(fd);
		return broken(s, ENOMEM);
	}
	free(s->mem);
	s->mem = wbuf;
	s->mem_cap = WBUF_SIZE;
	s->file_len = s->mem_len;
	s->mem_len = 0;
	s->fd = fd;
	return 0;
}

/* Write the buffered tail to the file. */
int
gh_spool_flush(struct gh_spool *s)
{
	if (s->err) {
		errno = s->err;
		return -1;
	}
	if (s->fd == -1 || s->mem_len == 0)
		return 0;
	if (pwrite_all(s->fd, s->mem, s->mem_len, s->file_len) == -1)
		return broken(s, errno);
	s->file_len += s->mem_len;
	s->mem_len = 0;
	return 0;
}

/* Grow the memory block to hold at least NEED bytes. */
static int
mem_reserve(struct gh_spool *s, size_t need)
{
	size_t	 cap;
	char	*p;

	if (need <= s->mem_cap)
		return 0;
	cap = s->mem_cap ? s->mem_cap : 4096;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (s->fd == -1 && cap > s->mem_max && need <= s->mem_max)
		cap = s->mem_max;
	if ((p = realloc(s->mem, cap)) == NULL)
		return broken(s, ENOMEM);
	s->mem = p;
	s->mem_cap = cap;
	return 0;
}

/* Append N bytes of DATA. */
int
gh_spool_append(struct gh_spool *s, const void *data, size_t n)
{
	if (s->err) {
		errno = s->err;
		return -1;
	}
	if (n > s->max || s->size > s->max - n) {
		errno = EFBIG;
		return -1;
	}
	if (n == 0)
		return 0;
	if (s->fd == -1 && s->mem_len + n > s->mem_max) {
		if (to_file(s) == -1)
			return -1;
	}
	if (s->fd == -1) {
		if (mem_reserve(s, s->mem_len + n) == -1)
			return -1;
		memcpy(s->mem + s->mem_len, data, n);
		s->mem_len += n;
		s->size += n;
		return 0;
	}
	if (s->mem_len + n >= WBUF_SIZE) {
		if (gh_spool_flush(s) == -1)
			return -1;
		if (n >= WBUF_SIZE) {
			if (pwrite_all(s->fd, data, n, s->file_len) == -1)
				return broken(s, errno);
			s->file_len += n;
			s->size += n;
			return 0;
		}
	}
	memcpy(s->mem + s->mem_len, data, n);
	s->mem_len += n;
	s->size += n;
	return 0;
}

/* Number of bytes held. */
uint64_t
gh_spool_size(const struct gh_spool *s)
{
	return s->size;
}

/* Read up to N bytes at OFF from the file part, then the memory part. */
ssize_t
gh_spool_pread(const struct gh_spool *s, void *buf, size_t n, uint64_t off)
{
	char	*out = buf;
	size_t	 done = 0, k;
	ssize_t	 r;

	if (off >= s->size)
		return 0;
	if (n > s->size - off)
		n = (size_t)(s->size - off);
	if (n > SSIZE_MAX)
		n = SSIZE_MAX;
	while (done < n && off < s->file_len) {
		k = n - done;
		if (k > s->file_len - off)
			k = (size_t)(s->file_len - off);
		r = pread(s->fd, out + done, k, (off_t)off);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = EIO;	/* the file shrank under us */
			return -1;
		}
		done += (size_t)r;
		off += (uint64_t)r;
	}
	if (done < n) {
		k = n - done;
		memcpy(out + done, s->mem + (size_t)(off - s->file_len), k);
		done += k;
	}
	return (ssize_t)done;
}

/* All bytes as one block if still in memory, else NULL. */
const void *
gh_spool_mem(const struct gh_spool *s, size_t *len)
{
	if (s->fd != -1)
		return NULL;
	if (len != NULL)
		*len = s->mem_len;
	return s->mem != NULL ? s->mem : "";
}

/* True once the bytes live in a file. */
int
gh_spool_in_file(const struct gh_spool *s)
{
	return s->fd != -1;
}

/* The spool file's descriptor, or -1. */
int
gh_spool_fd(const struct gh_spool *s)
{
	return s->fd;
}

/* Release everything; the file disappears with its last descriptor. */
void
gh_spool_free(struct gh_spool *s)
{
	if (s == NULL)
		return;
	if (s->fd != -1)
		close(s->fd);
	free(s->mem);
	free(s->tmpdir);
	free(s);
}
