/*
 * io.c — writing to a bufferevent without a trip through the event loop,
 * reading a socket without libevent's FIONREAD and 4 KB cap, and lazy
 * deadlines for the timeouts.
 *
 * A bufferevent writes only when epoll says the socket is writable: for
 * every reply that costs an epoll_ctl to ask for EPOLLOUT, an epoll_wait
 * to hear it, the write, and an epoll_ctl to stop asking — four system
 * calls where one does, and an SMTP session is a dozen small replies.
 * Here the bytes go to the socket at once while nothing is queued before
 * them; only what the kernel does not take is queued, and only then is
 * EV_WRITE enabled, so the bufferevent finishes the job (and reports a
 * failure through its event callback) as before.
 *
 * Invariants: bytes keep their order (nothing is written directly while
 * the bufferevent still holds earlier output); only plain socket
 * bufferevents are written directly — a TLS or filtering bufferevent
 * (one with an underlying bufferevent, or an OpenSSL one) gets the bytes
 * through its own machinery; EV_WRITE is enabled exactly while output is
 * queued, so an idle connection asks epoll for nothing but reads.
 *
 * Reading has the mirror problem: a socket bufferevent asks the kernel
 * how much is there (ioctl FIONREAD) before every read(2), and reads at
 * most 4096 bytes per readiness (EVBUFFER_MAX_READ), so a 4 KB message
 * costs two trips through epoll and every command line an extra system
 * call.  A reader (struct proxy_reader) replaces the bufferevent's own
 * reading on a plain socket: its own EV_READ event on the descriptor,
 * readv(2) straight into the bufferevent's input buffer, in large
 * pieces, up to a high-water mark, then the owner's read callback, or
 * its event callback with BEV_EVENT_EOF or BEV_EVENT_ERROR as libevent
 * would report them.  The bufferevent itself never reads then.
 *
 * Timeouts: a bufferevent re-arms its timeout events on every read and
 * every change of what it waits for, a dozen timer-heap operations per
 * message.  A deadline (struct proxy_deadline) is a time in a field; its
 * one timer is armed for the earliest deadline it has to meet and only
 * re-armed when it fires early (the deadline moved on meanwhile) or
 * when the deadline moves earlier, as nginx does with its timers.
 *
 * Failures: a write error leaves the bytes queued; the bufferevent meets
 * the same error on its own write and reports it to its owner.  A read
 * that brings data and then meets the end of the stream or an error
 * hands the data over first; the end (the socket stays readable) or the
 * error (kept in the reader) is reported on the next turn.  A reader or
 * deadline timer that cannot be set up fails the session's or backend
 * connection's set-up.
 */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <event2/bufferevent_ssl.h>

#include "proxy/proxy.h"

/* Tell whether BEV writes straight to its file descriptor. */
static bool
plain_socket(struct bufferevent *bev)
{
	return bufferevent_getfd(bev) >= 0 &&
	    bufferevent_get_underlying(bev) == NULL &&
	    bufferevent_openssl_get_ssl(bev) == NULL;
}

/* Write from BUF to FD until it is empty or the kernel stops taking. */
static void
write_now(struct evbuffer *buf, evutil_socket_t fd)
{
	while (evbuffer_get_length(buf) > 0)
		if (evbuffer_write(buf, fd) <= 0)
			break;
}

/* Arm EV_WRITE while output is queued, disarm it when none is. */
static void
arm(struct bufferevent *bev)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		bufferevent_enable(bev, EV_WRITE);
	else if (bufferevent_get_enabled(bev) & EV_WRITE)
		bufferevent_disable(bev, EV_WRITE);
}

/* Write what BEV's output holds now (see above). */
void
proxy_io_flush(struct bufferevent *bev)
{
	if (plain_socket(bev))
		write_now(bufferevent_get_output(bev), bufferevent_getfd(bev));
	arm(bev);
}

/* Send N bytes at P on BEV (see above); LAST: BEV is closed right after
   its output is out, so the bytes go with MSG_MORE and the close's FIN
   leaves in the same segment as they do: one packet, and one trip
   through the peer's stack, fewer per connection. */
void
proxy_io_send_mem(struct bufferevent *bev, const char *p, size_t n,
    bool last)
{
	ssize_t	 w = 0;

	if (n > 0 && evbuffer_get_length(bufferevent_get_output(bev)) == 0 &&
	    plain_socket(bev)) {
		do
			w = send(bufferevent_getfd(bev), p, n, MSG_NOSIGNAL |
			    (last ? MSG_MORE : 0));
		while (w == -1 && errno == EINTR);
		if (w < 0)
			w = 0;	/* the bufferevent meets the error itself */
	}
	if ((size_t)w < n)
		(void)bufferevent_write(bev, p + w, n - (size_t)w);
	arm(bev);
}

#define READ_FIRST	(16 * 1024)		/* on the stack */
#define READ_CHUNK	(64 * 1024 - 256)	/* fits a 64 KB chain */
#define READ_ROUNDS	16
#define DEADLINE_SLACK_US 10000		/* above a coarse clock tick */

/* Monotonic microseconds, coarse (a tick, some milliseconds, behind at
   most): read on every read, for deadlines of a second and more. */
uint64_t
proxy_io_now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Read from FD into IN, up to ROOM bytes; the result of the last
   readv(2): > 0 all went well and the socket is (likely) empty, 0 end
   of stream, -1 with errno (EAGAIN: nothing more now).  *GOT: bytes. */
static ssize_t
read_into(struct evbuffer *in, evutil_socket_t fd, size_t room, size_t *got)
{
	struct evbuffer_iovec	 v[2];
	struct iovec		 iov[2];
	char			 first[READ_FIRST];
	size_t			 want, take, i;
	ssize_t			 n = -1;
	int			 nv, round;

	*got = 0;
	/* A socket bufferevent keeps its input's end frozen but while it
	   reads itself; so do we. */
	(void)evbuffer_unfreeze(in, 0);
	/* The first read goes to the stack: a command line then costs a
	   small chain (or none), not a fresh 16 KB one per read. */
	want = room < READ_FIRST ? room : READ_FIRST;
	do
		n = read(fd, first, want);
	while (n == -1 && errno == EINTR);
	if (n > 0 && evbuffer_add(in, first, (size_t)n) == -1) {
		errno = ENOMEM;
		n = -1;
	} else if (n > 0) {
		*got = (size_t)n;
		room -= (size_t)n;
	}
	for (round = 1; n == (ssize_t)want && round < READ_ROUNDS && room > 0;
	    round++) {
		want = room < READ_CHUNK ? room : READ_CHUNK;
		if ((nv = evbuffer_reserve_space(in, (ev_ssize_t)want, v,
		    2)) <= 0) {
			errno = ENOMEM;
			n = -1;
			break;
		}
		for (i = 0, take = 0; i < (size_t)nv; i++) {
			if (v[i].iov_len > want - take)
				v[i].iov_len = want - take;
			iov[i].iov_base = v[i].iov_base;
			iov[i].iov_len = v[i].iov_len;
			take += v[i].iov_len;
		}
		do
			n = readv(fd, iov, nv);
		while (n == -1 && errno == EINTR);
		if (n <= 0) {
			(void)evbuffer_commit_space(in, v, 0);
			break;
		}
		/* Commit exactly what came, over the vectors in order. */
		for (i = 0, take = (size_t)n; i < (size_t)nv; i++) {
			if (v[i].iov_len > take)
				v[i].iov_len = take;
			take -= v[i].iov_len;
		}
		if (evbuffer_commit_space(in, v, nv) == -1) {
			errno = ENOMEM;
			n = -1;
			break;
		}
		*got += (size_t)n;
		room -= (size_t)n;
		if ((size_t)n < want)
			break;		/* the socket is empty */
	}
	(void)evbuffer_freeze(in, 0);
	return n;
}

/* Put the reader's event in the loop or take it out, as wanted. */
static void
reader_arm(struct proxy_reader *r)
{
	bool	 want = r->want && r->ev != NULL &&
	    evbuffer_get_length(bufferevent_get_input(r->bev)) < r->high;

	if (want && !r->added)
		r->added = event_add(r->ev, NULL) == 0;
	else if (!want && r->added) {
		(void)event_del(r->ev);
		r->added = false;
	}
}

/* The socket is readable: read, then tell the owner (its last act). */
static void
reader_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_reader	*r = arg;
	struct evbuffer		*in = bufferevent_get_input(r->bev);
	size_t			 len = evbuffer_get_length(in), got;
	ssize_t			 n;
	int			 err = r->err;

	if (err == 0) {
		if (len >= r->high) {
			reader_arm(r);	/* full: the owner resumes us */
			return;
		}
		n = read_into(in, fd, r->high - len, &got);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			n = 1;
		if (n == 0 && got == 0)
			err = -1;			/* the end */
		else if (n == -1 && got == 0)
			err = errno ? errno : EIO;
		else if (n == -1)
			r->err = errno ? errno : EIO;	/* after this data */
		if (got > 0) {
			r->readcb(r->bev, r->arg);	/* may free r */
			return;
		}
		if (err == 0)
			return;		/* spurious wakeup */
	}
	r->want = false;
	reader_arm(r);
	if (err > 0)
		EVUTIL_SET_SOCKET_ERROR(err);
	r->eventcb(r->bev, BEV_EVENT_READING | (err > 0 ? BEV_EVENT_ERROR :
	    BEV_EVENT_EOF), r->arg);		/* may free r */
}

/* Tell whether BEV may be read with a reader (a plain socket). */
bool
proxy_reader_usable(struct bufferevent *bev)
{
	return plain_socket(bev);
}

/* Start reading BEV's socket with R (see above); -1 when it cannot. */
int
proxy_reader_start(struct proxy_reader *r, struct bufferevent *bev,
    size_t high, bufferevent_data_cb readcb, bufferevent_event_cb eventcb,
    void *arg)
{
	memset(r, 0, sizeof(*r));
	if (!plain_socket(bev))
		return -1;
	r->bev = bev;
	r->high = high;
	r->readcb = readcb;
	r->eventcb = eventcb;
	r->arg = arg;
	bufferevent_disable(bev, EV_READ);
	if ((r->ev = event_new(bufferevent_get_base(bev),
	    bufferevent_getfd(bev), EV_READ | EV_PERSIST, reader_cb, r)) ==
	    NULL)
		return -1;
	r->want = true;
	reader_arm(r);
	return r->added ? 0 : -1;
}

/* Stop for good (before the bufferevent is freed or wrapped in TLS). */
void
proxy_reader_stop(struct proxy_reader *r)
{
	if (r->ev)
		event_free(r->ev);
	r->ev = NULL;
	r->added = r->want = false;
}

/* Want input, or not (a closing session, the end of the stream). */
void
proxy_reader_enable(struct proxy_reader *r, bool on)
{
	r->want = on;
	reader_arm(r);
}

/* The owner took input: read again if it was held at the mark. */
void
proxy_reader_resume(struct proxy_reader *r)
{
	if (r->ev && r->want && !r->added)
		reader_arm(r);
}

/* Tell whether R reads (false: the bufferevent does, or nobody). */
bool
proxy_reader_active(const struct proxy_reader *r)
{
	return r->ev != NULL;
}

/* ------------------------------------------------------------------ */
/* Deadlines */

/* Arm the timer to fire at AT (microseconds, monotonic). */
static void
deadline_arm(struct proxy_deadline *d, uint64_t now, uint64_t at)
{
	struct timeval	 tv;
	uint64_t	 us = at > now ? at - now : 0;

	tv.tv_sec = (time_t)(us / 1000000u);
	tv.tv_usec = (suseconds_t)(us % 1000000u);
	if (evtimer_add(d->ev, &tv) == 0)
		d->armed = at ? at : 1;
}

/* The timer fired: the deadline passed, moved on, or went. */
static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_deadline	*d = arg;
	uint64_t		 now;

	d->armed = 0;
	if (d->at == 0)
		return;
	/* Our clock may lag libevent's by a tick: up to DEADLINE_SLACK early
	   counts as on time. */
	if ((now = proxy_io_now_us()) + DEADLINE_SLACK_US < d->at) {
		deadline_arm(d, now, d->at);
		return;
	}
	d->at = 0;
	d->fire(d->arg);	/* may free d */
}

/* Set up D to call fire(arg) when a deadline passes; -1 on failure. */
int
proxy_deadline_init(struct proxy_deadline *d, struct event_base *base,
    void (*fire)(void *), void *arg)
{
	memset(d, 0, sizeof(*d));
	d->fire = fire;
	d->arg = arg;
	return (d->ev = evtimer_new(base, deadline_cb, d)) == NULL ? -1 : 0;
}

/* Meet a deadline MS milliseconds from now; 0: none. */
void
proxy_deadline_set(struct proxy_deadline *d, uint64_t ms)
{
	uint64_t	 now;

	if (ms == 0) {
		d->at = 0;	/* the armed timer finds nothing to do */
		return;
	}
	now = proxy_io_now_us();
	d->at = now + ms * 1000u;
	if (d->ev && (d->armed == 0 || d->armed > d->at))
		deadline_arm(d, now, d->at);
}

/* Tell whether a deadline is set. */
bool
proxy_deadline_pending(const struct proxy_deadline *d)
{
	return d->at != 0;
}

/* Release the timer. */
void
proxy_deadline_free(struct proxy_deadline *d)
{
	if (d->ev)
		event_free(d->ev);
	d->ev = NULL;
	d->at = d->armed = 0;
}
