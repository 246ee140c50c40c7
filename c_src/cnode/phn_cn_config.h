/* The C-node's configuration: identity and every bound on peer-driven memory. All of it
 * comes from argv (phn_cn_args.c); the cookie never does (phn_cn_secret.c). */
#ifndef PHN_CN_CONFIG_H
#define PHN_CN_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "phn_cn_ei.h"

typedef struct phn_cn_config {
    char node[MAXNODELEN + 1];        /* alive@host */
    char alive[EI_MAXALIVELEN + 1];   /* before the @ */
    char host[EI_MAXHOSTNAMELEN + 1]; /* after the @ */
    char bind_addr[64];               /* IPv4 to listen on; "" = 127.0.0.1 */
    char owner_node[MAXNODELEN + 1];  /* the owner's node (phn_cn_check); "" = unknown */
    int port;                         /* 0 = any free port */
    unsigned handshake_ms;            /* a whole handshake (accept or connect) */
    size_t handshakes;                /* acceptor threads: inbound handshakes at once */
    size_t max_msg_bytes;             /* one distribution message */
    size_t max_in_total;              /* incomplete packets buffered, all connections */
    unsigned frame_ms;                /* a packet must complete this long after it began */
    size_t max_ctl_bytes;             /* one control-channel message */
    size_t max_ctl_out;               /* output queued to the owner before peers wait */
    size_t max_out_bytes;             /* queued output per connection */
    size_t max_conns;                 /* open distribution connections */
    size_t max_ops;                   /* registered operations */
    size_t max_op_bytes;              /* results held by one operation */
    size_t max_total_bytes;           /* results held by all operations */
    size_t early_max;                 /* responses held before their registration */
    size_t early_bytes;               /* bytes of those */
    unsigned early_hold_ms;           /* how long one is held */
    size_t max_hubs;
    size_t max_hub_nodes;   /* nodes per hub */
    size_t max_subscribers; /* per hub */
    size_t max_atoms;       /* interned node and hub names */
    unsigned silence_ms;    /* own view: a node silent this long is lost; 0 off */
    unsigned reconnect_ms;  /* own view: retry interval for watched nodes */
    int verbose;
} phn_cn_config;

void phn_cn_config_defaults(phn_cn_config *c);

#endif
