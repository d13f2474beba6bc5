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

/* ------------------------------------------------------------------ */
/*
 * The texts rules match, computed on first use and cached in the message
 * (so a message is used by one thread at a time).  They follow
 * SpamAssassin 4 ("spamassassin -L -t", normalize_charset on), see
 * filters/msgtext.c for what differs.  Each function returns 0, or -1
 * with errno: EINVAL before gh_message_end, ENOMEM.  Malformed MIME is
 * never an error: it gives what SpamAssassin would make of it.  Texts
 * are UTF-8 (or Latin-1 bytes where SpamAssassin keeps bytes), each
 * followed by a NUL not counted in its length, valid until
 * gh_message_free.
 */
struct gh_text {
	const char	*p;
	size_t		 len;
};

/*
 * "body": the Subject as the first line, then the text of the text/plain
 * and text/html parts (HTML rendered), decoded, in UTF-8, white space
 * squeezed, one paragraph per line (each line but maybe the last ends in
 * "\n"; lines over 2048 bytes split at a space).
 */
int	gh_message_body_text(struct gh_message *, const struct gh_text **lines,
	    size_t *n);

/*
 * "rawbody": the text/ * and message/ * parts, transfer-decoded (base64,
 * quoted-printable) but neither charset-converted nor rendered, in chunks
 * of 2-4 KB split at line ends where possible.
 */
int	gh_message_rawbody(struct gh_message *, const struct gh_text **chunks,
	    size_t *n);

/*
 * "full": the whole message as received, header and body, with CRLF line
 * ends as LF (as SpamAssassin sees mail from spamc or a local delivery)
 * and without an mbox "From " line at its top.
 */
int	gh_message_full(struct gh_message *, const char **p, size_t *len);

/*
 * "uri": every link found in the rendered text and in HTML tags, with
 * SpamAssassin's canonical variants, each once.
 */
int	gh_message_uris(struct gh_message *, const struct gh_text **uris,
	    size_t *n);

/*
 * A header field of a MIME part for mimeheader rules: name, raw value
 * (after the colon and white space, as received, with "\n" added) and
 * value (unfolded, trimmed, RFC 2047 decoded as for the message's own).
 */
struct gh_part_field {
	struct gh_text	 name;
	struct gh_text	 raw;
	struct gh_text	 value;
};
struct gh_part {
	const struct gh_part_field *fields;
	size_t		 n;
};

/*
 * The header fields of every MIME part, in SpamAssassin's find_parts
 * order: the message itself first (its fields as the MIME parser saw
 * them), then the parts depth first, multiparts and sub-messages too.
 */
int	gh_message_parts(struct gh_message *, const struct gh_part **parts,
	    size_t *n);

/* True if a MIME cap (depth, parts, decoded bytes) cut the texts short. */
bool	gh_message_mime_truncated(struct gh_message *);

/*
 * Header field I's value as header rules see it: its first 8192 bytes
 * (as SpamAssassin keeps), unfolded, trimmed, RFC 2047 encoded words
 * decoded (not in Received, Message-ID, Date, References, In-Reply-To,
 * MIME-Version, List-*), UTF-8.  Cached; NULL on ENOMEM or a bad index.
 * Usable as soon as the field is parsed.
 */
const char	*gh_message_header_decoded(struct gh_message *, size_t i,
		    size_t *len);

/*
 * Decode the RFC 2047 encoded words of STR (LEN bytes, e.g. a display
 * name) to UTF-8 as header values are decoded (unfolded, trimmed, 8-bit
 * bytes kept when UTF-8, else read as Windows-1252); at most OUTLEN bytes
 * go to OUT, cut at a character boundary.  Returns the length written (0
 * on ENOMEM).  ARG is unused: the signature is rules_input.decode_words.
 */
size_t	gh_message_decode_words(void *arg, const char *str, size_t len,
	    char *out, size_t outlen);

/*
 * Call CB on the body bytes (from gh_message_body_offset to the end) in
 * order, in chunks (for DKIM body hashing).  Stops when CB returns
 * non-zero and returns that; -1 with errno on a read error; else 0.
 */
int	gh_message_body_foreach(const struct gh_message *,
	    int (*cb)(void *arg, const char *p, size_t n), void *arg);

/*
 * URI recognition policy: the valid TLDs (SpamAssassin's util_rb_tld)
 * and redirector patterns (redirector_pattern, PCRE2 syntax, group 1 the
 * target).  Build one, compile it, then share it read-only between
 * messages and threads.  Without one, any TLD of letters is valid and no
 * redirector is known.
 */
struct gh_uri_policy;
struct gh_uri_policy	*gh_uri_policy_new(void);
int	gh_uri_policy_add_tlds(struct gh_uri_policy *, const char *words);
int	gh_uri_policy_add_redirector(struct gh_uri_policy *, const char *re,
	    size_t len, bool caseless, char *err, size_t errlen);
int	gh_uri_policy_compile(struct gh_uri_policy *);
void	gh_uri_policy_free(struct gh_uri_policy *);

/* Use POLICY (compiled, outliving the message) for this message's URIs. */
void	gh_message_set_uri_policy(struct gh_message *,
	    const struct gh_uri_policy *policy);

#endif /* GH_MESSAGE_H */
