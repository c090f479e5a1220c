/*
 * fuzz_policy.c - libFuzzer target for the RFC 9111 policy (cache/policy.c)
 * and targeted cache control (cache/targeted.c). Input: a request head, a
 * NUL byte, a response head. Every policy function runs on the pair;
 * invariants (age never negative, ranges inside the object, dates
 * round-trip) abort on violation.
 *
 * Targeted fields (RFC 9213) run on the response as it is, and on a
 * response made of the lines of the second part, each line a
 * CDN-Cache-Control value ("!..." a Squidlike-Cache-Control one, "#..." a
 * Cache-Control one), which takes the fuzzer straight to the SF parser.
 * Invariants: a field not used leaves cc as it was; a used one gives
 * bounded numbers, no request directive, and no-store / private mean not
 * storable; and reading the lines in place equals reading them joined
 * into one line with ", " (RFC 8941 4.2), which the target builds and
 * parses again.
 *
 * make fuzz builds t/fuzz/fuzz_policy; seeds: t/fuzz/corpus/policy/ (make
 * check replays them: t/fuzz/replay_policy).
 */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cache/policy.h"
#include "squidlike/chars.h"

#define NH 32
#define NTARGET (sizeof(cache_target_list) / sizeof(cache_target_list[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct sl_http_limits lim = { 8192, 65536 };

static int cc_eq(const struct cache_cc *a, const struct cache_cc *b)
{
    return a->max_age == b->max_age && a->s_maxage == b->s_maxage
        && a->max_stale == b->max_stale && a->min_fresh == b->min_fresh
        && a->stale_while_revalidate == b->stale_while_revalidate
        && a->stale_if_error == b->stale_if_error
        && a->no_store == b->no_store && a->no_cache == b->no_cache
        && a->private_ == b->private_ && a->public_ == b->public_
        && a->must_revalidate == b->must_revalidate
        && a->proxy_revalidate == b->proxy_revalidate
        && a->only_if_cached == b->only_if_cached
        && a->no_transform == b->no_transform && a->immutable == b->immutable
        && a->pragma_no_cache == b->pragma_no_cache
        && a->targeted == b->targeted;
}

static int delta_ok(int64_t v)
{
    return v >= -1 && v <= ((int64_t)1 << 31);
}

static int is_target(struct sl_view name)
{
    size_t k;

    for (k = 0; k < NTARGET; k++)
        if (sl_view_ieq(name, cache_target_list[k]))
            return 1;
    return 0;
}

static void put(char **w, const char *p, size_t n)
{
    memcpy(*w, p, n);
    *w += n;
}

/*
 * r again, with the lines of each target name joined into one: the other
 * lines as they were, then "Name: v1, v2" per name, empty values left out.
 * Returns the parsed copy in *j (its text in *text, to free), 0; -1 when
 * it does not parse (then nothing to compare).
 */
static int joined(const struct sl_http_msg *r, struct sl_http_hdr *jh,
                  struct sl_http_msg *j, char **text)
{
    static const struct sl_http_limits big = { 8192, 1 << 20 };
    size_t i, k, cap = 32;
    char *w;
    int any;

    for (i = 0; i < r->nhdrs; i++)
        cap += r->hdrs[i].name.len + r->hdrs[i].value.len + 32;
    cap += NTARGET * 32;
    if ((*text = w = malloc(cap)) == NULL)
        return -1;
    put(&w, "HTTP/1.1 200 OK\r\n", 17);
    for (i = 0; i < r->nhdrs; i++) {
        if (is_target(r->hdrs[i].name))
            continue;
        put(&w, r->hdrs[i].name.base, r->hdrs[i].name.len);
        put(&w, ": ", 2);
        put(&w, r->hdrs[i].value.base, r->hdrs[i].value.len);
        put(&w, "\r\n", 2);
    }
    for (k = 0; k < NTARGET; k++) {
        any = 0;
        for (i = 0; i < r->nhdrs; i++) {
            if (!sl_view_ieq(r->hdrs[i].name, cache_target_list[k])
                || r->hdrs[i].value.len == 0)
                continue;
            if (!any)
                put(&w, cache_target_list[k], strlen(cache_target_list[k]));
            put(&w, any ? ", " : ": ", 2);
            put(&w, r->hdrs[i].value.base, r->hdrs[i].value.len);
            any = 1;
        }
        if (any)
            put(&w, "\r\n", 2);
    }
    put(&w, "\r\n", 2);
    memset(j, 0, sizeof(*j));
    j->hdrs = jh;
    j->max_hdrs = NH;
    return sl_http_parse_response(*text, (size_t)(w - *text), &big, j) > 0 ? 0 : -1;
}

static void check_targeted(const struct sl_http_msg *q, const struct cache_cc *qc,
                           const struct sl_http_msg *r)
{
    struct sl_http_hdr jh[NH];
    struct sl_http_msg j;
    struct cache_cc before, cc, jcc;
    struct cache_fresh f;
    const char *why;
    char *text = NULL;
    int used, jused;
    int64_t t;

    cache_cc_parse(r, 0, &cc);
    before = cc;
    used = cache_cc_parse_targeted(r, cache_target_list, NTARGET, &cc);
    if (used != 0 && used != 1) abort();
    if (!used && !cc_eq(&cc, &before)) abort();
    if (used) {
        if (!cc.targeted || !delta_ok(cc.max_age) || !delta_ok(cc.s_maxage)
            || !delta_ok(cc.stale_while_revalidate) || !delta_ok(cc.stale_if_error)
            || cc.max_stale != -1 || cc.min_fresh != -1 || cc.only_if_cached
            || cc.pragma_no_cache || (before.no_transform && !cc.no_transform))
            abort();
    }
    why = cache_storable("GET", q, qc, r, &cc);
    if ((cc.no_store || cc.private_) && why == NULL) abort();
    cache_fresh_compute(r, &cc, NULL, 1000, 1002, &f);
    if (f.lifetime < 0) abort();
    for (t = 0; t < 3000; t += 700)
        if (cache_age(&f, t) < 0) abort();
    (void)cache_decide(&f, qc, 1500, NULL);

    /* In place == joined. */
    if (joined(r, jh, &j, &text) == 0) {
        cache_cc_parse(&j, 0, &jcc);
        jused = cache_cc_parse_targeted(&j, cache_target_list, NTARGET, &jcc);
        if (jused != used || !cc_eq(&jcc, &cc)) abort();
    }
    free(text);
}

/* The lines of b as targeted field values (see the file's comment). */
static void check_lines(const struct sl_http_msg *q, const struct cache_cc *qc,
                        const char *b, size_t nb)
{
    struct sl_http_hdr h[NH];
    struct sl_http_msg r;
    const char *p = b, *end = b + nb, *e, *name;
    char *text = malloc(nb * 2 + NH * 32 + 64), *w = text;
    size_t n = 0, skip;

    if (text == NULL) return;
    put(&w, "HTTP/1.1 200 OK\r\n", 17);
    while (p < end && n < NH) {
        e = memchr(p, '\n', (size_t)(end - p));
        if (e == NULL) e = end;
        skip = 0;
        name = CACHE_TARGETED_CDN;
        if (p < e && *p == '!') { name = CACHE_TARGETED_OWN; skip = 1; }
        else if (p < e && *p == '#') { name = "Cache-Control"; skip = 1; }
        put(&w, name, strlen(name));
        put(&w, ": ", 2);
        put(&w, p + skip, (size_t)(e - p) - skip - (e > p + skip && e[-1] == '\r'));
        put(&w, "\r\n", 2);
        n++;
        p = e + 1;
    }
    put(&w, "\r\n", 2);
    memset(&r, 0, sizeof(r));
    r.hdrs = h;
    r.max_hdrs = NH;
    if (sl_http_parse_response(text, (size_t)(w - text), &lim, &r) > 0)
        check_targeted(q, qc, &r);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sl_http_hdr qh[NH], rh[NH];
    struct sl_http_msg q, r;
    struct cache_cc qc, rc;
    struct cache_fresh f;
    struct cache_heuristic h = { 5, 20, 1000, 0 };
    const uint8_t *sep = memchr(data, 0, size);
    char *a, *b, urlbuf[300], obuf[2048];
    struct sl_buf out = { obuf, obuf + sizeof(obuf), obuf, obuf };
    int64_t first, last, t;
    size_t na, nb;
    int swr;

    if (sep == NULL) return 0;
    na = (size_t)(sep - data); nb = size - na - 1;
    a = malloc(na + 1); b = malloc(nb + 1);
    memcpy(a, data, na); memcpy(b, sep + 1, nb);
    memset(&q, 0, sizeof(q)); memset(&r, 0, sizeof(r));
    q.hdrs = qh; q.max_hdrs = NH; r.hdrs = rh; r.max_hdrs = NH;
    if (sl_http_parse_request(a, na, &lim, &q) <= 0) goto done;
    cache_cc_parse(&q, 1, &qc);
    check_lines(&q, &qc, b, nb);
    if (sl_http_parse_response(b, nb, &lim, &r) > 0) {
        cache_cc_parse(&r, 0, &rc);
        (void)cache_storable("GET", &q, &qc, &r, &rc);
        cache_fresh_compute(&r, &rc, &h, 1000, 1002, &f);
        for (t = 0; t < 3000; t += 700) {
            (void)cache_decide(&f, &qc, t, &swr);
            (void)cache_stale_if_error_ok(&f, &qc, t);
            if (cache_age(&f, t) < 0) abort();
        }
        check_targeted(&q, &qc, &r);
        (void)cache_conditional(&r, &out);
        (void)cache_merge_headers(&r, &r, &out); sl_buf_reset(&out);
        (void)cache_client_conditional("GET", &q, &r);
        if (cache_range(&q, &r, 1000, &first, &last) == 206 && (first < 0 || last >= 1000 || first > last)) abort();
        for (size_t i = 0; i < r.nhdrs; i++) {
            char d[30];
            struct sl_buf o2 = { urlbuf, urlbuf + sizeof(urlbuf), urlbuf, urlbuf };
            (void)cache_vary_key(r.hdrs[i].value, &q, &out, i & 1 ? CACHE_VARY_RANGE_IDENTITY : 0);
            sl_buf_reset(&out);
            (void)cache_same_origin_url("http://example.com/a/b?c", r.hdrs[i].value, &o2);
            (void)cache_targeted_hide(r.hdrs[i].name);
            t = cache_date_parse(r.hdrs[i].value);
            if (t >= 0) { cache_date_format(t, d); if (cache_date_parse((struct sl_view){d, 29}) != t) abort(); }
        }
    }
done:
    free(a); free(b);
    return 0;
}
