/* phn_tracker: the reaper, one thread that frees what would hold a scheduler too long:
 * detached tables (a closed tracker, an owner gone) with their key environments, single
 * operations holding many chunks or big terms, big replaced metas, and emptied key
 * environments. Whatever
 * costs at most TR_FREE_INLINE blocks is freed on the spot; so is everything when no
 * reaper can be had (out of memory, or the library is being unloaded). */
#include <stdatomic.h>

#include "phn_alloc.h"
#include "phn_nif_tracker.h"

typedef struct reap_item {
    struct reap_item *next;
    phn_optable *table;
    size_t ops;
    size_t table_bytes;
    ErlNifEnv *env[2];
    tr_op *op;
    tr_blob *blob;
} reap_item;

/* The lock is created by the first load and never destroyed: a destructor or a monitor
 * callback may still run after the last unload (the VM keeps the library while resources
 * live), and it must find a valid lock. */
static ErlNifMutex *reap_lock;
static ErlNifCond *reap_cond;
static ErlNifTid reap_tid;
static int reap_instances, reap_started, reap_stopping;
static reap_item *reap_head, *reap_tail;
static atomic_llong g_reaping;

static void free_item(const reap_item *item)
{
    if (item->table != NULL) {
        phn_optable_free(item->table, tr_op_free_payload, NULL);
        tr_account_table_freed(item->table_bytes);
    }
    for (int i = 0; i < 2; i++)
        if (item->env[i] != NULL)
            enif_free_env(item->env[i]);
    tr_op_free(item->op);
    tr_blob_release(item->blob);
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
        free_item(item);
        atomic_fetch_sub_explicit(&g_reaping, (long long)item->ops, memory_order_relaxed);
        phn_free(item);
    }
}

/* Queue the item for the reaper: 1, or 0 when it must be freed here. */
static int enqueue(const reap_item *what)
{
    if (reap_lock == NULL)
        return 0;
    reap_item *item = phn_malloc(sizeof(*item));
    if (item == NULL)
        return 0;
    enif_mutex_lock(reap_lock);
    if (reap_instances > 0 && !reap_stopping) {
        if (!reap_started &&
            enif_thread_create("phn_tracker_reaper", &reap_tid, reaper_main, NULL, NULL) == 0)
            reap_started = 1;
        if (reap_started) {
            *item = *what;
            item->next = NULL;
            if (reap_tail != NULL)
                reap_tail->next = item;
            else
                reap_head = item;
            reap_tail = item;
            atomic_fetch_add_explicit(&g_reaping, (long long)item->ops, memory_order_relaxed);
            enif_cond_signal(reap_cond);
            enif_mutex_unlock(reap_lock);
            return 1;
        }
    }
    enif_mutex_unlock(reap_lock);
    phn_free(item);
    return 0;
}

static void dispose(const reap_item *item, size_t cost)
{
    if (cost <= TR_FREE_INLINE || !enqueue(item))
        free_item(item);
}

/* An environment's heap is freed fragment by fragment: about one per 1600 bytes of keys. */
static size_t env_cost(size_t units)
{
    return 1 + units / 1600;
}

void tr_dispose_table(phn_optable *table, size_t ops, size_t table_bytes, size_t cost,
                      ErlNifEnv *env0, ErlNifEnv *env1)
{
    if (table == NULL && env0 == NULL && env1 == NULL)
        return;
    reap_item item = {NULL, table, ops, table_bytes, {env0, env1}, NULL, NULL};
    dispose(&item, cost);
}

void tr_dispose_op(tr_op *op)
{
    if (op == NULL)
        return;
    reap_item item = {NULL, NULL, 1, 0, {NULL, NULL}, op, NULL};
    dispose(&item, tr_op_free_cost(op));
}

void tr_dispose_env(ErlNifEnv *env, size_t units)
{
    if (env == NULL)
        return;
    reap_item item = {NULL, NULL, 0, 0, {env, NULL}, NULL, NULL};
    dispose(&item, env_cost(units));
}

void tr_dispose_blob(tr_blob *b)
{
    if (b == NULL)
        return;
    reap_item item = {NULL, NULL, 0, 0, {NULL, NULL}, NULL, b};
    dispose(&item, 1 + b->len / 4096);
}

long long tr_reaping_ops(void)
{
    return atomic_load_explicit(&g_reaping, memory_order_relaxed);
}

int tr_reap_load(void)
{
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

void tr_reap_unload(void)
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
