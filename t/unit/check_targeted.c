/*
 * check_targeted.c - cache/targeted.c: targeted cache control (RFC 9213)
 * read as an SF Dictionary (RFC 8941), and what it changes in
 * cache_storable / cache_fresh_compute. Apart from check_policy.c, which is
 * long enough; the same way of building messages: literal text through the
 * real parser, each copied into a buffer of exactly its length so that an
 * overread trips ASan.
 */
#include "config.h"

#include <check.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/policy.h"
#include "squidlike/buf.h"
#include "squidlike/http.h"

#define T0 INT64_C(784111777)   /* Sun, 06 Nov 1994 08:49:37 GMT */
#define DATE_T0 "Sun, 06 Nov 1994 08:49:37 GMT"
#define DATE_T0_P20 "Sun, 06 Nov 1994 08:49:57 GMT"
#define DATE_T0_P300 "Sun, 06 Nov 1994 08:54:37 GMT"
#define DATE_T0_M10000 "Sun, 06 Nov 1994 06:02:57 GMT"
#define NSLOT 64
#define NHDRS 32
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct slot {
    struct sl_http_hdr hdrs[NHDRS];
    struct sl_http_msg m;
    char *copy;
};

static struct slot slots[NSLOT];
static int nslot;
static const struct sl_http_limits lim = { 16384, 65536 };

static void teardown(void)
{
    int i;

    for (i = 0; i < nslot; i++) {
        free(slots[i].copy);
        slots[i].copy = NULL;
    }
    nslot = 0;
}

/* Parse a head built with printf; the final CRLF is added here. */
static struct sl_http_msg *parse(int is_req, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static struct sl_http_msg *parse(int is_req, const char *fmt, ...)
{
    char tmp[12288];
    struct slot *s;
    va_list ap;
    ssize_t r;
    size_t n;
    int k;

    va_start(ap, fmt);
    k = vsnprintf(tmp, sizeof(tmp) - 2, fmt, ap);
    va_end(ap);
    ck_assert_int_lt(k, (int)sizeof(tmp) - 2);
    strcat(tmp, "\r\n");
    n = strlen(tmp);
    if (nslot == NSLOT)
        teardown();             /* long tables: recycle (nothing kept) */
    s = &slots[nslot++];
    s->copy = malloc(n);
    ck_assert_ptr_nonnull(s->copy);
    memcpy(s->copy, tmp, n);
    s->m.hdrs = s->hdrs;
    s->m.max_hdrs = NHDRS;
    r = is_req ? sl_http_parse_request(s->copy, n, &lim, &s->m)
               : sl_http_parse_response(s->copy, n, &lim, &s->m);
    ck_assert_msg(r == (ssize_t)n, "parse failed (%s): %s",
                  s->m.err ? s->m.err : "incomplete", tmp);
    return &s->m;
}

#define RESP(...) parse(0, "HTTP/1.1 200 OK\r\n" __VA_ARGS__)

/* Cache-Control first, then the target list, as the reverse mode will. */
static int targ(const struct sl_http_msg *resp, struct cache_cc *cc)
{
    memset(cc, 0x5a, sizeof(*cc));
    cache_cc_parse(resp, 0, cc);
    return cache_cc_parse_targeted(resp, cache_target_list,
                                   NELEM(cache_target_list), cc);
}

/* --- RFC 8941 syntax: valid fields are used, invalid ones ignored -------- */

/*
 * Each value goes into "CDN-Cache-Control: <value>" beside
 * "Cache-Control: max-age=7". A valid one is used (its max-age, or -1 when
 * it has none); an invalid one leaves Cache-Control's 7.
 */
static const struct {
    const char *value;
    int valid;
    int64_t max_age;
    const char *why;
} syntax[] = {
    { "max-age=60", 1, 60, "RFC 9213 2: the example" },
    { "max-age=60, no-store", 1, 60, "8941 3.2" },
    { "max-age=60,\tno-store", 1, 60, "4.2.2: OWS after a comma" },
    { "max-age=60 , no-store", 1, 60, "4.2.2: OWS before a comma" },
    { "max-age=60;foo=bar", 1, 60, "9213 2.1: parameters ignored" },
    { "max-age=60;foo;*b-2.x=\"s\";c=?1;d=-1.5;e=:AA==:", 1, 60, "4.2.3.2" },
    { "no-cache=\"set-cookie, x\", max-age=5", 1, 5, "a String with a comma" },
    { "foo=(a \"b\" 1;p=2 ?0);q, max-age=5", 1, 5, "4.2.1.2: inner list" },
    { "foo=(), max-age=5", 1, 5, "an empty inner list" },
    { "foo=:aGVsbG8=:, max-age=5", 1, 5, "4.2.7: byte sequence" },
    { "*foo=1, max-age=5", 1, 5, "4.2.3.3: a key may start with *" },
    { "foo=123456789012345, max-age=5", 1, 5, "4.2.4: 15 digits" },
    { "foo=-123456789012.123, max-age=5", 1, 5, "4.2.4: 12.3 digits" },
    { "foo=a:b/c!#$%&'*+-.^_`|~, max-age=5", 1, 5, "4.2.6: token chars" },
    { "none", 1, -1, "9213 3.1: none (unknown) still selects the field" },
    { "max-age=abc", 1, 0, "a Token: valid field, bad max-age = stale" },
    { "max-age=\"60\"", 1, 0, "a String is not an Integer" },
    { "max-age=1.5", 1, 0, "a Decimal is not an Integer" },
    { "max-age=-5", 1, 0, "negative" },
    { "max-age", 1, 0, "Boolean true" },
    { "max-age=(60)", 1, 0, "inner list" },
    { "max-age=60, max-age=10", 1, 10, "4.2.2: the last value wins" },
    { "max-age=999999999999999", 1, INT64_C(1) << 31, "9111 1.2.2: 2^31" },
    { "max-age=60, max-agexxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx=1", 1, 60,
      "a long key matches nothing" },

    { "max-age=1abc", 0, 7, "4.2.2: junk after an item" },
    { "max-age=60,,", 0, 7, "an empty member" },
    { "max-age=60,", 0, 7, "a trailing comma" },
    { ",max-age=60", 0, 7, "a leading comma" },
    { "max-age=60,, no-store", 0, 7, "an empty member inside" },
    { "Max-Age=60", 0, 7, "4.2.3.3: keys are lowercase" },
    { "max-age = 60", 0, 7, "no space around =" },
    { "max-age=60 no-store", 0, 7, "a missing comma" },
    { "max-age=60;", 0, 7, "a parameter without key" },
    { "max-age=60;Foo=1", 0, 7, "an uppercase parameter key" },
    { "max-age=60 ;a=1", 0, 7, "a space before ;" },
    { "max-age=60;a=(1)", 0, 7, "a parameter value is a bare item" },
    { "max-age=\"60", 0, 7, "an unterminated String" },
    { "foo=\"a\\x\", max-age=5", 0, 7, "4.2.5: only \\\" and \\\\ escape" },
    { "foo=\"a\tb\", max-age=5", 0, 7, "4.2.5: no HTAB in a String" },
    { "foo=\"caf\xc3\xa9\", max-age=5", 0, 7, "4.2: not ASCII (in a String)" },
    { "caf\xc3\xa9=1, max-age=5", 0, 7, "4.2: not ASCII (in a key)" },
    { "max-age=5, foo=b\xc3\xa9", 0, 7, "4.2: not ASCII (in a token)" },
    { "max-age=1234567890123456", 0, 7, "4.2.4: 16 digits" },
    { "foo=1234567890123.1", 0, 7, "4.2.4: 13 digits before ." },
    { "foo=1.1234", 0, 7, "4.2.4: 4 digits after ." },
    { "foo=1.", 0, 7, "4.2.4: nothing after ." },
    { "foo=-", 0, 7, "4.2.4: - alone" },
    { "foo=?2", 0, 7, "4.2.8: ?0 or ?1" },
    { "foo=?", 0, 7, "4.2.8: ? alone" },
    { "foo=:ab!c:", 0, 7, "4.2.7: not base64" },
    { "foo=:abc", 0, 7, "4.2.7: unterminated" },
    { "foo=(a b", 0, 7, "4.2.1.2: unterminated inner list" },
    { "foo=(a,b)", 0, 7, "4.2.1.2: SP between items" },
    { "foo=(a)(b)", 0, 7, "4.2.1.2: one inner list" },
    { "foo=((a))", 0, 7, "4.2.1.2: no nesting" },
    { "foo=@1659578233", 0, 7, "RFC 8941 has no Date (RFC 9651)" },
    { "foo=%\"x\"", 0, 7, "RFC 8941 has no Display String" },
    { "foo=, max-age=5", 0, 7, "= with nothing" },
    { "-foo=1", 0, 7, "a key starts with lcalpha or *" },
    { "1foo=1", 0, 7, "a key starts with lcalpha or *" },
};

START_TEST(sf_syntax)
{
    struct cache_cc cc;
    size_t i;
    int rc;

    for (i = 0; i < NELEM(syntax); i++) {
        rc = targ(RESP("Cache-Control: max-age=7\r\nCDN-Cache-Control: %s\r\n",
                       syntax[i].value), &cc);
        ck_assert_msg(rc == syntax[i].valid && (int)cc.targeted == rc
                      && cc.max_age == syntax[i].max_age,
                      "%s (%s): rc %d targeted %d max-age %lld", syntax[i].value,
                      syntax[i].why, rc, (int)cc.targeted, (long long)cc.max_age);
    }
}
END_TEST

/* --- the directives ------------------------------------------------------- */

START_TEST(directives)
{
    struct cache_cc cc;

    ck_assert_int_eq(targ(RESP("Cache-Control: max-age=1, s-maxage=2, immutable, "
                               "stale-while-revalidate=3, stale-if-error=4, public\r\n"
                               "CDN-Cache-Control: max-age=60, s-maxage=120, "
                               "must-revalidate, proxy-revalidate, no-transform, "
                               "stale-while-revalidate=30, stale-if-error=300, private, "
                               "no-cache, no-store, public\r\n"), &cc), 1);
    ck_assert_int_eq(cc.max_age, 60);
    ck_assert_int_eq(cc.s_maxage, 120);
    ck_assert_int_eq(cc.stale_while_revalidate, 30);
    ck_assert_int_eq(cc.stale_if_error, 300);
    ck_assert(cc.public_ && cc.private_ && cc.no_cache && cc.no_store);
    ck_assert(cc.must_revalidate && cc.proxy_revalidate && cc.no_transform);
    ck_assert(!cc.immutable && cc.targeted);
    ck_assert(!cc.only_if_cached && !cc.pragma_no_cache);
    ck_assert_int_eq(cc.max_stale, -1);
    ck_assert_int_eq(cc.min_fresh, -1);

    /* Nothing is kept from Cache-Control ... */
    ck_assert_int_eq(targ(RESP("Cache-Control: no-store, private, no-cache, "
                               "must-revalidate, max-age=9, stale-if-error=9\r\n"
                               "CDN-Cache-Control: immutable\r\n"), &cc), 1);
    ck_assert(!cc.no_store && !cc.private_ && !cc.no_cache && !cc.must_revalidate);
    ck_assert(cc.immutable);
    ck_assert_int_eq(cc.max_age, -1);
    ck_assert_int_eq(cc.stale_if_error, -1);
    /* ... but no-transform, which is not about caching. */
    targ(RESP("Cache-Control: no-transform\r\nCDN-Cache-Control: max-age=5\r\n"), &cc);
    ck_assert(cc.no_transform);

    /* Request-only directives are not response directives (9213 2.1). */
    targ(RESP("CDN-Cache-Control: max-stale=5, min-fresh=5, only-if-cached\r\n"), &cc);
    ck_assert(cc.targeted);
    ck_assert_int_eq(cc.max_stale, -1);
    ck_assert_int_eq(cc.min_fresh, -1);
    ck_assert(!cc.only_if_cached);

    /* Values of the wrong type (9213 2.1 "SHOULD NOT consume"): what grants
     * is dropped, what restricts stays. */
    targ(RESP("CDN-Cache-Control: public=?0, immutable=1, "
              "stale-while-revalidate=1.5, stale-if-error=\"9\", s-maxage=x\r\n"), &cc);
    ck_assert(!cc.public_ && !cc.immutable);
    ck_assert_int_eq(cc.stale_while_revalidate, -1);
    ck_assert_int_eq(cc.stale_if_error, -1);
    ck_assert_int_eq(cc.s_maxage, 0);
    targ(RESP("CDN-Cache-Control: no-store=?0, private=(a), no-cache=1, "
              "must-revalidate=?0, proxy-revalidate=x\r\n"), &cc);
    ck_assert(cc.no_store && cc.private_ && cc.no_cache);
    ck_assert(cc.must_revalidate && cc.proxy_revalidate);
    /* The last value wins (RFC 8941 4.2.2), for what grants too. */
    targ(RESP("CDN-Cache-Control: public, public=?0, stale-if-error=5, "
              "stale-if-error=x\r\n"), &cc);
    ck_assert(!cc.public_);
    ck_assert_int_eq(cc.stale_if_error, -1);
    targ(RESP("CDN-Cache-Control: public=?0, public, s-maxage=x, s-maxage=8\r\n"), &cc);
    ck_assert(cc.public_);
    ck_assert_int_eq(cc.s_maxage, 8);
    /* Directive names are keys: exact, lowercase. */
    targ(RESP("CDN-Cache-Control: no-storex, xno-store, nostore\r\n"), &cc);
    ck_assert(cc.targeted && !cc.no_store);
}
END_TEST

/* --- the target list (RFC 9213 2.2) --------------------------------------- */

START_TEST(target_list)
{
    static const char *const only_cdn[] = { NULL, CACHE_TARGETED_CDN };
    struct cache_cc cc, before;
    struct sl_http_msg *m;

    /* Ours beats CDN-Cache-Control, whatever the order of the lines. */
    targ(RESP("CDN-Cache-Control: max-age=600\r\nCache-Control: max-age=10\r\n"
              "Squidlike-Cache-Control: max-age=30\r\n"), &cc);
    ck_assert_int_eq(cc.max_age, 30);
    /* Field names are case-insensitive (RFC 9110 5.1). */
    targ(RESP("cdn-cache-control: max-age=600\r\nSQUIDLIKE-CACHE-CONTROL: max-age=30\r\n"), &cc);
    ck_assert_int_eq(cc.max_age, 30);
    /* An invalid or empty field of ours: the next name decides. */
    targ(RESP("Squidlike-Cache-Control: max-age=30,,\r\n"
              "CDN-Cache-Control: max-age=600\r\n"), &cc);
    ck_assert_int_eq(cc.max_age, 600);
    targ(RESP("Squidlike-Cache-Control:\r\nCDN-Cache-Control: max-age=600\r\n"), &cc);
    ck_assert_int_eq(cc.max_age, 600);
    targ(RESP("Squidlike-Cache-Control:   \r\nCDN-Cache-Control: max-age=600\r\n"), &cc);
    ck_assert_int_eq(cc.max_age, 600);
    /* None valid: Cache-Control, untouched (not even cc.targeted). */
    m = RESP("Cache-Control: max-age=10, no-transform\r\n"
             "Squidlike-Cache-Control: Max-Age=30\r\nCDN-Cache-Control:\r\n");
    ck_assert_int_eq(targ(m, &cc), 0);
    ck_assert_int_eq(cc.max_age, 10);
    ck_assert(cc.no_transform && !cc.targeted);
    memset(&before, 0x5a, sizeof(before));
    cache_cc_parse(m, 0, &before);
    ck_assert(memcmp(&before, &cc, sizeof(cc)) == 0);
    /* Other targeted fields are not ours (2.2: MUST NOT change behaviour). */
    ck_assert_int_eq(targ(RESP("Cache-Control: max-age=10\r\n"
                               "ExampleCDN-Cache-Control: max-age=99\r\n"
                               "Surrogate-Control: max-age=99\r\n"), &cc), 0);
    ck_assert_int_eq(cc.max_age, 10);
    /* The caller's list: NULL entries skipped, n == 0 reads nothing. */
    m = RESP("Cache-Control: max-age=10\r\nSquidlike-Cache-Control: max-age=30\r\n"
             "CDN-Cache-Control: max-age=600\r\n");
    cache_cc_parse(m, 0, &cc);
    ck_assert_int_eq(cache_cc_parse_targeted(m, only_cdn, 2, &cc), 1);
    ck_assert_int_eq(cc.max_age, 600);
    cache_cc_parse(m, 0, &cc);
    ck_assert_int_eq(cache_cc_parse_targeted(m, cache_target_list, 0, &cc), 0);
    ck_assert_int_eq(cc.max_age, 10);
    ck_assert_str_eq(cache_target_list[0], "Squidlike-Cache-Control");
    ck_assert_str_eq(cache_target_list[1], "CDN-Cache-Control");
}
END_TEST

/* --- several lines are one dictionary (RFC 8941 4.2, RFC 9110 5.3) -------- */

START_TEST(field_lines)
{
    struct cache_cc cc;

    targ(RESP("CDN-Cache-Control: max-age=600\r\nX: y\r\n"
              "CDN-Cache-Control: no-store\r\n"), &cc);
    ck_assert(cc.no_store);
    ck_assert_int_eq(cc.max_age, 600);
    targ(RESP("CDN-Cache-Control: max-age=600\r\ncdn-cache-control: max-age=60\r\n"), &cc);
    ck_assert_int_eq(cc.max_age, 60);           /* last wins across lines */
    /* Joined with ", ": a trailing comma on one line is an empty member. */
    ck_assert_int_eq(targ(RESP("Cache-Control: max-age=7\r\n"
                               "CDN-Cache-Control: max-age=600,\r\n"
                               "CDN-Cache-Control: private\r\n"), &cc), 0);
    ck_assert_int_eq(cc.max_age, 7);
    /* One bad line voids the whole field, the good lines with it. */
    ck_assert_int_eq(targ(RESP("Cache-Control: max-age=7\r\n"
                               "CDN-Cache-Control: max-age=600\r\n"
                               "CDN-Cache-Control: private=\r\n"), &cc), 0);
    /* A member cannot be split across lines ... */
    ck_assert_int_eq(targ(RESP("Cache-Control: max-age=7\r\n"
                               "CDN-Cache-Control: max-age=\r\n"
                               "CDN-Cache-Control: 600\r\n"), &cc), 0);
    /* ... but a String may hold the joint, as in the joined value. */
    ck_assert_int_eq(targ(RESP("CDN-Cache-Control: no-cache=\"a\r\n"
                               "CDN-Cache-Control: b\", max-age=5\r\n"), &cc), 1);
    ck_assert(cc.no_cache);
    ck_assert_int_eq(cc.max_age, 5);
    /* Empty lines add nothing (no empty member from them). */
    ck_assert_int_eq(targ(RESP("CDN-Cache-Control:\r\nCDN-Cache-Control: max-age=5\r\n"
                               "CDN-Cache-Control:\r\n"), &cc), 1);
    ck_assert_int_eq(cc.max_age, 5);
    /* A long field: every member parsed, nothing bounded by a buffer. */
    {
        char v[9000];
        size_t i;

        for (i = 0; i + 2 < 8000; i += 2)
            memcpy(v + i, "a,", 2);
        strcpy(v + i, "max-age=42");
        ck_assert_int_eq(targ(RESP("CDN-Cache-Control: %s\r\n", v), &cc), 1);
        ck_assert_int_eq(cc.max_age, 42);
        v[i - 1] = ';';         /* "a;max-age=42": a parameter now */
        ck_assert_int_eq(targ(RESP("CDN-Cache-Control: %s\r\n", v), &cc), 1);
        ck_assert_int_eq(cc.max_age, -1);
    }
}
END_TEST

/* --- what it changes: storing and freshness (RFC 9213 2.2) -------------- */

/*
 * Each response: "HTTP/1.1 <status> X", Date: T0, then hdrs; the request
 * is a plain GET, with Authorization when auth. Checked: whether a
 * targeted field was used, cache_storable's verdict, and (when not -1) the
 * freshness lifetime received at T0 with the default heuristic (10% of
 * Date - Last-Modified).
 */
static const struct {
    int status;
    const char *hdrs;
    int auth;
    int used;
    const char *store;
    int64_t lifetime;
    const char *why;
} behave[] = {
    { 200, "Cache-Control: max-age=10\r\nExpires: " DATE_T0_P20 "\r\n"
      "CDN-Cache-Control: max-age=600\r\n", 0, 1, "ok", 600,
      "CDN max-age over Cache-Control max-age and Expires" },
    { 200, "Cache-Control: max-age=60, s-maxage=120\r\n"
      "CDN-Cache-Control: max-age=600\r\n", 0, 1, "ok", 600,
      "9213 3.1: the first example (s-maxage ignored too)" },
    { 200, "Cache-Control: max-age=10\r\nSquidlike-Cache-Control: max-age=30\r\n"
      "CDN-Cache-Control: max-age=600\r\n", 0, 1, "ok", 30, "ours first" },
    { 200, "Cache-Control: max-age=10\r\nSquidlike-Cache-Control: max-age=1abc\r\n"
      "CDN-Cache-Control: max-age=600\r\n", 0, 1, "ok", 600, "ours invalid" },
    { 200, "Cache-Control: max-age=10\r\nSquidlike-Cache-Control: max-age=1abc\r\n"
      "CDN-Cache-Control: max-age=60,,\r\n", 0, 0, "ok", 10, "both invalid" },
    { 200, "Expires: " DATE_T0_P300 "\r\nCDN-Cache-Control: max-age=60, max-age=x\r\n",
      0, 1, "ok", 0, "a bad max-age is stale, Expires no rescue" },
    { 200, "Cache-Control: public, max-age=600\r\nCDN-Cache-Control: no-store\r\n",
      0, 1, "no-store", -1, "no-store in the targeted field" },
    { 200, "Cache-Control: public, max-age=600\r\n"
      "CDN-Cache-Control: max-age=600, no-store=?0\r\n",
      0, 1, "no-store", -1, "no-store whatever its value" },
    { 200, "Cache-Control: public, max-age=600\r\nCDN-Cache-Control: private\r\n",
      0, 1, "private", -1, "private in the targeted field" },
    { 200, "Cache-Control: max-age=60\r\nSquidlike-Cache-Control: max-age=60\r\n"
      "CDN-Cache-Control: no-store\r\n", 0, 1, "ok", 60,
      "the first valid field only: CDN's no-store unread" },
    { 200, "CDN-Cache-Control: max-age=600\r\nCache-Control: no-store\r\n",
      0, 1, "ok", 600, "9213 3.1: CDN caches only" },
    { 200, "Cache-Control: no-store\r\nCDN-Cache-Control: none\r\n"
      "Last-Modified: " DATE_T0_M10000 "\r\n", 0, 1, "ok", 1000,
      "9213 3.1: none; the heuristic then" },
    { 200, "Expires: " DATE_T0_P300 "\r\nCDN-Cache-Control: none\r\n",
      0, 1, "ok", 0, "Expires ignored: the heuristic, no Last-Modified: 0" },
    { 200, "Expires: " DATE_T0_P300 "\r\n", 0, 0, "ok", 300,
      "without a targeted field, Expires as before" },
    { 302, "Expires: " DATE_T0_P300 "\r\nCDN-Cache-Control: none\r\n",
      0, 1, "no freshness", -1, "Expires does not make it storable" },
    { 302, "Expires: " DATE_T0_P300 "\r\nCDN-Cache-Control: max-age=5\r\n",
      0, 1, "ok", 5, "max-age does" },
    { 302, "Expires: " DATE_T0_P300 "\r\n", 0, 0, "ok", 300,
      "... and Expires, without one" },
    { 200, "Cache-Control: max-age=10\r\nCDN-Cache-Control: s-maxage=100, max-age=50\r\n",
      0, 1, "ok", 100, "s-maxage" },
    { 200, "Cache-Control: public\r\nCDN-Cache-Control: max-age=60\r\n",
      1, 1, "authorization", -1, "9111 3.5: Cache-Control's public unread" },
    { 200, "CDN-Cache-Control: public, max-age=60\r\n",
      1, 1, "ok", 60, "9111 3.5: public in the targeted field" },
    { 200, "Set-Cookie: a=b\r\nCache-Control: s-maxage=60\r\n"
      "CDN-Cache-Control: max-age=60\r\n", 0, 1, "set-cookie", -1,
      "Set-Cookie: Cache-Control's s-maxage unread" },
    { 200, "Cache-Control: max-age=10\r\nCDN-Cache-Control: max-age=2147483648999\r\n",
      0, 1, "ok", INT64_C(1) << 31, "saturated" },
    { 200, "Cache-Control: max-age=10\r\nCDN-Cache-Control: max-age=1234567890123456\r\n",
      0, 0, "ok", 10, "16 digits: invalid field" },
};

START_TEST(store_and_freshness)
{
    struct sl_http_msg *req, *resp;
    struct cache_cc qc, rc;
    struct cache_fresh f;
    const char *why;
    size_t i;
    int used;

    for (i = 0; i < NELEM(behave); i++) {
        req = behave[i].auth ? parse(1, "GET /x HTTP/1.1\r\nHost: h\r\n"
                                     "Authorization: Basic eDp5\r\n")
                             : parse(1, "GET /x HTTP/1.1\r\nHost: h\r\n");
        resp = parse(0, "HTTP/1.1 %d X\r\nDate: %s\r\n%s", behave[i].status,
                     DATE_T0, behave[i].hdrs);
        cache_cc_parse(req, 1, &qc);
        used = targ(resp, &rc);
        why = cache_storable("GET", req, &qc, resp, &rc);
        cache_fresh_compute(resp, &rc, NULL, T0, T0, &f);
        ck_assert_msg(used == behave[i].used
                      && strcmp(why ? why : "ok", behave[i].store) == 0
                      && (behave[i].lifetime < 0 || f.lifetime == behave[i].lifetime),
                      "%s: used %d, store %s, lifetime %lld", behave[i].why, used,
                      why ? why : "ok", (long long)f.lifetime);
    }
}
END_TEST

START_TEST(fresh_flags)
{
    struct cache_fresh f;
    struct cache_cc cc;
    struct sl_http_msg *m;

    /* must-revalidate, no-cache, swr, sie, immutable from the field;
     * Cache-Control's own ignored. */
    m = RESP("Cache-Control: stale-while-revalidate=99, stale-if-error=99\r\n"
             "CDN-Cache-Control: max-age=10, stale-while-revalidate=30, "
             "stale-if-error=60, immutable\r\n");
    targ(m, &cc);
    cache_fresh_compute(m, &cc, NULL, T0, T0, &f);
    ck_assert_int_eq(f.swr, 30);
    ck_assert_int_eq(f.sie, 60);
    ck_assert(f.immutable && !f.must_revalidate && !f.no_cache);
    /* serving stale while revalidating, by the field's numbers */
    ck_assert_int_eq(cache_decide(&f, NULL, T0 + 35, NULL), CACHE_STALE_SERVE);
    ck_assert(cache_decide(&f, NULL, T0 + 45, NULL) != CACHE_STALE_SERVE);
    ck_assert(cache_stale_if_error_ok(&f, NULL, T0 + 65));
    ck_assert(!cache_stale_if_error_ok(&f, NULL, T0 + 75));

    m = RESP("Cache-Control: max-age=60, stale-while-revalidate=99\r\n"
             "CDN-Cache-Control: max-age=60, must-revalidate\r\n");
    targ(m, &cc);
    cache_fresh_compute(m, &cc, NULL, T0, T0, &f);
    ck_assert(f.must_revalidate);
    ck_assert_int_eq(f.swr, -1);
    m = RESP("CDN-Cache-Control: max-age=60, proxy-revalidate\r\n");
    targ(m, &cc);
    cache_fresh_compute(m, &cc, NULL, T0, T0, &f);
    ck_assert(f.must_revalidate);
    m = RESP("CDN-Cache-Control: s-maxage=60\r\n");     /* 9111 5.2.2.10 */
    targ(m, &cc);
    cache_fresh_compute(m, &cc, NULL, T0, T0, &f);
    ck_assert(f.must_revalidate);
    m = RESP("Cache-Control: max-age=600\r\nCDN-Cache-Control: max-age=600, no-cache\r\n");
    targ(m, &cc);
    cache_fresh_compute(m, &cc, NULL, T0, T0, &f);
    ck_assert(f.no_cache);
    ck_assert_int_eq(cache_decide(&f, NULL, T0 + 1, NULL), CACHE_REFETCH);
}
END_TEST

/* --- forwarding (policy.h, cache_targeted_hide) --------------------------- */

START_TEST(hide)
{
    ck_assert(cache_targeted_hide(SL_VIEW_LIT("Squidlike-Cache-Control")));
    ck_assert(cache_targeted_hide(SL_VIEW_LIT("squidlike-cache-control")));
    ck_assert(!cache_targeted_hide(SL_VIEW_LIT("CDN-Cache-Control")));
    ck_assert(!cache_targeted_hide(SL_VIEW_LIT("Cache-Control")));
    ck_assert(!cache_targeted_hide(SL_VIEW_LIT("Expires")));
    ck_assert(!cache_targeted_hide(SL_VIEW_LIT("ExampleCDN-Cache-Control")));
    ck_assert(!cache_targeted_hide(SL_VIEW_LIT("Squidlike-Cache-Control2")));
    ck_assert(!cache_targeted_hide(SL_VIEW_LIT("")));
}
END_TEST

/* The forward mode never calls cache_cc_parse_targeted: nothing else moves. */
START_TEST(forward_untouched)
{
    struct cache_cc cc;
    struct cache_fresh f;
    struct sl_http_msg *m;

    m = parse(0, "HTTP/1.1 302 X\r\nDate: %s\r\nExpires: %s\r\n"
              "CDN-Cache-Control: no-store\r\nSquidlike-Cache-Control: private\r\n",
              DATE_T0, DATE_T0_P300);
    memset(&cc, 0x5a, sizeof(cc));
    cache_cc_parse(m, 0, &cc);
    ck_assert(!cc.targeted && !cc.no_store && !cc.private_);
    ck_assert_ptr_null(cache_storable("GET", NULL, NULL, m, &cc));
    cache_fresh_compute(m, &cc, NULL, T0, T0, &f);
    ck_assert_int_eq(f.lifetime, 300);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("targeted");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, sf_syntax);
    tcase_add_test(tc, directives);
    tcase_add_test(tc, target_list);
    tcase_add_test(tc, field_lines);
    tcase_add_test(tc, store_and_freshness);
    tcase_add_test(tc, fresh_flags);
    tcase_add_test(tc, hide);
    tcase_add_test(tc, forward_untouched);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
