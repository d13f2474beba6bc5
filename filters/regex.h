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
 * rules_name()) of the transactions ended so far, or NULL.
 */
int	 gh_regex_profile_on(struct gh_chain *);
const uint64_t *gh_regex_profile(const struct gh_chain *);

#endif
