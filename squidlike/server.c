/*
 * server.c - the running daemon (see server.h): listeners and accepting,
 * reload, graceful drain, stop.
 */
#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "squidlike/apistats.h"
#include "squidlike/client_bgfetch.h"
#include "squidlike/client.h"
#include "squidlike/ipcount.h"
#include "squidlike/client_collapse.h"
#include "squidlike/log.h"
#include "squidlike/net.h"
#include "squidlike/backend.h"
#include "squidlike/health.h"
#include "squidlike/ldapq.h"
#include "squidlike/peer.h"
#include "squidlike/quota_store.h"
#include "squidlike/server.h"
#include "squidlike/tls.h"
#include "squidlike/workq.h"

#define ACCEPT_BATCH 64
#define ACCEPT_RETRY_MS 100
#define ACCEPT_LOG_MS 60000     /* one line about failing accepts at most */
#define MEM_CHECK_MS 10000      /* how often a spike's end is looked for */
#define MEM_TRIM_DROP 256       /* connections gone since the peak, at least */

/*
 * This host's addresses: to_localhost and the manager pages tell the host
 * from the network by them, so not knowing them is not a smaller list but
 * a hole (a client could reach the host's services by its LAN address).
 * At start it is fatal; at a reload the list we had stays.
 */
static int srv_refresh_self(struct sl_server *srv)
{
    struct sockaddr_storage self[SL_SERVER_MAX_SELF];
    int n = sl_net_self_addrs(self, SL_SERVER_MAX_SELF);

    if (n < 0)
        return n;
    memcpy(srv->self, self, (size_t)n * sizeof(self[0]));
    srv->nself = (size_t)n;
    return 0;
}

/* Connections the manager listeners may take beyond max_connections: the
 * status page and the scrape matter most when the proxy is full. */
#define MGR_SPARE 16

/* Resume every listener, or pause the proxy listeners (and with mgr_too
 * the manager ones). */
static void srv_set_accept(struct sl_server *srv, int on, int mgr_too)
{
    size_t i;

    for (i = 0; i < srv->nlisteners; i++) {
        struct sl_listener *l = &srv->listeners[i];

        if (l->io.fd < 0 || !(on || mgr_too || !l->manager))
            continue;
        if (l->exclusive)
            sl_loop_set_exclusive(srv->loop, &l->io, on);
        else
            sl_loop_set_lt(srv->loop, &l->io, on ? SL_IO_READ : 0, 1);
    }
    srv->accept_paused = !on;
}

static void srv_on_accept(struct sl_io *io, unsigned ev);
static int srv_workq(struct sl_server *srv, const struct sl_conf *conf,
                     char *err, size_t errlen);

static void srv_on_accept_timer(struct sl_timer *t)
{
    struct sl_server *srv = t->data;
    size_t i;

    if (srv->draining || srv->nclients >= srv->conf->limits.max_connections)
        return;
    srv_set_accept(srv, 1, 1);
    /* Try a listener that failed now rather than when it is readable:
     * if its backlog emptied meanwhile (clients gave up), only an accept
     * that finds nothing tells us the failures are over. */
    for (i = 0; i < srv->nlisteners && !srv->accept_paused; i++)
        if (srv->listeners[i].failing && srv->listeners[i].io.fd >= 0)
            srv_on_accept(&srv->listeners[i].io, SL_IO_READ);
}

const char *const sl_accept_why_name[SL_ACCEPT_NWHY] = {
    "process_fd_limit", "system_fd_limit", "memory", "other"
};

static enum sl_accept_why accept_why(int err)
{
    switch (err) {
    case EMFILE: return SL_ACCEPT_PROC_FDS;
    case ENFILE: return SL_ACCEPT_SYS_FDS;
    case ENOBUFS: case ENOMEM: return SL_ACCEPT_MEMORY;
    }
    return SL_ACCEPT_OTHER;
}

/*
 * accept() failed with err on l. Out of descriptors it fails again at
 * every retry (ten times a second) for as long as the clients hold them:
 * count every failure, say so at once, then once a minute at most with
 * the count since the line before.
 */
static void srv_accept_failed(struct sl_server *srv, struct sl_listener *l, int err)
{
    struct sl_accept_fails *a = &srv->accept_fails;
    int64_t now = sl_loop_now(srv->loop);
    char hint[96] = "", carried[64] = "";

    l->failing = 1;
    a->why = accept_why(err);
    a->err = err;
    a->n[a->why]++;
    a->unlogged++;
    if (!a->failing) {
        a->failing = 1;
        a->since_ms = now;
        a->run = 0;
        a->announced = 0;
    }
    a->run++;
    if (a->logged_ms != 0 && now - a->logged_ms < ACCEPT_LOG_MS)
        return;
    if (a->announced) {
        SL_LOG(SL_LOG_WARN, 0, 0, "accept on %s still failing after %lld s: %s; "
               "%llu failures since the last line", l->text,
               (long long)((now - a->since_ms) / 1000), strerror(err), a->unlogged);
    } else {
        struct rlimit rl;

        if (a->why == SL_ACCEPT_PROC_FDS && getrlimit(RLIMIT_NOFILE, &rl) == 0)
            snprintf(hint, sizeof(hint), " (RLIMIT_NOFILE %llu, %zu client connections)",
                     (unsigned long long)rl.rlim_cur, srv->nclients);
        else if (a->why == SL_ACCEPT_SYS_FDS)
            snprintf(hint, sizeof(hint), " (the system's limit: fs.file-max)");
        if (a->unlogged > 1)    /* runs too close to the last line to log */
            snprintf(carried, sizeof(carried), " (%llu failures since the last line)",
                     a->unlogged);
        SL_LOG(SL_LOG_WARN, 0, 0, "accept on %s: %s%s; new connections wait in the "
               "backlog, retried every %d ms, logged once a minute while it lasts%s",
               l->text, strerror(err), hint, ACCEPT_RETRY_MS, carried);
        a->announced = 1;
    }
    a->logged_ms = now;
    a->unlogged = 0;
}

/* Accept on l caught up with its backlog (or stopped at max_connections,
 * which is not a failure): when no listener fails any more, the run of
 * failures is over. Its end is logged when its start was (a run that
 * began within a minute of the last line passes unlogged: its failures
 * go in the next line's count). */
static void srv_accept_recovered(struct sl_server *srv, struct sl_listener *l)
{
    struct sl_accept_fails *a = &srv->accept_fails;
    int64_t now = sl_loop_now(srv->loop);
    size_t i;

    l->failing = 0;
    if (!a->failing)
        return;
    for (i = 0; i < srv->nlisteners; i++)
        if (srv->listeners[i].failing)
            return;
    a->failing = 0;
    if (!a->announced)
        return;
    SL_LOG(SL_LOG_WARN, 0, 0, "accepting again after %.1f s of failures: %llu in all, "
           "%llu since the last line", (double)(now - a->since_ms) / 1000.0, a->run,
           a->unlogged);
    a->logged_ms = now;
    a->unlogged = 0;
}

/* max_connections reached. At saturation that is at every close (one
 * goes, one more is accepted, the limit is there again): one line a
 * minute at most, with how often since the line before. */
static void srv_full(struct sl_server *srv, const struct sl_listener *l)
{
    int64_t now = sl_loop_now(srv->loop);
    char times[64] = "";

    srv->full_unlogged++;
    if (srv->full_logged_ms != 0 && now - srv->full_logged_ms < ACCEPT_LOG_MS)
        return;
    if (srv->full_unlogged > 1)
        snprintf(times, sizeof(times), " (reached %llu times since the last line)",
                 srv->full_unlogged);
    SL_LOG(SL_LOG_WARN, 0, 0, "max_connections (%zu%s) reached, pausing accept%s",
           srv->conf->limits.max_connections,
           l->manager ? " and the manager's spare" : "", times);
    srv->full_logged_ms = now;
    srv->full_unlogged = 0;
}

static void srv_on_accept(struct sl_io *io, unsigned ev)
{
    struct sl_listener *l = io->data;
    struct sl_server *srv = l->srv;
    struct sockaddr_storage ss;
    socklen_t len;
    int i, fd;

    (void)ev;
    for (i = 0; i < ACCEPT_BATCH; i++) {
        if (srv->nclients >= srv->conf->limits.max_connections +
                            (l->manager ? MGR_SPARE : 0)) {
            srv_full(srv, l);
            srv_accept_recovered(srv, l);   /* descriptors are not what stops us */
            srv_set_accept(srv, 0, l->manager);
            return;
        }
        len = sizeof(ss);
        fd = accept4(io->fd, (struct sockaddr *)&ss, &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                srv_accept_recovered(srv, l);
                return;
            }
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            /* Out of descriptors or memory: stop accepting for a moment
             * instead of spinning on a listener that stays readable. */
            srv_accept_failed(srv, l, errno);
            srv_set_accept(srv, 0, 1);
            sl_timer_set(srv->loop, &srv->accept_timer, ACCEPT_RETRY_MS);
            return;
        }
        sl_client_accept(srv, fd, (struct sockaddr *)&ss, len, (int)l->kind);
        if (srv->nclients > srv->clients_peak)
            srv->clients_peak = srv->nclients;
    }
}

/*
 * After a spike of connections, give the memory they used back to the
 * system. free() alone keeps it: glibc returns only the top of the heap,
 * and one block still in use above the freed ones (a connection that
 * stayed, a timer array that grew) pins them all. malloc_trim() also
 * hands back the whole free pages inside the heap. It walks the free
 * lists, so it runs here, once the count of connections has fallen to
 * half its peak, and not on every close.
 */
static void srv_on_mem_timer(struct sl_timer *t)
{
    struct sl_server *srv = t->data;
    size_t peak = srv->clients_peak, now = srv->nclients;

    if (peak >= now + MEM_TRIM_DROP && now <= peak / 2) {
        struct timespec t0, t1;
        size_t pooled;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        pooled = sl_bufpool_trim(&srv->bufpool, 0);
        malloc_trim(0);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        SL_LOG(SL_LOG_INFO, 0, 0, "%zu client connections, %zu at the peak: free memory "
               "returned to the system (%zu KiB of spare buffers; %.1f ms)", now, peak,
               pooled / 1024, (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
               (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
        srv->clients_peak = now;
    }
    sl_timer_set(srv->loop, t, MEM_CHECK_MS);
}

static void srv_warn(const char *msg);

/* The wakeup is the point: the idle hook after it flushes, and the flush
 * of a paused store probes when its delay is over (an idle proxy would
 * otherwise probe only when traffic or the status sampler wakes it). */
static void srv_on_store_timer(struct sl_timer *t)
{
    (void)t;
}

/*
 * One line when the store pauses - a commit failed: the real error and the
 * directory - and one when it resumes, not one per failed commit (while
 * paused it probes every few seconds; metrics count the failures).
 */
static void srv_store_watch(struct sl_server *srv)
{
    struct cache_store_stats cs, *m = &srv->store_mark;
    int why, err = cache_store_paused(srv->store, &why);

    if (err == srv->store_paused)
        return;
    cache_store_get_stats(srv->store, &cs);
    if (err != 0 && srv->store_paused == 0) {
        srv->store_paused_ms = sl_loop_now(srv->loop);
        *m = cs;
        SL_LOG(SL_LOG_ERROR, 0, err, "cache: cannot write to %s%s: storing paused "
               "(new objects are not stored; hits and pass-through go on), "
               "probing again in %lld s", cache_store_dir(srv->store),
               why == CACHE_FAIL_MAP_FULL ? " (its LMDB map is full)" : "",
               (long long)(cs.retry_ms + 999) / 1000);
    } else if (err == 0) {
        SL_LOG(SL_LOG_WARN, 0, 0, "cache: storing resumed in %s after %lld s paused "
               "(%llu more commits failed, %llu responses not stored)",
               cache_store_dir(srv->store),
               (long long)(sl_loop_now(srv->loop) - srv->store_paused_ms + 500) / 1000,
               (unsigned long long)(cs.write_errors - m->write_errors),
               (unsigned long long)(cs.skipped - m->skipped));
    }
    srv->store_paused = err;
}

struct sl_server *sl_server_new(struct sl_loop *loop, struct sl_conf *conf,
                                struct sl_shared *sh, int slot,
                                char *err, size_t errlen)
{
    struct sl_server *srv = calloc(1, sizeof(*srv));
    int rc;

    if (srv == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    srv->loop = loop;
    srv->shared = sh;
    srv->slot = &sh->slots[slot];
    srv->stats = &srv->slot->stats;
    srv->metrics = &srv->slot->metrics;
    srv->api = &sh->api[slot];
    if ((rc = srv_refresh_self(srv)) < 0) {
        snprintf(err, errlen, "cannot list this host's addresses (to_localhost and the "
                 "manager pages need them): %s", strerror(-rc));
        free(srv);
        return NULL;
    }
    if (gethostname(srv->hostname, sizeof(srv->hostname) - 1) < 0)
        srv->hostname[0] = '\0';
    srv->conf = sl_conf_ref(conf);
    srv->accept_timer.cb = srv_on_accept_timer;
    srv->accept_timer.data = srv;
    srv->store_timer.cb = srv_on_store_timer;
    srv->store_timer.data = srv;
    srv->mem_timer.cb = srv_on_mem_timer;
    srv->mem_timer.data = srv;
    srv->pool = sl_pool_new(loop);
    srv->ipcounts = &srv->slot->ipc;
    srv->access = access_state_new();
    srv->ldap = sl_ldap_new(loop);
    if (srv->pool == NULL || srv->ipcounts == NULL || srv->access == NULL ||
        srv->ldap == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    sl_conf_set_warn(srv_warn);
    sl_tls_set_shared(sh, slot);  /* ticket keys and handshake counts of all workers */
    srv->dns = sl_dns_new(loop, &conf->dns, err, errlen);
    if (srv->dns == NULL)
        goto fail;
    if (conf->cache.enabled) {
        struct cache_store_conf sc = { conf->cache.dir, conf->cache.size,
                                       conf->cache.max_object, 5, 0, 0, 0 };
        char serr[256];

        sc.shared = sh->nworkers > 1;
        srv->store = cache_store_open(&sc, serr, sizeof(serr));
        if (srv->store == NULL) {
            snprintf(err, errlen, "cache: %s", serr);
            sl_dns_free(srv->dns);
            goto fail;
        }
        srv->cfwd = cfwd_table_new(loop);
        srv_store_watch(srv);   /* paused from the start: the disk is full */
    }
    if (rl_state_apply(&srv->ratelimit, conf, sh) < 0) {
        snprintf(err, errlen, "reverse.rate_limit_table: out of memory");
        goto fail;
    }
    if (sl_qstore_apply(&srv->quota, conf, sh) < 0) {
        snprintf(err, errlen, "reverse.gateway.quota_file %s: cannot be used (see the "
                 "error log)", conf->reverse.gw.quota_file);
        goto fail;
    }
    {
        char werr[256];

        if (srv_workq(srv, conf, werr, sizeof(werr)) < 0) {
            snprintf(err, errlen, "auth.negotiate: %s", werr);
            goto fail;
        }
    }
    {
        const char *d = getenv("SQUIDLIKE_TEST_GSS_DELAY_MS");

        if (d != NULL)
            srv->test_gss_delay_ms = (unsigned)strtoul(d, NULL, 10) % 60001;
    }
    srv->conf_generation = 1;
    srv->health = sl_health_start(srv, conf->reverse.rt);
    sl_status_start(srv);
    sl_timer_set(loop, &srv->mem_timer, MEM_CHECK_MS);
    return srv;
fail:
    sl_pool_free(srv->pool);
    access_state_free(srv->access);
    sl_ldap_free(srv->ldap);
    sl_conf_unref(srv->conf);
    free(srv);
    return NULL;
}

static int srv_listen_one(struct sl_server *srv, const struct sl_conf_listen *a,
                          enum sl_listen_kind kind, char *err, size_t errlen)
{
    static const char *const what[] = { "", " (manager.listen)", " (reverse.listen)",
                                        " (reverse.tls_listen)" };
    struct sl_listener *l = &srv->listeners[srv->nlisteners];
    int fd, rc;

    fd = sl_net_listen((const struct sockaddr *)&a->addr, a->addrlen);
    if (fd < 0) {
        snprintf(err, errlen, "cannot listen on %s%s: %s", a->text,
                 what[kind], strerror(-fd));
        return -1;
    }
    l->io.fd = fd;
    l->io.cb = srv_on_accept;
    l->io.data = l;
    l->srv = srv;
    l->kind = kind;
    l->manager = kind == SL_LISTEN_MANAGER;
    snprintf(l->text, sizeof(l->text), "%s", a->text);
    srv->nlisteners++;
    if ((rc = sl_loop_set_lt(srv->loop, &l->io, SL_IO_READ, 0)) < 0) {
        snprintf(err, errlen, "epoll: %s", strerror(-rc));
        return -1;
    }
    return 0;
}

int sl_server_listen(struct sl_server *srv, char *err, size_t errlen)
{
    const struct sl_conf *conf = srv->conf;
    size_t i;

    /* The proxy's own ports last: once one accepts, every listener is
     * bound (a supervisor's or a test's readiness probe may rely on it). */
    for (i = 0; i < conf->reverse.n_listen; i++)
        if (srv_listen_one(srv, &conf->reverse.listen[i], SL_LISTEN_REVERSE,
                           err, errlen) < 0)
            return -1;
    for (i = 0; i < conf->reverse.n_tls_listen; i++)
        if (srv_listen_one(srv, &conf->reverse.tls_listen[i], SL_LISTEN_REVERSE_TLS,
                           err, errlen) < 0)
            return -1;
    for (i = 0; i < conf->manager.n_listen; i++)
        if (srv_listen_one(srv, &conf->manager.listen[i], SL_LISTEN_MANAGER,
                           err, errlen) < 0)
            return -1;
    for (i = 0; i < conf->n_listen; i++)
        if (srv_listen_one(srv, &conf->listen[i], SL_LISTEN_PROXY, err, errlen) < 0)
            return -1;
    return 0;
}

int sl_server_adopt(struct sl_server *srv, const struct sl_lsock *ls, size_t n,
                    int exclusive, char *err, size_t errlen)
{
    size_t i;
    int rc;

    for (i = 0; i < n && srv->nlisteners < sizeof(srv->listeners) / sizeof(srv->listeners[0]);
         i++) {
        struct sl_listener *l = &srv->listeners[srv->nlisteners++];

        l->io.fd = ls[i].fd;
        l->io.cb = srv_on_accept;
        l->io.data = l;
        l->srv = srv;
        l->kind = ls[i].kind;
        l->manager = ls[i].kind == SL_LISTEN_MANAGER;
        l->exclusive = exclusive;
        snprintf(l->text, sizeof(l->text), "%s", ls[i].text);
        rc = exclusive ? sl_loop_set_exclusive(srv->loop, &l->io, 1)
                       : sl_loop_set_lt(srv->loop, &l->io, SL_IO_READ, 0);
        if (rc < 0) {
            snprintf(err, errlen, "epoll: %s: %s", l->text, strerror(-rc));
            return -1;
        }
    }
    return 0;
}

static void srv_close_listeners(struct sl_server *srv)
{
    size_t i;

    for (i = 0; i < srv->nlisteners; i++) {
        int fd = sl_loop_del(srv->loop, &srv->listeners[i].io);
        if (fd >= 0)
            close(fd);
    }
}

static int addrs_same(const struct sl_conf_listen *a, size_t na,
                      const struct sl_conf_listen *b, size_t nb)
{
    size_t i;

    if (na != nb)
        return 0;
    for (i = 0; i < na; i++)
        if (a[i].addrlen != b[i].addrlen || memcmp(&a[i].addr, &b[i].addr, a[i].addrlen))
            return 0;
    return 1;
}

static int listen_same(const struct sl_conf *a, const struct sl_conf *b)
{
    return addrs_same(a->listen, a->n_listen, b->listen, b->n_listen);
}

static int str_same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/*
 * The worker pool, as conf asks: made the first time a configuration has
 * auth.negotiate (none is made for a proxy without it), tuned by later
 * ones. Returns 0, or -1 with err (at start: the daemon does not start;
 * at a reload: the running pool stays as it was).
 */
static int srv_workq(struct sl_server *srv, const struct sl_conf *conf,
                     char *err, size_t errlen)
{
    const struct sl_conf_policy *p = &conf->policy;
    int rc;

    if (p->negotiate == NULL)
        return 0;
    if (srv->workq == NULL) {
        srv->workq = sl_workq_new(srv->loop, p->negotiate_threads,
                                  p->negotiate_queue, err, errlen);
        return srv->workq ? 0 : -1;
    }
    if ((rc = sl_workq_tune(srv->workq, p->negotiate_threads, p->negotiate_queue)) < 0) {
        snprintf(err, errlen, "worker pool: %s", strerror(-rc));
        return -1;
    }
    return 0;
}

int sl_server_conf_follow(const struct sl_conf *old, const struct sl_conf *nc)
{
    int cache_moved, rc;

    cache_moved = old->cache.enabled != nc->cache.enabled ||
        !str_same(old->cache.dir, nc->cache.dir) || old->cache.size != nc->cache.size ||
        old->cache.max_object != nc->cache.max_object;
    if (cache_moved)
        SL_LOG(SL_LOG_WARN, 0, 0, "cache store settings change at restart only");
    if (!str_same(old->pid_file, nc->pid_file))
        SL_LOG(SL_LOG_WARN, 0, 0, "pid_file changes at restart only");
    if (!str_same(old->error_log, nc->error_log) || old->log_level != nc->log_level) {
        if ((rc = sl_log_open_error(nc->error_log, nc->log_level)) < 0)
            SL_LOG(SL_LOG_ERROR, 0, rc, "cannot open error log %s", nc->error_log);
    }
    if (!str_same(old->access_log, nc->access_log) &&
        (rc = sl_log_open_access(nc->access_log)) < 0)
        SL_LOG(SL_LOG_ERROR, 0, rc, "cannot open access log %s", nc->access_log);
    return cache_moved;
}

/* A new snapshot was loaded (by the reload thread): put it in place. */
static int srv_apply(struct sl_server *srv, struct sl_conf *nc, const char *path)
{
    char err[SL_CONF_ERR_MAX];
    struct sl_conf *old = srv->conf;
    int rc;

    /* The sockets stay as they are (and -a keeps overriding the file);
     * the snapshot says what is really bound. */
    if (!srv->listen_from_cli && !listen_same(old, nc))
        SL_LOG(SL_LOG_WARN, 0, 0, "listen addresses change at restart only");
    memcpy(nc->listen, old->listen, sizeof(nc->listen));
    nc->n_listen = old->n_listen;
    if (!addrs_same(old->manager.listen, old->manager.n_listen,
                    nc->manager.listen, nc->manager.n_listen))
        SL_LOG(SL_LOG_WARN, 0, 0, "manager.listen changes at restart only");
    memcpy(nc->manager.listen, old->manager.listen, sizeof(nc->manager.listen));
    nc->manager.n_listen = old->manager.n_listen;
    if (!addrs_same(old->reverse.listen, old->reverse.n_listen,
                    nc->reverse.listen, nc->reverse.n_listen))
        SL_LOG(SL_LOG_WARN, 0, 0, "reverse.listen changes at restart only");
    memcpy(nc->reverse.listen, old->reverse.listen, sizeof(nc->reverse.listen));
    nc->reverse.n_listen = old->reverse.n_listen;
    if (!addrs_same(old->reverse.tls_listen, old->reverse.n_tls_listen,
                    nc->reverse.tls_listen, nc->reverse.n_tls_listen))
        SL_LOG(SL_LOG_WARN, 0, 0, "reverse.tls_listen changes at restart only");
    if (old->reverse.n_tls_listen > 0 && nc->reverse.tls.rt == NULL) {
        snprintf(err, sizeof(err), "the HTTPS listeners stay open until a restart: "
                 "the new configuration needs reverse.tls_listen and its certificates");
        SL_LOG(SL_LOG_ERROR, 0, 0, "reload failed: %s: %s (keeping the running "
               "configuration)", path, err);
        snprintf(srv->reload_result, sizeof(srv->reload_result), "failed: %.200s", err);
        sl_conf_unref(nc);
        return -1;
    }
    memcpy(nc->reverse.tls_listen, old->reverse.tls_listen, sizeof(nc->reverse.tls_listen));
    nc->reverse.n_tls_listen = old->reverse.n_tls_listen;
    if (sl_dns_configure(srv->dns, &nc->dns, err, sizeof(err)) < 0) {
        SL_LOG(SL_LOG_ERROR, 0, 0, "reload failed: %s: %s (keeping the running "
               "configuration)", path, err);
        snprintf(srv->reload_result, sizeof(srv->reload_result), "failed: %.200s", err);
        sl_conf_unref(nc);
        return -1;
    }
    sl_server_conf_follow(old, nc);
    if ((rc = srv_refresh_self(srv)) < 0)
        SL_LOG(SL_LOG_WARN, 0, rc, "cannot list this host's addresses: keeping the "
               "%zu known", srv->nself);
    /* The backends keep what is known of them (health, ejections,
     * counters); the checks go on against the new pools. */
    sl_backends_adopt(nc->reverse.rt, old->reverse.rt);
    if (srv_workq(srv, nc, err, sizeof(err)) < 0)
        SL_LOG(SL_LOG_ERROR, 0, 0, "auth.negotiate: %s (keeping the running pool)", err);
    sl_peers_adopt(nc->peers.rt, old->peers.rt);
    if (rl_state_apply(&srv->ratelimit, nc, srv->shared) < 0)
        SL_LOG(SL_LOG_ERROR, 0, -ENOMEM, "rate limits: no memory for a table of %zu: "
               "keeping the old one", nc->reverse.limit_table);
    if (sl_qstore_apply(&srv->quota, nc, srv->shared) < 0)
        SL_LOG(SL_LOG_ERROR, 0, 0, "quotas: keeping the counters of %s",
               srv->quota != NULL ? sl_qstore_path(srv->quota) : "(none)");
    sl_health_stop(srv->health);
    srv->health = sl_health_start(srv, nc->reverse.rt);
    srv->conf = nc;
    sl_loop_set_busy_poll(srv->loop, (unsigned)nc->limits.busy_poll_us);
    sl_conf_unref(old);         /* connections still using it hold their own */
    srv->conf_generation++;
    snprintf(srv->reload_result, sizeof(srv->reload_result), "ok");
    SL_LOG(SL_LOG_INFO, 0, 0, "configuration reloaded from %s", path);
    return 0;
}

/*
 * Reload. Loading can take seconds (a million blocklist entries, regexes
 * to compile), so it runs on a thread of its own while the loop keeps
 * serving with the running snapshot; an eventfd says when it is done and
 * the loop swaps the new snapshot in. Warnings of the load (bad list
 * lines) are collected by the thread and logged by the loop.
 */
struct reload_job {
    struct sl_server *srv;
    char *path;
    pthread_t th;
    struct sl_io io;            /* eventfd */
    struct sl_conf *nc;
    char err[SL_CONF_ERR_MAX];
    char *warn;                 /* "line\n" ... */
    size_t wlen, wcap;
    int again;                  /* SIGHUP during the load: load once more */
};

static __thread struct reload_job *loading;

static void srv_warn(const char *msg)
{
    struct reload_job *j = loading;
    size_t n = strlen(msg) + 1;

    if (j == NULL) {
        SL_LOG(SL_LOG_WARN, 0, 0, "%s", msg);
        return;
    }
    /* Lines end with '\n' and the whole is NUL-terminated (for strtok_r
     * on the loop): n + 1 bytes more. */
    if (j->wlen + n + 1 > j->wcap) {
        size_t cap = j->wcap ? j->wcap * 2 : 4096;
        char *w;
        if (j->wlen + n + 1 > 1u << 20)
            return;             /* a flood of bad lines: the first MiB tells */
        while (cap < j->wlen + n + 1)
            cap *= 2;
        if ((w = realloc(j->warn, cap)) == NULL)
            return;
        j->warn = w;
        j->wcap = cap;
    }
    memcpy(j->warn + j->wlen, msg, n - 1);
    j->warn[j->wlen + n - 1] = '\n';
    j->wlen += n;
    j->warn[j->wlen] = '\0';
}

static void *reload_main(void *arg)
{
    struct reload_job *j = arg;
    uint64_t one = 1;

    loading = j;
    j->nc = sl_conf_load(j->path, j->err, sizeof(j->err));
    loading = NULL;
    if (write(j->io.fd, &one, sizeof(one)) < 0) {
        /* the loop still finds the job when it stops */
    }
    return NULL;
}

static void reload_job_free(struct sl_server *srv, struct reload_job *j)
{
    int fd = sl_loop_del(srv->loop, &j->io);

    if (fd >= 0)
        close(fd);
    sl_conf_unref(j->nc);
    free(j->warn);
    free(j->path);
    free(j);
}

static void on_reload_done(struct sl_io *io, unsigned ev)
{
    struct reload_job *j = io->data;
    struct sl_server *srv = j->srv;
    char *line, *save = NULL;
    int again = j->again;
    char *path;
    uint64_t v;

    (void)ev;
    if (read(io->fd, &v, sizeof(v)) != sizeof(v))
        return;
    pthread_join(j->th, NULL);
    srv->reload = NULL;
    for (line = j->warn ? strtok_r(j->warn, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save))
        SL_LOG(SL_LOG_WARN, 0, 0, "%s", line);
    srv->reload_time = time(NULL);
    if (j->nc == NULL) {
        SL_LOG(SL_LOG_ERROR, 0, 0, "reload failed: %s (keeping the running "
               "configuration)", j->err);
        snprintf(srv->reload_result, sizeof(srv->reload_result), "failed: %.200s", j->err);
    } else if (srv_apply(srv, j->nc, j->path) == 0)
        j->nc = NULL;           /* the server has it now */
    path = again ? strdup(j->path) : NULL;
    reload_job_free(srv, j);
    /* A reload frees a whole configuration (tens of MiB with big lists),
     * most of it allocated by the reload thread: give the free pages back
     * now rather than keep the peak of old + new for good. */
    malloc_trim(0);
    sl_loop_update_time(srv->loop);
    if (path) {
        sl_server_reload(srv, path);
        free(path);
    }
}

int sl_server_reload(struct sl_server *srv, const char *path)
{
    struct reload_job *j;
    sigset_t all, old;
    int fd, rc;

    if (srv->reload) {
        srv->reload->again = 1; /* the file may have changed again */
        return 0;
    }
    j = calloc(1, sizeof(*j));
    fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (j == NULL || fd < 0 || (j->path = strdup(path)) == NULL) {
        SL_LOG(SL_LOG_ERROR, 0, errno, "reload failed: cannot start");
        if (fd >= 0)
            close(fd);
        free(j);
        return -1;
    }
    j->srv = srv;
    j->io.fd = fd;
    j->io.cb = on_reload_done;
    j->io.data = j;
    if ((rc = sl_loop_set_lt(srv->loop, &j->io, SL_IO_READ, 0)) < 0) {
        SL_LOG(SL_LOG_ERROR, 0, rc, "reload failed: cannot start");
        reload_job_free(srv, j);
        return -1;
    }
    sigfillset(&all);           /* the thread takes no signals */
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = pthread_create(&j->th, NULL, reload_main, j);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        SL_LOG(SL_LOG_ERROR, 0, rc, "reload failed: cannot start a thread");
        reload_job_free(srv, j);
        return -1;
    }
    srv->reload = j;
    SL_LOG(SL_LOG_INFO, 0, 0, "reloading %s", path);
    return 0;
}

static void srv_on_drain_timeout(struct sl_timer *t)
{
    struct sl_server *srv = t->data;

    SL_LOG(SL_LOG_WARN, 0, 0, "shutdown timeout: closing %zu connections",
           srv->nclients);
    sl_server_stop(srv);
}

void sl_server_drain(struct sl_server *srv)
{
    struct sl_client *c, *next;

    if (srv->draining)
        return;
    srv->draining = 1;
    SL_LOG(SL_LOG_INFO, 0, 0, "shutting down: %zu connections to finish",
           srv->nclients);
    srv_close_listeners(srv);
    sl_timer_stop(srv->loop, &srv->accept_timer);
    srv->accept_fails.failing = 0;  /* no listener left to fail */
    sl_pool_close_idle(srv->pool);
    sl_bgfetch_stop_all(srv);
    sl_health_stop(srv->health);
    srv->health = NULL;
    for (c = srv->clients; c; c = next) {
        next = sl_client_next(c);
        sl_client_drain(c);
    }
    if (srv->nclients == 0) {
        sl_loop_stop(srv->loop);
        return;
    }
    srv->drain_timer.cb = srv_on_drain_timeout;
    srv->drain_timer.data = srv;
    sl_timer_set(srv->loop, &srv->drain_timer, srv->conf->timeouts.shutdown);
}

static void srv_on_linger(struct sl_timer *t)
{
    struct sl_server *srv = t->data;
    struct sl_client *c, *next;

    for (c = srv->clients; c; c = next) {
        next = sl_client_next(c);
        sl_client_drain(c);
    }
    if (srv->nclients == 0)
        sl_loop_stop(srv->loop);
}

void sl_server_drain_soft(struct sl_server *srv)
{
    struct sl_client *c;

    if (srv->draining)
        return;
    srv->draining = 1;
    srv->drain_soft = 1;
    SL_LOG(SL_LOG_INFO, 0, 0, "replaced: %zu connections to finish", srv->nclients);
    srv_close_listeners(srv);
    sl_timer_stop(srv->loop, &srv->accept_timer);
    srv->accept_fails.failing = 0;
    sl_pool_close_idle(srv->pool);
    sl_bgfetch_stop_all(srv);
    sl_health_stop(srv->health);
    srv->health = NULL;
    /* Busy ones answer with Connection: close and go; idle ones wait for
     * a last request until the linger timer. */
    for (c = srv->clients; c; c = sl_client_next(c))
        sl_client_mark_draining(c);
    if (srv->nclients == 0) {
        sl_loop_stop(srv->loop);
        return;
    }
    srv->linger_timer.cb = srv_on_linger;
    srv->linger_timer.data = srv;
    sl_timer_set(srv->loop, &srv->linger_timer, SL_DRAIN_LINGER_MS);
    srv->drain_timer.cb = srv_on_drain_timeout;
    srv->drain_timer.data = srv;
    sl_timer_set(srv->loop, &srv->drain_timer, srv->conf->timeouts.shutdown);
}

void sl_server_stop(struct sl_server *srv)
{
    srv->draining = 1;
    srv_close_listeners(srv);
    sl_bgfetch_stop_all(srv);
    sl_health_stop(srv->health);
    srv->health = NULL;
    while (srv->clients)
        sl_client_abort(srv->clients);
    sl_pool_close_idle(srv->pool);
    sl_loop_stop(srv->loop);
}

void sl_server_client_gone(struct sl_server *srv)
{
    if (srv->draining) {
        if (srv->nclients == 0)
            sl_loop_stop(srv->loop);
        return;
    }
    if (srv->accept_paused && !sl_timer_armed(&srv->accept_timer) &&
        srv->nclients < srv->conf->limits.max_connections)
        srv_set_accept(srv, 1, 1);
}

void sl_server_idle(void *data)
{
    struct sl_server *srv = data;
    int rc = 0;

    if (srv->store) {
        if ((rc = cache_store_flush(srv->store)) < 0)
            SL_DEBUG(0, "cache: commit failed: %s", strerror(-rc));
        srv_store_watch(srv);
        if (srv->store_paused && !sl_timer_armed(&srv->store_timer)) {
            struct cache_store_stats cs;
            cache_store_get_stats(srv->store, &cs);
            sl_timer_set(srv->loop, &srv->store_timer, cs.retry_ms + 1);
        }
    }
    cfwd_flushed(srv->cfwd, rc == 0);
    sl_log_flush(NULL);
}

void sl_server_free(struct sl_server *srv)
{
    if (srv == NULL)
        return;
    if (srv->reload) {
        pthread_join(srv->reload->th, NULL);
        reload_job_free(srv, srv->reload);
        srv->reload = NULL;
    }
    srv_close_listeners(srv);
    sl_bgfetch_stop_all(srv);
    sl_health_stop(srv->health);
    srv->health = NULL;
    while (srv->clients)
        sl_client_abort(srv->clients);
    /* The clients gave up their jobs: the threads finish what they run and
     * every job is handed back (and freed) here. */
    sl_workq_free(srv->workq);
    srv->workq = NULL;
    sl_timer_stop(srv->loop, &srv->drain_timer);
    sl_timer_stop(srv->loop, &srv->linger_timer);
    sl_timer_stop(srv->loop, &srv->accept_timer);
    sl_timer_stop(srv->loop, &srv->store_timer);
    sl_timer_stop(srv->loop, &srv->mem_timer);
    sl_status_stop(srv);
    sl_ldap_free(srv->ldap);    /* no client waits on a lookup any more */
    srv->ldap = NULL;
    sl_pool_free(srv->pool);
    sl_dns_free(srv->dns);
    sl_loop_run_posts(srv->loop);   /* deferred frees of connections */
    sl_bufpool_trim(&srv->bufpool, 0);
    cache_store_close(srv->store);
    cfwd_table_free(srv->cfwd);
    access_state_free(srv->access);
    rl_state_free(srv->ratelimit);
    sl_conf_unref(srv->conf);
    free(srv->sum);
    sl_status_apis_free(srv);
    free(srv);
}

const struct sl_sum *sl_server_sum_now(struct sl_server *srv)
{
    static struct sl_sum none;  /* out of memory: zeros, not a crash */

    if (srv->sum == NULL && (srv->sum = calloc(1, sizeof(*srv->sum))) == NULL)
        return &none;
    sl_shared_sum(srv->shared, &srv->sum->stats, &srv->sum->metrics);
    srv->sum->valid = 1;
    return srv->sum;
}

const struct sl_sum *sl_server_sums(struct sl_server *srv)
{
    if (srv->sum != NULL && srv->sum->valid)
        return srv->sum;
    return sl_server_sum_now(srv);
}
