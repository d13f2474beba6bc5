/*
 * test_milter_engine.c — the milter protocol engine (milter/engine.c)
 * without a socket: packets in through milter__conn_input(), replies
 * out of milter__conn_output(), over the real session code and a chain
 * whose one filter rejects a sender with "reject" in it.
 *
 * Shown: negotiation answered with the version and what we take; a
 * refusal at MAIL as an 'y' reply with its code; input split at every
 * byte gives the same replies as the whole; a partial packet waits; a
 * bad length, an unknown command and QUIT end the connection with no
 * session left; input after the end is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "filters/chain.h"
#include "filters/util.h"
#include "milter/milter_int.h"

/* Reject a sender with "reject" in it, at MAIL. */
static int
tf_run(void *inst, struct gh_txn *t, unsigned idx, enum gh_stage s,
    struct gh_verdict *v)
{
	(void)inst;
	(void)idx;
	if (s == GH_STAGE_MAIL && t->env.mail_from &&
	    strstr(t->env.mail_from, "reject"))
		gh_verdict_refuse(v, t, GH_REJECT,
		    &t->cfg->rules_reject_reply, "x", "test");
	return 0;
}

static const struct gh_filter test_filter = {
	.name = "test",
	.stages = 0x3f,
	.run = tf_run,
};

static struct gh_config	*cfg;
static struct gh_chain	*chain;

/* Append a packet: command and LEN bytes of data. */
static void
pkt(struct gh_buf *b, char cmd, const void *data, size_t len)
{
	uint32_t	 n = htonl((uint32_t)(1 + len));

	assert_int_equal(gh_buf_append(b, &n, 4), 0);
	assert_int_equal(gh_buf_append(b, &cmd, 1), 0);
	assert_int_equal(gh_buf_append(b, data, len), 0);
}

/* A Postfix-like conversation up to (not including) QUIT. */
static void
conversation(struct gh_buf *b, const char *sender)
{
	uint32_t	 o[3] = { htonl(6), htonl(0x1ff), htonl(0x1fffff) };
	char		 mail[128];
	int		 n;

	pkt(b, 'O', o, sizeof(o));
	pkt(b, 'D', "C{client_addr}\0" "192.0.2.7", 25);
	pkt(b, 'C', "mail.example\0" "4\x10\x10" "192.0.2.7", 26);
	pkt(b, 'H', "client.example", 15);
	n = snprintf(mail, sizeof(mail), "%s%cSIZE=10", sender, '\0');
	pkt(b, 'M', mail, (size_t)n + 1);
	pkt(b, 'R', "<bob@test>", 11);
	pkt(b, 'L', "Subject\0 hi", 12);
	pkt(b, 'N', "", 0);
	pkt(b, 'B', "body\r\n", 6);
	pkt(b, 'E', "", 0);
}

/* The reply commands in OUT, as a string; also checks the framing. */
static void
commands(const struct gh_buf *out, char *cmds, size_t sz)
{
	size_t		 off = 0, k = 0;
	uint32_t	 len;

	while (off < out->len) {
		assert_true(out->len - off >= 5);
		memcpy(&len, out->p + off, 4);
		len = ntohl(len);
		assert_true(len >= 1 && len <= out->len - off - 4);
		assert_true(k + 1 < sz);
		cmds[k++] = out->p[off + 4];
		off += 4 + len;
	}
	cmds[k] = '\0';
}

/* Feed IN to a new connection in pieces of STEP bytes (0: whole);
   the replies in OUT; the last milter__conn_input() result. */
static int
run(const struct gh_buf *in, size_t step, struct gh_buf *out)
{
	struct milter_state	 st;
	struct milter_conn	*c;
	size_t			 off = 0, n;
	int			 r = 0;

	assert_int_equal(milter__state_init(&st, milter__engine_api(),
	    chain), 0);
	assert_non_null(c = milter__conn_new(&st, -1));
	while (off < in->len && r == 0) {
		n = step && step < in->len - off ? step : in->len - off;
		r = milter__conn_input(c, in->p + off, n);
		off += n;
	}
	gh_buf_append(out, milter__conn_output(c)->p,
	    milter__conn_output(c)->len);
	if (r == -1) {
		char x[5] = { 0, 0, 0, 1, 'Q' };

		/* Ended: later input is refused. */
		assert_int_equal(milter__conn_input(c, x, 5), -1);
		assert_int_equal(milter__sessions(&st), 0);
	}
	milter__conn_free(c);
	assert_int_equal(milter__sessions(&st), 0);
	milter__state_fini(&st);
	return r;
}

static void
test_conversation(void **state)
{
	struct gh_buf	 in, whole, bytes;
	char		 cmds[64];
	uint32_t	 v;

	(void)state;
	gh_buf_init(&in, 0);
	gh_buf_init(&whole, 0);
	gh_buf_init(&bytes, 0);
	conversation(&in, "<alice@example.com>");
	pkt(&in, 'Q', "", 0);
	assert_int_equal(run(&in, 0, &whole), -1);
	commands(&whole, cmds, sizeof(cmds));
	/* Negotiation first, then CONNECT, HELO, MAIL, RCPT, EOH (no
	   replies to headers and body: SMFIP_NR_HDR, SMFIP_NR_BODY),
	   then the edits and the answer of end of message. */
	assert_int_equal(cmds[0], 'O');
	memcpy(&v, whole.p + 5, 4);
	assert_int_equal(ntohl(v), 6);
	assert_memory_equal(cmds + 1, "ccccc", 5);
	assert_non_null(strchr(cmds, 'i'));	/* Authentication-Results */
	assert_int_equal(cmds[strlen(cmds) - 1], 'c');
	/* Read by read, byte by byte: the same replies. */
	assert_int_equal(run(&in, 1, &bytes), -1);
	assert_int_equal(bytes.len, whole.len);
	assert_memory_equal(bytes.p, whole.p, whole.len);
	gh_buf_free(&in);
	gh_buf_free(&whole);
	gh_buf_free(&bytes);
}

static void
test_reject(void **state)
{
	struct gh_buf	 in, out;
	char		 cmds[64];

	(void)state;
	gh_buf_init(&in, 0);
	gh_buf_init(&out, 0);
	conversation(&in, "<reject@example.com>");
	assert_int_equal(run(&in, 7, &out), 0);	/* no QUIT: goes on */
	commands(&out, cmds, sizeof(cmds));
	assert_string_equal(cmds, "Occy");	/* CONNECT, HELO, MAIL */
	assert_non_null(memmem(out.p, out.len, "550 5.", 6));
	gh_buf_free(&in);
	gh_buf_free(&out);
}

static void
test_ends(void **state)
{
	struct gh_buf	 in, out;
	uint32_t	 huge = htonl(0x7fffffff), zero = 0;

	(void)state;
	/* A partial packet waits for more. */
	gh_buf_init(&in, 0);
	gh_buf_init(&out, 0);
	conversation(&in, "<a@example.com>");
	in.len -= 3;
	assert_int_equal(run(&in, 0, &out), 0);
	/* An over-long packet, an empty one, an unknown command: the
	   connection ends with the session closed. */
	conversation(&in, "<a@example.com>");
	gh_buf_append(&in, &huge, 4);
	assert_int_equal(run(&in, 0, &out), -1);
	gh_buf_reset(&in);
	conversation(&in, "<a@example.com>");
	gh_buf_append(&in, &zero, 4);
	assert_int_equal(run(&in, 0, &out), -1);
	gh_buf_reset(&in);
	conversation(&in, "<a@example.com>");
	pkt(&in, 'Z', "", 0);
	assert_int_equal(run(&in, 0, &out), -1);
	gh_buf_free(&in);
	gh_buf_free(&out);
}

int
main(void)
{
	static const struct gh_filter *const fl[] = { &test_filter };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conversation),
		cmocka_unit_test(test_reject),
		cmocka_unit_test(test_ends),
	};
	struct gh_config_errors errs = { NULL, 0 };
	char	*ov[] = { "authserv_id=mx.test" };
	char	 err[128];
	int	 r;

	cfg = gh_config_load(NULL, ov, 1, &errs);
	if (cfg == NULL || (chain = gh_chain_new_with(cfg, fl, 1, NULL, err,
	    sizeof(err))) == NULL)
		return 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	gh_chain_unref(chain);
	return r;
}
