/*
 * daemon.c — privileges, systemd notification, socket activation.
 *
 * Invariant: after gh_daemon_drop_privileges() succeeds as root, the
 * process cannot regain root (checked: setuid(0) must fail).
 */
#include "daemon/daemon.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "filters/log.h"

/* Drop root for good (see daemon.h). */
int
gh_daemon_drop_privileges(const struct gh_config *cfg, char *err,
    size_t errsz)
{
	struct passwd	*pw;
	struct group	*gr;
	gid_t		 gid;

	if (geteuid() != 0)
		return 0;
	if (cfg->user[0] == '\0') {
		log_warn("running as root: set 'user' so that gatehouse "
		    "drops root after binding its sockets");
		return 0;
	}
	errno = 0;
	if ((pw = getpwnam(cfg->user)) == NULL) {
		snprintf(err, errsz, "user '%s' does not exist", cfg->user);
		return -1;
	}
	gid = pw->pw_gid;
	if (cfg->group[0] != '\0') {
		if ((gr = getgrnam(cfg->group)) == NULL) {
			snprintf(err, errsz, "group '%s' does not exist",
			    cfg->group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	/* initgroups: keep the user's supplementary groups (postfix, for
	   the milter's socket). */
	if (initgroups(pw->pw_name, gid) == -1 ||
	    setresgid(gid, gid, gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		snprintf(err, errsz, "cannot switch to %s: %s", cfg->user,
		    strerror(errno));
		return -1;
	}
	if (pw->pw_uid != 0 && setuid(0) != -1) {
		snprintf(err, errsz, "could regain root after dropping it");
		return -1;
	}
	log_info("running as user %s (uid %u, gid %u)", cfg->user,
	    (unsigned)pw->pw_uid, (unsigned)gid);
	return 0;
}

void
gh_daemon_ready(void)
{
	sd_notify(0, "READY=1");
}

void
gh_daemon_reloading(void)
{
	sd_notify(0, "RELOADING=1");
}

void
gh_daemon_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

void
gh_daemon_status(const char *fmt, ...)
{
	char	 line[256];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	sd_notifyf(0, "STATUS=%s", line);
}

/* Sockets from systemd; 0 when not socket-activated. */
int
gh_daemon_listen_fds(void)
{
	int	 n = sd_listen_fds(1);

	if (n < 0) {
		log_warn("socket activation: %s", strerror(-n));
		return 0;
	}
	return n;
}
