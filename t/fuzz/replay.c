/*
 * replay.c - the standalone runner of the fuzz targets: make check links
 * each t/fuzz/fuzz_<name>.c with this main() instead of libFuzzer, built
 * with the normal compiler and flags (and so under ASan+UBSan in CI's
 * second run), into t/fuzz/replay_<name>, and runs it as a test. It feeds
 * every file of the target's corpus, t/fuzz/corpus/<name>/, to
 * LLVMFuzzerTestOneInput once (and an empty input first, as libFuzzer
 * does): the seeds, and the reproducers of fixed findings, stay passing.
 * A target's invariants abort(), which fails the test.
 *
 *   t/fuzz/replay_http                 the corpus, found through $top_srcdir
 *                                      (automake exports it), else "."
 *   t/fuzz/replay_http FILE|DIR...     those inputs instead (a crash-*
 *                                      file libFuzzer wrote, a corpus)
 *
 * Each input is a heap copy of exactly its size, as libFuzzer passes it,
 * so that a read past the end is seen by ASan. Directories are read in
 * name order; dot files are skipped. Exit 0, 1 when an input cannot be
 * read, 99 (automake's hard error) when there are no inputs at all: an
 * empty or missing corpus must not pass as a replay.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REPLAY_MAX_INPUT (1024 * 1024)  /* seeds are small; a bigger file is a mistake */
#define REPLAY_PREFIX "replay_"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Defined by the targets that need setting up (fuzz_blocklist.c). */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static const char *prog;
static unsigned long ninputs;

/* Run one input of size bytes from a file; 0 or -1 (reported). */
static int run_file(const char *path)
{
    struct stat st;
    uint8_t *buf = NULL;
    size_t got = 0;
    ssize_t n;
    int fd, rc = -1;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > REPLAY_MAX_INPUT) {
        fprintf(stderr, "%s: %s: not a regular file of at most %d bytes\n",
                prog, path, REPLAY_MAX_INPUT);
        goto out;
    }
    buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
    if (buf == NULL) {
        fprintf(stderr, "%s: %s: out of memory\n", prog, path);
        goto out;
    }
    while (got < (size_t)st.st_size) {
        n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n <= 0) {
            fprintf(stderr, "%s: %s: %s\n", prog, path,
                    n < 0 ? strerror(errno) : "shorter than its size");
            goto out;
        }
        got += (size_t)n;
    }
    /* Named before it runs: the last name printed is the one that crashed. */
    printf("%s\n", path);
    fflush(stdout);
    LLVMFuzzerTestOneInput(buf, got);
    ninputs++;
    rc = 0;
out:
    free(buf);
    if (fd >= 0)
        close(fd);
    return rc;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int skip_dots(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

/* Every file of dir, in name order; 0 or -1. */
static int run_dir(const char *dir)
{
    struct dirent **v;
    char path[PATH_MAX];
    int n, i, rc = 0;

    n = scandir(dir, &v, skip_dots, by_name);
    if (n < 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, dir, strerror(errno));
        return -1;
    }
    for (i = 0; i < n; i++) {
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, v[i]->d_name)
            >= sizeof(path)) {
            fprintf(stderr, "%s: %s/%s: path too long\n", prog, dir,
                    v[i]->d_name);
            rc = -1;
        } else if (run_file(path) < 0) {
            rc = -1;
        }
        free(v[i]);
    }
    free(v);
    return rc;
}

static int run_path(const char *path)
{
    struct stat st;

    if (stat(path, &st) < 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
        return -1;
    }
    return S_ISDIR(st.st_mode) ? run_dir(path) : run_file(path);
}

int main(int argc, char **argv)
{
    static const uint8_t empty[1];
    const char *top = getenv("top_srcdir");
    char corpus[PATH_MAX];
    const char *name;
    int i, rc = 0;

    prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    if (LLVMFuzzerInitialize != NULL)
        LLVMFuzzerInitialize(&argc, &argv);
    LLVMFuzzerTestOneInput(empty, 0);
    if (argc > 1) {
        for (i = 1; i < argc; i++)
            if (run_path(argv[i]) < 0)
                rc = 1;
    } else {
        /* replay_<name> replays t/fuzz/corpus/<name> */
        name = strncmp(prog, REPLAY_PREFIX, strlen(REPLAY_PREFIX)) == 0 ?
               prog + strlen(REPLAY_PREFIX) : prog;
        if ((size_t)snprintf(corpus, sizeof(corpus), "%s/t/fuzz/corpus/%s",
                             top != NULL && top[0] != '\0' ? top : ".", name)
            >= sizeof(corpus)) {
            fprintf(stderr, "%s: corpus path too long\n", prog);
            return 99;
        }
        if (run_dir(corpus) < 0)
            rc = 1;
    }
    if (ninputs == 0) {
        fprintf(stderr, "%s: no inputs replayed\n", prog);
        return 99;
    }
    printf("%s: %lu inputs replayed, no invariant broken\n", prog, ninputs);
    return rc;
}
