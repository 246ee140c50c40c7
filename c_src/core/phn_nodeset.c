#include "phn_nodeset.h"

#include <string.h>

#include "phn_alloc.h"
#include "phn_hash.h"

#define NODESET_MIN_CAP 8u

/* Largest number of keys a table of cap slots holds: cap * 11/16 (~0.69). Linear probing
 * stays short below 0.7, and shifts avoid any overflow of cap * 7. */
static size_t max_load(size_t cap)
{
    return cap - cap / 4 - cap / 16;
}

/* Smallest power-of-two capacity holding n keys, or 0 if it cannot be allocated. */
static size_t cap_for(size_t n)
{
    size_t cap = NODESET_MIN_CAP;
    while (max_load(cap) < n) {
        if (cap > SIZE_MAX / 2 / sizeof(phn_nodeset_slot))
            return 0;
        cap *= 2;
    }
    return cap;
}

/* The stored hash is never 0 so that 0 can mark empty slots; one other value absorbs it. */
static uint64_t stored_hash(uint64_t hash)
{
    uint64_t h = phn_mix64(hash);
    return h != 0 ? h : UINT64_C(0x9e3779b97f4a7c15);
}

static int keys_equal(const phn_nodeset *s, uint64_t stored, uint64_t probe)
{
    return s->eq == NULL ? stored == probe : s->eq(stored, probe, s->ctx) != 0;
}

/* The slot holding key, or NULL. */
static phn_nodeset_slot *lookup(const phn_nodeset *s, uint64_t key, uint64_t h)
{
    if (s->cap == 0)
        return NULL;
    size_t mask = s->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        phn_nodeset_slot *slot = &s->slots[i];
        if (s->counters != NULL)
            s->counters->probes++;
        if (slot->hash == 0)
            return NULL;
        if (slot->hash == h && keys_equal(s, slot->key, key))
            return slot;
    }
}

/* Place a key known to be absent; the table has a free slot. */
static void place(phn_nodeset_slot *slots, size_t cap, uint64_t key, uint64_t h, uint64_t value)
{
    size_t mask = cap - 1;
    size_t i = (size_t)h & mask;
    while (slots[i].hash != 0)
        i = (i + 1) & mask;
    slots[i].key = key;
    slots[i].hash = h;
    slots[i].value = value;
}

static int resize(phn_nodeset *s, size_t cap)
{
    phn_nodeset_slot *slots = phn_calloc(cap, sizeof(*slots));
    if (slots == NULL)
        return PHN_ENOMEM;
    for (size_t i = 0; i < s->cap; i++) {
        const phn_nodeset_slot *old = &s->slots[i];
        if (old->hash != 0)
            place(slots, cap, old->key, old->hash, old->value);
    }
    phn_free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return PHN_OK;
}

int phn_nodeset_init(phn_nodeset *s, size_t expected, phn_key_eq_fn eq, void *ctx)
{
    memset(s, 0, sizeof(*s));
    s->eq = eq;
    s->ctx = ctx;
    if (expected == 0)
        return PHN_OK;
    size_t cap = cap_for(expected);
    if (cap == 0 || resize(s, cap) != PHN_OK)
        return PHN_ENOMEM;
    return PHN_OK;
}

void phn_nodeset_free(phn_nodeset *s)
{
    phn_free(s->slots);
    s->slots = NULL;
    s->cap = 0;
    s->size = 0;
}

int phn_nodeset_insert(phn_nodeset *s, uint64_t key, uint64_t hash, uint64_t value, uint64_t *found)
{
    uint64_t h = stored_hash(hash);
    phn_nodeset_slot *slot = lookup(s, key, h);
    if (slot != NULL) {
        if (found != NULL)
            *found = slot->value;
        return 0;
    }
    /* Grow only for a key that is really new, so a full set still answers duplicates. */
    if (s->size + 1 > max_load(s->cap)) {
        size_t cap = s->cap == 0 ? NODESET_MIN_CAP : s->cap * 2;
        if (s->cap > SIZE_MAX / 2 / sizeof(phn_nodeset_slot) || resize(s, cap) != PHN_OK)
            return PHN_ENOMEM;
    }
    place(s->slots, s->cap, key, h, value);
    s->size++;
    return 1;
}

int phn_nodeset_find(const phn_nodeset *s, uint64_t key, uint64_t hash, uint64_t *value)
{
    const phn_nodeset_slot *slot = lookup(s, key, stored_hash(hash));
    if (slot == NULL)
        return 0;
    if (value != NULL)
        *value = slot->value;
    return 1;
}

int phn_nodeset_set(phn_nodeset *s, uint64_t key, uint64_t hash, uint64_t value)
{
    phn_nodeset_slot *slot = lookup(s, key, stored_hash(hash));
    if (slot == NULL)
        return 0;
    slot->value = value;
    return 1;
}

size_t phn_nodeset_size(const phn_nodeset *s)
{
    return s->size;
}

size_t phn_nodeset_bytes(const phn_nodeset *s)
{
    return s->cap * sizeof(phn_nodeset_slot);
}
