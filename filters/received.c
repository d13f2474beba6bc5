/*
 * received.c — Received header fields parsed into relays (ip, rdns,
 * helo, by, ident, envfrom, id, auth), the trust path over them and
 * the relay strings SpamAssassin 4.0.1 matches header rules against
 * (X-Spam-Relays-Trusted/-Untrusted/-Internal/-External): a port of
 * Mail::SpamAssassin::Message::Metadata::Received.  The formats are
 * tried in SpamAssassin's order with SpamAssassin's regular
 * expressions (PCRE2, byte mode), because the strings must come out
 * identical: rules such as __RDNS_NONE read them.
 *
 * Trust: gatehouse has no trusted_networks of SpamAssassin's kind, so
 * the inference SpamAssassin applies without one is the rule: relays
 * are trusted (and internal) from the top while each has a private
 * address (IP_PRIVATE) or says it authenticated; the first other one
 * and everything after it are untrusted (and external).  A fetchmail
 * or getmail marker inside the trusted part restarts the lists.
 *
 * Invariants: the compiled expressions (received_re.h) are one
 * process-wide, read-only table (pthread_once, JIT where allowed);
 * every match has a match limit, and a depth limit when interpreted
 * (a limit reached is no match); a field longer than GH_RCVD_LINE_MAX
 * is unparseable, and at most GH_RCVD_MAX fields are looked at.
 *
 * Failure: -2 / -1 on ENOMEM or when the table cannot be compiled (a
 * broken invariant, logged once); never aborts on input.
 */
#include "filters/received.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "filters/filter.h"
#include "filters/log.h"
#include "filters/message.h"
#include "filters/util.h"

#include "filters/received_re.h"

/* The compiled table: one per process, read-only once built. */
static pcre2_code	*re_code[R_COUNT];
static pthread_once_t	 re_once = PTHREAD_ONCE_INIT;
static bool		 re_ok;

/* Compile every expression (pthread_once). */
static void
re_init(void)
{
	PCRE2_SIZE	 eo;
	int		 ec, i;

	for (i = 0; i < R_COUNT; i++) {
		if (pat[i].re == NULL)
			continue;
		re_code[i] = pcre2_compile((PCRE2_SPTR)pat[i].re,
		    PCRE2_ZERO_TERMINATED, pat[i].flags, &ec, &eo, NULL);
		if (re_code[i] == NULL) {
			PCRE2_UCHAR	 msg[120];

			pcre2_get_error_message(ec, msg, sizeof(msg));
			log_warn("received: expression %d at %zu: %s", i,
			    (size_t)eo, msg);
			return;
		}
		/* JIT where the system allows; the interpreter otherwise */
		(void)pcre2_jit_compile(re_code[i], PCRE2_JIT_COMPLETE);
	}
	re_ok = true;
}

/* Compile the table now, not on the first message; -1 if it cannot be. */
int
gh_received_init(void)
{
	pthread_once(&re_once, re_init);
	return re_ok ? 0 : -1;
}

/* The working state of one parse: the line and the last match. */
struct rx {
	char			*s;		/* the line being parsed */
	size_t			 len;
	const char		*subj;		/* subject of the last match */
	pcre2_match_data	*md;
	pcre2_match_context	*mc;
	bool			 oom;
};

/* Match expression ID against STR (LEN bytes); a limit is no match. */
static bool
ms(struct rx *x, enum re id, const char *str, size_t len)
{
	int	 rc;

	if (re_code[id] == NULL)
		return false;
	rc = pcre2_match(re_code[id], (PCRE2_SPTR)str, len, 0, 0, x->md,
	    x->mc);
	x->subj = str;
	return rc >= 0;
}

/* Match expression ID against the line. */
static bool
m(struct rx *x, enum re id)
{
	return ms(x, id, x->s, x->len);
}

/* Whether group N of the last match took part. */
static bool
cap_set(struct rx *x, int n)
{
	PCRE2_SIZE	*ov = pcre2_get_ovector_pointer(x->md);

	return (uint32_t)n < pcre2_get_ovector_count(x->md) &&
	    ov[2 * n] != PCRE2_UNSET;
}

/* Replace *DST with group N of the last match ("" when unset). */
static void
cap(struct rx *x, int n, char **dst)
{
	PCRE2_SIZE	*ov = pcre2_get_ovector_pointer(x->md);
	char		*v;
	size_t		 l = 0;

	if (cap_set(x, n))
		l = ov[2 * n + 1] - ov[2 * n];
	if ((v = malloc(l + 1)) == NULL) {
		x->oom = true;
		return;
	}
	if (l)
		memcpy(v, x->subj + ov[2 * n], l);
	v[l] = '\0';
	free(*dst);
	*dst = v;
}

/* Set *DST to a copy of S. */
static void
setstr(struct rx *x, char **dst, const char *s)
{
	char	*v = strdup(s);

	if (v == NULL) {
		x->oom = true;
		return;
	}
	free(*dst);
	*dst = v;
}

/*
 * Perl's s/RE/REP/ (GLOBAL: s///g) on the NUL-terminated *STR, which
 * is replaced.  Returns whether anything was substituted.
 */
static bool
subst(struct rx *x, enum re id, char **str, const char *rep, bool global)
{
	size_t		 len = strlen(*str), outlen = len + strlen(rep) * 4 + 16;
	char		*out;
	int		 rc;

	if (re_code[id] == NULL)
		return false;
	for (;;) {
		PCRE2_SIZE	 ol = outlen;

		if ((out = malloc(outlen)) == NULL) {
			x->oom = true;
			return false;
		}
		rc = pcre2_substitute(re_code[id], (PCRE2_SPTR)*str, len, 0,
		    PCRE2_SUBSTITUTE_OVERFLOW_LENGTH | (global ?
		    PCRE2_SUBSTITUTE_GLOBAL : 0), NULL, x->mc,
		    (PCRE2_SPTR)rep, PCRE2_ZERO_TERMINATED,
		    (PCRE2_UCHAR *)out, &ol);
		if (rc == PCRE2_ERROR_NOMEMORY && ol + 1 > outlen) {
			free(out);
			outlen = ol + 1;
			continue;
		}
		break;
	}
	if (rc <= 0) {
		free(out);
		return false;
	}
	free(*str);
	*str = out;
	return true;
}

/* Substitute on the line itself. */
static bool
subst_line(struct rx *x, enum re id, const char *rep)
{
	bool	 r = subst(x, id, &x->s, rep, false);

	x->len = strlen(x->s);
	return r;
}

/* Drop the first LEN bytes of the line (s/^from //). */
static void
chop_front(struct rx *x, size_t n)
{
	memmove(x->s, x->s + n, x->len - n + 1);
	x->len -= n;
}

/* $sub =~ s/helo=(\S+)// and $helo = $1; then the same for ident=. */
static void
exim_sub(struct rx *x, struct gh_relay *r, char **sub)
{
	if (ms(x, R_SUB_HELO, *sub, strlen(*sub))) {
		cap(x, 1, &r->helo);
		subst(x, R_SUB_HELO, sub, "", false);
	}
	if (ms(x, R_SUB_IDENT, *sub, strlen(*sub))) {
		cap(x, 1, &r->ident);
		subst(x, R_SUB_IDENT, sub, "", false);
	}
}

/* Strip one leading "X@" (IDENT lookups) from the rdns into ident. */
static void
rdns_ident(struct rx *x, struct gh_relay *r)
{
	char	*at;

	if (strncmp(r->rdns, "IDENT:", 6) == 0 &&
	    (at = strchr(r->rdns + 6, '@')) != NULL) {
		char	*id = strndup(r->rdns + 6, (size_t)(at - r->rdns - 6));

		if (id == NULL) {
			x->oom = true;
			return;
		}
		free(r->ident);
		r->ident = id;
		memmove(r->rdns, at + 1, strlen(at + 1) + 1);
	}
	if ((at = strchr(r->rdns, '@')) != NULL) {
		char	*id = strndup(r->rdns, (size_t)(at - r->rdns));

		if (id == NULL) {
			x->oom = true;
			return;
		}
		free(r->ident);
		r->ident = id;
		memmove(r->rdns, at + 1, strlen(at + 1) + 1);
	}
}

/* Set fields from groups: F is a list of (field, group) pairs. */
struct fmap {
	size_t	 off;		/* offsetof the field in struct gh_relay */
	int	 group;
};
#define F_IP	offsetof(struct gh_relay, ip)
#define F_RDNS	offsetof(struct gh_relay, rdns)
#define F_HELO	offsetof(struct gh_relay, helo)
#define F_BY	offsetof(struct gh_relay, by)
#define F_IDENT	offsetof(struct gh_relay, ident)
#define F_ID	offsetof(struct gh_relay, id)

/* Copy each mapped group into its field. */
static void
setf(struct rx *x, struct gh_relay *r, const struct fmap *f, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		cap(x, f[i].group, (char **)((char *)r + f[i].off));
}

#define SET(...) do {							\
	static const struct fmap fm_[] = { __VA_ARGS__ };		\
	setf(x, r, fm_, sizeof(fm_) / sizeof(fm_[0]));			\
} while (0)

/* Results of the format tables. */
enum pr { P_ENOUGH, P_SKIP, P_FALL, P_POP };

/*
 * Simple formats of the "from" branch, in order: the expression and
 * the groups that give ip, rdns, helo, by (0: not set).
 */
static const struct simple {
	enum re	 re, pre;	/* pre: a cheap test first, or 0 */
	int8_t	 ip, rdns, helo, by;
} simple1[] = {
	{ R_EXCH55, 0, 3, 2, 1, 4 },
	{ R_HELOEQ, 0, 2, 1, 3, 4 },
	{ R_UNKDOM, 0, 2, 0, 1, 3 },
	{ R_ATTBI, 0, 3, 2, 1, 4 },
}, simple2[] = {
	{ R_QPSMTPD, 0, 3, 1, 2, 4 },
	{ R_LHLO, 0, 3, 1, 2, 4 },
	{ R_GMXEHLO, 0, 3, 1, 2, 4 },
	{ R_SMTPD_FOR, 0, 2, 0, 1, 3 },
}, simple3[] = {
	{ R_VIAHTTP2, R_VIAHTTP_END, 1, 0, 0, 2 },
	{ R_ASUSER, 0, 2, 0, 0, 3 },
	{ R_PAREN2, 0, 2, 0, 1, 3 },
	{ R_BRIP_BY, 0, 1, 0, 0, 2 },
	{ R_PARENIP, 0, 1, 0, 0, 2 },
	{ R_MDAEMON, 0, 2, 0, 1, 3 },
	{ R_MDAEMON2, 0, 2, 0, 1, 3 },
	{ R_SENDMAIL2, 0, 2, 0, 1, 3 },
}, simple4[] = {
	{ R_JSOLIDAY, 0, 2, 0, 1, 3 },
	{ R_ROISSY, 0, 3, 2, 1, 4 },
}, simple5[] = {
	{ R_HTTPFOR2, R_HTTPFOR1, 1, 0, 0, 2 },
	{ R_SMAP2, R_SMAP1, 2, 1, 0, 3 },
	{ R_SMAP3, 0, 2, 1, 3, 4 },
	{ R_POST2, R_POST1, 1, 0, 0, 2 },
	{ R_ARGO2, R_ARGO1, 1, 0, 0, 2 },
	{ R_SMTPL, 0, 1, 0, 0, 2 },
}, simple6[] = {
	{ R_SPIKE, 0, 3, 2, 1, 4 },
}, simple7[] = {
	{ R_CGP_ACCT, 0, 1, 0, 2, 3 },
	{ R_CGP_VER2, R_CGP_VER1, 2, 1, 1, 3 },
	{ R_CIPHERTRUST, 0, 1, 0, 0, 2 },
	{ R_IRONPORT, 0, 2, 0, 1, 3 },
}, simple8[] = {
	{ R_BLS, 0, 2, 0, 1, 4 },
	{ R_IPBYWITH, 0, 1, 0, 0, 2 },
	{ R_POBOX, 0, 3, 2, 1, 4 },
	{ R_FSECURE, 0, 1, 0, 2, 3 },
	{ R_ALTAVISTA, 0, 1, 0, 2, 3 },
	{ R_OEM, 0, 2, 0, 1, 3 },
	{ R_NODNS, 0, 2, 1, 0, 3 },
	{ R_MAILGATE, 0, 1, 0, 0, 2 },
	{ R_UNVERIFIED, 0, 2, 0, 1, 3 },
	{ R_PROXYING, 0, 1, 0, 0, 2 },
}, simple9[] = {
	{ R_EMAILINFO, 0, 2, 1, 0, 3 },
	{ R_OBTUSE, 0, 2, 1, 3, 4 },
	{ R_YAHOOLOGIN, 0, 3, 0, 1, 4 },
};

/* Try a table of simple formats; true (fields set) on the first hit. */
static bool
try_simple(struct rx *x, struct gh_relay *r, const struct simple *t,
    size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (t[i].pre && !m(x, t[i].pre))
			continue;
		if (!m(x, t[i].re))
			continue;
		if (t[i].ip)
			cap(x, t[i].ip, &r->ip);
		if (t[i].rdns)
			cap(x, t[i].rdns, &r->rdns);
		if (t[i].helo)
			cap(x, t[i].helo, &r->helo);
		if (t[i].by)
			cap(x, t[i].by, &r->by);
		return true;
	}
	return false;
}

#define TRY(t)	do { if (try_simple(x, r, t, sizeof(t) / sizeof(t[0]))) \
	return P_ENOUGH; } while (0)

/* Perl's \s (ASCII): space, \t, \n, \v, \f, \r. */
static bool
is_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* s/[\s\000\#\[\]\(\)\<\>\|]/!/gs: flag characters that are not safe. */
static void
strip_chars(char *s)
{
	for (; *s; s++)
		if (is_space((unsigned char)*s) || strchr("#[]()<>|", *s))
			*s = '!';
}

/* The envelope sender: leading space and '<', trailing '>' and space cut
 * as SpamAssassin's two substitutions do, then strip_chars. */
static void
envfrom_clean(struct rx *x, char **e)
{
	char	*s = *e, *end;

	(void)x;
	while (is_space((unsigned char)*s))
		s++;
	while (*s == '<')
		s++;
	end = s + strlen(s);
	while (end > s && is_space((unsigned char)end[-1]))
		end--;
	while (end > s && end[-1] == '>')
		end--;
	memmove(*e, s, (size_t)(end - s));
	(*e)[end - s] = '\0';
	strip_chars(*e);
}

/* The MTA-specific formats (SMTPSVC ... Lotus Domino), one elsif. */
static enum pr
mta_formats(struct rx *x, struct gh_relay *r)
{
	char	*sub = NULL;

	if (m(x, R_SMTPSVC)) {
		if (m(x, R_SMTPSVC1)) {
			SET({ F_HELO, 1 }, { F_IP, 2 }, { F_BY, 3 });
			return P_ENOUGH;
		}
		if (m(x, R_SMTPSVC2))
			return P_SKIP;
	} else if (m(x, R_MSSMTP)) {
		if (m(x, R_MSSMTP1)) {
			SET({ F_HELO, 1 }, { F_IP, 2 }, { F_BY, 3 });
			setstr(x, &r->id, "");
			return P_ENOUGH;
		}
	} else if (m(x, R_XMAIL)) {
		if (m(x, R_XMAIL1)) {
			SET({ F_HELO, 1 }, { F_IP, 2 }, { F_BY, 3 });
			if (m(x, R_XMAIL_ID))
				cap(x, 1, &r->id);
			if (m(x, R_XMAIL_FROM)) {
				cap(x, 1, &r->envfrom);
				r->has_envfrom = true;
			}
			return P_ENOUGH;
		}
	} else if (m(x, R_ECEL)) {
		if (m(x, R_ECEL1)) {
			SET({ F_IP, 1 }, { F_HELO, 2 }, { F_BY, 3 });
			return P_ENOUGH;
		}
		if (m(x, R_ECEL2)) {
			SET({ F_IP, 1 }, { F_BY, 2 });
			return P_ENOUGH;
		}
	} else if (m(x, R_EXIM)) {
		if (m(x, R_EXIM_LOCAL))
			return P_SKIP;
		if (m(x, R_EXIM1)) {
			SET({ F_IP, 1 }, { F_BY, 3 });
			cap(x, 2, &sub);
			if (sub != NULL)
				exim_sub(x, r, &sub);
			free(sub);
			return P_ENOUGH;
		}
		if (m(x, R_EXIM2)) {
			SET({ F_RDNS, 1 }, { F_HELO, 1 }, { F_IP, 2 },
			    { F_BY, 4 });
			cap(x, 3, &sub);
			if (sub != NULL)
				exim_sub(x, r, &sub);
			free(sub);
			return P_ENOUGH;
		}
		if (m(x, R_EXIM3)) {
			SET({ F_RDNS, 1 }, { F_HELO, 1 }, { F_IP, 2 },
			    { F_BY, 4 });
			return P_ENOUGH;
		}
		/* odd Exim formats: little bits of the field */
		if (m(x, R_EXIM4A))
			cap(x, 1, &r->rdns);
		if (m(x, R_EXIM4B))
			cap(x, 1, &r->helo);
		if (m(x, R_EXIM4C))
			cap(x, 1, &r->ip);
		if (m(x, R_EXIM4D)) {
			cap(x, 1, &r->by);
			if (r->ip[0])
				return P_ENOUGH;
		}
	} else if (m(x, R_POSTFIX)) {
		if (m(x, R_POSTFIX1) || m(x, R_POSTFIX2)) {
			SET({ F_HELO, 1 }, { F_RDNS, 2 }, { F_IP, 3 },
			    { F_BY, 4 });
			if (strcmp(r->rdns, "unknown") == 0)
				r->rdns[0] = '\0';
			return P_ENOUGH;
		}
	} else if (m(x, R_SCALIX)) {
		if (m(x, R_SCALIX1)) {
			SET({ F_HELO, 1 }, { F_IP, 2 }, { F_BY, 3 });
			return P_ENOUGH;
		}
	} else if (m(x, R_DOMINO)) {
		if (m(x, R_DOMINO1)) {
			SET({ F_HELO, 1 }, { F_IP, 2 }, { F_BY, 3 });
			return P_ENOUGH;
		}
	}
	return P_FALL;
}

/* qmail and its many patches (Received.pm's "MiB" block). */
static enum pr
qmail_formats(struct rx *x, struct gh_relay *r)
{
	if (!m(x, R_QMAIL))
		return P_FALL;
	if (m(x, R_QMAIL1))
		SET({ F_RDNS, 1 }, { F_HELO, 2 }, { F_IDENT, 3 }, { F_IP, 4 },
		    { F_BY, 6 });
	else if (m(x, R_QMAIL2))
		SET({ F_RDNS, 1 }, { F_HELO, 2 }, { F_IP, 3 }, { F_BY, 5 });
	else if (m(x, R_QMAIL3))
		SET({ F_HELO, 1 }, { F_RDNS, 1 }, { F_IDENT, 2 }, { F_IP, 3 },
		    { F_BY, 5 });
	else if (m(x, R_QMAIL4))
		SET({ F_HELO, 1 }, { F_RDNS, 1 }, { F_IP, 2 }, { F_BY, 4 });
	if (strcmp(r->rdns, "unknown") == 0)
		r->rdns[0] = '\0';
	return P_ENOUGH;
}

/* Drop a trailing '@' from the ident ($ident =~ s/\@$//). */
static void
ident_at(struct gh_relay *r)
{
	size_t	 l = strlen(r->ident);

	if (l > 0 && r->ident[l - 1] == '@')
		r->ident[l - 1] = '\0';
}

/* The generic formats after the MTA-specific ones. */
static enum pr
generic_formats(struct rx *x, struct gh_relay *r)
{
	char	*sub = NULL;

	if (m(x, R_WITHHTTP) && m(x, R_HTTP1)) {
		SET({ F_IP, 1 }, { F_BY, 2 });
		return P_ENOUGH;
	}
	if (!m(x, R_QMAILLDAP) && m(x, R_SENDMAIL1)) {
		SET({ F_HELO, 1 }, { F_RDNS, 2 }, { F_IP, 3 }, { F_BY, 4 });
		rdns_ident(x, r);
		return P_ENOUGH;
	}
	TRY(simple1);
	if (m(x, R_IDENTAT)) {
		SET({ F_HELO, 1 }, { F_IDENT, 2 }, { F_IP, 3 }, { F_BY, 4 });
		return P_ENOUGH;
	}
	if (m(x, R_HOTMAIL)) {
		cap(x, 1, &r->by);
		if (m(x, R_IPSP))
			cap(x, 1, &r->ip);
		return P_ENOUGH;
	}
	TRY(simple2);
	if (qmail_formats(x, r) == P_ENOUGH)
		return P_ENOUGH;
	TRY(simple3);
	if (m(x, R_SENDMAIL3)) {
		PCRE2_SIZE	*ov = pcre2_get_ovector_pointer(x->md);

		if (!(ov[5] - ov[4] == 10 &&
		    memcmp(x->s + ov[4], "softdnserr", 10) == 0))
			cap(x, 2, &r->rdns);
		SET({ F_HELO, 1 }, { F_IP, 3 }, { F_BY, 4 });
		return P_ENOUGH;
	}
	TRY(simple4);
	if (m(x, R_POPIMAP))
		return P_POP;
	if (m(x, R_QMAILISH1)) {
		SET({ F_RDNS, 1 }, { F_HELO, 2 }, { F_IDENT, 3 }, { F_IP, 4 },
		    { F_BY, 5 });
		ident_at(r);
		return P_ENOUGH;
	}
	if (m(x, R_QMAILISH2)) {
		SET({ F_RDNS, 1 }, { F_HELO, 1 }, { F_IDENT, 2 }, { F_IP, 3 },
		    { F_BY, 4 });
		ident_at(r);
		return P_ENOUGH;
	}
	TRY(simple5);
	if (m(x, R_BSMTP1) && m(x, R_BSMTP2))
		return P_SKIP;
	TRY(simple6);
	if (m(x, R_YAHOOHELO)) {
		SET({ F_RDNS, 1 }, { F_HELO, 2 }, { F_IP, 4 }, { F_BY, 5 });
		if (cap_set(x, 3))
			cap(x, 3, &r->ident);
		return P_ENOUGH;
	}
	TRY(simple7);
	if (m(x, R_CONTENTTECH))
		return P_SKIP;
	TRY(simple8);
	if (m(x, R_BRSUB)) {
		SET({ F_IP, 1 }, { F_BY, 3 });
		cap(x, 2, &sub);
		if (sub != NULL)
			exim_sub(x, r, &sub);
		free(sub);
		return P_ENOUGH;
	}
	TRY(simple9);
	if (m(x, R_XORIG)) {
		cap(x, 1, &r->ip);
		setstr(x, &r->by, "");
		return P_ENOUGH;
	}
	return P_FALL;
}

/*
 * The "from " branch, after "from " is cut: formats, then the forms
 * known to carry nothing useful (skipped), then a guessed HELO.
 * QMS_ENVFROM receives qmail-scanner's envelope sender (see build).
 */
static enum pr
from_branch(struct rx *x, struct gh_relay *r, char **qms_envfrom)
{
	enum pr	 p;
	int	 i;

	if (m(x, R_ENVFROM)) {
		cap(x, 1, &r->envfrom);
		r->has_envfrom = true;
	}
	if (m(x, R_SQUIRREL) && m(x, R_SQUIRREL2)) {
		SET({ F_IP, 1 }, { F_BY, 2 });
		return P_ENOUGH;
	}
	if (m(x, R_AOL1) && m(x, R_AOL2) && m(x, R_AOL3)) {
		SET({ F_IP, 1 }, { F_BY, 2 });
		return P_ENOUGH;
	}
	if ((p = mta_formats(x, r)) != P_FALL)
		return p;
	if ((p = generic_formats(x, r)) != P_FALL)
		return p;
	for (i = R_IGN_FIRST; i <= R_IGN_LAST; i++)
		if (m(x, (enum re)i))
			return P_SKIP;
	if (m(x, R_QMS)) {
		char	*e = NULL;

		if (r->has_envfrom) {
			if ((e = strdup(r->envfrom)) == NULL) {
				x->oom = true;
				return P_SKIP;
			}
			envfrom_clean(x, &e);
		}
		free(*qms_envfrom);
		*qms_envfrom = e;
		return P_SKIP;
	}
	for (i = R_IGN2_FIRST; i <= R_IGN2_LAST; i++)
		if (m(x, (enum re)i))
			return P_SKIP;
	if (r->helo[0] == '\0' && m(x, R_GUESSHELO))
		cap(x, 1, &r->helo);
	return P_FALL;
}

/* Release a relay's strings. */
void
gh_relay_clear(struct gh_relay *r)
{
	free(r->ip);
	free(r->rdns);
	free(r->helo);
	free(r->by);
	free(r->ident);
	free(r->envfrom);
	free(r->id);
	free(r->auth);
	free(r->as_string);
	memset(r, 0, sizeof(*r));
}

/* make_relay_as_string, with intl= from the relay. */
static int
as_string(struct gh_relay *r)
{
	free(r->as_string);
	if (asprintf(&r->as_string, "[ ip=%s rdns=%s helo=%s by=%s ident=%s "
	    "envfrom=%s intl=%d id=%s auth=%s msa=0 ]", r->ip, r->rdns,
	    r->helo, r->by, r->ident, r->envfrom, r->internal ? 1 : 0, r->id,
	    r->auth) == -1) {
		r->as_string = NULL;
		return -1;
	}
	return 0;
}

/* r->auth = PRE group A MID group B POST (B < 0: none), of the last match. */
static void
auth_join(struct rx *x, struct gh_relay *r, const char *pre, int ga,
    const char *mid, int gb, const char *post)
{
	PCRE2_SIZE	*ov = pcre2_get_ovector_pointer(x->md);
	char		*a;

	if (asprintf(&a, "%s%.*s%s%.*s%s", pre, (int)(ov[2 * ga + 1] -
	    ov[2 * ga]), x->s + ov[2 * ga], mid, gb < 0 ? 0 :
	    (int)(ov[2 * gb + 1] - ov[2 * gb]), gb < 0 ? "" :
	    x->s + ov[2 * gb], post) == -1) {
		x->oom = true;
		return;
	}
	free(r->auth);
	r->auth = a;
}

/* The authentication a field declares (Received.pm's $auth chain). */
static void
find_auth(struct rx *x, struct gh_relay *r)
{
	if (m(x, R_SP_BY) && m(x, R_AUTH_WITH))
		cap(x, 1, &r->auth);
	else if (m(x, R_GMAIL1) && m(x, R_GMAIL2))
		auth_join(x, r, "GMail - transport=", 1, " cipher=", 2, "");
	else if (m(x, R_COURIER))
		cap(x, 1, &r->auth);
	else if (m(x, R_AUTHENTICATED) && m(x, R_SENDMAIL_AUTH))
		setstr(x, &r->auth, "Sendmail");
	else if (m(x, R_GMX))
		auth_join(x, r, "GMX (", 4, " / ", 3, ")");
	else if (m(x, R_CP1) && m(x, R_CP2))
		setstr(x, &r->auth, "CriticalPath");
	else if (m(x, R_POSTFIX_AUTH)) {
		PCRE2_SIZE	*ov = pcre2_get_ovector_pointer(x->md);

		if (ov[3] - ov[2] == 7 && memcmp(x->s + ov[2], "Postfix",
		    7) == 0)
			setstr(x, &r->auth, "Postfix");
		else
			auth_join(x, r, "Postfix (", 1, "", -1, ")");
	} else if (m(x, R_CGP1) && m(x, R_CGP2))
		setstr(x, &r->auth, "Communigate");
	else if (m(x, R_DAV))
		setstr(x, &r->auth, "HTTP-DAV");
	else if (m(x, R_SP_BY) && m(x, R_VIAHTTP))
		cap(x, 1, &r->auth);
}

/* Collapse whitespace runs to one space, trim, drop trailing ";"s. */
static void
normalize(struct rx *x)
{
	size_t	 i, o = 0;
	bool	 sp = false;

	for (i = 0; i < x->len; i++) {
		if (is_space((unsigned char)x->s[i])) {
			sp = true;
			continue;
		}
		if (sp && o > 0)
			x->s[o++] = ' ';
		sp = false;
		x->s[o++] = x->s[i];
	}
	/* a leading space is dropped above; a trailing one never written */
	x->len = o;
	while (x->len > 0 && x->s[x->len - 1] == ';') {
		x->len--;
		if (x->len > 0 && is_space((unsigned char)x->s[x->len - 1]))
			x->len--;
	}
	x->s[x->len] = '\0';
}

/* After "enough": SpamAssassin's clean-up of the fields. */
static void
finish_fields(struct rx *x, struct gh_relay *r)
{
	size_t	 l = strlen(r->rdns);

	while (l > 0 && r->rdns[l - 1] == '.')
		r->rdns[--l] = '\0';
	if (ms(x, R_UNKNOWN, r->rdns, l) || r->rdns[0] == '[')
		r->rdns[0] = '\0';
	subst(x, R_IPV6PFX, &r->ip, "", false);
	if (r->ip[0] == '[')
		memmove(r->ip, r->ip + 1, strlen(r->ip));
	if ((l = strlen(r->ip)) > 0 && r->ip[l - 1] == ']')
		r->ip[l - 1] = '\0';
	subst(x, R_ZONE, &r->ip, "", false);
	subst(x, R_V4MAPPED, &r->ip, "$1", false);
	if ((l = strlen(r->by)) > 0 && r->by[l - 1] == ';')
		r->by[l - 1] = '\0';
	strip_chars(r->ip);
	strip_chars(r->rdns);
	strip_chars(r->helo);
	strip_chars(r->by);
	strip_chars(r->ident);
	if (r->has_envfrom)
		envfrom_clean(x, &r->envfrom);
	r->ip_private = ms(x, R_PRIVATE, r->ip, strlen(r->ip));
}

/* Give every string field a value, so none is NULL. */
static int
relay_init(struct gh_relay *r)
{
	memset(r, 0, sizeof(*r));
	if ((r->ip = strdup("")) == NULL || (r->rdns = strdup("")) == NULL ||
	    (r->helo = strdup("")) == NULL || (r->by = strdup("")) == NULL ||
	    (r->ident = strdup("")) == NULL ||
	    (r->envfrom = strdup("")) == NULL ||
	    (r->id = strdup("")) == NULL || (r->auth = strdup("")) == NULL) {
		gh_relay_clear(r);
		return -1;
	}
	return 0;
}

/* The parse of one line, with the fetcher marker and qmail-scanner. */
static int
parse_line(struct rx *x, struct gh_relay *r, bool *pop, char **qms)
{
	enum pr	 p = P_FALL;

	normalize(x);
	if (!m(x, R_FROMSTART) || m(x, R_WITHLOCALFOR))
		return 0;
	if (m(x, R_FROMBY)) {
		PCRE2_SIZE	*ov = pcre2_get_ovector_pointer(x->md);

		if (!ms(x, R_BRV4, x->s + ov[2], ov[3] - ov[2]))
			return 0;
	}
	subst_line(x, R_DATE, "");
	subst_line(x, R_PARENBY, ") by ");
	if (m(x, R_ID))
		cap(x, 1, &r->id);
	if (m(x, R_HELO1) || m(x, R_HELO2))
		cap(x, 1, &r->helo);
	if (m(x, R_BY))
		cap(x, 1, &r->by);
	find_auth(x, r);
	if (strncmp(x->s, "from ", 5) == 0) {
		chop_front(x, 5);
		p = from_branch(x, r, qms);
	} else if (strncmp(x->s, "FROM ", 5) == 0) {
		chop_front(x, 5);
		if (m(x, R_SIMTA)) {
			SET({ F_HELO, 1 }, { F_RDNS, 2 }, { F_IP, 3 },
			    { F_BY, 4 }, { F_ID, 5 });
			if (strcmp(r->rdns, "unverified") == 0)
				r->rdns[0] = '\0';
			p = P_ENOUGH;
		}
	} else if (strncmp(x->s, "(from ", 6) == 0) {
		chop_front(x, 6);
		if (m(x, R_NAV)) {
			SET({ F_HELO, 1 }, { F_IP, 2 }, { F_BY, 3 });
			p = P_ENOUGH;
		} else if (m(x, R_SMLOCAL) || m(x, R_JQUEUE))
			p = P_SKIP;
	}
	if (p == P_POP) {
		*pop = true;
		return 0;
	}
	if (p == P_SKIP)
		return 0;
	if (p == P_FALL) {
		if (r->ip[0] == '\0' && m(x, R_ANYIP))
			cap(x, 1, &r->ip);
		if (r->ip[0] == '\0' || r->by[0] == '\0')
			return -1;
	}
	finish_fields(x, r);
	return 1;
}

/* Parse LINE into R (see received.h); POP/QMS: build's state. */
static int
parse_one(const char *line, size_t len, struct gh_relay *r, bool *pop,
    char **qms)
{
	struct rx	 x;
	int		 rc;

	pthread_once(&re_once, re_init);
	if (!re_ok)
		return -2;
	if (relay_init(r) == -1)
		return -2;
	if (len > GH_RCVD_LINE_MAX)
		return -1;
	memset(&x, 0, sizeof(x));
	if ((x.s = malloc(len + 1)) == NULL ||
	    (x.md = pcre2_match_data_create(16, NULL)) == NULL ||
	    (x.mc = pcre2_match_context_create(NULL)) == NULL) {
		free(x.s);
		pcre2_match_data_free(x.md);
		return -2;
	}
	pcre2_set_match_limit(x.mc, 200000);
	pcre2_set_depth_limit(x.mc, 5000);
	memcpy(x.s, line, len);
	x.s[len] = '\0';
	x.len = strlen(x.s);		/* a NUL ends the field */
	rc = parse_line(&x, r, pop, qms);
	if (rc == 1 && as_string(r) == -1)
		x.oom = true;
	free(x.s);
	pcre2_match_data_free(x.md);
	pcre2_match_context_free(x.mc);
	return x.oom ? -2 : rc;
}

/* Parse one Received value on its own (see received.h). */
int
gh_received_parse_line(const char *line, size_t len, struct gh_relay *r)
{
	bool	 pop = false;
	char	*qms = NULL;
	int	 rc = parse_one(line, len, r, &pop, &qms);

	free(qms);
	return rc;
}

/* Perl truth of a string: neither "" nor "0". */
static bool
truthy(const char *s)
{
	return s[0] != '\0' && strcmp(s, "0") != 0;
}

/* "from X-Originating-IP: ADDR", the first address in V, or NULL. */
static char *
synthetic(const struct gh_rcvd_text *v, int *err)
{
	pcre2_match_data	*md;
	char			*line = NULL;
	int			 rc;

	if ((md = pcre2_match_data_create(4, NULL)) == NULL) {
		*err = -1;
		return NULL;
	}
	rc = pcre2_match(re_code[R_IPONLY], (PCRE2_SPTR)v->p, v->len, 0, 0,
	    md, NULL);
	if (rc >= 0) {
		PCRE2_SIZE	*ov = pcre2_get_ovector_pointer(md);

		if (asprintf(&line, "from X-Originating-IP: %.*s\n",
		    (int)(ov[3] - ov[2]), v->p + ov[2]) == -1) {
			line = NULL;
			*err = -1;
		}
	}
	pcre2_match_data_free(md);
	return line;
}

/* Join the as_strings of the relays with trusted/internal == WANT. */
static char *
join(const struct gh_relays *rs, bool internal, bool want)
{
	size_t	 i, len = 1;
	char	*s, *p;

	for (i = 0; i < rs->n; i++)
		len += strlen(rs->v[i].as_string) + 1;
	if ((s = p = malloc(len)) == NULL)
		return NULL;
	*p = '\0';
	for (i = 0; i < rs->n; i++) {
		const struct gh_relay	*r = &rs->v[i];

		if ((internal ? r->internal : r->trusted) != want)
			continue;
		if (p != s)
			*p++ = ' ';
		p = stpcpy(p, r->as_string);
	}
	return s;
}

/* Drop every relay kept so far (a fetcher marker in the trusted part). */
static void
restart(struct gh_relays *rs)
{
	while (rs->n > 0)
		gh_relay_clear(&rs->v[--rs->n]);
}

/* Build the relays of a message (see received.h). */
int
gh_relays_build(const struct gh_rcvd_text *rcvd, size_t n,
    const struct gh_rcvd_text *orig, size_t norig, struct gh_relays *rs)
{
	bool		 in_trusted = true, allow_fetch = true, pop;
	char		*qms = NULL, *qenv, *syn;
	size_t		 i, total;
	int		 rc, err = 0;

	memset(rs, 0, sizeof(*rs));
	rs->last_trusted = rs->last_internal = -1;
	pthread_once(&re_once, re_init);
	if (!re_ok)
		return -1;
	if (n > GH_RCVD_MAX)
		n = GH_RCVD_MAX;
	total = n + norig;
	if ((rs->v = calloc(total ? total : 1, sizeof(*rs->v))) == NULL)
		return -1;
	for (i = 0; i < total && err == 0; i++) {
		struct gh_relay	*r = &rs->v[rs->n];

		syn = NULL;
		if (i >= n && (syn = synthetic(&orig[i - n], &err)) == NULL)
			continue;
		qenv = qms;
		qms = NULL;
		pop = false;
		rc = syn != NULL ? parse_one(syn, strlen(syn), r, &pop, &qms) :
		    parse_one(rcvd[i].p, rcvd[i].len, r, &pop, &qms);
		free(syn);
		if (rc == -2)
			err = -1;
		if (rc <= 0) {
			gh_relay_clear(r);
			if (pop && allow_fetch)
				restart(rs);
			if (in_trusted) {
				rs->last_trusted++;
				rs->last_internal++;
			}
			free(qenv);
			continue;
		}
		if (qenv != NULL && truthy(qenv)) {
			free(r->envfrom);
			r->envfrom = qenv;
			r->has_envfrom = true;
		} else
			free(qenv);
		/* inferred trust: private address or authenticated */
		if (in_trusted && !r->ip_private && !truthy(r->auth))
			in_trusted = false;
		r->trusted = r->internal = in_trusted;
		if (as_string(r) == -1) {
			gh_relay_clear(r);
			err = -1;
			break;
		}
		rs->n++;
		allow_fetch = in_trusted;
		if (in_trusted) {
			rs->last_trusted++;
			rs->last_internal++;
		}
	}
	free(qms);
	if (err == 0 &&
	    ((rs->str[GH_RELAYS_TRUSTED] = join(rs, false, true)) == NULL ||
	    (rs->str[GH_RELAYS_UNTRUSTED] = join(rs, false, false)) == NULL ||
	    (rs->str[GH_RELAYS_INTERNAL] = join(rs, true, true)) == NULL ||
	    (rs->str[GH_RELAYS_EXTERNAL] = join(rs, true, false)) == NULL))
		err = -1;
	if (err != 0) {
		gh_relays_free(rs);
		return -1;
	}
	return 0;
}

/* Release what gh_relays_build made. */
void
gh_relays_free(struct gh_relays *rs)
{
	size_t	 i;

	for (i = 0; i < rs->n; i++)
		gh_relay_clear(&rs->v[i]);
	free(rs->v);
	for (i = 0; i < GH_RELAYS_NSTR; i++)
		free(rs->str[i]);
	memset(rs, 0, sizeof(*rs));
	rs->last_trusted = rs->last_internal = -1;
}

/* get_envelope_from's relay guess (see received.h). */
const char *
gh_relays_envfrom(const struct gh_relays *rs)
{
	const struct gh_relay	*r = NULL;
	size_t			 i;

	for (i = 0; i < rs->n && r == NULL; i++)
		if (!rs->v[i].trusted)
			r = &rs->v[i];
	if (r == NULL && rs->n > 0)
		r = &rs->v[rs->n - 1];
	if (r == NULL || !r->has_envfrom)
		return NULL;
	if (r->envfrom[0] == '\0')
		return r->envfrom;
	return strchr(r->envfrom + 1, '@') != NULL ? r->envfrom : NULL;
}

/* Build the relays of message M (see received.h). */
int
gh_relays_message(struct gh_message *m, const char *top,
    const char *const *orig, struct gh_relays *out)
{
	struct gh_rcvd_text	 rv[GH_RCVD_MAX], ov[16];
	size_t			 nh = gh_message_nheaders(m), i, j, n = 0;
	size_t			 no = 0;

	if (top != NULL) {
		rv[0].p = top;
		rv[n++].len = strlen(top);
	}
	for (i = 0; i < nh && n < GH_RCVD_MAX; i++) {
		const struct gh_header	*h = gh_message_header(m, i);

		if (h->name_len != 8 || strncasecmp(h->name, "Received", 8))
			continue;
		if ((rv[n].p = gh_message_header_decoded(m, i,
		    &rv[n].len)) == NULL)
			return -1;
		n++;
	}
	for (j = 0; orig != NULL && orig[j] != NULL && no < 16; j++) {
		const char	*last = NULL;
		size_t		 llen = 0, ol = strlen(orig[j]);

		for (i = 0; i < nh; i++) {
			const struct gh_header	*h = gh_message_header(m, i);

			if (h->name_len != ol || strncasecmp(h->name, orig[j],
			    ol))
				continue;
			if ((last = gh_message_header_decoded(m, i,
			    &llen)) == NULL)
				return -1;
		}
		if (last != NULL) {
			ov[no].p = last;
			ov[no++].len = llen;
		}
	}
	return gh_relays_build(rv, n, ov, no, out);
}

/* Append S's first word, unprintable bytes as '?' (Postfix's printable()). */
static void
put_word(char **p, const char *s, size_t max)
{
	size_t	 i;

	for (i = 0; s[i] != '\0' && i < max; i++) {
		unsigned char	 c = (unsigned char)s[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			break;
		*(*p)++ = c > 0x20 && c < 0x7f ? (char)c : '?';
	}
	**p = '\0';
}

/* The Received value Postfix writes for E's client (see received.h). */
char *
gh_received_for_client(const struct gh_envelope *e, const char *by)
{
	const char	*name = e->client_name, *rcpt = NULL;
	char		 helo[256], nm[256], date[64], *p, *v;
	struct tm	 tm;
	time_t		 now = time(NULL);

	if (e->client_addr == NULL)
		return NULL;
	/* no name, or XCLIENT's [UNAVAILABLE] / [TEMPUNAVAIL] */
	if (name == NULL || name[0] == '\0' || name[0] == '[')
		name = "unknown";
	p = nm;
	put_word(&p, name, sizeof(nm) - 1);
	p = helo;
	put_word(&p, e->helo != NULL && e->helo[0] != '\0' ? e->helo : nm,
	    sizeof(helo) - 1);
	if (e->nrcpts == 1 && e->rcpts[0] != NULL &&
	    strlen(e->rcpts[0]) <= 512)
		rcpt = e->rcpts[0];
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000 (UTC)",
	    &tm) == 0)
		date[0] = '\0';
	if (asprintf(&v, "from %s (%s [%s%.64s])\n\tby %.255s (Postfix) "
	    "with %s%s%s%s%s%s\n\t%s", helo, nm,
	    strchr(e->client_addr, ':') != NULL ? "IPv6:" : "",
	    e->client_addr, by != NULL && by[0] != '\0' ? by : "localhost",
	    e->esmtp || e->auth_user != NULL ? "ESMTP" : "SMTP",
	    e->tls_version != NULL ? "S" : "",
	    e->auth_user != NULL ? "A" : "",
	    rcpt != NULL ? "\n\tfor <" : ";", rcpt != NULL ? rcpt : "",
	    rcpt != NULL ? ">;" : "", date) == -1)
		return NULL;
	return v;
}

/*
 * The first address of a field's raw value, as :first:addr gives it
 * for the common forms: inside the first <...>, else the first word
 * outside comments, up to a space.  NULL when there is none.
 */
static char *
first_addr(const char *v, size_t len)
{
	const char	*lt = memchr(v, '<', len), *gt, *p, *e = v + len;
	char		*buf, *o;
	int		 depth = 0;

	if (lt != NULL && (gt = memchr(lt, '>', (size_t)(e - lt))) != NULL) {
		p = lt + 1;
		while (p < gt && is_space((unsigned char)*p))
			p++;
		for (e = p; e < gt && !is_space((unsigned char)*e); e++)
			;
		return e > p ? strndup(p, (size_t)(e - p)) : NULL;
	}
	if ((buf = o = malloc(len + 1)) == NULL)
		return NULL;
	for (p = v; p < e; p++) {		/* comments out */
		if (*p == '(')
			depth++;
		else if (*p == ')' && depth > 0)
			depth--;
		else if (depth == 0)
			*o++ = *p;
	}
	*o = '\0';
	for (p = buf; is_space((unsigned char)*p); p++)
		;
	for (o = (char *)p; *o && !is_space((unsigned char)*o); o++)
		;
	*o = '\0';
	o = *p ? strdup(p) : NULL;
	free(buf);
	return o;
}

/* Index of the first field named NAME (or the last: LAST), or -1. */
static long
field_index(struct gh_message *m, const char *name, bool last)
{
	size_t	 nh = gh_message_nheaders(m), i, l = strlen(name);
	long	 r = -1;

	for (i = 0; i < nh; i++) {
		const struct gh_header	*h = gh_message_header(m, i);

		if (h->name_len == l && strncasecmp(h->name, name, l) == 0) {
			r = (long)i;
			if (!last)
				break;
		}
	}
	return r;
}

/* NAME:first:addr, malloc'd, or NULL (*ERR -1 on ENOMEM). */
static char *
header_addr(struct gh_message *m, const char *name, int *err)
{
	long		 i = field_index(m, name, false);
	char		*v, *a;
	size_t		 len;

	if (i < 0)
		return NULL;
	if ((v = gh_header_unfold(gh_message_header(m, (size_t)i),
	    &len)) == NULL) {
		*err = -1;
		return NULL;
	}
	a = first_addr(v, len);
	free(v);
	/* no local part or no domain: not an address to SpamAssassin */
	if (a != NULL && (a[0] == '@' || strchr(a, '@') == NULL)) {
		free(a);
		a = NULL;
	}
	return a;
}

/* get_envelope_from() (see received.h). */
char *
gh_envelope_from_guess(struct gh_message *m, const struct gh_relays *rs,
    int *err)
{
	static const char *const hdrs[] = { "X-Envelope-From",
	    "Envelope-Sender", "Return-Path" };
	const char	*e = gh_relays_envfrom(rs);
	char		*a;
	long		 rcvd = field_index(m, "Received", false);
	size_t		 i, nh = gh_message_nheaders(m);

	*err = 0;
	if (e != NULL)
		return strdup(e);
	if ((a = header_addr(m, "X-Sender", err)) != NULL &&
	    strchr(a, '@') != NULL) {
		for (i = 0; i < nh; i++) {
			const struct gh_header	*h = gh_message_header(m, i);

			if (h->name_len == 8 &&
			    strncasecmp(h->name, "Received", 8) == 0 &&
			    memmem(h->raw, h->raw_len, "(fetchmail", 10)) {
				free(a);
				return NULL;
			}
		}
	}
	free(a);
	for (i = 0; i < GH_ARRAY_LEN(hdrs); i++) {
		if ((a = header_addr(m, hdrs[i], err)) == NULL)
			continue;
		/* a Received field above it: relayed, maybe re-sent */
		if (rcvd >= 0 && rcvd < field_index(m, hdrs[i], true)) {
			free(a);
			if (i == 0)
				return NULL;
			continue;
		}
		return a;
	}
	return NULL;
}
