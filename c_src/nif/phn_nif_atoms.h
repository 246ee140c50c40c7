/* Atoms are made once, in load/upgrade, never per call. Each concern keeps its own list;
 * this header joins them. */
#ifndef PHN_NIF_ATOMS_H
#define PHN_NIF_ATOMS_H

#include <erl_nif.h>

/* X(field, "text") */
#define PHN_ATOMS_COMMON(X)                                                                        \
    X(ok, "ok")                                                                                    \
    X(error, "error")                                                                              \
    X(true_, "true")                                                                               \
    X(false_, "false")                                                                             \
    X(nil, "nil")                                                                                  \
    X(enomem, "enomem")                                                                            \
    X(struct_, "__struct__")

#define PHN_ATOMS_REQUEST_MANAGER(X)                                                               \
    X(complete, "complete")                                                                        \
    X(pending, "pending")                                                                          \
    X(completed, "completed")                                                                      \
    X(status, "status")                                                                            \
    X(node, "node")                                                                                \
    X(results, "results")                                                                          \
    X(sub_requests, "sub_requests")                                                                \
    X(completed_nodes, "completed_nodes")                                                          \
    X(nodes_data, "nodes_data")                                                                    \
    X(expires_at, "expires_at")                                                                    \
    X(map, "map")                                                                                  \
    X(mapset, "Elixir.MapSet")

#define PHN_ATOMS_PARTITION(X)                                                                     \
    X(init, "init")                                                                                \
    X(lock, "lock")                                                                                \
    X(unlock, "unlock")                                                                            \
    X(check, "check")                                                                              \
    X(pt_divergence, "Elixir.ProcessHub.Strategy.PartitionTolerance.Divergence")                   \
    X(pt_static, "Elixir.ProcessHub.Strategy.PartitionTolerance.StaticQuorum")                     \
    X(pt_dynamic, "Elixir.ProcessHub.Strategy.PartitionTolerance.DynamicQuorum")                   \
    X(pt_majority, "Elixir.ProcessHub.Strategy.PartitionTolerance.MajorityQuorum")                 \
    X(quorum_size, "quorum_size")                                                                  \
    X(startup_confirm, "startup_confirm")                                                          \
    X(threshold_time, "threshold_time")                                                            \
    X(initial_cluster_size, "initial_cluster_size")                                                \
    X(track_max_size, "track_max_size")                                                            \
    X(dynamic_quorum_down_nodes, "dynamic_quorum_down_nodes")                                      \
    X(majority_quorum_max_seen, "majority_quorum_max_seen")

#define PHN_ATOMS_TRACKER(X)                                                                       \
    X(tr_undefined, "undefined")                                                                   \
    X(tr_infinity, "infinity")                                                                     \
    X(tr_none, "none")                                                                             \
    X(tr_keep, "keep")                                                                             \
    X(tr_ref, "ref")                                                                               \
    X(tr_meta, "meta")                                                                             \
    X(tr_collected, "collected")                                                                   \
    X(tr_missing, "missing")                                                                       \
    X(tr_deadline, "deadline")                                                                     \
    X(tr_already_tracked, "already_tracked")                                                       \
    X(tr_limit, "limit")                                                                           \
    X(tr_closed, "closed")                                                                         \
    X(tr_not_found, "not_found")                                                                   \
    X(tr_ignored, "ignored")                                                                       \
    X(tr_unknown_operation, "unknown_operation")                                                   \
    X(tr_unexpected_node, "unexpected_node")                                                       \
    X(tr_extra_chunk, "extra_chunk")                                                               \
    X(tr_done, "done")                                                                             \
    X(tr_more, "more")                                                                             \
    X(tr_ops, "ops")                                                                               \
    X(tr_bytes, "bytes")                                                                           \
    X(tr_kept_terms, "kept_terms")                                                                 \
    X(tr_trackers, "trackers")                                                                     \
    X(tr_reaping_ops, "reaping_ops")                                                               \
    X(tr_owner, "owner")                                                                           \
    X(tr_max_ops, "max_ops")                                                                       \
    X(tr_max_nodes_per_op, "max_nodes_per_op")                                                     \
    X(tr_debug, "debug")                                                                           \
    X(tr_probes, "probes")                                                                         \
    X(tr_heap_moves, "heap_moves")                                                                 \
    X(tr_records, "records")                                                                       \
    X(tr_completes, "completes")                                                                   \
    X(tr_key_units, "key_units")

#define PHN_ATOMS(X)                                                                               \
    PHN_ATOMS_COMMON(X)                                                                            \
    PHN_ATOMS_REQUEST_MANAGER(X)                                                                   \
    PHN_ATOMS_PARTITION(X)                                                                         \
    PHN_ATOMS_TRACKER(X)

typedef struct phn_atoms_t {
#define PHN_ATOM_FIELD(field, text) ERL_NIF_TERM field;
    PHN_ATOMS(PHN_ATOM_FIELD)
#undef PHN_ATOM_FIELD
} phn_atoms_t;

extern phn_atoms_t phn_atoms;

void phn_atoms_init(ErlNifEnv *env);

#endif
