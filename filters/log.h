/*
 * log.h — process logging: syslog by default, stderr in the foreground.
 *
 * One line per event.  Session lines start with the session id, then
 * key=value pairs.  Client-supplied text must go through gh_printable()
 * (or the LOG_STR helper) before it reaches a format.
 */
#ifndef GH_LOG_H
#define GH_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <syslog.h>

enum gh_log_target {
	GH_LOG_SYSLOG,
	GH_LOG_STDERR
};

void	 gh_log_open(const char *ident, enum gh_log_target, int facility);
void	 gh_log_set_level(int level);		/* a syslog LOG_* level */
int	 gh_log_get_level(void);
bool	 gh_log_enabled(int level);
int	 gh_log_level_parse(const char *);	/* -1 if unknown */
int	 gh_log_facility_parse(const char *);	/* -1 if unknown */

void	 gh_log(int level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 gh_vlog(int level, const char *fmt, va_list ap)
	    __attribute__((format(printf, 2, 0)));
/* A session line: "<sid> " then the message. */
void	 gh_log_session(int level, uint64_t sid, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* Log a ready-made session line of `len` bytes (no format). */
void	 gh_log_session_str(int level, uint64_t sid, const char *str,
	    size_t len);
#define log_debug(...)	gh_log(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)	gh_log(LOG_INFO, __VA_ARGS__)
#define log_notice(...)	gh_log(LOG_NOTICE, __VA_ARGS__)
#define log_warn(...)	gh_log(LOG_WARNING, __VA_ARGS__)
#define log_err(...)	gh_log(LOG_ERR, __VA_ARGS__)
/* A broken invariant: log and abort (Postfix msg_panic). */
void	 gh_panic(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
