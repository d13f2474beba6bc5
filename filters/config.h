/*
 * config.h — the main configuration: one immutable, reference-counted
 * object built from /etc/gatehouse/gatehouse.conf plus -o overrides.
 *
 * Every key lives in one table (config.c): name, type, default, bounds,
 * target field, description.  Adding a key is one table row plus one
 * field here.
 */
#ifndef GH_CONFIG_H
#define GH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "filters/filter.h"

#define GH_DEFAULT_CONFIG	GH_SYSCONFDIR "/gatehouse/gatehouse.conf"

/* A socket address from the configuration: host:port, [v6]:port, unix:/p. */
struct gh_addr {
	char			*text;		/* as written */
	bool			 is_unix;
	char			*host;		/* NULL for unix */
	uint16_t		 port;
	char			*path;		/* unix only */
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
};

struct gh_addrlist {
	struct gh_addr	*v;
	size_t		 n;
};

struct gh_strlist {
	char	**v;
	size_t	  n;
};

/* One network: family AF_INET or AF_INET6, address bytes, prefix. */
struct gh_cidr {
	int		 family;
	uint8_t		 addr[16];
	unsigned	 prefix;
};

struct gh_cidrlist {
	struct gh_cidr	*v;
	size_t		 n;
};

/* A configured SMTP reply: "550 5.7.1 text". */
struct gh_reply_conf {
	int	 code;
	char	 status[16];
	char	*text;
};

/* Per-result policy of one check (SPF, DKIM). */
struct gh_policy {
	int		 on;		/* enum gh_action */
	double		 score;
};

enum gh_spf_result {
	GH_SPF_PASS, GH_SPF_FAIL, GH_SPF_SOFTFAIL, GH_SPF_NEUTRAL,
	GH_SPF_NONE, GH_SPF_TEMPERROR, GH_SPF_PERMERROR, GH_SPF_NRESULTS
};

enum gh_dkim_result {
	GH_DKIM_PASS, GH_DKIM_FAIL, GH_DKIM_NEUTRAL, GH_DKIM_POLICY,
	GH_DKIM_TEMPERROR, GH_DKIM_PERMERROR, GH_DKIM_NONE, GH_DKIM_NRESULTS
};

struct gh_config {
	/* core */
	char			*hostname;
	struct gh_addrlist	 listen;
	struct gh_addr		 backend;
	struct gh_strlist	 resolver;
	struct gh_strlist	 rules;
	char			*authserv_id;
	char			*milter_listen;
	unsigned		 milter_socket_mode;
	char			*milter_socket_group;
	uint64_t		 max_message_size;
	struct gh_cidrlist	 trusted_networks;
	bool			 proxy_protocol;
	struct gh_cidrlist	 proxy_networks;
	uint64_t		 proxy_protocol_timeout_ms;
	bool			 client_name_lookup;
	int			 on_filter_error;	/* gh_action */
	char			*user;
	char			*group;
	struct gh_addr		 metrics_listen;
	long long		 workers;
	int			 log_level;
	char			*log_facility;
	char			*spool_dir;
	uint64_t		 data_memory_max;
	int			 data_bare_newline;	/* 0 reject, 1 normalize */

	/* verdicts and tagging */
	double			 score_tag;
	double			 score_reject;
	struct gh_reply_conf	 score_reject_reply;
	struct gh_reply_conf	 tempfail_reply;	/* on_filter_error */
	char			*tag_subject_prefix;
	bool			 tag_spam_headers;

	/* SMTP limits and timeouts */
	long long		 max_command_line;
	long long		 max_text_line;
	long long		 max_recipients;
	long long		 max_errors;
	long long		 max_connections;
	long long		 max_connections_per_client;
	uint64_t		 idle_timeout_ms;
	uint64_t		 data_timeout_ms;
	uint64_t		 backend_connect_timeout_ms;
	uint64_t		 backend_timeout_ms;
	bool			 backend_chunking;
	long long		 backend_pool_size;
	uint64_t		 backend_pool_idle_ms;
	uint64_t		 shutdown_timeout_ms;

	/* TLS and AUTH (proxy) */
	int			 tls_level;	/* 0 none, 1 may */
	char			*tls_cert_file;
	char			*tls_key_file;
	int			 tls_protocols;	/* 0 TLSv1.2, 1 TLSv1.3 */
	char			*tls_ciphers;
	char			*tls_ciphersuites;
	int			 backend_tls;	/* 0 no, 1 may, 2 require */
	bool			 backend_tls_verify;
	char			*backend_tls_ca_file;
	bool			 auth_enable;
	bool			 auth_plaintext;

	/* DNS */
	uint64_t		 dns_timeout_ms;
	uint64_t		 dns_budget_ms;
	uint64_t		 dns_ptr_timeout_ms;
	char			*dns_trust_anchor;

	/* SPF */
	bool			 spf_enable;
	int			 spf_helo;	/* 0 off, 1 check */
	bool			 spf_received_spf;
	struct gh_policy	 spf[GH_SPF_NRESULTS];
	struct gh_reply_conf	 spf_reject_reply;
	struct gh_reply_conf	 spf_tempfail_reply;

	/* DKIM */
	bool			 dkim_enable;
	long long		 dkim_max_signatures;
	long long		 dkim_min_key_bits;
	int			 dkim_body_length;	/* 0 strict, 1 ignore */
	int			 dkim_multiple_from;	/* 0 reject, 1 tag */
	struct gh_policy	 dkim[GH_DKIM_NRESULTS];
	struct gh_reply_conf	 dkim_reject_reply;
	struct gh_reply_conf	 dkim_tempfail_reply;

	/* rules */
	long long		 rules_score_set;
	bool			 rules_prefilter;
	bool			 rules_shortcuts;
	struct gh_reply_conf	 rules_reject_reply;
	struct gh_reply_conf	 rules_tempfail_reply;

	/* bookkeeping */
	char			*path;		/* file it came from, or NULL */
	char			**text;		/* effective text per key */
	bool			*isset;		/* set by the file or -o */
	int			 refs;
};

/* Errors collected while loading: "file:line: key: message" lines. */
struct gh_config_errors {
	char	**v;
	size_t	  n;
};

struct gh_config *gh_config_load(const char *path, char *const *overrides,
	    size_t noverrides, struct gh_config_errors *errs);
struct gh_config *gh_config_ref(struct gh_config *);
void	 gh_config_unref(struct gh_config *);
void	 gh_config_errors_free(struct gh_config_errors *);
/* Tell whether a key was set by the file or -o (not a default). */
bool	 gh_config_isset(const struct gh_config *, const char *key);
void	 gh_config_dump(const struct gh_config *, FILE *, bool describe);
void	 gh_config_describe(FILE *);	/* every key with its description */
void	 gh_config_man(FILE *, const char *version);	/* gatehouse.conf(5) */

/* Lookups used by the front ends and filters. */
bool	 gh_cidr_match(const struct gh_cidrlist *, const struct sockaddr *);
bool	 gh_cidr_match_text(const struct gh_cidrlist *, const char *addr);
int	 gh_addr_parse(const char *, struct gh_addr *, char *err,
	    size_t errsz);
void	 gh_addr_free(struct gh_addr *);
int	 gh_action_parse(const char *);
const char *gh_action_name(int action);
const char *gh_spf_result_name(enum gh_spf_result);
const char *gh_dkim_result_name(enum gh_dkim_result);

#endif
