/*
 * client_limit.c - reverse mode's rate limits: the step after access that
 * takes a token from each limit of the vhost and the route, and answers
 * 429 when one is out (acl/ratelimit.h has the buckets).
 *
 * A limit's key is built from the request: the client's address (behind
 * a trusted proxy, from X-Forwarded-For) with its
 * host bits cleared (ipv4_prefix, ipv6_prefix: an IPv6 client usually
 * owns a whole /64), the route, the Host, a field's value (absent: the
 * limit does not apply, as nginx's limit_req with an empty key), the
 * gateway's consumer (none, anonymous: the limit does not apply).
 *
 * Then the gateway's quotas (rev_quota): the consumer's counts per
 * window in a file every worker maps (quota_store.h, acl/quota.h).
 *
 * The buckets are one table for the whole machine, in memory the workers
 * share (struct rl_shm, made before they fork by rl_shm_prepare: the
 * master's sl_shared_prepare, at start and at each reload), so a client
 * gets its rate however its connections spread over the workers. The
 * table survives reloads that keep its size (rate_limit_table); another
 * size makes a new one for the new workers, and the draining ones keep
 * the mapping they were forked with. A process-shared robust lock
 * (shmlock.h) guards the table and the refusal counts around each
 * request's takes: a worker killed holding it costs at most one bucket
 * written half way (its hash and its time are two words, each whole: the
 * bucket comes out full, or as it was), and a count of entries one off.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "acl/quota.h"

#include "squidlike/chars.h"
#include "squidlike/client_int.h"
#include "squidlike/errpage.h"
#include "squidlike/quota_store.h"
#include "squidlike/shared.h"
#include "squidlike/shmlock.h"

#define KEY_MAX 400         /* header 202 + client 18 + route 24 + host 81 + consumer 65 */
#define MAX_COUNTS 128

/* Shared by the workers: no pointer inside (shared.h). */
struct rl_shm {
    pthread_mutex_t mu;         /* the counts, and each request's takes */
    size_t bytes;               /* of the mapping */
    size_t entries;             /* rate_limit_table it was made for */
    size_t ncounts;
    struct rl_count counts[MAX_COUNTS];
    _Alignas(64) unsigned char table[];  /* struct acl_rl (acl_rl_init) */
};

/* A worker's view: the table it was forked with (a reload may map a new
 * one in the master, that this worker never sees). */
struct rl_state {
    struct rl_shm *shm;
    int warned;                 /* the lock failed once: said so */
};

static struct acl_rl *rl_table(const struct rl_shm *m)
{
    return (struct acl_rl *)(void *)m->table;
}

int rl_shm_prepare(struct rl_shm **cur, const struct sl_conf *conf,
                   char *err, size_t errlen)
{
    struct rl_shm *old = *cur, *m;
    size_t entries = conf->reverse.limit_table, tbytes = acl_rl_size(entries);
    size_t bytes = sizeof(*m) + tbytes;
    uint64_t seed;
    int rc;

    if (conf->reverse.n_limits == 0)
        return 0;               /* kept as it is: a later reload may want it */
    if (old != NULL && old->entries == entries)
        return 0;               /* the buckets go on */
    if ((m = sl_shm_map(bytes)) == NULL) {
        snprintf(err, errlen, "reverse.rate_limit_table: cannot map %zu bytes of "
                 "shared memory", bytes);
        return -1;
    }
    if ((rc = sl_shmlock_init(&m->mu)) < 0) {
        sl_shm_unmap(m, bytes);
        snprintf(err, errlen, "reverse.rate_limit_table: lock: %s", strerror(-rc));
        return -1;
    }
    /* One seed for every worker (the hash places a key the same way in
     * each); secret from clients (ratelimit.h). */
    if (RAND_bytes((unsigned char *)&seed, sizeof(seed)) != 1)
        seed = (uint64_t)sl_mono_us() * 0x9e3779b97f4a7c15ULL;
    acl_rl_init(m->table, tbytes, entries, seed);
    m->bytes = bytes;
    m->entries = entries;
    if (old != NULL) {
        /* The counters go on (they are Prometheus counters); refusals the
         * old generation counts while it drains are not seen. */
        m->ncounts = old->ncounts;
        memcpy(m->counts, old->counts, sizeof(m->counts));
        SL_LOG(SL_LOG_INFO, 0, 0, "rate limits: a table of %zu buckets, the old "
               "one's counts forgotten", entries);
        /* Unmapped here only: the workers forked with it keep theirs. */
        sl_shm_unmap(old, old->bytes);
    }
    *cur = m;
    return 0;
}

void rl_shm_free(struct rl_shm *m)
{
    if (m != NULL)
        sl_shm_unmap(m, m->bytes);
}

int rl_state_apply(struct rl_state **sp, const struct sl_conf *conf, struct sl_shared *sh)
{
    struct rl_state *s = *sp;
    char err[200];

    if (conf->reverse.n_limits == 0)
        return 0;               /* kept as it is: a later reload may want it */
    if (s == NULL) {
        if ((s = calloc(1, sizeof(*s))) == NULL)
            return -ENOMEM;
        *sp = s;
    }
    /* A single process reloads in place: it is the one that prepares the
     * shared state for its new configuration (a no-op when the size is
     * the same). A worker takes what the master prepared before forking
     * it, and never reloads in place. */
    if (sh->nworkers <= 1 && rl_shm_prepare(&sh->ratelimit, conf, err, sizeof(err)) < 0) {
        SL_LOG(SL_LOG_ERROR, 0, 0, "%s", err);
        return -ENOMEM;
    }
    if (sh->ratelimit == NULL)
        return -ENOMEM;         /* the master could not make it */
    s->shm = sh->ratelimit;
    return 0;
}

void rl_state_free(struct rl_state *s)
{
    free(s);                    /* the table is the shared memory's */
}

size_t rl_state_counts(const struct rl_state *s, const struct rl_count **out)
{
    if (s == NULL || s->shm == NULL) {
        *out = NULL;
        return 0;
    }
    *out = s->shm->counts;
    /* read without the lock: a name is whole before ncounts shows it */
    return __atomic_load_n(&s->shm->ncounts, __ATOMIC_ACQUIRE);
}

void rl_state_table(const struct rl_state *s, size_t *used, size_t *cap,
                    unsigned long long *evicted)
{
    struct acl_rl_stats st = { 0, 0, 0 };

    if (s != NULL && s->shm != NULL)
        acl_rl_get_stats(rl_table(s->shm), &st);
    *used = st.entries;
    *cap = st.capacity;
    *evicted = st.evicted;
}

/* Under the lock. */
static void count_refusal(struct rl_shm *m, const char *name)
{
    size_t i;

    for (i = 0; i < m->ncounts; i++)
        if (strcmp(m->counts[i].name, name) == 0)
            break;
    if (i == m->ncounts) {
        if (m->ncounts == MAX_COUNTS)
            return;             /* 128 names seen since start: enough */
        snprintf(m->counts[i].name, sizeof(m->counts[i].name), "%s", name);
        __atomic_store_n(&m->ncounts, m->ncounts + 1, __ATOMIC_RELEASE);
    }
    m->counts[i].limited++;
}

/* An address as written in X-Forwarded-For ("192.0.2.1", "2001:db8::1",
 * "[2001:db8::1]"), into *a. 0, or -1 when it is none. */
static int xff_addr(struct sl_view v, union sl_sockaddr *a)
{
    char buf[64];

    if (v.len >= 2 && v.base[0] == '[' && v.base[v.len - 1] == ']') {
        v.base++;
        v.len -= 2;
    }
    if (v.len == 0 || v.len >= sizeof(buf))
        return -1;
    memcpy(buf, v.base, v.len);
    buf[v.len] = '\0';
    memset(a, 0, sizeof(*a));
    if (inet_pton(AF_INET, buf, &a->in.sin_addr) == 1) {
        a->in.sin_family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, &a->in6.sin6_addr) == 1) {
        a->in6.sin6_family = AF_INET6;
        return 0;
    }
    return -1;
}

/*
 * The client's address for its buckets: the connection's; behind one of
 * reverse.trusted_proxies (a load balancer), the last X-Forwarded-For
 * entry that is not a trusted proxy, read from the right (nginx's
 * real_ip_recursive). A client cannot take a fresh bucket per request by
 * writing X-Forwarded-For itself: only what trusted proxies appended is
 * read, and an entry that is not an address stops the walk at the last
 * trusted hop.
 */
static void client_addr(const struct sl_client *c, const struct sl_http_msg *m,
                        union sl_sockaddr *out)
{
    const struct sl_conf_reverse *rc = &c->conf->reverse;
    union sl_sockaddr a;
    size_t i;

    *out = c->peer;
    if (rc->n_trusted_proxies == 0 ||
        !acl_nets_match(rc->trusted_proxies, rc->n_trusted_proxies, &c->peer.sa))
        return;
    for (i = m->nhdrs; i-- > 0;) {
        const char *b = m->hdrs[i].value.base, *e = b + m->hdrs[i].value.len, *p;

        if (!sl_view_ieq(m->hdrs[i].name, "X-Forwarded-For"))
            continue;
        while (e > b) {
            struct sl_view el;

            for (p = e; p > b && p[-1] != ','; p--)
                ;
            el = sl_view_trim(sl_view_from(p, e));
            e = p > b ? p - 1 : b;
            if (el.len == 0)
                continue;
            if (xff_addr(el, &a) < 0)
                return;
            *out = a;
            if (!acl_nets_match(rc->trusted_proxies, rc->n_trusted_proxies, &a.sa))
                return;         /* the client */
        }
    }
}

/* The address with the bits past the prefix cleared. */
static size_t masked_addr(const union sl_sockaddr *sa, const struct sl_conf_rlimit *l,
                          unsigned char *out)
{
    const unsigned char *a;
    unsigned bits, i;
    size_t n;

    if (sa->sa.sa_family == AF_INET6) {
        a = sa->in6.sin6_addr.s6_addr;
        /* an IPv4 client on a dual-stack socket is an IPv4 client */
        if (memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
            a += 12;
            n = 4;
            bits = l->v4_prefix;
        } else {
            n = 16;
            bits = l->v6_prefix;
        }
    } else {
        a = (const unsigned char *)&sa->in.sin_addr;
        n = 4;
        bits = l->v4_prefix;
    }
    out[0] = (unsigned char)n;
    for (i = 0; i < n; i++) {
        unsigned keep = bits >= 8 * (i + 1) ? 8 : bits > 8 * i ? bits - 8 * i : 0;
        out[1 + i] = (unsigned char)(a[i] & (0xff00u >> keep));
    }
    return n + 1;
}

/* The key of limit l for this request into buf; 0 when it does not apply. */
static size_t limit_key(const struct sl_client *c, const struct sl_http_msg *m,
                        const struct sl_conf_rlimit *l, unsigned char *buf)
{
    const struct cl_txn *t = &c->txn;
    size_t n = 0, k, i;

    if (l->key & SL_RL_KEY_CONSUMER) {
        if (t->rev.consumer == NULL)
            return 0;           /* anonymous: not this limit's business */
        k = strnlen(t->rev.consumer->name, sizeof(t->rev.consumer->name) - 1);
        buf[n++] = 'u';
        memcpy(buf + n, t->rev.consumer->name, k);
        n += k;
        buf[n++] = 0;
    }
    if (l->key & SL_RL_KEY_HEADER) {
        const struct sl_http_hdr *hd = sl_http_find(m, l->header);

        if (hd == NULL || hd->value.len == 0)
            return 0;
        k = hd->value.len < 200 ? hd->value.len : 200;
        buf[n++] = 'h';
        memcpy(buf + n, hd->value.base, k);
        n += k;
        buf[n++] = 0;
    }
    if (l->key & SL_RL_KEY_CLIENT) {
        union sl_sockaddr sa;

        client_addr(c, m, &sa);
        buf[n++] = 'c';
        n += masked_addr(&sa, l, buf + n);
    }
    if (l->key & SL_RL_KEY_ROUTE)
        n += (size_t)snprintf((char *)buf + n, 24, "r%d.%d", t->rev.vhost, t->rev.route);
    if (l->key & SL_RL_KEY_HOST) {
        /* The name as the router took it (rev_target: lowercase, no port,
         * no trailing dot), not as sent: "a.example:1" .. ":65535" and
         * "a.example." reach the same site and must not each get a
         * bucket of their own. */
        k = strlen(t->url_parts.host);
        if (k > 80)
            k = 80;
        buf[n++] = 'H';
        for (i = 0; i < k; i++)
            buf[n++] = (unsigned char)t->url_parts.host[i];
    }
    return n;
}

/* 429 with body, and when to come back (RFC 6585 4, RFC 9110 10.2.3). */
static enum cl_verdict refuse(struct sl_client *c, const char *body, int blen,
                              long long secs)
{
    struct cl_txn *t = &c->txn;
    int rc;

    if (secs < 1)
        secs = 1;
    t->keep = t->keep && t->req.kind == SL_HTTP_BODY_NONE;
    t->status = 429;
    t->code = CL_CODE_TCP_DENIED;
    t->rev.limited = 1;         /* the analytics' "limited" */
    snprintf(t->ctype, sizeof(t->ctype), "text/plain");
    if (cl_lend_out(c) < 0 || sl_buf_reserve(&c->out, 1024, 2048) < 0)
        return cl_refuse(t, CL_CODE_UNSET, SL_ERR_NO_MEMORY, 0, NULL);
    sl_buf_reset(&c->out);
    rc = sl_page_head(&c->out, 429, "text/plain; charset=utf-8", (size_t)blen, "no-store",
                      t->keep, t->minor, NULL);
    if (rc == 0)
        rc = sl_buf_printf(&c->out, "Retry-After: %lld\r\n", secs);
    if (rc == 0)
        rc = rev_limit_fields(c, &c->out);
    if (rc == 0)
        rc = sl_buf_append(&c->out, "\r\n", 2);
    if (rc == 0 && !t->is_head)
        rc = sl_buf_append(&c->out, body, (size_t)blen);
    if (rc < 0)
        return cl_refuse(t, CL_CODE_UNSET, SL_ERR_NO_MEMORY, 0, NULL);
    c->state = CL_REPLY;
    c->t_state = sl_loop_now(c->srv->loop);
    return CL_DONE;
}

static enum cl_verdict refuse_limit(struct sl_client *c, const struct sl_conf_rlimit *l,
                                    int64_t retry_ms)
{
    char body[160];
    long long secs = (retry_ms + 999) / 1000;
    int blen;

    if (secs < 1)
        secs = 1;
    blen = snprintf(body, sizeof(body), "Too many requests (limit %s): retry in %lld s.\n",
                    l->name, secs);
    return refuse(c, body, blen, secs);
}

/* Judge one limit (commit: take its token), under the table's lock: 1
 * it lets the request through, 0 it is out (retry in *retry_ms). */
static int take(struct sl_client *c, const struct sl_http_msg *m, int li, int commit,
                int64_t *retry_ms)
{
    const struct sl_conf_rlimit *l = &c->conf->reverse.limits[li];
    struct rl_state *s = c->srv->ratelimit;
    struct cl_rev *r = &c->txn.rev;
    unsigned char key[KEY_MAX];
    struct acl_rl_verdict v;
    size_t n = limit_key(c, m, l, key);

    if (n == 0)
        return 1;
    /* Monotonic time is the machine's: the same clock in every worker. */
    acl_rl_take(rl_table(s->shm), &l->policy, key, n, sl_loop_now(c->srv->loop), commit,
                &v);
    if (!commit && v.allowed)
        return 1;
    /* The fields speak of the tightest limit. */
    if (r->rl_idx == 0 || !v.allowed || v.remaining < r->rl_remaining) {
        r->rl_idx = li + 1;
        r->rl_remaining = v.remaining;
        r->rl_reset_ms = v.allowed ? v.full_in_ms : v.retry_after_ms;
    }
    *retry_ms = v.retry_after_ms;
    return v.allowed;
}

/* The limits of this request: the vhost's, the route's, then the
 * consumer's own that neither names (a limit named twice would take two
 * tokens of one bucket). Returns how many went into out. */
static size_t limits_of(const struct sl_conf_rvhost *vh, const struct sl_conf_rroute *route,
                        const struct sl_conf_consumer *cs, int *out)
{
    size_t n = 0, i, j;

    for (i = 0; i < vh->n_limits; i++)
        out[n++] = vh->limits[i];
    for (i = 0; i < route->n_limits; i++)
        out[n++] = route->limits[i];
    for (i = 0; cs != NULL && i < cs->n_limits; i++) {
        for (j = 0; j < n; j++)
            if (out[j] == cs->limits[i])
                break;
        if (j == n)
            out[n++] = cs->limits[i];
    }
    return n;
}

/* Every limit of li (commit: take), until one is out: its index + 1
 * (retry in *retry_ms), or 0. */
static int take_all(struct sl_client *c, const struct sl_http_msg *m, const int *li,
                    size_t n, int commit, int64_t *retry_ms)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!take(c, m, li[i], commit, retry_ms))
            return li[i] + 1;
    return 0;
}

/* The rate limits: CL_NEXT, or a 429 on its way. */
static enum cl_verdict rev_rate(struct sl_client *c, const struct sl_http_msg *m)
{
    const struct sl_conf_reverse *rc = &c->conf->reverse;
    struct rl_state *s = c->srv->ratelimit;
    struct cl_rev *r = &c->txn.rev;
    const struct sl_conf_rvhost *vh = &rc->vhosts[r->vhost];
    int li[3 * SL_CONF_LIMITS_PER];
    const struct sl_conf_rlimit *l;
    int64_t retry_ms = 0;
    int out = 0, rc_lock;
    size_t n;

    if (s == NULL || s->shm == NULL)
        return CL_NEXT;
    n = limits_of(vh, &vh->routes[r->route], r->consumer, li);
    if (n == 0)
        return CL_NEXT;
    if ((rc_lock = sl_shmlock_lock(&s->shm->mu)) < 0) {
        /* Never with a robust lock that every taker marks consistent; if
         * it were, the site stays up without its limits. */
        if (!s->warned)
            SL_LOG(SL_LOG_ERROR, 0, -rc_lock, "rate limits: the shared table's lock "
                   "cannot be taken: requests pass unlimited");
        s->warned = 1;
        return CL_NEXT;
    }
    if (rc_lock == 1)
        SL_LOG(SL_LOG_WARN, 0, 0, "rate limits: a worker died holding the table's "
               "lock: recovered");
    /* All or nothing (nginx's limit_req): a request one limit refuses
     * takes no token from the others. So judge them all first, then take
     * from each - under one hold of the lock, so that no other worker's
     * request comes between. */
    if (n > 1)
        out = take_all(c, m, li, n, 0, &retry_ms);
    if (out == 0)
        out = take_all(c, m, li, n, 1, &retry_ms);
    if (out != 0)
        count_refusal(s->shm, rc->limits[out - 1].name);
    sl_shmlock_unlock(&s->shm->mu);
    if (out == 0)
        return CL_NEXT;
    l = &rc->limits[out - 1];
    SL_LOG(SL_LOG_DEBUG, c->id, 0, "rate limit %s: %s refused, retry in %lld ms",
           l->name, c->peer_str, (long long)retry_ms);
    return refuse_limit(c, l, retry_ms);
}

/* "day", "month", or a fixed window in its largest whole unit ("10s",
 * "5m", "2h", "7d"). */
static void period_str(const struct sl_conf_quota *q, char *out, size_t len)
{
    static const struct { int64_t s; char u; } units[] = {
        { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' } };
    size_t i;

    if (q->policy.period == ACL_QUOTA_DAY) {
        snprintf(out, len, "day");
        return;
    }
    if (q->policy.period == ACL_QUOTA_MONTH) {
        snprintf(out, len, "month");
        return;
    }
    for (i = 0; i < sizeof(units) / sizeof(units[0]) - 1; i++)
        if (q->policy.period_s % units[i].s == 0)
            break;
    snprintf(out, len, "%lld%c", (long long)(q->policy.period_s / units[i].s), units[i].u);
}

/* For log lines that could come with every request: the 1st, 2nd, 4th... */
static int pow2(unsigned long long n)
{
    return (n & (n - 1)) == 0;
}

/*
 * The consumer's quotas, after its rate limits: CL_NEXT, or a 429 on its
 * way. A request counts in each of them only when all let it through,
 * judged and counted under one hold of the file's lock (the same shape
 * as the rate limits).
 */
static enum cl_verdict rev_quota(struct sl_client *c)
{
    static unsigned long long nfull, nlockfail;     /* for the log: this process */
    const struct sl_conf_consumer *cs = c->txn.rev.consumer;
    const struct sl_conf_gateway *gw = &c->conf->reverse.gw;
    struct sl_qstore *q = c->srv->quota;
    struct acl_quota_verdict v = { 0 };
    const struct sl_conf_quota *qc = NULL;
    int64_t now;
    size_t i, nlen;
    int rc_lock, commit, uncounted = 0;
    char body[300], per[32];
    int blen;

    if (cs == NULL || cs->n_quotas == 0 || q == NULL)
        return CL_NEXT;
    /* Wall time: windows are calendar days and months in UTC, and the
     * counts outlive this boot. */
    now = (int64_t)time(NULL);
    nlen = strnlen(cs->name, sizeof(cs->name));
    if ((rc_lock = sl_qstore_lock(q)) < 0) {
        /* Never with a robust lock that every taker marks consistent. */
        if (pow2(++nlockfail))
            SL_LOG(SL_LOG_ERROR, c->id, -rc_lock, "quotas: the file's lock cannot be "
                   "taken: requests pass uncounted (%llu so far)", nlockfail);
        return CL_NEXT;
    }
    if (rc_lock == 1)
        SL_LOG(SL_LOG_WARN, 0, 0, "quotas: a worker died holding the file's lock: "
               "recovered");
    for (commit = cs->n_quotas > 1 ? 0 : 1; commit <= 1 && qc == NULL; commit++) {
        for (i = 0; i < cs->n_quotas; i++) {
            acl_quota_take(sl_qstore_table(q), &gw->quotas[cs->quotas[i]].policy,
                           cs->name, nlen, now, commit, &v);
            uncounted |= v.uncounted;
            if (!v.allowed) {
                qc = &gw->quotas[cs->quotas[i]];
                break;
            }
        }
    }
    if (qc != NULL)
        sl_qstore_refused(q, qc->name);
    sl_qstore_unlock(q);
    if (uncounted && pow2(++nfull))     /* the 1st, 2nd, 4th, ... */
        SL_LOG(SL_LOG_WARN, c->id, 0, "quotas: no room for %s's counter in %s: passed "
               "uncounted (%llu so far in this process: reverse.gateway.quota_table is "
               "too small)", cs->name, sl_qstore_path(q), nfull);
    if (qc == NULL) {
        sl_qstore_sync(q, sl_loop_now(c->srv->loop));
        return CL_NEXT;
    }
    period_str(qc, per, sizeof(per));
    blen = snprintf(body, sizeof(body), "429 Too Many Requests: quota %s of %s used "
                    "(%llu per %s)\n", qc->name, cs->name,
                    (unsigned long long)qc->policy.requests, per);
    SL_LOG(SL_LOG_DEBUG, c->id, 0, "quota %s: %s refused until %lld", qc->name, cs->name,
           (long long)v.window_end);
    return refuse(c, body, blen, (long long)(v.window_end - now));
}

enum cl_verdict rev_limit(struct sl_client *c, const struct sl_http_msg *m)
{
    struct cl_rev *r = &c->txn.rev;
    enum cl_verdict v;

    if (!r->routed || r->rl_done || c->internal)
        return CL_NEXT;
    r->rl_done = 1;             /* once per request, whatever decides it again */
    /* A request counts in the quotas when it passed the rate limits. */
    if ((v = rev_rate(c, m)) != CL_NEXT)
        return v;
    return rev_quota(c);
}

int rev_limit_fields(const struct sl_client *c, struct sl_buf *out)
{
    const struct cl_rev *r = &c->txn.rev;
    const struct sl_conf_rlimit *l;

    if (!c->reverse || r->rl_idx == 0 || !c->conf->reverse.rate_limit_headers)
        return 0;
    l = &c->conf->reverse.limits[r->rl_idx - 1];
    /* draft-ietf-httpapi-ratelimit-headers: the policy (quota per window
     * of seconds: rate per 'per') and where this client stands (requests
     * left now, burst included; seconds until its bucket is whole). */
    return sl_buf_printf(out, "RateLimit-Policy: \"%s\";q=%llu;w=%lld\r\n"
                         "RateLimit: \"%s\";r=%llu;t=%lld\r\n", l->name,
                         (unsigned long long)l->policy.rate,
                         (long long)(l->policy.period_ms / 1000),
                         l->name, (unsigned long long)r->rl_remaining,
                         (long long)(r->rl_reset_ms + 999) / 1000) < 0 ? -ENOSPC : 0;
}
