/* phn_tracker: the resource. A tracker is created by (and owned by) the calling process,
 * which it monitors; while monitored, the resource is kept alive (enif_keep_resource), so
 * that a tracker no term refers to still lives as long as its owner. When the owner goes
 * down, or close/1 is called, its table is detached under the lock (the tracker then reads
 * as empty and closed) and freed, and the keep is released: the destructor runs once no
 * term refers to it either. Freeing a table costs O(blocks); a big one is handed to the
 * reaper thread, so that the exiting owner's scheduler (which runs the monitor callback)
 * is never held for long. Global counters (stats/0) include tables still waiting for the
 * reaper. */
#include <stdatomic.h>
#include <string.h>

#include "phn_alloc.h"
#include "phn_nif_atoms.h"
#include "phn_nif_funcs.h"
#include "phn_nif_terms.h"
#include "phn_nif_tracker.h"

static ErlNifResourceType *tr_type;

/* --- global accounting (stats/0) ------------------------------------------------------- */

static atomic_llong g_trackers, g_ops, g_bytes, g_kept_terms;

static void g_add(atomic_llong *c, long long d)
{
    atomic_fetch_add_explicit(c, d, memory_order_relaxed);
}

static long long g_read(atomic_llong *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

void tr_global_op(const tr_op *op, int created)
{
    long long sign = created ? 1 : -1;
    g_add(&g_ops, sign);
    g_add(&g_bytes, sign * (long long)op->bytes);
}

void tr_global_kept_term(int created)
{
    g_add(&g_kept_terms, created ? 1 : -1);
}

static void sync_table_bytes(tracker *t)
{
    size_t now = t->table != NULL ? phn_optable_bytes(t->table) : 0;
    g_add(&g_bytes, (long long)now - (long long)t->table_bytes);
    t->table_bytes = now;
}

void tr_account_table_freed(size_t table_bytes)
{
    g_add(&g_bytes, -(long long)table_bytes);
}

void tr_account_insert(tracker *t, tr_op *op)
{
    op->free_cost = tr_op_free_cost(op);
    t->free_cost += op->free_cost;
    t->op_bytes += op->bytes;
    if (TR_OP_HAS_TERMS(op))
        t->kept_terms++;
    sync_table_bytes(t);
}

void tr_account_remove(tracker *t, tr_op *op)
{
    tr_keys_drop(t, op);
    t->free_cost -= op->free_cost;
    t->op_bytes -= op->bytes;
    if (TR_OP_HAS_TERMS(op))
        t->kept_terms--;
    sync_table_bytes(t);
}

void tr_account_bytes(tracker *t, tr_op *op, long long delta, int in_table)
{
    op->bytes = (size_t)((long long)op->bytes + delta);
    if (in_table) {
        t->op_bytes = (size_t)((long long)t->op_bytes + delta);
        t->free_cost -= op->free_cost;
        op->free_cost = tr_op_free_cost(op);
        t->free_cost += op->free_cost;
    }
    g_add(&g_bytes, delta);
}

/* Detach the table and the key environments (the tracker reads as closed and empty from
 * now on) and free them: here when cheap, else in the reaper. */
static void close_tracker(tracker *t)
{
    if (t->lock == NULL)
        return;
    enif_mutex_lock(t->lock);
    phn_optable *table = t->table;
    size_t ops = table != NULL ? phn_optable_size(table) : 0;
    size_t table_bytes = t->table_bytes;
    size_t cost = t->free_cost + tr_keys_units(t) / 1600;
    ErlNifEnv *env0 = t->keys[0].env, *env1 = t->keys[1].env;
    t->table = NULL;
    t->table_bytes = 0; /* still in g_bytes until the table is freed */
    t->op_bytes = 0;
    t->kept_terms = 0;
    t->free_cost = 0;
    memset(t->keys, 0, sizeof(t->keys));
    enif_mutex_unlock(t->lock);
    tr_dispose_table(table, ops, table_bytes, cost, env0, env1);
}

/* --- resource type ----------------------------------------------------------------------- */

static void tr_dtor(ErlNifEnv *env, void *obj)
{
    (void)env;
    tracker *t = obj;
    close_tracker(t);
    if (t->lock != NULL)
        enif_mutex_destroy(t->lock);
    g_add(&g_trackers, -1);
    g_add(&g_bytes, -(long long)sizeof(tracker));
}

/* 1 when this call ended the monitor (and so owns the release of the keep). */
static int end_monitor(tracker *t)
{
    enif_mutex_lock(t->lock);
    int was = t->monitored;
    t->monitored = 0;
    enif_mutex_unlock(t->lock);
    return was;
}

static void tr_down(ErlNifEnv *env, void *obj, ErlNifPid *pid, ErlNifMonitor *mon)
{
    (void)env;
    (void)pid;
    (void)mon;
    tracker *t = obj;
    if (t->lock == NULL)
        return;
    int release = end_monitor(t);
    close_tracker(t);
    if (release)
        enif_release_resource(t); /* last: the destructor may run now */
}

int phn_nif_tracker_load(ErlNifEnv *env)
{
    ErlNifResourceTypeInit init;
    memset(&init, 0, sizeof(init));
    init.dtor = tr_dtor;
    init.down = tr_down;
    ErlNifResourceType *type = enif_open_resource_type_x(
        env, "phn_tracker", &init, ERL_NIF_RT_CREATE | ERL_NIF_RT_TAKEOVER, NULL);
    if (type == NULL)
        return -1;
    tr_type = type;
    return tr_reap_load();
}

void phn_nif_tracker_unload(void)
{
    tr_reap_unload();
}

int tr_get(ErlNifEnv *env, ERL_NIF_TERM term, tracker **t)
{
    void *obj;
    if (tr_type == NULL || !enif_get_resource(env, term, tr_type, &obj))
        return 0;
    *t = obj;
    return (*t)->lock != NULL;
}

/* --- NIFs: tracker_new/2, tracker_close/1, tracker_size/1, tracker_stats/1,
 *     tracker_global_stats/0 --------------------------------------------------------- */

static int get_size(ErlNifEnv *env, ERL_NIF_TERM term, size_t *out)
{
    ErlNifUInt64 v;
    if (!enif_get_uint64(env, term, &v) || v == 0 || v > SIZE_MAX / 4)
        return 0;
    *out = (size_t)v;
    return 1;
}

/* tracker_new(MaxOps, MaxNodes) -> Tracker, owned and monitored by the caller. */
ERL_NIF_TERM phn_nif_tracker_new(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    size_t max_ops, max_nodes;
    ErlNifPid self;
    if (!get_size(env, argv[0], &max_ops) || !get_size(env, argv[1], &max_nodes) ||
        enif_self(env, &self) == NULL || tr_type == NULL)
        return enif_make_badarg(env);
    tracker *t = enif_alloc_resource(tr_type, sizeof(*t));
    if (t == NULL)
        return phn_raise_enomem(env);
    memset(t, 0, sizeof(*t));
    g_add(&g_trackers, 1);
    g_add(&g_bytes, (long long)sizeof(tracker));
    t->max_ops = max_ops;
    t->max_nodes = max_nodes;
    t->owner = self;
    t->lock = enif_mutex_create("phn_tracker");
    t->table = phn_optable_new(max_ops);
    if (t->lock == NULL || t->table == NULL) {
        if (t->lock == NULL) { /* the destructor cannot close without a lock */
            phn_optable_free(t->table, NULL, NULL);
            t->table = NULL;
        }
        enif_release_resource(t);
        return phn_raise_enomem(env);
    }
    phn_optable_set_counters(t->table, &t->counters);
    sync_table_bytes(t);
    t->monitored = enif_monitor_process(env, t, &self, &t->monitor) == 0;
    if (t->monitored)
        enif_keep_resource(t); /* released when the monitor ends (down or close) */
    ERL_NIF_TERM term = enif_make_resource(env, t);
    enif_release_resource(t);
    return term;
}

/* tracker_close(T) -> ok: free every operation now, as if the owner had gone down. */
ERL_NIF_TERM phn_nif_tracker_close(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    tracker *t;
    if (!tr_get(env, argv[0], &t))
        return enif_make_badarg(env);
    int release = end_monitor(t);
    if (release)
        (void)enif_demonitor_process(env, t, &t->monitor);
    close_tracker(t);
    if (release)
        enif_release_resource(t); /* the caller's term still holds it */
    return phn_atoms.ok;
}

ERL_NIF_TERM phn_nif_tracker_size(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    tracker *t;
    if (!tr_get(env, argv[0], &t))
        return enif_make_badarg(env);
    enif_mutex_lock(t->lock);
    size_t n = t->table != NULL ? phn_optable_size(t->table) : 0;
    enif_mutex_unlock(t->lock);
    return enif_make_uint64(env, n);
}

static ERL_NIF_TERM map_of(ErlNifEnv *env, ERL_NIF_TERM *keys, ERL_NIF_TERM *values, size_t n)
{
    ERL_NIF_TERM map;
    if (!enif_make_map_from_arrays(env, keys, values, n, &map))
        return enif_make_badarg(env); /* cannot happen: the keys are distinct atoms */
    return map;
}

ERL_NIF_TERM phn_nif_tracker_stats(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    tracker *t;
    if (!tr_get(env, argv[0], &t))
        return enif_make_badarg(env);
    enif_mutex_lock(t->lock);
    int closed = t->table == NULL;
    size_t ops = closed ? 0 : phn_optable_size(t->table);
    size_t bytes = sizeof(tracker) + t->table_bytes + t->op_bytes;
    size_t kept_terms = t->kept_terms;
    uint64_t unknown = t->ignored_unknown, unexpected = t->ignored_unexpected,
             extra = t->ignored_extra, records = t->records, completes = t->completes;
    phn_counters counters = t->counters;
    size_t key_units = tr_keys_units(t);
    ErlNifPid owner = t->owner;
    enif_mutex_unlock(t->lock);

    ERL_NIF_TERM ig_keys[] = {phn_atoms.tr_unknown_operation, phn_atoms.tr_unexpected_node,
                              phn_atoms.tr_extra_chunk};
    ERL_NIF_TERM ig_values[] = {enif_make_uint64(env, unknown), enif_make_uint64(env, unexpected),
                                enif_make_uint64(env, extra)};
    ERL_NIF_TERM dbg_keys[] = {phn_atoms.tr_probes, phn_atoms.tr_heap_moves, phn_atoms.tr_records,
                               phn_atoms.tr_completes, phn_atoms.tr_key_units};
    ERL_NIF_TERM dbg_values[] = {enif_make_uint64(env, counters.probes),
                                 enif_make_uint64(env, counters.heap_moves),
                                 enif_make_uint64(env, records), enif_make_uint64(env, completes),
                                 enif_make_uint64(env, key_units)};
    ERL_NIF_TERM keys[] = {
        phn_atoms.tr_ops,     phn_atoms.tr_bytes,   phn_atoms.tr_kept_terms,
        phn_atoms.tr_ignored, phn_atoms.tr_max_ops, phn_atoms.tr_max_nodes_per_op,
        phn_atoms.tr_owner,   phn_atoms.tr_closed,  phn_atoms.tr_debug};
    ERL_NIF_TERM values[] = {
        enif_make_uint64(env, ops),          enif_make_uint64(env, bytes),
        enif_make_uint64(env, kept_terms),   map_of(env, ig_keys, ig_values, 3),
        enif_make_uint64(env, t->max_ops),   enif_make_uint64(env, t->max_nodes),
        enif_make_pid(env, &owner),          closed ? phn_atoms.true_ : phn_atoms.false_,
        map_of(env, dbg_keys, dbg_values, 5)};
    return map_of(env, keys, values, sizeof(keys) / sizeof(keys[0]));
}

ERL_NIF_TERM phn_nif_tracker_global_stats(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    (void)argv;
    ERL_NIF_TERM keys[] = {phn_atoms.tr_trackers, phn_atoms.tr_ops, phn_atoms.tr_bytes,
                           phn_atoms.tr_kept_terms, phn_atoms.tr_reaping_ops};
    ERL_NIF_TERM values[] = {
        enif_make_int64(env, g_read(&g_trackers)), enif_make_int64(env, g_read(&g_ops)),
        enif_make_int64(env, g_read(&g_bytes)), enif_make_int64(env, g_read(&g_kept_terms)),
        enif_make_int64(env, tr_reaping_ops())};
    return map_of(env, keys, values, 5);
}
