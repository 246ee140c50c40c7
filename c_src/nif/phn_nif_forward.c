/* populate_forward/3 (REFERENCE.md §2.6): Keyword.update of each target node with
 * [Child | Old], or {Node, [Child]} appended when absent. Done in one pass with an index of
 * first occurrences instead of one list walk per target: a key's first occurrence is
 * updated in place and, once updated, its later duplicates are dropped. */
#include "phn_alloc.h"
#include "phn_nif_atoms.h"
#include "phn_nif_funcs.h"
#include "phn_nif_terms.h"
#include "phn_nodeset.h"
#include "phn_status.h"

typedef struct forward_entry {
    ERL_NIF_TERM key;
    ERL_NIF_TERM value;
    int updated; /* set on the first occurrence once a target touched it */
} forward_entry;

typedef struct forward_build {
    forward_entry *entries;
    size_t len;
    phn_nodeset first; /* atom key -> index of its first occurrence */
} forward_build;

static void forward_build_free(forward_build *b)
{
    phn_free(b->entries);
    phn_nodeset_free(&b->first);
}

/* Read the keyword list: a proper list of 2-tuples. */
static int forward_load(ErlNifEnv *env, ERL_NIF_TERM fwd, size_t extra, forward_build *b)
{
    unsigned len;
    if (!enif_get_list_length(env, fwd, &len))
        return PHN_EINVAL;
    if ((b->entries = phn_calloc((size_t)len + extra, sizeof(*b->entries))) == NULL)
        return PHN_ENOMEM;
    if (phn_nodeset_init(&b->first, (size_t)len + extra, NULL, NULL) != PHN_OK)
        return PHN_ENOMEM;
    ERL_NIF_TERM head, tail = fwd;
    while (enif_get_list_cell(env, tail, &head, &tail)) {
        const ERL_NIF_TERM *pair;
        int arity;
        if (!enif_get_tuple(env, head, &arity, &pair) || arity != 2)
            return PHN_EINVAL;
        forward_entry *e = &b->entries[b->len];
        e->key = pair[0];
        e->value = pair[1];
        /* Targets are atoms (an immediate word each), so only atom keys can match them. */
        if (enif_is_atom(env, e->key) &&
            phn_nodeset_insert(&b->first, e->key, e->key, b->len, NULL) < 0)
            return PHN_ENOMEM;
        b->len++;
    }
    return PHN_OK;
}

static int forward_apply(ErlNifEnv *env, ERL_NIF_TERM targets, ERL_NIF_TERM child, forward_build *b)
{
    ERL_NIF_TERM node, tail = targets;
    while (enif_get_list_cell(env, tail, &node, &tail)) {
        uint64_t index;
        if (phn_nodeset_find(&b->first, node, node, &index)) {
            forward_entry *e = &b->entries[index];
            e->value = enif_make_list_cell(env, child, e->value);
            e->updated = 1;
            continue;
        }
        if (phn_nodeset_insert(&b->first, node, node, b->len, NULL) < 0)
            return PHN_ENOMEM;
        forward_entry *e = &b->entries[b->len++];
        e->key = node;
        e->value = enif_make_list1(env, child);
        e->updated = 1;
    }
    return PHN_OK;
}

static ERL_NIF_TERM forward_output(ErlNifEnv *env, const forward_build *b)
{
    ERL_NIF_TERM out = enif_make_list(env, 0);
    for (size_t i = b->len; i-- > 0;) {
        const forward_entry *e = &b->entries[i];
        uint64_t first;
        if (enif_is_atom(env, e->key) && phn_nodeset_find(&b->first, e->key, e->key, &first) &&
            first != i && b->entries[first].updated)
            continue; /* a later duplicate of an updated key: Keyword.update deleted it */
        out = enif_make_list_cell(env, enif_make_tuple2(env, e->key, e->value), out);
    }
    return out;
}

/* Targets: a proper list of atoms; returns its length through *len. */
static int targets_valid(ErlNifEnv *env, ERL_NIF_TERM targets, unsigned *len)
{
    ERL_NIF_TERM head, tail = targets;
    if (!enif_get_list_length(env, targets, len))
        return 0;
    while (enif_get_list_cell(env, tail, &head, &tail)) {
        if (!enif_is_atom(env, head))
            return 0;
    }
    return 1;
}

static ERL_NIF_TERM populate_forward_run(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    unsigned ntargets;
    if (!targets_valid(env, argv[1], &ntargets) || !enif_is_list(env, argv[0]))
        return enif_make_badarg(env);

    forward_build b = {0};
    int rc = forward_load(env, argv[0], ntargets, &b);
    if (rc == PHN_OK && ntargets > 0)
        rc = forward_apply(env, argv[1], argv[2], &b);
    ERL_NIF_TERM out;
    if (rc == PHN_ENOMEM)
        out = phn_raise_enomem(env);
    else if (rc != PHN_OK)
        out = enif_make_badarg(env);
    else
        out = ntargets == 0 ? argv[0] : forward_output(env, &b);
    forward_build_free(&b);
    return out;
}

ERL_NIF_TERM phn_nif_populate_forward(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    size_t work = phn_list_count_upto(env, argv[0], PHN_DIRTY_THRESHOLD) +
                  phn_list_count_upto(env, argv[1], PHN_DIRTY_THRESHOLD);
    return phn_run_work(env, "populate_forward", populate_forward_run, work, argc, argv);
}
