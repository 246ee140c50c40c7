/* phn_tracker's native side, shared by its three files:
 *   phn_nif_tracker.c        the resource: creation, owner monitor, close, destructor, the
 *                            reaper thread that frees big tables, size and stats
 *   phn_nif_tracker_ops.c    track, record, get/peek/take, cancel, update, cleanup
 *   phn_nif_tracker_terms.c  per-operation terms: the operation's own environment, the
 *                            copy-cost estimate, and the terms handed back (info maps)
 *
 * A tracker is a phn_optable of tr_op keyed by the external term format of the
 * transaction reference, behind one mutex. Each operation keeps its completion state in a
 * phn_progress (nodes are atoms, keyed by their term word) and the terms it must keep
 * (meta, each node's chunk results) in its own process-independent environment, created
 * only when there is a term to keep and freed with the operation. */
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

typedef struct tr_op {
    phn_progress *progress;
    ErlNifEnv *env;       /* NULL until the operation keeps a term */
    ERL_NIF_TERM meta;    /* in env, when has_meta */
    ERL_NIF_TERM *chunks; /* per declared node: its chunk results newest first, a list in
                           * env; set once the node's received count is above 0 */
    int64_t deadline;
    size_t meta_weight; /* copy-cost estimates (tr_weight_upto), saturating */
    size_t results_weight;
    size_t bytes; /* this operation's own allocations (struct, progress, chunks array) */
    int has_meta;
} tr_op;

typedef struct tracker {
    ErlNifMutex *lock;
    phn_optable *table; /* NULL once closed (owner down, close/1, destructor) */
    size_t max_ops;
    size_t max_nodes;
    size_t op_bytes;    /* sum of the live operations' bytes */
    size_t table_bytes; /* phn_optable_bytes at the last change */
    size_t envs;        /* live operations holding an environment */
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
/* Global accounting of operations (created, freed) and of their environments. */
void tr_global_op(const tr_op *op, int created);
void tr_global_env(int created);

/* --- phn_nif_tracker_terms.c ---------------------------------------------------------- */

/* Elements a copy of term walks (list cells, tuple elements, map entries, leaves), counted
 * up to limit + 1: enough to tell a cheap copy from one that needs a dirty scheduler. */
size_t tr_weight_upto(ErlNifEnv *env, ERL_NIF_TERM term, size_t limit);
size_t tr_weight_add(size_t a, size_t b); /* saturating */
size_t tr_op_weight(const tr_op *op);     /* what copying the operation out walks */

/* Frees the operation and everything it holds (accounting included). NULL is fine. */
void tr_op_free(tr_op *op);
/* phn_payload_free_fn for phn_optable_free. */
void tr_op_free_payload(void *payload, void *ctx);
/* Gives the operation an environment if it has none: 1, or 0 when out of memory. */
int tr_op_ensure_env(tracker *t, tr_op *op);
/* Replaces the operation's environment by a fresh one holding a copy of `meta` and
 * the chunk results kept so far, so that replacing meta never grows memory. 1 or 0 (out of
 * memory; the operation is unchanged). */
int tr_op_replace_meta(tracker *t, tr_op *op, ERL_NIF_TERM meta, size_t meta_weight);

/* The terms handed back, built in env. tr_collected: [{Node, Results}] for the nodes that
 * gave at least one chunk, in declaration order, a node's chunks concatenated in arrival
 * order (a single chunk is given as it came; a chunk that is not a proper list joins the
 * concatenation as one element). 0 when out of memory. */
int tr_collected(ErlNifEnv *env, const tr_op *op, ERL_NIF_TERM *out);
ERL_NIF_TERM tr_missing(ErlNifEnv *env, const tr_op *op); /* nodes still owing, in order */
ERL_NIF_TERM tr_meta(ErlNifEnv *env, const tr_op *op);    /* meta, or undefined */
/* #{ref, meta, collected, missing, deadline}. 0 when out of memory. */
int tr_info(ErlNifEnv *env, const tr_op *op, ERL_NIF_TERM ref, ERL_NIF_TERM *out);

#endif
