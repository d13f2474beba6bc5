/*
 * message.h: one message being received, or received: its bytes (in a
 * spool), its header fields (parsed as the bytes arrive), and, computed on
 * first use, its MIME structure and the texts the rules match.
 *
 * No sockets, no event loop: the proxy and the milter feed bytes in.
 */
#ifndef GH_MESSAGE_H
#define GH_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Limits.  A zero field takes the default in brackets.
 *   mem_max		bytes held in memory before spooling to a file [1 MiB]
 *   tmpdir		directory of the spool file [NULL: $TMPDIR or /tmp]
 *   max_size		whole message, bytes (EFBIG past it) [64 MiB]
 *   max_header_bytes	header section, bytes (EMSGSIZE past it) [256 KiB]
 *   max_headers	header fields (E2BIG past it) [1000]
 *   mime_max_depth	MIME nesting [20]
 *   mime_max_parts	MIME parts [1000]
 *   mime_max_decoded	decoded bytes, all parts together [32 MiB]
 */
struct gh_msg_limits {
	size_t		 mem_max;
	const char	*tmpdir;
	uint64_t	 max_size;
	size_t		 max_header_bytes;
	unsigned	 max_headers;
	unsigned	 mime_max_depth, mime_max_parts;
	size_t		 mime_max_decoded;
};

/*
 * One header field, as it is in the message.  All pointers point into
 * memory owned by the message.
 *
 *   name, name_len	the field name: the bytes before the first colon,
 *			trailing SP/HT removed (obsolete "Name : value").
 *   raw, raw_len	the bytes after the colon up to the end of the last
 *			line, folding CRLFs kept, final CRLF not included.
 *   offset		of the field's first byte in the message.
 *   len		whole field including its final CRLF (or LF).
 *
 * A malformed line (no colon at all, or an mbox "From " separator as the
 * first line, or continuation lines before any field) is kept as an entry
 * of its own with name_len == 0 (name points at the line, an empty name):
 * raw then covers the whole line with its continuation lines, without the
 * final CRLF.  Such entries are never found by gh_message_find; they count
 * against max_headers like any other.  Parsing goes on after them.
 *
 * The header section ends at the first empty line (RFC 5322 section 2.1),
 * whatever comes before it; a bare LF is accepted as a line end.
 */
struct gh_header {
	const char	*name;
	size_t		 name_len;
	const char	*raw;
	size_t		 raw_len;
	uint64_t	 offset;
	size_t		 len;
};

struct gh_message;

/* A new empty message with LIMITS (NULL: all defaults); NULL on ENOMEM. */
struct gh_message	*gh_message_new(const struct gh_msg_limits *limits);

/*
 * Feed LEN more bytes of the message (canonical CRLF, any chunking).
 * Header fields are parsed as complete fields arrive.  0, or -1 with
 * errno: EFBIG (max_size), EMSGSIZE (max_header_bytes), E2BIG (max_headers),
 * EINVAL (after gh_message_end), or the spool's errno (ENOSPC, ENOMEM, ...).
 * Errors are sticky: once -1, every later feed fails with the same errno,
 * and gh_message_error tells it.
 */
int	 gh_message_feed(struct gh_message *, const char *data, size_t len);

/*
 * No more bytes.  A message without an empty line is all headers (an
 * unterminated last line is taken as a line), with an empty body.
 * 0, or -1 with the sticky errno.
 */
int	 gh_message_end(struct gh_message *);

/* The sticky errno of a failed feed, or 0. */
int	 gh_message_error(const struct gh_message *);

/* True once the empty line ending the header section was seen (or end). */
bool	 gh_message_headers_done(const struct gh_message *);

/*
 * Header fields parsed so far, in message order.  The pointers stay valid
 * until the next feed while headers are being parsed, and until
 * gh_message_free once gh_message_headers_done.
 */
size_t			 gh_message_nheaders(const struct gh_message *);
const struct gh_header	*gh_message_header(const struct gh_message *,
			    size_t i);

/* The NTH (from 0) field named NAME, case-insensitively, or NULL. */
const struct gh_header	*gh_message_find(const struct gh_message *,
			    const char *name, unsigned nth);

/* Number of fields named NAME. */
size_t	 gh_message_count(const struct gh_message *, const char *name);

/*
 * The value with folding removed (every CR and LF dropped, the white space
 * after them kept, RFC 5322 section 2.2.3) and leading white space
 * trimmed; malloc'd, NUL-terminated, length in *LEN (may be NULL).
 * NULL on ENOMEM.
 */
char	*gh_header_unfold(const struct gh_header *, size_t *len);

/*
 * The header section as received, including the empty line when there is
 * one: gh_message_body_offset bytes.  Valid until gh_message_free.
 */
const char	*gh_message_header_bytes(const struct gh_message *,
		    size_t *len);

/* Offset of the body: just past the empty line, or the size if none. */
uint64_t gh_message_body_offset(const struct gh_message *);

/* Bytes fed so far. */
uint64_t gh_message_size(const struct gh_message *);

/* Read the message (headers and body) like pread(2). */
ssize_t	 gh_message_pread(const struct gh_message *, void *buf, size_t n,
	    uint64_t off);

/* The spool holding the bytes (for front ends that relay them). */
const struct gh_spool	*gh_message_spool(const struct gh_message *);

/* Free the message and everything computed from it; NULL is a no-op. */
void	 gh_message_free(struct gh_message *);

#endif /* GH_MESSAGE_H */
