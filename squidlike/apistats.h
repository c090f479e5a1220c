/*
 * apistats.h - reverse mode's analytics per API (issue 15, gateway-spec
 * "Analytics"): for each route name and each consumer name, requests,
 * responses by class, requests refused by a rate limit or quota (429) and
 * by the gateway's authentication (401/403), request body bytes in and
 * bytes out to the client, and a service-time histogram (hist.h).
 *
 * Each worker writes only its own table (one per shared slot, shared.h),
 * with plain stores and no lock: one writer. A table is keyed by kind and
 * name, so the names survive reloads (a route renamed starts a new row;
 * the old row stays, counters never go back), and a table of fixed
 * capacity (SL_API_TABLE names, routes and consumers together) counts a
 * name that does not fit under its kind's "other" row. Readers (the
 * pages) add every slot's table up into a struct sl_api_sum (fixed
 * capacity too: SL_API_SUM_MAX names, the rest "other"), tolerating torn
 * 64-bit reads as the rest of the shared counters do: an entry is
 * published by its count (n) after its name is written.
 *
 * Pure: no loop, no sockets, no server; tested in t/unit/check_apistats.c.
 * The pages' writers are in apistats_out.c.
 */
#ifndef SL_APISTATS_H
#define SL_APISTATS_H

#include <stddef.h>
#include <stdint.h>

#include "squidlike/buf.h"
#include "squidlike/hist.h"

#define SL_API_NAME 64          /* SL_GW_NAME_MAX: 63 bytes and a NUL */
#define SL_API_TABLE 512        /* names per worker (routes + consumers) */
#define SL_API_INDEX 1024       /* its hash index: twice as many slots */
#define SL_API_SUM_MAX 2048     /* names in a sum of every worker's */

enum sl_api_kind { SL_API_ROUTE = 0, SL_API_CONSUMER, SL_API_NKINDS };

/* Response classes: a final status of 1xx (101, a protocol switch) is a
 * success and counts with 2xx; >= 600 with 5xx; NONE: no response was
 * sent (the client left first). */
enum sl_api_class { SL_API_2XX = 0, SL_API_3XX, SL_API_4XX, SL_API_5XX,
                    SL_API_NONE, SL_API_NCLASSES };

/* One name's counters. */
struct sl_api_counts {
    unsigned long long requests;
    unsigned long long cls[SL_API_NCLASSES];
    unsigned long long limited;         /* 429 by a rate limit or a quota */
    unsigned long long auth_refused;    /* 401/403 by the gateway */
    unsigned long long bytes_in;        /* request body bytes */
    unsigned long long bytes_out;       /* bytes sent to the client */
    struct sl_hist lat;                 /* service time */
};

struct sl_api_entry {
    char name[SL_API_NAME];
    uint32_t kind;              /* enum sl_api_kind */
    uint32_t hash;
    struct sl_api_counts c;
};

/* One worker's table, in shared memory (sl_api_shm_new). */
struct sl_api_table {
    volatile uint32_t n;        /* entries published, e[0 .. n-1] */
    uint16_t index[SL_API_INDEX];   /* 1 + entry, 0: free (the writer's) */
    struct sl_api_counts other[SL_API_NKINDS];  /* names that did not fit */
    struct sl_api_entry e[SL_API_TABLE];
};

/* What one finished transaction counts. */
struct sl_api_txn {
    int status;                 /* final status sent; 0: none */
    int limited, auth_refused;
    unsigned long long bytes_in, bytes_out;
    int64_t elapsed_us;
};

/* Count x under route (NULL: none) and consumer (NULL: none) in t. */
void sl_api_record(struct sl_api_table *t, const char *route, const char *consumer,
                   const struct sl_api_txn *x);

/* The class of a final status. */
enum sl_api_class sl_api_class_of(int status);

/* The tables of every worker slot: n of them, zeroed, shared with the
 * children forked later. NULL on failure. */
struct sl_api_table *sl_api_shm_new(size_t n);
void sl_api_shm_free(struct sl_api_table *t, size_t n);

/* A sum of tables: rows in first-seen order, and per kind the names that
 * did not fit in a worker's table or in the sum. */
struct sl_api_row {
    char name[SL_API_NAME];
    enum sl_api_kind kind;
    struct sl_api_counts c;
};

struct sl_api_sum {
    size_t n;
    struct sl_api_row r[SL_API_SUM_MAX];
    struct sl_api_counts other[SL_API_NKINDS];
    uint32_t index[2 * SL_API_SUM_MAX];     /* 1 + row, 0: free */
};

/* s = 0, then add t (another process may be writing it: names are read
 * within bounds, counters may be torn). */
void sl_api_sum_clear(struct sl_api_sum *s);
void sl_api_sum_add(struct sl_api_sum *s, const struct sl_api_table *t);

/*
 * The rows of kind as the pages show them, into out (max entries):
 * routes in name order, all of them; consumers by requests (then name),
 * the first top of them, the rest added into *other with the names that
 * did not fit. *other holds the kind's "other" row (shown when it counted
 * a request). Returns how many rows.
 */
size_t sl_api_rows(const struct sl_api_sum *s, enum sl_api_kind kind, size_t top,
                   const struct sl_api_row **out, size_t max, struct sl_api_counts *other);

/* --- the pages (apistats_out.c) ----------------------------------------- */

/* What a page shows: the rows of each kind (sl_api_rows), ready. */
struct sl_api_view {
    const struct sl_api_row **rows[SL_API_NKINDS];
    size_t n[SL_API_NKINDS];
    struct sl_api_counts other[SL_API_NKINDS];
};

/* view over s, consumers cut at top; rows point into s. 0, or -ENOMEM. */
int sl_api_view_make(struct sl_api_view *v, const struct sl_api_sum *s, size_t top);
void sl_api_view_free(struct sl_api_view *v);

/* The most bytes each writer below takes for v. */
size_t sl_api_metrics_size(const struct sl_api_view *v);
size_t sl_api_json_size(const struct sl_api_view *v);
size_t sl_api_html_size(const struct sl_api_view *v);

/* /metrics: the squidlike_api_* families. */
void sl_api_metrics(struct sl_bufw *w, const struct sl_api_view *v);
/* status.json: ",\n  \"apis\": { ... }" (the caller's object goes on). */
void sl_api_json(struct sl_bufw *w, const struct sl_api_view *v);
/* The status page's APIs section. */
void sl_api_html(struct sl_bufw *w, const struct sl_api_view *v);

#endif
