#include "phn_nif_terms.h"

#include "phn_alloc.h"
#include "phn_nif_atoms.h"
#include "phn_status.h"

void phn_terms_init(phn_terms *t)
{
    t->items = t->inline_items;
    t->len = 0;
    t->cap = PHN_TERMS_INLINE;
}

void phn_terms_free(phn_terms *t)
{
    if (t->items != t->inline_items)
        phn_free(t->items);
    phn_terms_init(t);
}

/* Room for `cap` items, keeping the first `keep`. */
static int terms_reserve(phn_terms *t, size_t cap, size_t keep)
{
    if (cap <= t->cap)
        return PHN_OK;
    ERL_NIF_TERM *items = phn_reallocarray(NULL, cap, sizeof(*items));
    if (items == NULL)
        return PHN_ENOMEM;
    for (size_t i = 0; i < keep; i++)
        items[i] = t->items[i];
    if (t->items != t->inline_items)
        phn_free(t->items);
    t->items = items;
    t->cap = cap;
    return PHN_OK;
}

int phn_terms_push(phn_terms *t, ERL_NIF_TERM item)
{
    if (t->len == t->cap && terms_reserve(t, t->cap * 2, t->len) != PHN_OK)
        return PHN_ENOMEM;
    t->items[t->len++] = item;
    return PHN_OK;
}

int phn_list_to_terms(ErlNifEnv *env, ERL_NIF_TERM list, phn_terms *out)
{
    unsigned len;
    /* enif_get_list_length also proves the list proper, so the walk below cannot fail. */
    if (!enif_get_list_length(env, list, &len))
        return PHN_EINVAL;
    if (terms_reserve(out, len, 0) != PHN_OK)
        return PHN_ENOMEM;
    out->len = 0;
    ERL_NIF_TERM head, tail = list;
    while (enif_get_list_cell(env, tail, &head, &tail))
        out->items[out->len++] = head;
    return PHN_OK;
}

int phn_list_length_upto(ErlNifEnv *env, ERL_NIF_TERM list, size_t limit, size_t *len)
{
    ERL_NIF_TERM head, tail = list;
    size_t n = 0;
    while (enif_get_list_cell(env, tail, &head, &tail)) {
        if (++n > limit)
            return PHN_ELIMIT;
    }
    if (!enif_is_empty_list(env, tail))
        return PHN_EINVAL;
    *len = n;
    return PHN_OK;
}

size_t phn_list_count_upto(ErlNifEnv *env, ERL_NIF_TERM list, size_t limit)
{
    ERL_NIF_TERM head, tail = list;
    size_t n = 0;
    while (n <= limit && enif_get_list_cell(env, tail, &head, &tail))
        n++;
    return n;
}

int phn_list_longer_than(ErlNifEnv *env, ERL_NIF_TERM list, size_t limit)
{
    ERL_NIF_TERM head, tail = list;
    size_t n = 0;
    while (enif_get_list_cell(env, tail, &head, &tail)) {
        if (++n > limit)
            return 1;
    }
    return 0;
}

int phn_mapset_inner(ErlNifEnv *env, ERL_NIF_TERM set, ERL_NIF_TERM *inner)
{
    ERL_NIF_TERM tag;
    return enif_get_map_value(env, set, phn_atoms.struct_, &tag) &&
           enif_is_identical(tag, phn_atoms.mapset) &&
           enif_get_map_value(env, set, phn_atoms.map, inner) && enif_is_map(env, *inner);
}

int phn_mapset_put(ErlNifEnv *env, ERL_NIF_TERM set, ERL_NIF_TERM elem, ERL_NIF_TERM *out)
{
    ERL_NIF_TERM inner, present, updated;
    if (!phn_mapset_inner(env, set, &inner))
        return 0;
    if (enif_get_map_value(env, inner, elem, &present)) {
        *out = set; /* already a member: the same term, as MapSet.put gives back */
        return 1;
    }
    if (!enif_make_map_put(env, inner, elem, enif_make_list(env, 0), &updated))
        return 0;
    return enif_make_map_update(env, set, phn_atoms.map, updated, out);
}

uint64_t phn_term_hash(ERL_NIF_TERM term)
{
    return enif_hash(ERL_NIF_INTERNAL_HASH, term, 0x9e3779b97f4a7c15ULL);
}

int phn_term_identical(uint64_t a, uint64_t b, void *ctx)
{
    (void)ctx;
    return enif_is_identical((ERL_NIF_TERM)a, (ERL_NIF_TERM)b);
}

ERL_NIF_TERM phn_raise_enomem(ErlNifEnv *env)
{
    return enif_raise_exception(env, phn_atoms.enomem);
}

ERL_NIF_TERM phn_run_sized(ErlNifEnv *env, const char *name,
                           ERL_NIF_TERM (*fun)(ErlNifEnv *, int, const ERL_NIF_TERM[]), int big,
                           int argc, const ERL_NIF_TERM argv[])
{
    if (!big)
        return fun(env, argc, argv);
    return enif_schedule_nif(env, name, ERL_NIF_DIRTY_JOB_CPU_BOUND, fun, argc, argv);
}

ERL_NIF_TERM phn_run_work(ErlNifEnv *env, const char *name,
                          ERL_NIF_TERM (*fun)(ErlNifEnv *, int, const ERL_NIF_TERM[]), size_t work,
                          int argc, const ERL_NIF_TERM argv[])
{
    if (work > PHN_DIRTY_THRESHOLD)
        return enif_schedule_nif(env, name, ERL_NIF_DIRTY_JOB_CPU_BOUND, fun, argc, argv);
    ERL_NIF_TERM result = fun(env, argc, argv);
    phn_consume_work(env, work);
    return result;
}

void phn_consume_work(ErlNifEnv *env, size_t work)
{
    size_t percent = (work + PHN_WORK_PER_PERCENT - 1) / PHN_WORK_PER_PERCENT;
    if (percent > 0)
        enif_consume_timeslice(env, percent > 100 ? 100 : (int)percent);
}
