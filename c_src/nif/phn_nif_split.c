/* Request splitting (REFERENCE.md §2.7): a list field cut into chunks of `max` in order,
 * each chunk put back into a copy of the request; a map field cut into maps of `max`
 * entries in maps:to_list/1 order (the NIF iterator walks the other way, so it starts
 * from the last entry), each put into a fresh struct. At most `max` stays single
 * (the same term). The chunk arithmetic is the core's. */
#include "phn_alloc.h"
#include "phn_chunk.h"
#include "phn_nif_atoms.h"
#include "phn_nif_funcs.h"
#include "phn_nif_terms.h"
#include "phn_status.h"

static int get_max(ErlNifEnv *env, ERL_NIF_TERM term, size_t *max)
{
    unsigned long value;
    if (!enif_get_ulong(env, term, &value) || value == 0)
        return 0;
    *max = (size_t)value;
    return 1;
}

/* split_list(Req, Field, Max): Req#{Field := Chunk} for each chunk of Req's list Field.
 * Runs once the list is known to be proper and longer than Max, or too long to tell
 * on a normal scheduler. */
static ERL_NIF_TERM split_list_run(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    ERL_NIF_TERM req = argv[0], field = argv[1], list;
    size_t max;
    if (!get_max(env, argv[2], &max) || !enif_get_map_value(env, req, field, &list))
        return enif_make_badarg(env);

    phn_terms items;
    phn_terms_init(&items);
    int rc = phn_list_to_terms(env, list, &items);
    if (rc != PHN_OK)
        return rc == PHN_ENOMEM ? phn_raise_enomem(env) : enif_make_badarg(env);
    if (items.len <= max) {
        phn_terms_free(&items);
        return enif_make_list1(env, req);
    }

    size_t count = phn_chunk_count(items.len, max);
    ERL_NIF_TERM *chunks = phn_calloc(count, sizeof(*chunks));
    if (chunks == NULL) {
        phn_terms_free(&items);
        return phn_raise_enomem(env);
    }
    for (size_t i = 0; i < count; i++) {
        size_t start = 0, len = 0;
        phn_chunk_bounds(items.len, max, i, &start, &len);
        ERL_NIF_TERM chunk = enif_make_list_from_array(env, items.items + start, (unsigned)len);
        enif_make_map_update(env, req, field, chunk, &chunks[i]);
    }
    ERL_NIF_TERM out = enif_make_list_from_array(env, chunks, (unsigned)count);
    phn_free(chunks);
    phn_terms_free(&items);
    return out;
}

/* One bounded walk decides everything: at most Max stays single, a short list is split
 * here, a long one on a dirty scheduler. */
ERL_NIF_TERM phn_nif_split_list(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    ERL_NIF_TERM list;
    size_t max, len = 0;
    if (!get_max(env, argv[2], &max) || !enif_get_map_value(env, argv[0], argv[1], &list))
        return enif_make_badarg(env);
    int rc = phn_list_length_upto(env, list, PHN_DIRTY_THRESHOLD, &len);
    if (rc == PHN_EINVAL)
        return enif_make_badarg(env);
    if (rc == PHN_OK && len <= max) {
        phn_consume_work(env, len);
        return enif_make_list1(env, argv[0]);
    }
    size_t work = rc == PHN_ELIMIT ? PHN_DIRTY_THRESHOLD + 1 : len;
    return phn_run_work(env, "split_list", split_list_run, work, argc, argv);
}

/* split_map(Req, Fresh, Field, Max): Fresh#{Field := ChunkMap} for each chunk of Req's map
 * Field, or [Req] when it has at most Max entries. */
static ERL_NIF_TERM split_map_run(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    ERL_NIF_TERM req = argv[0], fresh = argv[1], field = argv[2], map;
    size_t max, size;
    if (!get_max(env, argv[3], &max) || !enif_is_map(env, fresh) ||
        !enif_get_map_value(env, req, field, &map) || !enif_get_map_size(env, map, &size))
        return enif_make_badarg(env);
    if (size <= max)
        return enif_make_list1(env, req);

    size_t count = phn_chunk_count(size, max);
    ERL_NIF_TERM *chunks = phn_calloc(count, sizeof(*chunks));
    ERL_NIF_TERM *keys = phn_calloc(max, sizeof(*keys));
    ERL_NIF_TERM *values = phn_calloc(max, sizeof(*values));
    ErlNifMapIterator iter;
    if (chunks == NULL || keys == NULL || values == NULL ||
        !enif_map_iterator_create(env, map, &iter, ERL_NIF_MAP_ITERATOR_LAST)) {
        phn_free(chunks);
        phn_free(keys);
        phn_free(values);
        return phn_raise_enomem(env);
    }
    ERL_NIF_TERM out = 0;
    for (size_t i = 0; i < count; i++) {
        size_t start = 0, len = 0, n = 0;
        phn_chunk_bounds(size, max, i, &start, &len);
        for (; n < len && enif_map_iterator_get_pair(env, &iter, &keys[n], &values[n]); n++)
            enif_map_iterator_prev(env, &iter);
        ERL_NIF_TERM chunk;
        /* Keys of one map are distinct, so building cannot fail on duplicates. */
        if (!enif_make_map_from_arrays(env, keys, values, n, &chunk) ||
            !enif_make_map_put(env, fresh, field, chunk, &chunks[i])) {
            out = enif_make_badarg(env);
            break;
        }
    }
    enif_map_iterator_destroy(env, &iter);
    if (out == 0)
        out = enif_make_list_from_array(env, chunks, (unsigned)count);
    phn_free(chunks);
    phn_free(keys);
    phn_free(values);
    return out;
}

ERL_NIF_TERM phn_nif_split_map(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    ERL_NIF_TERM map;
    size_t size = 0;
    if (!enif_get_map_value(env, argv[0], argv[2], &map) || !enif_get_map_size(env, map, &size))
        size = 0; /* not a map: split_map_run raises badarg */
    return phn_run_work(env, "split_map", split_map_run, size, argc, argv);
}
