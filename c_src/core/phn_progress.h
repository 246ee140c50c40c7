/* The chunk-aware completion state of one operation: which nodes must answer, how many
 * response chunks each owes (a node sent more children than one batch answers once per
 * batch), and how many arrived. Recording is a hash lookup plus counter updates; the
 * operation is complete when the count of nodes still owing chunks drops to zero, so no
 * scan is ever needed. Nodes are opaque 64-bit keys as in phn_nodeset. */
#ifndef PHN_PROGRESS_H
#define PHN_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

#include "phn_nodeset.h"
#include "phn_status.h"

typedef struct phn_progress phn_progress;

/* expected_nodes is a sizing hint (0 is fine). eq/ctx are kept for every lookup. NULL when
 * out of memory. */
phn_progress *phn_progress_new(size_t expected_nodes, phn_key_eq_fn eq, void *ctx);

/* NULL is accepted. */
void phn_progress_free(phn_progress *p);

/* Declare a node that owes `chunks` (>= 1) responses. The same node twice => chunks are
 * added (a completed node owes again). PHN_OK, PHN_ENOMEM (nothing changed) or PHN_EINVAL
 * (chunks == 0, or the node's total would exceed UINT32_MAX; nothing changed). */
int phn_progress_expect(phn_progress *p, uint64_t node, uint64_t hash, uint32_t chunks);

typedef enum {
    PHN_REC_PENDING,    /* counted; the operation still waits for chunks */
    PHN_REC_COMPLETE,   /* counted; this chunk completed the whole operation */
    PHN_REC_UNEXPECTED, /* node was never declared; nothing changed */
    PHN_REC_EXTRA,      /* node already gave all its chunks; nothing changed */
} phn_rec_result;

/* Record one response chunk from node. On PENDING/COMPLETE, *node_index (if not NULL) is
 * the node's declaration index, so callers can attach results per node. */
phn_rec_result phn_progress_record(phn_progress *p, uint64_t node, uint64_t hash,
                                   size_t *node_index);

size_t phn_progress_nodes(const phn_progress *p);         /* distinct declared nodes */
size_t phn_progress_missing_nodes(const phn_progress *p); /* nodes still owing >= 1 chunk */

/* Declared nodes in declaration order, i < phn_progress_nodes(p); out of range gives 0. */
uint64_t phn_progress_node_at(const phn_progress *p, size_t i);
uint32_t phn_progress_expected_at(const phn_progress *p, size_t i);
uint32_t phn_progress_received_at(const phn_progress *p, size_t i);

/* Count the node index's lookup probes into c (NULL: stop counting). */
void phn_progress_set_counters(phn_progress *p, phn_counters *c);

/* Heap bytes held, the phn_progress struct included. */
size_t phn_progress_bytes(const phn_progress *p);

#endif
