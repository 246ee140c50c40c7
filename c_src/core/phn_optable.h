/* The pending-operation table: operations keyed by an opaque byte string (the C-node: the
 * external term format of a transaction reference) or by a key the caller hashes and
 * compares itself (the NIF: the reference term, see phn_optable_key), each with a deadline in ms
 * and a caller-owned payload. Lookups, inserts and removals are O(1) expected; an embedded min-heap
 * gives the earliest deadline in O(1) and expires in O(log n). Removal uses backward-shift
 * deletion, so there are no tombstones and the table never degrades under churn. A big table is
 * split into 256 shards resized one at a time, so that no single insert or removal
 * rehashes more than about 1/256 of the entries. */
#ifndef PHN_OPTABLE_H
#define PHN_OPTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "phn_counters.h"
#include "phn_status.h"

#define PHN_OPTABLE_MAX_KEY 255u

typedef struct phn_optable phn_optable;

/* max_ops caps the number of live entries (0 = unlimited). NULL when out of memory. */
phn_optable *phn_optable_new(size_t max_ops);

typedef void (*phn_payload_free_fn)(void *payload, void *ctx);

/* Frees every entry, calling free_payload (if not NULL) on each payload, then the table.
 * NULL is accepted. */
void phn_optable_free(phn_optable *t, phn_payload_free_fn free_payload, void *ctx);

/* The key is copied. PHN_OK, PHN_EEXIST (key present), PHN_ELIMIT (max_ops live entries),
 * PHN_ENOMEM, or PHN_EINVAL (keylen > 255, key NULL with keylen > 0, or payload NULL,
 * which would be indistinguishable from "absent"). On error nothing changed. */
int phn_optable_insert(phn_optable *t, const uint8_t *key, size_t keylen, int64_t deadline,
                       void *payload);

/* Keys the caller hashes and compares: the table keeps no key bytes, only the hash, and
 * asks match(payload, arg, ctx) whether an entry of the same hash holds the probed key (so
 * the key lives in the payload). One table may mix both kinds only if no byte key can
 * match a caller's key; the NIF uses caller keys alone. */
typedef int (*phn_optable_match_fn)(const void *payload, const void *arg, void *ctx);
typedef struct phn_optable_key {
    uint64_t hash;
    phn_optable_match_fn match; /* required */
    const void *arg;
    void *ctx;
} phn_optable_key;

/* As their byte-key counterparts: PHN_EINVAL when key or match is NULL (or payload NULL). */
int phn_optable_insert_key(phn_optable *t, const phn_optable_key *key, int64_t deadline,
                           void *payload);
void *phn_optable_get_key(const phn_optable *t, const phn_optable_key *key);
void *phn_optable_remove_key(phn_optable *t, const phn_optable_key *key);
int phn_optable_set_deadline_key(phn_optable *t, const phn_optable_key *key, int64_t deadline);

/* The payload, or NULL when absent. */
void *phn_optable_get(const phn_optable *t, const uint8_t *key, size_t keylen);

/* Removes the entry and returns its payload (now the caller's), or NULL when absent. */
void *phn_optable_remove(phn_optable *t, const uint8_t *key, size_t keylen);

/* An entry is expired when now > deadline (strict). Removes the entry with the earliest
 * deadline if it is expired and returns its payload, with its key in *key_out and *keylen_out
 * (either may be NULL; the bytes stay valid until the next call on this table); NULL when
 * nothing is expired. Equal deadlines expire in an unspecified order. O(log n). */
void *phn_optable_pop_expired(phn_optable *t, int64_t now, const uint8_t **key_out,
                              size_t *keylen_out);

/* The payload of the entry with the earliest deadline if it is expired (now > deadline),
 * without removing it; NULL when nothing is expired. O(1). */
void *phn_optable_peek_expired(const phn_optable *t, int64_t now);

/* Move the entry's deadline, in O(log n) and without allocating. PHN_OK, PHN_ENOTFOUND, or
 * PHN_EINVAL (a key that cannot be in the table). */
int phn_optable_set_deadline(phn_optable *t, const uint8_t *key, size_t keylen, int64_t deadline);

/* Count lookup probes (slots examined) and expiry-heap moves into c; NULL stops counting. */
void phn_optable_set_counters(phn_optable *t, phn_counters *c);

size_t phn_optable_size(const phn_optable *t);

/* Heap bytes held by the table, its expiry heap and its keys; payloads not included. */
size_t phn_optable_bytes(const phn_optable *t);

/* Visits every entry in table order. fn must not modify the table. */
typedef void (*phn_optable_visit_fn)(const uint8_t *key, size_t keylen, int64_t deadline,
                                     void *payload, void *ctx);
void phn_optable_foreach(const phn_optable *t, phn_optable_visit_fn fn, void *ctx);

#endif
