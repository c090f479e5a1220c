/*
 * master.c - the master process, when workers >= 2. It owns the
 * configuration, the listening sockets and the pid file; it forks the
 * workers, restarts one that dies, replaces them all on a reload, and
 * hands everything to a new binary on an upgrade. It serves no request
 * and starts no thread (fork and threads do not mix).
 *
 * Sockets. With worker_sockets = "reuseport" (the default) each listen
 * address has one socket per worker, bound with SO_REUSEPORT: the kernel
 * hashes each new connection to one of them, so the load spreads evenly
 * with no accept lock and no thundering herd. The master keeps every
 * socket open, which matters: a reuseport socket that is closed drops
 * the connections in its queue, but one that a worker merely stops
 * reading keeps them for the worker that takes its place (after a crash
 * or a reload). With "shared", one socket per address that all workers
 * wait on with EPOLLEXCLUSIVE: a connection wakes one worker, which is
 * usually the same one while it keeps up (see the issue 14 note for the
 * figures of both).
 *
 * Reload (HUP): load the file; if good, bind the addresses that are new,
 * fork a generation of workers with the new snapshot, and when they are
 * up (each sets its slot's ready flag) tell the old ones to drain (QUIT:
 * sl_server_drain_soft), and close the sockets of addresses now gone.
 *
 * Upgrade (USR2, squidlike -k upgrade): fork and exec the binary at the
 * path we were started from, with the sockets and the locked pid file
 * kept open across the exec and named in the environment. The new master
 * adopts them, starts its workers, and when they are up sends us QUIT:
 * we drain our workers and exit, leaving the pid file to it. If it dies
 * first, we go on as before.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache/store.h"
#include "squidlike/conf.h"
#include "squidlike/log.h"
#include "squidlike/master.h"
#include "squidlike/net.h"
#include "squidlike/notify.h"
#include "squidlike/server.h"
#include "squidlike/shared.h"
#include "squidlike/worker.h"

#define RESTART_MIN_MS 100      /* a worker that died young: first delay */
#define RESTART_MAX_MS 2000     /* ... doubling up to this */
#define LIVED_OK_MS 1000        /* one that lived this long restarts at once */
#define READY_WAIT_MS 10000     /* a generation not up by then: go on anyway */
#define KILL_GRACE_MS 5000      /* past timeouts.shutdown: SIGKILL */
#define MAX_LS (4 * SL_CONF_MAX_LISTEN)
#define ENV_FDS "SQUIDLIKE_UPGRADE_FDS"
#define ENV_PIDFD "SQUIDLIKE_UPGRADE_PIDFD"
#define ENV_FROM "SQUIDLIKE_UPGRADE_FROM"

/* One listen address and its sockets. */
struct mls {
    enum sl_listen_kind kind;
    struct sl_conf_listen addr;
    int fd[SL_WORKERS_MAX];     /* reuseport: one per worker index; else [0] */
    unsigned nfd;
    int keep;                   /* a reload: still wanted */
};

/* The master's view of a shared slot. */
struct mw {
    pid_t pid;                  /* 0: none running */
    int64_t started_ms;
    int64_t due_ms;             /* > 0: start worker `index` again then */
    unsigned quick;             /* deaths in a row that came young */
};

struct master {
    struct sl_conf *conf;       /* the newest snapshot */
    const char *conf_path;
    int listen_cli;
    struct sl_shared *sh;
    int pidfd;
    char **argv;
    char exe[PATH_MAX];         /* the binary we run (for an upgrade) */
    struct mls ls[MAX_LS];
    size_t nls;
    struct mw w[SL_SHARED_SLOTS];
    unsigned gen;
    int stopping;               /* 0, or the signal passed to the workers */
    int64_t stop_ms;            /* when */
    unsigned old_gen;           /* to drain once gen is up; 0: none */
    int64_t pending_ms;         /* when gen started */
    pid_t upgrade_pid;          /* a new master we started, or 0 */
    pid_t from_pid;             /* we are an upgrade of this master, or 0 */
    int handed_over;            /* the new master has the pid file */
    sigset_t set;
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ sockets */

/* conf's listen addresses with their kinds, in sl_server_listen's order
 * (the proxy's own ports last). */
static size_t conf_addrs(const struct sl_conf *c, const struct sl_conf_listen **a,
                         enum sl_listen_kind *k)
{
    size_t n = 0, i;

    for (i = 0; i < c->reverse.n_listen; i++, n++) {
        a[n] = &c->reverse.listen[i];
        k[n] = SL_LISTEN_REVERSE;
    }
    for (i = 0; i < c->reverse.n_tls_listen; i++, n++) {
        a[n] = &c->reverse.tls_listen[i];
        k[n] = SL_LISTEN_REVERSE_TLS;
    }
    for (i = 0; i < c->manager.n_listen; i++, n++) {
        a[n] = &c->manager.listen[i];
        k[n] = SL_LISTEN_MANAGER;
    }
    for (i = 0; i < c->n_listen; i++, n++) {
        a[n] = &c->listen[i];
        k[n] = SL_LISTEN_PROXY;
    }
    return n;
}

static int addr_same(const struct sl_conf_listen *a, const struct sl_conf_listen *b)
{
    return a->addrlen == b->addrlen && memcmp(&a->addr, &b->addr, a->addrlen) == 0;
}

static struct mls *ls_find(struct master *m, enum sl_listen_kind kind,
                           const struct sl_conf_listen *a)
{
    size_t i;

    for (i = 0; i < m->nls; i++)
        if (m->ls[i].kind == kind && addr_same(&m->ls[i].addr, a))
            return &m->ls[i];
    return NULL;
}

static void ls_close(struct mls *l, unsigned from)
{
    unsigned i;

    for (i = from; i < l->nfd; i++)
        if (l->fd[i] >= 0)
            close(l->fd[i]);
    if (l->nfd > from)
        l->nfd = from;
}

/* Sockets inherited from the master we upgrade, not yet adopted. */
static int inh_fd[MAX_LS * SL_WORKERS_MAX];
static size_t ninh;

static int inh_take(const struct sl_conf_listen *a)
{
    struct sockaddr_storage ss;
    socklen_t len;
    size_t i;
    int fd;

    for (i = 0; i < ninh; i++) {
        len = sizeof(ss);
        if (inh_fd[i] < 0 || getsockname(inh_fd[i], (struct sockaddr *)&ss, &len) < 0)
            continue;
        if (len == a->addrlen && memcmp(&ss, &a->addr, len) == 0) {
            fd = inh_fd[i];
            inh_fd[i] = -1;
            return fd;
        }
    }
    return -1;
}

/* Give l n sockets (binding the missing ones). Returns 0 or -1 with err. */
static int ls_fill(struct mls *l, unsigned n, int reuseport,
                   char *err, size_t errlen)
{
    static const char *const what[] = { "", " (manager.listen)", " (reverse.listen)",
                                        " (reverse.tls_listen)" };
    int fd;

    while (l->nfd < n) {
        fd = inh_take(&l->addr);
        if (fd < 0)
            fd = sl_net_listen_opt((const struct sockaddr *)&l->addr.addr,
                                   l->addr.addrlen, reuseport);
        if (fd < 0) {
            snprintf(err, errlen, "cannot listen on %s%s: %s", l->addr.text,
                     what[l->kind], strerror(-fd));
            return -1;
        }
        l->fd[l->nfd++] = fd;
    }
    return 0;
}

/*
 * The sockets conf wants: those we have are kept (marked), the others
 * bound. On failure nothing bound here stays, and -1 with err.
 */
static int ls_apply(struct master *m, const struct sl_conf *c, char *err, size_t errlen)
{
    const struct sl_conf_listen *a[MAX_LS];
    enum sl_listen_kind k[MAX_LS];
    size_t n = conf_addrs(c, a, k), i, first_new = m->nls;
    int reuseport = c->worker_sockets == SL_WSOCK_REUSEPORT;
    unsigned want = reuseport ? c->workers : 1, had[MAX_LS];
    struct mls *l;

    for (i = 0; i < m->nls; i++) {
        m->ls[i].keep = 0;
        had[i] = m->ls[i].nfd;
    }
    for (i = 0; i < n; i++) {
        l = ls_find(m, k[i], a[i]);
        if (l == NULL) {
            if (m->nls == MAX_LS) {
                snprintf(err, errlen, "too many listen addresses");
                goto fail;
            }
            l = &m->ls[m->nls++];
            memset(l, 0, sizeof(*l));
            l->kind = k[i];
            l->addr = *a[i];
        }
        l->keep = 1;
        if (ls_fill(l, want, reuseport, err, errlen) < 0)
            goto fail;
    }
    return 0;
fail:
    for (i = first_new; i < m->nls; i++)
        ls_close(&m->ls[i], 0);
    m->nls = first_new;
    for (i = 0; i < first_new; i++)
        ls_close(&m->ls[i], had[i]);
    return -1;
}

/* After a reload's old workers were told to go: close what the new
 * configuration does not use (the old workers close their copies as
 * they drain). */
static void ls_prune(struct master *m)
{
    unsigned want = m->conf->worker_sockets == SL_WSOCK_REUSEPORT ? m->conf->workers : 1;
    size_t i, j = 0;

    for (i = 0; i < m->nls; i++) {
        if (!m->ls[i].keep) {
            SL_LOG(SL_LOG_INFO, 0, 0, "no longer listening on %s", m->ls[i].addr.text);
            ls_close(&m->ls[i], 0);
            continue;
        }
        /* Fewer workers: the sockets past the count go (a reuseport
         * socket closed drops its queue: see the docs). */
        ls_close(&m->ls[i], want);
        if (j != i)
            m->ls[j] = m->ls[i];
        j++;
    }
    m->nls = j;
}

/* ------------------------------------------------------------ workers */

static void child_main(struct master *m, unsigned index, int slot, pid_t master)
{
    struct sl_lsock ls[MAX_LS];
    struct sl_worker_args wa;
    char tag[32];
    sigset_t none;
    size_t i, n = 0;
    unsigned k;
    int rc;

    /* The master killed without a word (kill -9): drain and go, rather
     * than serve on as an orphan nobody restarts or reloads. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != master)
        _exit(0);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGCHLD, SIG_DFL);
    if (m->pidfd >= 0)
        close(m->pidfd);
    for (i = 0; i < ninh; i++)
        if (inh_fd[i] >= 0)
            close(inh_fd[i]);
    for (i = 0; i < m->nls; i++) {
        struct mls *l = &m->ls[i];
        unsigned mine = l->nfd > 1 ? index % l->nfd : 0;

        for (k = 0; k < l->nfd; k++)
            if (k != mine || !l->keep)
                close(l->fd[k]);
        if (!l->keep || l->nfd == 0)
            continue;
        ls[n].fd = l->fd[mine];
        ls[n].kind = l->kind;
        snprintf(ls[n].text, sizeof(ls[n].text), "%s", l->addr.text);
        n++;
    }
    snprintf(tag, sizeof(tag), "worker %u", index);
    sl_log_set_tag(tag);
    snprintf(tag, sizeof(tag), "squidlike-w%u", index);  /* no space: tools split /proc/PID/stat on blanks */
    prctl(PR_SET_NAME, tag);
    memset(&wa, 0, sizeof(wa));
    wa.conf = m->conf;
    wa.conf_path = m->conf_path;
    wa.sh = m->sh;
    wa.slot = slot;
    wa.ls = ls;
    wa.nls = n;
    wa.exclusive = m->conf->worker_sockets == SL_WSOCK_SHARED;
    wa.listen_cli = m->listen_cli;
    rc = sl_worker_run(&wa);
    sl_log_close();
    _exit(rc);
}

/* Start worker index of generation gen in slot (taken). */
static void spawn(struct master *m, unsigned index, int slot)
{
    struct sl_wslot *s = &m->sh->slots[slot];
    pid_t pid, self = getpid();

    sl_log_flush(NULL);         /* or the child writes our lines again */
    sl_ipcounts_clear(&s->ipc); /* a dead worker's clients are gone */
    pid = fork();
    if (pid < 0) {
        SL_LOG(SL_LOG_ERROR, 0, errno, "cannot start worker %u", index);
        m->w[slot].due_ms = now_ms() + RESTART_MAX_MS;
        return;
    }
    if (pid == 0)
        child_main(m, index, slot, self);
    s->pid = pid;
    m->w[slot].pid = pid;
    m->w[slot].started_ms = now_ms();
    m->w[slot].due_ms = 0;
    SL_LOG(SL_LOG_INFO, 0, 0, "worker %u started (pid %ld, generation %u)", index,
           (long)pid, s->generation);
}

/* A generation of conf->workers workers. Returns 0 or -1 (no free slots). */
static int start_generation(struct master *m, unsigned gen)
{
    int slots[SL_WORKERS_MAX];
    unsigned i, n = m->conf->workers;
    int s;

    for (i = 0; i < n; i++) {
        if ((s = sl_shared_take(m->sh, i, gen)) < 0) {
            while (i-- > 0)
                m->sh->slots[slots[i]].state = SL_WSLOT_FREE;
            return -1;
        }
        slots[i] = s;
    }
    m->sh->generation = gen;
    m->sh->nworkers = n;
    /* A slot's restarts go on counting, as its other counters do. */
    for (i = 0; i < n; i++)
        spawn(m, i, slots[i]);
    return 0;
}

static void signal_gen(struct master *m, unsigned gen, int sig, int mark_draining)
{
    size_t i;

    for (i = 0; i < m->sh->nused; i++) {
        struct sl_wslot *s = &m->sh->slots[i];

        if (s->state == SL_WSLOT_FREE || (gen != 0 && s->generation != gen))
            continue;
        if (mark_draining) {
            s->state = SL_WSLOT_DRAINING;
            m->w[i].due_ms = 0;
        }
        if (m->w[i].pid > 0)
            kill(m->w[i].pid, sig);
    }
}

static size_t live_children(const struct master *m)
{
    size_t i, n = 0;

    for (i = 0; i < m->sh->nused; i++)
        n += m->w[i].pid > 0;
    return n;
}

static void reader_check(struct master *m)
{
    int rc;

    if (!m->conf->cache.enabled || m->conf->cache.dir == NULL)
        return;
    rc = cache_store_reader_check(m->conf->cache.dir, m->conf->cache.size);
    if (rc > 0)
        SL_LOG(SL_LOG_INFO, 0, 0, "cache: freed %d reader slots of a dead worker", rc);
    else if (rc < 0)
        SL_LOG(SL_LOG_WARN, 0, 0, "cache: reader check: %s",
               rc > -200 ? strerror(-rc) : "LMDB error");
}

static void describe_exit(int st, char *buf, size_t n)
{
    if (WIFSIGNALED(st))
        snprintf(buf, n, "killed by signal %d", WTERMSIG(st));
    else
        snprintf(buf, n, "status %d", WEXITSTATUS(st));
}

static void reap(struct master *m)
{
    char why[64];
    pid_t pid;
    int st;
    size_t i;

    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        describe_exit(st, why, sizeof(why));
        if (pid == m->upgrade_pid) {
            SL_LOG(SL_LOG_ERROR, 0, 0, "upgrade failed: the new master (pid %ld) "
                   "exited: %s; this one goes on", (long)pid, why);
            m->upgrade_pid = 0;
            if (m->pidfd >= 0) {    /* it may have written its pid */
                char b[32];
                int k = snprintf(b, sizeof(b), "%ld\n", (long)getpid());

                if (ftruncate(m->pidfd, 0) < 0 || pwrite(m->pidfd, b, (size_t)k, 0) != k)
                    SL_LOG(SL_LOG_WARN, 0, errno, "pid file");
            }
            continue;
        }
        for (i = 0; i < m->sh->nused; i++)
            if (m->w[i].pid == pid)
                break;
        if (i == m->sh->nused)
            continue;           /* not ours (an upgrade's grandchild?) */
        {
            struct sl_wslot *s = &m->sh->slots[i];
            struct mw *w = &m->w[i];
            int64_t lived = now_ms() - w->started_ms;
            int expected = m->stopping || s->state == SL_WSLOT_DRAINING;

            SL_LOG(expected && !WIFSIGNALED(st) ? SL_LOG_INFO : SL_LOG_WARN, 0, 0,
                   "worker %u (pid %ld) exited: %s", s->index, (long)pid, why);
            w->pid = 0;
            s->pid = 0;
            s->ready = 0;
            memset(&s->g, 0, sizeof(s->g));     /* its gauges went with it */
            reader_check(m);
            if (expected || s->generation != m->gen) {
                s->state = SL_WSLOT_FREE;
                continue;
            }
            /* Restart it in the same slot: its counters go on. */
            if (lived >= LIVED_OK_MS)
                w->quick = 0;
            else
                w->quick++;
            w->due_ms = now_ms();
            if (w->quick > 0) {
                int64_t d = RESTART_MIN_MS << (w->quick < 6 ? w->quick - 1 : 5);

                w->due_ms += d < RESTART_MAX_MS ? d : RESTART_MAX_MS;
            }
            s->restarts++;
            SL_LOG(SL_LOG_INFO, 0, 0, "worker %u restarts in %lld ms", s->index,
                   (long long)(w->due_ms - now_ms()));
        }
    }
}

static void start_due(struct master *m)
{
    int64_t now = now_ms();
    size_t i;

    for (i = 0; i < m->sh->nused; i++) {
        struct sl_wslot *s = &m->sh->slots[i];

        if (m->w[i].due_ms > 0 && m->w[i].due_ms <= now && m->w[i].pid == 0 &&
            s->state == SL_WSLOT_RUNNING) {
            s->ready = 0;
            s->started = (int64_t)time(NULL);
            memset(&s->g, 0, sizeof(s->g));
            spawn(m, s->index, (int)i);
        }
    }
}

/* Every worker of gen is up (or READY_WAIT_MS passed). */
static int gen_ready(const struct master *m, unsigned gen)
{
    size_t i;

    for (i = 0; i < m->sh->nused; i++) {
        const struct sl_wslot *s = &m->sh->slots[i];

        if (s->generation == gen && s->state == SL_WSLOT_RUNNING && !s->ready)
            return 0;
    }
    return 1;
}

/* ------------------------------------------------------------ reload, upgrade */

/* The reload's warnings and logs as a single process's (server.c); the
 * cache store settings stay as they were (copied into nc). */
static void keep_restart_only(struct sl_conf *old, struct sl_conf *nc)
{
    struct sl_conf_cache *a = &old->cache, *b = &nc->cache;
    char *dir;

    if (!sl_server_conf_follow(old, nc))
        return;
    dir = a->dir ? strdup(a->dir) : NULL;
    if (a->dir && dir == NULL) {
        SL_LOG(SL_LOG_ERROR, 0, ENOMEM, "reload");
        b->enabled = 0;         /* no store rather than another one */
    } else {
        free(b->dir);
        b->dir = dir;
        b->enabled = a->enabled;
    }
    b->size = a->size;
    b->max_object = a->max_object;
}

static void reload(struct master *m)
{
    char err[SL_CONF_ERR_MAX];
    struct sl_conf *nc;

    if (m->old_gen != 0) {
        SL_LOG(SL_LOG_WARN, 0, 0, "reload: the last one is still starting; try again");
        return;
    }
    SL_LOG(SL_LOG_INFO, 0, 0, "reloading %s", m->conf_path);
    nc = sl_conf_load(m->conf_path, err, sizeof(err));
    if (nc == NULL) {
        SL_LOG(SL_LOG_ERROR, 0, 0, "reload failed, keeping the running configuration: %s",
               err);
        return;
    }
    if (m->listen_cli) {        /* -a keeps overriding the file */
        nc->listen[0] = m->conf->listen[0];
        nc->n_listen = 1;
    }
    if (nc->worker_sockets != m->conf->worker_sockets) {
        SL_LOG(SL_LOG_WARN, 0, 0, "worker_sockets changes at restart only");
        nc->worker_sockets = m->conf->worker_sockets;
    }
    if (nc->workers < 2) {
        SL_LOG(SL_LOG_WARN, 0, 0, "workers = 1 takes a restart: running 2");
        nc->workers = 2;
    }
    if (ls_apply(m, nc, err, sizeof(err)) < 0 ||
        sl_shared_prepare(m->sh, nc, err, sizeof(err)) < 0) {
        SL_LOG(SL_LOG_ERROR, 0, 0, "reload failed, keeping the running configuration: %s",
               err);
        sl_conf_unref(nc);
        return;
    }
    keep_restart_only(m->conf, nc);
    sl_conf_unref(m->conf);
    m->conf = nc;
    if (start_generation(m, m->gen + 1) < 0) {
        SL_LOG(SL_LOG_ERROR, 0, 0, "reload: no free worker slots (old workers still "
               "draining); try again later");
        return;
    }
    m->old_gen = m->gen;
    m->gen++;
    m->pending_ms = now_ms();
    SL_LOG(SL_LOG_INFO, 0, 0, "reload: generation %u with %u workers", m->gen,
           m->conf->workers);
}

/* The new generation is up: the old one drains. */
static void retire_old(struct master *m)
{
    signal_gen(m, m->old_gen, SIGQUIT, 1);
    SL_LOG(SL_LOG_INFO, 0, 0, "reloaded %s: generation %u serves, generation %u drains",
           m->conf_path, m->gen, m->old_gen);
    m->old_gen = 0;
    ls_prune(m);
}

static void upgrade(struct master *m)
{
    char fds[MAX_LS * SL_WORKERS_MAX * 12], num[32];
    size_t i, off = 0;
    unsigned k;
    pid_t pid;

    if (m->upgrade_pid != 0 || m->stopping) {
        SL_LOG(SL_LOG_WARN, 0, 0, "upgrade: one is already under way");
        return;
    }
    if (m->exe[0] == '\0') {
        SL_LOG(SL_LOG_ERROR, 0, 0, "upgrade: the path of this binary is unknown");
        return;
    }
    fds[0] = '\0';
    for (i = 0; i < m->nls; i++)
        for (k = 0; k < m->ls[i].nfd; k++)
            off += (size_t)snprintf(fds + off, sizeof(fds) - off, "%s%d", off ? "," : "",
                                    m->ls[i].fd[k]);
    SL_LOG(SL_LOG_INFO, 0, 0, "upgrade: starting %s", m->exe);
    sl_log_flush(NULL);
    pid = fork();
    if (pid < 0) {
        SL_LOG(SL_LOG_ERROR, 0, errno, "upgrade: fork");
        return;
    }
    if (pid == 0) {
        sigset_t none;

        /* The sockets and the locked pid file cross the exec. */
        for (i = 0; i < m->nls; i++)
            for (k = 0; k < m->ls[i].nfd; k++)
                fcntl(m->ls[i].fd[k], F_SETFD, 0);
        setenv(ENV_FDS, fds, 1);
        if (m->pidfd >= 0) {
            fcntl(m->pidfd, F_SETFD, 0);
            snprintf(num, sizeof(num), "%d", m->pidfd);
            setenv(ENV_PIDFD, num, 1);
        }
        snprintf(num, sizeof(num), "%ld", (long)getppid());
        setenv(ENV_FROM, num, 1);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execv(m->exe, m->argv);
        fprintf(stderr, "squidlike: upgrade: cannot run %s: %s\n", m->exe, strerror(errno));
        _exit(127);
    }
    m->upgrade_pid = pid;
}

int sl_master_inherited_pidfd(void)
{
    const char *v = getenv(ENV_PIDFD);
    char *end;
    long fd;

    if (v == NULL)
        return -1;
    fd = strtol(v, &end, 10);
    if (*end != '\0' || fd < 3 || fd > INT_MAX)
        return -1;
    return (int)fd;
}

/* A master started by an upgrade: the sockets it was handed. */
static void inherit(struct master *m)
{
    const char *v = getenv(ENV_FDS), *from = getenv(ENV_FROM);
    char *end;
    long fd;
    int type;
    socklen_t len;

    if (from != NULL)
        m->from_pid = (pid_t)strtol(from, NULL, 10);
    while (v != NULL && *v != '\0' && ninh < sizeof(inh_fd) / sizeof(inh_fd[0])) {
        fd = strtol(v, &end, 10);
        if (end == v || fd < 3 || fd > INT_MAX)
            break;
        len = sizeof(type);
        /* Only what is really a socket we were given. */
        if (getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM) {
            fcntl((int)fd, F_SETFD, FD_CLOEXEC);
            inh_fd[ninh++] = (int)fd;
        }
        v = *end == ',' ? end + 1 : end;
    }
    unsetenv(ENV_FDS);
    unsetenv(ENV_PIDFD);
    unsetenv(ENV_FROM);
}

static void master_notify(const char *msg)
{
    int rc = sl_notify(msg);

    if (rc < 0)
        SL_LOG(SL_LOG_WARN, 0, rc, "cannot tell systemd (NOTIFY_SOCKET) %s", msg);
}

/* ------------------------------------------------------------ the loop */

static void on_signal(struct master *m, int sig)
{
    switch (sig) {
    case SIGCHLD:
        reap(m);
        break;
    case SIGHUP:
        if (!m->stopping)
            reload(m);
        break;
    case SIGUSR1:
        if (sl_log_reopen() < 0)
            SL_LOG(SL_LOG_ERROR, 0, errno, "cannot reopen logs");
        signal_gen(m, 0, SIGUSR1, 0);
        break;
    case SIGUSR2:
        upgrade(m);
        break;
    case SIGQUIT:               /* a new master took over */
    case SIGTERM:
    case SIGINT:
        if (m->stopping == SIGINT || (m->stopping && sig != SIGINT))
            break;
        m->stopping = sig == SIGINT ? SIGINT : SIGTERM;
        if (sig == SIGQUIT && m->upgrade_pid != 0)
            m->handed_over = 1;
        m->stop_ms = now_ms();
        SL_LOG(SL_LOG_INFO, 0, 0, "%s: %zu workers to finish",
               sig == SIGINT ? "interrupted" : sig == SIGQUIT ? "replaced by a new master" :
               "shutting down", live_children(m));
        signal_gen(m, 0, sig == SIGQUIT ? SIGQUIT : sig, 1);
        break;
    }
}

static int64_t next_wait(const struct master *m)
{
    int64_t t = 1000, now = now_ms();
    size_t i;

    if (m->old_gen != 0)
        t = 20;                 /* watching the new generation come up */
    for (i = 0; i < m->sh->nused; i++)
        if (m->w[i].due_ms > 0 && m->w[i].due_ms - now < t)
            t = m->w[i].due_ms - now;
    return t < 0 ? 0 : t;
}

int sl_master_run(struct sl_master_args *a)
{
    char err[SL_CONF_ERR_MAX];
    struct master *m;
    struct timespec ts;
    siginfo_t si;
    ssize_t n;
    int64_t t;
    int sig, rc = 1;

    m = calloc(1, sizeof(*m));
    if (m == NULL)
        return 1;
    m->conf = sl_conf_ref(a->conf);
    m->conf_path = a->conf_path;
    m->listen_cli = a->listen_cli;
    m->sh = a->sh;
    m->pidfd = a->pidfd;
    m->argv = a->argv;
    n = readlink("/proc/self/exe", m->exe, sizeof(m->exe) - 1);
    m->exe[n > 0 ? n : 0] = '\0';
    sl_log_set_tag("master");
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&m->set);
    sigaddset(&m->set, SIGCHLD);
    sigaddset(&m->set, SIGHUP);
    sigaddset(&m->set, SIGUSR1);
    sigaddset(&m->set, SIGUSR2);
    sigaddset(&m->set, SIGTERM);
    sigaddset(&m->set, SIGINT);
    sigaddset(&m->set, SIGQUIT);
    sigprocmask(SIG_BLOCK, &m->set, NULL);
    inherit(m);
    if (ls_apply(m, m->conf, err, sizeof(err)) < 0) {
        SL_LOG(SL_LOG_ERROR, 0, 0, "%s", err);
        if (m->conf->error_log)
            fprintf(stderr, "squidlike: %s\n", err);
        goto out;
    }
    while (ninh > 0)            /* inherited and not wanted any more */
        if (inh_fd[--ninh] >= 0)
            close(inh_fd[ninh]);
    /* The store is made (or repaired, or moved aside) once, here, before
     * N workers open it at the same time; the master does not keep it
     * open (LMDB: no environment across a fork). */
    if (m->conf->cache.enabled) {
        struct cache_store_conf sc = { m->conf->cache.dir, m->conf->cache.size,
                                       m->conf->cache.max_object, 5, 0, 0, 0 };
        struct cache_store *st;

        sc.shared = m->from_pid > 0;    /* the old master's workers use it */
        st = cache_store_open(&sc, err, sizeof(err));

        if (st == NULL) {
            SL_LOG(SL_LOG_ERROR, 0, 0, "cache: %s", err);
            if (m->conf->error_log)
                fprintf(stderr, "squidlike: cache: %s\n", err);
            goto out;
        }
        cache_store_close(st);
    }
    m->gen = 1;
    if (start_generation(m, 1) < 0)
        goto out;
    {
        size_t i;

        for (i = 0; i < m->conf->n_listen; i++)
            SL_LOG(SL_LOG_INFO, 0, 0, "listening on %s", m->conf->listen[i].text);
    }
    SL_LOG(SL_LOG_INFO, 0, 0, "squidlike %s ready (pid %ld, config %s, %u workers)",
           PACKAGE_VERSION, (long)getpid(), m->conf_path, m->conf->workers);
    /* A new master tells systemd once its workers are up (below); the
     * first one now: its sockets take connections already. */
    if (m->from_pid > 0)
        m->old_gen = (unsigned)-1;  /* tell the old master once ours are up */
    else
        master_notify("READY=1");
    m->pending_ms = now_ms();
    sl_log_flush(NULL);
    for (;;) {
        if (m->stopping && live_children(m) == 0)
            break;
        t = next_wait(m);
        ts.tv_sec = t / 1000;
        ts.tv_nsec = (t % 1000) * 1000000;
        sig = sigtimedwait(&m->set, &si, &ts);
        if (sig > 0)
            on_signal(m, sig);
        if (!m->stopping)
            start_due(m);
        if (m->old_gen != 0 && !m->stopping &&
            (gen_ready(m, m->gen) || now_ms() - m->pending_ms > READY_WAIT_MS)) {
            if (m->old_gen == (unsigned)-1) {
                SL_LOG(SL_LOG_INFO, 0, 0, "upgrade: up; the old master (pid %ld) drains",
                       (long)m->from_pid);
                {
                    char msg[64];

                    snprintf(msg, sizeof(msg), "MAINPID=%ld\nREADY=1", (long)getpid());
                    master_notify(msg);
                }
                kill(m->from_pid, SIGQUIT);
                m->old_gen = 0;
            } else {
                retire_old(m);
            }
        }
        if (m->stopping && now_ms() - m->stop_ms >
                           (int64_t)m->conf->timeouts.shutdown + KILL_GRACE_MS) {
            SL_LOG(SL_LOG_WARN, 0, 0, "workers still running after the shutdown "
                   "timeout: killing them");
            signal_gen(m, 0, SIGKILL, 0);
            m->stop_ms = now_ms();
        }
        sl_log_flush(NULL);
    }
    rc = 0;
    SL_LOG(SL_LOG_INFO, 0, 0, "squidlike exiting");
out:
    {
        size_t i;

        for (i = 0; i < m->nls; i++)
            ls_close(&m->ls[i], 0);
    }
    if (m->handed_over && m->pidfd >= 0) {
        /* The pid file is the new master's now: close, do not remove. */
        close(m->pidfd);
        a->pidfd = -1;
    }
    sl_conf_unref(m->conf);
    free(m);
    return rc;
}
