/*
 * log.c — the process logger.
 *
 * Writes to syslog, or to stderr with a timestamp when running in the
 * foreground.  Thread-safe: each line is formatted into a local buffer
 * and written with one call.  Lines longer than 2 KiB are cut.
 */
#include "filters/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX	2048

static enum gh_log_target	 log_target = GH_LOG_STDERR;
static int			 log_level = LOG_INFO;
static const char		*log_ident = "gatehouse";

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

/* Choose where log lines go. */
void
gh_log_open(const char *ident, enum gh_log_target target, int facility)
{
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

/* Write one preformatted line. */
static void
emit(int level, const char *line)
{
	char		 out[LOG_LINE_MAX + 96];
	struct timeval	 tv;
	struct tm	 tm;
	int		 n;

	if (log_target == GH_LOG_SYSLOG) {
		syslog(level, "%s", line);
		return;
	}
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	n = snprintf(out, sizeof(out),
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03ld %s[%ld]: %s: %s\n",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (long)tv.tv_usec / 1000, log_ident,
	    (long)getpid(), level_name(level), line);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(out)) {
		n = sizeof(out) - 1;
		out[n - 1] = '\n';
	}
	(void)!write(STDERR_FILENO, out, (size_t)n);
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

/* Log a session line, prefixed with the session id. */
void
gh_log_session(int level, uint64_t sid, const char *fmt, ...)
{
	char	 line[LOG_LINE_MAX];
	int	 n;
	va_list	 ap;

	if (level > log_level)
		return;
	n = snprintf(line, sizeof(line), "%016llx ", (unsigned long long)sid);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	emit(level, line);
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
