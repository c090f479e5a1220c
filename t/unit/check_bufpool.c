/*
 * check_bufpool.c - the connection buffers' free lists (squidlike/bufpool.c):
 * a block given back is lent again, each list keeps at most
 * SL_BUFPOOL_KEEP, a block of another size than asked for is not kept, a
 * new size forgets the old blocks, and trim empties the lists.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "squidlike/bufpool.h"

static struct sl_bufpool pool;

static void teardown(void)
{
    sl_bufpool_trim(&pool, 0);
    memset(&pool, 0, sizeof(pool));
}

START_TEST(reuses_a_block)
{
    void *a, *b;

    /* Nothing to give back, before any block was asked for. */
    sl_bufpool_put(&pool, SL_BUFPOOL_IN, NULL, 0);
    ck_assert_uint_eq(sl_bufpool_bytes(&pool), 0);
    a = sl_bufpool_get(&pool, SL_BUFPOOL_IN, 16384);

    ck_assert_ptr_nonnull(a);
    memset(a, 'x', 16384);
    sl_bufpool_put(&pool, SL_BUFPOOL_IN, a, 16384);
    ck_assert_uint_eq(sl_bufpool_bytes(&pool), 16384);
    b = sl_bufpool_get(&pool, SL_BUFPOOL_IN, 16384);
    ck_assert_ptr_eq(a, b);
    ck_assert_uint_eq(sl_bufpool_bytes(&pool), 0);
    /* The kinds are apart: an OUT block is not lent as an IN one. */
    sl_bufpool_put(&pool, SL_BUFPOOL_IN, b, 16384);
    a = sl_bufpool_get(&pool, SL_BUFPOOL_OUT, 16384);
    ck_assert_ptr_ne(a, b);
    free(a);
}
END_TEST

START_TEST(keeps_at_most_keep)
{
    void *b[SL_BUFPOOL_KEEP + 5];
    size_t i;

    for (i = 0; i < SL_BUFPOOL_KEEP + 5; i++)
        b[i] = sl_bufpool_get(&pool, SL_BUFPOOL_OUT, 4096);
    for (i = 0; i < SL_BUFPOOL_KEEP + 5; i++)
        sl_bufpool_put(&pool, SL_BUFPOOL_OUT, b[i], 4096);
    ck_assert_uint_eq(sl_bufpool_bytes(&pool), SL_BUFPOOL_KEEP * 4096);
    ck_assert_uint_eq(sl_bufpool_trim(&pool, 2), (SL_BUFPOOL_KEEP - 2) * 4096);
    ck_assert_uint_eq(sl_bufpool_bytes(&pool), 2 * 4096);
}
END_TEST

START_TEST(other_sizes_not_kept)
{
    void *a = sl_bufpool_get(&pool, SL_BUFPOOL_IN, 16384);
    void *big = malloc(65536), *tiny;

    /* A buffer that grew past the size asked for is freed, not kept. */
    sl_bufpool_put(&pool, SL_BUFPOOL_IN, big, 65536);
    ck_assert_uint_eq(sl_bufpool_bytes(&pool), 0);
    sl_bufpool_put(&pool, SL_BUFPOOL_IN, a, 16384);
    ck_assert_uint_eq(sl_bufpool_bytes(&pool), 16384);
    /* A reload changed the size: the old blocks go. */
    a = sl_bufpool_get(&pool, SL_BUFPOOL_IN, 32768);
    ck_assert_uint_eq(sl_bufpool_bytes(&pool), 0);
    sl_bufpool_put(&pool, SL_BUFPOOL_IN, a, 32768);
    ck_assert_uint_eq(sl_bufpool_bytes(&pool), 32768);
    /* Too small to hold the link: lent, never kept. */
    tiny = sl_bufpool_get(&pool, SL_BUFPOOL_HDRS, 4);
    ck_assert_ptr_nonnull(tiny);
    sl_bufpool_put(&pool, SL_BUFPOOL_HDRS, tiny, 4);
    ck_assert_uint_eq(sl_bufpool_bytes(&pool), 32768);
    sl_bufpool_put(&pool, SL_BUFPOOL_HDRS, NULL, 100);
}
END_TEST

START_TEST(bufs)
{
    struct sl_buf b;

    ck_assert_int_eq(sl_bufpool_buf(&pool, SL_BUFPOOL_OUT, &b, 4096), 0);
    ck_assert_uint_eq(sl_buf_size(&b), 4096);
    ck_assert_uint_eq(sl_buf_len(&b), 0);
    ck_assert_int_eq(sl_buf_append(&b, "hello", 5), 0);
    sl_bufpool_unbuf(&pool, SL_BUFPOOL_OUT, &b);
    ck_assert_ptr_null(b.start);
    ck_assert_uint_eq(sl_buf_size(&b), 0);
    ck_assert_uint_eq(sl_bufpool_bytes(&pool), 4096);
    sl_bufpool_unbuf(&pool, SL_BUFPOOL_OUT, &b);   /* empty: a no-op */
    ck_assert_uint_eq(sl_bufpool_bytes(&pool), 4096);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bufpool");
    TCase *tc = tcase_create("lists");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, reuses_a_block);
    tcase_add_test(tc, keeps_at_most_keep);
    tcase_add_test(tc, other_sizes_not_kept);
    tcase_add_test(tc, bufs);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
