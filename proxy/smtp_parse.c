/*
 * smtp_parse.c — pure SMTP parsing for the proxy: command lines, paths
 * and parameters, the DATA reader, dot-stuffing, reply lines, xtext.
 *
 * Owns no memory and no sockets: every function works on the bytes it
 * is given, so that libFuzzer targets and unit tests call it directly.
 *
 * Invariants: the DATA reader ends only on CRLF "." CRLF where the CRLF
 * was a real one (RFC 5321 4.1.1.4); after a bare CR or LF a dot line
 * is content, whatever the mode.  Its state survives any split of the
 * input, so the result never depends on TCP segmentation.  Everything a
 * client sends is length-checked before it is copied.
 *
 * Failures are return values (enum smtp_parse_err, flags); nothing here
 * logs or aborts.
 */
#include "proxy/smtp_parse.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "filters/decode.h"

static const struct {
	const char	*name;
	enum smtp_verb	 verb;
} verbs[] = {
	{ "HELO", SMTP_HELO }, { "EHLO", SMTP_EHLO }, { "MAIL", SMTP_MAIL },
	{ "RCPT", SMTP_RCPT }, { "DATA", SMTP_DATA }, { "RSET", SMTP_RSET },
	{ "NOOP", SMTP_NOOP }, { "QUIT", SMTP_QUIT }, { "VRFY", SMTP_VRFY },
	{ "EXPN", SMTP_EXPN }, { "HELP", SMTP_HELP },
	{ "STARTTLS", SMTP_STARTTLS }, { "AUTH", SMTP_AUTH },
	{ "BDAT", SMTP_BDAT }, { "XFORWARD", SMTP_XFORWARD },
	{ "XCLIENT", SMTP_XCLIENT }, { "ETRN", SMTP_ETRN },
};

/* The canonical name of a verb. */
const char *
smtp_verb_name(enum smtp_verb v)
{
	size_t	 i;

	for (i = 0; i < GH_ARRAY_LEN(verbs); i++)
		if (verbs[i].verb == v)
			return verbs[i].name;
	return "UNKNOWN";
}

/* Skip spaces from `i` in s[0..len). */
static size_t
skip_sp(const char *s, size_t len, size_t i)
{
	while (i < len && s[i] == ' ')
		i++;
	return i;
}

/* Parse a command line (see smtp_parse.h). */
enum smtp_parse_err
smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *cmd)
{
	size_t	 i, n;

	memset(cmd, 0, sizeof(*cmd));
	cmd->verb = SMTP_UNKNOWN;
	for (i = 0; i < len; i++)
		if (line[i] == '\0' || line[i] == '\r' || line[i] == '\n')
			return SMTP_E_BADCHAR;
	for (n = 0; n < len && line[n] != ' '; n++)
		;
	cmd->name.p = line;
	cmd->name.len = n;
	for (i = 0; i < GH_ARRAY_LEN(verbs); i++)
		if (gh_strcaseeq(line, n, verbs[i].name)) {
			cmd->verb = verbs[i].verb;
			break;
		}
	i = skip_sp(line, len, n);
	if (cmd->verb == SMTP_MAIL || cmd->verb == SMTP_RCPT) {
		const char	*kw = cmd->verb == SMTP_MAIL ? "FROM:" : "TO:";
		size_t		 kl = strlen(kw);

		if (len - i < kl || strncasecmp(line + i, kw, kl) != 0)
			return SMTP_E_SYNTAX;
		i = skip_sp(line, len, i + kl);	/* "FROM: <a>" is common */
	}
	/* Trailing spaces are not part of the arguments. */
	while (len > i && line[len - 1] == ' ')
		len--;
	cmd->args.p = line + i;
	cmd->args.len = len - i;
	return SMTP_OK;
}

/* Tell whether `c` may appear in an ESMTP keyword. */
static bool
keychar(unsigned char c)
{
	return isalnum(c) || c == '-';
}

/* Split the parameters in s[0..len) into the path. */
static enum smtp_parse_err
parse_params(const char *s, size_t len, struct smtp_path *p)
{
	size_t	 i = 0, start, eq;

	for (;;) {
		i = skip_sp(s, len, i);
		if (i == len)
			return SMTP_OK;
		if (p->nparams == SMTP_MAX_PARAMS)
			return SMTP_E_TOOLONG;
		start = i;
		eq = 0;
		while (i < len && s[i] != ' ') {
			unsigned char c = (unsigned char)s[i];

			if (c < 0x21 || c == 0x7f)
				return SMTP_E_SYNTAX;
			if (c == '=' && eq == 0)
				eq = i;
			else if (eq == 0 && !keychar(c))
				return SMTP_E_SYNTAX;
			else if (eq != 0 && c == '=')
				return SMTP_E_SYNTAX;
			i++;
		}
		if (eq == start)
			return SMTP_E_SYNTAX;
		p->params[p->nparams].key.p = s + start;
		p->params[p->nparams].key.len = (eq ? eq : i) - start;
		if (eq) {
			if (eq + 1 == i)
				return SMTP_E_SYNTAX;	/* "KEY=" */
			p->params[p->nparams].value.p = s + eq + 1;
			p->params[p->nparams].value.len = i - eq - 1;
		}
		p->nparams++;
	}
}

/* Check the characters of an address: no controls, spaces quoted only. */
static enum smtp_parse_err
check_addr(const char *a, size_t n)
{
	size_t	 i;
	bool	 quoted = false;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)a[i];

		if (c < 0x20 || c == 0x7f)
			return SMTP_E_SYNTAX;
		if (c == '\\' && quoted) {
			if (++i == n || (unsigned char)a[i] < 0x20)
				return SMTP_E_SYNTAX;
			continue;
		}
		if (c == '"')
			quoted = !quoted;
		else if ((c == ' ' || c == '<' || c == '>') && !quoted)
			return SMTP_E_SYNTAX;
	}
	return quoted ? SMTP_E_SYNTAX : SMTP_OK;
}

/* Parse a MAIL FROM / RCPT TO argument (see smtp_parse.h). */
enum smtp_parse_err
smtp_path_parse(const char *s, size_t len, bool null_ok, struct smtp_path *p)
{
	size_t			 i = 0, a0, a1, rest;
	bool			 quoted = false;
	enum smtp_parse_err	 e;

	memset(p, 0, sizeof(*p));
	i = skip_sp(s, len, 0);
	if (i == len)
		return SMTP_E_SYNTAX;
	if (s[i] == '<') {
		a0 = ++i;
		for (; i < len; i++) {
			if (s[i] == '\\' && quoted && i + 1 < len)
				i++;
			else if (s[i] == '"')
				quoted = !quoted;
			else if (s[i] == '>' && !quoted)
				break;
		}
		if (i == len)
			return SMTP_E_SYNTAX;
		a1 = i;
		rest = i + 1;
		if (rest < len && s[rest] != ' ')
			return SMTP_E_SYNTAX;
		/* A source route "@a,@b:" is obsolete; drop it (4.1.1.3). */
		if (a0 < a1 && s[a0] == '@') {
			const char *colon = memchr(s + a0, ':', a1 - a0);

			if (colon == NULL)
				return SMTP_E_SYNTAX;
			a0 = (size_t)(colon - s) + 1;
		}
	} else {
		a0 = i;
		while (i < len && s[i] != ' ')
			i++;
		a1 = rest = i;
	}
	if (a1 - a0 >= SMTP_PATH_MAX)
		return SMTP_E_TOOLONG;
	if ((e = check_addr(s + a0, a1 - a0)) != SMTP_OK)
		return e;
	if (a1 == a0 && !null_ok)
		return SMTP_E_NOTALLOWED;
	memcpy(p->addr, s + a0, a1 - a0);
	p->addr[a1 - a0] = '\0';
	return parse_params(s + rest, len - rest, p);
}

/* Find a parameter by keyword. */
const struct smtp_param *
smtp_path_param(const struct smtp_path *p, const char *key)
{
	size_t	 i;

	for (i = 0; i < p->nparams; i++)
		if (gh_strcaseeq(p->params[i].key.p, p->params[i].key.len,
		    key))
			return &p->params[i];
	return NULL;
}

/* Parse a HELO/EHLO argument (see smtp_parse.h). */
enum smtp_parse_err
smtp_helo_parse(const char *s, size_t len, struct gh_str *name)
{
	size_t	 i = skip_sp(s, len, 0), j;

	for (j = i; j < len && s[j] != ' '; j++)
		if ((unsigned char)s[j] < 0x21 || s[j] == 0x7f)
			return SMTP_E_SYNTAX;
	if (j == i)
		return SMTP_E_SYNTAX;
	if (j - i > 255)
		return SMTP_E_TOOLONG;
	name->p = s + i;
	name->len = j - i;
	return SMTP_OK;
}

/* DATA reader states. */
enum { ST_BOL, ST_DOT, ST_DOTCR, ST_MID, ST_CR };

/* Start reading one message. */
void
smtp_data_init(struct smtp_data *d, size_t max_line, uint64_t max_size,
    bool normalize)
{
	memset(d, 0, sizeof(*d));
	d->max_line = max_line;
	d->max_size = max_size;
	d->normalize = normalize;
	d->st = ST_BOL;
}

/* Hand canonical bytes to the sink, within the size cap. */
static void
emit(struct smtp_data *d, const char *p, size_t n, smtp_sink_fn sink,
    void *ctx)
{
	if (n == 0)
		return;
	if (d->max_size && (d->size + n > d->max_size))
		d->flags |= SMTP_DATA_TOOBIG;
	d->size += n;
	if (d->flags & (SMTP_DATA_TOOBIG | SMTP_DATA_SINKFAIL))
		return;
	if (sink(ctx, p, n) == -1)
		d->flags |= SMTP_DATA_SINKFAIL;
}

/* A real line end: check the length of the line just ended. */
static void
end_line(struct smtp_data *d)
{
	if (d->max_line && d->linelen > d->max_line)
		d->flags |= SMTP_DATA_LONGLINE;
	d->linelen = 0;
}

/*
 * A bare line end (flag `f`): the line ends here when normalising.  For
 * a bare CR the byte being looked at already belongs to the next line.
 */
static void
bare_end(struct smtp_data *d, unsigned f, smtp_sink_fn sink, void *ctx)
{
	d->flags |= f;
	if (!d->normalize) {
		emit(d, f == SMTP_DATA_BARELF ? "\n" : "\r", 1, sink, ctx);
		return;
	}
	emit(d, "\r\n", 2, sink, ctx);
	if (f == SMTP_DATA_BARECR)
		d->linelen--;
	end_line(d);
	if (f == SMTP_DATA_BARECR)
		d->linelen = 1;
}

/*
 * The fast path of ST_MID: from in[*i] (already counted in linelen),
 * take a run of plain bytes up to and including a CRLF, or to the end of
 * the chunk, when it holds no CR, LF or NUL otherwise (memchr is much
 * faster than a byte loop).  Leaves *i on the run's last byte.
 */
static bool
clean_run(struct smtp_data *d, const char *in, size_t len, size_t *i)
{
	const char	*p = in + *i, *nl;
	size_t		 rest = len - *i, k;

	if ((nl = memchr(p, '\n', rest)) != NULL) {
		k = (size_t)(nl - p);		/* bytes before the LF */
		if (k == 0 || nl[-1] != '\r' || memchr(p, '\r', k - 1) ||
		    memchr(p, '\0', k))
			return false;
		d->linelen += k;
		*i += k;
		end_line(d);
		d->st = ST_BOL;
		return true;
	}
	if (memchr(p, '\r', rest) || memchr(p, '\0', rest))
		return false;
	d->linelen += rest - 1;
	*i = len - 1;
	return true;
}

#define FLUSH(upto) do {						\
	if ((upto) > span)						\
		emit(d, in + span, (upto) - span, sink, ctx);		\
} while (0)

/* Feed message bytes (see smtp_parse.h). */
enum smtp_data_res
smtp_data_feed(struct smtp_data *d, const char *in, size_t len, size_t *used,
    smtp_sink_fn sink, void *ctx)
{
	size_t		 i, span = 0;
	unsigned char	 c;

	*used = 0;
	if (d->done)
		return SMTP_DATA_END;
	for (i = 0; i < len; i++) {
		c = (unsigned char)in[i];
		d->linelen++;
again:
		switch (d->st) {
		case ST_BOL:
			if (c == '.') {
				FLUSH(i);
				span = i + 1;
				d->st = ST_DOT;
				continue;
			}
			d->st = ST_MID;
			goto again;
		case ST_DOT:
			if (c == '\r') {
				span = i + 1;
				d->st = ST_DOTCR;
				continue;
			}
			/* The dot was stuffing: it is dropped (4.5.2). */
			span = i;
			d->st = ST_MID;
			goto again;
		case ST_DOTCR:
			if (c == '\n') {
				d->done = true;
				d->linelen = 0;
				*used = i + 1;
				return SMTP_DATA_END;
			}
			span = i;
			bare_end(d, SMTP_DATA_BARECR, sink, ctx);
			d->st = ST_MID;
			goto again;
		case ST_MID:
			if (clean_run(d, in, len, &i))
				continue;
			if (c == '\r') {
				if (i + 1 < len && in[i + 1] == '\n') {
					i++;
					d->linelen++;
					end_line(d);
					d->st = ST_BOL;
					continue;
				}
				FLUSH(i);
				span = i + 1;
				d->st = ST_CR;
				continue;
			}
			if (c == '\n') {
				FLUSH(i);
				span = i + 1;
				bare_end(d, SMTP_DATA_BARELF, sink, ctx);
				continue;
			}
			if (c == '\0') {
				FLUSH(i);
				span = i + 1;
				d->flags |= SMTP_DATA_NUL;
				if (!d->normalize)
					emit(d, "", 1, sink, ctx);
			}
			continue;
		case ST_CR:
			if (c == '\n') {
				emit(d, "\r\n", 2, sink, ctx);
				span = i + 1;
				end_line(d);
				d->st = ST_BOL;
				continue;
			}
			span = i;
			bare_end(d, SMTP_DATA_BARECR, sink, ctx);
			d->st = ST_MID;
			goto again;
		}
	}
	FLUSH(len);	/* deferred bytes (dot, CR) are past `span` */
	*used = len;
	return SMTP_DATA_MORE;
}

#undef FLUSH

/* Dot-stuff output (see smtp_parse.h). */
int
smtp_dotstuff(bool *bol, const char *in, size_t len, smtp_sink_fn sink,
    void *ctx)
{
	const char	*p = in, *end = in + len, *nl;
	size_t		 span = 0;

	if (len == 0)
		return 0;
	if (*bol && in[0] == '.' && sink(ctx, ".", 1) == -1)
		return -1;
	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL &&
	    nl + 1 < end) {
		p = nl + 1;
		if (*p == '.') {
			size_t at = (size_t)(p - in);

			if (sink(ctx, in + span, at - span) == -1 ||
			    sink(ctx, ".", 1) == -1)
				return -1;
			span = at;
		}
	}
	*bol = in[len - 1] == '\n';
	if (len > span && sink(ctx, in + span, len - span) == -1)
		return -1;
	return 0;
}

/* Parse one reply line (see smtp_parse.h). */
int
smtp_reply_line(const char *line, size_t len, int *code, bool *last,
    struct gh_str *text)
{
	if (len < 3 || line[0] < '2' || line[0] > '5' ||
	    !isdigit((unsigned char)line[1]) ||
	    !isdigit((unsigned char)line[2]))
		return -1;
	*code = (line[0] - '0') * 100 + (line[1] - '0') * 10 +
	    (line[2] - '0');
	if (len == 3) {
		*last = true;
		text->p = line + 3;
		text->len = 0;
		return 0;
	}
	if (line[3] != ' ' && line[3] != '-')
		return -1;
	*last = line[3] == ' ';
	text->p = line + 4;
	text->len = len - 4;
	return 0;
}

/* Value of a hex digit, or -1. */
static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode xtext (RFC 3461 4); control characters are refused. */
int
smtp_xtext_decode(const char *in, size_t len, char *out, size_t outsz)
{
	size_t	 i, o = 0;
	int	 hi, lo;
	char	 c;

	for (i = 0; i < len; i++) {
		c = in[i];
		if (c == '+') {
			if (i + 2 >= len)
				return -1;
			if ((hi = hexval(in[i + 1])) == -1 ||
			    (lo = hexval(in[i + 2])) == -1)
				return -1;
			c = (char)(hi * 16 + lo);
			i += 2;
		} else if ((unsigned char)c < 0x21 || c == 0x7f || c == '=')
			return -1;
		if ((unsigned char)c < 0x20 || c == 0x7f)
			return -1;
		if (o + 1 >= outsz)
			return -1;
		out[o++] = c;
	}
	if (outsz == 0)
		return -1;
	out[o] = '\0';
	return 0;
}

/* Encode xtext. */
int
smtp_xtext_encode(const char *in, size_t len, char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t	 i, o = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c >= 0x21 && c <= 0x7e && c != '+' && c != '=') {
			if (o + 1 >= outsz)
				return -1;
			out[o++] = (char)c;
		} else {
			if (o + 3 >= outsz)
				return -1;
			out[o++] = '+';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (outsz == 0)
		return -1;
	out[o] = '\0';
	return 0;
}

/* ------------------------------------------------------------------ */
/* SMTP AUTH and SASL */

/* Tell whether [p, p+n) is a SASL mechanism name (RFC 4422 3.1). */
static bool
mech_name(const char *p, size_t n)
{
	size_t	 i;

	if (n == 0 || n > SMTP_SASL_MECH_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)p[i]) && p[i] != '-' &&
		    p[i] != '_')
			return false;
	return true;
}

/* Normalise an EHLO AUTH list (see smtp_parse.h). */
size_t
smtp_auth_mechs(const char *in, size_t len, char *out, size_t outsz)
{
	size_t	 i = 0, w, k, o = 0, count = 0;

	if (outsz == 0)
		return 0;
	out[0] = '\0';
	while (i < len) {
		while (i < len && (in[i] == ' ' || in[i] == '\t'))
			i++;
		for (w = i; w < len && in[w] != ' ' && in[w] != '\t'; w++)
			;
		if (mech_name(in + i, w - i) &&
		    !smtp_auth_mech_in(out, in + i, w - i) &&
		    o + (o ? 1 : 0) + (w - i) < outsz) {
			if (o)
				out[o++] = ' ';
			for (k = i; k < w; k++)
				out[o++] = (char)toupper((unsigned char)in[k]);
			out[o] = '\0';
			count++;
		}
		i = w;
	}
	return count;
}

/* Tell whether `m` is in the normalised list. */
bool
smtp_auth_mech_in(const char *list, const char *m, size_t mlen)
{
	const char	*p = list, *e;

	while (*p) {
		if ((e = strchr(p, ' ')) == NULL)
			e = p + strlen(p);
		if ((size_t)(e - p) == mlen && strncasecmp(p, m, mlen) == 0)
			return true;
		p = *e ? e + 1 : e;
	}
	return false;
}

/* AUTH arguments (see smtp_parse.h). */
enum smtp_parse_err
smtp_auth_parse(const char *args, size_t len, struct gh_str *mech,
    struct gh_str *initial)
{
	size_t	 i = 0, w;

	while (i < len && args[i] == ' ')
		i++;
	for (w = i; w < len && args[w] != ' '; w++)
		;
	if (!mech_name(args + i, w - i))
		return SMTP_E_SYNTAX;
	mech->p = args + i;
	mech->len = w - i;
	while (w < len && args[w] == ' ')
		w++;
	initial->p = args + w;
	initial->len = len - w;
	/* One word at most: base64, "=" (empty) or "*" (cancel). */
	for (i = w; i < len; i++)
		if (args[i] == ' ')
			return SMTP_E_SYNTAX;
	return SMTP_OK;
}

/* Decode base64 (see smtp_parse.h). */
int
smtp_b64_decode(const char *in, size_t len, char *out, size_t outsz,
    size_t *outlen)
{
	size_t		 i, o = 0, k;
	int		 v[4];
	unsigned	 pad;

	if (len % 4 != 0 || outsz == 0)
		return -1;
	for (i = 0; i < len; i += 4) {
		pad = 0;
		for (k = 0; k < 4; k++) {
			if (in[i + k] == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
			} else if (pad || (v[k] = b64__value(
			    (unsigned char)in[i + k])) == -1)
				return -1;
		}
		if (o + 3 - pad >= outsz)
			return -1;
		out[o++] = (char)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[o++] = (char)((v[1] & 15) << 4 | v[2] >> 2);
		if (pad < 1)
			out[o++] = (char)((v[2] & 3) << 6 | v[3]);
	}
	out[o] = '\0';
	*outlen = o;
	return 0;
}

/* Copy a user name of `n` bytes into `user` if it is printable. */
static int
take_user(const char *p, size_t n, char *user, size_t usersz)
{
	size_t	 i;

	if (n == 0 || n >= usersz)
		return -1;
	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return -1;
	memcpy(user, p, n);
	user[n] = '\0';
	return 0;
}

/* The login a SASL response names (see smtp_parse.h). */
int
smtp_sasl_user(const char *mech, unsigned step, const char *b64,
    size_t len, char *user, size_t usersz)
{
	char		 buf[1024];
	const char	*a, *b, *e;
	size_t		 n;
	int		 r = 1;

	if (len == 1 && (b64[0] == '=' || b64[0] == '*'))
		return 1;
	if (smtp_b64_decode(b64, len, buf, sizeof(buf), &n) == -1)
		return -1;
	if (strcasecmp(mech, "PLAIN") == 0 && step == 0) {
		/* authzid NUL authcid NUL passwd (RFC 4616 2) */
		if ((a = memchr(buf, '\0', n)) == NULL ||
		    (b = memchr(a + 1, '\0', n - (size_t)(a + 1 - buf))) ==
		    NULL)
			r = -1;
		else
			r = take_user(a + 1, (size_t)(b - a - 1), user, usersz);
	} else if (strcasecmp(mech, "LOGIN") == 0 && step == 0)
		r = take_user(buf, n, user, usersz);
	else if (strcasecmp(mech, "CRAM-MD5") == 0 && step == 0) {
		/* user SP digest (RFC 2195 2) */
		r = (e = memrchr(buf, ' ', n)) == NULL ? -1 :
		    take_user(buf, (size_t)(e - buf), user, usersz);
	} else if (strncasecmp(mech, "SCRAM-", 6) == 0 && step == 0) {
		/* gs2-header "n=" saslname "," ... (RFC 5802 7) */
		if ((a = memmem(buf, n, ",n=", 3)) == NULL)
			r = -1;
		else {
			a += 3;
			e = memchr(a, ',', n - (size_t)(a - buf));
			r = take_user(a, e ? (size_t)(e - a) :
			    n - (size_t)(a - buf), user, usersz);
		}
	}
	explicit_bzero(buf, sizeof(buf));
	return r;
}
