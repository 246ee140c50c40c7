/* An open-addressing hash map from an opaque 64-bit key to a 64-bit value. The NIF keys it
 * by term words (hash from enif_hash, equality by enif_is_identical through eq), the C-node
 * by atom ids. The struct is public so that a set can live on the stack or inside another
 * structure; its fields are private to phn_nodeset.c. No deletion: sets are built, queried
 * and dropped whole. */
#ifndef PHN_NODESET_H
#define PHN_NODESET_H

#include <stddef.h>
#include <stdint.h>

#include "phn_counters.h"
#include "phn_status.h"

/* Key equality; a is the stored key, b the probed one. A NULL callback means a == b. Only
 * called for keys whose hashes are equal. */
typedef int (*phn_key_eq_fn)(uint64_t a, uint64_t b, void *ctx);

typedef struct phn_nodeset_slot {
    uint64_t key;
    uint64_t hash; /* mixed hash, never 0; 0 marks an empty slot */
    uint64_t value;
} phn_nodeset_slot;

typedef struct phn_nodeset {
    phn_nodeset_slot *slots; /* NULL until the first insert when initialised with 0 */
    size_t cap;              /* 0 or a power of two */
    size_t size;
    phn_key_eq_fn eq;
    void *ctx;
    phn_counters *counters; /* NULL (set by init) or a sink for probe counts */
} phn_nodeset;

/* expected is a sizing hint: that many keys fit without regrowth. PHN_OK or PHN_ENOMEM
 * (the set is then zeroed and free is still safe). With 0 nothing is allocated. */
int phn_nodeset_init(phn_nodeset *s, size_t expected, phn_key_eq_fn eq, void *ctx);

/* Safe on a zeroed or already-freed set; the set is left empty and reusable. */
void phn_nodeset_free(phn_nodeset *s);

/* 1 inserted, 0 already present (and *found = its value if found != NULL, the value is
 * not replaced), PHN_ENOMEM (set unchanged). */
int phn_nodeset_insert(phn_nodeset *s, uint64_t key, uint64_t hash, uint64_t value,
                       uint64_t *found);

/* 1 found (and *value = its value if value != NULL), 0 absent. */
int phn_nodeset_find(const phn_nodeset *s, uint64_t key, uint64_t hash, uint64_t *value);

/* 1 updated, 0 absent (nothing inserted). */
int phn_nodeset_set(phn_nodeset *s, uint64_t key, uint64_t hash, uint64_t value);

size_t phn_nodeset_size(const phn_nodeset *s);

/* Heap bytes held by the slot array (the struct itself is the caller's). */
size_t phn_nodeset_bytes(const phn_nodeset *s);

#endif
