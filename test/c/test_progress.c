/* phn_progress: declaration, duplicates, multi-chunk completion, extra and unexpected
 * chunks, zero nodes, the eq callback, and PHN_ENOMEM leaving the state unchanged. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "failing_alloc.h"
#include "phn_progress.h"
#include "test_rng.h"

static void test_zero_nodes(void **state)
{
    (void)state;
    phn_progress *p = phn_progress_new(0, NULL, NULL);
    assert_non_null(p);
    assert_int_equal(phn_progress_nodes(p), 0);
    assert_int_equal(phn_progress_missing_nodes(p), 0);
    size_t idx = 77;
    assert_int_equal(phn_progress_record(p, 1, 1, &idx), PHN_REC_UNEXPECTED);
    assert_int_equal(idx, 77);
    assert_int_equal(phn_progress_node_at(p, 0), 0);
    assert_int_equal(phn_progress_expected_at(p, 0), 0);
    assert_int_equal(phn_progress_received_at(p, 0), 0);
    assert_true(phn_progress_bytes(p) > 0);
    phn_progress_free(p);
    phn_progress_free(NULL);
}

static void test_one_chunk_each(void **state)
{
    (void)state;
    phn_progress *p = phn_progress_new(3, NULL, NULL);
    assert_non_null(p);
    assert_int_equal(phn_progress_expect(p, 10, 10, 1), PHN_OK);
    assert_int_equal(phn_progress_expect(p, 20, 20, 1), PHN_OK);
    assert_int_equal(phn_progress_expect(p, 30, 30, 1), PHN_OK);
    assert_int_equal(phn_progress_nodes(p), 3);
    assert_int_equal(phn_progress_missing_nodes(p), 3);

    size_t idx = 99;
    assert_int_equal(phn_progress_record(p, 20, 20, &idx), PHN_REC_PENDING);
    assert_int_equal(idx, 1);
    assert_int_equal(phn_progress_missing_nodes(p), 2);
    /* A second chunk from a node that owed one: extra, nothing changes. */
    idx = 99;
    assert_int_equal(phn_progress_record(p, 20, 20, &idx), PHN_REC_EXTRA);
    assert_int_equal(idx, 99);
    assert_int_equal(phn_progress_received_at(p, 1), 1);
    assert_int_equal(phn_progress_missing_nodes(p), 2);
    /* A node that was never declared: unexpected, nothing changes. */
    assert_int_equal(phn_progress_record(p, 40, 40, &idx), PHN_REC_UNEXPECTED);
    assert_int_equal(idx, 99);
    assert_int_equal(phn_progress_nodes(p), 3);

    assert_int_equal(phn_progress_record(p, 10, 10, NULL), PHN_REC_PENDING);
    assert_int_equal(phn_progress_record(p, 30, 30, &idx), PHN_REC_COMPLETE);
    assert_int_equal(idx, 2);
    assert_int_equal(phn_progress_missing_nodes(p), 0);
    /* After completion every further chunk is extra. */
    assert_int_equal(phn_progress_record(p, 30, 30, &idx), PHN_REC_EXTRA);
    assert_int_equal(phn_progress_record(p, 10, 10, &idx), PHN_REC_EXTRA);

    uint64_t nodes[] = {10, 20, 30};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(phn_progress_node_at(p, i), nodes[i]);
        assert_int_equal(phn_progress_expected_at(p, i), 1);
        assert_int_equal(phn_progress_received_at(p, i), 1);
    }
    assert_int_equal(phn_progress_node_at(p, 3), 0);
    phn_progress_free(p);
}

static void test_duplicate_expect_adds(void **state)
{
    (void)state;
    phn_progress *p = phn_progress_new(0, NULL, NULL);
    assert_non_null(p);
    assert_int_equal(phn_progress_expect(p, 5, 5, 1), PHN_OK);
    assert_int_equal(phn_progress_expect(p, 6, 6, 1), PHN_OK);
    assert_int_equal(phn_progress_expect(p, 5, 5, 2), PHN_OK);
    assert_int_equal(phn_progress_nodes(p), 2);
    assert_int_equal(phn_progress_missing_nodes(p), 2);
    assert_int_equal(phn_progress_node_at(p, 0), 5);
    assert_int_equal(phn_progress_expected_at(p, 0), 3);
    assert_int_equal(phn_progress_expected_at(p, 1), 1);

    size_t idx;
    assert_int_equal(phn_progress_record(p, 5, 5, &idx), PHN_REC_PENDING);
    assert_int_equal(idx, 0);
    assert_int_equal(phn_progress_record(p, 6, 6, &idx), PHN_REC_PENDING);
    assert_int_equal(idx, 1);
    assert_int_equal(phn_progress_missing_nodes(p), 1);
    assert_int_equal(phn_progress_record(p, 5, 5, &idx), PHN_REC_PENDING);
    assert_int_equal(phn_progress_record(p, 5, 5, &idx), PHN_REC_COMPLETE);
    assert_int_equal(phn_progress_record(p, 5, 5, &idx), PHN_REC_EXTRA);
    assert_int_equal(phn_progress_received_at(p, 0), 3);
    phn_progress_free(p);
}

static void test_multi_chunk(void **state)
{
    (void)state;
    phn_progress *p = phn_progress_new(2, NULL, NULL);
    assert_non_null(p);
    assert_int_equal(phn_progress_expect(p, 1, 1, 3), PHN_OK);
    assert_int_equal(phn_progress_expect(p, 2, 2, 1), PHN_OK);
    assert_int_equal(phn_progress_record(p, 1, 1, NULL), PHN_REC_PENDING);
    assert_int_equal(phn_progress_record(p, 2, 2, NULL), PHN_REC_PENDING);
    assert_int_equal(phn_progress_missing_nodes(p), 1);
    assert_int_equal(phn_progress_record(p, 1, 1, NULL), PHN_REC_PENDING);
    assert_int_equal(phn_progress_missing_nodes(p), 1);
    assert_int_equal(phn_progress_received_at(p, 0), 2);
    assert_int_equal(phn_progress_record(p, 1, 1, NULL), PHN_REC_COMPLETE);
    assert_int_equal(phn_progress_missing_nodes(p), 0);
    phn_progress_free(p);
}

static void test_expect_invalid(void **state)
{
    (void)state;
    phn_progress *p = phn_progress_new(1, NULL, NULL);
    assert_non_null(p);
    assert_int_equal(phn_progress_expect(p, 1, 1, 0), PHN_EINVAL);
    assert_int_equal(phn_progress_nodes(p), 0);
    assert_int_equal(phn_progress_expect(p, 1, 1, UINT32_MAX), PHN_OK);
    /* The per-node total would wrap: refused, unchanged. */
    assert_int_equal(phn_progress_expect(p, 1, 1, 1), PHN_EINVAL);
    assert_int_equal(phn_progress_expected_at(p, 0), UINT32_MAX);
    assert_int_equal(phn_progress_expect(p, 1, 1, 0), PHN_EINVAL);
    assert_int_equal(phn_progress_nodes(p), 1);
    assert_int_equal(phn_progress_missing_nodes(p), 1);
    phn_progress_free(p);
}

/* Declaring more chunks on a node that already completed reopens the operation. */
static void test_reopen_after_complete(void **state)
{
    (void)state;
    phn_progress *p = phn_progress_new(1, NULL, NULL);
    assert_non_null(p);
    assert_int_equal(phn_progress_expect(p, 1, 1, 1), PHN_OK);
    assert_int_equal(phn_progress_record(p, 1, 1, NULL), PHN_REC_COMPLETE);
    assert_int_equal(phn_progress_expect(p, 1, 1, 2), PHN_OK);
    assert_int_equal(phn_progress_missing_nodes(p), 1);
    /* A node still owing does not count twice. */
    assert_int_equal(phn_progress_expect(p, 1, 1, 1), PHN_OK);
    assert_int_equal(phn_progress_missing_nodes(p), 1);
    assert_int_equal(phn_progress_record(p, 1, 1, NULL), PHN_REC_PENDING);
    assert_int_equal(phn_progress_record(p, 1, 1, NULL), PHN_REC_PENDING);
    assert_int_equal(phn_progress_record(p, 1, 1, NULL), PHN_REC_COMPLETE);
    assert_int_equal(phn_progress_expected_at(p, 0), 4);
    phn_progress_free(p);
}

typedef struct eq_ctx {
    size_t calls;
} eq_ctx;

static int eq_mod(uint64_t a, uint64_t b, void *ctx)
{
    ((eq_ctx *)ctx)->calls++;
    return a % 1000 == b % 1000;
}

/* The eq callback and its ctx are kept for every lookup; all hashes collide. */
static void test_eq_and_collisions(void **state)
{
    (void)state;
    eq_ctx ctx = {0};
    phn_progress *p = phn_progress_new(0, eq_mod, &ctx);
    assert_non_null(p);
    for (uint64_t n = 0; n < 300; n++)
        assert_int_equal(phn_progress_expect(p, n, 77, 1), PHN_OK);
    assert_int_equal(phn_progress_expect(p, 1005, 77, 1), PHN_OK); /* same node as 5 */
    assert_int_equal(phn_progress_nodes(p), 300);
    assert_int_equal(phn_progress_expected_at(p, 5), 2);
    size_t idx;
    assert_int_equal(phn_progress_record(p, 2005, 77, &idx), PHN_REC_PENDING);
    assert_int_equal(idx, 5);
    assert_int_equal(phn_progress_record(p, 300, 77, &idx), PHN_REC_UNEXPECTED);
    assert_true(ctx.calls > 0);
    phn_progress_free(p);
}

/* Many nodes, several chunks each, recorded in random order with noise: COMPLETE comes
 * exactly on the last owed chunk, and missing_nodes tracks a recount at every step. */
static void test_random_large(void **state)
{
    (void)state;
    enum { NODES = 5000, CHUNKS = 3 };
    test_rng rng = test_rng_new(3);
    phn_progress *p = phn_progress_new(NODES, NULL, NULL);
    assert_non_null(p);
    for (uint64_t n = 0; n < NODES; n++)
        assert_int_equal(phn_progress_expect(p, n * 16, n, 1 + (uint32_t)(n % CHUNKS)), PHN_OK);
    size_t total = 0;
    for (uint64_t n = 0; n < NODES; n++)
        total += 1 + n % CHUNKS;
    uint64_t *order = malloc(total * sizeof(*order));
    assert_non_null(order);
    size_t k = 0;
    for (uint64_t n = 0; n < NODES; n++)
        for (uint64_t c = 0; c <= n % CHUNKS; c++)
            order[k++] = n;
    for (size_t i = total - 1; i > 0; i--) {
        size_t j = (size_t)test_rng_below(&rng, i + 1);
        uint64_t tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    size_t missing = NODES;
    for (size_t i = 0; i < total; i++) {
        uint64_t n = order[i];
        size_t idx;
        phn_rec_result r = phn_progress_record(p, n * 16, n, &idx);
        assert_int_equal(idx, n);
        if (phn_progress_received_at(p, n) == phn_progress_expected_at(p, n))
            missing--;
        assert_int_equal(phn_progress_missing_nodes(p), missing);
        assert_int_equal(r, i + 1 == total ? PHN_REC_COMPLETE : PHN_REC_PENDING);
        /* noise: an undeclared node */
        assert_int_equal(phn_progress_record(p, n * 16 + 1, n, NULL), PHN_REC_UNEXPECTED);
    }
    for (uint64_t n = 0; n < NODES; n++) {
        assert_int_equal(phn_progress_node_at(p, n), n * 16);
        assert_int_equal(phn_progress_record(p, n * 16, n, NULL), PHN_REC_EXTRA);
    }
    free(order);
    phn_progress_free(p);
}

static void test_new_enomem(void **state)
{
    (void)state;
    assert_null(phn_progress_new(SIZE_MAX, NULL, NULL));
    assert_null(phn_progress_new(SIZE_MAX / 8, NULL, NULL));
    for (size_t nth = 0; nth < 3; nth++) {
        fa_fail_nth(nth);
        assert_null(phn_progress_new(10, NULL, NULL));
        assert_int_equal(fa_live(), 0);
    }
    fa_disarm();
}

/* Refuse each allocation of a growing declaration in turn: a refused expect changes
 * nothing, and a retry then succeeds. */
static void test_expect_enomem(void **state)
{
    (void)state;
    enum { N = 200 };
    for (size_t nth = 0;; nth++) {
        phn_progress *p = phn_progress_new(0, NULL, NULL);
        assert_non_null(p);
        fa_fail_nth(nth);
        size_t refused = 0;
        for (uint64_t n = 0; n < N; n++) {
            int rc = phn_progress_expect(p, n, n, 2);
            if (rc == PHN_ENOMEM) {
                refused++;
                assert_int_equal(phn_progress_nodes(p), n);
                assert_int_equal(phn_progress_missing_nodes(p), n);
                assert_int_equal(phn_progress_record(p, n, n, NULL), PHN_REC_UNEXPECTED);
                rc = phn_progress_expect(p, n, n, 2);
            }
            assert_int_equal(rc, PHN_OK);
        }
        size_t failures = fa_failures();
        fa_disarm();
        assert_int_equal(refused, failures);
        for (uint64_t n = 0; n < N; n++) {
            assert_int_equal(phn_progress_record(p, n, n, NULL), PHN_REC_PENDING);
            assert_int_equal(phn_progress_record(p, n, n, NULL),
                             n + 1 == N ? PHN_REC_COMPLETE : PHN_REC_PENDING);
        }
        phn_progress_free(p);
        assert_int_equal(fa_live(), 0);
        if (failures == 0)
            break;
    }
}

static void test_bytes(void **state)
{
    (void)state;
    phn_progress *p = phn_progress_new(0, NULL, NULL);
    assert_non_null(p);
    size_t empty = phn_progress_bytes(p);
    for (uint64_t n = 0; n < 1000; n++)
        assert_int_equal(phn_progress_expect(p, n, n, 1), PHN_OK);
    /* At least a slot and a record per node. */
    assert_true(phn_progress_bytes(p) >= empty + 1000 * (24 + 16));
    phn_progress_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FA_TEST(test_zero_nodes),
        FA_TEST(test_one_chunk_each),
        FA_TEST(test_duplicate_expect_adds),
        FA_TEST(test_multi_chunk),
        FA_TEST(test_expect_invalid),
        FA_TEST(test_reopen_after_complete),
        FA_TEST(test_eq_and_collisions),
        FA_TEST(test_random_large),
        FA_TEST(test_new_enomem),
        FA_TEST(test_expect_enomem),
        FA_TEST(test_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
