/* phn_tracker: the operations' keys. A transaction reference is measured by a walk that
 * stops at the cap (TR_KEY_MAX_UNITS), hashed with enif_hash (internal: a local
 * reference hashes alike before and after the node starts distribution), and compared
 * with enif_is_identical (=:=) against a copy kept in a key environment of the tracker.
 * No call encodes its reference.
 *
 * A key environment cannot free one term, so dead keys stay until compaction: when the
 * dead keys of the current environment outweigh its live ones (past a floor), a fresh
 * environment takes new keys and every track moves a few live keys over from the old one;
 * the old one is freed (by the reaper when big) once it holds no live key. Each step is
 * bounded, so no call pays for a whole table's keys. */
#include <string.h>

#include "phn_hash.h"
#include "phn_nif_tracker.h"

/* Compaction starts only past this many dead units (about 2000 references): a small
 * table with churn then compacts rarely. */
#define TR_KEY_COMPACT_MIN 16384u
/* Live keys moved per step: the old environment empties at least this much faster than
 * the tracks that drive it. */
#define TR_KEY_MIGRATE 8u
#define TR_KEY_SALT 0x5bd1e995u
/* The most terms a key within the cap can hold (each costs at least 8 units). */
#define TR_KEY_MAX_TERMS (TR_KEY_MAX_UNITS / 8u + 1u)

static int add_units(size_t *units, size_t n)
{
    if (n > TR_KEY_MAX_UNITS - *units)
        return 0;
    *units += n;
    return 1;
}

/* The size of ref (8 per term and per list cell, plus the bytes of binaries), walking at
 * most TR_KEY_MAX_TERMS terms: 0 past the cap or on a term whose size is not cheap. */
static int measure(ErlNifEnv *env, ERL_NIF_TERM ref, size_t *out)
{
    ERL_NIF_TERM stack[TR_KEY_MAX_TERMS];
    size_t depth = 0, units = 0;
    stack[depth++] = ref;
    while (depth > 0) {
        ERL_NIF_TERM t = stack[--depth];
        if (!add_units(&units, 8))
            return 0;
        switch (enif_term_type(env, t)) {
        case ERL_NIF_TERM_TYPE_ATOM:
        case ERL_NIF_TERM_TYPE_FLOAT:
        case ERL_NIF_TERM_TYPE_PID:
        case ERL_NIF_TERM_TYPE_PORT:
        case ERL_NIF_TERM_TYPE_REFERENCE:
            break;
        case ERL_NIF_TERM_TYPE_INTEGER: {
            ErlNifSInt64 i;
            ErlNifUInt64 u;
            if (!enif_get_int64(env, t, &i) && !enif_get_uint64(env, t, &u))
                return 0; /* a bignum: its size is not known without a copy */
            break;
        }
        case ERL_NIF_TERM_TYPE_BITSTRING: {
            ErlNifBinary bin;
            if (!enif_is_binary(env, t) || !enif_inspect_binary(env, t, &bin) ||
                !add_units(&units, bin.size))
                return 0;
            break;
        }
        case ERL_NIF_TERM_TYPE_TUPLE: {
            int arity;
            const ERL_NIF_TERM *elems;
            if (!enif_get_tuple(env, t, &arity, &elems) || (size_t)arity > TR_KEY_MAX_TERMS - depth)
                return 0;
            for (int i = 0; i < arity; i++)
                stack[depth++] = elems[i];
            break;
        }
        case ERL_NIF_TERM_TYPE_LIST: {
            /* The 8 counted above pay for [] or the first cell; each further cell costs 8. */
            ERL_NIF_TERM head, tail = t;
            size_t cells = 0;
            while (enif_get_list_cell(env, tail, &head, &tail)) {
                if ((cells++ > 0 && !add_units(&units, 8)) || depth >= TR_KEY_MAX_TERMS)
                    return 0;
                stack[depth++] = head;
            }
            if (!enif_is_empty_list(env, tail)) { /* an improper tail */
                if (depth >= TR_KEY_MAX_TERMS)
                    return 0;
                stack[depth++] = tail;
            }
            break;
        }
        case ERL_NIF_TERM_TYPE_MAP: {
            size_t n;
            ErlNifMapIterator it;
            ERL_NIF_TERM k, v;
            if (!enif_get_map_size(env, t, &n) || n > (TR_KEY_MAX_TERMS - depth) / 2 ||
                !enif_map_iterator_create(env, t, &it, ERL_NIF_MAP_ITERATOR_FIRST))
                return 0;
            while (enif_map_iterator_get_pair(env, &it, &k, &v)) {
                stack[depth++] = k;
                stack[depth++] = v;
                enif_map_iterator_next(env, &it);
            }
            enif_map_iterator_destroy(env, &it);
            break;
        }
        default: /* funs: their environment's size is unknown without a copy */
            return 0;
        }
    }
    *out = units;
    return 1;
}

int tr_key_of(ErlNifEnv *env, ERL_NIF_TERM ref, tr_key *k)
{
    if (!measure(env, ref, &k->units))
        return 0;
    k->term = ref;
    /* The internal hash is 32 bits: spread over 64 for the table's shards and slots. */
    uint64_t h = enif_hash(ERL_NIF_INTERNAL_HASH, ref, TR_KEY_SALT);
    k->hash = phn_mix64(h | (h << 32) | 1u);
    return 1;
}

static int key_match(const void *payload, const void *arg, void *ctx)
{
    (void)ctx;
    return enif_is_identical(((const tr_op *)payload)->key, *(const ERL_NIF_TERM *)arg);
}

phn_optable_key tr_key_probe(const tr_key *k)
{
    return (phn_optable_key){k->hash, key_match, &k->term, NULL};
}

static void link_op(tr_keygen *g, tr_op *op)
{
    op->key_prev = NULL;
    op->key_next = g->head;
    if (g->head != NULL)
        g->head->key_prev = op;
    g->head = op;
    g->live_units += op->key_units;
}

static void unlink_op(tr_keygen *g, tr_op *op)
{
    if (op->key_prev != NULL)
        op->key_prev->key_next = op->key_next;
    else
        g->head = op->key_next;
    if (op->key_next != NULL)
        op->key_next->key_prev = op->key_prev;
    op->key_prev = op->key_next = NULL;
    g->live_units -= op->key_units;
}

/* A copy of a measured key in dst whose binaries are new ones of their own bytes: a
 * sub-binary of a big binary (enif_make_copy would share the whole) never keeps that
 * binary alive. Recursion is bounded by the cap (at most TR_KEY_MAX_TERMS terms). */
static ERL_NIF_TERM copy_key(ErlNifEnv *dst, ErlNifEnv *src, ERL_NIF_TERM t)
{
    ERL_NIF_TERM items[TR_KEY_MAX_TERMS], out;
    switch (enif_term_type(src, t)) {
    case ERL_NIF_TERM_TYPE_BITSTRING: {
        ErlNifBinary bin;
        unsigned char *data;
        if (!enif_inspect_binary(src, t, &bin) ||
            (data = enif_make_new_binary(dst, bin.size, &out)) == NULL)
            return enif_make_copy(dst, t);
        if (bin.size > 0)
            memcpy(data, bin.data, bin.size);
        return out;
    }
    case ERL_NIF_TERM_TYPE_TUPLE: {
        int arity;
        const ERL_NIF_TERM *elems;
        if (!enif_get_tuple(src, t, &arity, &elems) || (size_t)arity > TR_KEY_MAX_TERMS)
            return enif_make_copy(dst, t);
        for (int i = 0; i < arity; i++)
            items[i] = copy_key(dst, src, elems[i]);
        return enif_make_tuple_from_array(dst, items, (unsigned)arity);
    }
    case ERL_NIF_TERM_TYPE_LIST: {
        ERL_NIF_TERM head, tail = t;
        size_t n = 0;
        if (enif_is_empty_list(src, t))
            return enif_make_list(dst, 0);
        while (n < TR_KEY_MAX_TERMS && enif_get_list_cell(src, tail, &head, &tail))
            items[n++] = copy_key(dst, src, head);
        out = copy_key(dst, src, tail); /* [] or an improper tail */
        while (n > 0)
            out = enif_make_list_cell(dst, items[--n], out);
        return out;
    }
    case ERL_NIF_TERM_TYPE_MAP: {
        ERL_NIF_TERM k, v, values[TR_KEY_MAX_TERMS / 2];
        ErlNifMapIterator it;
        size_t n = 0;
        if (!enif_map_iterator_create(src, t, &it, ERL_NIF_MAP_ITERATOR_FIRST))
            return enif_make_copy(dst, t);
        while (n < TR_KEY_MAX_TERMS / 2 && enif_map_iterator_get_pair(src, &it, &k, &v)) {
            items[n] = copy_key(dst, src, k);
            values[n++] = copy_key(dst, src, v);
            enif_map_iterator_next(src, &it);
        }
        enif_map_iterator_destroy(src, &it);
        if (!enif_make_map_from_arrays(dst, items, values, n, &out))
            return enif_make_copy(dst, t);
        return out;
    }
    default:
        return enif_make_copy(dst, t);
    }
}

/* Copy a key (in src) into generation g (its environment made on first use). */
static int copy_into(tr_keygen *g, ErlNifEnv *src, ERL_NIF_TERM term, size_t units,
                     ERL_NIF_TERM *out)
{
    if (g->env == NULL && (g->env = enif_alloc_env()) == NULL)
        return 0;
    *out = copy_key(g->env, src, term);
    g->units += units;
    return 1;
}

int tr_keys_adopt(tracker *t, tr_op *op, ErlNifEnv *env, const tr_key *k)
{
    tr_keygen *g = &t->keys[t->key_cur];
    op->key_units = (uint32_t)k->units;
    if (!copy_into(g, env, k->term, k->units, &op->key))
        return 0;
    op->key_gen = t->key_cur;
    link_op(g, op);
    return 1;
}

void tr_keys_drop(tracker *t, tr_op *op)
{
    unlink_op(&t->keys[op->key_gen], op);
}

static ErlNifEnv *release_gen(tr_keygen *g, size_t *units)
{
    ErlNifEnv *env = g->env;
    *units = g->units;
    *g = (tr_keygen){NULL, 0, 0, NULL};
    return env;
}

ErlNifEnv *tr_keys_step(tracker *t, size_t *units)
{
    tr_keygen *cur = &t->keys[t->key_cur], *old = &t->keys[t->key_cur ^ 1u];
    *units = 0;
    if (old->env == NULL) {
        size_t dead = cur->units - cur->live_units;
        if (dead < TR_KEY_COMPACT_MIN || dead <= cur->live_units)
            return NULL;
        t->key_cur ^= 1u; /* the current one starts emptying; new keys go to a fresh one */
        tr_keygen *tmp = cur;
        cur = old;
        old = tmp;
    }
    for (unsigned i = 0; i < TR_KEY_MIGRATE && old->head != NULL; i++) {
        tr_op *op = old->head;
        ERL_NIF_TERM copy;
        if (!copy_into(cur, old->env, op->key, op->key_units, &copy))
            return NULL; /* out of memory: try again on the next step */
        unlink_op(old, op);
        op->key = copy;
        op->key_gen = t->key_cur;
        link_op(cur, op);
    }
    return old->head == NULL ? release_gen(old, units) : NULL;
}

size_t tr_keys_units(const tracker *t)
{
    return t->keys[0].units + t->keys[1].units;
}
