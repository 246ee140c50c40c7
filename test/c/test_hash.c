/* phn_hash: the mixer spreads weak caller hashes over low bits; the byte hash is
 * deterministic, alignment-independent and sensitive to every byte, bit and the length. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "failing_alloc.h"
#include "phn_hash.h"
#include "test_rng.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int popcount64(uint64_t x)
{
    int n = 0;
    for (; x != 0; x &= x - 1)
        n++;
    return n;
}

static void test_mix_distinct(void **state)
{
    (void)state;
    enum { N = 100000 };
    uint64_t *v = malloc(N * sizeof(*v));
    assert_non_null(v);
    for (uint64_t i = 0; i < N; i++)
        v[i] = phn_mix64(i << 12); /* inputs with all-zero low bits */
    qsort(v, N, sizeof(*v), cmp_u64);
    for (size_t i = 1; i < N; i++)
        assert_true(v[i] != v[i - 1]);
    free(v);
    assert_true(phn_mix64(0) == 0);
}

/* Caller hashes that differ only in high bits must still spread over the low bits. */
static void test_mix_low_bits(void **state)
{
    (void)state;
    enum { BUCKETS = 1024, N = 1024 * 64 };
    static unsigned counts[BUCKETS];
    memset(counts, 0, sizeof(counts));
    for (uint64_t i = 0; i < N; i++)
        counts[phn_mix64(i << 32) & (BUCKETS - 1)]++;
    for (size_t b = 0; b < BUCKETS; b++)
        assert_true(counts[b] > 20 && counts[b] < 120); /* mean 64 */
}

static void test_bytes_deterministic_and_aligned(void **state)
{
    (void)state;
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 31 + 7);
    uint8_t shifted[310];
    for (size_t len = 0; len <= 255; len++) {
        uint64_t h = phn_hash_bytes(buf, len, 1);
        assert_true(h == phn_hash_bytes(buf, len, 1));
        for (size_t off = 1; off < 8; off++) {
            memcpy(shifted + off, buf, len);
            assert_true(h == phn_hash_bytes(shifted + off, len, 1));
        }
    }
    assert_true(phn_hash_bytes(NULL, 0, 5) == phn_hash_bytes(buf, 0, 5));
    assert_true(phn_hash_bytes(buf, 16, 1) != phn_hash_bytes(buf, 16, 2));
}

static void test_bytes_length_matters(void **state)
{
    (void)state;
    uint8_t zeros[64] = {0};
    uint64_t h[65];
    for (size_t len = 0; len <= 64; len++) {
        h[len] = phn_hash_bytes(zeros, len, 0);
        for (size_t j = 0; j < len; j++)
            assert_true(h[j] != h[len]);
    }
}

/* Flipping any single bit of a 255-byte key flips about half of the hash bits. */
static void test_bytes_avalanche(void **state)
{
    (void)state;
    uint8_t key[255];
    test_rng rng = test_rng_new(42);
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)test_rng_next(&rng);
    uint64_t base = phn_hash_bytes(key, sizeof(key), 0);
    long total = 0;
    for (size_t bit = 0; bit < sizeof(key) * 8; bit++) {
        key[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        int d = popcount64(base ^ phn_hash_bytes(key, sizeof(key), 0));
        key[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_true(d >= 10 && d <= 54);
        total += d;
    }
    double mean = (double)total / (double)(sizeof(key) * 8);
    assert_true(mean > 30.0 && mean < 34.0);
}

/* Short keys that look alike (what references encode to) give no duplicate hashes. */
static void test_bytes_similar_keys(void **state)
{
    (void)state;
    enum { N = 50000 };
    uint64_t *v = malloc(N * sizeof(*v));
    assert_non_null(v);
    uint8_t key[40];
    memset(key, 'r', sizeof(key));
    for (uint32_t i = 0; i < N; i++) {
        memcpy(key + 30, &i, sizeof(i));
        v[i] = phn_hash_bytes(key, sizeof(key), 0);
    }
    qsort(v, N, sizeof(*v), cmp_u64);
    for (size_t i = 1; i < N; i++)
        assert_true(v[i] != v[i - 1]);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FA_TEST(test_mix_distinct),
        FA_TEST(test_mix_low_bits),
        FA_TEST(test_bytes_deterministic_and_aligned),
        FA_TEST(test_bytes_length_matters),
        FA_TEST(test_bytes_avalanche),
        FA_TEST(test_bytes_similar_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
