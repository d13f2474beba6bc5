/*
 * log.c — the process logger.
 *
 * Writes to syslog, or to stderr with a timestamp when running in the
 * foreground.  Thread-safe: each line is formatted into a local buffer
 * and written with one call.  Lines longer than 2 KiB are cut.
 *
 * A busy proxy writes a line per message, so a line costs one copy: the
 * date is formatted once a second (per thread), the process id once per
 * process (reset in a forked child), and a ready-made line is copied in
 * as it is (gh_log_session_str()).
 */
#include "filters/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX	2048

static enum gh_log_target	 log_target = GH_LOG_STDERR;
static int			 log_level = LOG_INFO;
static const char		*log_ident = "gatehouse";
static long			 log_pid;	/* 0: not known yet */
static __thread long		 pid_of_text;	/* pid_text is for it */
static __thread char		 pid_text[48];	/* "[pid]: " */
static __thread size_t		 pid_len;

/* Per thread: the date of the current second, "YYYY-MM-DDTHH:MM:SS". */
static __thread time_t		 date_sec = -1;
static __thread char		 date_text[32];
static __thread size_t		 date_len;

static const struct {
	const char	*name;
	int		 level;
} levels[] = {
	{ "debug", LOG_DEBUG }, { "info", LOG_INFO },
	{ "notice", LOG_NOTICE }, { "warning", LOG_WARNING },
	{ "err", LOG_ERR }, { "error", LOG_ERR }, { "crit", LOG_CRIT },
};

static const struct {
	const char	*name;
	int		 facility;
} facilities[] = {
	{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

/* A forked child has a process id of its own. */
static void
forget_pid(void)
{
	__atomic_store_n(&log_pid, 0, __ATOMIC_RELAXED);
}

/* Choose where log lines go. */
void
gh_log_open(const char *ident, enum gh_log_target target, int facility)
{
	static bool	 atfork;

	if (!atfork)
		atfork = pthread_atfork(NULL, NULL, forget_pid) == 0;
	__atomic_store_n(&log_pid, 0, __ATOMIC_RELAXED);
	log_ident = ident;
	log_target = target;
	if (target == GH_LOG_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, facility);
}

/* Set the lowest level that is written. */
void
gh_log_set_level(int level)
{
	log_level = level;
}

/* Return the lowest level that is written. */
int
gh_log_get_level(void)
{
	return log_level;
}

/* Tell whether a line at `level` would be written. */
bool
gh_log_enabled(int level)
{
	return level <= log_level;
}

/* Map a level name to its syslog value. */
int
gh_log_level_parse(const char *s)
{
	size_t	 i;

	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcasecmp(s, levels[i].name) == 0)
			return levels[i].level;
	return -1;
}

/* Map a facility name to its syslog value. */
int
gh_log_facility_parse(const char *s)
{
	size_t	 i;

	for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (strcasecmp(s, facilities[i].name) == 0)
			return facilities[i].facility;
	return -1;
}

/* Name of a level, for stderr lines. */
static const char *
level_name(int level)
{
	size_t	 i;

	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (levels[i].level == level)
			return levels[i].name;
	return "?";
}

/* Append n bytes at *o within out[size] (cut at the end). */
static void
put(char *out, size_t size, size_t *o, const char *p, size_t n)
{
	if (n > size - *o)
		n = size - *o;
	memcpy(out + *o, p, n);
	*o += n;
}

/* Write one preformatted line of `len` bytes. */
static void
emit_len(int level, const char *line, size_t len)
{
	char		 out[LOG_LINE_MAX + 96], ms[5];
	struct timeval	 tv;
	struct tm	 tm;
	size_t		 o = 0, room = sizeof(out) - 1;
	long		 m, p;
	int		 n;

	if (log_target == GH_LOG_SYSLOG) {
		syslog(level, "%.*s", (int)(len > INT32_MAX ? INT32_MAX : len),
		    line);
		return;
	}
	gettimeofday(&tv, NULL);
	if (tv.tv_sec != date_sec) {
		localtime_r(&tv.tv_sec, &tm);
		n = snprintf(date_text, sizeof(date_text),
		    "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		    tm.tm_sec);
		date_len = n > 0 && (size_t)n < sizeof(date_text) ?
		    (size_t)n : 0;
		date_sec = tv.tv_sec;
	}
	m = (long)tv.tv_usec / 1000;
	ms[0] = '.';
	ms[1] = (char)('0' + m / 100);
	ms[2] = (char)('0' + m / 10 % 10);
	ms[3] = (char)('0' + m % 10);
	if ((p = __atomic_load_n(&log_pid, __ATOMIC_RELAXED)) == 0) {
		p = (long)getpid();
		__atomic_store_n(&log_pid, p, __ATOMIC_RELAXED);
	}
	if (p != pid_of_text) {
		n = snprintf(pid_text, sizeof(pid_text), "[%ld]: ", p);
		pid_len = n > 0 && (size_t)n < sizeof(pid_text) ? (size_t)n : 0;
		pid_of_text = p;
	}
	put(out, room, &o, date_text, date_len);
	put(out, room, &o, ms, 4);
	put(out, room, &o, " ", 1);
	put(out, room, &o, log_ident, strlen(log_ident));
	put(out, room, &o, pid_text, pid_len);
	put(out, room, &o, level_name(level), strlen(level_name(level)));
	put(out, room, &o, ": ", 2);
	put(out, room, &o, line, len > LOG_LINE_MAX - 1 ? LOG_LINE_MAX - 1 :
	    len);
	out[o++] = '\n';
	(void)!write(STDERR_FILENO, out, o);
}

/* Write one preformatted line. */
static void
emit(int level, const char *line)
{
	emit_len(level, line, strlen(line));
}

/* Log a line. */
void
gh_vlog(int level, const char *fmt, va_list ap)
{
	char	 line[LOG_LINE_MAX];

	if (level > log_level)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	emit(level, line);
}

/* Log a line. */
void
gh_log(int level, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	gh_vlog(level, fmt, ap);
	va_end(ap);
}

/* The session id as 16 hex digits and a space into `out`. */
static void
sid_text(char *out, uint64_t sid)
{
	static const char hex[] = "0123456789abcdef";
	int	 i;

	for (i = 15; i >= 0; i--, sid >>= 4)
		out[i] = hex[sid & 15];
	out[16] = ' ';
}

/* Log a session line, prefixed with the session id. */
void
gh_log_session(int level, uint64_t sid, const char *fmt, ...)
{
	char	 line[LOG_LINE_MAX];
	va_list	 ap;

	if (level > log_level)
		return;
	sid_text(line, sid);
	va_start(ap, fmt);
	vsnprintf(line + 17, sizeof(line) - 17, fmt, ap);
	va_end(ap);
	emit(level, line);
}

/* Log a ready-made session line of `len` bytes (no format, one copy). */
void
gh_log_session_str(int level, uint64_t sid, const char *str, size_t len)
{
	char	 line[LOG_LINE_MAX];

	if (level > log_level)
		return;
	sid_text(line, sid);
	if (len > sizeof(line) - 18)
		len = sizeof(line) - 18;
	memcpy(line + 17, str, len);
	emit_len(level, line, 17 + len);
}

/* Log a broken invariant and abort. */
void
gh_panic(const char *fmt, ...)
{
	char	 line[LOG_LINE_MAX];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	emit(LOG_CRIT, line);
	abort();
}
