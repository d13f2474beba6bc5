/*
 * spool.h: the bytes of one message, held in memory up to a threshold and
 * beyond it in an unlinked temporary file.  No sockets, no event loop.
 */
#ifndef GH_SPOOL_H
#define GH_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct gh_spool;

/*
 * A new, empty spool.  MEM_MAX bytes are held in memory; the first append
 * that would pass it moves everything to an unlinked file in TMPDIR (NULL:
 * $TMPDIR, else /tmp).  The hard cap is unlimited until gh_spool_set_max.
 * NULL on ENOMEM.
 */
struct gh_spool	*gh_spool_new(size_t mem_max, const char *tmpdir);

/* Set the hard cap: an append that would pass MAX fails with EFBIG. */
void		 gh_spool_set_max(struct gh_spool *, uint64_t max);

/*
 * Append N bytes.  0 on success; -1 with errno (ENOSPC, EIO, EMFILE, ...
 * from the file, ENOMEM, EFBIG past the hard cap).  On EFBIG nothing is
 * appended and the spool stays usable; any other failure is sticky: every
 * later append fails with the same errno (the bytes already held remain
 * readable where the file allows).
 */
int		 gh_spool_append(struct gh_spool *, const void *, size_t);

/* Number of bytes appended so far. */
uint64_t	 gh_spool_size(const struct gh_spool *);

/*
 * Read up to N bytes at OFF, like pread(2): the number read (short only at
 * the end of the data), 0 at or past the end, -1 with errno on I/O error.
 */
ssize_t		 gh_spool_pread(const struct gh_spool *, void *buf, size_t n,
		    uint64_t off);

/*
 * The bytes as one contiguous block when they are all in memory (LEN set
 * to the size), else NULL: callers fall back to gh_spool_pread.
 */
const void	*gh_spool_mem(const struct gh_spool *, size_t *len);

/* True once the bytes went to a file. */
int		 gh_spool_in_file(const struct gh_spool *);

/*
 * The file descriptor of the (unlinked) spool file, -1 while in memory.
 * The file holds all bytes only after gh_spool_flush.
 */
int		 gh_spool_fd(const struct gh_spool *);

/* Write buffered bytes to the file (no-op in memory).  0, or -1 + errno. */
int		 gh_spool_flush(struct gh_spool *);

/* Free the spool and close (hence delete) its file.  NULL is a no-op. */
void		 gh_spool_free(struct gh_spool *);

#endif /* GH_SPOOL_H */
