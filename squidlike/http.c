/*
 * http.c - strict HTTP/1.x head parsing and target splitting (see http.h
 * for the contract; the chunked body codec is chunk.c).
 *
 * This room is the proxy's front door: every byte a client or an origin
 * sends passes through here before anything else looks at it. So it is
 *   - strict: a message two parties could frame differently is refused,
 *     because request smuggling lives in that gap (bare CR, obs-fold,
 *     space before the colon, CL + TE, duplicate CL, odd TE lists);
 *   - bounded: no input makes it do more than a pass over the head, and no
 *     line or section grows past its limit;
 *   - fast: it runs for every request, so character classes are one table
 *     lookup and the head is walked once after its end has been found.
 *
 * A head is handled in two steps. find_head() looks for the blank line that
 * ends it with memchr while enforcing line_max and head_max; that is all a
 * caller that must wait for more bytes needs. Then one pass over the
 * complete head validates each line and fills in the message. That pass can
 * rely on every line ending in LF, and LF is in none of the character
 * classes, so its scanning loops need no length checks: LF stops them all.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "squidlike/http.h"
#include "squidlike/chars.h"

/* --- small helpers ----------------------------------------------------- */

/* Case-insensitive: does v equal lit (lowercase, n bytes)? */
static int view_is(struct sl_view v, const char *lit, size_t n)
{
    size_t i;

    if (v.len != n)
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)sl_lower(v.base[i]) != (unsigned char)lit[i])
            return 0;
    return 1;
}

#define VIEW_IS(v, lit) view_is((v), (lit), sizeof(lit) - 1)

/*
 * Skip bytes of class k. Unrolled by four because field values are most of
 * a head; each byte is tested before the next is read, so a scan never
 * passes the LF that ends its line.
 */
static inline const char *scan(const char *p, unsigned k)
{
    for (;; p += 4) {
        if (!(sl_cls(p[0]) & k))
            return p;
        if (!(sl_cls(p[1]) & k))
            return p + 1;
        if (!(sl_cls(p[2]) & k))
            return p + 2;
        if (!(sl_cls(p[3]) & k))
            return p + 3;
    }
}

/* --- finding the end of a head ----------------------------------------- */

/*
 * RFC 9112 2.2: a server SHOULD ignore at least one empty line before the
 * request-line (old clients send CRLF after a POST body). A few, no more:
 * they count against head_max like any other byte.
 */
#define HTTP_EMPTY_LINES_MAX 4

static size_t skip_empty_lines(const char *buf, size_t len)
{
    size_t i = 0;
    int n;

    for (n = 0; n < HTTP_EMPTY_LINES_MAX && i < len; n++) {
        if (buf[i] == '\n')
            i++;
        else if (buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n')
            i += 2;
        else
            break;
    }
    return i;
}

/* Record why the message is refused; returns SL_HTTP_ERROR. */
static int fail(struct sl_http_msg *msg, int status, const char *why)
{
    msg->err = why;
    msg->err_status = status;
    return SL_HTTP_ERROR;
}

/* The same for the line parsers, which return where the next line starts. */
static const char *fail_line(struct sl_http_msg *msg, int status,
                             const char *why)
{
    fail(msg, status, why);
    return NULL;
}

/*
 * Find the end of the head that starts at buf[start]: the first empty line
 * ("" or "\r" before LF) after the start line. Returns the head length
 * from buf[0] (the final LF included), SL_HTTP_AGAIN, or SL_HTTP_ERROR
 * with 414 (start line over line_max) or 431 (head over head_max).
 */
static ssize_t find_head(const char *buf, size_t len, size_t start,
                         const struct sl_http_limits *lim,
                         struct sl_http_msg *msg)
{
    size_t avail = len - start, line2, stop, linelen;
    const char *q, *nl, *end;

    /* The start line: CRLF after at most line_max bytes. */
    line2 = lim->line_max < SIZE_MAX - 2 ? lim->line_max + 2 : SIZE_MAX;
    nl = memchr(buf + start, '\n', avail < line2 ? avail : line2);
    if (nl == NULL) {
        if (avail >= line2)
            return fail(msg, 414, "start line too long");
        if (len >= lim->head_max)
            return fail(msg, 431, "head too large");
        return SL_HTTP_AGAIN;
    }
    linelen = (size_t)(nl - (buf + start));
    if (linelen > 0 && nl[-1] == '\r')
        linelen--;
    if (linelen > lim->line_max)
        return fail(msg, 414, "start line too long");

    /* The fields: only the first head_max bytes may hold the end. */
    stop = len < lim->head_max ? len : lim->head_max;
    end = buf + stop;
    q = nl + 1;
    for (;;) {
        if (q >= end)
            break;
        if (*q == '\n')
            return (ssize_t)(q + 1 - buf);
        if (*q == '\r' && q + 1 < end && q[1] == '\n')
            return (ssize_t)(q + 2 - buf);
        nl = memchr(q, '\n', (size_t)(end - q));
        if (nl == NULL)
            break;
        q = nl + 1;
    }
    if (len >= lim->head_max)
        return fail(msg, 431, "head too large");
    return SL_HTTP_AGAIN;
}

/* --- start lines -------------------------------------------------------- */

/* CRLF or bare LF at p: the start of the next line, else NULL. Safe to read
 * p[1] because a complete head has an LF after any CR inside it. */
static inline const char *eol(const char *p)
{
    if (*p == '\n')
        return p + 1;
    if (*p == '\r' && p[1] == '\n')
        return p + 2;
    return NULL;
}

#define VERSION_BAD  (-1)
#define VERSION_NEXT (-2)      /* HTTP/2 and later: known, not spoken here */

/*
 * HTTP-version at p ("HTTP/1.0" or "HTTP/1.1"); the comparisons short-cut
 * so nothing past the line's LF is read. Returns the minor version and
 * sets *end past it, or VERSION_BAD / VERSION_NEXT.
 */
static int parse_version(const char *p, const char **end)
{
    if (!(p[0] == 'H' && p[1] == 'T' && p[2] == 'T' && p[3] == 'P' &&
          p[4] == '/'))
        return VERSION_BAD;
    if (p[5] == '1' && p[6] == '.' && (p[7] == '0' || p[7] == '1')) {
        *end = p + 8;
        return p[7] - '0';
    }
    if (p[5] >= '2' && p[5] <= '9') {
        /* "HTTP/2", "HTTP/2.0", "HTTP/3" */
        p += 6;
        if (p[0] == '.' && sl_is_digit(p[1]))
            p += 2;
        *end = p;
        return VERSION_NEXT;
    }
    return VERSION_BAD;
}

/* method SP request-target SP HTTP-version EOL; returns the next line. */
static const char *parse_request_line(const char *p, struct sl_http_msg *msg)
{
    const char *s = p, *next;
    int v;

    while (sl_cls(*p) & SL_C_TCHAR)
        p++;
    if (p == s || *p != ' ')
        return fail_line(msg, 400, "bad method");
    msg->method = sl_view_from(s, p);
    s = ++p;
    p = scan(p, SL_C_TARGET);
    if (p != s && (*p == '\r' || *p == '\n'))
        return fail_line(msg, 400, "HTTP/0.9 request (no HTTP version)");
    if (p == s || *p != ' ')
        return fail_line(msg, 400, "bad request target");
    msg->target = sl_view_from(s, p);
    v = parse_version(p + 1, &p);
    if (v == VERSION_BAD || (next = eol(p)) == NULL)
        return fail_line(msg, 400, "bad HTTP version");
    if (v == VERSION_NEXT)
        return fail_line(msg, 505, "HTTP version not supported");
    msg->minor = v;
    return next;
}

/* HTTP-version SP 3DIGIT [SP reason] EOL; returns the next line. */
static const char *parse_status_line(const char *p, struct sl_http_msg *msg)
{
    const char *s, *next;
    int v;

    v = parse_version(p, &p);
    if (v < 0 || *p != ' ')
        return fail_line(msg, 502, "bad HTTP version in status line");
    p++;
    if (!(p[0] >= '1' && p[0] <= '9' && sl_is_digit(p[1]) && sl_is_digit(p[2])))
        return fail_line(msg, 502, "bad status code");
    msg->status = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
    msg->minor = v;
    p += 3;
    s = p;
    if (*p == ' ') {
        /* reason-phrase = *( HTAB / SP / VCHAR / obs-text ), may be empty */
        s = ++p;
        while (sl_cls(*p) & SL_C_VCHAR)
            p++;
    }
    msg->reason = sl_view_from(s, p);
    if ((next = eol(p)) == NULL)
        return fail_line(msg, 502, "bad status line");
    return next;
}

/* --- header fields ------------------------------------------------------ */

/* Content-Length = 1*DIGIT; no list, no sign, no second line (RFC 9112
 * 6.3 allows folding identical values; we refuse: one reading only). */
#define CL_DIGITS_MAX 15

static int field_content_length(struct sl_http_msg *msg, struct sl_view v)
{
    int64_t n = 0;
    size_t i;

    if (msg->content_length >= 0)
        return fail(msg, 400, "duplicate Content-Length");
    if (v.len == 0 || v.len > CL_DIGITS_MAX)
        return fail(msg, 400, "bad Content-Length");
    for (i = 0; i < v.len; i++) {
        if (!sl_is_digit(v.base[i]))
            return fail(msg, 400, "bad Content-Length");
        n = n * 10 + (v.base[i] - '0');
    }
    msg->content_length = n;
    return 0;
}

/*
 * Transfer-Encoding = #transfer-coding, over any number of lines. msg->
 * chunked says "the last coding so far is chunked": any coding after it
 * (a second chunked too) is an error. Requests may only use chunked; a
 * response may have e.g. "gzip, chunked" (we pass the body through).
 */
static int field_transfer_encoding(struct sl_http_msg *msg, struct sl_view v,
                                   int is_req)
{
    const char *p = v.base, *end = v.base + v.len, *t;
    struct sl_view e;

    msg->has_te = 1;
    while (sl_list_next(&p, end, &e)) {
        if (e.len == 0)
            continue;
        if (msg->chunked)
            return fail(msg, 400, "chunked is not the final transfer coding");
        for (t = e.base; t < e.base + e.len && (sl_cls(*t) & SL_C_TCHAR); t++)
            ;
        if (VIEW_IS(sl_view_from(e.base, t), "chunked")) {
            if (t != e.base + e.len)
                return fail(msg, 400, "bad Transfer-Encoding");
            msg->chunked = 1;
            continue;
        }
        if (t == e.base)
            return fail(msg, 400, "bad Transfer-Encoding");
        while (t < e.base + e.len && sl_is_ows(*t))
            t++;
        if (t != e.base + e.len && *t != ';')
            return fail(msg, 400, "bad Transfer-Encoding");
        if (is_req)
            return fail(msg, 501, "unsupported transfer coding");
    }
    return 0;
}

static void field_connection(struct sl_http_msg *msg, struct sl_view v)
{
    const char *p = v.base;
    struct sl_view e;

    while (sl_list_next(&p, v.base + v.len, &e)) {
        if (VIEW_IS(e, "close"))
            msg->conn_close = 1;
        else if (VIEW_IS(e, "keep-alive"))
            msg->conn_keepalive = 1;
    }
}

/*
 * What a field line means for framing and connection handling. Names are
 * dispatched on length first so most fields cost one switch.
 */
static int field_semantics(struct sl_http_msg *msg, struct sl_view name,
                           struct sl_view value, int is_req)
{
    switch (name.len) {
    case 4:
        if (VIEW_IS(name, "host")) {
            if (msg->host_count++ == 0)
                msg->host = value;
            else if (is_req)
                return fail(msg, 400, "more than one Host field");
        }
        break;
    case 6:
        if (VIEW_IS(name, "expect") && sl_http_list_has(value, "100-continue"))
            msg->expect_continue = 1;
        break;
    case 10:
        if (VIEW_IS(name, "connection"))
            field_connection(msg, value);
        break;
    case 14:
        if (VIEW_IS(name, "content-length"))
            return field_content_length(msg, value);
        break;
    case 17:
        if (VIEW_IS(name, "transfer-encoding"))
            return field_transfer_encoding(msg, value, is_req);
        break;
    }
    return 0;
}

/* Why the field line at s failed, p being where the name scan stopped. */
static const char *field_line_error(const char *s, const char *p)
{
    if (p == s && sl_is_ows(*s))
        return "obs-fold (line starting with whitespace)";
    if (*p == '\r')
        return "bare CR in header";
    if (p != s && sl_is_ows(*p))
        return "whitespace between field name and colon";
    return "empty or bad field name";
}

/*
 * field-line = field-name ":" OWS field-value OWS, one per line, up to the
 * empty line. Returns the end of the head or NULL.
 */
static const char *parse_fields(const char *p, struct sl_http_msg *msg,
                                int is_req)
{
    const char *s, *vs, *ve, *next;
    struct sl_http_hdr *h;

    for (;;) {
        if ((next = eol(p)) != NULL)
            return next;
        s = p;
        p = scan(p, SL_C_TCHAR);
        if (p == s || *p != ':')
            return fail_line(msg, 400, field_line_error(s, p));
        ve = p++;
        while (sl_is_ows(*p))
            p++;
        vs = p;
        p = scan(p, SL_C_VCHAR);
        if ((next = eol(p)) == NULL)
            return fail_line(msg, 400, *p == '\r' ? "bare CR in field value"
                                                  : "control character in field value");
        if (msg->nhdrs >= msg->max_hdrs)
            return fail_line(msg, 431, "too many header fields");
        h = &msg->hdrs[msg->nhdrs++];
        h->name = sl_view_from(s, ve);
        ve = p;
        while (ve > vs && sl_is_ows(ve[-1]))
            ve--;
        h->value = sl_view_from(vs, ve);
        if (field_semantics(msg, h->name, h->value, is_req) < 0)
            return NULL;
        p = next;
    }
}

/* Framing rules that need the whole head (RFC 9112 6.1, 6.3). */
static int check_framing(struct sl_http_msg *msg)
{
    if (!msg->has_te)
        return 0;
    if (msg->content_length >= 0)
        return fail(msg, 400, "Content-Length with Transfer-Encoding");
    if (!msg->chunked)
        return fail(msg, 400, "Transfer-Encoding without chunked");
    /* RFC 9112 6.1: TE in an HTTP/1.0 message means faulty framing. */
    if (msg->minor == 0)
        return fail(msg, 400, "Transfer-Encoding in HTTP/1.0");
    return 0;
}

static const struct sl_view none_view = { "", 0 };

static void msg_reset(struct sl_http_msg *msg)
{
    msg->method = msg->target = msg->reason = msg->host = none_view;
    msg->status = 0;
    msg->minor = 0;
    msg->nhdrs = 0;
    msg->content_length = -1;
    msg->chunked = msg->has_te = 0;
    msg->conn_close = msg->conn_keepalive = msg->expect_continue = 0;
    msg->host_count = 0;
    msg->err = NULL;
    msg->err_status = 0;
}

ssize_t sl_http_parse_request(const char *buf, size_t len,
                              const struct sl_http_limits *lim,
                              struct sl_http_msg *msg)
{
    size_t skip;
    ssize_t head;
    const char *p;

    msg_reset(msg);
    skip = skip_empty_lines(buf, len);
    head = find_head(buf, len, skip, lim, msg);
    if (head == SL_HTTP_AGAIN && memchr(buf + skip, '\n', len - skip) != NULL) {
        /* The request line is complete: judge it now. An HTTP/0.9 line
         * ("GET /x" CRLF) has no head to wait for, and any other bad line
         * is bad whatever follows; waiting would only hang the client
         * until request_head runs out. find_head has checked line_max. */
        if (parse_request_line(buf + skip, msg) == NULL)
            return SL_HTTP_ERROR;
        msg->method = msg->target = none_view;
        msg->minor = 0;
    }
    if (head < 0)
        return head;
    p = parse_request_line(buf + skip, msg);
    if (p == NULL || parse_fields(p, msg, 1) == NULL || check_framing(msg) < 0)
        return SL_HTTP_ERROR;
    return head;
}

ssize_t sl_http_parse_response(const char *buf, size_t len,
                               const struct sl_http_limits *lim,
                               struct sl_http_msg *msg)
{
    ssize_t head;
    const char *p;

    msg_reset(msg);
    head = find_head(buf, len, 0, lim, msg);
    if (head >= 0) {
        p = parse_status_line(buf, msg);
        if (p != NULL && parse_fields(p, msg, 0) != NULL &&
            check_framing(msg) == 0)
            return head;
        head = SL_HTTP_ERROR;
    }
    if (head == SL_HTTP_ERROR)
        msg->err_status = 502;  /* whatever went wrong, the origin is bad */
    return head;
}

enum sl_http_body sl_http_request_body(const struct sl_http_msg *req)
{
    if (req->chunked)
        return SL_HTTP_BODY_CHUNKED;
    if (req->content_length > 0)
        return SL_HTTP_BODY_LENGTH;
    return SL_HTTP_BODY_NONE;
}

enum sl_http_body sl_http_response_body(const struct sl_http_msg *resp,
                                        int request_was_head)
{
    if (request_was_head || resp->status < 200 || resp->status == 204 ||
        resp->status == 304)
        return SL_HTTP_BODY_NONE;
    if (resp->chunked)
        return SL_HTTP_BODY_CHUNKED;
    if (resp->content_length == 0)
        return SL_HTTP_BODY_NONE;
    if (resp->content_length > 0)
        return SL_HTTP_BODY_LENGTH;
    return SL_HTTP_BODY_CLOSE;
}

const struct sl_http_hdr *sl_http_find(const struct sl_http_msg *msg,
                                       const char *name)
{
    size_t i;

    for (i = 0; i < msg->nhdrs; i++)
        if (sl_view_ieq(msg->hdrs[i].name, name))
            return &msg->hdrs[i];
    return NULL;
}

int sl_http_list_has(struct sl_view value, const char *token)
{
    const char *p = value.base;
    size_t n = strlen(token);
    struct sl_view e;

    if (value.len == 0)         /* also keeps NULL + 0 out of the walk */
        return 0;
    while (sl_list_next(&p, value.base + value.len, &e))
        if (e.len == n && sl_view_ieq(e, token))
            return 1;
    return 0;
}

/* --- request targets ---------------------------------------------------- */

static int url_fail(const char **err, const char *why)
{
    *err = why;
    return -1;
}

static const char *url_fail_p(const char **err, const char *why)
{
    *err = why;
    return NULL;
}

/* An IPv6 literal "[...]" at [p, end): validated, lowercased into url. */
static const char *parse_ipv6(const char *p, const char *end,
                              struct sl_url *url, const char **err)
{
    const char *close = memchr(p, ']', (size_t)(end - p));
    char tmp[INET6_ADDRSTRLEN];
    struct in6_addr a6;
    size_t n, i;

    if (close == NULL)
        return url_fail_p(err, "unterminated IPv6 literal");
    n = (size_t)(close - p - 1);
    if (n == 0 || n >= sizeof(tmp))
        return url_fail_p(err, "bad IPv6 literal");
    for (i = 0; i < n; i++)
        tmp[i] = sl_lower(p[1 + i]);
    tmp[n] = '\0';
    if (inet_pton(AF_INET6, tmp, &a6) != 1)
        return url_fail_p(err, "bad IPv6 literal");
    memcpy(url->host, tmp, n + 1);
    url->host_is_ipv6 = 1;
    return close + 1;
}

/*
 * host [":" port] at [p, end) into url. An empty port (RFC 3986 allows
 * "host:") keeps the default unless the port is required (CONNECT).
 */
static int parse_hostport(const char *p, const char *end, struct sl_url *url,
                          int port_required, const char **err)
{
    unsigned port = 0;
    size_t n = 0;

    if (p < end && *p == '[') {
        if ((p = parse_ipv6(p, end, url, err)) == NULL)
            return -1;
    } else {
        for (; p < end && (sl_cls(*p) & SL_C_HOST); p++) {
            if (n == SL_HTTP_HOST_MAX)
                return url_fail(err, "host name too long");
            url->host[n++] = sl_lower(*p);
        }
        url->host[n] = '\0';
        if (n == 0)
            return url_fail(err, "empty host");
    }
    if (p < end && *p != ':')
        return url_fail(err, *p == '@' ? "userinfo in URL not allowed"
                                       : "bad character in host");
    if (p == end || ++p == end)
        return port_required ? url_fail(err, "port required") : 0;
    for (; p < end; p++) {
        if (!sl_is_digit(*p))
            return url_fail(err, "bad port");
        port = port * 10 + (unsigned)(*p - '0');
        if (port > 65535)
            return url_fail(err, "bad port");
    }
    if (port == 0)
        return url_fail(err, "bad port");
    url->port = port;
    return 0;
}

static void url_reset(struct sl_url *url, unsigned port)
{
    url->host[0] = '\0';
    url->port = port;
    url->host_is_ipv6 = 0;
    url->path = SL_VIEW_LIT("/");
}

/*
 * The path view must be usable as an origin-form target as it is, so a
 * query without a path ("http://h?q", which would need "/?q") is refused
 * rather than silently changed; see http.h's path comment.
 */
int sl_http_parse_url(struct sl_view target, struct sl_url *url,
                      const char **err)
{
    const char *p = target.base, *end, *auth, *s;

    url_reset(url, 80);
    if (target.len == 0)
        return url_fail(err, "empty URL");
    end = p + target.len;
    if (memchr(p, '#', target.len) != NULL)
        return url_fail(err, "fragment in URL");
    for (s = p; s < end && sl_is_scheme_char(*s, s == p); s++)
        ;
    if (s == p || s == end || *s != ':')
        return url_fail(err, "not an absolute URL");
    if (!VIEW_IS(sl_view_from(p, s), "http"))
        return url_fail(err, "unsupported scheme");
    if (end - s < 3 || s[1] != '/' || s[2] != '/')
        return url_fail(err, "bad URL");
    auth = s + 3;
    for (s = auth; s < end && *s != '/' && *s != '?'; s++)
        if (*s == '@')
            return url_fail(err, "userinfo in URL not allowed");
    if (parse_hostport(auth, s, url, 0, err) < 0)
        return -1;
    if (s == end)
        return 0;
    if (*s != '/')
        return url_fail(err, "query without path");
    url->path = sl_view_from(s, end);
    /* The path goes into the origin's request line: no SP, CTL or DEL. */
    for (; s < end; s++)
        if (!(sl_cls(*s) & SL_C_TARGET))
            return url_fail(err, "bad character in URL");
    return 0;
}

int sl_http_parse_authority(struct sl_view target, struct sl_url *url,
                            const char **err)
{
    url_reset(url, 0);
    url->path.len = 0;          /* CONNECT has no path */
    if (target.len == 0)
        return url_fail(err, "empty authority");
    return parse_hostport(target.base, target.base + target.len, url, 1, err);
}
