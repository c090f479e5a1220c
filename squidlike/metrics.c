/*
 * metrics.c - the /metrics page's numbers (see metrics.h): the per-request
 * table filled where a transaction is logged, and the writer of the
 * Prometheus text exposition (format 0.0.4) served by client_mgr.c.
 *
 * Service times are microseconds, from the loop's time at the wakeup
 * that read the request to a fresh clock read when it is logged (hist.h
 * has the buckets, 25 us to 10 s).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "acl/group.h"
#include "acl/quota.h"
#include "acl/route.h"
#include "squidlike/apistats.h"
#include "cache/store.h"
#include "squidlike/backend.h"
#include "squidlike/client.h"
#include "squidlike/dns.h"
#include "squidlike/ldapq.h"
#include "squidlike/metrics.h"
#include "squidlike/workq.h"
#include "squidlike/peer.h"
#include "squidlike/quota_store.h"
#include "squidlike/server.h"
#include "squidlike/tls.h"

struct code_row {
    const char *name;
    size_t len;
    enum sl_metrics_kind kind;
};

#define ROW(s, k) { s, sizeof(s) - 1, k }

/* Every code client.c can log (the last row takes anything else). Hits are
 * answers from the store, revalidated or not; misses went to the origin
 * for the body. The order is the order on the page. */
static const struct code_row codes[SL_METRICS_NCODES] = {
    ROW("TCP_HIT", SL_METRICS_HIT),
    ROW("TCP_IMS_HIT", SL_METRICS_HIT),
    ROW("TCP_NEGATIVE_HIT", SL_METRICS_HIT),
    ROW("TCP_REFRESH_UNMODIFIED", SL_METRICS_HIT),
    ROW("TCP_REFRESH_FAIL_OLD", SL_METRICS_HIT),
    ROW("TCP_MISS", SL_METRICS_MISS),
    ROW("TCP_CLIENT_REFRESH_MISS", SL_METRICS_MISS),
    ROW("TCP_REFRESH_MODIFIED", SL_METRICS_MISS),
    ROW("TCP_TUNNEL", SL_METRICS_OTHER),
    ROW("TCP_DENIED", SL_METRICS_OTHER),
    ROW("NONE", SL_METRICS_OTHER),
    ROW("NONE_NONE", SL_METRICS_OTHER),
    ROW("other", SL_METRICS_OTHER),
};

#define DENIED_ROW 9

static const char *const methods[SL_METRICS_NMETHODS] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "PATCH",
    "TRACE", "other"
};

static const char *const kinds[SL_METRICS_NKINDS] = { "hit", "miss", "other" };

#define ABORTED "_ABORTED"

/* The row of code ("TCP_MISS_ABORTED" is TCP_MISS's), and whether it was
 * aborted; the last row takes codes we do not know. */
static size_t code_row(const char *code, int *aborted)
{
    size_t len = strlen(code), ci;

    *aborted = 0;
    if (len > sizeof(ABORTED) - 1 &&
        memcmp(code + len - (sizeof(ABORTED) - 1), ABORTED, sizeof(ABORTED) - 1) == 0) {
        *aborted = 1;
        len -= sizeof(ABORTED) - 1;
    }
    for (ci = 0; ci < SL_METRICS_NCODES - 1; ci++)
        if (codes[ci].len == len && memcmp(codes[ci].name, code, len) == 0)
            break;
    return ci;
}

enum sl_metrics_kind sl_metrics_kind_of(const char *code)
{
    int aborted;

    return codes[code_row(code, &aborted)].kind;
}

static void count_blocked(struct sl_metrics *m, const char *cat)
{
    size_t i;

    if (cat == NULL)
        cat = "";
    for (i = 0; i < m->ncats; i++)
        if (strcmp(m->cats[i].name, cat) == 0) {
            m->cats[i].n++;
            return;
        }
    if (m->ncats == SL_METRICS_NCATS || strlen(cat) >= SL_METRICS_CAT_LEN) {
        m->cat_other++;
        return;
    }
    strcpy(m->cats[m->ncats].name, cat);
    m->cats[m->ncats++].n = 1;
}

void sl_metrics_observe(struct sl_metrics *m, const struct sl_metrics_txn *x)
{
    int aborted;
    size_t ci = code_row(x->code, &aborted), mi;
    enum sl_metrics_kind kind = codes[ci].kind;

    for (mi = 0; mi < SL_METRICS_NMETHODS - 1; mi++)
        if (strcmp(methods[mi], x->method) == 0)
            break;
    m->requests[ci][aborted][mi]++;
    sl_hist_add(&m->svc[kind], x->elapsed_us);
    m->bytes[kind] += x->bytes;
    if (x->blocked)
        count_blocked(m, x->category);
    if (x->host != NULL && x->host[0] != '\0') {
        size_t len;
        uint64_t h = sl_top_hash(x->host, &len);

        sl_top_add_hashed(&m->top_requests, x->host, len, h, 1);
        sl_top_add_hashed(&m->top_bytes, x->host, len, h, x->bytes);
    }
    if (x->user != NULL && x->user[0] != '\0') {
        size_t len;
        uint64_t h = sl_top_hash(x->user, &len);

        sl_top_add_hashed(&m->top_users, x->user, len, h, 1);
        sl_top_add_hashed(&m->top_user_bytes, x->user, len, h, x->bytes);
    }
}

/* --- the page ---------------------------------------------------------- */

static void family(struct sl_bufw *w, const char *name, const char *type,
                   const char *help)
{
    sl_bufw_printf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct sl_bufw *w, const char *name, const char *type,
                const char *help, unsigned long long v)
{
    family(w, name, type, help);
    sl_bufw_printf(w, "%s %llu\n", name, v);
}

static void requests(struct sl_bufw *w, const struct sl_metrics *m)
{
    size_t ci, a, mi;

    family(w, "squidlike_requests_total", "counter",
           "Finished requests by access-log result code and method.");
    for (ci = 0; ci < SL_METRICS_NCODES; ci++)
        for (a = 0; a < 2; a++)
            for (mi = 0; mi < SL_METRICS_NMETHODS; mi++)
                if (m->requests[ci][a][mi] != 0)
                    sl_bufw_printf(w, "squidlike_requests_total{code=\"%s%s\",method=\"%s\"} %llu\n",
                        codes[ci].name, a ? ABORTED : "", methods[mi],
                        m->requests[ci][a][mi]);
}

/* A label value as the text format wants it: \\, \" and \n escaped. */
static void label(struct sl_bufw *w, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            sl_bufw_printf(w, "\\%c", *v);
        else if (*v == '\n')
            sl_bufw_printf(w, "\\n");
        else
            sl_bufw_printf(w, "%c", *v);
    }
}

static void blocked(struct sl_bufw *w, const struct sl_metrics *m)
{
    size_t i;

    family(w, "squidlike_blocked_total", "counter",
           "Requests answered with a block page or redirect, by the blocklist "
           "category that matched (\"\" for a rule without one).");
    for (i = 0; i < m->ncats; i++) {
        sl_bufw_printf(w, "squidlike_blocked_total{category=\"");
        label(w, m->cats[i].name);
        sl_bufw_printf(w, "\"} %llu\n", m->cats[i].n);
    }
    if (m->cat_other != 0)
        sl_bufw_printf(w, "squidlike_blocked_total{category=\"(other)\"} %llu\n",
                       m->cat_other);
}

/* One histogram's series; labels: "kind=\"hit\"," or "". */
static void hist(struct sl_bufw *w, const char *name, const char *labels,
                 const struct sl_hist *h)
{
    unsigned long long sum = 0;
    size_t b;

    for (b = 0; b < SL_HIST_N; b++) {
        sum += h->b[b];
        sl_bufw_printf(w, "%s_bucket{%sle=\"%s\"} %llu\n", name, labels,
                       sl_hist_le[b], sum);
    }
    sl_bufw_printf(w, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels, h->count);
    /* The labels without their trailing comma, in braces, or none. */
    if (labels[0] != '\0')
        sl_bufw_printf(w, "%s_sum{%.*s} %llu.%06llu\n%s_count{%.*s} %llu\n",
            name, (int)strlen(labels) - 1, labels, h->sum_us / 1000000,
            h->sum_us % 1000000, name, (int)strlen(labels) - 1, labels, h->count);
    else
        sl_bufw_printf(w, "%s_sum %llu.%06llu\n%s_count %llu\n", name,
            h->sum_us / 1000000, h->sum_us % 1000000, name, h->count);
}

static void service_time(struct sl_bufw *w, const struct sl_metrics *m)
{
    char labels[32];
    size_t k;

    family(w, "squidlike_service_seconds", "histogram",
           "Time from request to logged end, by hit, miss or other.");
    for (k = 0; k < SL_METRICS_NKINDS; k++) {
        snprintf(labels, sizeof(labels), "kind=\"%s\",", kinds[k]);
        hist(w, "squidlike_service_seconds", labels, &m->svc[k]);
    }
}

/* What the admin of a full (or failing) cache disk needs to see. */
static void store_writes(struct sl_bufw *w, const struct cache_store_stats *cs)
{
    size_t i;

    family(w, "squidlike_cache_write_errors_total", "counter",
           "Cache commits that failed, by cause (each drops the objects it held).");
    for (i = 0; i < CACHE_FAIL_N; i++)
        sl_bufw_printf(w, "squidlike_cache_write_errors_total{reason=\"%s\"} %llu\n",
                       cache_store_fail_name[i], (unsigned long long)cs->write_errors_by[i]);
    one(w, "squidlike_cache_stores_dropped_total", "counter",
        "Objects being stored that a failed commit dropped.",
        (unsigned long long)cs->dropped);
    one(w, "squidlike_cache_stores_skipped_total", "counter",
        "Storable responses not stored because the store was paused.",
        (unsigned long long)cs->skipped);
    one(w, "squidlike_cache_paused", "gauge",
        "1 while the store takes no new objects after a failed commit (it probes "
        "and resumes by itself).", cs->paused != 0);
    if (cs->fs_size < 0)
        return;                 /* not sampled (statvfs failed) */
    one(w, "squidlike_cache_fs_size_bytes", "gauge",
        "Size of the filesystem holding cache.dir (sampled every few seconds).",
        (unsigned long long)cs->fs_size);
    one(w, "squidlike_cache_fs_free_bytes", "gauge",
        "Space available on the filesystem holding cache.dir, as df shows it "
        "(sampled every few seconds).", (unsigned long long)cs->fs_avail);
}

/* Accept failing: every failed call by reason (each retry counts), and
 * whether new clients are kept waiting now. */
static void accept_failures(struct sl_bufw *w, const struct sl_server *srv)
{
    const struct sl_accept_fails *a = &srv->accept_fails;
    size_t i;

    family(w, "squidlike_accept_failures_total", "counter",
           "Failed accepts of client connections, by reason (every retry counts).");
    for (i = 0; i < SL_ACCEPT_NWHY; i++)
        sl_bufw_printf(w, "squidlike_accept_failures_total{reason=\"%s\"} %llu\n",
                       sl_accept_why_name[i], a->n[i]);
    one(w, "squidlike_accept_paused", "gauge",
        "1 while new client connections wait: max_connections reached, or accept failing.",
        srv->accept_paused || a->failing ? 1 : 0);
    one(w, "squidlike_descriptors_exhausted", "gauge",
        "1 while accept fails for want of file descriptors (process or system limit).",
        a->failing && (a->why == SL_ACCEPT_PROC_FDS || a->why == SL_ACCEPT_SYS_FDS));
}

/* --- reverse mode ------------------------------------------------------- */

const char *sl_metrics_backend_state(const struct sl_backend_info *i)
{
    return !i->healthy ? "down" : i->ejected ? "ejected" : "up";
}

const char *sl_metrics_route_text(const struct sl_conf_reverse *rc, int v, int r,
                                  char *buf, size_t n)
{
    enum acl_route_kind kind = ACL_ROUTE_PREFIX;
    int icase = 0;
    const char *p = acl_routes_pattern(rc->routes, v, r, &kind, &icase);
    size_t o = 0, k;

    buf[0] = '\0';
    if (p == NULL)
        return buf;
    if (kind == ACL_ROUTE_REGEX)
        o = (size_t)snprintf(buf, n, "%s", icase ? "~*" : "~");
    /* o + a sequence of up to 4 bytes + "..." + NUL must fit */
    for (k = 0; *p && k < SL_METRICS_ROUTE_SHOWN && o + 8 < n; ) {
        unsigned char ch = (unsigned char)*p;
        size_t u = ch >= 0x80 ? sl_utf8_len((const unsigned char *)p) : 1;

        if (ch >= 0x80 && u == 0) {
            buf[o++] = '?';         /* not UTF-8: one byte at a time */
            p++;
            k++;
            continue;
        }
        if (k + u > SL_METRICS_ROUTE_SHOWN)
            break;
        if (u == 1) {
            buf[o++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
        } else {
            memcpy(buf + o, p, u);
            o += u;
        }
        p += u;
        k += u;
    }
    if (*p && o + 4 <= n) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o < n ? o : n - 1] = '\0';
    return buf;
}

size_t sl_metrics_reverse_room(const struct sl_conf_reverse *rc, size_t be_fixed,
                               size_t be_mult, size_t rt_fixed, size_t rt_mult)
{
    size_t room = SL_METRICS_REVERSE_ONCE, i, j, names;

    if (rc == NULL || rc->rt == NULL)
        return 0;
    for (i = 0; i < rc->n_pools; i++)
        for (j = 0; j < rc->pools[i].n_backends; j++) {
            names = strlen(rc->pools[i].name) + strlen(rc->pools[i].backend[j].name);
            room += be_fixed + be_mult * names;
        }
    for (i = 0; i < rc->n_vhosts; i++)
        for (j = 0; j < rc->vhosts[i].n_routes; j++) {
            /* the shown pattern is at most its cap, a prefix and "..." */
            names = strlen(rc->vhosts[i].name) + SL_METRICS_ROUTE_TEXT_MAX +
                    strlen(rc->pools[rc->vhosts[i].routes[j].pool].name);
            room += rt_fixed + rt_mult * names;
        }
    return room;
}

/* A backend's rows in the exposition: 9 lines and a histogram's 21, each
 * under 100 bytes but for the two names, at most twice as long escaped;
 * a route's one line, the same. */
#define REV_BE_LINES 30
#define REV_LINE_MAX 100

/* The backend families: one value of a backend each. */
enum be_fam {
    BE_UP, BE_HEALTHY, BE_EJECTED, BE_ACTIVE, BE_REQUESTS, BE_FAILURES,
    BE_EJECTIONS, BE_CHECKS, BE_CHECK_FAILURES, BE_NFAM
};

static const struct {
    const char *name, *type, *help;
} be_fams[BE_NFAM] = {
    [BE_UP] = { "squidlike_backend_up", "gauge",
        "1 when the backend may be chosen: healthy and not ejected (its pool's "
        "max_connections aside)." },
    [BE_HEALTHY] = { "squidlike_backend_healthy", "gauge",
        "1 unless the active health checks took the backend out (1 without checks)." },
    [BE_EJECTED] = { "squidlike_backend_ejected", "gauge",
        "1 while the backend is ejected after failed requests (eject_after)." },
    [BE_ACTIVE] = { "squidlike_backend_active", "gauge",
        "Requests in flight on the backend." },
    [BE_REQUESTS] = { "squidlike_backend_requests_total", "counter",
        "Requests sent to the backend (a retry counts on each backend it tried)." },
    [BE_FAILURES] = { "squidlike_backend_failures_total", "counter",
        "Requests the backend failed: connect failure, reset, timeout or a 5xx." },
    [BE_EJECTIONS] = { "squidlike_backend_ejections_total", "counter",
        "Times the backend was ejected after failed requests." },
    [BE_CHECKS] = { "squidlike_backend_checks_total", "counter",
        "Active health checks of the backend." },
    [BE_CHECK_FAILURES] = { "squidlike_backend_check_failures_total", "counter",
        "Active health checks the backend failed." },
};

static unsigned long long be_value(enum be_fam f, const struct sl_backend_info *i)
{
    switch (f) {
    case BE_UP:             return i->healthy && !i->ejected;
    case BE_HEALTHY:        return i->healthy != 0;
    case BE_EJECTED:        return i->ejected != 0;
    case BE_ACTIVE:         return i->active;
    case BE_REQUESTS:       return i->requests;
    case BE_FAILURES:       return i->failures;
    case BE_EJECTIONS:      return i->ejections;
    case BE_CHECKS:         return i->checks;
    case BE_CHECK_FAILURES: return i->check_failures;
    default:                return 0;
    }
}

/* v escaped as label() does, into buf (n > 0), cut before an escape
 * that would not fit. */
static void label_into(char *buf, size_t n, const char *v)
{
    size_t o = 0;

    for (; *v; v++) {
        const char *e = *v == '\\' ? "\\\\" : *v == '"' ? "\\\"" : *v == '\n' ? "\\n" : NULL;
        size_t k = e ? 2 : 1;

        if (o + k >= n)
            break;
        if (e)
            memcpy(buf + o, e, 2);
        else
            buf[o] = *v;
        o += k;
    }
    buf[o] = '\0';
}

/* "pool=\"app\",backend=\"10.0.0.1:8080\"," for backend j of pool p. */
static void be_labels(char *buf, size_t n, const struct sl_conf_rpool *p, size_t j)
{
    char pool[2 * sizeof(p->name)], be[2 * sizeof(p->backend[0].name)];

    label_into(pool, sizeof(pool), p->name);
    label_into(be, sizeof(be), p->backend[j].name);
    snprintf(buf, n, "pool=\"%s\",backend=\"%s\",", pool, be);
}

/* HTTPS listeners: handshakes, and how long each certificate has left
 * (negative once expired: alert on it before that). */
static void tls_rows(struct sl_bufw *w, const struct sl_tls *t)
{
    struct sl_tls_stats st;
    struct sl_tls_cert_info ci;
    char file[600], names[1100];
    int64_t now = (int64_t)time(NULL);
    size_t i;

    sl_tls_get_stats(&st);
    family(w, "squidlike_tls_handshakes_total", "counter",
           "TLS handshakes on HTTPS listeners: full, resumed (a ticket or a session id), failed.");
    sl_bufw_printf(w, "squidlike_tls_handshakes_total{kind=\"full\"} %llu\n",
                   st.handshakes - st.resumed);
    sl_bufw_printf(w, "squidlike_tls_handshakes_total{kind=\"resumed\"} %llu\n", st.resumed);
    sl_bufw_printf(w, "squidlike_tls_handshakes_total{kind=\"failed\"} %llu\n", st.failed);
    family(w, "squidlike_tls_cert_expiry_seconds", "gauge",
           "Seconds until a certificate of reverse.tls expires (negative: expired).");
    for (i = 0; i < sl_tls_ncerts(t); i++) {
        sl_tls_cert(t, i, &ci);
        label_into(file, sizeof(file), ci.file);
        label_into(names, sizeof(names), ci.names);
        sl_bufw_printf(w, "squidlike_tls_cert_expiry_seconds{file=\"%s\",names=\"%s\","
                       "key=\"%s\"} %lld\n", file, names, ci.key_type,
                       (long long)(ci.not_after - now));
    }
}

/* Rate limits: refusals per limit name, and the bucket table. */
static void limit_rows(struct sl_bufw *w, struct sl_server *srv)
{
    const struct rl_count *rc;
    size_t n = rl_state_counts(srv->ratelimit, &rc), i, used, cap;
    unsigned long long evicted;
    char name[160];

    family(w, "squidlike_rate_limited_total", "counter",
           "Requests refused with 429 by a rate limit of reverse mode.");
    for (i = 0; i < n; i++) {
        label_into(name, sizeof(name), rc[i].name);
        sl_bufw_printf(w, "squidlike_rate_limited_total{limit=\"%s\"} %llu\n", name,
                       rc[i].limited);
    }
    rl_state_table(srv->ratelimit, &used, &cap, &evicted);
    one(w, "squidlike_rate_limit_buckets", "gauge",
        "Slots of the rate limit table in use (of reverse.rate_limit_table).",
        (unsigned long long)used);
    one(w, "squidlike_rate_limit_evictions_total", "counter",
        "Buckets dropped before they were full, for want of room: the table is too small.",
        evicted);
}

/* The gateway's quotas: refusals per quota name, and the counters' table. */
static void quota_rows(struct sl_bufw *w, const struct sl_server *srv)
{
    const struct sl_qcount *qc;
    size_t n = sl_qstore_counts(srv->quota, &qc), i;
    struct acl_quota_stats st;
    char name[160];

    family(w, "squidlike_quota_refused_total", "counter",
           "Requests refused with 429 by a quota of reverse.gateway.");
    for (i = 0; i < n; i++) {
        label_into(name, sizeof(name), qc[i].name);
        sl_bufw_printf(w, "squidlike_quota_refused_total{quota=\"%s\"} %llu\n", name,
                       qc[i].refused);
    }
    acl_quota_get_stats(sl_qstore_table(srv->quota), &st);
    one(w, "squidlike_quota_counters", "gauge",
        "Slots of the quota table holding a consumer's counter.",
        (unsigned long long)st.entries);
    one(w, "squidlike_quota_counters_capacity", "gauge",
        "Slots of the quota table (reverse.gateway.quota_table, or more).",
        (unsigned long long)st.capacity);
    one(w, "squidlike_quota_uncounted_total", "counter",
        "Requests let through uncounted for want of room in the quota table.", st.full);
}

/* ldap_group's directory: lookups, the searches they made, failures. */
static void ldap_rows(struct sl_bufw *w, const struct sl_server *srv)
{
    struct acl_gcache_stats gs;
    struct sl_ldap_stats st;

    sl_ldap_get_stats(srv->ldap, &st);
    acl_gcache_stats(srv->conf->ldap.cache, &gs);
    one(w, "squidlike_ldap_lookups_total", "counter",
        "Group lookups sent to the directory (one per user and ldap_group ACL "
        "not answered by the cache).", st.lookups);
    one(w, "squidlike_ldap_searches_total", "counter",
        "LDAP searches those lookups made (the user's DN, one per group).",
        st.searches);
    one(w, "squidlike_ldap_errors_total", "counter",
        "Lookups the directory could not answer (down, bind refused, timeout): "
        "their ldap_group ACLs were unknown.", st.errors);
    one(w, "squidlike_ldap_shared_total", "counter",
        "Requests that waited on a lookup another request had started.", st.shared);
    one(w, "squidlike_ldap_rejected_total", "counter",
        "Lookups not made: too many were waiting for a thread.", st.rejected);
    one(w, "squidlike_ldap_lookups_in_flight", "gauge",
        "Lookups being made now.", (unsigned long long)st.in_flight);
    one(w, "squidlike_ldap_cache_entries", "gauge",
        "Answers (user, group) remembered; a reload starts afresh.",
        (unsigned long long)gs.n);
}

/* The worker processes: how many, restarts, and each one's requests
 * (at most SL_WORKERS_MAX label values). */
static void workers_rows(struct sl_bufw *w, struct sl_server *srv)
{
    struct sl_worker_row r[SL_SHARED_SLOTS];
    size_t n = sl_workers_rows(srv->shared, r, SL_SHARED_SLOTS), i;

    one(w, "squidlike_workers", "gauge",
        "Worker processes serving (of the newest configuration).",
        (unsigned long long)sl_workers_live(srv->shared));
    one(w, "squidlike_worker_restarts_total", "counter",
        "Workers started again after they died.", sl_workers_restarts(srv->shared));
    family(w, "squidlike_worker_requests", "gauge",
           "Requests served by each live worker since it took its place (the "
           "balance between workers).");
    for (i = 0; i < n; i++)
        if (!r[i].draining)
            sl_bufw_printf(w, "squidlike_worker_requests{worker=\"%u\"} %llu\n",
                           r[i].index, r[i].requests);
}

/* reverse.compression: what was coded, and what went identity for want
 * of a stream. */
static void zip_rows(struct sl_bufw *w, struct sl_server *srv)
{
    const struct sl_stats *s = &sl_server_sums(srv)->stats;

    family(w, "squidlike_compress_responses_total", "counter",
           "Responses compressed (reverse.compression); hits of a stored "
           "compressed variant are not counted: they are sent as stored.");
    sl_bufw_printf(w, "squidlike_compress_responses_total{coding=\"gzip\"} %llu\n",
                   s->zip_responses[0]);
    sl_bufw_printf(w, "squidlike_compress_responses_total{coding=\"br\"} %llu\n",
                   s->zip_responses[1]);
    one(w, "squidlike_compress_bytes_in_total", "counter",
        "Body bytes given to the compressors.", s->zip_in);
    one(w, "squidlike_compress_bytes_out_total", "counter",
        "Compressed bytes they made.", s->zip_out);
    family(w, "squidlike_compress_skipped_total", "counter",
           "Responses sent uncompressed (and not stored) because "
           "reverse.compression.max_streams were running.");
    sl_bufw_printf(w, "squidlike_compress_skipped_total{reason=\"busy\"} %llu\n",
                   s->zip_busy);
    one(w, "squidlike_compress_streams", "gauge",
        "Responses being compressed now.", (unsigned long long)srv->zip_streams);
}

void sl_metrics_reverse(struct sl_bufw *w, const struct sl_backends *b, int64_t now_ms)
{
    const struct sl_conf_reverse *rc;
    struct sl_backend_info info;
    char labels[2 * (sizeof(rc->pools[0].name) + sizeof(rc->pools[0].backend[0].name)) + 32];
    char text[SL_METRICS_ROUTE_TEXT_MAX];
    size_t f, p, j;

    if (b == NULL)
        return;
    rc = sl_backends_rev(b);
    /* A family's samples together (the format wants them grouped): the
     * pools are walked once per family. */
    for (f = 0; f < BE_NFAM; f++) {
        family(w, be_fams[f].name, be_fams[f].type, be_fams[f].help);
        for (p = 0; p < rc->n_pools; p++)
            for (j = 0; j < rc->pools[p].n_backends; j++) {
                sl_backends_info(b, (int)p, (int)j, now_ms, &info);
                be_labels(labels, sizeof(labels), &rc->pools[p], j);
                /* the labels without their trailing comma */
                sl_bufw_printf(w, "%s{%.*s} %llu\n", be_fams[f].name,
                               (int)strlen(labels) - 1, labels,
                               be_value((enum be_fam)f, &info));
            }
    }
    family(w, "squidlike_backend_latency_seconds", "histogram",
           "Time from choosing the backend to its response head, for responses "
           "that were not failures (not 5xx).");
    for (p = 0; p < rc->n_pools; p++)
        for (j = 0; j < rc->pools[p].n_backends; j++) {
            sl_backends_info(b, (int)p, (int)j, now_ms, &info);
            be_labels(labels, sizeof(labels), &rc->pools[p], j);
            hist(w, "squidlike_backend_latency_seconds", labels, &info.latency);
        }
    family(w, "squidlike_route_requests_total", "counter",
           "Requests that took a route: route is its index in its vhost's routes, "
           "pattern its prefix or ~regex.");
    for (p = 0; p < rc->n_vhosts; p++)
        for (j = 0; j < rc->vhosts[p].n_routes; j++) {
            const struct sl_conf_rroute *r = &rc->vhosts[p].routes[j];

            sl_bufw_printf(w, "squidlike_route_requests_total{vhost=\"");
            label(w, rc->vhosts[p].name);
            sl_bufw_printf(w, "\",route=\"%zu\",pattern=\"", j);
            label(w, sl_metrics_route_text(rc, (int)p, (int)j, text, sizeof(text)));
            sl_bufw_printf(w, "\",pool=\"");
            label(w, rc->pools[r->pool].name);
            sl_bufw_printf(w, "\"} %llu\n", sl_backends_route_count(b, (int)p, (int)j));
        }
}

/* Parent proxies: a row per peer in each family (names are [A-Za-z0-9._-]:
 * no escaping). */
static void peer_rows(struct sl_bufw *w, const struct sl_peers *p, int64_t now_ms)
{
    static const struct {
        const char *name, *type, *help;
    } fams[] = {
        { "squidlike_peer_up", "gauge",
          "1 when the parent proxy may be chosen first (not ejected)." },
        { "squidlike_peer_requests_total", "counter",
          "Requests sent to the parent proxy (a failover counts on each it tried)." },
        { "squidlike_peer_failures_total", "counter",
          "Times the parent proxy could not be reached (lookup, connect, TLS)." },
        { "squidlike_peer_ejections_total", "counter",
          "Times the parent proxy was ejected after a failure." },
    };
    const struct sl_conf_peers *ps;
    struct sl_peer_info info;
    size_t f, i;

    if (p == NULL)
        return;
    ps = sl_peers_conf(p);
    for (f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
        family(w, fams[f].name, fams[f].type, fams[f].help);
        for (i = 0; i < ps->n; i++) {
            unsigned long long v;
            sl_peers_info(p, (int)i, now_ms, &info);
            v = f == 0 ? (unsigned long long)!info.ejected : f == 1 ? info.requests
              : f == 2 ? info.failures : info.ejections;
            sl_bufw_printf(w, "%s{peer=\"%s\"} %llu\n", fams[f].name,
                           ps->peer[i].name, v);
        }
    }
}

size_t sl_metrics_reverse_size(const struct sl_conf_reverse *rc)
{
    return sl_metrics_reverse_room(rc, REV_BE_LINES * REV_LINE_MAX, REV_BE_LINES * 2,
                                   REV_LINE_MAX, 2);
}

size_t sl_metrics_size(struct sl_server *srv)
{
    const struct sl_tls *t = srv->conf->reverse.tls.rt;
    const struct sl_api_view *apis = sl_status_apis_now(srv);

    /* a certificate's line: its file and names escaped (tls_rows) */
    return SL_METRICS_MAX + sl_metrics_reverse_size(&srv->conf->reverse) +
           (t ? 1024 + sl_tls_ncerts(t) * 2048 : 0) + 128 * 256 +
           1024 + srv->conf->peers.n * 4 * 160 +
           (apis != NULL ? sl_api_metrics_size(apis) : 0);
}

int sl_metrics_write(struct sl_buf *out, struct sl_server *srv)
{
    const struct sl_sum *sum = sl_server_sum_now(srv);
    const struct sl_metrics *m = &sum->metrics;
    const struct sl_stats *s = &sum->stats;
    struct sl_bufw w = { out, 0 };
    struct sl_dns_stats ds;
    struct cache_store_stats cs = { 0 };
    struct sl_status_gauges g;
    struct sl_loop_stats ls;
    const struct sl_api_view *apis;
    unsigned long long denied = 0;
    int64_t up = sl_loop_now(srv->loop) - m->start_ms;
    size_t mi;

    sl_dns_get_stats(srv->dns, &ds);
    sl_status_gauges(srv, &g);
    if (srv->store != NULL)
        cache_store_get_stats(srv->store, &cs);
    for (mi = 0; mi < SL_METRICS_NMETHODS; mi++)
        denied += m->requests[DENIED_ROW][0][mi] + m->requests[DENIED_ROW][1][mi];
    if (up < 0)
        up = 0;

    requests(&w, m);
    family(&w, "squidlike_client_bytes_total", "counter",
           "Bytes received from clients (request bodies, tunnels) and sent to them.");
    sl_bufw_printf(&w, "squidlike_client_bytes_total{direction=\"in\"} %llu\n", s->bytes_from_clients);
    sl_bufw_printf(&w, "squidlike_client_bytes_total{direction=\"out\"} %llu\n", s->bytes_to_clients);
    one(&w, "squidlike_origin_bytes_received_total", "counter",
        "Bytes received from origin servers (heads, bodies, tunnels).",
        s->bytes_from_origins);
    one(&w, "squidlike_cache_hits_total", "counter",
        "Requests answered from the cache (fresh or revalidated).", s->hits);
    one(&w, "squidlike_cache_misses_total", "counter",
        "Cacheable lookups not found in the cache.", s->misses);
    one(&w, "squidlike_cache_refreshes_total", "counter",
        "Stored responses revalidated with the origin.", s->refreshes);
    one(&w, "squidlike_cache_stores_total", "counter",
        "Objects committed to the cache (not those a failed commit dropped).",
        (unsigned long long)cs.stored);
    one(&w, "squidlike_denied_total", "counter",
        "Requests refused (logged TCP_DENIED, any reason).", denied);
    blocked(&w, m);
    one(&w, "squidlike_auth_failures_total", "counter",
        "Proxy-Authorization credentials rejected.", s->auth_failures);
    if (srv->conf->policy.negotiate != NULL || s->gss_checks > 0) {
        family(&w, "squidlike_auth_negotiate_total", "counter",
               "Negotiate (Kerberos) credentials: accepted, rejected, or refused "
               "with 503 because the checks were all busy or too slow.");
        sl_bufw_printf(&w, "squidlike_auth_negotiate_total{result=\"ok\"} %llu\n",
                       s->negotiate_ok);
        sl_bufw_printf(&w, "squidlike_auth_negotiate_total{result=\"failed\"} %llu\n",
                       s->negotiate_failed);
        sl_bufw_printf(&w, "squidlike_auth_negotiate_total{result=\"busy\"} %llu\n",
                       s->negotiate_busy);
        one(&w, "squidlike_auth_gss_checks_total", "counter",
            "GSS-API ticket checks run (one per connection that signs in: "
            "later requests on it keep its user).", s->gss_checks);
    }
    if (srv->workq != NULL) {
        struct sl_workq_stats ws;

        sl_workq_get_stats(srv->workq, &ws);
        one(&w, "squidlike_worker_threads", "gauge",
            "Threads for blocking calls (Kerberos checks).", ws.threads);
        family(&w, "squidlike_worker_jobs", "gauge",
               "Jobs on the worker threads now: waiting for one, or running.");
        sl_bufw_printf(&w, "squidlike_worker_jobs{state=\"queued\"} %zu\n", ws.queued);
        sl_bufw_printf(&w, "squidlike_worker_jobs{state=\"running\"} %zu\n", ws.running);
        one(&w, "squidlike_worker_rejected_total", "counter",
            "Jobs refused because the queue was full (answered 503).", ws.rejected);
    }
    one(&w, "squidlike_tunnels_total", "counter", "CONNECT tunnels opened.", s->tunnels);
    one(&w, "squidlike_tunnel_spliced_bytes_total", "counter",
        "Tunnel bytes moved by splice(2), both ways (limits.tunnel_splice).", s->spliced);
    one(&w, "squidlike_client_connections_accepted_total", "counter",
        "Client connections accepted.", s->accepted);
    accept_failures(&w, srv);
    one(&w, "squidlike_client_aborts_total", "counter",
        "Clients that left before their response was complete (a hang-up "
        "while waiting, or a failed write); logged ..._ABORTED.", s->client_aborts);
    one(&w, "squidlike_fetches_without_client", "gauge",
        "Origin fetches going on without a client: its client left but others "
        "read along or the object is worth storing, or a whole object for ranges.",
        (unsigned long long)srv->nheadless);
    one(&w, "squidlike_cache_late_joins_total", "counter",
        "Misses served by reading along a fetch already streaming in "
        "(collapsed forwarding).", s->late_joins);
    one(&w, "squidlike_collapsed_cross_worker_total", "counter",
        "Misses that waited on another worker's fetch of the object.", s->xcf_joins);
    one(&w, "squidlike_collapsed_cross_worker_served_total", "counter",
        "... of them served from the store that fetch filled.", s->xcf_served);
    one(&w, "squidlike_collapsed_cross_worker_forwarded_total", "counter",
        "... of them that went to the origin after all (not storable, the "
        "fetch failed, its worker died, too slow).", s->xcf_forwarded);
    one(&w, "squidlike_collapsed_table_full_total", "counter",
        "Misses and revalidations that found the workers' table of fetches "
        "in flight full (fetched without collapsing).", s->xcf_full);
    one(&w, "squidlike_revalidations_cross_worker_skipped_total", "counter",
        "Background revalidations not started: another worker runs one.",
        s->xcf_reval_skipped);
    one(&w, "squidlike_cache_range_fetches_total", "counter",
        "Whole objects fetched in the background for a range miss (range_fetch).",
        s->range_fetches);
    one(&w, "squidlike_errors_total", "counter",
        "Requests answered with an error page.", s->errors);
    one(&w, "squidlike_dns_lookups_total", "counter",
        "Host name lookups asked of the DNS cache.", ds.lookups);
    family(&w, "squidlike_dns_cache_hits_total", "counter",
           "Lookups answered by the DNS cache, with addresses or negatively.");
    sl_bufw_printf(&w, "squidlike_dns_cache_hits_total{answer=\"positive\"} %llu\n", ds.hits);
    sl_bufw_printf(&w, "squidlike_dns_cache_hits_total{answer=\"negative\"} %llu\n", ds.negative_hits);
    one(&w, "squidlike_dns_queries_total", "counter",
        "Queries sent to the name servers.", ds.queries);
    one(&w, "squidlike_dns_cache_entries", "gauge", "Names in the DNS cache.",
        (unsigned long long)ds.entries);
    one(&w, "squidlike_client_connections", "gauge", "Open client connections.",
        (unsigned long long)g.clients);
    one(&w, "squidlike_tunnels", "gauge", "CONNECT tunnels relaying now.",
        (unsigned long long)g.tunnels);
    family(&w, "squidlike_origin_connections", "gauge",
           "Connections to origins: serving a client, or idle in the keep-alive pool.");
    sl_bufw_printf(&w, "squidlike_origin_connections{state=\"busy\"} %zu\n", g.origins_busy);
    sl_bufw_printf(&w, "squidlike_origin_connections{state=\"idle\"} %zu\n", g.origins_idle);
    one(&w, "squidlike_cache_bytes", "gauge",
        "Accounted size of the stored objects (0 with the cache off).",
        (unsigned long long)cs.bytes);
    one(&w, "squidlike_cache_max_bytes", "gauge", "The cache size limit.",
        (unsigned long long)cs.max_size);
    one(&w, "squidlike_cache_objects", "gauge", "Objects in the cache.",
        (unsigned long long)cs.objects);
    one(&w, "squidlike_cache_evictions_total", "counter",
        "Objects evicted to make room.", (unsigned long long)cs.evicted);
    if (srv->store != NULL)
        store_writes(&w, &cs);
    sl_loop_get_stats(srv->loop, &ls);
    one(&w, "squidlike_busy_poll_waits_total", "counter",
        "Waits that polled before sleeping (limits.busy_poll_us).", ls.spins);
    one(&w, "squidlike_busy_poll_caught_total", "counter",
        "Of those, waits that found an event while polling.", ls.spins_caught);
    family(&w, "squidlike_busy_poll_seconds_total", "counter",
           "Time spent polling instead of sleeping.");
    sl_bufw_printf(&w, "squidlike_busy_poll_seconds_total %llu.%06llu\n",
        (unsigned long long)(ls.spin_us / 1000000),
        (unsigned long long)(ls.spin_us % 1000000));
    workers_rows(&w, srv);
    family(&w, "squidlike_uptime_seconds", "gauge", "Seconds since the daemon started.");
    sl_bufw_printf(&w, "squidlike_uptime_seconds %lld.%03lld\n",
        (long long)(up / 1000), (long long)(up % 1000));
    service_time(&w, m);
    family(&w, "squidlike_dns_query_seconds", "histogram",
           "Time from a query to the name servers to its answer or failure.");
    hist(&w, "squidlike_dns_query_seconds", "", &ds.time);
    sl_metrics_reverse(&w, srv->conf->reverse.rt, sl_loop_now(srv->loop));
    if ((apis = sl_status_apis(srv)) != NULL)
        sl_api_metrics(&w, apis);
    peer_rows(&w, srv->conf->peers.rt, sl_loop_now(srv->loop));
    if (srv->conf->reverse.tls.rt != NULL)
        tls_rows(&w, srv->conf->reverse.tls.rt);
    if (srv->ratelimit != NULL)
        limit_rows(&w, srv);
    if (srv->quota != NULL)
        quota_rows(&w, srv);
    if (srv->conf->reverse.zip.on)
        zip_rows(&w, srv);
    if (srv->conf->ldap.n_uris > 0)
        ldap_rows(&w, srv);
    return w.rc;
}
