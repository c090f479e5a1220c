/*
 * metrics.h - the counters behind /metrics (Prometheus text format 0.0.4)
 * that no other module keeps: requests by result code and method, and the
 * service-time histogram. Both are filled once per transaction, where
 * client.c logs it (sl_metrics_observe): plain integer increments in a
 * fixed table, no lock, no allocation. The other numbers on the page come
 * from struct sl_stats, the DNS cache and the store, read when the page is
 * asked for (sl_metrics_write).
 *
 * The struct is public because struct sl_server embeds it. Each worker
 * process would keep its own; summing them is addition.
 */
#ifndef SL_METRICS_H
#define SL_METRICS_H

#include <stdint.h>

#include "squidlike/buf.h"

struct sl_server;

#define SL_METRICS_NCODES 13    /* the Squid codes we log, and "other" */
#define SL_METRICS_NMETHODS 10  /* the common methods, and "other" */
#define SL_METRICS_NBUCKETS 13  /* service time upper bounds, +Inf apart */

enum sl_metrics_kind { SL_METRICS_HIT, SL_METRICS_MISS, SL_METRICS_OTHER,
                       SL_METRICS_NKINDS };

struct sl_metrics {
    int64_t start_ms;           /* loop time the server was made */
    /* [code][aborted][method]: "TCP_MISS_ABORTED" is TCP_MISS, aborted */
    unsigned long long requests[SL_METRICS_NCODES][2][SL_METRICS_NMETHODS];
    /* per bucket, not cumulative (the page sums); the last is +Inf */
    unsigned long long svc_bucket[SL_METRICS_NKINDS][SL_METRICS_NBUCKETS + 1];
    unsigned long long svc_count[SL_METRICS_NKINDS];
    unsigned long long svc_sum_ms[SL_METRICS_NKINDS];
    unsigned long long bytes[SL_METRICS_NKINDS];  /* sent to clients */
};

/* Count one finished transaction: its access-log code ("TCP_HIT",
 * "TCP_MISS_ABORTED", ...), method, service time in ms and bytes sent to
 * the client. */
void sl_metrics_observe(struct sl_metrics *m, const char *code,
                        const char *method, int64_t elapsed_ms,
                        unsigned long long bytes);

/*
 * Append the whole exposition for srv to out (which has room or fails:
 * out is sized by the caller, at least SL_METRICS_MAX bytes of space).
 * Returns 0, or -ENOSPC.
 */
#define SL_METRICS_MAX (64 * 1024)
int sl_metrics_write(struct sl_buf *out, struct sl_server *srv);

#endif
