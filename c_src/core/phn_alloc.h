/* Allocation for the core. The NIF routes it to enif_alloc (so the VM accounts for it),
 * the C-node and the cmocka tests keep the libc default. Every size computation that can
 * overflow goes through phn_calloc / phn_reallocarray, which fail instead of wrapping. */
#ifndef PHN_ALLOC_H
#define PHN_ALLOC_H

#include <stddef.h>

typedef struct phn_allocator {
    void *(*alloc)(size_t size);
    void *(*realloc)(void *ptr, size_t size);
    void (*free)(void *ptr);
} phn_allocator;

/* Replace the allocator; NULL restores malloc/realloc/free. Call before any allocation. */
void phn_set_allocator(const phn_allocator *allocator);

void *phn_malloc(size_t size);
void *phn_calloc(size_t count, size_t size);
void *phn_reallocarray(void *ptr, size_t count, size_t size);
void phn_free(void *ptr);

/* The capacity a growing buffer of `cap` moves to so that it holds `need`: doubled until
 * it does, or exactly `need` once doubling would overflow. */
size_t phn_grow_cap(size_t cap, size_t need);

#endif
