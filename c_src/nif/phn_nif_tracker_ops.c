/* phn_tracker's operations. Every call validates its terms (badarg), checks its reference
 * against the key cap before any other work, writes the images of the terms it keeps
 * before taking the tracker's lock, takes the lock only around table and progress work,
 * and builds the terms it hands back after the lock is released: from the operation when
 * it left the table, else from a snapshot that holds its images (not copies). Operations
 * that are costly to free are freed by the reaper. A call whose copying would walk more
 * than TR_DIRTY_WORK elements runs on a dirty CPU scheduler: known up front from its
 * arguments (the length of Expected), found while writing an image (phn_flat_encode stops
 * at the budget), or found under the lock (the operation's kept terms are big), in which
 * case it lets the lock go and reschedules itself dirty; the dirty run starts over. */
#include <string.h>

#include "phn_alloc.h"
#include "phn_nif_atoms.h"
#include "phn_nif_funcs.h"
#include "phn_nif_terms.h"
#include "phn_nif_tracker.h"
#include "phn_status.h"

typedef ERL_NIF_TERM (*tr_nif_fn)(ErlNifEnv *, int, const ERL_NIF_TERM[]);

static int tracker_and_key(ErlNifEnv *env, const ERL_NIF_TERM argv[], tracker **t, tr_key *k)
{
    return tr_get(env, argv[0], t) && tr_key_of(env, argv[1], k);
}

static tr_op *find(const tracker *t, const tr_key *k)
{
    phn_optable_key probe = tr_key_probe(k);
    return t->table != NULL ? phn_optable_get_key(t->table, &probe) : NULL;
}

/* Under the lock: remove the operation (found by find) from the table. */
static void remove_op(tracker *t, const tr_key *k, tr_op *op)
{
    phn_optable_key probe = tr_key_probe(k);
    (void)phn_optable_remove_key(t->table, &probe);
    tr_account_remove(t, op);
}

/* {meta, M} -> 1 and *meta; none / keep -> 0 and *given = 0; anything else -> -1. */
static int meta_arg(ErlNifEnv *env, ERL_NIF_TERM term, ERL_NIF_TERM none, ERL_NIF_TERM *meta)
{
    int arity;
    const ERL_NIF_TERM *elems;
    if (enif_is_identical(term, none))
        return 0;
    if (enif_get_tuple(env, term, &arity, &elems) && arity == 2 &&
        enif_is_identical(elems[0], phn_atoms.tr_meta)) {
        *meta = elems[1];
        return 1;
    }
    return -1;
}

static ERL_NIF_TERM error_tuple(ErlNifEnv *env, ERL_NIF_TERM reason)
{
    return enif_make_tuple2(env, phn_atoms.error, reason);
}

static ERL_NIF_TERM dirty(ErlNifEnv *env, const char *name, tr_nif_fn fn, int argc,
                          const ERL_NIF_TERM argv[])
{
    return enif_schedule_nif(env, name, ERL_NIF_DIRTY_JOB_CPU_BOUND, fn, argc, argv);
}

/* --- track ------------------------------------------------------------------------------- */

enum { PARSE_OK, PARSE_BADARG, PARSE_LIMIT, PARSE_ENOMEM };

/* Expected = [Node | {Node, Chunks}], Node an atom, 1 =< Chunks =< 2^32 - 1; a node listed
 * twice owes the sum. At most max_nodes entries. */
static int parse_expected(ErlNifEnv *env, ERL_NIF_TERM list, size_t max_nodes, phn_progress **out)
{
    size_t len;
    int rc = phn_list_length_upto(env, list, max_nodes, &len);
    if (rc != PHN_OK)
        return rc == PHN_ELIMIT ? PARSE_LIMIT : PARSE_BADARG;
    phn_progress *p = phn_progress_new(len, NULL, NULL);
    if (p == NULL)
        return PARSE_ENOMEM;
    ERL_NIF_TERM head, tail = list;
    while (enif_get_list_cell(env, tail, &head, &tail)) {
        ERL_NIF_TERM node = head;
        ErlNifUInt64 chunks = 1;
        int arity;
        const ERL_NIF_TERM *elems;
        if (enif_get_tuple(env, head, &arity, &elems)) {
            if (arity != 2 || !enif_get_uint64(env, elems[1], &chunks) || chunks == 0 ||
                chunks > UINT32_MAX) {
                phn_progress_free(p);
                return PARSE_BADARG;
            }
            node = elems[0];
        }
        if (!enif_is_atom(env, node)) {
            phn_progress_free(p);
            return PARSE_BADARG;
        }
        rc = phn_progress_expect(p, (uint64_t)node, (uint64_t)node, (uint32_t)chunks);
        if (rc != PHN_OK) {
            phn_progress_free(p);
            return rc == PHN_ENOMEM ? PARSE_ENOMEM : PARSE_BADARG;
        }
    }
    *out = p;
    return PARSE_OK;
}

/* tracker_track(T, Ref, Expected, DeadlineMs, none | {meta, M})
 *   -> ok | {error, already_tracked | limit | closed} */
static ERL_NIF_TERM track_dirty(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);

/* listed: the length of Expected (known to fit the budget). On a normal scheduler the
 * meta's image is written within the budget left; past it, the call starts over on a
 * dirty scheduler. */
static ERL_NIF_TERM track_run(ErlNifEnv *env, const ERL_NIF_TERM argv[], size_t listed,
                              int on_normal, size_t *work)
{
    tracker *t;
    tr_key k;
    ErlNifSInt64 deadline;
    ERL_NIF_TERM meta = 0;
    int has_meta = meta_arg(env, argv[4], phn_atoms.tr_none, &meta);
    *work = listed;
    if (!tracker_and_key(env, argv, &t, &k) || !enif_get_int64(env, argv[3], &deadline) ||
        has_meta < 0)
        return enif_make_badarg(env);
    tr_blob *kept = NULL;
    size_t meta_weight = 0;
    if (has_meta) {
        size_t budget = on_normal ? TR_DIRTY_WORK - listed : SIZE_MAX;
        int rc = tr_blob_encode(env, meta, budget, &kept, &meta_weight);
        if (rc == PHN_ELIMIT) {
            *work = TR_DIRTY_WORK;
            return dirty(env, "tracker_track", track_dirty, 5, argv);
        }
        if (rc != PHN_OK)
            return phn_raise_enomem(env);
    }
    *work = tr_weight_add(listed, meta_weight);

    phn_progress *p = NULL;
    int parsed = parse_expected(env, argv[2], t->max_nodes, &p);
    if (parsed != PARSE_OK) {
        tr_blob_release(kept);
        if (parsed == PARSE_LIMIT)
            return error_tuple(env, phn_atoms.tr_limit);
        return parsed == PARSE_ENOMEM ? phn_raise_enomem(env) : enif_make_badarg(env);
    }
    size_t nodes = phn_progress_nodes(p);
    tr_op *op = nodes <= (SIZE_MAX - sizeof(tr_op)) / sizeof(tr_blob *)
                    ? phn_calloc(1, sizeof(tr_op) + nodes * sizeof(tr_blob *))
                    : NULL;
    if (op == NULL) {
        tr_blob_release(kept);
        phn_progress_free(p);
        return phn_raise_enomem(env);
    }
    op->progress = p;
    op->deadline = deadline;
    op->meta = kept;
    op->meta_weight = meta_weight;
    /* Blocks: this one, the progress (struct, node index, node array), the table entry;
     * and the key's copy (its size as measured). */
    op->bytes = sizeof(tr_op) + nodes * sizeof(tr_blob *) + phn_progress_bytes(p) +
                5 * TR_ALLOC_OVERHEAD + tr_blob_bytes(kept) + k.units;
    tr_global_op(op, 1);
    if (has_meta)
        tr_global_kept_term(1);

    ErlNifEnv *emptied = NULL;
    size_t emptied_units = 0;
    enif_mutex_lock(t->lock);
    int rc = PHN_ENOTFOUND;
    if (t->table != NULL) {
        rc = PHN_ENOMEM;
        if (tr_keys_adopt(t, op, env, &k)) {
            phn_optable_key probe = tr_key_probe(&k);
            rc = phn_optable_insert_key(t->table, &probe, deadline, op);
            if (rc != PHN_OK)
                tr_keys_drop(t, op);
        }
        if (rc == PHN_OK) {
            phn_progress_set_counters(p, &t->counters);
            tr_account_insert(t, op);
        }
        emptied = tr_keys_step(t, &emptied_units);
    }
    enif_mutex_unlock(t->lock);
    tr_dispose_env(emptied, emptied_units);
    if (rc == PHN_OK)
        return phn_atoms.ok;
    tr_op_free(op);
    switch (rc) {
    case PHN_EEXIST:
        return error_tuple(env, phn_atoms.tr_already_tracked);
    case PHN_ELIMIT:
        return error_tuple(env, phn_atoms.tr_limit);
    case PHN_ENOTFOUND:
        return error_tuple(env, phn_atoms.tr_closed);
    case PHN_ENOMEM:
        return phn_raise_enomem(env);
    default:
        return enif_make_badarg(env);
    }
}

static ERL_NIF_TERM track_dirty(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    size_t work;
    return track_run(env, argv, 0, 0, &work);
}

ERL_NIF_TERM phn_nif_tracker_track(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    size_t listed = phn_list_count_upto(env, argv[2], TR_DIRTY_WORK);
    if (listed > TR_DIRTY_WORK)
        return dirty(env, "tracker_track", track_dirty, argc, argv);
    size_t work;
    ERL_NIF_TERM out = track_run(env, argv, listed, 1, &work);
    phn_consume_work(env, work);
    return out;
}

/* --- record ------------------------------------------------------------------------------ */

static ERL_NIF_TERM ignored(ErlNifEnv *env, ERL_NIF_TERM why)
{
    return enif_make_tuple2(env, phn_atoms.tr_ignored, why);
}

static ERL_NIF_TERM pending(ErlNifEnv *env, size_t missing)
{
    return enif_make_tuple2(env, phn_atoms.pending, enif_make_uint64(env, missing));
}

/* Under the lock: count a response for no operation (op NULL) or from a node that is not
 * an atom, and give the reason. */
static ERL_NIF_TERM ignore_missing(tracker *t, const tr_op *op)
{
    if (op == NULL) {
        t->ignored_unknown++;
        return phn_atoms.tr_unknown_operation;
    }
    t->ignored_unexpected++;
    return phn_atoms.tr_unexpected_node;
}

/* Under the lock: count an ignored chunk (PHN_REC_UNEXPECTED or PHN_REC_EXTRA). */
static ERL_NIF_TERM ignore_rec(tracker *t, phn_rec_result rec)
{
    if (rec == PHN_REC_UNEXPECTED) {
        t->ignored_unexpected++;
        return phn_atoms.tr_unexpected_node;
    }
    t->ignored_extra++;
    return phn_atoms.tr_extra_chunk;
}

static ERL_NIF_TERM record_dirty(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);

/* tracker_record(T, Ref, Node, Results, WithMeta)
 *   -> {pending, MissingCount} | {complete, Collected} | {complete, Collected, Meta}
 *    | {ignored, unknown_operation | unexpected_node | extra_chunk} */
static ERL_NIF_TERM record_run(ErlNifEnv *env, const ERL_NIF_TERM argv[], int on_normal,
                               size_t *work)
{
    tracker *t;
    tr_key k;
    ERL_NIF_TERM node = argv[2];
    *work = 1;
    if (!tracker_and_key(env, argv, &t, &k) || (!enif_is_identical(argv[4], phn_atoms.true_) &&
                                                !enif_is_identical(argv[4], phn_atoms.false_)))
        return enif_make_badarg(env);
    int with_meta = enif_is_identical(argv[4], phn_atoms.true_);
    /* Written before the lock is taken, so that nothing is held while the term is walked
     * (and freed again when the response is ignored); on a normal scheduler within the
     * budget, past which the call starts over on a dirty one. */
    tr_blob *chunk = NULL;
    size_t w = 0;
    int rc = tr_blob_encode(env, argv[3], on_normal ? TR_DIRTY_WORK : SIZE_MAX, &chunk, &w);
    if (rc == PHN_ELIMIT) {
        *work = TR_DIRTY_WORK;
        return dirty(env, "tracker_record", record_dirty, 5, argv);
    }
    if (rc != PHN_OK)
        return phn_raise_enomem(env);
    *work = w;

    enif_mutex_lock(t->lock);
    tr_op *op = find(t, &k);
    if (op == NULL || !enif_is_atom(env, node)) { /* expected nodes are atoms */
        ERL_NIF_TERM why = ignore_missing(t, op);
        enif_mutex_unlock(t->lock);
        tr_blob_release(chunk);
        return ignored(env, why);
    }
    /* This chunk may complete the operation, whose results are then copied out. */
    if (on_normal && phn_progress_missing_nodes(op->progress) <= 1 &&
        tr_weight_add(tr_op_weight(op), w) > TR_DIRTY_WORK) {
        enif_mutex_unlock(t->lock);
        tr_blob_release(chunk);
        *work = 0;
        return dirty(env, "tracker_record", record_dirty, 5, argv);
    }
    size_t idx = 0;
    phn_rec_result rec = phn_progress_record(op->progress, (uint64_t)node, (uint64_t)node, &idx);
    if (rec == PHN_REC_UNEXPECTED || rec == PHN_REC_EXTRA) {
        ERL_NIF_TERM why = ignore_rec(t, rec);
        enif_mutex_unlock(t->lock);
        tr_blob_release(chunk);
        return ignored(env, why);
    }
    tr_op_keep_chunk(t, op, idx, chunk, w);
    t->records++;
    if (rec == PHN_REC_PENDING) {
        size_t missing = phn_progress_missing_nodes(op->progress);
        enif_mutex_unlock(t->lock);
        return pending(env, missing);
    }

    t->completes++;
    remove_op(t, &k, op);
    enif_mutex_unlock(t->lock);
    *work = tr_weight_add(w, tr_op_weight(op));
    ERL_NIF_TERM collected = 0, meta = 0, out = 0;
    tr_snap *snap = tr_snap_take(op); /* the operation is ours: no lock needed */
    int ok = snap != NULL && tr_collected(env, snap, &collected) &&
             (!with_meta || tr_meta(env, snap->meta, &meta));
    if (ok && with_meta)
        out = enif_make_tuple3(env, phn_atoms.complete, collected, meta);
    else if (ok)
        out = enif_make_tuple2(env, phn_atoms.complete, collected);
    tr_snap_free(snap);
    tr_dispose_op(op);
    return ok ? out : phn_raise_enomem(env);
}

static ERL_NIF_TERM record_dirty(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    size_t work;
    return record_run(env, argv, 0, &work);
}

ERL_NIF_TERM phn_nif_tracker_record(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    size_t work;
    ERL_NIF_TERM out = record_run(env, argv, 1, &work);
    phn_consume_work(env, work + 1);
    return out;
}

/* --- count ------------------------------------------------------------------------------- */

/* tracker_count(T, Ref, Node) -> {pending, MissingCount} | complete
 *                              | {ignored, unknown_operation | unexpected_node | extra_chunk}
 * One chunk of Node, as record, keeping no term: a lookup and counter updates under the
 * lock, no allocation; on completion the operation is removed and only the atom built. */
ERL_NIF_TERM phn_nif_tracker_count(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    tracker *t;
    tr_key k;
    ERL_NIF_TERM node = argv[2];
    if (!tracker_and_key(env, argv, &t, &k))
        return enif_make_badarg(env);
    enif_mutex_lock(t->lock);
    tr_op *op = find(t, &k);
    if (op == NULL || !enif_is_atom(env, node)) {
        ERL_NIF_TERM why = ignore_missing(t, op);
        enif_mutex_unlock(t->lock);
        return ignored(env, why);
    }
    phn_rec_result rec = phn_progress_record(op->progress, (uint64_t)node, (uint64_t)node, NULL);
    if (rec == PHN_REC_UNEXPECTED || rec == PHN_REC_EXTRA) {
        ERL_NIF_TERM why = ignore_rec(t, rec);
        enif_mutex_unlock(t->lock);
        return ignored(env, why);
    }
    t->records++;
    if (rec == PHN_REC_PENDING) {
        size_t missing = phn_progress_missing_nodes(op->progress);
        enif_mutex_unlock(t->lock);
        return pending(env, missing);
    }
    t->completes++;
    remove_op(t, &k, op);
    enif_mutex_unlock(t->lock);
    tr_dispose_op(op);
    return phn_atoms.complete;
}

/* --- get / peek / take ------------------------------------------------------------------- */

typedef enum { FETCH_GET, FETCH_PEEK, FETCH_TAKE } fetch_kind;

static ERL_NIF_TERM get_dirty(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
static ERL_NIF_TERM peek_dirty(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
static ERL_NIF_TERM take_dirty(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);

/* get  -> {ok, Info} | {error, not_found}        (the operation stays)
 * peek -> {ok, Meta, MissingCount} | {error, not_found}
 * take -> {ok, Info} | {error, not_found}        (the operation is removed) */
static ERL_NIF_TERM fetch_run(ErlNifEnv *env, const ERL_NIF_TERM argv[], fetch_kind kind,
                              int on_normal, size_t *work)
{
    static const tr_nif_fn dirty_fn[] = {get_dirty, peek_dirty, take_dirty};
    tracker *t;
    tr_key k;
    *work = 1;
    if (!tracker_and_key(env, argv, &t, &k))
        return enif_make_badarg(env);
    enif_mutex_lock(t->lock);
    tr_op *op = find(t, &k);
    if (op == NULL) {
        enif_mutex_unlock(t->lock);
        return error_tuple(env, phn_atoms.tr_not_found);
    }
    size_t cost = kind == FETCH_PEEK ? op->meta_weight : tr_op_weight(op);
    if (on_normal && cost > TR_DIRTY_WORK) {
        enif_mutex_unlock(t->lock);
        *work = 0;
        return dirty(env, "tracker_fetch", dirty_fn[kind], 2, argv);
    }
    *work = tr_weight_add(cost, 1);
    if (kind == FETCH_PEEK) { /* the meta, held (not copied) past the lock */
        tr_blob *meta = tr_blob_retain(op->meta);
        size_t missing = phn_progress_missing_nodes(op->progress);
        enif_mutex_unlock(t->lock);
        ERL_NIF_TERM term;
        int ok = tr_meta(env, meta, &term);
        tr_blob_release(meta);
        if (!ok)
            return phn_raise_enomem(env);
        return enif_make_tuple3(env, phn_atoms.ok, term, enif_make_uint64(env, missing));
    }
    tr_op *taken = NULL;
    if (kind == FETCH_TAKE) {
        remove_op(t, &k, op);
        taken = op;
    }
    /* O(nodes) under the lock, O(terms) after it. */
    tr_snap *snap = tr_snap_take(op);
    enif_mutex_unlock(t->lock);
    ERL_NIF_TERM info = 0;
    int ok = snap != NULL && tr_info(env, snap, argv[1], &info);
    tr_snap_free(snap);
    tr_dispose_op(taken);
    if (!ok)
        return phn_raise_enomem(env);
    return enif_make_tuple2(env, phn_atoms.ok, info);
}

static ERL_NIF_TERM fetch_entry(ErlNifEnv *env, const ERL_NIF_TERM argv[], fetch_kind kind)
{
    size_t work;
    ERL_NIF_TERM out = fetch_run(env, argv, kind, 1, &work);
    phn_consume_work(env, work);
    return out;
}

static ERL_NIF_TERM get_dirty(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    size_t work;
    return fetch_run(env, argv, FETCH_GET, 0, &work);
}

static ERL_NIF_TERM peek_dirty(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    size_t work;
    return fetch_run(env, argv, FETCH_PEEK, 0, &work);
}

static ERL_NIF_TERM take_dirty(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    size_t work;
    return fetch_run(env, argv, FETCH_TAKE, 0, &work);
}

ERL_NIF_TERM phn_nif_tracker_get(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    return fetch_entry(env, argv, FETCH_GET);
}

ERL_NIF_TERM phn_nif_tracker_peek(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    return fetch_entry(env, argv, FETCH_PEEK);
}

ERL_NIF_TERM phn_nif_tracker_take(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    return fetch_entry(env, argv, FETCH_TAKE);
}

/* --- cancel / update --------------------------------------------------------------------- */

/* tracker_cancel(T, Ref) -> ok | {error, not_found} */
ERL_NIF_TERM phn_nif_tracker_cancel(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    tracker *t;
    tr_key k;
    if (!tracker_and_key(env, argv, &t, &k))
        return enif_make_badarg(env);
    enif_mutex_lock(t->lock);
    tr_op *op = find(t, &k);
    if (op != NULL)
        remove_op(t, &k, op);
    enif_mutex_unlock(t->lock);
    if (op == NULL)
        return error_tuple(env, phn_atoms.tr_not_found);
    tr_dispose_op(op);
    phn_consume_work(env, 1);
    return phn_atoms.ok;
}

static ERL_NIF_TERM update_dirty(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);

/* tracker_update(T, Ref, keep | {meta, M}, keep | DeadlineMs) -> ok | {error, not_found}.
 * A new meta replaces the old one (freed), so repeated updates do not grow the operation. */
static ERL_NIF_TERM update_run(ErlNifEnv *env, const ERL_NIF_TERM argv[], int on_normal,
                               size_t *work)
{
    tracker *t;
    tr_key k;
    ERL_NIF_TERM meta = 0;
    ErlNifSInt64 deadline = 0;
    int has_meta = meta_arg(env, argv[2], phn_atoms.tr_keep, &meta);
    int has_deadline = !enif_is_identical(argv[3], phn_atoms.tr_keep);
    *work = 1;
    if (!tracker_and_key(env, argv, &t, &k) || has_meta < 0 ||
        (has_deadline && !enif_get_int64(env, argv[3], &deadline)))
        return enif_make_badarg(env);
    /* The new meta's image, written before the lock is taken (nothing is held while the
     * term is walked); on a normal scheduler within the budget, past which the call starts
     * over on a dirty one. */
    tr_blob *kept = NULL;
    size_t meta_weight = 0;
    if (has_meta) {
        int rc =
            tr_blob_encode(env, meta, on_normal ? TR_DIRTY_WORK : SIZE_MAX, &kept, &meta_weight);
        if (rc == PHN_ELIMIT) {
            *work = TR_DIRTY_WORK;
            return dirty(env, "tracker_update", update_dirty, 4, argv);
        }
        if (rc != PHN_OK)
            return phn_raise_enomem(env);
    }
    *work = tr_weight_add(meta_weight, 1);

    enif_mutex_lock(t->lock);
    tr_op *op = find(t, &k);
    if (op == NULL) {
        enif_mutex_unlock(t->lock);
        tr_blob_release(kept);
        return error_tuple(env, phn_atoms.tr_not_found);
    }
    tr_blob *old = has_meta ? tr_op_replace_meta(t, op, kept, meta_weight) : NULL;
    if (has_deadline) {
        phn_optable_key probe = tr_key_probe(&k);
        (void)phn_optable_set_deadline_key(t->table, &probe, deadline);
        op->deadline = deadline;
    }
    enif_mutex_unlock(t->lock);
    tr_dispose_blob(old); /* not under the lock, and a big one not on this scheduler */
    return phn_atoms.ok;
}

static ERL_NIF_TERM update_dirty(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    size_t work;
    return update_run(env, argv, 0, &work);
}

ERL_NIF_TERM phn_nif_tracker_update(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    size_t work;
    ERL_NIF_TERM out = update_run(env, argv, 1, &work);
    phn_consume_work(env, work);
    return out;
}
