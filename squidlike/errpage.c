/*
 * errpage.c - proxy-generated error responses (see errpage.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "squidlike/errpage.h"

struct err_def {
    const char *name;
    int status;
    const char *title;
    const char *text;           /* what went wrong, for the user */
};

static const struct err_def errs[SL_ERR_COUNT] = {
    [SL_ERR_INVALID_REQ] = { "ERR_INVALID_REQ", 400, "Invalid Request",
        "The request could not be understood" },
    [SL_ERR_INVALID_URL] = { "ERR_INVALID_URL", 400, "Invalid URL",
        "The requested URL could not be used" },
    [SL_ERR_TOO_BIG] = { "ERR_TOO_BIG", 431, "Request Too Large",
        "The request is larger than this proxy accepts" },
    [SL_ERR_UNSUP_REQ] = { "ERR_UNSUP_REQ", 501, "Unsupported Request",
        "This proxy does not support what the request asks for" },
    [SL_ERR_UNSUP_HTTPVERSION] = { "ERR_UNSUP_HTTPVERSION", 505,
        "Unsupported HTTP Version", "This proxy speaks HTTP/1.0 and HTTP/1.1" },
    [SL_ERR_ACCESS_DENIED] = { "ERR_ACCESS_DENIED", 403, "Access Denied",
        "You are not allowed to use this proxy" },
    [SL_ERR_CONNECT_PORT] = { "ERR_CONNECT_PORT", 403, "Access Denied",
        "Tunnels are not allowed to this port" },
    [SL_ERR_TO_LOCALHOST] = { "ERR_TO_LOCALHOST", 403, "Access Denied",
        "The destination is on the proxy host itself" },
    [SL_ERR_FORWARD_LOOP] = { "ERR_FORWARD_LOOP", 403, "Forwarding Loop",
        "The request came back to this proxy" },
    [SL_ERR_DNS_FAIL] = { "ERR_DNS_FAIL", 503, "Name Not Resolved",
        "The host name could not be resolved" },
    [SL_ERR_DNS_TIMEOUT] = { "ERR_DNS_TIMEOUT", 504, "Name Lookup Timed Out",
        "The name servers did not answer in time" },
    [SL_ERR_CONNECT_FAIL] = { "ERR_CONNECT_FAIL", 502, "Connection Failed",
        "The server could not be reached" },
    [SL_ERR_CONNECT_TIMEOUT] = { "ERR_CONNECT_TIMEOUT", 504,
        "Connection Timed Out", "The server did not accept a connection in time" },
    [SL_ERR_READ_TIMEOUT] = { "ERR_READ_TIMEOUT", 504, "Gateway Timeout",
        "The server did not answer in time" },
    [SL_ERR_INVALID_RESP] = { "ERR_INVALID_RESP", 502, "Invalid Response",
        "The server sent a response this proxy could not understand" },
    [SL_ERR_ZERO_SIZE_OBJECT] = { "ERR_ZERO_SIZE_OBJECT", 502, "Empty Response",
        "The server closed the connection without answering" },
    [SL_ERR_REQUEST_TIMEOUT] = { "ERR_REQUEST_TIMEOUT", 408, "Request Timeout",
        "The request did not arrive in time" },
    [SL_ERR_SHUTTING_DOWN] = { "ERR_SHUTTING_DOWN", 503, "Shutting Down",
        "The proxy is shutting down" },
    [SL_ERR_NO_MEMORY] = { "ERR_NO_MEMORY", 503, "Out Of Resources",
        "The proxy is out of resources" },
    [SL_ERR_ONLY_IF_CACHED] = { "ERR_ONLY_IF_CACHED_MISS", 504, "Not Cached",
        "The request allowed only a cached response, and none is stored" },
    [SL_ERR_CACHE_ACCESS_DENIED] = { "ERR_CACHE_ACCESS_DENIED", 407,
        "Authentication Required", "This proxy needs your user name and password" },
    [SL_ERR_BLOCKED] = { "ERR_ACCESS_DENIED", 403, "Access Denied",
        "The request is blocked by the access policy" },
    [SL_ERR_NO_SITE] = { "ERR_NO_SITE", 421, "Misdirected Request",
        "This server does not serve that site or page" },
    [SL_ERR_NO_BACKEND] = { "ERR_NO_BACKEND", 503, "Service Unavailable",
        "No server is available to answer; try again later" },
    [SL_ERR_AUTH_BUSY] = { "ERR_AUTH_BUSY", 503, "Service Unavailable",
        "The proxy is busy checking sign-ins; try again in a moment" },
    [SL_ERR_CANNOT_FORWARD] = { "ERR_CANNOT_FORWARD", 503, "Unable To Forward",
        "No parent proxy could take the request, and this proxy may not "
        "go to the site directly; try again later" },
    [SL_ERR_PEER_AUTH] = { "ERR_PEER_AUTH", 502, "Bad Gateway",
        "The parent proxy refused this proxy's credentials" },
};

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 302: return "Found";
    case 308: return "Permanent Redirect";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 421: return "Misdirected Request";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}

const char *sl_errpage_name(enum sl_err e) { return errs[e].name; }
const char *sl_errpage_reason(int status) { return reason_phrase(status); }
int sl_errpage_status(enum sl_err e) { return errs[e].status; }

/* s HTML-escaped into dst (size n), cut to fit, always terminated. */
static void html_escape(char *dst, size_t n, const char *s)
{
    struct sl_buf b = { dst, dst + n - 1, dst, dst };

    sl_buf_append_html(&b, s);
    *b.last = '\0';
}

int sl_page_head(struct sl_buf *out, int status, const char *ctype, size_t clen,
                 const char *cache_control, int keep_alive, int minor,
                 const char *extra)
{
    char len[40] = "";

    /* A 204 has no content and says no length (RFC 9110 8.6) */
    if (status != 204)
        snprintf(len, sizeof(len), "Content-Length: %zu\r\n", clen);
    return sl_buf_printf(out, "HTTP/1.1 %d %s\r\nServer: squidlike/%s\r\n"
                         "%s%s%s%s"
                         "Cache-Control: %s\r\n%s%s",
                         status, reason_phrase(status), PACKAGE_VERSION,
                         ctype ? "Content-Type: " : "", ctype ? ctype : "",
                         ctype ? "\r\n" : "", len, cache_control,
                         keep_alive ? (minor ? "" : "Connection: keep-alive\r\n")
                                    : "Connection: close\r\n",
                         extra ? extra : "");
}

int sl_errpage_build(struct sl_buf *out, enum sl_err e, int status,
                     const char *detail, const char *hostname, int minor,
                     int keep_alive, int head_only, const char *extra)
{
    const struct err_def *d = &errs[e];
    char body[2048], esc[768], host[128];
    int blen;
    char *mark = out->last;

    if (status == 0)
        status = d->status;
    html_escape(esc, sizeof(esc), detail);
    html_escape(host, sizeof(host), hostname);
    blen = snprintf(body, sizeof(body),
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        "<title>%d %s</title></head>\n<body>\n<h1>%s</h1>\n"
        "<p>%s%s%s%s.</p>\n<p><small>%s</small></p>\n<hr>\n"
        "<address>squidlike/%s at %s</address>\n</body></html>\n",
        status, reason_phrase(status), d->title, d->text,
        esc[0] ? ": <b>" : "", esc, esc[0] ? "</b>" : "", d->name,
        PACKAGE_VERSION, host);
    if (blen < 0 || (size_t)blen >= sizeof(body))
        blen = (int)strlen(body);
    if (sl_page_head(out, status, "text/html; charset=utf-8", (size_t)blen,
                     "no-store", keep_alive, minor, extra) < 0 ||
        sl_buf_printf(out, "X-Squidlike-Error: %s\r\n\r\n", d->name) < 0)
        goto fail;
    if (!head_only && sl_buf_append(out, body, (size_t)blen) < 0)
        goto fail;
    return 0;
fail:
    out->last = mark;
    return -ENOSPC;
}
