#include "phn_optable.h"

#include <string.h>

#include "phn_alloc.h"
#include "phn_hash.h"
#include "phn_heap.h"

#define OPTABLE_MIN_CAP 16u
#define OPTABLE_SEED UINT64_C(0x243f6a8885a308d3)

/* One allocation per operation: the header and the key bytes. The heap refers to an entry
 * by its address (as the heap id), and the moved callback writes back heap_pos. */
typedef struct op_entry {
    void *payload;
    int64_t deadline;
    size_t heap_pos;
    size_t keylen;
    uint8_t key[];
} op_entry;

/* The hash is kept in the slot so that probing and rehashing never touch the entries. */
typedef struct op_slot {
    uint64_t hash;
    op_entry *entry; /* NULL: empty */
} op_slot;

struct phn_optable {
    op_slot *slots;
    size_t cap; /* power of two */
    size_t size;
    size_t max_ops;
    size_t entry_bytes; /* sum of the entries' allocation sizes */
    phn_heap expiry;
    size_t last_keylen;
    uint8_t last_key[PHN_OPTABLE_MAX_KEY]; /* key of the last popped entry */
};

static size_t entry_size(size_t keylen)
{
    return sizeof(op_entry) + keylen;
}

static op_entry *entry_of(uint64_t id)
{
    return (op_entry *)(uintptr_t)id;
}

static void on_moved(uint64_t id, size_t pos, void *ctx)
{
    (void)ctx;
    entry_of(id)->heap_pos = pos;
}

/* Same load rule as phn_nodeset: at most cap * 11/16 live entries. */
static size_t max_load(size_t cap)
{
    return cap - cap / 4 - cap / 16;
}

static int valid_key(const uint8_t *key, size_t keylen)
{
    return keylen <= PHN_OPTABLE_MAX_KEY && (key != NULL || keylen == 0);
}

static uint64_t key_hash(const uint8_t *key, size_t keylen)
{
    return phn_hash_bytes(key, keylen, OPTABLE_SEED);
}

/* Index of the slot holding key, or cap when absent. */
static size_t find_slot(const phn_optable *t, const uint8_t *key, size_t keylen, uint64_t h)
{
    size_t mask = t->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        const op_slot *s = &t->slots[i];
        if (s->entry == NULL)
            return t->cap;
        if (s->hash == h && s->entry->keylen == keylen &&
            (keylen == 0 || memcmp(s->entry->key, key, keylen) == 0))
            return i;
    }
}

/* Index of the slot holding this very entry (found by identity, not by key compare). */
static size_t slot_of_entry(const phn_optable *t, const op_entry *e, uint64_t h)
{
    size_t mask = t->cap - 1;
    size_t i = (size_t)h & mask;
    while (t->slots[i].entry != e)
        i = (i + 1) & mask;
    return i;
}

static void place(op_slot *slots, size_t cap, uint64_t h, op_entry *e)
{
    size_t mask = cap - 1;
    size_t i = (size_t)h & mask;
    while (slots[i].entry != NULL)
        i = (i + 1) & mask;
    slots[i].hash = h;
    slots[i].entry = e;
}

static int rehash(phn_optable *t, size_t cap)
{
    op_slot *slots = phn_calloc(cap, sizeof(*slots));
    if (slots == NULL)
        return PHN_ENOMEM;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].entry != NULL)
            place(slots, cap, t->slots[i].hash, t->slots[i].entry);
    phn_free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return PHN_OK;
}

/* Backward-shift deletion: later entries of the probe run move back into the hole when
 * their home slot allows it, so the table stays exactly as if they had never probed past
 * the removed entry. No tombstones, so churn cannot lengthen probes. */
static void delete_slot(phn_optable *t, size_t hole)
{
    size_t mask = t->cap - 1;
    for (size_t j = (hole + 1) & mask; t->slots[j].entry != NULL; j = (j + 1) & mask) {
        size_t home = (size_t)t->slots[j].hash & mask;
        /* j may move to hole iff home is not in the cyclic range (hole, j]. */
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            t->slots[hole] = t->slots[j];
            hole = j;
        }
    }
    t->slots[hole].entry = NULL;
    t->slots[hole].hash = 0;
    t->size--;
    /* Give memory back after a burst; hysteresis with the growth rule avoids thrashing. A
     * failed shrink just keeps the larger table. */
    if (t->cap > OPTABLE_MIN_CAP && t->size < t->cap / 8)
        (void)rehash(t, t->cap / 2);
}

/* Unlink the entry in slot i from table and heap, and free it; returns its payload. */
static void *drop(phn_optable *t, size_t i)
{
    op_entry *e = t->slots[i].entry;
    void *payload = e->payload;
    (void)phn_heap_remove_at(&t->expiry, e->heap_pos);
    delete_slot(t, i);
    t->entry_bytes -= entry_size(e->keylen);
    phn_free(e);
    return payload;
}

phn_optable *phn_optable_new(size_t max_ops)
{
    phn_optable *t = phn_calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->slots = phn_calloc(OPTABLE_MIN_CAP, sizeof(*t->slots));
    if (t->slots == NULL) {
        phn_free(t);
        return NULL;
    }
    t->cap = OPTABLE_MIN_CAP;
    t->max_ops = max_ops;
    phn_heap_init(&t->expiry, on_moved, t);
    return t;
}

void phn_optable_free(phn_optable *t, phn_payload_free_fn free_payload, void *ctx)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->cap; i++) {
        op_entry *e = t->slots[i].entry;
        if (e == NULL)
            continue;
        if (free_payload != NULL)
            free_payload(e->payload, ctx);
        phn_free(e);
    }
    phn_heap_free(&t->expiry);
    phn_free(t->slots);
    phn_free(t);
}

int phn_optable_insert(phn_optable *t, const uint8_t *key, size_t keylen, int64_t deadline,
                       void *payload)
{
    if (!valid_key(key, keylen) || payload == NULL)
        return PHN_EINVAL;
    uint64_t h = key_hash(key, keylen);
    if (find_slot(t, key, keylen, h) != t->cap)
        return PHN_EEXIST;
    if (t->max_ops != 0 && t->size >= t->max_ops)
        return PHN_ELIMIT;

    /* Grow first: if the entry allocation or the heap push fails afterwards, the larger
     * table is harmless and nothing observable changed. */
    if (t->size + 1 > max_load(t->cap)) {
        if (t->cap > SIZE_MAX / 2 / sizeof(op_slot) || rehash(t, t->cap * 2) != PHN_OK)
            return PHN_ENOMEM;
    }
    op_entry *e = phn_malloc(entry_size(keylen));
    if (e == NULL)
        return PHN_ENOMEM;
    e->payload = payload;
    e->deadline = deadline;
    e->keylen = keylen;
    if (keylen != 0)
        memcpy(e->key, key, keylen);
    if (phn_heap_push(&t->expiry, deadline, (uint64_t)(uintptr_t)e) != PHN_OK) {
        phn_free(e);
        return PHN_ENOMEM;
    }
    place(t->slots, t->cap, h, e);
    t->size++;
    t->entry_bytes += entry_size(keylen);
    return PHN_OK;
}

void *phn_optable_get(const phn_optable *t, const uint8_t *key, size_t keylen)
{
    if (!valid_key(key, keylen))
        return NULL;
    size_t i = find_slot(t, key, keylen, key_hash(key, keylen));
    return i == t->cap ? NULL : t->slots[i].entry->payload;
}

void *phn_optable_remove(phn_optable *t, const uint8_t *key, size_t keylen)
{
    if (!valid_key(key, keylen))
        return NULL;
    size_t i = find_slot(t, key, keylen, key_hash(key, keylen));
    return i == t->cap ? NULL : drop(t, i);
}

void *phn_optable_pop_expired(phn_optable *t, int64_t now, const uint8_t **key_out,
                              size_t *keylen_out)
{
    int64_t deadline;
    uint64_t id;
    if (!phn_heap_peek(&t->expiry, &deadline, &id) || !(now > deadline))
        return NULL;
    op_entry *e = entry_of(id);
    /* Keep the key past the free: the caller may need it to name the expired operation. */
    t->last_keylen = e->keylen;
    if (e->keylen != 0)
        memcpy(t->last_key, e->key, e->keylen);
    void *payload = drop(t, slot_of_entry(t, e, key_hash(e->key, e->keylen)));
    if (key_out != NULL)
        *key_out = t->last_key;
    if (keylen_out != NULL)
        *keylen_out = t->last_keylen;
    return payload;
}

size_t phn_optable_size(const phn_optable *t)
{
    return t->size;
}

size_t phn_optable_bytes(const phn_optable *t)
{
    return sizeof(*t) + t->cap * sizeof(op_slot) + phn_heap_bytes(&t->expiry) + t->entry_bytes;
}

void phn_optable_foreach(const phn_optable *t, phn_optable_visit_fn fn, void *ctx)
{
    for (size_t i = 0; i < t->cap; i++) {
        const op_entry *e = t->slots[i].entry;
        if (e != NULL)
            fn(e->key, e->keylen, e->deadline, e->payload, ctx);
    }
}
