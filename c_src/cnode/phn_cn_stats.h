/* Counters of everything the C-node drops, refuses or completes, reported by the stats
 * command. X(field) lists keep the struct and its encoding in step. */
#ifndef PHN_CN_STATS_H
#define PHN_CN_STATS_H

#include <stdint.h>

#define PHN_CN_STATS(X)                                                                            \
    X(msgs_in)                                                                                     \
    X(msgs_unknown)                                                                                \
    X(msgs_malformed)                                                                              \
    X(msgs_undecodable)                                                                            \
    X(msgs_oversized)                                                                              \
    X(frames_timed_out)                                                                            \
    X(input_waits)                                                                                 \
    X(msgs_to_self)                                                                                \
    X(ctl_ignored)                                                                                 \
    X(responses)                                                                                   \
    X(responses_unexpected_node)                                                                   \
    X(responses_extra)                                                                             \
    X(responses_wrong_hub)                                                                         \
    X(responses_spoofed)                                                                           \
    X(responses_refused_bytes)                                                                     \
    X(early_held)                                                                                  \
    X(early_applied)                                                                               \
    X(early_expired)                                                                               \
    X(early_refused)                                                                               \
    X(ops_registered)                                                                              \
    X(ops_completed)                                                                               \
    X(ops_expired)                                                                                 \
    X(ops_cancelled)                                                                               \
    X(ops_refused)                                                                                 \
    X(calls)                                                                                       \
    X(calls_badarg)                                                                                \
    X(calls_unknown_hub)                                                                           \
    X(conns_accepted)                                                                              \
    X(conns_connected)                                                                             \
    X(conns_closed)                                                                                \
    X(conns_refused)                                                                               \
    X(conns_slow_closed)                                                                           \
    X(connect_failures)                                                                            \
    X(nodes_lost)                                                                                  \
    X(nodes_found)                                                                                 \
    X(pings_sent)                                                                                  \
    X(deliver_via_port)                                                                            \
    X(encode_failures)                                                                             \
    X(owner_backlogged)                                                                            \
    X(verdict_changes)

typedef struct phn_cn_stats {
#define PHN_CN_STAT_FIELD(name) uint64_t name;
    PHN_CN_STATS(PHN_CN_STAT_FIELD)
#undef PHN_CN_STAT_FIELD
} phn_cn_stats;

#endif
