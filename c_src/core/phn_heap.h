/* A binary min-heap of (deadline, id) pairs, ordered by deadline then id (so ties pop in a
 * deterministic order: smallest id first). Every time an entry lands in a new array
 * position, including a freshly pushed one, the heap calls moved(id, pos, ctx): the owner
 * records pos beside its entry and can later drop that entry with phn_heap_remove_at in
 * O(log n). moved is not called for the entry being popped or removed. */
#ifndef PHN_HEAP_H
#define PHN_HEAP_H

#include <stddef.h>
#include <stdint.h>

#include "phn_status.h"

typedef void (*phn_heap_moved_fn)(uint64_t id, size_t pos, void *ctx);

typedef struct phn_heap_entry {
    int64_t deadline;
    uint64_t id;
} phn_heap_entry;

/* Public so that it can be embedded; fields are private to phn_heap.c. */
typedef struct phn_heap {
    phn_heap_entry *items;
    size_t size;
    size_t cap;
    phn_heap_moved_fn moved; /* may be NULL */
    void *ctx;
} phn_heap;

/* Never allocates, never fails. */
void phn_heap_init(phn_heap *h, phn_heap_moved_fn moved, void *ctx);

/* Frees the array; the heap is left empty and reusable. Safe to call twice. */
void phn_heap_free(phn_heap *h);

/* PHN_OK or PHN_ENOMEM (heap unchanged, moved not called). */
int phn_heap_push(phn_heap *h, int64_t deadline, uint64_t id);

/* 1 and the minimum (either out pointer may be NULL), or 0 if empty. */
int phn_heap_peek(const phn_heap *h, int64_t *deadline, uint64_t *id);
int phn_heap_pop(phn_heap *h, int64_t *deadline, uint64_t *id);

/* Remove the entry at pos (as reported by moved). PHN_OK or PHN_EINVAL (pos >= size). */
int phn_heap_remove_at(phn_heap *h, size_t pos);

/* Give the entry at pos a new deadline and restore the order, in O(log n) and without
 * allocating (moved is called as usual). PHN_OK or PHN_EINVAL (pos >= size). */
int phn_heap_update_at(phn_heap *h, size_t pos, int64_t deadline);

size_t phn_heap_size(const phn_heap *h);
size_t phn_heap_bytes(const phn_heap *h);

#endif
