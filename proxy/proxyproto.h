/*
 * proxyproto.h — the PROXY protocol, v1 (text) and v2 (binary), as sent
 * by HAProxy's send-proxy / send-proxy-v2: a pure, resumable parser.
 */
#ifndef GH_PROXYPROTO_H
#define GH_PROXYPROTO_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/socket.h>

#define PP_V1_MAX	107		/* the v1 spec's longest line */
#define PP_V2_MAX	(16 + 4096)	/* header plus TLVs we accept */

enum pp_status {
	PP_NEED_MORE,	/* call again with more bytes */
	PP_DONE,	/* `consumed` bytes were the header */
	PP_ERROR	/* not a valid header: close the connection */
};

struct pp_result {
	int			 version;	/* 1 or 2 */
	bool			 local;		/* LOCAL / UNKNOWN: keep the
						   socket's own addresses */
	struct sockaddr_storage	 src, dst;
	socklen_t		 srclen, dstlen;
	size_t			 consumed;
	const char		*error;		/* static text on PP_ERROR */
};

/* Parse the start of a connection's bytes (see enum pp_status). */
enum pp_status	pp_parse(const uint8_t *buf, size_t len, struct pp_result *);

#endif
