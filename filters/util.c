/*
 * util.c — bounded buffers, escaping, small string and number helpers.
 *
 * Invariants: a gh_buf never grows past its `max`, and its text is always
 * NUL-terminated.  Failures return -1 (ENOMEM or EMSGSIZE); only the
 * gh_x* helpers, meant for startup, abort.
 */
#include "filters/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Start an empty buffer that may hold at most `max` bytes. */
void
gh_buf_init(struct gh_buf *b, size_t max)
{
	b->p = NULL;
	b->len = b->cap = 0;
	b->max = max ? max : SIZE_MAX / 2;
}

/* Make room for `extra` more bytes plus the terminating NUL. */
int
gh_buf_reserve(struct gh_buf *b, size_t extra)
{
	size_t	 need, ncap;
	char	*np;

	if (extra > b->max || b->len > b->max - extra) {
		errno = EMSGSIZE;
		return -1;
	}
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap *= 2;
	if ((np = realloc(b->p, ncap)) == NULL)
		return -1;
	np[b->len] = '\0';	/* NUL-terminated from the first block on */
	b->p = np;
	b->cap = ncap;
	return 0;
}

/* Append `n` bytes. */
int
gh_buf_append(struct gh_buf *b, const void *data, size_t n)
{
	if (gh_buf_reserve(b, n) == -1)
		return -1;
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

/* Append a C string. */
int
gh_buf_puts(struct gh_buf *b, const char *s)
{
	return gh_buf_append(b, s, strlen(s));
}

/* Append formatted text. */
int
gh_buf_vprintf(struct gh_buf *b, const char *fmt, va_list ap)
{
	va_list	 ap2;
	int	 n;

	/* One pass when the text fits in the room there is. */
	if (b->cap - b->len < 128 && gh_buf_reserve(b, b->max - b->len < 128 ?
	    b->max - b->len : 128) == -1)
		return -1;
	va_copy(ap2, ap);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap2);
	va_end(ap2);
	if (n < 0) {
		b->p[b->len] = '\0';
		return -1;
	}
	if ((size_t)n < b->cap - b->len) {
		if ((size_t)n > b->max - b->len) {
			b->p[b->len] = '\0';	/* past the limit: as before */
			errno = EMSGSIZE;
			return -1;
		}
		b->len += (size_t)n;
		return 0;
	}
	b->p[b->len] = '\0';
	if (gh_buf_reserve(b, (size_t)n) == -1)
		return -1;
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

/* Append formatted text. */
int
gh_buf_printf(struct gh_buf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 r;

	va_start(ap, fmt);
	r = gh_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

/* Empty the buffer, keeping its memory. */
void
gh_buf_reset(struct gh_buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

/* Release the buffer's memory. */
void
gh_buf_free(struct gh_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* Hand the text to the caller (never NULL unless out of memory). */
char *
gh_buf_steal(struct gh_buf *b)
{
	char	*p;

	if (b->p == NULL && gh_buf_reserve(b, 0) == -1)
		return NULL;
	if (b->p && b->len == 0)
		b->p[0] = '\0';
	p = b->p;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

/* Escape untrusted bytes for logging (see util.h). */
char *
gh_printable(char *out, size_t outsz, const char *in, size_t len, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t	 i, o = 0;
	bool	 cut = false;

	if (outsz == 0)
		return out;
	if (in == NULL) {
		snprintf(out, outsz, "(null)");
		return out;
	}
	if (len > cap) {
		len = cap;
		cut = true;
	}
	for (i = 0; i < len; i++) {
		unsigned char	 c = (unsigned char)in[i];
		char		 esc[5];
		size_t		 n;

		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
			esc[0] = (char)c;
			n = 1;
		} else if (c == '\r' || c == '\n' || c == '\t' ||
		    c == '\\' || c == '"') {
			esc[0] = '\\';
			esc[1] = c == '\r' ? 'r' : c == '\n' ? 'n' :
			    c == '\t' ? 't' : (char)c;
			n = 2;
		} else {
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[c >> 4];
			esc[3] = hex[c & 15];
			n = 4;
		}
		if (o + n + 4 >= outsz) {
			cut = true;
			break;
		}
		memcpy(out + o, esc, n);
		o += n;
	}
	if (cut && o + 3 < outsz) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

/* Append `in` escaped as gh_printable() does (an output buffer large
   enough for `cap` bytes): the same text, one pass, no copy between. */
int
gh_buf_put_printable(struct gh_buf *b, const char *in, size_t len,
    size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t	 i, o, run;
	bool	 cut = false;

	if (in == NULL)
		return gh_buf_puts(b, "(null)");
	if (len > cap) {
		len = cap;
		cut = true;
	}
	if (gh_buf_reserve(b, len * 4 + 3) == -1)
		return -1;
	o = b->len;
	for (i = 0; i < len; i += run) {
		unsigned char	 c;

		/* A run of plain characters, copied at once. */
		for (run = 0; i + run < len; run++) {
			c = (unsigned char)in[i + run];
			if (c < 0x20 || c >= 0x7f || c == '\\' || c == '"')
				break;
		}
		if (run) {
			memcpy(b->p + o, in + i, run);
			o += run;
			continue;
		}
		c = (unsigned char)in[i];
		run = 1;
		b->p[o++] = '\\';
		if (c == '\r' || c == '\n' || c == '\t' || c == '\\' ||
		    c == '"')
			b->p[o++] = c == '\r' ? 'r' : c == '\n' ? 'n' :
			    c == '\t' ? 't' : (char)c;
		else {
			b->p[o++] = 'x';
			b->p[o++] = hex[c >> 4];
			b->p[o++] = hex[c & 15];
		}
	}
	if (cut) {
		memcpy(b->p + o, "...", 3);
		o += 3;
	}
	b->p[o] = '\0';
	b->len = o;
	return 0;
}

/* strndup that never reads past `n`. */
char *
gh_strndup(const char *s, size_t n)
{
	char	*p;

	if ((p = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* Case-insensitive compare of a counted string with a C string. */
bool
gh_strcaseeq(const char *a, size_t alen, const char *b)
{
	return strlen(b) == alen && strncasecmp(a, b, alen) == 0;
}

/* Trim white space at both ends, in place. */
char *
gh_trim(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* calloc for startup paths, where running out of memory is fatal. */
void *
gh_xcalloc(size_t n, size_t sz)
{
	void	*p;

	if ((p = calloc(n ? n : 1, sz ? sz : 1)) == NULL) {
		fprintf(stderr, "gatehouse: out of memory\n");
		abort();
	}
	return p;
}

/* strdup for startup paths. */
char *
gh_xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL) {
		fprintf(stderr, "gatehouse: out of memory\n");
		abort();
	}
	return p;
}

/* Monotonic time in microseconds. */
uint64_t
gh_now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Parse "123", "10k", "25M", "1G" (binary multiples). */
int
gh_parse_size(const char *s, uint64_t *out)
{
	char			*end;
	unsigned long long	 v, mul = 1;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -2;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K':
		mul = 1024ull; end++; break;
	case 'm': case 'M':
		mul = 1024ull * 1024; end++; break;
	case 'g': case 'G':
		mul = 1024ull * 1024 * 1024; end++; break;
	default:
		return -1;
	}
	if (*end != '\0')
		return -1;
	if (v > UINT64_MAX / mul)
		return -2;
	*out = v * mul;
	return 0;
}

/* Parse "30", "30s", "500ms", "5m", "2h", "1d" into milliseconds. */
int
gh_parse_duration(const char *s, uint64_t *ms)
{
	char			*end;
	unsigned long long	 v, mul = 1000;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -2;
	if (strcmp(end, "ms") == 0)
		mul = 1;
	else if (*end == '\0' || strcmp(end, "s") == 0)
		mul = 1000;
	else if (strcmp(end, "m") == 0)
		mul = 60000;
	else if (strcmp(end, "h") == 0)
		mul = 3600000;
	else if (strcmp(end, "d") == 0)
		mul = 86400000;
	else
		return -1;
	if (v > UINT64_MAX / mul)
		return -2;
	*ms = v * mul;
	return 0;
}
