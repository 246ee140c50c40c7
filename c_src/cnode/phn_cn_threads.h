/* The handshake threads. ei's handshakes block, so they run off the event loop: a slow or
 * hostile peer in a handshake never delays the established connections. `--handshakes`
 * acceptor threads (default 16) loop on ei_accept_tmo over the (non-blocking) listen
 * socket, so stalled handshakes hold up only their own threads; each handshake, accepted
 * or dialled, is bounded as a whole by `--handshake-ms` (phn_cn_sock_budget), not per
 * step, so a peer trickling bytes loses its slot when that time is up. The connector
 * dials the nodes the loop asks for (its own view of watched hubs). All hand finished
 * descriptors to the loop through a pipe the loop polls. */
#ifndef PHN_CN_THREADS_H
#define PHN_CN_THREADS_H

#include <pthread.h>
#include <stdatomic.h>

#include "phn_cn_ei.h"

/* Most acceptor threads (--handshakes): how many inbound handshakes run at once. */
#define PHN_CN_ACCEPTORS_MAX 256

typedef struct phn_cn_handoff {
    int fd;       /* -1: an outgoing attempt failed */
    int outbound; /* 1: we dialled it */
    char node[MAXNODELEN + 1];
} phn_cn_handoff;

typedef struct phn_cn_threads {
    ei_cnode *ec;
    int listen_fd;
    unsigned handshake_ms;
    pthread_t acceptor[PHN_CN_ACCEPTORS_MAX];
    int want_acceptors;
    pthread_t connector;
    int acceptors; /* started */
    int have_connector;
    int handoff[2];  /* [0] polled by the loop, [1] written by the threads */
    int requests[2]; /* [0] read by the connector, [1] written by the loop */
    atomic_int stop;
    atomic_ulong handshake_failures;
} phn_cn_threads;

/* Pipes first, then `acceptors` (1..PHN_CN_ACCEPTORS_MAX) acceptor threads and the
 * connector. 0 or -1 (everything created so far is undone). */
int phn_cn_threads_start(phn_cn_threads *t, ei_cnode *ec, int listen_fd, unsigned handshake_ms,
                         int acceptors);

/* Stop and join the threads; close the pipes and any descriptor still in flight. */
void phn_cn_threads_stop(phn_cn_threads *t);

/* Ask the connector to dial node. 0, or -1 when its queue is full (try again later). */
int phn_cn_threads_connect(phn_cn_threads *t, const char *node);

/* Next finished handshake, non-blocking: 1 (filled in) or 0. */
int phn_cn_threads_next(phn_cn_threads *t, phn_cn_handoff *out);

#endif
