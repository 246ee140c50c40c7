/* phn_tracker: expiry. tracker_cleanup removes expired operations (now > deadline),
 * earliest deadline first, in batches bounded by count and by work, and hands back what
 * the caller asked for: their infos (cleanup_expired), their references (take_expired) or
 * their number (drop_expired). An operation without terms costs a heap pop and a few
 * frees; one that is costly to free goes to the reaper; only infos copy terms out, and
 * they are built after the lock is released. */
#include "phn_alloc.h"
#include "phn_nif_atoms.h"
#include "phn_nif_funcs.h"
#include "phn_nif_terms.h"
#include "phn_nif_tracker.h"
#include "phn_status.h"

/* What removing one operation costs beyond its terms, in elements (a pop, a key copy,
 * the frees), and what building its info adds: keeps a batch on a normal scheduler well
 * under a millisecond. */
#define TR_POP_COST 25
#define TR_INFO_COST 25
/* Cleanup batches never hold more operations than this, dirty or not. */
#define TR_MAX_BATCH 100000

typedef enum { WANT_INFOS, WANT_REFS, WANT_COUNT } cleanup_want;

typedef struct popped {
    tr_op *op;
    ERL_NIF_TERM ref;
} popped;

static ERL_NIF_TERM cleanup_dirty(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);

static int want_of(ERL_NIF_TERM term, cleanup_want *want)
{
    if (enif_is_identical(term, phn_atoms.true_))
        *want = WANT_INFOS;
    else if (enif_is_identical(term, phn_atoms.tr_ref))
        *want = WANT_REFS;
    else if (enif_is_identical(term, phn_atoms.false_))
        *want = WANT_COUNT;
    else
        return 0;
    return 1;
}

/* tracker_cleanup(T, NowMs, MaxBatch, true | ref | false)
 *   -> {done | more, [Info] | [Ref] | Count}: at most MaxBatch, and on a normal scheduler
 * at most TR_DIRTY_WORK elements of work; `more` when expired ones remain. */
static ERL_NIF_TERM cleanup_run(ErlNifEnv *env, const ERL_NIF_TERM argv[], int on_normal,
                                size_t *work)
{
    tracker *t;
    ErlNifSInt64 now;
    ErlNifUInt64 max;
    cleanup_want want;
    *work = 1;
    if (!tr_get(env, argv[0], &t) || !enif_get_int64(env, argv[1], &now) ||
        !enif_get_uint64(env, argv[2], &max) || max == 0 || !want_of(argv[3], &want))
        return enif_make_badarg(env);
    if (max > TR_MAX_BATCH)
        max = TR_MAX_BATCH;
    popped *items = phn_calloc((size_t)max, sizeof(*items));
    if (items == NULL)
        return phn_raise_enomem(env);

    enif_mutex_lock(t->lock);
    tr_op *next = t->table != NULL ? phn_optable_peek_expired(t->table, now) : NULL;
    if (on_normal && want == WANT_INFOS && next != NULL && tr_op_weight(next) > TR_DIRTY_WORK) {
        enif_mutex_unlock(t->lock);
        phn_free(items);
        *work = 0;
        return enif_schedule_nif(env, "tracker_cleanup", ERL_NIF_DIRTY_JOB_CPU_BOUND, cleanup_dirty,
                                 4, argv);
    }
    size_t n = 0, spent = 0, budget = on_normal ? TR_DIRTY_WORK : SIZE_MAX;
    while (next != NULL && n < max) {
        /* What popping it costs here: the pop, its inline free (a dearer one goes to the
         * reaper, see tr_dispose_op) and, for infos, building its terms. */
        size_t free_cost = tr_op_free_cost(next);
        size_t w = tr_weight_add(TR_POP_COST, free_cost <= TR_FREE_INLINE ? free_cost : 1);
        if (want == WANT_INFOS)
            w = tr_weight_add(w, tr_weight_add(tr_op_weight(next), TR_INFO_COST));
        if (n > 0 && tr_weight_add(spent, w) > budget)
            break;
        tr_op *op = phn_optable_pop_expired(t->table, now, NULL, NULL);
        /* The key's environment may be compacted once the lock is let go: copy it now. */
        items[n].ref = want != WANT_COUNT ? enif_make_copy(env, op->key) : 0;
        tr_account_remove(t, op);
        items[n].op = op;
        n++;
        spent = tr_weight_add(spent, w);
        next = phn_optable_peek_expired(t->table, now);
    }
    /* Infos are built from the removed operations, which are this call's alone. */
    enif_mutex_unlock(t->lock);
    *work = spent;

    ERL_NIF_TERM list = enif_make_list(env, 0), info;
    int ok = 1;
    for (size_t i = n; i-- > 0;) {
        if (want == WANT_INFOS && ok) {
            tr_snap *snap = tr_snap_take(items[i].op);
            ok = snap != NULL && tr_info(env, snap, items[i].ref, &info);
            tr_snap_free(snap);
            if (ok)
                list = enif_make_list_cell(env, info, list);
        } else if (want == WANT_REFS) {
            list = enif_make_list_cell(env, items[i].ref, list);
        }
        tr_dispose_op(items[i].op);
    }
    phn_free(items);
    if (!ok)
        return phn_raise_enomem(env);
    return enif_make_tuple2(env, next != NULL ? phn_atoms.tr_more : phn_atoms.tr_done,
                            want == WANT_COUNT ? enif_make_uint64(env, n) : list);
}

static ERL_NIF_TERM cleanup_dirty(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    size_t work;
    return cleanup_run(env, argv, 0, &work);
}

ERL_NIF_TERM phn_nif_tracker_cleanup(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    size_t work;
    ERL_NIF_TERM out = cleanup_run(env, argv, 1, &work);
    phn_consume_work(env, work);
    return out;
}
