/* Chunk arithmetic for splitting a list of n items into chunks of `size` items (the last
 * one may be shorter). Written without n + size - 1 so that it cannot overflow. */
#ifndef PHN_CHUNK_H
#define PHN_CHUNK_H

#include <stddef.h>

#include "phn_status.h"

/* Number of chunks: 0 when n == 0 or size == 0. */
size_t phn_chunk_count(size_t n, size_t size);

/* Start offset and length of chunk `index` (either out pointer may be NULL). PHN_OK, or
 * PHN_EINVAL when index >= phn_chunk_count(n, size) (outputs untouched). */
int phn_chunk_bounds(size_t n, size_t size, size_t index, size_t *start, size_t *len);

#endif
