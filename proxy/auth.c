/*
 * auth.c — SMTP AUTH (RFC 4954) relayed to the backend.
 */
#include <stdlib.h>

#include "proxy/session_int.h"

/* AUTH. */
void
auth_cmd(struct session *s, const struct smtp_cmd *c)
{
	session__error_reply(s, "502 5.5.1 Error: command not implemented");
}

/* A SASL response line. */
void
auth_response(struct session *s, const char *line, size_t len)
{
	s->sasl = false;
}

/* The AUTH keyword for our EHLO, or NULL. */
const char *
auth_offer(const struct session *s, char *buf, size_t bufsz)
{
	return NULL;
}

/* Free what auth.c holds. */
void
auth_free(struct session *s)
{
	free(s->auth_mech);
	free(s->auth_login);
}
