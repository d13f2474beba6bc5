/*
 * mime.c: the MIME tree of a message, built the way SpamAssassin 4 builds
 * it (Mail::SpamAssassin::Message new, parse_body, _parse_multipart,
 * _parse_normal; Util::parse_content_type), because the texts that rules
 * match depend on every quirk of that parser: where a header section
 * ends, which boundary lines count, how long lines are split, which part
 * without a Content-Type becomes what.
 *
 * Owns: the leaves (each with its line array and strings) and the
 * buffers of decoded message/rfc822 parts.  Lines point into the caller's
 * message buffer or into those owned buffers.
 *
 * Caps: nesting (mime_max_depth, SpamAssassin's 20), parts per multipart
 * (mime_max_parts, its 1000), decoded bytes in total (mime_max_decoded).
 * A cap makes the rest of the structure be ignored, never an error.
 * Only ENOMEM fails, and what was parsed stays usable.
 */

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "decode.h"
#include "message.h"
#include "mime.h"
#include "msgbuf.h"
#include "rfc2047.h"

#define MAX_BODY_LINE_LENGTH	2048
#define MAX_BLANK_LINES		20

/* A header field of a node: name and raw value, owned copies. */
#define nhdr	mime_field

/* A node being parsed: its headers and its type. */
struct node {
	struct nhdr	*h;
	size_t		 nh, hcap;
	char		 type[128];
};

/* An array of lines under construction. */
struct lines {
	struct mime_line *l;
	size_t		 n, cap;
};

static void	parse_body(struct mime_tree *, struct node *, const char *,
		    struct lines *, int, unsigned);

/* Remember ENOMEM in T. */
static void
oom(struct mime_tree *t)
{
	t->err = ENOMEM;
}

/* Append a line to A. */
static bool
lines_push(struct mime_tree *t, struct lines *a, const char *p, size_t len,
    bool addnl)
{
	struct mime_line	*nl;
	size_t			 cap;

	if (a->n == a->cap) {
		cap = a->cap ? a->cap * 2 : 16;
		if ((nl = reallocarray(a->l, cap, sizeof(*nl))) == NULL) {
			oom(t);
			return false;
		}
		a->l = nl;
		a->cap = cap;
	}
	a->l[a->n].p = p;
	a->l[a->n].len = len;
	a->l[a->n].addnl = addnl;
	a->n++;
	return true;
}

/* Append a line, split every 2048 bytes with a "\n" added to each piece,
 * as _parse_multipart does with long lines. */
static void
lines_push_split(struct mime_tree *t, struct lines *a,
    const struct mime_line *ln)
{
	const char	*p = ln->p;
	size_t		 len = ln->len;

	while (len + (ln->addnl ? 1 : 0) > MAX_BODY_LINE_LENGTH) {
		if (!lines_push(t, a, p, MAX_BODY_LINE_LENGTH, true))
			return;
		p += MAX_BODY_LINE_LENGTH;
		len -= MAX_BODY_LINE_LENGTH;
	}
	if (len == 0 && ln->addnl)
		lines_push(t, a, "\n", 1, false);
	else
		lines_push(t, a, p, len, ln->addnl);
}

/* Byte I of line L counting the added newline; -1 past its end. */
static int
lchar(const struct mime_line *l, size_t i)
{
	if (i < l->len)
		return (unsigned char)l->p[i];
	if (i == l->len && l->addnl)
		return '\n';
	return -1;
}

/* Length of L including the added newline. */
static size_t
llen(const struct mime_line *l)
{
	return l->len + (l->addnl ? 1 : 0);
}

/* True if L is a header field line: /^[\041-\071\073-\176]+[ \t]*:/ */
static bool
is_field_line(const struct mime_line *l)
{
	size_t	i = 0;
	int	c;

	while ((c = lchar(l, i)) >= 041 && c <= 0176 && c != ':')
		i++;
	if (i == 0)
		return false;
	while ((c = lchar(l, i)) == ' ' || c == '\t')
		i++;
	return c == ':';
}

/* True if L is all white space (Perl /^\s*$/). */
static bool
is_blank(const struct mime_line *l)
{
	size_t	i, n = llen(l);
	int	c;

	for (i = 0; i < n; i++) {
		c = lchar(l, i);
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r' &&
		    c != '\f' && c != '\v')
			return false;
	}
	return true;
}

/* True if L is white space from byte I to its end. */
static bool
space_from(const struct mime_line *l, size_t i)
{
	size_t	n = llen(l);
	int	c;

	for (; i < n; i++) {
		c = lchar(l, i);
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r' &&
		    c != '\f' && c != '\v')
			return false;
	}
	return true;
}

/* True if L matches /^--\Q$b\E(--)?\s*$/; *LAST set if "--" matched. */
static bool
is_boundary(const struct mime_line *l, const char *b, bool *last)
{
	size_t	bl = strlen(b), i;

	*last = false;
	if (llen(l) < bl + 2 || lchar(l, 0) != '-' || lchar(l, 1) != '-')
		return false;
	for (i = 0; i < bl; i++)
		if (lchar(l, i + 2) != (unsigned char)b[i])
			return false;
	i = bl + 2;
	if (lchar(l, i) == '-' && lchar(l, i + 1) == '-' &&
	    space_from(l, i + 2)) {
		*last = true;
		return true;
	}
	return space_from(l, i);
}

/* A NUL-terminated copy of P[0 .. N), which may hold NULs itself. */
static char *
memdup(const char *p, size_t n)
{
	char	*c;

	if ((c = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(c, p, n);
	c[n] = '\0';
	return c;
}

/* Add the field NAME: VALUE to node N (copies). */
static void
node_add(struct mime_tree *t, struct node *n, const char *name, size_t nl,
    const char *value, size_t vl)
{
	struct nhdr	*h;

	if (n->nh == n->hcap) {
		size_t	cap = n->hcap ? n->hcap * 2 : 8;

		if ((h = reallocarray(n->h, cap, sizeof(*h))) == NULL) {
			oom(t);
			return;
		}
		n->h = h;
		n->hcap = cap;
	}
	h = &n->h[n->nh];
	h->name = memdup(name, nl);
	h->value = memdup(value, vl);
	if (h->name == NULL || h->value == NULL) {
		free(h->name);
		free(h->value);
		oom(t);
		return;
	}
	h->nlen = nl;
	h->vlen = vl;
	n->nh++;
}

/* Keep a copy of node N's fields in T->nodes (find_parts order). */
static void
keep_node(struct mime_tree *t, const struct node *n)
{
	struct mime_hdrs	*h;
	size_t			 i;

	if (t->nnodes >= t->max_parts + 1)
		return;			/* as many as the leaves' cap */
	if (t->nnodes == t->nodecap) {
		size_t	cap = t->nodecap ? t->nodecap * 2 : 8;

		if ((h = reallocarray(t->nodes, cap, sizeof(*h))) == NULL) {
			oom(t);
			return;
		}
		t->nodes = h;
		t->nodecap = cap;
	}
	h = &t->nodes[t->nnodes];
	memset(h, 0, sizeof(*h));
	if (n->nh > 0 && (h->f = calloc(n->nh, sizeof(*h->f))) == NULL) {
		oom(t);
		return;
	}
	t->nnodes++;
	for (i = 0; i < n->nh; i++) {
		struct mime_field *f = &h->f[h->n];

		f->name = memdup(n->h[i].name, n->h[i].nlen);
		f->value = memdup(n->h[i].value, n->h[i].vlen);
		if (f->name == NULL || f->value == NULL) {
			free(f->name);
			free(f->value);
			oom(t);
			return;
		}
		f->nlen = n->h[i].nlen;
		f->vlen = n->h[i].vlen;
		h->n++;
	}
}

/* Free the fields of node N. */
static void
node_clear(struct node *n)
{
	size_t	i;

	for (i = 0; i < n->nh; i++) {
		free(n->h[i].name);
		free(n->h[i].value);
	}
	free(n->h);
	memset(n, 0, sizeof(*n));
}

/* The decoded value of N's last field NAME (malloc'd), or NULL. */
static char *
node_get(struct mime_tree *t, const struct node *n, const char *name,
    size_t *len)
{
	size_t	i, nl = strlen(name);
	char	*v;

	for (i = n->nh; i-- > 0; ) {
		if (n->h[i].nlen != nl ||
		    strncasecmp(n->h[i].name, name, nl) != 0)
			continue;
		v = rfc2047__decode_field(n->h[i].name, n->h[i].nlen,
		    n->h[i].value, n->h[i].vlen, len);
		if (v == NULL)
			oom(t);
		return v;
	}
	return NULL;
}

/* Concatenate lines A[s .. e) into B. */
static void
join(const struct mime_line *a, size_t s, size_t e, struct mbuf *b)
{
	size_t	i;

	for (i = s; i < e; i++) {
		mbuf_add(b, a[i].p, a[i].len);
		if (a[i].addnl)
			mbuf_addc(b, '\n');
	}
}

/*
 * The value of parameter NAME in a Content-Type like SpamAssassin's
 * /\bNAME\s*=\s*["']?(.*?)["']?(?:;|$)/i; malloc'd or NULL.
 */
static char *
ct_param(const char *ct, size_t n, const char *name)
{
	size_t	nl = strlen(name), i, j, s, e;

	for (i = 0; i + nl <= n; i++) {
		if (strncasecmp(ct + i, name, nl) != 0)
			continue;
		if (i > 0 && (isalnum((unsigned char)ct[i - 1]) ||
		    ct[i - 1] == '_'))
			continue;
		j = i + nl;
		while (j < n && isspace((unsigned char)ct[j]))
			j++;
		if (j >= n || ct[j] != '=')
			continue;
		j++;
		while (j < n && isspace((unsigned char)ct[j]))
			j++;
		if (j < n && (ct[j] == '"' || ct[j] == '\''))
			j++;
		/* The shortest (.*?) followed by an optional quote and
		 * then ';' or the end; '.' stops at a newline. */
		for (s = j, e = j; e <= n; e++) {
			if (e == n || ct[e] == ';' ||
			    (e + 1 == n && ct[e] == '\n'))
				break;
			if ((ct[e] == '"' || ct[e] == '\'') &&
			    (e + 1 == n || ct[e + 1] == ';'))
				break;
			if (ct[e] == '\n')
				return NULL;
		}
		return strndup(ct + s, e - s);
	}
	return NULL;
}

/* The boundary parameter, like parse_content_type; malloc'd or NULL. */
static char *
ct_boundary(const char *ct, size_t n)
{
	size_t	i, j, s;
	char	*b, *o;

	for (i = 0; i + 8 <= n; i++) {
		if (strncasecmp(ct + i, "boundary", 8) != 0)
			continue;
		if (i > 0 && (isalnum((unsigned char)ct[i - 1]) ||
		    ct[i - 1] == '_'))
			continue;
		j = i + 8;
		while (j < n && isspace((unsigned char)ct[j]))
			j++;
		if (j >= n || ct[j] != '=')
			continue;
		j++;
		while (j < n && isspace((unsigned char)ct[j]))
			j++;
		s = j;
		if (j < n && ct[j] == '"') {
			/* "[^"]+ */
			for (j++; j < n && ct[j] != '"'; j++)
				;
			if (j == s + 1)
				continue;
		} else {
			/* [^\s";]+(?=[\s;]|$) */
			while (j < n && !isspace((unsigned char)ct[j]) &&
			    ct[j] != '"' && ct[j] != ';')
				j++;
			if (j == s || (j < n && ct[j] == '"'))
				continue;
		}
		if ((b = strndup(ct + s, j - s)) == NULL)
			return NULL;
		for (o = b, i = 0; b[i] != '\0'; i++)
			if (b[i] != '"')
				*o++ = b[i];
		*o = '\0';
		return b;
	}
	return NULL;
}

/*
 * parse_content_type: the type into TYPE (lower case, text/plain when
 * missing), the boundary, charset and name (malloc'd or NULL).  Returns
 * true when the type was missing.
 */
static bool
parse_ct(const char *ct, size_t n, char type[128], char **boundary,
    char **charset, char **name)
{
	static const char	 deflt[] = "text/plain; charset=us-ascii";
	size_t			 i, s, e, k;
	bool			 missing = false;
	char			*o;

	if (ct == NULL || n == 0) {
		ct = deflt;
		n = sizeof(deflt) - 1;
		missing = true;
	}
	if (boundary != NULL)
		*boundary = ct_boundary(ct, n);
	if (charset != NULL)
		*charset = ct_param(ct, n, "charset");
	if (name != NULL) {
		*name = ct_param(ct, n, "filename");
		if (*name == NULL)
			*name = ct_param(ct, n, "name");
	}
	/* Type: after leading space, before ';', something(/something). */
	for (s = 0; s < n && isspace((unsigned char)ct[s]); s++)
		;
	for (e = s; e < n && ct[e] != ';'; e++)
		;
	for (i = s; i < e && ct[i] != '/'; i++)
		;
	if (i == s) {
		e = s;		/* [^/]+ needs one byte */
	} else if (i < e) {
		for (i++; i < e && ct[i] != '/' &&
		    !isspace((unsigned char)ct[i]); i++)
			;
		e = i;
	}
	k = 0;
	for (i = s; i < e && k < 127; i++)
		type[k++] = (char)tolower((unsigned char)ct[i]);
	type[k] = '\0';
	if (k == 0)
		missing = true;
	if (k == 0 || (strncmp(type, "text", 4) == 0 &&
	    !isalnum((unsigned char)type[4]) && type[4] != '_' &&
	    strcmp(type, "text/x-vcard") != 0 &&
	    strcmp(type, "text/calendar") != 0 &&
	    strcmp(type, "text/html") != 0))
		strcpy(type, "text/plain");
	/* tr/\000-\040\177-\377\042\050\051\054\072-\077\100\133-\135//d */
	for (o = type, i = 0; type[i] != '\0'; i++) {
		unsigned char	c = (unsigned char)type[i];

		if (c <= 040 || c >= 0177 || c == '"' || c == '(' ||
		    c == ')' || c == ',' || (c >= 072 && c <= 077) ||
		    c == '@' || (c >= 0133 && c <= 0135))
			continue;
		*o++ = (char)c;
	}
	*o = '\0';
	return missing;
}

/* Add a leaf for node N with body lines A (moved into the leaf). */
static void
add_leaf(struct mime_tree *t, struct node *n, struct lines *a,
    const char *boundary, unsigned depth)
{
	struct mime_leaf	*p;
	char			*ct, *cte, *disp, *charset = NULL, *name = NULL;
	char			 type[128];
	size_t			 ctl = 0, len = 0, i;
	bool			 missing;

	if (t->nleaves == t->leafcap) {
		size_t	cap = t->leafcap ? t->leafcap * 2 : 8;

		if ((p = reallocarray(t->leaves, cap, sizeof(*p))) == NULL) {
			oom(t);
			return;
		}
		t->leaves = p;
		t->leafcap = cap;
	}
	ct = node_get(t, n, "content-type", &ctl);
	missing = parse_ct(ct, ctl, type, NULL, &charset, &name);
	free(ct);
	p = &t->leaves[t->nleaves];
	memset(p, 0, sizeof(*p));
	/* _parse_normal: a multipart without a boundary is text/plain;
	 * a missing type keeps what _parse_multipart chose. */
	if (!missing)
		strcpy(p->type, strncmp(type, "multipart/", 10) != 0 ||
		    boundary != NULL ? type : "text/plain");
	else
		strcpy(p->type, n->type[0] ? n->type : "text/plain");
	p->charset = charset;
	disp = node_get(t, n, "content-disposition", &len);
	if (disp != NULL) {
		/* /name=\s*"?([^";]+)"?/i */
		for (i = 0; i + 5 <= len; i++) {
			size_t	j = i + 5, s;

			if (strncasecmp(disp + i, "name=", 5) != 0)
				continue;
			while (j < len && isspace((unsigned char)disp[j]))
				j++;
			if (j < len && disp[j] == '"')
				j++;
			for (s = j; j < len && disp[j] != '"' &&
			    disp[j] != ';'; j++)
				;
			if (j > s) {
				free(name);
				name = strndup(disp + s, j - s);
				break;
			}
		}
		free(disp);
	}
	p->name = name;
	cte = node_get(t, n, "content-transfer-encoding", &len);
	if (cte != NULL) {
		for (i = 0; i < len && i < sizeof(p->cte) - 1; i++)
			p->cte[i] = (char)tolower((unsigned char)cte[i]);
		p->cte[i] = '\0';
		free(cte);
	}
	p->lines = a->l;
	p->nlines = a->n;
	p->depth = depth;
	a->l = NULL;
	a->n = a->cap = 0;
	t->nleaves++;
}

/* Split a part header into key and value (at the first colon, white
 * space after it dropped) into node N. */
static void
add_part_field(struct mime_tree *t, struct node *n, struct mbuf *hb)
{
	const char	*c;
	size_t		 k, v;

	if (hb->p == NULL || (c = memchr(hb->p, ':', hb->len)) == NULL)
		return;
	k = (size_t)(c - hb->p);
	for (v = k + 1; v < hb->len && isspace((unsigned char)hb->p[v]); v++)
		;
	node_add(t, n, hb->p, k, hb->p + v, hb->len - v);
}

/* The end of a part in _parse_multipart: hand it over for parsing. */
static void
finish_part(struct mime_tree *t, struct node *parent, struct node *part,
    struct lines *pa, const char *boundary, int subparse,
    unsigned depth)
{
	char	*ct, *pb = NULL, type[128];
	size_t	 ctl = 0;
	bool	 missing;

	ct = node_get(t, part, "content-type", &ctl);
	missing = parse_ct(ct, ctl, type, &pb, NULL, NULL);
	free(ct);
	strcpy(part->type, type);
	if (missing && strcmp(parent->type, "multipart/digest") == 0)
		strcpy(part->type, "message/rfc822");
	parse_body(t, part, pb != NULL ? pb : boundary, pa, subparse,
	    depth + 1);
	free(pb);
}

/* _parse_multipart: split lines A of node N at BOUNDARY into parts. */
static void
parse_multipart(struct mime_tree *t, struct node *n, const char *boundary,
    struct lines *a, int subparse, unsigned depth)
{
	struct node	 part = { 0 };
	struct lines	 pa = { 0 };
	struct mbuf	 hb = { 0 };
	size_t		 i, start = 0, left, partcnt = 0;
	bool		 in_body = false, have_pa = false, have_hdr = false;
	bool		 found, last, nested = false, dummy;

	subparse--;
	/* Ignore the preamble when there is an opening boundary. */
	for (i = 0; i < a->n; i++) {
		/* /^--B\s*$/, which "--B--" does not match. */
		if (is_boundary(&a->l[i], boundary, &dummy) && !dummy) {
			start = i + 1;
			break;
		}
	}
	left = a->n - start;
	for (i = start; i < a->n && !t->err; i++) {
		const struct mime_line	*l = &a->l[i];

		found = is_boundary(l, boundary, &last);
		if (found && nested) {
			found = false;
			if (last)
				nested = false;
		}
		if (--left == 0 || found) {
			if (!found) {
				lines_push_split(t, &pa, l);
				have_pa = true;
			} else if (have_pa && pa.n > 0) {
				struct mime_line	*e = &pa.l[pa.n - 1];

				/* chomp: the CRLF before a boundary is the
				 * boundary's (RFC 2046 section 5.1.1). */
				if (e->addnl)
					e->addnl = false;
				else if (e->len > 0 && e->p[e->len - 1] == '\n')
					e->len--;
				if (e->len == 0 && !e->addnl)
					pa.n--;
			}
			finish_part(t, n, &part, &pa, boundary,
			    subparse, depth);
			free(pa.l);
			memset(&pa, 0, sizeof(pa));
			node_clear(&part);
			mbuf_reset(&hb);
			have_pa = have_hdr = in_body = false;
			if (found && last)
				break;
			if (++partcnt >= t->max_parts) {
				t->truncated = true;
				break;
			}
			continue;
		}
		if (!in_body) {
			if (is_field_line(l)) {
				if (have_hdr)
					add_part_field(t, &part, &hb);
				mbuf_reset(&hb);
				join(l, 0, 1, &hb);
				have_hdr = true;
				continue;
			}
			if ((lchar(l, 0) == ' ' || lchar(l, 0) == '\t') &&
			    have_hdr) {
				join(l, 0, 1, &hb);
				continue;
			}
			if (have_hdr) {
				char	*ct, *nb = NULL, ty[128];
				size_t	 ctl = 0;

				add_part_field(t, &part, &hb);
				ct = node_get(t, &part, "content-type", &ctl);
				if (ct != NULL) {
					parse_ct(ct, ctl, ty, &nb, NULL, NULL);
					if (nb != NULL &&
					    strcmp(nb, boundary) == 0)
						nested = true;
					free(nb);
					free(ct);
				}
			}
			in_body = true;
			/* /^\r?$/ */
			if (llen(l) == 0 || (llen(l) == 1 &&
			    (lchar(l, 0) == '\n' || lchar(l, 0) == '\r')) ||
			    (llen(l) == 2 && lchar(l, 0) == '\r' &&
			    lchar(l, 1) == '\n'))
				continue;
		}
		lines_push_split(t, &pa, l);
		have_pa = true;
	}
	free(pa.l);
	node_clear(&part);
	mbuf_free(&hb);
}

/* True if the line is an mbox separator: /^From\s+(?!:)/ */
static bool
is_mbox(const struct mime_line *l)
{
	int	c;

	if (l->len < 5 || strncmp(l->p, "From", 4) != 0)
		return false;
	c = lchar(l, 4);
	if (!(c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\f' || c == '\v'))
		return false;
	return lchar(l, 5) != ':';
}

/* Split BUF into lines (split /^/m). */
static void
split_lines(struct mime_tree *t, const char *buf, size_t len,
    struct lines *a)
{
	const char	*p = buf, *e = buf + len, *nl;

	while (p < e) {
		nl = memchr(p, '\n', (size_t)(e - p));
		nl = nl != NULL ? nl + 1 : e;
		if (!lines_push(t, a, p, (size_t)(nl - p), false))
			return;
		p = nl;
	}
}

/*
 * The header section of Message->new over lines A from *POS: fields into
 * N; *POS moves to the first body line.
 */
static void
message_headers(struct mime_tree *t, struct node *n, struct lines *a,
    size_t *pos)
{
	struct mbuf	 hb = { 0 };
	size_t		 i = *pos;
	unsigned	 errors = 0;
	bool		 have = false, eof;
	const char	*c;
	static const struct mime_line nl = { "\n", 1, false };

	for (;;) {
		const struct mime_line	*cur;

		eof = i >= a->n;
		cur = eof ? &nl : &a->l[i++];
		if (lchar(cur, 0) == ' ' || lchar(cur, 0) == '\t') {
			join(cur, 0, 1, &hb);
			have = true;
			continue;
		}
		if (have && hb.p != NULL &&
		    (c = memchr(hb.p, ':', hb.len)) != NULL) {
			size_t	k = (size_t)(c - hb.p);

			while (k > 0 && (hb.p[k - 1] == ' ' ||
			    hb.p[k - 1] == '\t'))
				k--;
			node_add(t, n, hb.p, k, c + 1,
			    hb.len - (size_t)(c + 1 - hb.p));
		}
		if (llen(cur) == 1 && lchar(cur, 0) == '\n')
			break;		/* the end of the header section */
		if (lchar(cur, 0) == '-' && lchar(cur, 1) == '-') {
			i--;		/* a boundary: the body starts */
			break;
		}
		if (!is_field_line(cur) && ++errors > 3) {
			i--;		/* enough junk: call it body */
			break;
		}
		mbuf_reset(&hb);
		join(cur, 0, 1, &hb);
		have = true;
	}
	if (hb.err)
		oom(t);
	mbuf_free(&hb);
	*pos = i;
}

/* Cut runs of more than 20 blank lines, as Message->new does. */
static void
collapse_blank(struct lines *a)
{
	size_t	cnt, start = 0, num, cut, w;
	bool	in_run = false;

	for (cnt = a->n; cnt-- > 0; ) {
		if (is_blank(&a->l[cnt])) {
			if (!in_run) {
				start = cnt;
				in_run = true;
			}
			if (cnt != 0)
				continue;
		}
		if (in_run) {
			num = start - cnt;
			if (num > MAX_BLANK_LINES) {
				/* splice @message, $cnt+2, $num-20 */
				cut = num - MAX_BLANK_LINES;
				w = cnt + 2;
				memmove(&a->l[w], &a->l[w + cut],
				    (a->n - w - cut) * sizeof(a->l[0]));
				a->n -= cut;
			}
			in_run = false;
		}
	}
}

/* True if L starts with "--" and boundary B (/^--\Q$b\E/). */
static bool
starts_boundary(const struct mime_line *l, const char *b)
{
	size_t	bl = strlen(b), i;

	if (lchar(l, 0) != '-' || lchar(l, 1) != '-')
		return false;
	for (i = 0; i < bl; i++)
		if (lchar(l, i + 2) != (unsigned char)b[i])
			return false;
	return true;
}

/* Message->new on BUF: headers, then the body's MIME structure. */
static void
parse_message(struct mime_tree *t, const char *buf, size_t len,
    int subparse, unsigned depth, bool top)
{
	struct node	 n = { 0 };
	struct lines	 a = { 0 }, body = { 0 }, b2 = { 0 };
	char		*ct, *boundary = NULL;
	size_t		 pos = 0, ctl = 0, i;

	split_lines(t, buf, len, &a);
	if (a.n == 0)
		lines_push(t, &a, "\n", 1, false);
	if (t->err)
		goto done;
	if (is_mbox(&a.l[0])) {
		if (top)
			t->full_off = a.l[0].len;
		pos = 1;
	}
	message_headers(t, &n, &a, &pos);
	if (top) {
		t->subject = node_get(t, &n, "subject", &t->subject_len);
	}
	body.l = a.l + pos;
	body.n = a.n - pos;
	body.cap = body.n;
	collapse_blank(&body);
	ct = node_get(t, &n, "content-type", &ctl);
	parse_ct(ct, ctl, n.type, &boundary, NULL, NULL);
	free(ct);
	/* Bug 6845: a multipart body that starts with neither a blank line
	 * nor its boundary gets a blank line, so that MIME headers at its
	 * top are not taken for the message's.  parse_body may keep the
	 * array it is given: it gets its own. */
	if (strncmp(n.type, "multipart/", 10) == 0 && body.n > 1 &&
	    !is_blank(&body.l[0]) &&
	    (boundary == NULL || !starts_boundary(&body.l[0], boundary)))
		lines_push(t, &b2, "\n", 1, false);
	for (i = 0; i < body.n && !t->err; i++)
		lines_push(t, &b2, body.l[i].p, body.l[i].len, body.l[i].addnl);
	parse_body(t, &n, boundary, &b2, subparse, depth);
	free(b2.l);
done:
	free(boundary);
	free(a.l);
	node_clear(&n);
}

/* Keep BUF (a decoded sub-message) until the tree is freed. */
static bool
keep_buf(struct mime_tree *t, char *buf)
{
	char	**nb;

	if (t->nbufs == t->bufcap) {
		size_t	cap = t->bufcap ? t->bufcap * 2 : 4;

		if ((nb = reallocarray(t->bufs, cap, sizeof(*nb))) == NULL) {
			free(buf);
			oom(t);
			return false;
		}
		t->bufs = nb;
		t->bufcap = cap;
	}
	t->bufs[t->nbufs++] = buf;
	return true;
}

/* parse_body for one node: multipart, leaf, or a message to subparse. */
static void
parse_body(struct mime_tree *t, struct node *n, const char *boundary,
    struct lines *a, int subparse, unsigned depth)
{
	struct mbuf	 d = { 0 };
	struct mime_leaf *p;
	char		*buf;
	size_t		 len;

	if (t->err)
		return;
	keep_node(t, n);
	if (strncmp(n->type, "multipart/", 10) == 0 && boundary != NULL &&
	    subparse > 0) {
		parse_multipart(t, n, boundary, a, subparse, depth);
		return;
	}
	add_leaf(t, n, a, boundary, depth);
	if (t->err || strncmp(n->type, "message/", 8) != 0 ||
	    strcmp(n->type, "message/partial") == 0 || subparse <= 0)
		return;
	p = &t->leaves[t->nleaves - 1];
	if (strcmp(p->type, "message/rfc822") != 0 &&
	    strcmp(p->type, "message/global") != 0)
		return;
	mime__decode(t, p, &d);
	if (d.err || d.len == 0) {
		mbuf_free(&d);
		return;
	}
	/* The message part is no leaf: its sub-message's parts are. */
	free(p->lines);
	free(p->charset);
	free(p->name);
	t->nleaves--;
	if ((buf = mbuf_take(&d, &len)) == NULL || !keep_buf(t, buf))
		return;
	parse_message(t, buf, len, subparse - 1, depth + 1, false);
}

/* Parse a whole message. */
int
mime__parse(const char *msg, size_t len, const struct gh_msg_limits *l,
    struct mime_tree *t)
{
	memset(t, 0, sizeof(*t));
	t->max_depth = l->mime_max_depth;
	t->max_parts = l->mime_max_parts;
	t->max_decoded = l->mime_max_decoded;
	parse_message(t, msg, len, (int)t->max_depth, 0, true);
	if (t->err) {
		errno = t->err;
		return -1;
	}
	return 0;
}

/* Node::decode: QP or base64 decoded, anything else as it is. */
void
mime__decode(struct mime_tree *t, const struct mime_leaf *p,
    struct mbuf *out)
{
	struct mbuf	raw = { 0 }, dec = { 0 };
	size_t		i, o, room;

	join(p->lines, 0, p->nlines, &raw);
	if (raw.err) {
		out->err = raw.err;
		mbuf_free(&raw);
		return;
	}
	if (strcmp(p->cte, "quoted-printable") == 0 ||
	    strcmp(p->cte, "base64") == 0) {
		bool	crlf = true;

		if (p->cte[0] == 'q') {
			qp__decode(raw.p ? raw.p : "", raw.len, false, &dec);
		} else {
			b64__decode(raw.p ? raw.p : "", raw.len, &dec);
			crlf = strncasecmp(p->type, "text/", 5) == 0 ||
			    strncasecmp(p->type, "message/", 8) == 0;
		}
		/* s/\015\012/\012/g */
		for (i = 0, o = 0; crlf && i < dec.len; i++) {
			if (dec.p[i] == '\r' && i + 1 < dec.len &&
			    dec.p[i + 1] == '\n')
				continue;
			dec.p[o++] = dec.p[i];
		}
		if (crlf)
			dec.len = o;
		mbuf_free(&raw);
		raw = dec;
	}
	room = t->max_decoded > t->decoded ? t->max_decoded - t->decoded : 0;
	if (raw.len > room) {
		t->truncated = true;
		raw.len = room;
	}
	t->decoded += raw.len;
	mbuf_add(out, raw.p ? raw.p : "", raw.len);
	if (raw.err)
		out->err = raw.err;
	mbuf_free(&raw);
}

/* Effective type: text/html for names ending in .htm, .html, .shtml. */
const char *
mime__effective_type(const struct mime_leaf *p)
{
	size_t	n;

	if (p->name != NULL) {
		n = strlen(p->name);
		if ((n >= 4 && strcasecmp(p->name + n - 4, ".htm") == 0) ||
		    (n >= 5 && strcasecmp(p->name + n - 5, ".html") == 0) ||
		    (n >= 5 && strcasecmp(p->name + n - 5, ".shtm") == 0) ||
		    (n >= 6 && strcasecmp(p->name + n - 6, ".shtml") == 0))
			return "text/html";
	}
	return p->type;
}

/* Free the tree. */
void
mime__free(struct mime_tree *t)
{
	size_t	i, k;

	for (i = 0; i < t->nleaves; i++) {
		free(t->leaves[i].lines);
		free(t->leaves[i].charset);
		free(t->leaves[i].name);
	}
	free(t->leaves);
	for (i = 0; i < t->nnodes; i++) {
		for (k = 0; k < t->nodes[i].n; k++) {
			free(t->nodes[i].f[k].name);
			free(t->nodes[i].f[k].value);
		}
		free(t->nodes[i].f);
	}
	free(t->nodes);
	for (i = 0; i < t->nbufs; i++)
		free(t->bufs[i]);
	free(t->bufs);
	free(t->subject);
	memset(t, 0, sizeof(*t));
}
