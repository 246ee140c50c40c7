/* phn_nodeset: lifecycle, growth, forced hash collisions, the eq callback, and every
 * PHN_ENOMEM path leaving the set unchanged. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "failing_alloc.h"
#include "phn_nodeset.h"

#define SLOT_BYTES sizeof(phn_nodeset_slot)

static void test_zeroed_set(void **state)
{
    (void)state;
    phn_nodeset s = {0};
    assert_int_equal(phn_nodeset_size(&s), 0);
    assert_int_equal(phn_nodeset_bytes(&s), 0);
    assert_int_equal(phn_nodeset_find(&s, 1, 1, NULL), 0);
    assert_int_equal(phn_nodeset_set(&s, 1, 1, 5), 0);
    phn_nodeset_free(&s);
    phn_nodeset_free(&s);
    /* A zeroed set is usable: it allocates on first insert. */
    assert_int_equal(phn_nodeset_insert(&s, 1, 1, 10, NULL), 1);
    assert_int_equal(phn_nodeset_size(&s), 1);
    phn_nodeset_free(&s);
    phn_nodeset_free(&s);
    assert_int_equal(phn_nodeset_size(&s), 0);
}

static void test_init_zero_allocates_nothing(void **state)
{
    (void)state;
    phn_nodeset s;
    assert_int_equal(phn_nodeset_init(&s, 0, NULL, NULL), PHN_OK);
    assert_int_equal(fa_calls(), 0);
    assert_int_equal(phn_nodeset_bytes(&s), 0);
    assert_int_equal(phn_nodeset_find(&s, 0, 0, NULL), 0);
    phn_nodeset_free(&s);
}

static void test_insert_find_set(void **state)
{
    (void)state;
    phn_nodeset s;
    assert_int_equal(phn_nodeset_init(&s, 4, NULL, NULL), PHN_OK);
    /* Key 0, hash 0 and value 0 are ordinary values. */
    assert_int_equal(phn_nodeset_insert(&s, 0, 0, 0, NULL), 1);
    assert_int_equal(phn_nodeset_insert(&s, 7, 123, 70, NULL), 1);
    assert_int_equal(phn_nodeset_insert(&s, UINT64_MAX, UINT64_MAX, UINT64_MAX, NULL), 1);
    assert_int_equal(phn_nodeset_size(&s), 3);

    uint64_t v = 99;
    assert_int_equal(phn_nodeset_find(&s, 0, 0, &v), 1);
    assert_int_equal(v, 0);
    assert_int_equal(phn_nodeset_find(&s, 7, 123, &v), 1);
    assert_int_equal(v, 70);
    assert_int_equal(phn_nodeset_find(&s, UINT64_MAX, UINT64_MAX, &v), 1);
    assert_true(v == UINT64_MAX);
    assert_int_equal(phn_nodeset_find(&s, 7, 123, NULL), 1);
    /* Same key under another hash is another key as far as the set knows. */
    assert_int_equal(phn_nodeset_find(&s, 7, 124, NULL), 0);
    assert_int_equal(phn_nodeset_find(&s, 8, 123, NULL), 0);

    /* A duplicate insert reports the existing value and keeps it. */
    v = 0;
    assert_int_equal(phn_nodeset_insert(&s, 7, 123, 71, &v), 0);
    assert_int_equal(v, 70);
    assert_int_equal(phn_nodeset_insert(&s, 7, 123, 71, NULL), 0);
    assert_int_equal(phn_nodeset_size(&s), 3);
    assert_int_equal(phn_nodeset_find(&s, 7, 123, &v), 1);
    assert_int_equal(v, 70);

    assert_int_equal(phn_nodeset_set(&s, 7, 123, 700), 1);
    assert_int_equal(phn_nodeset_find(&s, 7, 123, &v), 1);
    assert_int_equal(v, 700);
    assert_int_equal(phn_nodeset_set(&s, 9, 9, 1), 0);
    assert_int_equal(phn_nodeset_find(&s, 9, 9, NULL), 0);
    assert_int_equal(phn_nodeset_size(&s), 3);
    phn_nodeset_free(&s);
}

static void check_shape(const phn_nodeset *s)
{
    size_t cap = phn_nodeset_bytes(s) / SLOT_BYTES;
    assert_int_equal(phn_nodeset_bytes(s) % SLOT_BYTES, 0);
    assert_true(cap != 0 && (cap & (cap - 1)) == 0);
    assert_true(phn_nodeset_size(s) * 10 <= cap * 7); /* load <= 0.7 */
}

/* Sequential keys with identity hashes: the mixer must spread them. */
static void test_growth(void **state)
{
    (void)state;
    enum { N = 100000 };
    phn_nodeset s;
    assert_int_equal(phn_nodeset_init(&s, 0, NULL, NULL), PHN_OK);
    for (uint64_t k = 0; k < N; k++) {
        assert_int_equal(phn_nodeset_insert(&s, k << 20, k << 20, k * 3, NULL), 1);
        if ((k & (k + 1)) == 0)
            check_shape(&s);
    }
    check_shape(&s);
    assert_int_equal(phn_nodeset_size(&s), N);
    for (uint64_t k = 0; k < N; k++) {
        uint64_t v;
        assert_int_equal(phn_nodeset_find(&s, k << 20, k << 20, &v), 1);
        assert_true(v == k * 3);
    }
    for (uint64_t k = N; k < 2 * N; k++)
        assert_int_equal(phn_nodeset_find(&s, k << 20, k << 20, NULL), 0);
    phn_nodeset_free(&s);
}

/* Presized for n keys: n inserts cause no further allocation. */
static void test_presize(void **state)
{
    (void)state;
    for (size_t n = 1; n <= 2000; n = n * 3 + 1) {
        phn_nodeset s;
        assert_int_equal(phn_nodeset_init(&s, n, NULL, NULL), PHN_OK);
        size_t calls = fa_calls();
        for (uint64_t k = 0; k < n; k++)
            assert_int_equal(phn_nodeset_insert(&s, k, k, k, NULL), 1);
        assert_int_equal(fa_calls(), calls);
        check_shape(&s);
        phn_nodeset_free(&s);
    }
}

/* Every key under the same hash: one long probe run, still correct. */
static void test_forced_collisions(void **state)
{
    (void)state;
    enum { N = 500 };
    phn_nodeset s;
    assert_int_equal(phn_nodeset_init(&s, 0, NULL, NULL), PHN_OK);
    for (uint64_t k = 0; k < N; k++)
        assert_int_equal(phn_nodeset_insert(&s, k, 42, k + 1, NULL), 1);
    for (uint64_t k = 0; k < N; k++) {
        uint64_t v;
        assert_int_equal(phn_nodeset_find(&s, k, 42, &v), 1);
        assert_true(v == k + 1);
        assert_int_equal(phn_nodeset_insert(&s, k, 42, 0, &v), 0);
        assert_true(v == k + 1);
    }
    assert_int_equal(phn_nodeset_find(&s, N, 42, NULL), 0);
    assert_int_equal(phn_nodeset_size(&s), N);
    phn_nodeset_free(&s);
}

typedef struct eq_ctx {
    size_t calls;
} eq_ctx;

/* Equality modulo 1000, standing in for enif_is_identical on distinct term words. */
static int eq_mod(uint64_t a, uint64_t b, void *ctx)
{
    ((eq_ctx *)ctx)->calls++;
    return a % 1000 == b % 1000;
}

static void test_eq_callback(void **state)
{
    (void)state;
    eq_ctx ctx = {0};
    phn_nodeset s;
    assert_int_equal(phn_nodeset_init(&s, 16, eq_mod, &ctx), PHN_OK);
    for (uint64_t k = 0; k < 100; k++)
        assert_int_equal(phn_nodeset_insert(&s, k, k % 1000, k, NULL), 1);
    /* Distinct hashes: eq is only consulted on hash matches, i.e. never here. */
    assert_int_equal(ctx.calls, 0);

    uint64_t v;
    assert_int_equal(phn_nodeset_insert(&s, 1005, 5, 0, &v), 0);
    assert_int_equal(v, 5);
    assert_int_equal(phn_nodeset_find(&s, 2042, 42, &v), 1);
    assert_int_equal(v, 42);
    assert_int_equal(phn_nodeset_set(&s, 3042, 42, 4242), 1);
    assert_int_equal(phn_nodeset_find(&s, 42, 42, &v), 1);
    assert_int_equal(v, 4242);
    assert_true(ctx.calls >= 4);
    assert_int_equal(phn_nodeset_size(&s), 100);

    /* Same hash, eq says different: both are kept. */
    phn_nodeset_free(&s);
    assert_int_equal(phn_nodeset_init(&s, 0, eq_mod, &ctx), PHN_OK);
    assert_int_equal(phn_nodeset_insert(&s, 1, 7, 1, NULL), 1);
    assert_int_equal(phn_nodeset_insert(&s, 2, 7, 2, NULL), 1);
    assert_int_equal(phn_nodeset_insert(&s, 1001, 7, 3, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(phn_nodeset_size(&s), 2);
    phn_nodeset_free(&s);
}

static void test_init_enomem(void **state)
{
    (void)state;
    phn_nodeset s;
    /* Too large to size: refused without touching the allocator. */
    assert_int_equal(phn_nodeset_init(&s, SIZE_MAX, NULL, NULL), PHN_ENOMEM);
    phn_nodeset_free(&s);
    assert_int_equal(phn_nodeset_init(&s, SIZE_MAX / 4, NULL, NULL), PHN_ENOMEM);
    phn_nodeset_free(&s);

    fa_fail_nth(0);
    assert_int_equal(phn_nodeset_init(&s, 100, NULL, NULL), PHN_ENOMEM);
    assert_int_equal(phn_nodeset_bytes(&s), 0);
    phn_nodeset_free(&s);
    fa_disarm();
    assert_int_equal(fa_live(), 0);
}

/* Fail every allocation in turn while filling a set: a refused insert leaves the set
 * exactly as it was, and the fill can go on afterwards. */
static void test_insert_enomem(void **state)
{
    (void)state;
    enum { N = 300 };
    for (size_t nth = 0;; nth++) {
        phn_nodeset s;
        assert_int_equal(phn_nodeset_init(&s, 0, NULL, NULL), PHN_OK);
        fa_fail_nth(nth);
        int refused = 0;
        for (uint64_t k = 0; k < N; k++) {
            size_t before = phn_nodeset_size(&s);
            int rc = phn_nodeset_insert(&s, k, k * 7, k, NULL);
            if (rc == PHN_ENOMEM) {
                refused++;
                assert_int_equal(phn_nodeset_size(&s), before);
                assert_int_equal(phn_nodeset_find(&s, k, k * 7, NULL), 0);
                for (uint64_t j = 0; j < k; j++)
                    assert_int_equal(phn_nodeset_find(&s, j, j * 7, NULL), 1);
                /* The next attempt succeeds: only one call was to fail. */
                rc = phn_nodeset_insert(&s, k, k * 7, k, NULL);
            }
            assert_int_equal(rc, 1);
        }
        assert_int_equal(phn_nodeset_size(&s), N);
        phn_nodeset_free(&s);
        assert_int_equal(fa_live(), 0);
        size_t failures = fa_failures();
        fa_disarm();
        assert_int_equal((size_t)refused, failures);
        if (failures == 0)
            break; /* every allocation of the fill has been refused once */
    }
}

static void test_bytes(void **state)
{
    (void)state;
    phn_nodeset s;
    assert_int_equal(phn_nodeset_init(&s, 5, NULL, NULL), PHN_OK);
    assert_int_equal(phn_nodeset_bytes(&s), 8 * SLOT_BYTES);
    for (uint64_t k = 0; k < 6; k++)
        phn_nodeset_insert(&s, k, k, k, NULL);
    assert_int_equal(phn_nodeset_bytes(&s), 8 * SLOT_BYTES); /* 6 of 8: at the load limit */
    phn_nodeset_insert(&s, 6, 6, 6, NULL);
    assert_int_equal(phn_nodeset_bytes(&s), 16 * SLOT_BYTES);
    phn_nodeset_free(&s);
    assert_int_equal(phn_nodeset_bytes(&s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FA_TEST(test_zeroed_set),      FA_TEST(test_init_zero_allocates_nothing),
        FA_TEST(test_insert_find_set), FA_TEST(test_growth),
        FA_TEST(test_presize),         FA_TEST(test_forced_collisions),
        FA_TEST(test_eq_callback),     FA_TEST(test_init_enomem),
        FA_TEST(test_insert_enomem),   FA_TEST(test_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
