/*
 * log.c - buffered error and access logs (see log.h); the access-log
 * line formats are in logfmt.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "squidlike/log.h"
#include "squidlike/logfmt.h"

#define LOG_BUF_SIZE 65536
#define LOG_LINE_MAX 4096
#define LOG_PEND_MAX (1u << 20)     /* per file, waiting for the writer */

/*
 * The event loop never writes a log file itself: a file system under
 * writeback pressure can hold a write(2) for milliseconds (measured: p99
 * of cache hits went from 0.4 ms to 2-12 ms with the access log on). Lines
 * collect in buf; once per loop iteration buf moves to pend, and a writer
 * thread writes pend out. If the disk falls more than LOG_PEND_MAX behind,
 * lines are dropped and counted rather than stalling the proxy. Before the
 * writer starts and after it stops, writes happen directly.
 */
struct log_file {
    int active;                 /* lines are wanted (main thread's view) */
    int fd;                     /* -1: closed; owned by the writer while on */
    int is_stderr;
    char *path;
    size_t used;
    char buf[LOG_BUF_SIZE];
    /* shared with the writer, under wlock */
    char *pend, *spare;         /* LOG_PEND_MAX each */
    size_t pend_len;
    int switching;              /* next_fd replaces fd (reopen) */
    int next_fd, next_is_stderr;
    unsigned long long dropped;
};

enum sl_log_level sl_log_level = SL_LOG_INFO;
static struct log_file errlog = { .active = 1, .fd = 2, .is_stderr = 1 };
static struct log_file acclog = { .fd = -1 };
static pthread_t writer;
static int writer_on, writer_stop;
static pthread_mutex_t wlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wcond = PTHREAD_COND_INITIALIZER;

static const char *level_names[] = { "error", "warn", "info", "debug" };

int sl_log_mkparents(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);
    char *p;

    if (n >= sizeof(tmp))
        return -ENAMETOOLONG;
    memcpy(tmp, path, n + 1);
    for (p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    return 0;
}

static void write_all(int fd, const char *p, size_t n)
{
    /* A short write means a full disk: drop the rest rather than spin. */
    while (n > 0 && fd >= 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* Writer thread: moves pend to disk, applies fd switches. */
static void writer_take(struct log_file *f, char **buf, size_t *len, int *fd,
                        int *close_fd)
{
    char *t;

    *close_fd = -1;
    if (f->switching) {
        if (!f->is_stderr)
            *close_fd = f->fd;
        f->fd = f->next_fd;
        f->is_stderr = f->next_is_stderr;
        f->switching = 0;
    }
    t = f->pend;
    f->pend = f->spare;
    f->spare = t;
    *buf = t;
    *len = f->pend_len;
    f->pend_len = 0;
    *fd = f->fd;
}

static void *writer_main(void *arg)
{
    struct log_file *files[2] = { &errlog, &acclog };
    char *buf[2];
    size_t len[2];
    int fd[2], cfd[2], i, stop;

    (void)arg;
    for (;;) {
        pthread_mutex_lock(&wlock);
        while (!writer_stop && !errlog.pend_len && !acclog.pend_len &&
               !errlog.switching && !acclog.switching)
            pthread_cond_wait(&wcond, &wlock);
        stop = writer_stop;
        for (i = 0; i < 2; i++)
            writer_take(files[i], &buf[i], &len[i], &fd[i], &cfd[i]);
        pthread_mutex_unlock(&wlock);
        for (i = 0; i < 2; i++) {
            write_all(fd[i], buf[i], len[i]);
            if (cfd[i] >= 0)
                close(cfd[i]);
        }
        if (stop)
            return NULL;
    }
}

int sl_log_start_writer(void)
{
    sigset_t all, old;
    int rc;

    if (writer_on)
        return 0;
    errlog.pend = malloc(LOG_PEND_MAX);
    errlog.spare = malloc(LOG_PEND_MAX);
    acclog.pend = malloc(LOG_PEND_MAX);
    acclog.spare = malloc(LOG_PEND_MAX);
    if (!errlog.pend || !errlog.spare || !acclog.pend || !acclog.spare)
        return -ENOMEM;
    sigfillset(&all);           /* the process's signals are not its own */
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = pthread_create(&writer, NULL, writer_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return -rc;
    writer_on = 1;
    return 0;
}

static void stop_writer(void)
{
    if (!writer_on)
        return;
    pthread_mutex_lock(&wlock);
    writer_stop = 1;
    pthread_cond_signal(&wcond);
    pthread_mutex_unlock(&wlock);
    pthread_join(writer, NULL);
    writer_on = 0;
    writer_stop = 0;
}

static void file_flush(struct log_file *f)
{
    if (f->used == 0)
        return;
    if (!writer_on) {
        write_all(f->fd, f->buf, f->used);
        f->used = 0;
        return;
    }
    pthread_mutex_lock(&wlock);
    if (f->pend_len + f->used <= LOG_PEND_MAX) {
        memcpy(f->pend + f->pend_len, f->buf, f->used);
        f->pend_len += f->used;
        pthread_cond_signal(&wcond);
    } else {
        f->dropped++;
    }
    pthread_mutex_unlock(&wlock);
    f->used = 0;
}

static void file_add(struct log_file *f, const char *line, size_t n)
{
    if (!f->active)
        return;
    if (f->used + n > sizeof(f->buf))
        file_flush(f);
    if (n > sizeof(f->buf))
        n = sizeof(f->buf);     /* one absurd line: cut, not lost */
    memcpy(f->buf + f->used, line, n);
    f->used += n;
}

/* Make fd (or stderr / off) the file's descriptor, now or via the writer. */
static void file_switch(struct log_file *f, int fd, int is_stderr)
{
    file_flush(f);
    f->active = fd >= 0;
    if (!writer_on) {
        if (f->fd >= 0 && !f->is_stderr)
            close(f->fd);
        f->fd = fd;
        f->is_stderr = is_stderr;
        return;
    }
    pthread_mutex_lock(&wlock);
    if (f->switching && f->next_fd >= 0 && !f->next_is_stderr)
        close(f->next_fd);      /* superseded before the writer took it */
    f->switching = 1;
    f->next_fd = fd;
    f->next_is_stderr = is_stderr;
    pthread_cond_signal(&wcond);
    pthread_mutex_unlock(&wlock);
}

static int file_open(struct log_file *f, const char *path)
{
    int fd, err;
    char *copy;

    if (path == NULL) {
        file_switch(f, f == &errlog ? 2 : -1, f == &errlog);
        free(f->path);
        f->path = NULL;
        return 0;
    }
    if ((err = sl_log_mkparents(path)) < 0)
        return err;
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    copy = strdup(path);
    if (copy == NULL) {
        close(fd);
        return -ENOMEM;
    }
    file_switch(f, fd, 0);
    free(f->path);
    f->path = copy;
    return 0;
}

int sl_log_open_error(const char *path, enum sl_log_level level)
{
    int rc = file_open(&errlog, path);

    if (rc == 0)
        sl_log_level = level;
    return rc;
}

int sl_log_open_access(const char *path)
{
    return file_open(&acclog, path);
}

static int file_reopen(struct log_file *f)
{
    char *path;
    int rc;

    if (f->path == NULL)
        return 0;
    path = strdup(f->path);
    if (path == NULL)
        return -ENOMEM;
    rc = file_open(f, path);
    free(path);
    return rc;
}

int sl_log_reopen(void)
{
    int a = file_reopen(&errlog), b = file_reopen(&acclog);

    return a < 0 ? a : b;
}

void sl_log_flush(void *unused)
{
    (void)unused;
    file_flush(&errlog);
    file_flush(&acclog);
}

void sl_log_close(void)
{
    sl_log_flush(NULL);
    stop_writer();              /* writes out what it holds */
    sl_log_open_access(NULL);
    sl_log_open_error(NULL, sl_log_level);
    free(errlog.pend);
    free(errlog.spare);
    free(acclog.pend);
    free(acclog.spare);
    errlog.pend = errlog.spare = acclog.pend = acclog.spare = NULL;
}

unsigned long long sl_log_dropped(void)
{
    return errlog.dropped + acclog.dropped;
}

static char log_tag[32];

void sl_log_set_tag(const char *tag)
{
    snprintf(log_tag, sizeof(log_tag), "%s", tag ? tag : "");
}

void sl_log(enum sl_log_level level, uint64_t conn, int err,
            const char *fmt, ...)
{
    char line[LOG_LINE_MAX];
    struct timespec ts;
    struct tm tm;
    va_list ap;
    size_t n;
    int k;

    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y/%m/%d %H:%M:%S", &tm);
    k = snprintf(line + n, sizeof(line) - n, ".%03ld [%s] ",
                 ts.tv_nsec / 1000000, level_names[level]);
    n += (size_t)k;
    if (log_tag[0]) {
        k = snprintf(line + n, sizeof(line) - n, "%s: ", log_tag);
        n += (size_t)k;
    }
    if (conn) {
        k = snprintf(line + n, sizeof(line) - n, "conn %llu: ",
                     (unsigned long long)conn);
        n += (size_t)k;
    }
    va_start(ap, fmt);
    k = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    n = k < 0 ? n : (n + (size_t)k >= sizeof(line) ? sizeof(line) - 1 : n + (size_t)k);
    if (err && n < sizeof(line) - 1) {
        k = snprintf(line + n, sizeof(line) - n, ": %s", strerror(err < 0 ? -err : err));
        n = k < 0 ? n : (n + (size_t)k >= sizeof(line) ? sizeof(line) - 1 : n + (size_t)k);
    }
    if (n >= sizeof(line) - 1)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    file_add(&errlog, line, n);
    if (level == SL_LOG_ERROR)
        file_flush(&errlog);
}

void sl_log_access(const struct sl_log_access *a)
{
    char line[SL_LOGFMT_LINE_MAX];

    if (acclog.path == NULL)
        return;
    file_add(&acclog, line, sl_logfmt_access(a, line, sizeof(line)));
}
