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
 * Text that SpamAssassin deems invisible (same or nearly the same colour
 * as the background, font size 1 or less, display:none,
 * visibility:hidden, invalid colours) is rendered all the same, but it
 * changes where spaces are trimmed next to line breaks, so the colour
 * and font state of HTML.pm (text_style, name_to_rgb, CSS colours and
 * backgrounds) is kept too.
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
#include "html_colors.h"
#include "html_entities.h"
#include "msgbuf.h"

#define MAX_ATTRS	64
#define MAX_URI_LENGTH	8192
#define MAX_MS_DEPTH	64
#define MAX_EXTRA_CLOSE	1000
#define MAX_STYLES	100000

enum ms { MS_NONE, MS_INCLUDE, MS_RCDATA, MS_CDATA, MS_IGNORE };

struct attr {
	char	 name[64];
	char	*val;		/* decoded, NULL for a valueless attribute */
	size_t	 vlen;
	bool	 flagged;
};

/* One entry of HTML.pm's text_style stack. */
struct tstyle {
	char	tag[16];
	char	fg[16], bg[16];		/* "#rrggbb", "invalid", ... */
	long	size;
	bool	display_none, hidden;
};

struct hp {
	struct html_out	*out;
	struct tstyle	*st;
	size_t		 nst, stcap;
	long		 basefont;
	bool		 flagged;	/* the input is characters */
	const char	*literal;	/* literal-mode element or NULL */
	bool		 is_cdata;
	enum ms		 ms_stack[MAX_MS_DEPTH];
	unsigned	 ms_depth;
	enum ms		 ms;
	bool		 no_dash_dash_comment_end;
	const char	*pending_end_tag;
	/* renderer */
	size_t		 last_start;	/* offset of the last text element */
	bool		 have_last, last_ws, last_invis;
	long		 in_script, in_style;
	char		*base_href;
};

/* HTML::Parser's isHSPACE. */
static bool
hspace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' ||
	    c == '\f' || c == '\r';
}

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

/* Perl's isALNUM (word character) on a byte. */
static bool
alnum_(char c)
{
	return isalnum((unsigned char)c) || c == '_';
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
	for (; *list != NULL; list++)
		if (strcmp(tag, *list) == 0)
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

/* The attribute NAME of A, or NULL. */
static struct attr *
attr_get(struct attr *a, size_t na, const char *name)
{
	size_t	i;

	for (i = 0; i < na; i++)
		if (strcmp(a[i].name, name) == 0)
			return &a[i];
	return NULL;
}

/* True if T has something besides [ \t\n\r\f\x0b] and U+00C2 U+00A0. */
static bool
has_visible_chars(const char *t, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (hspace(t[i]))
			continue;
		if (i + 3 < n && !memcmp(t + i, "\xc3\x82\xc2\xa0", 4)) {
			i += 3;
			continue;
		}
		return true;
	}
	return false;
}

/* The value of hex digit C. */
static unsigned
hexv(char c)
{
	return isdigit((unsigned char)c) ? (unsigned)(c - '0') :
	    (unsigned)(tolower((unsigned char)c) - 'a' + 10);
}

/* "#rrggbb" into R, G, B; false if C is not exactly that. */
static bool
rgb6(const char *c, unsigned *r, unsigned *g, unsigned *b)
{
	size_t	i, n = strlen(c);

	if (n > 0 && c[0] == '#') {
		c++;
		n--;
	}
	if (n != 6)
		return false;
	for (i = 0; i < 6; i++)
		if (!isdigit((unsigned char)c[i]) && !(c[i] >= 'a' &&
		    c[i] <= 'f'))
			return false;
	*r = hexv(c[0]) << 4 | hexv(c[1]);
	*g = hexv(c[2]) << 4 | hexv(c[3]);
	*b = hexv(c[4]) << 4 | hexv(c[5]);
	return true;
}

/* html_font_invisible: is text in the current style invisible? */
static bool
font_invisible(const struct hp *p)
{
	const struct tstyle	*t;
	const char		*f, *b;
	size_t			 fl, bl;
	unsigned		 r1, g1, b1, r2, g2, b2;
	double			 dr, dg, db;

	if (p->nst == 0)
		return false;
	t = &p->st[p->nst - 1];
	fl = strlen(t->fg);
	bl = strlen(t->bg);
	f = t->fg + (fl > 6 ? fl - 6 : 0);
	b = t->bg + (bl > 6 ? bl - 6 : 0);
	if (strcmp(f, b) == 0)
		return true;
	if (rgb6(t->fg, &r1, &g1, &b1) && rgb6(t->bg, &r2, &g2, &b2)) {
		dr = 0.2126 * ((double)r1 - r2);
		dg = 0.7152 * ((double)g1 - g2);
		db = 0.0722 * ((double)b1 - b2);
		if (dr * dr + dg * dg + db * db < 144.0)
			return true;
	}
	if (!strcmp(t->fg, "invalid") || !strcmp(t->bg, "invalid"))
		return true;
	return t->size <= 1 || t->display_none || t->hidden;
}

/* Two lower-case hex digits of V like dec2hex (more when V > 255). */
static void
dec2hex(unsigned long v, struct mbuf *o)
{
	char	b[24];

	snprintf(b, sizeof(b), "%s%lx", v < 16 ? "0" : "", v);
	mbuf_adds(o, b);
}

/* Parse "N" or "N%" integers after "rgb(" at S like name_to_rgb. */
static bool
rgb_fn(const char *s, bool pct, unsigned long v[3])
{
	const char	*q = strstr(s, "rgb(");
	int		 i;

	if (q == NULL)
		return false;
	q += 4;
	for (i = 0; i < 3; i++) {
		if (!isdigit((unsigned char)*q))
			return false;
		v[i] = strtoul(q, (char **)&q, 10);
		if (pct && *q++ != '%')
			return false;
		if (i < 2) {
			if (*q++ != ',')
				return false;
			while (hspace(*q))
				q++;
		} else {
			while (hspace(*q))
				q++;
			if (*q != ')')
				return false;
		}
	}
	return true;
}

/* name_to_rgb of C (N bytes) into OUT (16 bytes). */
static void
name_to_rgb(const char *c, size_t n, char out[16])
{
	struct mbuf	 x = { 0 };
	char		*s, h[8];
	size_t		 i, k, lo, hi, mid;
	unsigned long	 v[3];
	bool		 ok;

	while (n > 0 && hspace(*c))
		c++, n--;
	while (n > 0 && hspace(c[n - 1]))
		n--;
	for (i = 0; i < n; i++)
		mbuf_addc(&x, (char)tolower((unsigned char)c[i]));
	s = x.p ? x.p : "";
	strcpy(out, "invalid");
	if (x.err)
		goto done;
	for (lo = 0, hi = sizeof(html_colors) / sizeof(html_colors[0]);
	    lo < hi; ) {
		int	r;

		mid = (lo + hi) / 2;
		r = strcmp(s, html_colors[mid].name);
		if (r == 0) {
			snprintf(out, 16, "#%06x", html_colors[mid].rgb);
			goto done;
		}
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	/* m/^[#a-f0-9]*$|rgb\([\d%, ]*\)/i */
	ok = strspn(s, "#abcdef0123456789") == x.len;
	if (!ok && (s = strstr(x.p ? x.p : "", "rgb(")) != NULL) {
		k = strspn(s + 4, "0123456789%, ");
		ok = s[4 + k] == ')';
	}
	s = x.p ? x.p : "";
	if (!ok)
		goto done;
	{
		bool	pct = rgb_fn(s, true, v);

		if (pct || rgb_fn(s, false, v)) {
			struct mbuf	y = { 0 };

			mbuf_addc(&y, '#');
			for (i = 0; i < 3; i++)
				dec2hex(pct ? (unsigned long)((double)v[i] /
				    100 * 255) : v[i], &y);
			mbuf_free(&x);
			x = y;
			s = x.p ? x.p : "";
		}
	}
	if (s[0] != '#')
		goto done;
	/* strip to hex, cut to 6 or 3, pad, double shorthand */
	for (i = k = 0; s[i] != '\0'; i++)
		if (isxdigit((unsigned char)s[i]) && k < 7)
			h[k++] = s[i];
	if (k > 6)
		k = 6;
	if (k > 3 && k < 6)
		k = 3;
	while (k % 3 != 0)
		h[k++] = '0';
	h[k] = '\0';
	if (k == 3)
		snprintf(out, 16, "#%c%c%c%c%c%c", h[0], h[0], h[1], h[1],
		    h[2], h[2]);
	else
		snprintf(out, 16, "#%s", h);
done:
	mbuf_free(&x);
}

/* Push a copy of the top style, renamed TAG; NULL when full. */
static struct tstyle *
style_push(struct hp *p, const char *tag)
{
	struct tstyle	*n;

	if (p->nst >= MAX_STYLES)
		return NULL;
	if (p->nst == p->stcap) {
		size_t	cap = p->stcap ? p->stcap * 2 : 16;

		if ((n = reallocarray(p->st, cap, sizeof(*n))) == NULL) {
			p->out->err = ENOMEM;
			return NULL;
		}
		p->st = n;
		p->stcap = cap;
	}
	n = &p->st[p->nst];
	if (p->nst > 0)
		*n = p->st[p->nst - 1];
	snprintf(n->tag, sizeof(n->tag), "%s", tag);
	p->nst++;
	return n;
}

/* True if a style entry for TAG is open. */
static bool
style_open(const struct hp *p, const char *tag)
{
	size_t	i;

	for (i = 0; i < p->nst; i++)
		if (strcmp(p->st[i].tag, tag) == 0)
			return true;
	return false;
}

/* CSS "background:" values, bottom layer: the first valid colour. */
static void
css_background(const char *v, size_t n, char bg[16])
{
	/* parse_css_background: layers split at top-level commas, tokens
	 * at spaces, parentheses and quotes kept together. */
	size_t	i, ts = 0, lstart = 0;
	int	state = 0, stack[64], sp = 0;
	char	col[16], low[256];

	/* Find the start of the last layer first. */
	for (i = 0; i < n; i++) {
		char	ch = v[i];

		if (state == 0) {
			if (ch == '(' || ch == '"' || ch == '\'') {
				if (sp < 64)
					stack[sp++] = state;
				state = ch == '(' ? 1 : ch == '"' ? 2 : 3;
			} else if (ch == ',')
				lstart = i + 1;
		} else if (state == 1) {
			if (ch == ')')
				state = sp > 0 ? stack[--sp] : 0;
			else if (ch == '"' || ch == '\'') {
				if (sp < 64)
					stack[sp++] = state;
				state = ch == '"' ? 2 : 3;
			}
		} else if ((state == 2 && ch == '"') ||
		    (state == 3 && ch == '\''))
			state = sp > 0 ? stack[--sp] : 0;
	}
	/* Tokens of the last layer, split at spaces outside brackets. */
	state = 0;
	sp = 0;
	for (i = ts = lstart; i <= n; i++) {
		char	ch = i < n ? v[i] : ' ';

		if (state == 0 && (ch == ' ' || i == n)) {
			if (i > ts && i - ts < sizeof(low)) {
				memcpy(low, v + ts, i - ts);
				name_to_rgb(low, i - ts, col);
				if (strcmp(col, "invalid") != 0) {
					strcpy(bg, col);
					return;
				}
			}
			ts = i + 1;
			continue;
		}
		if (state == 0 && (ch == '(' || ch == '"' || ch == '\'')) {
			if (sp < 64)
				stack[sp++] = state;
			state = ch == '(' ? 1 : ch == '"' ? 2 : 3;
		} else if (state == 1 && ch == ')') {
			/* a ")" ends the token */
			state = sp > 0 ? stack[--sp] : 0;
			if (i + 1 - ts < sizeof(low)) {
				memcpy(low, v + ts, i + 1 - ts);
				name_to_rgb(low, i + 1 - ts, col);
				if (strcmp(col, "invalid") != 0) {
					strcpy(bg, col);
					return;
				}
			}
			ts = i + 1;
		} else if (state == 1 && (ch == '"' || ch == '\'')) {
			if (sp < 64)
				stack[sp++] = state;
			state = ch == '"' ? 2 : 3;
		} else if ((state == 2 && ch == '"') ||
		    (state == 3 && ch == '\''))
			state = sp > 0 ? stack[--sp] : 0;
	}
}

/* S[0 .. N) trimmed of \s; false if empty or a newline remains. */
static bool
trimmed(const char **s, size_t *n)
{
	while (*n > 0 && hspace(**s))
		(*s)++, (*n)--;
	while (*n > 0 && hspace((*s)[*n - 1]))
		(*n)--;
	return *n > 0 && memchr(*s, '\n', *n) == NULL;
}

/* The style attribute of a tag, into style entry T. */
static void
apply_css(struct hp *p, struct tstyle *t, const char *st, size_t sn)
{
	const char	*part, *e, *v;
	size_t		 pn, vn, i;
	char		 low[256];

	for (part = st; part <= st + sn; part = e + 1) {
		e = memchr(part, ';', (size_t)(st + sn - part));
		if (e == NULL)
			e = st + sn;
		pn = (size_t)(e - part);
		v = part;
		while (pn > 0 && hspace(*v))
			v++, pn--;
		if ((pn >= 17 && !strncasecmp(v, "background-color:", 17)) ||
		    (pn >= 6 && !strncasecmp(v, "color:", 6))) {
			bool	bgc = tolower((unsigned char)*v) == 'b';
			char	*dst = bgc ? t->bg : t->fg;

			v += bgc ? 17 : 6;
			vn = pn - (bgc ? 17 : 6);
			if (!trimmed(&v, &vn) || vn >= sizeof(low))
				continue;
			for (i = 0; i < vn; i++)
				low[i] = (char)tolower((unsigned char)v[i]);
			low[vn] = '\0';
			/* s/\s*!\s*important$// */
			if (vn >= 9 && !strcmp(low + vn - 9, "important")) {
				size_t	k = vn - 9;

				while (k > 0 && hspace(low[k - 1]))
					k--;
				if (k > 0 && low[k - 1] == '!') {
					k--;
					while (k > 0 && hspace(low[k - 1]))
						k--;
					low[k] = '\0';
					vn = k;
				}
			}
			if (strstr(low, "rgb") != NULL) {
				unsigned long	c[3] = { 0, 0, 0 };
				int		ci = 0;
				const char	*q = low;

				/* tr/0-9,//cd; split /,/ */
				for (; *q != '\0' && ci < 3; q++) {
					if (isdigit((unsigned char)*q)) {
						c[ci] = c[ci] * 10 +
						    (unsigned long)(*q - '0');
						if (c[ci] > 100000)
							c[ci] = 100000;
					} else if (*q == ',')
						ci++;
				}
				snprintf(dst, 16, "#%02lx%02lx%02lx",
				    c[0] > 255 ? 255 : c[0],
				    c[1] > 255 ? 255 : c[1],
				    c[2] > 255 ? 255 : c[2]);
			} else if (!strcmp(low, "inherit")) {
				;
			} else if (!strcmp(low, "transparent")) {
				strcpy(dst, "transparent");
			} else
				name_to_rgb(low, vn, dst);
		} else if (pn >= 11 && !strncmp(v, "background:", 11)) {
			v += 11;
			vn = pn - 11;
			if (!trimmed(&v, &vn) || vn >= sizeof(low))
				continue;
			for (i = 0; i < vn; i++)
				low[i] = (char)tolower((unsigned char)v[i]);
			css_background(low, vn, t->bg);
		} else {
			/* /^\s*([a-z_-]+)\s*:\s*(\S.*?)\s*$/i */
			for (i = 0; i < pn && (isalpha((unsigned char)v[i]) ||
			    v[i] == '_' || v[i] == '-'); i++)
				;
			if (i == 0)
				continue;
			{
				size_t		 nl = i;
				const char	*val;
				size_t		 vl;

				while (i < pn && hspace(v[i]))
					i++;
				if (i >= pn || v[i] != ':')
					continue;
				val = v + i + 1;
				vl = pn - i - 1;
				if (!trimmed(&val, &vl))
					continue;
				if (nl == 7 && !strncmp(v, "display", 7))
					t->display_none = vl == 4 &&
					    !strncasecmp(val, "none", 4);
				else if (nl == 10 && !strncmp(v, "visibility",
				    10))
					t->hidden = vl == 6 &&
					    !strncasecmp(val, "hidden", 6);
			}
		}
		if (e == st + sn)
			break;
	}
	if (!strcmp(t->bg, "transparent"))
		strcpy(t->bg, p->nst >= 2 ? p->st[p->nst - 2].bg : "#ffffff");
	if (!strcmp(t->fg, "transparent"))
		strcpy(t->fg, t->bg);
}

/* text_style for an opening or closing tag. */
static void
text_style(struct hp *p, const char *tag0, struct attr *a, size_t na,
    bool start)
{
	const char	*tag = strcmp(tag0, "th") == 0 ? "td" : tag0;
	struct tstyle	*t;
	struct attr	*v;
	const char	*q;
	size_t		 i;

	if (!start) {
		if (strcmp(tag, "body") == 0 || !style_open(p, tag))
			return;
		/* close everything up to and including TAG */
		while (p->nst > 0 && strcmp(p->st[--p->nst].tag, tag) != 0)
			;
		return;
	}
	if (!strcmp(tag, "basefont") && (v = attr_get(a, na, "size")) &&
	    v->val) {
		for (q = v->val; hspace(*q); q++)
			;
		if (isdigit((unsigned char)*q)) {
			p->basefont = strtol(q, NULL, 10);
			return;
		}
	}
	if ((!strcmp(tag, "td") || !strcmp(tag, "tr")) && style_open(p, tag)) {
		/* close_table_tag */
		while (p->nst > 0) {
			const char	*top = p->st[p->nst - 1].tag;

			if ((!strcmp(tag, "td") && (!strcmp(top, "font") ||
			    !strcmp(top, "td"))) || (!strcmp(tag, "tr") &&
			    (!strcmp(top, "font") || !strcmp(top, "td") ||
			    !strcmp(top, "tr"))))
				p->nst--;
			else
				break;
		}
	}
	if ((t = style_push(p, tag)) == NULL)
		return;
	if (!strcmp(tag, "big") || !strcmp(tag, "small")) {
		t->size += tag[0] == 'b' ? 1 : -1;
		return;
	}
	for (i = 0; i < na; i++) {
		const char	*n = a[i].name;
		bool		 font = !strcmp(tag, "font") ||
		    !strcmp(tag, "basefont");
		bool		 cssok = !strcmp(tag, "table") ||
		    !strcmp(tag, "td") || !strcmp(tag, "tr") ||
		    !strcmp(tag, "span") || !strcmp(tag, "p") ||
		    !strcmp(tag, "div") || !strcmp(tag, "a");

		if (a[i].val == NULL)
			continue;
		if ((font && !strcmp(n, "color")) ||
		    (!strcmp(tag, "body") && !strcmp(n, "text")))
			name_to_rgb(a[i].val, a[i].vlen, t->fg);
		else if (font && !strcmp(n, "size")) {
			for (q = a[i].val; hspace(*q); q++)
				;
			if ((*q == '+' || *q == '-') &&
			    isdigit((unsigned char)q[1]))
				t->size = p->basefont + strtol(q, NULL, 10);
			else if (isdigit((unsigned char)*q))
				t->size = strtol(q, NULL, 10);
		} else if (cssok && !strcmp(n, "style"))
			apply_css(p, t, a[i].val, a[i].vlen);
	}
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
	    has_visible_chars(d.p, d.len) && font_invisible(p), fl);
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

/* push_uri: the link V, resolved against the base, onto the list. */
static void
push_uri(struct hp *p, const char *v, size_t n, bool flagged)
{
	size_t	before;

	canon_uri(&v, &n, flagged);
	if (n == 0)
		return;
	before = p->out->uris.len;
	mbuf_addc(&p->out->uris, flagged ? '1' : '0');
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
	if (p->out->uris.len == before + 1) {
		p->out->uris.len = before;	/* an empty target */
		return;
	}
	mbuf_addc(&p->out->uris, '\0');
	p->out->nuris++;
}

/* html_tests for <a>: the anchor's href as written (canon_uri only,
 * "" without one) is a key of SpamAssassin's link list too. */
static void
anchor_uri(struct hp *p, const struct attr *h)
{
	struct mbuf	 f = { 0 };
	const char	*v = "";
	size_t		 n = 0, i;

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
	mbuf_addc(&p->out->uris, h != NULL && h->flagged ? '1' : '0');
	mbuf_add(&p->out->uris, v, n);
	mbuf_addc(&p->out->uris, '\0');
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
static void
html_uri(struct hp *p, const char *tag, struct attr *a, size_t na)
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

/* html_tag: a start (START true) or end tag named TAG (lower case). */
static void
html_tag(struct hp *p, const char *tag, struct attr *a, size_t na,
    bool start)
{
	long	*in = NULL;

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
		text_style(p, tag, a, na, start);
	html_whitespace(p, tag);
	if (start)
		html_uri(p, tag, a, na);
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
	while (s < end) {
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
				p->pending_end_tag = p->literal;
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
	p.basefont = 3;
	{
		struct tstyle	*d = style_push(&p, "default");

		if (d != NULL) {
			strcpy(d->fg, "#000000");
			strcpy(d->bg, "#ffffff");
			d->size = 3;
			d->display_none = d->hidden = false;
		}
	}
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
