/* phn_chunk: counts, bounds, and that chunks tile [0, n) exactly, up to SIZE_MAX. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "failing_alloc.h"
#include "phn_chunk.h"

static void test_count(void **state)
{
    (void)state;
    assert_int_equal(phn_chunk_count(0, 10), 0);
    assert_int_equal(phn_chunk_count(0, 0), 0);
    assert_int_equal(phn_chunk_count(10, 0), 0);
    assert_int_equal(phn_chunk_count(1, 1), 1);
    assert_int_equal(phn_chunk_count(1, 1000), 1);
    assert_int_equal(phn_chunk_count(999, 1000), 1);
    assert_int_equal(phn_chunk_count(1000, 1000), 1);
    assert_int_equal(phn_chunk_count(1001, 1000), 2);
    assert_int_equal(phn_chunk_count(2000, 1000), 2);
    assert_int_equal(phn_chunk_count(2001, 1000), 3);
    assert_int_equal(phn_chunk_count(7, 1), 7);
}

static void test_count_no_overflow(void **state)
{
    (void)state;
    /* n + size - 1 would wrap in each of these. */
    assert_int_equal(phn_chunk_count(SIZE_MAX, SIZE_MAX), 1);
    assert_int_equal(phn_chunk_count(SIZE_MAX, SIZE_MAX - 1), 2);
    assert_int_equal(phn_chunk_count(SIZE_MAX, 1), SIZE_MAX);
    assert_int_equal(phn_chunk_count(SIZE_MAX, 2), SIZE_MAX / 2 + 1);
    assert_int_equal(phn_chunk_count(1, SIZE_MAX), 1);
}

static void test_bounds(void **state)
{
    (void)state;
    size_t start = 99, len = 99;
    assert_int_equal(phn_chunk_bounds(2500, 1000, 0, &start, &len), PHN_OK);
    assert_int_equal(start, 0);
    assert_int_equal(len, 1000);
    assert_int_equal(phn_chunk_bounds(2500, 1000, 1, &start, &len), PHN_OK);
    assert_int_equal(start, 1000);
    assert_int_equal(len, 1000);
    assert_int_equal(phn_chunk_bounds(2500, 1000, 2, &start, &len), PHN_OK);
    assert_int_equal(start, 2000);
    assert_int_equal(len, 500);

    /* Past the end: error, outputs untouched. */
    start = len = 77;
    assert_int_equal(phn_chunk_bounds(2500, 1000, 3, &start, &len), PHN_EINVAL);
    assert_int_equal(phn_chunk_bounds(2500, 1000, SIZE_MAX, &start, &len), PHN_EINVAL);
    assert_int_equal(phn_chunk_bounds(0, 1000, 0, &start, &len), PHN_EINVAL);
    assert_int_equal(phn_chunk_bounds(10, 0, 0, &start, &len), PHN_EINVAL);
    assert_int_equal(start, 77);
    assert_int_equal(len, 77);

    /* Either output may be NULL. */
    assert_int_equal(phn_chunk_bounds(5, 2, 2, NULL, &len), PHN_OK);
    assert_int_equal(len, 1);
    assert_int_equal(phn_chunk_bounds(5, 2, 2, &start, NULL), PHN_OK);
    assert_int_equal(start, 4);
}

static void test_bounds_extremes(void **state)
{
    (void)state;
    size_t start, len;
    assert_int_equal(phn_chunk_bounds(SIZE_MAX, SIZE_MAX - 1, 1, &start, &len), PHN_OK);
    assert_int_equal(start, SIZE_MAX - 1);
    assert_int_equal(len, 1);
    assert_int_equal(phn_chunk_bounds(SIZE_MAX, SIZE_MAX - 1, 2, &start, &len), PHN_EINVAL);
    assert_int_equal(phn_chunk_bounds(SIZE_MAX, 1, SIZE_MAX - 1, &start, &len), PHN_OK);
    assert_int_equal(start, SIZE_MAX - 1);
    assert_int_equal(len, 1);
    assert_int_equal(phn_chunk_bounds(SIZE_MAX, 2, SIZE_MAX / 2, &start, &len), PHN_OK);
    assert_int_equal(start, SIZE_MAX - 1);
    assert_int_equal(len, 1);
    assert_int_equal(phn_chunk_bounds(3, SIZE_MAX, 0, &start, &len), PHN_OK);
    assert_int_equal(start, 0);
    assert_int_equal(len, 3);
}

/* For every small (n, size), the chunks are contiguous, non-empty, at most size long and
 * cover exactly n items. */
static void test_tiling(void **state)
{
    (void)state;
    for (size_t n = 0; n <= 300; n++) {
        for (size_t size = 1; size <= 40; size++) {
            size_t count = phn_chunk_count(n, size);
            size_t next = 0;
            for (size_t i = 0; i < count; i++) {
                size_t start, len;
                assert_int_equal(phn_chunk_bounds(n, size, i, &start, &len), PHN_OK);
                assert_int_equal(start, next);
                assert_true(len >= 1 && len <= size);
                if (i + 1 < count)
                    assert_int_equal(len, size);
                next = start + len;
            }
            assert_int_equal(next, n);
            assert_int_equal(phn_chunk_bounds(n, size, count, NULL, NULL), PHN_EINVAL);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FA_TEST(test_count),  FA_TEST(test_count_no_overflow),
        FA_TEST(test_bounds), FA_TEST(test_bounds_extremes),
        FA_TEST(test_tiling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
