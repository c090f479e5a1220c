/*
 * log.c - buffered error and access logs (see log.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "squidlike/log.h"

#define LOG_BUF_SIZE 65536
#define LOG_LINE_MAX 4096

struct log_file {
    int fd;                     /* -1: closed */
    int is_stderr;
    char *path;
    size_t used;
    char buf[LOG_BUF_SIZE];
};

enum sl_log_level sl_log_level = SL_LOG_INFO;
static struct log_file errlog = { .fd = 2, .is_stderr = 1 };
static struct log_file acclog = { .fd = -1 };

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

static void file_write_all(struct log_file *f, const char *p, size_t n)
{
    /* Logs are local files: a short write means a full disk; drop the rest
     * rather than spin in the event loop. */
    while (n > 0) {
        ssize_t w = write(f->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void file_flush(struct log_file *f)
{
    if (f->used && f->fd >= 0)
        file_write_all(f, f->buf, f->used);
    f->used = 0;
}

static void file_add(struct log_file *f, const char *line, size_t n)
{
    if (f->fd < 0)
        return;
    if (f->used + n > sizeof(f->buf))
        file_flush(f);
    if (n > sizeof(f->buf)) {
        file_write_all(f, line, n);
        return;
    }
    memcpy(f->buf + f->used, line, n);
    f->used += n;
}

static int file_open(struct log_file *f, const char *path)
{
    int fd, err;
    char *copy;

    if (path == NULL) {
        file_flush(f);
        if (f->fd >= 0 && !f->is_stderr)
            close(f->fd);
        free(f->path);
        f->path = NULL;
        f->fd = f == &errlog ? 2 : -1;
        f->is_stderr = f == &errlog;
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
    file_flush(f);
    if (f->fd >= 0 && !f->is_stderr)
        close(f->fd);
    free(f->path);
    f->fd = fd;
    f->is_stderr = 0;
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
    sl_log_open_access(NULL);
    sl_log_open_error(NULL, sl_log_level);
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
    char line[4 * LOG_LINE_MAX];        /* room for an 8 KiB URL */
    int k;

    if (acclog.fd < 0)
        return;
    /* %ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt */
    k = snprintf(line, sizeof(line),
                 "%lld.%03d %6lld %s %s/%03d %lld %s %s %s %s/%s %s\n",
                 (long long)(a->time_ms / 1000), (int)(a->time_ms % 1000),
                 (long long)a->elapsed_ms, a->client, a->code, a->status,
                 (long long)a->bytes, a->method, a->url,
                 a->user ? a->user : "-", a->hier, a->peer ? a->peer : "-",
                 a->type ? a->type : "-");
    if (k < 0)
        return;
    if ((size_t)k >= sizeof(line)) {
        /* A very long URL: keep the line well-formed, end it. */
        k = sizeof(line) - 1;
        line[k - 1] = '\n';
    }
    file_add(&acclog, line, (size_t)k);
}
