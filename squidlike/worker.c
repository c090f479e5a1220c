/*
 * worker.c - one serving process (see worker.h): what main.c did alone
 * before there were workers.
 *
 * Signals: TERM drains and exits, INT closes everything now, USR1
 * reopens the logs. A single process reloads on HUP itself; a worker
 * leaves HUP to the master, which replaces it, and drains on QUIT
 * (sl_server_drain_soft) when its replacement is up.
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "squidlike/conf.h"
#include "squidlike/log.h"
#include "squidlike/loop.h"
#include "squidlike/notify.h"
#include "squidlike/server.h"
#include "squidlike/shared.h"
#include "squidlike/worker.h"

struct sigctx {
    struct sl_io io;
    struct sl_server *srv;
    const char *conf_path;
    int single;
};

static void on_signal(struct sl_io *io, unsigned ev)
{
    struct sigctx *sc = io->data;
    struct signalfd_siginfo si;
    int rc;

    (void)ev;
    while (read(io->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        switch (si.ssi_signo) {
        case SIGHUP:
            if (!sc->single)
                break;          /* the master's job */
            sl_server_reload(sc->srv, sc->conf_path);
            sl_loop_update_time(sc->srv->loop);
            break;
        case SIGUSR1:
            if ((rc = sl_log_reopen()) < 0)
                SL_LOG(SL_LOG_ERROR, 0, rc, "cannot reopen logs");
            else
                SL_LOG(SL_LOG_INFO, 0, 0, "logs reopened");
            break;
        case SIGQUIT:
            sl_server_drain_soft(sc->srv);
            break;
        case SIGUSR2:
            SL_LOG(SL_LOG_WARN, 0, 0, "a binary upgrade (-k upgrade) needs workers >= 2: "
                   "restart this one");
            break;
        case SIGTERM:
            sl_server_drain(sc->srv);
            break;
        case SIGINT:
            SL_LOG(SL_LOG_INFO, 0, 0, "interrupted: closing all connections");
            sl_server_stop(sc->srv);
            break;
        }
    }
}

static int signals_setup(struct sigctx *sc, struct sl_loop *loop)
{
    sigset_t set;
    int fd;

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGQUIT);
    sigaddset(&set, SIGUSR2);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -errno;
    fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    sc->io.fd = fd;
    sc->io.cb = on_signal;
    sc->io.data = sc;
    return sl_loop_set_lt(loop, &sc->io, SL_IO_READ, 0);
}

int sl_worker_run(const struct sl_worker_args *a)
{
    char err[SL_CONF_ERR_MAX];
    struct sl_conf *conf = a->conf;
    struct sl_loop *loop = NULL;
    struct sl_server *srv = NULL;
    struct sigctx sc;
    int rc = 1, r;
    size_t i;

    memset(&sc, 0, sizeof(sc));
    sc.io.fd = -1;
    sc.single = a->ls == NULL;
    if (conf->worker_sched_batch > 0 || (conf->worker_sched_batch < 0 && !sc.single)) {
        /* No wakeup preemption: woken by a client on a core another
         * busy process holds, we wait for its turn to end and then serve
         * all that came meanwhile, instead of one request per switch.
         * The threads made below (logs, store sync) inherit it. */
        struct sched_param sp = { 0 };

        if (sched_setscheduler(0, SCHED_BATCH, &sp) < 0)
            SL_LOG(SL_LOG_WARN, 0, errno, "worker_sched_batch: SCHED_BATCH");
    }
    loop = sl_loop_new();
    if (loop == NULL) {
        snprintf(err, sizeof(err), "cannot create the event loop: %s", strerror(errno));
        goto fail;
    }
    srv = sl_server_new(loop, conf, a->sh, a->slot, err, sizeof(err));
    if (srv == NULL)
        goto fail;
    srv->listen_from_cli = a->listen_cli;
    if (a->ls == NULL ? sl_server_listen(srv, err, sizeof(err)) :
                        sl_server_adopt(srv, a->ls, a->nls, a->exclusive, err, sizeof(err)))
        goto fail;
    sc.srv = srv;
    sc.conf_path = a->conf_path;
    if ((r = signals_setup(&sc, loop)) < 0) {
        snprintf(err, sizeof(err), "signals: %s", strerror(-r));
        goto fail;
    }
    sl_loop_set_idle_hook(loop, sl_server_idle, srv);
    sl_loop_set_busy_poll(loop, (unsigned)conf->limits.busy_poll_us);
    if ((r = sl_log_start_writer()) < 0)
        SL_LOG(SL_LOG_WARN, 0, r, "no log writer thread: logs are written "
               "from the event loop");
    if (sc.single) {
        for (i = 0; i < conf->n_listen; i++)
            SL_LOG(SL_LOG_INFO, 0, 0, "listening on %s", conf->listen[i].text);
        SL_LOG(SL_LOG_INFO, 0, 0, "squidlike %s ready (pid %ld, config %s)",
               PACKAGE_VERSION, (long)getpid(), a->conf_path);
    }
    srv->slot->ready = 1;
    if (sc.single && (r = sl_notify("READY=1")) < 0)
        SL_LOG(SL_LOG_WARN, 0, r, "cannot tell systemd we are ready (NOTIFY_SOCKET)");
    sl_log_flush(NULL);
    if ((r = sl_loop_run(loop)) < 0)
        SL_LOG(SL_LOG_ERROR, 0, r, "event loop failed");
    else
        rc = 0;
    if (sc.single)
        SL_LOG(SL_LOG_INFO, 0, 0, "squidlike exiting");
    goto out;
fail:
    SL_LOG(SL_LOG_ERROR, 0, 0, "%s", err);
    if (conf->error_log)        /* also tell whoever started us */
        fprintf(stderr, "squidlike: %s\n", err);
out:
    if (sc.io.fd >= 0)
        close(sl_loop_del(loop, &sc.io));
    sl_server_free(srv);
    sl_loop_free(loop);
    return rc;
}
