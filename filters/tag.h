/*
 * tag.h — end of message: thresholds, Authentication-Results, spam
 * headers, Subject prefix.  Internal to the chain.
 */
#ifndef GH_TAG_H
#define GH_TAG_H

#include "filters/filter.h"

int	 gh_tag_finish(struct gh_txn *, struct gh_verdict *out);

#endif
