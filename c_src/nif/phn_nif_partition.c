/* The partition strategies (core/phn_partition) for phn_partition.erl. The strategy is the
 * Elixir struct map; the state is a map holding the original's misc-storage keys
 * (dynamic_quorum_down_nodes, majority_quorum_max_seen), absent when not stored; other
 * keys pass through untouched. Node keys are the atom terms themselves. */
#include <string.h>

#include "phn_alloc.h"
#include "phn_nif_atoms.h"
#include "phn_nif_funcs.h"
#include "phn_nif_terms.h"
#include "phn_partition.h"
#include "phn_status.h"

/* true -> 1, false / nil -> 0 (Elixir's falsy values), anything else is bad input. */
static int get_flag(ERL_NIF_TERM map_term, ErlNifEnv *env, ERL_NIF_TERM key, int dflt, int *out)
{
    ERL_NIF_TERM v;
    if (!enif_get_map_value(env, map_term, key, &v)) {
        *out = dflt;
        return 1;
    }
    if (enif_is_identical(v, phn_atoms.true_))
        *out = 1;
    else if (enif_is_identical(v, phn_atoms.false_) || enif_is_identical(v, phn_atoms.nil))
        *out = 0;
    else
        return 0;
    return 1;
}

/* An integer (within 64 bits) or a float. */
static int get_number(ErlNifEnv *env, ERL_NIF_TERM t, double *out)
{
    ErlNifSInt64 i;
    if (enif_get_int64(env, t, &i)) {
        *out = (double)i;
        return 1;
    }
    return enif_get_double(env, t, out);
}

static int get_number_field(ErlNifEnv *env, ERL_NIF_TERM map_term, ERL_NIF_TERM key, int required,
                            double dflt, double *out)
{
    ERL_NIF_TERM v;
    if (!enif_get_map_value(env, map_term, key, &v)) {
        *out = dflt;
        return !required;
    }
    return get_number(env, v, out);
}

static int decode_strategy(ErlNifEnv *env, ERL_NIF_TERM t, phn_pt_strategy *s)
{
    ERL_NIF_TERM mod, v;
    if (!enif_is_map(env, t) || !enif_get_map_value(env, t, phn_atoms.struct_, &mod))
        return 0;
    if (enif_is_identical(mod, phn_atoms.pt_divergence)) {
        phn_pt_defaults(s, PHN_PT_DIVERGENCE);
        return 1;
    }
    if (enif_is_identical(mod, phn_atoms.pt_static)) {
        phn_pt_defaults(s, PHN_PT_STATIC);
        return get_number_field(env, t, phn_atoms.quorum_size, 1, 0, &s->quorum_size) &&
               get_flag(t, env, phn_atoms.startup_confirm, 0, &s->startup_confirm);
    }
    if (enif_is_identical(mod, phn_atoms.pt_dynamic)) {
        phn_pt_defaults(s, PHN_PT_DYNAMIC);
        return get_number_field(env, t, phn_atoms.quorum_size, 1, 0, &s->quorum_size) &&
               get_number_field(env, t, phn_atoms.threshold_time, 0, 30.0, &s->threshold_time);
    }
    if (enif_is_identical(mod, phn_atoms.pt_majority)) {
        phn_pt_defaults(s, PHN_PT_MAJORITY);
        if (enif_get_map_value(env, t, phn_atoms.initial_cluster_size, &v)) {
            ErlNifSInt64 n;
            if (!enif_get_int64(env, v, &n))
                return 0;
            s->initial_cluster_size = n;
        }
        return get_flag(t, env, phn_atoms.track_max_size, 1, &s->track_max_size);
    }
    return 0;
}

/* State map -> core state. The log array is allocated here; the caller frees it. */
static int decode_state(ErlNifEnv *env, ERL_NIF_TERM t, phn_pt_state *st)
{
    ERL_NIF_TERM v;
    memset(st, 0, sizeof(*st));
    if (!enif_is_map(env, t))
        return PHN_EINVAL;
    if (enif_get_map_value(env, t, phn_atoms.majority_quorum_max_seen, &v) &&
        !enif_is_identical(v, phn_atoms.nil)) {
        ErlNifSInt64 n;
        if (!enif_get_int64(env, v, &n))
            return PHN_EINVAL;
        st->has_max_seen = 1;
        st->max_seen = n;
    }
    if (!enif_get_map_value(env, t, phn_atoms.dynamic_quorum_down_nodes, &v) ||
        enif_is_identical(v, phn_atoms.nil))
        return PHN_OK;

    unsigned len;
    if (!enif_get_list_length(env, v, &len))
        return PHN_EINVAL;
    phn_pt_down *rows = len ? phn_calloc(len, sizeof(*rows)) : NULL;
    if (len && rows == NULL)
        return PHN_ENOMEM;
    ERL_NIF_TERM head, tail = v;
    size_t n = 0;
    while (enif_get_list_cell(env, tail, &head, &tail)) {
        const ERL_NIF_TERM *tuple;
        int arity;
        ErlNifSInt64 time;
        if (!enif_get_tuple(env, head, &arity, &tuple) || arity != 2 ||
            !enif_is_atom(env, tuple[0]) || !enif_get_int64(env, tuple[1], &time)) {
            phn_free(rows);
            return PHN_EINVAL;
        }
        rows[n++] = (phn_pt_down){(uint64_t)tuple[0], time};
    }
    int rc = phn_pt_state_set_log(st, rows, n);
    phn_free(rows);
    return rc;
}

static ERL_NIF_TERM encode_log(ErlNifEnv *env, const phn_pt_state *st)
{
    ERL_NIF_TERM list = enif_make_list(env, 0);
    for (size_t i = st->log_len; i-- > 0;) {
        ERL_NIF_TERM row = enif_make_tuple2(env, (ERL_NIF_TERM)st->log[i].node,
                                            enif_make_int64(env, st->log[i].time));
        list = enif_make_list_cell(env, row, list);
    }
    return list;
}

/* The input map with the two stored keys replaced by the core state's values. */
static ERL_NIF_TERM encode_state(ErlNifEnv *env, ERL_NIF_TERM in, const phn_pt_state *st)
{
    ERL_NIF_TERM out = in;
    if (st->has_log)
        enif_make_map_put(env, out, phn_atoms.dynamic_quorum_down_nodes, encode_log(env, st), &out);
    if (st->has_max_seen)
        enif_make_map_put(env, out, phn_atoms.majority_quorum_max_seen,
                          enif_make_int64(env, st->max_seen), &out);
    return out;
}

/* A proper list of atoms; its length is the cluster size. */
static int cluster_size(ErlNifEnv *env, ERL_NIF_TERM nodes, size_t *size)
{
    ERL_NIF_TERM head, tail = nodes;
    size_t n = 0;
    while (enif_get_list_cell(env, tail, &head, &tail)) {
        if (!enif_is_atom(env, head))
            return 0;
        n++;
    }
    *size = n;
    return enif_is_empty_list(env, tail);
}

static ERL_NIF_TERM bool_term(int b)
{
    return b ? phn_atoms.true_ : phn_atoms.false_;
}

/* partition_eval(Op, Strategy, Nodes, Node, NowSeconds, State) -> {boolean(), State'}
 * Op: init | lock | unlock | check. */
static ERL_NIF_TERM partition_eval_run(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    phn_pt_strategy s;
    size_t size;
    ErlNifSInt64 now;
    ERL_NIF_TERM op = argv[0];
    if (!decode_strategy(env, argv[1], &s) || !cluster_size(env, argv[2], &size) ||
        !enif_is_atom(env, argv[3]) || !enif_get_int64(env, argv[4], &now))
        return enif_make_badarg(env);

    phn_pt_state st;
    int rc = decode_state(env, argv[5], &st);
    if (rc == PHN_OK) {
        uint64_t node = (uint64_t)argv[3];
        if (enif_is_identical(op, phn_atoms.init))
            rc = phn_pt_init(&s, size, &st);
        else if (enif_is_identical(op, phn_atoms.lock))
            rc = phn_pt_toggle_lock(&s, size, node, now, &st);
        else if (enif_is_identical(op, phn_atoms.unlock))
            rc = phn_pt_toggle_unlock(&s, size, node, now, &st);
        else if (enif_is_identical(op, phn_atoms.check))
            rc = phn_pt_has_quorum(&s, size, &st);
        else
            rc = PHN_EINVAL;
    }
    ERL_NIF_TERM result;
    if (rc == PHN_ENOMEM)
        result = phn_raise_enomem(env);
    else if (rc < 0)
        result = enif_make_badarg(env);
    else
        result = enif_make_tuple2(env, bool_term(rc), encode_state(env, argv[5], &st));
    phn_pt_state_free(&st);
    return result;
}

static int big_input(ErlNifEnv *env, ERL_NIF_TERM list)
{
    return phn_list_longer_than(env, list, PHN_DIRTY_THRESHOLD);
}

ERL_NIF_TERM phn_nif_partition_eval(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    ERL_NIF_TERM log;
    int big = big_input(env, argv[2]) ||
              (enif_get_map_value(env, argv[5], phn_atoms.dynamic_quorum_down_nodes, &log) &&
               big_input(env, log));
    return phn_run_sized(env, "partition_eval", partition_eval_run, big, argc, argv);
}

/* partition_sync_log(State, RemoteLog) -> State': the remote log replaces the local one
 * only when strictly longer (DynamicQuorum.sync_quorum_log). */
static ERL_NIF_TERM partition_sync_log_run(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    phn_pt_state local, remote = {0};
    ERL_NIF_TERM wrapped;
    int rc = decode_state(env, argv[0], &local);
    if (rc != PHN_OK) {
        phn_pt_state_free(&local);
        return rc == PHN_ENOMEM ? phn_raise_enomem(env) : enif_make_badarg(env);
    }
    /* Validate the remote log with the same decoder as a stored one. */
    if (!enif_make_map_put(env, enif_make_new_map(env), phn_atoms.dynamic_quorum_down_nodes,
                           argv[1], &wrapped) ||
        (rc = decode_state(env, wrapped, &remote)) != PHN_OK || !enif_is_list(env, argv[1])) {
        phn_pt_state_free(&local);
        phn_pt_state_free(&remote);
        return rc == PHN_ENOMEM ? phn_raise_enomem(env) : enif_make_badarg(env);
    }
    ERL_NIF_TERM out = argv[0];
    if (phn_pt_sync_takes_remote(&local, remote.log_len))
        enif_make_map_put(env, out, phn_atoms.dynamic_quorum_down_nodes, argv[1], &out);
    phn_pt_state_free(&local);
    phn_pt_state_free(&remote);
    return out;
}

ERL_NIF_TERM phn_nif_partition_sync_log(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    return phn_run_sized(env, "partition_sync_log", partition_sync_log_run, big_input(env, argv[1]),
                         argc, argv);
}
