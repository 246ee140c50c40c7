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

/* split_list(Req, Field, Max): Req#{Field := Chunk} for each chunk of Req's list Field,
 * in one walk of the list: each chunk's cells are gathered into a buffer of at most Max
 * terms and built as a list from it, so nothing the size of the whole list is allocated
 * and the list is not counted first. Runs once the list is known to be longer than Max
 * (split here) or than PHN_DIRTY_THRESHOLD (split on a dirty scheduler). A normal
 * scheduler was tried for long lists, in steps that yield: the result's garbage
 * collection after the call then ran there (2 to 6 ms at 1 000 000 children) and took
 * longer than on a dirty scheduler (bench/NOTES.md). */
static ERL_NIF_TERM split_list_run(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    ERL_NIF_TERM req = argv[0], field = argv[1], rest, head;
    size_t max;
    if (!get_max(env, argv[2], &max) || !enif_get_map_value(env, req, field, &rest))
        return enif_make_badarg(env);

    phn_terms chunk;
    phn_terms_init(&chunk);
    /* An exception term may be 0, so `done` says when out is set. */
    ERL_NIF_TERM made = enif_make_list(env, 0), out = 0;
    size_t count = 0;
    int done = 0;
    while (!done) {
        chunk.len = 0;
        int pushed = PHN_OK;
        while (chunk.len < max && enif_get_list_cell(env, rest, &head, &rest)) {
            if ((pushed = phn_terms_push(&chunk, head)) != PHN_OK)
                break;
        }
        int last = enif_is_empty_list(env, rest);
        done = 1;
        if (pushed != PHN_OK) {
            out = phn_raise_enomem(env);
        } else if (!last && chunk.len < max) { /* the list ends in a non-list */
            out = enif_make_badarg(env);
        } else if (last && count == 0) { /* at most Max: the request stays whole */
            out = enif_make_list1(env, req);
        } else {
            if (chunk.len > 0) {
                ERL_NIF_TERM list =
                    enif_make_list_from_array(env, chunk.items, (unsigned)chunk.len);
                ERL_NIF_TERM part;
                enif_make_map_update(env, req, field, list, &part);
                made = enif_make_list_cell(env, part, made);
                count++;
            }
            if (last)
                enif_make_reverse_list(env, made, &out);
            else
                done = 0;
        }
    }
    phn_terms_free(&chunk);
    return out;
}

/* One bounded walk decides: at most Max stays single, a list of at most
 * PHN_DIRTY_THRESHOLD is split here, a longer one on a dirty scheduler. */
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
    int failed = 0; /* an exception term may be 0 */
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
            failed = 1;
            break;
        }
    }
    enif_map_iterator_destroy(env, &iter);
    if (!failed)
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
