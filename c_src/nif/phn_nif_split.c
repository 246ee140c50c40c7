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
 * terms and built as a list from it, so nothing the size of the whole list is allocated.
 * A long list is split in steps on this normal scheduler: a step that has run for
 * SPLIT_STEP_US uses up its timeslice (enif_consume_timeslice) and yields
 * (enif_schedule_nif) with where it stands as the next step's arguments: the list's rest,
 * the chunks made so far (newest first) and their number. One step instead of a dirty
 * scheduler's round trip, and no copy of the whole list into an array first. */

/* Wall time one step may take before it yields (checked after each chunk, of at most
 * PHN_DIRTY_THRESHOLD elements). A count of elements would not do: a cell costs from a
 * few ns (in cache) to tens of ns (a big list spread over memory). */
#define SPLIT_STEP_US 300

enum { STEP_REQ, STEP_FIELD, STEP_MAX, STEP_REST, STEP_CHUNKS, STEP_COUNT, STEP_ARGC };

/* The walk from argv[STEP_REST] on; may_yield on a normal scheduler only. */
static ERL_NIF_TERM split_walk(ErlNifEnv *env, const ERL_NIF_TERM argv[], int may_yield);

static ERL_NIF_TERM split_list_step(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    return split_walk(env, argv, 1);
}

static ERL_NIF_TERM split_list_dirty(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    return split_walk(env, argv, 0);
}

static ERL_NIF_TERM split_walk(ErlNifEnv *env, const ERL_NIF_TERM argv[], int may_yield)
{
    ERL_NIF_TERM req = argv[STEP_REQ], field = argv[STEP_FIELD], rest = argv[STEP_REST];
    ERL_NIF_TERM made = argv[STEP_CHUNKS];
    size_t max;
    unsigned long count;
    if (!get_max(env, argv[STEP_MAX], &max) || !enif_get_ulong(env, argv[STEP_COUNT], &count))
        return enif_make_badarg(env);

    phn_terms chunk;
    phn_terms_init(&chunk);
    ERL_NIF_TERM out = 0, head;
    ErlNifTime start = enif_monotonic_time(ERL_NIF_USEC);
    for (;;) {
        chunk.len = 0;
        while (chunk.len < max && enif_get_list_cell(env, rest, &head, &rest)) {
            if (phn_terms_push(&chunk, head) != PHN_OK) {
                out = phn_raise_enomem(env);
                break;
            }
        }
        if (out != 0)
            break;
        int last = enif_is_empty_list(env, rest);
        if (!last && chunk.len < max) { /* the list ends in a non-list */
            out = enif_make_badarg(env);
            break;
        }
        if (last && count == 0) { /* at most Max: the request stays whole */
            out = enif_make_list1(env, req);
            break;
        }
        if (chunk.len > 0) {
            ERL_NIF_TERM list = enif_make_list_from_array(env, chunk.items, (unsigned)chunk.len);
            ERL_NIF_TERM part;
            enif_make_map_update(env, req, field, list, &part);
            made = enif_make_list_cell(env, part, made);
            count++;
        }
        if (last) {
            ERL_NIF_TERM chunks;
            enif_make_reverse_list(env, made, &chunks);
            out = chunks;
            break;
        }
        if (may_yield && enif_monotonic_time(ERL_NIF_USEC) - start >= SPLIT_STEP_US) {
            /* The whole timeslice, so that the process is scheduled out here. */
            enif_consume_timeslice(env, 100);
            ERL_NIF_TERM next[STEP_ARGC] = {req,  field, argv[STEP_MAX],
                                            rest, made,  enif_make_ulong(env, count)};
            out = enif_schedule_nif(env, "split_list", 0, split_list_step, STEP_ARGC, next);
            break;
        }
    }
    phn_terms_free(&chunk);
    if (may_yield) {
        /* 1 % of a timeslice per ~10 us used. */
        ErlNifTime used = enif_monotonic_time(ERL_NIF_USEC) - start;
        int percent = (int)(used / 10) + 1;
        enif_consume_timeslice(env, percent > 100 ? 100 : percent);
    }
    return out;
}

/* A list within the limit is answered at once (at most Max + 1 cells walked, Max up to
 * PHN_DIRTY_THRESHOLD); any other is split in steps. A chunk is gathered whole before it
 * is built, so chunks longer than PHN_DIRTY_THRESHOLD (a Max no request manager uses) are
 * split on a dirty scheduler, where nothing yields. */
ERL_NIF_TERM phn_nif_split_list(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    ERL_NIF_TERM list;
    size_t max, len = 0;
    if (!get_max(env, argv[2], &max) || !enif_get_map_value(env, argv[0], argv[1], &list))
        return enif_make_badarg(env);
    size_t limit = max < PHN_DIRTY_THRESHOLD ? max : PHN_DIRTY_THRESHOLD;
    int rc = phn_list_length_upto(env, list, limit, &len);
    if (rc == PHN_EINVAL)
        return enif_make_badarg(env);
    if (rc == PHN_OK) {
        phn_consume_work(env, len);
        return enif_make_list1(env, argv[0]);
    }
    ERL_NIF_TERM step[STEP_ARGC] = {
        argv[0], argv[1], argv[2], list, enif_make_list(env, 0), enif_make_ulong(env, 0)};
    if (max > PHN_DIRTY_THRESHOLD)
        return enif_schedule_nif(env, "split_list", ERL_NIF_DIRTY_JOB_CPU_BOUND, split_list_dirty,
                                 STEP_ARGC, step);
    return split_list_step(env, STEP_ARGC, step);
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
