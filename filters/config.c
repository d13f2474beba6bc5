/*
 * config.c — the configuration table and its one generic parser.
 *
 * The file is in the Postfix main.cf family: "key = value" lines, '#'
 * comments on lines of their own, a line starting with white space
 * continues the previous one.  -o key=value overrides come last.
 *
 * Invariants: every key has exactly one row in `keys[]`; every default
 * parses (checked at load: a default that does not is a panic).  All
 * errors of a load are collected, each "file:line: key: message" (or
 * "-o key: message"), and any error means no configuration is returned.
 */
#include "filters/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

#include "filters/log.h"
#include "filters/util.h"

enum ctype {
	CT_STRING, CT_BOOL, CT_INT, CT_SIZE, CT_DURATION, CT_NUMBER,
	CT_ENUM, CT_ADDR, CT_ADDRLIST, CT_LIST, CT_CIDRLIST, CT_MODE,
	CT_REPLY, CT_ACTION, CT_LOGLEVEL, CT_MILTERSOCK
};

struct key {
	const char	*name;
	enum ctype	 type;
	const char	*def;
	double		 min, max;	/* numbers; 0,0 = unbounded */
	size_t		 off;
	const char	*choices;	/* CT_ENUM: "a|b"; CT_REPLY: "4" or "5";
					   CT_ACTION: allowed actions */
	const char	*desc;
};

#define O(f)	offsetof(struct gh_config, f)
#define ACTIONS_ALL	"continue|accept|tag|tempfail|reject"

#define POLICY(pfx, arr, R, res, act, sc)				\
	{ pfx ".on_" res, CT_ACTION, act, 0, 0, O(arr[R].on),		\
	    ACTIONS_ALL, "What a " res " result does." },		\
	{ pfx ".score_" res, CT_NUMBER, sc, -1000, 1000,		\
	    O(arr[R].score), NULL, "Score added for a " res " result." }

static const struct key keys[] = {
	/* core */
	{ "hostname", CT_STRING, "", 0, 0, O(hostname), NULL,
	    "This host's name in banners and headers (empty: the system's)." },
	{ "listen", CT_ADDRLIST, "0.0.0.0:25", 0, 0, O(listen), NULL,
	    "Addresses the SMTP proxy listens on (host:port, [v6]:port)." },
	{ "backend", CT_ADDR, "127.0.0.1:10026", 0, 0, O(backend), NULL,
	    "The backend MTA that the proxy relays to." },
	{ "resolver", CT_LIST, "", 0, 0, O(resolver), NULL,
	    "DNS forwarders IP[@port]; empty: /etc/resolv.conf." },
	{ "rules", CT_LIST, GH_SYSCONFDIR "/gatehouse/rules/*.rules", 0, 0,
	    O(rules), NULL, "Rule files and globs, loaded in order." },
	{ "authserv_id", CT_STRING, "", 0, 0, O(authserv_id), NULL,
	    "authserv-id of Authentication-Results (empty: hostname)." },
	{ "milter_listen", CT_MILTERSOCK, "unix:/run/gatehouse/milter.sock",
	    0, 0, O(milter_listen), NULL,
	    "Milter socket: unix:/path or inet:PORT@HOST." },
	{ "milter_socket_mode", CT_MODE, "0660", 0, 0777,
	    O(milter_socket_mode), NULL, "Mode of the milter's unix socket." },
	{ "milter_socket_group", CT_STRING, "", 0, 0, O(milter_socket_group),
	    NULL, "Group of the milter's unix socket (e.g. postfix)." },
	{ "max_message_size", CT_SIZE, "25M", 1024, 4.0 * 1024 * 1024 * 1024,
	    O(max_message_size), NULL,
	    "Largest message accepted (advertised in SIZE)." },
	{ "trusted_networks", CT_CIDRLIST, "", 0, 0, O(trusted_networks), NULL,
	    "Clients trusted to relay (skip SPF, may send XFORWARD)." },
	{ "proxy_protocol", CT_BOOL, "no", 0, 0, O(proxy_protocol), NULL,
	    "Read a PROXY protocol header (v1 or v2, HAProxy's send-proxy "
	    "and send-proxy-v2) before the banner; the client it names "
	    "replaces the socket's peer everywhere.  Connections from "
	    "outside proxy_networks, and a missing or malformed header, "
	    "are closed." },
	{ "proxy_networks", CT_CIDRLIST, "", 0, 0, O(proxy_networks), NULL,
	    "Load balancers allowed to send a PROXY header (required with "
	    "proxy_protocol = yes)." },
	{ "proxy_protocol_timeout", CT_DURATION, "5s", 100, 600000,
	    O(proxy_protocol_timeout_ms), NULL,
	    "Time allowed for the PROXY header to arrive." },
	{ "client_name_lookup", CT_BOOL, "yes", 0, 0, O(client_name_lookup),
	    NULL, "Look up the client's name (PTR, forward-confirmed as "
	    "Postfix does; otherwise \"unknown\") before the banner; it "
	    "reaches the rules, the log and XCLIENT NAME." },
	{ "on_filter_error", CT_ACTION, "tempfail", 0, 0, O(on_filter_error),
	    "continue|tempfail|reject",
	    "What a filter that fails or times out yields." },
	{ "user", CT_STRING, "", 0, 0, O(user), NULL,
	    "User to run as after binding, when started as root." },
	{ "group", CT_STRING, "", 0, 0, O(group), NULL,
	    "Group to run as after binding (default: the user's)." },
	{ "metrics_listen", CT_ADDR, "127.0.0.1:9890", 0, 0,
	    O(metrics_listen), "optional", "Where GET /metrics answers in "
	    "Prometheus text format (empty: no metrics)." },
	{ "workers", CT_INT, "4", 1, 256, O(workers), NULL,
	    "Worker threads for blocking filter work (DNS)." },
	{ "log.level", CT_LOGLEVEL, "info", 0, 0, O(log_level), NULL,
	    "Lowest level logged: debug, info, notice, warning, err." },
	{ "log.facility", CT_ENUM, "mail", 0, 0, O(log_facility),
	    "mail|daemon|user|local0|local1|local2|local3|local4|local5|"
	    "local6|local7", "Syslog facility." },
	{ "spool_dir", CT_STRING, "/var/tmp", 0, 0, O(spool_dir), NULL,
	    "Directory for unlinked spool files of large messages." },
	{ "data.memory_max", CT_SIZE, "1M", 0, 1024.0 * 1024 * 1024,
	    O(data_memory_max), NULL,
	    "Message bytes held in memory before spooling to a file." },
	{ "data.bare_newline", CT_ENUM, "reject", 0, 0, O(data_bare_newline),
	    "reject|normalize", "Bare CR, bare LF or NUL in DATA: refuse "
	    "with 5xx, or normalise to CRLF." },

	/* verdicts and tagging */
	{ "score.tag", CT_NUMBER, "5", -1000, 1000, O(score_tag), NULL,
	    "Score from which a message is tagged as spam." },
	{ "score.reject", CT_NUMBER, "20", 0, 1000, O(score_reject), NULL,
	    "Score from which a message is rejected (0: never)." },
	{ "score.reject_reply", CT_REPLY,
	    "550 5.7.1 Message refused as spam (%{session})", 0, 0,
	    O(score_reject_reply), "5", "Reply when the score rejects." },
	{ "tempfail_reply", CT_REPLY,
	    "451 4.3.0 Temporary filter failure, try again later "
	    "(%{session})", 0, 0, O(tempfail_reply), "4",
	    "Reply when a filter fails and on_filter_error is tempfail." },
	{ "tag.subject_prefix", CT_STRING, "", 0, 0, O(tag_subject_prefix),
	    NULL, "Prefix for the Subject of tagged messages (empty: none)." },
	{ "tag.spam_headers", CT_BOOL, "yes", 0, 0, O(tag_spam_headers), NULL,
	    "Write X-Spam-Flag/-Score/-Status (SpamAssassin style)." },

	/* SMTP limits and timeouts */
	{ "smtp.max_command_line", CT_INT, "512", 512, 65536,
	    O(max_command_line), NULL,
	    "Longest command line, CRLF included (RFC 5321 4.5.3.1.4)." },
	{ "smtp.max_text_line", CT_INT, "1000", 1000, 1048576,
	    O(max_text_line), NULL,
	    "Longest DATA line, CRLF included (RFC 5321 4.5.3.1.6)." },
	{ "smtp.max_recipients", CT_INT, "100", 1, 100000, O(max_recipients),
	    NULL, "Recipients per message; more get 452." },
	{ "smtp.max_errors", CT_INT, "10", 1, 1000, O(max_errors), NULL,
	    "Errors per session before 421 and close." },
	{ "smtp.max_connections", CT_INT, "1000", 1, 1000000,
	    O(max_connections), NULL, "Open client sessions in all." },
	{ "smtp.max_connections_per_client", CT_INT, "20", 1, 1000000,
	    O(max_connections_per_client), NULL,
	    "Open sessions per client address." },
	{ "smtp.idle_timeout", CT_DURATION, "5m", 100, 86400000,
	    O(idle_timeout_ms), NULL, "Idle time allowed between commands." },
	{ "smtp.data_timeout", CT_DURATION, "10m", 100, 86400000,
	    O(data_timeout_ms), NULL, "Time allowed without data in DATA." },
	{ "backend.connect_timeout", CT_DURATION, "30s", 100, 3600000,
	    O(backend_connect_timeout_ms), NULL,
	    "Time to connect to the backend and get its banner." },
	{ "backend.timeout", CT_DURATION, "10m", 100, 86400000,
	    O(backend_timeout_ms), NULL,
	    "Time to wait for any backend reply (10m for end of data)." },
	{ "backend.chunking", CT_BOOL, "yes", 0, 0, O(backend_chunking), NULL,
	    "Send messages with BDAT when the backend offers CHUNKING (one "
	    "round trip less, no dot-stuffing); else DATA." },
	{ "backend.pool_size", CT_INT, "16", 0, 10000, O(backend_pool_size),
	    NULL, "Idle backend connections kept for the next session "
	    "(0: one connection per session); under load, more are kept "
	    "for a second while sessions wait for them." },
	{ "backend.pool_idle", CT_DURATION, "10s", 100, 3600000,
	    O(backend_pool_idle_ms), NULL,
	    "How long an idle backend connection is kept." },
	{ "shutdown_timeout", CT_DURATION, "60s", 0, 86400000,
	    O(shutdown_timeout_ms), NULL,
	    "On SIGTERM, how long open sessions may take to finish." },

	/* TLS and AUTH (proxy) */
	{ "tls.level", CT_ENUM, "none", 0, 0, O(tls_level), "none|may",
	    "STARTTLS towards clients (RFC 3207): none, or may (offered in "
	    "EHLO, never required; needs tls.cert_file and tls.key_file)." },
	{ "tls.cert_file", CT_STRING, "", 0, 0, O(tls_cert_file), NULL,
	    "PEM certificate chain served to clients, the server "
	    "certificate first; re-read on SIGHUP (a file that does not "
	    "load keeps the old one, logged)." },
	{ "tls.key_file", CT_STRING, "", 0, 0, O(tls_key_file), NULL,
	    "PEM private key of tls.cert_file.  Refused when group or "
	    "others may read or write it (mode 600; owned by the user "
	    "gatehouse runs as, so that SIGHUP can re-read it)." },
	{ "tls.protocols", CT_ENUM, "TLSv1.2", 0, 0, O(tls_protocols),
	    "TLSv1.2|TLSv1.3", "Oldest TLS version accepted, for clients "
	    "and the backend; newer versions are always allowed." },
	{ "tls.ciphers", CT_STRING, "", 0, 0, O(tls_ciphers), NULL,
	    "OpenSSL cipher list for TLS 1.2 (empty: OpenSSL's system "
	    "default), e.g. HIGH:!aNULL:!MD5." },
	{ "tls.ciphersuites", CT_STRING, "", 0, 0, O(tls_ciphersuites), NULL,
	    "OpenSSL TLS 1.3 cipher suites, colon-separated (empty: "
	    "OpenSSL's default)." },
	{ "backend.tls", CT_ENUM, "no", 0, 0, O(backend_tls),
	    "no|may|require", "STARTTLS to the backend: no; may (when it "
	    "offers STARTTLS); require (a backend that does not offer it "
	    "or fails the handshake gets the client a 4xx).  For a backend "
	    "on another host." },
	{ "backend.tls_verify", CT_BOOL, "no", 0, 0, O(backend_tls_verify),
	    NULL, "Verify the backend's certificate against "
	    "backend.tls_ca_file and its name against the backend's host "
	    "(no: encryption without authentication, as Postfix's "
	    "smtp_tls_security_level = encrypt)." },
	{ "backend.tls_ca_file", CT_STRING, "", 0, 0, O(backend_tls_ca_file),
	    NULL, "PEM CA certificates for backend.tls_verify (empty: the "
	    "system's store)." },
	{ "auth.enable", CT_BOOL, "yes", 0, 0, O(auth_enable), NULL,
	    "Offer SMTP AUTH (RFC 4954) when the backend offers it, with the "
	    "backend's mechanisms; the SASL exchange is relayed to the "
	    "backend, which decides.  Credentials are never logged." },
	{ "auth.plaintext", CT_BOOL, "no", 0, 0, O(auth_plaintext), NULL,
	    "Also offer AUTH before STARTTLS (no: AUTH without TLS gets "
	    "530 5.7.0)." },

	/* DNS */
	{ "dns.timeout", CT_DURATION, "5s", 10, 600000, O(dns_timeout_ms),
	    NULL, "Timeout of one DNS query." },
	{ "dns.budget", CT_DURATION, "20s", 10, 3600000, O(dns_budget_ms),
	    NULL, "Total DNS time one check (SPF, DKIM) may take." },
	{ "dns.ptr_timeout", CT_DURATION, "3s", 10, 60000,
	    O(dns_ptr_timeout_ms), NULL, "Longest wait for the client's "
	    "name (client_name_lookup) before the banner; past it the name "
	    "is \"unknown\"." },
	{ "dns.trust_anchor", CT_STRING, "", 0, 0, O(dns_trust_anchor), NULL,
	    "Root trust anchor file for DNSSEC validation, e.g. "
	    "/usr/share/dns/root.key (empty: no validation)." },

	/* SPF */
	{ "spf.enable", CT_BOOL, "yes", 0, 0, O(spf_enable), NULL,
	    "Check SPF (RFC 7208)." },
	{ "spf.helo", CT_ENUM, "check", 0, 0, O(spf_helo), "off|check",
	    "Also check the HELO identity." },
	{ "spf.received_spf", CT_BOOL, "no", 0, 0, O(spf_received_spf), NULL,
	    "Add a Received-SPF: header." },
	POLICY("spf", spf, GH_SPF_PASS, "pass", "continue", "0"),
	POLICY("spf", spf, GH_SPF_FAIL, "fail", "reject", "0"),
	POLICY("spf", spf, GH_SPF_SOFTFAIL, "softfail", "tag", "2"),
	POLICY("spf", spf, GH_SPF_NEUTRAL, "neutral", "continue", "0"),
	POLICY("spf", spf, GH_SPF_NONE, "none", "continue", "0"),
	POLICY("spf", spf, GH_SPF_TEMPERROR, "temperror", "tempfail", "0"),
	POLICY("spf", spf, GH_SPF_PERMERROR, "permerror", "continue", "1"),
	{ "spf.reject_reply", CT_REPLY,
	    "550 5.7.23 SPF check failed for %{sender} (%{session})", 0, 0,
	    O(spf_reject_reply), "5", "Reply when SPF rejects." },
	{ "spf.tempfail_reply", CT_REPLY,
	    "451 4.7.24 SPF temporary error for %{sender} (%{session})", 0, 0,
	    O(spf_tempfail_reply), "4", "Reply when SPF tempfails." },

	/* DKIM */
	{ "dkim.enable", CT_BOOL, "yes", 0, 0, O(dkim_enable), NULL,
	    "Verify DKIM signatures (RFC 6376)." },
	{ "dkim.max_signatures", CT_INT, "10", 1, 100,
	    O(dkim_max_signatures), NULL,
	    "Signatures verified per message; the rest are neutral." },
	{ "dkim.min_key_bits", CT_INT, "1024", 512, 16384,
	    O(dkim_min_key_bits), NULL,
	    "Smallest RSA key that can pass (RFC 8301 3.2)." },
	{ "dkim.body_length", CT_ENUM, "strict", 0, 0, O(dkim_body_length),
	    "strict|ignore", "l= covering less than the body: strict makes "
	    "it 'policy' when anything visible follows." },
	{ "dkim.multiple_from", CT_ENUM, "reject", 0, 0,
	    O(dkim_multiple_from), "reject|tag",
	    "A message with more than one From field (never a DKIM pass): "
	    "reject it, or tag it." },
	POLICY("dkim", dkim, GH_DKIM_PASS, "pass", "continue", "0"),
	POLICY("dkim", dkim, GH_DKIM_FAIL, "fail", "tag", "1"),
	POLICY("dkim", dkim, GH_DKIM_NEUTRAL, "neutral", "continue", "0"),
	POLICY("dkim", dkim, GH_DKIM_POLICY, "policy", "tag", "1"),
	POLICY("dkim", dkim, GH_DKIM_TEMPERROR, "temperror", "continue", "0"),
	POLICY("dkim", dkim, GH_DKIM_PERMERROR, "permerror", "continue", "0.5"),
	POLICY("dkim", dkim, GH_DKIM_NONE, "none", "continue", "0"),
	{ "dkim.reject_reply", CT_REPLY,
	    "550 5.7.20 DKIM verification failed (%{session})", 0, 0,
	    O(dkim_reject_reply), "5", "Reply when DKIM rejects." },
	{ "dkim.tempfail_reply", CT_REPLY,
	    "451 4.7.5 DKIM temporary error (%{session})", 0, 0,
	    O(dkim_tempfail_reply), "4", "Reply when DKIM tempfails." },

	/* rules */
	{ "rules.score_set", CT_INT, "0", 0, 3, O(rules_score_set), NULL,
	    "SpamAssassin score set: 0 no Bayes, no network tests." },
	{ "rules.prefilter", CT_BOOL, "yes", 0, 0, O(rules_prefilter), NULL,
	    "Look for the literals every match of a body, rawbody, uri or "
	    "full rule needs (Vectorscan) and run PCRE2 only on the texts "
	    "that hold one; no gives the same results, slower." },
	{ "rules.shortcuts", CT_BOOL, "yes", 0, 0, O(rules_shortcuts), NULL,
	    "no: one PCRE2 search per rule per text, as SpamAssassin does, "
	    "without prefilter or line joining (for comparisons); the "
	    "results are the same." },
	{ "rules.reject_reply", CT_REPLY,
	    "550 5.7.1 Message refused by policy (%{session})", 0, 0,
	    O(rules_reject_reply), "5",
	    "Default reply of a rule whose action is reject." },
	{ "rules.tempfail_reply", CT_REPLY,
	    "451 4.7.1 Message deferred by policy (%{session})", 0, 0,
	    O(rules_tempfail_reply), "4",
	    "Default reply of a rule whose action is tempfail." },
};

#define NKEYS	GH_ARRAY_LEN(keys)

static const char *action_names[GH_NACTIONS] = {
	"continue", "accept", "tag", "discard", "tempfail", "reject"
};

/* Map an action name to enum gh_action, -1 if unknown. */
int
gh_action_parse(const char *s)
{
	size_t	 i;

	for (i = 0; i < GH_NACTIONS; i++)
		if (strcasecmp(s, action_names[i]) == 0)
			return (int)i;
	return -1;
}

/* Name of an action. */
const char *
gh_action_name(int a)
{
	return a >= 0 && a < GH_NACTIONS ? action_names[a] : "?";
}

/* Name of an SPF result as RFC 7208 writes it. */
const char *
gh_spf_result_name(enum gh_spf_result r)
{
	static const char *n[] = { "pass", "fail", "softfail", "neutral",
	    "none", "temperror", "permerror" };

	return r < GH_SPF_NRESULTS ? n[r] : "?";
}

/* Name of a DKIM result as RFC 8601 writes it. */
const char *
gh_dkim_result_name(enum gh_dkim_result r)
{
	static const char *n[] = { "pass", "fail", "neutral", "policy",
	    "temperror", "permerror", "none" };

	return r < GH_DKIM_NRESULTS ? n[r] : "?";
}

/* Record one error line. */
static void
add_error(struct gh_config_errors *errs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
add_error(struct gh_config_errors *errs, const char *fmt, ...)
{
	va_list	 ap;
	char	*line;

	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) == -1)
		line = NULL;
	va_end(ap);
	if (line == NULL)
		return;
	errs->v = realloc(errs->v, (errs->n + 1) * sizeof(*errs->v));
	if (errs->v == NULL)
		gh_panic("out of memory");
	errs->v[errs->n++] = line;
}

/* Free the collected errors. */
void
gh_config_errors_free(struct gh_config_errors *errs)
{
	size_t	 i;

	for (i = 0; i < errs->n; i++)
		free(errs->v[i]);
	free(errs->v);
	errs->v = NULL;
	errs->n = 0;
}

/* Split a list value on commas and white space. */
static struct gh_strlist
split_list(const char *s)
{
	struct gh_strlist	 l = { NULL, 0 };
	const char		*p = s, *start;

	for (;;) {
		while (*p && (isspace((unsigned char)*p) || *p == ','))
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p && !isspace((unsigned char)*p) && *p != ',')
			p++;
		l.v = realloc(l.v, (l.n + 1) * sizeof(*l.v));
		if (l.v == NULL)
			gh_panic("out of memory");
		l.v[l.n++] = gh_strndup(start, (size_t)(p - start));
	}
	return l;
}

static void
strlist_free(struct gh_strlist *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Release what gh_addr_parse() allocated. */
void
gh_addr_free(struct gh_addr *a)
{
	free(a->text);
	free(a->host);
	free(a->path);
	memset(a, 0, sizeof(*a));
}

/* Parse host:port, [v6]:port or unix:/path into `a`. */
int
gh_addr_parse(const char *s, struct gh_addr *a, char *err, size_t errsz)
{
	struct addrinfo		 hints, *res = NULL;
	const char		*colon;
	char			*host = NULL, portbuf[8], *end;
	unsigned long		 port;
	int			 r;

	memset(a, 0, sizeof(*a));
	if (strncmp(s, "unix:", 5) == 0) {
		struct sockaddr_un	*sun = (struct sockaddr_un *)&a->ss;

		if (s[5] != '/' || strlen(s + 5) >= sizeof(sun->sun_path)) {
			snprintf(err, errsz, "unix socket needs an absolute "
			    "path shorter than %zu bytes",
			    sizeof(sun->sun_path));
			return -1;
		}
		a->is_unix = true;
		a->path = gh_xstrdup(s + 5);
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, a->path);
		a->sslen = sizeof(*sun);
		a->text = gh_xstrdup(s);
		return 0;
	}
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL || rb[1] != ':') {
			snprintf(err, errsz, "expected [address]:port");
			return -1;
		}
		host = gh_strndup(s + 1, (size_t)(rb - s - 1));
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || colon == s || strchr(s, ':') != colon) {
			snprintf(err, errsz, "expected host:port, [v6]:port "
			    "or unix:/path");
			return -1;
		}
		host = gh_strndup(s, (size_t)(colon - s));
	}
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || port == 0 || port > 65535 ||
	    errno) {
		snprintf(err, errsz, "bad port '%s'", colon + 1);
		free(host);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	/* Numeric addresses only (and localhost, from /etc/hosts): a daemon
	   whose start depends on DNS does not start when DNS is down. */
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	if (strcmp(host, "localhost") != 0)
		hints.ai_flags |= AI_NUMERICHOST;
	snprintf(portbuf, sizeof(portbuf), "%lu", port);
	if ((r = getaddrinfo(strcmp(host, "*") ? host : NULL, portbuf, &hints,
	    &res)) != 0) {
		snprintf(err, errsz, "'%s' is not an IP address (host names "
		    "are not resolved: use the address)", host);
		free(host);
		return -1;
	}
	memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
	a->sslen = res->ai_addrlen;
	freeaddrinfo(res);
	a->host = host;
	a->port = (uint16_t)port;
	a->text = gh_xstrdup(s);
	return 0;
}

/* Parse "addr/prefix" or a bare address into `c`. */
static int
cidr_parse(const char *s, struct gh_cidr *c, char *err, size_t errsz)
{
	char		 buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned long	 prefix;
	unsigned	 maxp;

	if (strlen(s) >= sizeof(buf)) {
		snprintf(err, errsz, "bad network '%s'", s);
		return -1;
	}
	strcpy(buf, s);
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (buf[0] == '[' && buf[strlen(buf) - 1] == ']') {
		memmove(buf, buf + 1, strlen(buf));
		buf[strlen(buf) - 1] = '\0';
	}
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, buf, c->addr) == 1) {
		c->family = AF_INET;
		maxp = 32;
	} else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
		c->family = AF_INET6;
		maxp = 128;
	} else {
		snprintf(err, errsz, "bad network address '%s'", s);
		return -1;
	}
	prefix = maxp;
	if (slash) {
		errno = 0;
		prefix = strtoul(slash, &end, 10);
		if (*slash == '\0' || *end != '\0' || prefix > maxp) {
			snprintf(err, errsz, "bad prefix length in '%s'", s);
			return -1;
		}
	}
	c->prefix = (unsigned)prefix;
	return 0;
}

/* Tell whether `addr` (len bytes, family) lies in network `c`. */
static bool
cidr_contains(const struct gh_cidr *c, int family, const uint8_t *addr)
{
	unsigned	 full, rest;

	if (c->family != family)
		return false;
	full = c->prefix / 8;
	rest = c->prefix % 8;
	if (memcmp(c->addr, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((c->addr[full] ^ addr[full]) & (0xff << (8 - rest))) == 0;
}

/* Tell whether a socket address is in one of the networks. */
bool
gh_cidr_match(const struct gh_cidrlist *l, const struct sockaddr *sa)
{
	const uint8_t	*addr;
	int		 family;
	size_t		 i;

	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET) {
		family = AF_INET;
		addr = (const uint8_t *)
		    &((const struct sockaddr_in *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 =
		    (const struct sockaddr_in6 *)sa;

		addr = s6->sin6_addr.s6_addr;
		family = AF_INET6;
		/* An IPv4-mapped client is an IPv4 client. */
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			addr += 12;
			family = AF_INET;
		}
	} else
		return false;
	for (i = 0; i < l->n; i++)
		if (cidr_contains(&l->v[i], family, addr))
			return true;
	return false;
}

/* Tell whether a textual address is in one of the networks. */
bool
gh_cidr_match_text(const struct gh_cidrlist *l, const char *s)
{
	struct sockaddr_storage	 ss;

	memset(&ss, 0, sizeof(ss));
	if (s == NULL)
		return false;
	if (inet_pton(AF_INET, s,
	    &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, s,
	    &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	else
		return false;
	return gh_cidr_match(l, (struct sockaddr *)&ss);
}

/* Parse "550 5.7.1 text" for a reply of class `cls` ('4' or '5'). */
static int
reply_parse(const char *s, char cls, struct gh_reply_conf *r, char *err,
    size_t errsz)
{
	const char	*p;
	size_t		 n;

	if (!(isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) &&
	    isdigit((unsigned char)s[2]) && s[3] == ' ') || s[0] != cls) {
		snprintf(err, errsz, "expected a %cxx reply code, then an "
		    "enhanced status code and text", cls);
		return -1;
	}
	p = s + 4;
	n = strspn(p, "0123456789.");
	if (n < 5 || n >= sizeof(r->status) || p[0] != cls || p[1] != '.' ||
	    (p[n] != ' ' && p[n] != '\0')) {
		snprintf(err, errsz, "expected an enhanced status code "
		    "%c.X.Y after the reply code", cls);
		return -1;
	}
	if (strpbrk(s, "\r\n") != NULL) {
		snprintf(err, errsz, "reply text may not contain line breaks");
		return -1;
	}
	r->code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	memcpy(r->status, p, n);
	r->status[n] = '\0';
	p += n;
	while (*p == ' ')
		p++;
	r->text = gh_xstrdup(p);
	return 0;
}

/* Check a libmilter socket specification. */
static int
miltersock_check(const char *s, char *err, size_t errsz)
{
	const char	*at;

	if (strncmp(s, "unix:", 5) == 0 || strncmp(s, "local:", 6) == 0) {
		if (strchr(s, '/') == NULL) {
			snprintf(err, errsz, "unix socket needs a path");
			return -1;
		}
		return 0;
	}
	if (strncmp(s, "inet:", 5) == 0 || strncmp(s, "inet6:", 6) == 0) {
		const char *port = strchr(s, ':') + 1;
		char *end;
		unsigned long p = strtoul(port, &end, 10);

		at = strchr(port, '@');
		if (end == port || (*end != '\0' && *end != '@') || p == 0 ||
		    p > 65535 || (at && at[1] == '\0')) {
			snprintf(err, errsz, "expected inet:PORT@HOST");
			return -1;
		}
		return 0;
	}
	snprintf(err, errsz, "expected unix:/path or inet:PORT@HOST");
	return -1;
}

/* Tell whether `s` is one of the '|'-separated `choices`; return index. */
static int
choice_index(const char *choices, const char *s)
{
	const char	*p = choices, *bar;
	size_t		 n;
	int		 i = 0;

	for (;;) {
		bar = strchr(p, '|');
		n = bar ? (size_t)(bar - p) : strlen(p);
		if (strlen(s) == n && strncasecmp(p, s, n) == 0)
			return i;
		if (bar == NULL)
			return -1;
		p = bar + 1;
		i++;
	}
}

/* Release a field of type `t` at `f`. */
static void
field_free(enum ctype t, void *f)
{
	size_t	 i;

	switch (t) {
	case CT_STRING: case CT_ENUM: case CT_MILTERSOCK:
		if (t == CT_ENUM)
			break;
		free(*(char **)f);
		*(char **)f = NULL;
		break;
	case CT_ADDR:
		gh_addr_free(f);
		break;
	case CT_ADDRLIST: {
		struct gh_addrlist *l = f;

		for (i = 0; i < l->n; i++)
			gh_addr_free(&l->v[i]);
		free(l->v);
		l->v = NULL;
		l->n = 0;
		break;
	}
	case CT_LIST:
		strlist_free(f);
		break;
	case CT_CIDRLIST:
		free(((struct gh_cidrlist *)f)->v);
		((struct gh_cidrlist *)f)->v = NULL;
		((struct gh_cidrlist *)f)->n = 0;
		break;
	case CT_REPLY:
		free(((struct gh_reply_conf *)f)->text);
		((struct gh_reply_conf *)f)->text = NULL;
		break;
	default:
		break;
	}
}

/* Check a number against the key's bounds. */
static int
bounds(const struct key *k, double v, char *err, size_t errsz)
{
	if ((k->min != 0 || k->max != 0) && (v < k->min || v > k->max)) {
		snprintf(err, errsz, "%g is out of range [%g, %g]", v, k->min,
		    k->max);
		return -1;
	}
	return 0;
}

/* Parse `val` for key `k` into the configuration. */
static int
set_value(struct gh_config *c, const struct key *k, const char *val,
    char *err, size_t errsz)
{
	void		*f = (char *)c + k->off;
	uint64_t	 u;
	long long	 ll;
	double		 d;
	char		*end;
	int		 i, r;

	switch (k->type) {
	case CT_STRING:
		field_free(k->type, f);
		*(char **)f = gh_xstrdup(val);
		return 0;
	case CT_MILTERSOCK:
		if (miltersock_check(val, err, errsz) == -1)
			return -1;
		field_free(k->type, f);
		*(char **)f = gh_xstrdup(val);
		return 0;
	case CT_BOOL:
		if ((i = choice_index("no|yes|false|true|off|on|0|1",
		    val)) == -1) {
			snprintf(err, errsz, "expected yes or no, not '%s'",
			    val);
			return -1;
		}
		*(bool *)f = i & 1;
		return 0;
	case CT_INT:
		errno = 0;
		ll = strtoll(val, &end, 10);
		if (*val == '\0' || *end != '\0' || errno) {
			snprintf(err, errsz, "expected an integer, not '%s'",
			    val);
			return -1;
		}
		if (bounds(k, (double)ll, err, errsz) == -1)
			return -1;
		*(long long *)f = ll;
		return 0;
	case CT_MODE:
		errno = 0;
		ll = strtoll(val, &end, 8);
		if (*val == '\0' || *end != '\0' || errno ||
		    bounds(k, (double)ll, err, errsz) == -1) {
			snprintf(err, errsz, "expected an octal mode like "
			    "0660, not '%s'", val);
			return -1;
		}
		*(unsigned *)f = (unsigned)ll;
		return 0;
	case CT_SIZE:
		if ((r = gh_parse_size(val, &u)) != 0) {
			snprintf(err, errsz, "expected a size like 512k, 25M "
			    "or 1G, not '%s'", val);
			return -1;
		}
		if (bounds(k, (double)u, err, errsz) == -1)
			return -1;
		*(uint64_t *)f = u;
		return 0;
	case CT_DURATION:
		if (gh_parse_duration(val, &u) != 0) {
			snprintf(err, errsz, "expected a duration like 500ms, "
			    "30s, 5m or 2h, not '%s'", val);
			return -1;
		}
		if (bounds(k, (double)u, err, errsz) == -1) {
			snprintf(err, errsz, "duration '%s' is out of range "
			    "[%gms, %gms]", val, k->min, k->max);
			return -1;
		}
		*(uint64_t *)f = u;
		return 0;
	case CT_NUMBER:
		errno = 0;
		d = strtod(val, &end);
		if (*val == '\0' || *end != '\0' || errno || !isfinite(d)) {
			snprintf(err, errsz, "expected a number, not '%s'",
			    val);
			return -1;
		}
		if (bounds(k, d, err, errsz) == -1)
			return -1;
		*(double *)f = d;
		return 0;
	case CT_ENUM:
		if ((i = choice_index(k->choices, val)) == -1) {
			snprintf(err, errsz, "expected one of %s, not '%s'",
			    k->choices, val);
			return -1;
		}
		/* Enum strings (log.facility) keep their name. */
		if (k->off == O(log_facility)) {
			free(c->log_facility);
			c->log_facility = gh_xstrdup(val);
		} else
			*(int *)f = i;
		return 0;
	case CT_ACTION:
		if (choice_index(k->choices, val) == -1 ||
		    (i = gh_action_parse(val)) == -1) {
			snprintf(err, errsz, "expected one of %s, not '%s'",
			    k->choices, val);
			return -1;
		}
		*(int *)f = i;
		return 0;
	case CT_LOGLEVEL:
		if ((i = gh_log_level_parse(val)) == -1) {
			snprintf(err, errsz, "expected debug, info, notice, "
			    "warning or err, not '%s'", val);
			return -1;
		}
		*(int *)f = i;
		return 0;
	case CT_REPLY: {
		struct gh_reply_conf rc = { 0, "", NULL };

		if (reply_parse(val, k->choices[0], &rc, err, errsz) == -1)
			return -1;
		field_free(k->type, f);
		*(struct gh_reply_conf *)f = rc;
		return 0;
	}
	case CT_ADDR: {
		struct gh_addr a;

		if (val[0] == '\0' && k->choices &&
		    strcmp(k->choices, "optional") == 0) {
			field_free(k->type, f);		/* empty: off */
			return 0;
		}
		if (gh_addr_parse(val, &a, err, errsz) == -1)
			return -1;
		field_free(k->type, f);
		*(struct gh_addr *)f = a;
		return 0;
	}
	case CT_ADDRLIST: {
		struct gh_strlist	 l = split_list(val);
		struct gh_addrlist	 al = { NULL, 0 };
		size_t			 j;

		al.v = gh_xcalloc(l.n, sizeof(*al.v));
		for (j = 0; j < l.n; j++) {
			if (gh_addr_parse(l.v[j], &al.v[al.n], err,
			    errsz) == -1) {
				field_free(CT_ADDRLIST, &al);
				strlist_free(&l);
				return -1;
			}
			al.n++;
		}
		strlist_free(&l);
		if (al.n == 0) {
			free(al.v);
			snprintf(err, errsz, "expected at least one address");
			return -1;
		}
		field_free(k->type, f);
		*(struct gh_addrlist *)f = al;
		return 0;
	}
	case CT_LIST:
		field_free(k->type, f);
		*(struct gh_strlist *)f = split_list(val);
		return 0;
	case CT_CIDRLIST: {
		struct gh_strlist	 l = split_list(val);
		struct gh_cidrlist	 cl = { NULL, 0 };
		size_t			 j;

		cl.v = gh_xcalloc(l.n, sizeof(*cl.v));
		for (j = 0; j < l.n; j++) {
			if (cidr_parse(l.v[j], &cl.v[cl.n], err,
			    errsz) == -1) {
				free(cl.v);
				strlist_free(&l);
				return -1;
			}
			cl.n++;
		}
		strlist_free(&l);
		field_free(k->type, f);
		*(struct gh_cidrlist *)f = cl;
		return 0;
	}
	}
	snprintf(err, errsz, "internal: unknown type");
	return -1;
}

/* Find a key by name. */
static const struct key *
find_key(const char *name, size_t *idx)
{
	size_t	 i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0) {
			*idx = i;
			return &keys[i];
		}
	return NULL;
}

/* Set key `name` to `val`; `where` prefixes error lines. */
static void
assign(struct gh_config *c, const char *name, const char *val,
    const char *where, struct gh_config_errors *errs)
{
	const struct key	*k;
	char			 err[256];
	size_t			 idx;

	if ((k = find_key(name, &idx)) == NULL) {
		add_error(errs, "%s: %s: unknown key", where, name);
		return;
	}
	if (set_value(c, k, val, err, sizeof(err)) == -1) {
		add_error(errs, "%s: %s: %s", where, name, err);
		return;
	}
	free(c->text[idx]);
	c->text[idx] = gh_xstrdup(val);
	c->isset[idx] = strcmp(where, "default") != 0;
}

/* Apply one logical "key = value" line. */
static void
apply_line(struct gh_config *c, char *line, const char *file,
    unsigned lineno, struct gh_config_errors *errs)
{
	char	 where[PATH_MAX + 32], *eq, *name, *val;

	snprintf(where, sizeof(where), "%s:%u", file, lineno);
	if ((eq = strchr(line, '=')) == NULL) {
		add_error(errs, "%s: expected 'key = value'", where);
		return;
	}
	*eq = '\0';
	name = gh_trim(line);
	val = gh_trim(eq + 1);
	if (*name == '\0') {
		add_error(errs, "%s: missing key before '='", where);
		return;
	}
	assign(c, name, val, where, errs);
}

/* Read the configuration file, joining continuation lines. */
static void
read_file(struct gh_config *c, const char *path, struct gh_config_errors *errs)
{
	FILE		*fp;
	char		*line = NULL;
	size_t		 cap = 0;
	ssize_t		 n;
	struct gh_buf	 logical;
	unsigned	 lineno = 0, start = 0;

	if ((fp = fopen(path, "r")) == NULL) {
		add_error(errs, "%s: cannot open: %s", path, strerror(errno));
		return;
	}
	gh_buf_init(&logical, 1024 * 1024);
	while ((n = getline(&line, &cap, fp)) != -1) {
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (line[strspn(line, " \t")] == '#')
			continue;	/* comment, even inside a continuation */
		if (line[strspn(line, " \t")] == '\0') {
			if (logical.len)
				apply_line(c, logical.p, path, start, errs);
			gh_buf_reset(&logical);
			continue;
		}
		if (line[0] == ' ' || line[0] == '\t') {
			if (logical.len == 0) {
				add_error(errs, "%s:%u: continuation line "
				    "without a preceding key", path, lineno);
				continue;
			}
			if (gh_buf_puts(&logical, " ") == -1 ||
			    gh_buf_puts(&logical, line) == -1)
				add_error(errs, "%s:%u: line too long", path,
				    lineno);
			continue;
		}
		if (logical.len)
			apply_line(c, logical.p, path, start, errs);
		gh_buf_reset(&logical);
		start = lineno;
		if (gh_buf_puts(&logical, line) == -1)
			add_error(errs, "%s:%u: line too long", path, lineno);
	}
	if (logical.len)
		apply_line(c, logical.p, path, start, errs);
	if (ferror(fp))
		add_error(errs, "%s: read error: %s", path, strerror(errno));
	gh_buf_free(&logical);
	free(line);
	fclose(fp);
}

/* Check what no single key can: settings that need each other. */
static void
validate(const struct gh_config *c, struct gh_config_errors *errs)
{
	if (c->proxy_protocol && c->proxy_networks.n == 0)
		add_error(errs, "%s: proxy_networks: empty, but proxy_protocol "
		    "= yes needs the load balancers' networks",
		    c->path ? c->path : "configuration");
	if (c->tls_level == 1 && (c->tls_cert_file[0] == '\0' ||
	    c->tls_key_file[0] == '\0'))
		add_error(errs, "%s: tls.level = may needs tls.cert_file and "
		    "tls.key_file", c->path ? c->path : "configuration");
}

/* Fill derived values: the host name, the authserv-id. */
static void
derive(struct gh_config *c)
{
	char	 host[256];

	if (c->hostname[0] == '\0') {
		if (gethostname(host, sizeof(host)) == -1)
			strcpy(host, "localhost");
		host[sizeof(host) - 1] = '\0';
		free(c->hostname);
		c->hostname = gh_xstrdup(host);
	}
	if (c->authserv_id[0] == '\0') {
		free(c->authserv_id);
		c->authserv_id = gh_xstrdup(c->hostname);
	}
}

/*
 * Build a configuration: defaults, then the file (if `path` is not NULL),
 * then the overrides ("key=value").  Returns NULL with `errs` filled.
 */
struct gh_config *
gh_config_load(const char *path, char *const *overrides, size_t noverrides,
    struct gh_config_errors *errs)
{
	struct gh_config	*c;
	struct gh_config_errors	 deferr = { NULL, 0 };
	size_t			 i;

	c = gh_xcalloc(1, sizeof(*c));
	c->text = gh_xcalloc(NKEYS, sizeof(*c->text));
	c->isset = gh_xcalloc(NKEYS, sizeof(*c->isset));
	c->refs = 1;
	for (i = 0; i < NKEYS; i++)
		assign(c, keys[i].name, keys[i].def, "default", &deferr);
	if (deferr.n)
		gh_panic("bad built-in default: %s", deferr.v[0]);
	if (path) {
		c->path = gh_xstrdup(path);
		read_file(c, path, errs);
	}
	for (i = 0; i < noverrides; i++) {
		char	*kv = gh_xstrdup(overrides[i]), *eq;

		if ((eq = strchr(kv, '=')) == NULL) {
			add_error(errs, "-o %s: expected key=value", kv);
			free(kv);
			continue;
		}
		*eq = '\0';
		/* Errors read "-o key: message". */
		{
			size_t before = errs->n;

			assign(c, gh_trim(kv), gh_trim(eq + 1), "-o", errs);
			if (errs->n > before) {
				char *e = errs->v[errs->n - 1], *fixed;

				if (asprintf(&fixed, "-o %s", e + 4) != -1) {
					free(e);
					errs->v[errs->n - 1] = fixed;
				}
			}
		}
		free(kv);
	}
	if (errs->n == 0)
		validate(c, errs);
	if (errs->n) {
		c->refs = 1;
		gh_config_unref(c);
		return NULL;
	}
	derive(c);
	return c;
}

/* Take a reference. */
struct gh_config *
gh_config_ref(struct gh_config *c)
{
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
	return c;
}

/* Drop a reference; the last one frees. */
void
gh_config_unref(struct gh_config *c)
{
	size_t	 i;

	if (c == NULL || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL))
		return;
	for (i = 0; i < NKEYS; i++) {
		field_free(keys[i].type, (char *)c + keys[i].off);
		free(c->text[i]);
	}
	free(c->log_facility);
	free(c->text);
	free(c->isset);
	free(c->path);
	free(c);
}

/* Tell whether a key was set by the file or -o. */
bool
gh_config_isset(const struct gh_config *c, const char *name)
{
	size_t	 idx;

	return find_key(name, &idx) != NULL && c->isset[idx];
}

/* Print every key with its effective value (gatehouse check -v). */
void
gh_config_dump(const struct gh_config *c, FILE *fp, bool describe)
{
	size_t	 i;

	for (i = 0; i < NKEYS; i++) {
		const char *v = c->text[i] ? c->text[i] : "";

		if (strcmp(keys[i].name, "hostname") == 0)
			v = c->hostname;
		else if (strcmp(keys[i].name, "authserv_id") == 0)
			v = c->authserv_id;
		if (describe)
			fprintf(fp, "# %s\n", keys[i].desc);
		fprintf(fp, "%s = %s\n", keys[i].name, v);
	}
}

static const char *const type_names[] = { "string", "bool", "integer", "size",
	    "duration", "number", "choice", "address", "address list",
	    "list", "network list", "mode", "SMTP reply", "action",
	    "log level", "milter socket" };

/* Print every key with its type, default and description. */
void
gh_config_describe(FILE *fp)
{
	size_t	 i;

	for (i = 0; i < NKEYS; i++) {
		fprintf(fp, "%s\t%s\t%s\t%s", keys[i].name,
		    type_names[keys[i].type],
		    keys[i].def, keys[i].desc);
		if (keys[i].choices && (keys[i].type == CT_ENUM ||
		    keys[i].type == CT_ACTION))
			fprintf(fp, " (%s)", keys[i].choices);
		fputc('\n', fp);
	}
}

/* Write text escaped for roff: backslashes, hyphens, leading dots. */
static void
roff(FILE *fp, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", fp);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", fp);
		else if (*s == '-')
			fputs("\\-", fp);
		else
			fputc(*s, fp);
	}
}

/* Write a "a|b|c" choice list as "a, b, c", so that troff can break it. */
static void
roff_choices(FILE *fp, const char *s)
{
	char *dup = gh_xstrdup(s), *p, *tok, *save = NULL;

	for (p = dup; (tok = strtok_r(p, "|", &save)) != NULL; p = NULL) {
		if (p == NULL)
			fputs(", ", fp);
		roff(fp, tok);
	}
	free(dup);
}

/* Print gatehouse.conf(5), generated from the table so it cannot drift. */
void
gh_config_man(FILE *fp, const char *version)
{
	size_t	 i;

	fprintf(fp, ".TH GATEHOUSE.CONF 5 \"\" \"gatehouse %s\" "
	    "\"File Formats\"\n", version);
	fputs(".SH NAME\ngatehouse.conf \\- gatehouse configuration\n"
	    ".SH SYNOPSIS\n.B " GH_DEFAULT_CONFIG "\n"
	    ".SH DESCRIPTION\n"
	    "The configuration of\n.BR gatehouse (8)\n"
	    "is in the family of Postfix's main.cf: one\n"
	    ".I key\n= \n.I value\nper line; lines whose first non-blank "
	    "character is\n.B #\nare comments; a line that starts with "
	    "white space continues the previous one.\n"
	    "A key given twice takes its last value; any key can be "
	    "overridden on the command line with\n.BI \\-o \" key=value\"\n."
	    "\n.PP\nErrors are reported as\n.IR file : line : "
	    "\" key\" : \" message\"\nand refuse the whole file.\n"
	    ".PP\nTypes: sizes take k, M, G suffixes (binary); durations "
	    "ms, s, m, h, d; addresses are host:port, [IPv6]:port or "
	    "unix:/path; lists are separated by commas or white space; "
	    "replies are a code, an enhanced status code and text, where "
	    "%{sender}, %{rcpt}, %{client_addr}, %{client_name}, %{helo}, "
	    "%{session} and %{result} are expanded.\n"
	    ".PP\nActions: continue (record and score only), accept (stop "
	    "filtering, deliver), tag, tempfail (4xx), reject (5xx).\n"
	    ".SH KEYS\n", fp);
	for (i = 0; i < NKEYS; i++) {
		fputs(".TP\n.B ", fp);
		roff(fp, keys[i].name);
		fprintf(fp, "\n(%s; default: ", type_names[keys[i].type]);
		roff(fp, keys[i].def[0] ? keys[i].def : "empty");
		fputs(")\n", fp);
		roff(fp, keys[i].desc);
		if (keys[i].choices && (keys[i].type == CT_ENUM ||
		    keys[i].type == CT_ACTION)) {
			fputs(" One of: ", fp);
			roff_choices(fp, keys[i].choices);
			fputs(".", fp);
		}
		if ((keys[i].min != 0 || keys[i].max != 0) &&
		    keys[i].type != CT_MODE)
			fprintf(fp, " Range: %g to %g%s.", keys[i].min,
			    keys[i].max, keys[i].type == CT_DURATION ?
			    " ms" : "");
		fputc('\n', fp);
	}
	fputs(".SH SEE ALSO\n.BR gatehouse (8),\n.BR gatehouse-rules (5)\n",
	    fp);
}
