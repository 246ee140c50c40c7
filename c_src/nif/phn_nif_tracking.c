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
    phn_terms items = {0};
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

    phn_nodeset seen;
    if (phn_nodeset_init(&seen, completed_size, phn_term_identical, NULL) != PHN_OK)
        return PHN_ENOMEM;

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
        if (phn_nodeset_insert(&seen, pair[0], phn_term_hash(pair[0]), 0, NULL) < 0) {
            rc = PHN_ENOMEM;
            break;
        }
    }
    if (rc == PHN_OK && !enif_is_empty_list(env, tail))
        rc = PHN_EINVAL; /* improper list */
    if (rc == PHN_OK)
        *answer = !missing && phn_nodeset_size(&seen) == completed_size;
    phn_nodeset_free(&seen);
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

static int is_big_op(ErlNifEnv *env, ERL_NIF_TERM op, ERL_NIF_TERM list_key)
{
    ERL_NIF_TERM list;
    return enif_get_map_value(env, op, list_key, &list) &&
           phn_list_longer_than(env, list, PHN_DIRTY_THRESHOLD);
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
    int big = is_big_op(env, argv[0], phn_atoms.sub_requests);
    return phn_run_sized(env, "record_response", record_response_run, big, argc, argv);
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
    int big = is_big_op(env, argv[0], phn_atoms.nodes_data);
    return phn_run_sized(env, "all_responded?", all_responded_run, big, argc, argv);
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
    int big = is_big_op(env, argv[0], phn_atoms.sub_requests) ||
              is_big_op(env, argv[0], phn_atoms.nodes_data);
    return phn_run_sized(env, "process_response", process_response_run, big, argc, argv);
}
