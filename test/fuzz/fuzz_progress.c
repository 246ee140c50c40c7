/* phn_progress: a program of expect / record operations (single records and bursts) on
 * nodes from a small domain, with allocation failures the input chooses, checked against
 * a reference array after every step: every record's result (PENDING, COMPLETE exactly
 * when the last missing chunk arrives, UNEXPECTED, EXTRA) and node index, the missing-node
 * count, declaration order, per-node counters, chunk-count overflow refused, bytes equal to
 * the allocator's count. As in fuzz_nodeset, the input may make nodes compare by class
 * through an eq callback, and hash them weakly. */
#include "fuzz_common.h"
#include "phn_progress.h"

#define MODEL_MAX 512

typedef struct model {
    uint64_t node[MODEL_MAX]; /* the representative declared first */
    uint64_t expected[MODEL_MAX];
    uint64_t received[MODEL_MAX];
    size_t n;
} model;

typedef struct keying {
    int classes;
    uint64_t hmask;
} keying;

static model m;

static uint64_t node_class(const keying *k, uint64_t node)
{
    return k->classes ? (node & 0xffu) : node;
}

static uint64_t node_hash(const keying *k, uint64_t node)
{
    return node_class(k, node) & k->hmask;
}

static int node_eq(uint64_t a, uint64_t b, void *ctx)
{
    const keying *k = ctx;
    return node_class(k, a) == node_class(k, b);
}

static size_t model_find(const keying *k, uint64_t node)
{
    for (size_t i = 0; i < m.n; i++)
        if (node_class(k, m.node[i]) == node_class(k, node))
            return i;
    return m.n;
}

static size_t model_missing(void)
{
    size_t missing = 0;
    for (size_t i = 0; i < m.n; i++)
        missing += m.received[i] < m.expected[i];
    return missing;
}

static uint64_t pick_node(fz_in *in)
{
    uint8_t sel = fz_u8(in);
    if ((sel & 0x80) && m.n != 0) {
        uint64_t node = m.node[fz_u8(in) % m.n];
        return (sel & 0x40) ? node ^ ((uint64_t)fz_u8(in) << 8) : node;
    }
    return (sel & 0x40) ? fz_u64(in) : (sel & 0x3f);
}

static uint32_t pick_chunks(fz_in *in)
{
    uint8_t sel = fz_u8(in);
    switch (sel >> 6) {
    case 0:
        return sel & 0x3f; /* 0 (invalid) .. 63 */
    case 1:
        return 1;
    case 2:
        return UINT32_MAX - (sel & 0x3f);
    default:
        return fz_u32(in);
    }
}

static void check_all(const phn_progress *p)
{
    FZ_CHECK(phn_progress_nodes(p) == m.n);
    FZ_CHECK(phn_progress_missing_nodes(p) == model_missing());
    FZ_CHECK(phn_progress_bytes(p) == fz_live_bytes());
    for (size_t i = 0; i < m.n + 2; i++) {
        int in_range = i < m.n;
        FZ_CHECK(phn_progress_node_at(p, i) == (in_range ? m.node[i] : 0));
        FZ_CHECK(phn_progress_expected_at(p, i) == (in_range ? m.expected[i] : 0));
        FZ_CHECK(phn_progress_received_at(p, i) == (in_range ? m.received[i] : 0));
    }
    FZ_CHECK(phn_progress_node_at(p, SIZE_MAX) == 0);
}

/* One record, checked; returns its result. */
static phn_rec_result record(phn_progress *p, const keying *k, uint64_t node, int null_index)
{
    size_t at = model_find(k, node);
    size_t idx = SIZE_MAX;
    size_t calls = fz_alloc()->calls;
    phn_rec_result r = phn_progress_record(p, node, node_hash(k, node), null_index ? NULL : &idx);
    FZ_CHECK(fz_alloc()->calls == calls);
    if (at == m.n) {
        FZ_CHECK(r == PHN_REC_UNEXPECTED && idx == SIZE_MAX);
    } else if (m.received[at] == m.expected[at]) {
        FZ_CHECK(r == PHN_REC_EXTRA && idx == SIZE_MAX);
    } else {
        m.received[at]++;
        int complete = model_missing() == 0;
        FZ_CHECK(r == (complete ? PHN_REC_COMPLETE : PHN_REC_PENDING));
        FZ_CHECK(null_index || idx == at);
    }
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = fz_input(data, size);
    m.n = 0;
    keying k;
    uint8_t mode = fz_u8(&in);
    k.classes = mode & 1;
    static const uint64_t masks[] = {UINT64_MAX, 0, 1, 0xff};
    k.hmask = masks[(mode >> 1) % 4];
    size_t hint = (size_t)fz_num(&in);

    fz_alloc_begin();
    if (mode & 0x80)
        fz_fail_from_input(&in);
    phn_progress *p = phn_progress_new(hint, k.classes ? node_eq : NULL, &k);
    if (p == NULL) {
        /* A refused allocation, or a hint too large to try (no allocator call at all). */
        FZ_CHECK(fz_failures() > 0 || (fz_alloc()->calls <= 1 && hint > (SIZE_MAX >> 8)));
        fz_alloc_end();
        return 0;
    }
    fz_disarm();
    check_all(p);
    phn_counters counters = {0, 0};

    for (int steps = 0; fz_more(&in) && steps < 2048; steps++) {
        uint8_t op = fz_u8(&in);
        switch (op % 8) {
        case 0:
        case 1: { /* expect */
            uint64_t node = pick_node(&in);
            uint32_t chunks = pick_chunks(&in);
            size_t at = model_find(&k, node);
            if (at == m.n && m.n == MODEL_MAX)
                break;
            size_t failures = fz_failures();
            int rc = phn_progress_expect(p, node, node_hash(&k, node), chunks);
            if (chunks == 0 || (at < m.n && m.expected[at] + chunks > UINT32_MAX)) {
                FZ_CHECK(rc == PHN_EINVAL);
            } else if (at < m.n) {
                FZ_CHECK(rc == PHN_OK); /* an existing node never allocates */
                m.expected[at] += chunks;
            } else if (rc == PHN_ENOMEM) {
                FZ_CHECK(fz_failures() > failures);
            } else {
                FZ_CHECK(rc == PHN_OK);
                m.node[m.n] = node;
                m.expected[m.n] = chunks;
                m.received[m.n] = 0;
                m.n++;
            }
            break;
        }
        case 2:
        case 3: /* record one */
            (void)record(p, &k, pick_node(&in), op & 0x80);
            break;
        case 4: { /* a burst of records from one node, until it stops counting */
            uint64_t node = pick_node(&in);
            unsigned burst = fz_u8(&in);
            for (unsigned i = 0; i < burst; i++) {
                phn_rec_result r = record(p, &k, node, 0);
                if (r == PHN_REC_UNEXPECTED || r == PHN_REC_EXTRA)
                    break;
            }
            break;
        }
        case 5:
            if (op & 0x80)
                fz_disarm();
            else
                fz_fail_from_input(&in);
            break;
        case 6: { /* counters: lookups count probes only while attached */
            int on = !(op & 0x80);
            phn_progress_set_counters(p, on ? &counters : NULL);
            uint64_t before = counters.probes;
            (void)phn_progress_missing_nodes(p);
            if (m.n != 0) {
                size_t i = fz_u8(&in) % m.n;
                FZ_CHECK(phn_progress_node_at(p, i) == m.node[i]);
            }
            FZ_CHECK(counters.probes == before);
            break;
        }
        default:
            check_all(p);
            break;
        }
        FZ_CHECK(phn_progress_nodes(p) == m.n);
        FZ_CHECK(phn_progress_bytes(p) == fz_live_bytes());
    }
    check_all(p);
    phn_progress_free(p);
    phn_progress_free(NULL);
    fz_alloc_end();
    return 0;
}
