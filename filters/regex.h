/*
 * regex.h — the rules filter (the adapter to rules/).
 */
#ifndef GH_REGEX_H
#define GH_REGEX_H

#include "filters/filter.h"

extern const struct gh_filter gh_filter_rules;

#endif
