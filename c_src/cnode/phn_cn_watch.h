/* The C-node's own view of the nodes that watching hubs list (only when --silence-ms is
 * set). It dials them (through the connector thread), pings each connected one every
 * silence/3 with net_kernel's {is_auth, Node} call so that a healthy node always answers,
 * and reports a node lost when its connection closes, when it stays silent for
 * silence_ms, or when it cannot be reached within silence_ms of being listed. A node is
 * found again when a connection to it is established. Hubs re-evaluate on each change. */
#ifndef PHN_CN_WATCH_H
#define PHN_CN_WATCH_H

#include "phn_cn.h"

void phn_cn_watch_tick(phn_cn *cn);

/* A connection to node was established (after any old one was replaced). */
void phn_cn_watch_up(phn_cn *cn, uint32_t node);

/* The connection to node was closed. */
void phn_cn_watch_down(phn_cn *cn, uint32_t node);

/* An outgoing attempt to node failed. */
void phn_cn_watch_connect_failed(phn_cn *cn, uint32_t node);

#endif
