/* phn_alloc: a program of phn_malloc / phn_calloc / phn_reallocarray / phn_free calls with
 * sizes from the input (edges of size_t included). Overflowing products are refused
 * before the allocator is asked; calloc zeroes; reallocarray keeps the data and, when it
 * fails, the original block; zero sizes still give freeable blocks; nothing leaks. */
/* Blocks over 1 MB are refused: the limit path without megabyte fills per input. */
#define FZ_ALLOC_LIMIT ((size_t)1 << 20)
#include "fuzz_common.h"

#define SLOTS 8

typedef struct block {
    uint8_t *p;
    size_t len; /* requested bytes (>= 1, as phn_* round 0 up) */
    uint8_t fill;
} block;

static void check_block(const block *b)
{
    if (b->p == NULL)
        return;
    FZ_CHECK(__sanitizer_get_allocated_size(b->p) == b->len);
    for (size_t i = 0; i < b->len && i < 256; i++)
        FZ_CHECK(b->p[i] == b->fill);
}

static void fill(block *b, uint8_t v)
{
    b->fill = v;
    memset(b->p, v, b->len);
}

static int overflows(uint64_t count, uint64_t size)
{
    return size != 0 && count > SIZE_MAX / size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = fz_input(data, size);
    block blocks[SLOTS];
    memset(blocks, 0, sizeof(blocks));
    fz_alloc_begin();

    for (int steps = 0; fz_more(&in) && steps < 512; steps++) {
        uint8_t op = fz_u8(&in);
        block *b = &blocks[(op >> 4) % SLOTS];
        size_t calls = fz_alloc()->calls;
        switch (op % 6) {
        case 0: { /* malloc */
            if (b->p != NULL)
                break;
            size_t n = (size_t)fz_num(&in);
            b->p = phn_malloc(n);
            FZ_CHECK(fz_alloc()->calls == calls + 1);
            if (b->p != NULL) {
                b->len = n == 0 ? 1 : n;
                fill(b, op);
            }
            break;
        }
        case 1: { /* calloc */
            if (b->p != NULL)
                break;
            uint64_t count = fz_num(&in), sz = fz_num(&in);
            b->p = phn_calloc((size_t)count, (size_t)sz);
            if (overflows(count, sz)) {
                FZ_CHECK(b->p == NULL);
                FZ_CHECK(fz_alloc()->calls == calls); /* never reached the allocator */
                break;
            }
            if (b->p != NULL) {
                size_t total = (size_t)(count * sz);
                b->len = total == 0 ? 1 : total;
                FZ_CHECK(__sanitizer_get_allocated_size(b->p) == b->len);
                for (size_t i = 0; i < total && i < 256; i++)
                    FZ_CHECK(b->p[i] == 0); /* zeroed (a 0-byte request's 1 byte is not) */
                fill(b, op);
            }
            break;
        }
        case 2: { /* reallocarray, also from NULL */
            uint64_t count = fz_num(&in), sz = fz_num(&in);
            uint8_t *p = phn_reallocarray(b->p, (size_t)count, (size_t)sz);
            if (overflows(count, sz)) {
                FZ_CHECK(p == NULL);
                FZ_CHECK(fz_alloc()->calls == calls);
                check_block(b); /* the old block is untouched and still ours */
                break;
            }
            if (p == NULL) {
                check_block(b);
                break;
            }
            size_t len = count * sz == 0 ? 1 : (size_t)(count * sz);
            size_t kept = b->p == NULL ? 0 : (len < b->len ? len : b->len);
            for (size_t i = 0; i < kept && i < 256; i++)
                FZ_CHECK(p[i] == b->fill);
            b->p = p;
            b->len = len;
            fill(b, op);
            break;
        }
        case 3: /* free (NULL included) */
            check_block(b);
            phn_free(b->p);
            b->p = NULL;
            break;
        case 4:
            fz_fail_from_input(&in);
            break;
        default:
            fz_disarm();
            break;
        }
    }
    for (int i = 0; i < SLOTS; i++) {
        check_block(&blocks[i]);
        phn_free(blocks[i].p);
    }
    fz_alloc_end();
    return 0;
}
