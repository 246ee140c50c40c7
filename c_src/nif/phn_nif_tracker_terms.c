/* phn_tracker: the terms an operation keeps and the terms handed back. Every term an
 * operation keeps (its meta, each chunk of results) is written as a compact image
 * (phn_nif_flat) into one allocation of exactly its size (tr_blob), so that nothing depends
 * on the process that sent it, the operation's memory is known to the byte, and no ERTS
 * environment (about 2.6 KB each, whatever the term) is held per operation. Terms are
 * decoded when handed back; writing and reading an image walk the term as a copy would, so
 * the weight phn_flat_encode counts still decides what runs on a dirty scheduler. */
#include <string.h>

#include "phn_alloc.h"
#include "phn_nif_atoms.h"
#include "phn_nif_flat.h"
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

int tr_blob_encode(ErlNifEnv *env, ERL_NIF_TERM term, size_t limit, tr_blob **out, size_t *weight)
{
    phn_bytes image;
    phn_bytes_init(&image);
    *out = NULL;
    int rc = phn_flat_encode(env, term, limit, &image, weight);
    if (rc == PHN_OK) {
        tr_blob *b = image.len <= SIZE_MAX - sizeof(tr_blob)
                         ? phn_malloc(sizeof(tr_blob) + image.len)
                         : NULL;
        if (b != NULL) {
            b->prev = NULL;
            b->len = image.len;
            memcpy(b->image, image.data, image.len);
            *out = b;
        } else {
            rc = PHN_ENOMEM;
        }
    }
    phn_bytes_free(&image);
    return rc;
}

size_t tr_blob_bytes(const tr_blob *b)
{
    return b != NULL ? sizeof(*b) + b->len + TR_ALLOC_OVERHEAD : 0;
}

void tr_blob_free(tr_blob *b)
{
    phn_free(b);
}

static int decode(ErlNifEnv *env, const tr_blob *b, ERL_NIF_TERM *out)
{
    return phn_flat_decode(env, b->image, b->len, out);
}

void tr_op_free(tr_op *op)
{
    if (op == NULL)
        return;
    tr_global_op(op, 0);
    if (TR_OP_HAS_TERMS(op))
        tr_global_kept_term(0);
    size_t n = phn_progress_nodes(op->progress);
    for (size_t i = 0; i < n; i++) {
        for (tr_blob *b = op->chunks[i], *prev; b != NULL; b = prev) {
            prev = b->prev;
            tr_blob_free(b);
        }
    }
    tr_blob_free(op->meta);
    phn_progress_free(op->progress);
    phn_free(op);
}

void tr_op_free_payload(void *payload, void *ctx)
{
    (void)ctx;
    tr_op_free(payload);
}

static void note_terms(tracker *t, int had, const tr_op *op)
{
    if (!had && TR_OP_HAS_TERMS(op)) {
        t->kept_terms++;
        tr_global_kept_term(1);
    }
}

void tr_op_keep_chunk(tracker *t, tr_op *op, size_t idx, tr_blob *chunk, size_t weight)
{
    int had = TR_OP_HAS_TERMS(op);
    chunk->prev = op->chunks[idx];
    op->chunks[idx] = chunk;
    op->kept_chunks++;
    op->results_weight = tr_weight_add(op->results_weight, weight);
    tr_account_bytes(t, op, (long long)tr_blob_bytes(chunk), 1);
    note_terms(t, had, op);
}

void tr_op_replace_meta(tracker *t, tr_op *op, tr_blob *meta, size_t meta_weight)
{
    int had = TR_OP_HAS_TERMS(op);
    long long delta = (long long)tr_blob_bytes(meta) - (long long)tr_blob_bytes(op->meta);
    tr_blob_free(op->meta);
    op->meta = meta;
    op->meta_weight = meta_weight;
    tr_account_bytes(t, op, delta, 1);
    note_terms(t, had, op);
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

/* A node's results: its chunks (newest first from `newest`, `got` of them) concatenated in
 * arrival order. The newest chunk, when a proper list, becomes the shared tail. */
static int node_results(ErlNifEnv *env, const tr_blob *newest, uint32_t got, ERL_NIF_TERM *out)
{
    ERL_NIF_TERM acc, chunk;
    if (!decode(env, newest, &acc))
        return 0;
    if (got == 1) {
        *out = acc;
        return 1;
    }
    unsigned len;
    if (!enif_get_list_length(env, acc, &len))
        acc = enif_make_list_cell(env, acc, enif_make_list(env, 0));
    phn_terms elems;
    phn_terms_init(&elems);
    int ok = 1;
    for (const tr_blob *b = newest->prev; ok && b != NULL; b = b->prev)
        ok = decode(env, b, &chunk) && prepend_chunk(env, chunk, &acc, &elems);
    phn_terms_free(&elems);
    *out = acc;
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
        if (op->chunks[i] == NULL || !node_results(env, op->chunks[i], got, &results))
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

int tr_meta(ErlNifEnv *env, const tr_op *op, ERL_NIF_TERM *out)
{
    if (op->meta == NULL) {
        *out = phn_atoms.tr_undefined;
        return 1;
    }
    return decode(env, op->meta, out);
}

int tr_info(ErlNifEnv *env, const tr_op *op, ERL_NIF_TERM ref, ERL_NIF_TERM *out)
{
    ERL_NIF_TERM keys[] = {phn_atoms.tr_ref, phn_atoms.tr_meta, phn_atoms.tr_collected,
                           phn_atoms.tr_missing, phn_atoms.tr_deadline};
    ERL_NIF_TERM values[5];
    values[0] = ref;
    if (!tr_meta(env, op, &values[1]) || !tr_collected(env, op, &values[2]))
        return 0;
    values[3] = tr_missing(env, op);
    values[4] =
        op->deadline == TR_NO_DEADLINE ? phn_atoms.tr_infinity : enif_make_int64(env, op->deadline);
    return enif_make_map_from_arrays(env, keys, values, 5, out);
}
