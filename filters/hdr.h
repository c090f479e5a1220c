/*
 * hdr.h - header rewriting between client and origin. Pure: views in,
 * bytes into a bounded buffer out.
 *
 * This is where the proxy decides what crosses it: hop-by-hop fields are
 * dropped (RFC 9110 section 7.6.1), Via is added, and the client's address
 * is handled per forwarded_for - by default no header that could name the
 * client (X-Forwarded-For, Forwarded, X-Real-IP, Client-IP and kin) reaches
 * the destination.
 */
#ifndef FLT_HDR_H
#define FLT_HDR_H

#include <stddef.h>
#include <stdint.h>

#include "squidlike/buf.h"
#include "squidlike/http.h"

/* forwarded_for modes, with Squid's meanings. */
enum flt_xff {
    FLT_XFF_DELETE = 0,         /* drop every client-address header */
    FLT_XFF_ON,                 /* append client address to X-Forwarded-For */
    FLT_XFF_OFF,                /* append "unknown" */
    FLT_XFF_TRANSPARENT,        /* pass X-Forwarded-For on unchanged */
    FLT_XFF_TRUNCATE            /* X-Forwarded-For: <client address> only */
};

/* Parse a mode name ("delete", "on", ...). Returns 0 or -1. */
int flt_xff_parse(const char *s, enum flt_xff *mode);

/*
 * Header allow/deny lists (Squid's request_header_access / reply_header_access
 * with header_replace, tinyproxy's Anonymous mode). Lines "allow NAME" or
 * "deny NAME", NAME a field name or "all"; the first line naming a field
 * decides, a field no line names passes. A denied field that has a
 * replacement is sent with the replacement value instead. Framing fields,
 * Host and the proxy's own Via / X-Forwarded-For are never affected: the
 * proxy needs them to work.
 */
#define FLT_HDR_ACCESS_MAX 128
#define FLT_HDR_NAME_MAX 64
#define FLT_HDR_VALUE_MAX 256
#define FLT_HDR_RENAME_MAX 16

struct flt_hdr_access {
    struct {
        char name[FLT_HDR_NAME_MAX];
        int allow;
    } rule[FLT_HDR_ACCESS_MAX];
    size_t nrules;
    struct {
        char name[FLT_HDR_NAME_MAX];
        char value[FLT_HDR_VALUE_MAX];
    } repl[FLT_HDR_ACCESS_MAX];
    size_t nrepl;
    struct {                    /* a denied field sent under another name */
        char from[FLT_HDR_NAME_MAX];
        char to[FLT_HDR_NAME_MAX];
    } ren[FLT_HDR_RENAME_MAX];
    size_t nren;
};

/* Add "allow NAME" / "deny NAME". 0, or -1 with *err. */
int flt_hdr_access_rule(struct flt_hdr_access *a, const char *line,
                        const char **err);
/* Add "Name: value" as a replacement. 0, or -1 with *err. */
int flt_hdr_access_replace(struct flt_hdr_access *a, const char *line,
                           const char **err);

/* Add "Old: New": field Old is sent as New, with its own value (every
 * line of it); denies Old. 0, or -1 with *err. */
int flt_hdr_access_rename(struct flt_hdr_access *a, const char *line,
                          const char **err);

/* What the caller wants done to one message's header fields. */
struct flt_hdr_opts {
    enum flt_xff xff;           /* requests only; ignored for responses */
    const char *client_addr;    /* text form, for FLT_XFF_ON / TRUNCATE */
    const char *via;            /* e.g. "1.1 squidlike (squidlike/0.1.0)"; NULL: no Via */
    unsigned request:1;         /* a request (else a response) */
    unsigned keep_te:1;         /* keep Transfer-Encoding (chunked passed through) */
    unsigned keep_cl:1;         /* keep Content-Length */
    unsigned keep_host:1;       /* keep Host (else dropped: the caller writes its own) */
    unsigned dec_max_forwards:1;    /* requests: Max-Forwards less one (OPTIONS, TRACE) */
    const char *const *drop;    /* more names to drop (NULL-terminated), or NULL */
    const char *const *drop2;   /* and a second such list (two callers' own) */
    const char *const *drop3;   /* and a third (the API gateway's) */
    const struct flt_hdr_access *access;    /* allow/deny lists, or NULL */
    const struct flt_hdr_access *access2;   /* a second one a field must also
                                               pass (a route's edits beside
                                               the fields hidden from all) */
};

/*
 * Write msg's header fields, rewritten, to out as "Name: value\r\n" lines
 * (no start line, no final CRLF: the caller adds its own fields after).
 * Dropped always: Connection and every field it names, Proxy-Connection,
 * Keep-Alive, TE, Upgrade, and the credentials meant for this hop:
 * Proxy-Authorization (requests) and Proxy-Authenticate (responses).
 * Dropped unless asked to keep: Transfer-Encoding, Content-Length, Host.
 * Connection cannot remove those three (only the keep_* flags decide them:
 * a client naming Content-Length in Connection must not smuggle a body),
 * and our own Via / X-Forwarded-For line is written even when Connection
 * named the incoming one. At most 32 Connection names are remembered; past
 * that the Connection values are searched again per field (still dropped).
 * A combined Via or X-Forwarded-For line takes the place of the first one
 * received; when there was none it is added at the end (Via first). An
 * unknown xff mode acts as delete; a missing client_addr writes "unknown";
 * a via with CR/LF is ignored.
 * Via: appended to an existing Via value or added (when opts->via).
 * X-Forwarded-For and the other client-address fields per opts->xff.
 * Returns 0, or -ENOSPC when out is too small (out then holds a partial
 * block that the caller must discard).
 */
int flt_hdr_rewrite(const struct sl_http_msg *msg,
                    const struct flt_hdr_opts *opts, struct sl_buf *out);

/*
 * Max-Forwards (RFC 9110 section 7.6.2) of a request: 1*DIGIT on one field
 * line. Returns 0 when there is none, 1 with *value set (values above
 * 2^31-1 read as that), -1 when it is invalid: empty, anything but digits
 * (a sign, a list, blanks inside), or more than one line.
 * With opts->dec_max_forwards, flt_hdr_rewrite writes the field (in the
 * place of the first one) with this value less one, whatever Connection
 * or the access lists say of it: it is this hop's field then. It drops the
 * field when it is invalid or 0, which the caller refuses or answers
 * itself before forwarding.
 */
int flt_hdr_max_forwards(const struct sl_http_msg *msg, int64_t *value);

/*
 * The request as a TRACE echo (RFC 9110 section 9.3.8), the content of a
 * message/http response: its request line, its header fields one per line
 * as received ("Name: value", the value OWS-trimmed), then the empty line;
 * without the fields that carry credentials, which must not be reflected:
 * Authorization, Proxy-Authorization, Cookie. Returns 0, or -ENOSPC (out
 * then holds a partial echo, to discard), or -EINVAL for a method or target
 * that would not stay one line (the parser lets none through).
 */
int flt_hdr_trace_echo(const struct sl_http_msg *msg, struct sl_buf *out);

/* Is name a field that can carry a client's address (X-Real-IP, ...)? */
int flt_hdr_is_client_addr(struct sl_view name);

#endif
