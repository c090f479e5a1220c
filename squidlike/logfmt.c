/*
 * logfmt.c - access.log lines in the four formats (see logfmt.h).
 *
 * Each format is a fixed sequence of fields. A value may hold bytes a
 * client chose (URL, user name, Referer, User-Agent, content type), so
 * every string goes through the escaper of its context:
 *
 *   token   a space-separated field: SP, control bytes, bytes >= 0x7f,
 *           '"' and '\' become %XX (as Squid's URL quoting); an empty or
 *           missing value is "-".
 *   quoted  inside "...": '"' and '\' get a backslash, TAB CR LF become
 *           \t \r \n, other control bytes and bytes >= 0x7f \xhh (Squid's
 *           and Apache's quoting); missing is "-".
 *   json    an RFC 8259 string: '"', '\' and control bytes escaped, valid
 *           UTF-8 kept as it is, any other byte as \u00XX (so the line is
 *           always valid JSON, whatever bytes came); missing is null.
 *
 * Each value is cut at its cap, never inside an escape, and the caps add
 * up to less than SL_LOGFMT_LINE_MAX: a line is always whole and parses.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "squidlike/logfmt.h"

#define CAP_URL 8192            /* escaped URL; Squid cuts at 8 KiB too */
#define CAP_HDR (6 * SL_LOGFMT_HDR_KEEP + 2)    /* worst case: all \u00XX */
#define CAP_FIELD 1024          /* any other value */
#define CAP_NAME (6 * 64)       /* a route's or consumer's name (63 bytes) */
#define N_FIELDS 22             /* values in the longest (JSON) line */

/* The URL, the two header fields, one number (route_index: the slack,
 * with the keys and the numbers before them), two names (route,
 * consumer) and CAP_FIELD strings. */
_Static_assert(CAP_URL + 2 * CAP_HDR + 2 * CAP_NAME + (N_FIELDS - 6) * CAP_FIELD + 1024
               <= SL_LOGFMT_LINE_MAX, "the caps must fit one line");

/* The line being built; size keeps one byte back for the final '\n'. */
struct line {
    char *p;
    size_t n, size;
};

static int fits(const struct line *l, size_t k) { return l->n + k <= l->size; }

static void put(struct line *l, const char *s, size_t k)
{
    if (!fits(l, k))
        k = l->size - l->n;
    memcpy(l->p + l->n, s, k);
    l->n += k;
}

static void put_str(struct line *l, const char *s) { put(l, s, strlen(s)); }

static void put_fmt(struct line *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put_fmt(struct line *l, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    int k;

    va_start(ap, fmt);
    k = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (k > 0)
        put(l, tmp, (size_t)k < sizeof(tmp) ? (size_t)k : sizeof(tmp) - 1);
}

/* Append e (k bytes, one escaped input byte) if it fits the cap and the
 * line; 0 when it does not, and the value ends there. */
static int put_esc(struct line *l, size_t start, size_t cap, const char *e,
                   size_t k)
{
    if (l->n - start + k > cap || !fits(l, k))
        return 0;
    memcpy(l->p + l->n, e, k);
    l->n += k;
    return 1;
}

/* v in decimal, at least width digits wide, padded with pad on the left
 * (the squid line's numbers: a printf per line cost more than the rest). */
static void put_int(struct line *l, long long v, int width, char pad)
{
    char tmp[24];
    int i = (int)sizeof(tmp);
    unsigned long long u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;

    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        tmp[--i] = '-';
    while ((int)sizeof(tmp) - i < width && i > 0)
        tmp[--i] = pad;
    put(l, tmp + i, sizeof(tmp) - (size_t)i);
}

/*
 * Append s: bytes ok[] passes as they are, in runs of one copy each (the
 * scan is the writer's loop); any other as esc writes it (at most 4
 * bytes). Cut at cap or the line's end, never inside an escape. Missing
 * or empty: "-".
 */
typedef size_t esc_fn(unsigned char ch, char *e);

static void put_escaped(struct line *l, const char *s, size_t cap,
                        const unsigned char *ok, esc_fn *esc)
{
    size_t start = l->n;
    char e[4];

    if (s == NULL || *s == '\0') {
        put(l, "-", 1);
        return;
    }
    while (*s) {
        size_t run = 0, room;

        while (ok[(unsigned char)s[run]])
            run++;
        if (run > 0) {
            room = cap - (l->n - start);
            if (l->size - l->n < room)
                room = l->size - l->n;
            memcpy(l->p + l->n, s, run < room ? run : room);
            l->n += run < room ? run : room;
            if (run > room)
                return;
            s += run;
            continue;
        }
        if (!put_esc(l, start, cap, e, esc((unsigned char)*s, e)))
            return;
        s++;
    }
}

/* A space-separated field takes printable ASCII but SP, '"' (0x22) and
 * '\\' (0x5c); the rest is %XX, as Squid quotes URLs. */
static const unsigned char token_ok[256] = {
    [0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7e] = 1
};

static size_t esc_token(unsigned char ch, char *e)
{
    static const char hex[] = "0123456789ABCDEF";

    e[0] = '%';
    e[1] = hex[ch >> 4];
    e[2] = hex[ch & 15];
    return 3;
}

static void put_token(struct line *l, const char *s, size_t cap)
{
    put_escaped(l, s, cap, token_ok, esc_token);
}

/* Inside "...": printable ASCII but '"' and '\\'; those get a backslash,
 * TAB CR LF are \t \r \n, other bytes \xhh (Squid's and Apache's). */
static const unsigned char quoted_ok[256] = {
    [0x20 ... 0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7e] = 1
};

static size_t esc_quoted(unsigned char ch, char *e)
{
    static const char hex[] = "0123456789abcdef";

    e[0] = '\\';
    if (ch == '"' || ch == '\\') {
        e[1] = (char)ch;
        return 2;
    }
    if (ch == '\t' || ch == '\r' || ch == '\n') {
        e[1] = ch == '\t' ? 't' : ch == '\r' ? 'r' : 'n';
        return 2;
    }
    e[1] = 'x';
    e[2] = hex[ch >> 4];
    e[3] = hex[ch & 15];
    return 4;
}

static void put_quoted(struct line *l, const char *s, size_t cap)
{
    put_escaped(l, s, cap, quoted_ok, esc_quoted);
}

static void put_json(struct line *l, const char *s, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t start;
    char e[6];

    if (s == NULL) {
        put(l, "null", 4);
        return;
    }
    if (!fits(l, 2))
        return;
    put(l, "\"", 1);
    start = l->n;
    cap -= 2;
    l->size--;                  /* the closing quote always fits */
    while (*s) {
        unsigned char ch = (unsigned char)*s;
        size_t k = 2, u = ch >= 0x80 ? sl_utf8_len((const unsigned char *)s) : 0;

        if (u > 0) {
            if (!put_esc(l, start, cap, s, u))
                break;
            s += u;
            continue;
        }
        e[0] = '\\';
        if (ch == '"' || ch == '\\') {
            e[1] = (char)ch;
        } else if (ch == '\n' || ch == '\r' || ch == '\t') {
            e[1] = ch == '\n' ? 'n' : ch == '\r' ? 'r' : 't';
        } else if (ch < 0x20 || ch >= 0x7f) {
            memcpy(e + 1, "u00", 3);
            e[4] = hex[ch >> 4];
            e[5] = hex[ch & 15];
            k = 6;
        } else {
            e[0] = (char)ch;
            k = 1;
        }
        if (!put_esc(l, start, cap, e, k))
            break;
        s++;
    }
    l->size++;
    put(l, "\"", 1);
}

/* Squid's %tl: local time, "28/Nov/2026:01:49:21 +0000". */
static void put_local_time(struct line *l, int64_t ms)
{
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    char tmp[64];
    size_t k;

    if (localtime_r(&sec, &tm) == NULL)
        memset(&tm, 0, sizeof(tm));
    /* The daemon never calls setlocale: %b is the C locale's "Nov". */
    k = strftime(tmp, sizeof(tmp), "%d/%b/%Y:%H:%M:%S %z", &tm);
    put(l, tmp, k);
}

static void fmt_squid(struct line *l, const struct sl_log_access *a)
{
    put_int(l, a->time_ms / 1000, 0, ' ');
    put(l, ".", 1);
    put_int(l, a->time_ms % 1000, 3, '0');
    put(l, " ", 1);
    put_int(l, a->elapsed_ms, 6, ' ');
    put(l, " ", 1);
    put_token(l, a->client, CAP_FIELD);
    put(l, " ", 1);
    put_token(l, a->code, CAP_FIELD);
    put(l, "/", 1);
    put_int(l, a->status, 3, '0');
    put(l, " ", 1);
    put_int(l, a->bytes, 0, ' ');
    put(l, " ", 1);
    put_token(l, a->method, CAP_FIELD);
    put(l, " ", 1);
    put_token(l, a->url, CAP_URL);
    put(l, " ", 1);
    put_token(l, a->user, CAP_FIELD);
    put(l, " ", 1);
    put_token(l, a->hier, CAP_FIELD);
    put(l, "/", 1);
    put_token(l, a->peer, CAP_FIELD);
    put(l, " ", 1);
    put_token(l, a->type, CAP_FIELD);
}

/* common and combined: they differ in the two header fields only. */
static void fmt_httpd(struct line *l, const struct sl_log_access *a,
                      int combined)
{
    put_token(l, a->client, CAP_FIELD);
    put(l, " - ", 3);                           /* %[ui: no ident lookups */
    put_token(l, a->user, CAP_FIELD);
    put(l, " [", 2);
    put_local_time(l, a->time_ms);
    put(l, "] \"", 3);
    put_quoted(l, a->method, CAP_FIELD);
    put(l, " ", 1);
    put_quoted(l, a->url, CAP_URL);
    put(l, " HTTP/", 6);
    put_str(l, a->version ? a->version : "0.0");
    put_fmt(l, "\" %d %lld ", a->status, (long long)a->bytes);
    if (combined) {
        put(l, "\"", 1);
        put_quoted(l, a->referer, CAP_HDR);
        put(l, "\" \"", 3);
        put_quoted(l, a->user_agent, CAP_HDR);
        put(l, "\" ", 2);
    }
    put_token(l, a->code, CAP_FIELD);
    put(l, ":", 1);
    put_token(l, a->hier, CAP_FIELD);
}

/*
 * The JSON fields, in this order (names are an interface: keep them):
 *   time          number, seconds since the epoch with milliseconds
 *   elapsed_ms    integer
 *   status        integer, 0 when no response was sent
 *   bytes         integer, bytes sent to the client
 *   client        client address
 *   code          Squid result code (TCP_MISS, TCP_DENIED, ...)
 *   method, url   as the client sent them
 *   version       client's HTTP version ("1.1"), null if not parsed
 *   user          authenticated user, or null
 *   hier, peer    Squid hierarchy code; origin address or null
 *   type          response content type, or null
 *   rule          deciding http_access rule, or null
 *   category      blocklist category that matched, or null
 *   cache_status  the Cache-Status parameters ("hit", "fwd=miss;stored"),
 *                 or null
 *   host          target host (the CONNECT host), or null
 *   sni           TLS server name seen in a CONNECT, or null
 *   referer, user_agent   request headers (first 512 bytes), or null
 *   vhost         reverse mode: the site's first name, or null (a forward
 *                 request, or a Host no site takes)
 *   route         the route's name (its configured name, or its vhost's
 *                 name and pattern), or null
 *   route_index   integer, the route's index in the vhost, or null
 *   backend       "ADDR:PORT" of the backend chosen last (it answered, or
 *                 failed), or null (a cache hit, nothing up)
 *   request_id    the X-Request-Id sent to the backend, or null
 *   consumer      the API gateway's consumer (who the credentials named),
 *                 or null (none: no route with auth, no credentials)
 * Strings in the JSON line are cut at their caps like the others.
 */
static void fmt_json(struct line *l, const struct sl_log_access *a)
{
    char route[24];
    /* cap 0: a number, as it is (null when v is NULL) */
    const struct { const char *key; const char *v; size_t cap; } f[] = {
        { "client", a->client, CAP_FIELD }, { "code", a->code, CAP_FIELD },
        { "method", a->method, CAP_FIELD }, { "url", a->url, CAP_URL },
        { "version", a->version, CAP_FIELD }, { "user", a->user, CAP_FIELD },
        { "hier", a->hier, CAP_FIELD }, { "peer", a->peer, CAP_FIELD },
        { "type", a->type, CAP_FIELD }, { "rule", a->rule, CAP_FIELD },
        { "category", a->category, CAP_FIELD },
        { "cache_status", a->cache_status, CAP_FIELD },
        { "host", a->host, CAP_FIELD }, { "sni", a->sni, CAP_FIELD },
        { "referer", a->referer, CAP_HDR },
        { "user_agent", a->user_agent, CAP_HDR },
        { "vhost", a->vhost, CAP_FIELD },
        { "route", a->vhost ? a->route_name : NULL, CAP_NAME },
        { "route_index", a->vhost ? route : NULL, 0 },
        { "backend", a->backend, CAP_FIELD },
        { "request_id", a->request_id, CAP_FIELD },
        { "consumer", a->vhost ? a->consumer : NULL, CAP_NAME },
    };
    size_t i;

    _Static_assert(sizeof(f) / sizeof(f[0]) == N_FIELDS, "N_FIELDS");
    snprintf(route, sizeof(route), "%d", a->route);
    put_fmt(l, "{\"time\":%lld.%03d,\"elapsed_ms\":%lld,\"status\":%d,"
            "\"bytes\":%lld", (long long)(a->time_ms / 1000),
            (int)(a->time_ms % 1000), (long long)a->elapsed_ms, a->status,
            (long long)a->bytes);
    for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        put(l, ",\"", 2);
        put_str(l, f[i].key);
        put(l, "\":", 2);
        if (f[i].cap == 0 && f[i].v != NULL)
            put_str(l, f[i].v);
        else
            put_json(l, f[i].v, f[i].cap);
    }
    put(l, "}", 1);
}

size_t sl_logfmt_access(const struct sl_log_access *a, char *out, size_t size)
{
    struct line l = { out, 0, size - 1 };

    switch (a->format) {
    case SL_LOG_FMT_COMMON:
        fmt_httpd(&l, a, 0);
        break;
    case SL_LOG_FMT_COMBINED:
        fmt_httpd(&l, a, 1);
        break;
    case SL_LOG_FMT_JSON:
        fmt_json(&l, a);
        break;
    case SL_LOG_FMT_SQUID:
    default:
        fmt_squid(&l, a);
        break;
    }
    out[l.n++] = '\n';
    return l.n;
}
