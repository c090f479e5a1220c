/*
 * bl_rq.c - what a blocklist expression requires: reads a PCRE2 pattern
 * (not compiles it) for a set of literals one of which every match must
 * contain, so that bl_expr.c can skip the expressions whose literals are
 * not in the URL. Apart from bl_expr.c because it is a small regex reader
 * of its own, with no PCRE2 and no list state: pattern text in, strings
 * out.
 *
 * PCRE2 costs 20 to 100 ns per pattern and URL even with JIT, merged or
 * not: a thousand expressions would cost ~100 us per request. So each
 * pattern is read once at load for a set of literals one of which every
 * match must contain ("(^|[-/_])(porn|sexy?)($|[-/_])" needs "porn" or
 * "sex"); matching scans the URL once for all literals of all patterns
 * and runs only the patterns whose literals showed up, plus those without
 * a usable set (which are the ones merged into alternations).
 *
 * The reader is conservative: any construct it does not know (back
 * references, \Q, \x, recursion, conditionals, extended mode, odd braces)
 * gives "no requirement", never a wrong one. Case is ignored throughout:
 * patterns compile caseless, literals and the scanned URL are lowercase.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filters/bl_int.h"

#define RQ_LIT_MAX 32           /* longest literal kept */
#define RQ_SET_MAX 256          /* strings in a set (a large alternation) */
#define RQ_CROSS_MAX 64         /* strings a concatenation may multiply to */
#define RQ_CLASS_MAX 8          /* [abc] up to this size is a set of strings */
#define RQ_DEPTH_MAX 32
#define RQ_BUDGET (1u << 20)    /* bytes of work space per pattern */

enum rq_kind { RQ_ITEM, RQ_NOTHING };

/*
 * What is known of an item: exact, the strings it can consume (when few
 * and short); req, strings one of which it always consumes.
 */
struct bl_rq_info {
    struct bl_rq_set exact, req;
};

const struct bl_rq_set bl_rq_unknown = { 0, 0, 0, 1 };

static void *rq_grow(struct bl_rq *q, void *p, size_t *cap, size_t need,
                     size_t size)
{
    size_t c = *cap ? *cap : 64;
    void *np;

    if (need <= *cap)
        return p;
    while (c < need)
        c *= 2;
    np = c * size <= RQ_BUDGET ? realloc(p, c * size) : NULL;
    if (np == NULL) {
        q->fail = 1;                /* out of budget: "no requirement" */
        return p;
    }
    *cap = c;
    return np;
}

/* A new set holding one string: a followed by b (offsets into text). */
static int rq_str(struct bl_rq *q, size_t a, size_t la, size_t b, size_t lb)
{
    q->text = rq_grow(q, q->text, &q->tcap, q->tlen + la + lb, 1);
    q->lits = rq_grow(q, q->lits, &q->lcap, q->nlits + 1, sizeof(*q->lits));
    if (q->fail)
        return -1;
    if (la > 0)
        memmove(q->text + q->tlen, q->text + a, la);
    if (lb > 0)
        memmove(q->text + q->tlen + la, q->text + b, lb);
    q->lits[q->nlits].off = (uint32_t)q->tlen;
    q->lits[q->nlits].len = (uint32_t)(la + lb);
    q->nlits++;
    q->tlen += la + lb;
    return 0;
}

/* A set of single strings, one per byte of s. */
static struct bl_rq_set rq_chars(struct bl_rq *q, const char *s, size_t n)
{
    struct bl_rq_set r = { q->nlits, n, n ? 1 : 0, 0 };
    size_t i;

    q->text = rq_grow(q, q->text, &q->tcap, q->tlen + n, 1);
    q->lits = rq_grow(q, q->lits, &q->lcap, q->nlits + n, sizeof(*q->lits));
    if (q->fail)
        return bl_rq_unknown;
    for (i = 0; i < n; i++) {
        q->text[q->tlen] = sl_lower(s[i]);
        q->lits[q->nlits].off = (uint32_t)q->tlen++;
        q->lits[q->nlits++].len = 1;
    }
    return r;
}

static struct bl_rq_set rq_empty(struct bl_rq *q)
{
    struct bl_rq_set r = { q->nlits, 1, 0, 0 };

    if (rq_str(q, 0, 0, 0, 0) != 0)
        return bl_rq_unknown;
    return r;
}

/* Every string of a followed by every string of b, if few and short. */
static struct bl_rq_set rq_cross(struct bl_rq *q, struct bl_rq_set a,
                                 struct bl_rq_set b)
{
    struct bl_rq_set r = { q->nlits, a.count * b.count, SIZE_MAX, 0 };
    size_t i, j;

    if (a.any || b.any || r.count > RQ_CROSS_MAX
        || r.count == 0)
        return bl_rq_unknown;
    for (i = 0; i < a.count; i++)
        for (j = 0; j < b.count; j++) {
            struct bl_rq_lit x = q->lits[a.first + i];
            struct bl_rq_lit y = q->lits[b.first + j];

            if (x.len + y.len > RQ_LIT_MAX
                || rq_str(q, x.off, x.len, y.off, y.len) != 0)
                return bl_rq_unknown;
            if (x.len + y.len < r.minlen)
                r.minlen = x.len + y.len;
        }
    return r;
}

/* Sets a then b in one range (copies of the entries, not of the text). */
static struct bl_rq_set rq_join(struct bl_rq *q, struct bl_rq_set a,
                                struct bl_rq_set b)
{
    struct bl_rq_set r = { q->nlits, a.count + b.count,
                        a.minlen < b.minlen ? a.minlen : b.minlen, 0 };
    size_t i;

    if (a.any || b.any || r.count > RQ_SET_MAX)
        return bl_rq_unknown;
    q->lits = rq_grow(q, q->lits, &q->lcap, q->nlits + r.count,
                      sizeof(*q->lits));
    if (q->fail)
        return bl_rq_unknown;
    for (i = 0; i < a.count; i++)
        q->lits[q->nlits++] = q->lits[a.first + i];
    for (i = 0; i < b.count; i++)
        q->lits[q->nlits++] = q->lits[b.first + i];
    return r;
}

/* Words found in most URLs: a literal made of them selects little. */
static const char *const rq_common[] = {
    "www", "com", "net", "org", "http", "https", "html", "htm", "php", "asp",
    "index", "jpg", "jpeg", "png", "gif", "css", "js", "cdn", "img", "static",
    NULL
};

static inline int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
           || (unsigned char)c >= 0x80;
}

/*
 * How selective a set is: the letters and digits of its poorest string.
 * Punctuation counts for nothing and a common word for 1: ".com/" and
 * ".jpg" are in a large share of all URLs, "/ka/" is not.
 */
static size_t rq_score(const struct bl_rq *q, struct bl_rq_set s)
{
    size_t i, j, k, w, min = SIZE_MAX;

    for (i = 0; i < s.count; i++) {
        const struct bl_rq_lit *l = &q->lits[s.first + i];
        const char *t = q->text + l->off;

        for (k = 0, j = 0; j < l->len; j = w) {
            size_t c;

            for (w = j; w < l->len && is_alnum(t[w]); w++)
                ;
            if (w == j) {
                w++;
                continue;
            }
            for (c = 0; rq_common[c] != NULL; c++)
                if (strlen(rq_common[c]) == w - j
                    && memcmp(rq_common[c], t + j, w - j) == 0)
                    break;
            k += rq_common[c] != NULL ? 1 : w - j;
        }
        if (k < min)
            min = k;
    }
    return min;
}

/* The more selective requirement: better score, then longer, then fewer. */
static struct bl_rq_set rq_better(const struct bl_rq *q,
                                  struct bl_rq_set best, struct bl_rq_set c)
{
    size_t sb, sc;

    if (c.any || c.minlen < 2)
        return best;
    if (best.any)
        return c;
    sb = rq_score(q, best);
    sc = rq_score(q, c);
    if (sc != sb)
        return sc > sb ? c : best;
    if (c.minlen > best.minlen
        || (c.minlen == best.minlen && c.count < best.count))
        return c;
    return best;
}

/* A quantifier after an atom: its bounds (max 0 means unbounded). */
static void rq_quant(struct bl_rq *q, unsigned long *min, unsigned long *max)
{
    const char *p = q->p;
    size_t i = q->i, n = q->n;

    *min = *max = 1;
    if (i < n && (p[i] == '*' || p[i] == '?' || p[i] == '+')) {
        *min = p[i] == '+';
        *max = p[i] == '?';
        i++;
    } else if (i < n && p[i] == '{') {
        /* Only {n}, {n,} and {n,m}: other braces are literal in some PCRE2
         * versions and quantifiers in others. */
        if (++i >= n || p[i] < '0' || p[i] > '9') {
            q->fail = 1;
            return;
        }
        for (*min = 0; i < n && sl_is_digit(p[i]) && *min < 65536; i++)
            *min = *min * 10 + (unsigned long)(p[i] - '0');
        *max = *min;
        if (i < n && p[i] == ',') {
            *max = 0;
            for (i++; i < n && sl_is_digit(p[i]) && *max < 65536; i++)
                *max = *max * 10 + (unsigned long)(p[i] - '0');
        }
        if (i >= n || p[i] != '}') {
            q->fail = 1;
            return;
        }
        i++;
    } else {
        return;
    }
    if (i < n && (p[i] == '?' || p[i] == '+'))
        i++;                        /* lazy, possessive */
    q->i = i;
}

static struct bl_rq_info rq_alt(struct bl_rq *q, unsigned depth);

/* A parenthesised item at q->i. */
static enum rq_kind rq_group(struct bl_rq *q, unsigned depth,
                             struct bl_rq_info *it)
{
    const char *p = q->p;
    size_t i = q->i + 1, n = q->n;
    int zero = 0;

    if (depth >= RQ_DEPTH_MAX || (i < n && p[i] == '*'))
        goto fail;
    if (i < n && p[i] == '?') {
        char c = ++i < n ? p[i] : '\0';

        if (c == ':' || c == '>' || c == '|') {
            i++;
        } else if (c == '=' || c == '!') {
            i++;
            zero = 1;
        } else if (c == '<' && i + 1 < n
                   && (p[i + 1] == '=' || p[i + 1] == '!')) {
            i += 2;
            zero = 1;
        } else if (c == '<' || c == '\''
                   || (c == 'P' && i + 1 < n && p[i + 1] == '<')) {
            char close = c == '\'' ? '\'' : '>';

            i += c == 'P' ? 2 : 1;  /* a named group */
            while (i < n && p[i] != close)
                i++;
            if (i++ >= n)
                goto fail;
        } else {
            /* (?flags) or (?flags:...); x would change what a blank is. */
            while (i < n && p[i] != ')' && p[i] != ':') {
                if (strchr("imnsUJ-^", p[i]) == NULL)
                    goto fail;
                i++;
            }
            if (i >= n)
                goto fail;
            if (p[i] == ')') {
                q->i = i + 1;
                return RQ_NOTHING;
            }
            i++;
        }
    }
    q->i = i;
    *it = rq_alt(q, depth + 1);
    if (q->fail || q->i >= n || p[q->i] != ')')
        goto fail;
    q->i++;
    if (zero) {
        /* A lookaround consumes nothing, whatever it looks at. */
        it->exact = rq_empty(q);
        it->req = bl_rq_unknown;
    }
    return RQ_ITEM;

fail:
    q->fail = 1;
    return RQ_ITEM;
}

/* A bracketed class at q->i: a few plain bytes make a set. */
static void rq_class(struct bl_rq *q, struct bl_rq_info *it)
{
    const char *p = q->p;
    size_t n = q->n, start = q->i + 1, i = start, k = 0;
    char m[RQ_CLASS_MAX];
    int plain = 1;

    if (i < n && p[i] == '^') {
        plain = 0;
        i++;
    }
    if (i < n && p[i] == ']')
        i++;
    while (i < n && p[i] != ']') {
        if (p[i] == '\\') {
            if (i + 1 >= n || p[i + 1] == 'Q' || p[i + 1] == 'E') {
                q->fail = 1;
                return;
            }
            i += 2;
        } else if (p[i] == '[' && i + 1 < n && p[i + 1] == ':') {
            for (i += 2; i + 1 < n && !(p[i] == ':' && p[i + 1] == ']'); i++)
                ;
            if (i + 1 >= n) {
                q->fail = 1;
                return;
            }
            i += 2;
            plain = 0;
        } else {
            i++;
        }
    }
    if (i >= n) {
        q->fail = 1;
        return;
    }
    q->i = i + 1;
    /* Members: bytes and escaped punctuation; '-' only at an edge. */
    for (i = start; plain && i < q->i - 1; i++) {
        char c = p[i];

        if (c == '\\') {
            c = p[++i];
            if (sl_is_alnum(c))
                plain = 0;
        } else if (c == '-' && i != start && i + 1 != q->i - 1) {
            plain = 0;              /* a range */
        } else if (c == '[') {
            plain = 0;
        }
        if (plain && k == RQ_CLASS_MAX)
            plain = 0;
        else if (plain)
            m[k++] = c;
    }
    if (plain && k > 0) {
        it->exact = rq_chars(q, m, k);
        it->req = it->exact;
    }
}

/* One item at q->i into *it (unknown unless set). */
static enum rq_kind rq_atom(struct bl_rq *q, unsigned depth,
                            struct bl_rq_info *it)
{
    const char *p = q->p;
    size_t n = q->n;
    char c = p[q->i], d;

    it->exact = it->req = bl_rq_unknown;
    switch (c) {
    case '(':
        return rq_group(q, depth, it);
    case '[':
        rq_class(q, it);
        return RQ_ITEM;
    case '.':
        q->i++;
        return RQ_ITEM;
    case '^':
    case '$':
        q->i++;
        it->exact = rq_empty(q);    /* consumes nothing */
        return RQ_ITEM;
    case '{':
    case '*':
    case '+':
    case '?':
        q->fail = 1;
        return RQ_ITEM;
    case '\\':
        if (q->i + 1 >= n) {
            q->fail = 1;
            return RQ_ITEM;
        }
        d = p[q->i + 1];
        q->i += 2;
        if (!sl_is_alnum(d)) {
            it->exact = it->req = rq_chars(q, &d, 1);   /* punctuation */
            return RQ_ITEM;
        }
        if (strchr("dDwWsShHvVR", d) != NULL
            || (d == 'N' && (q->i >= n || p[q->i] != '{')))
            return RQ_ITEM;
        if (strchr("bBAzZGK", d) != NULL) {
            it->exact = rq_empty(q);
            return RQ_ITEM;
        }
        if (strchr("tnrfea", d) != NULL) {
            d = d == 't' ? '\t' : d == 'n' ? '\n' : d == 'r' ? '\r'
              : d == 'f' ? '\f' : d == 'e' ? '\033' : '\a';
            it->exact = it->req = rq_chars(q, &d, 1);
            return RQ_ITEM;
        }
        q->fail = 1;                /* \x, \1, \Q, \p, \g, \k, \c... */
        return RQ_ITEM;
    default:
        q->i++;
        it->exact = it->req = rq_chars(q, &c, 1);
        return RQ_ITEM;
    }
}

/*
 * One branch. E holds the strings the items since the last break can
 * consume together (a cross product while it stays small); a break
 * offers E as a requirement and starts again.
 */
static struct bl_rq_info rq_seq(struct bl_rq *q, unsigned depth)
{
    struct bl_rq_info out, it;
    struct bl_rq_set best = bl_rq_unknown, e = rq_empty(q), x, y, z;
    int exact = 1;

    while (q->i < q->n && !q->fail) {
        unsigned long min, max;

        if (q->p[q->i] == '|' || q->p[q->i] == ')')
            break;
        if (rq_atom(q, depth, &it) == RQ_NOTHING)
            continue;
        if (q->fail)
            break;
        rq_quant(q, &min, &max);
        if (q->fail)
            break;
        x = it.exact;
        y = bl_rq_unknown;
        if (!x.any && min == 1 && max == 1)
            y = x;
        else if (!x.any && min == 0 && max == 1)
            y = rq_join(q, x, rq_empty(q));
        else if (!x.any && min == max && min >= 2 && min <= 4)
            for (y = x; min-- > 1;)
                y = rq_cross(q, y, x);
        if (!y.any) {
            z = rq_cross(q, e, y);
            if (z.any) {
                best = rq_better(q, best, e);
                e = y;
                exact = 0;
            } else {
                e = z;
            }
            continue;
        }
        /* The run breaks here. "ab+c" still requires "ab" and "bc". */
        exact = 0;
        if (!x.any && min >= 1) {
            z = rq_cross(q, e, x);
            best = rq_better(q, best, z.any ? e : z);
            best = rq_better(q, best, x);
            e = x;
            continue;
        }
        best = rq_better(q, best, e);
        if (min >= 1)
            best = rq_better(q, best, it.req);
        e = rq_empty(q);
    }
    best = rq_better(q, best, e);
    out.req = best;
    out.exact = exact ? e : bl_rq_unknown;
    return out;
}

/* Branches: the union of their sets, unless one is unknown. */
static struct bl_rq_info rq_alt(struct bl_rq *q, unsigned depth)
{
    size_t base = q->nstk, i;
    struct bl_rq_info u, s;

    for (;;) {
        s = rq_seq(q, depth);
        if (q->fail)
            break;
        q->stk = rq_grow(q, q->stk, &q->scap, q->nstk + 1, sizeof(*q->stk));
        if (q->fail)
            break;
        q->stk[q->nstk++] = s;
        if (q->i >= q->n || q->p[q->i] != '|')
            break;
        q->i++;
    }
    u.exact = u.req = bl_rq_unknown;
    if (q->fail) {
        q->nstk = base;
        return u;
    }
    u = q->stk[base];
    for (i = base + 1; i < q->nstk; i++) {
        u.exact = rq_join(q, u.exact, q->stk[i].exact);
        u.req = rq_join(q, u.req, q->stk[i].req);
    }
    q->nstk = base;
    return u;
}

static int rq_contains(const struct bl_rq *q, struct bl_rq_lit big,
                       struct bl_rq_lit small)
{
    size_t i;

    for (i = 0; i + small.len <= big.len; i++)
        if (memcmp(q->text + big.off + i, q->text + small.off, small.len) == 0)
            return 1;
    return 0;
}

/*
 * Drop the strings that contain another string of the set (and repeats):
 * whenever one of them occurs, the shorter one does too, so the set finds
 * the same candidates with fewer entries.
 */
static struct bl_rq_set rq_prune(struct bl_rq *q, struct bl_rq_set s)
{
    struct bl_rq_set r = { q->nlits, 0, s.minlen, 0 };
    size_t i, j;

    q->lits = rq_grow(q, q->lits, &q->lcap, q->nlits + s.count,
                      sizeof(*q->lits));
    if (q->fail)
        return s;
    for (i = 0; i < s.count; i++) {
        struct bl_rq_lit a = q->lits[s.first + i];

        for (j = 0; j < s.count; j++) {
            struct bl_rq_lit b = q->lits[s.first + j];

            if (j != i && (b.len < a.len || (b.len == a.len && j < i))
                && rq_contains(q, a, b))
                break;
        }
        if (j == s.count)
            q->lits[q->nlits++] = a;
    }
    r.count = q->nlits - r.first;
    return r;
}

/* The literals of pattern p (n bytes) that every match contains one of;
 * any = 1 when there is no such set worth using. */
struct bl_rq_set bl_rq_analyze(struct bl_rq *q, const char *p, size_t n)
{
    struct bl_rq_info it;

    q->p = p;
    q->n = n;
    q->i = 0;
    q->fail = 0;
    q->tlen = q->nlits = q->nstk = 0;
    it = rq_alt(q, 0);
    if (q->fail || q->i != n || it.req.any || it.req.minlen < 2)
        return bl_rq_unknown;
    return rq_prune(q, it.req);
}

void bl_rq_free(struct bl_rq *q)
{
    free(q->text);
    free(q->lits);
    free(q->stk);
}
