/*
 * bl_int.h - private to filters/bl*.c: the in-memory layout of a struct
 * flt_bl and the functions its files share. blocklist.c (public API,
 * reading list files, categories), bl_names.c (host names, domains, URL
 * lists), bl_expr.c (expressions: literal prefilter, PCRE2) and bl_rq.c
 * (what a pattern requires) all see the one struct; the layout is
 * described in blocklist.c. blocklist.h stays the public contract: never
 * include this from another folder, nor from outside filters/bl*.c.
 */
#ifndef FLT_BL_INT_H
#define FLT_BL_INT_H

#include <stddef.h>
#include <stdint.h>

#include <pcre2.h>

#include "filters/blocklist.h"
#include "squidlike/chars.h"

#define BL_NAME_MAX 253         /* longest DNS name, without the final dot */

struct bl_slot {
    uint32_t tag;               /* dom: hash >> 40 << 8 | cat; utab: hash >> 32 */
    uint32_t off;               /* dom: arena offset; utab: uhost index + 1 */
};

struct bl_arena {
    char *p;
    size_t len, cap;
};

struct bl_url {
    uint32_t host;              /* arena: [len][host] */
    uint32_t path;              /* arena: raw bytes */
    uint16_t path_len;
    uint8_t cat;
};

struct bl_uhost {
    uint32_t host;
    uint32_t first, count;      /* a run of bl->urls */
};

struct bl_re {
    pcre2_code *code;
    uint32_t cat;
    uint32_t always;            /* 0: runs only when one of its literals occurs */
    uint32_t gate_off, gate_len;    /* always: its text in gate_text, 0: none */
};

/* A literal one of which a match of expression re must contain. */
struct bl_lit {
    uint32_t key;               /* its first 2, 3 or 4 bytes */
    uint32_t next;              /* next in the hash chain, index + 1 */
    uint32_t off;               /* in lit_text */
    uint32_t re;
    uint16_t len;
};

struct bl_litab {
    uint32_t *head;             /* 1 << bits chains, index + 1 */
    unsigned bits;
    size_t n;
};

struct flt_bl {
    char *names[FLT_BL_MAX_CATEGORIES];
    size_t ncat;
    struct flt_bl_set has_dom, has_url, has_re;

    struct bl_arena arena;

    struct bl_slot *dom;
    size_t dom_mask, ndom;      /* mask + 1 slots, 0 when none */

    struct bl_url *urls;
    size_t nurls, urls_cap;
    struct bl_uhost *uhosts;
    size_t nuhosts;
    struct bl_slot *utab;
    size_t utab_mask;

    struct bl_re *res;
    size_t nres, res_cap, nexpr, re_bytes;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jstack;
    struct bl_lit *lits;
    size_t nlits, lits_cap;
    struct bl_arena lit_text;
    struct bl_litab ltab[3];    /* literals of 2, 3, 4+ bytes */
    uint64_t *marks;            /* candidates during one match: nres bits */
    uint64_t *always;           /* expressions without literals that no
                                 * gate covers: nres bits */
    /* The expressions without literals would run on every URL. Gates are
     * all of them in one alternation, anchored ones apart from the others
     * (mixed, PCRE2 would try the anchored ones at every offset): when a
     * gate does not match, none of its expressions can, and they are
     * skipped. */
    struct bl_arena gate_text;
    pcre2_code *gate[2];        /* anchored, unanchored; NULL: none */
    uint64_t *gated[2];         /* what each gate covers: nres bits */
    struct flt_bl_set gate_cats[2];

    size_t bad;
};

/* One pattern of an expressions file, kept until the file is committed. */
struct bl_pat {
    size_t off, len;            /* in the file's pattern text */
    pcre2_code *code;
};

/* What a pattern requires (bl_rq.c): a set of literals in a work space
 * reused from one pattern to the next. */
struct bl_rq_lit {
    uint32_t off, len;          /* in q->text */
};

/* A set of strings (a range of q->lits), or "unknown" (any = 1). */
struct bl_rq_set {
    size_t first, count, minlen;
    int any;
};

struct bl_rq_info;

/* The work space: zero it before the first bl_rq_analyze(), free it with
 * bl_rq_free(). */
struct bl_rq {
    const char *p;
    size_t n, i;
    int fail;
    char *text;
    size_t tlen, tcap;
    struct bl_rq_lit *lits;
    size_t nlits, lcap;
    struct bl_rq_info *stk;     /* branches of the alternations open */
    size_t nstk, scap;
};

static inline int bl_set_has(const struct flt_bl_set *s, unsigned cat)
{
    return (int)((s->bits[cat >> 6] >> (cat & 63)) & 1);
}

static inline void bl_set_add(struct flt_bl_set *s, unsigned cat)
{
    s->bits[cat >> 6] |= (uint64_t)1 << (cat & 63);
}

static inline int bl_set_meets(const struct flt_bl_set *a,
                               const struct flt_bl_set *b)
{
    uint64_t m = 0;
    size_t i;

    for (i = 0; i < FLT_BL_MAX_CATEGORIES / 64; i++)
        m |= a->bits[i] & b->bits[i];
    return m != 0;
}

/* --- bl_names.c: host names, domains, URL lists ------------------------ */

/* Append s[0..n) to a, after a length byte when with_len; its offset in
 * *off. 0 or -ENOMEM (offsets are 32-bit). */
int bl_arena_put(struct bl_arena *a, const char *s, size_t n, int with_len,
                 uint32_t *off);
void bl_arena_shrink(struct bl_arena *a);
/* Room for this many names in the domain table; 0 or -ENOMEM. */
int bl_dom_reserve(struct flt_bl *bl, size_t entries);
/* 1 added, 0 duplicate, -ENOMEM. */
int bl_dom_add(struct flt_bl *bl, const char *s, size_t n, unsigned cat);
/* A list's host name into out (BL_NAME_MAX + 1): length, or 0 and *why. */
size_t bl_host_norm(const char *s, size_t n, char *out, const char **why);
/* A "urls" line: 1 added, 0 bad (*why), -ENOMEM. */
int bl_url_add(struct flt_bl *bl, char *s, size_t n, unsigned cat,
               const char **why);
/* Sort, dedupe, group and hash the URL entries: end of every load. */
int bl_url_index(struct flt_bl *bl);
/* The first wanted category of the request's host in the domains, then
 * of its host + path in the URL lists, or -1 (the match of blocklist.h). */
int bl_names_match(const struct flt_bl *bl, const struct flt_bl_set *want,
                   const char *host, size_t host_len,
                   const char *url, size_t url_len);

/* --- bl_expr.c: expressions -------------------------------------------- */

/* Make the match-time state once; 0 or -ENOMEM. */
int bl_re_state(struct flt_bl *bl);
/* Room for one more pattern and tlen bytes of text; 0 or -ENOMEM. */
int bl_pat_room(struct bl_pat **pats, size_t *cap, size_t npats,
                char **text, size_t *tcap, size_t tlen);
/* Keep a file's compiled patterns (takes the codes it keeps: those left
 * non-NULL in pats are the caller's). 0 or -ENOMEM. */
int bl_re_commit(struct flt_bl *bl, struct bl_pat *pats, size_t npats,
                 const char *text, unsigned cat);
/* Hash the literals, size the candidate marks: end of every load. */
int bl_lit_index(struct flt_bl *bl);
/* The first wanted category whose expression matches url (host when url
 * is NULL), or -1. Uses the list's match state: one caller at a time. */
int bl_re_match(const struct flt_bl *bl, const struct flt_bl_set *want,
                const char *host, size_t host_len,
                const char *url, size_t url_len);

/* --- bl_rq.c: what a pattern requires ---------------------------------- */

extern const struct bl_rq_set bl_rq_unknown;
/* The literals one of which every match of p[0..n) contains (in q), or
 * bl_rq_unknown. */
struct bl_rq_set bl_rq_analyze(struct bl_rq *q, const char *p, size_t n);
void bl_rq_free(struct bl_rq *q);

#endif
