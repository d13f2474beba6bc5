/*
 * lex.c -- reading rule files: lines, comments, words, numbers, names,
 * diagnostics, and the name -> rule map.
 *
 * Owns the SpamAssassin line syntax: a '#' not preceded by a backslash
 * starts a comment, "\#" stands for '#', leading and trailing white space
 * is dropped, blank lines are skipped.  There are no continuation lines.
 *
 * Invariants: every diagnostic is "file:line: message"; at most
 * RULES_NOTES_MAX are kept, the rest are counted.  Lines are capped at
 * RULES_LINE_MAX bytes and files at RULES_FILE_MAX before any parsing.
 *
 * Failure: allocation failures set loader->oom and are reported as one
 * error; nothing here aborts.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rules_int.h"

/* Append one formatted note to the diagnostics. */
void
rules__vnote(struct loader *ld, enum rules_severity sev, const char *fmt,
    va_list ap)
{
	struct rules_diag *d = ld->diag;
	char msg[1024], *text;
	int n;

	if (sev == RULES_ERROR)
		d->errors++;
	else
		d->warnings++;
	if (d->nnotes >= RULES_NOTES_MAX) {
		d->notes_dropped++;
		return;
	}
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (ld->cur != NULL)
		n = asprintf(&text, "%s:%u: %s", ld->cur->path, ld->cur->line,
		    msg);
	else
		n = asprintf(&text, "%s", msg);
	if (n < 0) {
		ld->oom = true;
		return;
	}
	if (d->nnotes % 16 == 0) {
		struct rules_note *nn = realloc(d->notes,
		    (d->nnotes + 16) * sizeof(*nn));
		if (nn == NULL) {
			free(text);
			ld->oom = true;
			return;
		}
		d->notes = nn;
	}
	d->notes[d->nnotes].severity = sev;
	d->notes[d->nnotes].text = text;
	d->nnotes++;
}

/* Append one formatted note. */
void
rules__note(struct loader *ld, enum rules_severity sev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rules__vnote(ld, sev, fmt, ap);
	va_end(ap);
}

/* Report an error at the current line. */
void
rules__error(struct loader *ld, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rules__vnote(ld, RULES_ERROR, fmt, ap);
	va_end(ap);
}

/* Report a warning at the current line. */
void
rules__warn(struct loader *ld, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rules__vnote(ld, RULES_WARNING, fmt, ap);
	va_end(ap);
}

/* A warning in SpamAssassin files, an error in gatehouse's own. */
void
rules__lenient(struct loader *ld, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rules__vnote(ld, ld->cur != NULL && ld->cur->sa ? RULES_WARNING :
	    RULES_ERROR, fmt, ap);
	va_end(ap);
}

/* Read a whole regular file into a NUL-terminated buffer. */
int
rules__read_file(struct loader *ld, const char *path, char **bufp,
    size_t *lenp)
{
	struct stat st;
	char *buf;
	size_t len = 0;
	ssize_t n;
	int fd;

	*bufp = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		rules__error(ld, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		rules__error(ld, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if ((uint64_t)st.st_size > RULES_FILE_MAX) {
		rules__error(ld, "%s: file too large (over %u bytes)", path,
		    RULES_FILE_MAX);
		close(fd);
		return -1;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		ld->oom = true;
		close(fd);
		return -1;
	}
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	return 0;
}

/* Perl's \s: space, \t, \n, \v, \f, \r. */
bool
rules__is_space(int c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/*
 * Strip a comment and surrounding white space from LINE in place, as
 * SpamAssassin's Conf::Parser does; return the new length.
 */
size_t
rules__clean_line(char *line, size_t len)
{
	size_t i, j, start;

	if (memchr(line, '#', len) != NULL) {
		for (i = 0; i < len; i++)
			if (line[i] == '#' && (i == 0 || line[i - 1] != '\\'))
				break;
		len = i;
		/* s/\\#/#/g */
		for (i = j = 0; i < len; i++) {
			if (line[i] == '\\' && i + 1 < len &&
			    line[i + 1] == '#')
				continue;
			line[j++] = line[i];
		}
		len = j;
	}
	while (len > 0 && rules__is_space((unsigned char)line[len - 1]))
		len--;
	for (start = 0; start < len &&
	    rules__is_space((unsigned char)line[start]); start++)
		;
	if (start > 0)
		memmove(line, line + start, len - start);
	len -= start;
	line[len] = '\0';
	return len;
}

/* True if S is a rule name: [_a-zA-Z][_a-zA-Z0-9]{0,127}. */
bool
rules__valid_name(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 128)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '_' || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z'))
			continue;
		if (i > 0 && c >= '0' && c <= '9')
			continue;
		return false;
	}
	return true;
}

/* Copy LEN bytes into a new NUL-terminated string. */
char *
rules__strndup(const char *s, size_t len)
{
	char *p = malloc(len + 1);

	if (p != NULL) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

/*
 * Split the next white-space separated word off *P: returns its start
 * (not NUL-terminated), its length in *LEN, and leaves *P after the
 * white space that follows.  NULL when nothing is left.
 */
char *
rules__next_word(char **p, size_t *len)
{
	char *s = *p, *w;

	while (*s != '\0' && rules__is_space((unsigned char)*s))
		s++;
	if (*s == '\0')
		return NULL;
	w = s;
	while (*s != '\0' && !rules__is_space((unsigned char)*s))
		s++;
	*len = (size_t)(s - w);
	while (*s != '\0' && rules__is_space((unsigned char)*s))
		s++;
	*p = s;
	return w;
}

/* Parse a whole decimal number (optional sign and fraction). */
int
rules__parse_number(const char *s, double *out)
{
	const char *p = s;
	char *end;

	if (*p == '+' || *p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p != '\0')
		return -1;
	errno = 0;
	*out = strtod(s, &end);
	if (errno != 0 || !isfinite(*out))
		return -1;
	return 0;
}

/* FNV-1a over a name. */
static uint64_t
hash_name(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

/* Grow the map to hold at least twice its entries. */
static int
map_grow(struct namemap *m, const struct rule *rules)
{
	struct namemap n;
	size_t i;

	n.size = m->size ? m->size * 2 : 1024;
	n.used = 0;
	if ((n.slots = calloc(n.size, sizeof(*n.slots))) == NULL)
		return -1;
	for (i = 0; i < m->size; i++) {
		uint32_t idx;
		const char *name;
		size_t h;

		if (m->slots[i] == 0)
			continue;
		idx = m->slots[i] - 1;
		name = rules[idx].name;
		h = hash_name(name, strlen(name)) & (n.size - 1);
		while (n.slots[h] != 0)
			h = (h + 1) & (n.size - 1);
		n.slots[h] = idx + 1;
		n.used++;
	}
	free(m->slots);
	*m = n;
	return 0;
}

/* Add rules[idx] (whose name is NAME) to the map. */
int
rules__map_put(struct namemap *m, const char *name, uint32_t idx,
    const struct rule *rules)
{
	size_t h;

	if ((m->used + 1) * 2 > m->size && map_grow(m, rules) == -1)
		return -1;
	h = hash_name(name, strlen(name)) & (m->size - 1);
	while (m->slots[h] != 0)
		h = (h + 1) & (m->size - 1);
	m->slots[h] = idx + 1;
	m->used++;
	return 0;
}

/* Find NAME (LEN bytes); 0 and *idx on success, -1 if absent. */
int
rules__map_get(const struct namemap *m, const char *name, size_t len,
    const struct rule *rules, uint32_t *idx)
{
	size_t h;

	if (m->size == 0)
		return -1;
	h = hash_name(name, len) & (m->size - 1);
	while (m->slots[h] != 0) {
		const char *n = rules[m->slots[h] - 1].name;
		if (strncmp(n, name, len) == 0 && n[len] == '\0') {
			*idx = m->slots[h] - 1;
			return 0;
		}
		h = (h + 1) & (m->size - 1);
	}
	return -1;
}

/* Free the map's storage. */
void
rules__map_free(struct namemap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->size = m->used = 0;
}

/* Append LEN bytes to a string buffer (kept NUL-terminated). */
void
rules__sb_add(struct sbuf *sb, const char *s, size_t len)
{
	if (sb->oom)
		return;
	if (sb->len + len + 1 > sb->cap) {
		size_t ncap = sb->cap ? sb->cap : 64;
		char *np;

		while (ncap < sb->len + len + 1)
			ncap *= 2;
		if (ncap > RULES_FILE_MAX || (np = realloc(sb->p, ncap)) ==
		    NULL) {
			sb->oom = true;
			return;
		}
		sb->p = np;
		sb->cap = ncap;
	}
	memcpy(sb->p + sb->len, s, len);
	sb->len += len;
	sb->p[sb->len] = '\0';
}

/* Append one byte. */
void
rules__sb_addc(struct sbuf *sb, int c)
{
	char ch = (char)c;

	rules__sb_add(sb, &ch, 1);
}

/* Append a C string. */
void
rules__sb_adds(struct sbuf *sb, const char *s)
{
	rules__sb_add(sb, s, strlen(s));
}

/* Hand over the buffer (NULL on overflow); the sbuf is left empty. */
char *
rules__sb_take(struct sbuf *sb)
{
	char *p = sb->p;

	if (sb->oom) {
		free(p);
		p = NULL;
	} else if (p == NULL)
		p = calloc(1, 1);
	sb->p = NULL;
	sb->len = sb->cap = 0;
	sb->oom = false;
	return p;
}
