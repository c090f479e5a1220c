/*
 * bl_expr.c - the "expressions" lists: PCRE2 patterns compiled caseless
 * with JIT, merged into alternations where that keeps their meaning, the
 * literal prefilter that decides which of them run on a URL (the literals
 * come from bl_rq.c), and running them. Apart from the names because it
 * is the only part that speaks PCRE2 and the only part whose cost per
 * request grows with the lists: see bl_rq.c for why the prefilter exists.
 */
#include "config.h"

#include <errno.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filters/bl_int.h"

/* How many expressions one merged alternation may hold (1: never merge).
 * Measured with t/bench/blbench: see the numbers in the module's note. */
#ifndef FLT_BL_MERGE_MAX
#define FLT_BL_MERGE_MAX 64
#endif
/* 0 runs every expression on every URL (for measuring). */
#ifndef FLT_BL_PREFILTER
#define FLT_BL_PREFILTER 1
#endif

/* Bound the CPU one expression may burn on one URL (no unbounded work per
 * event): past these limits the expression counts as matching (fail
 * closed: a URL made expensive enough must not slip past its category),
 * and a gate as open. PCRE2 counts the match limit per start position. */
#define BL_MATCH_LIMIT 200000
#define BL_DEPTH_LIMIT 10000
#define BL_JIT_STACK_MAX (512 * 1024)

/* --- expressions: the literal prefilter --------------------------------- */

/* The literal tables: literals keyed by their first 2, 3 or 4 bytes. */
static inline uint32_t lit_slot(uint32_t key, unsigned bits)
{
    return (key * 0x9e3779b1u) >> (32 - bits);
}

static int lit_add(struct flt_bl *bl, const char *s, size_t len, size_t re)
{
    struct bl_lit *l;
    size_t k = len < 4 ? len : 4, i;
    uint32_t off;

    if (bl->nlits == bl->lits_cap) {
        size_t cap = bl->lits_cap ? bl->lits_cap * 2 : 256;

        l = realloc(bl->lits, cap * sizeof(*l));
        if (l == NULL)
            return -ENOMEM;
        bl->lits = l;
        bl->lits_cap = cap;
    }
    if (bl_arena_put(&bl->lit_text, s, len, 0, &off) != 0)
        return -ENOMEM;
    l = &bl->lits[bl->nlits++];
    for (l->key = 0, i = 0; i < k; i++)
        l->key = l->key << 8 | (unsigned char)s[i];
    l->off = off;
    l->len = (uint16_t)len;
    l->re = (uint32_t)re;
    l->next = 0;
    return 0;
}

/* Is the expression anchored at the start of the subject (^, \A)? PCRE2
 * reports the anchoring it found in the pattern among its options. */
static int re_anchored(const pcre2_code *code)
{
    uint32_t o = 0;

    return pcre2_pattern_info(code, PCRE2_INFO_ALLOPTIONS, &o) == 0
           && (o & PCRE2_ANCHORED) != 0;
}

/*
 * Build the two gates over the expressions without literals (end of every
 * load). A gate covering one expression would only add a match, so it
 * takes two or more; a gate that does not compile is left out and its
 * expressions keep running on every URL. 0 or -ENOMEM.
 */
static int gate_index(struct flt_bl *bl)
{
    size_t words = (bl->nres + 63) / 64, i, g, len, n;
    char *m;

    for (g = 0; g < 2; g++) {
        pcre2_code_free(bl->gate[g]);
        bl->gate[g] = NULL;
        memset(&bl->gate_cats[g], 0, sizeof(bl->gate_cats[g]));
        free(bl->gated[g]);
        bl->gated[g] = calloc(words ? words : 1, sizeof(uint64_t));
        if (bl->gated[g] == NULL)
            return -ENOMEM;
    }
    for (g = 0; g < 2; g++) {
        PCRE2_SIZE eo;
        int ec;

        for (len = 0, n = 0, i = 0; i < bl->nres; i++) {
            const struct bl_re *r = &bl->res[i];

            if (r->always && r->gate_len > 0 && re_anchored(r->code) == (g == 0)) {
                len += r->gate_len + 5;
                n++;
            }
        }
        if (n < 2)
            continue;
        m = malloc(len);
        if (m == NULL)
            return -ENOMEM;
        for (len = 0, i = 0; i < bl->nres; i++) {
            const struct bl_re *r = &bl->res[i];

            if (!r->always || r->gate_len == 0 || re_anchored(r->code) != (g == 0))
                continue;
            if (len > 0)
                m[len++] = '|';
            memcpy(m + len, "(?:", 3);
            memcpy(m + len + 3, bl->gate_text.p + r->gate_off, r->gate_len);
            len += r->gate_len + 3;
            m[len++] = ')';
        }
        bl->gate[g] = pcre2_compile((PCRE2_SPTR)m, len, PCRE2_CASELESS, &ec, &eo, NULL);
        free(m);
        if (bl->gate[g] == NULL)
            continue;
        (void)pcre2_jit_compile(bl->gate[g], PCRE2_JIT_COMPLETE);
        for (i = 0; i < bl->nres; i++) {
            const struct bl_re *r = &bl->res[i];

            if (r->always && r->gate_len > 0 && re_anchored(r->code) == (g == 0)) {
                bl->gated[g][i >> 6] |= (uint64_t)1 << (i & 63);
                bl->always[i >> 6] &= ~((uint64_t)1 << (i & 63));
                bl_set_add(&bl->gate_cats[g], r->cat);
            }
        }
    }
    return 0;
}

/* Hash the literals, size the candidate marks: end of every load. */
int bl_lit_index(struct flt_bl *bl)
{
    size_t t, i, words = (bl->nres + 63) / 64;
    uint64_t *m;

    for (t = 0; t < 3; t++) {
        struct bl_litab *tab = &bl->ltab[t];
        size_t cnt = 0;

        free(tab->head);
        tab->head = NULL;
        tab->n = 0;
        for (i = 0; i < bl->nlits; i++)
            cnt += (bl->lits[i].len < 4 ? bl->lits[i].len : 4) == t + 2;
        if (cnt == 0)
            continue;
        for (tab->bits = 4; ((size_t)1 << tab->bits) < cnt * 2; tab->bits++)
            ;
        tab->head = calloc((size_t)1 << tab->bits, sizeof(*tab->head));
        if (tab->head == NULL)
            return -ENOMEM;
        tab->n = cnt;
        for (i = 0; i < bl->nlits; i++) {
            struct bl_lit *l = &bl->lits[i];
            uint32_t h;

            if ((l->len < 4 ? l->len : 4) != t + 2)
                continue;
            h = lit_slot(l->key, tab->bits);
            l->next = tab->head[h];
            tab->head[h] = (uint32_t)i + 1;
        }
    }
    m = realloc(bl->marks, (words ? words : 1) * sizeof(*m));
    if (m == NULL)
        return -ENOMEM;
    memset(m, 0, (words ? words : 1) * sizeof(*m));
    bl->marks = m;
    m = realloc(bl->always, (words ? words : 1) * sizeof(*m));
    if (m == NULL)
        return -ENOMEM;
    memset(m, 0, (words ? words : 1) * sizeof(*m));
    for (i = 0; i < bl->nres; i++)
        if (bl->res[i].always)
            m[i >> 6] |= (uint64_t)1 << (i & 63);
    bl->always = m;
    return gate_index(bl);
}

static inline void lit_probe(const struct flt_bl *bl, unsigned t,
                             uint32_t key, const char *s, size_t n, size_t i)
{
    const struct bl_litab *tab = &bl->ltab[t];
    uint32_t e;
    size_t j;

    if (tab->n == 0)
        return;
    for (e = tab->head[lit_slot(key, tab->bits)]; e != 0;
         e = bl->lits[e - 1].next) {
        const struct bl_lit *l = &bl->lits[e - 1];
        const char *w = bl->lit_text.p + l->off;

        if (l->key != key || l->len > n - i)
            continue;
        for (j = t + 2; j < l->len && sl_lower(s[i + j]) == w[j]; j++)
            ;
        if (j == l->len)
            bl->marks[l->re >> 6] |= (uint64_t)1 << (l->re & 63);
    }
}

/* Mark the expressions whose literals occur in s[0..n). */
static void lit_scan(const struct flt_bl *bl, const char *s, size_t n)
{
    size_t i;

    for (i = 0; i + 2 <= n; i++) {
        uint32_t k = (uint32_t)(unsigned char)sl_lower(s[i]) << 8
                     | (unsigned char)sl_lower(s[i + 1]);

        lit_probe(bl, 0, k, s, n, i);
        if (i + 3 > n)
            continue;
        k = k << 8 | (unsigned char)sl_lower(s[i + 2]);
        lit_probe(bl, 1, k, s, n, i);
        if (i + 4 > n)
            continue;
        k = k << 8 | (unsigned char)sl_lower(s[i + 3]);
        lit_probe(bl, 2, k, s, n, i);
    }
}

/* --- expressions: compiling --------------------------------------------- */

/*
 * Can p be wrapped as "(?:p)" among other alternatives and mean the same?
 * Not when it refers to groups by number (renumbered by the merge), uses
 * verbs that act across alternatives ((*COMMIT), (*SKIP)...), start-of-
 * pattern options, \Q (which could swallow the rest) or # (an extended-
 * mode comment would swallow the closing parenthesis).
 */
static int re_mergeable(const pcre2_code *code, const char *p, size_t n)
{
    uint32_t br = 0;
    size_t i;

    if (pcre2_pattern_info(code, PCRE2_INFO_BACKREFMAX, &br) != 0 || br != 0)
        return 0;
    for (i = 0; i < n; i++) {
        char c = p[i], d = i + 1 < n ? p[i + 1] : '\0';
        char e = i + 2 < n ? p[i + 2] : '\0';

        if (c == '#')
            return 0;
        if (c == '\\') {
            /* \1..\9: alone an octal escape when there are fewer groups,
             * merged a back reference to another branch's group. */
            if (d == 'Q' || d == 'E' || d == 'g' || d == 'k' || (d >= '1' && d <= '9'))
                return 0;
            i++;
            continue;
        }
        if (c == '(' && d == '*')
            return 0;
        if (c == '(' && d == '?'
            && (sl_is_digit(e) || e == 'R' || e == '+' || e == '-'))
            return 0;
    }
    return 1;
}

static void re_account(struct flt_bl *bl, const pcre2_code *code)
{
    size_t sz = 0, jsz = 0;

    pcre2_pattern_info(code, PCRE2_INFO_SIZE, &sz);
    pcre2_pattern_info(code, PCRE2_INFO_JITSIZE, &jsz);
    bl->re_bytes += sz + jsz;
}

/*
 * Keep a compiled expression (the list owns code from here on success).
 * With q and set, it runs only when one of those literals occurs.
 */
static int re_push(struct flt_bl *bl, pcre2_code *code, unsigned cat,
                   const struct bl_rq *q, const struct bl_rq_set *set,
                   const char *gtext, size_t glen)
{
    struct bl_re *r;
    uint32_t goff = 0;
    size_t i;

    if (bl->nres == bl->res_cap) {
        size_t cap = bl->res_cap ? bl->res_cap * 2 : 16;

        r = realloc(bl->res, cap * sizeof(*r));
        if (r == NULL)
            return -ENOMEM;
        bl->res = r;
        bl->res_cap = cap;
    }
    if (bl->nres >= UINT32_MAX)
        return -ENOMEM;
    for (i = 0; set != NULL && i < set->count; i++) {
        const struct bl_rq_lit *l = &q->lits[set->first + i];

        if (lit_add(bl, q->text + l->off, l->len, bl->nres) != 0)
            return -ENOMEM;
    }
    if (set == NULL && gtext != NULL
        && (glen > UINT32_MAX || bl_arena_put(&bl->gate_text, gtext, glen, 0, &goff) != 0))
        return -ENOMEM;
    /* Without JIT support the interpreter runs the same pattern. */
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    r = &bl->res[bl->nres++];
    r->code = code;
    r->cat = cat;
    r->always = set == NULL;
    r->gate_off = goff;
    r->gate_len = goff ? (uint32_t)glen : 0;
    re_account(bl, code);
    bl_set_add(&bl->has_re, cat);
    return 0;
}

/* The match-time state, made once: matching then allocates nothing. */
int bl_re_state(struct flt_bl *bl)
{
    if (bl->md != NULL)
        return 0;
    bl->md = pcre2_match_data_create(1, NULL);
    bl->mctx = pcre2_match_context_create(NULL);
    bl->jstack = pcre2_jit_stack_create(32 * 1024, BL_JIT_STACK_MAX, NULL);
    if (bl->md == NULL || bl->mctx == NULL || bl->jstack == NULL)
        return -ENOMEM;
    pcre2_set_match_limit(bl->mctx, BL_MATCH_LIMIT);
    pcre2_set_depth_limit(bl->mctx, BL_DEPTH_LIMIT);
    pcre2_jit_stack_assign(bl->mctx, NULL, bl->jstack);
    return 0;
}

/* "(?:a)|(?:b)|..." from the chunk into *out (malloc'd), its length or 0. */
static size_t re_join(const struct bl_pat *pats, const size_t *chunk,
                      size_t nchunk, const char *text, char **out)
{
    size_t len = 0, j;
    char *m;

    for (j = 0; j < nchunk; j++)
        len += pats[chunk[j]].len + 5;
    m = malloc(len);
    if (m == NULL)
        return 0;
    for (len = 0, j = 0; j < nchunk; j++) {
        const struct bl_pat *p = &pats[chunk[j]];

        if (j > 0)
            m[len++] = '|';
        memcpy(m + len, "(?:", 3);
        memcpy(m + len + 3, text + p->off, p->len);
        len += p->len + 3;
        m[len++] = ')';
    }
    *out = m;
    return len;
}

/* Keep the chunk as one merged expression; 1 when it does not compile
 * (the caller keeps them apart), 0, or -ENOMEM. */
static int re_merge(struct flt_bl *bl, const struct bl_pat *pats,
                    const size_t *chunk, size_t nchunk, const char *text,
                    unsigned cat)
{
    pcre2_code *code;
    PCRE2_SIZE eo;
    size_t len;
    char *m;
    int ec, rc;

    len = re_join(pats, chunk, nchunk, text, &m);
    if (len == 0)
        return -ENOMEM;
    code = pcre2_compile((PCRE2_SPTR)m, len, PCRE2_CASELESS, &ec, &eo, NULL);
    rc = code == NULL ? 1 : re_push(bl, code, cat, NULL, NULL, m, len);
    if (rc < 0)
        pcre2_code_free(code);
    free(m);
    return rc;
}

/* Keep a run of mergeable patterns: merged when it compiles, else each
 * alone. Takes their codes (see bl_re_commit). */
static int re_flush(struct flt_bl *bl, struct bl_pat *pats, size_t *chunk,
                    size_t *nchunk, const char *text, unsigned cat)
{
    size_t j, n = *nchunk;
    int rc = 1;

    *nchunk = 0;
    if (n > 1)
        rc = re_merge(bl, pats, chunk, n, text, cat);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        for (j = 0; j < n; j++) {
            pcre2_code_free(pats[chunk[j]].code);
            pats[chunk[j]].code = NULL;
        }
        return 0;
    }
    for (rc = 0, j = 0; j < n && rc == 0; j++) {
        struct bl_pat *p = &pats[chunk[j]];

        rc = re_push(bl, p->code, cat, NULL, NULL, text + p->off, p->len);
        if (rc == 0)
            p->code = NULL;
    }
    return rc;
}

/*
 * Keep a file's patterns (each alone was already compiled, to report its
 * own line). Patterns with required literals stay alone behind the
 * literal scan; the others are merged in runs of up to FLT_BL_MERGE_MAX
 * when re_mergeable() says the meaning survives (a merge that does not
 * compile keeps them alone). Anchored and unanchored patterns go to
 * separate runs: a run that mixes them is tried at every offset, one of
 * anchored patterns only at the start. The file's patterns share one
 * category, so the order they run in does not change the answer. Takes
 * the codes in pats (kept or freed; the caller frees those left non-NULL
 * after an error).
 */
int bl_re_commit(struct flt_bl *bl, struct bl_pat *pats, size_t npats,
                 const char *text, unsigned cat)
{
    struct bl_rq q;
    struct bl_rq_set set;
    size_t i, *chunk[2], nchunk[2] = { 0, 0 }, a;
    int rc = 0;

    memset(&q, 0, sizeof(q));
    chunk[0] = malloc((npats ? npats : 1) * sizeof(size_t));
    chunk[1] = malloc((npats ? npats : 1) * sizeof(size_t));
    if (chunk[0] == NULL || chunk[1] == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    for (i = 0; i < npats && rc == 0; i++) {
        set = bl_rq_unknown;
        if (FLT_BL_PREFILTER)
            set = bl_rq_analyze(&q, text + pats[i].off, pats[i].len);
        if (!set.any) {
            rc = re_push(bl, pats[i].code, cat, &q, &set, NULL, 0);
            if (rc == 0)
                pats[i].code = NULL;
        } else if (FLT_BL_MERGE_MAX > 1
                   && re_mergeable(pats[i].code, text + pats[i].off, pats[i].len)) {
            a = re_anchored(pats[i].code) ? 0 : 1;
            chunk[a][nchunk[a]++] = i;
            if (nchunk[a] == FLT_BL_MERGE_MAX)
                rc = re_flush(bl, pats, chunk[a], &nchunk[a], text, cat);
        } else {
            rc = re_push(bl, pats[i].code, cat, NULL, NULL, NULL, 0);
            if (rc == 0)
                pats[i].code = NULL;
        }
    }
    for (a = 0; a < 2 && rc == 0; a++)
        if (nchunk[a] > 0)
            rc = re_flush(bl, pats, chunk[a], &nchunk[a], text, cat);
out:
    free(chunk[0]);
    free(chunk[1]);
    bl_rq_free(&q);
    return rc;
}

/* Room for one more pattern and text of tlen bytes in all. */
int bl_pat_room(struct bl_pat **pats, size_t *cap, size_t npats,
                char **text, size_t *tcap, size_t tlen)
{
    size_t c;
    void *p;

    if (npats == *cap) {
        c = *cap ? *cap * 2 : 64;
        p = realloc(*pats, c * sizeof(**pats));
        if (p == NULL)
            return -ENOMEM;
        *pats = p;
        *cap = c;
    }
    if (tlen > *tcap) {
        for (c = *tcap ? *tcap : 4096; c < tlen; c *= 2)
            ;
        p = realloc(*text, c);
        if (p == NULL)
            return -ENOMEM;
        *text = p;
        *tcap = c;
    }
    return 0;
}

/* --- expressions: matching ---------------------------------------------- */

static inline unsigned ctz64(uint64_t x)
{
#if defined(__GNUC__) || defined(__clang__)
    return (unsigned)__builtin_ctzll(x);
#else
    unsigned n = 0;

    while (!(x & 1)) {
        x >>= 1;
        n++;
    }
    return n;
#endif
}

/*
 * The category of the first expression, in list order, that is wanted and
 * matches the URL (the host when url is NULL), or -1. Only the candidates
 * of the literal scan and the expressions without literals run.
 */
int bl_re_match(const struct flt_bl *bl, const struct flt_bl_set *want,
                const char *host, size_t host_len,
                const char *url, size_t url_len)
{
    const char *subj;
    size_t slen, k, g;
    int c, gopen[2];

    if (bl->nres == 0 || !bl_set_meets(want, &bl->has_re))
        return -1;
    subj = url != NULL ? url : host;
    slen = url != NULL ? url_len : host_len;
    if (subj == NULL)
        return -1;
    if (bl->nlits > 0)
        lit_scan(bl, subj, slen);
    /* A gate that does not match rules out all it covers; an error (a
     * limit reached) rules out nothing. */
    for (g = 0; g < 2; g++)
        gopen[g] = bl->gate[g] != NULL && bl_set_meets(want, &bl->gate_cats[g])
                  && pcre2_match(bl->gate[g], (PCRE2_SPTR)subj, slen, 0, 0,
                                 bl->md, bl->mctx) != PCRE2_ERROR_NOMATCH;
    c = -1;
    /* The candidates, in list order: a walk over set bits, not over
     * every expression. */
    for (k = 0; k < (bl->nres + 63) / 64 && c < 0; k++) {
        uint64_t bits = bl->marks[k] | bl->always[k]
                        | (gopen[0] ? bl->gated[0][k] : 0)
                        | (gopen[1] ? bl->gated[1][k] : 0);

        while (bits != 0 && c < 0) {
            const struct bl_re *r = &bl->res[k * 64 + ctz64(bits)];

            bits &= bits - 1;
            /* An error (a limit reached) is a match, as for the gates:
             * the category is reported rather than the URL let through. */
            if (bl_set_has(want, r->cat)
                && pcre2_match(r->code, (PCRE2_SPTR)subj, slen, 0, 0,
                               bl->md, bl->mctx) != PCRE2_ERROR_NOMATCH)
                c = (int)r->cat;
        }
    }
    if (bl->nlits > 0)
        memset(bl->marks, 0, (bl->nres + 63) / 64 * sizeof(*bl->marks));
    return c;
}
