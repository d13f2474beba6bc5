/*
 * message_int.h: the message's insides, shared by message.c and the
 * modules that compute derived views of it (mime.c, the texts for rules).
 * Not for use outside filters/message*.c, mime.c and their helpers.
 */
#ifndef GH_MESSAGE_INT_H
#define GH_MESSAGE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "message.h"

struct gh_spool;
struct gh_derived;
struct gh_uri_policy;

/* A header field and where its value starts in hbuf. */
struct gh_hdr {
	struct gh_header h;
	size_t		 raw_off;
};

struct gh_message {
	struct gh_msg_limits	 limits;
	struct gh_spool		*spool;
	int			 err;		/* sticky errno */
	bool			 ended;
	bool			 headers_done;
	uint64_t		 body_offset;

	char			*hbuf;		/* header section bytes */
	size_t			 hlen, hcap;
	size_t			 line_start;	/* first byte of partial line */
	size_t			 open_start;	/* field being collected */
	bool			 open_malformed;

	struct gh_hdr		*hdr;
	size_t			 nhdr, hdrcap;

	struct gh_derived	*derived;	/* computed on first use */
	const struct gh_uri_policy *uri_policy;
	char			**hdec;		/* decoded header values */
	size_t			*hdec_len;
	size_t			 hdec_n;
};

/* Free what was computed from the message (MIME tree, texts). */
void	gh_message__free_derived(struct gh_message *);

#endif /* GH_MESSAGE_INT_H */
