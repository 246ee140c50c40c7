/* The core pieces phn_tracker adds: phn_heap_update_at, phn_optable_peek_expired and
 * phn_optable_set_deadline against a reference model; the optable's sharding (a big table
 * splits into shards resized one at a time, and merges back when small) with its
 * allocation failures; and the work counters (probes and heap moves) that let the EUnit
 * suite prove complexity by counting: a lookup costs O(1) probes whatever the size,
 * expiring k of n entries costs O(k log n) heap moves. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "failing_alloc.h"
#include "phn_heap.h"
#include "phn_optable.h"
#include "phn_progress.h"
#include "test_rng.h"

/* Payloads are indices into this array, so they are distinct non-NULL pointers. */
static int slots[1u << 17];
#define P(i) ((void *)&slots[(i)])
#define IDX(p) ((size_t)((int *)(p)-slots))

static size_t key_of(uint8_t *buf, uint64_t i)
{
    for (int b = 0; b < 8; b++)
        buf[b] = (uint8_t)(i >> (8 * b));
    buf[8] = 0x5a;
    return 9;
}

static unsigned log2_ceil(size_t n)
{
    unsigned l = 0;
    while (((size_t)1 << l) < n)
        l++;
    return l;
}

/* --- phn_heap_update_at ------------------------------------------------------------- */

typedef struct positions {
    size_t pos[256];
} positions;

static void moved(uint64_t id, size_t pos, void *ctx)
{
    ((positions *)ctx)->pos[id] = pos;
}

static void check_heap(const phn_heap *h, const positions *p)
{
    for (size_t i = 0; i < h->size; i++) {
        const phn_heap_entry *e = &h->items[i];
        if (i > 0) {
            const phn_heap_entry *up = &h->items[(i - 1) / 2];
            assert_true(up->deadline < e->deadline ||
                        (up->deadline == e->deadline && up->id < e->id));
        }
        assert_int_equal(p->pos[e->id], i);
    }
}

static void test_heap_update(void **state)
{
    (void)state;
    enum { N = 200, STEPS = 20000 };
    positions p;
    phn_heap h;
    phn_heap_init(&h, moved, &p);
    int64_t deadline[N];
    test_rng rng = test_rng_new(11);
    for (uint64_t id = 0; id < N; id++) {
        deadline[id] = (int64_t)test_rng_below(&rng, 1000);
        assert_int_equal(phn_heap_push(&h, deadline[id], id), PHN_OK);
    }
    check_heap(&h, &p);
    size_t calls = fa_calls();
    for (int s = 0; s < STEPS; s++) {
        uint64_t id = test_rng_below(&rng, N);
        deadline[id] = (int64_t)test_rng_below(&rng, 1000) - 500;
        assert_int_equal(phn_heap_update_at(&h, p.pos[id], deadline[id]), PHN_OK);
        assert_int_equal(h.items[p.pos[id]].deadline, deadline[id]);
        if (s % 97 == 0)
            check_heap(&h, &p);
    }
    assert_int_equal(fa_calls(), calls); /* never allocates */
    check_heap(&h, &p);
    /* Pops come out in (deadline, id) order and carry the updated deadlines. */
    int64_t last = INT64_MIN;
    for (size_t n = 0; n < N; n++) {
        int64_t d;
        uint64_t id;
        assert_int_equal(phn_heap_pop(&h, &d, &id), 1);
        assert_int_equal(d, deadline[id]);
        assert_true(d >= last);
        last = d;
    }
    assert_int_equal(phn_heap_update_at(&h, 0, 1), PHN_EINVAL);
    phn_heap_free(&h);
}

/* --- phn_optable_peek_expired / set_deadline --------------------------------------- */

static void test_peek_expired(void **state)
{
    (void)state;
    phn_optable *t = phn_optable_new(0);
    assert_non_null(t);
    assert_null(phn_optable_peek_expired(t, INT64_MAX));
    uint8_t k[16];
    for (uint64_t i = 0; i < 10; i++)
        assert_int_equal(phn_optable_insert(t, k, key_of(k, i), (int64_t)(100 + i), P(i)), PHN_OK);
    /* Strict: at now == deadline nothing is expired yet. */
    assert_null(phn_optable_peek_expired(t, 100));
    assert_ptr_equal(phn_optable_peek_expired(t, 101), P(0));
    assert_int_equal(phn_optable_size(t), 10); /* peeking removes nothing */
    assert_ptr_equal(phn_optable_peek_expired(t, 101), P(0));
    assert_ptr_equal(phn_optable_pop_expired(t, 101, NULL, NULL), P(0));
    assert_null(phn_optable_peek_expired(t, 101));
    assert_ptr_equal(phn_optable_peek_expired(t, 1000), P(1));
    phn_optable_free(t, NULL, NULL);
}

static void test_set_deadline(void **state)
{
    (void)state;
    phn_optable *t = phn_optable_new(0);
    assert_non_null(t);
    uint8_t k[16], big[PHN_OPTABLE_MAX_KEY + 1] = {0};
    assert_int_equal(phn_optable_set_deadline(t, k, key_of(k, 1), 5), PHN_ENOTFOUND);
    assert_int_equal(phn_optable_set_deadline(t, big, sizeof(big), 5), PHN_EINVAL);
    assert_int_equal(phn_optable_set_deadline(t, NULL, 3, 5), PHN_EINVAL);
    for (uint64_t i = 0; i < 4; i++)
        assert_int_equal(phn_optable_insert(t, k, key_of(k, i), (int64_t)(10 * (i + 1)), P(i)),
                         PHN_OK);
    /* 0 (10) moves last, 3 (40) moves first. */
    assert_int_equal(phn_optable_set_deadline(t, k, key_of(k, 0), 1000), PHN_OK);
    assert_int_equal(phn_optable_set_deadline(t, k, key_of(k, 3), 1), PHN_OK);
    assert_null(phn_optable_peek_expired(t, 1));
    size_t order[4];
    for (size_t n = 0; n < 4; n++) {
        void *pl = phn_optable_pop_expired(t, INT64_MAX, NULL, NULL);
        assert_non_null(pl);
        order[n] = IDX(pl);
    }
    assert_int_equal(order[0], 3);
    assert_int_equal(order[1], 1);
    assert_int_equal(order[2], 2);
    assert_int_equal(order[3], 0);
    phn_optable_free(t, NULL, NULL);
}

/* Random inserts, removals, deadline moves and expiries against a model. */
static void test_deadline_model(void **state)
{
    (void)state;
    enum { KEYS = 64, STEPS = 100000 };
    int64_t model[KEYS];
    int live[KEYS] = {0};
    test_rng rng = test_rng_new(23);
    phn_optable *t = phn_optable_new(0);
    assert_non_null(t);
    uint8_t k[16];
    int64_t now = 0;
    for (int s = 0; s < STEPS; s++) {
        uint64_t i = test_rng_below(&rng, KEYS);
        size_t kl = key_of(k, i);
        int64_t d = now + (int64_t)test_rng_below(&rng, 200);
        switch (test_rng_below(&rng, 4)) {
        case 0:
            assert_int_equal(phn_optable_insert(t, k, kl, d, P(i)), live[i] ? PHN_EEXIST : PHN_OK);
            if (!live[i]) {
                live[i] = 1;
                model[i] = d;
            }
            break;
        case 1:
            assert_int_equal(phn_optable_set_deadline(t, k, kl, d),
                             live[i] ? PHN_OK : PHN_ENOTFOUND);
            if (live[i])
                model[i] = d;
            break;
        case 2:
            assert_ptr_equal(phn_optable_remove(t, k, kl), live[i] ? P(i) : NULL);
            live[i] = 0;
            break;
        default: {
            now += (int64_t)test_rng_below(&rng, 20);
            /* Whatever peek shows is what pop takes, and it is a model entry that is due. */
            void *peek;
            while ((peek = phn_optable_peek_expired(t, now)) != NULL) {
                size_t id = IDX(peek);
                assert_true(live[id]);
                assert_true(now > model[id]);
                for (size_t j = 0; j < KEYS; j++) /* the earliest due one */
                    assert_true(!live[j] || model[j] >= model[id]);
                assert_ptr_equal(phn_optable_pop_expired(t, now, NULL, NULL), peek);
                live[id] = 0;
            }
            for (size_t j = 0; j < KEYS; j++)
                assert_true(!live[j] || !(now > model[j]));
            break;
        }
        }
    }
    phn_optable_free(t, NULL, NULL);
}

/* --- counters ------------------------------------------------------------------------ */

/* Average probes per lookup stay O(1): the same small bound for 100 and 100 000 entries. */
static void test_optable_probe_counts(void **state)
{
    (void)state;
    static const size_t sizes[] = {100, 100000};
    for (size_t s = 0; s < 2; s++) {
        size_t n = sizes[s];
        phn_counters c = {0, 0};
        phn_optable *t = phn_optable_new(0);
        assert_non_null(t);
        uint8_t k[16];
        for (uint64_t i = 0; i < n; i++)
            assert_int_equal(phn_optable_insert(t, k, key_of(k, i), (int64_t)i, P(i)), PHN_OK);
        phn_optable_set_counters(t, &c);
        for (uint64_t i = 0; i < n; i++)
            assert_ptr_equal(phn_optable_get(t, k, key_of(k, i)), P(i));
        /* Linear probing at load <= 11/16: about 2.5 probes on a hit, far below 4. */
        assert_true(c.probes >= n);
        assert_true(c.probes < 4 * n);
        phn_optable_set_counters(t, NULL);
        uint64_t before = c.probes;
        assert_non_null(phn_optable_get(t, k, key_of(k, 0)));
        assert_int_equal(c.probes, before);
        phn_optable_free(t, NULL, NULL);
    }
}

/* Expiring k of n entries writes O(k log n) heap positions, independent of n - k. */
static void test_expiry_heap_moves(void **state)
{
    (void)state;
    enum { N = 100000, K = 1000 };
    phn_counters c = {0, 0};
    phn_optable *t = phn_optable_new(0);
    assert_non_null(t);
    uint8_t k[16];
    test_rng rng = test_rng_new(3);
    for (uint64_t i = 0; i < N; i++) {
        /* K entries due at 0..K-1, the rest far later; inserted in random positions. */
        int64_t d = i < K ? (int64_t)i : 1000000 + (int64_t)test_rng_below(&rng, 1000000);
        assert_int_equal(phn_optable_insert(t, k, key_of(k, i), d, P(i)), PHN_OK);
    }
    phn_optable_set_counters(t, &c);
    size_t popped = 0;
    while (phn_optable_pop_expired(t, K, NULL, NULL) != NULL)
        popped++;
    assert_int_equal(popped, K);
    /* One sift-down per pop: at most log2(n) + 1 positions written. */
    assert_true(c.heap_moves <= (uint64_t)K * (log2_ceil(N) + 1));
    assert_true(c.heap_moves < N / 4); /* far from touching every entry */
    /* Finding the slot of each popped entry is O(1) probes too. */
    assert_true(c.probes < 4 * (uint64_t)K);
    /* Nothing else expired: the check costs no move. */
    uint64_t moves = c.heap_moves;
    assert_null(phn_optable_pop_expired(t, K, NULL, NULL));
    assert_int_equal(c.heap_moves, moves);
    phn_optable_free(t, NULL, NULL);
}

/* Recording a chunk costs O(1) probes of the node index, for 3 or 100 000 nodes. */
static void test_progress_probe_counts(void **state)
{
    (void)state;
    static const size_t sizes[] = {3, 100000};
    for (size_t s = 0; s < 2; s++) {
        size_t n = sizes[s];
        phn_counters c = {0, 0};
        phn_progress *p = phn_progress_new(n, NULL, NULL);
        assert_non_null(p);
        for (uint64_t node = 1; node <= n; node++)
            assert_int_equal(phn_progress_expect(p, node * 8, node * 8, 1), PHN_OK);
        phn_progress_set_counters(p, &c);
        for (uint64_t node = 1; node <= n; node++) {
            phn_rec_result r = phn_progress_record(p, node * 8, node * 8, NULL);
            assert_int_equal(r, node == n ? PHN_REC_COMPLETE : PHN_REC_PENDING);
        }
        assert_true(c.probes >= n);
        assert_true(c.probes < 4 * n);
        /* Unexpected and extra chunks are O(1) too. */
        uint64_t before = c.probes;
        assert_int_equal(phn_progress_record(p, 7, 7, NULL), PHN_REC_UNEXPECTED);
        assert_int_equal(phn_progress_record(p, 8, 8, NULL), PHN_REC_EXTRA);
        assert_true(c.probes - before <= 16);
        phn_progress_set_counters(p, NULL);
        before = c.probes;
        assert_int_equal(phn_progress_record(p, 8, 8, NULL), PHN_REC_EXTRA);
        assert_int_equal(c.probes, before);
        phn_progress_free(p);
    }
}

/* --- sharding ------------------------------------------------------------------------ */

/* Sizes swing across the split (16 384) and merge (2 048) points many times; every key is
 * found or absent as the model says, expiry stays in deadline order, and memory comes back
 * once the table is small again. */
static void test_shard_split_merge(void **state)
{
    (void)state;
    enum { KEYS = 60000 };
    static unsigned char live[KEYS];
    memset(live, 0, sizeof(live));
    test_rng rng = test_rng_new(99);
    phn_optable *t = phn_optable_new(0);
    assert_non_null(t);
    size_t empty = phn_optable_bytes(t), n = 0;
    uint8_t k[16];
    for (int round = 0; round < 4; round++) {
        /* Fill to ~50 000 (split), then drain to ~500 (merge). */
        while (n < 50000) {
            uint64_t i = test_rng_below(&rng, KEYS);
            int rc = phn_optable_insert(t, k, key_of(k, i), (int64_t)i, P(i));
            assert_int_equal(rc, live[i] ? PHN_EEXIST : PHN_OK);
            if (!live[i]) {
                live[i] = 1;
                n++;
            }
        }
        assert_int_equal(phn_optable_size(t), n);
        for (uint64_t i = 0; i < KEYS; i++)
            assert_ptr_equal(phn_optable_get(t, k, key_of(k, i)), live[i] ? P(i) : NULL);
        while (n > 500) {
            uint64_t i = test_rng_below(&rng, KEYS);
            assert_ptr_equal(phn_optable_remove(t, k, key_of(k, i)), live[i] ? P(i) : NULL);
            if (live[i]) {
                live[i] = 0;
                n--;
            }
        }
        for (uint64_t i = 0; i < KEYS; i++)
            assert_ptr_equal(phn_optable_get(t, k, key_of(k, i)), live[i] ? P(i) : NULL);
    }
    /* Merged back: about the memory of 500 entries, not of 50 000. */
    assert_true(phn_optable_bytes(t) < empty + 500 * 200);
    int64_t last = INT64_MIN;
    void *p;
    while ((p = phn_optable_pop_expired(t, INT64_MAX, NULL, NULL)) != NULL) {
        assert_true(live[IDX(p)]);
        assert_true((int64_t)IDX(p) > last); /* deadline == index */
        last = (int64_t)IDX(p);
        live[IDX(p)] = 0;
        n--;
    }
    assert_int_equal(n, 0);
    phn_optable_free(t, NULL, NULL);
}

/* A refused allocation at any point of a fill that crosses the split leaves the table as
 * it was (the insert reports PHN_ENOMEM and a retry succeeds); a refused split falls back
 * to growing the single shard. */
static void test_shard_enomem(void **state)
{
    (void)state;
    enum { FILL = 22528 }; /* the single shard splits at its growth past this many */
    /* Refused: the shard array (0), a shard's slots (1, 2, 100, 256), the fallback growth
     * (after a refused split), or the entry itself (257: after a complete split). */
    static const size_t nths[] = {0, 1, 2, 100, 256, 257, 258};
    uint8_t k[16];
    for (size_t n = 0; n < sizeof(nths) / sizeof(nths[0]); n++) {
        phn_optable *t = phn_optable_new(0);
        assert_non_null(t);
        for (uint64_t i = 0; i < FILL; i++)
            assert_int_equal(phn_optable_insert(t, k, key_of(k, i), (int64_t)i, P(i % 4096)),
                             PHN_OK);
        fa_fail_nth(nths[n]);
        int rc = phn_optable_insert(t, k, key_of(k, FILL), -1, P(1));
        fa_disarm();
        assert_true(rc == PHN_OK || rc == PHN_ENOMEM);
        assert_int_equal(phn_optable_size(t), rc == PHN_OK ? FILL + 1 : FILL);
        if (rc == PHN_ENOMEM)
            assert_int_equal(phn_optable_insert(t, k, key_of(k, FILL), -1, P(1)), PHN_OK);
        for (uint64_t i = 0; i < FILL; i++)
            assert_ptr_equal(phn_optable_get(t, k, key_of(k, i)), P(i % 4096));
        assert_ptr_equal(phn_optable_pop_expired(t, 0, NULL, NULL), P(1));
        phn_optable_free(t, NULL, NULL);
        assert_int_equal(fa_live(), 0);
    }
    /* Merging needs memory too: refused, the table stays split and keeps working. */
    enum { N = 23000 };
    phn_optable *t = phn_optable_new(0);
    assert_non_null(t);
    for (uint64_t i = 0; i < N; i++)
        assert_int_equal(phn_optable_insert(t, k, key_of(k, i), (int64_t)i, P(i % 4096)), PHN_OK);
    fa_fail_from(0);
    for (uint64_t i = 0; i < N - 100; i++)
        assert_ptr_equal(phn_optable_remove(t, k, key_of(k, i)), P(i % 4096));
    fa_disarm();
    for (uint64_t i = N - 100; i < N; i++)
        assert_ptr_equal(phn_optable_get(t, k, key_of(k, i)), P(i % 4096));
    /* The next removal merges. */
    size_t before = phn_optable_bytes(t);
    assert_ptr_equal(phn_optable_remove(t, k, key_of(k, N - 1)), P((N - 1) % 4096));
    assert_true(phn_optable_bytes(t) < before);
    for (uint64_t i = N - 100; i < N - 1; i++)
        assert_ptr_equal(phn_optable_get(t, k, key_of(k, i)), P(i % 4096));
    phn_optable_free(t, NULL, NULL);
}

/* Bounded resize work: with 1 000 000 entries, no slot array of the table is larger than
 * a shard's (the single-shard arrays stop at the split), so no insert or removal rehashes
 * more than a few thousand slots. The allocator records the largest request that is not
 * the expiry heap's array (whose growth is a realloc of 16-byte entries). */
static size_t largest_calloc;
static void *sizing_alloc(size_t size)
{
    if (size > largest_calloc)
        largest_calloc = size;
    return malloc(size);
}
static void *sizing_realloc(void *p, size_t size)
{
    return realloc(p, size);
}

static void test_shard_bounded_resize(void **state)
{
    (void)state;
    static const phn_allocator sizing = {sizing_alloc, sizing_realloc, free};
    phn_set_allocator(&sizing);
    largest_calloc = 0;
    enum { N = 1000000 };
    phn_optable *t = phn_optable_new(0);
    assert_non_null(t);
    uint8_t k[16];
    for (uint64_t i = 0; i < N; i++)
        assert_int_equal(phn_optable_insert(t, k, key_of(k, i), (int64_t)i, P(i % 4096)), PHN_OK);
    for (uint64_t i = 0; i < N; i += 2)
        assert_non_null(phn_optable_remove(t, k, key_of(k, i)));
    for (uint64_t i = 1; i < N; i += 2)
        assert_non_null(phn_optable_get(t, k, key_of(k, i)));
    phn_optable_free(t, NULL, NULL);
    /* A shard holds ~1/256 of the entries: 1e6 / 256 at load >= 11/32 -> <= 16 384 slots. */
    assert_true(largest_calloc <= 32768 * 16);
    fa_install(); /* back to the counting allocator the teardown checks */
}

static int setup(void **state)
{
    (void)state;
    fa_install();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(fa_live(), 0);
    fa_uninstall();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_heap_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peek_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_optable_probe_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_heap_moves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_progress_probe_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shard_split_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shard_enomem, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shard_bounded_resize, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
