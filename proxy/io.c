/*
 * io.c — writing to a bufferevent without a trip through the event loop.
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
 * Failures: a write error leaves the bytes queued; the bufferevent meets
 * the same error on its own write and reports it to its owner.
 */
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
