/*
 * header.c -- the value a header rule matches, as SpamAssassin 4.0's
 * PerMsgStatus::get() builds it, and the mimeheader rule's per-part
 * values (Plugin::MIMEHeader).
 *
 * Owns: header requests ("From:addr", "ALL", "ToCc", "MESSAGEID",
 * "EnvelopeFrom", ":raw", ":first", ":last", ":name"), joining several
 * fields of one name, and the internal address parser behind :addr and
 * :name (Util::_parse_header_addresses, ported with its own regexes).
 *
 * Known differences from SpamAssassin 4.0.1 (see rules/README.md):
 * :name values are RFC 2047 decoded only through the caller's
 * decode_words callback; the Email::Address::XS second
 * opinion SpamAssassin asks for on odd address lists is not emulated;
 * :host, :domain, :ip and :revip give no value.
 *
 * Invariants: values are assembled in the transaction's buffers, never
 * in the caller's texts; ALL is capped at 64 KB like MAX_HEADER_LENGTH.
 * Failure: allocation failure yields an empty value (and the caller's
 * rules_eval() reports -1).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules_int.h"
#include "eval_int.h"

/* Parse "Field[:mod[:mod]]" into *OUT (name copied). */
int
rules__hspec_parse(const char *s, size_t len, struct hspec *out)
{
	static const struct {
		const char	*name;
		unsigned	 bit;
	} mods[] = {
		{ "raw", HM_RAW }, { "addr", HM_ADDR }, { "name", HM_NAME },
		{ "host", HM_HOST }, { "domain", HM_DOMAIN | HM_HOST },
		{ "ip", HM_IP }, { "revip", HM_REVIP | HM_IP },
		{ "first", HM_FIRST }, { "last", HM_LAST },
	};
	const char *colon = memchr(s, ':', len), *p, *e;
	size_t nlen = colon != NULL ? (size_t)(colon - s) : len, i;

	memset(out, 0, sizeof(*out));
	for (p = colon; p != NULL && p < s + len; p = e) {
		p++;
		e = memchr(p, ':', (size_t)(s + len - p));
		if (e == NULL)
			e = s + len;
		for (i = 0; i < sizeof(mods) / sizeof(mods[0]); i++)
			if (strlen(mods[i].name) == (size_t)(e - p) &&
			    strncmp(mods[i].name, p, (size_t)(e - p)) == 0)
				break;
		if (i == sizeof(mods) / sizeof(mods[0]))
			return -1;
		out->mods |= mods[i].bit;
	}
	if (nlen == 3 && strncmp(s, "ALL", 3) == 0)
		out->kind = HK_ALL;
	else if (nlen == 4 && strncasecmp(s, "ToCc", 4) == 0)
		out->kind = HK_TOCC;
	else if (nlen == 9 && strncmp(s, "MESSAGEID", 9) == 0)
		out->kind = HK_MESSAGEID;
	else if (nlen == 12 && strncasecmp(s, "EnvelopeFrom", 12) == 0)
		out->kind = HK_ENVFROM;
	else
		out->kind = HK_NAME;
	out->name_len = nlen;
	if ((out->name = rules__strndup(s, nlen)) == NULL)
		return -1;
	return 0;
}

/* Add one result (a copy of S, plus a newline if asked). */
static void
res_add(struct vals *v, const char *s, size_t len, bool nl)
{
	if (v->n == v->cap) {
		size_t ncap = v->cap ? v->cap * 2 : 16;
		struct span *ns = realloc(v->v, ncap * sizeof(*ns));
		if (ns == NULL) {
			v->buf.oom = true;
			return;
		}
		v->v = ns;
		v->cap = ncap;
	}
	v->v[v->n].off = v->buf.len;
	rules__sb_add(&v->buf, s, len);
	if (nl)
		rules__sb_addc(&v->buf, '\n');
	v->v[v->n].len = v->buf.len - v->v[v->n].off;
	v->n++;
}

/* Add a raw value unfolded as get_header(name, 1): s/\r?\n\s+/ /g. */
static void
res_add_unfolded(struct vals *v, const char *s, size_t len)
{
	size_t i, start = v->buf.len;

	for (i = 0; i < len; i++) {
		size_t j = i;
		if (s[j] == '\r' && j + 1 < len && s[j + 1] == '\n')
			j++;
		if (s[j] == '\n' && j + 1 < len &&
		    rules__is_space((unsigned char)s[j + 1])) {
			j++;
			while (j < len && rules__is_space((unsigned char)s[j]))
				j++;
			rules__sb_addc(&v->buf, ' ');
			i = j - 1;
			continue;
		}
		rules__sb_addc(&v->buf, s[i]);
	}
	if (v->n == v->cap) {
		size_t ncap = v->cap ? v->cap * 2 : 16;
		struct span *ns = realloc(v->v, ncap * sizeof(*ns));
		if (ns == NULL) {
			v->buf.oom = true;
			return;
		}
		v->v = ns;
		v->cap = ncap;
	}
	v->v[v->n].off = start;
	v->v[v->n].len = v->buf.len - start;
	v->n++;
}

/* True if the field's name is NAME (case-insensitive). */
static bool
name_is(const struct rules_header *h, const char *name, size_t len)
{
	return h->name.len == len && strncasecmp(h->name.ptr, name, len) == 0;
}

/* get_header(NAME, RAW) in list context, appended to V. */
static void
get_header(struct vals *v, const struct rules_part *p, const char *name,
    size_t len, bool raw)
{
	size_t i;

	for (i = 0; p != NULL && i < p->nheaders; i++) {
		const struct rules_header *h = &p->headers[i];
		if (!name_is(h, name, len))
			continue;
		if (raw)
			res_add_unfolded(v, h->raw.ptr, h->raw.len);
		else
			res_add(v, h->value.ptr, h->value.len, true);
	}
}

/* get_all_headers(RAW): "Name: value\n" in order, capped at 64 KB. */
static void
all_headers(struct vals *v, const struct rules_part *p, bool raw)
{
	size_t i, j, size = 0, start = v->buf.len;
	const struct rules_header *h;
	unsigned char *done;

	if (p == NULL || p->nheaders == 0)
		return;
	/*
	 * SpamAssassin sums sizes name by name, in order of first
	 * appearance, and stops at the first field past the cap; fields
	 * it reached keep their message order.
	 */
	if ((done = calloc(p->nheaders, 1)) == NULL) {
		v->buf.oom = true;
		return;
	}
	for (i = 0; i < p->nheaders && size <= RULES_HDR_MAX; i++) {
		if (done[i])
			continue;
		for (j = i; j < p->nheaders; j++) {
			h = &p->headers[j];
			if (j != i && (done[j] || !name_is(h,
			    p->headers[i].name.ptr, p->headers[i].name.len)))
				continue;
			size += h->name.len + 2 + (raw ? h->raw.len :
			    h->value.len + 1);
			if (size > RULES_HDR_MAX)
				break;
			done[j] = 1;
		}
	}
	for (i = 0; i < p->nheaders; i++) {
		if (!done[i])
			continue;
		h = &p->headers[i];
		rules__sb_add(&v->buf, h->name.ptr, h->name.len);
		rules__sb_add(&v->buf, ": ", 2);
		if (raw) {
			struct vals tmp = { 0 };
			res_add_unfolded(&tmp, h->raw.ptr, h->raw.len);
			if (tmp.buf.p != NULL)
				rules__sb_add(&v->buf, tmp.buf.p,
				    tmp.buf.len);
			free(tmp.buf.p);
			free(tmp.v);
		} else {
			rules__sb_add(&v->buf, h->value.ptr, h->value.len);
			rules__sb_addc(&v->buf, '\n');
		}
	}
	free(done);
	res_add(v, "", 0, false);
	if (v->n > 0) {
		v->v[v->n - 1].off = start;
		v->v[v->n - 1].len = v->buf.len - start;
	}
}

/* ALL:raw: the pristine header fields (leading continuations dropped). */
static void
all_raw(struct vals *v, struct rules_text block)
{
	const char *p = block.ptr, *e = block.ptr + block.len;

	if (p == NULL)
		return;
	while (p < e && (*p == ' ' || *p == '\t')) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		p = nl != NULL ? nl + 1 : e;
	}
	/* Fields end in a newline; drop an unterminated tail. */
	while (e > p && e[-1] != '\n')
		e--;
	if (e > p)
		res_add(v, p, (size_t)(e - p), false);
}

/* Util::is_fqdn_valid(host, 1), with non-ASCII labels accepted. */
static bool
fqdn_valid(const char *h, size_t len)
{
	size_t labels = 1, i, start, cnt;

	while (len > 0 && h[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return false;
	for (i = 0; i < len; i++)
		if (h[i] == '.')
			labels++;
	if (labels < 2)
		return false;
	cnt = labels;
	for (start = 0; start <= len; cnt--) {
		size_t end = start;
		while (end < len && h[end] != '.')
			end++;
		if (end == start || end - start > 63)
			return false;
		for (i = start; i < end; i++) {
			unsigned char c = (unsigned char)h[i];
			bool ok = (c >= 'a' && c <= 'z') ||
			    (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '_' || c >= 0x80 ||
			    (c == '-' && i != start && i != end - 1);
			if (!ok || (c == '_' && cnt <= 2))
				return false;
		}
		start = end + 1;
	}
	return true;
}

/* Run RE on S anchored at the start; captures in md. */
static int
amatch(struct rules_txn *t, pcre2_code *re, const char *s, size_t len,
    size_t start, uint32_t opts)
{
	int rc;

	rc = pcre2_match(re, (PCRE2_SPTR)s, len, start, opts, t->amd,
	    t->mctx);
	/* out of JIT stack: the interpreter works on the heap */
	if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
		rc = pcre2_match(re, (PCRE2_SPTR)s, len, start,
		    opts | PCRE2_NO_JIT, t->amd, t->mctx);
	return rc;
}

/* Capture N of the last amatch, or NULL. */
static const char *
cap(struct rules_txn *t, const char *s, int n, size_t *len)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(t->amd);

	if (ov[2 * n] == PCRE2_UNSET)
		return NULL;
	*len = ov[2 * n + 1] - ov[2 * n];
	return s + ov[2 * n];
}

/* _valid_parsed_address */
static bool
valid_addr(const char *a, size_t len)
{
	size_t i, q = 0;

	if (a == NULL)
		return false;
	if (len >= 3 && strncmp(a, "\"\"@", 3) == 0)
		return false;
	for (i = 0; i < len; i++)
		q += a[i] == '"';
	return q != 1;
}

/* Remove (comments) without nesting: s/\((?:[^()\\]++|\\.)*+\)//g. */
static size_t
strip_comments(char *s, size_t len)
{
	size_t i, j = 0, k;

	for (i = 0; i < len; i++) {
		if (s[i] == '(') {
			for (k = i + 1; k < len && s[k] != ')' && s[k] != '(';
			    k++)
				if (s[k] == '\\' && k + 1 < len)
					k++;
			if (k < len && s[k] == ')') {
				i = k;
				continue;
			}
		}
		s[j++] = s[i];
	}
	return j;
}

/* Cut an address after its domain: s/^(([^@]*)@([^@]*)).* /$1/. */
static size_t
cut_addr(const char *a, size_t len)
{
	const char *at = memchr(a, '@', len), *at2;

	if (at == NULL)
		return len;
	at2 = memchr(at + 1, '@', (size_t)(a + len - at - 1));
	return at2 != NULL ? (size_t)(at2 - a) : len;
}

/* Append one parsed address or phrase to OUT per the request. */
static void
emit_addr(struct vals *out, const struct rules_input *in, unsigned mods,
    const char *addr, size_t alen, const char *phrase, size_t plen)
{
	size_t i, j;
	char *tmp, *dec = NULL;

	if (mods & HM_ADDR) {
		if (addr != NULL)
			res_add(out, addr, cut_addr(addr, alen), false);
		return;
	}
	if (phrase == NULL)
		return;
	if (mods & HM_RAW) {
		res_add(out, phrase, plen, false);
		return;
	}
	/* Message::Node::_decode_header, through the message model */
	if (in->decode_words != NULL && plen > 0) {
		size_t cap = plen * 4 + 64;
		if ((dec = malloc(cap)) == NULL) {
			out->buf.oom = true;
			return;
		}
		plen = in->decode_words(in->decode_arg, phrase, plen, dec, cap);
		if (plen > cap)
			plen = cap;
		phrase = dec;
	}
	/* Normalise white space unless it is all white space. */
	for (i = 0; i < plen && rules__is_space((unsigned char)phrase[i]);
	    i++)
		;
	if (i == plen) {
		res_add(out, phrase, plen, false);
		free(dec);
		return;
	}
	if ((tmp = malloc(plen + 1)) == NULL) {
		out->buf.oom = true;
		free(dec);
		return;
	}
	for (i = j = 0; i < plen; i++) {
		if (rules__is_space((unsigned char)phrase[i])) {
			while (i + 1 < plen &&
			    rules__is_space((unsigned char)phrase[i + 1]))
				i++;
			if (j > 0 && i + 1 < plen)
				tmp[j++] = ' ';
			continue;
		}
		tmp[j++] = phrase[i];
	}
	if (j >= 2 && tmp[0] == '\'' && tmp[j - 1] == '\'')
		res_add(out, tmp + 1, j - 2, false);
	else
		res_add(out, tmp, j, false);
	free(tmp);
	free(dec);
}

/* Unquote a phrase: quoted parts unescaped, comments dropped. */
static size_t
clean_phrase(char *p, size_t len)
{
	size_t i = 0, j = 0, k;

	while (i < len) {
		if (p[i] == '"') {
			for (k = i + 1; k < len && p[k] != '"'; k++)
				if (p[k] == '\\' && k + 1 < len)
					k++;
			if (k < len) {
				/* s/\\(?!\\)//g; s/\\\\/\\/g */
				size_t m;
				for (m = i + 1; m < k; m++) {
					if (p[m] == '\\' && m + 1 < k &&
					    p[m + 1] == '\\') {
						p[j++] = '\\';
						m++;
					} else if (p[m] != '\\')
						p[j++] = p[m];
				}
				i = k + 1;
				continue;
			}
			/* unbalanced quote: the rest is unquoted text */
		}
		k = i;
		while (k < len && (p[k] != '"' || k == i))
			k++;
		{
			size_t n = strip_comments(p + i, k - i);
			memmove(p + j, p + i, n);
			j += n;
		}
		i = k;
	}
	return j;
}

/* Parse one header value's addresses (Util::_parse_header_addresses). */
static void
parse_addresses(struct rules_txn *t, const struct rules_input *input,
    const char *in, size_t inlen, unsigned mods, struct vals *out)
{
	const struct rules_set *set = t->set;
	char *s, *p;
	size_t len, i, j, off = 0;
	int rc;

	if ((s = malloc(inlen + 1)) == NULL) {
		out->buf.oom = true;
		return;
	}
	/* s/\s+\z//; s/\\\\//g */
	while (inlen > 0 && rules__is_space((unsigned char)in[inlen - 1]))
		inlen--;
	for (i = j = 0; i < inlen; i++) {
		if (in[i] == '\\' && i + 1 < inlen && in[i + 1] == '\\') {
			i++;
			continue;
		}
		s[j++] = in[i];
	}
	len = j;
	s[len] = '\0';
	/* s/^[^"()<>]+:\s*(.*?)\s*(?:;.*)?/$1/: drop "group:" */
	for (i = 0; i < len && !strchr("\"()<>:", s[i]); i++)
		;
	if (i > 0 && i < len && s[i] == ':') {
		i++;
		while (i < len && rules__is_space((unsigned char)s[i]))
			i++;
		off = i;
	}
	for (i = off; i < len && rules__is_space((unsigned char)s[i]); i++)
		;
	if (i == len) {
		free(s);
		return;
	}
	while (off < len && (rc = amatch(t, set->addr_re, s, len, off,
	    0)) >= 0) {
		const char *ph, *ad, *cm;
		size_t phl = 0, adl = 0, cml = 0, end;
		char *adc = NULL, *phc = NULL;
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(t->amd);

		end = ov[1];
		if ((ph = cap(t, s, 1, &phl)) == NULL)
			ph = cap(t, s, 4, &phl);
		if ((ad = cap(t, s, 2, &adl)) != NULL) {
			if ((adc = rules__strndup(ad, adl)) == NULL)
				break;
			adl = strip_comments(adc, adl);
			if (amatch(t, set->mail_re, adc, adl, 0, 0) < 0) {
				free(adc);
				adc = NULL;
			}
			ad = adc;
		} else
			ad = cap(t, s, 3, &adl);
		cm = cap(t, s, 5, &cml);
		if (ad != NULL && !valid_addr(ad, adl))
			ad = NULL;
		if (ph != NULL) {
			if ((phc = rules__strndup(ph, phl)) == NULL) {
				free(adc);
				break;
			}
			phl = clean_phrase(phc, phl);
			ph = phc;
			if (ad == NULL && amatch(t, set->mail_re, phc, phl, 0,
			    0) >= 0 &&
			    valid_addr(phc, phl) && memchr(phc, '@', phl)) {
				const char *at = memchr(phc, '@', phl);
				const char *h = at + 1;
				size_t hl = cut_addr(phc, phl) -
				    (size_t)(h - phc);
				if (fqdn_valid(h, hl)) {
					ad = phc;
					adl = phl;
					ph = NULL;
				}
			}
			if (ph != NULL && ((ad != NULL && phl == adl &&
			    memcmp(ph, ad, phl) == 0) || phl == 0))
				ph = NULL;
		}
		if (ph == NULL && cm != NULL) {
			ph = cm;
			phl = cml;
		}
		emit_addr(out, input, mods, ad, adl, ph, phl);
		free(adc);
		free(phc);
		if (end == off)
			break;
		off = end;
	}
	/* Last ditch: <address> anywhere in what is left. */
	p = s + off;
	if (off < len && memchr(p, '@', len - off) != NULL) {
		size_t pos = off;
		while (pos < len && amatch(t, set->angle_re, s, len, pos,
		    0) >= 0) {
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(t->amd);
			size_t al;
			const char *a = cap(t, s, 1, &al);
			if (a != NULL && valid_addr(a, al) &&
			    (mods & HM_ADDR))
				res_add(out, a, cut_addr(a, al), false);
			pos = ov[1] > pos ? ov[1] : pos + 1;
		}
	}
	free(s);
}

/*
 * Build the value of header request HS for the message in IN, as
 * PerMsgStatus::get() in list context followed by the join done in
 * Plugin::Check.  Returns false when get() finds nothing.
 */
bool
rules__header_value(struct rules_txn *t, const struct hspec *hs,
    const struct rules_input *in, struct rules_text *val)
{
	static const char *const msgid[] = { "X-Message-Id",
	    "Resent-Message-Id", "X-Original-Message-ID", "Message-Id" };
	const struct rules_part *p0 = in->nparts > 0 ? &in->parts[0] : NULL;
	struct vals *v = &t->hv, *r;
	bool raw = (hs->mods & HM_RAW) != 0;
	bool needraw = raw || (hs->mods & (HM_ADDR | HM_NAME));
	size_t i, n0, first, last;

	vals_clear(v);
	switch (hs->kind) {
	case HK_ALL:
		if (raw)
			all_raw(v, in->header_block);
		else
			all_headers(v, p0, false);
		goto join;
	case HK_ENVFROM:
		if (in->envelope_from.ptr != NULL)
			res_add(v, in->envelope_from.ptr,
			    in->envelope_from.len, false);
		break;
	case HK_TOCC:
		get_header(v, p0, "To", 2, raw);
		get_header(v, p0, "Cc", 2, raw);
		break;
	case HK_MESSAGEID:
		for (i = 0; i < 4; i++)
			get_header(v, p0, msgid[i], strlen(msgid[i]), raw);
		/* grep { $_ ne '' } */
		for (i = n0 = 0; i < v->n; i++)
			if (v->v[i].len > 0)
				v->v[n0++] = v->v[i];
		v->n = n0;
		break;
	case HK_NAME:
		for (i = 0; p0 != NULL && i < p0->nheaders; i++) {
			const struct rules_header *h = &p0->headers[i];
			if (!name_is(h, hs->name, hs->name_len))
				continue;
			if (needraw)
				res_add(v, h->raw.ptr, h->raw.len, false);
			else
				res_add(v, h->value.ptr, h->value.len, true);
		}
		if (v->n == 0)
			for (i = 0; i < in->npseudo; i++)
				if (name_is(&in->pseudo[i], hs->name,
				    hs->name_len)) {
					res_add(v, in->pseudo[i].value.ptr,
					    in->pseudo[i].value.len, false);
					break;
				}
		break;
	}
	if (v->n == 0)
		return false;
	first = 0;
	last = v->n;
	if (hs->mods & HM_FIRST)
		last = 1;
	else if (hs->mods & HM_LAST)
		first = v->n - 1;
	if (hs->mods & (HM_HOST | HM_IP)) {
		v->n = 0;		/* not implemented: no value */
		return false;
	}
	if (hs->mods & (HM_ADDR | HM_NAME)) {
		r = &t->hv2;
		vals_clear(r);
		for (i = first; i < last; i++)
			parse_addresses(t, in, v->buf.p + v->v[i].off,
			    v->v[i].len, hs->mods, r);
		if (r->n == 0)
			return false;
		v = r;
		first = 0;
		last = v->n;
	}
	if (first > 0 || last < v->n) {
		memmove(v->v, v->v + first, (last - first) * sizeof(*v->v));
		v->n = last - first;
	}
join:
	if (v->buf.oom || v->n == 0) {
		val->ptr = "";
		val->len = 0;
		return v->n > 0;
	}
	/* join($harr[0] =~ /\n\z/ ? "" : "\n", @harr) */
	if (v->n == 1) {
		val->ptr = v->buf.p + v->v[0].off;
		val->len = v->v[0].len;
		return true;
	}
	{
		bool nl = v->v[0].len > 0 &&
		    v->buf.p[v->v[0].off + v->v[0].len - 1] == '\n';
		struct sbuf *j = &t->join;
		j->len = 0;
		for (i = 0; i < v->n; i++) {
			if (i > 0 && !nl)
				rules__sb_addc(j, '\n');
			rules__sb_add(j, v->buf.p + v->v[i].off,
			    v->v[i].len);
		}
		if (j->oom || j->p == NULL) {
			val->ptr = "";
			val->len = 0;
		} else {
			val->ptr = j->p;
			val->len = j->len;
		}
	}
	return true;
}

/*
 * The value mimeheader rule HS sees in part P (Plugin::MIMEHeader):
 * ALL: all fields; :raw: the last field raw; else the last field
 * decoded plus "\n".  Returns false when the field is absent.
 */
bool
rules__mime_value(struct rules_txn *t, const struct hspec *hs,
    const struct rules_part *p, struct rules_text *val)
{
	struct vals *v = &t->hv;
	size_t i;
	const struct rules_header *last = NULL;

	vals_clear(v);
	if (hs->kind == HK_ALL && hs->name_len == 3) {
		all_headers(v, p, (hs->mods & HM_RAW) != 0);
		if (v->n == 0 || v->buf.oom) {
			val->ptr = "";
			val->len = 0;
			return true;
		}
		val->ptr = v->buf.p + v->v[0].off;
		val->len = v->v[0].len;
		return true;
	}
	for (i = 0; i < p->nheaders; i++)
		if (name_is(&p->headers[i], hs->name, hs->name_len))
			last = &p->headers[i];
	if (hs->mods & HM_RAW) {
		/* raw_header() in scalar context: '' when absent */
		if (last == NULL) {
			val->ptr = "";
			val->len = 0;
		} else
			*val = last->raw;
		return true;
	}
	if (last == NULL)
		return false;
	res_add(v, last->value.ptr, last->value.len, true);
	if (v->buf.oom) {
		val->ptr = "";
		val->len = 0;
	} else {
		val->ptr = v->buf.p;
		val->len = v->buf.len;
	}
	return true;
}

/* Compile the address parser's regexes into SET. */
int
rules__header_init(struct rules_set *set)
{
#define MAILRE								\
	"(?:\"(?:|(?:[^\"\\\\]++|\\\\.)*+)\"|[^\\@\\s\\<\\>\\(\\)\\[\\]\\,\\:\\;]+)" \
	"\\@(?:[^\\\"\\s\\<\\>\\(\\)\\[\\]\\,\\:\\;]+|\\[[\\d:.]+\\])"
#define QS	"\"(?:|(?:[^\"\\\\]++|\\\\.)*+)\""
	static const char addr[] =
	    "\\s*(?:(?:((?:" QS "|[^\",;<]++)+)\\s*)?"
	    "<\\s*([^>\\@]*\\S+|\\s*)\\s*>"
	    "(?:\\s*<\\s*(?:(?:" QS ")?\\S+|\\s*)\\s*>)*"
	    "|(?:(" MAILRE ")|((?:" QS "|[^\",;<]++)+)))"
	    "(?:\\s*\\(((?:|(?:[^()\\\\]++|\\\\.)*+))\\))?"
	    "\\s*(?:[,;]|\\z)";
	static const char mail[] = MAILRE;
	static const char angle[] = "<(" MAILRE ")>";
	int ec;
	PCRE2_SIZE off;

	/* Anchored when compiled, not per match: a match-time
	 * PCRE2_ANCHORED would bypass the JIT code. */
	set->addr_re = pcre2_compile((PCRE2_SPTR)addr, PCRE2_ZERO_TERMINATED,
	    PCRE2_CASELESS | PCRE2_DOTALL | PCRE2_ANCHORED, &ec, &off, NULL);
	set->mail_re = pcre2_compile((PCRE2_SPTR)mail, PCRE2_ZERO_TERMINATED,
	    PCRE2_CASELESS | PCRE2_ANCHORED | PCRE2_ENDANCHORED, &ec, &off,
	    NULL);
	set->angle_re = pcre2_compile((PCRE2_SPTR)angle,
	    PCRE2_ZERO_TERMINATED, PCRE2_CASELESS | PCRE2_DOTALL, &ec, &off,
	    NULL);
	if (set->addr_re == NULL || set->mail_re == NULL ||
	    set->angle_re == NULL)
		return -1;
	/* JIT where the system allows; the interpreter otherwise */
	(void)pcre2_jit_compile(set->addr_re, PCRE2_JIT_COMPLETE);
	(void)pcre2_jit_compile(set->mail_re, PCRE2_JIT_COMPLETE);
	(void)pcre2_jit_compile(set->angle_re, PCRE2_JIT_COMPLETE);
	return 0;
#undef MAILRE
#undef QS
}
