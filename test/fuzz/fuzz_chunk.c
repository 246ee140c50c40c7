/* phn_chunk: for (n, size, index) triples from the input, phn_chunk_count and
 * phn_chunk_bounds against 128-bit reference arithmetic; for small counts, every chunk in
 * turn tiles [0, n) exactly. Pure functions: no allocation. */
#include "fuzz_common.h"
#include "phn_chunk.h"

typedef unsigned __int128 u128;

#define SENTINEL ((size_t)0x5a5a5a5a5a5a5a5a)

/* ceil(n / size) without overflow, 0 when size == 0. */
static u128 ref_count(size_t n, size_t size)
{
    return size == 0 ? 0 : ((u128)n + size - 1) / size;
}

static void check_bounds(size_t n, size_t size, size_t index)
{
    u128 count = ref_count(n, size);
    size_t start = SENTINEL, len = SENTINEL;
    int rc = phn_chunk_bounds(n, size, index, &start, &len);
    if ((u128)index >= count) {
        FZ_CHECK(rc == PHN_EINVAL);
        FZ_CHECK(start == SENTINEL && len == SENTINEL); /* outputs untouched */
        return;
    }
    FZ_CHECK(rc == PHN_OK);
    u128 s = (u128)index * size;
    FZ_CHECK((u128)start == s);
    FZ_CHECK(len > 0 && len <= size);
    FZ_CHECK((u128)start + len <= n);
    FZ_CHECK(len == (n - start < size ? n - start : size));
    /* Only the last chunk may be short. */
    FZ_CHECK(len == size || (u128)index + 1 == count);

    /* Either out pointer may be NULL. */
    size_t s2 = SENTINEL, l2 = SENTINEL;
    FZ_CHECK(phn_chunk_bounds(n, size, index, &s2, NULL) == PHN_OK && s2 == start);
    FZ_CHECK(phn_chunk_bounds(n, size, index, NULL, &l2) == PHN_OK && l2 == len);
    FZ_CHECK(phn_chunk_bounds(n, size, index, NULL, NULL) == PHN_OK);
}

/* Every chunk of a short split, in order: contiguous, non-empty, covering [0, n). */
static void check_tiling(size_t n, size_t size)
{
    size_t count = phn_chunk_count(n, size);
    if (count > 4096)
        return;
    size_t next = 0;
    for (size_t i = 0; i < count; i++) {
        size_t start, len;
        FZ_CHECK(phn_chunk_bounds(n, size, i, &start, &len) == PHN_OK);
        FZ_CHECK(start == next && len > 0);
        next = start + len;
    }
    FZ_CHECK(next == (count == 0 ? 0 : n));
    FZ_CHECK(phn_chunk_bounds(n, size, count, NULL, NULL) == PHN_EINVAL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = fz_input(data, size);
    for (int rounds = 0; fz_more(&in) && rounds < 256; rounds++) {
        size_t n = (size_t)fz_num(&in);
        size_t sz = (size_t)fz_num(&in);
        uint8_t how = fz_u8(&in);
        FZ_CHECK((u128)phn_chunk_count(n, sz) == ref_count(n, sz));
        if (n == 0 || sz == 0)
            FZ_CHECK(phn_chunk_count(n, sz) == 0);
        size_t count = phn_chunk_count(n, sz);
        switch (how % 4) {
        case 0: /* an index from the input */
            check_bounds(n, sz, (size_t)fz_num(&in));
            break;
        case 1: /* the last chunk and the first index past it */
            if (count > 0)
                check_bounds(n, sz, count - 1);
            check_bounds(n, sz, count);
            break;
        case 2: /* an index near the end, counted back from the input */
            check_bounds(n, sz, count - (size_t)(fz_u8(&in) % 4));
            break;
        default:
            check_tiling(n, sz);
            break;
        }
    }
    return 0;
}
