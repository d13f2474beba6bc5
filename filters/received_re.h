/*
 * received_re.h — the expressions of SpamAssassin 4.0.1's
 * Message/Metadata/Received.pm and Constants.pm (IP_ADDRESS,
 * IP_PRIVATE, LOCALHOST) as PCRE2 patterns, in the order received.c
 * tries them.  Included by received.c only (after <pcre2.h>): a table,
 * not an interface.
 */
#ifndef GH_RECEIVED_RE_H
#define GH_RECEIVED_RE_H

/* Constants.pm: IP_ADDRESS (IPv4, IPv4-mapped IPv6, IPv6), caseless. */
#define OCT	"(?:1\\d\\d|2[0-4]\\d|25[0-5]|[1-9]\\d|\\d)"
#define V4	OCT "\\." OCT "\\." OCT "\\." OCT
#define H	"[a-f0-9]{1,4}"
#define IP	"(?i:(?:\\b(?<!:)" V4 "\\b|(?:IPv6:|(?<![a-f0-9:]))(?:" \
	"(?:(?:" H ":){6}|::(?:" H ":){0,5}|(?:" H ":){1,5}:|" \
	H "::(?:" H ":){1,4}|(?:" H ":){2}:(?:" H ":){1,3}|" \
	"(?:" H ":){3}:(?:" H ":){1,2}|(?:" H ":){4}:" H ":)" V4 "|" \
	"(?:" H ":){7}" H "|:(?::" H "){1,7}|(?:" H ":){1,7}:|" \
	H ":(?::" H "){1,6}|(?:" H ":){2}(?::" H "){1,5}|" \
	"(?:" H ":){3}(?::" H "){1,4}|(?:" H ":){4}(?::" H "){1,3}|" \
	"(?:" H ":){5}(?::" H "){1,2}|(?:" H ":){6}:" H "|::)" \
	"(?![a-f0-9:])))"
/* The IPv4-mapped prefixes and ::1 forms shared by LOCALHOST, PRIVATE. */
#define Z	"0{1,4}"
#define MAPPED	"(?:(?:" Z ":){5}ffff:|::(?:" Z ":){0,4}ffff:|" \
	"(?:" Z ":){1,4}:ffff:|" Z "::(?:" Z ":){1,3}ffff:|" \
	"(?:" Z ":){2}:0{1,2}:ffff:|(?:" Z ":){3}:0:ffff:|" \
	"(?:" Z ":){4}:ffff:)"
#define ONE	"(?:" Z ":){7}0{0,3}1|:(?::" Z "){0,6}:0{0,3}1|" \
	Z ":(?::" Z "){0,5}:0{0,3}1|(?:" Z ":){2}(?::" Z "){0,4}:0{0,3}1|" \
	"(?:" Z ":){3}(?::" Z "){0,3}:0{0,3}1|" \
	"(?:" Z ":){4}(?::" Z "){0,2}:0{0,3}1|" \
	"(?:" Z ":){5}(?::" Z "){0,1}:0{0,3}1|(?:" Z ":){6}:0{0,3}1"
#define LH	"(?i:localhost(?:\\.localdomain)?|\\b(?<!:)127\\.0\\.0\\.1\\b|" \
	"(?:IPv6:|(?<![a-f0-9:]))(?:" MAPPED "127\\.0\\.0\\.1|" ONE ")" \
	"(?![a-f0-9:]))"
#define PRIV4	"(?:10|127|169\\.254|172\\.(?:1[6-9]|2[0-9]|3[01])|" \
	"192\\.168|100\\.(?:6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7]))\\..*"

/* The expressions, in the order Received.pm tries them. */
enum re {
	R_FROMSTART, R_WITHLOCALFOR, R_FROMBY, R_BRV4, R_DATE, R_ID,
	R_HELO1, R_HELO2, R_BY,
	R_AUTH_WITH, R_GMAIL1, R_GMAIL2, R_COURIER, R_SENDMAIL_AUTH, R_GMX,
	R_CP1, R_CP2, R_POSTFIX_AUTH, R_CGP1, R_CGP2, R_DAV, R_VIAHTTP,
	R_ENVFROM, R_SQUIRREL, R_SQUIRREL2, R_AOL1, R_AOL2, R_AOL3,
	R_SMTPSVC, R_SMTPSVC1, R_SMTPSVC2, R_MSSMTP, R_MSSMTP1,
	R_XMAIL, R_XMAIL1, R_XMAIL_ID, R_XMAIL_FROM,
	R_ECEL, R_ECEL1, R_ECEL2,
	R_EXIM, R_EXIM_LOCAL, R_EXIM1, R_SUB_HELO, R_SUB_IDENT, R_EXIM2,
	R_EXIM3, R_EXIM4A, R_EXIM4B, R_EXIM4C, R_EXIM4D,
	R_POSTFIX, R_POSTFIX1, R_POSTFIX2, R_SCALIX, R_SCALIX1,
	R_DOMINO, R_DOMINO1, R_WITHHTTP, R_HTTP1, R_QMAILLDAP, R_SENDMAIL1,
	R_EXCH55, R_HELOEQ, R_UNKDOM, R_ATTBI, R_IDENTAT, R_HOTMAIL,
	R_IPSP, R_QPSMTPD, R_LHLO, R_GMXEHLO, R_SMTPD_FOR,
	R_QMAIL, R_QMAIL1, R_QMAIL2, R_QMAIL3, R_QMAIL4,
	R_VIAHTTP_END, R_VIAHTTP2, R_ASUSER, R_PAREN2, R_BRIP_BY, R_PARENIP,
	R_MDAEMON, R_MDAEMON2, R_SENDMAIL2, R_SENDMAIL3, R_JSOLIDAY,
	R_ROISSY, R_POPIMAP, R_QMAILISH1, R_QMAILISH2, R_HTTPFOR1,
	R_HTTPFOR2, R_SMAP1, R_SMAP2, R_SMAP3, R_POST1, R_POST2, R_ARGO1,
	R_ARGO2, R_SMTPL, R_BSMTP1, R_BSMTP2, R_SPIKE, R_YAHOOHELO,
	R_CGP_ACCT, R_CGP_VER1, R_CGP_VER2, R_CIPHERTRUST, R_IRONPORT,
	R_CONTENTTECH, R_BLS, R_IPBYWITH, R_POBOX, R_FSECURE, R_ALTAVISTA,
	R_OEM, R_NODNS, R_MAILGATE, R_UNVERIFIED, R_PROXYING, R_BRSUB,
	R_EMAILINFO, R_OBTUSE, R_YAHOOLOGIN, R_XORIG,
	R_IGN_FIRST, R_IGN_LAST = R_IGN_FIRST + 14,	/* 15 "ignore" */
	R_QMS, R_IGN2_FIRST, R_IGN2_LAST = R_IGN2_FIRST + 11,
	R_GUESSHELO, R_SIMTA, R_NAV, R_SMLOCAL, R_JQUEUE, R_ANYIP,
	R_SP_BY, R_AUTHENTICATED, R_PARENBY, R_IPONLY,
	R_IPV6PFX, R_ZONE, R_V4MAPPED, R_PRIVATE, R_UNKNOWN,
	R_COUNT
};

#define CI	PCRE2_CASELESS

static const struct {
	const char	*re;
	uint32_t	 flags;
} pat[R_COUNT] = {
	[R_FROMSTART] = { "^\\(?from ", CI },
	[R_WITHLOCALFOR] = { "\\bwith local for\\b", 0 },
	[R_FROMBY] = { "^from (\\S+) by [^\\s;]+ ?;", CI },
	[R_BRV4] = { "^\\[[\\d.]+\\]$", 0 },
	[R_DATE] = { "[\\s;]+(?:(?:Mon|T(?:ue|hu)|Wed|Fri|S(?:at|un)), )?"
	    "\\d+ (?:J(?:an|u[nl])|Feb|Ma[ry]|A(?:pr|ug)|Sep|Oct|Nov|Dec) "
	    "\\d+ \\d+:\\d+(?::\\d+)? \\S+$", 0 },
	[R_ID] = { " id <?([^\\s<>;]{3,})", 0 },
	[R_HELO1] = { "\\bhelo=([-A-Za-z0-9.^+_&:=?!@%*$\\\\/]+)"
	    "(?:[^-A-Za-z0-9.^+_&:=?!@%*$\\\\/]|$)", 0 },
	[R_HELO2] = { "\\b(?:HELO|EHLO) ([-A-Za-z0-9.^+_&:=?!@%*$\\\\/]+)"
	    "(?:[^-A-Za-z0-9.^+_&:=?!@%*$\\\\/]|$)", 0 },
	[R_BY] = { " by (\\S+)(?:[^-A-Za-z0-9;.]|$)", 0 },
	[R_AUTH_WITH] = { " with ((?:ES|L|UTF8S|UTF8L)MTPS?A|ASMTP|"
	    "HTTP[SU]?)(?: |;|$)", CI },
	[R_GMAIL1] = { " by mx\\.google\\.com with ESMTPS id "
	    "[a-z0-9]{1,4}sm[0-9]{2,9}[a-z]{3}\\.[0-9]{1,3}\\.[0-9]{4}\\."
	    "(?:[0-6][0-9]\\.){4}[0-6][0-9]", 0 },
	[R_GMAIL2] = { "\\(version=([^ ]+) cipher=([^)]+)\\)", 0 },
	[R_COURIER] = { "^from .*?(?:\\]\\)|\\)\\]) \\(AUTH: "
	    "(LOGIN|PLAIN|DIGEST-MD5|CRAM-MD5) \\S+(?:, .*?)?\\) by ", 0 },
	[R_SENDMAIL_AUTH] = { "^from .*?(?:\\](?: \\([^)]*\\))?\\)|\\)\\]) "
	    ".*?\\(.*?authenticated.*?\\).*? by", 0 },
	[R_GMX] = { "from \\S* \\((?:HELO|EHLO) (\\S*)\\) \\[(" IP ")\\] by "
	    "(mail\\.gmx\\.(?:net|com)) \\([^)]+\\) with ((?:ESMTP|SMTP))",
	    0 },
	[R_CP1] = { " \\(authenticated as ", 0 },
	[R_CP2] = { "\\) by .+ \\(\\d{1,2}\\.\\d\\.\\d{3}(?:\\.\\d{1,3})?\\) "
	    "\\(authenticated as .+\\) id ", 0 },
	[R_POSTFIX_AUTH] = { "\\) \\(Authenticated sender: \\S+\\) by \\S+ "
	    "\\(([^)]+)\\) with ", 0 },
	[R_CGP1] = { "CommuniGate Pro (HTTP|SMTP|XIMSS|IMAP)", 0 },
	[R_CGP2] = { " \\(account ", 0 },
	[R_DAV] = { " with Microsoft Exchange Server HTTP-DAV\\b", 0 },
	[R_VIAHTTP] = { " \\(via (HTTP.?)\\)(?: |;|$)", CI },
	[R_ENVFROM] = { "(?:return-path:? |envelope-(?:sender|from)[ =])"
	    "(\\S+)\\b", CI },
	[R_SQUIRREL] = { " \\((?:SquirrelMail|NaSMail) authenticated user ",
	    0 },
	[R_SQUIRREL2] = { "(" IP ")\\b(?![.-]).{10,80}by (\\S+) with HTTP",
	    0 },
	[R_AOL1] = { "aol\\.com", 0 },
	[R_AOL2] = { "with HTTP \\(WebMailUI\\)", 0 },
	[R_AOL3] = { "(" IP ") by (\\S+) \\(" IP "\\) with HTTP "
	    "\\(WebMailUI\\)", 0 },
	[R_SMTPSVC] = { " SMTPSVC", 0 },
	[R_SMTPSVC1] = { "^(\\S*) \\(\\[(" IP ")\\][^)]{0,40}\\) by (\\S+) "
	    "with Microsoft SMTPSVC", 0 },
	[R_SMTPSVC2] = { "^mail pickup service by (\\S+) with Microsoft "
	    "SMTPSVC$", 0 },
	[R_MSSMTP] = { " with (?:Microsoft SMTP Server|mapi id) "
	    "(?:\\([^)]+\\) )?\\d+\\.\\d+\\.\\d+\\.\\d+(?:$| )", 0 },
	[R_MSSMTP1] = { "^(\\S+) \\(\\[?(" IP ")(?:%[A-Z0-9._~-]*)?\\]?\\) "
	    "by (\\S+) ", 0 },
	[R_XMAIL] = { "\\[XMail ", 0 },
	[R_XMAIL1] = { "^(\\S+) \\((\\[?" IP "\\]?)(?::\\d+)\\) by (\\S+)"
	    "(?: \\(\\S+\\))? with \\[XMail", 0 },
	[R_XMAIL_ID] = { " id <(\\S+)>", 0 },
	[R_XMAIL_FROM] = { " from <(\\S+)>", 0 },
	[R_ECEL] = { "\\(ecelerity\\b", 0 },
	[R_ECEL1] = { "^\\(\\[(" IP "):\\d+\\] helo=(\\S+)\\) by (\\S+) ", 0 },
	[R_ECEL2] = { "^\\S+ \\(\\[(" IP "):\\d+\\]\\) by (\\S+) ", 0 },
	[R_EXIM] = { "Exim", 0 },
	[R_EXIM_LOCAL] = { "\\bwith local(?:-\\S+)? ", 0 },
	[R_EXIM1] = { "^\\[(" IP ")\\] \\((.*?)\\) by (\\S+) ", 0 },
	[R_SUB_HELO] = { "helo=(\\S+)", 0 },
	[R_SUB_IDENT] = { "ident=(\\S*)", 0 },
	[R_EXIM2] = { "^(\\S+) \\(\\[(" IP ")\\](.*?)\\) by (\\S+) ", 0 },
	[R_EXIM3] = { "^(\\S+) \\[(" IP ")\\](:\\d+)? by (\\S+) ", 0 },
	[R_EXIM4A] = { "^(\\S+) ", 0 },
	[R_EXIM4B] = { " \\((\\S+)\\) ", 0 },
	[R_EXIM4C] = { " \\[(" IP ")(?:\\.\\d+)?\\] ", 0 },
	[R_EXIM4D] = { "by (\\S+) ", 0 },
	[R_POSTFIX] = { " \\(Postfix\\) with", 0 },
	[R_POSTFIX1] = { "^(\\S+) \\((\\S+) \\[(" IP ")\\]\\) by (\\S+) ", 0 },
	[R_POSTFIX2] = { "^(\\S+) \\((\\S+)\\[(" IP ")\\]\\) by (\\S+) ", 0 },
	[R_SCALIX] = { "\\(Scalix SMTP Relay", 0 },
	[R_SCALIX1] = { "^(\\S+) \\( ?(" IP ")\\) by (\\S+)", 0 },
	[R_DOMINO] = { " \\(Lotus Domino ", 0 },
	[R_DOMINO1] = { "^(\\S+) \\(\\[(" IP ")\\]\\) by (\\S+) \\(Lotus", 0 },
	[R_WITHHTTP] = { "\\bwith HTTP\\b", 0 },
	[R_HTTP1] = { "^(" IP ") \\(\\[" IP "\\]\\) by (\\S+)", 0 },
	[R_QMAILLDAP] = { " by \\S+ \\(qmail-\\S+\\) with ", 0 },
	[R_SENDMAIL1] = { "^(\\S+) \\((\\S+) \\[(" IP ")\\].*\\) by (\\S+) \\(",
	    0 },
	[R_EXCH55] = { "^(\\S+) \\((\\S+) \\[(" IP ")\\]\\) by (\\S+) with "
	    "\\S+ \\(", 0 },
	[R_HELOEQ] = { "^(\\S+) \\(\\[(" IP ")\\] helo=(\\S+)\\) by (\\S+) "
	    "with ", 0 },
	[R_UNKDOM] = { "^(\\S+) \\(<unknown\\S*>\\[(" IP ")\\]\\) by (\\S+) ",
	    0 },
	[R_ATTBI] = { "^(\\S+) \\((\\S+\\.\\S+)\\[(" IP ")\\]\\) by (\\S+) ",
	    0 },
	[R_IDENTAT] = { "^(\\S+) \\((\\S*)\\@\\[(" IP ")\\].*\\) by (\\S+) "
	    "\\(", 0 },
	[R_HOTMAIL] = { "by (\\S+\\.hotmail\\.msn\\.com) ", 0 },
	[R_IPSP] = { "^(" IP ") ", 0 },
	[R_QPSMTPD] = { "^(\\S+) \\((?:HELO|EHLO) (\\S*)\\) \\((" IP ")\\) "
	    "by (\\S+) \\(qpsmtpd/\\S+\\) with (?:ESMTP|SMTP)", 0 },
	[R_LHLO] = { "^(\\S+) \\(LHLO (\\S*)\\) \\((" IP ")\\) by (\\S+) "
	    "with LMTP", 0 },
	[R_GMXEHLO] = { "^(\\S+) \\((?:HELO|EHLO) (\\S*)\\) \\[(" IP ")\\] "
	    "by (\\S+) \\([^)]+\\) with (?:ESMTP|SMTP)", 0 },
	[R_SMTPD_FOR] = { "^(\\S+) \\(\\[(" IP ")\\]\\) by (\\S+) via smtpd "
	    "\\(for \\S+\\) with SMTP\\(", 0 },
	[R_QMAIL] = { "^\\S+( \\((?:HELO|EHLO) \\S*\\))? \\((\\S+\\@)?\\[?"
	    IP "\\]?\\)( \\(envelope-sender <\\S+>\\))? by \\S+"
	    "( \\(.+\\))* with (.* )?(SMTP|QMQP)(?! id )", 0 },
	[R_QMAIL1] = { "^(\\S+) \\((?:HELO|EHLO) ([^ ()]*)\\) \\((\\S*)\\@"
	    "\\[?(" IP ")\\]?\\)( \\(envelope-sender <\\S+>\\))? by (\\S+)",
	    0 },
	[R_QMAIL2] = { "^(\\S+) \\((?:HELO|EHLO) ([^ ()]*)\\) \\(\\[?(" IP
	    ")\\]?\\)( \\(envelope-sender <\\S+>\\))? by (\\S+)", 0 },
	[R_QMAIL3] = { "^(\\S+) \\((\\S*)\\@\\[?(" IP ")\\]?\\)"
	    "( \\(envelope-sender <\\S+>\\))? by (\\S+)", 0 },
	[R_QMAIL4] = { "^(\\S+) \\(\\[?(" IP ")\\]?\\)"
	    "( \\(envelope-sender <\\S+>\\))? by (\\S+)", 0 },
	[R_VIAHTTP_END] = { " via HTTP$", 0 },
	[R_VIAHTTP2] = { "^\\[(" IP ")\\] by (\\S+) via HTTP$", 0 },
	[R_ASUSER] = { "^(\\S+) \\( \\[(" IP ")\\]\\).*? by (\\S+) ", 0 },
	[R_PAREN2] = { "^\\((\\S+) \\[(" IP ")\\]\\) by (\\S+) ", 0 },
	[R_BRIP_BY] = { "^\\[(" IP ")\\] by (\\S+) ", 0 },
	[R_PARENIP] = { "^\\(\\[?(" IP ")\\]?\\) by (\\S+) ", 0 },
	[R_MDAEMON] = { "^(\\S+) \\[(" IP ")\\] by (\\S+) \\[" IP "\\] with ",
	    0 },
	[R_MDAEMON2] = { "^(\\S+) \\[\\((" IP ")\\)\\] by (\\S+) \\(" IP
	    "\\) ", 0 },
	[R_SENDMAIL2] = { "^(\\S+) \\(\\[(" IP ")\\]\\) by (\\S+) \\(", 0 },
	[R_SENDMAIL3] = { "^(\\S+) \\((\\S+) \\[(" IP ")\\]\\).*? by "
	    "(\\S+)\\b", 0 },
	[R_JSOLIDAY] = { "^(\\S+) \\(\\[(" IP ")(?:[.:]\\d+)?\\]\\).*? by "
	    "(\\S+) ", 0 },
	[R_ROISSY] = { "^(\\S+) \\((\\S+) \\[(" IP ")\\]\\)(?: \\(authenticated"
	    " bits=\\d+\\))? by (\\S+) \\(", 0 },
	[R_POPIMAP] = { "with (?:POP3|IMAP)", 0 },
	[R_QMAILISH1] = { "^(\\S+) \\((?:HELO|EHLO) ([^)]*)\\) \\((\\S*@)?"
	    "\\[?(" IP ")\\]?\\).* by (\\S+) ", 0 },
	[R_QMAILISH2] = { "^(\\S+) \\((\\S*@)?\\[?(" IP ")\\]?\\).* by "
	    "(\\S+) ", 0 },
	[R_HTTPFOR1] = { " with http for ", 0 },
	[R_HTTPFOR2] = { "^\\[(" IP ")\\] by (\\S+) with http for ", 0 },
	[R_SMAP1] = { " via smap ", 0 },
	[R_SMAP2] = { "^(\\S+)\\((" IP ")\\) by (\\S+) via smap ", 0 },
	[R_SMAP3] = { "^(\\S+)\\((" IP "), (?:HELO|EHLO) (\\S*)\\) by (\\S+) "
	    "via smap ", 0 },
	[R_POST1] = { " \\(Post", 0 },
	[R_POST2] = { "^\\[(" IP ")\\] by (\\S+) \\(Post", 0 },
	[R_ARGO1] = { " \\(ArGoSoft", 0 },
	[R_ARGO2] = { "^\\[(" IP ")\\] by (\\S+) \\(ArGoSoft", 0 },
	[R_SMTPL] = { "^(" IP ") by (\\S+) \\((?:SMTPL|InterScan)\\b", 0 },
	[R_BSMTP1] = { " with BSMTP", 0 },
	[R_BSMTP2] = { "^\\S+ by \\S+ with BSMTP", 0 },
	[R_SPIKE] = { "^(\\S+) \\((\\S+) \\[(" IP ")\\]\\) by (\\S+) with ",
	    0 },
	[R_YAHOOHELO] = { "^(\\S+) \\((?:HELO|EHLO) (\\S*)\\) \\((?:(\\S+)\\@)?"
	    "(" IP ").*?\\) by (\\S+) with ", 0 },
	[R_CGP_ACCT] = { "^\\[(" IP ")\\] \\((?:account \\S+ )?(?:HELO|EHLO) "
	    "(\\S*)\\) by (\\S+) \\(", 0 },
	[R_CGP_VER1] = { " \\(CommuniGate Pro", 0 },
	[R_CGP_VER2] = { "^(\\S+) \\(\\[(" IP ")\\] verified\\) by (\\S+) \\(",
	    0 },
	[R_CIPHERTRUST] = { "^\\(\\[(" IP ")\\]\\) by (\\S+) with ", 0 },
	[R_IRONPORT] = { "^([^\\d]\\S+) \\((" IP ")\\) by (\\S+) ", 0 },
	[R_CONTENTTECH] = { "^\\S+ \\(\\S+\\) by \\S+ \\(Content Technologies ",
	    0 },
	[R_BLS] = { "^(\\S+) \\(\\[(" IP ")\\] \\[(\\S+)\\]\\) by (\\S+) with ",
	    0 },
	[R_IPBYWITH] = { "^(" IP ") by (\\S+) with ", 0 },
	[R_POBOX] = { "^(\\S+) \\((\\S+)\\[(" IP ")\\]\\) by (\\S+) ", 0 },
	[R_FSECURE] = { "^\\[(" IP ")\\]\\S+ \\((?:HELO|EHLO) (\\S*)\\) by "
	    "(\\S+) ", 0 },
	[R_ALTAVISTA] = { "^(" IP ") \\((?:HELO|EHLO) (\\S*)\\) by (\\S+) ",
	    0 },
	[R_OEM] = { "^(\\S+) \\[(" IP ")\\] by (\\S+) ", 0 },
	[R_NODNS] = { "^(\\S+)\\((" IP ")\\) by (\\S+) ", 0 },
	[R_MAILGATE] = { "^\\[(" IP ")\\] by (\\S+) \\(MailGate ", 0 },
	[R_UNVERIFIED] = { "^(\\S+) \\(unverified \\[(" IP ")\\]\\) by (\\S+) ",
	    0 },
	[R_PROXYING] = { "^(" IP ") \\([A-Za-z][^)]+\\) by (\\S+) with ", 0 },
	[R_BRSUB] = { "^\\[(" IP ")\\] \\(([^)]+)\\) by (\\S+) ", 0 },
	[R_EMAILINFO] = { "^(\\S+) \\((?:\\S+\\@)?(" IP ")\\) by (\\S+) with ",
	    0 },
	[R_OBTUSE] = { "^(\\S+)\\((" IP ")\\)(?:, claiming to be \"(\\S+)\")? "
	    "via \\S+ by (\\S+),", 0 },
	[R_YAHOOLOGIN] = { "^(\\S+) \\((\\S+)@(" IP ") with login\\) by "
	    "(\\S+\\.yahoo\\.com) with SMTP", 0 },
	[R_XORIG] = { "^X-Originating-IP: (" IP ")$", 0 },
	/* STUFF TO IGNORE, first part */
	[R_IGN_FIRST + 0] = { "^\\S+ \\([^\\s\\@]+\\@" LH "\\) by \\S+ \\(", 0 },
	[R_IGN_FIRST + 1] = { "^\\S+ \\S+ by \\S+ with local-e?smtp ", 0 },
	[R_IGN_FIRST + 2] = { "^127\\.0\\.0\\.1 \\(AVG SMTP \\S+ \\[\\S+\\]\\)",
	    0 },
	[R_IGN_FIRST + 3] = { "^\\S+\\@\\S+ by \\S+ by uid \\S+ ", 0 },
	[R_IGN_FIRST + 4] = { "^\\S+\\@\\S+ by \\S+ ", 0 },
	[R_IGN_FIRST + 5] = { "^Unknown/Local \\(", 0 },
	[R_IGN_FIRST + 6] = { "^" LH " \\((?:\\S+\\@)?" LH "[)\\[]", 0 },
	[R_IGN_FIRST + 7] = { "^\\S+ \\((?:\\S+\\@)?" LH "\\) ", 0 },
	[R_IGN_FIRST + 8] = { "^\\S+ \\(\\S+\\@\\S+ \\[" LH "\\]\\) ", 0 },
	[R_IGN_FIRST + 9] = { "^\\(AUTH: \\S+\\) by \\S+ with ", 0 },
	[R_IGN_FIRST + 10] = { "^localhost \\(localhost \\[\\[UNIX: "
	    "localhost\\]\\]\\) by ", 0 },
	[R_IGN_FIRST + 11] = { "^\\S+\\.amazon\\.com by \\S+\\.amazon\\.com "
	    "with ESMTP \\(peer crosscheck: ", 0 },
	[R_IGN_FIRST + 12] = { "^[^.]+ by \\S+ with Novell_GroupWise", 0 },
	[R_IGN_FIRST + 13] = { "^no\\.name\\.available by \\S+ via smtpd "
	    "\\(for ", 0 },
	[R_IGN_FIRST + 14] = { "(*FAIL)", 0 },	/* keeps the count even */
	[R_QMS] = { "^\\S+ by \\S+ \\(.{0,100}\\) with qmail-scanner", 0 },
	/* STUFF TO IGNORE, after qmail-scanner */
	[R_IGN2_FIRST + 0] = { "^\\S+ by \\S+ with local", 0 },
	[R_IGN2_FIRST + 1] = { "^\\S+ \\(\\[unix socket\\]\\) by \\S+ \\(Cyrus "
	    "v[0-9]*?\\.[0-9]*?\\.[0-9]*?\\) with LMTPA", 0 },
	[R_IGN2_FIRST + 2] = { "^\\S+ by \\S+ (?:with|via|for|\\()", 0 },
	[R_IGN2_FIRST + 3] = { "^\\S+ (?:(?:with|via|for) \\S+|\\(unverified\\))"
	    " by\\b", 0 },
	[R_IGN2_FIRST + 4] = { "^\\S+ \\(unknown\\) by \\S+ \\(SG\\) with \\b",
	    0 },
	[R_IGN2_FIRST + 5] = { "^\\S+ \\(\\S+ \\[local\\]\\) by \\S+ "
	    "\\(OpenSMTPD\\) with \\b", 0 },
	[R_IGN2_FIRST + 6] = { "\\(LSMTP for", 0 },
	[R_IGN2_FIRST + 7] = { "^\\(\\[" LH "\\]\\) with MailEnable ", 0 },
	[R_IGN2_FIRST + 8] = { "^facebook\\.com \\([^)]+\\) by facebook\\.com "
	    "with Thrift id \\S+$", 0 },
	[R_IGN2_FIRST + 9] = { "^\\S+ named \\S+ by gmailapi\\.google\\.com "
	    "with HTTPREST$", 0 },
	[R_IGN2_FIRST + 10] = { "^\\S+ id \\S+$", 0 },
	[R_IGN2_FIRST + 11] = { "^\\[<.*? \\(Jetsend", 0 },
	[R_GUESSHELO] = { "^(\\S+)[^-A-Za-z0-9.]", 0 },
	[R_SIMTA] = { "^(\\S+) \\((\\S+) \\[(" IP ")\\]\\) BY (\\S+) "
	    "(?:\\([^)]+\\) WITH SMTP )?ID <?(\\S+?)>?(?: FOR <[^>]+>)?$", 0 },
	[R_NAV] = { "^(\\S*) \\[(" IP ")\\]\\) by (\\S+) \\(NAVGW .*?\\) with ",
	    0 },
	[R_SMLOCAL] = { "^\\S+\\@localhost\\) by \\S+ ", 0 },
	[R_JQUEUE] = { "^[^\\s\\@]+\\@[^)]+\\) by \\S+\\(jqueuemail\\) id "
	    "[^\\s;]+", 0 },
	[R_ANYIP] = { "\\[(" IP ")\\]", 0 },
	[R_SP_BY] = { " by ", 0 },
	[R_AUTHENTICATED] = { "authenticated", 0 },
	[R_PARENBY] = { "\\)by ", 0 },
	[R_IPONLY] = { "(" IP ")", 0 },
	[R_IPV6PFX] = { "^ipv6:", CI },
	[R_ZONE] = { "%[A-Z0-9._~-]*\\z", CI | PCRE2_DOTALL },
	[R_V4MAPPED] = { "^0*:0*:(?:0*:)*ffff:(\\d+\\.\\d+\\.\\d+\\.\\d+)$",
	    CI },
	[R_PRIVATE] = { "^(?:" PRIV4 "|(?:IPv6:|(?<![a-f0-9:]))(?:" MAPPED
	    PRIV4 "|fe[89ab][0-9a-f]:.*|" ONE ")(?![a-f0-9:]))", CI },
	[R_UNKNOWN] = { "^unknown$", CI },
};

#endif
