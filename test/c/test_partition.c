/* phn_partition: every partition-strategy case of REFERENCE.md §6.4, plus the edges of
 * the pure API (division by zero, allocation failure, pruning order). Cluster sizes count
 * the local node, as the original's Cluster.nodes(..., [:include_local]) does. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "failing_alloc.h"
#include "phn_partition.h"

enum { N1 = 1, N2, N3, N4, N5 };

#define NOW INT64_C(1700000000)

static phn_pt_strategy static_q(double quorum, int startup_confirm)
{
    phn_pt_strategy s;
    phn_pt_defaults(&s, PHN_PT_STATIC);
    s.quorum_size = quorum;
    s.startup_confirm = startup_confirm;
    return s;
}

static phn_pt_strategy dynamic_q(double quorum)
{
    phn_pt_strategy s;
    phn_pt_defaults(&s, PHN_PT_DYNAMIC);
    s.quorum_size = quorum;
    return s;
}

static phn_pt_strategy majority_q(int64_t initial, int track)
{
    phn_pt_strategy s;
    phn_pt_defaults(&s, PHN_PT_MAJORITY);
    s.initial_cluster_size = initial;
    s.track_max_size = track;
    return s;
}

static int lock(const phn_pt_strategy *s, size_t size, phn_pt_state *st)
{
    return phn_pt_toggle_lock(s, size, N5, NOW, st);
}

static int unlock(const phn_pt_strategy *s, size_t size, phn_pt_state *st)
{
    return phn_pt_toggle_unlock(s, size, N5, NOW, st);
}

/* ---- StaticQuorum ---------------------------------------------------------------- */

static void test_static_quorum_3(void **state)
{
    (void)state;
    phn_pt_strategy s = static_q(3, 0);
    phn_pt_state st = {0};
    assert_int_equal(lock(&s, 1, &st), 1); /* [self] */
    assert_int_equal(lock(&s, 3, &st), 0);
    assert_int_equal(lock(&s, 4, &st), 0);
    assert_int_equal(unlock(&s, 3, &st), 1);
    assert_int_equal(unlock(&s, 2, &st), 0);
    assert_int_equal(phn_pt_has_quorum(&s, 3, &st), 1);
    assert_int_equal(phn_pt_has_quorum(&s, 2, &st), 0);
    phn_pt_state_free(&st);
}

static void test_static_init(void **state)
{
    (void)state;
    phn_pt_state st = {0};
    phn_pt_strategy s = static_q(3, 0);
    /* startup_confirm false: init never partitions and stores nothing. */
    assert_int_equal(phn_pt_init(&s, 1, &st), 0);
    assert_false(st.has_log || st.has_max_seen);
    s = static_q(3, 1);
    assert_int_equal(phn_pt_init(&s, 1, &st), 1); /* no quorum at startup: partition */
    assert_int_equal(phn_pt_init(&s, 3, &st), 0);
}

static void test_static_quorum_1(void **state)
{
    (void)state;
    phn_pt_strategy s = static_q(1, 0);
    phn_pt_state st = {0};
    assert_int_equal(lock(&s, 1, &st), 0);
    assert_int_equal(unlock(&s, 1, &st), 1);
}

static void test_static_exact_then_below(void **state)
{
    (void)state;
    phn_pt_strategy s = static_q(3, 0);
    phn_pt_state st = {0};
    assert_int_equal(lock(&s, 3, &st), 0);
    assert_int_equal(unlock(&s, 3, &st), 1);
    assert_int_equal(lock(&s, 2, &st), 1);
    assert_int_equal(unlock(&s, 2, &st), 0);
}

static void test_static_five_node_split(void **state)
{
    (void)state;
    phn_pt_strategy s = static_q(3, 0);
    phn_pt_state st = {0};
    assert_int_equal(lock(&s, 3, &st), 0); /* [self, n2, n3] */
    assert_int_equal(lock(&s, 2, &st), 1); /* [n4, n5] */
}

/* ---- DynamicQuorum --------------------------------------------------------------- */

static void test_dynamic_defaults_and_init(void **state)
{
    (void)state;
    phn_pt_strategy s = dynamic_q(50);
    phn_pt_state st = {0};
    assert_true(s.threshold_time == 30.0);
    assert_int_equal(phn_pt_init(&s, 3, &st), 0);
    assert_false(st.has_log);
}

static void test_dynamic_no_log(void **state)
{
    (void)state;
    phn_pt_strategy s = dynamic_q(50);
    phn_pt_state st = {0};
    /* 3 connected, down log created with the one down node: 75% left. */
    assert_int_equal(phn_pt_toggle_lock(&s, 3, N5, NOW, &st), 0);
    assert_true(st.has_log);
    assert_int_equal(st.log_len, 1);
    assert_int_equal(st.log[0].node, N5);
    assert_int_equal(st.log[0].time, NOW);
    phn_pt_state_free(&st);
}

static void test_dynamic_fresh_log_locks(void **state)
{
    (void)state;
    phn_pt_strategy s = dynamic_q(50);
    phn_pt_state st = {0};
    phn_pt_down rows[] = {{N2, NOW - 1}, {N3, NOW - 2}, {N4, NOW - 3}};
    assert_int_equal(phn_pt_state_set_log(&st, rows, 3), PHN_OK);
    /* 1 connected, 4 down: 1 / (1 + 4) => 20% left < 50. */
    assert_int_equal(phn_pt_toggle_lock(&s, 1, N5, NOW, &st), 1);
    assert_int_equal(st.log_len, 4);
    assert_int_equal(st.log[0].node, N5); /* newest first */
    assert_int_equal(st.log[1].node, N2);
    assert_int_equal(st.log[3].node, N4);
    phn_pt_state_free(&st);
}

static void test_dynamic_old_entries_pruned(void **state)
{
    (void)state;
    phn_pt_strategy s = dynamic_q(50);
    phn_pt_state st = {0};
    phn_pt_down rows[] = {{N3, NOW - 100}, {N4, NOW - 100}};
    assert_int_equal(phn_pt_state_set_log(&st, rows, 2), PHN_OK);
    /* Both rows older than 30 s go; log = [n5]; 2 / (2 + 1) => 66.7% left. */
    assert_int_equal(phn_pt_toggle_lock(&s, 2, N5, NOW, &st), 0);
    assert_int_equal(st.log_len, 1);
    assert_int_equal(st.log[0].node, N5);
    phn_pt_state_free(&st);
}

static void test_dynamic_threshold_edge_and_same_node(void **state)
{
    (void)state;
    phn_pt_strategy s = dynamic_q(50);
    /* time =< now - threshold is dropped (strict >), rows of the same node dropped. */
    phn_pt_down rows[] = {{N1, NOW - 30}, {N2, NOW - 29}, {N5, NOW - 1}, {N3, NOW}};
    size_t len = phn_pt_log_prune(rows, 4, N5, NOW, s.threshold_time);
    assert_int_equal(len, 2);
    assert_int_equal(rows[0].node, N2);
    assert_int_equal(rows[1].node, N3);
    /* A fractional threshold takes the double path. */
    phn_pt_down frac[] = {{N1, NOW - 2}, {N2, NOW - 1}};
    assert_int_equal(phn_pt_log_prune(frac, 2, N5, NOW, 1.5), 1);
    assert_int_equal(frac[0].node, N2);
}

/* Regression (found by test/fuzz/fuzz_partition): with an integral threshold, pruning is
 * exact even when now - threshold leaves int64. It used to fall back to doubles there,
 * where INT64_MIN + 1 - 30 and INT64_MIN + 1 round to the same value and fresh rows were
 * dropped (and, past INT64_MAX, stale rows kept). */
static void test_dynamic_prune_exact_at_int64_edges(void **state)
{
    (void)state;
    /* now - 30 is below INT64_MIN: every row is inside the window. */
    phn_pt_down low[] = {{N1, INT64_MIN + 1}, {N2, INT64_MIN}, {N3, 0}};
    assert_int_equal(phn_pt_log_prune(low, 3, N5, INT64_MIN + 1, 30.0), 3);
    /* now + 30 is above INT64_MAX: no row is (time > now - (-30) is never true). */
    phn_pt_down high[] = {{N1, INT64_MAX}, {N2, INT64_MAX - 1}};
    assert_int_equal(phn_pt_log_prune(high, 2, N5, INT64_MAX - 1, -30.0), 0);
    /* Integral thresholds up to 2^63 stay on the exact path: limit = -1 here. */
    phn_pt_down big[] = {{N1, -1}, {N2, 0}, {N3, 4611686018427387904}};
    size_t len = phn_pt_log_prune(big, 3, N5, 4611686018427387903, 4611686018427387904.0);
    assert_int_equal(len, 2);
    assert_int_equal(big[0].node, N2);
    assert_int_equal(big[1].node, N3);
    /* And through toggle_lock: the first row survives the second down event. */
    phn_pt_strategy s = dynamic_q(50);
    phn_pt_state st = {0};
    assert_int_equal(phn_pt_toggle_lock(&s, 10, N4, INT64_MIN + 1, &st), 0);
    assert_int_equal(phn_pt_toggle_lock(&s, 10, N1, INT64_MIN + 1, &st), 0);
    assert_int_equal(st.log_len, 2);
    assert_int_equal(st.log[1].node, N4);
    phn_pt_state_free(&st);
}

static void test_dynamic_unlock(void **state)
{
    (void)state;
    phn_pt_strategy s = dynamic_q(50);
    phn_pt_state st = {0};
    /* No log: unlock stores an empty log and answers not-failed. */
    assert_int_equal(phn_pt_toggle_unlock(&s, 1, N2, NOW, &st), 1);
    assert_true(st.has_log);
    assert_int_equal(st.log_len, 0);
    phn_pt_down rows[] = {{N2, NOW - 1}, {N3, NOW - 1}, {N4, NOW - 1}};
    assert_int_equal(phn_pt_state_set_log(&st, rows, 3), PHN_OK);
    /* n2 rejoins: its row goes; 1 connected, 2 down => 33% left: still failed. */
    assert_int_equal(phn_pt_toggle_unlock(&s, 1, N2, NOW, &st), 0);
    assert_int_equal(st.log_len, 2);
    /* n3 rejoins with 2 connected: 2 / (2 + 1) => 66.7% left. */
    assert_int_equal(phn_pt_toggle_unlock(&s, 2, N3, NOW, &st), 1);
    assert_int_equal(st.log_len, 1);
    phn_pt_state_free(&st);
}

static void test_dynamic_divide_by_zero(void **state)
{
    (void)state;
    phn_pt_strategy s = dynamic_q(50);
    phn_pt_state st = {0};
    assert_int_equal(phn_pt_dynamic_failed(&s, 0, 0), PHN_EINVAL);
    assert_int_equal(phn_pt_toggle_unlock(&s, 0, N2, NOW, &st), PHN_EINVAL);
    assert_int_equal(phn_pt_has_quorum(&s, 0, &st), PHN_EINVAL);
    /* A lock always has one row, so it never divides by zero. */
    assert_int_equal(phn_pt_toggle_lock(&s, 0, N2, NOW, &st), 1);
    phn_pt_state_free(&st);
}

static void test_dynamic_float_rule(void **state)
{
    (void)state;
    /* 2 connected, 1 down: 100 - 1/3*100 = 66.66..; a quorum of 66.67 fails, 66.66 not. */
    phn_pt_strategy s = dynamic_q(66.67);
    assert_int_equal(phn_pt_dynamic_failed(&s, 2, 1), 1);
    s.quorum_size = 66.66;
    assert_int_equal(phn_pt_dynamic_failed(&s, 2, 1), 0);
    /* Exactly at the quorum is not a failure (strict <). */
    s.quorum_size = 50;
    assert_int_equal(phn_pt_dynamic_failed(&s, 1, 1), 0);
}

static void test_dynamic_sync_quorum_log(void **state)
{
    (void)state;
    phn_pt_state local = {0};
    /* No local log + remote 1 => remote stored. */
    assert_int_equal(phn_pt_sync_takes_remote(&local, 1), 1);
    phn_pt_down one[] = {{N2, NOW}};
    phn_pt_down three[] = {{N2, NOW}, {N3, NOW}, {N4, NOW}};
    assert_int_equal(phn_pt_state_set_log(&local, one, 1), PHN_OK);
    /* remote 3 vs local 1 => 3. */
    assert_int_equal(phn_pt_sync_takes_remote(&local, 3), 1);
    assert_int_equal(phn_pt_state_set_log(&local, three, 3), PHN_OK);
    assert_int_equal(local.log_len, 3);
    /* local 3 vs remote 1 => stays; equal length => local kept. */
    assert_int_equal(phn_pt_sync_takes_remote(&local, 1), 0);
    assert_int_equal(phn_pt_sync_takes_remote(&local, 3), 0);
    phn_pt_state_free(&local);
    /* Absent local and empty remote: not strictly longer. */
    assert_int_equal(phn_pt_sync_takes_remote(&local, 0), 0);
}

static void test_dynamic_lock_enomem(void **state)
{
    (void)state;
    phn_pt_strategy s = dynamic_q(50);
    phn_pt_state st = {0};
    fa_fail_nth(0);
    assert_int_equal(phn_pt_toggle_lock(&s, 3, N5, NOW, &st), PHN_ENOMEM);
    assert_false(st.has_log);
    assert_int_equal(st.log_len, 0);
    fa_disarm();
    phn_pt_down rows[] = {{N2, NOW}, {N3, NOW}, {N4, NOW}, {N1, NOW}};
    assert_int_equal(phn_pt_state_set_log(&st, rows, 4), PHN_OK);
    fa_fail_nth(0); /* the fifth row needs a bigger array */
    assert_int_equal(phn_pt_toggle_lock(&s, 3, N5, NOW, &st), PHN_ENOMEM);
    assert_int_equal(st.log_len, 4);
    assert_int_equal(st.log[0].node, N2);
    /* Shrinking to an empty log needs no allocation. */
    fa_fail_nth(0);
    assert_int_equal(phn_pt_state_set_log(&st, NULL, 0), PHN_OK);
    assert_true(st.has_log);
    assert_int_equal(st.log_len, 0);
    fa_disarm();
    phn_pt_state_free(&st);
}

/* ---- MajorityQuorum -------------------------------------------------------------- */

static void test_majority_single_node(void **state)
{
    (void)state;
    phn_pt_state st = {0};
    phn_pt_strategy s = majority_q(1, 1);
    assert_int_equal(phn_pt_init(&s, 1, &st), 0);
    assert_int_equal(st.max_seen, 1);
    assert_int_equal(lock(&s, 1, &st), 0);
    assert_int_equal(unlock(&s, 1, &st), 1);
    /* No stored value at all: the initial size stands in. */
    phn_pt_state none = {0};
    assert_int_equal(lock(&s, 1, &none), 0);
}

static void test_majority_two_from_start(void **state)
{
    (void)state;
    phn_pt_state st = {0};
    phn_pt_strategy s = majority_q(1, 1);
    phn_pt_init(&s, 2, &st);
    assert_int_equal(st.max_seen, 2);
    assert_int_equal(unlock(&s, 2, &st), 1);
    assert_int_equal(lock(&s, 1, &st), 1);
}

static void test_majority_grow_via_unlock(void **state)
{
    (void)state;
    phn_pt_state st = {0};
    phn_pt_strategy s = majority_q(1, 1);
    phn_pt_init(&s, 1, &st);
    assert_int_equal(unlock(&s, 2, &st), 1);
    assert_int_equal(st.max_seen, 2);
    assert_int_equal(lock(&s, 1, &st), 1);
    /* Lock never updates max_seen. */
    assert_int_equal(st.max_seen, 2);
}

static void test_majority_three_and_five(void **state)
{
    (void)state;
    phn_pt_state st = {0};
    phn_pt_strategy s = majority_q(1, 1);
    phn_pt_init(&s, 3, &st);
    assert_int_equal(lock(&s, 2, &st), 0); /* lose 1 */
    assert_int_equal(lock(&s, 1, &st), 1); /* lose 2 */
    phn_pt_init(&s, 5, &st);
    assert_int_equal(lock(&s, 4, &st), 0);
    assert_int_equal(lock(&s, 3, &st), 0);
    assert_int_equal(lock(&s, 2, &st), 1);
}

static void test_majority_splits(void **state)
{
    (void)state;
    phn_pt_state st = {0};
    phn_pt_strategy s = majority_q(1, 1);
    phn_pt_init(&s, 5, &st);
    assert_int_equal(lock(&s, 3, &st), 0); /* majority side [self, n2, n3] */
    assert_int_equal(unlock(&s, 3, &st), 1);
    assert_int_equal(lock(&s, 2, &st), 1); /* minority side [n4, n5] */
    assert_int_equal(unlock(&s, 2, &st), 0);
    phn_pt_init(&s, 3, &st);
    assert_int_equal(lock(&s, 2, &st), 0); /* 3-node split 2 / 1 */
    assert_int_equal(unlock(&s, 2, &st), 1);
    assert_int_equal(lock(&s, 1, &st), 1);
    assert_int_equal(unlock(&s, 1, &st), 0);
}

static void test_majority_initial_size(void **state)
{
    (void)state;
    phn_pt_state st = {0};
    phn_pt_strategy s = majority_q(5, 1);
    phn_pt_init(&s, 1, &st);
    assert_int_equal(st.max_seen, 5);
    assert_int_equal(lock(&s, 1, &st), 1);
    s = majority_q(3, 1);
    phn_pt_init(&s, 2, &st);
    assert_int_equal(st.max_seen, 3);
    assert_int_equal(lock(&s, 2, &st), 0);
}

static void test_majority_track_growth(void **state)
{
    (void)state;
    phn_pt_state st = {0};
    phn_pt_strategy s = majority_q(1, 1);
    phn_pt_init(&s, 1, &st);
    assert_int_equal(unlock(&s, 3, &st), 1);
    assert_int_equal(st.max_seen, 3);
    assert_int_equal(unlock(&s, 5, &st), 1);
    assert_int_equal(st.max_seen, 5);
    assert_int_equal(lock(&s, 2, &st), 1);
}

static void test_majority_no_tracking(void **state)
{
    (void)state;
    phn_pt_state st = {0};
    phn_pt_strategy s = majority_q(1, 0);
    /* init still stores max(initial, current) ... */
    phn_pt_init(&s, 3, &st);
    assert_int_equal(st.max_seen, 3);
    /* ... but unlock never raises it. */
    assert_int_equal(unlock(&s, 5, &st), 1);
    assert_int_equal(st.max_seen, 3);
    assert_int_equal(lock(&s, 2, &st), 0);
}

static void test_majority_sizes(void **state)
{
    (void)state;
    phn_pt_strategy s = majority_q(1, 1);
    for (int64_t size = 1; size <= 6; size++) {
        phn_pt_state st = {0};
        phn_pt_init(&s, (size_t)size, &st);
        size_t quorum = (size_t)(size / 2 + 1);
        assert_int_equal(lock(&s, quorum, &st), 0);
        assert_int_equal(unlock(&s, quorum, &st), 1);
        assert_int_equal(lock(&s, quorum - 1, &st), 1);
        assert_int_equal(phn_pt_majority_has(quorum - 1, size), 0);
    }
}

static void test_majority_reset_cluster_size(void **state)
{
    (void)state;
    phn_pt_state st = {0};
    phn_pt_strategy s = majority_q(1, 1);
    phn_pt_init(&s, 5, &st);
    assert_int_equal(lock(&s, 2, &st), 1);
    /* reset_cluster_size(Hub, 3) writes max_seen; 2 nodes now hold the majority. */
    st.max_seen = 3;
    assert_int_equal(lock(&s, 2, &st), 0);
    assert_int_equal(phn_pt_has_quorum(&s, 2, &st), 1);
}

/* ---- Divergence ------------------------------------------------------------------ */

static void test_divergence(void **state)
{
    (void)state;
    phn_pt_strategy s;
    phn_pt_defaults(&s, PHN_PT_DIVERGENCE);
    phn_pt_state st = {0};
    assert_int_equal(phn_pt_init(&s, 1, &st), 0);
    for (size_t size = 0; size < 6; size++) {
        assert_int_equal(lock(&s, size, &st), 0);
        assert_int_equal(unlock(&s, size, &st), 0);
        assert_int_equal(phn_pt_has_quorum(&s, size, &st), 1);
    }
    assert_false(st.has_log || st.has_max_seen);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FA_TEST(test_static_quorum_3),
        FA_TEST(test_static_init),
        FA_TEST(test_static_quorum_1),
        FA_TEST(test_static_exact_then_below),
        FA_TEST(test_static_five_node_split),
        FA_TEST(test_dynamic_defaults_and_init),
        FA_TEST(test_dynamic_no_log),
        FA_TEST(test_dynamic_fresh_log_locks),
        FA_TEST(test_dynamic_old_entries_pruned),
        FA_TEST(test_dynamic_threshold_edge_and_same_node),
        FA_TEST(test_dynamic_prune_exact_at_int64_edges),
        FA_TEST(test_dynamic_unlock),
        FA_TEST(test_dynamic_divide_by_zero),
        FA_TEST(test_dynamic_float_rule),
        FA_TEST(test_dynamic_sync_quorum_log),
        FA_TEST(test_dynamic_lock_enomem),
        FA_TEST(test_majority_single_node),
        FA_TEST(test_majority_two_from_start),
        FA_TEST(test_majority_grow_via_unlock),
        FA_TEST(test_majority_three_and_five),
        FA_TEST(test_majority_splits),
        FA_TEST(test_majority_initial_size),
        FA_TEST(test_majority_track_growth),
        FA_TEST(test_majority_no_tracking),
        FA_TEST(test_majority_sizes),
        FA_TEST(test_majority_reset_cluster_size),
        FA_TEST(test_divergence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
