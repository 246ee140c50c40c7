#include "phn_partition.h"

#include <string.h>

#include "phn_alloc.h"

void phn_pt_defaults(phn_pt_strategy *s, phn_pt_kind kind)
{
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->threshold_time = 30.0;
    s->initial_cluster_size = 1;
    s->track_max_size = 1;
}

void phn_pt_state_free(phn_pt_state *st)
{
    phn_free(st->log);
    memset(st, 0, sizeof(*st));
}

/* Room for `need` rows; PHN_OK or PHN_ENOMEM with the state unchanged. */
static int reserve_log(phn_pt_state *st, size_t need)
{
    if (need <= st->log_cap)
        return PHN_OK;
    size_t cap = st->log_cap < 4 ? 4 : st->log_cap;
    while (cap < need) {
        if (cap > SIZE_MAX / 2)
            return PHN_ENOMEM;
        cap *= 2;
    }
    phn_pt_down *rows = phn_reallocarray(st->log, cap, sizeof(*rows));
    if (rows == NULL)
        return PHN_ENOMEM;
    st->log = rows;
    st->log_cap = cap;
    return PHN_OK;
}

int phn_pt_state_set_log(phn_pt_state *st, const phn_pt_down *rows, size_t len)
{
    if (reserve_log(st, len) != PHN_OK)
        return PHN_ENOMEM;
    if (len != 0)
        memmove(st->log, rows, len * sizeof(*rows));
    st->log_len = len;
    st->has_log = 1;
    return PHN_OK;
}

int phn_pt_static_present(const phn_pt_strategy *s, size_t cluster_size)
{
    return s->quorum_size <= (double)cluster_size;
}

int phn_pt_dynamic_failed(const phn_pt_strategy *s, size_t connected, size_t down)
{
    if (connected + down == 0)
        return PHN_EINVAL;
    /* Same operations in the same order as the original, so the same double results. */
    double lost = (double)down / (double)(connected + down) * 100.0;
    double left = 100.0 - lost;
    return left < s->quorum_size;
}

/* Whether a row stamped `time` is still inside the threshold window at `now`. Integer
 * arithmetic when the threshold is integral and within int64 (the usual case, exact like
 * Elixir's), double otherwise. */
static int row_fresh(int64_t time, int64_t now, double threshold)
{
    /* No libm: the range test comes first so the cast below is defined. */
    if (threshold >= -9223372036854775808.0 && threshold < 9223372036854775808.0 &&
        (double)(int64_t)threshold == threshold) {
        int64_t limit;
        /* When now - threshold leaves int64 the answer is still exact: below INT64_MIN
         * (threshold > 0) every row is fresh, above INT64_MAX none is. Rounding both sides
         * to doubles instead would misjudge rows near the edges. */
        if (__builtin_sub_overflow(now, (int64_t)threshold, &limit))
            return threshold > 0;
        return time > limit;
    }
    return (double)time > (double)now - threshold;
}

size_t phn_pt_log_prune(phn_pt_down *rows, size_t len, uint64_t node, int64_t now,
                        double threshold_time)
{
    size_t kept = 0;
    for (size_t i = 0; i < len; i++) {
        if (rows[i].node != node && row_fresh(rows[i].time, now, threshold_time))
            rows[kept++] = rows[i];
    }
    return kept;
}

int phn_pt_sync_takes_remote(const phn_pt_state *local, size_t remote_len)
{
    size_t local_len = local->has_log ? local->log_len : 0;
    return remote_len > local_len;
}

int phn_pt_majority_has(size_t cluster_size, int64_t max_seen)
{
    /* div truncates toward zero in both C and Elixir. */
    int64_t required = max_seen / 2 + 1;
    return required <= 0 || (uint64_t)cluster_size >= (uint64_t)required;
}

static int64_t majority_seen(const phn_pt_strategy *s, const phn_pt_state *st)
{
    return st->has_max_seen ? st->max_seen : s->initial_cluster_size;
}

int phn_pt_init(const phn_pt_strategy *s, size_t cluster_size, phn_pt_state *st)
{
    switch (s->kind) {
    case PHN_PT_STATIC:
        return s->startup_confirm && !phn_pt_static_present(s, cluster_size);
    case PHN_PT_MAJORITY: {
        int64_t size = cluster_size > INT64_MAX ? INT64_MAX : (int64_t)cluster_size;
        st->max_seen = s->initial_cluster_size > size ? s->initial_cluster_size : size;
        st->has_max_seen = 1;
        return 0;
    }
    default:
        return 0;
    }
}

int phn_pt_toggle_lock(const phn_pt_strategy *s, size_t cluster_size, uint64_t down_node,
                       int64_t now, phn_pt_state *st)
{
    switch (s->kind) {
    case PHN_PT_STATIC:
        return !phn_pt_static_present(s, cluster_size);
    case PHN_PT_DYNAMIC: {
        /* Reserve before touching the log so that ENOMEM leaves the state as it was. */
        if (reserve_log(st, (st->has_log ? st->log_len : 0) + 1) != PHN_OK)
            return PHN_ENOMEM;
        size_t len = 0;
        if (st->has_log)
            len = phn_pt_log_prune(st->log, st->log_len, down_node, now, s->threshold_time);
        memmove(st->log + 1, st->log, len * sizeof(*st->log));
        st->log[0] = (phn_pt_down){down_node, now};
        st->log_len = len + 1;
        st->has_log = 1;
        return phn_pt_dynamic_failed(s, cluster_size, st->log_len);
    }
    case PHN_PT_MAJORITY:
        return !phn_pt_majority_has(cluster_size, majority_seen(s, st));
    default:
        return 0;
    }
}

int phn_pt_toggle_unlock(const phn_pt_strategy *s, size_t cluster_size, uint64_t up_node,
                         int64_t now, phn_pt_state *st)
{
    switch (s->kind) {
    case PHN_PT_STATIC:
        return phn_pt_static_present(s, cluster_size);
    case PHN_PT_DYNAMIC: {
        if (st->has_log)
            st->log_len = phn_pt_log_prune(st->log, st->log_len, up_node, now, s->threshold_time);
        else
            st->log_len = 0;
        st->has_log = 1;
        int failed = phn_pt_dynamic_failed(s, cluster_size, st->log_len);
        return failed < 0 ? failed : !failed;
    }
    case PHN_PT_MAJORITY: {
        if (s->track_max_size) {
            int64_t size = cluster_size > INT64_MAX ? INT64_MAX : (int64_t)cluster_size;
            /* max(seen, size) > seen: store only when the cluster grew past it. */
            if (size > majority_seen(s, st)) {
                st->max_seen = size;
                st->has_max_seen = 1;
            }
        }
        return phn_pt_majority_has(cluster_size, majority_seen(s, st));
    }
    default:
        return 0;
    }
}

int phn_pt_has_quorum(const phn_pt_strategy *s, size_t cluster_size, const phn_pt_state *st)
{
    switch (s->kind) {
    case PHN_PT_STATIC:
        return phn_pt_static_present(s, cluster_size);
    case PHN_PT_DYNAMIC: {
        int failed = phn_pt_dynamic_failed(s, cluster_size, st->has_log ? st->log_len : 0);
        return failed < 0 ? failed : !failed;
    }
    case PHN_PT_MAJORITY:
        return phn_pt_majority_has(cluster_size, majority_seen(s, st));
    default:
        return 1;
    }
}
