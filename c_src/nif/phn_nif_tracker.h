/* phn_tracker's native side, shared by its files:
 *   phn_nif_tracker.c        the resource: creation, owner monitor (which keeps the
 *                            resource alive), close, destructor, size and stats
 *   phn_nif_tracker_reap.c   the reaper thread that frees big tables, big operations and
 *                            key environments off the schedulers
 *   phn_nif_tracker_keys.c   the operations' keys: the bounded size check, the hash, and
 *                            the key environments (copies of the references)
 *   phn_nif_tracker_ops.c    track, record, count, get/peek/take, cancel, update, cleanup
 *   phn_nif_tracker_terms.c  per-operation terms (compact images), the copy-cost
 *                            estimate, snapshots, and the terms handed back (info maps)
 *
 * A tracker is a phn_optable of tr_op keyed by the transaction reference itself: hashed
 * with enif_hash (internal), compared with enif_is_identical against a copy kept in a
 * tracker-wide key environment. Unlike the external term format, neither depends on the
 * node's name, so operations survive the node starting or restarting distribution; and
 * no call encodes its reference. All of it is behind one mutex. Each operation keeps its completion
 * state in a phn_progress (nodes are atoms, keyed by their term word) and the terms it must keep
 * (meta, each node's chunk results) as compact images (phn_nif_flat), each in one
 * allocation of exactly its size: no ERTS environment per operation (one costs about
 * 2.6 KB whatever the term), and every byte is counted in the operation's `bytes`. The
 * terms are decoded when handed back. */
#ifndef PHN_NIF_TRACKER_H
#define PHN_NIF_TRACKER_H

#include <stddef.h>
#include <stdint.h>

#include <erl_nif.h>

#include "phn_counters.h"
#include "phn_nif_terms.h"
#include "phn_optable.h"
#include "phn_progress.h"

/* The deadline of an operation that never expires. */
#define TR_NO_DEADLINE INT64_MAX

/* A term kept by an operation: its phn_nif_flat image, in one allocation, immutable once
 * kept. Chunks of one node are linked newest first through prev. Blobs are reference
 * counted, and a blob holds a reference to its prev, so that a snapshot (get/peek) can
 * hold a node's chunks by its newest one and read them after the lock is released, while
 * the operation goes on (or is freed). */
typedef struct tr_blob {
    struct tr_blob *prev;
    _Atomic size_t refs;
    size_t len;
    unsigned char image[];
} tr_blob;

/* What the VM's allocator adds to each block (its header and the rounding of the size),
 * as measured against erlang:memory/1 by bench/phn_bench_tracker.erl: `bytes` counts it
 * for every block an operation holds, so that stats/1 reports what the VM spends. */
#define TR_ALLOC_OVERHEAD 16

typedef struct tr_op {
    phn_progress *progress;
    ERL_NIF_TERM key;                  /* the reference, in the key environment key_gen */
    struct tr_op *key_prev, *key_next; /* live operations whose key is in that environment */
    uint32_t key_units;                /* the key's size (tr_key_measure) */
    uint32_t key_gen;
    size_t free_cost; /* tr_op_free_cost when last counted into the tracker's free_cost */
    tr_blob *meta;    /* NULL without a meta */
    int64_t deadline;
    size_t meta_weight; /* copy costs (as phn_flat_encode counts them), saturating */
    size_t results_weight;
    size_t kept_chunks; /* chunks held */
    size_t bytes;       /* all of this operation's native memory: this block, its progress, meta
                         * and chunks, and the allocator's overhead of its table entry (whose
                         * bytes phn_optable_bytes counts) */
    tr_blob *chunks[];  /* per declared node: its newest chunk, NULL before the first */
} tr_op;

/* 1 when the operation keeps a term (a meta or a chunk): stats' kept_terms counts these. */
#define TR_OP_HAS_TERMS(op) ((op)->meta != NULL || (op)->kept_chunks > 0)

/* A key environment: copies of the references of live operations (and dead ones, until
 * the environment is compacted). */
typedef struct tr_keygen {
    ErlNifEnv *env;     /* NULL until a key is copied in */
    size_t units;       /* sizes of every key copied in */
    size_t live_units;  /* sizes of the keys of live operations */
    struct tr_op *head; /* the live operations whose key is here */
} tr_keygen;

typedef struct tracker {
    ErlNifMutex *lock;
    /* keys[key_cur] takes new keys; the other one, while it has an environment, is being
     * emptied: every track moves a few of its live keys over, and it is freed when none is
     * left. So dead keys never hold more than about the live ones (plus a floor). */
    tr_keygen keys[2];
    unsigned key_cur;
    size_t free_cost;   /* what freeing every operation costs (tr_op_free_cost, summed) */
    phn_optable *table; /* NULL once closed (owner down, close/1, destructor) */
    size_t max_ops;
    size_t max_nodes;
    size_t op_bytes;    /* sum of the live operations' bytes */
    size_t table_bytes; /* phn_optable_bytes at the last change */
    size_t kept_terms;  /* live operations keeping a term (TR_OP_HAS_TERMS) */
    uint64_t ignored_unknown;
    uint64_t ignored_unexpected;
    uint64_t ignored_extra;
    uint64_t records; /* chunks recorded */
    uint64_t completes;
    phn_counters counters; /* probes and heap moves of the table and every progress */
    ErlNifPid owner;
    ErlNifMonitor monitor;
    int monitored; /* while set, the resource is kept (enif_keep_resource) for its owner */
} tracker;

/* Calls with more elements of work than this run on a dirty CPU scheduler. */
#define TR_DIRTY_WORK PHN_DIRTY_THRESHOLD

/* Freeing: what frees cost, in blocks (and one more per 4 KiB page they hold). A
 * table or an operation costing more than this is freed by the reaper thread, not on the
 * caller's (or the exiting owner's) scheduler: about 1 ms of frees. */
#define TR_FREE_INLINE 10000

/* --- phn_nif_tracker_reap.c ------------------------------------------------------------- */

/* Start (load) and stop (last unload) the reaper. */
int tr_reap_load(void);
void tr_reap_unload(void);
/* Free, here when cheap (cost <= TR_FREE_INLINE) or when no reaper can take it, else in
 * the reaper: a detached table with its key environments; one operation; one key
 * environment. NULLs are fine. */
void tr_dispose_table(phn_optable *table, size_t ops, size_t table_bytes, size_t cost,
                      ErlNifEnv *env0, ErlNifEnv *env1);
void tr_dispose_op(tr_op *op);
void tr_dispose_env(ErlNifEnv *env, size_t units);
/* Release a reference to a blob (a replaced meta): a big last one is freed by the reaper. */
void tr_dispose_blob(tr_blob *b);
/* Operations handed to the reaper and not yet freed (stats/0's reaping_ops). */
long long tr_reaping_ops(void);

/* --- phn_nif_tracker_keys.c ------------------------------------------------------------- */

/* The cap on a reference's size: counted by tr_key_measure as 8 per term and per list cell
 * plus the bytes of its binaries. */
#define TR_KEY_MAX_UNITS 255u

/* A probed reference: its term (in the caller's env), hash and size. */
typedef struct tr_key {
    ERL_NIF_TERM term;
    uint64_t hash;
    size_t units;
} tr_key;

/* 1 and *k when ref is a usable key: its size is measured by a walk that stops as soon as
 * it passes TR_KEY_MAX_UNITS (so a huge term costs no more than a small one), and only
 * then is it hashed. 0 (badarg) past the cap, and for funs, integers beyond 64 bits and
 * bitstrings that are not whole bytes (whose size the NIF API does not give cheaply). */
int tr_key_of(ErlNifEnv *env, ERL_NIF_TERM ref, tr_key *k);
/* The phn_optable_key probing for k (which must outlive it). */
phn_optable_key tr_key_probe(const tr_key *k);
/* Under the lock: copy the key (a term of env) into the current key environment, its
 * binaries as new ones (a sub-binary never keeps a big binary alive), and link the
 * operation there (before inserting it; tr_keys_drop undoes it). 0 when out of memory. */
int tr_keys_adopt(tracker *t, tr_op *op, ErlNifEnv *env, const tr_key *k);
/* Under the lock: the operation left the table; its key is dead. */
void tr_keys_drop(tracker *t, tr_op *op);
/* Under the lock: one step of compaction (moves a few live keys out of the environment
 * being emptied, or starts emptying the current one when dead keys outweigh live ones).
 * Returns an environment that is now empty of live keys (free it after the lock is
 * released, with tr_dispose_env and *units), or NULL. */
ErlNifEnv *tr_keys_step(tracker *t, size_t *units);
/* Key units held by both environments (for the cost of freeing them). */
size_t tr_keys_units(const tracker *t);

/* --- phn_nif_tracker.c ------------------------------------------------------------------ */

/* Opens the resource type (in load and upgrade) and counts the library instance. */
int phn_nif_tracker_load(ErlNifEnv *env);
/* One library instance is gone (unload); the last one stops the reaper. */
void phn_nif_tracker_unload(void);

/* 1 and *t when term is a tracker. */
int tr_get(ErlNifEnv *env, ERL_NIF_TERM term, tracker **t);

/* Accounting, under the tracker's lock, after the operation entered or left the table
 * (leaving drops its key too). */
void tr_account_insert(tracker *t, tr_op *op);
void tr_account_remove(tracker *t, tr_op *op);
/* A detached table of table_bytes was freed (global bytes). */
void tr_account_table_freed(size_t table_bytes);
/* Global accounting of operations (created, freed) and of those keeping terms. */
void tr_global_op(const tr_op *op, int created);
void tr_global_kept_term(int created);
/* The operation's memory changed by delta bytes (a chunk kept, a meta replaced): its
 * bytes, the tracker's (when in_table) and the global count follow. */
void tr_account_bytes(tracker *t, tr_op *op, long long delta, int in_table);

/* --- phn_nif_tracker_terms.c ---------------------------------------------------------- */

/* Copy costs are counted in elements as phn_flat_encode counts them (a term, a list
 * cell, 64 bytes of a binary). */
size_t tr_weight_add(size_t a, size_t b); /* saturating */
size_t tr_op_weight(const tr_op *op);     /* what copying the operation out walks */

/* Frees the operation and everything it holds (accounting included). NULL is fine. */
void tr_op_free(tr_op *op);
/* What freeing the operation costs, in blocks (see TR_FREE_INLINE). */
size_t tr_op_free_cost(const tr_op *op);
/* phn_payload_free_fn for phn_optable_free. */
void tr_op_free_payload(void *payload, void *ctx);
/* The image of term in a new blob (*out, prev NULL, one reference) and its weight: PHN_OK,
 * PHN_ENOMEM, or PHN_ELIMIT when the weight passes limit (nothing is allocated; see
 * phn_flat_encode). */
int tr_blob_encode(ErlNifEnv *env, ERL_NIF_TERM term, size_t limit, tr_blob **out, size_t *weight);
size_t tr_blob_bytes(const tr_blob *b); /* its block, overhead included; 0 for NULL */
tr_blob *tr_blob_retain(tr_blob *b);    /* one more reference; NULL is fine */
/* One reference less; a blob left without any is freed, and so its prev loses one. */
void tr_blob_release(tr_blob *b);
/* Keep `chunk` (now the operation's) as the newest chunk of node idx. */
void tr_op_keep_chunk(tracker *t, tr_op *op, size_t idx, tr_blob *chunk, size_t weight);
/* Replace the operation's meta by `meta` (encoded, now the operation's); the old one is
 * returned, to be released after the lock is let go, so replacing meta never grows memory
 * beyond the new term's size. */
tr_blob *tr_op_replace_meta(tracker *t, tr_op *op, tr_blob *meta, size_t meta_weight);

/* What building an operation's terms needs, taken under the lock in O(nodes) (the blobs
 * are retained, not copied) and read after it is released. */
typedef struct tr_snap_node {
    ERL_NIF_TERM node;
    uint32_t expected, received;
    tr_blob *newest; /* NULL when the node gave no kept chunk */
} tr_snap_node;

typedef struct tr_snap {
    tr_blob *meta;
    int64_t deadline;
    size_t n;
    tr_snap_node nodes[];
} tr_snap;

tr_snap *tr_snap_take(const tr_op *op); /* NULL when out of memory */
void tr_snap_free(tr_snap *s);          /* NULL is fine */

/* The terms handed back, built in env. tr_collected: [{Node, Results}] for the nodes that
 * gave at least one kept chunk (record/4; count/3 keeps none), in declaration order, a
 * node's chunks concatenated in arrival order (a single chunk is given as it came; a chunk
 * that is not a proper list joins the concatenation as one element). 0 when out of
 * memory. */
int tr_collected(ErlNifEnv *env, const tr_snap *s, ERL_NIF_TERM *out);
ERL_NIF_TERM tr_missing(ErlNifEnv *env, const tr_snap *s); /* nodes still owing, in order */
/* *out = meta's term, or undefined for NULL. 0 when out of memory. */
int tr_meta(ErlNifEnv *env, const tr_blob *meta, ERL_NIF_TERM *out);
/* #{ref, meta, collected, missing, deadline}. 0 when out of memory. */
int tr_info(ErlNifEnv *env, const tr_snap *s, ERL_NIF_TERM ref, ERL_NIF_TERM *out);

#endif
