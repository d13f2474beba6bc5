/*
 * regex.h — the rules filter (the adapter to rules/).
 */
#ifndef GH_REGEX_H
#define GH_REGEX_H

#include "filters/filter.h"

extern const struct gh_filter gh_filter_rules;

struct rules_set;

/* The rule set of a chain's rules filter, or NULL when it has none. */
const struct rules_set *gh_regex_rules(const struct gh_chain *);

/*
 * Every hit of the rules in transaction T so far, sub-rules (__NAME,
 * never reported to the chain) included, or NULL; valid until T's next
 * stage or its end.  For `gatehouse scan --subrules`.
 */
struct rules_hit;
const struct rules_hit *gh_regex_txn_hits(const struct gh_txn *t,
	    size_t *n);

/*
 * Per-rule profiling, for `gatehouse scan --profile` and benchmarks:
 * turn it on before the first transaction; every transaction then times
 * each rule, and adds its times into the filter's totals when it ends.
 * gh_regex_profile() returns the totals (nanoseconds, indexed like
 * rules_name()) of the transactions ended so far, or NULL.  After the
 * rules (index rules_count()) come the prefilter's time, then
 * GH_REGEX_STAGES times of the message model building the texts the
 * rules match (index rules_count() + 1 + enum gh_regex_stage): MIME
 * walk, decoding, charsets, HTML rendering, URI extraction.
 */
enum gh_regex_stage {
	GH_RS_HEADERS,		/* header list, decoded values */
	GH_RS_BODY,		/* body text: MIME, decoding, HTML */
	GH_RS_RAWBODY,
	GH_RS_FULL,
	GH_RS_URIS,
	GH_REGEX_STAGES
};
extern const char *const gh_regex_stage_names[GH_REGEX_STAGES];
int	 gh_regex_profile_on(struct gh_chain *);
const uint64_t *gh_regex_profile(const struct gh_chain *);

#endif
