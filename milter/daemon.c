/*
 * daemon.c — the milter daemon: libmilter registration, the listening
 * socket, privileges, signals, reload.
 *
 * Threads and signals.  libmilter only creates the listening socket
 * (smfi_setconn(), smfi_opensocket(): its socket syntax and its stale
 * socket handling); engine.c speaks the protocol, with an acceptor
 * thread and a thread per connection, because libmilter's own loop
 * spends ~150 system calls and several context switches per message
 * (engine.c says how).  The main thread keeps SIGHUP, SIGTERM and
 * SIGINT unblocked, with handlers that only write a byte to a pipe, and
 * reads the pipe: SIGHUP reloads (a new chain from a freshly loaded
 * configuration; any error keeps the running one, logged),
 * SIGTERM/SIGINT stop (the acceptor stops and closes the listener, open
 * sessions finish within shutdown_timeout).
 *
 * TCP_NODELAY.  libmilter creates the listening socket itself and has
 * no option for TCP_NODELAY, yet it matters: at end of message the
 * milter writes one packet per header edit and the MTA answers none of
 * them, so without it each edit after the first waits for a delayed ACK
 * (up to 40 ms).  smfi_opensocket() creates the socket; we then
 * find it among our descriptors (the only
 * listening socket) and set TCP_NODELAY on it — Linux copies it to
 * every accepted socket.  A unix socket (the default) avoids the
 * question and is faster still: recommended.
 *
 * Failures: anything before the milter listens is reported (stderr, or
 * through the pipe to the parent when detaching) and exits 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <grp.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "filters/chain.h"
#include "filters/log.h"
#include "filters/metrics.h"
#include "milter/milter.h"
#include "milter/milter_int.h"

/* The state libmilter's callbacks reach: a process-wide singleton,
   since libmilter passes no user pointer besides per-session data. */
static struct milter_state	 G;

/* The self-pipe that signals and the milter thread write to. */
static int			 evpipe[2] = { -1, -1 };
static int			 notify_fd = -1;	/* detaching parent */

/* Registered with libmilter only so that smfi_opensocket() works: the
   protocol is engine.c's. */
static struct smfiDesc desc = {
	.xxfi_name = "gatehouse",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_SETSYMLIST,
};

/* Report a startup failure: log it, tell a waiting parent. */
static void
startup_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
startup_error(const char *fmt, ...)
{
	char	 buf[1024];
	va_list	 ap;
	ssize_t	 n;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	gh_log(LOG_ERR, "%s", buf);
	if (notify_fd != -1) {
		n = write(notify_fd, buf, strlen(buf));
		(void)n;
	}
}

/*
 * Detach: fork; the parent waits until the child says it listens ("R")
 * or why it could not, and exits accordingly.  Called before any thread
 * exists.
 */
static int
detach(void)
{
	int	 p[2], status;
	pid_t	 pid;
	char	 buf[1024];
	ssize_t	 n;

	if (pipe(p) == -1 || (pid = fork()) == -1) {
		gh_log(LOG_ERR, "cannot detach: %s", strerror(errno));
		return -1;
	}
	if (pid > 0) {
		close(p[1]);
		while ((n = read(p[0], buf, sizeof(buf) - 1)) == -1 &&
		    errno == EINTR)
			;
		if (n == 1 && buf[0] == 'R')
			_exit(0);
		if (n > 0) {
			buf[n] = '\0';
			fprintf(stderr, "gatehouse: %s\n", buf);
		} else
			fprintf(stderr, "gatehouse: milter exited while "
			    "starting\n");
		(void)waitpid(pid, &status, WNOHANG);
		_exit(1);
	}
	close(p[0]);
	notify_fd = p[1];
	/* The working directory stays: relative paths in the command line
	   and the configuration (rule files) mean the same at SIGHUP. */
	if (setsid() == -1)
		gh_log(LOG_WARNING, "setsid: %s", strerror(errno));
	return 0;
}

/* Tell the parent (when detaching) and systemd that we are ready. */
static void
ready(void)
{
	int	 fd;

	if (notify_fd != -1) {
		if (write(notify_fd, "R", 1) != 1)
			gh_log(LOG_WARNING, "cannot notify the parent");
		close(notify_fd);
		notify_fd = -1;
		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			dup2(fd, STDIN_FILENO);
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			if (fd > STDERR_FILENO)
				close(fd);
		}
	}
	sd_notify(0, "READY=1");
}

/* Build a chain, logging what loading reports; NULL on error (logged). */
static struct gh_chain *
build_chain(struct gh_config *cfg, char *err, size_t errsz)
{
	struct gh_chain	*c;
	char		*text = NULL, *line, *save;
	size_t		 len = 0;
	FILE		*report = open_memstream(&text, &len);

	c = gh_chain_new(cfg, report, err, errsz);
	if (report) {
		fclose(report);
		for (line = strtok_r(text, "\n", &save); line;
		    line = strtok_r(NULL, "\n", &save))
			gh_log(LOG_INFO, "%s", line);
		free(text);
	}
	return c;
}

/* libmilter's listening socket, found after smfi_opensocket(). */
static struct sockaddr_storage	 listen_ss;
static socklen_t		 listen_sslen;
static int			 listen_fd = -1;

/* Find libmilter's listening socket among our descriptors (the only
   listening stream socket): its descriptor, its address in listen_ss. */
static int
find_listener(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 fd, acc, type, found = -1;
	socklen_t	 len;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		fd = atoi(de->d_name);
		if (fd == dirfd(d))
			continue;
		len = sizeof(acc);
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc,
		    &len) == -1 || !acc)
			continue;
		len = sizeof(type);
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
		    type != SOCK_STREAM)
			continue;
		listen_sslen = sizeof(listen_ss);
		if (getsockname(fd, (struct sockaddr *)&listen_ss,
		    &listen_sslen) == -1)
			continue;
		found = fd;
		break;
	}
	closedir(d);
	return found;
}

/* The path of a unix socket specification, or NULL. */
static const char *
unix_path(const char *conn)
{
	if (strncmp(conn, "unix:", 5) == 0)
		return conn + 5;
	if (strncmp(conn, "local:", 6) == 0)
		return conn + 6;
	return NULL;
}

/* Open the listening socket with its mode, group and options. */
static int
open_socket(const struct gh_config *cfg)
{
	const char	*path = unix_path(cfg->milter_listen);
	struct group	*gr;
	struct stat	 sb;
	mode_t		 old;
	int		 r, fd, on = 1;

	if (smfi_setconn(cfg->milter_listen) != MI_SUCCESS) {
		startup_error("milter_listen %s: not usable",
		    cfg->milter_listen);
		return -1;
	}
	/* The unix socket gets its mode at birth, not a moment later. */
	old = umask(path ? (mode_t)(~cfg->milter_socket_mode & 0777) : 077);
	r = smfi_opensocket(true);
	umask(old);
	if (r != MI_SUCCESS) {
		startup_error("cannot listen on %s (see the libmilter "
		    "message before)", cfg->milter_listen);
		return -1;
	}
	if ((listen_fd = fd = find_listener()) == -1) {
		startup_error("cannot find the socket listening on %s",
		    cfg->milter_listen);
		return -1;
	}
	if (path == NULL) {
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on,
		    sizeof(on)) == -1)
			gh_log(LOG_WARNING, "milter: could not set "
			    "TCP_NODELAY on %s: expect ~40 ms per header "
			    "edit; a unix socket is recommended",
			    cfg->milter_listen);
		else
			gh_log(LOG_INFO, "milter: TCP_NODELAY set on %s (a "
			    "unix socket is faster still)",
			    cfg->milter_listen);
		return 0;
	}
	if (chmod(path, cfg->milter_socket_mode) == -1) {
		startup_error("chmod %s: %s", path, strerror(errno));
		return -1;
	}
	if (cfg->milter_socket_group[0]) {
		if ((gr = getgrnam(cfg->milter_socket_group)) == NULL) {
			startup_error("milter_socket_group %s: no such group",
			    cfg->milter_socket_group);
			return -1;
		}
		/* Skip chown(2) when the directory's group (setgid) or
		   ours already made it right: a seccomp filter may deny
		   chown (systemd's @privileged set). */
		if ((stat(path, &sb) == -1 || sb.st_gid != gr->gr_gid) &&
		    chown(path, (uid_t)-1, gr->gr_gid) == -1) {
			startup_error("chown %s: %s", path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Run as `user` (and `group`) when started as root. */
static int
drop_privileges(const struct gh_config *cfg)
{
	const char	*path = unix_path(cfg->milter_listen);
	struct passwd	*pw;
	char		 err[256];

	if (geteuid() != 0 || cfg->user[0] == '\0')
		return gh_daemon_drop_privileges(cfg, err, sizeof(err));
	if ((pw = getpwnam(cfg->user)) == NULL) {
		startup_error("user %s: no such user", cfg->user);
		return -1;
	}
	/* The socket stays ours, so that we can remove it at the end. */
	if (path && chown(path, pw->pw_uid, (gid_t)-1) == -1)
		gh_log(LOG_WARNING, "chown %s: %s", path, strerror(errno));
	if (gh_daemon_drop_privileges(cfg, err, sizeof(err)) == -1) {
		startup_error("%s", err);
		return -1;
	}
	return 0;
}

/* Signal handler: one byte into the pipe (async-signal-safe). */
static void
on_signal(int sig)
{
	int	 saved = errno;
	char	 c = sig == SIGHUP ? 'H' : 'T';
	ssize_t	 n;

	n = write(evpipe[1], &c, 1);
	(void)n;
	errno = saved;
}

/* Install the handlers; the main thread never blocks these signals. */
static int
setup_signals(void)
{
	struct sigaction sa;
	sigset_t	 set;
	int		 i;

	if (pipe2(evpipe, O_CLOEXEC) == -1 ||
	    fcntl(evpipe[1], F_SETFL, O_NONBLOCK) == -1)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGHUP, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	for (i = 0; i < 3; i++)
		sigaddset(&set, (int[]){ SIGHUP, SIGTERM, SIGINT }[i]);
	return pthread_sigmask(SIG_UNBLOCK, &set, NULL) == 0 ? 0 : -1;
}

/* SIGHUP: a new chain from a freshly loaded configuration. */
static void
reload(const struct milter_opts *o, const struct gh_config *running)
{
	struct gh_config	*cfg;
	struct gh_chain		*c;
	char			 err[1024];

	sd_notify(0, "RELOADING=1");
	gh_log(LOG_NOTICE, "milter: reloading the configuration");
	if (o->reload == NULL || (cfg = o->reload(o->reload_arg)) == NULL) {
		gh_log(LOG_ERR, "milter: reload failed; the running "
		    "configuration stays");
		gh_metrics_reload(false);
		sd_notify(0, "READY=1");
		return;
	}
	if ((c = build_chain(cfg, err, sizeof(err))) == NULL) {
		gh_log(LOG_ERR, "milter: %s; reload failed, the running "
		    "configuration stays", err);
		gh_config_unref(cfg);
		gh_metrics_reload(false);
		sd_notify(0, "READY=1");
		return;
	}
	if (strcmp(cfg->milter_listen, running->milter_listen) != 0 ||
	    cfg->milter_socket_mode != running->milter_socket_mode ||
	    strcmp(cfg->milter_socket_group,
	    running->milter_socket_group) != 0 ||
	    strcmp(cfg->user, running->user) != 0)
		gh_log(LOG_WARNING, "milter: milter_listen, the socket's "
		    "mode and group, and user take effect at restart only");
	if (!o->keep_log_level)
		gh_log_set_level(cfg->log_level);
	milter__chain_set(&G, c);
	gh_config_unref(cfg);
	gh_metrics_reload(true);
	gh_log(LOG_NOTICE, "milter: configuration reloaded; new messages "
	    "use it");
	sd_notify(0, "READY=1");
}

/* Stop: no new connections; open sessions get shutdown_timeout. */
static void
stop(const struct gh_config *cfg)
{
	uint64_t	 deadline = gh_now_us() + cfg->shutdown_timeout_ms * 1000;
	struct timespec	 ts = { 0, 20 * 1000 * 1000 };
	char		 c;
	int		 n;

	sd_notify(0, "STOPPING=1");
	milter__engine_stop();
	gh_log(LOG_NOTICE, "milter: stopping, %d session(s) open",
	    milter__sessions(&G));
	while ((n = milter__sessions(&G)) > 0 && gh_now_us() < deadline) {
		/* A second SIGTERM means now. */
		if (read(evpipe[0], &c, 1) == 1 && (c == 'T'))
			break;
		nanosleep(&ts, NULL);
	}
	if ((n = milter__sessions(&G)) > 0)
		gh_log(LOG_WARNING, "milter: %d session(s) still open at "
		    "exit", n);
	else
		milter__engine_quiesce(gh_now_us() + 1000 * 1000);
}

/* Remove our unix socket if it is still the one we made. */
static void
remove_socket(const struct gh_config *cfg, const struct stat *made)
{
	const char	*path = unix_path(cfg->milter_listen);
	struct stat	 sb;

	if (path && made->st_ino && stat(path, &sb) == 0 &&
	    sb.st_ino == made->st_ino && sb.st_dev == made->st_dev &&
	    S_ISSOCK(sb.st_mode))
		(void)unlink(path);
}

/* The main thread's loop: signals and the milter thread's end. */
static int
main_loop(const struct milter_opts *o, const struct gh_config *cfg)
{
	char	 c;
	ssize_t	 n;

	for (;;) {
		n = read(evpipe[0], &c, 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n != 1) {
			gh_log(LOG_ERR, "milter: event pipe: %s",
			    n == 0 ? "closed" : strerror(errno));
			return 1;
		}
		switch (c) {
		case 'H':
			reload(o, cfg);
			break;
		case 'T':
			/* Make the pipe non-blocking for stop()'s polls. */
			fcntl(evpipe[0], F_SETFL, O_NONBLOCK);
			stop(cfg);
			return 0;
		default:	/* 'X': the acceptor failed */
			gh_log(LOG_ERR, "milter: cannot accept connections "
			    "any more");
			fcntl(evpipe[0], F_SETFL, O_NONBLOCK);
			stop(cfg);
			return c == 'x' ? 0 : 1;
		}
	}
}

/* Run the milter daemon (see milter.h). */
int
milter_main(struct gh_config *cfg, const struct milter_opts *o)
{
	struct gh_chain	*c;
	struct stat	 made;
	struct gh_metrics_http *metrics;
	char		 err[1024];
	const char	*path;
	int		 r;

	memset(&made, 0, sizeof(made));
	/* Under systemd (Type=notify) the service is the process itself. */
	if (!o->foreground && getenv("NOTIFY_SOCKET") == NULL &&
	    detach() == -1)
		return 1;
	if (setup_signals() == -1) {
		startup_error("signals: %s", strerror(errno));
		return 1;
	}
	if ((c = build_chain(cfg, err, sizeof(err))) == NULL) {
		startup_error("%s", err);
		return 1;
	}
	r = milter__state_init(&G, milter__engine_api(), c);
	gh_chain_unref(c);
	if (r == -1) {
		startup_error("cannot initialise the milter state");
		return 1;
	}
	if (smfi_register(desc) != MI_SUCCESS) {
		startup_error("smfi_register failed");
		return 1;
	}
	if (open_socket(cfg) == -1 || drop_privileges(cfg) == -1)
		return 1;
	G.tcp = unix_path(cfg->milter_listen) == NULL;
	if ((path = unix_path(cfg->milter_listen)) != NULL &&
	    stat(path, &made) == -1)
		memset(&made, 0, sizeof(made));
	if (milter__engine_start(&G, listen_fd, evpipe[1]) == -1) {
		startup_error("cannot start the milter thread: %s",
		    strerror(errno));
		return 1;
	}
	gh_log(LOG_NOTICE, "milter: listening on %s (gatehouse %s)",
	    cfg->milter_listen, GH_VERSION);
	metrics = gh_metrics_http_start(cfg);
	ready();
	r = main_loop(o, cfg);
	gh_metrics_http_stop(metrics);
	remove_socket(cfg, &made);
	if (milter__sessions(&G) == 0)
		milter__state_fini(&G);
	gh_log(LOG_NOTICE, "milter: stopped");
	return r;
}
