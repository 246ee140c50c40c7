#include "phn_chunk.h"

size_t phn_chunk_count(size_t n, size_t size)
{
    if (size == 0)
        return 0;
    return n / size + (n % size != 0);
}

int phn_chunk_bounds(size_t n, size_t size, size_t index, size_t *start, size_t *len)
{
    if (index >= phn_chunk_count(n, size))
        return PHN_EINVAL;
    /* index < count implies index * size < n: the product cannot overflow. */
    size_t s = index * size;
    size_t rest = n - s;
    if (start != NULL)
        *start = s;
    if (len != NULL)
        *len = rest < size ? rest : size;
    return PHN_OK;
}
