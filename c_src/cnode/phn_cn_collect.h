/* The response collector. The coordinator (through phn_cnode) registers an operation:
 * its TxRef, hub, the nodes that must answer and how many chunks each owes, a deadline.
 * Remote nodes' {operation_response, TxRef, Node, Results} casts are recorded with the
 * core's chunk-aware progress (phn_progress) in an operation table with an expiry heap
 * (phn_optable); each node's results are kept as encoded list elements, concatenated in
 * arrival order. When the last chunk arrives the owner gets one
 *   {op_result, TxRef, {complete, [{Node, Results}]}}
 * and when the deadline passes first
 *   {op_result, TxRef, {expired, [{Node, Results}], MissingNodes}}
 * (nodes in declaration order; only nodes that answered in the expired list).
 * Responses that arrive before their registration are held, bounded in count, bytes and
 * time, and applied in arrival order when it comes. */
#ifndef PHN_CN_COLLECT_H
#define PHN_CN_COLLECT_H

#include <stddef.h>
#include <stdint.h>

#include "phn_cn.h"
#include "phn_cn_term.h"

typedef struct phn_cn_expect {
    uint32_t node; /* atom id */
    uint32_t chunks;
} phn_cn_expect;

phn_cn_collect *phn_cn_collect_new(phn_cn *cn);
void phn_cn_collect_free(phn_cn_collect *c);

/* key/keylen: phn_cn_ref_key of the TxRef; ref_ext: its encoding (no version byte), echoed
 * in the result. hub 0 accepts responses sent to any name. PHN_OK, PHN_EEXIST, PHN_ELIMIT
 * (max_ops), PHN_EINVAL (no nodes, zero chunks) or PHN_ENOMEM. Held early responses are
 * applied at once, so the operation may complete inside this call. */
int phn_cn_collect_register(phn_cn_collect *c, const uint8_t *key, size_t keylen,
                            const char *ref_ext, size_t ref_len, uint32_t hub,
                            const phn_cn_expect *expect, size_t n, int64_t deadline);

/* 1 if the operation was registered (and is now dropped, silently), 0 if unknown. */
int phn_cn_collect_cancel(phn_cn_collect *c, const uint8_t *key, size_t keylen);

/* One response chunk: to_name is the registered name it was sent to, node the responder
 * as it names itself, span the Results list elements inside buf. */
void phn_cn_collect_response(phn_cn_collect *c, const uint8_t *key, size_t keylen,
                             const char *to_name, const char *node, const char *buf,
                             const phn_cn_span *span);

/* Expire operations and held responses whose time has passed. */
void phn_cn_collect_tick(phn_cn_collect *c, int64_t now);

typedef struct phn_cn_collect_usage {
    size_t ops;
    size_t result_bytes;
    size_t early;
    size_t early_bytes;
    size_t table_bytes;
} phn_cn_collect_usage;

void phn_cn_collect_usage_get(const phn_cn_collect *c, phn_cn_collect_usage *u);

#endif
