/* A small deterministic PRNG (xorshift64*) for the core's randomized tests, so that every
 * run checks the same sequences and a failure can be replayed. */
#ifndef TEST_RNG_H
#define TEST_RNG_H

#include <stdint.h>

typedef struct test_rng {
    uint64_t s;
} test_rng;

static inline test_rng test_rng_new(uint64_t seed)
{
    test_rng r = {seed != 0 ? seed : UINT64_C(0x853c49e6748fea9b)};
    return r;
}

static inline uint64_t test_rng_next(test_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * UINT64_C(0x2545f4914f6cdd1d);
}

/* Uniform enough in [0, n) for tests (n > 0). */
static inline uint64_t test_rng_below(test_rng *r, uint64_t n)
{
    return test_rng_next(r) % n;
}

#endif
