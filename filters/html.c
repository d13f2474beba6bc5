/*
 * html.c: HTML reduced to text, with the links of its tags.
 *
 * SpamAssassin's body rules see HTML as Mail::SpamAssassin::HTML renders
 * it on top of HTML::Parser 3.81, so this file is two parts:
 *
 *  - a tokenizer that behaves like HTML::Parser's parse_buf with the
 *    options SpamAssassin sets (non-strict names and comments, marked
 *    sections, literal mode for script, style, xmp, iframe, plaintext,
 *    title and textarea; entity decoding with prefix expansion in text,
 *    without in attribute values), including what it does at the end of
 *    the document with unterminated markup;
 *  - the renderer of HTML.pm: text of script and style dropped, br and
 *    div give "\n", li/td/th/dt/dd/h1-6/embed give " ", p/hr/blockquote/
 *    pre/title/... give "\n\n", white space in text squeezed, and the
 *    links of a/area/link (href), img/frame/iframe/embed/script/bgsound
 *    (src), form (action), body/table/tr/td (background), base and meta
 *    refresh, resolved against <base href>.
 *
 * The colour and font state that decides which text is invisible is in
 * html_style.c, the links in html_link.c.
 *
 * Owns: the output buffers.  Works on any bytes; only ENOMEM fails.
 */

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "decode.h"
#include "html.h"
#include "html_int.h"
#include "html_entities.h"
#include "msgbuf.h"

/* HTML::Parser's isHNAME_FIRST. */
static bool
hname_first(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    c == '_' || c == ':';
}

/* HTML::Parser's isHNAME_CHAR. */
static bool
hname_char(char c)
{
	return hname_first(c) || (c >= '0' && c <= '9') || c == '.' ||
	    c == '-';
}

/* Look up an entity name (exact, with or without ';'). */
static long
entity(const char *s, size_t n)
{
	size_t	lo = 0, hi = sizeof(html_entities) / sizeof(html_entities[0]);
	size_t	mid;
	int	c;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		c = strncmp(s, html_entities[mid].name, n);
		if (c == 0 && html_entities[mid].name[n] != '\0')
			c = -1;
		if (c == 0)
			return (long)html_entities[mid].cp;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/*
 * HTML::Parser's decode_entities of IN into OUT; *FLAGGED set when a
 * character above U+00FF came out (Perl upgrades the string then).
 */
static void
decode_entities(const char *in, size_t n, bool prefix, struct mbuf *out,
    bool *flagged)
{
	size_t		 i = 0, s, e, k;
	unsigned long	 num;
	uint32_t	 hi_sur = 0;
	long		 cp;
	bool		 ok;

	while (i < n) {
		if (in[i] != '&') {
			mbuf_addc(out, in[i++]);
			continue;
		}
		s = ++i;		/* the entity starts after '&' */
		cp = -1;
		if (i < n && in[i] == '#') {
			num = 0;
			ok = false;
			i++;
			if (i < n && (in[i] == 'x' || in[i] == 'X')) {
				for (i++; i < n && isxdigit((unsigned char)in[i]);
				    i++) {
					num = num << 4 | (unsigned long)(
					    isdigit((unsigned char)in[i]) ?
					    in[i] - '0' :
					    (tolower((unsigned char)in[i]) -
					    'a' + 10));
					if (num > 0x10ffff) {
						ok = false;
						break;
					}
					ok = true;
				}
			} else {
				for (; i < n && isdigit((unsigned char)in[i]);
				    i++) {
					num = num * 10 + (unsigned long)(in[i] -
					    '0');
					if (num > 0x10ffff) {
						ok = false;
						break;
					}
					ok = true;
				}
			}
			if (num && ok) {
				if (num == 0xfffe || num == 0xffff) {
					cp = -1;	/* illegal: kept */
				} else if ((num & 0xfffffc00) == 0xdc00) {
					if (hi_sur) {
						/* back up past U+FFFD */
						out->len -= 3;
						num = ((hi_sur - 0xd800) << 10) +
						    (num - 0xdc00) + 0x10000;
						hi_sur = 0;
					} else
						num = 0xfffd;
					cp = (long)num;
				} else if ((num & 0xfffffc00) == 0xd800) {
					hi_sur = (uint32_t)num;
					cp = 0xfffd;
				} else {
					hi_sur = 0;
					if ((num >= 0xfdd0 && num <= 0xfdef) ||
					    (num & 0xfffe) == 0xfffe)
						num = 0xfffd;
					cp = (long)num;
				}
			}
		} else {
			for (e = i; e < n && alnum_(in[e]); e++)
				;
			if (e > i) {
				cp = entity(in + i, e - i);
				if (cp < 0 && e < n && in[e] == ';')
					cp = entity(in + i, e - i + 1);
				if (cp >= 0) {
					i = e;
				} else if (prefix) {
					for (k = e - i - 1; k > 0; k--) {
						if ((cp = entity(in + i, k)) >= 0) {
							i += k;
							break;
						}
					}
					if (cp < 0)
						i = e;
				} else
					i = e;
			}
			hi_sur = 0;
		}
		if (cp < 0) {
			/* Not an entity: the bytes as they were. */
			mbuf_addc(out, '&');
			mbuf_add(out, in + s, i - s);
			continue;
		}
		if (i < n && in[i] == ';')
			i++;
		if (i >= n || in[i] != '&')
			hi_sur = 0;
		if (cp > 0xff)
			*flagged = true;
		mbuf_addcp(out, (uint32_t)cp);
	}
}

/* ------------------------------------------------------------------ */
/* Renderer (HTML.pm). */

/* Is TAG (lower case) in the NULL-terminated LIST? */
static bool
in_list(const char *tag, const char *const *list)
{
	/* the first byte first: most tags differ there (hot: per tag) */
	for (; *list != NULL; list++)
		if ((*list)[0] == tag[0] && strcmp(tag, *list) == 0)
			return true;
	return false;
}

static const char *const elements[] = {
	"a", "abbr", "acronym", "address", "area", "b", "base", "bdo",
	"big", "blockquote", "body", "br", "button", "caption", "cite",
	"code", "col", "colgroup", "dd", "del", "dfn", "div", "dl", "dt",
	"em", "fieldset", "form", "h1", "h2", "h3", "h4", "h5", "h6",
	"head", "hr", "html", "i", "img", "input", "ins", "kbd", "label",
	"legend", "li", "link", "map", "meta", "noscript", "object", "ol",
	"optgroup", "option", "p", "param", "pre", "q", "samp", "script",
	"select", "small", "span", "strong", "style", "sub", "sup",
	"table", "tbody", "td", "textarea", "tfoot", "th", "thead",
	"title", "tr", "tt", "ul", "var", "applet", "basefont", "center",
	"dir", "font", "frame", "frameset", "iframe", "isindex", "menu",
	"noframes", "s", "strike", "u", "nobr", "x-sigsep", "x-tab", NULL
};
static const char *const text_style_tags[] = {
	"body", "font", "table", "tr", "th", "td", "big", "small",
	"basefont", "marquee", "span", "p", "div", "a", NULL
};
static const char *const tricks[] = {
	"bgsound", "embed", "listing", "plaintext", "xmp", NULL
};

/* Append a text element (display_text). */
static void
display_text(struct hp *p, const char *t, size_t n, bool ws, bool invis,
    bool flagged)
{
	struct mbuf	*b = &p->out->text;
	size_t		 i, start;

	if (ws) {
		/* Trim a trailing space of a previous text element. */
		if (p->have_last && !p->last_ws && !p->last_invis &&
		    b->len > p->last_start && b->p[b->len - 1] == ' ')
			b->len--;
		start = b->len;
		mbuf_add(b, t, n);
	} else {
		/* s/[ \t\n\r\f\x0b]+|\xc2\xa0/ /g, then s/^ // after a
		 * white-space element. */
		start = b->len;
		for (i = 0; i < n; ) {
			if (hspace(t[i])) {
				while (i < n && (hspace(t[i])))
					i++;
				mbuf_addc(b, ' ');
				continue;
			}
			if (i + 3 < n && (unsigned char)t[i] == 0xc3 &&
			    (unsigned char)t[i + 1] == 0x82 &&
			    (unsigned char)t[i + 2] == 0xc2 &&
			    (unsigned char)t[i + 3] == 0xa0) {
				mbuf_addc(b, ' ');
				i += 4;
				continue;
			}
			mbuf_addc(b, t[i++]);
		}
		if (p->have_last && p->last_ws && !invis && b->len > start &&
		    b->p[start] == ' ') {
			memmove(b->p + start, b->p + start + 1,
			    b->len - start - 1);
			b->len--;
		}
		if (flagged)
			p->out->flagged = true;
	}
	if (b->p != NULL)
		b->p[b->len] = '\0';
	p->last_start = start;
	p->have_last = true;
	p->last_ws = ws;
	p->last_invis = invis;
}

/* html_text: a text event (RAW undecoded unless CDATA). */
static void
html_text(struct hp *p, const char *raw, size_t n, bool cdata)
{
	struct mbuf	d = { 0 };
	bool		fl = p->flagged;

	if (p->ms == MS_IGNORE)
		return;
	if (p->in_script > 0 || p->in_style > 0)
		return;
	if (cdata)
		mbuf_add(&d, raw, n);
	else
		decode_entities(raw, n, true, &d, &fl);
	if (d.err)
		p->out->err = d.err;
	display_text(p, d.p ? d.p : "", d.len, false,
	    html__has_visible(d.p, d.len) && html__font_invisible(p), fl);
	mbuf_free(&d);
}

/* html_whitespace for TAG. */
static void
html_whitespace(struct hp *p, const char *tag)
{
	static const char *const sp[] = {
		"li", "th", "td", "dt", "dd", "embed", NULL
	};
	static const char *const par[] = {
		"p", "hr", "blockquote", "pre", "listing", "plaintext",
		"xmp", "title", NULL
	};

	if (strcmp(tag, "br") == 0 || strcmp(tag, "div") == 0)
		display_text(p, "\n", 1, true, false, false);
	else if (in_list(tag, sp) || (tag[0] == 'h' && isdigit(
	    (unsigned char)tag[1]) && tag[2] == '\0'))
		display_text(p, " ", 1, true, false, false);
	else if (in_list(tag, par))
		display_text(p, "\n\n", 2, true, false, false);
}

/* html_tag: a start (START true) or end tag named TAG (lower case). */
static void
html_tag(struct hp *p, const char *tag, struct attr *a, size_t na,
    bool start)
{
	long		*in = NULL;
	const char	*pend = p->pending_end;

	/* HTML::Parser reports a pending end tag before the next tag. */
	if (pend != NULL) {
		p->pending_end = NULL;
		html_tag(p, pend, NULL, 0, false);
	}
	if (!strcmp(tag, "script"))
		in = &p->in_script;
	else if (!strcmp(tag, "style"))
		in = &p->in_style;
	if (in != NULL) {
		*in += start ? 1 : -1;
		if (*in < 0)
			*in = 0;
	}
	/* m@^(?:o|st\d):[\w-]+/?$@: Office namespaces, not rendered. */
	if ((tag[0] == 'o' && tag[1] == ':') || (tag[0] == 's' &&
	    tag[1] == 't' && isdigit((unsigned char)tag[2]) && tag[3] == ':')) {
		const char	*q = strchr(tag, ':') + 1;
		size_t		 k = 0;

		while (alnum_(q[k]) || q[k] == '-')
			k++;
		if (k > 0 && (q[k] == '\0' || (q[k] == '/' && q[k + 1] == '\0')))
			return;
	}
	if (!in_list(tag, elements) && !in_list(tag, tricks))
		return;
	if (in_list(tag, text_style_tags))
		html__text_style(p, tag, a, na, start);
	html_whitespace(p, tag);
	if (start)
		html__uri(p, tag, a, na);
}

/* ------------------------------------------------------------------ */
/* Tokenizer (HTML::Parser's parse_buf). */

/* Skip to the next '>' outside quotes, as MSIE does. */
static const char *
skip_until_gt(const char *s, const char *end)
{
	char	quote = '\0', prev = ' ';

	while (s < end) {
		if (!quote && *s == '>')
			return s;
		if (*s == '"' || *s == '\'') {
			if (*s == quote)
				quote = '\0';
			else if (!quote && (prev == ' ' || prev == '='))
				quote = *s;
		}
		prev = *s++;
	}
	return end;
}

/* Free the attribute values. */
static void
attrs_free(struct attr *a, size_t na)
{
	size_t	i;

	for (i = 0; i < na; i++)
		free(a[i].val);
}

/* Record attribute NAME=VALUE (first one wins), VALUE decoded. */
static void
attr_add(struct hp *p, struct attr *a, size_t *na, const char *nm,
    size_t nl, const char *v, size_t vl, bool has_v)
{
	struct mbuf	d = { 0 };
	size_t		i;
	char		low[64];

	if (nl >= sizeof(low))
		nl = sizeof(low) - 1;
	for (i = 0; i < nl; i++)
		low[i] = (char)tolower((unsigned char)nm[i]);
	low[nl] = '\0';
	if (*na >= MAX_ATTRS || attr_get(a, *na, low) != NULL)
		return;
	memcpy(a[*na].name, low, nl + 1);
	a[*na].flagged = p->flagged;
	if (has_v) {
		if (vl >= 2 && (v[0] == '"' || v[0] == '\'') &&
		    v[vl - 1] == v[0]) {
			v++;
			vl -= 2;
		}
		decode_entities(v, vl, false, &d, &a[*na].flagged);
	} else {
		/* A valueless attribute's value is its name as written. */
		mbuf_add(&d, nm, nl);
	}
	if (d.err) {
		p->out->err = d.err;
		mbuf_free(&d);
		return;
	}
	a[*na].val = mbuf_take(&d, &a[*na].vlen);
	(*na)++;
}

/* Lower-case the tag name [S, E) into BUF. */
static void
tag_name(const char *s, const char *e, char *buf, size_t size)
{
	size_t	i;

	for (i = 0; s < e && i < size - 1; s++, i++)
		buf[i] = (char)tolower((unsigned char)*s);
	buf[i] = '\0';
}

static const char *const literal_elems[] = {
	"script", "style", "xmp", "iframe", "plaintext", "title", "textarea",
	NULL
};

/* parse_start at BEG ("<" name-first): past the tag, BEG (need more), or
 * NULL (not a tag). */
static const char *
parse_start(struct hp *p, const char *beg, const char *end)
{
	struct attr	 a[MAX_ATTRS];
	size_t		 na = 0, i;
	const char	*s = beg + 2, *ns, *ne, *vs;
	char		 tag[128];

	while (s < end && !hspace(*s) && *s != '>')
		s++;
	tag_name(beg + 1, s, tag, sizeof(tag));
	while (s < end && hspace(*s))
		s++;
	if (s == end)
		return beg;
	while (*s != '>' && !hspace(*s)) {
		ns = s++;
		while (s < end && !hspace(*s) && *s != '=' && *s != '>')
			s++;
		if (s == end)
			goto premature;
		ne = s;
		while (s < end && hspace(*s))
			s++;
		if (s == end)
			goto premature;
		if (*s != '=') {
			attr_add(p, a, &na, ns, (size_t)(ne - ns), NULL, 0,
			    false);
			continue;
		}
		s++;
		while (s < end && hspace(*s))
			s++;
		if (s == end)
			goto premature;
		if (*s == '>') {
			attr_add(p, a, &na, ns, (size_t)(ne - ns), s, 0, true);
			break;
		}
		vs = s;
		if (*s == '"' || *s == '\'') {
			for (s++; s < end && *s != *vs; s++)
				;
			if (s == end)
				goto premature;
			s++;
		} else {
			while (s < end && !hspace(*s) && *s != '>')
				s++;
			if (s == end)
				goto premature;
		}
		attr_add(p, a, &na, ns, (size_t)(ne - ns), vs,
		    (size_t)(s - vs), true);
		while (s < end && hspace(*s))
			s++;
		if (s == end)
			goto premature;
	}
	if (*s != '>') {
		attrs_free(a, na);
		return NULL;
	}
	s++;
	html_tag(p, tag, a, na, true);
	attrs_free(a, na);
	for (i = 0; literal_elems[i] != NULL; i++) {
		if (strcmp(tag, literal_elems[i]) == 0) {
			p->literal = literal_elems[i];
			p->is_cdata = i < 5;
			break;
		}
	}
	return s;
premature:
	attrs_free(a, na);
	return beg;
}

/* parse_end at BEG ("</"). */
static const char *
parse_end(struct hp *p, const char *beg, const char *end)
{
	const char	*s = beg + 2, *ns;
	char		 tag[128];

	if (s < end && !hspace(*s) && *s != '>') {
		ns = s++;
		while (s < end && !hspace(*s) && *s != '>')
			s++;
		tag_name(ns, s, tag, sizeof(tag));
		s = skip_until_gt(s, end);
		if (s >= end)
			return beg;
		html_tag(p, tag, NULL, 0, false);
		return s + 1;
	}
	s = skip_until_gt(s, end);
	if (s >= end)
		return beg;
	return s + 1;			/* a comment */
}

/* parse_comment after "<!--" (non-strict); BEG if unterminated. */
static const char *
parse_comment(struct hp *p, const char *beg, const char *end)
{
	const char	*s = beg, *t;

	if (p->no_dash_dash_comment_end) {
		while (s < end && *s != '>')
			s++;
		return s < end ? s + 1 : beg;
	}
	for (;;) {
		while (s < end && *s != '-')
			s++;
		if (s >= end)
			return beg;
		t = s;
		s++;
		if (s < end && *s == '-') {
			s++;
			while (s < end && hspace(*s))
				s++;
			if (s < end && *s == '>')
				return s + 1;
		}
		if (s >= end)
			return beg;
		s = t + 1;
	}
}

/* Recompute the marked-section state from its stack. */
static void
ms_update(struct hp *p)
{
	unsigned	i;

	p->ms = MS_NONE;
	for (i = 0; i < p->ms_depth; i++)
		if (p->ms_stack[i] > p->ms)
			p->ms = p->ms_stack[i];
	p->is_cdata = p->ms == MS_CDATA;
}

/* parse_marked_section at BEG ("<!["): past it, BEG, or NULL. */
static const char *
parse_marked_section(struct hp *p, const char *beg, const char *end)
{
	const char	*s = beg + 3, *ns;
	enum ms		 top = MS_NONE, tok;
	bool		 any = false;
	char		 name[16];

find_names:
	while (s < end && hspace(*s))
		s++;
	while (s < end && hname_first(*s)) {
		ns = s++;
		while (s < end && hname_char(*s))
			s++;
		tag_name(ns, s, name, sizeof(name));
		while (s < end && hspace(*s))
			s++;
		if (s >= end)
			return beg;
		tok = !strcmp(name, "include") ? MS_INCLUDE :
		    !strcmp(name, "rcdata") ? MS_RCDATA :
		    !strcmp(name, "cdata") ? MS_CDATA :
		    !strcmp(name, "ignore") ? MS_IGNORE : MS_NONE;
		if (tok > top)
			top = tok;
		any = true;
	}
	if (s < end && *s == '-') {
		s++;
		if (s >= end || *s != '-')
			return NULL;
		for (s++;;) {
			while (s < end && *s != '-')
				s++;
			if (s >= end)
				return beg;
			s++;
			if (s < end && *s == '-') {
				s++;
				goto find_names;
			}
		}
	}
	if (s < end && *s == '[') {
		if (!any)
			top = MS_INCLUDE;
		if (p->ms_depth < MAX_MS_DEPTH)
			p->ms_stack[p->ms_depth++] = top;
		ms_update(p);
		return s + 1;
	}
	return s >= end ? beg : NULL;
}

/* parse_decl at BEG ("<!"). */
static const char *
parse_decl(struct hp *p, const char *beg, const char *end)
{
	const char	*s = beg + 2, *t;

	if (s < end && *s == '-') {
		s++;
		if (s >= end)
			return beg;
		if (*s == '-') {
			s++;
			t = parse_comment(p, s, end);
			return t == s ? beg : t;
		}
		goto decl_fail;
	}
	if (s < end && *s == '[') {
		t = parse_marked_section(p, beg, end);
		if (t != NULL)
			return t;
		goto decl_fail;
	}
	if (s < end && *s == '>')
		return s + 1;		/* <!> is an empty comment */
	/* DOCTYPE and ENTITY declarations end at '>' outside quotes and
	 * comments; anything else is a comment up to the first '>'. */
	if (s < end && isalpha((unsigned char)*s)) {
		const char	*id = s;

		while (s < end && hname_char(*s))
			s++;
		if (s >= end)
			return beg;
		if (!((s - id == 7 && strncasecmp(id, "DOCTYPE", 7) == 0) ||
		    (s - id == 6 && strncasecmp(id, "ENTITY", 6) == 0)))
			goto decl_fail;
		for (;;) {
			while (s < end && hspace(*s))
				s++;
			if (s >= end)
				return beg;
			if (*s == '"' || *s == '\'') {
				char	q = *s++;

				while (s < end && *s != q)
					s++;
				if (s >= end)
					return beg;
				s++;
			} else if (*s == '-') {
				s++;
				if (s >= end)
					return beg;
				if (*s != '-')
					goto decl_fail;
				for (s++;;) {
					while (s < end && *s != '-')
						s++;
					if (s >= end || s + 1 >= end)
						return beg;
					s++;
					if (*s == '-') {
						s++;
						break;
					}
				}
			} else if (*s != '>') {
				for (s++; s < end && !hspace(*s) && *s != '>';
				    s++)
					;
				if (s >= end)
					return beg;
			} else
				return s + 1;
		}
	}
decl_fail:
	while (s < end && *s != '>')
		s++;
	return s < end ? s + 1 : beg;
}

/* parse_process at BEG ("<?"): up to the first '>'. */
static const char *
parse_process(const char *beg, const char *end)
{
	const char	*s = memchr(beg + 2, '>', (size_t)(end - beg - 2));

	return s != NULL ? s + 1 : beg;
}

/* Report the text [T, S); CDATA per the state. */
static void
text_event(struct hp *p, const char *t, const char *s)
{
	if (s > t)
		html_text(p, t, (size_t)(s - t), p->is_cdata);
}

/* parse_buf: tokens of [BEG, END); where it stopped (needs more data). */
static const char *
parse_buf(struct hp *p, const char *beg, const char *end)
{
	const char	*s = beg, *t = beg, *np, *l, *end_text;

	for (;;) {
		while (p->literal != NULL) {
			l = p->literal;
			while (s < end && *s != '<')
				s++;
			if (s >= end)
				return t;
			end_text = s++;
			if (s < end && *s == '/') {
				s++;
				while (*l && s < end &&
				    tolower((unsigned char)*s) == *l) {
					s++;
					l++;
				}
				if (*l == '\0' && strcmp(p->literal,
				    "plaintext") != 0) {
					while (s < end && hspace(*s))
						s++;
					if (s < end && *s == '>') {
						s++;
						text_event(p, t, end_text);
						html_tag(p, p->literal, NULL, 0,
						    false);
						p->literal = NULL;
						p->is_cdata = false;
						t = s;
					}
				}
			}
		}
		while (p->ms == MS_CDATA || p->ms == MS_RCDATA) {
			while (s < end && *s != ']')
				s++;
			if (s < end) {
				end_text = s++;
				if (s + 1 < end && s[0] == ']' && s[1] == '>') {
					s += 2;
					text_event(p, t, end_text);
					t = s;
					p->ms_depth--;
					ms_update(p);
					continue;
				}
			}
			if (s >= end)
				return t;
		}
		while (s < end && *s != '<') {
			if (p->ms != MS_NONE && *s == ']' && s + 2 < end &&
			    s[1] == ']' && s[2] == '>') {
				text_event(p, t, s);
				s += 3;
				t = s;
				if (p->ms_depth > 0)
					p->ms_depth--;
				ms_update(p);
				continue;
			}
			s++;
		}
		if (s != t) {
			if (s < end) {
				text_event(p, t, s);
				t = s;
			} else {
				/* Keep a trailing word, it may go on. */
				s--;
				if (hspace(*s)) {
					while (s >= t && hspace(*s))
						s--;
				} else {
					while (s >= t && !hspace(*s))
						s--;
					while (s >= t && hspace(*s))
						s--;
				}
				s++;
				text_event(p, t, s);
				return s;
			}
		}
		if (end - s < 3)
			return s;
		s++;
		if (hname_first(*s))
			np = parse_start(p, t, end);
		else if (*s == '/')
			np = parse_end(p, t, end);
		else if (*s == '!')
			np = parse_decl(p, t, end);
		else if (*s == '?')
			np = parse_process(t, end);
		else
			np = NULL;
		if (np != NULL) {
			if (np == t)
				return t;	/* need more data */
			t = s = np;
		}
	}
}

/* The end of the document: what HTML::Parser's eof does with the rest. */
static void
parse_eof(struct hp *p, const char *s, const char *end)
{
	size_t	guard = (size_t)(end - s) + 16;

	/* Every turn consumes some markup; the guard only makes sure. */
	while (s < end && guard-- > 0) {
		if (p->literal != NULL) {
			if (!strcmp(p->literal, "plaintext") ||
			    !strcmp(p->literal, "xmp") ||
			    !strcmp(p->literal, "iframe") ||
			    !strcmp(p->literal, "textarea"))
				break;	/* the rest is text */
			if (!strcmp(p->literal, "script") ||
			    !strcmp(p->literal, "style"))
				html_tag(p, p->literal, NULL, 0, false);
			else
				p->pending_end = p->literal;	/* title */
			p->literal = NULL;
			p->is_cdata = false;
			s = parse_buf(p, s, end);
			continue;
		}
		if (!p->no_dash_dash_comment_end && *s == '<') {
			p->no_dash_dash_comment_end = true;
			s = parse_buf(p, s, end);
			continue;
		}
		if (*s == '<' && (s + 1 == end || hname_first(s[1]) ||
		    s[1] == '/' || s[1] == '!' || s[1] == '?'))
			s = end;	/* unterminated markup: a comment */
		break;
	}
	text_event(p, s, end);
}

/* Render IN into OUT (Mail::SpamAssassin::HTML::parse). */
void
html__render(const char *in, size_t n, bool flagged, struct html_out *out)
{
	struct hp	 p;
	struct mbuf	 pre = { 0 }, rest = { 0 };
	const char	*s;
	size_t		 i, j, k;
	unsigned	 guard = 0;

	memset(&p, 0, sizeof(p));
	p.out = out;
	p.flagged = flagged;
	html__style_init(&p);
	out->flagged = flagged;
	/* s/&nbsp;/ /g; s/<(\w+)\s*\/>/<$1>/gi; curly double quotes. */
	for (i = 0; i < n; ) {
		if (i + 6 <= n && memcmp(in + i, "&nbsp;", 6) == 0) {
			mbuf_addc(&pre, ' ');
			i += 6;
			continue;
		}
		if (i + 3 <= n && (unsigned char)in[i] == 0xe2 &&
		    (unsigned char)in[i + 1] == 0x80 &&
		    ((unsigned char)in[i + 2] == 0x9c ||
		    (unsigned char)in[i + 2] == 0x9d)) {
			mbuf_addc(&pre, '"');
			i += 3;
			continue;
		}
		if (in[i] == '<') {
			for (j = i + 1; j < n && alnum_(in[j]); j++)
				;
			for (k = j; k < n && hspace(in[k]); k++)
				;
			if (j > i + 1 && k + 1 < n && in[k] == '/' &&
			    in[k + 1] == '>') {
				mbuf_add(&pre, in + i, j - i);
				mbuf_addc(&pre, '>');
				i = k + 2;
				continue;
			}
		}
		mbuf_addc(&pre, in[i++]);
	}
	if (pre.err) {
		out->err = pre.err;
		mbuf_free(&pre);
		return;
	}
	s = parse_buf(&p, pre.p ? pre.p : "", pre.p ? pre.p + pre.len : "");
	mbuf_add(&rest, s, (size_t)(pre.p + pre.len - s));
	/* Bug 7437: close an unclosed <style> or <script>. */
	while ((p.in_style > 0 || p.in_script > 0) && guard++ < MAX_EXTRA_CLOSE) {
		struct mbuf	nr = { 0 };

		mbuf_adds(&rest, p.in_style > 0 ? "</style>" : "</script>");
		if (rest.err)
			break;
		s = parse_buf(&p, rest.p, rest.p + rest.len);
		mbuf_add(&nr, s, (size_t)(rest.p + rest.len - s));
		mbuf_free(&rest);
		rest = nr;
	}
	if (rest.len > 0)
		parse_eof(&p, rest.p, rest.p + rest.len);
	if (p.pending_end != NULL)		/* before the end of document */
		html_tag(&p, p.pending_end, NULL, 0, false);
	if (rest.err || pre.err)
		out->err = ENOMEM;
	if (out->text.err || out->uris.err)
		out->err = ENOMEM;
	free(p.base_href);
	free(p.st);
	mbuf_free(&rest);
	mbuf_free(&pre);
}

/* Free the output. */
void
html__free(struct html_out *out)
{
	mbuf_free(&out->text);
	mbuf_free(&out->uris);
}
