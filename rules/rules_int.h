/*
 * rules_int.h -- types shared by the rule engine's modules (not public).
 *
 * Loading builds a "draft" (struct loader): a table of rule entries keyed
 * by name, filled line by line; compile.c turns the draft into an
 * immutable struct rules_set; eval.c evaluates a set for one transaction.
 */
#ifndef GATEHOUSE_RULES_INT_H
#define GATEHOUSE_RULES_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdarg.h>
#include <stdatomic.h>

#include "rules.h"

/* Caps on rule files (input hygiene). */
#define RULES_LINE_MAX		65536	/* bytes in one line */
#define RULES_FILE_MAX		(64u << 20) /* bytes in one file */
#define RULES_INCLUDE_DEPTH	16
#define RULES_MAX_RULES		200000
#define RULES_NAME_MAX		100	/* as SpamAssassin */
#define RULES_NOTES_MAX		1000	/* diagnostics kept */
#define RULES_META_DEPTH	64	/* nesting in expressions */
#define RULES_HDR_MAX		65536	/* MAX_HEADER_LENGTH for ALL */

/* The SpamAssassin we emulate in "if" conditions. */
#define RULES_SA_VERSION	4.000001
#define RULES_PERL_VERSION	5.036000

/* Header request kinds (SpamAssassin PerMsgStatus::get). */
enum hdr_kind {
	HK_NAME,		/* a field, then pseudo-headers */
	HK_ALL,
	HK_TOCC,
	HK_MESSAGEID,
	HK_ENVFROM
};
#define HM_RAW		0x01
#define HM_ADDR		0x02
#define HM_NAME		0x04
#define HM_FIRST	0x08
#define HM_LAST		0x10
#define HM_HOST		0x20	/* host, domain, ip, revip: accepted, */
#define HM_DOMAIN	0x40	/* not evaluated (never match) */
#define HM_IP		0x80
#define HM_REVIP	0x100

/* An interned header request such as "From:addr". */
struct hspec {
	char		*name;		/* field name (HK_NAME) */
	size_t		 name_len;
	enum hdr_kind	 kind;
	unsigned	 mods;
};

/* Rule flags. */
#define RF_NEG		0x0001	/* !~ */
#define RF_EXISTS	0x0002	/* exists:Field */
#define RF_UNSET	0x0004	/* [if-unset: ...] */
#define RF_MULTIPLE	0x0008
#define RF_NICE		0x0010
#define RF_NOSUBJECT	0x0020
#define RF_SHADOW	0x0040
#define RF_SUB		0x0080	/* __NAME */
#define RF_DISABLED	0x0100	/* score 0 and no action: not run */
#define RF_INCOMPLETE	0x0200	/* meta over rules not evaluated */
#define RF_BLOCKED	0x0400	/* meta that never runs (SA quirk) */
#define RF_CONCAT	0x0800	/* mimeheader tflags concat */
#define RF_EVAL		0x1000	/* draft: eval: rule, skipped */
#define RF_DEFINED	0x2000	/* draft: a definition was seen */
#define RF_REPLACE	0x4000	/* draft: replace_rules names it */
#define RF_HAS_SCORE	0x8000	/* draft: a score line was seen */
#define RF_JOINABLE	0x10000	/* may search all lines joined (eval.c) */
#define RF_PREFILTERED	0x20000	/* held by its type's prefilter */
#define RF_JOINABLE_M	0x40000	/* jre searches all lines joined as a
				   superset (rules__regex_joinable) */
#define RF_PF_ASCII	0x80000	/* held by its type's prefilter for
				   texts of ASCII bytes */
#define RF_PF_PLAIN	0x100000 /* held by its type's approximate
				   prefilter for plain texts */
#define RF_PF_SKEL	0x200000 /* held by its type's prefilter for
				   the skeletons of plain texts */
#define RF_PF_PAT	0x800000 /* held by its type's pattern prefilter
				   (any text) */
#define RF_PF_ANYHOLD	(RF_PREFILTERED | RF_PF_ASCII | RF_PF_PLAIN | \
			 RF_PF_SKEL | RF_PF_PAT)
#define RF_HPF		0x400000 /* held by the header prefilter */

/* Meta program: a small stack machine. */
enum meta_opcode {
	MO_NUM,		/* push num */
	MO_RULE,	/* push value of rule arg */
	MO_NOT, MO_NEG,
	MO_ADD, MO_SUB, MO_MUL, MO_DIV,
	MO_LT, MO_GT, MO_LE, MO_GE, MO_EQ, MO_NE,
	MO_AND,		/* if top is false: jump to arg, keep it; else pop */
	MO_OR		/* if top is true: jump to arg, keep it; else pop */
};
struct meta_op {
	uint8_t		 op;
	uint32_t	 arg;
	double		 num;
};

struct regex {
	pcre2_code	*code;		/* the pattern, or its first piece */
	pcre2_code	**more;		/* further pieces of a split pattern */
	uint32_t	 nmore;
	char		*src;		/* as written, delimiters and all */
	char		*body;		/* between the delimiters */
	char		*mods;		/* modifier letters */
	bool		 jit;
};

/*
 * A rule's existence forms (exist.c): its pattern and projections
 * without their leading optional items; searched first when only
 * whether the rule matches counts.  Each may be empty (no code).
 */
struct rule_exist {
	struct regex	 form[4];	/* by RULES_EX_*: re, are, pre, ure */
};

struct rule {
	char		*name;
	uint8_t		 type;		/* enum rules_type */
	uint8_t		 stage;		/* enum rules_stage */
	uint8_t		 action;	/* enum rules_action */
	uint32_t	 flags;
	uint32_t	 maxhits;	/* 0 = unlimited */
	uint32_t	 range_min;	/* mimeheader range= */
	uint32_t	 range_max;
	uint32_t	 order;		/* definition order */
	uint32_t	 uses;		/* meta: 1 << type of every non-meta
					   rule it depends on, transitively */
	double		 score;		/* from the active score set */
	double		 scores[4];
	struct regex	 re;
	struct regex	 jre;		/* RF_JOINABLE_M: re with /m added */
	struct regex	 are;		/* re for ASCII texts (ascii.c) */
	struct regex	 jare;		/* jre for ASCII texts */
	struct regex	 pre;		/* re for plain texts, when it is
					   not are (ascii.c) */
	struct regex	 jpre;		/* jre for plain texts */
	struct regex	 ure;		/* re for texts of rules__regex_u8() */
	struct regex	 jure;		/* jre for them */
	struct rule_exist *ex;		/* existence forms (exist.c), or NULL */
	uint32_t	 hspec;		/* header, mimeheader */
	char		*hdr;		/* draft: header request text */
	char		*unset;		/* [if-unset: ...] */
	struct meta_op	*prog;		/* meta */
	uint32_t	 nprog;
	char		*meta_src;	/* draft: expression text */
	char		*reply;		/* reject/tempfail text */
	char		*describe;
	char		*tflags;	/* as written, last one wins */
	const char	*file;		/* definition site */
	unsigned	 line;
	const char	*action_file;	/* for errors */
	unsigned	 action_line;
	bool		 action_shadow;
	/* necessary conditions on the texts (body, rawbody, uri) */
	bool		 cond_rb_ok;	/* a byte of cond_rb is in them */
	uint8_t		 cond_rb[32];
	int32_t		 cond_cls;	/* -1, or a run of cond_len bytes of
					   set->cond_cls[cond_cls] is */
	uint32_t	 cond_len;
	/* re (are) matches exactly this string: searched with memmem */
	char		*lit;
	char		*alit;
};

struct selftest {
	char		*rule;
	bool		 ok;		/* ok = must match */
	char		*text;
	size_t		 text_len;
	const char	*file;
	unsigned	 line;
};

/* Name -> index map (open addressing). */
struct namemap {
	uint32_t	*slots;		/* index + 1; 0 = empty */
	size_t		 size;		/* power of two */
	size_t		 used;
};

/* Settings kept verbatim for the caller: "key value" pairs in order. */
struct kvlist {
	char		**keys;
	char		**values;
	size_t		  n, cap;
};

/*
 * What the evaluation loops read of every rule, packed (struct rule is
 * hundreds of bytes: reading one field of each rule was a cache miss a
 * rule, measured as the top costs of the meta and header loops).
 */
struct rule_hot {
	const struct meta_op *prog;	/* meta */
	uint32_t	 nprog;
	uint32_t	 flags;
	uint32_t	 hspec;		/* header, mimeheader */
	double		 zero;		/* meta: its value when every rule
					   it reads is 0 (the common case) */
};

struct rules_set {
	atomic_uint	 refs;
	struct rule	*rules;
	uint32_t	 nrules;
	struct namemap	 names;
	struct hspec	*hspecs;
	uint32_t	 nhspecs;
	/* Enabled rules per type, in evaluation order. */
	uint32_t	*bytype[RULES_T_COUNT];
	uint32_t	 nbytype[RULES_T_COUNT];
	/* Metas per stage, dependencies first. */
	uint32_t	*metas[RULES_STAGE_COUNT];
	uint32_t	 nmetas[RULES_STAGE_COUNT];
	uint32_t	 max_stack;	/* deepest meta program stack */
	struct selftest	*tests;
	size_t		 ntests;
	char		**files;	/* interned file names */
	size_t		 nfiles;
	pcre2_match_context *mctx_proto; /* limits, copied per txn */
	uint32_t	 match_limit;
	uint32_t	 depth_limit;
	bool		 has_required;
	double		 required;
	atomic_bool	*limit_seen;	/* per rule: limit reported */
	pcre2_code	*addr_re;	/* address parser (header.c) */
	pcre2_code	*mail_re;
	pcre2_code	*angle_re;
	const uint8_t	*tables;	/* the patterns' character tables */
	/* Prefilter (prefilter.c): per type, a database and its rules. */
	/* [type][0]: any text; [type][1]: texts of ASCII bytes only;
	   [type][2]: plain texts (ASCII, no '&', no control bytes but
	   TAB CR LF), the literals of the plain projections;
	   [type][3]: the skeletons of plain texts (letters and digits
	   only), for the rules [type][2] does not hold;
	   [type][4]: any text, the whole patterns (Vectorscan's
	   prefilter mode) of rules without literals */
	struct hs_database *pf_db[RULES_T_COUNT][5];
	uint32_t	*pf_ids[RULES_T_COUNT][5];	/* literal -> rule */
	/* literal -> occurrences needed (rules__required_repeat), or
	   NULL when every literal needs one */
	uint8_t		*pf_needs[RULES_T_COUNT][5];
	uint32_t	*pf_extra[RULES_T_COUNT][5];	/* run on every text */
	uint32_t	 pf_nextra[RULES_T_COUNT][5];
	bool		 pf_plain_on[RULES_T_COUNT];	/* [type][2] built */
	bool		 pf_skel_on[RULES_T_COUNT];	/* [type][3] built */
	struct hs_scratch *pf_scratch;	/* prototype, cloned per txn */
	size_t		 pf_count;	/* rules held */
	uint8_t		(*cond_cls)[256];	/* run classes of rules' */
	uint32_t	 ncond_cls;	/* conditions (1: byte in it) */
	uint32_t	 pf_held[RULES_T_COUNT];	/* rules held, by type */
	struct kvlist	 settings;	/* kept for the caller (uri policy) */
	struct hpf	*hpf;		/* header prefilter (hprefilter.c) */
	struct rule_hot	*hot;		/* per rule (eval.c) */
	double		*val0;		/* per rule: a fresh txn's value */
	struct meta_op	*ops;		/* the metas' programs, packed */
};

/* A replace_tag / replace_pre / replace_post / replace_inter entry. */
struct tagdef {
	char		*name;
	char		*value;
};
struct tagset {
	struct tagdef	*v;
	size_t		 n;
};

/* Conditional stack entry. */
struct cond {
	bool		 was_skipping;
	unsigned	 line;
	bool		 is_ifplugin;
};

/* One file being read. */
struct srcfile {
	const char	*path;		/* interned */
	bool		 sa;		/* SpamAssassin file: lenient */
	bool		 shadow;	/* "shadow yes" in force */
	unsigned	 line;
	struct cond	*conds;
	size_t		 nconds;
	size_t		 capconds;
	bool		 skipping;
	bool		 skip_file;	/* require_version mismatch */
};

struct loader {
	const struct rules_opts	*opts;
	struct rules_diag	*diag;
	struct rule		*rules;
	uint32_t		 nrules;
	uint32_t		 caprules;
	struct namemap		 names;
	uint32_t		 order;
	struct selftest		*tests;
	size_t			 ntests;
	size_t			 captests;
	char			**files;
	size_t			 nfiles;
	size_t			 capfiles;
	struct tagset		 tag, pre, post, inter;
	char			*replace_start;
	char			*replace_end;
	bool			 has_required;
	double			 required;
	int			 depth;
	struct srcfile		*cur;
	bool			 oom;
	const uint8_t		*tables;	/* Perl /aai case folding */
	pcre2_compile_context	*cctx;		/* compiles with them */
	struct kvlist		 settings;	/* util_rb_tld, ... */
};

void	 rules__kv_free(struct kvlist *);

/* lex.c */
void	 rules__note(struct loader *, enum rules_severity, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));
void	 rules__vnote(struct loader *, enum rules_severity, const char *fmt,
	    va_list) __attribute__((format(printf, 3, 0)));
void	 rules__error(struct loader *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 rules__warn(struct loader *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 rules__lenient(struct loader *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
int	 rules__read_file(struct loader *, const char *path, char **buf,
	    size_t *len);
size_t	 rules__clean_line(char *line, size_t len);
bool	 rules__is_space(int c);
bool	 rules__valid_name(const char *s, size_t len);
char	*rules__strndup(const char *s, size_t len);
char	*rules__next_word(char **p, size_t *len);
int	 rules__parse_number(const char *s, double *out);

/* ascii.c: a pattern's ASCII projection. */
char	*rules__regex_ascii(const char *pattern, const char *mods);
char	*rules__regex_plain(const char *pattern, const char *mods);
char	*rules__regex_u8(const char *pattern, const char *mods);

/* Growable string with a hard cap (lex.c). */
struct sbuf {
	char		*p;
	size_t		 len;
	size_t		 cap;
	bool		 oom;
};
void	 rules__sb_add(struct sbuf *, const char *s, size_t len);
void	 rules__sb_addc(struct sbuf *, int c);
void	 rules__sb_adds(struct sbuf *, const char *s);
char	*rules__sb_take(struct sbuf *);

/* namemap (lex.c) */
int	 rules__map_put(struct namemap *, const char *name, uint32_t idx,
	    const struct rule *rules);
int	 rules__map_get(const struct namemap *, const char *name,
	    size_t len, const struct rule *rules, uint32_t *idx);
void	 rules__map_free(struct namemap *);

/* parse.c */
int	 rules__load_path(struct loader *, const char *path, bool glob_ok);
void	 rules__loader_free(struct loader *);

/* dirs.c: the directives SpamAssassin knows and gatehouse ignores. */
bool	 rules__sa_directive(const char *key);

/* expr.c */
struct expr_ctx {
	struct loader	*ld;
	/* Resolve an identifier: rule reference (meta) or constant (if). */
	int		(*ident)(void *arg, const char *name, size_t len,
			    struct meta_op *op);
	/* Resolve name(arg), e.g. plugin(X); NULL: not allowed. */
	int		(*call)(void *arg, const char *fn, size_t fnlen,
			    const char *a, size_t alen, double *val);
	void		*arg;
};
int	 rules__expr_compile(struct expr_ctx *, const char *src,
	    struct meta_op **prog, uint32_t *nprog, char *err, size_t errlen);
/* Run a program; vals[] indexed by MO_RULE args. NaN poisons. */
double	 rules__expr_run_zero(const struct meta_op *prog, uint32_t nprog,
	    const double *vals, double *st, double zero);
double	 rules__expr_run(const struct meta_op *prog, uint32_t nprog,
	    const double *vals, double *stack, bool *divzero);
uint32_t rules__expr_stack(const struct meta_op *prog, uint32_t nprog);

/* regex.c */
int	 rules__regex_parse(const char *src, size_t len, char **body,
	    char **mods, char *err, size_t errlen);
bool	 rules__regex_compile_plain(struct regex *re, const char *pattern,
	    const char *mods, pcre2_compile_context *cctx);
bool	 rules__regex_compile_u8(struct regex *re, const char *pattern,
	    const char *mods, pcre2_compile_context *cctx);
bool	 rules__regex_compile_ascii(struct regex *re, const char *pattern,
	    const char *mods, pcre2_compile_context *cctx);
int	 rules__regex_compile(struct regex *re, const char *pattern,
	    const char *mods, pcre2_compile_context *cctx, char *err,
	    size_t errlen);
const uint8_t *rules__perl_tables(void);
void	 rules__regex_jit(struct regex *re, bool allowed);
void	 rules__regex_free(struct regex *re);
void	 rules__regex_free_code(struct regex *re);
bool	 rules__regex_local(const char *pattern);
bool	 rules__regex_joinable(const char *pattern, const char *mods);
int	 rules__hexval(int c);
char	*rules__regex_translate(const char *pattern);
unsigned rules__regex_inline_opts(const char *pattern);
#define RULES_OPT_I	0x1	/* an i set inline somewhere */
#define RULES_OPT_S	0x2
#define RULES_OPT_X	0x4
#define RULES_OPT_NEG	0x8	/* a '-': options turned off */
#define RULES_OPT_RESET	0x10	/* a '^': options reset */
char	*rules__regex_exist(const char *pattern, const char *mods,
	    unsigned flags);
#define RULES_EXIST_SHARE	0x1	/* unroll groups written once */
#define RULES_EXIST_CONTEXT	0x2	/* drop a leading one-byte item */
bool	 rules__regex_compile_exist(struct regex *re, const char *pattern,
	    const char *mods, pcre2_compile_context *cctx, int kind,
	    const struct regex *orig);
#define RULES_EX_RE	0	/* exist(pattern) */
#define RULES_EX_ASCII	1	/* exist(ascii projection) */
#define RULES_EX_PLAIN	2	/* exist(plain projection) */
#define RULES_EX_U8	3	/* exist(u8 projection) */
int	 rules__regex_match(const struct regex *re, const char *s,
	    size_t len, size_t start, uint32_t opts, pcre2_match_data *md,
	    pcre2_match_context *mctx, size_t *ms, size_t *me);
char	*rules__replace_tags(struct loader *, const struct regex *re,
	    bool *changed);

/* compile.c */
int	 rules__finish(struct loader *, struct rules_set **setp);
void	 rules__rule_free(struct rule *r);

/* literals.c: strings one of which every match of a pattern holds. */
struct rules_lit {
	char		*s;
	size_t		 len;
};
struct rules_lits {
	struct rules_lit *v;
	size_t		  n;
};
#define RULES_LIT_ANY	0	/* rules__required_literals() modes */
#define RULES_LIT_ASCII	1	/* texts of bytes < 0x80 */
#define RULES_LIT_PLAIN	2	/* ... without '&' */
#define RULES_LIT_SKEL	3	/* skeletons of plain texts: letters
				   and digits only */
int	 rules__required_literals(const char *pattern, const char *mods,
	    size_t minlen, int mode, struct rules_lits *out,
	    bool *caseless);
int	 rules__required_repeat(const char *pattern, const char *mods,
	    size_t minlen, int mode, struct rules_lits *out,
	    bool *caseless, unsigned *count);
void	 rules__lits_free(struct rules_lits *);

/*
 * prefilter.c: the literals of one Vectorscan literal database being
 * built (the body prefilter's and the header prefilter's), each with
 * its rule and the occurrences it needs (counted: some need more than
 * one).  rules__pflits_compile() builds the database (NULL when there
 * are no literals), the literal's index as its Vectorscan id.
 */
struct rules_pflits {
	char		**s;
	size_t		 *len;
	unsigned	 *flags;
	uint32_t	 *rule;
	uint8_t		 *need;
	size_t		  n, cap;
	bool		  counted;
};
bool	 rules__pflits_add(struct rules_pflits *, const struct rules_lit *,
	    unsigned flags, uint32_t rule, unsigned need);
void	 rules__pflits_drop(struct rules_pflits *, size_t n0);
void	 rules__pflits_free(struct rules_pflits *);
int	 rules__pflits_compile(const struct rules_pflits *,
	    struct hs_database **);

/*
 * A pattern's necessary conditions on a text (rules__required_cond):
 * every text a match is in holds a byte of rb (rb_ok), and a run of
 * runlen bytes in a row, each in run (run_ok).  Byte c is bit c & 7
 * of [c >> 3].
 */
struct rules_cond {
	bool		 rb_ok;
	uint8_t		 rb[32];
	bool		 run_ok;
	uint8_t		 run[32];
	uint32_t	 runlen;
};
int	 rules__required_cond(const char *pattern, const char *mods,
	    struct rules_cond *out);

/* prefilter.c */
struct rules_txn;
size_t	 rules__prefilter_build(struct rules_set *);
void	 rules__prefilter_free(struct rules_set *);
size_t	 rules__prefilter_memory(const struct rules_set *);
bool	 rules__prefilter_scan(struct rules_txn *, enum rules_type,
	    const struct rules_text *v, size_t n);
void	 rules__prefilter_txn_free(struct rules_txn *);

/* eval.c */
int	 rules__hot_init(struct rules_set *);

/* hprefilter.c */
size_t	 rules__hprefilter_build(struct rules_set *);
void	 rules__hprefilter_free(struct rules_set *);
size_t	 rules__hprefilter_memory(const struct rules_set *);
int	 rules__hprefilter_scan(struct rules_txn *, uint32_t hspec,
	    const char *s, size_t len, bool ascii);
bool	 rules__hprefilter_skip(const struct rules_txn *, uint32_t idx,
	    int kind);
void	 rules__hprefilter_txn_free(struct rules_txn *);

/* header.c */
int	 rules__hspec_parse(const char *s, size_t len, struct hspec *out);

#endif /* GATEHOUSE_RULES_INT_H */
