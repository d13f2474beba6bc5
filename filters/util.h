/*
 * util.h — small shared helpers: bounded growable buffers, string views,
 * escaping of untrusted text, time.
 */
#ifndef GH_UTIL_H
#define GH_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GH_ARRAY_LEN(a)	(sizeof(a) / sizeof((a)[0]))

/* A string view: untrusted text always travels with its length. */
struct gh_str {
	const char	*p;
	size_t		 len;
};

#define GH_STR(lit)	((struct gh_str){ (lit), sizeof(lit) - 1 })

/*
 * A growable buffer with a hard maximum (Postfix VSTRING, redis sds).
 * `p` is always NUL-terminated when non-NULL.  Appending past `max`
 * fails with -1 and leaves the buffer unchanged.
 */
struct gh_buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
	size_t	 max;
};

void	 gh_buf_init(struct gh_buf *, size_t max);
int	 gh_buf_reserve(struct gh_buf *, size_t extra);
int	 gh_buf_append(struct gh_buf *, const void *, size_t);
int	 gh_buf_puts(struct gh_buf *, const char *);
int	 gh_buf_printf(struct gh_buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 gh_buf_vprintf(struct gh_buf *, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
void	 gh_buf_reset(struct gh_buf *);
void	 gh_buf_free(struct gh_buf *);
char	*gh_buf_steal(struct gh_buf *);
/* Append text escaped as gh_printable() does, at most `cap` bytes of it. */
int	 gh_buf_put_printable(struct gh_buf *, const char *, size_t len,
	    size_t cap);

/*
 * Escape untrusted bytes for a log line: printable ASCII passes except
 * backslash and double quote; everything else becomes \xNN, \r, \n, \t.
 * At most `cap` input bytes are shown; a longer input ends with "...".
 * Returns `out`, always NUL-terminated within `outsz`.
 */
char	*gh_printable(char *out, size_t outsz, const char *in, size_t len,
	    size_t cap);

char	*gh_strndup(const char *, size_t);
bool	 gh_strcaseeq(const char *a, size_t alen, const char *b);
char	*gh_trim(char *);
void	*gh_xcalloc(size_t n, size_t sz);	/* aborts: startup only */
char	*gh_xstrdup(const char *);		/* aborts: startup only */

/* Monotonic clock in microseconds. */
uint64_t gh_now_us(void);

/* Parse helpers: return 0 on success, -1 on syntax, -2 on range. */
int	 gh_parse_size(const char *, uint64_t *);
int	 gh_parse_duration(const char *, uint64_t *ms);

#endif
