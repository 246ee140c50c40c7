/* RequestManager's response tracking: record_response/4, all_responded?/1 and
 * process_response/3 (REFERENCE.md §2.1, §2.4), with the original's semantics: a response
 * updates every sub-request of its node (compared with ==), and always joins
 * completed_nodes; completion is set equality between nodes_data's nodes and that set. */
#include "phn_alloc.h"
#include "phn_nif_atoms.h"
#include "phn_nif_funcs.h"
#include "phn_nif_terms.h"
#include "phn_nodeset.h"
#include "phn_status.h"

/* Rebuild sub_requests with `node`'s entries answered. Cells after the last answered one
 * are shared with the input; with no match the input list itself is returned. */
static int answer_sub_requests(ErlNifEnv *env, ERL_NIF_TERM subs, ERL_NIF_TERM node,
                               ERL_NIF_TERM results, ERL_NIF_TERM field, ERL_NIF_TERM *out)
{
    phn_terms items;
    phn_terms_init(&items);
    int rc = phn_list_to_terms(env, subs, &items);
    if (rc != PHN_OK)
        return rc;

    size_t answered = 0, last = 0;
    for (size_t i = 0; i < items.len; i++) {
        ERL_NIF_TERM sub = items.items[i], sub_node, with_results;
        if (!enif_get_map_value(env, sub, phn_atoms.node, &sub_node)) {
            phn_terms_free(&items);
            return PHN_EINVAL; /* not a map, or no node field: `sub_req.node` raises */
        }
        if (enif_compare(sub_node, node) != 0)
            continue;
        if (!enif_make_map_put(env, sub, field, results, &with_results) ||
            !enif_make_map_put(env, with_results, phn_atoms.status, phn_atoms.completed,
                               &items.items[i])) {
            phn_terms_free(&items);
            return PHN_EINVAL;
        }
        answered++;
        last = i;
    }

    if (answered == 0) {
        *out = subs;
    } else {
        ERL_NIF_TERM head, tail = subs;
        for (size_t i = 0; i <= last; i++)
            enif_get_list_cell(env, tail, &head, &tail);
        for (size_t i = last + 1; i-- > 0;)
            tail = enif_make_list_cell(env, items.items[i], tail);
        *out = tail;
    }
    phn_terms_free(&items);
    return PHN_OK;
}

static int record_response(ErlNifEnv *env, ERL_NIF_TERM op, ERL_NIF_TERM node, ERL_NIF_TERM results,
                           ERL_NIF_TERM field, ERL_NIF_TERM *out)
{
    ERL_NIF_TERM subs, completed, new_subs, new_completed, with_subs;
    if (!enif_get_map_value(env, op, phn_atoms.sub_requests, &subs) ||
        !enif_get_map_value(env, op, phn_atoms.completed_nodes, &completed))
        return PHN_EINVAL;
    int rc = answer_sub_requests(env, subs, node, results, field, &new_subs);
    if (rc != PHN_OK)
        return rc;
    if (!phn_mapset_put(env, completed, node, &new_completed))
        return PHN_EINVAL;
    if (!enif_make_map_update(env, op, phn_atoms.sub_requests, new_subs, &with_subs) ||
        !enif_make_map_update(env, with_subs, phn_atoms.completed_nodes, new_completed, out))
        return PHN_EINVAL;
    return PHN_OK;
}

/* Distinct nodes seen so far: a linear scan while they are few (no allocation on the
 * common path of a handful of nodes), a hash set past that. */
#define SMALL_DISTINCT 16
typedef struct distinct_nodes {
    ERL_NIF_TERM small[SMALL_DISTINCT];
    size_t nsmall;
    int hashed;
    phn_nodeset set;
} distinct_nodes;

static int distinct_add(distinct_nodes *d, ERL_NIF_TERM node)
{
    if (!d->hashed) {
        for (size_t i = 0; i < d->nsmall; i++) {
            if (enif_is_identical(d->small[i], node))
                return PHN_OK;
        }
        if (d->nsmall < SMALL_DISTINCT) {
            d->small[d->nsmall++] = node;
            return PHN_OK;
        }
        if (phn_nodeset_init(&d->set, 4 * SMALL_DISTINCT, phn_term_identical, NULL) != PHN_OK)
            return PHN_ENOMEM;
        d->hashed = 1;
        for (size_t i = 0; i < d->nsmall; i++) {
            if (phn_nodeset_insert(&d->set, d->small[i], phn_term_hash(d->small[i]), 0, NULL) < 0)
                return PHN_ENOMEM;
        }
    }
    return phn_nodeset_insert(&d->set, node, phn_term_hash(node), 0, NULL) < 0 ? PHN_ENOMEM
                                                                               : PHN_OK;
}

static size_t distinct_count(const distinct_nodes *d)
{
    return d->hashed ? phn_nodeset_size(&d->set) : d->nsmall;
}

/* Set equality of {N || {N, _} <- nodes_data} and completed_nodes. Every entry of
 * nodes_data is checked to be a 2-tuple before answering, as the original maps them all
 * before comparing. */
static int all_responded(ErlNifEnv *env, ERL_NIF_TERM op, int *answer)
{
    ERL_NIF_TERM nodes_data, completed, inner, head, tail, ignored;
    size_t completed_size;
    if (!enif_get_map_value(env, op, phn_atoms.nodes_data, &nodes_data) ||
        !enif_get_map_value(env, op, phn_atoms.completed_nodes, &completed) ||
        !phn_mapset_inner(env, completed, &inner) ||
        !enif_get_map_size(env, inner, &completed_size) || !enif_is_list(env, nodes_data))
        return PHN_EINVAL;

    distinct_nodes seen;
    seen.nsmall = 0;
    seen.hashed = 0;
    int rc = PHN_OK, missing = 0, arity;
    const ERL_NIF_TERM *pair;
    tail = nodes_data;
    while (enif_get_list_cell(env, tail, &head, &tail)) {
        if (!enif_get_tuple(env, head, &arity, &pair) || arity != 2) {
            rc = PHN_EINVAL;
            break;
        }
        if (missing)
            continue; /* the answer is known; keep validating */
        if (!enif_get_map_value(env, inner, pair[0], &ignored)) {
            missing = 1;
            continue;
        }
        if ((rc = distinct_add(&seen, pair[0])) != PHN_OK)
            break;
    }
    if (rc == PHN_OK && !enif_is_empty_list(env, tail))
        rc = PHN_EINVAL; /* improper list */
    if (rc == PHN_OK)
        *answer = !missing && distinct_count(&seen) == completed_size;
    if (seen.hashed)
        phn_nodeset_free(&seen.set);
    return rc;
}

static ERL_NIF_TERM status_to_term(ErlNifEnv *env, int rc, ERL_NIF_TERM ok_term)
{
    switch (rc) {
    case PHN_OK:
        return ok_term;
    case PHN_ENOMEM:
        return phn_raise_enomem(env);
    default:
        return enif_make_badarg(env);
    }
}

/* Elements of the operation's list `list_key`, counted up to just past the threshold. */
static size_t op_work(ErlNifEnv *env, ERL_NIF_TERM op, ERL_NIF_TERM list_key)
{
    ERL_NIF_TERM list;
    if (!enif_get_map_value(env, op, list_key, &list))
        return 0;
    return phn_list_count_upto(env, list, PHN_DIRTY_THRESHOLD);
}

static ERL_NIF_TERM record_response_run(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    ERL_NIF_TERM out = 0;
    int rc = record_response(env, argv[0], argv[1], argv[2], argv[3], &out);
    return status_to_term(env, rc, out);
}

ERL_NIF_TERM phn_nif_record_response(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    size_t work = op_work(env, argv[0], phn_atoms.sub_requests);
    return phn_run_work(env, "record_response", record_response_run, work, argc, argv);
}

static ERL_NIF_TERM all_responded_run(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    int answer = 0;
    int rc = all_responded(env, argv[0], &answer);
    return status_to_term(env, rc, answer ? phn_atoms.true_ : phn_atoms.false_);
}

ERL_NIF_TERM phn_nif_all_responded(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    size_t work = op_work(env, argv[0], phn_atoms.nodes_data);
    return phn_run_work(env, "all_responded?", all_responded_run, work, argc, argv);
}

static ERL_NIF_TERM process_response_run(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    ERL_NIF_TERM updated = 0;
    int answer = 0;
    int rc = record_response(env, argv[0], argv[1], argv[2], phn_atoms.results, &updated);
    if (rc == PHN_OK)
        rc = all_responded(env, updated, &answer);
    if (rc != PHN_OK)
        return status_to_term(env, rc, 0);
    return enif_make_tuple2(env, answer ? phn_atoms.complete : phn_atoms.pending, updated);
}

ERL_NIF_TERM phn_nif_process_response(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    size_t work =
        op_work(env, argv[0], phn_atoms.sub_requests) + op_work(env, argv[0], phn_atoms.nodes_data);
    return phn_run_work(env, "process_response", process_response_run, work, argc, argv);
}
