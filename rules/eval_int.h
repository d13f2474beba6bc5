/*
 * eval_int.h -- the per-transaction state shared by eval.c and header.c.
 */
#ifndef GATEHOUSE_RULES_EVAL_INT_H
#define GATEHOUSE_RULES_EVAL_INT_H

#include "rules_int.h"

/* A piece of a vals buffer. */
struct span {
	size_t		 off;
	size_t		 len;
};

/* A list of strings kept in one growable buffer (reused per message). */
struct vals {
	struct sbuf	 buf;
	struct span	*v;
	size_t		 n;
	size_t		 cap;
	bool		 ascii;		/* buf holds bytes < 0x80 only */
};

/* Forget the contents, keep the memory. */
static inline void
vals_clear(struct vals *v)
{
	v->n = 0;
	v->buf.len = 0;
	v->buf.oom = false;
}

/* The lines of one text array joined, for whole-array searches. */
struct joined {
	struct sbuf	 buf;
	size_t		*start;		/* where line i starts in buf */
	size_t		*len;		/* its own length (no separator) */
	size_t		 n;
	size_t		 cap;
	bool		 ascii;		/* buf holds bytes < 0x80 only */
	bool		 plain;		/* ... and no '&' */
	bool		 u8;		/* not ascii, but rules__is_u8() */
};

/* One (rule, text) candidate of a prefilter scan, in a per-rule list. */
struct pf_pair {
	uint32_t	 text;		/* index in the type's text array */
	uint32_t	 next;		/* next pair of the rule + 1, or 0 */
};

/* What an rcptto rule had before this recipient (for refusals). */
struct rcpt_undo {
	uint32_t	 rule;
	unsigned	 count;
	double		 score;
};

struct rules_txn {
	struct rules_set	*set;
	double			*val;	/* per rule; NaN: never ran */
	uint32_t		*slot;	/* per rule: hits index + 1 */
	uint8_t			*stagehit; /* per rule: stage it hit at + 1 */
	struct rules_hit	*hits;
	size_t			 nhits;
	size_t			 caphits;
	struct rules_limit	*limits;
	size_t			 nlimits;
	size_t			 caplimits;
	double			 score;
	double			 shadow_score;
	struct rules_verdict	 verdict;	/* decisive action */
	struct rules_verdict	 tag;		/* first tag action */
	int			 next;		/* next stage to run */
	bool			 oom;
	pcre2_match_data	*md;
	pcre2_match_data	*amd;	/* address parser captures */
	pcre2_match_context	*mctx;
	pcre2_jit_stack		*jstack;
	double			*stack;	/* meta evaluation */
	struct vals		 hv;	/* header values */
	struct vals		 hv2;
	struct sbuf		 join;
	struct rcpt_undo	*rcpt;	/* rcptto rules hit by this RCPT */
	size_t			 nrcpt;
	uint64_t		*prof;	/* per rule: ns spent, or NULL */
	struct joined		 jn;	/* body/rawbody/uri lines joined */
	/* the kinds (TK_*, eval.c) of the texts tk_v[0..tk_n) */
	const struct rules_text	*tk_v;
	size_t			 tk_n;
	uint8_t			*tk;
	size_t			 tk_cap;
	/*
	 * Prefilter (prefilter.c).  When pf_on[type], a rule of that type
	 * that the prefilter holds may match only the texts listed from
	 * pf_pairs[pf_head[idx] - 1] on, and none at all unless
	 * pf_mark[idx] == pf_type_stamp[type].
	 */
	uint32_t		*pf_mark;
	uint32_t		*pf_head;	/* first pair + 1 */
	uint32_t		*pf_tail;	/* last pair */
	struct pf_pair		*pf_pairs;
	size_t			 pf_npairs;
	size_t			 pf_cappairs;
	uint32_t		 pf_stamp;
	uint32_t		 pf_type_stamp[RULES_T_COUNT];
	uint32_t		 pf_text;	/* text being scanned */
	bool			 pf_on[RULES_T_COUNT];
	bool			 pf_full;	/* out of pair memory */
	const uint32_t		*pf_rules;	/* the scanned type's ids */
	const uint8_t		*pf_needs;	/* their counts, or NULL */
	struct hs_scratch	*pf_scratch;
	/* counted literals (prefilter.c): per rule, this text's count */
	uint32_t		*pf_cmark;	/* == pf_tstamp: counting */
	uint32_t		*pf_cnt;
	unsigned long long	*pf_cend;	/* end of the last one */
	uint32_t		 pf_tstamp;
	/*
	 * Rules' necessary conditions (eval.c cond_may()): the bytes in
	 * the texts of the type being run (cond_have: computed); per run
	 * class, valid when cond_seen == cond_cur, a run as long as
	 * cond_long is in them, none as long as cond_none.
	 */
	uint8_t			 cond_present[32];
	bool			 cond_have;
	uint32_t		 cond_cur;
	uint32_t		*cond_long;
	uint32_t		*cond_none;
	uint32_t		*cond_seen;
	char			*pf_skel;	/* a plain text's skeleton */
	size_t			 pf_skelcap;
	struct hpf_txn		*hpf;	/* header prefilter (hprefilter.c) */
};

/* True if the LEN bytes at S are all below 0x80. */
static inline bool
rules__is_ascii(const char *s, size_t len)
{
	uint64_t w, acc = 0;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, s + i, 8);
		acc |= w;
	}
	for (; i < len; i++)
		acc |= (unsigned char)s[i];
	return (acc & 0x8080808080808080ull) == 0;
}

/*
 * True if the LEN bytes at S >= 0x80 are all continuation bytes
 * (0x80-0xbf) or 0xc2, 0xc3, 0xe2, 0xe3: the texts the u8 projections
 * (ascii.c rules__regex_u8()) are for.
 */
static inline bool
rules__is_u8(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0xc0 && c != 0xc2 && c != 0xc3 && c != 0xe2 &&
		    c != 0xe3)
			return false;
	}
	return true;
}

bool	 rules__header_value(struct rules_txn *, const struct hspec *,
	    const struct rules_input *, struct rules_text *);
bool	 rules__mime_value(struct rules_txn *, const struct hspec *,
	    const struct rules_part *, struct rules_text *);
int	 rules__header_init(struct rules_set *);

#endif /* GATEHOUSE_RULES_EVAL_INT_H */
