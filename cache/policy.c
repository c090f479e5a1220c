/*
 * policy.c - the RFC 9111 rules of a shared cache (see policy.h).
 *
 * This room holds only decisions: may this response be stored, how long is
 * it fresh, may this stored copy answer this request now, what does a
 * conditional or a 304 change, which URIs does an unsafe method invalidate.
 * Everything is a pure function of its arguments: no I/O, no clock, no
 * allocation, no state but const tables. Header text is read through the
 * parser's views and written only into the caller's bounded sl_buf; a write
 * that does not fit leaves the buffer as it was and returns -ENOSPC.
 *
 * References: RFC 9111 (HTTP Caching), RFC 9110 (HTTP Semantics: dates 5.6.7,
 * validators 8.8, conditionals 13, ranges 14, status codes 15), RFC 5861
 * (stale-while-revalidate, stale-if-error), RFC 8246 (immutable), RFC 3986
 * (reference resolution).
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "cache/policy.h"
#include "filters/encoding.h"
#include "squidlike/chars.h"

/* RFC 9111 1.2.2: delta-seconds too large to represent become 2^31. */
#define DELTA_MAX ((int64_t)1 << 31)

/* --- small helpers ------------------------------------------------------ */

static int view_eq(struct sl_view a, struct sl_view b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.base, b.base, a.len) == 0);
}

/* Saturating arithmetic: times come from the caller and from headers, and a
 * wrap would turn a stale response fresh (RFC 9111 1.2.2: saturate). */
static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;

    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static int64_t sat_sub(int64_t a, int64_t b)
{
    int64_t r;

    if (__builtin_sub_overflow(a, b, &r))
        return b < 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* delta-seconds = 1*DIGIT (RFC 9111 1.2.2), saturated at 2^31. */
static int parse_delta(struct sl_view v, int64_t *out)
{
    int64_t n = 0;
    size_t i;

    if (v.len == 0)
        return -1;
    for (i = 0; i < v.len; i++) {
        if (!sl_is_digit(v.base[i]))
            return -1;
        if (n < DELTA_MAX)
            n = n * 10 + (v.base[i] - '0');
    }
    *out = n > DELTA_MAX ? DELTA_MAX : n;
    return 0;
}

/* Does any field line of m have this name (lines [0, before))? */
static int has_name(const struct sl_http_msg *m, struct sl_view name,
                    size_t before)
{
    size_t i;

    for (i = 0; i < before && i < m->nhdrs; i++)
        if (sl_view_ieq_view(m->hdrs[i].name, name))
            return 1;
    return 0;
}

static size_t count_fields(const struct sl_http_msg *m, const char *name)
{
    size_t i, n = 0;

    for (i = 0; i < m->nhdrs; i++)
        n += sl_view_ieq(m->hdrs[i].name, name);
    return n;
}

/* The first field named name parsed as an HTTP-date; -1 absent or bad. */
static int64_t field_date(const struct sl_http_msg *m, const char *name)
{
    const struct sl_http_hdr *h = m ? sl_http_find(m, name) : NULL;

    return h ? cache_date_parse(h->value) : -1;
}

/* --- Cache-Control (RFC 9111 5.2) ---------------------------------------- */

/* One directive: token [ "=" ( token / quoted-string ) ] (RFC 9111 5.2). */
struct cc_item {
    struct sl_view name, arg;
    unsigned has_arg:1;
    unsigned arg_ok:1;          /* argument well formed, nothing after it */
};

/*
 * Parse the directive at p. Commas inside a quoted argument (no-cache="a, b")
 * do not split the list. Returns where the next directive starts, or NULL
 * when only separators remain.
 */
static const char *cc_next(const char *p, const char *end, struct cc_item *it)
{
    const char *s;

    while (p < end && (sl_is_ows(*p) || *p == ','))
        p++;
    if (p == end)
        return NULL;
    for (s = p; p < end && *p != '=' && *p != ',' && !sl_is_ows(*p); p++)
        ;
    it->name = sl_view_from(s, p);
    it->arg = sl_view_from(p, p);
    it->has_arg = 0;
    it->arg_ok = 1;
    while (p < end && sl_is_ows(*p))
        p++;
    if (p < end && *p == '=') {
        it->has_arg = 1;
        for (p++; p < end && sl_is_ows(*p); p++)
            ;
        if (p < end && *p == '"') {
            for (s = ++p; p < end && *p != '"'; p++)
                if (*p == '\\' && p + 1 < end)
                    p++;        /* quoted-pair */
            if (p == end)
                it->arg_ok = 0; /* unterminated: the rest is its argument */
            it->arg = sl_view_from(s, p);
            p += p < end;
        } else {
            for (s = p; p < end && *p != ',' && !sl_is_ows(*p); p++)
                ;
            it->arg = sl_view_from(s, p);
        }
    }
    while (p < end && sl_is_ows(*p))
        p++;
    if (p < end && *p != ',') {
        it->arg_ok = 0;         /* junk after the directive */
        while (p < end && *p != ',')
            p++;
    }
    return p;
}

/* A numeric directive: the first occurrence wins (RFC 9111 4.2.1). */
static void cc_delta(const struct cc_item *it, int64_t *dst, int64_t bare,
                     int64_t bad, unsigned bit, unsigned *seen)
{
    int64_t v;

    if (*seen & bit)
        return;
    *seen |= bit;
    if (!it->has_arg)
        *dst = it->arg_ok ? bare : bad;
    else
        *dst = it->arg_ok && parse_delta(it->arg, &v) == 0 ? v : bad;
}

static void cc_apply(const struct cc_item *it, struct cache_cc *cc,
                     unsigned *seen)
{
    struct sl_view n = it->name;

    /* max-age / s-maxage: a bad or missing argument reads as 0 (stale),
     * 4.2.1 "consider ... invalid freshness information ... to be stale". */
    if (sl_view_ieq(n, "max-age"))
        cc_delta(it, &cc->max_age, 0, 0, 1u << 0, seen);
    else if (sl_view_ieq(n, "s-maxage"))
        cc_delta(it, &cc->s_maxage, 0, 0, 1u << 1, seen);
    else if (sl_view_ieq(n, "max-stale"))   /* 5.2.1.2: bare = any staleness */
        cc_delta(it, &cc->max_stale, INT64_MAX, -1, 1u << 2, seen);
    else if (sl_view_ieq(n, "min-fresh"))
        cc_delta(it, &cc->min_fresh, -1, -1, 1u << 3, seen);
    else if (sl_view_ieq(n, "stale-while-revalidate"))
        cc_delta(it, &cc->stale_while_revalidate, -1, -1, 1u << 4, seen);
    else if (sl_view_ieq(n, "stale-if-error"))
        cc_delta(it, &cc->stale_if_error, -1, -1, 1u << 5, seen);
    else if (sl_view_ieq(n, "no-store"))
        cc->no_store = 1;
    else if (sl_view_ieq(n, "no-cache"))
        cc->no_cache = 1;       /* field names ignored: 5.2.2.4 allows it */
    else if (sl_view_ieq(n, "private"))
        cc->private_ = 1;       /* likewise 5.2.2.7 */
    else if (sl_view_ieq(n, "public"))
        cc->public_ = 1;
    else if (sl_view_ieq(n, "must-revalidate"))
        cc->must_revalidate = 1;
    else if (sl_view_ieq(n, "proxy-revalidate"))
        cc->proxy_revalidate = 1;
    else if (sl_view_ieq(n, "only-if-cached"))
        cc->only_if_cached = 1;
    else if (sl_view_ieq(n, "no-transform"))
        cc->no_transform = 1;
    else if (sl_view_ieq(n, "immutable"))
        cc->immutable = 1;
    /* 5.2.3: unknown extensions are ignored. */
}

void cache_cc_parse(const struct sl_http_msg *m, int is_request,
                    struct cache_cc *cc)
{
    struct cc_item it;
    unsigned seen = 0;
    int have_cc = 0, pragma = 0;
    size_t i;

    memset(cc, 0, sizeof(*cc));
    cc->max_age = cc->s_maxage = cc->max_stale = cc->min_fresh = -1;
    cc->stale_while_revalidate = cc->stale_if_error = -1;
    for (i = 0; i < m->nhdrs; i++) {
        const struct sl_http_hdr *h = &m->hdrs[i];
        const char *p = h->value.base, *end = sl_view_end(h->value);

        if (sl_view_ieq(h->name, "cache-control")) {
            have_cc = 1;
            /* Lines are one list (RFC 9110 5.3): parse them in order. */
            while (h->value.len && (p = cc_next(p, end, &it)) != NULL)
                cc_apply(&it, cc, &seen);
        } else if (is_request && sl_view_ieq(h->name, "pragma")) {
            pragma |= sl_http_list_has(h->value, "no-cache");
        }
    }
    /* RFC 9111 5.4: Pragma is ignored when Cache-Control is present. */
    cc->pragma_no_cache = pragma && !have_cc;
}

/* --- storing (RFC 9111 3) ------------------------------------------------ */

/* RFC 9110 15.1 "heuristically cacheable" (206 left out: we store whole
 * objects only). */
static int heuristic_status(int st)
{
    static const int codes[] = { 200, 203, 204, 300, 301, 308, 404, 405,
                                 410, 414, 501 };
    size_t i;

    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (codes[i] == st)
            return 1;
    return 0;
}

static int any_list_has(const struct sl_http_msg *m, const char *name,
                        const char *token)
{
    size_t i;

    for (i = 0; i < m->nhdrs; i++)
        if (sl_view_ieq(m->hdrs[i].name, name)
            && sl_http_list_has(m->hdrs[i].value, token))
            return 1;
    return 0;
}

const char *cache_storable(const char *method, const struct sl_http_msg *req,
                           const struct cache_cc *reqcc,
                           const struct sl_http_msg *resp,
                           const struct cache_cc *respcc)
{
    int st = resp->status;

    if (method == NULL || strcmp(method, "GET") != 0)
        return "method";
    /* 3: final status only; 206 and 304 are not whole representations, and
     * codes past 599 are not HTTP (RFC 9110 15). */
    if (st < 200 || st > 599 || st == 206 || st == 304)
        return "status";
    if ((reqcc && reqcc->no_store) || respcc->no_store)
        return "no-store";      /* 5.2.1.5, 5.2.2.5 */
    if (respcc->private_)
        return "private";       /* 5.2.2.7: a shared cache */
    /* 3.5: Authorization only with public, s-maxage or must-revalidate. */
    if (req && sl_http_find(req, "authorization") && !respcc->public_
        && respcc->s_maxage < 0 && !respcc->must_revalidate)
        return "authorization";
    if (any_list_has(resp, "vary", "*"))
        return "vary *";        /* 4.1: always fails to match */
    if (sl_http_find(resp, "set-cookie") && !respcc->public_
        && respcc->s_maxage < 0)
        return "set-cookie";
    /* 3: explicit freshness, public, or a heuristically cacheable status;
     * Expires does not count beside a targeted field (RFC 9213 2.2). */
    if (respcc->max_age < 0 && respcc->s_maxage < 0 && !respcc->public_
        && (respcc->targeted || sl_http_find(resp, "expires") == NULL)
        && !heuristic_status(st))
        return "no freshness";
    return NULL;
}

/* --- freshness and age (RFC 9111 4.2) ------------------------------------ */

/* Age (5.1): first member of a list; anything but digits is ignored (0). */
static int64_t age_value(const struct sl_http_msg *resp)
{
    const struct sl_http_hdr *h = sl_http_find(resp, "age");
    const char *p;
    struct sl_view e;
    int64_t v;

    if (h == NULL || h->value.len == 0)
        return 0;
    p = h->value.base;
    if (!sl_list_next(&p, sl_view_end(h->value), &e) || parse_delta(e, &v) < 0)
        return 0;
    return v;
}

/*
 * 4.2.2 heuristic, the Squid refresh_pattern way: percent of the time since
 * Last-Modified, clamped to [min, max] (max wins if they cross); without
 * Last-Modified the minimum applies.
 */
static int64_t heuristic_lifetime(const struct sl_http_msg *resp,
                                  const struct cache_heuristic *h, int64_t date)
{
    int64_t lm = field_date(resp, "last-modified"), since, v;
    int64_t pct = h->percent > 0 ? h->percent : 0;

    v = h->min;
    if (lm >= 0) {
        since = max64(0, sat_sub(date, lm));     /* LM after Date: 0 */
        if (__builtin_mul_overflow(since / 100, pct, &v))
            v = INT64_MAX;
        else
            v = sat_add(v, since % 100 * pct / 100);
        v = max64(v, h->min);
    }
    if (v > h->max)
        v = h->max;
    return max64(v, 0);
}

/* 4.2.1 for a shared cache: s-maxage, max-age, Expires - Date, heuristic. */
static int64_t lifetime(const struct sl_http_msg *resp,
                        const struct cache_cc *cc,
                        const struct cache_heuristic *h, int64_t date,
                        int *heuristic)
{
    const struct sl_http_hdr *exp;

    *heuristic = 0;
    if (cc->s_maxage >= 0)
        return cc->s_maxage;
    if (cc->max_age >= 0)
        return cc->max_age;
    /* RFC 9213 2.2: a targeted field replaces Expires as well. */
    if (!cc->targeted && (exp = sl_http_find(resp, "expires")) != NULL) {
        /* 5.3: an invalid date (notably "0") means already expired. */
        int64_t t = cache_date_parse(exp->value);
        return t < 0 ? 0 : max64(0, sat_sub(t, date));
    }
    /* 4.2.2: heuristics only for heuristically cacheable statuses or
     * responses explicitly marked cacheable (public). Not for errors
     * (4xx, 5xx) though, 410 Gone aside: Squid gives those its
     * negative_ttl, 0 by default, never a refresh_pattern, and a pattern's
     * min must not keep a 404 for a package a mirror has not synced yet
     * as long as the package itself would be kept. */
    if ((!heuristic_status(resp->status) && !cc->public_) ||
        (resp->status >= 400 && resp->status != 410))
        return 0;
    *heuristic = 1;
    return heuristic_lifetime(resp, h, date);
}

void cache_fresh_compute(const struct sl_http_msg *resp,
                         const struct cache_cc *respcc,
                         const struct cache_heuristic *h,
                         int64_t request_time, int64_t response_time,
                         struct cache_fresh *f)
{
    static const struct cache_heuristic defaults = { .min = 0, .percent = 10, .max = 86400 };
    int64_t date, apparent_age, response_delay, corrected_age_value;
    const struct sl_http_hdr *lm, *etag;
    int heur;

    memset(f, 0, sizeof(*f));
    f->request_time = request_time;
    f->response_time = response_time;
    /* RFC 9110 6.6.1: without a usable Date, the receipt time stands in. */
    date = field_date(resp, "date");
    f->date = date >= 0 ? date : response_time;

    /* RFC 9111 4.2.3, formula by formula. */
    apparent_age = max64(0, sat_sub(response_time, f->date));
    response_delay = sat_sub(response_time, request_time);
    corrected_age_value = sat_add(age_value(resp), response_delay);
    f->corrected_initial_age = max64(apparent_age, corrected_age_value);

    f->lifetime = lifetime(resp, respcc, h ? h : &defaults, f->date, &heur);
    f->heuristic = (unsigned)heur;
    f->swr = respcc->stale_while_revalidate;
    f->sie = respcc->stale_if_error;
    /* 5.2.2.10: s-maxage implies proxy-revalidate for a shared cache. */
    f->must_revalidate = respcc->must_revalidate || respcc->proxy_revalidate
                         || respcc->s_maxage >= 0;
    f->no_cache = respcc->no_cache;
    f->immutable = respcc->immutable;
    /* Only validators cache_conditional can actually send count. */
    lm = sl_http_find(resp, "last-modified");
    etag = sl_http_find(resp, "etag");
    f->has_validator = (etag && etag->value.len > 0)
                       || (lm && cache_date_parse(lm->value) >= 0);
}

int64_t cache_age(const struct cache_fresh *f, int64_t now)
{
    /* 4.2.3: current_age = corrected_initial_age + resident_time; a clock
     * stepping backwards must not make the age negative. */
    int64_t resident_time = max64(0, sat_sub(now, f->response_time));

    return max64(0, sat_add(f->corrected_initial_age, resident_time));
}

/* --- using a stored response (RFC 9111 4.2, 4.3, 5.2.1; RFC 5861) -------- */

static enum cache_verdict must_validate(const struct cache_fresh *f)
{
    return f->has_validator ? CACHE_REVALIDATE : CACHE_REFETCH;
}

/*
 * Order matters: what forbids using the copy unvalidated comes first
 * (response no-cache 5.2.2.4, request no-cache / Pragma 5.2.1.4, 5.4), then
 * what narrows freshness (request max-age 5.2.1.1, min-fresh 5.2.1.3), then
 * what widens it for a stale copy (max-stale 5.2.1.2, stale-while-revalidate
 * RFC 5861 3), which must-revalidate / proxy-revalidate / s-maxage forbid
 * (5.2.2.2, 4.2.4).
 *
 * immutable (RFC 8246 2): while fresh, a reload (request max-age=0, or any
 * max-age) does not force revalidation; an explicit no-cache (forced
 * reload) still does. That is the only effect given to it.
 */
enum cache_verdict cache_decide(const struct cache_fresh *f,
                                const struct cache_cc *reqcc, int64_t now,
                                int *swr_out)
{
    int64_t age = cache_age(f, now), staleness;
    int fresh = f->lifetime > age;      /* 4.2: response_is_fresh */

    if (swr_out)
        *swr_out = 0;
    if (f->no_cache)
        return must_validate(f);
    if (reqcc && (reqcc->no_cache || reqcc->pragma_no_cache))
        return must_validate(f);
    if (reqcc && reqcc->max_age >= 0 && age > reqcc->max_age
        && !(fresh && f->immutable))
        return must_validate(f);
    if (fresh) {
        if (reqcc && reqcc->min_fresh >= 0
            && sat_sub(f->lifetime, age) < reqcc->min_fresh)
            return must_validate(f);
        return CACHE_FRESH;
    }
    staleness = sat_sub(age, f->lifetime);
    if (f->must_revalidate)
        return must_validate(f);
    if (reqcc && reqcc->max_stale >= 0 && staleness <= reqcc->max_stale)
        return CACHE_STALE_SERVE;
    /* A client asking for min-fresh wants fresh: no stale-while-revalidate. */
    if (f->swr >= 0 && staleness <= f->swr
        && !(reqcc && reqcc->min_fresh >= 0)) {
        if (swr_out)
            *swr_out = 1;
        return CACHE_STALE_SERVE;
    }
    return must_validate(f);
}

/*
 * RFC 5861 4: either the response's or the request's stale-if-error
 * allows a copy stale by at most its value. RFC 9111 5.2.2.2 (and 5.2.2.4)
 * forbid serving a must-revalidate or no-cache response stale even when
 * disconnected, so those win over RFC 5861's "regardless of other
 * freshness information".
 */
int cache_stale_if_error_ok(const struct cache_fresh *f,
                            const struct cache_cc *reqcc, int64_t now)
{
    int64_t staleness = sat_sub(cache_age(f, now), f->lifetime);

    if (f->must_revalidate || f->no_cache)
        return 0;
    if (f->sie >= 0 && staleness <= f->sie)
        return 1;
    return reqcc && reqcc->stale_if_error >= 0
           && staleness <= reqcc->stale_if_error;
}

/* --- validation (RFC 9111 4.3) ------------------------------------------- */

static int put(struct sl_buf *out, const char *p, size_t n)
{
    return sl_buf_append(out, p, n);
}

/* "Name: value\r\n" */
static int put_field(struct sl_buf *out, struct sl_view name,
                     struct sl_view value)
{
    if (sl_buf_space(out) < name.len + value.len + 4)
        return -ENOSPC;
    put(out, name.base, name.len);
    put(out, ": ", 2);
    put(out, value.base, value.len);
    return put(out, "\r\n", 2);
}

int cache_conditional(const struct sl_http_msg *stored, struct sl_buf *out)
{
    const struct sl_http_hdr *etag = sl_http_find(stored, "etag");
    const struct sl_http_hdr *lm = sl_http_find(stored, "last-modified");
    char *mark = out->last;
    int n = 0;

    /* 4.3.1: send the stored validators verbatim. */
    if (etag && etag->value.len) {
        if (put_field(out, SL_VIEW_LIT("If-None-Match"), etag->value) < 0)
            goto nospace;
        n++;
    }
    if (lm && cache_date_parse(lm->value) >= 0) {
        if (put_field(out, SL_VIEW_LIT("If-Modified-Since"), lm->value) < 0)
            goto nospace;
        n++;
    }
    return n;

nospace:
    out->last = mark;
    return -ENOSPC;
}

/*
 * Fields a 304 must not change (RFC 9111 3.2, 3.1; RFC 9110 7.6.1):
 * hop-by-hop fields, those its own Connection names, Content-Length, and
 * Age (recomputed from the stored times).
 */
static int merge_excluded(struct sl_view name, const struct sl_http_msg *upd)
{
    static const char *const fixed[] = {
        "connection", "keep-alive", "proxy-connection", "te",
        "transfer-encoding", "upgrade", "trailer", "content-length", "age",
        /* a shared copy never takes one client's cookie (a backend that
         * sets one on a 304 would hand it to every later reader) */
        "set-cookie",
    };
    struct sl_view e;
    const char *p;
    size_t i;

    for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (sl_view_ieq(name, fixed[i]))
            return 1;
    for (i = 0; i < upd->nhdrs; i++) {
        if (!sl_view_ieq(upd->hdrs[i].name, "connection")
            || upd->hdrs[i].value.len == 0)
            continue;
        p = upd->hdrs[i].value.base;
        while (sl_list_next(&p, sl_view_end(upd->hdrs[i].value), &e))
            if (sl_view_ieq_view(e, name))
                return 1;
    }
    return 0;
}

static int replaced_by(const struct sl_http_msg *upd, struct sl_view name)
{
    return has_name(upd, name, upd->nhdrs) && !merge_excluded(name, upd);
}

int cache_merge_headers(const struct sl_http_msg *stored,
                        const struct sl_http_msg *upd, struct sl_buf *out)
{
    char *mark = out->last;
    const struct sl_http_hdr *s, *u;
    size_t i, j;

    for (i = 0; i < stored->nhdrs; i++) {
        s = &stored->hdrs[i];
        if (!replaced_by(upd, s->name)) {
            if (put_field(out, s->name, s->value) < 0)
                goto nospace;
            continue;
        }
        if (has_name(stored, s->name, i))
            continue;           /* all of upd's lines went at the first */
        for (j = 0; j < upd->nhdrs; j++) {
            u = &upd->hdrs[j];
            if (sl_view_ieq_view(u->name, s->name)
                && put_field(out, u->name, u->value) < 0)
                goto nospace;
        }
    }
    for (j = 0; j < upd->nhdrs; j++) {
        u = &upd->hdrs[j];
        if (has_name(stored, u->name, stored->nhdrs)
            || merge_excluded(u->name, upd))
            continue;
        if (put_field(out, u->name, u->value) < 0)
            goto nospace;
    }
    return 0;

nospace:
    out->last = mark;
    return -ENOSPC;
}

/* --- client conditionals (RFC 9110 13) ----------------------------------- */

/* entity-tag = [ %s"W/" ] DQUOTE *etagc DQUOTE (RFC 9110 8.8.3). A stored
 * tag without quotes is kept whole: it can then only match itself. */
static void etag_split(struct sl_view v, int *weak, struct sl_view *opaque)
{
    *weak = v.len >= 2 && v.base[0] == 'W' && v.base[1] == '/';
    *opaque = *weak ? sl_view_from(v.base + 2, sl_view_end(v)) : v;
}

/*
 * Does the list in v (#entity-tag, or "*") match the stored ETag? strong
 * selects the comparison of RFC 9110 8.8.3.2. "*" matches any stored
 * response (13.1.1, 13.1.2). A malformed list stops the walk: no match.
 */
static int etag_list_match(struct sl_view v, struct sl_view stored_etag,
                           int has_etag, int strong)
{
    const char *p = v.base, *end = sl_view_end(v), *s;
    struct sl_view st, op;
    int sweak, weak;

    etag_split(stored_etag, &sweak, &st);
    while (p < end) {
        if (sl_is_ows(*p) || *p == ',') {
            p++;
            continue;
        }
        if (*p == '*')
            return 1;
        weak = end - p >= 2 && p[0] == 'W' && p[1] == '/';
        p += weak ? 2 : 0;
        if (p == end || *p != '"')
            return 0;
        if ((s = memchr(p + 1, '"', (size_t)(end - p - 1))) == NULL)
            return 0;
        op = sl_view_from(p, s + 1);
        p = s + 1;
        if (has_etag && view_eq(op, st) && (!strong || (!weak && !sweak)))
            return 1;
    }
    return 0;
}

/* Any line of name in req matching (field lists combine, RFC 9110 5.3). */
static int etag_fields_match(const struct sl_http_msg *req, const char *name,
                             const struct sl_http_msg *stored, int strong)
{
    const struct sl_http_hdr *e = sl_http_find(stored, "etag");
    struct sl_view sv = e ? e->value : SL_VIEW_LIT("");
    size_t i;

    for (i = 0; i < req->nhdrs; i++)
        if (sl_view_ieq(req->hdrs[i].name, name)
            && etag_list_match(req->hdrs[i].value, sv, e != NULL, strong))
            return 1;
    return 0;
}

int cache_client_conditional(const char *method, const struct sl_http_msg *req,
                             const struct sl_http_msg *stored)
{
    int get_head = method && (strcmp(method, "GET") == 0
                              || strcmp(method, "HEAD") == 0);
    int64_t lm = field_date(stored, "last-modified"), t;

    /* 13.2.1: preconditions only apply where the answer would be 2xx. */
    if (stored->status < 200 || stored->status > 299)
        return 0;
    /* 13.2.2 steps 1-2: If-Match (strong), else If-Unmodified-Since. */
    if (sl_http_find(req, "if-match")) {
        if (!etag_fields_match(req, "if-match", stored, 1))
            return 412;
    } else if ((t = field_date(req, "if-unmodified-since")) >= 0 && lm >= 0
               && lm > t) {
        return 412;             /* 13.1.4: ignored without Last-Modified */
    }
    /* Step 3: If-None-Match (weak comparison). */
    if (sl_http_find(req, "if-none-match")) {
        if (etag_fields_match(req, "if-none-match", stored, 0))
            return get_head ? 304 : 412;
        return 0;
    }
    /* Step 4: If-Modified-Since, GET/HEAD only; a list of dates does not
     * parse and so is ignored (13.1.3). Without Last-Modified a cache uses
     * the stored Date (RFC 9111 4.3.2). */
    if (!get_head || (t = field_date(req, "if-modified-since")) < 0)
        return 0;
    if (lm < 0)
        lm = field_date(stored, "date");
    return lm >= 0 && lm <= t ? 304 : 0;
}

/* --- ranges (RFC 9110 14) ------------------------------------------------ */

/*
 * If-Range (13.1.5): a strong ETag equal to the stored strong ETag, or a
 * date equal to Last-Modified that is itself strong: the stored Date is at
 * least a second later (8.8.2.2, the intermediate-cache rule).
 */
static int if_range_ok(struct sl_view v, const struct sl_http_msg *stored)
{
    const struct sl_http_hdr *e;
    struct sl_view a, b;
    int aw, bw;
    int64_t t, lm, date;

    if (stored == NULL)
        return 0;
    /* 13.1.5: an entity-tag starts with DQUOTE (or W/, never strong). */
    if (v.len >= 2 && (v.base[0] == '"' || memcmp(v.base, "W/", 2) == 0)) {
        e = sl_http_find(stored, "etag");
        if (e == NULL)
            return 0;
        etag_split(v, &aw, &a);
        etag_split(e->value, &bw, &b);
        return !aw && !bw && a.len >= 2 && a.base[a.len - 1] == '"'
               && view_eq(a, b);
    }
    t = cache_date_parse(v);
    lm = field_date(stored, "last-modified");
    date = field_date(stored, "date");
    return t >= 0 && lm == t && date >= 0 && date >= sat_add(lm, 1);
}

/* 1*DIGIT at [*pp, end), saturating; -1 when there is no digit. */
static int64_t range_num(const char **pp, const char *end)
{
    const char *p = *pp;
    int64_t n = 0;

    if (p == end || !sl_is_digit(*p))
        return -1;
    for (; p < end && sl_is_digit(*p); p++)
        n = n > (INT64_MAX - 9) / 10 ? INT64_MAX : n * 10 + (*p - '0');
    *pp = p;
    return n;
}

int cache_range(const struct sl_http_msg *req, const struct sl_http_msg *stored,
                int64_t total, int64_t *first, int64_t *last)
{
    const struct sl_http_hdr *r = sl_http_find(req, "range");
    const struct sl_http_hdr *ir = sl_http_find(req, "if-range");
    const char *p, *end;
    struct sl_view spec = { NULL, 0 }, e;
    int64_t a, b;
    int n = 0;

    if (r == NULL || count_fields(req, "range") > 1 || total < 0)
        return 0;
    if (stored && stored->status != 200)
        return 0;               /* ranges of a 200 representation only */
    if (ir && !if_range_ok(ir->value, stored))
        return 0;               /* 13.1.5: ignore Range, send it all */
    /* ranges-specifier = range-unit "=" range-set; units case-insensitive */
    if (r->value.len < 6
        || !sl_view_ieq(sl_view_from(r->value.base, r->value.base + 6), "bytes="))
        return 0;
    p = r->value.base + 6;
    end = sl_view_end(r->value);
    while (sl_list_next(&p, end, &e))
        if (e.len && n++ == 0)
            spec = e;
    if (n != 1)
        return 0;               /* none, or several: we send no multipart */
    p = spec.base;
    end = sl_view_end(spec);
    if (*p == '-') {            /* suffix-range */
        p++;
        if ((b = range_num(&p, end)) < 0 || p != end)
            return 0;
        if (b == 0)
            return 416;         /* 14.1.1: a zero suffix is unsatisfiable */
        if (total == 0)
            return 0;           /* nothing to cut: send the empty 200 */
        *first = total > b ? total - b : 0;
        *last = total - 1;
        return 206;
    }
    if ((a = range_num(&p, end)) < 0 || p == end || *p++ != '-')
        return 0;
    b = range_num(&p, end);
    if (p != end || (b >= 0 && b < a))
        return 0;               /* 14.1.1: first-pos > last-pos is invalid */
    if (a >= total)
        return 416;
    *first = a;
    *last = b < 0 || b >= total ? total - 1 : b;
    return 206;
}

/* --- Vary (RFC 9111 4.1) ------------------------------------------------- */

/*
 * Normalise one field value into out: runs of whitespace become one SP, and
 * whitespace next to a comma goes ("gzip,deflate" == "gzip, deflate"), the
 * equivalence 4.1 allows for list-based fields. *prev is the last byte put.
 */
static int put_norm(struct sl_buf *out, struct sl_view v, char *prev)
{
    int pending = 0;
    size_t i;

    for (i = 0; i < v.len; i++) {
        char c = v.base[i];
        if (sl_is_ows(c)) {
            pending = 1;
            continue;
        }
        if (pending && c != ',' && *prev != ',' && *prev != ' ')
            if (put(out, " ", 1) < 0)
                return -ENOSPC;
        pending = 0;
        if (put(out, &c, 1) < 0)
            return -ENOSPC;
        *prev = c;
    }
    return 0;
}

/* "name: v1,v2\n" for every line of name in req; "name:\n" when absent,
 * so that an absent field never matches an empty one (4.1). */
static int vary_line(struct sl_buf *out, struct sl_view name,
                     const struct sl_http_msg *req, unsigned flags)
{
    char prev = ' ';
    int any = 0;
    size_t i;

    for (i = 0; i < name.len; i++) {
        char c = sl_lower(name.base[i]);
        if (put(out, &c, 1) < 0)
            return -ENOSPC;
    }
    if (put(out, ":", 1) < 0)
        return -ENOSPC;
    if (sl_view_ieq(name, "Accept-Encoding")) {
        struct flt_ae ae;
        char key[48];
        int n;

        flt_ae_parse(req, &ae);
        if ((flags & CACHE_VARY_RANGE_IDENTITY) && sl_http_find(req, "Range"))
            ae.present = 0;
        if ((n = flt_ae_key(&ae, key, sizeof(key))) < 0 || put(out, key, (size_t)n) < 0)
            return -ENOSPC;
        return put(out, "\n", 1);
    }
    for (i = 0; i < req->nhdrs; i++) {
        if (!sl_view_ieq_view(req->hdrs[i].name, name))
            continue;
        if (put(out, any ? "," : " ", 1) < 0)
            return -ENOSPC;
        prev = any ? ',' : ' ';
        any = 1;
        if (put_norm(out, req->hdrs[i].value, &prev) < 0)
            return -ENOSPC;
    }
    return put(out, "\n", 1);
}

int cache_vary_key(struct sl_view vary, const struct sl_http_msg *req,
                   struct sl_buf *out, unsigned flags)
{
    char *mark = out->last;
    const char *p;
    struct sl_view e;

    if (vary.len == 0)
        return 0;
    p = vary.base;
    while (sl_list_next(&p, sl_view_end(vary), &e))
        if (e.len == 1 && e.base[0] == '*')
            return 1;
    p = vary.base;
    while (sl_list_next(&p, sl_view_end(vary), &e)) {
        if (e.len && vary_line(out, e, req, flags) < 0) {
            out->last = mark;
            return -ENOSPC;
        }
    }
    return 0;
}

/* --- invalidation (RFC 9111 4.4) ----------------------------------------- */

int cache_invalidates(const char *method, int status)
{
    /* RFC 9110 9.2.1: the safe methods. Anything else, unknown methods
     * included, invalidates on a non-error (2xx, 3xx) status. */
    static const char *const safe[] = { "GET", "HEAD", "OPTIONS", "TRACE" };
    size_t i;

    if (method == NULL || status < 200 || status > 399)
        return 0;
    for (i = 0; i < sizeof(safe) / sizeof(safe[0]); i++)
        if (strcmp(method, safe[i]) == 0)
            return 0;
    return 1;
}

int cache_quick_abort_finish(int64_t got, int64_t expected, uint64_t min,
                             uint64_t max, unsigned pct)
{
    uint64_t left;

    if (expected < 0 || got < 0 || got > expected)
        return 0;               /* unknown or impossible: nothing to gain */
    left = (uint64_t)(expected - got);
    if (left < min)
        return 1;               /* only a little left */
    if (left > max)
        return 0;               /* too much left to go */
    if (expected < 100)
        return 1;
    return (uint64_t)got / ((uint64_t)expected / 100) > pct;
}
