/*
 * html_link.c: the links of HTML tags, as SpamAssassin's HTML.pm
 * collects them (html_uri, push_uri, canon_uri, target_uri): href of a,
 * area and link (and data-saferedirecturl), src of img, frame, iframe,
 * embed, script and bgsound, action of form, background of body, table,
 * tr and td, base href and meta refresh; relative links resolved
 * against <base href> (RFC 3986 section 5.2, loosely, as HTML.pm does);
 * the hrefs of anchors also as written.
 *
 * Owns: the base URI of a render (in struct hp).  Links go to the
 * output's list, each NUL-terminated after a '1' or '0' telling whether
 * Perl would hold it as characters.  Fails only on ENOMEM.
 */

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "decode.h"
#include "html_int.h"
#include "msgbuf.h"

/* Perl's \s on a character at P (UTF-8); its length or 0. */
static size_t
uspace(const char *p, size_t n, bool flagged)
{
	uint32_t	cp;
	size_t		k;

	if (n == 0)
		return 0;
	if (hspace(*p))
		return 1;
	if (!flagged || (unsigned char)*p < 0x80)
		return 0;
	if ((k = utf8__char((const unsigned char *)p, n, &cp)) == 0)
		return 0;
	if (cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
	    (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
	    cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000)
		return k;
	return 0;
}

/* Length of the character at P if it is in [\s\xA0], else 0. */
static size_t
trim_char(const char *p, size_t n, bool flagged)
{
	size_t	k;

	if ((k = uspace(p, n, flagged)) > 0)
		return k;
	if (n >= 2 && (unsigned char)p[0] == 0xc2 && (unsigned char)p[1] == 0xa0)
		return 2;
	return 0;
}

/* canon_uri: V trimmed of white space and cut to 8192 characters. */
static void
canon_uri(const char **vp, size_t *np, bool flagged)
{
	const char	*v = *vp;
	size_t		 n = *np, k, j, cut;

	while ((k = trim_char(v, n, flagged)) > 0) {
		v += k;
		n -= k;
	}
	while (n > 0) {
		/* The start of the last character. */
		for (j = n - 1; j > 0 && ((unsigned char)v[j] & 0xc0) == 0x80;
		    j--)
			;
		if (trim_char(v + j, n - j, flagged) != n - j)
			break;
		n = j;
	}
	for (k = 0, cut = 0; cut < n && k < MAX_URI_LENGTH; k++) {
		cut++;
		while (cut < n && ((unsigned char)v[cut] & 0xc0) == 0x80)
			cut++;
	}
	*vp = v;
	*np = cut;
}

/* Start a link on the list U: its flag and room for its length. */
static void
link_open(struct mbuf *u, bool flagged)
{
	size_t	zero = 0;

	mbuf_addc(u, flagged ? '1' : '0');
	mbuf_add(u, &zero, sizeof(zero));
}

/* End the link opened at offset AT of U: write its length, return it. */
static size_t
link_close(struct mbuf *u, size_t at)
{
	size_t	n;

	if (u->err)
		return 0;
	n = u->len - at - 1 - sizeof(n);
	memcpy(u->p + at + 1, &n, sizeof(n));
	return n;
}

/* push_uri: the link V, resolved against the base, onto the list. */
static void
push_uri(struct hp *p, const char *v, size_t n, bool flagged)
{
	size_t	before;

	canon_uri(&v, &n, flagged);
	if (n == 0)
		return;
	before = p->out->uris.len;
	link_open(&p->out->uris, flagged);
	if ((n >= 5 && strncasecmp(v, "data:", 5) == 0) ||
	    (n >= 7 && strncasecmp(v, "mailto:", 7) == 0) ||
	    (n >= 5 && strncasecmp(v, "file:", 5) == 0) ||
	    (n >= 4 && strncasecmp(v, "cid:", 4) == 0) ||
	    (n >= 4 && strncasecmp(v, "tel:", 4) == 0))
		mbuf_add(&p->out->uris, v, n);
	else
		html__target_uri(p->base_href ? p->base_href : "",
		    p->base_href ? strlen(p->base_href) : 0, v, n,
		    &p->out->uris);
	if (link_close(&p->out->uris, before) == 0) {
		p->out->uris.len = before;	/* an empty target */
		return;
	}
	p->out->nuris++;
}

/* html_tests for <a>: the anchor's href as written (canon_uri only,
 * "" without one) is a key of SpamAssassin's link list too. */
static void
anchor_uri(struct hp *p, const struct attr *h)
{
	struct mbuf	 f = { 0 };
	const char	*v = "";
	size_t		 n = 0, i, before;

	if (h != NULL && h->val != NULL) {
		/* html_uri already dropped U+FEFF from it */
		for (i = 0; i < h->vlen; i++) {
			if (i + 2 < h->vlen &&
			    !memcmp(h->val + i, "\xef\xbb\xbf", 3)) {
				i += 2;
				continue;
			}
			mbuf_addc(&f, h->val[i]);
		}
		v = f.p ? f.p : "";
		n = f.len;
		canon_uri(&v, &n, h->flagged);
	}
	before = p->out->uris.len;
	link_open(&p->out->uris, h != NULL && h->flagged);
	mbuf_add(&p->out->uris, v, n);
	(void)link_close(&p->out->uris, before);
	p->out->nuris++;
	mbuf_free(&f);
}

/* <base href>: a link itself, and the base of relative links when it is
 * an absolute http, https or ftp URI. */
static void
set_base(struct hp *p, const struct attr *a)
{
	const char	*v = a->val, *r;
	size_t		 n = a->vlen, i, k, rl, after;
	char		*b;

	canon_uri(&v, &n, a->flagged);
	push_uri(p, v, n, a->flagged);
	if (!((n >= 5 && strncasecmp(v, "http:", 5) == 0) ||
	    (n >= 6 && strncasecmp(v, "https:", 6) == 0) ||
	    (n >= 4 && strncasecmp(v, "ftp:", 4) == 0)))
		return;
	/* s@^([a-z]+:/{0,2}[^/]+/.*?)[^/\.]+\.[^/\.]{2,4}$@$1@i */
	for (i = 0; i < n && isalpha((unsigned char)v[i]); i++)
		;
	i++;				/* the colon */
	for (k = 0; k < 2 && i < n && v[i] == '/'; k++)
		i++;
	for (k = i; k < n && v[k] != '/'; k++)
		;
	if (k > i && k < n) {
		r = v + k + 1;
		rl = n - k - 1;
		/* The earliest suffix "name.ext": one dot, no slash. */
		long	ls = -1, d1 = -1, d2 = -1, st;

		for (i = 0; i < rl; i++) {
			if (r[i] == '/') {
				ls = (long)i;
				d1 = d2 = -1;
			} else if (r[i] == '.') {
				d2 = d1;
				d1 = (long)i;
			}
		}
		st = (ls > d2 ? ls : d2) + 1;
		after = d1 >= 0 ? rl - (size_t)d1 - 1 : 0;
		if (d1 >= 0 && st < d1 && after >= 2 && after <= 4)
			n = (size_t)(r + st - v);
	}
	if ((b = malloc(n + 2)) == NULL) {
		p->out->err = ENOMEM;
		return;
	}
	memcpy(b, v, n);
	if (n == 0 || b[n - 1] != '/')
		b[n++] = '/';
	b[n] = '\0';
	free(p->base_href);
	p->base_href = b;
}

/* <meta http-equiv=refresh content="N; url=...">: the link. */
static void
meta_refresh(struct hp *p, const struct attr *c)
{
	const char	*v = c->val, *u = NULL;
	size_t		 n = c->vlen, i, j;

	/* The last /\burl\s*=\s*\/i on the first line. */
	for (i = 0; i + 3 <= n && v[i] != '\n'; i++) {
		if (strncasecmp(v + i, "url", 3) != 0 ||
		    (i > 0 && alnum_(v[i - 1])))
			continue;
		for (j = i + 3; j < n && hspace(v[j]); j++)
			;
		if (j < n && v[j] == '=') {
			for (j++; j < n && hspace(v[j]); j++)
				;
			u = v + j;
		}
	}
	if (u == NULL)
		return;
	n -= (size_t)(u - v);
	/* s/\s*;.*$// */
	for (i = 0; i < n && u[i] != ';'; i++)
		;
	if (i < n) {
		while (i > 0 && hspace(u[i - 1]))
			i--;
		n = i;
	}
	push_uri(p, u, n, c->flagged);
}

/* Use an attribute named like /\w{1,8}\/SUFFIX/ as SUFFIX (bad HTML). */
static void
attr_fixup(struct attr *a, size_t na, const char *suffix)
{
	size_t	i, sl = strlen(suffix);
	char	*q;

	for (i = 0; i < na; i++) {
		q = a[i].name;
		while ((q = strchr(q, '/')) != NULL) {
			if (q > a[i].name && alnum_(q[-1]) &&
			    strncmp(q + 1, suffix, sl) == 0) {
				strcpy(a[i].name, suffix);
				return;
			}
			q++;
		}
	}
}

/* html_uri for a start tag. */
void
html__uri(struct hp *p, const char *tag, struct attr *a, size_t na)
{
	struct attr	*v;

	if (!strcmp(tag, "body") || !strcmp(tag, "table") ||
	    !strcmp(tag, "tr") || !strcmp(tag, "td")) {
		if ((v = attr_get(a, na, "background")) && v->val)
			push_uri(p, v->val, v->vlen, v->flagged);
	} else if (!strcmp(tag, "a") || !strcmp(tag, "area") ||
	    !strcmp(tag, "link")) {
		attr_fixup(a, na, "href");
		if (!strcmp(tag, "a"))
			anchor_uri(p, attr_get(a, na, "href"));
		if ((v = attr_get(a, na, "href")) && v->val) {
			struct mbuf	h = { 0 };
			size_t		i;

			/* Drop U+FEFF. */
			for (i = 0; i < v->vlen; i++) {
				if (i + 2 < v->vlen &&
				    !memcmp(v->val + i, "\xef\xbb\xbf", 3)) {
					i += 2;
					continue;
				}
				mbuf_addc(&h, v->val[i]);
			}
			push_uri(p, h.p ? h.p : "", h.len, v->flagged);
			mbuf_free(&h);
		}
		if ((v = attr_get(a, na, "data-saferedirecturl")) && v->val)
			push_uri(p, v->val, v->vlen, v->flagged);
	} else if (!strcmp(tag, "img") || !strcmp(tag, "frame") ||
	    !strcmp(tag, "iframe") || !strcmp(tag, "embed") ||
	    !strcmp(tag, "script") || !strcmp(tag, "bgsound")) {
		attr_fixup(a, na, "src");
		if ((v = attr_get(a, na, "src")) && v->val)
			push_uri(p, v->val, v->vlen, v->flagged);
	} else if (!strcmp(tag, "form")) {
		if ((v = attr_get(a, na, "action")) && v->val)
			push_uri(p, v->val, v->vlen, v->flagged);
	} else if (!strcmp(tag, "base")) {
		if ((v = attr_get(a, na, "href")) && v->val && v->vlen > 0 &&
		    !(v->vlen == 1 && v->val[0] == '0'))
			set_base(p, v);
	} else if (!strcmp(tag, "meta")) {
		struct attr	*he = attr_get(a, na, "http-equiv");
		struct attr	*c = attr_get(a, na, "content");

		if (he && he->val && c && c->val &&
		    strcasestr(he->val, "refresh") != NULL)
			meta_refresh(p, c);
	}
}

/* A parsed URI: scheme, authority, path, query, fragment (-1: absent). */
struct puri {
	const char	*s[5];
	long		 l[5];
};

/* _parse_uri: m|^(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?| */
static void
parse_uri(const char *u, size_t n, struct puri *r)
{
	size_t	i = 0, j;

	memset(r, 0, sizeof(*r));
	for (j = 0; j < 5; j++)
		r->l[j] = -1;
	for (j = 0; j < n && !strchr(":/?#", u[j]); j++)
		;
	if (j > 0 && j < n && u[j] == ':') {
		r->s[0] = u;
		r->l[0] = (long)j;
		i = j + 1;
	}
	if (i + 1 < n && u[i] == '/' && u[i + 1] == '/') {
		for (j = i + 2; j < n && !strchr("/?#", u[j]); j++)
			;
		r->s[1] = u + i + 2;
		r->l[1] = (long)(j - i - 2);
		i = j;
	}
	for (j = i; j < n && u[j] != '?' && u[j] != '#'; j++)
		;
	r->s[2] = u + i;
	r->l[2] = (long)(j - i);
	i = j;
	if (i < n && u[i] == '?') {
		for (j = i + 1; j < n && u[j] != '#'; j++)
			;
		r->s[3] = u + i + 1;
		r->l[3] = (long)(j - i - 1);
		i = j;
	}
	if (i < n && u[i] == '#') {
		/* (.*) stops at a newline */
		for (j = i + 1; j < n && u[j] != '\n'; j++)
			;
		r->s[4] = u + i + 1;
		r->l[4] = (long)(j - i - 1);
	}
}

/* _remove_dot_segments of IN into OUT.  A rule that replaces a prefix
 * with "/" is done in place on a copy: the prefix's last byte becomes the
 * slash. */
static void
remove_dots(const char *in, size_t n, struct mbuf *out)
{
	struct mbuf	o = { 0 };
	char		*w;
	size_t		i = 0, j, len;

	if ((w = malloc(n + 1)) == NULL) {
		out->err = ENOMEM;
		return;
	}
	memcpy(w, in, n);
	/* s@^(?:\.\.?/)@/@ */
	if (n >= 2 && w[0] == '.' && w[1] == '/')
		i = 1;
	else if (n >= 3 && w[0] == '.' && w[1] == '.' && w[2] == '/')
		i = 2;
	while (i < n) {
		if (w[i] == '/' && i + 1 < n && w[i + 1] == '.' &&
		    (i + 2 == n || w[i + 2] == '/')) {
			len = i + 2 == n ? 2 : 3;
			i += len - 1;
			w[i] = '/';
			continue;
		}
		if (w[i] == '/' && i + 2 < n && w[i + 1] == '.' &&
		    w[i + 2] == '.' && (i + 3 == n || w[i + 3] == '/')) {
			len = i + 3 == n ? 3 : 4;
			i += len - 1;
			w[i] = '/';
			/* $output =~ s@/?[^/]*$@@ */
			while (o.len > 0 && o.p[o.len - 1] != '/')
				o.len--;
			if (o.len > 0)
				o.len--;
			continue;
		}
		/* (/?[^/]*) */
		j = i;
		if (w[j] == '/')
			j++;
		while (j < n && w[j] != '/')
			j++;
		mbuf_add(&o, w + i, j - i);
		i = j;
	}
	mbuf_add(out, o.p ? o.p : "", o.len);
	if (o.err)
		out->err = o.err;
	mbuf_free(&o);
	free(w);
}

/* target_uri: R resolved against B, appended to OUT. */
void
html__target_uri(const char *b, size_t bl, const char *r, size_t rl,
    struct mbuf *out)
{
	struct puri	 rr, bb;
	const char	*ts[5];
	long		 tl[5];
	struct mbuf	 path = { 0 };
	int		 i;

	parse_uri(r, rl, &rr);
	parse_uri(b, bl, &bb);
	/* Not URI_STRICT: a relative URI with the base's scheme. */
	if (rr.l[0] >= 0 && bb.l[0] >= 0 && rr.l[0] == bb.l[0] &&
	    memcmp(rr.s[0], bb.s[0], (size_t)rr.l[0]) == 0)
		rr.l[0] = -1;
	for (i = 0; i < 5; i++)
		tl[i] = -1;
	if (rr.l[0] >= 0) {
		ts[0] = rr.s[0], tl[0] = rr.l[0];
		ts[1] = rr.s[1], tl[1] = rr.l[1];
		remove_dots(rr.s[2], (size_t)rr.l[2], &path);
		ts[3] = rr.s[3], tl[3] = rr.l[3];
	} else {
		if (rr.l[1] >= 0) {
			ts[1] = rr.s[1], tl[1] = rr.l[1];
			remove_dots(rr.s[2], (size_t)rr.l[2], &path);
			ts[3] = rr.s[3], tl[3] = rr.l[3];
		} else {
			if (rr.l[2] == 0) {
				mbuf_add(&path, bb.s[2], (size_t)bb.l[2]);
				if (rr.l[3] >= 0)
					ts[3] = rr.s[3], tl[3] = rr.l[3];
				else
					ts[3] = bb.s[3], tl[3] = bb.l[3];
			} else {
				if (rr.s[2][0] == '/') {
					remove_dots(rr.s[2], (size_t)rr.l[2],
					    &path);
				} else {
					struct mbuf	m = { 0 };
					long		k;

					/* _merge_uri */
					if (bb.l[1] >= 0 && bb.l[2] == 0) {
						mbuf_addc(&m, '/');
					} else {
						for (k = bb.l[2]; k > 0 &&
						    bb.s[2][k - 1] != '/'; k--)
							;
						mbuf_add(&m, bb.s[2], (size_t)k);
					}
					mbuf_add(&m, rr.s[2], (size_t)rr.l[2]);
					remove_dots(m.p, m.len, &path);
					mbuf_free(&m);
				}
				ts[3] = rr.s[3], tl[3] = rr.l[3];
			}
			ts[1] = bb.s[1], tl[1] = bb.l[1];
		}
		ts[0] = bb.s[0], tl[0] = bb.l[0];
	}
	ts[4] = rr.s[4], tl[4] = rr.l[4];
	if (tl[0] > 0) {
		mbuf_add(out, ts[0], (size_t)tl[0]);
		mbuf_addc(out, ':');
	} else if (tl[1] >= 0) {
		if (tl[1] >= 3 && strncasecmp(ts[1], "www", 3) == 0) {
			long	k = 3;

			while (k < tl[1] && isdigit((unsigned char)ts[1][k]))
				k++;
			if (k < tl[1] && ts[1][k] == '.')
				mbuf_adds(out, "http:");
		} else if (tl[1] >= 3 && strncasecmp(ts[1], "ftp", 3) == 0) {
			long	k = 3;

			while (k < tl[1] && isdigit((unsigned char)ts[1][k]))
				k++;
			if (k < tl[1] && ts[1][k] == '.')
				mbuf_adds(out, "ftp:");
		}
	}
	if (tl[1] >= 0) {
		mbuf_adds(out, "//");
		mbuf_add(out, ts[1], (size_t)tl[1]);
	}
	mbuf_add(out, path.p ? path.p : "", path.len);
	if (tl[3] >= 0) {
		mbuf_addc(out, '?');
		mbuf_add(out, ts[3], (size_t)tl[3]);
	}
	if (tl[4] >= 0) {
		mbuf_addc(out, '#');
		mbuf_add(out, ts[4], (size_t)tl[4]);
	}
	if (path.err)
		out->err = path.err;
	mbuf_free(&path);
}
