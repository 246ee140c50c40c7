/* phn_heap: order against a sorted reference, the moved callback always agreeing with the
 * array, removal at arbitrary positions, ties, and growth failure. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "failing_alloc.h"
#include "phn_heap.h"
#include "test_rng.h"

#define NOWHERE SIZE_MAX

/* What an owner keeps: the position of every id (ids are small integers here). */
typedef struct tracker {
    size_t *pos;
    size_t n;
    size_t moves;
} tracker;

static void on_moved(uint64_t id, size_t pos, void *ctx)
{
    tracker *t = ctx;
    assert_true(id < t->n);
    t->pos[id] = pos;
    t->moves++;
}

static void tracker_init(tracker *t, size_t n)
{
    t->pos = malloc(n * sizeof(*t->pos));
    assert_non_null(t->pos);
    for (size_t i = 0; i < n; i++)
        t->pos[i] = NOWHERE;
    t->n = n;
    t->moves = 0;
}

static int entry_less(const phn_heap_entry *a, const phn_heap_entry *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->id < b->id);
}

static int cmp_entry(const void *a, const void *b)
{
    return entry_less(a, b) ? -1 : entry_less(b, a) ? 1 : 0;
}

/* The heap property holds and the tracker knows the exact position of every entry. */
static void check_heap(const phn_heap *h, const tracker *t)
{
    for (size_t i = 0; i < h->size; i++) {
        if (i > 0)
            assert_false(entry_less(&h->items[i], &h->items[(i - 1) / 2]));
        if (t != NULL)
            assert_int_equal(t->pos[h->items[i].id], i);
    }
}

static void test_empty(void **state)
{
    (void)state;
    phn_heap h;
    phn_heap_init(&h, NULL, NULL);
    int64_t d = 5;
    uint64_t id = 5;
    assert_int_equal(phn_heap_peek(&h, &d, &id), 0);
    assert_int_equal(phn_heap_pop(&h, &d, &id), 0);
    assert_int_equal(d, 5);
    assert_int_equal(id, 5);
    assert_int_equal(phn_heap_remove_at(&h, 0), PHN_EINVAL);
    assert_int_equal(phn_heap_size(&h), 0);
    assert_int_equal(phn_heap_bytes(&h), 0);
    assert_int_equal(fa_calls(), 0);
    phn_heap_free(&h);
    phn_heap_free(&h);
}

static void test_basic_order(void **state)
{
    (void)state;
    phn_heap h;
    phn_heap_init(&h, NULL, NULL);
    int64_t ds[] = {50, INT64_MAX, -3, INT64_MIN, 0, 50, 7};
    for (size_t i = 0; i < 7; i++)
        assert_int_equal(phn_heap_push(&h, ds[i], i), PHN_OK);
    assert_int_equal(phn_heap_size(&h), 7);
    int64_t d;
    uint64_t id;
    assert_int_equal(phn_heap_peek(&h, &d, &id), 1);
    assert_true(d == INT64_MIN && id == 3);
    assert_int_equal(phn_heap_peek(&h, NULL, NULL), 1);
    assert_int_equal(phn_heap_size(&h), 7);
    int64_t want_d[] = {INT64_MIN, -3, 0, 7, 50, 50, INT64_MAX};
    uint64_t want_id[] = {3, 2, 4, 6, 0, 5, 1};
    for (size_t i = 0; i < 7; i++) {
        assert_int_equal(phn_heap_pop(&h, &d, &id), 1);
        assert_true(d == want_d[i]);
        assert_int_equal(id, want_id[i]);
    }
    assert_int_equal(phn_heap_pop(&h, NULL, NULL), 0);
    phn_heap_free(&h);
}

/* Random deadlines from a narrow range (many ties) against qsort with the same order. */
static void test_random_against_sorted(void **state)
{
    (void)state;
    enum { N = 20000 };
    test_rng rng = test_rng_new(7);
    phn_heap_entry *ref = malloc(N * sizeof(*ref));
    assert_non_null(ref);
    tracker t;
    tracker_init(&t, N);
    phn_heap h;
    phn_heap_init(&h, on_moved, &t);
    for (uint64_t i = 0; i < N; i++) {
        /* ids pushed in a scrambled order, so ties are not resolved by push order */
        uint64_t id = (i * 7919) % N;
        ref[i].deadline = (int64_t)test_rng_below(&rng, 500) - 250;
        ref[i].id = id;
        assert_int_equal(phn_heap_push(&h, ref[i].deadline, id), PHN_OK);
    }
    check_heap(&h, &t);
    qsort(ref, N, sizeof(*ref), cmp_entry);
    for (size_t i = 0; i < N; i++) {
        int64_t d;
        uint64_t id;
        assert_int_equal(phn_heap_pop(&h, &d, &id), 1);
        assert_true(d == ref[i].deadline);
        assert_int_equal(id, ref[i].id);
        if (i % 1000 == 0)
            check_heap(&h, &t);
    }
    assert_int_equal(phn_heap_size(&h), 0);
    phn_heap_free(&h);
    free(ref);
    free(t.pos);
}

static void test_ties_by_id(void **state)
{
    (void)state;
    phn_heap h;
    phn_heap_init(&h, NULL, NULL);
    uint64_t ids[] = {9, 3, 7, 1, 8, 2, 0, 6, 5, 4};
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(phn_heap_push(&h, 100, ids[i]), PHN_OK);
    for (uint64_t want = 0; want < 10; want++) {
        uint64_t id;
        assert_int_equal(phn_heap_pop(&h, NULL, &id), 1);
        assert_int_equal(id, want);
    }
    phn_heap_free(&h);
}

/* The moved callback reports every landing position, the pushed entry's included. */
static void test_moved_reports_push(void **state)
{
    (void)state;
    tracker t;
    tracker_init(&t, 3);
    phn_heap h;
    phn_heap_init(&h, on_moved, &t);
    assert_int_equal(phn_heap_push(&h, 10, 0), PHN_OK);
    assert_int_equal(t.pos[0], 0);
    assert_int_equal(phn_heap_push(&h, 20, 1), PHN_OK);
    assert_int_equal(t.pos[1], 1);
    assert_int_equal(phn_heap_push(&h, 5, 2), PHN_OK);
    assert_int_equal(t.pos[2], 0);
    assert_int_equal(t.pos[0], 2);
    check_heap(&h, &t);
    phn_heap_free(&h);
    free(t.pos);
}

static void test_remove_at_edges(void **state)
{
    (void)state;
    tracker t;
    tracker_init(&t, 8);
    phn_heap h;
    phn_heap_init(&h, on_moved, &t);
    for (uint64_t i = 0; i < 8; i++)
        assert_int_equal(phn_heap_push(&h, (int64_t)(i * 10), i), PHN_OK);
    assert_int_equal(phn_heap_remove_at(&h, 8), PHN_EINVAL);
    assert_int_equal(phn_heap_remove_at(&h, SIZE_MAX), PHN_EINVAL);
    assert_int_equal(phn_heap_size(&h), 8);

    assert_int_equal(phn_heap_remove_at(&h, 7), PHN_OK); /* the last slot */
    check_heap(&h, &t);
    assert_int_equal(phn_heap_remove_at(&h, 0), PHN_OK); /* the root */
    check_heap(&h, &t);
    assert_int_equal(phn_heap_remove_at(&h, t.pos[3]), PHN_OK); /* an inner node */
    check_heap(&h, &t);
    uint64_t want[] = {1, 2, 4, 5, 6};
    for (size_t i = 0; i < 5; i++) {
        uint64_t id;
        assert_int_equal(phn_heap_pop(&h, NULL, &id), 1);
        assert_int_equal(id, want[i]);
    }
    phn_heap_free(&h);
    free(t.pos);
}

/* The filler taken from the end must sometimes move up: in a heap whose last entry is
 * smaller than the removed entry's parent, remove_at must sift up. */
static void test_remove_at_sifts_up(void **state)
{
    (void)state;
    tracker t;
    tracker_init(&t, 7);
    phn_heap h;
    phn_heap_init(&h, on_moved, &t);
    /* Tree: 0 -> (100, 1) ; 100 -> (101, 102) ; 1 -> (2, 3) */
    int64_t ds[] = {0, 100, 1, 101, 102, 2, 3};
    for (uint64_t i = 0; i < 7; i++)
        assert_int_equal(phn_heap_push(&h, ds[i], i), PHN_OK);
    check_heap(&h, &t);
    size_t at = t.pos[3]; /* deadline 101, under 100; the last entry has deadline 3 */
    assert_int_equal(phn_heap_remove_at(&h, at), PHN_OK);
    check_heap(&h, &t);
    assert_true(t.pos[6] < at); /* deadline 3 went above 100 */
    phn_heap_free(&h);
    free(t.pos);
}

/* Random pushes, pops and removals at tracked positions, against a reference set. */
static void test_random_remove(void **state)
{
    (void)state;
    enum { IDS = 4000, OPS = 60000 };
    test_rng rng = test_rng_new(99);
    tracker t;
    tracker_init(&t, IDS);
    int64_t *deadline = calloc(IDS, sizeof(*deadline));
    unsigned char *alive = calloc(IDS, 1);
    assert_non_null(deadline);
    assert_non_null(alive);
    phn_heap h;
    phn_heap_init(&h, on_moved, &t);
    size_t live = 0;
    for (size_t op = 0; op < OPS; op++) {
        uint64_t id = test_rng_below(&rng, IDS);
        uint64_t what = test_rng_below(&rng, 10);
        if (!alive[id] && what < 6) {
            deadline[id] = (int64_t)test_rng_below(&rng, 1000);
            assert_int_equal(phn_heap_push(&h, deadline[id], id), PHN_OK);
            alive[id] = 1;
            live++;
        } else if (alive[id] && what < 8) {
            assert_int_equal(phn_heap_remove_at(&h, t.pos[id]), PHN_OK);
            alive[id] = 0;
            t.pos[id] = NOWHERE;
            live--;
        } else if (live > 0 && what >= 8) {
            int64_t d;
            uint64_t got;
            assert_int_equal(phn_heap_pop(&h, &d, &got), 1);
            assert_true(alive[got] && deadline[got] == d);
            /* nothing alive is smaller */
            for (size_t j = 0; j < IDS && op % 97 == 0; j++)
                if (alive[j])
                    assert_true(d < deadline[j] || (d == deadline[j] && got <= j));
            alive[got] = 0;
            t.pos[got] = NOWHERE;
            live--;
        }
        assert_int_equal(phn_heap_size(&h), live);
        if (op % 1000 == 0)
            check_heap(&h, &t);
    }
    check_heap(&h, &t);
    /* Drain: exactly the live set, in order. */
    int64_t prev_d = INT64_MIN;
    uint64_t prev_id = 0;
    size_t drained = 0;
    int64_t d;
    uint64_t id;
    while (phn_heap_pop(&h, &d, &id)) {
        assert_true(alive[id]);
        assert_true(d > prev_d || (d == prev_d && (drained == 0 || id > prev_id)));
        alive[id] = 0;
        prev_d = d;
        prev_id = id;
        drained++;
    }
    assert_int_equal(drained, live);
    phn_heap_free(&h);
    free(t.pos);
    free(deadline);
    free(alive);
}

static void test_push_enomem(void **state)
{
    (void)state;
    tracker t;
    tracker_init(&t, 100);
    phn_heap h;
    phn_heap_init(&h, on_moved, &t);
    fa_fail_nth(0);
    assert_int_equal(phn_heap_push(&h, 1, 0), PHN_ENOMEM);
    assert_int_equal(phn_heap_size(&h), 0);
    assert_int_equal(t.moves, 0);
    for (uint64_t i = 0; i < 16; i++)
        assert_int_equal(phn_heap_push(&h, (int64_t)(100 - i), i), PHN_OK);
    /* The 17th push must grow the array: refuse it. */
    size_t moves = t.moves;
    fa_fail_nth(0);
    assert_int_equal(phn_heap_push(&h, -1, 16), PHN_ENOMEM);
    fa_disarm();
    assert_int_equal(t.moves, moves);
    assert_int_equal(phn_heap_size(&h), 16);
    check_heap(&h, &t);
    assert_int_equal(phn_heap_push(&h, -1, 16), PHN_OK);
    uint64_t id;
    assert_int_equal(phn_heap_pop(&h, NULL, &id), 1);
    assert_int_equal(id, 16);
    assert_int_equal(phn_heap_pop(&h, NULL, &id), 1);
    assert_int_equal(id, 15);
    phn_heap_free(&h);
    free(t.pos);
}

/* After a burst the array shrinks; a refused shrink is harmless. */
static void test_shrink(void **state)
{
    (void)state;
    phn_heap h;
    phn_heap_init(&h, NULL, NULL);
    for (uint64_t i = 0; i < 10000; i++)
        assert_int_equal(phn_heap_push(&h, (int64_t)i, i), PHN_OK);
    size_t big = phn_heap_bytes(&h);
    assert_true(big >= 10000 * sizeof(phn_heap_entry));
    fa_fail_from(0);
    for (uint64_t i = 0; i < 9000; i++)
        assert_int_equal(phn_heap_pop(&h, NULL, NULL), 1);
    fa_disarm();
    assert_int_equal(phn_heap_bytes(&h), big);
    while (phn_heap_pop(&h, NULL, NULL))
        ;
    assert_true(phn_heap_bytes(&h) <= 64 * sizeof(phn_heap_entry));
    assert_int_equal(phn_heap_push(&h, 1, 1), PHN_OK);
    phn_heap_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FA_TEST(test_empty),
        FA_TEST(test_basic_order),
        FA_TEST(test_random_against_sorted),
        FA_TEST(test_ties_by_id),
        FA_TEST(test_moved_reports_push),
        FA_TEST(test_remove_at_edges),
        FA_TEST(test_remove_at_sifts_up),
        FA_TEST(test_random_remove),
        FA_TEST(test_push_enomem),
        FA_TEST(test_shrink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
