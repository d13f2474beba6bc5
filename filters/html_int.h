/*
 * html_int.h: the insides of the HTML renderer, shared by html.c (the
 * tokenizer and text), html_style.c (colours and fonts, for invisible
 * text) and html_link.c (links of tags).  Private to those files.
 */
#ifndef GH_HTML_INT_H
#define GH_HTML_INT_H

#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "html.h"

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
	const char	*pending_end;	/* end tag to report before the next */
	/* renderer */
	size_t		 last_start;	/* offset of the last text element */
	bool		 have_last, last_ws, last_invis;
	long		 in_script, in_style;
	char		*base_href;
};

/* HTML::Parser's isHSPACE. */
static inline bool
hspace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' ||
	    c == '\f' || c == '\r';
}

/* Perl's isALNUM (word character) on a byte. */
static inline bool
alnum_(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* The attribute NAME of A, or NULL. */
static inline struct attr *
attr_get(struct attr *a, size_t na, const char *name)
{
	size_t	i;

	for (i = 0; i < na; i++)
		if (strcmp(a[i].name, name) == 0)
			return &a[i];
	return NULL;
}

/* html_style.c */
void	html__style_init(struct hp *);
bool	html__has_visible(const char *, size_t);
bool	html__font_invisible(const struct hp *);
void	html__text_style(struct hp *, const char *tag, struct attr *,
	    size_t, bool start);

/* html_link.c */
void	html__uri(struct hp *, const char *tag, struct attr *, size_t);

#endif /* GH_HTML_INT_H */
