#include "phn_hash.h"

#include <string.h>

#define PHN_HASH_K1 UINT64_C(0x9fb21c651e98df25)
#define PHN_HASH_K2 UINT64_C(0xc2b2ae3d27d4eb4f)

static inline uint64_t rotl64(uint64_t x, unsigned r)
{
    return (x << r) | (x >> (64u - r));
}

/* Little-endian load, so the hash of a byte string is the same on every host. */
static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8u * i);
    return v;
}

uint64_t phn_hash_bytes(const uint8_t *p, size_t len, uint64_t seed)
{
    /* The length goes into the initial state so that strings differing only by trailing
     * zero bytes hash differently. */
    uint64_t h = seed ^ ((uint64_t)len * PHN_HASH_K1);
    size_t i = 0;

    for (; i + 8 <= len; i += 8) {
        uint64_t w = load64(p + i) * PHN_HASH_K2;
        h ^= rotl64(w, 31) * PHN_HASH_K1;
        h = rotl64(h, 27) * 5u + UINT64_C(0x52dce729);
    }
    if (i < len) {
        uint8_t tail[8] = {0};
        memcpy(tail, p + i, len - i);
        uint64_t w = load64(tail) * PHN_HASH_K2;
        h ^= rotl64(w, 31) * PHN_HASH_K1;
    }
    return phn_mix64(h ^ (h >> 29));
}
