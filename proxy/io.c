/*
 * io.c — writing to a bufferevent without a trip through the event loop,
 * and reading past libevent's 4 KB read cap.
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
 * Reading has the mirror problem: libevent 2.1 reads at most 4096 bytes
 * per readiness (EVBUFFER_MAX_READ, whatever the bufferevent's maximum
 * single read), so a 4 KB message costs two trips through epoll and a
 * 100 KB one twenty-five.  A callback on the input buffer notes a read
 * that came back exactly that full; the owner then takes the rest at
 * once with proxy_io_read_more(), in large pieces, up to the room it
 * gives (its read high-water mark).
 *
 * Failures: a write error leaves the bytes queued; the bufferevent meets
 * the same error on its own write and reports it to its owner.  A read
 * that fails, would block or meets the end of the stream just stops:
 * the socket stays readable and the bufferevent meets the end on its
 * next read (a connection reset shows there as the end of the stream or
 * as the error itself; both close the session).
 */
#include <errno.h>
#include <sys/uio.h>

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

/* Send SRC's bytes on BEV (SRC is left empty). */
void
proxy_io_send(struct bufferevent *bev, struct evbuffer *src)
{
	struct evbuffer	*out = bufferevent_get_output(bev);

	if (evbuffer_get_length(out) == 0 && plain_socket(bev))
		write_now(src, bufferevent_getfd(bev));
	if (evbuffer_get_length(src) > 0)
		bufferevent_write_buffer(bev, src);
	arm(bev);
}

#define LIBEVENT_READ_MAX	4096	/* EVBUFFER_MAX_READ in 2.1 */
#define READ_MORE_CHUNK		(64 * 1024)
#define READ_MORE_ROUNDS	16

/* Note whether a read into the input buffer was cut at libevent's cap. */
static void
input_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	bool	*capped = arg;

	if (info->n_added > 0)
		*capped = info->n_added == LIBEVENT_READ_MAX;
}

/* Watch BEV's input for capped reads: *CAPPED is set after one. */
int
proxy_io_watch_reads(struct bufferevent *bev, bool *capped)
{
	*capped = false;
	if (!plain_socket(bev))
		return 0;
	return evbuffer_add_cb(bufferevent_get_input(bev), input_cb,
	    capped) == NULL ? -1 : 0;
}

/* Stop watching (before BEV is freed or wrapped in TLS). */
void
proxy_io_unwatch_reads(struct bufferevent *bev, bool *capped)
{
	(void)evbuffer_remove_cb(bufferevent_get_input(bev), input_cb, capped);
	*capped = false;
}

/* After a capped read, read what the socket holds, up to ROOM bytes. */
void
proxy_io_read_more(struct bufferevent *bev, bool *capped, size_t room)
{
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_iovec	 v[2];
	struct iovec		 iov[2];
	evutil_socket_t		 fd = bufferevent_getfd(bev);
	size_t			 want, got, i;
	ssize_t			 n;
	int			 nv, round;

	if (!*capped)
		return;
	*capped = false;
	if (!plain_socket(bev) ||
	    !(bufferevent_get_enabled(bev) & EV_READ))
		return;
	/* A socket bufferevent keeps its input's end frozen but while it
	   reads itself; so do we. */
	(void)evbuffer_unfreeze(in, 0);
	for (round = 0; round < READ_MORE_ROUNDS && room > 0; round++) {
		want = room < READ_MORE_CHUNK ? room : READ_MORE_CHUNK;
		if ((nv = evbuffer_reserve_space(in, (ev_ssize_t)want, v,
		    2)) <= 0)
			break;
		for (i = 0, got = 0; i < (size_t)nv; i++) {
			if (v[i].iov_len > want - got)
				v[i].iov_len = want - got;
			iov[i].iov_base = v[i].iov_base;
			iov[i].iov_len = v[i].iov_len;
			got += v[i].iov_len;
		}
		do
			n = readv(fd, iov, nv);
		while (n == -1 && errno == EINTR);
		if (n <= 0) {
			(void)evbuffer_commit_space(in, v, 0);
			break;
		}
		/* Commit exactly what came, over the vectors in order. */
		for (i = 0, got = (size_t)n; i < (size_t)nv; i++) {
			if (v[i].iov_len > got)
				v[i].iov_len = got;
			got -= v[i].iov_len;
		}
		if (evbuffer_commit_space(in, v, nv) == -1)
			break;
		*capped = false;	/* our own add is no capped read */
		room -= (size_t)n;
		if ((size_t)n < want)
			break;		/* the socket is empty */
	}
	(void)evbuffer_freeze(in, 0);
}
