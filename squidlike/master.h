/*
 * master.h - the master process (workers >= 2): sockets, the workers'
 * lives, reloads and binary upgrades. See master.c.
 */
#ifndef SL_MASTER_H
#define SL_MASTER_H

struct sl_conf;
struct sl_shared;

struct sl_master_args {
    struct sl_conf *conf;       /* the master takes a reference of its own */
    const char *conf_path;
    int listen_cli;             /* -a given: conf->listen[0] stays across reloads */
    struct sl_shared *sh;
    int pidfd;                  /* the locked pid file, or -1; set to -1 when
                                   it was handed to a new master (upgrade) */
    char **argv;                /* for a binary upgrade: run again with these */
};

/* Run until told to stop; returns the exit status. */
int sl_master_run(struct sl_master_args *a);

/* A master started by a binary upgrade finds what it inherits in the
 * environment (SQUIDLIKE_UPGRADE_FDS, _PIDFD, _FROM). Returns the pid
 * file descriptor handed over, or -1 when not an upgrade. */
int sl_master_inherited_pidfd(void);

#endif
