/*
 * received.h — Received header fields parsed into relays, and the
 * trust path over them, as SpamAssassin 4.0.1 builds its
 * X-Spam-Relays-* pseudo-headers (Message/Metadata/Received.pm).
 */
#ifndef GH_RECEIVED_H
#define GH_RECEIVED_H

#include <stdbool.h>
#include <stddef.h>

/* Caps on untrusted input: longer fields are not parsed (unparseable). */
#define GH_RCVD_LINE_MAX	8192	/* bytes of one field, unfolded */
#define GH_RCVD_MAX		100	/* Received fields looked at */

/* One handover, as SpamAssassin's relay hash (strings never NULL). */
struct gh_relay {
	char	*ip, *rdns, *helo, *by, *ident, *envfrom, *id, *auth;
	bool	 has_envfrom;		/* envfrom defined (may be "") */
	bool	 ip_private;
	bool	 trusted, internal;
	char	*as_string;		/* "[ ip=... msa=0 ]" */
};

enum gh_relays_str {
	GH_RELAYS_TRUSTED, GH_RELAYS_UNTRUSTED, GH_RELAYS_INTERNAL,
	GH_RELAYS_EXTERNAL, GH_RELAYS_NSTR
};

struct gh_relays {
	struct gh_relay	*v;		/* relays kept, topmost first */
	size_t		 n;
	char		*str[GH_RELAYS_NSTR];	/* never NULL after build */
	/* Index of the last trusted / internal Received field, or -1. */
	int		 last_trusted, last_internal;
};

/* A text with its length. */
struct gh_rcvd_text {
	const char	*p;
	size_t		 len;
};

/* Compile the Received expressions (once per process; later calls
 * are free): at set-up, so that no message pays for it.  -1 if the
 * table cannot be compiled (parses then fail as they would anyway). */
int	 gh_received_init(void);

/*
 * Parse one Received value (SpamAssassin's parse_received_line) into
 * R: 1 parsed, 0 skipped on purpose (local handovers, fetchers...), -1
 * unparseable, -2 out of memory.  R's as_string has intl=0.
 */
int	 gh_received_parse_line(const char *line, size_t len,
	    struct gh_relay *r);

/*
 * Build the relays of a message from its Received values (topmost
 * first) and the values of its originating_ip_headers fields (X-
 * Originating-IP..., the first address found in each becomes a
 * synthetic relay at the end), with trust inferred as SpamAssassin
 * does without trusted_networks: a relay is trusted (and internal)
 * while every relay up to it has a private address or says it
 * authenticated.  -1 on ENOMEM (OUT is then empty but freeable).
 */
int	 gh_relays_build(const struct gh_rcvd_text *rcvd, size_t n,
	    const struct gh_rcvd_text *orig, size_t norig,
	    struct gh_relays *out);
void	 gh_relays_free(struct gh_relays *);

/*
 * The same for a parsed message: TOP (a Received value the next MTA
 * will prepend, see gh_received_for_client; may be NULL) above its
 * Received fields' decoded values, and the last value of each field
 * named in ORIG (originating_ip_headers, NULL-terminated; may be
 * NULL).  With TOP, relay and Received indices count TOP as the 0th
 * field.  -1 on ENOMEM.
 */
struct gh_message;
int	 gh_relays_message(struct gh_message *m, const char *top,
	    const char *const *orig, struct gh_relays *out);

/*
 * The Received value (without "Received: ") Postfix's smtpd writes
 * for envelope E's client when it takes the message after us, host
 * name BY (myhostname): "from HELO (NAME [ADDR]) by BY (Postfix) with
 * ESMTP[S][A] [for <RCPT>]; DATE" with no queue id, HELO's first word
 * with '?' for unprintable bytes (NAME without HELO), NAME "unknown"
 * without a verified name, ADDR "IPv6:..." for IPv6.  NULL when E has
 * no client address or on ENOMEM.
 */
struct gh_envelope;
char	*gh_received_for_client(const struct gh_envelope *e,
	    const char *by);
void	 gh_relay_clear(struct gh_relay *);

/*
 * The envelope sender the relays tell (get_envelope_from's first
 * guess: the last untrusted relay, else the first trusted one), or
 * NULL when it does not say or says something without '@'.
 */
const char *gh_relays_envfrom(const struct gh_relays *);

/*
 * SpamAssassin's get_envelope_from() without envelope_sender_header:
 * the relays' guess, else X-Envelope-From, Envelope-Sender or
 * Return-Path when no Received field comes before it (X-Sender with a
 * fetchmail marker: nothing).  A malloc'd address, or NULL when there
 * is none (*ERR set to -1 on ENOMEM).  Addresses are taken as
 * SpamAssassin's :first:addr does for the simple forms ("<a@b>",
 * "a@b (comment)"); "<>" gives no address.
 */
char	*gh_envelope_from_guess(struct gh_message *m,
	    const struct gh_relays *rs, int *err);

#endif
