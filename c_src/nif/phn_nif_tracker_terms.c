/* phn_tracker: the terms an operation keeps and the terms handed back. Every term an
 * operation keeps lives in its own process-independent environment, so that dropping the
 * operation frees all of them at once and nothing depends on the process that sent them. */
#include <string.h>

#include "phn_alloc.h"
#include "phn_nif_atoms.h"
#include "phn_nif_terms.h"
#include "phn_nif_tracker.h"
#include "phn_status.h"

size_t tr_weight_add(size_t a, size_t b)
{
    return a > SIZE_MAX / 2 || b > SIZE_MAX / 2 ? SIZE_MAX / 2 : a + b;
}

size_t tr_op_weight(const tr_op *op)
{
    return tr_weight_add(tr_weight_add(op->meta_weight, op->results_weight),
                         phn_progress_nodes(op->progress));
}

/* Every term pushed counts one; the walk stops as soon as the count passes the limit, so
 * it costs O(limit) whatever the term. Out of memory counts as "too big". */
size_t tr_weight_upto(ErlNifEnv *env, ERL_NIF_TERM term, size_t limit)
{
    phn_terms stack;
    phn_terms_init(&stack);
    size_t n = 1;
    int ok = phn_terms_push(&stack, term) == PHN_OK;
#define TR_PUSH(x)                                                                                 \
    do {                                                                                           \
        if (++n > limit || phn_terms_push(&stack, (x)) != PHN_OK)                                  \
            ok = 0;                                                                                \
    } while (0)
    while (ok && n <= limit && stack.len > 0) {
        ERL_NIF_TERM t = stack.items[--stack.len];
        switch (enif_term_type(env, t)) {
        case ERL_NIF_TERM_TYPE_LIST: {
            ERL_NIF_TERM head, tail = t;
            while (ok && enif_get_list_cell(env, tail, &head, &tail)) {
                n++; /* the cell */
                TR_PUSH(head);
            }
            if (ok && !enif_is_list(env, tail))
                TR_PUSH(tail); /* improper list */
            break;
        }
        case ERL_NIF_TERM_TYPE_TUPLE: {
            int arity;
            const ERL_NIF_TERM *elems;
            if (enif_get_tuple(env, t, &arity, &elems)) {
                for (int i = 0; ok && i < arity; i++)
                    TR_PUSH(elems[i]);
            }
            break;
        }
        case ERL_NIF_TERM_TYPE_MAP: {
            ErlNifMapIterator it;
            ERL_NIF_TERM k, v;
            if (!enif_map_iterator_create(env, t, &it, ERL_NIF_MAP_ITERATOR_FIRST))
                break;
            while (ok && enif_map_iterator_get_pair(env, &it, &k, &v)) {
                TR_PUSH(k);
                TR_PUSH(v);
                enif_map_iterator_next(env, &it);
            }
            enif_map_iterator_destroy(env, &it);
            break;
        }
        default:
            break; /* a leaf: atoms, numbers, pids, binaries (shared or small), funs */
        }
    }
#undef TR_PUSH
    phn_terms_free(&stack);
    return ok && n <= limit ? n : limit + 1;
}

void tr_op_free(tr_op *op)
{
    if (op == NULL)
        return;
    tr_global_op(op, 0);
    if (op->env != NULL) {
        enif_free_env(op->env);
        tr_global_env(0);
    }
    phn_progress_free(op->progress);
    phn_free(op->chunks);
    phn_free(op);
}

void tr_op_free_payload(void *payload, void *ctx)
{
    (void)ctx;
    tr_op_free(payload);
}

int tr_op_ensure_env(tracker *t, tr_op *op)
{
    if (op->env != NULL)
        return 1;
    op->env = enif_alloc_env();
    if (op->env == NULL)
        return 0;
    tr_global_env(1);
    t->envs++;
    return 1;
}

int tr_op_replace_meta(tracker *t, tr_op *op, ERL_NIF_TERM meta, size_t meta_weight)
{
    ErlNifEnv *fresh = enif_alloc_env();
    if (fresh == NULL)
        return 0;
    ERL_NIF_TERM copy = enif_make_copy(fresh, meta);
    size_t n = phn_progress_nodes(op->progress);
    for (size_t i = 0; i < n; i++) {
        if (phn_progress_received_at(op->progress, i) > 0)
            op->chunks[i] = enif_make_copy(fresh, op->chunks[i]);
    }
    if (op->env != NULL) {
        enif_free_env(op->env);
    } else {
        tr_global_env(1);
        t->envs++;
    }
    op->env = fresh;
    op->meta = copy;
    op->has_meta = 1;
    op->meta_weight = meta_weight;
    return 1;
}

/* Prepend the elements of chunk to acc (a non-list chunk as one element). */
static int prepend_chunk(ErlNifEnv *env, ERL_NIF_TERM chunk, ERL_NIF_TERM *acc, phn_terms *elems)
{
    int rc = phn_list_to_terms(env, chunk, elems);
    if (rc == PHN_ENOMEM)
        return 0;
    if (rc != PHN_OK) {
        *acc = enif_make_list_cell(env, chunk, *acc);
        return 1;
    }
    for (size_t k = elems->len; k-- > 0;)
        *acc = enif_make_list_cell(env, elems->items[k], *acc);
    return 1;
}

/* A node's results: its chunks (newest first in `kept`, `got` of them) concatenated in
 * arrival order. The newest chunk, when a proper list, becomes the shared tail. */
static int node_results(ErlNifEnv *env, ERL_NIF_TERM kept, uint32_t got, ERL_NIF_TERM *out)
{
    ERL_NIF_TERM copied = enif_make_copy(env, kept), head, tail;
    if (got == 1) {
        enif_get_list_cell(env, copied, &head, &tail);
        *out = head;
        return 1;
    }
    phn_terms chunks, elems;
    phn_terms_init(&chunks);
    phn_terms_init(&elems);
    int ok = phn_list_to_terms(env, copied, &chunks) == PHN_OK && chunks.len > 0;
    if (ok) {
        ERL_NIF_TERM newest = chunks.items[0];
        unsigned len;
        ERL_NIF_TERM acc = enif_get_list_length(env, newest, &len)
                               ? newest
                               : enif_make_list_cell(env, newest, enif_make_list(env, 0));
        for (size_t j = 1; ok && j < chunks.len; j++)
            ok = prepend_chunk(env, chunks.items[j], &acc, &elems);
        *out = acc;
    }
    phn_terms_free(&elems);
    phn_terms_free(&chunks);
    return ok;
}

int tr_collected(ErlNifEnv *env, const tr_op *op, ERL_NIF_TERM *out)
{
    const phn_progress *p = op->progress;
    ERL_NIF_TERM list = enif_make_list(env, 0);
    for (size_t i = phn_progress_nodes(p); i-- > 0;) {
        uint32_t got = phn_progress_received_at(p, i);
        if (got == 0)
            continue;
        ERL_NIF_TERM results;
        if (!node_results(env, op->chunks[i], got, &results))
            return 0;
        ERL_NIF_TERM node = (ERL_NIF_TERM)phn_progress_node_at(p, i);
        list = enif_make_list_cell(env, enif_make_tuple2(env, node, results), list);
    }
    *out = list;
    return 1;
}

ERL_NIF_TERM tr_missing(ErlNifEnv *env, const tr_op *op)
{
    const phn_progress *p = op->progress;
    ERL_NIF_TERM list = enif_make_list(env, 0);
    for (size_t i = phn_progress_nodes(p); i-- > 0;) {
        if (phn_progress_received_at(p, i) < phn_progress_expected_at(p, i))
            list = enif_make_list_cell(env, (ERL_NIF_TERM)phn_progress_node_at(p, i), list);
    }
    return list;
}

ERL_NIF_TERM tr_meta(ErlNifEnv *env, const tr_op *op)
{
    return op->has_meta ? enif_make_copy(env, op->meta) : phn_atoms.tr_undefined;
}

int tr_info(ErlNifEnv *env, const tr_op *op, ERL_NIF_TERM ref, ERL_NIF_TERM *out)
{
    ERL_NIF_TERM keys[] = {phn_atoms.tr_ref, phn_atoms.tr_meta, phn_atoms.tr_collected,
                           phn_atoms.tr_missing, phn_atoms.tr_deadline};
    ERL_NIF_TERM values[5];
    values[0] = ref;
    values[1] = tr_meta(env, op);
    if (!tr_collected(env, op, &values[2]))
        return 0;
    values[3] = tr_missing(env, op);
    values[4] =
        op->deadline == TR_NO_DEADLINE ? phn_atoms.tr_infinity : enif_make_int64(env, op->deadline);
    return enif_make_map_from_arrays(env, keys, values, 5, out);
}
