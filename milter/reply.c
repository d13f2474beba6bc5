/*
 * reply.c — verdicts to libmilter: the SMFIS_* answer of each action at
 * each stage, the arguments of smfi_setreply(), and the header edits of
 * a transaction as smfi_insheader/addheader/chgheader calls.
 *
 * Invariants: a refusal always goes out with a reply code of its own
 * class (5xx for reject, 4xx for tempfail) and a valid enhanced status
 * code, whatever a filter put in the verdict; reply text is printable
 * ASCII with '%' doubled (the MTA may treat it as a format) and capped.
 * A header edit that libmilter refuses makes the whole message fail
 * (the caller tempfails it): half-applied edits could leave a forged
 * Authentication-Results in place.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filters/log.h"
#include "milter/milter_int.h"

/* The SMFIS_* answer for an action at a stage. */
sfsistat
milter__status(enum gh_action a, enum gh_stage s)
{
	switch (a) {
	case GH_REJECT:
		return SMFIS_REJECT;
	case GH_TEMPFAIL:
		return SMFIS_TEMPFAIL;
	case GH_DISCARD:
		/* libmilter allows DISCARD only for message stages; a
		   discard decided earlier is answered at MAIL. */
		return s >= GH_STAGE_MAIL ? SMFIS_DISCARD : SMFIS_CONTINUE;
	case GH_ACCEPT:
		/* Before EOM an accept still needs the EOM header edits
		   (our Authentication-Results): keep the message coming. */
		return s == GH_STAGE_EOM ? SMFIS_ACCEPT : SMFIS_CONTINUE;
	case GH_TAG:
	case GH_CONTINUE:
	default:
		return SMFIS_CONTINUE;
	}
}

/* Tell whether `s` is an enhanced status code of class `cls`. */
static bool
valid_status(const char *s, char cls)
{
	size_t	 i, part = 0, digits = 0;

	if (s[0] != cls || s[1] != '.')
		return false;
	for (i = 2; s[i]; i++) {
		if (s[i] == '.') {
			if (digits == 0 || ++part > 1)
				return false;
			digits = 0;
		} else if (s[i] >= '0' && s[i] <= '9') {
			if (++digits > 3)
				return false;
		} else
			return false;
	}
	return part == 1 && digits > 0;
}

/* The arguments of smfi_setreply() for a refusal (see milter_int.h). */
void
milter__reply_args(const struct gh_verdict *v, char rcode[4], char xcode[16],
    char *text, size_t textsz)
{
	char		 cls = v->action == GH_REJECT ? '5' : '4';
	int		 code = v->code;
	const char	*p;
	size_t		 n = 0, cap;

	if (code / 100 != cls - '0')
		code = cls == '5' ? 550 : 451;
	snprintf(rcode, 4, "%03d", code);
	if (valid_status(v->status, cls))
		snprintf(xcode, 16, "%s", v->status);
	else
		snprintf(xcode, 16, "%c.7.1", cls);
	if (textsz == 0)
		return;
	cap = textsz - 1 < MILTER_TEXT_MAX ? textsz - 1 : MILTER_TEXT_MAX;
	p = v->text && v->text[0] ? v->text :
	    cls == '5' ? "Message refused" : "Try again later";
	for (; *p && n < cap; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '%') {
			if (n + 2 > cap)
				break;
			text[n++] = '%';
			text[n++] = '%';
			continue;
		}
		text[n++] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	text[n] = '\0';
}

/* A header value as libmilter sends it (see milter_int.h). */
char *
milter__edit_value(const char *value, bool leadspc)
{
	size_t	 len = strlen(value), i, n = 0;
	char	*out;

	if ((out = malloc(len + 2)) == NULL)
		return NULL;
	/* With SMFIP_HDR_LEADSPC the MTA takes the value as is, so the
	   space after the colon is ours to send. */
	if (leadspc && value[0] != ' ' && value[0] != '\t')
		out[n++] = ' ';
	for (i = 0; i < len; i++) {
		if (value[i] == '\r' && value[i + 1] == '\n')
			continue;	/* milters fold with LF alone */
		out[n++] = value[i];
	}
	out[n] = '\0';
	return out;
}

/* Apply one edit; MI_SUCCESS or MI_FAILURE. */
static int
apply_edit(const struct milter_api *api, void *ctx, const struct gh_edit *e,
    bool leadspc)
{
	char	*val = NULL;
	int	 r;

	if (e->value && (val = milter__edit_value(e->value, leadspc)) == NULL)
		return MI_FAILURE;
	switch (e->op) {
	case GH_EDIT_INSERT:
		r = val ? api->insheader(ctx, 0, e->name, val) : MI_FAILURE;
		break;
	case GH_EDIT_APPEND:
		r = val ? api->addheader(ctx, e->name, val) : MI_FAILURE;
		break;
	case GH_EDIT_CHANGE:
		/* A NULL value deletes the index-th header of that name. */
		r = e->index > 0 && e->index <= 0x7fffffff ?
		    api->chgheader(ctx, e->name, (int)e->index, val) :
		    MI_FAILURE;
		break;
	default:
		r = MI_FAILURE;
		break;
	}
	free(val);
	return r;
}

/* Apply a transaction's header edits, in list order. */
int
milter__apply_edits(const struct milter_api *api, void *ctx,
    const struct gh_txn *t, bool leadspc)
{
	size_t	 i;

	for (i = 0; i < t->edits.n; i++) {
		const struct gh_edit *e = &t->edits.v[i];

		if (apply_edit(api, ctx, e, leadspc) != MI_SUCCESS) {
			gh_log_session(LOG_WARNING, t->env.session_id,
			    "milter: header edit failed op=%d name=%s "
			    "index=%u", (int)e->op, e->name, e->index);
			return -1;
		}
	}
	return 0;
}

/* Set the reply of a refusal and return its SMFIS_* answer. */
sfsistat
milter__answer(const struct milter_api *api, void *ctx,
    const struct gh_verdict *v, enum gh_stage s)
{
	char	 rcode[4], xcode[16], text[MILTER_TEXT_MAX + 1];

	if (v->action == GH_REJECT || v->action == GH_TEMPFAIL) {
		milter__reply_args(v, rcode, xcode, text, sizeof(text));
		if (api->setreply(ctx, rcode, xcode, text) != MI_SUCCESS)
			gh_log(LOG_WARNING, "milter: smfi_setreply(%s %s) "
			    "failed; the MTA's default reply goes out",
			    rcode, xcode);
	}
	return milter__status(v->action, s);
}
