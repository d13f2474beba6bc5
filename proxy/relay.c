/*
 * relay.c — what crosses from the client side to the backend: the
 * client's identity (the socket's peer, or a trusted front's XFORWARD)
 * and how it is told to the backend (XCLIENT/XFORWARD attributes), and
 * which ESMTP parameters of MAIL and RCPT may be passed on.
 *
 * Invariants: every value put on a backend command line is xtext-encoded
 * or was checked by smtp_parse.c (printable, no space, no CR/LF); a
 * parameter the backend did not offer is never passed.
 *
 * Failures are return values; nothing here logs or touches a socket.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proxy/proxy.h"
#include "proxy/smtp_parse.h"

/* Copy an identity (the strings). */
void
relay_ident_copy(struct client_ident *d, const struct client_ident *s)
{
#define C(f)	d->f = s->f ? strdup(s->f) : NULL
	C(name); C(addr); C(port); C(proto); C(helo); C(ident); C(source);
#undef C
}

/* Free an identity's strings. */
void
relay_ident_free(struct client_ident *d)
{
	free(d->name); free(d->addr); free(d->port); free(d->proto);
	free(d->helo); free(d->ident); free(d->source);
	memset(d, 0, sizeof(*d));
}

/* The identity of the client, with its name and HELO. */
void
relay_ident_peer(struct client_ident *id, const char *name,
    const char *addr, const char *port, bool esmtp, const char *helo)
{
	relay_ident_free(id);
	/* A confirmed name, [UNAVAILABLE] or [TEMPUNAVAIL] (XCLIENT_README):
	   Postfix then knows a lookup failure for a temporary one. */
	id->name = strdup(name ? name : "[UNAVAILABLE]");
	id->addr = strdup(addr);
	id->port = strdup(port);
	id->proto = strdup(esmtp ? "ESMTP" : "SMTP");
	id->helo = helo ? strdup(helo) : NULL;
}

/* Set an identity field from an xtext value; [UNAVAILABLE] is NULL. */
static int
xf_set(char **f, const char *v, size_t n)
{
	char	 buf[512];

	if (smtp_xtext_decode(v, n, buf, sizeof(buf)) == -1)
		return -1;
	free(*f);
	*f = NULL;
	if (strcmp(buf, "[UNAVAILABLE]") != 0 &&
	    strcmp(buf, "[TEMPUNAVAIL]") != 0 && (*f = strdup(buf)) == NULL)
		return -1;
	return 0;
}

/* Apply "NAME=v ADDR=v ..." (XFORWARD_README); -1 on a bad attribute. */
int
relay_xforward(struct client_ident *id, const char *args, size_t len)
{
	const char	*p = args, *end = args + len, *w, *eq;
	char		**f;

	while (p < end) {
		while (p < end && *p == ' ')
			p++;
		for (w = p; w < end && *w != ' '; w++)
			;
		if (w == p)
			break;
		if ((eq = memchr(p, '=', (size_t)(w - p))) == NULL)
			return -1;
#define K(n)	gh_strcaseeq(p, (size_t)(eq - p), n)
		f = K("NAME") ? &id->name : K("ADDR") ? &id->addr :
		    K("PORT") ? &id->port : K("PROTO") ? &id->proto :
		    K("HELO") ? &id->helo : K("IDENT") ? &id->ident :
		    K("SOURCE") ? &id->source : NULL;
#undef K
		if (f == NULL || xf_set(f, eq + 1, (size_t)(w - eq - 1)) == -1)
			return -1;
		p = w;
	}
	/* Postfix writes IPv6 addresses as IPV6:... */
	if (id->addr && strncasecmp(id->addr, "IPV6:", 5) == 0)
		memmove(id->addr, id->addr + 5, strlen(id->addr + 5) + 1);
	return 0;
}

/* Append " KEY=xtext(value)" when the attribute is wanted. */
static int
attr(struct gh_buf *out, unsigned attrs, unsigned bit, const char *key,
    const char *value)
{
	char	 x[1024];

	if ((attrs & bit) == 0)
		return 0;
	if (value == NULL || *value == '\0')
		value = "[UNAVAILABLE]";
	if (smtp_xtext_encode(value, strlen(value), x, sizeof(x)) == -1)
		return -1;
	return gh_buf_printf(out, " %s=%s", key, x);
}

/* Format the XCLIENT/XFORWARD attributes of an identity. */
int
relay_ident_attrs(const struct client_ident *id, unsigned attrs,
    bool xclient, struct gh_buf *out)
{
	char	 addr[128];
	int	 r = 0;

	addr[0] = '\0';
	if (id->addr) {
		/* Postfix wants IPv6 addresses as IPV6:... (XCLIENT_README). */
		snprintf(addr, sizeof(addr), "%s%s",
		    strchr(id->addr, ':') ? "IPV6:" : "", id->addr);
	}
	r |= attr(out, attrs, XA_NAME, "NAME", id->name);
	r |= attr(out, attrs, XA_ADDR, "ADDR", addr);
	r |= attr(out, attrs, XA_PORT, "PORT", id->port);
	r |= attr(out, attrs, XA_PROTO, "PROTO", id->proto);
	r |= attr(out, attrs, XA_HELO, "HELO", id->helo);
	if (!xclient) {
		if (id->ident)
			r |= attr(out, attrs, XA_IDENT, "IDENT", id->ident);
		if (id->source)
			r |= attr(out, attrs, XA_SOURCE, "SOURCE", id->source);
	}
	return r ? -1 : 0;
}

/*
 * Append to `line` the parameters of a MAIL (`mail`) or RCPT path that
 * the backend may see, by what it offered (`c`).  0; -1 with `bad` set
 * to a parameter that cannot be passed (555); -2 out of memory.
 */
int
relay_params(const struct smtp_path *p, bool mail,
    const struct backend_caps *c, struct gh_buf *line, struct gh_str *bad)
{
	size_t	 i;

	for (i = 0; i < p->nparams; i++) {
		const struct smtp_param *pa = &p->params[i];
		const struct gh_str *k = &pa->key, *v = &pa->value;
		bool pass = false, ok = true;

		if (mail && gh_strcaseeq(k->p, k->len, "SIZE"))
			pass = c->size != 0 || !c->known;
		else if (mail && gh_strcaseeq(k->p, k->len, "BODY")) {
			ok = v->p && (gh_strcaseeq(v->p, v->len, "7BIT") ||
			    gh_strcaseeq(v->p, v->len, "8BITMIME"));
			pass = ok && (c->eightbitmime || !c->known);
		} else if (mail && gh_strcaseeq(k->p, k->len, "SMTPUTF8"))
			pass = ok = c->smtputf8;
		else if (mail && (gh_strcaseeq(k->p, k->len, "RET") ||
		    gh_strcaseeq(k->p, k->len, "ENVID")))
			pass = ok = c->dsn;
		else if (!mail && (gh_strcaseeq(k->p, k->len, "NOTIFY") ||
		    gh_strcaseeq(k->p, k->len, "ORCPT")))
			pass = ok = c->dsn;
		else if (mail && gh_strcaseeq(k->p, k->len, "AUTH"))
			pass = false;	/* we offer no AUTH yet */
		else
			ok = false;
		if (!ok) {
			*bad = *k;
			return -1;
		}
		if (pass && (gh_buf_puts(line, " ") == -1 ||
		    gh_buf_append(line, k->p, k->len) == -1 ||
		    (v->p && (gh_buf_puts(line, "=") == -1 ||
		    gh_buf_append(line, v->p, v->len) == -1))))
			return -2;
	}
	return 0;
}

/* The text form of a peer address (IPv4-mapped IPv6 as IPv4) and port. */
void
relay_addr_text(const struct sockaddr *sa, char *addr, size_t asz,
    char *port, size_t psz)
{
	struct sockaddr_in	 sin;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
	socklen_t		 len = sizeof(struct sockaddr_in6);

	if (sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = s6->sin6_port;
		memcpy(&sin.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
		sa = (struct sockaddr *)&sin;
	}
	if (sa->sa_family == AF_INET)
		len = sizeof(struct sockaddr_in);
	/* The common cases without getnameinfo(3) (a per-connection cost);
	   a scoped IPv6 address keeps its %zone through it. */
	if (sa->sa_family == AF_INET &&
	    inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
	    addr, (socklen_t)asz) != NULL) {
		snprintf(port, psz, "%u",
		    ntohs(((const struct sockaddr_in *)sa)->sin_port));
		return;
	}
	if (sa->sa_family == AF_INET6 && s6->sin6_scope_id == 0 &&
	    inet_ntop(AF_INET6, &s6->sin6_addr, addr, (socklen_t)asz) !=
	    NULL) {
		snprintf(port, psz, "%u", ntohs(s6->sin6_port));
		return;
	}
	if (getnameinfo(sa, len, addr, asz, port, psz,
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(addr, asz, "unknown");
		snprintf(port, psz, "0");
	}
}
