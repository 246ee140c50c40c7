/* Distribution connections after their handshake, and what the C-node knows about each
 * peer node (its own view: last time heard, lost or not). Both are indexed by the node's
 * atom id, so routing a message to a node is an array lookup. The event loop owns every
 * descriptor here: non-blocking, framed by hand, output queued and bounded. */
#ifndef PHN_CN_CONN_H
#define PHN_CN_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "phn_cn_buf.h"

typedef struct phn_cn_conn {
    int fd;
    uint32_t node; /* atom id of the peer */
    phn_cn_buf in;
    phn_cn_buf out;
    int closing;           /* set on error or overflow; closed at the end of the loop turn */
    int64_t partial_since; /* monotonic ms: the packet at the head of `in` started; 0 none */
    size_t reserved;       /* of --max-in-total, for the incomplete packet at the head */
} phn_cn_conn;

/* Per peer node. wanted > 0 while some watching hub lists the node. */
typedef struct phn_cn_peer {
    phn_cn_conn *conn;
    int64_t last_rx;      /* monotonic ms of the last bytes received */
    int64_t last_ping;    /* monotonic ms of the last liveness ping sent */
    int64_t wanted_since; /* when it started being watched (grace before "lost") */
    int64_t next_connect; /* earliest time for the next outgoing attempt */
    uint32_t wanted;      /* watching hubs that list the node */
    int lost;             /* own view: lost (reported) */
    int connecting;       /* an outgoing attempt is in flight */
} phn_cn_peer;

typedef struct phn_cn_conns {
    phn_cn_conn **items; /* open connections, unordered */
    size_t len;
    size_t cap;
    phn_cn_peer *peers; /* peers[node id], grown on demand */
    size_t npeers;
} phn_cn_conns;

void phn_cn_conns_free(phn_cn_conns *t);

/* The peer record of a node id (created zeroed). NULL on ENOMEM. */
phn_cn_peer *phn_cn_peer_get(phn_cn_conns *t, uint32_t node);

/* The peer record if it exists, else NULL (never allocates). */
phn_cn_peer *phn_cn_peer_find(const phn_cn_conns *t, uint32_t node);

/* Register an established, already non-blocking descriptor. NULL on ENOMEM. */
phn_cn_conn *phn_cn_conn_add(phn_cn_conns *t, int fd, uint32_t node, int64_t now);

/* Unlink and free a connection (the caller closes the descriptor through ei). */
void phn_cn_conn_remove(phn_cn_conns *t, phn_cn_conn *c);

/* Queue bytes; marks the connection closing (and returns -1) when max_out is passed. */
int phn_cn_conn_queue(phn_cn_conn *c, const void *p, size_t n, size_t max_out);

/* Write queued output without blocking; marks closing on a write error. */
void phn_cn_conn_flush(phn_cn_conn *c);

#endif
