/* phn_tracker: the resource. A tracker is created by (and owned by) the calling process,
 * which it monitors: when the owner goes down, or close/1 is called, or the last reference
 * is dropped, its table is detached under the lock (the tracker then reads as empty and
 * closed) and freed. Freeing a table is O(operations); a big one is handed to a reaper
 * thread, so that the exiting owner's scheduler (which runs the monitor callback) is never
 * held for long. Global counters (stats/0) include tables still waiting for the reaper. */
#include <stdatomic.h>
#include <string.h>

#include "phn_alloc.h"
#include "phn_nif_atoms.h"
#include "phn_nif_funcs.h"
#include "phn_nif_terms.h"
#include "phn_nif_tracker.h"

/* Tables with at most this many operations are freed on the spot (well under 1 ms). */
#define TR_FREE_INLINE 2000

static ErlNifResourceType *tr_type;

/* --- global accounting (stats/0) ------------------------------------------------------- */

static atomic_llong g_trackers, g_ops, g_bytes, g_kept_terms, g_reaping;

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

void tr_account_insert(tracker *t, const tr_op *op)
{
    t->op_bytes += op->bytes;
    if (TR_OP_HAS_TERMS(op))
        t->kept_terms++;
    sync_table_bytes(t);
}

void tr_account_remove(tracker *t, const tr_op *op)
{
    t->op_bytes -= op->bytes;
    if (TR_OP_HAS_TERMS(op))
        t->kept_terms--;
    sync_table_bytes(t);
}

void tr_account_bytes(tracker *t, tr_op *op, long long delta, int in_table)
{
    op->bytes = (size_t)((long long)op->bytes + delta);
    if (in_table)
        t->op_bytes = (size_t)((long long)t->op_bytes + delta);
    g_add(&g_bytes, delta);
}

/* --- the reaper -------------------------------------------------------------------------- */

typedef struct reap_item {
    struct reap_item *next;
    phn_optable *table;
    size_t ops;
    size_t table_bytes;
} reap_item;

/* The lock is created by the first load and never destroyed: a destructor or a monitor
 * callback may still run after the last unload (the VM keeps the library while resources
 * live), and it must find a valid lock. */
static ErlNifMutex *reap_lock;
static ErlNifCond *reap_cond;
static ErlNifTid reap_tid;
static int reap_instances, reap_started, reap_stopping;
static reap_item *reap_head, *reap_tail;

static void free_table(phn_optable *table, size_t ops, size_t table_bytes)
{
    phn_optable_free(table, tr_op_free_payload, NULL);
    g_add(&g_bytes, -(long long)table_bytes);
    (void)ops;
}

static void *reaper_main(void *arg)
{
    (void)arg;
    for (;;) {
        enif_mutex_lock(reap_lock);
        while (reap_head == NULL && !reap_stopping)
            enif_cond_wait(reap_cond, reap_lock);
        reap_item *item = reap_head;
        if (item == NULL) { /* stopping, and everything is freed */
            enif_mutex_unlock(reap_lock);
            return NULL;
        }
        reap_head = item->next;
        if (reap_head == NULL)
            reap_tail = NULL;
        enif_mutex_unlock(reap_lock);
        free_table(item->table, item->ops, item->table_bytes);
        g_add(&g_reaping, -(long long)item->ops);
        phn_free(item);
    }
}

/* Free a detached table: here when small or when no reaper can take it, else later. */
static void dispose_table(phn_optable *table, size_t ops, size_t table_bytes)
{
    if (table == NULL)
        return;
    if (ops > TR_FREE_INLINE && reap_lock != NULL) {
        reap_item *item = phn_malloc(sizeof(*item));
        enif_mutex_lock(reap_lock);
        if (item != NULL && reap_instances > 0 && !reap_stopping) {
            if (!reap_started &&
                enif_thread_create("phn_tracker_reaper", &reap_tid, reaper_main, NULL, NULL) == 0)
                reap_started = 1;
            if (reap_started) {
                *item = (reap_item){NULL, table, ops, table_bytes};
                if (reap_tail != NULL)
                    reap_tail->next = item;
                else
                    reap_head = item;
                reap_tail = item;
                g_add(&g_reaping, (long long)ops);
                enif_cond_signal(reap_cond);
                enif_mutex_unlock(reap_lock);
                return;
            }
        }
        enif_mutex_unlock(reap_lock);
        phn_free(item);
    }
    free_table(table, ops, table_bytes);
}

/* Detach the table (the tracker reads as closed and empty from now on) and free it. */
static void close_tracker(tracker *t)
{
    if (t->lock == NULL)
        return;
    enif_mutex_lock(t->lock);
    phn_optable *table = t->table;
    size_t ops = table != NULL ? phn_optable_size(table) : 0;
    size_t table_bytes = t->table_bytes;
    t->table = NULL;
    t->table_bytes = 0; /* still in g_bytes until the table is freed */
    t->op_bytes = 0;
    t->kept_terms = 0;
    enif_mutex_unlock(t->lock);
    dispose_table(table, ops, table_bytes);
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

static void tr_down(ErlNifEnv *env, void *obj, ErlNifPid *pid, ErlNifMonitor *mon)
{
    (void)env;
    (void)pid;
    (void)mon;
    tracker *t = obj;
    if (t->lock != NULL) {
        enif_mutex_lock(t->lock);
        t->monitored = 0;
        enif_mutex_unlock(t->lock);
    }
    close_tracker(t);
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
    if (reap_lock == NULL) {
        reap_lock = enif_mutex_create("phn_tracker_reap");
        reap_cond = enif_cond_create("phn_tracker_reap");
        if (reap_lock == NULL || reap_cond == NULL)
            return -1;
    }
    enif_mutex_lock(reap_lock);
    reap_instances++;
    enif_mutex_unlock(reap_lock);
    return 0;
}

void phn_nif_tracker_unload(void)
{
    if (reap_lock == NULL)
        return;
    enif_mutex_lock(reap_lock);
    int stop = --reap_instances == 0 && reap_started;
    if (stop) {
        reap_stopping = 1;
        enif_cond_signal(reap_cond);
    }
    enif_mutex_unlock(reap_lock);
    if (stop) {
        enif_thread_join(reap_tid, NULL); /* it drains the queue first */
        enif_mutex_lock(reap_lock);
        reap_started = 0;
        reap_stopping = 0;
        enif_mutex_unlock(reap_lock);
    }
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
    enif_mutex_lock(t->lock);
    int monitored = t->monitored;
    t->monitored = 0;
    enif_mutex_unlock(t->lock);
    if (monitored)
        (void)enif_demonitor_process(env, t, &t->monitor);
    close_tracker(t);
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
    ErlNifPid owner = t->owner;
    enif_mutex_unlock(t->lock);

    ERL_NIF_TERM ig_keys[] = {phn_atoms.tr_unknown_operation, phn_atoms.tr_unexpected_node,
                              phn_atoms.tr_extra_chunk};
    ERL_NIF_TERM ig_values[] = {enif_make_uint64(env, unknown), enif_make_uint64(env, unexpected),
                                enif_make_uint64(env, extra)};
    ERL_NIF_TERM dbg_keys[] = {phn_atoms.tr_probes, phn_atoms.tr_heap_moves, phn_atoms.tr_records,
                               phn_atoms.tr_completes};
    ERL_NIF_TERM dbg_values[] = {enif_make_uint64(env, counters.probes),
                                 enif_make_uint64(env, counters.heap_moves),
                                 enif_make_uint64(env, records), enif_make_uint64(env, completes)};
    ERL_NIF_TERM keys[] = {
        phn_atoms.tr_ops,     phn_atoms.tr_bytes,   phn_atoms.tr_kept_terms,
        phn_atoms.tr_ignored, phn_atoms.tr_max_ops, phn_atoms.tr_max_nodes_per_op,
        phn_atoms.tr_owner,   phn_atoms.tr_closed,  phn_atoms.tr_debug};
    ERL_NIF_TERM values[] = {
        enif_make_uint64(env, ops),          enif_make_uint64(env, bytes),
        enif_make_uint64(env, kept_terms),   map_of(env, ig_keys, ig_values, 3),
        enif_make_uint64(env, t->max_ops),   enif_make_uint64(env, t->max_nodes),
        enif_make_pid(env, &owner),          closed ? phn_atoms.true_ : phn_atoms.false_,
        map_of(env, dbg_keys, dbg_values, 4)};
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
        enif_make_int64(env, g_read(&g_reaping))};
    return map_of(env, keys, values, 5);
}
