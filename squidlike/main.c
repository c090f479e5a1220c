/*
 * main.c - command line, pid file, signals, and the life of the process:
 * load the configuration, open logs, bind, run the loop, clean up.
 *
 *   squidlike [-f FILE] [-a [ADDR:]PORT] [-k CMD] [-N] [-v] [-h]
 */
#include "config.h"

#include <ares.h>
#include <brotli/encode.h>
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <lmdb.h>
#include <openssl/crypto.h>
#include <pcre2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <zlib.h>

#include "squidlike/conf.h"
#include "squidlike/log.h"
#include "squidlike/master.h"
#include "squidlike/server.h"
#include "squidlike/shared.h"
#include "squidlike/worker.h"

#ifndef SL_SYSCONFDIR
#define SL_SYSCONFDIR "/etc"
#endif

struct opts {
    const char *conf_path;
    const char *listen;         /* -a */
    const char *k;              /* -k */
};

static void usage(FILE *f)
{
    fprintf(f,
        "usage: squidlike [-f FILE] [-a [ADDR:]PORT] [-k CMD] [-N] [-v] [-h]\n"
        "  -f FILE   configuration file (default %s/squidlike.conf)\n"
        "  -a ADDR   listen on [ADDR:]PORT instead of the file's listen list\n"
        "  -k CMD    parse: check the configuration and exit\n"
        "            reconfigure | reopen | rotate | shutdown | interrupt | kill |\n"
        "            check | upgrade: signal the running instance (via its pid file)\n"
        "  -N        stay in the foreground (always the case; for Squid habits)\n"
        "  -v        version and features\n", SL_SYSCONFDIR);
}

static void version(void)
{
    int maj, min, pat;
    uint32_t br;
    char pcre[32] = "?";

    mdb_version(&maj, &min, &pat);
    pcre2_config(PCRE2_CONFIG_VERSION, pcre);
    printf("squidlike %s\n", PACKAGE_VERSION);
    printf("features: epoll edge-triggered loop, HTTP/1.1 forward proxy, "
           "CONNECT tunnels, async DNS, RFC 9111 cache (LMDB), Squid ACLs, "
           "UT1 blocklists, SNI peek, Basic proxy auth (crypt), reverse proxy "
           "(TLS, gzip and Brotli compression, rate limits)\n");
    br = BrotliEncoderVersion();
    printf("libraries: c-ares %s, %s, LMDB %d.%d.%d, PCRE2 %s, libconfig %d.%d, "
           "zlib %s, Brotli %u.%u.%u\n",
           ares_version(NULL), OpenSSL_version(OPENSSL_VERSION), maj, min, pat,
           pcre, LIBCONFIG_VER_MAJOR, LIBCONFIG_VER_MINOR, zlibVersion(),
           br >> 24, (br >> 12) & 0xfff, br & 0xfff);
}

/* --- pid file --------------------------------------------------------- */

/*
 * The pid file is locked for the life of the process: a lock we can take
 * means nobody runs, whatever a stale file says.
 */
static int pidfile_create(const char *path, char *err, size_t errlen)
{
    char buf[32];
    int fd, n, rc;

    if ((rc = sl_log_mkparents(path)) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(-rc));
        return -1;
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        n = (int)read(fd, buf, sizeof(buf) - 1);
        buf[n > 0 ? n : 0] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        snprintf(err, errlen, "another squidlike is running (pid %s, %s)",
                 buf[0] ? buf : "?", path);
        close(fd);
        return -1;
    }
    n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || write(fd, buf, (size_t)n) != n) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* -k: find the running instance and signal it. */
static int signal_running(const struct sl_conf *conf, const char *cmd)
{
    static const struct { const char *name; int sig; } cmds[] = {
        { "reconfigure", SIGHUP }, { "reopen", SIGUSR1 }, { "rotate", SIGUSR1 },
        { "shutdown", SIGTERM }, { "interrupt", SIGINT }, { "kill", SIGKILL },
        { "check", 0 }, { "upgrade", SIGUSR2 },
    };
    char buf[32];
    long pid;
    int fd, n, sig = -1;
    size_t i;

    for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (strcmp(cmd, cmds[i].name) == 0)
            sig = cmds[i].sig;
    if (sig < 0) {
        fprintf(stderr, "squidlike: unknown -k command '%s'\n", cmd);
        usage(stderr);
        return 2;
    }
    if (conf->pid_file == NULL) {
        fprintf(stderr, "squidlike: no pid_file configured\n");
        return 1;
    }
    fd = open(conf->pid_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "squidlike: not running (%s: %s)\n", conf->pid_file,
                strerror(errno));
        return 1;
    }
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        fprintf(stderr, "squidlike: not running (stale %s)\n", conf->pid_file);
        close(fd);
        return 1;
    }
    n = (int)read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    pid = strtol(buf, NULL, 10);
    if (pid <= 1) {
        fprintf(stderr, "squidlike: bad pid in %s\n", conf->pid_file);
        return 1;
    }
    if (kill((pid_t)pid, sig) < 0) {
        fprintf(stderr, "squidlike: pid %ld: %s\n", pid, strerror(errno));
        return 1;
    }
    return 0;
}

/* --- main ------------------------------------------------------------- */

static int parse_args(int argc, char **argv, struct opts *o)
{
    int ch;

    o->conf_path = SL_SYSCONFDIR "/squidlike.conf";
    while ((ch = getopt(argc, argv, "f:a:k:Nvhd:")) != -1) {
        switch (ch) {
        case 'f': o->conf_path = optarg; break;
        case 'a': o->listen = optarg; break;
        case 'k': o->k = optarg; break;
        case 'N': break;
        case 'd': break;        /* Squid's debug level: use log_level */
        case 'v': version(); exit(0);
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return -1;
    }
    return 0;
}

/* A new master started by a binary upgrade: the old one's locked pid
 * file, now with our pid in it. */
static int pidfile_adopt(int fd, char *err, size_t errlen)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

    fcntl(fd, F_SETFD, FD_CLOEXEC);
    if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
        snprintf(err, errlen, "pid file: %s", strerror(errno));
        return -1;
    }
    return fd;
}

static int run(struct sl_conf *conf, const char *conf_path, int listen_cli, char **argv)
{
    char err[SL_CONF_ERR_MAX];
    struct sl_shared *sh = NULL;
    struct sl_worker_args wa;
    int pidfd = -1, rc = 1, r, slot;

    if ((r = sl_log_open_error(conf->error_log, conf->log_level)) < 0) {
        fprintf(stderr, "squidlike: cannot open error log %s: %s\n",
                conf->error_log, strerror(-r));
        return 1;
    }
    if ((r = sl_log_open_access(conf->access_log)) < 0) {
        SL_LOG(SL_LOG_ERROR, 0, r, "cannot open access log %s", conf->access_log);
        fprintf(stderr, "squidlike: cannot open access log %s: %s\n",
                conf->access_log, strerror(-r));
        goto out;
    }
    if ((r = sl_master_inherited_pidfd()) >= 0) {
        if ((pidfd = pidfile_adopt(r, err, sizeof(err))) < 0)
            goto fail;
    } else if (conf->pid_file &&
               (pidfd = pidfile_create(conf->pid_file, err, sizeof(err))) < 0) {
        goto fail;
    }
    if ((sh = sl_shared_new()) == NULL) {
        snprintf(err, sizeof(err), "cannot map shared memory: %s", strerror(errno));
        goto fail;
    }
    if (sl_shared_prepare(sh, conf, err, sizeof(err)) < 0)
        goto fail;
    if (conf->workers > 1) {
        struct sl_master_args ma = { conf, conf_path, listen_cli, sh, pidfd, argv };

        rc = sl_master_run(&ma);
        pidfd = ma.pidfd;
        goto out;
    }
    sh->generation = 1;
    slot = sl_shared_take(sh, 0, 1);
    sh->slots[slot].pid = getpid();
    memset(&wa, 0, sizeof(wa));
    wa.conf = conf;
    wa.conf_path = conf_path;
    wa.sh = sh;
    wa.slot = slot;
    wa.listen_cli = listen_cli;
    rc = sl_worker_run(&wa);
    goto out;
fail:
    SL_LOG(SL_LOG_ERROR, 0, 0, "%s", err);
    if (conf->error_log)        /* also tell whoever started us */
        fprintf(stderr, "squidlike: %s\n", err);
out:
    sl_shared_free(sh);
    if (pidfd >= 0) {
        unlink(conf->pid_file);
        close(pidfd);
    }
    sl_log_close();
    return rc;
}

int main(int argc, char **argv)
{
    char err[SL_CONF_ERR_MAX];
    struct opts o;
    struct sl_conf *conf;
    struct sl_conf_listen l;
    const char *lerr;
    int rc;

    memset(&o, 0, sizeof(o));
    if (parse_args(argc, argv, &o) < 0)
        return 2;
    conf = sl_conf_load(o.conf_path, err, sizeof(err));
    if (conf == NULL) {
        fprintf(stderr, "squidlike: %s\n", err);
        return 1;
    }
    if (o.listen) {
        if (sl_conf_parse_listen(o.listen, &l, &lerr) < 0) {
            fprintf(stderr, "squidlike: -a %s: %s\n", o.listen, lerr);
            sl_conf_unref(conf);
            return 2;
        }
        conf->listen[0] = l;
        conf->n_listen = 1;
    }
    if (o.k && strcmp(o.k, "parse") == 0) {
        printf("%s: configuration OK\n", o.conf_path);
        rc = 0;
    } else if (o.k) {
        rc = signal_running(conf, o.k);
    } else {
        ares_library_init(ARES_LIB_INIT_ALL);
        rc = run(conf, o.conf_path, o.listen != NULL, argv);
        ares_library_cleanup();
    }
    sl_conf_unref(conf);
    return rc;
}
