/* phn_optable: keys and their limits, caps, strict expiry in deadline order, removal and
 * churn against a reference model, bounded memory under churn, and PHN_ENOMEM paths. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "failing_alloc.h"
#include "phn_optable.h"
#include "test_rng.h"

/* Payloads are indices into this array, so they are distinct non-NULL pointers. */
static int slots[4096];
#define P(i) ((void *)&slots[(i)])
#define IDX(p) ((size_t)((int *)(p)-slots))

/* A key looking like a reference's external term format, numbered by i. */
static size_t ref_key(uint8_t *buf, uint64_t i)
{
    static const uint8_t head[] = {131, 90,  0,   3,   119, 13,  'n', 'o', 'd', 'e', 'a',
                                   '@', 'h', 'o', 's', 't', '.', 'x', 0,   0,   0,   1};
    memcpy(buf, head, sizeof(head));
    for (int b = 0; b < 8; b++)
        buf[sizeof(head) + (size_t)b] = (uint8_t)(i >> (8 * b));
    memset(buf + sizeof(head) + 8, 0, 4);
    return sizeof(head) + 12;
}

static void test_new_free(void **state)
{
    (void)state;
    phn_optable *t = phn_optable_new(0);
    assert_non_null(t);
    assert_int_equal(phn_optable_size(t), 0);
    assert_true(phn_optable_bytes(t) > 0);
    assert_null(phn_optable_pop_expired(t, INT64_MAX, NULL, NULL));
    phn_optable_free(t, NULL, NULL);
    phn_optable_free(NULL, NULL, NULL);
    for (size_t nth = 0; nth < 2; nth++) {
        fa_fail_nth(nth);
        assert_null(phn_optable_new(0));
        assert_int_equal(fa_live(), 0);
    }
    fa_disarm();
}

static void test_insert_get_remove(void **state)
{
    (void)state;
    phn_optable *t = phn_optable_new(0);
    assert_non_null(t);
    const uint8_t a[] = "ab", b[] = "abc", c[] = {'a', 'b', 0};
    assert_int_equal(phn_optable_insert(t, a, 2, 10, P(1)), PHN_OK);
    assert_int_equal(phn_optable_insert(t, b, 3, 20, P(2)), PHN_OK);
    assert_int_equal(phn_optable_insert(t, c, 3, 30, P(3)), PHN_OK); /* "ab\0" != "abc" */
    assert_int_equal(phn_optable_size(t), 3);
    assert_ptr_equal(phn_optable_get(t, a, 2), P(1));
    assert_ptr_equal(phn_optable_get(t, b, 3), P(2));
    assert_ptr_equal(phn_optable_get(t, c, 3), P(3));
    assert_null(phn_optable_get(t, a, 1));
    assert_null(phn_optable_get(t, (const uint8_t *)"abd", 3));

    assert_int_equal(phn_optable_insert(t, a, 2, 99, P(9)), PHN_EEXIST);
    assert_ptr_equal(phn_optable_get(t, a, 2), P(1));
    assert_int_equal(phn_optable_size(t), 3);

    assert_ptr_equal(phn_optable_remove(t, b, 3), P(2));
    assert_null(phn_optable_remove(t, b, 3));
    assert_null(phn_optable_get(t, b, 3));
    assert_int_equal(phn_optable_size(t), 2);
    /* The removed entry is gone from the expiry heap too. */
    assert_ptr_equal(phn_optable_pop_expired(t, 1000, NULL, NULL), P(1));
    assert_ptr_equal(phn_optable_pop_expired(t, 1000, NULL, NULL), P(3));
    assert_null(phn_optable_pop_expired(t, 1000, NULL, NULL));
    assert_int_equal(phn_optable_size(t), 0);
    phn_optable_free(t, NULL, NULL);
}

static void test_key_lengths(void **state)
{
    (void)state;
    phn_optable *t = phn_optable_new(0);
    assert_non_null(t);
    uint8_t big[256];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)i;

    /* Length 0: NULL and any pointer name the same empty key. */
    assert_int_equal(phn_optable_insert(t, NULL, 0, 1, P(0)), PHN_OK);
    assert_int_equal(phn_optable_insert(t, big, 0, 1, P(1)), PHN_EEXIST);
    assert_ptr_equal(phn_optable_get(t, big, 0), P(0));

    assert_int_equal(phn_optable_insert(t, big, 255, 2, P(255)), PHN_OK);
    assert_ptr_equal(phn_optable_get(t, big, 255), P(255));
    assert_null(phn_optable_get(t, big, 254));
    assert_int_equal(phn_optable_insert(t, big, 254, 2, P(254)), PHN_OK);

    assert_int_equal(phn_optable_insert(t, big, 256, 3, P(256)), PHN_EINVAL);
    assert_int_equal(phn_optable_insert(t, big, SIZE_MAX, 3, P(256)), PHN_EINVAL);
    assert_null(phn_optable_get(t, big, 256));
    assert_null(phn_optable_remove(t, big, 256));
    assert_int_equal(phn_optable_insert(t, NULL, 1, 3, P(7)), PHN_EINVAL);
    assert_null(phn_optable_get(t, NULL, 1));
    assert_null(phn_optable_remove(t, NULL, 1));
    /* A NULL payload would read as "absent": refused. */
    assert_int_equal(phn_optable_insert(t, big, 10, 3, NULL), PHN_EINVAL);
    assert_int_equal(phn_optable_size(t), 3);

    /* The 255-byte key comes back intact from expiry. */
    const uint8_t *k;
    size_t klen;
    assert_ptr_equal(phn_optable_pop_expired(t, 2, &k, &klen), P(0));
    assert_int_equal(klen, 0);
    void *got = phn_optable_pop_expired(t, 3, &k, &klen);
    assert_true(got == P(254) || got == P(255));
    assert_int_equal(klen, IDX(got));
    assert_memory_equal(k, big, klen);
    assert_ptr_equal(phn_optable_remove(t, NULL, 0), NULL);
    phn_optable_free(t, NULL, NULL);
}

static void test_cap(void **state)
{
    (void)state;
    phn_optable *t = phn_optable_new(3);
    assert_non_null(t);
    uint8_t k[64];
    for (uint64_t i = 0; i < 3; i++)
        assert_int_equal(phn_optable_insert(t, k, ref_key(k, i), 0, P(i)), PHN_OK);
    assert_int_equal(phn_optable_insert(t, k, ref_key(k, 3), 0, P(3)), PHN_ELIMIT);
    /* A duplicate reports EEXIST even when full. */
    assert_int_equal(phn_optable_insert(t, k, ref_key(k, 1), 0, P(1)), PHN_EEXIST);
    assert_ptr_equal(phn_optable_remove(t, k, ref_key(k, 1)), P(1));
    assert_int_equal(phn_optable_insert(t, k, ref_key(k, 3), 0, P(3)), PHN_OK);
    assert_int_equal(phn_optable_insert(t, k, ref_key(k, 4), 0, P(4)), PHN_ELIMIT);
    assert_int_equal(phn_optable_size(t), 3);
    assert_non_null(phn_optable_pop_expired(t, 1, NULL, NULL));
    assert_int_equal(phn_optable_insert(t, k, ref_key(k, 4), 0, P(4)), PHN_OK);
    phn_optable_free(t, NULL, NULL);
}

static void test_expiry_strict(void **state)
{
    (void)state;
    phn_optable *t = phn_optable_new(0);
    assert_non_null(t);
    uint8_t k[64];
    assert_int_equal(phn_optable_insert(t, k, ref_key(k, 1), 100, P(1)), PHN_OK);
    assert_int_equal(phn_optable_insert(t, k, ref_key(k, 2), INT64_MIN, P(2)), PHN_OK);
    assert_int_equal(phn_optable_insert(t, k, ref_key(k, 3), INT64_MAX, P(3)), PHN_OK);
    /* now == deadline is not expired. */
    assert_null(phn_optable_pop_expired(t, INT64_MIN, NULL, NULL));
    assert_ptr_equal(phn_optable_pop_expired(t, INT64_MIN + 1, NULL, NULL), P(2));
    assert_null(phn_optable_pop_expired(t, 99, NULL, NULL));
    assert_null(phn_optable_pop_expired(t, 100, NULL, NULL));
    const uint8_t *kout;
    size_t klen;
    assert_ptr_equal(phn_optable_pop_expired(t, 101, &kout, &klen), P(1));
    uint8_t want[64];
    assert_int_equal(klen, ref_key(want, 1));
    assert_memory_equal(kout, want, klen);
    /* INT64_MAX can never be exceeded. */
    assert_null(phn_optable_pop_expired(t, INT64_MAX, NULL, NULL));
    assert_int_equal(phn_optable_size(t), 1);
    phn_optable_free(t, NULL, NULL);
}

/* Random deadlines, random removals, then expiry: exactly the survivors, in deadline
 * order, each with its own key. */
static void test_expiry_order(void **state)
{
    (void)state;
    enum { N = 3000 };
    test_rng rng = test_rng_new(11);
    int64_t *deadline = malloc(N * sizeof(*deadline));
    unsigned char *alive = calloc(N, 1);
    assert_non_null(deadline);
    assert_non_null(alive);
    phn_optable *t = phn_optable_new(0);
    assert_non_null(t);
    uint8_t k[64];
    for (uint64_t i = 0; i < N; i++) {
        deadline[i] = (int64_t)test_rng_below(&rng, 2000);
        assert_int_equal(phn_optable_insert(t, k, ref_key(k, i), deadline[i], P(i)), PHN_OK);
        alive[i] = 1;
    }
    size_t live = N;
    for (size_t r = 0; r < N / 3; r++) {
        uint64_t i = test_rng_below(&rng, N);
        void *p = phn_optable_remove(t, k, ref_key(k, i));
        assert_true(alive[i] ? p == P(i) : p == NULL);
        live -= alive[i];
        alive[i] = 0;
    }
    assert_int_equal(phn_optable_size(t), live);

    int64_t prev = INT64_MIN;
    for (int64_t now = 0; now <= 2001; now += 50) {
        const uint8_t *kout;
        size_t klen;
        void *p;
        while ((p = phn_optable_pop_expired(t, now, &kout, &klen)) != NULL) {
            size_t i = IDX(p);
            assert_true(i < N && alive[i]);
            assert_true(deadline[i] < now);
            assert_true(deadline[i] >= prev);
            assert_int_equal(klen, ref_key(k, i));
            assert_memory_equal(kout, k, klen);
            prev = deadline[i];
            alive[i] = 0;
            live--;
        }
        /* Whatever is left is not expired yet. */
        for (size_t i = 0; i < N && now % 500 == 0; i++)
            if (alive[i])
                assert_true(deadline[i] >= now);
    }
    assert_int_equal(live, 0);
    assert_int_equal(phn_optable_size(t), 0);
    phn_optable_free(t, NULL, NULL);
    free(deadline);
    free(alive);
}

typedef struct visit {
    size_t count;
    int64_t deadline_sum;
    unsigned char seen[64];
} visit;

static void on_visit(const uint8_t *key, size_t keylen, int64_t deadline, void *payload, void *ctx)
{
    visit *v = ctx;
    uint8_t want[64];
    size_t i = IDX(payload);
    assert_true(i < 64 && !v->seen[i]);
    assert_int_equal(keylen, ref_key(want, i));
    assert_memory_equal(key, want, keylen);
    assert_int_equal(deadline, (int64_t)i * 10);
    v->seen[i] = 1;
    v->count++;
    v->deadline_sum += deadline;
}

static void test_foreach(void **state)
{
    (void)state;
    phn_optable *t = phn_optable_new(0);
    assert_non_null(t);
    visit v;
    memset(&v, 0, sizeof(v));
    phn_optable_foreach(t, on_visit, &v);
    assert_int_equal(v.count, 0);
    uint8_t k[64];
    for (uint64_t i = 0; i < 40; i++)
        assert_int_equal(phn_optable_insert(t, k, ref_key(k, i), (int64_t)i * 10, P(i)), PHN_OK);
    for (uint64_t i = 0; i < 40; i += 4)
        assert_ptr_equal(phn_optable_remove(t, k, ref_key(k, i)), P(i));
    phn_optable_foreach(t, on_visit, &v);
    assert_int_equal(v.count, 30);
    for (size_t i = 0; i < 40; i++)
        assert_int_equal(v.seen[i], i % 4 != 0);
    phn_optable_free(t, NULL, NULL);
}

typedef struct freed {
    size_t count;
} freed;

static void free_payload(void *payload, void *ctx)
{
    ((freed *)ctx)->count++;
    phn_free(payload);
}

/* Teardown frees every payload through the callback (payloads come from the counting
 * allocator, so the leak check in the teardown covers them). */
static void test_free_payloads(void **state)
{
    (void)state;
    phn_optable *t = phn_optable_new(0);
    assert_non_null(t);
    uint8_t k[64];
    for (uint64_t i = 0; i < 100; i++) {
        void *p = phn_malloc(32);
        assert_non_null(p);
        assert_int_equal(phn_optable_insert(t, k, ref_key(k, i), (int64_t)i, p), PHN_OK);
    }
    phn_free(phn_optable_remove(t, k, ref_key(k, 50)));
    freed f = {0};
    phn_optable_free(t, free_payload, &f);
    assert_int_equal(f.count, 99);
}

/* bytes covers table, heap and keys; it falls back after a burst is removed. */
static void test_bytes(void **state)
{
    (void)state;
    phn_optable *t = phn_optable_new(0);
    assert_non_null(t);
    size_t empty = phn_optable_bytes(t);
    uint8_t big[255] = {0};
    assert_int_equal(phn_optable_insert(t, big, 1, 0, P(0)), PHN_OK);
    size_t one = phn_optable_bytes(t);
    assert_ptr_equal(phn_optable_remove(t, big, 1), P(0));
    size_t none = phn_optable_bytes(t); /* the heap keeps its first small array */
    assert_true(none < one);
    /* Key bytes are counted: a 255-byte key costs 254 more than a 1-byte one. */
    assert_int_equal(phn_optable_insert(t, big, 255, 0, P(0)), PHN_OK);
    assert_int_equal(phn_optable_bytes(t), one + 254);
    assert_ptr_equal(phn_optable_remove(t, big, 255), P(0));
    assert_int_equal(phn_optable_bytes(t), none);

    uint8_t k[64];
    for (uint64_t i = 0; i < 20000; i++)
        assert_int_equal(phn_optable_insert(t, k, ref_key(k, i), 0, P(i % 4096)), PHN_OK);
    size_t full = phn_optable_bytes(t);
    assert_true(full >= empty + 20000 * (34 + 16));
    for (uint64_t i = 0; i < 20000; i++)
        assert_non_null(phn_optable_remove(t, k, ref_key(k, i)));
    assert_true(phn_optable_bytes(t) < empty + 4096);
    phn_optable_free(t, NULL, NULL);
}

/* Random inserts, gets and removals over a small key space against a reference array.
 * The table stays small, so probe runs wrap around its end and backward-shift deletion is
 * exercised in every configuration. */
static void test_model(void **state)
{
    (void)state;
    enum { KEYS = 48, OPS = 200000 };
    test_rng rng = test_rng_new(5);
    void *ref[KEYS] = {0};
    size_t live = 0;
    phn_optable *t = phn_optable_new(0);
    assert_non_null(t);
    for (size_t op = 0; op < OPS; op++) {
        uint64_t i = test_rng_below(&rng, KEYS);
        uint8_t k[4] = {(uint8_t)i, (uint8_t)(i * 3), 0, 0};
        size_t klen = (size_t)(i % 4); /* lengths 0..3: keys 0, 4, 8... share length 0 */
        uint64_t slot = klen == 0 ? 0 : i;
        switch (test_rng_below(&rng, 3)) {
        case 0: {
            int rc = phn_optable_insert(t, k, klen, (int64_t)op, P(slot + 1));
            assert_int_equal(rc, ref[slot] != NULL ? PHN_EEXIST : PHN_OK);
            if (rc == PHN_OK) {
                ref[slot] = P(slot + 1);
                live++;
            }
            break;
        }
        case 1:
            assert_ptr_equal(phn_optable_get(t, k, klen), ref[slot]);
            break;
        default:
            assert_ptr_equal(phn_optable_remove(t, k, klen), ref[slot]);
            if (ref[slot] != NULL)
                live--;
            ref[slot] = NULL;
            break;
        }
        assert_int_equal(phn_optable_size(t), live);
    }
    for (uint64_t i = 0; i < KEYS; i++) {
        uint8_t k[4] = {(uint8_t)i, (uint8_t)(i * 3), 0, 0};
        size_t klen = (size_t)(i % 4);
        assert_ptr_equal(phn_optable_get(t, k, klen), ref[klen == 0 ? 0 : i]);
    }
    phn_optable_free(t, NULL, NULL);
}

/* 1e6 insert/remove cycles at a constant 1000 live operations (the oldest one is answered,
 * a new one registered): memory stays exactly where it was after the first fill, and the
 * table still finds everything. */
static void test_churn(void **state)
{
    (void)state;
    enum { LIVE = 1000, CYCLES = 1000000 };
    phn_optable *t = phn_optable_new(LIVE);
    assert_non_null(t);
    uint8_t k[64];
    for (uint64_t i = 0; i < LIVE; i++)
        assert_int_equal(phn_optable_insert(t, k, ref_key(k, i), (int64_t)i, P(i % 4096)), PHN_OK);
    size_t bytes = phn_optable_bytes(t);
    size_t calls = fa_calls();
    for (uint64_t i = LIVE; i < LIVE + CYCLES; i++) {
        assert_non_null(phn_optable_remove(t, k, ref_key(k, i - LIVE)));
        int rc = phn_optable_insert(t, k, ref_key(k, i), (int64_t)i, P(i % 4096));
        if (rc != PHN_OK)
            fail_msg("insert %llu: %d", (unsigned long long)i, rc);
    }
    /* Per cycle: one entry freed and one allocated, never a rehash or heap regrowth. */
    assert_int_equal(fa_calls() - calls, CYCLES);
    assert_int_equal(phn_optable_bytes(t), bytes);
    assert_int_equal(phn_optable_size(t), LIVE);
    for (uint64_t i = CYCLES; i < LIVE + CYCLES; i++)
        assert_ptr_equal(phn_optable_get(t, k, ref_key(k, i)), P(i % 4096));
    assert_null(phn_optable_get(t, k, ref_key(k, CYCLES - 1)));
    /* Expiry still walks them oldest first. */
    for (uint64_t i = CYCLES; i < LIVE + CYCLES; i++) {
        const uint8_t *kout;
        size_t klen;
        assert_ptr_equal(phn_optable_pop_expired(t, INT64_MAX, &kout, &klen), P(i % 4096));
        assert_int_equal(klen, ref_key(k, i));
        assert_memory_equal(kout, k, klen);
    }
    phn_optable_free(t, NULL, NULL);
}

/* Refuse each allocation of a growing fill in turn: a refused insert changes nothing
 * (size, lookups, expiry order), and a retry succeeds. */
static void test_insert_enomem(void **state)
{
    (void)state;
    enum { N = 200 };
    uint8_t k[64];
    for (size_t nth = 0;; nth++) {
        phn_optable *t = phn_optable_new(0);
        assert_non_null(t);
        fa_fail_nth(nth);
        size_t refused = 0;
        for (uint64_t i = 0; i < N; i++) {
            size_t klen = ref_key(k, i);
            int rc = phn_optable_insert(t, k, klen, (int64_t)(N - i), P(i));
            if (rc == PHN_ENOMEM) {
                refused++;
                assert_int_equal(phn_optable_size(t), i);
                assert_null(phn_optable_get(t, k, klen));
                rc = phn_optable_insert(t, k, klen, (int64_t)(N - i), P(i));
            }
            assert_int_equal(rc, PHN_OK);
        }
        size_t failures = fa_failures();
        fa_disarm();
        assert_int_equal(refused, failures);
        for (uint64_t i = N; i-- > 0;)
            assert_ptr_equal(phn_optable_pop_expired(t, INT64_MAX, NULL, NULL), P(i));
        phn_optable_free(t, NULL, NULL);
        assert_int_equal(fa_live(), 0);
        if (failures == 0)
            break;
    }
}

/* Shrinking is best effort: with the allocator refusing everything, removals and expiry
 * still work. */
static void test_remove_without_memory(void **state)
{
    (void)state;
    phn_optable *t = phn_optable_new(0);
    assert_non_null(t);
    uint8_t k[64];
    for (uint64_t i = 0; i < 2000; i++)
        assert_int_equal(phn_optable_insert(t, k, ref_key(k, i), (int64_t)i, P(i)), PHN_OK);
    size_t bytes = phn_optable_bytes(t);
    fa_fail_from(0);
    for (uint64_t i = 0; i < 1000; i++)
        assert_ptr_equal(phn_optable_remove(t, k, ref_key(k, i)), P(i));
    for (uint64_t i = 1000; i < 1990; i++)
        assert_ptr_equal(phn_optable_pop_expired(t, INT64_MAX, NULL, NULL), P(i));
    assert_int_equal(phn_optable_insert(t, k, ref_key(k, 0), 0, P(0)), PHN_ENOMEM);
    fa_disarm();
    assert_true(phn_optable_bytes(t) < bytes);
    for (uint64_t i = 1990; i < 2000; i++)
        assert_ptr_equal(phn_optable_get(t, k, ref_key(k, i)), P(i));
    assert_int_equal(phn_optable_size(t), 10);
    phn_optable_free(t, NULL, NULL);
}

/* Caller keys: the payload holds the key, match compares it, the hash is the caller's.
 * Every key gets one of 4 hashes, so most lookups probe past other keys' entries. */
static int match_slot(const void *payload, const void *arg, void *ctx)
{
    (void)ctx;
    return IDX(payload) == *(const size_t *)arg;
}

static phn_optable_key ckey(const size_t *i)
{
    return (phn_optable_key){(uint64_t)(*i % 4) * UINT64_C(0x9e3779b97f4a7c15), match_slot, i,
                             NULL};
}

static void test_caller_keys(void **state)
{
    (void)state;
    enum { N = 3000 };
    phn_optable *t = phn_optable_new(0);
    assert_non_null(t);
    static size_t ids[N];
    for (size_t i = 0; i < N; i++) {
        ids[i] = i;
        phn_optable_key k = ckey(&ids[i]);
        assert_int_equal(phn_optable_insert_key(t, &k, (int64_t)(N - i), P(i)), PHN_OK);
    }
    phn_optable_key k0 = ckey(&ids[0]);
    assert_int_equal(phn_optable_insert_key(t, &k0, 1, P(0)), PHN_EEXIST);
    phn_optable_key bad = {1, NULL, &ids[0], NULL};
    assert_int_equal(phn_optable_insert_key(t, &bad, 1, P(0)), PHN_EINVAL);
    assert_int_equal(phn_optable_insert_key(t, NULL, 1, P(0)), PHN_EINVAL);
    assert_int_equal(phn_optable_insert_key(t, &k0, 1, NULL), PHN_EINVAL);
    assert_null(phn_optable_get_key(t, &bad));
    assert_null(phn_optable_remove_key(t, NULL));
    assert_int_equal(phn_optable_set_deadline_key(t, &bad, 0), PHN_EINVAL);
    assert_int_equal(phn_optable_size(t), N);
    for (size_t i = 0; i < N; i++) {
        phn_optable_key k = ckey(&ids[i]);
        assert_ptr_equal(phn_optable_get_key(t, &k), P(i));
    }
    /* Remove the even ones; the odd ones are still found, and expire in deadline order. */
    for (size_t i = 0; i < N; i += 2) {
        phn_optable_key k = ckey(&ids[i]);
        assert_ptr_equal(phn_optable_remove_key(t, &k), P(i));
        assert_null(phn_optable_remove_key(t, &k));
        assert_null(phn_optable_get_key(t, &k));
    }
    size_t one = 1;
    phn_optable_key k1 = ckey(&one);
    assert_int_equal(phn_optable_set_deadline_key(t, &k1, -5), PHN_OK);
    assert_int_equal(phn_optable_set_deadline_key(t, &k0, 0), PHN_ENOTFOUND);
    assert_ptr_equal(phn_optable_pop_expired(t, INT64_MAX, NULL, NULL), P(1));
    for (size_t i = N - 1; i > 1; i -= 2) {
        size_t keylen = 99;
        assert_ptr_equal(phn_optable_pop_expired(t, INT64_MAX, NULL, &keylen), P(i));
        assert_int_equal(keylen, 0); /* caller keys have no bytes */
    }
    assert_int_equal(phn_optable_size(t), 0);
    phn_optable_free(t, NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FA_TEST(test_new_free),
        FA_TEST(test_insert_get_remove),
        FA_TEST(test_key_lengths),
        FA_TEST(test_cap),
        FA_TEST(test_expiry_strict),
        FA_TEST(test_expiry_order),
        FA_TEST(test_foreach),
        FA_TEST(test_free_payloads),
        FA_TEST(test_bytes),
        FA_TEST(test_model),
        FA_TEST(test_churn),
        FA_TEST(test_insert_enomem),
        FA_TEST(test_remove_without_memory),
        FA_TEST(test_caller_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
