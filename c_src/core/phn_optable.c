#include "phn_optable.h"

#include <string.h>

#include "phn_alloc.h"
#include "phn_hash.h"
#include "phn_heap.h"

#define OPTABLE_MIN_CAP 16u
#define OPTABLE_SEED UINT64_C(0x243f6a8885a308d3)

/* A big table is split into independent shards (by the top bits of the hash), each
 * resized on its own, so that growing or shrinking never rehashes more than a shard: at
 * 16 million entries a resize moves about 64 000 slots instead of 16 million, keeping
 * every call short. Small tables keep a single shard (no overhead); the table splits
 * when it passes SPLIT_AT entries and merges back below MERGE_AT (hysteresis). */
#define SHARD_BITS 8u
#define SHARDS (1u << SHARD_BITS)
#define SHARD_MIN_CAP 8u
#define SPLIT_AT 16384u
#define MERGE_AT 2048u

/* One allocation per operation: the header and the key bytes. The heap refers to an entry
 * by its address (as the heap id), and the moved callback writes back heap_pos. */
typedef struct op_entry {
    void *payload;
    int64_t deadline;
    uint64_t hash; /* kept so that expiry finds the slot without rehashing the key */
    size_t heap_pos;
    size_t keylen;
    uint8_t key[];
} op_entry;

/* What a lookup looks for: a byte key (match NULL) or a caller's key (match and arg). */
typedef struct probe {
    uint64_t hash;
    const uint8_t *key;
    size_t keylen;
    phn_optable_match_fn match;
    const void *arg;
    void *ctx;
} probe;

/* The hash is kept in the slot so that probing and rehashing never touch the entries. */
typedef struct op_slot {
    uint64_t hash;
    op_entry *entry; /* NULL: empty */
} op_slot;

typedef struct shard {
    op_slot *slots;
    size_t cap; /* power of two */
    size_t size;
} shard;

struct phn_optable {
    shard *shards; /* &one, or SHARDS shards once split */
    unsigned bits; /* 0 (one shard) or SHARD_BITS */
    shard one;
    size_t size;
    size_t max_ops;
    size_t entry_bytes; /* sum of the entries' allocation sizes */
    size_t slot_bytes;  /* sum of the shards' slot arrays */
    phn_heap expiry;
    phn_counters *counters; /* NULL or the caller's sink */
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
    phn_optable *t = ctx;
    entry_of(id)->heap_pos = pos;
    if (t->counters != NULL)
        t->counters->heap_moves++;
}

/* Same load rule as phn_nodeset: at most cap * 11/16 live entries. */
static size_t max_load(size_t cap)
{
    return cap - cap / 4 - cap / 16;
}

/* Smallest power-of-two capacity, at least min, holding n entries; 0 if too big. */
static size_t cap_for(size_t n, size_t min)
{
    size_t cap = min;
    while (max_load(cap) < n) {
        if (cap > SIZE_MAX / 2 / sizeof(op_slot))
            return 0;
        cap *= 2;
    }
    return cap;
}

static int valid_key(const uint8_t *key, size_t keylen)
{
    return keylen <= PHN_OPTABLE_MAX_KEY && (key != NULL || keylen == 0);
}

static probe byte_probe(const uint8_t *key, size_t keylen)
{
    return (probe){phn_hash_bytes(key, keylen, OPTABLE_SEED), key, keylen, NULL, NULL, NULL};
}

static probe custom_probe(const phn_optable_key *k)
{
    return (probe){k->hash, NULL, 0, k->match, k->arg, k->ctx};
}

static int matches(const op_entry *e, const probe *p)
{
    if (p->match != NULL)
        return p->match(e->payload, p->arg, p->ctx);
    return e->keylen == p->keylen && (p->keylen == 0 || memcmp(e->key, p->key, p->keylen) == 0);
}

static shard *shard_of(const phn_optable *t, uint64_t h)
{
    return &t->shards[t->bits == 0 ? 0 : (size_t)(h >> (64 - t->bits))];
}

static void count_probe(const phn_optable *t)
{
    if (t->counters != NULL)
        t->counters->probes++;
}

/* Index of the slot of s holding the probed key, or s->cap when absent. */
static size_t find_slot(const phn_optable *t, const shard *s, const probe *p)
{
    size_t mask = s->cap - 1;
    for (size_t i = (size_t)p->hash & mask;; i = (i + 1) & mask) {
        const op_slot *slot = &s->slots[i];
        count_probe(t);
        if (slot->entry == NULL)
            return s->cap;
        if (slot->hash == p->hash && matches(slot->entry, p))
            return i;
    }
}

/* Index of the slot holding this very entry (found by identity, not by key compare). */
static size_t slot_of_entry(const phn_optable *t, const shard *s, const op_entry *e, uint64_t h)
{
    size_t mask = s->cap - 1;
    size_t i = (size_t)h & mask;
    count_probe(t);
    while (s->slots[i].entry != e) {
        i = (i + 1) & mask;
        count_probe(t);
    }
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

static int rehash(phn_optable *t, shard *s, size_t cap)
{
    op_slot *slots = phn_calloc(cap, sizeof(*slots));
    if (slots == NULL)
        return PHN_ENOMEM;
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i].entry != NULL)
            place(slots, cap, s->slots[i].hash, s->slots[i].entry);
    phn_free(s->slots);
    t->slot_bytes = t->slot_bytes - s->cap * sizeof(op_slot) + cap * sizeof(op_slot);
    s->slots = slots;
    s->cap = cap;
    return PHN_OK;
}

/* Move every entry of the shards `from` (count n, bits from_bits) into `to` (count m,
 * bits to_bits), whose slot arrays are allocated and large enough. */
static void redistribute(const shard *from, size_t n, shard *to, unsigned to_bits)
{
    for (size_t k = 0; k < n; k++) {
        for (size_t i = 0; i < from[k].cap; i++) {
            const op_slot *slot = &from[k].slots[i];
            if (slot->entry == NULL)
                continue;
            shard *d = &to[to_bits == 0 ? 0 : (size_t)(slot->hash >> (64 - to_bits))];
            place(d->slots, d->cap, slot->hash, slot->entry);
            d->size++;
        }
    }
}

static void free_shards(shard *shards, size_t n)
{
    for (size_t k = 0; k < n; k++)
        phn_free(shards[k].slots);
}

/* One shard -> SHARDS shards, each sized for its share. Best effort: PHN_OK or PHN_ENOMEM
 * (nothing changed). */
static int split(phn_optable *t)
{
    size_t counts[SHARDS] = {0};
    for (size_t i = 0; i < t->one.cap; i++)
        if (t->one.slots[i].entry != NULL)
            counts[t->one.slots[i].hash >> (64 - SHARD_BITS)]++;
    shard *shards = phn_calloc(SHARDS, sizeof(*shards));
    if (shards == NULL)
        return PHN_ENOMEM;
    size_t bytes = 0;
    for (size_t k = 0; k < SHARDS; k++) {
        size_t cap = cap_for(counts[k] + 1, SHARD_MIN_CAP);
        shards[k].slots = cap == 0 ? NULL : phn_calloc(cap, sizeof(op_slot));
        if (shards[k].slots == NULL) {
            free_shards(shards, k);
            phn_free(shards);
            return PHN_ENOMEM;
        }
        shards[k].cap = cap;
        bytes += cap * sizeof(op_slot);
    }
    redistribute(&t->one, 1, shards, SHARD_BITS);
    phn_free(t->one.slots);
    t->one = (shard){NULL, 0, 0};
    t->shards = shards;
    t->bits = SHARD_BITS;
    t->slot_bytes = bytes;
    return PHN_OK;
}

/* SHARDS shards -> one. Best effort, as split. */
static int merge(phn_optable *t)
{
    size_t cap = cap_for(t->size, OPTABLE_MIN_CAP);
    op_slot *slots = cap == 0 ? NULL : phn_calloc(cap, sizeof(*slots));
    if (slots == NULL)
        return PHN_ENOMEM;
    shard one = {slots, cap, 0};
    redistribute(t->shards, SHARDS, &one, 0);
    free_shards(t->shards, SHARDS);
    phn_free(t->shards);
    t->one = one;
    t->shards = &t->one;
    t->bits = 0;
    t->slot_bytes = cap * sizeof(op_slot);
    return PHN_OK;
}

/* Backward-shift deletion: later entries of the probe run move back into the hole when
 * their home slot allows it, so the shard stays exactly as if they had never probed past
 * the removed entry. No tombstones, so churn cannot lengthen probes. */
static void delete_slot(phn_optable *t, shard *s, size_t hole)
{
    size_t mask = s->cap - 1;
    for (size_t j = (hole + 1) & mask; s->slots[j].entry != NULL; j = (j + 1) & mask) {
        size_t home = (size_t)s->slots[j].hash & mask;
        /* j may move to hole iff home is not in the cyclic range (hole, j]. */
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            s->slots[hole] = s->slots[j];
            hole = j;
        }
    }
    s->slots[hole].entry = NULL;
    s->slots[hole].hash = 0;
    s->size--;
    t->size--;
    /* Give memory back after a burst; hysteresis with the growth rule avoids thrashing. A
     * failed shrink or merge just keeps the larger table. */
    if (t->bits != 0 && t->size < MERGE_AT) {
        (void)merge(t);
        return;
    }
    size_t min = t->bits == 0 ? OPTABLE_MIN_CAP : SHARD_MIN_CAP;
    if (s->cap > min && s->size < s->cap / 8)
        (void)rehash(t, s, s->cap / 2);
}

/* Unlink the entry in slot i of s from table and heap, and free it; returns its payload. */
static void *drop(phn_optable *t, shard *s, size_t i)
{
    op_entry *e = s->slots[i].entry;
    void *payload = e->payload;
    (void)phn_heap_remove_at(&t->expiry, e->heap_pos);
    delete_slot(t, s, i);
    t->entry_bytes -= entry_size(e->keylen);
    phn_free(e);
    return payload;
}

phn_optable *phn_optable_new(size_t max_ops)
{
    phn_optable *t = phn_calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->one.slots = phn_calloc(OPTABLE_MIN_CAP, sizeof(op_slot));
    if (t->one.slots == NULL) {
        phn_free(t);
        return NULL;
    }
    t->one.cap = OPTABLE_MIN_CAP;
    t->shards = &t->one;
    t->slot_bytes = OPTABLE_MIN_CAP * sizeof(op_slot);
    t->max_ops = max_ops;
    phn_heap_init(&t->expiry, on_moved, t);
    return t;
}

void phn_optable_free(phn_optable *t, phn_payload_free_fn free_payload, void *ctx)
{
    if (t == NULL)
        return;
    size_t n = t->bits == 0 ? 1 : SHARDS;
    for (size_t k = 0; k < n; k++) {
        shard *s = &t->shards[k];
        for (size_t i = 0; i < s->cap; i++) {
            op_entry *e = s->slots[i].entry;
            if (e == NULL)
                continue;
            if (free_payload != NULL)
                free_payload(e->payload, ctx);
            phn_free(e);
        }
    }
    free_shards(t->shards, n);
    if (t->bits != 0)
        phn_free(t->shards);
    phn_heap_free(&t->expiry);
    phn_free(t);
}

static int insert(phn_optable *t, const probe *p, int64_t deadline, void *payload)
{
    uint64_t h = p->hash;
    shard *s = shard_of(t, h);
    if (find_slot(t, s, p) != s->cap)
        return PHN_EEXIST;
    if (t->max_ops != 0 && t->size >= t->max_ops)
        return PHN_ELIMIT;

    /* Grow first: if the entry allocation or the heap push fails afterwards, the larger
     * table is harmless and nothing observable changed. A single shard that passes
     * SPLIT_AT splits instead (falling back to growing when that fails). */
    if (s->size + 1 > max_load(s->cap)) {
        if (t->bits == 0 && t->size >= SPLIT_AT && split(t) == PHN_OK) {
            s = shard_of(t, h);
        } else if (s->cap > SIZE_MAX / 2 / sizeof(op_slot) || rehash(t, s, s->cap * 2) != PHN_OK) {
            return PHN_ENOMEM;
        }
    }
    op_entry *e = phn_malloc(entry_size(p->keylen));
    if (e == NULL)
        return PHN_ENOMEM;
    e->payload = payload;
    e->deadline = deadline;
    e->hash = h;
    e->keylen = p->keylen;
    if (p->keylen != 0)
        memcpy(e->key, p->key, p->keylen);
    if (phn_heap_push(&t->expiry, deadline, (uint64_t)(uintptr_t)e) != PHN_OK) {
        phn_free(e);
        return PHN_ENOMEM;
    }
    place(s->slots, s->cap, h, e);
    s->size++;
    t->size++;
    t->entry_bytes += entry_size(p->keylen);
    return PHN_OK;
}

int phn_optable_insert(phn_optable *t, const uint8_t *key, size_t keylen, int64_t deadline,
                       void *payload)
{
    if (!valid_key(key, keylen) || payload == NULL)
        return PHN_EINVAL;
    probe p = byte_probe(key, keylen);
    return insert(t, &p, deadline, payload);
}

int phn_optable_insert_key(phn_optable *t, const phn_optable_key *key, int64_t deadline,
                           void *payload)
{
    if (key == NULL || key->match == NULL || payload == NULL)
        return PHN_EINVAL;
    probe p = custom_probe(key);
    return insert(t, &p, deadline, payload);
}

static void *get(const phn_optable *t, const probe *p)
{
    const shard *s = shard_of(t, p->hash);
    size_t i = find_slot(t, s, p);
    return i == s->cap ? NULL : s->slots[i].entry->payload;
}

static void *remove_probed(phn_optable *t, const probe *p)
{
    shard *s = shard_of(t, p->hash);
    size_t i = find_slot(t, s, p);
    return i == s->cap ? NULL : drop(t, s, i);
}

void *phn_optable_get(const phn_optable *t, const uint8_t *key, size_t keylen)
{
    if (!valid_key(key, keylen))
        return NULL;
    probe p = byte_probe(key, keylen);
    return get(t, &p);
}

void *phn_optable_get_key(const phn_optable *t, const phn_optable_key *key)
{
    if (key == NULL || key->match == NULL)
        return NULL;
    probe p = custom_probe(key);
    return get(t, &p);
}

void *phn_optable_remove(phn_optable *t, const uint8_t *key, size_t keylen)
{
    if (!valid_key(key, keylen))
        return NULL;
    probe p = byte_probe(key, keylen);
    return remove_probed(t, &p);
}

void *phn_optable_remove_key(phn_optable *t, const phn_optable_key *key)
{
    if (key == NULL || key->match == NULL)
        return NULL;
    probe p = custom_probe(key);
    return remove_probed(t, &p);
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
    shard *s = shard_of(t, e->hash);
    void *payload = drop(t, s, slot_of_entry(t, s, e, e->hash));
    if (key_out != NULL)
        *key_out = t->last_key;
    if (keylen_out != NULL)
        *keylen_out = t->last_keylen;
    return payload;
}

void *phn_optable_peek_expired(const phn_optable *t, int64_t now)
{
    int64_t deadline;
    uint64_t id;
    if (!phn_heap_peek(&t->expiry, &deadline, &id) || !(now > deadline))
        return NULL;
    return entry_of(id)->payload;
}

static int set_deadline(phn_optable *t, const probe *p, int64_t deadline)
{
    shard *s = shard_of(t, p->hash);
    size_t i = find_slot(t, s, p);
    if (i == s->cap)
        return PHN_ENOTFOUND;
    op_entry *e = s->slots[i].entry;
    e->deadline = deadline;
    return phn_heap_update_at(&t->expiry, e->heap_pos, deadline);
}

int phn_optable_set_deadline(phn_optable *t, const uint8_t *key, size_t keylen, int64_t deadline)
{
    if (!valid_key(key, keylen))
        return PHN_EINVAL;
    probe p = byte_probe(key, keylen);
    return set_deadline(t, &p, deadline);
}

int phn_optable_set_deadline_key(phn_optable *t, const phn_optable_key *key, int64_t deadline)
{
    if (key == NULL || key->match == NULL)
        return PHN_EINVAL;
    probe p = custom_probe(key);
    return set_deadline(t, &p, deadline);
}

void phn_optable_set_counters(phn_optable *t, phn_counters *c)
{
    t->counters = c;
}

size_t phn_optable_size(const phn_optable *t)
{
    return t->size;
}

size_t phn_optable_bytes(const phn_optable *t)
{
    return sizeof(*t) + (t->bits != 0 ? SHARDS * sizeof(shard) : 0) + t->slot_bytes +
           phn_heap_bytes(&t->expiry) + t->entry_bytes;
}

void phn_optable_foreach(const phn_optable *t, phn_optable_visit_fn fn, void *ctx)
{
    size_t n = t->bits == 0 ? 1 : SHARDS;
    for (size_t k = 0; k < n; k++) {
        for (size_t i = 0; i < t->shards[k].cap; i++) {
            const op_entry *e = t->shards[k].slots[i].entry;
            if (e != NULL)
                fn(e->key, e->keylen, e->deadline, e->payload, ctx);
        }
    }
}
