/*
 * html_style.c: the colour and font state of SpamAssassin's HTML.pm
 * (text_style, name_to_rgb, html_font_invisible), kept only to know
 * which text it calls invisible: text in the background colour or close
 * to it, in an invalid colour, in a font of size 1 or less, or under
 * display:none or visibility:hidden.  Invisible text is rendered all the
 * same, but it changes where spaces are trimmed next to line breaks.
 *
 * Owns: the style stack of a render (in struct hp), at most MAX_STYLES
 * deep.  Colours are strings as in HTML.pm: "#rrggbb", "invalid", ...
 * Fails only on ENOMEM (the output's err).
 */

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "html_colors.h"
#include "html_int.h"
#include "msgbuf.h"

/* True if T has something besides [ \t\n\r\f\x0b] and U+00C2 U+00A0. */
bool
html__has_visible(const char *t, size_t n)
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
bool
html__font_invisible(const struct hp *p)
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
void
html__text_style(struct hp *p, const char *tag0, struct attr *a, size_t na,
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

/* The bottom of the stack: black on white, size 3. */
void
html__style_init(struct hp *p)
{
	struct tstyle	*d;

	p->basefont = 3;
	if ((d = style_push(p, "default")) == NULL)
		return;
	strcpy(d->fg, "#000000");
	strcpy(d->bg, "#ffffff");
	d->size = 3;
	d->display_none = d->hidden = false;
}
