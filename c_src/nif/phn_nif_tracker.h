/* phn_tracker's native side, shared by its three files:
 *   phn_nif_tracker.c        the resource: creation, owner monitor, close, destructor, the
 *                            reaper thread that frees big tables, size and stats
 *   phn_nif_tracker_ops.c    track, record, get/peek/take, cancel, update, cleanup
 *   phn_nif_tracker_terms.c  per-operation terms (kept in external format), the copy-cost
 *                            estimate, and the terms handed back (info maps)
 *
 * A tracker is a phn_optable of tr_op keyed by the external term format of the
 * transaction reference, behind one mutex. Each operation keeps its completion state in a
 * phn_progress (nodes are atoms, keyed by their term word) and the terms it must keep
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

/* A term kept by an operation: its phn_nif_flat image, in one allocation. Chunks of one
 * node are linked newest first through prev. */
typedef struct tr_blob {
    struct tr_blob *prev;
    size_t len;
    unsigned char image[];
} tr_blob;

/* What the VM's allocator adds to each block (its header and the rounding of the size),
 * as measured against erlang:memory/1 by bench/phn_bench_tracker.erl: `bytes` counts it
 * for every block an operation holds, so that stats/1 reports what the VM spends. */
#define TR_ALLOC_OVERHEAD 16

typedef struct tr_op {
    phn_progress *progress;
    tr_blob *meta; /* NULL without a meta */
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

typedef struct tracker {
    ErlNifMutex *lock;
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
    int monitored;
} tracker;

/* Calls with more elements of work than this run on a dirty CPU scheduler. */
#define TR_DIRTY_WORK PHN_DIRTY_THRESHOLD

/* --- phn_nif_tracker.c ------------------------------------------------------------------ */

/* Opens the resource type (in load and upgrade) and counts the library instance. */
int phn_nif_tracker_load(ErlNifEnv *env);
/* One library instance is gone (unload); the last one stops the reaper. */
void phn_nif_tracker_unload(void);

/* 1 and *t when term is a tracker. */
int tr_get(ErlNifEnv *env, ERL_NIF_TERM term, tracker **t);

/* Accounting, under the tracker's lock, after the operation entered or left the table. */
void tr_account_insert(tracker *t, const tr_op *op);
void tr_account_remove(tracker *t, const tr_op *op);
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
/* phn_payload_free_fn for phn_optable_free. */
void tr_op_free_payload(void *payload, void *ctx);
/* The image of term in a new blob (*out, prev NULL) and its weight: PHN_OK, PHN_ENOMEM,
 * or PHN_ELIMIT when the weight passes limit (nothing is allocated; see phn_flat_encode). */
int tr_blob_encode(ErlNifEnv *env, ERL_NIF_TERM term, size_t limit, tr_blob **out, size_t *weight);
size_t tr_blob_bytes(const tr_blob *b); /* its block, overhead included; 0 for NULL */
void tr_blob_free(tr_blob *b);          /* NULL is fine; prev is not followed */
/* Keep `chunk` (now the operation's) as the newest chunk of node idx. */
void tr_op_keep_chunk(tracker *t, tr_op *op, size_t idx, tr_blob *chunk, size_t weight);
/* Replace the operation's meta by `meta` (encoded, now the operation's); the old one is
 * freed, so replacing meta never grows memory beyond the new term's size. */
void tr_op_replace_meta(tracker *t, tr_op *op, tr_blob *meta, size_t meta_weight);

/* The terms handed back, built in env. tr_collected: [{Node, Results}] for the nodes that
 * gave at least one chunk, in declaration order, a node's chunks concatenated in arrival
 * order (a single chunk is given as it came; a chunk that is not a proper list joins the
 * concatenation as one element). 0 when out of memory. */
int tr_collected(ErlNifEnv *env, const tr_op *op, ERL_NIF_TERM *out);
ERL_NIF_TERM tr_missing(ErlNifEnv *env, const tr_op *op); /* nodes still owing, in order */
/* *out = meta, or undefined without one. 0 when out of memory. */
int tr_meta(ErlNifEnv *env, const tr_op *op, ERL_NIF_TERM *out);
/* #{ref, meta, collected, missing, deadline}. 0 when out of memory. */
int tr_info(ErlNifEnv *env, const tr_op *op, ERL_NIF_TERM ref, ERL_NIF_TERM *out);

#endif
