/* The four partition-tolerance strategies of ProcessHub (REFERENCE.md §5.3) as pure
 * functions: a strategy, the cluster size (hub nodes including the local node) and the
 * strategy's stored state (DynamicQuorum's down log, MajorityQuorum's max_seen) in, a
 * verdict and the updated state out. No hub, no storage, no clock: the caller passes `now`
 * (Unix seconds) and keeps the state. Nodes are opaque 64-bit keys compared by ==; the NIF
 * uses atom terms, the C-node interned atom ids.
 *
 * Every rule reproduces the original's arithmetic: DynamicQuorum computes QuorumLeft as a
 * double exactly as Elixir does (100 - Down / (Connected + Down) * 100), MajorityQuorum
 * requires max_seen div 2 + 1 nodes. */
#ifndef PHN_PARTITION_H
#define PHN_PARTITION_H

#include <stddef.h>
#include <stdint.h>

#include "phn_status.h"

typedef enum phn_pt_kind {
    PHN_PT_DIVERGENCE = 0,
    PHN_PT_STATIC = 1,
    PHN_PT_DYNAMIC = 2,
    PHN_PT_MAJORITY = 3,
} phn_pt_kind;

typedef struct phn_pt_strategy {
    phn_pt_kind kind;
    double quorum_size;           /* static: node count; dynamic: percent */
    int startup_confirm;          /* static, default 0 */
    double threshold_time;        /* dynamic, seconds, default 30 */
    int64_t initial_cluster_size; /* majority, >= 1, default 1 */
    int track_max_size;           /* majority, default 1 */
} phn_pt_strategy;

/* The struct defaults of each kind (quorum_size, which has none, is 0). */
void phn_pt_defaults(phn_pt_strategy *s, phn_pt_kind kind);

typedef struct phn_pt_down {
    uint64_t node;
    int64_t time; /* Unix seconds of the down event */
} phn_pt_down;

/* A strategy's stored state. "Absent" (has_log / has_max_seen == 0) is distinct from an
 * empty log, as a missing storage key is in the original. The log array is owned by the
 * state (phn_alloc) and newest-first. */
typedef struct phn_pt_state {
    int has_log;
    phn_pt_down *log;
    size_t log_len;
    size_t log_cap;
    int has_max_seen;
    int64_t max_seen;
} phn_pt_state;

/* Frees the log; the state is left absent/empty and reusable. */
void phn_pt_state_free(phn_pt_state *st);

/* Replaces the log with a copy of rows[0..len) (present). PHN_OK or PHN_ENOMEM (state
 * unchanged). */
int phn_pt_state_set_log(phn_pt_state *st, const phn_pt_down *rows, size_t len);

/* init/2. Returns 1 when the hub must enter partition mode at startup (StaticQuorum with
 * startup_confirm and no quorum), else 0. MajorityQuorum stores max_seen =
 * max(initial_cluster_size, cluster_size). */
int phn_pt_init(const phn_pt_strategy *s, size_t cluster_size, phn_pt_state *st);

/* toggle_lock?/3 for a node that went down, cluster_size counted after its removal.
 * 1 lock, 0 no lock, PHN_ENOMEM (state unchanged) or PHN_EINVAL (DynamicQuorum with
 * cluster_size and log both empty: the original divides by zero). */
int phn_pt_toggle_lock(const phn_pt_strategy *s, size_t cluster_size, uint64_t down_node,
                       int64_t now, phn_pt_state *st);

/* toggle_unlock?/3 for a node that came up, cluster_size counted after its addition.
 * 1 unlock, 0 no unlock, PHN_EINVAL as above. Never allocates. */
int phn_pt_toggle_unlock(const phn_pt_strategy *s, size_t cluster_size, uint64_t up_node,
                         int64_t now, phn_pt_state *st);

/* The strategy's quorum test on the current state, without side effects (what
 * toggle_unlock? would answer without its updates): 1 quorum present, 0 absent,
 * PHN_EINVAL as above. Divergence always has quorum. */
int phn_pt_has_quorum(const phn_pt_strategy *s, size_t cluster_size, const phn_pt_state *st);

/* Building blocks, exposed for the tests and the C-node. */

/* StaticQuorum: quorum_size =< cluster_size. */
int phn_pt_static_present(const phn_pt_strategy *s, size_t cluster_size);

/* DynamicQuorum: 1 when QuorumLeft < quorum_size, 0 otherwise, PHN_EINVAL when
 * connected + down == 0. */
int phn_pt_dynamic_failed(const phn_pt_strategy *s, size_t connected, size_t down);

/* Keep the rows with time > now - threshold_time and node != node (order kept); returns
 * the new length. */
size_t phn_pt_log_prune(phn_pt_down *rows, size_t len, uint64_t node, int64_t now,
                        double threshold_time);

/* sync_quorum_log: 1 when the remote log replaces the local one (strictly longer; an
 * absent local log counts as empty), else 0. */
int phn_pt_sync_takes_remote(const phn_pt_state *local, size_t remote_len);

/* MajorityQuorum: cluster_size >= max_seen div 2 + 1. */
int phn_pt_majority_has(size_t cluster_size, int64_t max_seen);

#endif
