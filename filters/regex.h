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
 * Per-rule profiling, for `gatehouse scan --profile` and benchmarks:
 * turn it on before the first transaction; every transaction then times
 * each rule, and adds its times into the filter's totals when it ends.
 * gh_regex_profile() returns the totals (nanoseconds, indexed like
 * rules_name()) of the transactions ended so far, or NULL.
 */
int	 gh_regex_profile_on(struct gh_chain *);
const uint64_t *gh_regex_profile(const struct gh_chain *);

#endif
