/*
 * tls.c — TLS for the proxy: the OpenSSL contexts (server side for
 * STARTTLS from clients, client side for STARTTLS to the backend), their
 * reload on SIGHUP, and the client's STARTTLS command (RFC 3207).
 *
 * Owns srv->tls_server and srv->tls_client.  A context is built whole
 * from the configuration or not at all; a reload that cannot build one
 * keeps the old (sessions hold their own references through their SSL
 * objects, so swapping is safe at any time).
 *
 * Invariants: a private key readable or writable by group or others is
 * refused (as OpenSMTPD does); bytes a client pipelined after STARTTLS
 * in plaintext are discarded, never read as commands (CVE-2011-0411);
 * after the handshake the session forgets HELO/EHLO and the backend
 * connection (RFC 3207 4.2); the handshake runs under the idle timeout.
 *
 * Failures: a context that cannot be built stops the start (and fails
 * `gatehouse check`) with the file and OpenSSL's reason; a failed
 * handshake is logged (escaped) and the connection closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "filters/log.h"
#include "proxy/session_int.h"

/* OpenSSL's first queued error as text (the queue is emptied). */
static void
ssl_reason(char *buf, size_t bufsz)
{
	unsigned long	 e = ERR_get_error();

	if (e == 0)
		snprintf(buf, bufsz, "unknown error");
	else
		ERR_error_string_n(e, buf, bufsz);
	ERR_clear_error();
}

/* Read a private key, refusing one that others may read (-1, err). */
static EVP_PKEY *
read_key(const char *path, char *err, size_t errsz)
{
	struct stat	 st;
	EVP_PKEY	*pk = NULL;
	FILE		*fp;
	char		 why[256];
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		snprintf(err, errsz, "tls.key_file %s: %s", path,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & (S_IRWXG | S_IRWXO))) {
		snprintf(err, errsz, "tls.key_file %s: bad mode %04o: a "
		    "private key must be a file readable by its owner only "
		    "(chmod 600)", path, (unsigned)st.st_mode & 07777);
		close(fd);
		return NULL;
	}
	if ((fp = fdopen(fd, "r")) == NULL) {
		snprintf(err, errsz, "tls.key_file %s: %s", path,
		    strerror(errno));
		close(fd);
		return NULL;
	}
	pk = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	if (pk == NULL) {
		ssl_reason(why, sizeof(why));
		snprintf(err, errsz, "tls.key_file %s: cannot read the key: %s",
		    path, why);
	}
	return pk;
}

/* Settings both sides share: protocol floor, ciphers. */
static int
common_settings(SSL_CTX *ctx, const struct gh_config *cfg, char *err,
    size_t errsz)
{
	char	 why[256];

	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (!SSL_CTX_set_min_proto_version(ctx, cfg->tls_protocols == 1 ?
	    TLS1_3_VERSION : TLS1_2_VERSION)) {
		snprintf(err, errsz, "tls.protocols: not supported");
		return -1;
	}
	if (cfg->tls_ciphers[0] &&
	    !SSL_CTX_set_cipher_list(ctx, cfg->tls_ciphers)) {
		ssl_reason(why, sizeof(why));
		snprintf(err, errsz, "tls.ciphers '%s': %s", cfg->tls_ciphers,
		    why);
		return -1;
	}
	if (cfg->tls_ciphersuites[0] &&
	    !SSL_CTX_set_ciphersuites(ctx, cfg->tls_ciphersuites)) {
		ssl_reason(why, sizeof(why));
		snprintf(err, errsz, "tls.ciphersuites '%s': %s",
		    cfg->tls_ciphersuites, why);
		return -1;
	}
	return 0;
}

/* A new context with the settings both sides share; NULL with `err`. */
static SSL_CTX *
new_ctx(const SSL_METHOD *method, const struct gh_config *cfg, char *err,
    size_t errsz)
{
	SSL_CTX	*ctx;
	char	 why[256];

	if ((ctx = SSL_CTX_new(method)) == NULL) {
		ssl_reason(why, sizeof(why));
		snprintf(err, errsz, "TLS: %s", why);
		return NULL;
	}
	if (common_settings(ctx, cfg, err, errsz) == -1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* Build the server context for STARTTLS; *out NULL when TLS is off. */
int
tls_server_ctx(const struct gh_config *cfg, SSL_CTX **out, char *err,
    size_t errsz)
{
	SSL_CTX		*ctx;
	EVP_PKEY	*pk;
	char		 why[256];

	*out = NULL;
	if (cfg->tls_level == 0)
		return 0;
	if ((ctx = new_ctx(TLS_server_method(), cfg, err, errsz)) == NULL)
		return -1;
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	(void)SSL_CTX_set_session_id_context(ctx,
	    (const unsigned char *)"gatehouse", 9);
	if (!SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert_file)) {
		ssl_reason(why, sizeof(why));
		snprintf(err, errsz, "tls.cert_file %s: %s",
		    cfg->tls_cert_file, why);
		goto fail;
	}
	if ((pk = read_key(cfg->tls_key_file, err, errsz)) == NULL)
		goto fail;
	if (!SSL_CTX_use_PrivateKey(ctx, pk) ||
	    !SSL_CTX_check_private_key(ctx)) {
		ssl_reason(why, sizeof(why));
		snprintf(err, errsz, "tls.key_file %s does not go with "
		    "tls.cert_file %s: %s", cfg->tls_key_file,
		    cfg->tls_cert_file, why);
		EVP_PKEY_free(pk);
		goto fail;
	}
	EVP_PKEY_free(pk);
	*out = ctx;
	return 0;
fail:
	SSL_CTX_free(ctx);
	return -1;
}

/* Build the client context for STARTTLS to the backend (or NULL). */
int
tls_client_ctx(const struct gh_config *cfg, SSL_CTX **out, char *err,
    size_t errsz)
{
	SSL_CTX		*ctx;
	const char	*ca = cfg->backend_tls_ca_file;
	char		 why[256];

	*out = NULL;
	if (cfg->backend_tls == 0)
		return 0;
	if ((ctx = new_ctx(TLS_client_method(), cfg, err, errsz)) == NULL)
		return -1;
	if (cfg->backend_tls_verify) {
		if (ca[0] ? !SSL_CTX_load_verify_locations(ctx, ca, NULL) :
		    !SSL_CTX_set_default_verify_paths(ctx)) {
			ssl_reason(why, sizeof(why));
			snprintf(err, errsz, "backend.tls_ca_file %s: %s",
			    ca[0] ? ca : "(system)", why);
			goto fail;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	*out = ctx;
	return 0;
fail:
	SSL_CTX_free(ctx);
	return -1;
}

/* `gatehouse check`: build both contexts; -1 with the reason. */
int
tls_check(const struct gh_config *cfg, char *err, size_t errsz)
{
	SSL_CTX	*a, *b;

	if (tls_server_ctx(cfg, &a, err, errsz) == -1)
		return -1;
	SSL_CTX_free(a);
	if (tls_client_ctx(cfg, &b, err, errsz) == -1)
		return -1;
	SSL_CTX_free(b);
	return 0;
}

/* Start or SIGHUP: new contexts from `cfg`; on error keep the old ones
   (at start there are none: -1 stops the daemon). */
int
tls_load(struct server *srv, const struct gh_config *cfg)
{
	SSL_CTX	*sctx = NULL, *cctx = NULL;
	char	 err[1024];

	if (tls_server_ctx(cfg, &sctx, err, sizeof(err)) == -1 ||
	    tls_client_ctx(cfg, &cctx, err, sizeof(err)) == -1) {
		SSL_CTX_free(sctx);
		log_err("%s%s", err, srv->tls_loaded ? "; the old TLS "
		    "certificate and settings stay" : "");
		return -1;
	}
	SSL_CTX_free(srv->tls_server);
	SSL_CTX_free(srv->tls_client);
	srv->tls_server = sctx;
	srv->tls_client = cctx;
	srv->tls_loaded = true;
	if (sctx)
		log_info("TLS: certificate %s loaded", cfg->tls_cert_file);
	return 0;
}

/* At exit. */
void
tls_unload(struct server *srv)
{
	SSL_CTX_free(srv->tls_server);
	SSL_CTX_free(srv->tls_client);
	srv->tls_server = srv->tls_client = NULL;
}

/* Tell whether STARTTLS goes into our EHLO reply. */
bool
tls_offer(const struct session *s)
{
	return s->srv->tls_server != NULL && !s->tls;
}

/* STARTTLS (RFC 3207). */
void
tls_cmd_starttls(struct session *s, const struct smtp_cmd *c)
{
	struct evbuffer		*in = bufferevent_get_input(s->bev);
	struct bufferevent	*bev;
	SSL			*ssl;
	size_t			 junk;

	if (c->args.len) {
		session__error_reply(s, "501 5.5.4 Syntax: STARTTLS");
		return;
	}
	if (s->tls) {
		session__error_reply(s, "503 5.5.1 Error: TLS already "
		    "active");
		return;
	}
	if (s->srv->tls_server == NULL) {
		session__error_reply(s, "502 5.5.1 Error: command not "
		    "implemented");
		return;
	}
	if (s->authed) {
		session__error_reply(s, "503 5.5.1 Error: already "
		    "authenticated");
		return;
	}
	if ((ssl = SSL_new(s->srv->tls_server)) == NULL) {
		ERR_clear_error();
		session__reply(s, "454 4.7.0 TLS not available due to local "
		    "problem");
		return;
	}
	session__reply(s, "220 2.0.0 Ready to start TLS");
	session__flush(s);
	/* CVE-2011-0411: what came after STARTTLS in plaintext is not the
	   client's word once TLS is up.  Drop it before the switch. */
	if ((junk = evbuffer_get_length(in)) > 0) {
		gh_log_session(LOG_NOTICE, s->id, "client=%s pipelined %zu "
		    "byte(s) after STARTTLS: discarded", s->addr, junk);
		evbuffer_drain(in, junk);
	}
	/* From here on the filter's timeouts are the session's: the
	   socket's own would fire while the session waits on a backend. */
	bufferevent_set_timeouts(s->bev, NULL, NULL);
	proxy_reader_stop(&s->rd);	/* the TLS filter reads now */
	bev = bufferevent_openssl_filter_new(s->srv->base, s->bev, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		gh_log_session(LOG_WARNING, s->id, "client=%s cannot start "
		    "TLS", s->addr);
		s->hard = true;
		session__close(s);
		return;
	}
	s->bev = bev;
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	bufferevent_setcb(bev, session__read_cb, session__write_cb,
	    session__event_cb, s);
	bufferevent_setwatermark(bev, EV_READ, 0, 1024 * 1024);
	session__write_timeout(s);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	session__set_wait(s, W_TLS);	/* under the idle timeout */
}

/* The handshake is done: note the facts, start over (RFC 3207 4.2). */
static void
handshake_done(struct session *s)
{
	SSL		*ssl = bufferevent_openssl_get_ssl(s->bev);
	const char	*ver = SSL_get_version(ssl);
	const char	*cipher = SSL_get_cipher_name(ssl);
	int		 bits = SSL_get_cipher_bits(ssl, NULL);

	s->tls = true;
	gh_log_session(LOG_INFO, s->id, "starttls client=%s version=%s "
	    "cipher=%s bits=%d", s->addr, ver, cipher, bits);
	if (gh_txn_set_tls(s->txn, ver, cipher) == -1) {
		session__reply(s, "421 4.3.0 %s Out of memory",
		    s->txn->cfg->hostname);
		session__close(s);
	}
	/* Forget what the client said in plaintext: its HELO, a trusted
	   front's XFORWARD, and the backend session they went to. */
	session__drop_backend(s);
	(void)gh_txn_set_helo(s->txn, NULL);
	relay_ident_free(&s->ident);
	s->xforwarded = false;
	s->esmtp = false;
	session__enter_state(s, S_HELO);
}

/* An event on the session's bufferevent (see session_int.h). */
bool
tls_event(struct session *s, short what)
{
	unsigned long	 e;
	char		 why[256], esc[300];

	if (s->wait != W_TLS) {
		if (s->tls && (what & BEV_EVENT_ERROR) &&
		    (e = bufferevent_get_openssl_error(s->bev)) != 0) {
			ERR_error_string_n(e, why, sizeof(why));
			gh_printable(esc, sizeof(esc), why, strlen(why), 256);
			gh_log_session(LOG_INFO, s->id, "TLS error client=%s: "
			    "%s", s->addr, esc);
		}
		return false;
	}
	session__set_wait(s, W_NONE);
	if (what & BEV_EVENT_CONNECTED) {
		handshake_done(s);
		session__kick(s);
		return true;
	}
	if (what & BEV_EVENT_TIMEOUT)
		snprintf(why, sizeof(why), "timeout");
	else if ((e = bufferevent_get_openssl_error(s->bev)) != 0)
		ERR_error_string_n(e, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "%s", (what & BEV_EVENT_EOF) ?
		    "connection closed" : "connection error");
	while (bufferevent_get_openssl_error(s->bev) != 0)
		;
	gh_printable(esc, sizeof(esc), why, strlen(why), 256);
	gh_log_session(LOG_INFO, s->id, "TLS handshake failed client=%s: %s",
	    s->addr, esc);
	s->hard = true;
	session__close(s);
	session__kick(s);
	return true;
}

/* The socket took bytes: once all are out, wake the write callback. */
static void
drained(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct session	*s = arg;

	if (info->n_deleted && evbuffer_get_length(buf) == 0)
		bufferevent_trigger(s->bev, EV_WRITE,
		    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

/* See session_int.h.  The OpenSSL filter empties its own output into
   the socket's bufferevent at once, so "written" means that one's. */
bool
tls_pending(struct session *s)
{
	struct bufferevent	*under;
	struct evbuffer		*out;

	if (s->bev == NULL || (under = bufferevent_get_underlying(s->bev)) ==
	    NULL)
		return false;
	out = bufferevent_get_output(under);
	if (evbuffer_get_length(out) == 0)
		return false;
	if (s->tls_drain == NULL)
		s->tls_drain = evbuffer_add_cb(out, drained, s);
	return s->tls_drain != NULL;
}

/* Before the bufferevents go: no callback may find the session. */
void
tls_free(struct session *s)
{
	struct bufferevent	*under;

	if (s->tls_drain && s->bev &&
	    (under = bufferevent_get_underlying(s->bev)) != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_output(under),
		    s->tls_drain);
	s->tls_drain = NULL;
}
