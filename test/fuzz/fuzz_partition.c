/* phn_partition: a program of init / toggle_lock / toggle_unlock / has_quorum / set_log /
 * sync / prune operations under strategies (and strategy changes) from the input, checked
 * against a reference written from REFERENCE.md §5.3 independently of the core:
 *   - the down log as a plain array, pruned with exact 128-bit arithmetic whenever the
 *     threshold is an integral number within int64 (Elixir's integers are exact), and
 *     with the float formula otherwise;
 *   - DynamicQuorum's QuorumLeft in doubles, as Elixir computes it;
 *   - MajorityQuorum's max_seen div 2 + 1 in 128 bits.
 * Node sets are small so that pruning by node matters; times, now, thresholds, quorum sizes
 * and initial cluster sizes reach the int64 and double edges the NIF lets through. Errors
 * (PHN_ENOMEM from failures the input chooses) must leave the state as it was. */
#include "fuzz_common.h"
#include "phn_partition.h"

#define LOG_MAX 4200

typedef __int128 i128;

typedef struct ref_state {
    int has_log;
    phn_pt_down log[LOG_MAX];
    size_t len;
    int has_max;
    int64_t max_seen;
} ref_state;

static ref_state ref;

/* ---- reference ------------------------------------------------------------------- */

static int ref_fresh(int64_t time, int64_t now, double threshold)
{
    if (threshold >= -9223372036854775808.0 && threshold < 9223372036854775808.0 &&
        (double)(int64_t)threshold == threshold)
        return (i128)time > (i128)now - (i128)(int64_t)threshold;
    return (double)time > (double)now - threshold;
}

static size_t ref_prune(phn_pt_down *rows, size_t len, uint64_t node, int64_t now, double thr)
{
    size_t kept = 0;
    for (size_t i = 0; i < len; i++)
        if (rows[i].node != node && ref_fresh(rows[i].time, now, thr))
            rows[kept++] = rows[i];
    return kept;
}

static int ref_static_present(const phn_pt_strategy *s, size_t cluster)
{
    return s->quorum_size <= (double)cluster;
}

/* 1 failed, 0 not, -1 division by zero. */
static int ref_dynamic_failed(const phn_pt_strategy *s, size_t connected, size_t down)
{
    unsigned __int128 total = (unsigned __int128)connected + down;
    if (total == 0)
        return -1;
    double left = 100.0 - (double)down / (double)total * 100.0;
    return left < s->quorum_size;
}

static int ref_majority(size_t cluster, int64_t max_seen)
{
    i128 required = (i128)(max_seen / 2) + 1;
    return (i128)cluster >= required;
}

static int64_t ref_seen(const phn_pt_strategy *s)
{
    return ref.has_max ? ref.max_seen : s->initial_cluster_size;
}

/* ---- comparison -------------------------------------------------------------------- */

static void check_state(const phn_pt_state *st)
{
    FZ_CHECK(!st->has_log == !ref.has_log);
    if (ref.has_log) {
        FZ_CHECK(st->log_len == ref.len);
        FZ_CHECK(st->log_len <= st->log_cap);
        for (size_t i = 0; i < ref.len; i++)
            FZ_CHECK(st->log[i].node == ref.log[i].node && st->log[i].time == ref.log[i].time);
    }
    FZ_CHECK(!st->has_max_seen == !ref.has_max);
    if (ref.has_max)
        FZ_CHECK(st->max_seen == ref.max_seen);
    FZ_CHECK(fz_live_bytes() == (st->log == NULL ? 0 : st->log_cap * sizeof(phn_pt_down)));
}

/* ---- input ------------------------------------------------------------------------- */

/* A double the NIF could pass: an int64 or a finite float, often a small or fractional one. */
static double pick_double(fz_in *in)
{
    static const double edges[] = {0.0,
                                   -0.0,
                                   0.5,
                                   30.0,
                                   50.0,
                                   66.66666666666667,
                                   100.0,
                                   100.5,
                                   -1.0,
                                   1e-300,
                                   4611686018427387904.0,
                                   4611686018427387903.0,
                                   -4611686018427387904.0,
                                   9223372036854775808.0,
                                   9223372036854774784.0,
                                   -9223372036854775808.0,
                                   1e19,
                                   -1e19,
                                   1e300};
    uint8_t tag = fz_u8(in);
    switch (tag >> 6) {
    case 0:
        return (double)(tag & 0x3f);
    case 1:
        return (double)(int16_t)fz_u16(in) / (double)(1 + (tag & 7));
    case 2:
        return (double)(int64_t)fz_u64(in);
    default:
        return edges[(tag & 0x3f) % (sizeof(edges) / sizeof(edges[0]))];
    }
}

/* A cluster size as the NIF counts it: the length of a list. */
static size_t pick_cluster(fz_in *in)
{
    uint8_t tag = fz_u8(in);
    return (tag & 0x80) ? (size_t)fz_u32(in) : (size_t)(tag & 0x0f);
}

static uint64_t pick_node(fz_in *in)
{
    return fz_u8(in) % 6;
}

static void pick_strategy(fz_in *in, phn_pt_strategy *s)
{
    uint8_t b = fz_u8(in);
    phn_pt_kind kind = (phn_pt_kind)(b % 5 == 4 ? 4 + (b >> 6) : b % 5); /* some invalid */
    phn_pt_defaults(s, kind);
    FZ_CHECK(s->kind == kind && s->quorum_size == 0 && s->startup_confirm == 0 &&
             s->threshold_time == 30.0 && s->initial_cluster_size == 1 && s->track_max_size == 1);
    s->quorum_size = pick_double(in);
    s->startup_confirm = (b >> 3) & 1;
    if (b & 0x10)
        s->threshold_time = pick_double(in);
    if (b & 0x20)
        s->initial_cluster_size = fz_i64(in);
    s->track_max_size = !((b >> 6) & 1);
}

/* ---- operations -------------------------------------------------------------------- */

static void op_init(const phn_pt_strategy *s, phn_pt_state *st, size_t cluster)
{
    int rc = phn_pt_init(s, cluster, st);
    switch (s->kind) {
    case PHN_PT_STATIC:
        FZ_CHECK(rc == (s->startup_confirm && !ref_static_present(s, cluster)));
        break;
    case PHN_PT_MAJORITY:
        FZ_CHECK(rc == 0);
        ref.max_seen = (i128)s->initial_cluster_size > (i128)cluster ? s->initial_cluster_size
                                                                     : (int64_t)cluster;
        ref.has_max = 1;
        break;
    default:
        FZ_CHECK(rc == 0);
        break;
    }
}

static void op_lock(const phn_pt_strategy *s, phn_pt_state *st, size_t cluster, uint64_t node,
                    int64_t now)
{
    size_t failures = fz_failures();
    int rc = phn_pt_toggle_lock(s, cluster, node, now, st);
    switch (s->kind) {
    case PHN_PT_STATIC:
        FZ_CHECK(rc == !ref_static_present(s, cluster));
        break;
    case PHN_PT_DYNAMIC: {
        if (rc == PHN_ENOMEM) {
            FZ_CHECK(fz_failures() > failures);
            break;
        }
        size_t len = ref.has_log ? ref_prune(ref.log, ref.len, node, now, s->threshold_time) : 0;
        FZ_CHECK(len + 1 <= LOG_MAX);
        memmove(ref.log + 1, ref.log, len * sizeof(ref.log[0]));
        ref.log[0].node = node;
        ref.log[0].time = now;
        ref.len = len + 1;
        ref.has_log = 1;
        FZ_CHECK(rc == ref_dynamic_failed(s, cluster, ref.len));
        break;
    }
    case PHN_PT_MAJORITY:
        FZ_CHECK(rc == !ref_majority(cluster, ref_seen(s)));
        break;
    default:
        FZ_CHECK(rc == 0);
        break;
    }
}

static void op_unlock(const phn_pt_strategy *s, phn_pt_state *st, size_t cluster, uint64_t node,
                      int64_t now)
{
    size_t calls = fz_alloc()->calls;
    int rc = phn_pt_toggle_unlock(s, cluster, node, now, st);
    FZ_CHECK(fz_alloc()->calls == calls); /* never allocates */
    switch (s->kind) {
    case PHN_PT_STATIC:
        FZ_CHECK(rc == ref_static_present(s, cluster));
        break;
    case PHN_PT_DYNAMIC: {
        /* The pruned log is stored before the evaluation, as the original stores it before
         * dividing (by zero, when both are empty). */
        ref.len = ref.has_log ? ref_prune(ref.log, ref.len, node, now, s->threshold_time) : 0;
        ref.has_log = 1;
        int failed = ref_dynamic_failed(s, cluster, ref.len);
        FZ_CHECK(rc == (failed < 0 ? PHN_EINVAL : !failed));
        break;
    }
    case PHN_PT_MAJORITY:
        if (s->track_max_size && (i128)cluster > (i128)ref_seen(s)) {
            ref.max_seen = (int64_t)cluster;
            ref.has_max = 1;
        }
        FZ_CHECK(rc == ref_majority(cluster, ref_seen(s)));
        break;
    default:
        FZ_CHECK(rc == 0);
        break;
    }
}

static void op_has_quorum(const phn_pt_strategy *s, const phn_pt_state *st, size_t cluster)
{
    int rc = phn_pt_has_quorum(s, cluster, st);
    switch (s->kind) {
    case PHN_PT_STATIC:
        FZ_CHECK(rc == ref_static_present(s, cluster));
        break;
    case PHN_PT_DYNAMIC: {
        int failed = ref_dynamic_failed(s, cluster, ref.has_log ? ref.len : 0);
        FZ_CHECK(rc == (failed < 0 ? PHN_EINVAL : !failed));
        break;
    }
    case PHN_PT_MAJORITY:
        FZ_CHECK(rc == ref_majority(cluster, ref_seen(s)));
        break;
    default:
        FZ_CHECK(rc == 1);
        break;
    }
}

static size_t pick_rows(fz_in *in, phn_pt_down *rows, size_t max)
{
    size_t n = fz_u8(in) % (max + 1);
    for (size_t i = 0; i < n; i++) {
        rows[i].node = pick_node(in);
        rows[i].time = fz_i64(in);
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = fz_input(data, size);
    ref.has_log = 0;
    ref.len = 0;
    ref.has_max = 0;
    ref.max_seen = 0;

    fz_alloc_begin();
    phn_pt_strategy s;
    pick_strategy(&in, &s);
    phn_pt_state st;
    memset(&st, 0, sizeof(st));

    for (int steps = 0; fz_more(&in) && steps < 4096; steps++) {
        uint8_t op = fz_u8(&in);
        switch (op % 12) {
        case 0:
            op_init(&s, &st, pick_cluster(&in));
            break;
        case 1:
        case 2: {
            size_t cluster = pick_cluster(&in);
            uint64_t node = pick_node(&in);
            op_lock(&s, &st, cluster, node, fz_i64(&in));
            break;
        }
        case 3:
        case 4: {
            size_t cluster = pick_cluster(&in);
            uint64_t node = pick_node(&in);
            op_unlock(&s, &st, cluster, node, fz_i64(&in));
            break;
        }
        case 5:
            op_has_quorum(&s, &st, pick_cluster(&in));
            break;
        case 6: { /* set_log, as the NIF decodes a stored or remote log */
            phn_pt_down rows[64];
            size_t n = pick_rows(&in, rows, 64);
            size_t failures = fz_failures();
            int rc = phn_pt_state_set_log(&st, rows, n);
            if (rc == PHN_ENOMEM) {
                FZ_CHECK(fz_failures() > failures);
            } else {
                FZ_CHECK(rc == PHN_OK);
                memcpy(ref.log, rows, n * sizeof(rows[0]));
                ref.len = n;
                ref.has_log = 1;
            }
            break;
        }
        case 7: { /* sync: the remote log wins only when strictly longer */
            size_t remote = fz_u8(&in) % 70;
            FZ_CHECK(phn_pt_sync_takes_remote(&st, remote) ==
                     (remote > (ref.has_log ? ref.len : 0)));
            break;
        }
        case 8: { /* the building blocks on their own */
            phn_pt_down rows[64], copy[64];
            size_t n = pick_rows(&in, rows, 64);
            memcpy(copy, rows, sizeof(rows));
            uint64_t node = pick_node(&in);
            int64_t now = fz_i64(&in);
            double thr = pick_double(&in);
            size_t kept = phn_pt_log_prune(rows, n, node, now, thr);
            size_t ref_kept = ref_prune(copy, n, node, now, thr);
            FZ_CHECK(kept == ref_kept);
            FZ_CHECK(kept == 0 || memcmp(rows, copy, kept * sizeof(rows[0])) == 0);

            size_t cluster = pick_cluster(&in);
            int64_t max_seen = fz_i64(&in);
            FZ_CHECK(phn_pt_majority_has(cluster, max_seen) == ref_majority(cluster, max_seen));
            FZ_CHECK(phn_pt_static_present(&s, cluster) == ref_static_present(&s, cluster));
            size_t down = fz_u8(&in);
            int failed = ref_dynamic_failed(&s, cluster, down);
            FZ_CHECK(phn_pt_dynamic_failed(&s, cluster, down) ==
                     (failed < 0 ? PHN_EINVAL : failed));
            break;
        }
        case 9: /* a new strategy over the same stored state */
            pick_strategy(&in, &s);
            break;
        case 10: /* the state dropped (a new hub): absent again, reusable */
            phn_pt_state_free(&st);
            ref.has_log = 0;
            ref.len = 0;
            ref.has_max = 0;
            ref.max_seen = 0;
            FZ_CHECK(st.log == NULL && st.log_len == 0 && !st.has_log && !st.has_max_seen);
            break;
        default:
            if (op & 0x80)
                fz_disarm();
            else
                fz_fail_from_input(&in);
            break;
        }
        check_state(&st);
    }
    phn_pt_state_free(&st);
    fz_alloc_end();
    return 0;
}
