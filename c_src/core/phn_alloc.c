#include "phn_alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static phn_allocator current = {malloc, realloc, free};

void phn_set_allocator(const phn_allocator *allocator)
{
    if (allocator == NULL) {
        current.alloc = malloc;
        current.realloc = realloc;
        current.free = free;
    } else {
        current = *allocator;
    }
}

void *phn_malloc(size_t size)
{
    return current.alloc(size == 0 ? 1 : size);
}

void *phn_calloc(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    size_t total = count * size;
    void *p = phn_malloc(total);
    if (p != NULL)
        memset(p, 0, total);
    return p;
}

void *phn_reallocarray(void *ptr, size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    size_t total = count * size;
    return current.realloc(ptr, total == 0 ? 1 : total);
}

void phn_free(void *ptr)
{
    if (ptr != NULL)
        current.free(ptr);
}

size_t phn_grow_cap(size_t cap, size_t need)
{
    if (cap == 0)
        cap = 1;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    return cap;
}
