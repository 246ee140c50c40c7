/* phn_alloc: overflow refusal before the allocator is reached, pluggable allocator, and
 * the failing allocator the other tests rely on. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "failing_alloc.h"
#include "phn_alloc.h"

static void test_calloc_overflow_refused(void **state)
{
    (void)state;
    size_t before = fa_calls();
    assert_null(phn_calloc(SIZE_MAX / 2 + 1, 2));
    assert_null(phn_calloc(SIZE_MAX, SIZE_MAX));
    assert_null(phn_calloc(2, SIZE_MAX / 2 + 1));
    /* Refused by the overflow check, so the allocator was never asked. */
    assert_int_equal(fa_calls(), before);
}

static void test_calloc_zeroes(void **state)
{
    (void)state;
    unsigned char *p = phn_calloc(64, 8);
    assert_non_null(p);
    for (size_t i = 0; i < 64 * 8; i++)
        assert_int_equal(p[i], 0);
    phn_free(p);

    /* Zero-sized requests still give a distinct, freeable block. */
    void *z = phn_calloc(0, 8);
    assert_non_null(z);
    phn_free(z);
    z = phn_calloc(8, 0);
    assert_non_null(z);
    phn_free(z);
}

static void test_malloc_zero(void **state)
{
    (void)state;
    void *p = phn_malloc(0);
    assert_non_null(p);
    assert_int_equal(fa_live(), 1);
    phn_free(p);
    assert_int_equal(fa_live(), 0);
}

static void test_reallocarray_overflow_keeps_block(void **state)
{
    (void)state;
    unsigned char *p = phn_reallocarray(NULL, 16, 1);
    assert_non_null(p);
    for (int i = 0; i < 16; i++)
        p[i] = (unsigned char)i;
    size_t before = fa_calls();
    assert_null(phn_reallocarray(p, SIZE_MAX / 8 + 1, 8));
    assert_null(phn_reallocarray(p, SIZE_MAX, SIZE_MAX));
    assert_int_equal(fa_calls(), before);
    /* The original block is untouched and still owned by the caller. */
    for (int i = 0; i < 16; i++)
        assert_int_equal(p[i], i);
    phn_free(p);
}

static void test_reallocarray_grows_and_keeps_data(void **state)
{
    (void)state;
    uint32_t *p = phn_reallocarray(NULL, 4, sizeof(uint32_t));
    assert_non_null(p);
    for (uint32_t i = 0; i < 4; i++)
        p[i] = i * 7;
    p = phn_reallocarray(p, 4096, sizeof(uint32_t));
    assert_non_null(p);
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(p[i], i * 7);
    /* A zero-sized reallocation still returns a block (realloc(p, 0) may free). */
    p = phn_reallocarray(p, 0, sizeof(uint32_t));
    assert_non_null(p);
    phn_free(p);
    assert_int_equal(fa_live(), 0);
}

static void test_free_null(void **state)
{
    (void)state;
    phn_free(NULL);
    assert_int_equal(fa_live(), 0);
}

static void test_counting(void **state)
{
    (void)state;
    void *a = phn_malloc(10);
    void *b = phn_calloc(3, 4);
    void *c = phn_reallocarray(NULL, 2, 2);
    assert_int_equal(fa_calls(), 3);
    assert_int_equal(fa_live(), 3);
    c = phn_reallocarray(c, 100, 2); /* a move, not a new block */
    assert_int_equal(fa_live(), 3);
    phn_free(a);
    phn_free(b);
    phn_free(c);
    assert_int_equal(fa_live(), 0);
}

static void test_fail_on_demand(void **state)
{
    (void)state;
    fa_fail_nth(1);
    void *a = phn_malloc(8);
    void *b = phn_malloc(8);
    void *c = phn_malloc(8);
    assert_non_null(a);
    assert_null(b);
    assert_non_null(c);
    assert_int_equal(fa_failures(), 1);

    /* A refused realloc leaves the block valid. */
    fa_fail_nth(0);
    void *d = phn_reallocarray(a, 1000, 8);
    assert_null(d);
    a = phn_reallocarray(a, 1000, 8);
    assert_non_null(a);

    fa_fail_from(0);
    assert_null(phn_malloc(1));
    assert_null(phn_calloc(1, 1));
    assert_null(phn_reallocarray(NULL, 1, 1));
    assert_int_equal(fa_failures(), 3);
    fa_disarm();
    phn_free(a);
    phn_free(c);
}

static int calls_of_other;
static void *other_alloc(size_t n)
{
    calls_of_other++;
    return malloc(n);
}

static void test_set_allocator_and_restore(void **state)
{
    (void)state;
    phn_allocator other = {other_alloc, realloc, free};
    phn_set_allocator(&other);
    void *p = phn_malloc(5);
    assert_int_equal(calls_of_other, 1);
    phn_free(p);

    /* NULL restores libc: nothing goes to a custom allocator any more. */
    phn_set_allocator(NULL);
    size_t before = fa_calls();
    p = phn_malloc(5);
    assert_non_null(p);
    phn_free(p);
    assert_int_equal(calls_of_other, 1);
    assert_int_equal(fa_calls(), before);
}

static void test_grow_cap(void **state)
{
    (void)state;
    assert_int_equal(phn_grow_cap(256, 100), 256);   /* room already */
    assert_int_equal(phn_grow_cap(256, 300), 512);   /* doubled */
    assert_int_equal(phn_grow_cap(256, 1100), 2048); /* doubled until it holds */
    assert_int_equal(phn_grow_cap(0, 5), 8);         /* an empty buffer grows too */
    /* Past half the address space, doubling would wrap: exactly what is needed. */
    assert_true(phn_grow_cap(SIZE_MAX / 2 + 1, SIZE_MAX - 1) == SIZE_MAX - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FA_TEST(test_calloc_overflow_refused),
        FA_TEST(test_calloc_zeroes),
        FA_TEST(test_malloc_zero),
        FA_TEST(test_reallocarray_overflow_keeps_block),
        FA_TEST(test_reallocarray_grows_and_keeps_data),
        FA_TEST(test_free_null),
        FA_TEST(test_counting),
        FA_TEST(test_fail_on_demand),
        FA_TEST(test_set_allocator_and_restore),
        FA_TEST(test_grow_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
