/* The NIF function table, one X(name, arity, c_function, flags) line per exported NIF.
 * Each concern's functions are declared in its own list; phn_nif.c builds the table. */
#ifndef PHN_NIF_FUNCS_H
#define PHN_NIF_FUNCS_H

#include <erl_nif.h>

#define PHN_FUNCS_REQUEST_MANAGER(X)                                                               \
    X(record_response, 4, phn_nif_record_response, 0)                                              \
    X(all_responded, 1, phn_nif_all_responded, 0)                                                  \
    X(process_response, 3, phn_nif_process_response, 0)                                            \
    X(split_list, 3, phn_nif_split_list, 0)                                                        \
    X(split_map, 4, phn_nif_split_map, 0)                                                          \
    X(populate_forward, 3, phn_nif_populate_forward, 0)                                            \
    X(cleanup_expired, 2, phn_nif_cleanup_expired, 0)

#define PHN_FUNCS_PARTITION(X)                                                                     \
    X(partition_eval, 6, phn_nif_partition_eval, 0)                                                \
    X(partition_sync_log, 2, phn_nif_partition_sync_log, 0)

#define PHN_FUNCS_TRACKER(X)                                                                       \
    X(tracker_new, 2, phn_nif_tracker_new, 0)                                                      \
    X(tracker_track, 5, phn_nif_tracker_track, 0)                                                  \
    X(tracker_record, 5, phn_nif_tracker_record, 0)                                                \
    X(tracker_count, 3, phn_nif_tracker_count, 0)                                                  \
    X(tracker_get, 2, phn_nif_tracker_get, 0)                                                      \
    X(tracker_peek, 2, phn_nif_tracker_peek, 0)                                                    \
    X(tracker_take, 2, phn_nif_tracker_take, 0)                                                    \
    X(tracker_cancel, 2, phn_nif_tracker_cancel, 0)                                                \
    X(tracker_update, 4, phn_nif_tracker_update, 0)                                                \
    X(tracker_cleanup, 4, phn_nif_tracker_cleanup, 0)                                              \
    X(tracker_size, 1, phn_nif_tracker_size, 0)                                                    \
    X(tracker_stats, 1, phn_nif_tracker_stats, 0)                                                  \
    X(tracker_global_stats, 0, phn_nif_tracker_global_stats, 0)                                    \
    X(tracker_close, 1, phn_nif_tracker_close, 0)

#define PHN_FUNCS(X)                                                                               \
    PHN_FUNCS_REQUEST_MANAGER(X)                                                                   \
    PHN_FUNCS_PARTITION(X)                                                                         \
    PHN_FUNCS_TRACKER(X)

#define PHN_FUNC_DECL(name, arity, cfun, flags)                                                    \
    ERL_NIF_TERM cfun(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
PHN_FUNCS(PHN_FUNC_DECL)
#undef PHN_FUNC_DECL

#endif
