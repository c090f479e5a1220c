/*
 * fuzz_policy.c - libFuzzer target for the RFC 9111 policy (cache/policy.c).
 * Input: a request head, a NUL byte, a response head. Every policy function
 * runs on the pair; invariants (age never negative, ranges inside the
 * object, dates round-trip) abort on violation.
 *
 * make fuzz builds t/fuzz/fuzz_policy; seeds: t/fuzz/corpus/policy/ (make
 * check replays them: t/fuzz/replay_policy).
 */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cache/policy.h"
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct sl_http_limits lim = { 8192, 65536 };
    struct sl_http_hdr qh[32], rh[32];
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
    q.hdrs = qh; q.max_hdrs = 32; r.hdrs = rh; r.max_hdrs = 32;
    if (sl_http_parse_request(a, na, &lim, &q) > 0 && sl_http_parse_response(b, nb, &lim, &r) > 0) {
        cache_cc_parse(&q, 1, &qc); cache_cc_parse(&r, 0, &rc);
        (void)cache_storable("GET", &q, &qc, &r, &rc);
        cache_fresh_compute(&r, &rc, &h, 1000, 1002, &f);
        for (t = 0; t < 3000; t += 700) {
            (void)cache_decide(&f, &qc, t, &swr);
            (void)cache_stale_if_error_ok(&f, &qc, t);
            if (cache_age(&f, t) < 0) abort();
        }
        (void)cache_conditional(&r, &out);
        (void)cache_merge_headers(&r, &r, &out); sl_buf_reset(&out);
        (void)cache_client_conditional("GET", &q, &r);
        if (cache_range(&q, &r, 1000, &first, &last) == 206 && (first < 0 || last >= 1000 || first > last)) abort();
        for (size_t i = 0; i < r.nhdrs; i++) {
            char d[30];
            struct sl_buf o2 = { urlbuf, urlbuf + sizeof(urlbuf), urlbuf, urlbuf };
            (void)cache_vary_key(r.hdrs[i].value, &q, &out); sl_buf_reset(&out);
            (void)cache_same_origin_url("http://example.com/a/b?c", r.hdrs[i].value, &o2);
            t = cache_date_parse(r.hdrs[i].value);
            if (t >= 0) { cache_date_format(t, d); if (cache_date_parse((struct sl_view){d, 29}) != t) abort(); }
        }
    }
    free(a); free(b);
    return 0;
}
