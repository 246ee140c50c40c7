/* phn_heap: a program of push / pop / peek / remove_at / update_at / free-and-reuse
 * operations with deadlines from the input (ties frequent, int64 edges included) and
 * allocation failures it chooses, checked against a reference set of live entries: pops
 * come out in (deadline, id) order, the positions reported through `moved` always match
 * the array, `moved` never names an entry that is gone, a failed push changes nothing, and
 * bytes match the allocator. The input may also run the heap without a moved callback. */
#include "fuzz_common.h"
#include "phn_heap.h"

#define MAX_IDS 4096

typedef struct model {
    int64_t deadline[MAX_IDS];
    size_t pos[MAX_IDS]; /* as reported by moved */
    uint8_t live[MAX_IDS];
    uint64_t live_ids[MAX_IDS]; /* dense list of live ids, for picking one */
    size_t nlive;
    uint64_t next_id;
    size_t moved_calls;
} model;

static model m;

static void on_moved(uint64_t id, size_t pos, void *ctx)
{
    FZ_CHECK(ctx == &m);
    FZ_CHECK(id < m.next_id && m.live[id]); /* never the entry just popped or removed */
    m.pos[id] = pos;
    m.moved_calls++;
}

static void model_add(uint64_t id, int64_t deadline)
{
    m.deadline[id] = deadline;
    m.live[id] = 1;
    m.live_ids[m.nlive++] = id;
}

static void model_drop(uint64_t id)
{
    m.live[id] = 0;
    for (size_t i = 0; i < m.nlive; i++) {
        if (m.live_ids[i] == id) {
            m.live_ids[i] = m.live_ids[--m.nlive];
            return;
        }
    }
    FZ_CHECK(0);
}

static int before(uint64_t a, uint64_t b)
{
    if (m.deadline[a] != m.deadline[b])
        return m.deadline[a] < m.deadline[b];
    return a < b;
}

/* The live id that must pop next, or MAX_IDS when empty. */
static uint64_t model_min(void)
{
    uint64_t best = MAX_IDS;
    for (size_t i = 0; i < m.nlive; i++)
        if (best == MAX_IDS || before(m.live_ids[i], best))
            best = m.live_ids[i];
    return best;
}

/* Where an id sits: from moved, or by a scan when the heap runs without it. */
static size_t pos_of(const phn_heap *h, uint64_t id, int tracked)
{
    if (tracked)
        return m.pos[id];
    for (size_t i = 0; i < h->size; i++)
        if (h->items[i].id == id)
            return i;
    FZ_CHECK(0);
    return 0;
}

static void check_all(const phn_heap *h, int tracked)
{
    FZ_CHECK(phn_heap_size(h) == m.nlive);
    FZ_CHECK(phn_heap_bytes(h) == fz_live_bytes());
    FZ_CHECK(h->size <= h->cap);
    for (size_t i = 0; i < h->size; i++) {
        uint64_t id = h->items[i].id;
        FZ_CHECK(id < m.next_id && m.live[id]);
        FZ_CHECK(h->items[i].deadline == m.deadline[id]);
        if (tracked)
            FZ_CHECK(m.pos[id] == i);
        if (i > 0) {
            const phn_heap_entry *p = &h->items[(i - 1) / 2];
            FZ_CHECK(!before(id, p->id));
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = fz_input(data, size);
    memset(&m, 0, offsetof(model, live_ids)); /* live[] must be clear; the rest is set */
    m.nlive = 0;
    m.next_id = 0;
    m.moved_calls = 0;
    int tracked = (fz_u8(&in) & 1) == 0;

    fz_alloc_begin();
    phn_heap h;
    phn_heap_init(&h, tracked ? on_moved : NULL, tracked ? &m : NULL);
    FZ_CHECK(fz_alloc()->calls == 0);

    for (int steps = 0; fz_more(&in) && steps < 4096; steps++) {
        uint8_t op = fz_u8(&in);
        switch (op % 10) {
        case 0:
        case 1:
        case 2: { /* push */
            if (m.next_id == MAX_IDS)
                break;
            int64_t deadline = fz_i64(&in);
            uint64_t id = m.next_id++;
            model_add(id, deadline);
            size_t failures = fz_failures(), moves = m.moved_calls;
            int rc = phn_heap_push(&h, deadline, id);
            if (rc == PHN_ENOMEM) {
                FZ_CHECK(fz_failures() > failures);
                FZ_CHECK(m.moved_calls == moves); /* unchanged, moved not called */
                model_drop(id);
            } else {
                FZ_CHECK(rc == PHN_OK);
                FZ_CHECK(!tracked || m.moved_calls > moves); /* its own position at least */
            }
            break;
        }
        case 3: { /* pop */
            uint64_t want = model_min();
            if (want != MAX_IDS)
                model_drop(want); /* before the call: moved must not name it */
            int64_t d = 0x55;
            uint64_t id = 0x66;
            int rc = phn_heap_pop(&h, (op & 0x80) ? NULL : &d, (op & 0x40) ? NULL : &id);
            if (want == MAX_IDS) {
                FZ_CHECK(rc == 0 && d == 0x55 && id == 0x66);
            } else {
                FZ_CHECK(rc == 1);
                FZ_CHECK((op & 0x80) || d == m.deadline[want]);
                FZ_CHECK((op & 0x40) || id == want);
            }
            break;
        }
        case 4: { /* peek */
            uint64_t want = model_min();
            int64_t d = 0x55;
            uint64_t id = 0x66;
            size_t calls = fz_alloc()->calls, moves = m.moved_calls;
            int rc = phn_heap_peek(&h, &d, &id);
            FZ_CHECK(fz_alloc()->calls == calls && m.moved_calls == moves);
            if (want == MAX_IDS)
                FZ_CHECK(rc == 0 && d == 0x55 && id == 0x66);
            else
                FZ_CHECK(rc == 1 && d == m.deadline[want] && id == want);
            FZ_CHECK(phn_heap_peek(&h, NULL, NULL) == rc);
            break;
        }
        case 5: { /* remove_at a live entry, or at a position past the end */
            uint8_t which = fz_u8(&in);
            if (m.nlive == 0 || (which & 0x80)) {
                size_t moves = m.moved_calls;
                FZ_CHECK(phn_heap_remove_at(&h, h.size + (which & 0x7f)) == PHN_EINVAL);
                FZ_CHECK(phn_heap_remove_at(&h, SIZE_MAX) == PHN_EINVAL);
                FZ_CHECK(m.moved_calls == moves);
                break;
            }
            uint64_t id = m.live_ids[which % m.nlive];
            size_t pos = pos_of(&h, id, tracked);
            model_drop(id);
            FZ_CHECK(phn_heap_remove_at(&h, pos) == PHN_OK);
            break;
        }
        case 6: { /* update_at: a new deadline, never an allocation */
            uint8_t which = fz_u8(&in);
            int64_t deadline = fz_i64(&in);
            size_t calls = fz_alloc()->calls;
            if (m.nlive == 0 || (which & 0x80)) {
                FZ_CHECK(phn_heap_update_at(&h, h.size + (which & 0x7f), deadline) == PHN_EINVAL);
            } else {
                uint64_t id = m.live_ids[which % m.nlive];
                FZ_CHECK(phn_heap_update_at(&h, pos_of(&h, id, tracked), deadline) == PHN_OK);
                m.deadline[id] = deadline;
            }
            FZ_CHECK(fz_alloc()->calls == calls);
            break;
        }
        case 7: /* free (maybe twice) and reuse */
            phn_heap_free(&h);
            if (op & 0x80)
                phn_heap_free(&h);
            while (m.nlive > 0)
                model_drop(m.live_ids[0]);
            FZ_CHECK(fz_live_bytes() == 0);
            break;
        case 8:
            if (op & 0x80)
                fz_disarm();
            else
                fz_fail_from_input(&in);
            break;
        default:
            check_all(&h, tracked);
            break;
        }
        FZ_CHECK(phn_heap_size(&h) == m.nlive);
        FZ_CHECK(phn_heap_bytes(&h) == fz_live_bytes());
    }
    fz_disarm();
    check_all(&h, tracked);
    /* Drain: everything comes out in order. */
    for (uint64_t want = model_min(); want != MAX_IDS; want = model_min()) {
        int64_t d;
        uint64_t id;
        model_drop(want);
        FZ_CHECK(phn_heap_pop(&h, &d, &id) == 1 && id == want && d == m.deadline[want]);
    }
    FZ_CHECK(phn_heap_pop(&h, NULL, NULL) == 0);
    phn_heap_free(&h);
    fz_alloc_end();
    return 0;
}
