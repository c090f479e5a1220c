/*
 * errpage.h - responses the proxy writes itself: error pages with a short
 * HTML body that names the reason, in a form browsers and scripts both read
 * (status, an X-Squidlike-Error header with Squid's error name, no-store).
 */
#ifndef SL_ERRPAGE_H
#define SL_ERRPAGE_H

#include "squidlike/buf.h"

enum sl_err {
    SL_ERR_INVALID_REQ = 0,     /* 400: unparsable request */
    SL_ERR_INVALID_URL,         /* 400: bad or unsupported target */
    SL_ERR_TOO_BIG,             /* 413/414/431 as the parser says */
    SL_ERR_UNSUP_REQ,           /* 501 */
    SL_ERR_UNSUP_HTTPVERSION,   /* 505 */
    SL_ERR_ACCESS_DENIED,       /* 403: client not allowed */
    SL_ERR_CONNECT_PORT,        /* 403: CONNECT to a port not allowed */
    SL_ERR_TO_LOCALHOST,        /* 403: origin on this host */
    SL_ERR_FORWARD_LOOP,        /* 403: request came back to us */
    SL_ERR_DNS_FAIL,            /* 503 */
    SL_ERR_DNS_TIMEOUT,         /* 504 */
    SL_ERR_CONNECT_FAIL,        /* 502 */
    SL_ERR_CONNECT_TIMEOUT,     /* 504 */
    SL_ERR_READ_TIMEOUT,        /* 504 */
    SL_ERR_INVALID_RESP,        /* 502 */
    SL_ERR_ZERO_SIZE_OBJECT,    /* 502: origin closed without answering */
    SL_ERR_REQUEST_TIMEOUT,     /* 408 */
    SL_ERR_SHUTTING_DOWN,       /* 503 */
    SL_ERR_NO_MEMORY,           /* 503 */
    SL_ERR_ONLY_IF_CACHED,      /* 504: only-if-cached and nothing usable */
    SL_ERR_CACHE_ACCESS_DENIED, /* 407: proxy authentication required */
    SL_ERR_BLOCKED,             /* 403: a blocklist category or deny rule */
    SL_ERR_NO_SITE,             /* 421 (or 404): reverse mode, no vhost or route */
    SL_ERR_NO_BACKEND,          /* 503: reverse mode, no backend of the pool up */
    SL_ERR_AUTH_BUSY,           /* 503: Negotiate checks all busy, or too slow */
    SL_ERR_CANNOT_FORWARD,      /* 503: never_direct, no parent could take it */
    SL_ERR_PEER_AUTH,           /* 502: a parent refused our credentials */
    SL_ERR_COUNT
};

/* Squid's name for the error ("ERR_DNS_FAIL"). */
const char *sl_errpage_name(enum sl_err e);
/* The status it is answered with by default. */
int sl_errpage_status(enum sl_err e);

/*
 * Append a whole response to out: status (0: the default for e), headers,
 * and an HTML body explaining e, where detail (plain text, escaped here;
 * may be NULL) says what was involved - a host name, a reason. head_only:
 * no body (HEAD). keep_alive decides the Connection field; minor is the
 * client's HTTP/1.minor; extra holds more header lines ("Name: v\r\n...",
 * may be NULL). Returns 0 or -ENOSPC.
 */
int sl_errpage_build(struct sl_buf *out, enum sl_err e, int status,
                     const char *detail, const char *hostname, int minor,
                     int keep_alive, int head_only, const char *extra);

/*
 * The head of an answer of our own (error and block pages, redirects, the
 * PAC file, status pages): status line, Server, Content-Type (none when
 * ctype is NULL: no body), Content-Length (the body's, also for a HEAD;
 * none for a 204),
 * Cache-Control, the
 * Connection field keep_alive and minor call for, then extra ("Name:
 * v\r\n..." or NULL). Not the blank line: the caller may add fields, then
 * appends "\r\n". Returns 0 or -ENOSPC.
 */
int sl_page_head(struct sl_buf *out, int status, const char *ctype, size_t clen,
                 const char *cache_control, int keep_alive, int minor,
                 const char *extra);

/* Reason phrase for a status code ("Forbidden"). */
const char *sl_errpage_reason(int status);

#endif
