/* Hashing shared by the core's hash tables. Callers' hashes (enif_hash, atom indices) may
 * have weak low bits, and the tables index with low bits, so every caller hash is passed
 * through phn_mix64 first. Byte strings (term encodings) are hashed by phn_hash_bytes. */
#ifndef PHN_HASH_H
#define PHN_HASH_H

#include <stddef.h>
#include <stdint.h>

/* A bijective 64-bit finalizer (the xor-shift / multiply rounds of SplitMix64, Steele et
 * al. 2014): every input bit affects every output bit, so low output bits are usable as a
 * table index. mix(0) == 0. */
static inline uint64_t phn_mix64(uint64_t x)
{
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

/* 64-bit hash of len bytes at p (p may be NULL when len is 0). Independent of alignment
 * and deterministic across runs and processes. Not a defence against chosen collisions. */
uint64_t phn_hash_bytes(const uint8_t *p, size_t len, uint64_t seed);

#endif
