/* phn_tracker: the terms an operation keeps and the terms handed back. Every term an
 * operation keeps (its meta, each chunk of results) is written as a compact image
 * (phn_nif_flat) into one allocation of exactly its size (tr_blob), so that nothing depends
 * on the process that sent it, the operation's memory is known to the byte, and no ERTS
 * environment (about 2.6 KB each, whatever the term) is held per operation. Terms are
 * decoded when handed back; writing and reading an image walk the term as a copy would, so
 * the weight phn_flat_encode counts still decides what runs on a dirty scheduler. Blobs
 * are reference counted, so that get/peek hold them (not copies) from under the lock. */
#include <stdatomic.h>
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
            atomic_init(&b->refs, 1);
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

tr_blob *tr_blob_retain(tr_blob *b)
{
    if (b != NULL)
        atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

void tr_blob_release(tr_blob *b)
{
    while (b != NULL && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) {
        tr_blob *prev = b->prev;
        phn_free(b);
        b = prev;
    }
}

static int decode(ErlNifEnv *env, const tr_blob *b, ERL_NIF_TERM *out)
{
    return phn_flat_decode(env, b->image, b->len, out);
}

/* Blocks: the operation, its progress (struct, node index, node array), its table entry,
 * the meta and every chunk; and one more per 4 KiB page held (pages
 * given back to the OS). */
size_t tr_op_free_cost(const tr_op *op)
{
    return 5 + op->kept_chunks + (op->meta != NULL) + op->bytes / 4096;
}

void tr_op_free(tr_op *op)
{
    if (op == NULL)
        return;
    tr_global_op(op, 0);
    if (TR_OP_HAS_TERMS(op))
        tr_global_kept_term(0);
    size_t n = phn_progress_nodes(op->progress);
    for (size_t i = 0; i < n; i++)
        tr_blob_release(op->chunks[i]);
    tr_blob_release(op->meta);
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
    chunk->prev = op->chunks[idx]; /* the operation's reference to it passes to chunk */
    op->chunks[idx] = chunk;
    op->kept_chunks++;
    op->results_weight = tr_weight_add(op->results_weight, weight);
    tr_account_bytes(t, op, (long long)tr_blob_bytes(chunk), 1);
    note_terms(t, had, op);
}

tr_blob *tr_op_replace_meta(tracker *t, tr_op *op, tr_blob *meta, size_t meta_weight)
{
    int had = TR_OP_HAS_TERMS(op);
    long long delta = (long long)tr_blob_bytes(meta) - (long long)tr_blob_bytes(op->meta);
    tr_blob *old = op->meta;
    op->meta = meta;
    op->meta_weight = meta_weight;
    tr_account_bytes(t, op, delta, 1);
    note_terms(t, had, op);
    return old;
}

tr_snap *tr_snap_take(const tr_op *op)
{
    const phn_progress *p = op->progress;
    size_t n = phn_progress_nodes(p);
    tr_snap *s = n <= (SIZE_MAX - sizeof(tr_snap)) / sizeof(tr_snap_node)
                     ? phn_malloc(sizeof(tr_snap) + n * sizeof(tr_snap_node))
                     : NULL;
    if (s == NULL)
        return NULL;
    s->meta = tr_blob_retain(op->meta);
    s->deadline = op->deadline;
    s->n = n;
    for (size_t i = 0; i < n; i++)
        s->nodes[i] =
            (tr_snap_node){(ERL_NIF_TERM)phn_progress_node_at(p, i), phn_progress_expected_at(p, i),
                           phn_progress_received_at(p, i), tr_blob_retain(op->chunks[i])};
    return s;
}

void tr_snap_free(tr_snap *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        tr_blob_release(s->nodes[i].newest);
    tr_blob_release(s->meta);
    phn_free(s);
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

/* A node's results: its kept chunks (newest first from `newest`) concatenated in arrival
 * order. The newest chunk, when a proper list, becomes the shared tail. */
static int node_results(ErlNifEnv *env, const tr_blob *newest, ERL_NIF_TERM *out)
{
    ERL_NIF_TERM acc, chunk;
    if (!decode(env, newest, &acc))
        return 0;
    if (newest->prev == NULL) {
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

int tr_collected(ErlNifEnv *env, const tr_snap *s, ERL_NIF_TERM *out)
{
    ERL_NIF_TERM list = enif_make_list(env, 0);
    for (size_t i = s->n; i-- > 0;) {
        const tr_snap_node *n = &s->nodes[i];
        if (n->newest == NULL)
            continue; /* no chunk, or only counted ones */
        ERL_NIF_TERM results;
        if (!node_results(env, n->newest, &results))
            return 0;
        list = enif_make_list_cell(env, enif_make_tuple2(env, n->node, results), list);
    }
    *out = list;
    return 1;
}

ERL_NIF_TERM tr_missing(ErlNifEnv *env, const tr_snap *s)
{
    ERL_NIF_TERM list = enif_make_list(env, 0);
    for (size_t i = s->n; i-- > 0;) {
        if (s->nodes[i].received < s->nodes[i].expected)
            list = enif_make_list_cell(env, s->nodes[i].node, list);
    }
    return list;
}

int tr_meta(ErlNifEnv *env, const tr_blob *meta, ERL_NIF_TERM *out)
{
    if (meta == NULL) {
        *out = phn_atoms.tr_undefined;
        return 1;
    }
    return decode(env, meta, out);
}

int tr_info(ErlNifEnv *env, const tr_snap *s, ERL_NIF_TERM ref, ERL_NIF_TERM *out)
{
    ERL_NIF_TERM keys[] = {phn_atoms.tr_ref, phn_atoms.tr_meta, phn_atoms.tr_collected,
                           phn_atoms.tr_missing, phn_atoms.tr_deadline};
    ERL_NIF_TERM values[5];
    values[0] = ref;
    if (!tr_meta(env, s->meta, &values[1]) || !tr_collected(env, s, &values[2]))
        return 0;
    values[3] = tr_missing(env, s);
    values[4] =
        s->deadline == TR_NO_DEADLINE ? phn_atoms.tr_infinity : enif_make_int64(env, s->deadline);
    return enif_make_map_from_arrays(env, keys, values, 5, out);
}
