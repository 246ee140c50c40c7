/* The partition service. For each hub: its strategy, the node list phn_cnode pushes
 * (following net_kernel:monitor_nodes/1), optionally narrowed by the C-node's own view
 * (nodes it lost contact with, see phn_cn_watch), the strategy state (down log, max_seen)
 * and the verdict. Every change of the effective node list is replayed as the coordinator
 * does it (REFERENCE.md §5.2): removed nodes first, toggle_lock per node with Enum.any?
 * short-circuit -> partitioned; then added nodes, toggle_unlock -> not partitioned.
 * Verdict changes are pushed to subscribers as {phn_cnode_partition, HubId, Partitioned}
 * and reported to the owner (with the state, so a restarted C-node can be re-seeded). */
#ifndef PHN_CN_HUB_H
#define PHN_CN_HUB_H

#include "phn_cn.h"

phn_cn_hubs *phn_cn_hubs_new(phn_cn *cn);
void phn_cn_hubs_free(phn_cn_hubs *h);

/* A control-channel command about hubs. `cmd` is its name, buf and *idx the arguments after
 * the sequence term (validated packet), `args` how many there are. Returns 1 when the
 * command is a hub command (reply encoded into x, without version), 0 otherwise. */
int phn_cn_hubs_ctl(phn_cn *cn, const char *cmd, const char *buf, int *idx, int args, ei_x_buff *x);

/* A gen_server call to {HubName, CNode}: the reply term into x (without version). */
void phn_cn_hubs_call(phn_cn *cn, const char *hub_name, const char *buf, int idx, ei_x_buff *x);

/* Re-evaluate watching hubs after the own view of some node changed. */
void phn_cn_hubs_view_changed(phn_cn *cn, uint32_t node, int lost);

/* Recount, per peer, how many watching hubs list it (phn_cn_peer.wanted). */
void phn_cn_hubs_recount_wanted(phn_cn *cn);

size_t phn_cn_hubs_count(const phn_cn_hubs *h);

#endif
