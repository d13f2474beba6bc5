/*
 * uri.c: links for "uri" rules, as SpamAssassin 4 collects them.
 *
 *  - In rendered text, SpamAssassin's Thunderbird-like expression
 *    (PerMsgStatus::_tbirdurire) finds scheme links (http, https, ftp,
 *    www., ftp.), mail addresses and mailto:, and bare host names ending
 *    in a valid TLD; it is compiled with PCRE2 from the same source, so
 *    that it matches the same text.  The TLD list comes from the policy
 *    (util_rb_tld lines of the rule files); without one, any TLD of 2-63
 *    letters or an xn-- label is valid.
 *  - Each link, from text or HTML, is canonicalised like
 *    Util::uri_list_canonicalize (%-decoding, http:www. fixes, default
 *    ports, user@ and trailing junk in hosts, numeric IPs in hex and
 *    octal, one level of redirector, ...): every variant counts.
 *  - Text links are kept only when a host in them has a valid domain.
 *
 * Owns: the policy's compiled expressions; sets of strings.  Differences
 * from SpamAssassin: host names with non-ASCII letters are lower-cased,
 * not converted to punycode (SpamAssassin uses libidn2).  Only ENOMEM
 * fails (the set's err).
 */

#define PCRE2_CODE_UNIT_WIDTH 8

#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "decode.h"
#include "message.h"
#include "msgbuf.h"
#include "uri.h"

#define MAX_URI_LENGTH	8192
#define MAX_REDIRECTORS	256

struct gh_uri_policy {
	struct mbuf	 tlds;		/* "|"-separated, lower case */
	struct uset	 tldset;
	pcre2_code	*tbird;
	pcre2_code	*redir[MAX_REDIRECTORS];
	size_t		 nredir;
	uint32_t	 redir_groups;	/* most capture groups of one */
	bool		 compiled;
	int		 err;
};

/* ------------------------------------------------------------------ */
/* String sets. */

/* FNV-1a hash of S. */
static size_t
hash(const char *s, size_t n)
{
	size_t	h = 1469598103934665603ULL, i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* Slot of S in the table: its index + 1, or the empty slot. */
static size_t *
slot(const struct uset *u, const char *s, size_t n)
{
	size_t	i = hash(s, n) & (u->tabsize - 1), k;

	for (;;) {
		k = u->tab[i];
		if (k == 0 || (u->len[k - 1] == n &&
		    memcmp(u->s[k - 1], s, n) == 0))
			return &u->tab[i];
		i = (i + 1) & (u->tabsize - 1);
	}
}

/* Grow the table to twice the number of strings at least. */
static bool
rehash(struct uset *u)
{
	size_t	 size = u->tabsize ? u->tabsize * 2 : 64, i;
	size_t	*old = u->tab;

	if ((u->tab = calloc(size, sizeof(*u->tab))) == NULL) {
		u->tab = old;
		u->err = ENOMEM;
		return false;
	}
	u->tabsize = size;
	for (i = 0; i < u->n; i++)
		*slot(u, u->s[i], u->len[i]) = i + 1;
	free(old);
	return true;
}

/* True if S is in U. */
bool
uset__has(const struct uset *u, const char *s, size_t n)
{
	return u->tabsize > 0 && *slot(u, s, n) != 0;
}

/* Add a copy of S to U unless present. */
bool
uset__add(struct uset *u, const char *s, size_t n)
{
	size_t	*sl;
	char	*c;

	if (u->err)
		return false;
	if ((u->n + 1) * 2 > u->tabsize && !rehash(u))
		return false;
	sl = slot(u, s, n);
	if (*sl != 0)
		return false;
	if (u->n == u->cap) {
		size_t	 cap = u->cap ? u->cap * 2 : 16;
		char	**ns = reallocarray(u->s, cap, sizeof(*ns));
		size_t	*nl;

		if (ns == NULL) {
			u->err = ENOMEM;
			return false;
		}
		u->s = ns;
		if ((nl = reallocarray(u->len, cap, sizeof(*nl))) == NULL) {
			u->err = ENOMEM;
			return false;
		}
		u->len = nl;
		u->cap = cap;
	}
	if ((c = malloc(n + 1)) == NULL) {
		u->err = ENOMEM;
		return false;
	}
	memcpy(c, s, n);
	c[n] = '\0';
	u->s[u->n] = c;
	u->len[u->n] = n;
	u->n++;
	*sl = u->n;
	return true;
}

/* Free the set. */
void
uset__free(struct uset *u)
{
	size_t	i;

	for (i = 0; i < u->n; i++)
		free(u->s[i]);
	free(u->s);
	free(u->len);
	free(u->tab);
	memset(u, 0, sizeof(*u));
}

/* ------------------------------------------------------------------ */
/* Policy. */

/* A new empty policy. */
struct gh_uri_policy *
gh_uri_policy_new(void)
{
	return calloc(1, sizeof(struct gh_uri_policy));
}

/* Add the space-separated TLDs of WORDS (a util_rb_tld value). */
int
gh_uri_policy_add_tlds(struct gh_uri_policy *p, const char *words)
{
	const char	*s = words, *e;
	char		 low[64];
	size_t		 i, n;

	if (p->compiled) {
		errno = EBUSY;
		return -1;
	}
	while (*s != '\0') {
		while (isspace((unsigned char)*s))
			s++;
		for (e = s; *e != '\0' && !isspace((unsigned char)*e); e++)
			;
		n = (size_t)(e - s);
		if (n > 0 && n < sizeof(low)) {
			for (i = 0; i < n; i++) {
				low[i] = (char)tolower((unsigned char)s[i]);
				/* Only what is safe inside the expression. */
				if (!isalnum((unsigned char)low[i]) &&
				    low[i] != '-' && (unsigned char)low[i] < 0x80)
					break;
			}
			if (i == n && uset__add(&p->tldset, low, n)) {
				if (p->tlds.len > 0)
					mbuf_addc(&p->tlds, '|');
				mbuf_add(&p->tlds, low, n);
			}
		}
		s = e;
	}
	if (p->tlds.err || p->tldset.err) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* Add a redirector_pattern (a PCRE2 expression whose group 1 is the
 * target); ERR gets the compiler's message. */
int
gh_uri_policy_add_redirector(struct gh_uri_policy *p, const char *re,
    size_t len, bool caseless, char *err, size_t errlen)
{
	int		 ec;
	uint32_t	 ncap;
	PCRE2_SIZE	 eo;
	pcre2_code	*c;

	if (p->compiled || p->nredir >= MAX_REDIRECTORS) {
		snprintf(err, errlen, "too many redirector patterns");
		errno = p->compiled ? EBUSY : E2BIG;
		return -1;
	}
	c = pcre2_compile((PCRE2_SPTR)re, len, caseless ? PCRE2_CASELESS : 0,
	    &ec, &eo, NULL);
	if (c == NULL) {
		PCRE2_UCHAR	msg[160];

		pcre2_get_error_message(ec, msg, sizeof(msg));
		snprintf(err, errlen, "offset %zu: %s", (size_t)eo, msg);
		errno = EINVAL;
		return -1;
	}
	/* JIT where the system allows (same results, a fraction of the
	 * time: every http link tries every pattern); else interpreted */
	(void)pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);
	if (pcre2_pattern_info(c, PCRE2_INFO_CAPTURECOUNT, &ncap) == 0 &&
	    ncap > p->redir_groups)
		p->redir_groups = ncap;
	p->redir[p->nredir++] = c;
	return 0;
}

/* Build _tbirdurire with the TLD alternation. */
static int
compile_tbird(struct gh_uri_policy *p)
{
	static const char	 pre[] =
	    "(?:\\b|(?<=\\x1b\\(.)|(?<=[><\"'`,{[(|\\s\\x1b\\xa0]))"
	    "(?:(?:((?:(?:https?|ftp)://|(?:www\\d{0,2}|ftp)\\.)"
	    "[^><\"`}\\]{[|\\s\\x1b\\xa0]{1,2048})"
	    "(?=(?:[><\"`}\\]{[|\\s\\x1b\\xa0]|\\z)))|"
	    "(?:((?:mailto:[^><\"`}\\]{[|\\s\\x1b\\xa0,('\\x80-\\xff]{1,2048}|"
	    "[^><\"`}\\]{[|\\s\\x1b\\xa0,('\\x80-\\xff@]{1,251}@"
	    "[^><\"`}\\]{[|\\s\\x1b\\xa0,('\\x80-\\xff]{1,251}))"
	    "(?=(?:[><\"`}\\]{[|\\s\\x1b\\xa0,('\\x80-\\xff]|\\z)))|"
	    "(?:(?:^|(?<=[!\"#$&'()*+,/:;<=>?@\\[\\\\\\]^`{|}~\\s\\x1b\\xa0]))"
	    "(([a-z\\d][a-z\\d._-]{0,251}\\.";
	static const char	 post[] =
	    ")\\.?(?::\\d{1,5})?(?:/[^><\"`}\\]{[|\\s\\x1b\\xa0]{1,2048})?)"
	    "(?=(?:[><\"`}\\]{[|\\s\\x1b\\xa0]|\\z))))";
	struct mbuf		 re = { 0 };
	int			 ec;
	PCRE2_SIZE		 eo;

	mbuf_adds(&re, pre);
	/* valid_tlds_re */
	mbuf_adds(&re, "(?<![a-zA-Z0-9-])(?:");
	if (p->tlds.len > 0)
		mbuf_add(&re, p->tlds.p, p->tlds.len);
	else
		mbuf_adds(&re, "[a-z]{2,63}|xn--[a-z0-9-]{1,59}");
	mbuf_adds(&re, ")(?!(?:[a-zA-Z0-9-]|\\.[a-zA-Z0-9]))");
	mbuf_adds(&re, post);
	if (re.err) {
		errno = ENOMEM;
		return -1;
	}
	/* Bytes, as SpamAssassin matches the encoded text: no UTF mode. */
	p->tbird = pcre2_compile((PCRE2_SPTR)re.p, re.len, PCRE2_CASELESS,
	    &ec, &eo, NULL);
	mbuf_free(&re);
	if (p->tbird == NULL) {
		errno = EINVAL;
		return -1;
	}
	pcre2_jit_compile(p->tbird, PCRE2_JIT_COMPLETE);
	return 0;
}

/* Compile the policy; it is immutable and shareable afterwards. */
int
gh_uri_policy_compile(struct gh_uri_policy *p)
{
	if (p->compiled)
		return 0;
	if (compile_tbird(p) == -1)
		return -1;
	p->compiled = true;
	return 0;
}

/* Free a policy. */
void
gh_uri_policy_free(struct gh_uri_policy *p)
{
	size_t	i;

	if (p == NULL)
		return;
	pcre2_code_free(p->tbird);
	for (i = 0; i < p->nredir; i++)
		pcre2_code_free(p->redir[i]);
	mbuf_free(&p->tlds);
	uset__free(&p->tldset);
	free(p);
}

static struct gh_uri_policy	*default_policy;
static pthread_once_t		 default_once = PTHREAD_ONCE_INIT;

/* Make the default policy (once per process). */
static void
make_default(void)
{
	struct gh_uri_policy	*p = gh_uri_policy_new();

	if (p != NULL && gh_uri_policy_compile(p) == -1) {
		gh_uri_policy_free(p);
		p = NULL;
	}
	default_policy = p;
}

/* The default policy, or NULL on ENOMEM. */
const struct gh_uri_policy *
uri__default_policy(void)
{
	pthread_once(&default_once, make_default);
	return default_policy;
}

/* ------------------------------------------------------------------ */
/* Domains. */

/* True if the lower-case TLD is valid under P. */
static bool
tld_valid(const struct gh_uri_policy *p, const char *t, size_t n)
{
	size_t	i;

	if (p->tldset.n > 0)
		return uset__has(&p->tldset, t, n);
	if (n >= 4 && strncmp(t, "xn--", 4) == 0)
		return n <= 63;
	if (n < 2 || n > 63)
		return false;
	for (i = 0; i < n; i++)
		if (!isalpha((unsigned char)t[i]))
			return false;
	return true;
}

/* Util::is_fqdn_valid on a lower-case host. */
static bool
fqdn_valid(const char *h, size_t n)
{
	size_t	 labels = 1, i, s, cnt;

	while (n > 0 && h[n - 1] == '.')
		n--;
	if (n > 253 || n == 0)
		return false;
	for (i = 0; i < n; i++)
		if (h[i] == '.')
			labels++;
	if (labels < 2)
		return false;
	cnt = labels;
	for (s = 0; s <= n; cnt--) {
		size_t	e = s, k;

		while (e < n && h[e] != '.')
			e++;
		if (e - s < 1 || e - s > 63)
			return false;
		for (k = s; k < e; k++) {
			char	c = h[k];

			if (!(islower((unsigned char)c) ||
			    isdigit((unsigned char)c) || c == '_' ||
			    (c == '-' && k != s && k != e - 1)))
				return false;
			if (c == '_' && cnt <= 2)
				return false;
		}
		s = e + 1;
	}
	return true;
}

/* RegistryBoundaries::is_domain_valid on a host (lower-cased here). */
static bool
domain_valid(const struct gh_uri_policy *p, const char *h, size_t n)
{
	char	low[256];
	size_t	i, dot;

	if (n >= sizeof(low))
		return false;
	for (i = 0; i < n; i++) {
		if (isspace((unsigned char)h[i]))
			return false;
		low[i] = (char)tolower((unsigned char)h[i]);
	}
	for (dot = n; dot > 0 && low[dot - 1] != '.'; dot--)
		;
	if (dot == 0 || dot == n)
		return false;
	return tld_valid(p, low + dot, n - dot);
}

/* IS_IP_ADDRESS: a dotted IPv4 address without leading zeros, or IPv6. */
static bool
is_ip(const char *h, size_t n)
{
	char		buf[64];
	unsigned char	a[16];
	size_t		i, parts = 0, digits = 0;
	unsigned	v = 0;

	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, h, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET6, buf, a) == 1)
		return true;
	for (i = 0; i <= n; i++) {
		if (i == n || h[i] == '.') {
			if (digits == 0 || v > 255)
				return false;
			parts++;
			digits = v = 0;
			continue;
		}
		if (!isdigit((unsigned char)h[i]) || (digits == 1 && v == 0))
			return false;
		v = v * 10 + (unsigned)(h[i] - '0');
		digits++;
	}
	return parts == 4;
}

/* True if uri_to_domain finds a domain in the canonical URI U. */
static bool
has_domain(const struct gh_uri_policy *p, const char *u, size_t n)
{
	char		 low[MAX_URI_LENGTH + 1];
	char		*s, *e, *at;
	size_t		 i;

	if (n > MAX_URI_LENGTH)
		n = MAX_URI_LENGTH;
	for (i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)u[i]);
	low[n] = '\0';
	if (!strncmp(low, "javascript:", 11) || !strncmp(low, "cid:", 4) ||
	    !strncmp(low, "file:", 5))
		return false;
	if (!strncmp(low, "mailto:", 7)) {
		s = low + 7;
		if ((e = strchr(s, '?')) != NULL)
			*e = '\0';
		/* abort if multiple @ (/\@.*?\@/ stops at a newline) */
		if ((at = strchr(s, '@')) == NULL)
			return false;
		if (strchr(at + 1, '@') != NULL)
			return false;
		s = strrchr(s, '@') + 1;
	} else {
		/* s{^[a-z]+:/{0,2}}{} */
		for (s = low; islower((unsigned char)*s); s++)
			;
		if (s > low && *s == ':') {
			s++;
			for (i = 0; i < 2 && *s == '/'; i++)
				s++;
		} else
			s = low;
		s[strcspn(s, "/?#")] = '\0';
		if ((at = strrchr(s, '@')) != NULL)
			s = at + 1;
		/* s{:\d*$}{} */
		if ((e = strrchr(s, ':')) != NULL &&
		    strspn(e + 1, "0123456789") == strlen(e + 1))
			*e = '\0';
	}
	/* encoded bits that should not be: the decoded form is seen too */
	for (e = s; (e = strchr(e, '%')) != NULL; e++) {
		unsigned char	a = (unsigned char)e[1], b = (unsigned char)
		    (a ? e[2] : 0);

		if ((a == '2' && ((b >= '1' && b <= '9') || (b >= 'a' &&
		    b <= 'f'))) || (a >= '3' && a <= '6' && isxdigit(b)) ||
		    (a == '7' && ((b >= '0' && b <= '9') || (b >= 'a' &&
		    b <= 'e'))))
			return false;
	}
	n = strlen(s);
	if (is_ip(s, n))
		return true;
	return fqdn_valid(s, n) && domain_valid(p, s, n);
}

/* ------------------------------------------------------------------ */
/* Canonicalisation (Util::uri_list_canonicalize). */

/* Util::url_encode of U into OUT.  FLAGGED: U holds characters (Perl's
 * utf8 flag), whose code points up to 0xff are escaped as one byte and
 * above are kept; else every byte is one character. */
static void
url_encode(const char *u, size_t n, bool flagged, struct mbuf *out)
{
	static const char	hexd[] = "0123456789abcdef";
	size_t			i, k;
	uint32_t		c;

	for (i = 0; i < n; i += k) {
		k = 1;
		c = (unsigned char)u[i];
		if (c == '%' && i + 2 < n && isxdigit((unsigned char)u[i + 1])
		    && isxdigit((unsigned char)u[i + 2])) {
			char	a = u[i + 1], b = (char)tolower(
			    (unsigned char)u[i + 2]);

			if (a >= '2' && a <= '7' && !(a == '2' && b == '0') &&
			    !(a == '7' && b == 'f')) {
				mbuf_addc(out, (char)(((a - '0') << 4) |
				    (isdigit((unsigned char)b) ? b - '0' :
				    b - 'a' + 10)));
			} else
				mbuf_add(out, u + i, 3);
			k = 3;
			continue;
		}
		if (flagged && c >= 0x80) {
			k = utf8__char((const unsigned char *)u + i, n - i, &c);
			if (k == 0) {
				k = 1;
				c = (unsigned char)u[i];
			}
			if (c > 0xff) {
				mbuf_add(out, u + i, k);
				continue;
			}
		}
		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '%' ||
		    c == '<' || c == '>') {
			mbuf_addc(out, '%');
			mbuf_addc(out, hexd[c >> 4]);
			mbuf_addc(out, hexd[c & 15]);
		} else
			mbuf_addc(out, (char)c);
	}
}

/* True if U (N bytes) contains %XX. */
static bool
has_pct(const char *u, size_t n)
{
	size_t	i;

	for (i = 0; i + 2 < n; i++)
		if (u[i] == '%' && isxdigit((unsigned char)u[i + 1]) &&
		    isxdigit((unsigned char)u[i + 2]))
			return true;
	return false;
}

/* Add P+H+R (three pieces) to OUT. */
static void
add3(struct uset *out, const char *p, size_t pl, const char *h, size_t hl,
    const char *r, size_t rl)
{
	struct mbuf	b = { 0 };

	mbuf_add(&b, p, pl);
	mbuf_add(&b, h, hl);
	mbuf_add(&b, r, rl);
	if (b.err)
		out->err = ENOMEM;
	else
		uset__add(out, b.p, b.len);
	mbuf_free(&b);
}

/* Mail links: the variants SpamAssassin adds, never the link itself. */
static void
canon_mail(const char *u, size_t n, struct uset *out)
{
	const char	*at = memchr(u, '@', n), *q;
	size_t		 i, j;

	/* ^([^\@]+\@[^?]+)\? */
	if (at != NULL && at > u) {
		for (q = at + 1; q < u + n && *q != '?'; q++)
			;
		if (q < u + n && q > at + 1) {
			/* greedy [^?]+ then '?': the first '?' after @ */
			uset__add(out, u, (size_t)(q - u));
		}
		/* ^([^\@]+\@[^?&]+)\& */
		for (q = at + 1; q < u + n && *q != '?' && *q != '&'; q++)
			;
		if (q < u + n && *q == '&' && q > at + 1)
			uset__add(out, u, (size_t)(q - u));
	}
	/* %20: ^(?:mailto:)?(?:\%20)*([^\@]+\@[^?&%]+) */
	if (memmem(u, n, "%20", 3) != NULL) {
		i = 0;
		if (n >= 7 && strncasecmp(u, "mailto:", 7) == 0)
			i = 7;
		while (i + 3 <= n && memcmp(u + i, "%20", 3) == 0)
			i += 3;
		at = memchr(u + i, '@', n - i);
		if (at != NULL && at > u + i) {
			for (j = (size_t)(at - u) + 1; j < n &&
			    !strchr("?&%", u[j]); j++)
				;
			if (j > (size_t)(at - u) + 1)
				add3(out, "mailto:", 7, u + i,
				    j - i, "", 0);
		}
	}
	/* ^[^?&]*<([^\@>]+\@[^>]+)> */
	for (i = 0; i < n && u[i] != '?' && u[i] != '&'; i++) {
		const char	*lt, *gt, *a2;

		if (u[i] != '<')
			continue;
		lt = u + i + 1;
		if ((gt = memchr(lt, '>', (size_t)(u + n - lt))) == NULL)
			continue;
		if ((a2 = memchr(lt, '@', (size_t)(gt - lt))) == NULL ||
		    a2 == lt || a2 + 1 == gt)
			continue;
		add3(out, "mailto:", 7, lt, (size_t)(gt - lt), "", 0);
		break;
	}
}

/* Decode &#NN; and &#xNN; for printable ASCII, and Unicode dots. */
static void
decode_numeric(const char *u, size_t n, struct mbuf *out)
{
	size_t		i, j;
	unsigned long	v;
	bool		hex;

	for (i = 0; i < n; i++) {
		if (u[i] == '&' && i + 2 < n && u[i + 1] == '#') {
			j = i + 2;
			hex = j < n && (u[j] == 'x' || u[j] == 'X');
			if (hex)
				j++;
			v = 0;
			{
				size_t	d0 = j;

				while (j < n && (hex ? isxdigit((unsigned char)
				    u[j]) : isdigit((unsigned char)u[j])) &&
				    j - d0 < 12) {
					v = v * (hex ? 16 : 10) + (unsigned long)(
					    isdigit((unsigned char)u[j]) ?
					    u[j] - '0' :
					    tolower((unsigned char)u[j]) - 'a' +
					    10);
					j++;
				}
				if (j > d0 && j < n && u[j] == ';') {
					if (v >= 33 && v <= 126) {
						mbuf_addc(out, (char)v);
						i = j;
						continue;
					}
					if (v == 0x2e || v == 0x3002 ||
					    v == 0xff0e || v == 0xff61) {
						mbuf_addc(out, '.');
						i = j;
						continue;
					}
				}
			}
		}
		mbuf_addc(out, u[i]);
	}
}

/* Util::decode_ulong_to_ip of a number given as hex digits (last 8). */
static void
ulong_ip(unsigned long long v, struct mbuf *out)
{
	char	 hx[32], ip[24];
	unsigned b[4];
	int	 i;

	snprintf(hx, sizeof(hx), "%08llx", v);
	/* pack("H*") then unpack("CCCC"): the first four bytes */
	for (i = 0; i < 4; i++) {
		char	two[3] = { hx[2 * i], hx[2 * i + 1], '\0' };

		b[i] = (unsigned)strtoul(two, NULL, 16);
	}
	snprintf(ip, sizeof(ip), "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
	mbuf_adds(out, ip);
}

/* Parse a host octet "0x1f", "017" or "12" (with its dot) the way
 * uri_list_canonicalize rewrites it; false if it is none of those. */
static bool
octet(const char *s, size_t n, struct mbuf *out)
{
	char		 d[64];
	size_t		 i, k;
	unsigned long long v;

	if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		if (n == 2 || n - 2 > 16)
			return n > 2;	/* too long: left as it is */
		for (v = 0, i = 2; i < n; i++) {
			if (!isxdigit((unsigned char)s[i]))
				return false;
			v = v * 16 + (unsigned long long)(isdigit(
			    (unsigned char)s[i]) ? s[i] - '0' :
			    tolower((unsigned char)s[i]) - 'a' + 10);
		}
		snprintf(d, sizeof(d), "%llu", v);
	} else {
		for (i = 0; i < n; i++)
			if (!isdigit((unsigned char)s[i]))
				return false;
		if (n == 0 || n >= sizeof(d))
			return n != 0;
		memcpy(d, s, n);
		d[n] = '\0';
		/* s/^0+([1-3][0-7]{0,2}|[4-7][0-7]?)\b/oct/ */
		for (k = 0; d[k] == '0'; k++)
			;
		if (k > 0 && d[k] != '\0') {
			size_t	m = 0, max = d[k] <= '3' ? 3 : 2;

			if (d[k] >= '1' && d[k] <= '7') {
				while (m < max && d[k + m] >= '0' &&
				    d[k + m] <= '7' && (m == 0 || 1))
					m++;
				if (d[k + m] == '\0') {
					unsigned	o = (unsigned)strtoul(d + k,
					    NULL, 8);

					snprintf(d, sizeof(d), "%u", o);
				}
			}
		}
	}
	/* s/^0+// */
	for (k = 0; d[k] == '0'; k++)
		;
	mbuf_adds(out, d + k);
	return true;
}

/* The numeric-host forms of uri_list_canonicalize. */
static void
numeric_host(const struct gh_uri_policy *p, const char *proto, size_t pl,
    const char *host, size_t hl, const char *rest, size_t rl,
    const char *nhost, size_t nhl, bool auth, bool port80, struct uset *out)
{
	struct mbuf	 b = { 0 };
	const char	*s, *dot;
	size_t		 i, parts = 0;
	bool		 ok = true;

	for (i = 0; i < hl; i++)
		if (host[i] == '.')
			parts++;
	if (parts == 3 && hl > 0) {
		mbuf_add(&b, proto, pl);
		for (s = host, i = 0; i < 4 && ok; i++) {
			dot = memchr(s, '.', (size_t)(host + hl - s));
			if (dot == NULL)
				dot = host + hl;
			ok = octet(s, (size_t)(dot - s), &b);
			if (i < 3)
				mbuf_addc(&b, '.');
			s = dot + 1;
		}
		if (ok) {
			mbuf_add(&b, rest, rl);
			if (!b.err)
				uset__add(out, b.p, b.len);
			mbuf_free(&b);
			return;
		}
		mbuf_free(&b);
	}
	mbuf_reset(&b);
	if (hl > 2 && host[0] == '0' && (host[1] == 'x' || host[1] == 'X') &&
	    strspn(host + 2, "0123456789abcdefABCDEF") >= hl - 2) {
		size_t			 k = hl - 2 > 8 ? hl - 8 : 2;
		unsigned long long	 v = strtoull(host + k, NULL, 16);

		mbuf_add(&b, proto, pl);
		ulong_ip(v, &b);
		mbuf_add(&b, rest, rl);
	} else if (hl > 0 && strspn(host, "0123456789") >= hl) {
		if (hl <= 19) {
			mbuf_add(&b, proto, pl);
			ulong_ip(strtoull(host, NULL, 10), &b);
			mbuf_add(&b, rest, rl);
		}
	} else if (pl == 7 && !strncmp(proto, "http://", 7) && !auth &&
	    port80 && !(nhl == 9 && !memcmp(nhost, "localhost", 9))) {
		/* http://foobar -> http://www.foobar.com (bug 6596) */
		const char	*l = nhost;
		size_t		 ll = nhl;

		if (ll >= 4 && !memcmp(l, "www.", 4)) {
			l += 4;
			ll -= 4;
		}
		if (ll > 0 && memchr(l, '.', ll) == NULL &&
		    !domain_valid(p, nhost, nhl)) {
			mbuf_add(&b, proto, pl);
			mbuf_adds(&b, "www.");
			mbuf_add(&b, l, ll);
			mbuf_adds(&b, ".com");
			mbuf_add(&b, rest, rl);
		}
	}
	if (b.len > 0 && !b.err)
		uset__add(out, b.p, b.len);
	mbuf_free(&b);
}

/* The redirect target in "$proto$host$rest", if any, onto TODO. */
static void
redirect(const struct gh_uri_policy *p, const char *full, size_t fl,
    const char *rest, size_t rl, struct uset *todo)
{
	pcre2_match_data	*md = NULL;
	PCRE2_SIZE		*ov;
	size_t			 k, i, j, s1;

	/* one match block for all patterns: room for the most groups */
	if (p->nredir > 0 && (md = pcre2_match_data_create(p->redir_groups +
	    1, NULL)) == NULL)
		return;
	for (k = 0; k < p->nredir; k++) {
		if (pcre2_match(p->redir[k], (PCRE2_SPTR)full, fl, 0, 0, md,
		    NULL) >= 2) {
			ov = pcre2_get_ovector_pointer(md);
			if (ov[2] != PCRE2_UNSET && memchr(full + ov[2], '.',
			    ov[3] - ov[2]) != NULL) {
				uset__add(todo, full + ov[2], ov[3] - ov[2]);
				pcre2_match_data_free(md);
				return;
			}
		}
	}
	if (p->nredir > 0)
		pcre2_match_data_free(md);
	/* m{(https?:/{0,2}[^&#]+)}i in the rest */
	for (i = 0; i + 5 <= rl; i++) {
		j = i;
		if (strncasecmp(rest + j, "http", 4) != 0)
			continue;
		j += 4;
		if (j < rl && (rest[j] == 's' || rest[j] == 'S'))
			j++;
		if (j >= rl || rest[j] != ':')
			continue;
		j++;
		for (k = 0; k < 2 && j < rl && rest[j] == '/'; k++)
			j++;
		for (s1 = j; j < rl && rest[j] != '&' && rest[j] != '#' &&
		    rest[j] != '\n'; j++)
			;
		if (j == s1)
			continue;
		if (memchr(rest + i, '.', j - i) != NULL)
			uset__add(todo, rest + i, j - i);
		return;
	}
}

/* The http(s) part of uri_list_canonicalize for NU. */
static void
canon_http(const struct gh_uri_policy *p, const char *nu, size_t n,
    struct uset *todo, struct uset *out)
{
	const char	*h, *rest, *e = nu + n, *at;
	size_t		 pl, hl, rl, i, o, nhl, portl = 0;
	char		*host = NULL, *nhost = NULL;
	bool		 auth = false, port80;
	struct mbuf	 full = { 0 };

	/* ^(https?://)([^\@/?#]*\@)?([^/?#:]+)((?::(\d*))?.*)$ */
	pl = strncasecmp(nu, "https://", 8) == 0 ? 8 :
	    strncasecmp(nu, "http://", 7) == 0 ? 7 : 0;
	if (pl == 0 || memchr(nu, '\n', n) != NULL)
		return;
	h = nu + pl;
	for (at = h; at < e && !strchr("@/?#", *at); at++)
		;
	if (at < e && *at == '@') {
		auth = true;
		h = at + 1;
	}
	for (rest = h; rest < e && !strchr("/?#:", *rest); rest++)
		;
	if (rest == h)
		return;
	hl = (size_t)(rest - h);
	rl = (size_t)(e - rest);
	if (rest < e && *rest == ':') {
		for (portl = 0; rest + 1 + portl < e &&
		    isdigit((unsigned char)rest[1 + portl]); portl++)
			;
	}
	/* A port of "" (no colon, or a colon without digits) means the
	 * default: 80 for 'http://' written in lower case, else 443.
	 * An explicit default port gives a variant without it. */
	if (portl == 0) {
		port80 = pl == 7 && !strncmp(nu, "http://", 7);
	} else {
		bool	http = pl == 7 && !strncmp(nu, "http://", 7);
		size_t	dl = http ? 2 : 3;

		port80 = portl == 2 && !memcmp(rest + 1, "80", 2);
		if (portl >= dl && !memcmp(rest + 1, http ? "80" : "443", dl) &&
		    (rest + 1 + dl == e || !(isalnum((unsigned char)
		    rest[1 + dl]) || rest[1 + dl] == '_')))
			add3(out, nu, pl, h, hl, rest + 1 + dl, rl - 1 - dl);
	}
	if ((host = malloc(hl + 1)) == NULL ||
	    (nhost = malloc(hl + 1)) == NULL) {
		out->err = ENOMEM;
		goto done;
	}
	/* idn_to_ascii: lower case (ASCII hosts need nothing else) */
	for (i = 0; i < hl; i++)
		nhost[i] = (char)tolower((unsigned char)h[i]);
	nhl = hl;
	/* the host keeps its case: $nhost ne lc($host) is false here */
	memcpy(host, h, hl);
	/* tr/\x00-\x20//d */
	for (i = o = 0; i < hl; i++)
		if ((unsigned char)host[i] > 0x20)
			host[o++] = host[i];
	if (o < hl) {
		hl = o;
		add3(out, nu, pl, host, hl, rest, rl);
	}
	mbuf_add(&full, nu, pl);
	mbuf_add(&full, host, hl);
	mbuf_add(&full, rest, rl);
	if (!full.err)
		redirect(p, full.p, full.len, rest, rl, todo);
	/* s/^[^\@]+\@// */
	if (hl > 0 && host[0] != '@' && (at = memchr(host, '@', hl)) != NULL) {
		size_t	skip = (size_t)(at - host) + 1;

		memmove(host, host + skip, hl - skip);
		hl -= skip;
		add3(out, nu, pl, host, hl, rest, rl);
	}
	/* s/[^0-9A-Za-z]+$// */
	for (i = hl; i > 0 && !isalnum((unsigned char)host[i - 1]); i--)
		;
	if (i < hl) {
		hl = i;
		add3(out, nu, pl, host, hl, rest, rl);
	}
	numeric_host(p, nu, pl, host, hl, rest, rl, nhost, nhl, auth, port80,
	    out);
done:
	mbuf_free(&full);
	free(host);
	free(nhost);
}

/* uri_list_canonicalize of one URI U into OUT; redirect targets go to
 * TODO (canonicalised by the caller in turn). */
static void
canon_one(const struct gh_uri_policy *p, const char *u0, size_t n0,
    bool flagged, struct uset *todo, struct uset *out)
{
	struct mbuf	 u = { 0 }, nu = { 0 }, t = { 0 };
	size_t		 i, s, e;

	/* s/\n//g; trim; s/\r//g */
	for (i = 0; i < n0; i++)
		if (u0[i] != '\n')
			mbuf_addc(&u, u0[i]);
	for (s = 0; s < u.len && isspace((unsigned char)u.p[s]); s++)
		;
	for (e = u.len; e > s && isspace((unsigned char)u.p[e - 1]); e--)
		;
	for (i = s; i < e; i++)
		if (u.p[i] != '\r')
			mbuf_addc(&t, u.p[i]);
	mbuf_free(&u);
	u = t;
	memset(&t, 0, sizeof(t));
	if (u.err)
		goto oom;
	/* The link itself is always one of the results. */
	uset__add(out, u.p ? u.p : "", u.len);
	if (u.len <= 1 || u.p[0] == '#' || u.p[0] == '?' || u.p[0] == '&' ||
	    (u.p[0] == '/' && u.p[1] != '/'))
		goto done;
	/* mail: ^mailto: or ^[^:]*@ */
	{
		size_t	c = strcspn(u.p, ":@");

		if (strncasecmp(u.p, "mailto:", 7) == 0 ||
		    (c < u.len && u.p[c] == '@')) {
			canon_mail(u.p, u.len, out);
			goto done;
		}
	}
	/* tr{\\}{/} and http:www.x -> http://www.x */
	for (i = 0; i < u.len; i++)
		mbuf_addc(&nu, u.p[i] == '\\' ? '/' : u.p[i]);
	if (nu.err)
		goto oom;
	for (i = 0; i < 5 && i < nu.len; i++)
		;
	{
		size_t	sl = 0;

		if (strncasecmp(nu.p, "https:", 6) == 0)
			sl = 6;
		else if (strncasecmp(nu.p, "http:", 5) == 0)
			sl = 5;
		if (sl > 0) {
			size_t	k = sl;

			while (k < sl + 2 && k < nu.len && nu.p[k] == '/')
				k++;
			mbuf_add(&t, nu.p, sl);
			mbuf_adds(&t, "//");
			mbuf_add(&t, nu.p + k, nu.len - k);
			mbuf_free(&nu);
			nu = t;
			memset(&t, 0, sizeof(t));
		}
	}
	if (has_pct(nu.p, nu.len)) {
		url_encode(nu.p, nu.len, flagged, &t);
		mbuf_free(&nu);
		nu = t;
		memset(&t, 0, sizeof(t));
	}
	/* no scheme: ftp:// for ftp., else http:// */
	for (i = 0; i < nu.len && (isalnum((unsigned char)nu.p[i]) ||
	    nu.p[i] == '-' || nu.p[i] == '_'); i++)
		;
	if (!(i > 0 && i < nu.len && nu.p[i] == ':')) {
		mbuf_adds(&t, strncmp(nu.p, "ftp.", 4) == 0 ? "ftp://" :
		    "http://");
		mbuf_add(&t, nu.p, nu.len);
		mbuf_free(&nu);
		nu = t;
		memset(&t, 0, sizeof(t));
	}
	/* s{^(https?://[^/?#]+)([?#])}{$1/$2}i */
	{
		size_t	pl = strncasecmp(nu.p, "https://", 8) == 0 ? 8 :
		    strncasecmp(nu.p, "http://", 7) == 0 ? 7 : 0;

		if (pl > 0) {
			for (i = pl; i < nu.len && !strchr("/?#", nu.p[i]);
			    i++)
				;
			if (i > pl && i < nu.len && (nu.p[i] == '?' ||
			    nu.p[i] == '#')) {
				mbuf_add(&t, nu.p, i);
				mbuf_addc(&t, '/');
				mbuf_add(&t, nu.p + i, nu.len - i);
				mbuf_free(&nu);
				nu = t;
				memset(&t, 0, sizeof(t));
			}
		}
	}
	decode_numeric(nu.p, nu.len, &t);
	mbuf_free(&nu);
	nu = t;
	memset(&t, 0, sizeof(t));
	if (nu.err)
		goto oom;
	if (nu.len != u.len || memcmp(nu.p, u.p, u.len) != 0)
		uset__add(out, nu.p, nu.len);
	canon_http(p, nu.p, nu.len, todo, out);
	goto done;
oom:
	out->err = ENOMEM;
done:
	mbuf_free(&t);
	mbuf_free(&nu);
	mbuf_free(&u);
}

/* Canonicalise U, its redirect targets in turn, into OUT. */
static void
canonicalize(const struct gh_uri_policy *p, const char *u, size_t n,
    bool flagged, struct uset *out)
{
	struct uset	todo = { 0 };
	size_t		i;

	uset__add(&todo, u, n);
	/* Each target is looked at once; a loop of redirects ends. */
	for (i = 0; i < todo.n && i < 64 && !out->err; i++)
		canon_one(p, todo.s[i], todo.len[i], flagged, &todo, out);
	for (; i < todo.n; i++)
		uset__add(out, todo.s[i], todo.len[i]);
	if (todo.err)
		out->err = todo.err;
	uset__free(&todo);
}

/* Add the canonical forms of U, cut to MAX_URI_LENGTH, to OUT; with
 * NEED_DOMAIN only when one of them has a valid domain. */
static void
add_detail(const struct gh_uri_policy *p, const char *u, size_t n,
    bool flagged, bool need_domain, struct uset *out)
{
	struct uset	c = { 0 };
	size_t		i;
	bool		dom = false;

	canonicalize(p, u, n, flagged, &c);
	for (i = 0; i < c.n; i++) {
		if (c.len[i] > MAX_URI_LENGTH)
			c.len[i] = MAX_URI_LENGTH;
		if (!dom && has_domain(p, c.s[i], c.len[i]))
			dom = true;
	}
	if (!need_domain || dom)
		for (i = 0; i < c.n; i++)
			uset__add(out, c.s[i], c.len[i]);
	if (c.err)
		out->err = c.err;
	uset__free(&c);
}

/* A link found in HTML. */
void
uri__from_html(const struct gh_uri_policy *p, const char *u, size_t n,
    bool flagged, struct uset *out)
{
	add_detail(p, u, n, flagged, false, out);
}

/* The raw link R of kind KIND ('s'cheme, 'm'ail, 'h'ost) from text. */
static void
text_link(const struct gh_uri_policy *p, char kind, const char *r,
    size_t n, const char *sch, size_t schl, struct uset *seen,
    struct uset *out)
{
	struct mbuf	 u = { 0 }, t = { 0 };
	const char	*q;
	size_t		 i, k;
	char		 low[256];

	/* s/(^[^(]*)\).*$/$1/: cut at the last ')' before any '(' */
	for (i = 0; i < n && r[i] != '('; i++)
		;
	for (k = i; k > 0 && r[k - 1] != ')'; k--)
		;
	if (k > 0)
		n = k - 1;
	/* s/[-~!@#^&*()_+=:;\'?,.]*$// */
	while (n > 0 && strchr("-~!@#^&*()_+=:;'?,.", r[n - 1]) != NULL &&
	    r[n - 1] != '\0')
		n--;
	if (!uset__add(seen, r, n))
		return;
	if (kind == 'm' && memchr(r, '@', n) == NULL)
		return;
	if (sch != NULL) {
		if (schl >= sizeof(low))
			return;
		for (i = 0; i < schl; i++)
			low[i] = (char)tolower((unsigned char)sch[i]);
		if (!fqdn_valid(low, schl))
			return;
	}
	if (n >= 4 && (strncasecmp(r, "cid:", 4) == 0 ||
	    strncasecmp(r, "mid:", 4) == 0))
		return;
	/* /^\w+:\/{0,2}$/ */
	for (i = 0; i < n && (isalnum((unsigned char)r[i]) || r[i] == '_'); i++)
		;
	if (i > 0 && i < n && r[i] == ':') {
		k = i + 1;
		while (k < n && k < i + 3 && r[k] == '/')
			k++;
		if (k == n)
			return;
	}
	if (!(strncasecmp(r, "http:", 5) == 0 ||
	    strncasecmp(r, "https:", 6) == 0 || strncasecmp(r, "ftp:", 4) == 0 ||
	    strncasecmp(r, "mailto:", 7) == 0)) {
		const char	*at = memchr(r, '@', n), *sl = memchr(r, '/', n);

		if (n >= 4 && strncasecmp(r, "ftp.", 4) == 0) {
			mbuf_adds(&u, "ftp://");
		} else if (n >= 4 && strncasecmp(r, "www", 3) == 0 &&
		    (k = 3 + strspn(r + 3, "0123456789")) <= 5 && k < n &&
		    r[k] == '.' && (size_t)(k - 3) <= 2) {
			mbuf_adds(&u, "http://");
		} else if (sl != NULL && at != NULL &&
		    memchr(sl + 2 <= r + n ? sl + 2 : r + n, '@',
		    (size_t)(r + n - (sl + 2 <= r + n ? sl + 2 : r + n))) !=
		    NULL) {
			mbuf_adds(&u, "http://");
		} else if (at != NULL) {
			/* /\@.+?\./, no "&nbsp;" */
			q = memchr(at + 1, '.', (size_t)(r + n - at - 1));
			if (q == NULL || q == at + 1 ||
			    memmem(r, n, "&nbsp;", 6) != NULL)
				goto done;
			/* s/^(?:skype|e?-?mail)?:+//i */
			i = 0;
			if (n >= 5 && strncasecmp(r, "skype", 5) == 0 &&
			    n > 5 && r[5] == ':')
				i = 5;
			else {
				k = 0;
				if (k < n && (r[k] == 'e' || r[k] == 'E'))
					k++;
				if (k < n && r[k] == '-')
					k++;
				if (k + 4 <= n && strncasecmp(r + k, "mail",
				    4) == 0 && k + 4 < n && r[k + 4] == ':')
					i = k + 4;
			}
			while (i < n && r[i] == ':')
				i++;
			r += i;
			n -= i;
			mbuf_adds(&u, "mailto:");
		} else {
			if (memchr(r, '.', n) == NULL)
				goto done;
			mbuf_adds(&u, "http://");
		}
	}
	mbuf_add(&u, r, n);
	if (u.err)
		goto done;
	if (strncasecmp(u.p, "mailto:", 7) == 0) {
		const char	*at, *he;

		if (has_pct(u.p, u.len)) {
			url_encode(u.p, u.len, false, &t);
			mbuf_free(&u);
			u = t;
			memset(&t, 0, sizeof(t));
			if (u.err)
				goto done;
		}
		if ((at = memchr(u.p, '@', u.len)) == NULL)
			goto done;
		for (he = at + 1; he < u.p + u.len && !strchr("?&>", *he); he++)
			;
		k = (size_t)(he - at - 1);
		while (k >= 3 && !memcmp(at + 1 + k - 3, "%20", 3))
			k -= 3;
		if (!domain_valid(p, at + 1, k))
			goto done;
	}
	add_detail(p, u.p, u.len, false, true, out);
done:
	mbuf_free(&t);
	mbuf_free(&u);
}

/* True for the bytes \s matches in a pattern without UTF or UCP. */
static inline bool
re_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* True if byte C ends the links of _tbirdurire's scheme branch. */
static inline bool
link_stop(unsigned char c)
{
	return c == '>' || c == '<' || c == '"' || c == '`' || c == '}' ||
	    c == ']' || c == '{' || c == '[' || c == '|' || c == 0x1b ||
	    c == 0xa0 || re_space(c);
}

/*
 * True if byte I of the run S[0..N) can be the byte every match of
 * _tbirdurire needs: an '@'; the ':' of "://" or of "mailto:"; the '.'
 * of "www.", "ftp." or before a TLD, which a byte of the link follows.
 */
static inline bool
link_key(const char *s, size_t i, size_t n)
{
	switch (s[i]) {
	case '@':
		return true;
	case ':':
		return (i + 1 < n && s[i + 1] == '/') ||
		    (i > 0 && (s[i - 1] == 'o' || s[i - 1] == 'O'));
	case '.':
		return i + 1 < n && !link_stop((unsigned char)s[i + 1]);
	default:
		return false;
	}
}

/*
 * The next run of non-space bytes at or after *OFF in LINE (N bytes)
 * that holds a link_key() byte: its bounds in *OFF and *END.  False if
 * there is none.
 */
static bool
next_token(const char *line, size_t n, size_t *off, size_t *end)
{
	/* 1: a \s byte; 2: a byte link_key() may accept */
	static const unsigned char cls[256] = {
		[' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1,
		['\r'] = 1, ['@'] = 2, [':'] = 2, ['.'] = 2,
	};
	size_t i = *off, start, e;
	bool any;
	unsigned char c;

	while (i < n) {
		while (i < n && cls[(unsigned char)line[i]] == 1)
			i++;
		start = i;
		any = false;
		/* one pass: link_key() may look past the run's end, where
		 * a \s byte (or the line's end) answers as the run's end */
		for (e = i; e < n && (c = cls[(unsigned char)line[e]]) != 1;
		    e++)
			if (c == 2 && !any)
				any = link_key(line + start, e - start,
				    n - start);
		i = e;
		if (any) {
			*off = start;
			*end = e;
			return true;
		}
	}
	return false;
}

/*
 * Links in one line of rendered text.  The regex runs only on the
 * runs of non-space bytes that hold a link_key() byte (next_token()),
 * with the subject cut at the run's end: a match holds no \s byte and
 * one such byte (every branch needs "://", "mailto:", "www.", "ftp.",
 * '@' or a '.' before a TLD), and at the cut the pattern
 * sees the same as at the space that follows (\z and \s satisfy the
 * same lookaheads, \b and the negative lookaheads alike); lookbehinds
 * still see the bytes before the run.  So the matches are those of a
 * search over the whole line, for a fraction of the attempts (the
 * bare-domain branch scans every word to its end).
 */
void
uri__from_text(const struct gh_uri_policy *p, const char *line, size_t n,
    struct uset *seen, struct uset *out)
{
	pcre2_match_data	*md;
	PCRE2_SIZE		*ov;
	size_t			 off = 0, end = 0;
	int			 rc, g;

	if (p == NULL || p->tbird == NULL)
		return;
	if (!next_token(line, n, &off, &end))
		return;
	if ((md = pcre2_match_data_create_from_pattern(p->tbird, NULL)) ==
	    NULL) {
		out->err = ENOMEM;
		return;
	}
	for (;;) {
		rc = off < end ? pcre2_match(p->tbird, (PCRE2_SPTR)line, end,
		    off, 0, md, NULL) : -1;
		if (rc < 0) {
			off = end;
			if (!next_token(line, n, &off, &end))
				break;
			continue;
		}
		ov = pcre2_get_ovector_pointer(md);
		for (g = 1; g <= 3; g++)
			if (rc > g && ov[2 * g] != PCRE2_UNSET)
				break;
		if (g <= 3)
			text_link(p, g == 1 ? 's' : g == 2 ? 'm' : 'h',
			    line + ov[2 * g], ov[2 * g + 1] - ov[2 * g],
			    rc > 4 && ov[8] != PCRE2_UNSET ? line + ov[8] :
			    NULL, rc > 4 && ov[8] != PCRE2_UNSET ?
			    ov[9] - ov[8] : 0, seen, out);
		off = ov[1] > off ? ov[1] : off + 1;
	}
	pcre2_match_data_free(md);
}
