/*
 * policy.h - the RFC 9111 rules of a shared HTTP cache, as pure functions.
 *
 * No I/O, no clock (callers pass "now"), no allocation. Inputs are parsed
 * messages (squidlike/http.h views) and plain numbers; outputs are verdicts,
 * numbers, and header text written into a caller's bounded buffer. Times are
 * seconds since the epoch (int64_t); -1 means "absent" wherever a time or a
 * delta may be missing.
 *
 * The split: what can be decided once, when a response is stored, is
 * computed once (cache_fresh_compute) and kept with the object; the hit
 * path then needs only arithmetic (cache_decide).
 */
#ifndef CACHE_POLICY_H
#define CACHE_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "squidlike/buf.h"
#include "squidlike/http.h"

/* Cache-Control (RFC 9111 section 5.2), all field lines combined. */
struct cache_cc {
    int64_t max_age;            /* -1 absent */
    int64_t s_maxage;           /* responses */
    int64_t max_stale;          /* requests; INT64_MAX for a bare max-stale */
    int64_t min_fresh;          /* requests */
    int64_t stale_while_revalidate;     /* RFC 5861, responses */
    int64_t stale_if_error;     /* RFC 5861, both */
    unsigned no_store:1;
    unsigned no_cache:1;        /* with or without field names: whole response */
    unsigned private_:1;        /* with or without field names: whole response */
    unsigned public_:1;
    unsigned must_revalidate:1;
    unsigned proxy_revalidate:1;
    unsigned only_if_cached:1;
    unsigned no_transform:1;
    unsigned immutable:1;
    unsigned pragma_no_cache:1; /* requests: Pragma: no-cache and no Cache-Control */
    unsigned targeted:1;        /* responses: read from a targeted field (RFC
                                   9213), so Expires is ignored; set only by
                                   cache_cc_parse_targeted */
};

/*
 * Parse every Cache-Control line of m (and Pragma for requests). Unknown
 * directives are ignored; a directive with a bad argument (max-age=abc) is
 * treated as its strictest reading: max-age / s-maxage -> 0 (stale),
 * max-stale / min-fresh / stale-* -> absent. Duplicates: the first wins.
 * Arguments may be quoted ("60"). Values saturate at 2^31 (RFC 9111 1.2.2).
 */
void cache_cc_parse(const struct sl_http_msg *m, int is_request,
                    struct cache_cc *cc);

/*
 * Targeted cache control (RFC 9213), for the reverse mode, where this cache
 * is the origin's own gateway. The target list (RFC 9213 2.2: "an ordered
 * list of the targeted field names that it uses for caching policy") is
 * ours, then the standard one: "Squidlike-Cache-Control", "CDN-Cache-
 * Control". The forward mode has no target list: there the fields are
 * addressed to some CDN, not to us, and "Targeted fields that are not on a
 * cache's target list MUST NOT change that cache's behavior and MUST be
 * passed through" (2.2), so it never calls this.
 *
 * Call it after cache_cc_parse(m, 0, cc) on the same response. It takes
 * the first name of names[0..n) (NULL entries skipped) whose field is
 * present, valid and non-empty: RFC 9213 2.2, "the cache MUST select the
 * first (in target-list order) field with a valid, non-empty value and use
 * its value to determine the caching policy for the response, and it MUST
 * ignore the Cache-Control and Expires header fields in that response".
 * Then cc is rebuilt from that field alone (Cache-Control's no-transform
 * is kept: it is about transformations, not caching) with cc->targeted
 * set, which makes cache_storable and cache_fresh_compute ignore Expires;
 * returns 1. When no field qualifies, returns 0 and cc is untouched: the
 * caller goes on with Cache-Control and Expires (2.2 "falls back").
 *
 * The rules, for hostile input:
 * - A targeted field is an SF Dictionary (RFC 8941 3.2), parsed strictly
 *   by RFC 8941 4.2: lowercase keys, integers of at most 15 digits,
 *   decimals of at most 12.3, strings of printable ASCII, no empty member,
 *   no trailing comma, nothing but ASCII. Any error voids the whole field
 *   (RFC 9213 2.1: "that field MUST be ignored by the cache"), and so does
 *   an empty one; the next name on the list is tried.
 * - Several lines of one name are one dictionary (RFC 8941 4.2: combined
 *   "into one comma-separated field-value", RFC 9110 5.3), read in place
 *   as if joined by ", "; lines with an empty value add nothing. A key met
 *   twice takes its last value (RFC 8941 4.2.2: "overwrite its value").
 * - Members are Cache-Control response directives (RFC 9111 5.2.2, RFC
 *   5861, RFC 8246); parameters are ignored (RFC 9213 2.1), as are unknown
 *   and request-only directives. A value of the wrong type is not consumed
 *   (2.1 "SHOULD NOT consume values that violate these inferred
 *   constraints"), which leaves each directive's strictest reading, as in
 *   cache_cc_parse: max-age / s-maxage other than an Integer >= 0 (a
 *   decimal, a token, "60", a negative) -> 0, stale (RFC 9111 4.2.1);
 *   stale-while-revalidate / stale-if-error -> absent; public and immutable
 *   only as Boolean true; no-store, no-cache, private, must-revalidate,
 *   proxy-revalidate and no-transform by their presence, whatever the
 *   value (even ?0: erring towards not storing / revalidating). Numbers
 *   saturate at 2^31 (RFC 9111 1.2.2). So "max-age=abc", a valid Token,
 *   still selects the field and reads as stale, while "max-age=1abc" is a
 *   syntax error and falls through to the next field.
 *
 * Forwarding the fields to the client (reverse mode): see
 * cache_targeted_hide.
 */
#define CACHE_TARGETED_OWN "Squidlike-Cache-Control"
#define CACHE_TARGETED_CDN "CDN-Cache-Control"
extern const char *const cache_target_list[2];  /* { OWN, CDN } */

int cache_cc_parse_targeted(const struct sl_http_msg *m,
                            const char *const *names, size_t n,
                            struct cache_cc *cc);

/*
 * Does the response field named name stay out of what the reverse proxy
 * sends to its client? 1 for Squidlike-Cache-Control only: it is addressed
 * to this gateway alone, is used up here, and would show clients (and any
 * cache between, none of which acts on it) the site's internal cache
 * policy. CDN-Cache-Control is passed on: RFC 9213 3, "CDN caches that use
 * CDN-Cache-Control will typically forward this header so that downstream
 * CDN caches can use it as well. However, they MAY remove it when this is
 * undesirable"; a CDN in front of the gateway is such a downstream cache.
 * Targeted fields that are not on the list are passed on (2.2, MUST), and
 * in forward mode every field is, as today (nothing is on our list there).
 * Cache-Control and Expires go to the client unchanged in both modes: they
 * are the policy for every other cache and for the browser. The client
 * side drops the field from the miss's head and from the stored head (a
 * hit copies the stored head as it is, without a per-field pass): the
 * freshness computed from it when the response was stored is kept with
 * the object, and a 304 that refreshes it is judged by its own targeted
 * field (origins send their caching fields on 304s: RFC 9111 4.3.4),
 * else by the stored Cache-Control.
 */
int cache_targeted_hide(struct sl_view name);

/* HTTP-date (IMF-fixdate, RFC 850, asctime; RFC 9110 5.6.7) -> epoch
 * seconds, or -1 when malformed. */
int64_t cache_date_parse(struct sl_view v);
/* IMF-fixdate into buf (at least 30 bytes): "Sun, 06 Nov 1994 08:49:37 GMT". */
void cache_date_format(int64_t t, char *buf);

/* Heuristic freshness parameters (Squid's refresh_pattern). */
struct cache_heuristic {
    int64_t min;                /* seconds */
    int percent;                /* of (Date - Last-Modified) */
    int64_t max;                /* seconds */
    /* Not freshness, but per URL pattern too: a Range miss on a URL makes
     * the proxy fetch the whole object when it is at most this big (Squid's
     * range_offset_limit); 0: never. */
    uint64_t range_fetch;
};

/*
 * Why a response may not be stored in a shared cache (RFC 9111 3, 3.5,
 * 5.2): NULL when it may. Only GET responses are stored. Refused: 1xx and
 * 206 (we store whole objects), 304, status above 599, no-store in
 * request or response, private,
 * a request with Authorization unless the response says public, s-maxage
 * or must-revalidate, Vary: *, Set-Cookie unless public or s-maxage (a
 * shared cache must not hand one user's cookie to another), and responses
 * with neither explicit freshness (max-age, s-maxage, Expires, public) nor
 * a heuristically cacheable status (200, 203, 204, 300, 301, 308, 404, 405,
 * 410, 414, 501); Expires does not count when respcc->targeted (RFC 9213
 * 2.2). Returns a short static reason ("no-store", ...).
 */
const char *cache_storable(const char *method, const struct sl_http_msg *req,
                           const struct cache_cc *reqcc,
                           const struct sl_http_msg *resp,
                           const struct cache_cc *respcc);

/*
 * What is kept with a stored response so that a hit needs no header
 * parsing. Computed when the response arrives (request_time: when the
 * request was sent; response_time: when the response head arrived).
 */
struct cache_fresh {
    int64_t request_time, response_time;
    int64_t date;               /* Date, or response_time when absent/bad */
    int64_t corrected_initial_age;  /* RFC 9111 4.2.3 */
    int64_t lifetime;           /* freshness lifetime (4.2.1 / 4.2.2) */
    int64_t swr;                /* stale-while-revalidate, -1 absent */
    int64_t sie;                /* stale-if-error, -1 absent */
    unsigned heuristic:1;       /* lifetime came from the heuristic */
    unsigned must_revalidate:1; /* must-revalidate or proxy-revalidate or s-maxage */
    unsigned no_cache:1;        /* always revalidate before use */
    unsigned has_validator:1;   /* non-empty ETag or a parsable Last-Modified */
    unsigned immutable:1;
};

/*
 * Fill f for a response that has just arrived. The lifetime is explicit
 * (s-maxage, max-age, Expires - Date; Expires not when respcc->targeted,
 * RFC 9213 2.2) or else heuristic from h (NULL: min
 * 0, 10%, max one day) for a heuristically cacheable status or a public
 * response, but never for an error (4xx, 5xx other than 410 Gone), which
 * then has none (Squid's refresh_pattern and negative_ttl 0).
 */
void cache_fresh_compute(const struct sl_http_msg *resp,
                         const struct cache_cc *respcc,
                         const struct cache_heuristic *h,
                         int64_t request_time, int64_t response_time,
                         struct cache_fresh *f);

/* Current age (RFC 9111 4.2.3), never negative. */
int64_t cache_age(const struct cache_fresh *f, int64_t now);

enum cache_verdict {
    CACHE_FRESH = 0,            /* serve it */
    CACHE_STALE_SERVE,          /* serve it stale (max-stale or swr); for
                                   swr the caller revalidates in background */
    CACHE_REVALIDATE,           /* send a conditional request first */
    CACHE_REFETCH               /* stale, no validator: forward normally */
};

/*
 * May a stored response be used for this request now (RFC 9111 4.2, 4.3,
 * 5.2.1, RFC 5861)? Request no-cache / Pragma: no-cache -> revalidate;
 * max-age, min-fresh, max-stale narrow or widen freshness; must-revalidate
 * and no-cache on the response forbid stale use. *swr_out is set when the
 * verdict is STALE_SERVE because of stale-while-revalidate.
 */
enum cache_verdict cache_decide(const struct cache_fresh *f,
                                const struct cache_cc *reqcc, int64_t now,
                                int *swr_out);

/* May a stale response be served because the origin failed (stale-if-error
 * in response or request, RFC 5861 section 4)? */
int cache_stale_if_error_ok(const struct cache_fresh *f,
                            const struct cache_cc *reqcc, int64_t now);

/*
 * Append the validators of a stored response as conditional request fields
 * ("If-None-Match: <etag>\r\n", "If-Modified-Since: <lm>\r\n") to out.
 * Returns how many fields were written (0: nothing to validate with), or
 * -ENOSPC.
 */
int cache_conditional(const struct sl_http_msg *stored, struct sl_buf *out);

/*
 * RFC 9111 4.3.4 / 3.2: the stored header fields updated from a 304: each
 * field name present in upd replaces all stored fields of that name (in the
 * stored position of the first; new names are appended), except the fields
 * 3.2 excludes: hop-by-hop fields (Connection and what it names,
 * Keep-Alive, Proxy-Connection, TE, Transfer-Encoding, Upgrade, Trailer),
 * Content-Length, and Age (recomputed). Writes the merged "Name: value\r\n"
 * lines (no final CRLF) to out. Returns 0 or -ENOSPC.
 */
int cache_merge_headers(const struct sl_http_msg *stored,
                        const struct sl_http_msg *upd, struct sl_buf *out);

/*
 * Client conditionals against a stored response (RFC 9110 13.1, 13.2.2):
 * 304 when If-None-Match matches the stored ETag (weak comparison; "*"
 * matches), or, without If-None-Match, when If-Modified-Since is not older
 * than the stored Last-Modified (GET/HEAD only). 412 for If-Match /
 * If-Unmodified-Since failures. 0 when the full response is to be sent.
 */
int cache_client_conditional(const char *method, const struct sl_http_msg *req,
                             const struct sl_http_msg *stored);

/*
 * Range (RFC 9110 14): a single "bytes=a-b", "bytes=a-", "bytes=-n" against
 * a complete object of size total. Returns 206 with [*first, *last], 416
 * when unsatisfiable, 0 to ignore the header (absent, multiple ranges,
 * other units, syntax we do not serve, or an If-Range that does not match
 * the stored ETag/Last-Modified).
 */
int cache_range(const struct sl_http_msg *req, const struct sl_http_msg *stored,
                int64_t total, int64_t *first, int64_t *last);

/*
 * Secondary cache key for Vary (RFC 9111 4.1). vary is the stored Vary
 * value; writes a normalised "name: values\n" line per listed field of req
 * (names lowercased, values with runs of whitespace collapsed, absent
 * fields as empty) to out. Accept-Encoding is keyed by what it accepts
 * (filters/encoding.h flt_ae_key: the set of codings, whatever the order,
 * weights and spelling), so that browsers of one kind share a variant.
 * flags: CACHE_VARY_RANGE_IDENTITY, a request with Range is keyed as one
 * without Accept-Encoding (the caller forwards it so: a range is served
 * from the identity representation). Returns 0, 1 when Vary contains "*"
 * (never matches: do not store / do not use), or -ENOSPC.
 */
#define CACHE_VARY_RANGE_IDENTITY 0x1u
int cache_vary_key(struct sl_view vary, const struct sl_http_msg *req,
                   struct sl_buf *out, unsigned flags);

/*
 * Squid's quick_abort: the client of a fetch that is being stored went
 * away; does the fetch go on to complete the object? got: body bytes
 * received so far; expected: the whole body's length, -1 when unknown
 * (then no: there is no telling how much is left). Finish when less than
 * min bytes are left; abort when more than max are; else finish when more
 * than pct percent are in. 1 to finish, 0 to abort.
 */
int cache_quick_abort_finish(int64_t got, int64_t expected, uint64_t min,
                             uint64_t max, unsigned pct);

/*
 * Invalidation after an unsafe method (RFC 9111 4.4): 1 when a response
 * with this status to this method must invalidate the target URI and the
 * same-origin Location / Content-Location URIs.
 */
int cache_invalidates(const char *method, int status);

/*
 * Resolve a Location / Content-Location value against the request URL
 * "http://host[:port]/path" and write the absolute URL to out when it has
 * the same origin (scheme, host, port). Returns 1 written, 0 other origin
 * or unusable, -ENOSPC.
 */
int cache_same_origin_url(const char *request_url, struct sl_view ref,
                          struct sl_buf *out);

#endif
