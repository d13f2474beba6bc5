/*
 * engine.c — the milter protocol (version 6, as Postfix and Sendmail
 * speak it) on the MTA's connections: accept, read packets, call the
 * session code (session.c) through the same `struct milter_api` that a
 * fake libmilter fills in the tests, write the replies.
 *
 * Why not libmilter's own loop: it reads every packet with a poll() and
 * a read() for its 5-byte header, another poll() and read() for its
 * data, and a 1 ms poll() before each command to decide whether to hand
 * the connection back to its worker pool (a pipe write, futexes, two
 * context switches).  Postfix sends ~30 packets per message, most of
 * them back to back (macros, each header): ~150 system calls per
 * message.  Here one read() takes whatever the MTA has sent, and every
 * packet in it is handled before the next read; replies (with the
 * header edits of end of message) are written in one write() before
 * reading again.  libmilter still creates the listening socket
 * (smfi_setconn(), smfi_opensocket(): its "unix:", "inet:", "inet6:"
 * syntax and its stale-socket handling); daemon.c hands it here.
 *
 * Threads: a thread per MTA connection (Postfix opens one per SMTP
 * session).  Each thread accepts its connection itself: idle threads
 * (up to IDLE_MAX) wait in accept(2), where the kernel wakes one of them
 * per connection; see the pool below.
 *
 * Invariants: a packet is handled only when complete; its length is
 * capped (PACKET_MAX) before anything is allocated for it; every string
 * taken from a packet is NUL-terminated inside it, or the packet is a
 * protocol error.  Replies go out in the order the callbacks made them.
 *
 * Failures: a protocol error, an over-long packet, a read or write
 * error, EOF or the read timeout close the connection after the close
 * callback (the MTA applies its milter_default_action, tempfail in
 * gatehouse's recommended setup); the session code logs what it knows.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "filters/log.h"
#include "filters/util.h"
#include "milter/milter_int.h"

#define PACKET_MAX	(1024 * 1024)	/* a header or a body chunk */
#define READ_CHUNK	(64 * 1024)
#define READ_TIMEOUT_S	7210		/* libmilter's default */
#define NMACRO		7		/* SMFIM_CONNECT .. SMFIM_EOH */
#define REPLY_TEXT_MAX	980		/* libmilter's MAXREPLYLEN */

/* libmilter's protocol states (engine.c there) and their successors. */
enum {
	ST_INIT, ST_OPTS, ST_CONN, ST_HELO, ST_MAIL, ST_RCPT, ST_DATA,
	ST_HDRS, ST_EOHS, ST_BODY, ST_ENDM, ST_QUIT, ST_ABRT, ST_UNKN,
	ST_Q_NC, ST_NSTATES
};
#define M(x)		(1u << (x))
#define SKIP		(1u << 16)	/* a step this milter does not take */
#define IN_MAIL(st)	((st) >= ST_MAIL && (st) < ST_ENDM)

static const unsigned next_states[ST_NSTATES] = {
	[ST_INIT] = M(ST_OPTS),
	[ST_OPTS] = M(ST_CONN) | M(ST_UNKN),
	[ST_CONN] = M(ST_HELO) | M(ST_MAIL) | M(ST_UNKN),
	[ST_HELO] = M(ST_HELO) | M(ST_MAIL) | M(ST_UNKN),
	[ST_MAIL] = M(ST_RCPT) | M(ST_ABRT) | M(ST_UNKN),
	[ST_RCPT] = M(ST_HDRS) | M(ST_EOHS) | M(ST_DATA) | M(ST_BODY) |
	    M(ST_ENDM) | M(ST_RCPT) | M(ST_ABRT) | M(ST_UNKN),
	/* No DATA callback (SMFIP_NODATA): the step may be skipped. */
	[ST_DATA] = M(ST_EOHS) | M(ST_HDRS) | M(ST_ABRT) | SKIP,
	[ST_HDRS] = M(ST_EOHS) | M(ST_HDRS) | M(ST_ABRT),
	[ST_EOHS] = M(ST_BODY) | M(ST_ENDM) | M(ST_ABRT),
	[ST_BODY] = M(ST_ENDM) | M(ST_BODY) | M(ST_ABRT),
	[ST_ENDM] = M(ST_QUIT) | M(ST_MAIL) | M(ST_UNKN) | M(ST_Q_NC),
	[ST_QUIT] = 0,
	[ST_ABRT] = 0,
	/* No unknown-command callback (SMFIP_NOUNKNOWN): skippable. */
	[ST_UNKN] = M(ST_HELO) | M(ST_MAIL) | M(ST_RCPT) | M(ST_ABRT) |
	    M(ST_DATA) | M(ST_BODY) | M(ST_UNKN) | M(ST_QUIT) | M(ST_Q_NC) |
	    SKIP,
	[ST_Q_NC] = M(ST_CONN) | M(ST_UNKN),
};

/* The commands: the state each enters; igno: a refusal keeps the
   state (RCPT, unknown command). */
static const struct {
	char	 cmd;
	int	 next;
	bool	 igno;
} cmds[] = {
	{ 'A', ST_ABRT, false }, { 'B', ST_BODY, false },
	{ 'C', ST_CONN, false }, { 'E', ST_ENDM, false },
	{ 'H', ST_HELO, false }, { 'L', ST_HDRS, false },
	{ 'M', ST_MAIL, false }, { 'O', ST_OPTS, false },
	{ 'N', ST_EOHS, false }, { 'Q', ST_QUIT, false },
	{ 'T', ST_DATA, false }, { 'R', ST_RCPT, true },
	{ 'U', ST_UNKN, true }, { 'K', ST_Q_NC, false },
};

/* Internal answers besides SMFIS_*. */
#define ABORT	((sfsistat)21)		/* close the connection */
#define OPTIONS	((sfsistat)22)		/* negotiation answered */
#define NONE	((sfsistat)-1)		/* no answer */

/* One MTA connection: what libmilter's SMFICTX holds. */
struct milter_conn {
	struct milter_state	*st;
	int			 fd;
	void			*priv;
	char			*mac_buf[NMACRO];	/* packet copies */
	char			**mac_ptr[NMACRO];	/* name, value, ... */
	char			*reply;		/* smfi_setreply() */
	char			*symlist[NMACRO];
	unsigned long		 pflags;	/* steps negotiated */
	unsigned long		 actions;	/* actions negotiated */
	bool			 negotiated;
	int			 state;		/* ST_* */
	bool			 call_abort;	/* a message is open */
	bool			 quit;		/* QUIT received */
	struct gh_buf		 in;		/* input, from inoff on */
	size_t			 inoff;
	struct gh_buf		 out;		/* unwritten replies */
	bool			 out_err;
	bool			 tcp;		/* TCP_QUICKACK after reads */
};

/* Whether FD is a TCP socket (inet: milter_listen), not a unix one. */
static bool
is_tcp(int fd)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return false;
	return ss.ss_family == AF_INET || ss.ss_family == AF_INET6;
}

/* The macro slot of a command letter, or -1. */
static int
mac_index(int cmd)
{
	switch (cmd) {
	case 'C': return SMFIM_CONNECT;
	case 'H': return SMFIM_HELO;
	case 'M': return SMFIM_ENVFROM;
	case 'R': return SMFIM_ENVRCPT;
	case 'T': return SMFIM_DATA;
	case 'E': return SMFIM_EOM;
	case 'N': return SMFIM_EOH;
	default: return -1;
	}
}

/* Tell whether state NEW may follow OLD, skipping skippable steps. */
static bool
trans_ok(int old, int new)
{
	int	 s = old;

	while (s < ST_NSTATES) {
		if (next_states[s] & M(new))
			return true;
		if (s + 1 >= ST_NSTATES || !(next_states[s + 1] & SKIP))
			return false;
		s++;
	}
	return false;
}

/* The "no reply" step of a state, or 0. */
static unsigned long
nr_bit(int state)
{
	switch (state) {
	case ST_CONN: return SMFIP_NR_CONN;
	case ST_HELO: return SMFIP_NR_HELO;
	case ST_MAIL: return SMFIP_NR_MAIL;
	case ST_RCPT: return SMFIP_NR_RCPT;
	case ST_DATA: return SMFIP_NR_DATA;
	case ST_UNKN: return SMFIP_NR_UNKN;
	case ST_HDRS: return SMFIP_NR_HDR;
	case ST_EOHS: return SMFIP_NR_EOH;
	case ST_BODY: return SMFIP_NR_BODY;
	default: return 0;
	}
}

/* Forget the macros of slots FROM and later. */
static void
mac_clear(struct milter_conn *c, int from)
{
	int	 i;

	for (i = from; i < NMACRO; i++) {
		free(c->mac_buf[i]);
		free(c->mac_ptr[i]);
		c->mac_buf[i] = NULL;
		c->mac_ptr[i] = NULL;
	}
}

/* Append bytes to the output; remember a failure. */
static void
out_add(struct milter_conn *c, const void *p, size_t n)
{
	if (!c->out_err && gh_buf_append(&c->out, p, n) == -1)
		c->out_err = true;
}

/* Queue a reply packet: command letter and data pieces (NULL ends). */
static void
out_packet(struct milter_conn *c, char cmd, const void *a, size_t alen,
    const char *s1, const char *s2)
{
	uint32_t	 len = 1 + (uint32_t)alen;

	if (s1)
		len += (uint32_t)strlen(s1) + 1;
	if (s2)
		len += (uint32_t)strlen(s2) + 1;
	len = htonl(len);
	out_add(c, &len, 4);
	out_add(c, &cmd, 1);
	if (alen)
		out_add(c, a, alen);
	if (s1)
		out_add(c, s1, strlen(s1) + 1);
	if (s2)
		out_add(c, s2, strlen(s2) + 1);
}

/* Write the queued replies; -1 on failure. */
static int
out_flush(struct milter_conn *c)
{
	size_t	 off = 0;
	ssize_t	 n;

	if (c->out_err)
		return -1;
	while (off < c->out.len) {
		n = write(c->fd, c->out.p + off, c->out.len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	gh_buf_reset(&c->out);
	return 0;
}

/* --- the API the session code calls (struct milter_api) --- */

static void *
e_getpriv(void *ctx)
{
	return ((struct milter_conn *)ctx)->priv;
}

static int
e_setpriv(void *ctx, void *priv)
{
	((struct milter_conn *)ctx)->priv = priv;
	return MI_SUCCESS;
}

/* A macro's value, searched from the latest stage back (libmilter's
   order); "x" also finds "{x}" and the other way round. */
static const char *
e_getsymval(void *ctx, const char *name)
{
	struct milter_conn	*c = ctx;
	char		 one[2] = "", braces[4] = "";
	char		**s;
	size_t		 len = name ? strlen(name) : 0;
	int		 i;

	if (len == 0)
		return NULL;
	if (len == 3 && name[0] == '{' && name[2] == '}') {
		one[0] = name[1];
		one[1] = '\0';
	}
	if (len == 1)
		snprintf(braces, sizeof(braces), "{%c}", name[0]);
	for (i = NMACRO - 1; i >= 0; i--)
		for (s = c->mac_ptr[i]; s && s[0] && s[1]; s += 2)
			if (strcmp(s[0], name) == 0 ||
			    (one[0] && strcmp(s[0], one) == 0) ||
			    (braces[0] && strcmp(s[0], braces) == 0))
				return s[1];
	return NULL;
}

/* smfi_setreply(): "rcode xcode text", checked as libmilter does. */
static int
e_setreply(void *ctx, const char *rcode, const char *xcode,
    const char *text)
{
	struct milter_conn	*c = ctx;
	size_t		 len;
	char		*buf;

	if (rcode == NULL || strlen(rcode) != 3 ||
	    (rcode[0] != '4' && rcode[0] != '5') ||
	    rcode[1] < '0' || rcode[1] > '9' ||
	    rcode[2] < '0' || rcode[2] > '9')
		return MI_FAILURE;
	if (text && (strpbrk(text, "\r\n") != NULL ||
	    strlen(text) > REPLY_TEXT_MAX))
		return MI_FAILURE;
	len = 5 + (xcode ? strlen(xcode) + 1 : 0) + (text ? strlen(text) : 0);
	if ((buf = malloc(len)) == NULL)
		return MI_FAILURE;
	snprintf(buf, len, "%s %s%s%s", rcode, xcode ? xcode : "",
	    xcode ? " " : "", text ? text : "");
	free(c->reply);
	c->reply = buf;
	return MI_SUCCESS;
}

/* Queue a header edit with an index (insert, change). */
static int
edit_idx(struct milter_conn *c, char cmd, unsigned long need, int idx,
    const char *name, const char *value)
{
	uint32_t	 i = htonl((uint32_t)idx);

	if (name == NULL || *name == '\0' || !(c->actions & need))
		return MI_FAILURE;
	out_packet(c, cmd, &i, 4, name, value ? value : "");
	return c->out_err ? MI_FAILURE : MI_SUCCESS;
}

static int
e_insheader(void *ctx, int idx, const char *name, const char *value)
{
	if (value == NULL)
		return MI_FAILURE;
	return edit_idx(ctx, 'i', SMFIF_ADDHDRS, idx, name, value);
}

static int
e_addheader(void *ctx, const char *name, const char *value)
{
	struct milter_conn	*c = ctx;

	if (name == NULL || *name == '\0' || value == NULL ||
	    !(c->actions & SMFIF_ADDHDRS))
		return MI_FAILURE;
	out_packet(c, 'h', NULL, 0, name, value);
	return c->out_err ? MI_FAILURE : MI_SUCCESS;
}

static int
e_chgheader(void *ctx, const char *name, int idx, const char *value)
{
	if (idx < 0)
		return MI_FAILURE;
	return edit_idx(ctx, 'm', SMFIF_CHGHDRS, idx, name, value);
}

static int
e_setsymlist(void *ctx, int stage, const char *macros)
{
	struct milter_conn	*c = ctx;

	if (stage < 0 || stage >= NMACRO || macros == NULL ||
	    c->symlist[stage] != NULL)
		return MI_FAILURE;
	return (c->symlist[stage] = strdup(macros)) ? MI_SUCCESS : MI_FAILURE;
}

static const struct milter_api engine_api = {
	e_getpriv, e_setpriv, e_getsymval, e_setreply,
	e_insheader, e_addheader, e_chgheader, e_setsymlist
};

/* The API table of this engine (see milter_int.h). */
const struct milter_api *
milter__engine_api(void)
{
	return &engine_api;
}

/* --- packets --- */

/* Split DATA (LEN bytes) into NUL-terminated strings: a malloc'd,
   NULL-terminated array pointing into DATA; NULL when a string lacks
   its NUL or memory is short. */
static char **
split(char *data, size_t len)
{
	char	**v;
	size_t	 n = 0, i, k = 0;

	if (len > 0 && data[len - 1] != '\0')
		return NULL;
	for (i = 0; i < len; i++)
		if (data[i] == '\0')
			n++;
	if ((v = calloc(n + 1, sizeof(*v))) == NULL)
		return NULL;
	for (i = 0; i < len; i += strlen(data + i) + 1)
		v[k++] = data + i;
	v[k] = NULL;
	return v;
}

/* 'D': keep the macros for their stage (a copy: the input moves).
   Like libmilter, macros of other commands and an empty list are
   ignored (the stage keeps what it had). */
static void
on_macro(struct milter_conn *c, const char *data, size_t len)
{
	char	*copy;
	char	**v;
	int	 i;

	if (len < 2 || (i = mac_index(data[0])) < 0)
		return;
	if ((copy = malloc(len - 1)) == NULL)
		return;
	memcpy(copy, data + 1, len - 1);
	if ((v = split(copy, len - 1)) == NULL) {
		free(copy);
		return;
	}
	free(c->mac_buf[i]);
	free(c->mac_ptr[i]);
	c->mac_buf[i] = copy;
	c->mac_ptr[i] = v;
}

/* Send a callback's answer in state STATE: nothing for NOREPLY, and
   nothing where "no reply" was negotiated (libmilter's sendreply()). */
static void
answer(struct milter_conn *c, int state, sfsistat r)
{
	unsigned long	 bit = nr_bit(state);
	char		 cmd = 0;

	if (bit != 0 && (c->pflags & bit) != 0)
		r = SMFIS_NOREPLY;
	switch (r) {
	case SMFIS_NOREPLY:
		break;
	case SMFIS_CONTINUE:
		cmd = 'c';
		break;
	case SMFIS_ACCEPT:
		cmd = 'a';
		break;
	case SMFIS_DISCARD:
		cmd = 'd';
		break;
	case SMFIS_REJECT:
		cmd = c->reply && c->reply[0] == '5' ? 'y' : 'r';
		break;
	case SMFIS_TEMPFAIL:
		cmd = c->reply && c->reply[0] == '4' ? 'y' : 't';
		break;
	default:
		break;		/* libmilter's internal codes: no reply */
	}
	if (cmd == 'y') {
		out_packet(c, 'y', NULL, 0, c->reply, NULL);
		free(c->reply);
		c->reply = NULL;
	} else if (cmd)
		out_packet(c, cmd, NULL, 0, NULL, NULL);
}

/* 'O': negotiate; -1 closes the connection. */
static int
on_optneg(struct milter_conn *c, const unsigned char *data, size_t len)
{
	uint32_t	 v[3], o[3];
	unsigned long	 pf0 = 0, pf1 = 0;
	int		 i;

	if (len < 12)
		return -1;
	memcpy(v, data, 12);
	v[0] = ntohl(v[0]);
	v[1] = ntohl(v[1]);
	v[2] = ntohl(v[2]);
	if (v[0] < 2)
		return -1;
	if (milter__negotiate(c->st, c, v[1], v[2], &pf0, &pf1) !=
	    SMFIS_CONTINUE)
		return -1;
	if ((pf0 & v[1]) != pf0 || (pf1 & v[2]) != pf1) {
		gh_log(LOG_ERR, "milter: negotiation asked for what the MTA "
		    "did not offer");
		return -1;
	}
	c->actions = pf0;
	c->pflags = pf1;
	c->negotiated = true;
	o[0] = htonl(v[0] < SMFI_PROT_VERSION ? v[0] : SMFI_PROT_VERSION);
	o[1] = htonl((uint32_t)pf0);
	o[2] = htonl((uint32_t)pf1);
	{
		uint32_t	 plen = 1 + 12;
		char		 cmd = 'O';

		if (pf0 & SMFIF_SETSYMLIST)
			for (i = 0; i < NMACRO; i++)
				if (c->symlist[i])
					plen += 4 + (uint32_t)strlen(
					    c->symlist[i]) + 1;
		plen = htonl(plen);
		out_add(c, &plen, 4);
		out_add(c, &cmd, 1);
		out_add(c, o, 12);
		for (i = 0; (pf0 & SMFIF_SETSYMLIST) && i < NMACRO; i++)
			if (c->symlist[i]) {
				uint32_t w = htonl((uint32_t)i);

				out_add(c, &w, 4);
				out_add(c, c->symlist[i],
				    strlen(c->symlist[i]) + 1);
			}
	}
	return 0;
}

/* 'C': host name, family, port, address. */
static sfsistat
on_connect(struct milter_conn *c, char *data, size_t len)
{
	struct sockaddr_storage	 ss;
	const char		*host, *addr;
	size_t			 hl;
	uint16_t		 port;
	char			 fam;

	memset(&ss, 0, sizeof(ss));
	if (len < 2 || memchr(data, '\0', len) == NULL)
		return ABORT;
	host = data;
	hl = strlen(host) + 1;
	if (hl >= len)
		return ABORT;
	fam = data[hl];
	if (fam == SMFIA_UNKNOWN)
		return milter__connect(c->st, c, host, NULL);
	if (len < hl + 4 || data[len - 1] != '\0')
		return ABORT;
	memcpy(&port, data + hl + 1, 2);
	addr = data + hl + 3;
	if (fam == SMFIA_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = port;
		if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
			return milter__connect(c->st, c, host, NULL);
	} else if (fam == SMFIA_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = port;
		/* Sendmail writes "IPv6:" before the address. */
		if (strncasecmp(addr, "IPv6:", 5) == 0)
			addr += 5;
		if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
			return milter__connect(c->st, c, host, NULL);
	} else
		return milter__connect(c->st, c, host, NULL);
	return milter__connect(c->st, c, host, (struct sockaddr *)&ss);
}

/* A command with string arguments (MAIL, RCPT). */
static sfsistat
on_args(struct milter_conn *c, char *data, size_t len,
    sfsistat (*fn)(struct milter_state *, void *, char **))
{
	char		**v;
	sfsistat	 r;

	if (len == 0 || (v = split(data, len)) == NULL)
		return ABORT;
	r = fn(c->st, c, v);
	free(v);
	return r;
}

/* Call the callback of command CMD (state already entered); the
   SMFIS_* answer, or ABORT to close the connection. */
static sfsistat
call(struct milter_conn *c, char cmd, char *data, size_t len)
{
	sfsistat	 r;
	char		*v;

	switch (cmd) {
	case 'O':
		mac_clear(c, 0);
		return on_optneg(c, (unsigned char *)data, len) == -1 ?
		    ABORT : OPTIONS;
	case 'C':
		mac_clear(c, SMFIM_CONNECT + 1);
		return on_connect(c, data, len);
	case 'H':
		mac_clear(c, SMFIM_HELO + 1);
		if (len == 0 || data[len - 1] != '\0')
			return NONE;
		return milter__helo(c->st, c, data);
	case 'M':
		mac_clear(c, SMFIM_ENVFROM + 1);
		return on_args(c, data, len, milter__envfrom);
	case 'R':
		mac_clear(c, SMFIM_ENVRCPT + 1);
		return on_args(c, data, len, milter__envrcpt);
	case 'L':
		if (len < 2 || data[len - 1] != '\0' ||
		    (v = memchr(data + 1, '\0', len - 1)) == data + len - 1)
			return ABORT;
		return milter__header(c->st, c, data, v + 1);
	case 'N':
		return milter__eoh(c->st, c);
	case 'B':
		return milter__body(c->st, c, (unsigned char *)data, len);
	case 'E':
		/* A last body chunk may come with it. */
		if (len > 0) {
			r = milter__body(c->st, c, (unsigned char *)data, len);
			if (r != SMFIS_CONTINUE && r != SMFIS_NOREPLY)
				return r;
		}
		return milter__eom(c->st, c);
	case 'A':
		(void)milter__abort(c->st, c);
		return SMFIS_NOREPLY;
	case 'Q':
	case 'K':
		(void)milter__close(c->st, c);
		mac_clear(c, 0);
		return SMFIS_NOREPLY;
	default:	/* 'T', 'U': no callback of ours */
		return SMFIS_CONTINUE;
	}
}

/*
 * Handle one packet the way libmilter's mi_engine() does: a command
 * that its state table does not allow here aborts the message (when one
 * is open) and is ignored unless it can follow HELO; a refusal returns
 * to HELO.  -1 ends the connection (QUIT, protocol error).
 */
static int
dispatch(struct milter_conn *c, char cmd, char *data, size_t len)
{
	int		 i, next;
	sfsistat	 r;

	if (cmd == 'D') {
		on_macro(c, data, len);
		return 0;
	}
	for (i = 0; i < (int)(sizeof(cmds) / sizeof(cmds[0])); i++)
		if (cmds[i].cmd == cmd)
			break;
	if (i == (int)(sizeof(cmds) / sizeof(cmds[0])))
		return -1;
	next = cmds[i].next;
	c->call_abort = IN_MAIL(c->state);
	/* QUIT ends the connection in any state, as EOF would (rather than
	   being ignored, and a read() made for the EOF that follows). */
	if (cmd == 'Q' && !trans_ok(c->state, next))
		return -1;
	if (!trans_ok(c->state, next)) {
		if (c->call_abort)
			(void)milter__abort(c->st, c);
		c->state = ST_HELO;
		c->call_abort = false;
		if (!trans_ok(ST_HELO, next))
			return 0;	/* ignored */
	}
	c->state = next;
	c->call_abort = IN_MAIL(next);
	r = call(c, cmd, data, len);
	if (r == ABORT)
		return -1;
	if (r == OPTIONS)
		return 0;	/* on_optneg() queued the answer */
	answer(c, next, r);
	if (r == SMFIS_ACCEPT)
		c->state = ST_HELO;
	else if ((r == SMFIS_REJECT || r == SMFIS_DISCARD ||
	    r == SMFIS_TEMPFAIL) && !cmds[i].igno)
		c->state = ST_HELO;
	if (cmd == 'Q') {
		c->quit = true;
		return -1;
	}
	return 0;
}

/* Read more input, room made for NEED bytes from the unread start;
   0 on EOF, -1 on error or timeout. */
static ssize_t
fill(struct milter_conn *c, size_t need)
{
	size_t	 have;
	ssize_t	 n;

	if (c->inoff > 0) {
		memmove(c->in.p, c->in.p + c->inoff, c->in.len - c->inoff);
		c->in.len -= c->inoff;
		c->inoff = 0;
	}
	have = c->in.len;
	if (gh_buf_reserve(&c->in, (need > have ? need - have : 0) +
	    READ_CHUNK) == -1)
		return -1;
	do
		n = read(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len - 1);
	while (n == -1 && errno == EINTR);
	if (n > 0) {
		c->in.len += (size_t)n;
		/*
		 * The MTA sends the no-reply steps (headers, body chunks)
		 * back to back, each a write of its own, and answers to none
		 * of them comes: its Nagle algorithm then holds the next
		 * packet until our delayed ACK, up to 40 ms each.  ACK at
		 * once.  (Linux clears the flag again after a while.)
		 */
		if (c->tcp)
			(void)setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK,
			    &(int){ 1 }, sizeof(int));
	}
	return n;
}

/*
 * Handle every complete packet of the input (from inoff on); replies
 * are queued on c->out.  0 when more input is needed (*need: the bytes
 * wanted from inoff on), -1 when the connection ends.
 */
static int
handle_input(struct milter_conn *c, size_t *need)
{
	uint32_t	 plen;
	size_t		 avail;
	char		 cmd, *data;

	for (;;) {
		avail = c->in.len - c->inoff;
		*need = 4;
		if (avail < 4)
			return 0;
		memcpy(&plen, c->in.p + c->inoff, 4);
		plen = ntohl(plen);
		if (plen < 1 || plen > PACKET_MAX) {
			gh_log(LOG_WARNING, "milter: bad packet length %u "
			    "from the MTA", plen);
			return -1;
		}
		*need = 4 + (size_t)plen;
		if (avail < *need)
			return 0;
		data = c->in.p + c->inoff + 5;
		cmd = c->in.p[c->inoff + 4];
		c->inoff += *need;
		if (dispatch(c, cmd, data, plen - 1) == -1)
			return -1;
	}
}

/* The end of a connection: pending replies out, then the callbacks
   libmilter makes when a connection goes (abort, close). */
static void
conn_end(struct milter_conn *c)
{
	if (c->fd != -1)
		(void)out_flush(c);
	if (IN_MAIL(c->state))
		(void)milter__abort(c->st, c);
	if (!c->quit)
		(void)milter__close(c->st, c);
	c->state = ST_QUIT;
	c->quit = true;
}

/* Serve one connection until it ends. */
static void
serve(struct milter_conn *c)
{
	size_t	 need;

	for (;;) {
		if (handle_input(c, &need) == -1)
			break;
		/* All complete packets handled: answer, then wait. */
		if (out_flush(c) == -1)
			break;
		if (fill(c, need) <= 0)
			break;
	}
	conn_end(c);
}

/* Free a connection. */
static void
conn_free(struct milter_conn *c)
{
	int	 i;

	mac_clear(c, 0);
	for (i = 0; i < NMACRO; i++)
		free(c->symlist[i]);
	free(c->reply);
	gh_buf_free(&c->in);
	gh_buf_free(&c->out);
	if (c->fd != -1)
		close(c->fd);
	free(c);
}

/* A new connection on FD (-1: none, for the tests); NULL on ENOMEM. */
struct milter_conn *
milter__conn_new(struct milter_state *st, int fd)
{
	struct milter_conn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->st = st;
	c->fd = fd;
	gh_buf_init(&c->in, 2 * PACKET_MAX + READ_CHUNK);
	gh_buf_init(&c->out, 2 * PACKET_MAX);
	return c;
}

/* Take input bytes without a socket (see milter_int.h). */
int
milter__conn_input(struct milter_conn *c, const void *p, size_t n)
{
	size_t	 need;

	if (c->quit)
		return -1;
	if (c->inoff > 0) {
		memmove(c->in.p, c->in.p + c->inoff, c->in.len - c->inoff);
		c->in.len -= c->inoff;
		c->inoff = 0;
	}
	if (gh_buf_append(&c->in, p, n) == -1 ||
	    handle_input(c, &need) == -1 || c->out_err) {
		conn_end(c);
		return -1;
	}
	return 0;
}

/* The replies queued so far (see milter_int.h). */
struct gh_buf *
milter__conn_output(struct milter_conn *c)
{
	return &c->out;
}

/* End and free a connection (see milter_int.h). */
void
milter__conn_free(struct milter_conn *c)
{
	if (c == NULL)
		return;
	if (!c->quit)
		conn_end(c);
	conn_free(c);
}

/*
 * The threads (leader/followers).  Idle threads wait in accept(2) on the
 * listening socket, which the kernel wakes one at a time, and serve the
 * connection they took: no acceptor thread to wake and no hand-over, two
 * context switches and a handful of system calls per connection fewer
 * than an acceptor feeding a pool (Postfix opens a connection per SMTP
 * session).  A thread that takes a connection while no other waits in
 * accept() starts one more first; once done, a thread goes back to
 * accept() unless IDLE_MAX others wait there already (creating and
 * ending threads costs a tenth of the milter's CPU per message).
 * Stopping: shutdown(2) of the listening socket makes every accept()
 * fail at once (EINVAL, unix and TCP alike).  From then on no thread
 * ends: they rest, since a thread ending its life while exit() runs
 * races the leak checker's stop-the-world in sanitizer builds.
 */
#define IDLE_MAX	32

static struct {
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;		/* a thread left accept() */
	pthread_cond_t	 rest;		/* never signalled */
	struct milter_state	*st;
	int		 lfd;
	int		 notify;	/* daemon.c's event pipe */
	int		 waiting;	/* threads in accept() */
	int		 busy;		/* threads neither waiting nor gone */
	bool		 stopping;	/* no accept(), no thread ends */
	bool		 running;
} pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
	PTHREAD_COND_INITIALIZER, NULL, -1, -1, 0, 0, false, false };

static void	*conn_thread(void *);

/* Start one more thread (pool.lock held); false when it cannot. */
static bool
spawn(void)
{
	pthread_attr_t	 attr;
	pthread_t	 tid;
	int		 r;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pool.busy++;
	if ((r = pthread_create(&tid, &attr, conn_thread, NULL)) != 0)
		pool.busy--;
	pthread_attr_destroy(&attr);
	return r == 0;
}

/* Serve the connection on FD, accepted just now. */
static void
serve_fd(int fd)
{
	struct timeval		 tv = { READ_TIMEOUT_S, 0 };
	struct milter_conn	*c;

	/* libmilter's timeout, for reads and for writes to an MTA that
	   stopped reading. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if ((c = milter__conn_new(pool.st, fd)) == NULL) {
		gh_log(LOG_WARNING, "milter: out of memory for a connection");
		close(fd);
		return;
	}
	c->tcp = is_tcp(fd);
	serve(c);
	conn_free(c);
}

/*
 * Whether accept() failing with ERR is for the moment only (a pause
 * first for the ones about resources); false: accepting failed for
 * good.
 */
static bool
accept_again(int err)
{
	switch (err) {
	case EMFILE: case ENFILE: case ENOBUFS: case ENOMEM:
		usleep(100 * 1000);
		return true;
	case EINTR: case ECONNABORTED: case EAGAIN: case EPROTO:
	case EPERM:
		return true;
	default:
		return false;
	}
}

/* A thread of the pool: accept a connection, serve it, again. */
static void *
conn_thread(void *arg)
{
	char	 x = 'X';
	int	 fd, err;

	(void)arg;
	pthread_mutex_lock(&pool.lock);
	for (;;) {
		pool.busy--;
		if (pool.stopping)
			break;
		if (pool.waiting >= IDLE_MAX) {
			pthread_mutex_unlock(&pool.lock);
			return NULL;
		}
		pool.waiting++;
		pthread_mutex_unlock(&pool.lock);
		fd = accept4(pool.lfd, NULL, NULL, SOCK_CLOEXEC);
		err = errno;
		pthread_mutex_lock(&pool.lock);
		pool.waiting--;
		pool.busy++;
		if (fd == -1) {
			if (pool.stopping || !accept_again(err)) {
				if (!pool.stopping) {
					gh_log(LOG_ERR, "milter: accept: %s",
					    strerror(err));
					pool.stopping = true;
					if (write(pool.notify, &x, 1) != 1)
						gh_log(LOG_WARNING, "milter: "
						    "cannot notify the main "
						    "thread");
				}
				pool.busy--;
				break;
			}
			continue;
		}
		if (pool.waiting == 0 && !spawn())
			gh_log(LOG_WARNING, "milter: cannot start a thread; "
			    "connections wait until one is free");
		pthread_mutex_unlock(&pool.lock);
		serve_fd(fd);
		pthread_mutex_lock(&pool.lock);
	}
	/* Stopping: rest, and let milter__engine_stop() know. */
	pthread_cond_broadcast(&pool.cond);
	for (;;)
		pthread_cond_wait(&pool.rest, &pool.lock);
	return NULL;
}

/* Start accepting on LFD (see milter_int.h). */
int
milter__engine_start(struct milter_state *st, int lfd, int notify)
{
	int	 fl;

	/* The threads wait in accept() itself. */
	if ((fl = fcntl(lfd, F_GETFL)) == -1 ||
	    fcntl(lfd, F_SETFL, fl & ~O_NONBLOCK) == -1)
		return -1;
	pthread_mutex_lock(&pool.lock);
	pool.st = st;
	pool.lfd = lfd;
	pool.notify = notify;
	pool.stopping = false;
	if (!spawn()) {
		pthread_mutex_unlock(&pool.lock);
		errno = EAGAIN;
		return -1;
	}
	pool.running = true;
	pthread_mutex_unlock(&pool.lock);
	return 0;
}

/* Stop accepting (see milter_int.h); open connections go on. */
void
milter__engine_stop(void)
{
	struct timespec	 ts;

	pthread_mutex_lock(&pool.lock);
	if (!pool.running) {
		pthread_mutex_unlock(&pool.lock);
		return;
	}
	pool.stopping = true;
	(void)shutdown(pool.lfd, SHUT_RDWR);
	/* Every thread out of accept() before the descriptor goes. */
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 2;
	while (pool.waiting > 0)
		if (pthread_cond_timedwait(&pool.cond, &pool.lock, &ts) ==
		    ETIMEDOUT)
			break;
	if (pool.waiting == 0)
		close(pool.lfd);
	else
		gh_log(LOG_WARNING, "milter: %d thread(s) still in accept()",
		    pool.waiting);
	pool.lfd = -1;
	pool.running = false;
	pthread_mutex_unlock(&pool.lock);
}

/*
 * Before exit: let every connection thread reach a resting state
 * (see the pool above) for up to DEADLINE (gh_now_us()).
 */
void
milter__engine_quiesce(uint64_t deadline)
{
	struct timespec	 ts = { 0, 5 * 1000 * 1000 };
	int		 busy;

	pthread_mutex_lock(&pool.lock);
	pool.stopping = true;
	pthread_mutex_unlock(&pool.lock);
	for (;;) {
		pthread_mutex_lock(&pool.lock);
		busy = pool.busy;
		pthread_mutex_unlock(&pool.lock);
		if (busy <= 0 || gh_now_us() >= deadline)
			break;
		nanosleep(&ts, NULL);
	}
	nanosleep(&ts, NULL);	/* threads that ended just before */
}
