/* Shared by every libFuzzer target in test/fuzz/ (one target per fuzz_<name>.c file).
 *
 *  - fz_in: reads the input as a stream of numbers; past the end every read gives 0, so a
 *    target never needs to check lengths.
 *  - FZ_CHECK: a divergence from the target's reference model prints the failed condition
 *    and traps, which libFuzzer reports as a crash and saves as an artifact.
 *  - The fuzz allocator (installed with phn_set_allocator): counts live blocks and bytes
 *    (the exact requested sizes, as ASan records them, so a target can compare them with
 *    the core's *_bytes() functions), refuses blocks larger than FZ_ALLOC_LIMIT as a real
 *    malloc would fail, and fails the calls the input chooses (fz_fail_nth/fz_fail_from),
 *    so that every PHN_ENOMEM path runs.
 *
 * Built only with clang -fsanitize=fuzzer,address,undefined (see test/fuzz/Makefile). */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sanitizer/allocator_interface.h>

#include "phn_alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

__attribute__((noreturn)) static inline void fz_failed(const char *what, const char *file, int line)
{
    fprintf(stderr, "FUZZ CHECK FAILED: %s at %s:%d\n", what, file, line);
    __builtin_trap();
}

#define FZ_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fz_failed(#cond, __FILE__, __LINE__);                                                  \
    } while (0)

/* ---- input stream ---------------------------------------------------------------- */

typedef struct fz_in {
    const uint8_t *p;
    size_t n;
} fz_in;

static inline fz_in fz_input(const uint8_t *data, size_t size)
{
    fz_in in = {data, size};
    return in;
}

static inline int fz_more(const fz_in *in)
{
    return in->n > 0;
}

static inline uint8_t fz_u8(fz_in *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

/* Little-endian, so that hand-written seeds read naturally. */
static inline uint64_t fz_uint(fz_in *in, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)fz_u8(in) << (8u * i);
    return v;
}

static inline uint16_t fz_u16(fz_in *in)
{
    return (uint16_t)fz_uint(in, 2);
}

static inline uint32_t fz_u32(fz_in *in)
{
    return (uint32_t)fz_uint(in, 4);
}

static inline uint64_t fz_u64(fz_in *in)
{
    return fz_uint(in, 8);
}

/* An unsigned number biased towards small values and the edges of the 64-bit range: a tag
 * byte picks the class, so one byte of input reaches 0, 1, SIZE_MAX and friends. */
static inline uint64_t fz_num(fz_in *in)
{
    static const uint64_t edges[] = {0,
                                     1,
                                     2,
                                     3,
                                     7,
                                     8,
                                     15,
                                     16,
                                     255,
                                     256,
                                     1000,
                                     1024,
                                     UINT32_MAX - 1,
                                     UINT32_MAX,
                                     (uint64_t)UINT32_MAX + 1,
                                     UINT64_C(1) << 53,
                                     (UINT64_C(1) << 53) + 1,
                                     (uint64_t)INT64_MAX - 1,
                                     (uint64_t)INT64_MAX,
                                     (uint64_t)INT64_MAX + 1,
                                     UINT64_MAX / 2 + 1,
                                     UINT64_MAX - 1,
                                     UINT64_MAX};
    uint8_t tag = fz_u8(in);
    switch (tag >> 6) {
    case 0:
        return tag & 0x3f; /* 0..63 from the tag alone */
    case 1:
        return fz_u16(in);
    case 2:
        return fz_u64(in);
    default:
        return edges[(tag & 0x3f) % (sizeof(edges) / sizeof(edges[0]))];
    }
}

/* A signed number with the same bias: small values of both signs, and the int64 edges. */
static inline int64_t fz_i64(fz_in *in)
{
    static const int64_t edges[] = {INT64_MIN, INT64_MIN + 1, INT64_MIN / 2, -1000000,  -1,  0,  1,
                                    1000000,   INT64_MAX / 2, INT64_MAX - 1, INT64_MAX, -30, 30, 29,
                                    31,        1700000000};
    uint8_t tag = fz_u8(in);
    switch (tag >> 6) {
    case 0:
        return (int64_t)(tag & 0x3f) - 32; /* -32..31 from the tag alone */
    case 1:
        return (int16_t)fz_u16(in);
    case 2:
        return (int64_t)fz_u64(in);
    default:
        return edges[(tag & 0x3f) % (sizeof(edges) / sizeof(edges[0]))];
    }
}

/* ---- fuzz allocator ---------------------------------------------------------------- */

#ifndef FZ_ALLOC_LIMIT
#define FZ_ALLOC_LIMIT ((size_t)8 << 20) /* larger blocks are refused (NULL) */
#endif

typedef struct fz_alloc_state {
    size_t calls;      /* alloc + realloc calls, refused ones included */
    size_t failures;   /* calls refused (chosen by the input or over the limit) */
    size_t live;       /* blocks allocated and not freed */
    size_t live_bytes; /* their requested sizes */
    size_t fail_at;    /* the call with this number fails ... */
    int fail_rest;     /* ... and, when set, every later one too */
    int armed;
} fz_alloc_state;

static inline fz_alloc_state *fz_alloc(void)
{
    static fz_alloc_state state;
    return &state;
}

static inline int fz_refuse(size_t size)
{
    fz_alloc_state *s = fz_alloc();
    size_t n = s->calls++;
    if ((s->armed && (n == s->fail_at || (s->fail_rest && n > s->fail_at))) ||
        size > FZ_ALLOC_LIMIT) {
        s->failures++;
        return 1;
    }
    return 0;
}

static inline void *fz_malloc_cb(size_t size)
{
    if (fz_refuse(size))
        return NULL;
    void *p = malloc(size);
    if (p != NULL) {
        fz_alloc()->live++;
        fz_alloc()->live_bytes += size;
    }
    return p;
}

static inline void *fz_realloc_cb(void *ptr, size_t size)
{
    if (fz_refuse(size))
        return NULL; /* like realloc: ptr stays valid and owned by the caller */
    size_t old = ptr != NULL ? __sanitizer_get_allocated_size(ptr) : 0;
    void *p = realloc(ptr, size);
    if (p != NULL) {
        if (ptr == NULL)
            fz_alloc()->live++;
        fz_alloc()->live_bytes = fz_alloc()->live_bytes - old + size;
    }
    return p;
}

static inline void fz_free_cb(void *ptr)
{
    if (ptr != NULL) {
        FZ_CHECK(fz_alloc()->live > 0);
        fz_alloc()->live--;
        fz_alloc()->live_bytes -= __sanitizer_get_allocated_size(ptr);
    }
    free(ptr);
}

/* Start of every input: fresh counters, nothing armed, the fuzz allocator in place. */
static inline void fz_alloc_begin(void)
{
    static const phn_allocator allocator = {fz_malloc_cb, fz_realloc_cb, fz_free_cb};
    memset(fz_alloc(), 0, sizeof(*fz_alloc()));
    phn_set_allocator(&allocator);
}

/* End of every input: the target freed everything, so no block may be live. (LSan checks
 * the same at exit; this names the input that leaked at once.) */
static inline void fz_alloc_end(void)
{
    FZ_CHECK(fz_alloc()->live == 0);
    FZ_CHECK(fz_alloc()->live_bytes == 0);
}

/* The n-th allocator call from now (0-based) fails; with `rest`, every later one too. */
static inline void fz_fail_nth(size_t n, int rest)
{
    fz_alloc_state *s = fz_alloc();
    s->fail_at = s->calls + n;
    s->fail_rest = rest;
    s->armed = 1;
}

static inline void fz_disarm(void)
{
    fz_alloc()->armed = 0;
}

/* One input byte arms a failure: (b & 7) calls from now, or with (b & 0x10) a 16-bit count
 * read next (for operations that allocate many blocks at once); once, or with (b & 8)
 * from then on. */
static inline void fz_fail_from_input(fz_in *in)
{
    uint8_t b = fz_u8(in);
    size_t nth = (b & 0x10u) ? fz_u16(in) : (b & 7u);
    fz_fail_nth(nth, (b & 8u) != 0);
}

static inline size_t fz_failures(void)
{
    return fz_alloc()->failures;
}

static inline size_t fz_live_bytes(void)
{
    return fz_alloc()->live_bytes;
}

#endif
