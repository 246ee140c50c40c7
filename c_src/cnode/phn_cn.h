/* The C-node's process-wide state, passed to every module. One instance, owned by main();
 * everything in it is touched by the event-loop thread only, except `ec` (read-only after
 * init, shared with the handshake threads) and the thread hand-off in `thr`. */
#ifndef PHN_CN_H
#define PHN_CN_H

#include <signal.h>
#include <stdint.h>

#include "phn_cn_ei.h"

#include "phn_cn_atoms.h"
#include "phn_cn_config.h"
#include "phn_cn_conn.h"
#include "phn_cn_ctl.h"
#include "phn_cn_stats.h"
#include "phn_cn_threads.h"

typedef struct phn_cn_collect phn_cn_collect;
typedef struct phn_cn_hubs phn_cn_hubs;

typedef struct phn_cn {
    phn_cn_config cfg;
    ei_cnode ec;
    phn_cn_stats stats;
    phn_cn_atoms *atoms;
    phn_cn_ctl ctl;
    phn_cn_conns conns;
    phn_cn_collect *collect;
    phn_cn_hubs *hubs;
    phn_cn_threads thr;
    int listen_fd;
    int epmd_fd;
    int port;
    uint32_t self_id;   /* atom id of our own node name */
    int64_t now_ms;     /* monotonic, refreshed once per loop turn */
    size_t in_reserved; /* sum of the connections' `reserved` (bounded by --max-in-total) */
} phn_cn;

/* The tables (atoms, collector, hubs) and our own node's atom, for cn->cfg (set first);
 * cn->ctl must be initialised (phn_cn_ctl_init) by the caller. 0 or -1; either way
 * phn_cn_state_free undoes it (and frees the connections and the control buffers). */
int phn_cn_state_init(phn_cn *cn);
void phn_cn_state_free(phn_cn *cn);

/* Monotonic milliseconds and Unix seconds. */
int64_t phn_cn_monotonic_ms(void);
int64_t phn_cn_unix_s(void);

/* Diagnostics on stderr when --verbose (never anything secret). */
void phn_cn_log(const phn_cn *cn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
