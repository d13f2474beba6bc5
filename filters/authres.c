/*
 * authres.c — Authentication-Results (RFC 8601): recognise a header that
 * claims our authserv-id, and format ours.
 *
 * The claim test parses only what it needs: leading CFWS (white space
 * and nested comments), then the authserv-id as a token or a quoted
 * string.  Anything unparsable is not ours and is left alone.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "filters/chain.h"
#include "filters/util.h"

/* Skip white space, folding and (nested) comments. */
static size_t
skip_cfws(const char *v, size_t len, size_t i)
{
	int	 depth = 0;

	while (i < len) {
		char c = v[i];

		if (depth == 0 && (c == ' ' || c == '\t' || c == '\r' ||
		    c == '\n')) {
			i++;
		} else if (c == '(') {
			depth++;
			i++;
		} else if (depth > 0) {
			if (c == '\\' && i + 1 < len)
				i++;
			else if (c == ')')
				depth--;
			i++;
		} else
			break;
	}
	return i;
}

/* Tell whether an Authentication-Results value claims authserv-id `id`. */
bool
gh_authres_claims(const char *v, size_t len, const char *id)
{
	char	 buf[256];
	size_t	 i, n = 0;

	i = skip_cfws(v, len, 0);
	if (i < len && v[i] == '"') {
		for (i++; i < len && v[i] != '"'; i++) {
			if (v[i] == '\\' && i + 1 < len)
				i++;
			if (n + 1 >= sizeof(buf))
				return false;
			buf[n++] = v[i];
		}
	} else {
		for (; i < len && v[i] != ';' && v[i] != '(' &&
		    !isspace((unsigned char)v[i]); i++) {
			if (n + 1 >= sizeof(buf))
				return false;
			buf[n++] = v[i];
		}
	}
	buf[n] = '\0';
	/* A trailing dot names the same host. */
	if (n > 1 && buf[n - 1] == '.')
		buf[--n] = '\0';
	return n > 0 && strcasecmp(buf, id) == 0;
}

/* Append text with control characters replaced. */
static void
put_clean(struct gh_buf *b, const char *s)
{
	for (; *s; s++) {
		char c = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;

		gh_buf_append(b, &c, 1);
	}
}

/* Tell whether `s` can stand as it is in a header token (a login in
   smtp.auth=, a TLS version or cipher in a comment). */
static bool
plain_token(const char *s)
{
	if (s == NULL || *s == '\0' || strlen(s) > 255)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && strchr("._-+@", *s) == NULL)
			return false;
	return true;
}

/* Format our Authentication-Results value (folded, CRLF TAB). */
char *
gh_authres_format(const struct gh_txn *t)
{
	struct gh_buf	 b;
	size_t		 i;
	const char	*p;

	gh_buf_init(&b, 64 * 1024);
	put_clean(&b, t->cfg->authserv_id);
	/* How the client reached us: the backend's Received: cannot say
	   (XCLIENT has no TLS attribute). */
	if (plain_token(t->env.tls_version) && plain_token(t->env.tls_cipher))
		gh_buf_printf(&b, " (%s %s)", t->env.tls_version,
		    t->env.tls_cipher);
	gh_buf_puts(&b, ";");
	if (t->authres.n == 0 && t->env.auth_user == NULL)
		gh_buf_puts(&b, " none");
	if (t->env.auth_user) {
		/* RFC 8601 2.7.4: the client authenticated (SMTP AUTH). */
		gh_buf_puts(&b, "\r\n\tauth=pass");
		if (plain_token(t->env.auth_user))
			gh_buf_printf(&b, " smtp.auth=%s", t->env.auth_user);
		if (t->authres.n)
			gh_buf_puts(&b, ";");
	}
	for (i = 0; i < t->authres.n; i++) {
		const struct gh_authres *a = &t->authres.v[i];

		gh_buf_puts(&b, i ? ";\r\n\t" : "\r\n\t");
		put_clean(&b, a->method);
		gh_buf_puts(&b, "=");
		put_clean(&b, a->result);
		if (a->reason) {
			gh_buf_puts(&b, " reason=\"");
			for (p = a->reason; *p; p++) {
				if (*p == '"' || *p == '\\')
					gh_buf_append(&b, "\\", 1);
				put_clean(&b, (char[]){ *p, 0 });
			}
			gh_buf_puts(&b, "\"");
		}
		if (a->props && a->props[0]) {
			gh_buf_puts(&b, " ");
			put_clean(&b, a->props);
		}
	}
	return gh_buf_steal(&b);
}
