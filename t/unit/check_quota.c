/*
 * check_quota.c - the gateway's quotas: the windows (acl/quota.h: UTC
 * days, calendar months with their lengths and leap years, fixed periods
 * aligned to the epoch), counting exactly N then refusing, a new window,
 * dry runs, keys apart, a table re-attached as after a restart, a full
 * table, carrying counts into another size; and the file they live in
 * (squidlike/quota_store.h): made 0600, counts kept across a close and a
 * process killed, a bad file set aside, another size carried over, the
 * lock's bytes re-initialised only by an opener that is alone.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "acl/quota.h"
#include "squidlike/quota_store.h"

/* Unix times (python3: calendar.timegm). */
#define T_2026_12_01 1796083200LL
#define T_2026_12_06_201320 1796588000LL
#define T_2026_12_06 1796515200LL
#define T_2026_12_07 1796601600LL
#define T_2026_12_31_235959 1798761599LL
#define T_2027_01_01 1798761600LL
#define T_2027_02_01 1801440000LL
#define T_2027_03_01 1803859200LL
#define T_2028_02_01 1832976000LL
#define T_2028_02_28_12 1835352000LL
#define T_2028_02_29_235959 1835481599LL
#define T_2028_03_01 1835481600LL
#define T_2000_02_01 949363200LL
#define T_2000_03_01 951868800LL
#define T_2100_02_01 4105123200LL
#define T_2100_03_01 4107542400LL
#define T_2026_04_01 1775001600LL
#define T_2026_05_01 1777593600LL
#define T_1969_12_01 (-2678400LL)

static const struct acl_quota_policy daily = { 1, 3, ACL_QUOTA_DAY, 0 };
static const struct acl_quota_policy monthly = { 2, 1000, ACL_QUOTA_MONTH, 0 };
static const struct acl_quota_policy ten_s = { 3, 2, ACL_QUOTA_FIXED, 10 };

static void window(const struct acl_quota_policy *p, int64_t now, int64_t start,
                   int64_t end)
{
    int64_t s, e;

    acl_quota_window(p, now, &s, &e);
    ck_assert_msg(s == start && e == end, "at %lld: [%lld, %lld), want [%lld, %lld)",
                  (long long)now, (long long)s, (long long)e, (long long)start,
                  (long long)end);
}

static int take(struct acl_quota *t, const struct acl_quota_policy *p, const char *who,
                int64_t now, struct acl_quota_verdict *v)
{
    acl_quota_take(t, p, who, strlen(who), now, 1, v);
    return v->allowed;
}

static struct acl_quota *table(size_t entries, uint64_t seed)
{
    size_t size = acl_quota_size(entries);
    struct acl_quota *t = acl_quota_init(malloc(size), size, entries, seed);

    ck_assert_ptr_nonnull(t);
    return t;
}

START_TEST(day_windows)
{
    window(&daily, T_2026_12_06_201320, T_2026_12_06, T_2026_12_07);
    window(&daily, T_2026_12_06, T_2026_12_06, T_2026_12_07);         /* first second */
    window(&daily, T_2026_12_07 - 1, T_2026_12_06, T_2026_12_07);     /* last second */
    window(&daily, T_2026_12_07, T_2026_12_07, T_2026_12_07 + 86400);
    window(&daily, T_2026_12_31_235959, T_2027_01_01 - 86400, T_2027_01_01);
    window(&daily, T_2028_02_29_235959, T_2028_03_01 - 86400, T_2028_03_01);
    /* before the epoch: the day holding it, not the next one */
    window(&daily, -1, -86400, 0);
    window(&daily, 0, 0, 86400);
}
END_TEST

START_TEST(month_windows)
{
    /* December: 31 days, ends at the new year */
    window(&monthly, T_2026_12_06_201320, T_2026_12_01, T_2027_01_01);
    window(&monthly, T_2026_12_31_235959, T_2026_12_01, T_2027_01_01);
    window(&monthly, T_2027_01_01, T_2027_01_01, T_2027_02_01);
    /* February of a common year: 28 days */
    window(&monthly, T_2027_02_01 + 5, T_2027_02_01, T_2027_03_01);
    ck_assert_int_eq(T_2027_03_01 - T_2027_02_01, 28 * 86400);
    /* 2028 is a leap year: Feb 29 is in February, March starts after it */
    window(&monthly, T_2028_02_28_12, T_2028_02_01, T_2028_03_01);
    window(&monthly, T_2028_02_29_235959, T_2028_02_01, T_2028_03_01);
    ck_assert_int_eq(T_2028_03_01 - T_2028_02_01, 29 * 86400);
    window(&monthly, T_2028_03_01, T_2028_03_01, T_2028_03_01 + 31 * 86400);
    /* 2000 (divisible by 400) leap, 2100 (by 100) not */
    window(&monthly, T_2000_02_01 + 86400 * 28, T_2000_02_01, T_2000_03_01);
    ck_assert_int_eq(T_2000_03_01 - T_2000_02_01, 29 * 86400);
    window(&monthly, T_2100_02_01 + 86400 * 27, T_2100_02_01, T_2100_03_01);
    ck_assert_int_eq(T_2100_03_01 - T_2100_02_01, 28 * 86400);
    /* April: 30 days */
    window(&monthly, T_2026_05_01 - 1, T_2026_04_01, T_2026_05_01);
    /* before the epoch */
    window(&monthly, -1, T_1969_12_01, 0);
}
END_TEST

START_TEST(fixed_windows)
{
    struct acl_quota_policy hour = { 4, 1, ACL_QUOTA_FIXED, 3600 };

    window(&ten_s, 1005, 1000, 1010);
    window(&ten_s, 1000, 1000, 1010);
    window(&ten_s, 1009, 1000, 1010);
    window(&ten_s, 1010, 1010, 1020);
    window(&ten_s, -1, -10, 0);
    window(&hour, T_2026_12_06_201320, T_2026_12_06 + 20 * 3600, T_2026_12_06 + 21 * 3600);
}
END_TEST

START_TEST(exactly_n_then_refused_then_a_new_window)
{
    struct acl_quota *t = table(64, 7);
    struct acl_quota_verdict v;
    int64_t now = T_2026_12_06_201320;
    uint64_t i;

    for (i = 1; i <= 3; i++) {
        ck_assert_msg(take(t, &daily, "alice", now, &v), "request %d refused", (int)i);
        ck_assert_uint_eq(v.used, i);
        ck_assert_uint_eq(v.remaining, 3 - i);
        ck_assert(!v.uncounted);
    }
    ck_assert(!take(t, &daily, "alice", now, &v));
    ck_assert_uint_eq(v.used, 3);
    ck_assert_uint_eq(v.remaining, 0);
    ck_assert_int_eq(v.window_end, T_2026_12_07);
    /* refusals count nothing: still refused to the last second */
    ck_assert(!take(t, &daily, "alice", T_2026_12_07 - 1, &v));
    ck_assert_uint_eq(v.used, 3);
    /* the next day starts from zero */
    ck_assert(take(t, &daily, "alice", T_2026_12_07, &v));
    ck_assert_uint_eq(v.used, 1);
    ck_assert_uint_eq(v.remaining, 2);
    ck_assert_int_eq(v.window_start, T_2026_12_07);
    free(t);
}
END_TEST

START_TEST(a_dry_run_counts_nothing)
{
    struct acl_quota *t = table(64, 7);
    struct acl_quota_verdict v;
    int i;

    for (i = 0; i < 10; i++) {
        acl_quota_take(t, &ten_s, "alice", 5, 1000, 0, &v);
        ck_assert(v.allowed);
        ck_assert_uint_eq(v.used, 0);
        ck_assert_uint_eq(v.remaining, 2);
    }
    ck_assert(take(t, &ten_s, "alice", 1000, &v));
    acl_quota_take(t, &ten_s, "alice", 5, 1001, 0, &v);
    ck_assert(v.allowed);
    ck_assert_uint_eq(v.used, 1);
    ck_assert(take(t, &ten_s, "alice", 1002, &v));
    acl_quota_take(t, &ten_s, "alice", 5, 1003, 0, &v);
    ck_assert(!v.allowed);
    ck_assert_uint_eq(v.used, 2);
    free(t);
}
END_TEST

START_TEST(consumers_and_quotas_apart)
{
    struct acl_quota *t = table(64, 7);
    struct acl_quota_policy other = ten_s;
    struct acl_quota_verdict v;

    other.id = 99;
    ck_assert(take(t, &ten_s, "alice", 1000, &v));
    ck_assert(take(t, &ten_s, "alice", 1000, &v));
    ck_assert(!take(t, &ten_s, "alice", 1000, &v));
    /* bob, a name that is alice's prefix, and alice under another quota:
     * each its own count */
    ck_assert(take(t, &ten_s, "bob", 1000, &v));
    ck_assert_uint_eq(v.used, 1);
    ck_assert(take(t, &ten_s, "alic", 1000, &v));
    ck_assert_uint_eq(v.used, 1);
    ck_assert(take(t, &other, "alice", 1000, &v));
    ck_assert_uint_eq(v.used, 1);
    /* a name is its bytes: n counts, not the NUL */
    acl_quota_take(t, &ten_s, "alice-and-more", 5, 1000, 1, &v);
    ck_assert(!v.allowed);
    free(t);
}
END_TEST

START_TEST(a_changed_period_starts_again)
{
    struct acl_quota *t = table(64, 7);
    struct acl_quota_policy twenty = ten_s;
    struct acl_quota_verdict v;

    ck_assert(take(t, &ten_s, "alice", 1005, &v));
    ck_assert(take(t, &ten_s, "alice", 1005, &v));
    ck_assert(!take(t, &ten_s, "alice", 1005, &v));
    /* the same quota (id) reloaded with a 20 s period: another window */
    twenty.period_s = 20;
    ck_assert(take(t, &twenty, "alice", 1005, &v));
    ck_assert_uint_eq(v.used, 1);
    free(t);
}
END_TEST

START_TEST(reattached_keeps_counts)
{
    size_t size = acl_quota_size(100);
    void *mem = malloc(size), *copy = malloc(size), *junk = calloc(1, size);
    struct acl_quota *t = acl_quota_init(mem, size, 100, 5), *t2;
    struct acl_quota_verdict v;

    ck_assert_ptr_nonnull(t);
    ck_assert(take(t, &daily, "alice", T_2026_12_06_201320, &v));
    ck_assert(take(t, &daily, "alice", T_2026_12_06_201320, &v));
    /* the bytes as a file keeps them, seen by a new process */
    memcpy(copy, mem, size);
    t2 = acl_quota_attach(copy, size);
    ck_assert_ptr_nonnull(t2);
    ck_assert(take(t2, &daily, "alice", T_2026_12_06_201320 + 60, &v));
    ck_assert_uint_eq(v.used, 3);
    ck_assert(!take(t2, &daily, "alice", T_2026_12_06_201320 + 60, &v));
    /* not a table, or cut short: refused */
    ck_assert_ptr_null(acl_quota_attach(junk, size));
    ck_assert_ptr_null(acl_quota_attach(copy, size - 1));
    ck_assert_ptr_null(acl_quota_attach(copy, 16));
    /* a table only in the size it says it has */
    ck_assert_ptr_null(acl_quota_init(mem, size - 1, 100, 5));
    free(mem);
    free(copy);
    free(junk);
}
END_TEST

START_TEST(full_table_lets_through_uncounted)
{
    struct acl_quota *t = table(ACL_QUOTA_MIN_ENTRIES, 3);
    struct acl_quota_verdict v;
    struct acl_quota_stats st;
    char name[32];
    int i, uncounted = 0, first_uncounted = -1;

    /* 64 slots, 32 probes: more consumers than slots in one window */
    for (i = 0; i < 2 * ACL_QUOTA_MIN_ENTRIES; i++) {
        snprintf(name, sizeof(name), "c%d", i);
        ck_assert(take(t, &ten_s, name, 1000, &v));
        if (v.uncounted) {
            if (first_uncounted < 0)
                first_uncounted = i;
            uncounted++;
        }
    }
    acl_quota_get_stats(t, &st);
    ck_assert_uint_eq(st.capacity, ACL_QUOTA_MIN_ENTRIES);
    ck_assert_uint_le(st.entries, ACL_QUOTA_MIN_ENTRIES);
    ck_assert_int_ge(uncounted, ACL_QUOTA_MIN_ENTRIES);     /* at most 64 counted */
    ck_assert_int_ge(first_uncounted, 1);
    ck_assert_uint_eq(st.full, (unsigned long long)uncounted);
    /* one counted before the table filled keeps its count */
    ck_assert(take(t, &ten_s, "c0", 1000, &v));
    ck_assert(!v.uncounted);
    ck_assert_uint_eq(v.used, 2);
    ck_assert(!take(t, &ten_s, "c0", 1000, &v));
    /* a window later every slot is free again */
    snprintf(name, sizeof(name), "c%d", 2 * ACL_QUOTA_MIN_ENTRIES - 1);
    ck_assert(take(t, &ten_s, name, 1010, &v));
    ck_assert(!v.uncounted);
    ck_assert_uint_eq(v.used, 1);
    free(t);
}
END_TEST

START_TEST(carried_into_another_size)
{
    struct acl_quota *a = table(64, 1), *b = table(1024, 2);
    struct acl_quota_verdict v;

    ck_assert(take(a, &ten_s, "alice", 1000, &v));
    ck_assert(take(a, &ten_s, "alice", 1000, &v));
    ck_assert(take(a, &daily, "bob", 1000, &v));
    ck_assert(take(a, &ten_s, "carol", 990, &v));     /* window [990, 1000): passed */
    /* b has a count of bob of its own, higher: it stays */
    ck_assert(take(b, &daily, "bob", 1000, &v));
    ck_assert(take(b, &daily, "bob", 1000, &v));
    ck_assert_uint_eq(acl_quota_carry(b, a, 1005), 0);
    ck_assert(!take(b, &ten_s, "alice", 1005, &v));
    ck_assert_uint_eq(v.used, 2);
    ck_assert(take(b, &daily, "bob", 1005, &v));    /* 2 of b, not 1 of a, then this */
    ck_assert_uint_eq(v.used, 3);
    ck_assert(take(b, &ten_s, "carol", 1005, &v));
    ck_assert_uint_eq(v.used, 1);
    free(a);
    free(b);
}
END_TEST

/* ------------------------------------------------------------ the file */

static char dir[64];

static void setup_dir(void)
{
    snprintf(dir, sizeof(dir), "/tmp/check_quota.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[400];

    while (d != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d != NULL)
        closedir(d);
    rmdir(dir);
}

static struct sl_qstore *open_store(const char *path, size_t entries)
{
    char err[512];
    struct sl_qstore *q = sl_qstore_open(path, entries, err, sizeof(err));

    ck_assert_msg(q != NULL, "open: %s", err);
    return q;
}

static uint64_t count_now(struct sl_qstore *q, const char *who, int commit)
{
    struct acl_quota_verdict v;

    ck_assert_int_ge(sl_qstore_lock(q), 0);
    acl_quota_take(sl_qstore_table(q), &daily, who, strlen(who), T_2026_12_06_201320,
                   commit, &v);
    sl_qstore_unlock(q);
    return v.used;
}

static int count_files(const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    while (d != NULL && (e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            n++;
    if (d != NULL)
        closedir(d);
    return n;
}

START_TEST(store_made_and_kept)
{
    char path[128], err[512];
    struct sl_qstore *q;
    struct stat sb;

    snprintf(path, sizeof(path), "%s/quota", dir);
    q = open_store(path, 100);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    ck_assert_uint_eq(count_now(q, "alice", 1), 1);
    ck_assert_uint_eq(count_now(q, "alice", 1), 2);
    sl_qstore_close(q, 1);
    /* a restart: the counts go on */
    q = open_store(path, 100);
    ck_assert_uint_eq(count_now(q, "alice", 0), 2);
    ck_assert_uint_eq(count_now(q, "alice", 1), 3);
    sl_qstore_close(q, 0);
    ck_assert_int_eq(count_files("quota"), 1);  /* no temporary left */
    /* no directory: an error naming the path, no crash */
    snprintf(path, sizeof(path), "%s/none/quota", dir);
    ck_assert_ptr_null(sl_qstore_open(path, 100, err, sizeof(err)));
    ck_assert_msg(strstr(err, path) != NULL && strstr(err, "directory") != NULL, "%s", err);
}
END_TEST

START_TEST(store_survives_a_killed_process)
{
    char path[128];
    struct sl_qstore *q;
    pid_t pid;
    int st;

    snprintf(path, sizeof(path), "%s/quota", dir);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char err[512];
        struct sl_qstore *c = sl_qstore_open(path, 100, err, sizeof(err));
        struct acl_quota_verdict v;

        if (c == NULL || sl_qstore_lock(c) < 0)
            _exit(2);
        acl_quota_take(sl_qstore_table(c), &daily, "alice", 5, T_2026_12_06_201320, 1, &v);
        acl_quota_take(sl_qstore_table(c), &daily, "alice", 5, T_2026_12_06_201320, 1, &v);
        /* killed holding the lock, nothing closed or synced */
        raise(SIGKILL);
        _exit(3);
    }
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    q = open_store(path, 100);
    ck_assert_uint_eq(count_now(q, "alice", 1), 3);
    ck_assert_uint_eq(count_now(q, "alice", 0), 3);
    sl_qstore_close(q, 0);
}
END_TEST

static void write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
    close(fd);
}

START_TEST(store_bad_file_set_aside)
{
    char path[128], junk[5000];
    struct sl_qstore *q;

    snprintf(path, sizeof(path), "%s/quota", dir);
    memset(junk, 'x', sizeof(junk));
    write_file(path, junk, sizeof(junk));
    q = open_store(path, 100);
    ck_assert_int_eq(count_files("quota.bad-"), 1);
    ck_assert_uint_eq(count_now(q, "alice", 1), 1);
    sl_qstore_close(q, 0);
    /* the new one is good: kept as it is */
    q = open_store(path, 100);
    ck_assert_int_eq(count_files("quota.bad-"), 1);
    ck_assert_uint_eq(count_now(q, "alice", 0), 1);
    sl_qstore_close(q, 0);
    /* an empty file (a crash while it was made by hand) */
    write_file(path, junk, 0);
    q = open_store(path, 100);
    ck_assert_uint_eq(count_now(q, "alice", 0), 0);
    sl_qstore_close(q, 0);
}
END_TEST

START_TEST(store_cut_short_set_aside)
{
    char path[128];
    struct sl_qstore *q;
    struct stat sb;

    snprintf(path, sizeof(path), "%s/quota", dir);
    q = open_store(path, 100);
    ck_assert_uint_eq(count_now(q, "alice", 1), 1);
    sl_qstore_close(q, 0);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(truncate(path, sb.st_size - 4096), 0);
    q = open_store(path, 100);
    ck_assert_int_eq(count_files("quota.bad-"), 1);
    ck_assert_uint_eq(count_now(q, "alice", 0), 0);
    sl_qstore_close(q, 0);
}
END_TEST

START_TEST(store_another_size_carries_counts)
{
    char path[128];
    struct sl_qstore *q;
    struct stat a, b;

    snprintf(path, sizeof(path), "%s/quota", dir);
    q = open_store(path, 100);
    ck_assert_uint_eq(count_now(q, "alice", 1), 1);
    ck_assert_uint_eq(count_now(q, "alice", 1), 2);
    sl_qstore_close(q, 0);
    ck_assert_int_eq(stat(path, &a), 0);
    q = open_store(path, 5000);
    ck_assert_int_eq(stat(path, &b), 0);
    ck_assert_int_gt(b.st_size, a.st_size);
    ck_assert_int_eq(count_files("quota.bad-"), 0);
    ck_assert_uint_eq(count_now(q, "alice", 1), 3);
    sl_qstore_close(q, 0);
}
END_TEST

static void read_file(const char *path, void *p, size_t n)
{
    int fd = open(path, O_RDONLY);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(read(fd, p, n), (ssize_t)n);
    close(fd);
}

/* A child takes the lock of the store at path: 0 when it could (within
 * a bound generous for a busy machine), -1 when it still waited. */
static int child_locks(struct sl_qstore *q)
{
    pid_t pid = fork();
    int st, i;

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (sl_qstore_lock(q) < 0)
            _exit(2);
        sl_qstore_unlock(q);
        _exit(0);
    }
    for (i = 0; i < 2000; i++) {
        pid_t r = waitpid(pid, &st, WNOHANG);

        ck_assert_int_ge(r, 0);
        if (r == pid)
            return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -2;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

START_TEST(store_stale_lock_reset_when_alone)
{
    char path[128];
    static unsigned char held[8192];
    struct sl_qstore *q;
    struct stat sb;

    snprintf(path, sizeof(path), "%s/quota", dir);
    q = open_store(path, 64);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_uint_le((size_t)sb.st_size, sizeof(held));
    /* The file as a power loss would leave it: the lock held, by a
     * thread that will never release it (it is this one: a child that
     * waits on it waits for ever). */
    ck_assert_int_eq(sl_qstore_lock(q), 0);
    read_file(path, held, (size_t)sb.st_size);
    sl_qstore_unlock(q);
    sl_qstore_close(q, 0);
    write_file(path, held, (size_t)sb.st_size);
    /* Opened alone (a start): the lock is made again, and can be taken. */
    q = open_store(path, 64);
    ck_assert_int_eq(child_locks(q), 0);
    sl_qstore_close(q, 0);
}
END_TEST

START_TEST(store_live_lock_kept_when_shared)
{
    char path[128];
    static unsigned char before[8192], after[8192];
    struct sl_qstore *a, *b;
    struct stat sb;

    snprintf(path, sizeof(path), "%s/quota", dir);
    a = open_store(path, 64);
    ck_assert_uint_eq(count_now(a, "alice", 1), 1);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sl_qstore_lock(a), 0);
    read_file(path, before, (size_t)sb.st_size);
    /* Another opener while a holds it (an upgrade's new master): the
     * file's bytes, the held lock among them, untouched. */
    b = open_store(path, 64);
    read_file(path, after, (size_t)sb.st_size);
    ck_assert(memcmp(before, after, (size_t)sb.st_size) == 0);
    sl_qstore_unlock(a);
    ck_assert_int_eq(child_locks(b), 0);
    ck_assert_uint_eq(count_now(b, "alice", 0), 1);
    sl_qstore_close(b, 0);
    sl_qstore_close(a, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("quota");
    TCase *tc = tcase_create("table"), *tf = tcase_create("file");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, day_windows);
    tcase_add_test(tc, month_windows);
    tcase_add_test(tc, fixed_windows);
    tcase_add_test(tc, exactly_n_then_refused_then_a_new_window);
    tcase_add_test(tc, a_dry_run_counts_nothing);
    tcase_add_test(tc, consumers_and_quotas_apart);
    tcase_add_test(tc, a_changed_period_starts_again);
    tcase_add_test(tc, reattached_keeps_counts);
    tcase_add_test(tc, full_table_lets_through_uncounted);
    tcase_add_test(tc, carried_into_another_size);
    suite_add_tcase(s, tc);
    tcase_add_checked_fixture(tf, setup_dir, teardown_dir);
    tcase_set_timeout(tf, 120);
    tcase_add_test(tf, store_made_and_kept);
    tcase_add_test(tf, store_survives_a_killed_process);
    tcase_add_test(tf, store_bad_file_set_aside);
    tcase_add_test(tf, store_cut_short_set_aside);
    tcase_add_test(tf, store_another_size_carries_counts);
    tcase_add_test(tf, store_stale_lock_reset_when_alone);
    tcase_add_test(tf, store_live_lock_kept_when_shared);
    suite_add_tcase(s, tf);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
