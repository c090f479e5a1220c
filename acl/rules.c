/*
 * rules.c - named ACLs and http_access rules (see rules.h): the set, its
 * definitions (from config values or list files) and the evaluation of the
 * rules; also the two containers ACLs are built from (a string hash set and
 * a list of regex alternations). The types themselves live in match.c.
 *
 * Evaluation, for each rule in order:
 *
 *     ACL 1 --match--> ACL 2 --match--> ... --all matched--> rule's action
 *       |                 |
 *       +--no match-------+--------------------------------> next rule
 *       +--needs a fact (DST, SNI, AUTH, GROUP)------------> ACL_NEED_*
 *       +--unknown: allow rule ----------------------------> next rule
 *       +--unknown: deny rule: as matched, on to the next ACL
 *
 * ACLs are asked left to right and a rule stops at its first failure, so a
 * fact is only asked for when every ACL before it in its rule matched. "!"
 * inverts a match but not a need (the answer is unknown either way), nor an
 * unknown answer (fail closed: it can only make a deny rule apply).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl/rules.h"
#include "acl/rules_int.h"
#include "squidlike/hash.h"

#define ACL_MAX 4096
#define RULE_MAX 4096
#define RULE_ACLS_MAX 64
#define RX_GROUP_MAX 16384      /* source bytes of one alternation */
#define RX_MERGE_MAX 4096       /* a group keeps growing across definitions
                                   while its source is shorter than this */
/* Bound the work of one pattern on one subject (no unbounded work per
 * request), the limits of the blocklist expressions (filters/bl_expr.c):
 * "^http://[^/]+/(.+)+\.exe" gives up after ~0.4 ms instead of ~25 ms
 * under PCRE2's defaults. PCRE2 counts the match limit per start position,
 * so a pattern that backtracks a little at every position of a long URL
 * still costs up to (URL length x the limit): write patterns anchored. */
#define RX_MATCH_LIMIT 200000
#define RX_DEPTH_LIMIT 10000    /* the interpreter's backtracking depth */
#define RX_JIT_STACK_START (32 * 1024)
#define RX_JIT_STACK_MAX (512 * 1024)

struct acl_term {
    const struct acl *acl;
    int neg;
};

struct acl_rule {
    int deny;
    size_t n;
    struct acl_term *t;
    char *text;                 /* normalised: single blanks */
};

struct acl_rlist {
    struct acl_rule *rules;
    size_t nrules;
};

struct acl_set {
    struct acl **acls;
    size_t nacls;
    struct acl_sset names;      /* name -> index in acls */
    struct acl_rlist lists[ACL_LISTS];  /* http_access, reverse mode's */
    /* Shared by every regex list of the set (see acl_rx_match): built with
     * the set, written only while a pattern runs, so matching stays
     * allocation-free and, on one thread, reentrant. */
    pcre2_match_context *rx_mctx;
    pcre2_jit_stack *rx_jstack;
};

int acl_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}


/* ---- string sets (ACL names here; domains and words in match.c) ----------- */

uint32_t acl_hash(const char *s, size_t len)
{
    uint32_t h = SL_FNV32_INIT;

    while (len--)
        h = sl_fnv32_step(h, (unsigned char)s[len]);
    return h;
}

/* FNV's low bits are weak: mix before masking. */
static size_t sset_slot(uint32_t h, size_t cap)
{
    h ^= h >> 16;
    h *= 0x45d9f3bu;
    h ^= h >> 16;
    return h & (cap - 1);
}

static int sset_grow(struct acl_sset *ss)
{
    size_t ncap = ss->cap ? ss->cap * 2 : 16, i, j;
    struct acl_sset_ent *nt = calloc(ncap, sizeof(*nt));

    if (!nt)
        return -ENOMEM;
    for (i = 0; i < ss->cap; i++) {
        if (!ss->t[i].s)
            continue;
        for (j = sset_slot(ss->t[i].hash, ncap); nt[j].s; j = (j + 1) & (ncap - 1))
            ;
        nt[j] = ss->t[i];
    }
    free(ss->t);
    ss->t = nt;
    ss->cap = ncap;
    return 0;
}

const struct acl_sset_ent *acl_sset_find(const struct acl_sset *ss,
                                         const char *s, size_t len,
                                         uint32_t hash)
{
    size_t j;

    if (ss->n == 0)
        return NULL;
    for (j = sset_slot(hash, ss->cap); ss->t[j].s; j = (j + 1) & (ss->cap - 1)) {
        const struct acl_sset_ent *e = &ss->t[j];
        if (e->hash == hash && e->len == len && memcmp(e->s, s, len) == 0)
            return e;
    }
    return NULL;
}

int acl_sset_add(struct acl_sset *ss, const char *s, size_t len, uint32_t val)
{
    uint32_t h = acl_hash(s, len);
    char *copy;
    size_t j;

    if (acl_sset_find(ss, s, len, h))
        return 0;
    if ((ss->n + 1) * 2 > ss->cap && sset_grow(ss) < 0)
        return -ENOMEM;
    copy = malloc(len + 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, s, len);
    copy[len] = '\0';
    for (j = sset_slot(h, ss->cap); ss->t[j].s; j = (j + 1) & (ss->cap - 1))
        ;
    ss->t[j] = (struct acl_sset_ent){ copy, (uint32_t)len, h, val };
    ss->n++;
    return 1;
}

void acl_sset_free(struct acl_sset *ss)
{
    size_t i;

    for (i = 0; i < ss->cap; i++)
        free(ss->t[i].s);
    free(ss->t);
    memset(ss, 0, sizeof(*ss));
}

/* ---- regex lists (match.c's regex types) --------------------------------- */

int acl_rx_check(const char *v, int icase, char *why, size_t whylen)
{
    PCRE2_UCHAR msg[128];
    PCRE2_SIZE off;
    pcre2_code *c;
    int ec;

    if (*v == '\0')
        return acl_fail(why, whylen, "empty regex");
    c = pcre2_compile((PCRE2_SPTR)v, PCRE2_ZERO_TERMINATED,
                      icase ? PCRE2_CASELESS : 0, &ec, &off, NULL);
    if (c) {
        pcre2_code_free(c);
        return 0;
    }
    pcre2_get_error_message(ec, msg, sizeof(msg));
    return acl_fail(why, whylen, "bad regex \"%s\": %s at offset %zu", v,
                (const char *)msg, (size_t)off);
}

/*
 * Can the valid pattern p be one branch "(?:p)" of an alternation without
 * changing its meaning? Not when it names groups by number or name (the
 * numbers shift), recurses, uses a start-of-pattern verb "(*...)", quotes
 * with \Q (the quote could run over the closing parenthesis) or turns on
 * extended mode (a "#" comment could swallow it). Conservative: a "(?"
 * inside a character class also says no.
 */
static int rx_combinable(const char *p)
{
    for (; *p; p++) {
        if (*p == '\\') {
            if (!p[1] || strchr("123456789gkQ", p[1]))
                return 0;
            p += (p[1] == 'c' && p[2]) ? 2 : 1;     /* \c( is a control char */
        } else if (p[0] == '(' && p[1] == '*') {
            return 0;
        } else if (p[0] == '(' && p[1] == '?') {
            const char *q = p + 2;
            if (*q && strchr(":=!|>#<'", *q))
                continue;
            if (*q == 'P' && q[1] == '<')
                continue;
            /* only option letters: not (?1) (?-1) (?R) (?&n) (?( (?P= */
            for (; *q != ')' && *q != ':'; q++)
                if (*q == 'x' || !(*q == '^' || *q == '-' ||
                                   (*q >= 'a' && *q <= 'z')))
                    return 0;
        }
    }
    return 1;
}

static size_t rx_srclen(const char *const *p, size_t n)
{
    size_t i, len = 0;

    for (i = 0; i < n; i++)
        len += strlen(p[i]) + 5;        /* "|(?:" ... ")" */
    return len ? len - 1 : 0;
}

/* "prefix|(?:p0)|(?:p1)..." in a new string; NULL when out of memory. */
static char *rx_join(const char *prefix, size_t plen, const char *const *p,
                     size_t n, size_t *len)
{
    char *s = malloc(plen + rx_srclen(p, n) + 2), *q = s;
    size_t i, l;

    if (!s)
        return NULL;
    memcpy(q, prefix, plen);
    q += plen;
    for (i = 0; i < n; i++) {
        if (q != s)
            *q++ = '|';
        l = strlen(p[i]);
        memcpy(q, "(?:", 3);
        memcpy(q + 3, p[i], l);
        q[3 + l] = ')';
        q += l + 4;
    }
    *q = '\0';
    *len = (size_t)(q - s);
    return s;
}

/* Compile with the JIT (when it is not available the interpreter runs). */
static pcre2_code *rx_compile(const char *src, size_t len, int icase)
{
    PCRE2_SIZE off;
    pcre2_code *c;
    int ec;

    c = pcre2_compile((PCRE2_SPTR)src, len, icase ? PCRE2_CASELESS : 0, &ec,
                      &off, NULL);
    if (c)
        (void)pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);
    return c;
}

/* Append a compiled group; takes code and src (freed on failure). */
static int rx_push(struct acl_rxlist *l, pcre2_code *code, char *src,
                   size_t srclen, int icase)
{
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    struct acl_rx *nv = md ? realloc(l->v, (l->n + 1) * sizeof(*nv)) : NULL;

    if (!nv) {
        pcre2_match_data_free(md);
        pcre2_code_free(code);
        free(src);
        return -ENOMEM;
    }
    l->v = nv;
    l->v[l->n++] = (struct acl_rx){ code, md, src, srclen, icase };
    return 0;
}

/* Grow the last group with p[0..n) when it is small enough; 1 when done. */
static int rx_merge(struct acl_rxlist *l, const char *const *p, size_t n,
                    int icase)
{
    struct acl_rx *last = l->n ? &l->v[l->n - 1] : NULL;
    pcre2_match_data *md;
    pcre2_code *code;
    size_t len;
    char *src;

    if (!last || !last->src || last->icase != icase ||
        last->srclen >= RX_MERGE_MAX ||
        last->srclen + rx_srclen(p, n) > RX_GROUP_MAX)
        return 0;
    src = rx_join(last->src, last->srclen, p, n, &len);
    code = src ? rx_compile(src, len, icase) : NULL;
    md = code ? pcre2_match_data_create(1, NULL) : NULL;
    if (!md) {
        pcre2_code_free(code);
        free(src);
        return 0;
    }
    pcre2_code_free(last->code);
    pcre2_match_data_free(last->md);
    free(last->src);
    *last = (struct acl_rx){ code, md, src, len, icase };
    return 1;
}

/* One alternation for p[0..n), halved until the compiler accepts it. */
static int rx_group(struct acl_rxlist *l, const char *const *p, size_t n,
                    int icase)
{
    pcre2_code *code;
    size_t len;
    char *src;
    int rc;

    src = rx_join("", 0, p, n, &len);
    if (!src)
        return -ENOMEM;
    code = rx_compile(src, len, icase);
    if (code)
        return rx_push(l, code, src, len, icase);
    free(src);
    if (n == 1)
        return -EINVAL;         /* checked before: cannot happen */
    rc = rx_group(l, p, n / 2, icase);
    return rc < 0 ? rc : rx_group(l, p + n / 2, n - n / 2, icase);
}

int acl_rx_add(struct acl_rxlist *l, const char *const *v, size_t n, int icase)
{
    const char **comb = malloc((n ? n : 1) * sizeof(*comb));
    size_t i, nc = 0, start, len;
    pcre2_code *code;
    int rc = 0;

    if (!comb)
        return -ENOMEM;
    for (i = 0; i < n && rc == 0; i++) {
        if (rx_combinable(v[i])) {
            comb[nc++] = v[i];
            continue;
        }
        code = rx_compile(v[i], strlen(v[i]), icase);
        rc = code ? rx_push(l, code, NULL, 0, icase) : -EINVAL;
    }
    if (rc == 0 && nc && rx_merge(l, comb, nc, icase))
        nc = 0;
    for (start = 0, i = 0, len = 0; rc == 0 && i < nc; i++) {
        len += strlen(comb[i]) + 5;
        if (i + 1 == nc || len + strlen(comb[i + 1]) + 5 > RX_GROUP_MAX) {
            rc = rx_group(l, comb + start, i + 1 - start, icase);
            start = i + 1;
            len = 0;
        }
    }
    free(comb);
    return rc;
}

/*
 * Anything but "no match" counts as a match. Any other result is an error,
 * in practice a limit reached (match or depth limit, JIT stack) on a URL
 * that is long or made to be expensive, and "deny url_regex ..." must not
 * turn into allow because the requester made the URL hard enough: fail
 * closed, the deny rule blocks. The price: an "allow ... re" rule applies
 * on an error too, and a negated "!re" evaluates to false (so "deny !re"
 * does not apply). That is acceptable: regex ACLs are mostly used to deny,
 * and a pattern that trips the limits on real URLs needs rewriting anyway.
 */
int acl_rx_match(const struct acl_rxlist *l, const char *s, size_t len)
{
    size_t i;

    if (!s)
        s = "";
    for (i = 0; i < l->n; i++)
        if (pcre2_match(l->v[i].code, (PCRE2_SPTR)s, len, 0, 0, l->v[i].md,
                        l->mctx) != PCRE2_ERROR_NOMATCH)
            return 1;
    return 0;
}

void acl_rx_free(struct acl_rxlist *l)
{
    size_t i;

    for (i = 0; i < l->n; i++) {
        pcre2_code_free(l->v[i].code);
        pcre2_match_data_free(l->v[i].md);
        free(l->v[i].src);
    }
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* ---- the set -------------------------------------------------------------- */

struct acl_set *acl_set_new(void)
{
    struct acl_set *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    if (acl_rx_context(&s->rx_mctx, &s->rx_jstack) < 0) {
        free(s);
        return NULL;
    }
    return s;
}

int acl_rx_context(pcre2_match_context **mctx, pcre2_jit_stack **jstack)
{
    uint32_t jit = 0;

    *jstack = NULL;
    if ((*mctx = pcre2_match_context_create(NULL)) == NULL)
        return -ENOMEM;
    /* Without the JIT (not built in) the interpreter runs and needs no
     * stack; with it, the default 32 KiB stack is what fails on long URLs. */
    if (pcre2_config(PCRE2_CONFIG_JIT, &jit) == 0 && jit) {
        *jstack = pcre2_jit_stack_create(RX_JIT_STACK_START, RX_JIT_STACK_MAX, NULL);
        if (*jstack == NULL) {
            pcre2_match_context_free(*mctx);
            *mctx = NULL;
            return -ENOMEM;
        }
        pcre2_jit_stack_assign(*mctx, NULL, *jstack);
    }
    pcre2_set_match_limit(*mctx, RX_MATCH_LIMIT);
    pcre2_set_depth_limit(*mctx, RX_DEPTH_LIMIT);
    return 0;
}

static void acl_free(struct acl *a)
{
    if (a && a->type->free)
        a->type->free(a);
    free(a);
}

void acl_set_free(struct acl_set *s)
{
    size_t i, l;

    if (!s)
        return;
    for (i = 0; i < s->nacls; i++)
        acl_free(s->acls[i]);
    for (l = 0; l < ACL_LISTS; l++) {
        for (i = 0; i < s->lists[l].nrules; i++) {
            free(s->lists[l].rules[i].t);
            free(s->lists[l].rules[i].text);
        }
        free(s->lists[l].rules);
    }
    free(s->acls);
    acl_sset_free(&s->names);
    pcre2_match_context_free(s->rx_mctx);
    pcre2_jit_stack_free(s->rx_jstack);
    free(s);
}

struct acl *acl_find(const struct acl_set *s, const char *name)
{
    size_t len = strlen(name);
    const struct acl_sset_ent *e;

    e = acl_sset_find(&s->names, name, len, acl_hash(name, len));
    return e ? s->acls[e->val] : NULL;
}

int acl_set_has(const struct acl_set *s, const char *name)
{
    return acl_find(s, name) != NULL;
}

int acl_set_has_type(const struct acl_set *s, const char *type)
{
    size_t i;

    for (i = 0; i < s->nacls; i++)
        if (strcmp(s->acls[i]->type->name, type) == 0)
            return 1;
    return 0;
}

size_t acl_set_nrules_in(const struct acl_set *s, enum acl_list list)
{
    return s->lists[list].nrules;
}

size_t acl_set_nrules(const struct acl_set *s)
{
    return acl_set_nrules_in(s, ACL_LIST_HTTP);
}

static int name_check(const char *name, char *err, size_t errlen)
{
    const char *p;

    if (strlen(name) > ACL_NAME_MAX)
        return acl_fail(err, errlen, "ACL name \"%s\" longer than %d", name,
                    ACL_NAME_MAX);
    for (p = name; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            break;
    if (*name == '\0' || *name == '!' || *p != '\0')
        return acl_fail(err, errlen, "bad ACL name \"%s\"", name);
    return 0;
}

/*
 * The ACL called name when it exists with type t (NULL with err when its
 * type differs), else a new unregistered one in *fresh.
 */
static struct acl *acl_get(struct acl_set *s, const char *name,
                           const struct acl_type *t, struct acl **fresh,
                           char *err, size_t errlen)
{
    struct acl *a = acl_find(s, name);

    *fresh = NULL;
    if (a && a->type != t) {
        acl_fail(err, errlen, "ACL \"%s\" already defined with type %s", name,
             a->type->name);
        return NULL;
    }
    if (a)
        return a;
    if (s->nacls >= ACL_MAX) {
        acl_fail(err, errlen, "too many ACLs (at most %d)", ACL_MAX);
        return NULL;
    }
    a = calloc(1, sizeof(*a));
    if (!a) {
        acl_fail(err, errlen, "out of memory");
        return NULL;
    }
    strcpy(a->name, name);
    a->type = t;
    *fresh = a;
    return a;
}

/* Add a new ACL to the set; on failure the caller still owns it. */
static int acl_register(struct acl_set *s, struct acl *a, char *err,
                        size_t errlen)
{
    struct acl **nv = realloc(s->acls, (s->nacls + 1) * sizeof(*nv));

    if (!nv)
        return acl_fail(err, errlen, "out of memory");
    s->acls = nv;
    if (acl_sset_add(&s->names, a->name, strlen(a->name),
                     (uint32_t)s->nacls) < 0)
        return acl_fail(err, errlen, "out of memory");
    s->acls[s->nacls++] = a;
    return 0;
}

/* The value count rules of "all" and "maxconn", then the values. */
static int acl_values(struct acl *a, int icase, const char *const *v,
                      size_t n, int checked, char *err, size_t errlen)
{
    const struct acl_type *t = a->type;
    size_t i;

    if ((t->flags & ACL_TF_NOVALUES) && n)
        return acl_fail(err, errlen, "ACL \"%s\": type %s takes no values",
                    a->name, t->name);
    if ((t->flags & ACL_TF_ONEVALUE) && (n != 1 || a->u.maxconn.set))
        return acl_fail(err, errlen, "ACL \"%s\": type %s takes one value",
                    a->name, t->name);
    for (i = 0; !checked && i < n; i++)
        if (!v[i] || t->check(v[i], icase, err, errlen) < 0)
            return v[i] ? -1 : acl_fail(err, errlen, "ACL \"%s\": NULL value",
                                    a->name);
    return n ? t->add(a, v, n, icase, err, errlen) : 0;
}

/*
 * Point every regex list of a at the set's match context. The lists live in
 * the types' storage (match.c): u.rx for the types whose values are plain
 * patterns (checked with acl_rx_check), one per field name in u.hdr for
 * req_header. Done after each definition: a repeated one adds lists.
 */
static void rx_bind(const struct acl_set *s, struct acl *a)
{
    size_t i;

    if (a->type->check == acl_rx_check)
        a->u.rx.mctx = s->rx_mctx;
    else if (strcmp(a->type->name, "req_header") == 0)
        for (i = 0; i < a->u.hdr.n; i++)
            a->u.hdr.v[i].rx.mctx = s->rx_mctx;
}

/* Values are checked before any is stored: a failed definition adds
 * nothing (short of running out of memory). */
static int define(struct acl_set *s, const char *name,
                  const struct acl_type *t, int icase, const char *const *v,
                  size_t n, int checked, char *err, size_t errlen)
{
    struct acl *a, *fresh;

    a = acl_get(s, name, t, &fresh, err, errlen);
    if (!a)
        return -1;
    if (acl_values(a, icase, v, n, checked, err, errlen) < 0 ||
        (fresh && acl_register(s, fresh, err, errlen) < 0)) {
        acl_free(fresh);
        return -1;
    }
    rx_bind(s, a);
    return 0;
}

static const struct acl_type *type_get(const char *name, const char *type,
                                       char *err, size_t errlen)
{
    const struct acl_type *t = acl_type_find(type);

    if (name_check(name, err, errlen) < 0)
        return NULL;
    if (!t)
        acl_fail(err, errlen, "unknown ACL type \"%s\"", type);
    return t;
}

int acl_set_define(struct acl_set *s, const char *name, const char *type,
                   int icase, const char *const *values, size_t n,
                   char *err, size_t errlen)
{
    const struct acl_type *t = type_get(name, type, err, errlen);

    if (!t)
        return -1;
    return define(s, name, t, icase, values, n, 0, err, errlen);
}

int acl_set_define_external(struct acl_set *s, const char *name,
                            acl_external_cb match, void *data,
                            void (*free_cb)(void *), char *err, size_t errlen)
{
    struct acl *a;

    if (name_check(name, err, errlen) < 0)
        return -1;
    if (!match)
        return acl_fail(err, errlen, "external ACL \"%s\" without a function", name);
    if ((a = acl_find(s, name)) != NULL)
        return acl_fail(err, errlen, "ACL \"%s\" already defined with type %s",
                    name, a->type->name);
    if (define(s, name, &acl_type_external, 0, NULL, 0, 1, err, errlen) < 0)
        return -1;
    a = s->acls[s->nacls - 1];
    a->u.ext.match = match;
    a->u.ext.data = data;
    a->u.ext.free_cb = free_cb;
    return 0;
}

/* ---- list files ---------------------------------------------------------- */

struct lines {
    char **v;
    size_t n, cap;
};

static int lines_push(struct lines *l, const char *s, size_t len)
{
    char **nv;

    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        nv = realloc(l->v, l->cap * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        l->v = nv;
    }
    l->v[l->n] = strndup(s, len);
    if (!l->v[l->n])
        return -ENOMEM;
    l->n++;
    return 0;
}

static void lines_free(struct lines *l)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Trim a line in place; "" for blank lines and "#" comments. A "#" after a
 * blank starts a comment too, except in regexes where it may be meant.
 */
static char *line_trim(char *p, size_t len, int regex, size_t *outlen)
{
    char *hash;

    while (len && is_blank(p[len - 1]))
        len--;
    p[len] = '\0';
    while (is_blank(*p))
        p++;
    if (*p == '#')
        *p = '\0';
    for (hash = p; !regex && (hash = strchr(hash, '#')) != NULL; hash++) {
        if (is_blank(hash[-1])) {
            *hash = '\0';
            break;
        }
    }
    len = strlen(p);
    while (len && is_blank(p[len - 1]))
        p[--len] = '\0';
    *outlen = len;
    return p;
}

/* Read the good lines of path into l; warn about the others. */
static int read_lines(FILE *f, const char *path, const struct acl_type *t,
                      int icase, acl_warn_cb warn, void *warn_data,
                      struct lines *l)
{
    char why[256], *line = NULL, *p;
    size_t cap = 0, len;
    unsigned lineno = 0;
    int rc = 0;

    while (rc == 0 && getline(&line, &cap, f) >= 0) {
        lineno++;
        p = line_trim(line, strlen(line), t->flags & ACL_TF_REGEX, &len);
        if (len == 0)
            continue;
        if (t->check && t->check(p, icase, why, sizeof(why)) < 0) {
            if (warn)
                warn(warn_data, path, lineno, why);
            continue;
        }
        rc = lines_push(l, p, len);
    }
    free(line);
    return rc < 0 ? rc : (ferror(f) ? -EIO : 0);
}

int acl_set_define_file(struct acl_set *s, const char *name, const char *type,
                        int icase, const char *path, acl_warn_cb warn,
                        void *warn_data, char *err, size_t errlen)
{
    const struct acl_type *t = type_get(name, type, err, errlen);
    struct lines l = { NULL, 0, 0 };
    struct acl *a;
    FILE *f;
    int rc;

    if (!t)
        return -1;
    a = acl_find(s, name);
    if (a && a->type != t)
        return acl_fail(err, errlen, "ACL \"%s\" already defined with type %s",
                    name, a->type->name);
    f = fopen(path, "r");
    if (!f)
        return acl_fail(err, errlen, "cannot open \"%s\": %s", path, strerror(errno));
    rc = read_lines(f, path, t, icase, warn, warn_data, &l);
    fclose(f);
    if (rc < 0)
        rc = acl_fail(err, errlen, "cannot read \"%s\": %s", path, strerror(-rc));
    else
        rc = define(s, name, t, icase, (const char *const *)l.v, l.n, 1, err,
                    errlen);
    lines_free(&l);
    return rc;
}

/* ---- http_access rules ------------------------------------------------------ */

/* Split text into words in buf (a copy); returns the count, or -1 if > max. */
static int split_words(char *buf, char **w, int max)
{
    char *save = NULL, *p;
    int n = 0;

    for (p = strtok_r(buf, " \t\r\n", &save); p; p = strtok_r(NULL, " \t\r\n", &save)) {
        if (n == max)
            return -1;
        w[n++] = p;
    }
    return n;
}

/* "allow a !b" with single blanks, for logs and block pages. */
static char *join_words(char **w, int n)
{
    size_t len = 0;
    char *s, *q;
    int i;

    for (i = 0; i < n; i++)
        len += strlen(w[i]) + 1;
    s = malloc(len ? len : 1);
    if (!s)
        return NULL;
    for (q = s, i = 0; i < n; i++) {
        q = stpcpy(q, w[i]);
        *q++ = ' ';
    }
    q[-(n > 0)] = '\0';
    return s;
}

static int rule_terms(struct acl_set *s, char **w, int n, const char *text,
                      struct acl_term *t, char *err, size_t errlen)
{
    const char *nm;
    int i;

    for (i = 0; i < n; i++) {
        t[i].neg = w[i][0] == '!';
        nm = w[i] + t[i].neg;
        if (*nm == '\0' || *nm == '!')
            return acl_fail(err, errlen, "bad ACL name \"%s\" in rule \"%s\"",
                        w[i], text);
        t[i].acl = acl_find(s, nm);
        if (!t[i].acl)
            return acl_fail(err, errlen, "unknown ACL \"%s\" in rule \"%s\"", nm,
                        text);
    }
    return 0;
}

/* w[0] is the action, w[1..n) the ACL names. */
static int rule_add(struct acl_set *s, struct acl_rlist *l, char **w, int n,
                    char *err, size_t errlen)
{
    struct acl_term *t = calloc((size_t)n - 1, sizeof(*t));
    char *text = join_words(w, n);
    struct acl_rule *nv = NULL;

    if (t && text && rule_terms(s, w + 1, n - 1, text, t, err, errlen) < 0)
        goto out;
    if (t && text)
        nv = realloc(l->rules, (l->nrules + 1) * sizeof(*nv));
    if (!nv) {
        acl_fail(err, errlen, "out of memory");
        goto out;
    }
    l->rules = nv;
    nv[l->nrules++] = (struct acl_rule){ strcmp(w[0], "deny") == 0,
                                         (size_t)n - 1, t, text };
    return 0;
out:
    free(text);
    free(t);
    return -1;
}

int acl_set_rule(struct acl_set *s, const char *text, char *err, size_t errlen)
{
    return acl_set_rule_in(s, ACL_LIST_HTTP, text, err, errlen);
}

int acl_set_rule_in(struct acl_set *s, enum acl_list list, const char *text,
                    char *err, size_t errlen)
{
    struct acl_rlist *l = &s->lists[list];
    char *w[RULE_ACLS_MAX + 1], *buf = strdup(text);
    int n, rc;

    if (!buf)
        return acl_fail(err, errlen, "out of memory");
    n = split_words(buf, w, RULE_ACLS_MAX + 1);
    if (n < 0)
        rc = acl_fail(err, errlen, "more than %d ACLs in rule \"%s\"",
                  RULE_ACLS_MAX, text);
    else if (n == 0 || (strcmp(w[0], "allow") != 0 && strcmp(w[0], "deny") != 0))
        rc = acl_fail(err, errlen, "rule \"%s\" must start with allow or deny", text);
    else if (n == 1)
        rc = acl_fail(err, errlen, "rule \"%s\" names no ACL", text);
    else if (l->nrules >= RULE_MAX)
        rc = acl_fail(err, errlen, "too many rules (at most %d)", RULE_MAX);
    else
        rc = rule_add(s, l, w, n, err, errlen);
    free(buf);
    return rc;
}

/* ---- evaluation --------------------------------------------------------------- */

/* -1: the rule does not apply; else its verdict, or the fact it needs. */
static int rule_eval(const struct acl_rule *ru, const struct acl_request *r,
                     struct acl_result *res)
{
    const struct acl *a;
    const char *note;
    size_t i;
    int m;

    res->acl = NULL;
    res->note = NULL;
    for (i = 0; i < ru->n; i++) {
        a = ru->t[i].acl;
        note = NULL;
        m = a->type->match(a, r, &note);
        res->acl = a->name;
        if (m > 1)
            return m;
        if (m == ACL_M_UNKNOWN) {
            if (!ru->deny)
                return -1;
            continue;
        }
        if (m && note)
            res->note = note;
        if (m == ru->t[i].neg)
            return -1;
    }
    return ru->deny ? ACL_DENY : ACL_ALLOW;
}

enum acl_verdict acl_check(const struct acl_set *s, const struct acl_request *r,
                           struct acl_result *res)
{
    return acl_check_in(s, ACL_LIST_HTTP, r, res);
}

enum acl_verdict acl_check_in(const struct acl_set *s, enum acl_list list,
                              const struct acl_request *r, struct acl_result *res)
{
    const struct acl_rlist *l = &s->lists[list];
    struct acl_result dummy;
    size_t i;
    int v;

    if (!res)
        res = &dummy;
    for (i = 0; i < l->nrules; i++) {
        v = rule_eval(&l->rules[i], r, res);
        if (v >= 0) {
            res->rule = (int)i;
            res->rule_text = l->rules[i].text;
            return (enum acl_verdict)v;
        }
    }
    res->rule = -1;
    res->rule_text = "(default)";
    res->acl = NULL;
    res->note = NULL;
    if (l->nrules == 0)
        return ACL_DENY;
    return l->rules[l->nrules - 1].deny ? ACL_ALLOW : ACL_DENY;
}

int acl_match_name(const struct acl_set *s, const char *name,
                   const struct acl_request *r)
{
    const struct acl *a = acl_find(s, name);
    const char *note = NULL;
    int m;

    if (!a)
        return -1;
    m = a->type->match(a, r, &note);
    return (m > 1 || m < 0) ? -1 : m;
}
