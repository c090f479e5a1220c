/*
 * conf_fixture.h - a temporary directory per test and files written in
 * it, for the tests that load configuration files (check_conf,
 * check_conf_gw). Included once per test program: the functions are its
 * own.
 */
#ifndef T_CONF_FIXTURE_H
#define T_CONF_FIXTURE_H

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static char tmpdir[64];

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_conf.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void teardown(void)
{
    nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* Write text to tmpdir/name; returns the path (static buffer per slot). */
static const char *write_file(const char *name, const char *text)
{
    static char paths[4][128];
    static int slot;
    char *p = paths[slot++ % 4];
    FILE *f;

    snprintf(p, sizeof(paths[0]), "%s/%s", tmpdir, name);
    f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
    return p;
}

#endif
