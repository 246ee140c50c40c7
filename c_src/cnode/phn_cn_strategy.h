/* Strategy structs and strategy state in external format, for the partition service:
 * the same shapes and the same truthiness rules as the phn_partition NIF (an Elixir struct
 * map; a state map with dynamic_quorum_down_nodes / majority_quorum_max_seen). */
#ifndef PHN_CN_STRATEGY_H
#define PHN_CN_STRATEGY_H

#include "phn_cn_atoms.h"
#include "phn_cn_ei.h"
#include "phn_partition.h"

/* Decode a strategy struct map at *idx (validated buffer). 0 or -1. */
int phn_cn_strategy_decode(const char *buf, int *idx, phn_pt_strategy *s);

/* The struct module atom text of a kind. */
const char *phn_cn_strategy_module(phn_pt_kind kind);

/* Decode a state map; down-log nodes are interned. 0, -1 (bad shape) or -2 (no memory or
 * atom table full). The caller frees st with phn_pt_state_free. */
int phn_cn_state_decode(const char *buf, int *idx, phn_cn_atoms *atoms, phn_pt_state *st);

/* Decode a bare down log [{Node, Secs}] into st (present). Same returns. */
int phn_cn_log_decode(const char *buf, int *idx, phn_cn_atoms *atoms, phn_pt_state *st);

/* Encode a state map (only the keys that are present). */
void phn_cn_state_encode(ei_x_buff *x, const phn_cn_atoms *atoms, const phn_pt_state *st);

#endif
