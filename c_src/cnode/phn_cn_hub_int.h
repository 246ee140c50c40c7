/* Internals shared by the partition service's files: the hub record, its evaluation
 * (phn_cn_hub.c) and its command decoding (phn_cn_hub_cmd.c). */
#ifndef PHN_CN_HUB_INT_H
#define PHN_CN_HUB_INT_H

#include "phn_cn_hub.h"
#include "phn_partition.h"

typedef struct hub_sub {
    char *pid_ext; /* the subscriber pid's encoding, no version byte */
    size_t len;
} hub_sub;

typedef struct cn_hub {
    uint32_t id;
    phn_pt_strategy strat;
    phn_pt_state st;
    uint32_t *nodes; /* as pushed, duplicates dropped */
    size_t nnodes;
    uint32_t *eff; /* effective list at the last evaluation */
    size_t neff;
    int watch;
    int partitioned;
    hub_sub *subs;
    size_t nsubs;
} cn_hub;

struct phn_cn_hubs {
    cn_hub **items;
    size_t len;
    size_t cap;
};

cn_hub *phn_cn_hub_find(const phn_cn_hubs *h, uint32_t id);
void phn_cn_hub_free(cn_hub *h);

/* The effective node list (pushed minus lost in the own view); NULL on ENOMEM. */
uint32_t *phn_cn_hub_effective(phn_cn *cn, const cn_hub *h, size_t *n);

/* Replay the change from the last effective list to the current one. */
void phn_cn_hub_reevaluate(phn_cn *cn, cn_hub *h);

void phn_cn_hub_push_verdict(phn_cn *cn, cn_hub *h);
void phn_cn_hub_report_state(phn_cn *cn, const cn_hub *h);
void phn_cn_hub_status(phn_cn *cn, const cn_hub *h, ei_x_buff *x);

/* Subscribe (on) or unsubscribe the pid at *idx; reply into x. */
void phn_cn_hub_subscription(phn_cn *cn, cn_hub *h, const char *buf, int *idx, int on,
                             ei_x_buff *x);

/* Decode a node list, interned and de-duplicated. 0, -1 (bad) or -2 (limit / memory). */
int phn_cn_hub_decode_nodes(phn_cn *cn, const char *buf, int *idx, uint32_t **out, size_t *n);

void phn_cn_reply_error(ei_x_buff *x, const char *reason);
void phn_cn_reply_ok_bool(ei_x_buff *x, int b);

#endif
