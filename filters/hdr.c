/*
 * hdr.c - what crosses the proxy: the header fields of every request and
 * response are rewritten here on their way through (see hdr.h).
 *
 * The room is pure: views into the parsed message in, "Name: value\r\n"
 * lines into a bounded buffer out; no allocation, no I/O, no mutable state
 * outside the call's stack.
 *
 * Work per message:
 *   1. a scan of the field names that reads the Connection values (the only
 *      way to know which fields they make hop-by-hop before writing any:
 *      "Connection: Foo" may come after "Foo") and notes where the last Via
 *      and X-Forwarded-For are;
 *   2. one pass that writes the kept fields in arrival order. The combined
 *      Via / X-Forwarded-For line is written where the first such field
 *      was, reading the later ones up to the last one noted in step 1.
 *
 * Policy is fail-closed where a mistake would leak: unknown forwarded_for
 * modes behave as "delete", a Connection header naming more fields than we
 * track is re-read rather than ignored, and any name or value holding CR,
 * LF or NUL is left out instead of being written as a broken line.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "filters/hdr.h"
#include "squidlike/chars.h"

/* Distinct field names remembered from Connection values; see conn_named. */
#define CONN_NAMES_MAX 32

enum hdr_kind {
    HDR_PLAIN = 0,              /* passes unless Connection names it */
    HDR_HOP,                    /* hop-by-hop: always dropped */
    HDR_REQ_HOP,                /* Proxy-Authorization: this hop's credentials */
    HDR_RESP_HOP,               /* Proxy-Authenticate: this hop's challenge */
    HDR_TE,                     /* Transfer-Encoding: opts->keep_te */
    HDR_CL,                     /* Content-Length: opts->keep_cl */
    HDR_HOST,                   /* Host (requests): opts->keep_host */
    HDR_VIA,
    HDR_XFF,                    /* X-Forwarded-For (requests) */
    HDR_CLIENT,                 /* another field naming the client (requests) */
    HDR_MAXFWD                  /* Max-Forwards (requests): opts->dec_max_forwards */
};

struct hdr_name {
    const char *name;
    size_t len;
    enum hdr_kind kind;
};

#define HDR_NAME(s, k) { s, sizeof(s) - 1, k }

static const struct hdr_name hdr_names[] = {
    HDR_NAME("Connection", HDR_HOP),
    HDR_NAME("Proxy-Connection", HDR_HOP),
    HDR_NAME("Keep-Alive", HDR_HOP),
    HDR_NAME("TE", HDR_HOP),
    HDR_NAME("Upgrade", HDR_HOP),
    HDR_NAME("Proxy-Authorization", HDR_REQ_HOP),
    HDR_NAME("Proxy-Authenticate", HDR_RESP_HOP),
    HDR_NAME("Transfer-Encoding", HDR_TE),
    HDR_NAME("Content-Length", HDR_CL),
    HDR_NAME("Host", HDR_HOST),
    HDR_NAME("Via", HDR_VIA),
    HDR_NAME("X-Forwarded-For", HDR_XFF),
    HDR_NAME("Max-Forwards", HDR_MAXFWD),
    /* The rest of the client-address set: headers that proxies, CDNs and
     * load balancers use to pass the client's address on. */
    HDR_NAME("Forwarded", HDR_CLIENT),
    HDR_NAME("X-Real-IP", HDR_CLIENT),
    HDR_NAME("Client-IP", HDR_CLIENT),
    HDR_NAME("True-Client-IP", HDR_CLIENT),
    HDR_NAME("X-Client-IP", HDR_CLIENT),
    HDR_NAME("X-Originating-IP", HDR_CLIENT),
    HDR_NAME("CF-Connecting-IP", HDR_CLIENT),
    HDR_NAME("X-Cluster-Client-IP", HDR_CLIENT),
    HDR_NAME("Fastly-Client-IP", HDR_CLIENT),
    HDR_NAME("X-Forwarded", HDR_CLIENT),
    HDR_NAME("Forwarded-For", HDR_CLIENT),
    HDR_NAME("X-ProxyUser-IP", HDR_CLIENT),
    HDR_NAME("WL-Proxy-Client-IP", HDR_CLIENT),
    HDR_NAME("Proxy-Client-IP", HDR_CLIENT),
};

#define HDR_NNAMES (sizeof(hdr_names) / sizeof(hdr_names[0]))

/* What a request's X-Forwarded-For becomes, from opts->xff. */
enum xff_policy {
    XFF_PASS,                   /* transparent, and every response */
    XFF_DROP,                   /* delete: the whole client-address set */
    XFF_JOIN,                   /* on / off: old values, then the tail */
    XFF_REPLACE                 /* truncate: the tail alone */
};

/* Names made hop-by-hop by the message's Connection fields. */
struct conn_set {
    struct sl_view names[CONN_NAMES_MAX];
    size_t n;
    int overflow;               /* more distinct names than fit */
    size_t first, end;          /* Connection fields lie in [first, end) */
};

/* State of one rewrite. */
struct rw {
    const struct sl_http_msg *msg;
    struct sl_buf *out;
    struct conn_set conn;
    const char *via;            /* our hop for Via, or NULL: Via untouched */
    enum xff_policy xff;
    const char *xff_tail;       /* address (or "unknown") for JOIN/REPLACE */
    size_t via_end, xff_end;    /* one past the last Via / X-Forwarded-For */
    int via_done, xff_done;     /* the combined line has been written */
    const char *const *drop;    /* opts->drop */
    const char *const *drop2;   /* opts->drop2 */
    const char *const *drop3;   /* opts->drop3 */
    const struct flt_hdr_access *access;
    const struct flt_hdr_access *access2;
    int64_t maxfwd;             /* dec_maxfwd: the value to write; < 0: none */
    unsigned request:1, keep_te:1, keep_cl:1, keep_host:1, dec_maxfwd:1;
};

static const char xff_name[] = "X-Forwarded-For";

/* Can v go into a header line as it is? The parser never hands us CR, LF
 * or NUL, but a line split here would be a smuggled header downstream. */
static int view_clean(struct sl_view v)
{
    size_t i;

    for (i = 0; i < v.len; i++)
        if (v.base[i] == '\r' || v.base[i] == '\n' || v.base[i] == '\0')
            return 0;
    return 1;
}

/* Same for the caller's strings: non-NULL, non-empty, one line. */
static int str_clean(const char *s)
{
    return s != NULL && *s != '\0' && strpbrk(s, "\r\n") == NULL;
}

static enum hdr_kind classify(struct sl_view name, int request)
{
    enum hdr_kind k = HDR_PLAIN;
    size_t i;

    for (i = 0; i < HDR_NNAMES; i++) {
        if (hdr_names[i].len == name.len &&
            sl_view_ieq(name, hdr_names[i].name)) {
            k = hdr_names[i].kind;
            break;
        }
    }
    /* Host and the client-address set mean something only in requests;
     * each credential field belongs to one direction. */
    switch (k) {
    case HDR_REQ_HOP:
        return request ? HDR_HOP : HDR_PLAIN;
    case HDR_RESP_HOP:
        return request ? HDR_PLAIN : HDR_HOP;
    case HDR_HOST:
    case HDR_XFF:
    case HDR_CLIENT:
    case HDR_MAXFWD:
        return request ? k : HDR_PLAIN;
    default:
        return k;
    }
}

/*
 * Next connection option of a Connection value: comma-separated, OWS
 * trimmed, empty elements skipped. "close" and "keep-alive" are options of
 * the connection itself, not field names, so they are skipped too (a field
 * literally named Keep-Alive is hop-by-hop anyway).
 */
static int next_option(struct sl_view *rest, struct sl_view *tok)
{
    const char *p = rest->base, *end;

    if (rest->len == 0)
        return 0;
    end = sl_view_end(*rest);
    while (sl_list_next(&p, end, tok)) {
        *rest = sl_view_from(p ? p : end, end);
        if (tok->len == 0 || sl_view_ieq(*tok, "close") ||
            sl_view_ieq(*tok, "keep-alive"))
            continue;
        return 1;
    }
    return 0;
}

static void conn_add(struct conn_set *c, struct sl_view value)
{
    struct sl_view tok;
    size_t i;

    while (next_option(&value, &tok)) {
        for (i = 0; i < c->n; i++)
            if (sl_view_ieq_view(c->names[i], tok))
                break;
        if (i < c->n)
            continue;
        if (c->n == CONN_NAMES_MAX)
            c->overflow = 1;
        else
            c->names[c->n++] = tok;
    }
}

/* Does a Connection field name this field? */
static int conn_named(const struct conn_set *c, const struct sl_http_msg *msg,
                      struct sl_view name)
{
    struct sl_view rest, tok;
    size_t i;

    for (i = 0; i < c->n; i++)
        if (sl_view_ieq_view(c->names[i], name))
            return 1;
    if (!c->overflow)
        return 0;
    /* More names than the table holds: read the Connection values again
     * rather than let a hop-by-hop field through. Only a message naming
     * over CONN_NAMES_MAX fields pays for this, and its head is bounded. */
    for (i = c->first; i < c->end; i++) {
        const struct sl_http_hdr *h = &msg->hdrs[i];
        if (h->name.len != 10 || !sl_view_ieq(h->name, "Connection"))
            continue;
        rest = h->value;
        while (next_option(&rest, &tok))
            if (sl_view_ieq_view(tok, name))
                return 1;
    }
    return 0;
}

/* Step 1: Connection values, and the extent of Via and X-Forwarded-For. */
static void prescan(struct rw *rw)
{
    const struct sl_http_msg *msg = rw->msg;
    size_t i;

    for (i = 0; i < msg->nhdrs; i++) {
        struct sl_view name = msg->hdrs[i].name;

        if (name.len == 10 && sl_view_ieq(name, "Connection")) {
            if (rw->conn.end == 0)
                rw->conn.first = i;
            rw->conn.end = i + 1;
            conn_add(&rw->conn, msg->hdrs[i].value);
        } else if (name.len == 3 && sl_view_ieq(name, "Via")) {
            rw->via_end = i + 1;
        } else if (name.len == sizeof(xff_name) - 1 &&
                   sl_view_ieq(name, xff_name)) {
            rw->xff_end = i + 1;
        }
    }
}

/* "name: value\r\n", checked whole so a failure adds nothing. */
static int put_field(struct sl_buf *out, struct sl_view name,
                     struct sl_view value)
{
    if (sl_buf_space(out) < name.len + value.len + 4)
        return -ENOSPC;
    (void)sl_buf_append(out, name.base, name.len);
    (void)sl_buf_append(out, ": ", 2);
    (void)sl_buf_append(out, value.base, value.len);
    (void)sl_buf_append(out, "\r\n", 2);
    return 0;
}

/*
 * "name: v1, v2, ..., tail\r\n": the non-empty clean values of the fields
 * called name among hdrs[from, end), then tail (already checked clean).
 */
static int put_joined(struct sl_buf *out, const struct sl_http_msg *msg,
                      const char *name, size_t from, size_t end,
                      const char *tail)
{
    size_t i;
    int rc;

    if ((rc = sl_buf_append(out, name, strlen(name))) < 0 ||
        (rc = sl_buf_append(out, ": ", 2)) < 0)
        return rc;
    for (i = from; i < end; i++) {
        const struct sl_http_hdr *h = &msg->hdrs[i];
        if (h->value.len == 0 || !sl_view_ieq(h->name, name) ||
            !view_clean(h->value))
            continue;
        if ((rc = sl_buf_append(out, h->value.base, h->value.len)) < 0 ||
            (rc = sl_buf_append(out, ", ", 2)) < 0)
            return rc;
    }
    if ((rc = sl_buf_append(out, tail, strlen(tail))) < 0)
        return rc;
    return sl_buf_append(out, "\r\n", 2);
}

static int access_allows(const struct flt_hdr_access *a, struct sl_view name,
                         const char **repl, const char **to);

/* Is name one of the NULL-terminated list (case-insensitive)? */
static int in_list(struct sl_view name, const char *const *list)
{
    for (; *list; list++)
        if (sl_view_ieq(name, *list))
            return 1;
    return 0;
}

/* Step 2 for field i: drop it, write it, or write the combined line. */
static int rewrite_one(struct rw *rw, size_t i)
{
    const struct sl_http_hdr *h = &rw->msg->hdrs[i];
    enum hdr_kind k;

    if (h->name.len == 0 || !view_clean(h->name) || !view_clean(h->value))
        return 0;
    if ((rw->drop && in_list(h->name, rw->drop)) ||
        (rw->drop2 && in_list(h->name, rw->drop2)) ||
        (rw->drop3 && in_list(h->name, rw->drop3)))
        return 0;
    k = classify(h->name, rw->request);

    /* Framing and Host are the caller's decision alone: if "Connection:
     * Content-Length" could remove a length the caller forwards the body
     * by, the next hop would read the body as the next request. */
    switch (k) {
    case HDR_HOP:
        return 0;
    case HDR_TE:
        return rw->keep_te ? put_field(rw->out, h->name, h->value) : 0;
    case HDR_CL:
        return rw->keep_cl ? put_field(rw->out, h->name, h->value) : 0;
    case HDR_HOST:
        return rw->keep_host ? put_field(rw->out, h->name, h->value) : 0;
    case HDR_MAXFWD:
        /* Decremented, it is this hop's field, like Via: a Connection
         * naming it or an access list cannot lift the limit. */
        if (!rw->dec_maxfwd)
            break;
        if (rw->maxfwd < 0)
            return 0;
        {
            char num[24];
            int n = snprintf(num, sizeof(num), "%lld", (long long)rw->maxfwd);

            rw->maxfwd = -1;    /* one line, the first place */
            return put_field(rw->out, h->name, (struct sl_view){ num, (size_t)n });
        }
    default:
        break;
    }
    if ((k == HDR_CLIENT || k == HDR_XFF) && rw->xff == XFF_DROP)
        return 0;
    if ((rw->conn.n > 0 || rw->conn.overflow) &&
        conn_named(&rw->conn, rw->msg, h->name))
        return 0;

    if (k == HDR_VIA && rw->via != NULL) {
        if (rw->via_done)
            return 0;           /* already in the combined line */
        rw->via_done = 1;
        return put_joined(rw->out, rw->msg, "Via", i, rw->via_end, rw->via);
    }
    if (k == HDR_XFF && rw->xff != XFF_PASS) {
        if (rw->xff_done)
            return 0;
        rw->xff_done = 1;
        return put_joined(rw->out, rw->msg, xff_name, i,
                          rw->xff == XFF_JOIN ? rw->xff_end : i, rw->xff_tail);
    }
    if (k != HDR_VIA) {
        /* Both lists must let it pass; the first that denies it decides
         * its replacement. */
        const struct flt_hdr_access *lists[2] = { rw->access, rw->access2 };
        const char *repl = NULL, *to = NULL;
        int j;

        for (j = 0; j < 2; j++)
            if (lists[j] && !access_allows(lists[j], h->name, &repl, &to))
                return repl ? put_field(rw->out, h->name,
                                        (struct sl_view){ repl, strlen(repl) })
                     : to ? put_field(rw->out, (struct sl_view){ to, strlen(to) },
                                      h->value)
                     : 0;
    }
    return put_field(rw->out, h->name, h->value);
}

/* ---------------------------------------------------------- access lists */

static int access_allows(const struct flt_hdr_access *a, struct sl_view name,
                         const char **repl, const char **to)
{
    size_t i;

    /* "all" in any case, like field names (Squid's "deny All"): it is no
     * field name anyway, and taken as one it would name no field. */
    for (i = 0; i < a->nrules; i++) {
        if (strcasecmp(a->rule[i].name, "all") != 0 && !sl_view_ieq(name, a->rule[i].name))
            continue;
        if (a->rule[i].allow)
            return 1;
        break;
    }
    if (i == a->nrules)
        return 1;               /* no line names it */
    for (i = 0; i < a->nrepl; i++)
        if (sl_view_ieq(name, a->repl[i].name)) {
            *repl = a->repl[i].value;
            return 0;
        }
    for (i = 0; i < a->nren; i++)
        if (sl_view_ieq(name, a->ren[i].from)) {
            *to = a->ren[i].to;
            break;
        }
    return 0;
}

/* A field name we can hold: 1 to FLT_HDR_NAME_MAX - 1 tchars. */
static int token_ok(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || n >= FLT_HDR_NAME_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if (!sl_is_tchar(s[i]))
            return 0;
    return 1;
}

int flt_hdr_access_rule(struct flt_hdr_access *a, const char *line,
                        const char **err)
{
    int allow;
    const char *name;

    if (strncmp(line, "allow ", 6) == 0) {
        allow = 1;
        name = line + 6;
    } else if (strncmp(line, "deny ", 5) == 0) {
        allow = 0;
        name = line + 5;
    } else {
        *err = "expected \"allow NAME\" or \"deny NAME\"";
        return -1;
    }
    while (*name == ' ')
        name++;
    if (!token_ok(name, strlen(name))) {
        *err = "not a header field name";
        return -1;
    }
    if (a->nrules == FLT_HDR_ACCESS_MAX) {
        *err = "too many header rules";
        return -1;
    }
    snprintf(a->rule[a->nrules].name, FLT_HDR_NAME_MAX, "%s", name);
    a->rule[a->nrules++].allow = allow;
    return 0;
}

int flt_hdr_access_replace(struct flt_hdr_access *a, const char *line,
                           const char **err)
{
    const char *colon = strchr(line, ':'), *v;
    size_t i;

    if (colon == NULL || !token_ok(line, (size_t)(colon - line))) {
        *err = "expected \"Name: value\"";
        return -1;
    }
    for (v = colon + 1; sl_is_ows(*v); v++)
        ;
    if (strlen(v) >= FLT_HDR_VALUE_MAX) {
        *err = "replacement value too long";
        return -1;
    }
    for (i = 0; v[i]; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
            *err = "control character in the value";
            return -1;
        }
    if (a->nrepl == FLT_HDR_ACCESS_MAX) {
        *err = "too many replacements";
        return -1;
    }
    snprintf(a->repl[a->nrepl].name, FLT_HDR_NAME_MAX, "%.*s",
             (int)(colon - line), line);
    snprintf(a->repl[a->nrepl++].value, FLT_HDR_VALUE_MAX, "%s", v);
    return 0;
}

int flt_xff_parse(const char *s, enum flt_xff *mode)
{
    static const struct {
        const char *name;
        enum flt_xff mode;
    } modes[] = {
        { "delete", FLT_XFF_DELETE },
        { "on", FLT_XFF_ON },
        { "off", FLT_XFF_OFF },
        { "transparent", FLT_XFF_TRANSPARENT },
        { "truncate", FLT_XFF_TRUNCATE },
    };
    size_t i;

    if (s == NULL)
        return -1;
    for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        if (strcmp(s, modes[i].name) == 0) {
            *mode = modes[i].mode;
            return 0;
        }
    }
    return -1;
}

int flt_hdr_is_client_addr(struct sl_view name)
{
    enum hdr_kind k = classify(name, 1);

    return k == HDR_XFF || k == HDR_CLIENT;
}

/* Larger Max-Forwards values read as this: no chain of proxies is longer. */
#define MAXFWD_CAP INT64_C(0x7fffffff)

int flt_hdr_max_forwards(const struct sl_http_msg *msg, int64_t *value)
{
    const struct sl_http_hdr *found = NULL;
    int64_t v = 0;
    size_t i;

    for (i = 0; i < msg->nhdrs; i++) {
        const struct sl_http_hdr *h = &msg->hdrs[i];

        if (h->name.len != 12 || !sl_view_ieq(h->name, "Max-Forwards"))
            continue;
        if (found != NULL)
            return -1;          /* two: which one would the next hop read? */
        found = h;
    }
    if (found == NULL)
        return 0;
    if (found->value.len == 0)
        return -1;
    for (i = 0; i < found->value.len; i++) {
        char ch = found->value.base[i];

        if (ch < '0' || ch > '9')
            return -1;
        if (v < MAXFWD_CAP)
            v = v * 10 + (ch - '0');
    }
    *value = v < MAXFWD_CAP ? v : MAXFWD_CAP;
    return 1;
}

/* Credentials a TRACE must not reflect (RFC 9110 9.3.8). */
static const char *const trace_secret[] = {
    "Authorization", "Proxy-Authorization", "Cookie", NULL
};

int flt_hdr_trace_echo(const struct sl_http_msg *msg, struct sl_buf *out)
{
    size_t i;
    int rc;

    if (!view_clean(msg->method) || !view_clean(msg->target))
        return -EINVAL;
    rc = sl_buf_printf(out, "%.*s %.*s HTTP/1.%d\r\n",
                       (int)msg->method.len, msg->method.base,
                       (int)msg->target.len, msg->target.base, msg->minor);
    for (i = 0; rc == 0 && i < msg->nhdrs; i++) {
        const struct sl_http_hdr *h = &msg->hdrs[i];

        if (h->name.len == 0 || !view_clean(h->name) || !view_clean(h->value) ||
            in_list(h->name, trace_secret))
            continue;
        rc = put_field(out, h->name, h->value);
    }
    return rc == 0 ? sl_buf_append(out, "\r\n", 2) : rc;
}

int flt_hdr_rewrite(const struct sl_http_msg *msg,
                    const struct flt_hdr_opts *opts, struct sl_buf *out)
{
    const char *addr = str_clean(opts->client_addr) ? opts->client_addr
                                                     : "unknown";
    struct rw rw;
    size_t i;
    int rc;

    memset(&rw, 0, sizeof(rw));
    rw.msg = msg;
    rw.out = out;
    /* A Via we cannot write as one line is not written at all; the
     * incoming Via then passes as if no Via were configured. */
    rw.via = str_clean(opts->via) ? opts->via : NULL;
    rw.request = opts->request;
    rw.keep_te = opts->keep_te;
    rw.keep_cl = opts->keep_cl;
    rw.keep_host = opts->keep_host;
    rw.drop = opts->drop;
    rw.drop2 = opts->drop2;
    rw.drop3 = opts->drop3;
    rw.access = opts->access;
    rw.access2 = opts->access2;
    rw.dec_maxfwd = opts->request && opts->dec_max_forwards;
    rw.maxfwd = -1;
    if (rw.dec_maxfwd && flt_hdr_max_forwards(msg, &rw.maxfwd) == 1)
        rw.maxfwd = rw.maxfwd > 0 ? rw.maxfwd - 1 : -1;
    else
        rw.maxfwd = -1;
    rw.xff = XFF_PASS;
    if (opts->request) {
        switch (opts->xff) {
        case FLT_XFF_TRANSPARENT:
            rw.xff = XFF_PASS;
            break;
        case FLT_XFF_ON:
            rw.xff = XFF_JOIN;
            rw.xff_tail = addr;
            break;
        case FLT_XFF_OFF:
            rw.xff = XFF_JOIN;
            rw.xff_tail = "unknown";
            break;
        case FLT_XFF_TRUNCATE:
            rw.xff = XFF_REPLACE;
            rw.xff_tail = addr;
            break;
        case FLT_XFF_DELETE:
        default:                /* unknown mode: the private choice */
            rw.xff = XFF_DROP;
            break;
        }
    }

    prescan(&rw);
    for (i = 0; i < msg->nhdrs; i++)
        if ((rc = rewrite_one(&rw, i)) < 0)
            return rc;

    /* Nothing to combine with: our lines go last. */
    if (rw.via != NULL && !rw.via_done &&
        (rc = put_joined(out, msg, "Via", 0, 0, rw.via)) < 0)
        return rc;
    if ((rw.xff == XFF_JOIN || rw.xff == XFF_REPLACE) && !rw.xff_done &&
        (rc = put_joined(out, msg, xff_name, 0, 0, rw.xff_tail)) < 0)
        return rc;
    return 0;
}

/* Fields a rename may neither take nor make: they frame the message or
 * steer this hop, and a renamed one could smuggle a second body or route. */
static const char *const rename_never[] = { "Content-Length", "Transfer-Encoding",
    "Host", "Connection", "Keep-Alive", "TE", "Trailer", "Upgrade", "Proxy-Connection",
    "Via", "X-Forwarded-For", NULL };

int flt_hdr_access_rename(struct flt_hdr_access *a, const char *line,
                          const char **err)
{
    const char *colon = strchr(line, ':'), *to;
    char deny[FLT_HDR_NAME_MAX + 8];
    size_t i, tolen;

    if (colon == NULL || !token_ok(line, (size_t)(colon - line))) {
        *err = "expected \"Old-Name: New-Name\"";
        return -1;
    }
    for (to = colon + 1; sl_is_ows(*to); to++)
        ;
    tolen = strlen(to);
    while (tolen > 0 && sl_is_ows(to[tolen - 1]))
        tolen--;
    if (!token_ok(to, tolen)) {
        *err = "the new name is not a field name (a token of 1 to 63 characters)";
        return -1;
    }
    for (i = 0; rename_never[i] != NULL; i++)
        if ((strlen(rename_never[i]) == (size_t)(colon - line) &&
             strncasecmp(line, rename_never[i], (size_t)(colon - line)) == 0) ||
            (strlen(rename_never[i]) == tolen &&
             strncasecmp(to, rename_never[i], tolen) == 0)) {
            *err = "framing and hop-by-hop fields cannot be renamed";
            return -1;
        }
    if (a->nren == FLT_HDR_RENAME_MAX) {
        *err = "too many renames";
        return -1;
    }
    snprintf(deny, sizeof(deny), "deny %.*s", (int)(colon - line), line);
    if (flt_hdr_access_rule(a, deny, err) < 0)
        return -1;
    snprintf(a->ren[a->nren].from, FLT_HDR_NAME_MAX, "%.*s", (int)(colon - line), line);
    snprintf(a->ren[a->nren++].to, FLT_HDR_NAME_MAX, "%.*s", (int)tolen, to);
    return 0;
}
