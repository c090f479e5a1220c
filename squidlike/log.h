/*
 * log.h - the error log and the access log.
 *
 * Both are buffered in memory and handed over once per loop iteration (the
 * loop's idle hook calls sl_log_flush) to a writer thread, so the event
 * loop never waits on the disk, and a reader still sees a line within one
 * iteration plus a write. An error-level line is handed over at once.
 *
 * Every error-log line carries its context: the connection id (0 for the
 * daemon itself) and, when non-zero, an errno rendered with strerror.
 * Debug lines compile out unless configured with SL_DEBUG_LOG.
 */
#ifndef SL_LOG_H
#define SL_LOG_H

#include <stdint.h>

#include "squidlike/conf.h"

/* Process-wide level; lines above it are skipped before formatting. */
extern enum sl_log_level sl_log_level;

/*
 * Open (or switch to) the error log: path NULL means stderr. Creates
 * missing parent directories. Returns 0 or -errno; on failure the previous
 * log stays in use.
 */
int sl_log_open_error(const char *path, enum sl_log_level level);
/* Open (or switch to) the access log; NULL turns it off. 0 or -errno. */
int sl_log_open_access(const char *path);
/* Reopen both files by their current paths (log rotation, SIGUSR1). */
int sl_log_reopen(void);
/* Name the process in every error-log line ("worker 1", "master"); NULL
 * or "" for none (one process). Copied. */
void sl_log_set_tag(const char *tag);
/* Hand disk writes to a writer thread from now on (the daemon's loop). */
int sl_log_start_writer(void);
/* Batches dropped because the disk fell too far behind. */
unsigned long long sl_log_dropped(void);
/* Write buffered lines out; called once per loop iteration. */
void sl_log_flush(void *unused);
/* Flush and close both logs. */
void sl_log_close(void);

void sl_log(enum sl_log_level level, uint64_t conn, int err,
            const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define SL_LOG(level, conn, err, ...)                                 \
    do {                                                              \
        if ((level) <= sl_log_level)                                  \
            sl_log((level), (conn), (err), __VA_ARGS__);              \
    } while (0)

#ifdef SL_DEBUG_LOG
#define SL_DEBUG(conn, ...) SL_LOG(SL_LOG_DEBUG, (conn), 0, __VA_ARGS__)
#else
#define SL_DEBUG(conn, ...) do { } while (0)
#endif

/*
 * One finished transaction, as the access log sees it. Strings are the
 * transaction's own bytes (a client's URL and headers included): the
 * writer escapes them for the format, so no value can end a line, open a
 * field or forge another entry, and cuts each at a fixed length.
 */
struct sl_log_access {
    enum sl_log_format format;
    int64_t time_ms;            /* wall clock at the end (as Squid logs it) */
    int64_t elapsed_ms;
    const char *client;         /* address text */
    const char *code;           /* TCP_MISS, TCP_TUNNEL, TCP_DENIED, ... */
    int status;                 /* 0 when none was sent */
    int64_t bytes;              /* bytes sent to the client */
    const char *method;
    const char *url;
    const char *version;        /* client's HTTP version ("1.1"); NULL: the
                                   request was not parsed (Squid's 0.0) */
    const char *user;           /* NULL: "-" */
    const char *hier;           /* HIER_DIRECT, HIER_NONE */
    const char *peer;           /* origin address text, NULL: "-" */
    const char *type;           /* content type, NULL: "-" */
    const char *rule;           /* deciding http_access rule, or NULL */
    const char *category;       /* blocklist category, or NULL */
    const char *cache_status;   /* Cache-Status parameters ("hit"), or NULL */
    const char *host;           /* target host (the CONNECT host), or NULL */
    const char *sni;            /* TLS server name seen in a tunnel, or NULL */
    const char *referer;        /* request's Referer, or NULL */
    const char *user_agent;     /* request's User-Agent, or NULL */
    /* Reverse mode: the site and its route, the backend chosen last (the
     * one that answered, or failed), the X-Request-Id it was sent. NULL
     * for a forward request, and for what never reached them (unknown
     * Host: no vhost; a cache hit: no backend). */
    const char *vhost;          /* the vhost's first name */
    int route;                  /* its index in the vhost (when vhost is set) */
    const char *route_name;     /* its name (gateway-spec), or NULL */
    const char *consumer;       /* the gateway's consumer, NULL: none (a
                                   route without auth, no credentials) */
    const char *backend;        /* "ADDR:PORT" as configured */
    const char *request_id;
};

/* Write one line in a->format (see log.c for each format's fields). */
void sl_log_access(const struct sl_log_access *a);

/* Create the parent directories of path (like mkdir -p of dirname). */
int sl_log_mkparents(const char *path);

#endif
