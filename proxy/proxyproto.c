/*
 * proxyproto.c — PROXY protocol v1 and v2 parser (HAProxy's
 * proxy-protocol.txt).
 *
 * Pure: bytes in, a result out, no sockets, so the listener and a fuzz
 * target call the same code.  Invariants: never reads past `len`; a v1
 * line longer than 107 bytes or a v2 block longer than PP_V2_MAX is an
 * error, whatever follows; "need more" is only returned while the bytes
 * seen so far can still begin a valid header.
 */
#include "proxy/proxyproto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t v2sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* Fail with a static message. */
static enum pp_status
error(struct pp_result *r, const char *msg)
{
	r->error = msg;
	return PP_ERROR;
}

/* Parse a decimal port with no sign, no leading zero, 0..65535. */
static int
parse_port(const char *s, size_t n, uint16_t *port)
{
	unsigned long	 v = 0;
	size_t		 i;

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* Fill a sockaddr from a textual address of `family` and a port. */
static int
make_addr(int family, const char *a, size_t alen, uint16_t port,
    struct sockaddr_storage *ss, socklen_t *sslen)
{
	char	 buf[INET6_ADDRSTRLEN];

	if (alen == 0 || alen >= sizeof(buf))
		return -1;
	memcpy(buf, a, alen);
	buf[alen] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, buf, &sin->sin_addr) != 1)
			return -1;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*sslen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*sslen = sizeof(*sin6);
	}
	return 0;
}

/* "PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222\r\n" or "PROXY UNKNOWN...\r\n". */
static enum pp_status
parse_v1(const uint8_t *buf, size_t len, struct pp_result *r)
{
	const char	*p = (const char *)buf, *f[5];
	size_t		 n, fl[5], i, nf = 0, pos;
	uint16_t	 sport, dport;
	int		 family;
	const uint8_t	*cr;

	r->version = 1;
	n = len < PP_V1_MAX ? len : PP_V1_MAX;
	if ((cr = memchr(buf, '\r', n)) == NULL) {
		if (memchr(buf, '\n', n) != NULL)
			return error(r, "bare LF in PROXY v1 header");
		return len >= PP_V1_MAX ? error(r, "PROXY v1 line too long") :
		    PP_NEED_MORE;
	}
	n = (size_t)(cr - buf);
	if (n + 1 >= len)
		return PP_NEED_MORE;
	if (buf[n + 1] != '\n')
		return error(r, "PROXY v1 line not ended by CRLF");
	r->consumed = n + 2;
	if (n < 6 || memcmp(p, "PROXY ", 6) != 0)
		return error(r, "not a PROXY v1 header");
	if (n >= 13 && memcmp(p + 6, "UNKNOWN", 7) == 0 &&
	    (n == 13 || p[13] == ' ')) {
		r->local = true;
		return PP_DONE;
	}
	/* Exactly five non-empty fields separated by single spaces. */
	for (pos = 6, i = 6; nf < 5; pos = i + 1) {
		f[nf] = p + pos;
		for (i = pos; i < n && p[i] != ' '; i++)
			if ((unsigned char)p[i] < 0x21 ||
			    (unsigned char)p[i] > 0x7e)
				return error(r, "bad byte in PROXY v1 header");
		fl[nf] = i - pos;
		if (fl[nf++] == 0 || i == n)
			break;
	}
	if (nf != 5 || i != n || fl[4] == 0)
		return error(r, "PROXY v1 header needs 5 fields");
	if (fl[0] == 4 && memcmp(f[0], "TCP4", 4) == 0)
		family = AF_INET;
	else if (fl[0] == 4 && memcmp(f[0], "TCP6", 4) == 0)
		family = AF_INET6;
	else
		return error(r, "PROXY v1 protocol not TCP4/TCP6/UNKNOWN");
	if (parse_port(f[3], fl[3], &sport) == -1 ||
	    parse_port(f[4], fl[4], &dport) == -1)
		return error(r, "bad port in PROXY v1 header");
	if (make_addr(family, f[1], fl[1], sport, &r->src, &r->srclen) ==
	    -1 || make_addr(family, f[2], fl[2], dport, &r->dst,
	    &r->dstlen) == -1)
		return error(r, "bad address in PROXY v1 header");
	return PP_DONE;
}

/* The binary header: signature, ver/cmd, fam/proto, length, addresses. */
static enum pp_status
parse_v2(const uint8_t *buf, size_t len, struct pp_result *r)
{
	size_t		 blen;
	uint8_t		 cmd, fam;

	r->version = 2;
	if (len < 16)
		return PP_NEED_MORE;
	if ((buf[12] & 0xf0) != 0x20)
		return error(r, "PROXY v2 version is not 2");
	cmd = buf[12] & 0x0f;
	fam = buf[13];
	blen = ((size_t)buf[14] << 8) | buf[15];
	if (16 + blen > PP_V2_MAX)
		return error(r, "PROXY v2 header too long");
	if (len < 16 + blen)
		return PP_NEED_MORE;
	r->consumed = 16 + blen;
	if (cmd == 0x0) {		/* LOCAL: health check */
		r->local = true;
		return PP_DONE;
	}
	if (cmd != 0x1)
		return error(r, "PROXY v2 command unknown");
	if (fam == 0x11) {		/* TCP over IPv4 */
		struct sockaddr_in *s = (struct sockaddr_in *)&r->src;
		struct sockaddr_in *d = (struct sockaddr_in *)&r->dst;

		if (blen < 12)
			return error(r, "PROXY v2 IPv4 block too short");
		memset(&r->src, 0, sizeof(r->src));
		memset(&r->dst, 0, sizeof(r->dst));
		s->sin_family = d->sin_family = AF_INET;
		memcpy(&s->sin_addr, buf + 16, 4);
		memcpy(&d->sin_addr, buf + 20, 4);
		memcpy(&s->sin_port, buf + 24, 2);
		memcpy(&d->sin_port, buf + 26, 2);
		r->srclen = r->dstlen = sizeof(struct sockaddr_in);
	} else if (fam == 0x21) {	/* TCP over IPv6 */
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&r->src;
		struct sockaddr_in6 *d = (struct sockaddr_in6 *)&r->dst;

		if (blen < 36)
			return error(r, "PROXY v2 IPv6 block too short");
		memset(&r->src, 0, sizeof(r->src));
		memset(&r->dst, 0, sizeof(r->dst));
		s->sin6_family = d->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, buf + 16, 16);
		memcpy(&d->sin6_addr, buf + 32, 16);
		memcpy(&s->sin6_port, buf + 48, 2);
		memcpy(&d->sin6_port, buf + 50, 2);
		r->srclen = r->dstlen = sizeof(struct sockaddr_in6);
	} else if ((fam & 0xf0) == 0x00) {
		r->local = true;	/* UNSPEC: use the real endpoints */
	} else
		return error(r, "PROXY v2 family is not TCP over IPv4/IPv6");
	return PP_DONE;
}

/* Parse a PROXY header at the start of `buf`. */
enum pp_status
pp_parse(const uint8_t *buf, size_t len, struct pp_result *r)
{
	size_t	 n;

	memset(r, 0, sizeof(*r));
	n = len < sizeof(v2sig) ? len : sizeof(v2sig);
	if (memcmp(buf, v2sig, n) == 0) {
		if (len < sizeof(v2sig))
			return PP_NEED_MORE;
		return parse_v2(buf, len, r);
	}
	n = len < 6 ? len : 6;
	if (memcmp(buf, "PROXY ", n) == 0)
		return n < 6 ? PP_NEED_MORE : parse_v1(buf, len, r);
	return error(r, "no PROXY protocol header");
}
