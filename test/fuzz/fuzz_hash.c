/* phn_hash: phn_hash_bytes is deterministic and independent of the buffer's alignment and of
 * the bytes around it, NULL is accepted for an empty string, and a one-byte change at a
 * chosen position changes the hash (tested on strings of at most 8 bytes, where the
 * construction is injective for a fixed length); phn_mix64 is a bijection (its inverse,
 * computed here, undoes it) with mix(0) == 0. */
#include "fuzz_common.h"
#include "phn_hash.h"

/* The inverse of an odd multiplier modulo 2^64 (Newton's iteration). */
static uint64_t inverse_mul(uint64_t a)
{
    uint64_t x = a; /* correct to 3 bits for odd a */
    for (int i = 0; i < 6; i++)
        x *= 2 - a * x;
    return x;
}

/* Undo x ^= x >> s. */
static uint64_t unxorshift(uint64_t y, unsigned s)
{
    uint64_t x = y;
    for (unsigned k = s; k < 64; k += s)
        x = y ^ (x >> s);
    return x;
}

static uint64_t unmix64(uint64_t y)
{
    y = unxorshift(y, 31);
    y *= inverse_mul(UINT64_C(0x94d049bb133111eb));
    y = unxorshift(y, 27);
    y *= inverse_mul(UINT64_C(0xbf58476d1ce4e5b9));
    return unxorshift(y, 30);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = fz_input(data, size);
    uint64_t seed = fz_u64(&in);
    uint8_t flip_at = fz_u8(&in);
    uint8_t flip_bits = fz_u8(&in);
    uint8_t offset = fz_u8(&in) % 16;
    const uint8_t *msg = in.p;
    size_t len = in.n;

    FZ_CHECK(phn_mix64(0) == 0);
    FZ_CHECK(unmix64(phn_mix64(seed)) == seed);
    FZ_CHECK(phn_mix64(unmix64(seed)) == seed);

    uint64_t h = phn_hash_bytes(msg, len, seed);
    FZ_CHECK(phn_hash_bytes(msg, len, seed) == h);
    FZ_CHECK(phn_hash_bytes(NULL, 0, seed) == phn_hash_bytes(msg, 0, seed));

    /* The same bytes at another alignment, with guard bytes around them. */
    uint8_t *copy = malloc(len + 32);
    FZ_CHECK(copy != NULL);
    memset(copy, 0xa5, len + 32);
    if (len != 0)
        memcpy(copy + offset, msg, len);
    FZ_CHECK(phn_hash_bytes(copy + offset, len, seed) == h);

    /* Every prefix hashes without reading past its end (ASan watches the copy's tail). */
    for (size_t k = 0; k <= len && k <= 64; k++)
        (void)phn_hash_bytes(copy + offset, k, seed);

    /* Within one 8-byte block the state update is a bijection of the block, so any change
     * of a short string changes the hash. */
    if (len != 0 && len <= 8 && flip_bits != 0) {
        copy[offset + flip_at % len] ^= flip_bits;
        FZ_CHECK(phn_hash_bytes(copy + offset, len, seed) != h);
    }
    free(copy);
    return 0;
}
