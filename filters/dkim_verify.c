/*
 * dkim_verify.c — one message through libopendkim, every signature
 * judged on its own (RFC 6376 4.2), then made stricter where RFC 8301
 * and the attacks on DKIM demand.
 *
 * Owns: the process-wide DKIM_LIB of one configuration (shared by every
 * worker thread, as libopendkim allows), its DNS hooks on the shared
 * resolver (filters/dns.c), the feeding of a message — header field by
 * header field, then the body in 64 KiB chunks read from the spool (no
 * second copy of the body) — and the mapping of libopendkim's per-
 * signature state to RFC 8601 results with a reason.
 *
 * What libopendkim decides: signature and key syntax, canonicalization,
 * hashes, RSA and ed25519 verification, i= within d= (DOMAIN), From in
 * h= (its required-headers list), key h=/s=/t=s, revoked keys, l=
 * beyond the body.  What this file adds on top:
 *   - rsa-sha1 and RSA keys under dkim.min_key_bits never pass
 *     (RFC 8301 3.1, 3.2): result "policy";
 *   - a key whose k= does not match the signature's algorithm is a
 *     permerror (libopendkim would verify an RSA signature with an RSA
 *     key published as k=ed25519);
 *   - a tag-list with a duplicate tag or any syntax error is a permerror
 *     even where libopendkim parsed enough of it to verify (RFC 6376
 *     3.2: the whole tag-list is invalid);
 *   - l= followed by visible unsigned text: "policy" (dkim.body_length
 *     strict);
 *   - more (or fewer) than one From field: never "pass" (RFC 5322 3.6).
 *   - only the first dkim.max_signatures DKIM-Signature fields reach
 *     libopendkim as signatures; later ones are fed under another name
 *     (so they cost neither DNS nor hashing) and reported "neutral".
 *     A signature that covers such a field in h= then fails: stricter,
 *     and only on messages that are abnormal already.
 *
 * DNS: libopendkim's query hooks call the shared resolver synchronously
 * within one gh_dns_check (dns.timeout per query, dns.budget per
 * message).  The hooks have no per-message argument, so the check in
 * progress is found through a thread-local pointer, set only while this
 * thread is inside dkim_eoh()/dkim_eom().
 *
 * Fails: verification that cannot run (memory, libopendkim internal
 * errors) returns -1; DNS failures are per-signature temperrors.
 */
#include "filters/dkim.h"

#include <arpa/nameser.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <opendkim/dkim.h>

#include "filters/dns.h"
#include "filters/log.h"
#include "filters/message.h"
#include "filters/util.h"

#define BODY_CHUNK	(64 * 1024)
/* Prefixed to the name of DKIM-Signature fields over the limit. */
#define SKIP_PREFIX	"X-GH-Skipped-"
#define MAX_DNSFAIL	GH_DKIM_REPORT_MAX

struct gh_dkim {
	DKIM_LIB	*lib;
	struct gh_dns	*dns;
	size_t		 max_sigs;
	unsigned	 min_bits;
	bool		 strict_l;
	uint64_t	 timeout_ms;
	uint64_t	 budget_ms;
	bool		 ed25519;
};

/* A temporary DNS failure, remembered to explain a KEYFAIL. */
struct dnsfail {
	char			 name[DKIM_MAXHOSTNAMELEN + 1];
	enum gh_dns_status	 status;
};

/* What this file parsed from one DKIM-Signature field itself. */
struct slot {
	bool		 fed;		/* handed to libopendkim as a sig */
	bool		 hdr_syntax;	/* dkim_header() refused it */
	bool		 tag_error;	/* our parse: duplicate, bad syntax */
	char		 tag_detail[64];
	bool		 has_l;
	uint64_t	 l;
	bool		 body_relaxed;
};

/* One verification in progress on this thread. */
struct vctx {
	struct gh_dkim		*k;
	struct gh_dns_check	 chk;
	struct dnsfail		 fail[MAX_DNSFAIL];
	size_t			 nfail;
	struct slot		*slots;		/* one per DKIM-Signature */
	size_t			 nslots;
};


static DKIM_CBSTAT prescreen(DKIM *, DKIM_SIGINFO **, int);

/*
 * The check in progress on this thread, for the DNS hooks (which
 * libopendkim calls without any per-message argument).
 */
static __thread struct vctx *cur_vctx;

/* A query handle: the reply is complete when start() returns. */
struct qhandle {
	int	 status;	/* DKIM_DNS_* */
	size_t	 len;
};

/* libopendkim: the resolver needs no initialisation of its own. */
static int
dns_init(void **srv)
{
	return 0;
}

/* libopendkim: nothing to close; the resolver belongs to the instance. */
static void
dns_close(void *srv)
{
}

/* Remember why a query failed temporarily. */
static void
note_dnsfail(struct vctx *c, const char *name, enum gh_dns_status st)
{
	if (c->nfail == MAX_DNSFAIL)
		return;
	snprintf(c->fail[c->nfail].name, sizeof(c->fail[0].name), "%s", name);
	c->fail[c->nfail++].status = st;
}

/*
 * Write a reply without answers (RFC 1035 4.1): header with `rcode`,
 * the question.  libopendkim reads NXDOMAIN and NODATA from it.
 */
static size_t
synth_reply(unsigned char *buf, size_t buflen, const char *name, int type,
    int rcode)
{
	size_t		 n = HFIXEDSZ, lab;
	const char	*p = name, *dot;

	if (buflen < HFIXEDSZ + 256 + 4)
		return 0;
	memset(buf, 0, HFIXEDSZ);
	buf[2] = 0x81;			/* QR, RD */
	buf[3] = 0x80 | (rcode & 0x0f);	/* RA, RCODE */
	buf[5] = 1;			/* QDCOUNT */
	while (*p) {
		dot = strchr(p, '.');
		lab = dot ? (size_t)(dot - p) : strlen(p);
		if (lab == 0 || lab > 63 || n + lab + 1 > HFIXEDSZ + 255)
			break;
		buf[n++] = (unsigned char)lab;
		memcpy(buf + n, p, lab);
		n += lab;
		p += lab + (dot ? 1 : 0);
	}
	buf[n++] = 0;
	buf[n++] = (unsigned char)(type >> 8);
	buf[n++] = (unsigned char)type;
	buf[n++] = 0;
	buf[n++] = 1;			/* class IN */
	return n;
}

/*
 * libopendkim: ask the shared resolver, synchronously, within this
 * message's budget.  The raw reply goes to `buf` for libopendkim to
 * parse (multiple records, CNAME, truncation are its business).
 */
static int
dns_start(void *srv, int type, unsigned char *query, unsigned char *buf,
    size_t buflen, void **qh)
{
	struct vctx		*c = cur_vctx;
	struct qhandle		*q;
	struct gh_dns_answer	 a;
	enum gh_dns_status	 st;
	const char		*name = (const char *)query;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return -1;
	*qh = q;
	if (c == NULL) {
		/* Not inside gh_dkim_verify: a broken invariant. */
		q->status = DKIM_DNS_ERROR;
		return 0;
	}
	memset(&a, 0, sizeof(a));
	st = gh_dns_check_query(&c->chk, name, type, &a);
	switch (st) {
	case GH_DNS_OK:
	case GH_DNS_NXDOMAIN:
	case GH_DNS_NODATA:
		if (a.pkt != NULL && a.pktlen <= buflen) {
			memcpy(buf, a.pkt, a.pktlen);
			q->len = a.pktlen;
		} else if (st != GH_DNS_OK)
			q->len = synth_reply(buf, buflen, name, type,
			    st == GH_DNS_NXDOMAIN ? NXDOMAIN : NOERROR);
		if (q->len == 0) {
			note_dnsfail(c, name, GH_DNS_ERROR);
			q->status = DKIM_DNS_ERROR;
		} else
			q->status = DKIM_DNS_SUCCESS;
		break;
	case GH_DNS_BADNAME:
		/* Never asked: the name cannot exist. */
		q->len = synth_reply(buf, buflen, ".", type, NXDOMAIN);
		q->status = q->len ? DKIM_DNS_SUCCESS : DKIM_DNS_ERROR;
		break;
	default:
		note_dnsfail(c, name, st);
		q->status = st == GH_DNS_TIMEOUT ? DKIM_DNS_EXPIRED :
		    DKIM_DNS_ERROR;
		break;
	}
	gh_dns_answer_free(&a);
	return 0;
}

/* libopendkim: the reply is already there (see dns_start). */
static int
dns_waitreply(void *srv, void *qh, struct timeval *to, size_t *bytes,
    int *error, int *dnssec)
{
	struct qhandle	*q = qh;

	if (bytes)
		*bytes = q->len;
	if (error)
		*error = 0;
	if (dnssec)
		*dnssec = DKIM_DNSSEC_UNKNOWN;
	return q->status;
}

/* libopendkim: release a query handle. */
static int
dns_cancel(void *srv, void *qh)
{
	free(qh);
	return 0;
}

/* Set one libopendkim option; -1 with `err` on failure. */
static int
set_opt(DKIM_LIB *lib, int opt, void *val, size_t len, const char *what,
    char *err, size_t errsz)
{
	if (dkim_options(lib, DKIM_OP_SETOPT, opt, val, len) != DKIM_STAT_OK) {
		snprintf(err, errsz, "dkim: cannot set libopendkim %s", what);
		return -1;
	}
	return 0;
}

/* Build a verifier (see dkim.h). */
struct gh_dkim *
gh_dkim_new(const struct gh_config *cfg, char *err, size_t errsz)
{
	struct gh_dkim	*k;
	uint32_t	 flags;
	unsigned	 bits;
	dkim_query_t	 qm = DKIM_QUERY_DNS;

	if ((k = calloc(1, sizeof(*k))) == NULL) {
		snprintf(err, errsz, "dkim: out of memory");
		return NULL;
	}
	k->max_sigs = (size_t)cfg->dkim_max_signatures;
	k->min_bits = (unsigned)cfg->dkim_min_key_bits;
	k->strict_l = cfg->dkim_body_length == 0;
	k->timeout_ms = cfg->dns_timeout_ms;
	k->budget_ms = cfg->dns_budget_ms;
	if ((k->dns = gh_dns_acquire(cfg, err, errsz)) == NULL)
		goto fail;
	if ((k->lib = dkim_init(NULL, NULL)) == NULL) {
		snprintf(err, errsz, "dkim: dkim_init failed");
		goto fail;
	}
	/*
	 * BADSIGHANDLES: a signature libopendkim cannot parse still gets
	 * a handle (and so a result).  DELAYSIGPROC: keys and signatures
	 * are processed in dkim_eom(), after the body, in one place.
	 */
	flags = DKIM_LIBFLAGS_BADSIGHANDLES | DKIM_LIBFLAGS_DELAYSIGPROC;
	bits = k->min_bits;
	if (set_opt(k->lib, DKIM_OPTS_FLAGS, &flags, sizeof(flags), "flags",
	    err, errsz) == -1 ||
	    set_opt(k->lib, DKIM_OPTS_MINKEYBITS, &bits, sizeof(bits),
	    "minimum key size", err, errsz) == -1 ||
	    set_opt(k->lib, DKIM_OPTS_QUERYMETHOD, &qm, sizeof(qm),
	    "query method", err, errsz) == -1)
		goto fail;
	dkim_dns_set_init(k->lib, dns_init);
	dkim_dns_set_close(k->lib, dns_close);
	dkim_dns_set_query_start(k->lib, dns_start);
	dkim_dns_set_query_waitreply(k->lib, dns_waitreply);
	dkim_dns_set_query_cancel(k->lib, dns_cancel);
	(void)dkim_set_prescreen(k->lib, prescreen);
	(void)dkim_dns_set_query_service(k->lib, k);
	k->ed25519 = dkim_libfeature(k->lib, DKIM_FEATURE_ED25519);
	return k;
fail:
	gh_dkim_free(k);
	return NULL;
}

/* Release a verifier. */
void
gh_dkim_free(struct gh_dkim *k)
{
	if (k == NULL)
		return;
	if (k->lib)
		dkim_close(k->lib);
	if (k->dns)
		gh_dns_release(k->dns);
	free(k);
}

/* Tell whether ed25519-sha256 is verified. */
bool
gh_dkim_has_ed25519(const struct gh_dkim *k)
{
	return k->ed25519;
}

/* Release a report. */
void
gh_dkim_report_free(struct gh_dkim_report *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}

/* Start the visible-text scanner. */
void
gh_dkim_vis_init(struct gh_dkim_vis *v)
{
	memset(v, 0, sizeof(*v));
	v->last_simple = -1;
	v->last_relaxed = -1;
}

/*
 * Feed body octets.  Simple canonicalization keeps every octet before
 * the last visible one, so its canonical position is its raw offset.
 * Relaxed (RFC 6376 3.4.4) drops trailing white space on each line,
 * turns runs of WSP into one SP and drops empty lines at the end: line
 * ends and one space are only counted once a visible octet follows.
 * CR is taken as part of CRLF (the body arrives in canonical CRLF).
 */
void
gh_dkim_vis_feed(struct gh_dkim_vis *v, const unsigned char *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++, v->off++) {
		switch (p[i]) {
		case ' ':
		case '\t':
			v->rwsp = true;
			break;
		case '\r':
			break;
		case '\n':
			v->rwsp = false;
			v->rcrlf++;
			break;
		default:
			v->last_simple = (int64_t)v->off;
			v->rpos += 2 * v->rcrlf + (v->rwsp ? 1 : 0);
			v->rcrlf = 0;
			v->rwsp = false;
			v->last_relaxed = (int64_t)v->rpos++;
			break;
		}
	}
}

/* Tell whether `len` octets of `p` name the field `name`. */
static bool
name_is(const char *p, size_t len, const char *name)
{
	return strlen(name) == len && strncasecmp(p, name, len) == 0;
}

/* Copy a tag value, FWS removed when `nofws`, controls as '?', cut. */
static void
copy_value(char *dst, size_t dstsz, const char *v, size_t len, bool nofws)
{
	size_t	 i, n = 0;

	for (i = 0; i < len && n + 1 < dstsz; i++) {
		unsigned char c = (unsigned char)v[i];

		if (nofws && (c == ' ' || c == '\t' || c == '\r' || c == '\n'))
			continue;
		dst[n++] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	dst[n] = '\0';
}

/* Trim WSP, CR and LF around [*p, *p + *len). */
static void
trim_fws(const char **p, size_t *len)
{
	while (*len && strchr(" \t\r\n", (*p)[0]) != NULL) {
		(*p)++;
		(*len)--;
	}
	while (*len && strchr(" \t\r\n", (*p)[*len - 1]) != NULL)
		(*len)--;
}

/* Record a tag-list syntax error on the slot (the first one wins). */
static void
tag_error(struct slot *sl, const char *what)
{
	if (!sl->tag_error)
		snprintf(sl->tag_detail, sizeof(sl->tag_detail), "%s", what);
	sl->tag_error = true;
}

/* Store one tag of a signature. */
static void
store_tag(struct gh_dkim_sig *s, struct slot *sl, const char *name,
    size_t nlen, const char *v, size_t vlen)
{
	char	 num[24];
	char	*end;

	if (name_is(name, nlen, "d"))
		copy_value(s->d, sizeof(s->d), v, vlen, false);
	else if (name_is(name, nlen, "s"))
		copy_value(s->s, sizeof(s->s), v, vlen, false);
	else if (name_is(name, nlen, "i"))
		copy_value(s->i, sizeof(s->i), v, vlen, false);
	else if (name_is(name, nlen, "a"))
		copy_value(s->a, sizeof(s->a), v, vlen, false);
	else if (name_is(name, nlen, "b"))
		copy_value(s->b, sizeof(s->b), v, vlen, true);
	else if (name_is(name, nlen, "c")) {
		const char *slash = memchr(v, '/', vlen);

		sl->body_relaxed = slash && (size_t)(v + vlen - slash - 1) ==
		    7 && strncasecmp(slash + 1, "relaxed", 7) == 0;
	} else if (name_is(name, nlen, "l")) {
		copy_value(num, sizeof(num), v, vlen, true);
		sl->has_l = true;
		sl->l = strtoull(num, &end, 10);
		if (num[0] < '0' || num[0] > '9' || *end != '\0' ||
		    vlen > 76)
			tag_error(sl, "bad l= value");
	}
}

/*
 * Parse a DKIM-Signature tag-list (RFC 6376 3.2) for what we show and
 * check ourselves.  Any syntax error or duplicate tag marks the slot.
 */
static void
parse_tags(const char *v, size_t len, struct gh_dkim_sig *s, struct slot *sl)
{
	const char	*p = v, *end = v + len, *semi, *eq, *name, *val;
	size_t		 nlen, vlen, i, nseen = 0;
	char		 seen[64][8];

	while (p < end) {
		semi = memchr(p, ';', (size_t)(end - p));
		if (semi == NULL)
			semi = end;
		name = p;
		nlen = (size_t)(semi - p);
		p = semi + 1;
		trim_fws(&name, &nlen);
		if (nlen == 0) {
			if (semi != end && p < end)
				tag_error(sl, "empty tag");
			continue;	/* a trailing ';' is allowed */
		}
		if ((eq = memchr(name, '=', nlen)) == NULL) {
			tag_error(sl, "tag without '='");
			continue;
		}
		val = eq + 1;
		vlen = (size_t)(name + nlen - val);
		nlen = (size_t)(eq - name);
		trim_fws(&name, &nlen);
		trim_fws(&val, &vlen);
		if (nlen == 0 || nlen >= sizeof(seen[0]) ||
		    !isalpha((unsigned char)name[0])) {
			tag_error(sl, "bad tag name");
			continue;
		}
		for (i = 0; i < nseen; i++)
			if (name_is(name, nlen, seen[i])) {
				tag_error(sl, "duplicate tag");
				break;
			}
		if (i < nseen)
			continue;
		if (nseen < GH_ARRAY_LEN(seen)) {
			memcpy(seen[nseen], name, nlen);
			seen[nseen++][nlen] = '\0';
		}
		store_tag(s, sl, name, nlen, val, vlen);
	}
	if (s->i[0] == '\0' && s->d[0] != '\0') {
		s->i[0] = '@';
		memcpy(s->i + 1, s->d, strnlen(s->d, sizeof(s->i) - 2));
		s->i[1 + strnlen(s->d, sizeof(s->i) - 2)] = '\0';
	}
}

/* Set a signature's result and reason. */
static void
set_result(struct gh_dkim_sig *s, enum gh_dkim_result r, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

/* Set a signature's result and reason (printf-like). */
static void
set_result(struct gh_dkim_sig *s, enum gh_dkim_result r, const char *fmt,
    ...)
{
	va_list	 ap;

	s->result = r;
	s->reason[0] = '\0';
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
		va_end(ap);
	}
}

/* Count the DKIM-Signature fields of a message. */
static size_t
count_sigs(const struct gh_message *m)
{
	return gh_message_count(m, "DKIM-Signature");
}

/*
 * Feed one header field to libopendkim.  A DKIM-Signature beyond the
 * limit goes in as "X-GH-Skipped-DKIM-Signature": it keeps its place in
 * the header but is no signature to libopendkim.
 */
static int
feed_header(DKIM *d, const struct gh_header *h, bool rename, DKIM_STAT *st)
{
	size_t	 len = (size_t)(h->raw + h->raw_len - h->name);
	char	*copy;

	if (!rename) {
		*st = dkim_header(d, (u_char *)(uintptr_t)h->name, len);
		return 0;
	}
	if ((copy = malloc(sizeof(SKIP_PREFIX) + len)) == NULL)
		return -1;
	memcpy(copy, SKIP_PREFIX, sizeof(SKIP_PREFIX) - 1);
	memcpy(copy + sizeof(SKIP_PREFIX) - 1, h->name, len);
	copy[sizeof(SKIP_PREFIX) - 1 + len] = '\0';
	*st = dkim_header(d, (u_char *)copy, sizeof(SKIP_PREFIX) - 1 + len);
	free(copy);
	return 0;
}

/* Feed the header section; fill the slots and the report's tags. */
static int
feed_headers(DKIM *d, const struct gh_message *m, struct gh_dkim_report *r,
    struct slot *slots, size_t max, char *err, size_t errsz)
{
	size_t			 i, n = gh_message_nheaders(m), k = 0;
	const struct gh_header	*h;
	DKIM_STAT		 st;
	bool			 sig;

	for (i = 0; i < n; i++) {
		h = gh_message_header(m, i);
		if (h == NULL || h->name_len == 0)
			continue;	/* malformed line: not a field */
		sig = name_is(h->name, h->name_len, "DKIM-Signature");
		if (sig && k < r->n) {
			parse_tags(h->raw, h->raw_len, &r->v[k], &slots[k]);
			slots[k].fed = k < max;
		}
		if (feed_header(d, h, sig && k >= max, &st) == -1) {
			snprintf(err, errsz, "out of memory");
			return -1;
		}
		if (st == DKIM_STAT_SYNTAX) {
			if (sig && k < r->n)
				slots[k].hdr_syntax = true;
		} else if (st != DKIM_STAT_OK) {
			snprintf(err, errsz, "dkim_header: %s",
			    dkim_getresultstr(st));
			return -1;
		}
		if (sig)
			k++;
	}
	return 0;
}

/* Feed the body in chunks; scan it for visible text as it goes. */
static int
feed_body(DKIM *d, const struct gh_message *m, struct gh_dkim_vis *vis,
    char *err, size_t errsz)
{
	unsigned char	*buf;
	uint64_t	 off = gh_message_body_offset(m), end = gh_message_size(m);
	ssize_t		 got;
	DKIM_STAT	 st;

	if ((buf = malloc(BODY_CHUNK)) == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	while (off < end) {
		size_t want = end - off < BODY_CHUNK ? (size_t)(end - off) :
		    BODY_CHUNK;

		if ((got = gh_message_pread(m, buf, want, off)) <= 0) {
			snprintf(err, errsz, "cannot read the message body");
			free(buf);
			return -1;
		}
		gh_dkim_vis_feed(vis, buf, (size_t)got);
		st = dkim_body(d, buf, (size_t)got);
		if (st != DKIM_STAT_OK) {
			snprintf(err, errsz, "dkim_body: %s",
			    dkim_getresultstr(st));
			free(buf);
			return -1;
		}
		off += (uint64_t)got;
	}
	free(buf);
	return 0;
}

/* The exact size of the RSA key in a key record's p=, 0 if unknown. */
static unsigned
rsa_bits(const char *p)
{
	unsigned char	*der;
	const unsigned char *q;
	size_t		 len = strlen(p);
	int		 n;
	unsigned	 bits = 0;
	EVP_PKEY	*pk;

	if (len == 0 || len > 8192 || (der = malloc(len)) == NULL)
		return 0;
	if ((n = EVP_DecodeBlock(der, (const unsigned char *)p,
	    (int)len)) > 0) {
		/* EVP_DecodeBlock counts '=' padding as zero octets. */
		while (len > 0 && p[len - 1] == '=') {
			len--;
			n--;
		}
		q = der;
		if ((pk = d2i_PUBKEY(NULL, &q, n)) != NULL) {
			if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_RSA)
				bits = (unsigned)EVP_PKEY_get_bits(pk);
			EVP_PKEY_free(pk);
		}
	}
	free(der);
	return bits;
}

/*
 * The size of a verified signature's RSA key.  libopendkim counts whole
 * octets of the modulus (8 * RSA_size); decoding the key again costs as
 * much as five RSA verifications under OpenSSL 3, so it is done only
 * when that rounding could hide a key just under `min_bits`.
 */
static unsigned
key_bits(DKIM_SIGINFO *sig, unsigned min_bits)
{
	unsigned	 bits = 0;
	const u_char	*p;

	if (dkim_sig_getkeysize(sig, &bits) != DKIM_STAT_OK)
		bits = 0;
	if (bits == 0 || (bits >= min_bits && bits < min_bits + 8)) {
		p = dkim_sig_gettagvalue(sig, true, (u_char *)"p");
		bits = p ? rsa_bits((const char *)p) : 0;
	}
	return bits;
}

/* The temporary DNS failure behind a KEYFAIL of signature `s`. */
static const char *
keyfail_reason(const struct vctx *c, const struct gh_dkim_sig *s)
{
	char	 name[DKIM_MAXHOSTNAMELEN + 1];
	size_t	 i;

	if (snprintf(name, sizeof(name), "%s._domainkey.%s", s->s,
	    s->d) >= (int)sizeof(name))
		return "key query failed";
	for (i = 0; i < c->nfail; i++)
		if (strcasecmp(c->fail[i].name, name) == 0)
			return c->fail[i].status == GH_DNS_TIMEOUT ?
			    "key query timed out" : "key query failed (DNS "
			    "error)";
	if (c->chk.budget_spent)
		return "key query timed out (dns.budget)";
	return c->chk.timeouts ? "key query timed out" : "key query failed";
}

/* Tell whether key type `k` fits signing algorithm `alg`. */
static bool
keytype_fits(const char *k, dkim_alg_t alg)
{
	if (alg == DKIM_SIGN_ED25519SHA256)
		return strcasecmp(k, "ed25519") == 0;
	return strcasecmp(k, "rsa") == 0;
}

/* A libopendkim error that keeps a signature from being verified. */
static void
classify_error(struct gh_dkim_sig *s, int e, const struct vctx *c,
    const struct gh_dkim *k)
{
	const char	*txt = dkim_sig_geterrorstr(e);

	switch (e) {
	case DKIM_SIGERROR_NOKEY:
		set_result(s, GH_DKIM_PERMERROR, "no key for signature");
		break;
	case DKIM_SIGERROR_KEYFAIL:
		set_result(s, GH_DKIM_TEMPERROR, "%s", keyfail_reason(c, s));
		break;
	case DKIM_SIGERROR_KEYREVOKED:
		set_result(s, GH_DKIM_PERMERROR, "key revoked (empty p=)");
		break;
	case DKIM_SIGERROR_DOMAIN:
		set_result(s, GH_DKIM_PERMERROR, "i= is not within d= "
		    "(RFC 6376 3.5)");
		break;
	case DKIM_SIGERROR_INVALID_H:
		set_result(s, GH_DKIM_PERMERROR, "From is not in h= "
		    "(RFC 6376 5.4)");
		break;
	case DKIM_SIGERROR_KEYHASHMISMATCH:
		set_result(s, GH_DKIM_PERMERROR, "key h= does not allow the "
		    "signature's hash");
		break;
	case DKIM_SIGERROR_NOTEMAILKEY:
		set_result(s, GH_DKIM_PERMERROR, "key s= is not for email");
		break;
	case DKIM_SIGERROR_TOOLARGE_L:
		set_result(s, GH_DKIM_PERMERROR, "l= exceeds the body length");
		break;
	case DKIM_SIGERROR_KEYDECODE:
		set_result(s, GH_DKIM_PERMERROR, "key cannot be decoded for "
		    "a=%s", s->a);
		break;
	case DKIM_SIGERROR_INVALID_A:
		if (strcasecmp(s->a, "ed25519-sha256") == 0 && !k->ed25519)
			set_result(s, GH_DKIM_NEUTRAL, "ed25519-sha256 is not "
			    "supported by this libopendkim");
		else
			set_result(s, GH_DKIM_PERMERROR, "unknown algorithm "
			    "a=%s", s->a);
		break;
	case DKIM_SIGERROR_UNKNOWN:
		set_result(s, GH_DKIM_TEMPERROR, "verification did not "
		    "complete");
		break;
	default:
		set_result(s, GH_DKIM_PERMERROR, "%s", txt ? txt :
		    "signature error");
		break;
	}
}

/*
 * A signature that verified cryptographically: pass, unless a rule of
 * RFC 8301, RFC 5322 3.6 or dkim.body_length says otherwise.
 */
static void
judge_pass(struct gh_dkim_sig *s, DKIM_SIGINFO *sig, const struct slot *sl,
    const struct gh_dkim_vis *vis, size_t nfrom, const struct gh_dkim *k)
{
	dkim_alg_t	 alg = DKIM_SIGN_UNKNOWN;
	int64_t		 last;

	(void)dkim_sig_getsignalg(sig, &alg);
	if (alg != DKIM_SIGN_ED25519SHA256)
		s->keybits = key_bits(sig, k->min_bits);
	set_result(s, GH_DKIM_PASS, NULL);
	if (alg == DKIM_SIGN_RSASHA1)
		set_result(s, GH_DKIM_POLICY, "rsa-sha1 is not acceptable "
		    "(RFC 8301 3.1)");
	else if (alg != DKIM_SIGN_ED25519SHA256 && s->keybits < k->min_bits)
		set_result(s, GH_DKIM_POLICY, "RSA key of %u bits is below "
		    "dkim.min_key_bits %u (RFC 8301 3.2)", s->keybits,
		    k->min_bits);
	else if (nfrom != 1)
		set_result(s, GH_DKIM_POLICY, "%zu From header fields "
		    "(RFC 5322 3.6)", nfrom);
	else if (sl->has_l && k->strict_l) {
		last = sl->body_relaxed ? vis->last_relaxed :
		    vis->last_simple;
		if (last >= 0 && (uint64_t)last >= sl->l)
			set_result(s, GH_DKIM_POLICY, "l=%llu leaves visible "
			    "text unsigned", (unsigned long long)sl->l);
	}
}

/* Turn libopendkim's state of one signature into a result. */
static void
classify(struct gh_dkim_sig *s, DKIM_SIGINFO *sig, const struct slot *sl,
    const struct gh_dkim_vis *vis, size_t nfrom, const struct vctx *c)
{
	unsigned	 flags = dkim_sig_getflags(sig);
	int		 e = dkim_sig_geterror(sig);
	const u_char	*kt;
	dkim_alg_t	 alg = DKIM_SIGN_UNKNOWN;

	if (sl->tag_error || sl->hdr_syntax) {
		set_result(s, GH_DKIM_PERMERROR, "signature syntax error (%s)",
		    sl->tag_error ? sl->tag_detail : "tag-list");
		return;
	}
	if (flags & DKIM_SIGFLAG_IGNORE) {
		set_result(s, GH_DKIM_NEUTRAL, "not verified");
		return;
	}
	(void)dkim_sig_getsignalg(sig, &alg);
	kt = dkim_sig_gettagvalue(sig, true, (u_char *)"k");
	if (kt != NULL && alg != DKIM_SIGN_UNKNOWN &&
	    !keytype_fits((const char *)kt, alg)) {
		set_result(s, GH_DKIM_PERMERROR, "key type k=%.20s does not "
		    "match a=%s", (const char *)kt, s->a);
		return;
	}
	if ((flags & DKIM_SIGFLAG_PASSED) &&
	    dkim_sig_getbh(sig) == DKIM_SIGBH_MATCH &&
	    e == DKIM_SIGERROR_OK) {
		judge_pass(s, sig, sl, vis, nfrom, c->k);
		return;
	}
	if (e == DKIM_SIGERROR_KEYTOOSMALL) {
		/* It verified; libopendkim then refused the key size. */
		judge_pass(s, sig, sl, vis, nfrom, c->k);
		if (s->result == GH_DKIM_PASS)
			set_result(s, GH_DKIM_POLICY, "RSA key below "
			    "dkim.min_key_bits %u (RFC 8301 3.2)",
			    c->k->min_bits);
		return;
	}
	if (e == DKIM_SIGERROR_BADSIG || (flags & DKIM_SIGFLAG_PROCESSED &&
	    e == DKIM_SIGERROR_OK)) {
		if (dkim_sig_getbh(sig) == DKIM_SIGBH_MISMATCH)
			set_result(s, GH_DKIM_FAIL, "body hash did not verify");
		else
			set_result(s, GH_DKIM_FAIL, "signature did not "
			    "verify");
		return;
	}
	classify_error(s, e, c, c->k);
}

/* Choose how many characters of b= identify each signature (RFC 6008). */
static void
b_prefixes(struct gh_dkim_report *r)
{
	size_t	 i, j, n, m = r->n < GH_DKIM_REPORT_MAX ? r->n :
		    GH_DKIM_REPORT_MAX;
	bool	 clash;

	for (i = 0; i < r->n; i++) {
		size_t blen = strlen(r->v[i].b);

		for (n = blen < 8 ? blen : 8; n < blen && i < m; n++) {
			clash = false;
			/* Identical b= values cannot be told apart. */
			for (j = 0; j < m && !clash; j++)
				clash = j != i && strncmp(r->v[i].b,
				    r->v[j].b, n) == 0 &&
				    strcmp(r->v[i].b, r->v[j].b) != 0;
			if (!clash)
				break;
		}
		r->v[i].bshow = (unsigned)n;
	}
}

/*
 * libopendkim, at the end of the header: ignore the signatures that
 * our own parse found broken, so that they cost no DNS query (whatever
 * libopendkim made of them, they are permerrors).
 */
static DKIM_CBSTAT
prescreen(DKIM *d, DKIM_SIGINFO **sigs, int nsigs)
{
	struct vctx	*c = dkim_get_user_context(d);
	size_t		 k;
	int		 i = 0;

	if (c == NULL)
		return DKIM_CBSTAT_CONTINUE;
	for (k = 0; k < c->nslots && i < nsigs; k++) {
		if (!c->slots[k].fed)
			continue;
		if (c->slots[k].tag_error || c->slots[k].hdr_syntax)
			dkim_sig_ignore(sigs[i]);
		i++;
	}
	return DKIM_CBSTAT_CONTINUE;
}

/* Run libopendkim on the message; classify every fed signature. */
static int
run_lib(struct vctx *c, const struct gh_message *m, const char *id,
    struct gh_dkim_report *r, struct slot *slots, char *err, size_t errsz)
{
	DKIM		*d;
	DKIM_STAT	 st;
	DKIM_SIGINFO	**sigs = NULL;
	struct gh_dkim_vis vis;
	int		 nsigs = 0, i, rc = -1;
	size_t		 k, max = c->k->max_sigs;
	_Bool		 testkey = 0;

	if ((d = dkim_verify(c->k->lib, (const u_char *)id, NULL,
	    &st)) == NULL) {
		snprintf(err, errsz, "dkim_verify: %s", dkim_getresultstr(st));
		return -1;
	}
	(void)dkim_set_user_context(d, c);
	gh_dkim_vis_init(&vis);
	if (feed_headers(d, m, r, slots, max, err, errsz) == -1)
		goto out;
	cur_vctx = c;
	st = dkim_eoh(d);
	cur_vctx = NULL;
	if (st == DKIM_STAT_NOSIG)
		goto classify;	/* prescreen() ignored every signature */
	if (st != DKIM_STAT_OK) {
		snprintf(err, errsz, "dkim_eoh: %s", dkim_getresultstr(st));
		goto out;
	}
	if (feed_body(d, m, &vis, err, errsz) == -1)
		goto out;
	cur_vctx = c;
	st = dkim_eom(d, &testkey);
	cur_vctx = NULL;
	if (st == DKIM_STAT_NORESOURCE || st == DKIM_STAT_INTERNAL) {
		snprintf(err, errsz, "dkim_eom: %s", dkim_getresultstr(st));
		goto out;
	}
classify:
	if (dkim_getsiglist(d, &sigs, &nsigs) != DKIM_STAT_OK)
		nsigs = 0;
	for (i = 0, k = 0; k < r->n; k++) {
		if (!slots[k].fed)
			continue;
		r->v[k].verified = true;
		if (i < nsigs)
			classify(&r->v[k], sigs[i++], &slots[k], &vis,
			    r->nfrom, c);
		else
			set_result(&r->v[k], GH_DKIM_PERMERROR, "signature "
			    "not parsed");
	}
	rc = 0;
out:
	dkim_free(d);
	return rc;
}

/* Verify every signature of a message (see dkim.h). */
int
gh_dkim_verify(struct gh_dkim *k, const struct gh_message *m, const char *id,
    struct gh_dkim_report *r, char *err, size_t errsz)
{
	struct vctx	*c;
	struct slot	*slots = NULL;
	uint64_t	 t0 = gh_now_us();
	size_t		 i;
	int		 rc = 0;

	memset(r, 0, sizeof(*r));
	r->nfrom = gh_message_count(m, "From");
	if ((r->n = count_sigs(m)) == 0)
		goto done;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (r->v = calloc(r->n, sizeof(*r->v))) == NULL ||
	    (slots = calloc(r->n, sizeof(*slots))) == NULL) {
		free(c);
		snprintf(err, errsz, "out of memory");
		gh_dkim_report_free(r);
		free(slots);
		return -1;
	}
	c->k = k;
	c->slots = slots;
	c->nslots = r->n;
	gh_dns_check_init(&c->chk, k->dns, k->timeout_ms, k->budget_ms);
	for (i = 0; i < r->n; i++)
		set_result(&r->v[i], GH_DKIM_NEUTRAL, "not verified: more than "
		    "dkim.max_signatures (%zu) signatures", k->max_sigs);
	rc = run_lib(c, m, id ? id : "gatehouse", r, slots, err, errsz);
	r->dns_queries = c->chk.queries;
	r->dns_timeouts = c->chk.timeouts;
	b_prefixes(r);
	free(slots);
	free(c);
done:
	r->usec = gh_now_us() - t0;
	return rc;
}
