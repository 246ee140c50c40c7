#include "phn_cn_collect.h"

#include <string.h>

#include "phn_alloc.h"
#include "phn_optable.h"
#include "phn_progress.h"
#include "phn_cn_send.h"
#include "phn_status.h"

typedef struct node_res {
    phn_cn_buf elems; /* encoded list elements, chunks concatenated in arrival order */
    uint32_t count;
} node_res;

typedef struct cn_op {
    uint32_t hub;
    phn_progress *prog;
    node_res *res; /* by declaration index */
    size_t nres;
    size_t bytes;
    char *ref_ext;
    size_t ref_len;
} cn_op;

typedef struct early_item {
    struct early_item *next;
    char *to_name;
    char *node;
    phn_cn_buf elems;
    uint32_t count;
    size_t bytes; /* what it counts against early_bytes */
} early_item;

typedef struct early_list {
    early_item *head;
    early_item *tail;
} early_list;

struct phn_cn_collect {
    phn_cn *cn;
    phn_optable *ops;
    phn_optable *early;
    size_t result_bytes;
    size_t early_count;
    size_t early_bytes;
};

static void op_free(cn_op *op)
{
    if (op == NULL)
        return;
    for (size_t i = 0; i < op->nres; i++)
        phn_cn_buf_free(&op->res[i].elems);
    phn_free(op->res);
    phn_progress_free(op->prog);
    phn_free(op->ref_ext);
    phn_free(op);
}

static void early_free_items(phn_cn_collect *c, early_list *l)
{
    early_item *it = l->head;
    while (it != NULL) {
        early_item *next = it->next;
        c->early_count--;
        c->early_bytes -= it->bytes;
        phn_free(it->to_name);
        phn_free(it->node);
        phn_cn_buf_free(&it->elems);
        phn_free(it);
        it = next;
    }
    phn_free(l);
}

static void free_op_payload(void *payload, void *ctx)
{
    phn_cn_collect *c = ctx;
    cn_op *op = payload;
    c->result_bytes -= op->bytes;
    op_free(op);
}

static void free_early_payload(void *payload, void *ctx)
{
    early_free_items(ctx, payload);
}

phn_cn_collect *phn_cn_collect_new(phn_cn *cn)
{
    phn_cn_collect *c = phn_calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->cn = cn;
    c->ops = phn_optable_new(cn->cfg.max_ops);
    c->early = phn_optable_new(cn->cfg.early_max ? cn->cfg.early_max : 1);
    if (c->ops == NULL || c->early == NULL) {
        phn_cn_collect_free(c);
        return NULL;
    }
    return c;
}

void phn_cn_collect_free(phn_cn_collect *c)
{
    if (c == NULL)
        return;
    phn_optable_free(c->ops, free_op_payload, c);
    phn_optable_free(c->early, free_early_payload, c);
    phn_free(c);
}

static void encode_node_results(ei_x_buff *x, const char *node, const node_res *r)
{
    ei_x_encode_tuple_header(x, 2);
    ei_x_encode_atom(x, node);
    if (r->count > 0) {
        ei_x_encode_list_header(x, (long)r->count);
        ei_x_append_buf(x, (const char *)phn_cn_buf_head(&r->elems),
                        (int)phn_cn_buf_avail(&r->elems));
    }
    ei_x_encode_empty_list(x);
}

/* One message to the owner with everything the operation holds. */
static void emit(phn_cn_collect *c, const cn_op *op, int complete)
{
    const phn_cn_atoms *atoms = c->cn->atoms;
    size_t n = phn_progress_nodes(op->prog);
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 3);
    ei_x_encode_atom(&x, "op_result");
    ei_x_append_buf(&x, op->ref_ext, (int)op->ref_len);
    ei_x_encode_tuple_header(&x, complete ? 2 : 3);
    ei_x_encode_atom(&x, complete ? "complete" : "expired");

    size_t answered = 0, missing = 0;
    for (size_t i = 0; i < n; i++) {
        answered += phn_progress_received_at(op->prog, i) > 0;
        missing += phn_progress_received_at(op->prog, i) < phn_progress_expected_at(op->prog, i);
    }
    if (answered > 0) {
        ei_x_encode_list_header(&x, (long)answered);
        for (size_t i = 0; i < n; i++) {
            if (phn_progress_received_at(op->prog, i) > 0)
                encode_node_results(
                    &x, phn_cn_atoms_text(atoms, (uint32_t)phn_progress_node_at(op->prog, i)),
                    &op->res[i]);
        }
    }
    ei_x_encode_empty_list(&x);
    if (!complete) {
        if (missing > 0) {
            ei_x_encode_list_header(&x, (long)missing);
            for (size_t i = 0; i < n; i++) {
                if (phn_progress_received_at(op->prog, i) < phn_progress_expected_at(op->prog, i))
                    ei_x_encode_atom(
                        &x, phn_cn_atoms_text(atoms, (uint32_t)phn_progress_node_at(op->prog, i)));
            }
        }
        ei_x_encode_empty_list(&x);
    }
    if (phn_cn_send_ctl(c->cn, &x) == 0) {
        ei_x_free(&x);
        return;
    }
    /* Out of memory for the whole result: the owner still learns the outcome, so that its
     * waiter is answered rather than left to its own timeout. */
    ei_x_free(&x);
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 3);
    ei_x_encode_atom(&x, "op_result");
    ei_x_append_buf(&x, op->ref_ext, (int)op->ref_len);
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_atom(&x, "error");
    ei_x_encode_atom(&x, "enomem");
    phn_cn_send_ctl(c->cn, &x);
    ei_x_free(&x);
}

/* Record one chunk (elements already in final encoding). Returns 1 if it completed the
 * operation (the caller removes and frees it). */
static int apply(phn_cn_collect *c, cn_op *op, const char *to_name, const char *node,
                 const uint8_t *elems, size_t len, uint32_t count)
{
    phn_cn_stats *st = &c->cn->stats;
    const phn_cn_config *cfg = &c->cn->cfg;
    if (op->hub != 0 && phn_cn_atoms_find(c->cn->atoms, to_name) != op->hub) {
        st->responses_wrong_hub++;
        return 0;
    }
    uint32_t id = phn_cn_atoms_find(c->cn->atoms, node);
    if (id == 0) {
        st->responses_unexpected_node++; /* never declared anywhere, so not here either */
        return 0;
    }
    if (op->bytes + len > cfg->max_op_bytes || c->result_bytes + len > cfg->max_total_bytes) {
        st->responses_refused_bytes++;
        return 0;
    }
    size_t idx;
    phn_rec_result rc = phn_progress_record(op->prog, id, id, &idx);
    if (rc == PHN_REC_UNEXPECTED) {
        st->responses_unexpected_node++;
        return 0;
    }
    if (rc == PHN_REC_EXTRA) {
        st->responses_extra++;
        return 0;
    }
    node_res *r = &op->res[idx];
    if (phn_cn_buf_append(&r->elems, elems, len) != PHN_OK) {
        st->responses_refused_bytes++; /* counted as received; its results are lost */
    } else {
        r->count += count;
        op->bytes += len;
        c->result_bytes += len;
    }
    return rc == PHN_REC_COMPLETE;
}

static void finish(phn_cn_collect *c, const uint8_t *key, size_t keylen, cn_op *op)
{
    emit(c, op, 1);
    c->cn->stats.ops_completed++;
    phn_optable_remove(c->ops, key, keylen);
    c->result_bytes -= op->bytes;
    op_free(op);
}

int phn_cn_collect_register(phn_cn_collect *c, const uint8_t *key, size_t keylen,
                            const char *ref_ext, size_t ref_len, uint32_t hub,
                            const phn_cn_expect *expect, size_t n, int64_t deadline)
{
    if (n == 0)
        return PHN_EINVAL;
    if (phn_optable_get(c->ops, key, keylen) != NULL)
        return PHN_EEXIST;
    cn_op *op = phn_calloc(1, sizeof(*op));
    if (op == NULL)
        return PHN_ENOMEM;
    op->hub = hub;
    op->prog = phn_progress_new(n, NULL, NULL);
    op->ref_ext = phn_malloc(ref_len);
    if (op->prog == NULL || op->ref_ext == NULL) {
        op_free(op);
        return PHN_ENOMEM;
    }
    memcpy(op->ref_ext, ref_ext, ref_len);
    op->ref_len = ref_len;
    for (size_t i = 0; i < n; i++) {
        int rc = phn_progress_expect(op->prog, expect[i].node, expect[i].node, expect[i].chunks);
        if (rc != PHN_OK) {
            op_free(op);
            return rc;
        }
    }
    /* nres only once res exists: op_free walks res[0, nres). */
    size_t nres = phn_progress_nodes(op->prog);
    op->res = phn_calloc(nres, sizeof(*op->res));
    if (op->res == NULL) {
        op_free(op);
        return PHN_ENOMEM;
    }
    op->nres = nres;
    int rc = phn_optable_insert(c->ops, key, keylen, deadline, op);
    if (rc != PHN_OK) {
        op_free(op);
        return rc;
    }
    c->cn->stats.ops_registered++;

    early_list *held = phn_optable_remove(c->early, key, keylen);
    if (held == NULL)
        return PHN_OK;
    int done = 0;
    for (early_item *it = held->head; it != NULL; it = it->next) {
        c->cn->stats.early_applied++;
        if (done) {
            c->cn->stats.responses_extra++; /* the operation completed before this one */
            continue;
        }
        done = apply(c, op, it->to_name, it->node, phn_cn_buf_head(&it->elems),
                     phn_cn_buf_avail(&it->elems), it->count);
    }
    early_free_items(c, held);
    if (done)
        finish(c, key, keylen, op);
    return PHN_OK;
}

int phn_cn_collect_cancel(phn_cn_collect *c, const uint8_t *key, size_t keylen)
{
    cn_op *op = phn_optable_remove(c->ops, key, keylen);
    if (op == NULL)
        return 0;
    c->cn->stats.ops_cancelled++;
    c->result_bytes -= op->bytes;
    op_free(op);
    return 1;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = phn_malloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

static void hold(phn_cn_collect *c, const uint8_t *key, size_t keylen, const char *to_name,
                 const char *node, const char *buf, const phn_cn_span *span)
{
    const phn_cn_config *cfg = &c->cn->cfg;
    size_t bytes =
        sizeof(early_item) + phn_cn_span_bytes(span) + strlen(to_name) + strlen(node) + 2;
    if (c->early_count >= cfg->early_max || c->early_bytes + bytes > cfg->early_bytes) {
        c->cn->stats.early_refused++;
        return;
    }
    early_item *it = phn_calloc(1, sizeof(*it));
    if (it == NULL || (it->to_name = dup_str(to_name)) == NULL ||
        (it->node = dup_str(node)) == NULL || phn_cn_span_append(&it->elems, buf, span) != PHN_OK)
        goto fail;
    it->count = span->count;
    it->bytes = bytes;
    early_list *l = phn_optable_get(c->early, key, keylen);
    if (l == NULL) {
        /* The hold time runs from the first response for this TxRef. */
        l = phn_calloc(1, sizeof(*l));
        if (l == NULL)
            goto fail;
        if (phn_optable_insert(c->early, key, keylen, c->cn->now_ms + cfg->early_hold_ms, l) !=
            PHN_OK) {
            phn_free(l);
            goto fail;
        }
    }
    if (l->tail != NULL)
        l->tail->next = it;
    else
        l->head = it;
    l->tail = it;
    c->early_count++;
    c->early_bytes += bytes;
    c->cn->stats.early_held++;
    return;
fail:
    c->cn->stats.early_refused++;
    if (it != NULL) {
        phn_free(it->to_name);
        phn_free(it->node);
        phn_cn_buf_free(&it->elems);
        phn_free(it);
    }
}

void phn_cn_collect_response(phn_cn_collect *c, const uint8_t *key, size_t keylen,
                             const char *to_name, const char *node, const char *buf,
                             const phn_cn_span *span)
{
    c->cn->stats.responses++;
    cn_op *op = phn_optable_get(c->ops, key, keylen);
    if (op == NULL) {
        hold(c, key, keylen, to_name, node, buf, span);
        return;
    }
    int done;
    if (span->is_string) {
        phn_cn_buf tmp = {0};
        if (phn_cn_span_append(&tmp, buf, span) != PHN_OK) {
            c->cn->stats.responses_refused_bytes++;
            return;
        }
        done =
            apply(c, op, to_name, node, phn_cn_buf_head(&tmp), phn_cn_buf_avail(&tmp), span->count);
        phn_cn_buf_free(&tmp);
    } else {
        done = apply(c, op, to_name, node, (const uint8_t *)buf + span->start,
                     (size_t)(span->end - span->start), span->count);
    }
    if (done)
        finish(c, key, keylen, op);
}

void phn_cn_collect_tick(phn_cn_collect *c, int64_t now)
{
    cn_op *op;
    while ((op = phn_optable_pop_expired(c->ops, now, NULL, NULL)) != NULL) {
        emit(c, op, 0);
        c->cn->stats.ops_expired++;
        c->result_bytes -= op->bytes;
        op_free(op);
    }
    early_list *l;
    while ((l = phn_optable_pop_expired(c->early, now, NULL, NULL)) != NULL) {
        for (early_item *it = l->head; it != NULL; it = it->next)
            c->cn->stats.early_expired++;
        early_free_items(c, l);
    }
}

void phn_cn_collect_usage_get(const phn_cn_collect *c, phn_cn_collect_usage *u)
{
    u->ops = phn_optable_size(c->ops);
    u->result_bytes = c->result_bytes;
    u->early = c->early_count;
    u->early_bytes = c->early_bytes;
    u->table_bytes = phn_optable_bytes(c->ops) + phn_optable_bytes(c->early);
}
