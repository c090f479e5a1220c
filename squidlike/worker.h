/*
 * worker.h - one serving process: the event loop, the server and its
 * signals. Run by main.c when workers = 1 (the process binds its own
 * sockets and reloads itself), and by the master in each worker it
 * forks (the sockets are the master's, and the master reloads).
 */
#ifndef SL_WORKER_H
#define SL_WORKER_H

#include <stddef.h>

struct sl_conf;
struct sl_shared;
struct sl_lsock;

struct sl_worker_args {
    struct sl_conf *conf;
    const char *conf_path;
    struct sl_shared *sh;
    int slot;                   /* in sh */
    const struct sl_lsock *ls;  /* NULL: one process, bind conf's */
    size_t nls;
    int exclusive;              /* ls are shared by all workers */
    int listen_cli;             /* -a given */
};

/* Serve until stopped. Returns the exit status. */
int sl_worker_run(const struct sl_worker_args *a);

#endif
