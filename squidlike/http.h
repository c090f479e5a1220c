/*
 * http.h - strict HTTP/1.x message parsing (RFC 9110, RFC 9112).
 *
 * Pure code: no allocation, no I/O, no global state. Like picohttpparser,
 * the head parsers are stateless (call again with more bytes) and hand back
 * views into the caller's bytes; the caller keeps those bytes alive while it
 * uses the views. The chunked body codec (chunk.h) is the one stateful
 * piece.
 *
 * Return convention of the parsers:
 *   > 0              bytes consumed (the whole head, final CRLF included)
 *   SL_HTTP_AGAIN    (-2) need more bytes
 *   SL_HTTP_ERROR    (-1) malformed; msg->err says why (static string) and
 *                    msg->err_status is the status to answer with
 */
#ifndef SL_HTTP_H
#define SL_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "squidlike/buf.h"

#define SL_HTTP_ERROR (-1)
#define SL_HTTP_AGAIN (-2)

struct sl_http_hdr {
    struct sl_view name;
    struct sl_view value;       /* leading/trailing OWS removed */
};

struct sl_http_limits {
    size_t line_max;            /* request/status line, CRLF excluded */
    size_t head_max;            /* whole head, final CRLF included */
};

/* Body framing as decided from the head (RFC 9112 section 6). */
enum sl_http_body {
    SL_HTTP_BODY_NONE = 0,
    SL_HTTP_BODY_LENGTH,        /* content_length bytes */
    SL_HTTP_BODY_CHUNKED,
    SL_HTTP_BODY_CLOSE          /* responses only: until the origin closes */
};

struct sl_http_msg {
    /* In: caller-provided header array. */
    struct sl_http_hdr *hdrs;
    size_t max_hdrs;            /* more field lines than this: 431 (502 for responses) */

    /* Out: start line. */
    struct sl_view method;      /* requests */
    struct sl_view target;      /* requests */
    int status;                 /* responses: 100..999 */
    struct sl_view reason;      /* responses, may be empty */
    int minor;                  /* HTTP/1.<minor>: 0 or 1 */

    /* Out: headers in order of arrival. */
    size_t nhdrs;

    /* Out: what the framing and connection headers say. */
    int64_t content_length;     /* -1 when absent */
    unsigned chunked:1;         /* Transfer-Encoding ends in chunked */
    unsigned has_te:1;          /* a Transfer-Encoding field was present */
    unsigned conn_close:1;      /* Connection: close */
    unsigned conn_keepalive:1;  /* Connection: keep-alive */
    unsigned expect_continue:1; /* Expect: 100-continue */
    unsigned host_count;        /* number of Host field lines */
    struct sl_view host;        /* value of the (first) Host field */

    /* Out, on SL_HTTP_ERROR. */
    const char *err;
    int err_status;             /* 400, 414, 431, 501, 502, 505 */
};

/*
 * Parse a request head from buf[0..len). On success the message describes
 * it and the return value is its length. Rejected (400 unless noted):
 * bad method token, bad target characters, version other than HTTP/1.0 and
 * HTTP/1.1 (505 for HTTP/2+), request line longer than lim->line_max (414),
 * head longer than lim->head_max or more than max_hdrs fields (431),
 * obs-fold, whitespace between field name and colon, empty or non-token
 * field name, NUL / bare CR / other CTL in a field value, duplicate Content-
 * Length lines, a Content-Length list or non-digit value, Content-Length
 * together with Transfer-Encoding, a Transfer-Encoding whose final coding is
 * not chunked, or that names a coding other than chunked (501), more than
 * one Host line, Transfer-Encoding in an HTTP/1.0 message (RFC 9112
 * section 6.1: faulty framing), an empty Transfer-Encoding list, HTTP/1.2
 * to 1.9 (400). A bare LF ends a line like CRLF (RFC 9112 section 2.2);
 * a bare CR anywhere is an error. Up to 4 empty lines before the request
 * line are skipped (counted in the returned length and in head_max).
 * A bad request line is an error as soon as the line is complete, before
 * the rest of the head has come: in particular an HTTP/0.9 request
 * ("GET /x" CRLF, no version), which has no head to wait for.
 * Every output field is reset on each call; absent views are empty, never
 * NULL.
 */
ssize_t sl_http_parse_request(const char *buf, size_t len,
                              const struct sl_http_limits *lim,
                              struct sl_http_msg *msg);

/*
 * Parse a response head. Same rules for fields; status line is
 * "HTTP/1.x DDD reason". Errors carry err_status 502 (a bad origin).
 * Transfer-Encoding other than a final chunked (e.g. "gzip, chunked" is
 * fine, "chunked, gzip" or "gzip" is not) and TE + Content-Length are errors.
 */
ssize_t sl_http_parse_response(const char *buf, size_t len,
                               const struct sl_http_limits *lim,
                               struct sl_http_msg *msg);

/* Request body framing: LENGTH when content_length > 0, CHUNKED, or NONE. */
enum sl_http_body sl_http_request_body(const struct sl_http_msg *req);

/*
 * Response body framing (RFC 9112 section 6.3): NONE for a response to HEAD,
 * for 1xx, 204 and 304; CHUNKED; LENGTH (NONE when the length is 0); CLOSE
 * otherwise.
 */
enum sl_http_body sl_http_response_body(const struct sl_http_msg *resp,
                                        int request_was_head);

/* Find the first header named name (case-insensitive); NULL if absent. */
const struct sl_http_hdr *sl_http_find(const struct sl_http_msg *msg,
                                       const char *name);

/*
 * Does the comma-separated list in value contain token (case-insensitive,
 * OWS around elements ignored)? Used for Connection and similar.
 */
int sl_http_list_has(struct sl_view value, const char *token);

/*
 * Request targets. A URL is split into views into the target; host is
 * lowercased into the caller's host buffer (IPv6 literal without brackets).
 */
#define SL_HTTP_HOST_MAX 255

struct sl_url {
    char host[SL_HTTP_HOST_MAX + 1];
    unsigned port;
    unsigned host_is_ipv6:1;    /* bracketed literal in the target */
    struct sl_view path;        /* origin-form path + query; a static "/"
                                   when the URL has none; empty after
                                   sl_http_parse_authority */
};

/*
 * absolute-form "http://host[:port][/path][?query]" (scheme case-insensitive,
 * default port 80; fragment not allowed; userinfo rejected; "http://h?q"
 * without a path is rejected, as a view cannot add the "/"). Returns 0, or -1
 * with *err set to a static reason.
 */
int sl_http_parse_url(struct sl_view target, struct sl_url *url,
                      const char **err);

/* authority-form "host:port" for CONNECT (port required, 1..65535). */
int sl_http_parse_authority(struct sl_view target, struct sl_url *url,
                            const char **err);

/* The chunked body codec (chunk.c) goes with the message parser. */
#include "squidlike/chunk.h"

#endif
