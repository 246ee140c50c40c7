#include "phn_heap.h"

#include "phn_alloc.h"

#define HEAP_MIN_CAP 16u

static int less(const phn_heap_entry *a, const phn_heap_entry *b)
{
    if (a->deadline != b->deadline)
        return a->deadline < b->deadline;
    return a->id < b->id;
}

/* Every write of an entry into the array goes through here, so that no move is missed. */
static void put(phn_heap *h, size_t pos, phn_heap_entry e)
{
    h->items[pos] = e;
    if (h->moved != NULL)
        h->moved(e.id, pos, h->ctx);
}

/* Sift e up from the hole at pos: parents larger than e move down one level. */
static void sift_up(phn_heap *h, size_t pos, phn_heap_entry e)
{
    while (pos > 0) {
        size_t parent = (pos - 1) / 2;
        if (!less(&e, &h->items[parent]))
            break;
        put(h, pos, h->items[parent]);
        pos = parent;
    }
    put(h, pos, e);
}

/* Sift e down from the hole at pos: the smaller child moves up while it is smaller than e. */
static void sift_down(phn_heap *h, size_t pos, phn_heap_entry e)
{
    size_t n = h->size;
    for (;;) {
        size_t child = 2 * pos + 1; /* pos < n <= SIZE_MAX / sizeof(entry): no overflow */
        if (child >= n)
            break;
        if (child + 1 < n && less(&h->items[child + 1], &h->items[child]))
            child++;
        if (!less(&h->items[child], &e))
            break;
        put(h, pos, h->items[child]);
        pos = child;
    }
    put(h, pos, e);
}

/* Give memory back after a burst; a failed shrink just keeps the larger array. */
static void maybe_shrink(phn_heap *h)
{
    if (h->cap > HEAP_MIN_CAP && h->size < h->cap / 4) {
        size_t cap = h->cap / 2;
        phn_heap_entry *items = phn_reallocarray(h->items, cap, sizeof(*items));
        if (items != NULL) {
            h->items = items;
            h->cap = cap;
        }
    }
}

void phn_heap_init(phn_heap *h, phn_heap_moved_fn moved, void *ctx)
{
    h->items = NULL;
    h->size = 0;
    h->cap = 0;
    h->moved = moved;
    h->ctx = ctx;
}

void phn_heap_free(phn_heap *h)
{
    phn_free(h->items);
    h->items = NULL;
    h->size = 0;
    h->cap = 0;
}

int phn_heap_push(phn_heap *h, int64_t deadline, uint64_t id)
{
    if (h->size == h->cap) {
        if (h->cap > SIZE_MAX / 2)
            return PHN_ENOMEM;
        size_t cap = h->cap == 0 ? HEAP_MIN_CAP : h->cap * 2;
        phn_heap_entry *items = phn_reallocarray(h->items, cap, sizeof(*items));
        if (items == NULL)
            return PHN_ENOMEM;
        h->items = items;
        h->cap = cap;
    }
    phn_heap_entry e = {deadline, id};
    h->size++;
    sift_up(h, h->size - 1, e);
    return PHN_OK;
}

int phn_heap_peek(const phn_heap *h, int64_t *deadline, uint64_t *id)
{
    if (h->size == 0)
        return 0;
    if (deadline != NULL)
        *deadline = h->items[0].deadline;
    if (id != NULL)
        *id = h->items[0].id;
    return 1;
}

int phn_heap_pop(phn_heap *h, int64_t *deadline, uint64_t *id)
{
    if (!phn_heap_peek(h, deadline, id))
        return 0;
    phn_heap_remove_at(h, 0);
    return 1;
}

int phn_heap_remove_at(phn_heap *h, size_t pos)
{
    if (pos >= h->size)
        return PHN_EINVAL;
    h->size--;
    if (pos < h->size) {
        /* The last entry fills the hole; it may belong above or below it. */
        phn_heap_entry last = h->items[h->size];
        if (pos > 0 && less(&last, &h->items[(pos - 1) / 2]))
            sift_up(h, pos, last);
        else
            sift_down(h, pos, last);
    }
    maybe_shrink(h);
    return PHN_OK;
}

int phn_heap_update_at(phn_heap *h, size_t pos, int64_t deadline)
{
    if (pos >= h->size)
        return PHN_EINVAL;
    phn_heap_entry e = {deadline, h->items[pos].id};
    if (pos > 0 && less(&e, &h->items[(pos - 1) / 2]))
        sift_up(h, pos, e);
    else
        sift_down(h, pos, e);
    return PHN_OK;
}

size_t phn_heap_size(const phn_heap *h)
{
    return h->size;
}

size_t phn_heap_bytes(const phn_heap *h)
{
    return h->cap * sizeof(phn_heap_entry);
}
