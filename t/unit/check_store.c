/*
 * check_store.c - the LMDB object store: visibility only after the commit,
 * inline and chunked bodies, replacement, abort, recovery after a writer
 * dies, eviction under the cap, persistence, a damaged store.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache/store.h"

static char dir[256];

static void setup(void)
{
    char tmpl[] = "/tmp/check_store.XXXXXX";

    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    snprintf(dir, sizeof(dir), "%s/db", tmpl);
}

static void teardown(void)
{
    char cmd[400];

    snprintf(cmd, sizeof(cmd), "rm -rf '%.*s'", (int)(strlen(dir) - 3), dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed: %s\n", cmd);
}

static struct cache_store *open_store(uint64_t max_size)
{
    struct cache_store_conf conf = { dir, max_size, 4u << 20, 1 };
    char err[256] = "";
    struct cache_store *st = cache_store_open(&conf, err, sizeof(err));

    ck_assert_msg(st != NULL, "open: %s", err);
    return st;
}

static void fill(char *p, size_t n, unsigned seed)
{
    size_t i;

    for (i = 0; i < n; i++)
        p[i] = (char)((i * 131 + seed * 7) & 0xff);
}

/* Store key with a body of n bytes made by fill(seed); flush. */
static void put(struct cache_store *st, const char *key, size_t n, unsigned seed)
{
    char *body = malloc(n ? n : 1);
    struct cache_writer *w;

    fill(body, n, seed);
    w = cache_store_write_begin(st, key, strlen(key), "XTRA", 4,
                                "HTTP/1.1 200 OK\r\n\r\n", 19, (int64_t)n, 0);
    ck_assert_ptr_nonnull(w);
    /* in uneven pieces, across chunk boundaries */
    {
        size_t off = 0, step = 7777;
        while (off < n) {
            size_t k = n - off < step ? n - off : step;
            ck_assert_int_eq(cache_store_write(w, body + off, k), 0);
            off += k;
            step = step * 3 % 50000 + 1;
        }
    }
    cache_store_write_end(w);
    ck_assert_int_eq(cache_store_flush(st), 0);
    free(body);
}

/* Read key's body back and compare with fill(seed). */
static void check_body(struct cache_store *st, const char *key, size_t n,
                       unsigned seed)
{
    struct cache_obj o;
    char *want = malloc(n ? n : 1), *got = malloc(n ? n : 1);
    size_t off = 0;
    uint32_t idx = 0;

    fill(want, n, seed);
    ck_assert_int_eq(cache_store_lookup(st, key, strlen(key), &o), 0);
    ck_assert_int_eq(o.body_size, (int64_t)n);
    ck_assert_uint_eq(o.extra_len, 4);
    ck_assert_int_eq(memcmp(o.extra, "XTRA", 4), 0);
    ck_assert_uint_eq(o.head_len, 19);
    ck_assert_int_eq(memcmp(o.head, "HTTP/1.1 200 OK\r\n\r\n", 19), 0);
    if (o.body) {
        memcpy(got, o.body, n);
        off = n;
    }
    while (off < n) {
        const void *p;
        size_t len;
        ck_assert_int_eq(cache_store_chunk(st, o.id, idx++, &p, &len), 0);
        ck_assert_uint_le(off + len, n);
        memcpy(got + off, p, len);
        off += len;
    }
    cache_store_release(st);
    ck_assert_int_eq(memcmp(want, got, n), 0);
    free(want);
    free(got);
}

START_TEST(miss_then_inline_hit)
{
    struct cache_store *st = open_store(64u << 20);
    struct cache_obj o;
    struct cache_writer *w;

    ck_assert_int_eq(cache_store_lookup(st, "GET http://a/", 13, &o), -ENOENT);
    cache_store_release(st);
    w = cache_store_write_begin(st, "GET http://a/", 13, "XTRA", 4,
                                "HTTP/1.1 200 OK\r\n\r\n", 19, 5, 0);
    ck_assert_int_eq(cache_store_write(w, "hello", 5), 0);
    cache_store_write_end(w);
    /* Not visible before the commit. */
    ck_assert_int_eq(cache_store_lookup(st, "GET http://a/", 13, &o), -ENOENT);
    cache_store_release(st);
    ck_assert_int_eq(cache_store_flush(st), 0);
    ck_assert_int_eq(cache_store_lookup(st, "GET http://a/", 13, &o), 0);
    ck_assert(o.flags & CACHE_OBJ_INLINE);
    ck_assert_int_eq(memcmp(o.body, "hello", 5), 0);
    cache_store_release(st);
    /* A different key does not match. */
    ck_assert_int_eq(cache_store_lookup(st, "GET http://b/", 13, &o), -ENOENT);
    cache_store_release(st);
    cache_store_close(st);
}
END_TEST

START_TEST(chunked_body)
{
    struct cache_store *st = open_store(64u << 20);
    struct cache_obj o;

    put(st, "GET http://big/", 300000, 1);
    check_body(st, "GET http://big/", 300000, 1);
    ck_assert_int_eq(cache_store_lookup(st, "GET http://big/", 15, &o), 0);
    ck_assert(!(o.flags & CACHE_OBJ_INLINE));
    ck_assert_ptr_null(o.body);
    cache_store_release(st);
    put(st, "GET http://empty/", 0, 2);
    check_body(st, "GET http://empty/", 0, 2);
    put(st, "GET http://exact/", 128 * 1024, 3);   /* one whole chunk */
    check_body(st, "GET http://exact/", 128 * 1024, 3);
    cache_store_close(st);
}
END_TEST

START_TEST(replace_drops_old_chunks)
{
    struct cache_store *st = open_store(64u << 20);
    struct cache_obj o;
    const void *p;
    size_t len;
    uint64_t old;

    put(st, "GET http://r/", 300000, 1);
    ck_assert_int_eq(cache_store_lookup(st, "GET http://r/", 13, &o), 0);
    old = o.id;
    cache_store_release(st);
    put(st, "GET http://r/", 200000, 9);
    check_body(st, "GET http://r/", 200000, 9);
    ck_assert_int_eq(cache_store_chunk(st, old, 0, &p, &len), -ENOENT);
    cache_store_release(st);
    cache_store_close(st);
}
END_TEST

START_TEST(abort_leaves_nothing)
{
    struct cache_store *st = open_store(64u << 20);
    struct cache_store_stats s;
    struct cache_obj o;
    struct cache_writer *w;
    char buf[100000];
    const void *p;
    size_t len;
    uint64_t id;

    fill(buf, sizeof(buf), 5);
    w = cache_store_write_begin(st, "GET http://x/", 13, "", 0, "H", 1, -1, 0);
    id = cache_writer_id(w);
    ck_assert_int_eq(cache_store_write(w, buf, sizeof(buf)), 0);
    ck_assert_int_eq(cache_store_write(w, buf, sizeof(buf)), 0);
    ck_assert_int_eq(cache_store_flush(st), 0);    /* a chunk is in */
    ck_assert_int_eq(cache_store_chunk(st, id, 0, &p, &len), 0);
    cache_store_release(st);
    cache_store_write_abort(w);
    ck_assert_int_eq(cache_store_flush(st), 0);
    ck_assert_int_eq(cache_store_chunk(st, id, 0, &p, &len), -ENOENT);
    ck_assert_int_eq(cache_store_lookup(st, "GET http://x/", 13, &o), -ENOENT);
    cache_store_release(st);
    cache_store_get_stats(st, &s);
    ck_assert_uint_eq(s.bytes, 0);
    ck_assert_uint_eq(s.objects, 0);
    cache_store_close(st);
}
END_TEST

START_TEST(too_big_refused)
{
    struct cache_store *st = open_store(64u << 20);
    struct cache_writer *w;
    static char buf[1 << 20];
    int i, rc = 0;

    ck_assert_ptr_null(cache_store_write_begin(st, "k", 1, "", 0, "H", 1,
                                               (5 << 20), 0));
    w = cache_store_write_begin(st, "k", 1, "", 0, "H", 1, -1, 0);
    for (i = 0; i < 5 && rc == 0; i++)
        rc = cache_store_write(w, buf, sizeof(buf));
    ck_assert_int_eq(rc, -EFBIG);
    cache_store_write_abort(w);
    ck_assert_int_eq(cache_store_flush(st), 0);
    cache_store_close(st);
}
END_TEST

START_TEST(persists_across_reopen_and_delete)
{
    struct cache_store *st = open_store(64u << 20);
    struct cache_obj o;

    put(st, "GET http://p/", 200000, 4);
    put(st, "GET http://q/", 10, 5);
    cache_store_close(st);
    st = open_store(64u << 20);
    check_body(st, "GET http://p/", 200000, 4);
    check_body(st, "GET http://q/", 10, 5);
    cache_store_delete(st, "GET http://p/", 13);
    ck_assert_int_eq(cache_store_flush(st), 0);
    ck_assert_int_eq(cache_store_lookup(st, "GET http://p/", 13, &o), -ENOENT);
    cache_store_release(st);
    check_body(st, "GET http://q/", 10, 5);
    cache_store_close(st);
}
END_TEST

START_TEST(dead_writer_chunks_removed_at_open)
{
    int fds[2];
    pid_t pid;
    uint64_t id = 0;
    struct cache_store *st;
    struct cache_store_stats s;
    const void *p;
    size_t len;
    int status;

    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* A writer that dies mid-object, as kill -9 would leave it. */
        struct cache_store *cst = open_store(64u << 20);
        struct cache_writer *w;
        static char buf[300000];
        w = cache_store_write_begin(cst, "GET http://dead/", 16, "", 0, "H", 1, -1, 0);
        id = cache_writer_id(w);
        if (cache_store_write(w, buf, sizeof(buf)) != 0 || cache_store_flush(cst) != 0)
            _exit(2);
        if (write(fds[1], &id, sizeof(id)) != sizeof(id))
            _exit(3);
        _exit(0);
    }
    close(fds[1]);
    ck_assert_int_eq(read(fds[0], &id, sizeof(id)), (ssize_t)sizeof(id));
    close(fds[0]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    st = open_store(64u << 20);
    ck_assert_int_eq(cache_store_chunk(st, id, 0, &p, &len), -ENOENT);
    cache_store_release(st);
    cache_store_get_stats(st, &s);
    ck_assert_uint_eq(s.bytes, 0);
    cache_store_close(st);
}
END_TEST

START_TEST(eviction_keeps_under_cap)
{
    struct cache_store *st = open_store(2u << 20);
    struct cache_store_stats s;
    struct cache_obj o;
    char key[64];
    int i, first_present = -1;

    for (i = 0; i < 60; i++) {
        snprintf(key, sizeof(key), "GET http://e/%d", i);
        put(st, key, 100000, (unsigned)i);
        cache_store_get_stats(st, &s);
        ck_assert_uint_le(s.bytes, 2u << 20);
    }
    cache_store_get_stats(st, &s);
    ck_assert_uint_gt(s.evicted, 0);
    /* Oldest went first: a prefix is gone, the newest are there. */
    for (i = 0; i < 60; i++) {
        snprintf(key, sizeof(key), "GET http://e/%d", i);
        if (cache_store_lookup(st, key, strlen(key), &o) == 0 && first_present < 0)
            first_present = i;
        cache_store_release(st);
        if (first_present >= 0)
            check_body(st, key, 100000, (unsigned)i);
    }
    ck_assert_int_gt(first_present, 0);
    cache_store_close(st);
}
END_TEST

START_TEST(update_keeps_body)
{
    struct cache_store *st = open_store(64u << 20);
    struct cache_obj o;
    uint64_t id;

    put(st, "GET http://u/", 300000, 6);
    put(st, "GET http://v/", 100, 7);
    ck_assert_int_eq(cache_store_lookup(st, "GET http://u/", 13, &o), 0);
    id = o.id;
    cache_store_release(st);
    cache_store_update(st, "GET http://u/", 13, id, "NEWX", 4,
                       "HTTP/1.1 200 OK\r\n\r\n", 19);
    ck_assert_int_eq(cache_store_lookup(st, "GET http://v/", 13, &o), 0);
    cache_store_release(st);
    cache_store_update(st, "GET http://v/", 13, o.id, "NEWX", 4,
                       "HTTP/1.1 200 OK\r\n\r\n", 19);
    cache_store_update(st, "GET http://v/", 13, o.id + 1, "BAD!", 4,
                       "HTTP/1.1 500 No\r\n\r\n", 19);   /* stale id: ignored */
    ck_assert_int_eq(cache_store_flush(st), 0);
    ck_assert_int_eq(cache_store_lookup(st, "GET http://u/", 13, &o), 0);
    ck_assert_uint_eq(o.id, id);
    ck_assert_int_eq(memcmp(o.extra, "NEWX", 4), 0);
    cache_store_release(st);
    ck_assert_int_eq(cache_store_lookup(st, "GET http://v/", 13, &o), 0);
    ck_assert_int_eq(memcmp(o.extra, "NEWX", 4), 0);
    ck_assert_int_eq(memcmp(o.head, "HTTP/1.1 200 OK", 15), 0);
    cache_store_release(st);
    cache_store_close(st);
    /* bodies untouched: check_body wants "XTRA", so compare by hand */
    st = open_store(64u << 20);
    ck_assert_int_eq(cache_store_lookup(st, "GET http://v/", 13, &o), 0);
    {
        char want[100];
        fill(want, 100, 7);
        ck_assert_int_eq(memcmp(o.body, want, 100), 0);
    }
    cache_store_release(st);
    cache_store_close(st);
}
END_TEST

START_TEST(damaged_store_is_recreated)
{
    struct cache_store *st = open_store(64u << 20);
    char path[300];
    int fd;

    put(st, "GET http://d/", 10, 1);
    cache_store_close(st);
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    fd = open(path, O_WRONLY | O_TRUNC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "garbage garbage garbage", 23), 23);
    close(fd);
    st = open_store(64u << 20);
    put(st, "GET http://d2/", 10, 2);
    check_body(st, "GET http://d2/", 10, 2);
    cache_store_close(st);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, miss_then_inline_hit);
    tcase_add_test(tc, chunked_body);
    tcase_add_test(tc, replace_drops_old_chunks);
    tcase_add_test(tc, abort_leaves_nothing);
    tcase_add_test(tc, too_big_refused);
    tcase_add_test(tc, persists_across_reopen_and_delete);
    tcase_add_test(tc, dead_writer_chunks_removed_at_open);
    tcase_add_test(tc, eviction_keeps_under_cap);
    tcase_add_test(tc, update_keeps_body);
    tcase_add_test(tc, damaged_store_is_recreated);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
