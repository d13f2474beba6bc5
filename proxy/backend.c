/*
 * backend.c — the proxy's SMTP client towards the backend MTA.
 *
 * Owns one backend connection per session (opened at MAIL FROM): the
 * banner, EHLO and its capabilities, XCLIENT (so that the backend sees
 * the real client) or else XFORWARD, one command at a time with exactly
 * one reply expected, and the message: DATA, the header section with
 * the chain's edits, the body dot-stuffed again, the terminator, the
 * final reply.  A large message is streamed from the spool with a
 * bounded output buffer.
 *
 * Invariants: at most one command is outstanding; every reply is
 * checked (three digits, the same code on every line, bounded size)
 * before the session sees it; the session gets exactly one callback
 * per command, or one failure (code 0) — and the callback is always the
 * last thing done here, because the session may free the backend in it.
 *
 * Failures: connect errors, timeouts, a closed connection, malformed or
 * unexpected replies and a refused XCLIENT all become a code 0 reply
 * with a reason; the session answers the client with a 4xx.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "filters/edits.h"
#include "filters/log.h"
#include "filters/message.h"
#include "proxy/proxy.h"
#include "proxy/smtp_parse.h"

#define REPLY_MAX	16384		/* one whole reply */
#define LINE_MAX_BE	2048		/* one reply line */
#define SEND_HIGH	(256 * 1024)	/* output kept below this */
#define MAX_STEPS	4
#define SEND_ROUNDS	4		/* SEND_HIGH pieces per turn */
#define POOL_SURPLUS_IDLE_MS 1000	/* idle surplus beyond pool_size */
#define READ_HIGH_BE	(64 * 1024)	/* replies are read line by line */

enum bstate {
	B_CONNECTING, B_BANNER, B_EHLO, B_STARTTLS, B_HANDSHAKE, B_READY,
	B_STEP, B_CMD, B_DATA, B_SEND, B_DOT, B_DEAD
};

/* A command sent before the real one (XCLIENT, EHLO, XFORWARD). */
struct step {
	char	*line;
	int	 expect;	/* the code class expected: 2 */
	bool	 ehlo;		/* parse capabilities from the reply */
};

struct backend {
	TAILQ_ENTRY(backend)	 pool_entry;
	bool			 pooled;
	struct server		*srv;
	struct session		*s;		/* NULL: capability probe */
	struct bufferevent	*bev;
	enum bstate		 st;
	struct backend_caps	 caps;
	struct timeval		 tmo_connect, tmo_reply;
	uint64_t		 connect_ms, reply_ms;
	struct proxy_reader	 rd;		/* reads the plain socket */
	struct proxy_deadline	 dl;		/* the read timeout */
	uint64_t		 tmo_ms;	/* the one that runs now */
	char			*hostname;

	struct gh_buf		 reply;
	int			 code;
	bool			 bad;

	struct step		 steps[MAX_STEPS];
	size_t			 nsteps, cur;
	char			*pending;	/* the command after the steps */
	size_t			 pending_len;
	char			*xclient_sent;	/* attributes given by XCLIENT */
	unsigned		 xclient_granted; /* XCLIENT attrs at connect */
	struct client_ident	 first;		/* ident at open (copy) */
	bool			 have_first;

	struct gh_message	*msg;
	const struct gh_edit	*edits;
	size_t			 nedits;
	uint64_t		 off;
	bool			 bol;
	bool			 headers_sent;
	bool			 chunking;	/* backend.chunking */
	struct sockaddr_storage	 ss;		/* where it is connected */
	socklen_t		 sslen;
	bool			 bdat;		/* this message goes by BDAT */
	int			 tls_mode;	/* backend.tls: 0 no, 1 may,
						   2 require */
	bool			 tls_verify;
	bool			 tls;		/* TLS is up */
	bool			 quiet;		/* next line is SASL data */
	bool			 pending_quiet;	/* the pending one is */
	bool			 authed;	/* carries a client's login */
	char			*tls_host;	/* name to verify, SNI */
};

static void	fail(struct backend *, const char *why);
static void	start_pending(struct backend *);
static void	read_cb(struct bufferevent *, void *);
static void	write_cb(struct bufferevent *, void *);
static void	event_cb(struct bufferevent *, short, void *);

/* Milliseconds into a timeval. */
static struct timeval
ms_tv(uint64_t ms)
{
	struct timeval	 tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	return tv;
}

/* Wait at most MS for the backend's next bytes (0: no timeout); every
   read moves the deadline on, as a bufferevent read timeout would. */
static void
set_deadline(struct backend *b, uint64_t ms)
{
	b->tmo_ms = ms;
	proxy_deadline_set(&b->dl, ms);
}

/* The deadline passed: as a bufferevent read timeout. */
static void
deadline_passed(void *arg)
{
	struct backend	*b = arg;

	event_cb(b->bev, BEV_EVENT_READING | BEV_EVENT_TIMEOUT, b);
}

/* Hand a reply (or a failure) to the session: always the last action. */
static void
deliver(struct backend *b, int code, const char *why)
{
	struct be_reply	 r;

	r.code = code;
	r.text = b->reply.p ? b->reply.p : "";
	r.len = b->reply.len;
	r.why = why;
	if (b->s)
		session_on_backend(b->s, &r);
}

/* A command line goes out: log it, wait for its reply. */
static void
expect_reply(struct backend *b, const char *line, size_t len)
{
	if (gh_log_enabled(LOG_DEBUG)) {
		char esc[600];

		/* SASL data and AUTH arguments are credentials: never. */
		gh_printable(esc, sizeof(esc), line, b->quiet ? 0 : len, 512);
		gh_log_session(LOG_DEBUG, session_id(b->s), "backend >>> %s%s",
		    esc, b->quiet ? "(SASL data not logged)" : "");
	}
	b->quiet = false;
	set_deadline(b, b->reply_ms);
	gh_buf_reset(&b->reply);
	b->code = 0;
	b->bad = false;
}

/* Queue a command line with CRLF and wait for its reply. */
static void
queue_line(struct backend *b, const char *line, size_t len)
{
	struct evbuffer	*out = bufferevent_get_output(b->bev);

	expect_reply(b, line, len);
	evbuffer_add(out, line, len);
	evbuffer_add(out, "\r\n", 2);
}

/* Write a command line with CRLF and wait for its reply. */
static void
send_line(struct backend *b, const char *line, size_t len)
{
	char	 buf[1024];
	bool	 secret;

	if (len + 2 > sizeof(buf)) {
		queue_line(b, line, len);
		proxy_io_flush(b->bev);
		return;
	}
	/* The usual short line: from the stack, at once (io.c). */
	secret = b->quiet;
	expect_reply(b, line, len);
	memcpy(buf, line, len);
	memcpy(buf + len, "\r\n", 2);
	proxy_io_send_mem(b->bev, buf, len + 2, false);
	if (secret)
		explicit_bzero(buf, len);	/* SASL data */
}

/* Free the command steps. */
static void
clear_steps(struct backend *b)
{
	size_t	 i;

	for (i = 0; i < b->nsteps; i++)
		free(b->steps[i].line);
	b->nsteps = b->cur = 0;
}

/* Queue a step. */
static int
add_step(struct backend *b, char *line, bool ehlo)
{
	if (line == NULL || b->nsteps == MAX_STEPS) {
		free(line);
		return -1;
	}
	b->steps[b->nsteps].line = line;
	b->steps[b->nsteps].expect = 2;
	b->steps[b->nsteps].ehlo = ehlo;
	b->nsteps++;
	return 0;
}

/* Parse one EHLO keyword line into the capabilities. */
static void
caps_line(struct backend_caps *c, const char *p, size_t n)
{
	static const struct {
		const char	*name;
		unsigned	 bit;
	} attrs[] = {
		{ "NAME", XA_NAME }, { "ADDR", XA_ADDR }, { "PORT", XA_PORT },
		{ "PROTO", XA_PROTO }, { "HELO", XA_HELO },
		{ "IDENT", XA_IDENT }, { "SOURCE", XA_SOURCE },
		{ "LOGIN", XA_LOGIN },
	};
	size_t		 k = 0, i, w;
	unsigned	*set = NULL;

	while (k < n && p[k] != ' ')
		k++;
#define IS(s)	gh_strcaseeq(p, k, s)
	if (IS("PIPELINING"))
		c->pipelining = true;
	else if (IS("8BITMIME"))
		c->eightbitmime = true;
	else if (IS("SMTPUTF8"))
		c->smtputf8 = true;
	else if (IS("DSN"))
		c->dsn = true;
	else if (IS("ENHANCEDSTATUSCODES"))
		c->enhanced = true;
	else if (IS("CHUNKING"))
		c->chunking = true;
	else if (IS("STARTTLS"))
		c->starttls = true;
	else if (IS("AUTH") && k < n)	/* not the old "AUTH=" line */
		(void)smtp_auth_mechs(p + k + 1, n - k - 1, c->auth,
		    sizeof(c->auth));
	else if (IS("SIZE")) {
		c->size = k < n ? strtoull(p + k + 1, NULL, 10) : 0;
	} else if (IS("XCLIENT")) {
		c->xclient = true;
		set = &c->xclient_attrs;
	} else if (IS("XFORWARD")) {
		c->xforward = true;
		set = &c->xforward_attrs;
	}
#undef IS
	while (set && k < n) {
		while (k < n && p[k] == ' ')
			k++;
		for (w = k; w < n && p[w] != ' '; w++)
			;
		for (i = 0; i < GH_ARRAY_LEN(attrs); i++)
			if (gh_strcaseeq(p + k, w - k, attrs[i].name))
				*set |= attrs[i].bit;
		k = w;
	}
}

/* Parse an EHLO reply ("250-name" CRLF "250-KEYWORD" ...). */
void
backend_caps_parse(struct backend_caps *c, const char *text, size_t len)
{
	const char	*p = text, *end = text + len, *eol;
	bool		 first = true;

	memset(c, 0, sizeof(*c));
	c->known = true;
	while (p < end) {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		if (!first && eol - p > 4) {
			size_t n = (size_t)(eol - p) - 4;

			if (n && p[4 + n - 1] == '\r')
				n--;
			caps_line(c, p + 4, n);
		}
		first = false;
		p = eol + 1;
	}
}

/* Tell whether a HELO name can go on an EHLO line as it is (a front's
   XFORWARD HELO= may hold spaces once decoded). */
static bool
helo_word(const char *h)
{
	if (h == NULL || *h == '\0' || strlen(h) > 255)
		return false;
	for (; *h; h++)
		if ((unsigned char)*h <= 0x20 || *h == 0x7f)
			return false;
	return true;
}

/* Plan the steps that make the backend see `id` before a MAIL. */
static int
plan_ident(struct backend *b, const struct client_ident *id)
{
	struct gh_buf	 a;
	char		*line;

	clear_steps(b);
	if (id == NULL)
		return 0;
	gh_buf_init(&a, 4096);
	if (b->xclient_granted) {
		if (relay_ident_attrs(id, b->xclient_granted &
		    (XA_NAME | XA_ADDR | XA_PORT | XA_PROTO | XA_HELO), true,
		    &a) == -1)
			goto fail;
		if (b->xclient_sent && strcmp(b->xclient_sent, a.p) == 0) {
			gh_buf_free(&a);
			return 0;	/* the backend knows already */
		}
		/*
		 * Postfix decides whether XCLIENT is allowed from the client
		 * it believes in: after one XCLIENT it may offer no other.
		 * Then this connection cannot speak for another client.
		 */
		if (b->xclient_sent && !b->caps.xclient)
			goto fail;
		free(b->xclient_sent);
		b->xclient_sent = gh_buf_steal(&a);
		if (b->xclient_sent == NULL)
			goto fail;
		if (asprintf(&line, "XCLIENT%s", b->xclient_sent) == -1)
			line = NULL;
		if (add_step(b, line, false) == -1)
			goto fail;
		/* After XCLIENT the session starts over: EHLO again, with
		   the client's own HELO name (XCLIENT_README). */
		if (asprintf(&line, "EHLO %s", helo_word(id->helo) ?
		    id->helo : b->hostname) == -1)
			line = NULL;
		return add_step(b, line, true);
	}
	if (b->caps.xforward && b->caps.xforward_attrs) {
		if (relay_ident_attrs(id, b->caps.xforward_attrs, false,
		    &a) == -1 || a.len == 0)
			goto fail;
		if (asprintf(&line, "XFORWARD%s", a.p) == -1)
			line = NULL;
		gh_buf_free(&a);
		return add_step(b, line, false);
	}
	gh_buf_free(&a);
	return 0;
fail:
	gh_buf_free(&a);
	clear_steps(b);
	return -1;
}

/* Send the next step, or the pending command once the steps are done. */
static void
next_step(struct backend *b)
{
	if (b->cur < b->nsteps) {
		b->st = B_STEP;
		send_line(b, b->steps[b->cur].line,
		    strlen(b->steps[b->cur].line));
		return;
	}
	clear_steps(b);
	b->st = B_CMD;
	b->quiet = b->pending_quiet;
	b->pending_quiet = false;
	send_line(b, b->pending, b->pending_len);
	explicit_bzero(b->pending, b->pending_len);
	free(b->pending);
	b->pending = NULL;
}

/* The handshake is over: run what the session asked for meanwhile. */
static void
handshake_done(struct backend *b)
{
	struct server	*srv = b->srv;

	srv->caps = b->caps;
	b->st = B_READY;
	set_deadline(b, 0);
	if (b->s == NULL) {
		/* The capability probe has what it came for; the connection
		   can serve the first session. */
		if (srv->probe == b)
			srv->probe = NULL;
		backend_release(b, NULL);
		return;
	}
	if (b->pending)
		start_pending(b);
}

/* Say EHLO with our own name. */
static void
send_ehlo(struct backend *b)
{
	char	 line[300];
	int	 n = snprintf(line, sizeof(line), "EHLO %s", b->hostname);

	b->st = B_EHLO;
	send_line(b, line, (size_t)n);
}

/* 220 to our STARTTLS: wrap the connection in TLS (client side). */
static void
start_tls(struct backend *b)
{
	struct bufferevent	*bev;
	struct in6_addr		 ip;
	SSL			*ssl;

	/* Nothing may come between the 220 and the handshake: a reply
	   injected here would be read as if it came over TLS. */
	if (evbuffer_get_length(bufferevent_get_input(b->bev)) > 0) {
		fail(b, "the backend sent data after its 220 to STARTTLS");
		return;
	}
	if ((ssl = SSL_new(b->srv->tls_client)) == NULL)
		goto fail;
	if (b->tls_host && inet_pton(AF_INET, b->tls_host, &ip) != 1 &&
	    inet_pton(AF_INET6, b->tls_host, &ip) != 1)
		(void)SSL_set_tlsext_host_name(ssl, b->tls_host);
	if (b->tls_verify && (b->tls_host == NULL ||
	    !SSL_set1_host(ssl, b->tls_host))) {
		SSL_free(ssl);
		goto fail;
	}
	/* The filter reads from here on; its write timeout is the socket's
	   (the deadline stays ours). */
	proxy_reader_stop(&b->rd);
	bufferevent_set_timeouts(b->bev, NULL, &b->tmo_reply);
	bev = bufferevent_openssl_filter_new(b->srv->base, b->bev, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		goto fail;
	}
	b->bev = bev;
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	bufferevent_setcb(bev, read_cb, write_cb, event_cb, b);
	bufferevent_setwatermark(bev, EV_WRITE, SEND_HIGH / 4, 0);
	set_deadline(b, b->reply_ms);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	b->st = B_HANDSHAKE;
	return;
fail:
	ERR_clear_error();
	fail(b, "cannot start TLS to the backend");
}

/* The TLS handshake with the backend ended: EHLO again, or fail. */
static void
tls_done(struct backend *b, short what)
{
	SSL		*ssl = bufferevent_openssl_get_ssl(b->bev);
	unsigned long	 e;
	long		 vr;
	char		 why[256], msg[400];

	if (what & BEV_EVENT_CONNECTED) {
		b->tls = true;
		gh_log_session(LOG_INFO, session_id(b->s), "backend TLS "
		    "version=%s cipher=%s bits=%d verified=%s",
		    SSL_get_version(ssl), SSL_get_cipher_name(ssl),
		    SSL_get_cipher_bits(ssl, NULL), b->tls_verify ? "yes" :
		    "no");
		send_ehlo(b);	/* RFC 3207 4.2: start over */
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		snprintf(why, sizeof(why), "timeout");
	else if (b->tls_verify && ssl &&
	    (vr = SSL_get_verify_result(ssl)) != X509_V_OK)
		snprintf(why, sizeof(why), "certificate: %s",
		    X509_verify_cert_error_string(vr));
	else if ((e = bufferevent_get_openssl_error(b->bev)) != 0)
		ERR_error_string_n(e, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "connection closed");
	while (bufferevent_get_openssl_error(b->bev) != 0)
		;
	snprintf(msg, sizeof(msg), "TLS handshake with the backend failed: "
	    "%s", why);
	fail(b, msg);
}

/* Plan the identity steps for the pending command and start. */
static void
start_pending(struct backend *b)
{
	if (b->have_first) {
		b->have_first = false;
		if (plan_ident(b, &b->first) == -1) {
			fail(b, "cannot identify the client to the backend "
			    "(XCLIENT/XFORWARD)");
			return;
		}
	}
	b->cur = 0;
	next_step(b);
}

/* Stream as much of the message as the output buffer allows. */
static int
stuff_out(void *ctx, const char *p, size_t n)
{
	return evbuffer_add(ctx, p, n);
}

/* A sink that dot-stuffs into the backend's output. */
struct stuff_ctx {
	struct evbuffer	*out;
	bool		*bol;
};

static int
stuff_sink(void *ctx, const char *p, size_t n)
{
	struct stuff_ctx *sc = ctx;

	return smtp_dotstuff(sc->bol, p, n, stuff_out, sc->out);
}

/* Write the next part of the message; the terminator at the end. */
static void
send_more(struct backend *b)
{
	struct evbuffer		*out = bufferevent_get_output(b->bev);
	struct stuff_ctx	 sc = { out, &b->bol };
	char			 buf[65536];
	uint64_t		 size = gh_message_size(b->msg);
	ssize_t			 r;
	int			 rounds;

	if (!b->headers_sent) {
		b->headers_sent = true;
		b->bol = true;
		if (gh_edits_write_headers(b->msg, b->edits, b->nedits,
		    stuff_sink, &sc) == -1) {
			fail(b, "cannot write the message");
			return;
		}
		b->off = gh_message_body_offset(b->msg);
	}
	for (rounds = 0; b->off < size; rounds++) {
		while (b->off < size && evbuffer_get_length(out) < SEND_HIGH) {
			r = gh_message_pread(b->msg, buf, sizeof(buf), b->off);
			if (r <= 0) {
				fail(b, "cannot read the spooled message");
				return;
			}
			if ((b->bdat ? evbuffer_add(out, buf, (size_t)r) :
			    smtp_dotstuff(&b->bol, buf, (size_t)r, stuff_out,
			    out)) == -1) {
				fail(b, "out of memory");
				return;
			}
			b->off += (uint64_t)r;
		}
		if (b->off == size)
			break;
		proxy_io_flush(b->bev);
		if (evbuffer_get_length(out) > 0)
			return;	/* the write callback comes back below
				   the low-water mark */
		/*
		 * The kernel took it all, so no write will be waited for and
		 * no write callback would come: go on, and after a few
		 * rounds let other connections have the loop first.
		 */
		if (rounds == SEND_ROUNDS) {
			bufferevent_trigger(b->bev, EV_WRITE,
			    BEV_TRIG_IGNORE_WATERMARKS |
			    BEV_TRIG_DEFER_CALLBACKS);
			return;
		}
	}
	if (!b->bdat) {
		if (!b->bol)
			evbuffer_add(out, "\r\n", 2);
		evbuffer_add(out, ".\r\n", 3);
	}
	b->st = B_DOT;
	b->msg = NULL;
	gh_buf_reset(&b->reply);
	b->code = 0;
	proxy_io_flush(b->bev);
}

/* A complete reply has arrived: act on it by state. */
static void
dispatch(struct backend *b)
{
	int	 code = b->code;

	if (b->bad) {
		fail(b, "malformed reply");
		return;
	}
	if (gh_log_enabled(LOG_DEBUG)) {
		char esc[600];

		gh_printable(esc, sizeof(esc), b->reply.p, b->reply.len, 512);
		gh_log_session(LOG_DEBUG, session_id(b->s), "backend <<< %s",
		    esc);
	}
	switch (b->st) {
	case B_BANNER:
		if (code != 220) {
			fail(b, "banner refused");
			return;
		}
		send_ehlo(b);
		return;
	case B_EHLO:
		if (code != 250) {
			fail(b, "EHLO refused");
			return;
		}
		backend_caps_parse(&b->caps, b->reply.p, b->reply.len);
		b->xclient_granted = b->caps.xclient ? b->caps.xclient_attrs : 0;
		if (b->tls_mode && !b->tls && b->srv->tls_client &&
		    b->caps.starttls) {
			b->st = B_STARTTLS;
			send_line(b, "STARTTLS", 8);
			return;
		}
		if (b->tls_mode == 2 && !b->tls) {
			fail(b, "the backend does not offer STARTTLS "
			    "(backend.tls = require)");
			return;
		}
		handshake_done(b);
		return;
	case B_STARTTLS:
		if (code == 220) {
			start_tls(b);
			return;
		}
		if (b->tls_mode == 2) {
			fail(b, "the backend refused STARTTLS "
			    "(backend.tls = require)");
			return;
		}
		gh_log_session(LOG_NOTICE, session_id(b->s), "backend "
		    "refused STARTTLS (%d): going on in plaintext", code);
		handshake_done(b);
		return;
	case B_STEP:
		if (code / 100 != b->steps[b->cur].expect) {
			free(b->xclient_sent);
			b->xclient_sent = NULL;
			gh_log_session(LOG_WARNING, session_id(b->s), "backend "
			    "refused %.8s: %d", b->steps[b->cur].line, code);
			fail(b, "backend refused XCLIENT/XFORWARD");
			return;
		}
		if (b->steps[b->cur].ehlo) {
			backend_caps_parse(&b->caps, b->reply.p, b->reply.len);
			b->srv->caps = b->caps;
		}
		b->cur++;
		next_step(b);
		return;
	case B_CMD:
	case B_DOT:
		b->st = B_READY;
		set_deadline(b, 0);
		deliver(b, code, NULL);
		return;
	case B_DATA:
		if (code == 354) {
			b->st = B_SEND;
			send_more(b);
			return;
		}
		if (code / 100 == 2) {
			/* "250" to DATA: nothing was sent, so this must never
			   reach the client as a success. */
			fail(b, "unexpected 2xx reply to DATA");
			return;
		}
		b->st = B_READY;
		b->msg = NULL;
		set_deadline(b, 0);
		deliver(b, code, NULL);
		return;
	case B_SEND:
		/* A reply before the end of the message: the backend gave up
		   on it.  The connection is out of step: close it after. */
		b->st = B_DEAD;
		b->msg = NULL;
		deliver(b, code >= 400 ? code : 451, NULL);
		return;
	default:
		fail(b, code == 421 ? "backend closed the session" :
		    "unexpected reply");
		return;
	}
}

/* Read reply lines. */
static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct backend		*b = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_ptr	 eol;
	struct gh_str		 text;
	char			 line[LINE_MAX_BE + 1];
	size_t			 n, i, eol_len;
	int			 code = 0;
	bool			 last = false;

	if (b->tmo_ms)
		proxy_deadline_set(&b->dl, b->tmo_ms);	/* not idle */
	while (b->st != B_DEAD) {
		eol = evbuffer_search_eol(in, NULL, &eol_len,
		    EVBUFFER_EOL_CRLF);
		if (eol.pos == -1)
			break;
		n = (size_t)eol.pos;
		if (n > LINE_MAX_BE) {
			/* Too long for a reply line: bad, as it stands. */
			evbuffer_drain(in, n + eol_len);
			b->bad = true;
			n = 0;
		} else {
			evbuffer_remove(in, line, n);
			evbuffer_drain(in, eol_len);
			line[n] = '\0';
			if (smtp_reply_line(line, n, &code, &last,
			    &text) == -1 || (b->code && code != b->code))
				b->bad = true;
		}
		if (b->code == 0)
			b->code = b->bad ? 451 : code;
		for (i = 0; i < n; i++)
			if ((unsigned char)line[i] < 0x20 ||
			    line[i] == 0x7f)
				line[i] = '?';
		if (gh_buf_append(&b->reply, line, n) == -1 ||
		    gh_buf_append(&b->reply, "\r\n", 2) == -1)
			b->bad = true;
		if (b->bad || last) {
			dispatch(b);
			return;	/* `b` may be gone */
		}
	}
	if (evbuffer_get_length(in) > LINE_MAX_BE)
		fail(b, "reply line too long");
}

/* The output drained below the low mark: send more of the message. */
static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct backend	*b = arg;

	if (b->st == B_SEND)
		send_more(b);
}

/* Connected, closed, failed or timed out. */
static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct backend	*b = arg;
	int		 one = 1;

	if (b->st == B_HANDSHAKE) {
		tls_done(b, what);
		return;
	}
	if (what & BEV_EVENT_CONNECTED) {
		evutil_socket_t fd = bufferevent_getfd(bev);

		/* Harmless failure on a unix socket. */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		b->st = B_BANNER;
		/* From here on we read the socket ourselves (io.c); the
		   banner comes under the connect timeout. */
		bufferevent_set_timeouts(bev, NULL, &b->tmo_reply);
		if (proxy_reader_start(&b->rd, bev, READ_HIGH_BE, read_cb,
		    event_cb, b) == -1 && proxy_reader_usable(bev)) {
			fail(b, "out of memory");
			return;
		}
		if (!proxy_reader_active(&b->rd))
			bufferevent_enable(bev, EV_READ);
		set_deadline(b, b->connect_ms);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && b->pooled) {
		/* Idle long enough: QUIT, in step as it is. */
		TAILQ_REMOVE(&b->srv->pool, b, pool_entry);
		b->srv->npool--;
		b->pooled = false;
		backend_free(b, true);
	} else if (what & BEV_EVENT_TIMEOUT)
		fail(b, b->st <= B_EHLO ? "connect timeout" : "timeout");
	else if (what & BEV_EVENT_EOF)
		fail(b, "connection closed");
	else
		fail(b, b->st == B_CONNECTING ? "connection refused" :
		    "connection error");
}

/* The backend failed: tell the session (last action). */
static void
fail(struct backend *b, const char *why)
{
	if (b->st == B_DEAD && b->s)
		return;
	b->st = B_DEAD;
	b->msg = NULL;
	if (b->pooled) {
		/* An idle pooled connection timed out or was closed. */
		TAILQ_REMOVE(&b->srv->pool, b, pool_entry);
		b->srv->npool--;
		b->pooled = false;
		backend_free(b, false);
		return;
	}
	if (b->s == NULL) {
		log_warn("backend probe: %s", why);
		if (b->srv->probe == b)
			b->srv->probe = NULL;
		backend_free(b, false);
		return;
	}
	gh_buf_reset(&b->reply);
	deliver(b, 0, why);
}

/* Open a connection to the backend (see proxy.h). */
struct backend *
backend_open(struct server *srv, struct session *s,
    const struct gh_config *cfg, const struct client_ident *id)
{
	struct backend	*b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->srv = srv;
	b->s = s;
	b->tmo_connect = ms_tv(cfg->backend_connect_timeout_ms);
	b->tmo_reply = ms_tv(cfg->backend_timeout_ms);
	b->connect_ms = cfg->backend_connect_timeout_ms;
	b->reply_ms = cfg->backend_timeout_ms;
	b->chunking = cfg->backend_chunking;
	b->tls_mode = cfg->backend_tls;
	b->tls_verify = cfg->backend_tls_verify;
	if (cfg->backend.host && (b->tls_host = strdup(cfg->backend.host)) ==
	    NULL)
		goto fail;
	memcpy(&b->ss, &cfg->backend.ss, sizeof(b->ss));
	b->sslen = cfg->backend.sslen;
	gh_buf_init(&b->reply, REPLY_MAX);
	if ((b->hostname = strdup(cfg->hostname)) == NULL)
		goto fail;
	if (id) {
		relay_ident_copy(&b->first, id);
		b->have_first = true;
	}
	if (proxy_deadline_init(&b->dl, srv->base, deadline_passed, b) == -1)
		goto fail;
	b->bev = bufferevent_socket_new(srv->base, -1,
	    BEV_OPT_CLOSE_ON_FREE);
	if (b->bev == NULL)
		goto fail;
	bufferevent_setcb(b->bev, read_cb, write_cb, event_cb, b);
	bufferevent_setwatermark(b->bev, EV_WRITE, SEND_HIGH / 4, 0);
	bufferevent_set_max_single_write(b->bev, 128 * 1024);
	/* The connect completes as a write; reading starts then (event_cb).
	   EV_WRITE only while output is queued (proxy_io_flush). */
	bufferevent_set_timeouts(b->bev, NULL, &b->tmo_connect);
	b->st = B_CONNECTING;
	if (bufferevent_socket_connect(b->bev,
	    (struct sockaddr *)&cfg->backend.ss, (int)cfg->backend.sslen) < 0) {
		/* Reported through event_cb on the next loop turn when the
		   error is asynchronous; a synchronous one is final. */
		goto fail;
	}
	return b;
fail:
	backend_free(b, false);
	return NULL;
}

/* A connection that was told QUIT, until its output is written. */
struct closing {
	TAILQ_ENTRY(closing)	 entry;
	struct server		*srv;
	struct bufferevent	*bev;
};

/* Free a closing connection. */
static void
closing_free(struct closing *c)
{
	TAILQ_REMOVE(&c->srv->closing, c, entry);
	bufferevent_free(c->bev);
	free(c);
}

/* After QUIT: free the connection once the output is written. */
static void
closing_write_cb(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		closing_free(arg);
}

static void
closing_event_cb(struct bufferevent *bev, short what, void *arg)
{
	closing_free(arg);
}

/* Drop every connection still saying QUIT (at exit). */
void
backend_close_all(struct server *srv)
{
	while (!TAILQ_EMPTY(&srv->closing))
		closing_free(TAILQ_FIRST(&srv->closing));
}

/* Close the connection: QUIT first when `graceful` and in step. */
void
backend_free(struct backend *b, bool graceful)
{
	struct timeval	 tv = { 5, 0 };

	if (b == NULL)
		return;
	proxy_reader_stop(&b->rd);
	proxy_deadline_free(&b->dl);
	if (b->bev) {
		struct closing	*c = NULL;

		if (graceful && b->st == B_READY &&
		    (c = calloc(1, sizeof(*c))) != NULL) {
			c->srv = b->srv;
			c->bev = b->bev;
			TAILQ_INSERT_TAIL(&b->srv->closing, c, entry);
			bufferevent_setcb(b->bev, NULL, closing_write_cb,
			    closing_event_cb, c);
			bufferevent_setwatermark(b->bev, EV_WRITE, 0, 0);
			bufferevent_set_timeouts(b->bev, &tv, &tv);
			bufferevent_disable(b->bev, EV_READ);
			bufferevent_write(b->bev, "QUIT\r\n", 6);
			bufferevent_enable(b->bev, EV_WRITE);
		} else
			bufferevent_free(b->bev);
	}
	clear_steps(b);
	relay_ident_free(&b->first);
	if (b->pending)
		explicit_bzero(b->pending, b->pending_len);
	free(b->pending);
	free(b->xclient_sent);
	free(b->tls_host);
	free(b->hostname);
	gh_buf_free(&b->reply);
	free(b);
}

/* A connection for a session: a pooled one, else a new one. */
struct backend *
backend_get(struct server *srv, struct session *s,
    const struct gh_config *cfg)
{
	struct backend	*b;

	if ((b = TAILQ_FIRST(&srv->pool)) == NULL)
		return backend_open(srv, s, cfg, NULL);
	TAILQ_REMOVE(&srv->pool, b, pool_entry);
	srv->npool--;
	b->pooled = false;
	b->s = s;
	b->chunking = cfg->backend_chunking;
	b->tmo_connect = ms_tv(cfg->backend_connect_timeout_ms);
	b->tmo_reply = ms_tv(cfg->backend_timeout_ms);
	b->connect_ms = cfg->backend_connect_timeout_ms;
	b->reply_ms = cfg->backend_timeout_ms;
	/* The socket's write timeout (under TLS, below the filter). */
	bufferevent_set_timeouts(bufferevent_get_underlying(b->bev) ?
	    bufferevent_get_underlying(b->bev) : b->bev, NULL, &b->tmo_reply);
	set_deadline(b, 0);
	return b;
}

/* Keep a connection in step for the next session, or close it. */
void
backend_release(struct backend *b, const struct gh_config *cfg)
{
	struct server		*srv = b->srv;
	const struct gh_config	*now = gh_chain_config(srv->chain);
	uint64_t		 ms;
	bool			 surplus;

	if (cfg == NULL)
		cfg = now;
	/*
	 * Beyond pool_size, a connection is kept as surplus, briefly, while
	 * more sessions are open than connections idle: under load the
	 * next session takes it within milliseconds, where closing it now
	 * would cost a connect, banner, EHLO and XCLIENT a moment later.
	 * The surplus never exceeds what was in use a moment ago.
	 */
	surplus = (long long)srv->npool >= cfg->backend_pool_size;
	if (b->st != B_READY || b->pending || srv->draining ||
	    b->sslen != now->backend.sslen ||	/* moved on reload */
	    memcmp(&b->ss, &now->backend.ss, b->sslen) != 0 ||
	    cfg->backend_pool_size == 0 ||
	    (surplus && srv->npool >= srv->nsessions) ||
	    (b->xclient_sent && !b->caps.xclient) || b->authed ||
	    b->tls_mode != now->backend_tls) {
		/* (A connection that cannot say XCLIENT again, or that a
		   client authenticated on, cannot serve another client.) */
		backend_free(b, true);
		return;
	}
	b->s = NULL;
	b->pooled = true;
	TAILQ_INSERT_HEAD(&srv->pool, b, pool_entry);
	srv->npool++;
	/* Reading stays on: a 421 or a close is noticed (fail()). */
	ms = cfg->backend_pool_idle_ms;
	if (surplus && ms > POOL_SURPLUS_IDLE_MS)
		ms = POOL_SURPLUS_IDLE_MS;
	set_deadline(b, ms);
}

/* Close every pooled connection. */
void
backend_pool_flush(struct server *srv)
{
	struct backend	*b;

	while ((b = TAILQ_FIRST(&srv->pool)) != NULL) {
		TAILQ_REMOVE(&srv->pool, b, pool_entry);
		srv->npool--;
		b->pooled = false;
		backend_free(b, true);
	}
}

/* The capabilities the backend announced. */
const struct backend_caps *
backend_caps(const struct backend *b)
{
	return &b->caps;
}

/* Tell whether the connection can take a command now or soon. */
bool
backend_ready(const struct backend *b)
{
	return b->st != B_DEAD;
}

/* Tell whether a command is outstanding. */
bool
backend_busy(const struct backend *b)
{
	return b->st != B_READY && b->st != B_DEAD;
}

/* Send one command (see proxy.h). */
void
backend_command(struct backend *b, const struct client_ident *id,
    const char *line, size_t len)
{
	if (b->st == B_READY && !b->have_first && b->pending == NULL) {
		/* In step: plan from the session's identity as it is, and
		   with nothing to say first, send the line from where it
		   is (no copies). */
		if (id && plan_ident(b, id) == -1) {
			fail(b, "cannot identify the client to the backend "
			    "(XCLIENT/XFORWARD)");
			return;
		}
		if (b->nsteps == 0) {
			clear_steps(b);
			b->st = B_CMD;
			b->quiet = b->pending_quiet;
			b->pending_quiet = false;
			send_line(b, line, len);
			return;
		}
		id = NULL;	/* planned: start_pending() only sends */
	}
	free(b->pending);
	if ((b->pending = gh_strndup(line, len)) == NULL) {
		fail(b, "out of memory");
		return;
	}
	b->pending_len = len;
	if (id) {
		relay_ident_free(&b->first);
		relay_ident_copy(&b->first, id);
		b->have_first = true;
	}
	if (b->st == B_READY)
		start_pending(b);
	/* else: still connecting; handshake_done() sends it. */
}

/* Send an AUTH line or a SASL response: never logged, and the
   connection is never pooled again (it carries a client's login). */
void
backend_sasl(struct backend *b, const struct client_ident *id,
    const char *line, size_t len)
{
	b->authed = true;
	b->pending_quiet = true;
	backend_command(b, id, line, len);
}

/* Sink into a gh_buf. */
static int
buf_sink(void *ctx, const char *p, size_t n)
{
	return gh_buf_append(ctx, p, n);
}

/*
 * BDAT (RFC 3030): the edited header section is rendered first so that
 * the size is known, then "BDAT size LAST" and the bytes as they are —
 * length-delimited, so no dot-stuffing and no terminator to get wrong.
 * -1 when the header section cannot be rendered (DATA is used then).
 */
static int
send_bdat(struct backend *b)
{
	struct evbuffer	*out = bufferevent_get_output(b->bev);
	struct gh_buf	 hb;
	uint64_t	 body;
	char		 line[64];
	int		 n;

	gh_buf_init(&hb, 0);
	if (gh_edits_write_headers(b->msg, b->edits, b->nedits, buf_sink,
	    &hb) == -1) {
		gh_buf_free(&hb);
		return -1;
	}
	b->off = gh_message_body_offset(b->msg);
	body = gh_message_size(b->msg) - b->off;
	n = snprintf(line, sizeof(line), "BDAT %llu LAST",
	    (unsigned long long)(hb.len + body));
	queue_line(b, line, (size_t)n);	/* one write with the message */
	if (hb.len)
		evbuffer_add(out, hb.p, hb.len);
	gh_buf_free(&hb);
	b->bdat = true;
	b->headers_sent = true;
	b->st = B_SEND;
	send_more(b);
	return 0;
}

/* Send the message (see proxy.h). */
void
backend_message(struct backend *b, struct gh_message *msg,
    const struct gh_edit *edits, size_t nedits)
{
	if (b->st != B_READY) {
		fail(b, "not ready for DATA");
		return;
	}
	b->msg = msg;
	b->edits = edits;
	b->nedits = nedits;
	b->headers_sent = false;
	b->bdat = false;
	if (b->caps.chunking && b->chunking && send_bdat(b) == 0)
		return;
	b->st = B_DATA;
	send_line(b, "DATA", 4);
}
