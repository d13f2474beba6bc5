/*
 * noop_milter.c — the cheapest milter Postfix can talk to, for
 * bench/milter.sh: what Postfix's own milter client costs per message
 * whatever the milter does.  libmilter; it asks for no action and, at
 * negotiation, tells the MTA to skip every step it may skip (no
 * connect, HELO, MAIL, RCPT, DATA, headers, end of headers, body,
 * unknown command) and to send no macros.  Postfix still opens a
 * connection per SMTP session, negotiates, and sends end of message
 * (which no milter can decline) and QUIT.  Nothing is filtered: a
 * reference, not a product.
 *
 * usage: noop_milter unix:/path/to/socket
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

/* Skip every step the MTA offers to skip; ask for no macros. */
static sfsistat
noop_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0,
    unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	const unsigned long skip = SMFIP_NOCONNECT | SMFIP_NOHELO |
	    SMFIP_NOMAIL | SMFIP_NORCPT | SMFIP_NOBODY | SMFIP_NOHDRS |
	    SMFIP_NOEOH | SMFIP_NOUNKNOWN | SMFIP_NODATA;
	int	 stage;

	(void)f2; (void)f3;
	*pf0 = 0;
	*pf1 = f1 & skip;
	*pf2 = 0;
	*pf3 = 0;
	if (f0 & SMFIF_SETSYMLIST) {
		*pf0 |= SMFIF_SETSYMLIST;
		for (stage = SMFIM_CONNECT; stage <= SMFIM_EOH; stage++)
			(void)smfi_setsymlist(ctx, stage, "{gh_none}");
	}
	return SMFIS_CONTINUE;
}

/* End of message: let it through. */
static sfsistat
noop_eom(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

int
main(int argc, char *argv[])
{
	struct smfiDesc	 desc;

	if (argc != 2) {
		fprintf(stderr, "usage: noop_milter unix:/path\n");
		return 2;
	}
	memset(&desc, 0, sizeof(desc));
	desc.xxfi_name = "noop";
	desc.xxfi_version = SMFI_VERSION;
	desc.xxfi_flags = 0;
	desc.xxfi_eom = noop_eom;
	desc.xxfi_negotiate = noop_negotiate;
	umask(0);		/* the socket must be Postfix's to use */
	if (smfi_setconn(argv[1]) == MI_FAILURE ||
	    smfi_register(desc) == MI_FAILURE ||
	    smfi_opensocket(1) == MI_FAILURE) {
		fprintf(stderr, "noop_milter: cannot listen on %s\n",
		    argv[1]);
		return 1;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
