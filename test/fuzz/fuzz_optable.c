/* phn_optable: a program of insert / get / remove / pop_expired / peek_expired /
 * set_deadline / foreach operations with keys and deadlines from the input, and allocation
 * failures it chooses, checked against a reference model after every step. Keys are often
 * reused (picked from the live ones, or one byte off) so that hits, duplicates and removals
 * inside long probe runs are common; invalid keys (over 255 bytes, NULL) and NULL payloads
 * appear too. With FUZZ_OPTABLE_BULK (the optable_bulk target, built from this file), bulk
 * operations insert, remove or expire thousands of entries at once, so that the table
 * splits into shards past its split threshold and merges back below the merge one (with
 * allocation failures in the middle of a split); they cost milliseconds per input, so the
 * plain target leaves them out and stays fast. The table's size and
 * bytes are compared with the model and the allocator's count, error returns must leave
 * the table unchanged, pops come in deadline order, and free hands back every payload
 * exactly once. An input may run with caller keys instead (phn_optable_*_key, as the NIF
 * uses them): the same keys, hashed by their first byte only (so probe runs are long and
 * full of equal hashes) and compared through the payload's model entry. */
#include "fuzz_common.h"
#include "phn_optable.h"

#ifndef FUZZ_OPTABLE_BULK
#define FUZZ_OPTABLE_BULK 0
#endif

#define MODEL_MAX 48000u   /* live entries */
#define BULK_MAX 40000u    /* entries added by bulk inserts, per input */
#define POOL 65536u        /* payload ids: one per successful insert, per input */
#define ARENA (2u << 20)   /* key bytes, append-only per input */
#define BUCKETS (1u << 14) /* model hash index */

typedef struct ref_entry {
    uint32_t off; /* key bytes in arena */
    uint32_t len;
    int64_t deadline;
    uint32_t payload;
    int32_t next; /* hash chain */
} ref_entry;

typedef struct model {
    ref_entry e[MODEL_MAX];
    uint32_t n;
    int32_t bucket[BUCKETS];
    int32_t where[POOL]; /* payload id -> entry index, -1 when not live */
    uint8_t visited[POOL];
    uint8_t arena[ARENA];
    uint32_t arena_used;
    int64_t sorted[MODEL_MAX];
} model;

static model m;
static uint8_t pool[POOL];

static void *payload_ptr(uint32_t id)
{
    return &pool[id];
}

static uint32_t payload_id(const void *p)
{
    FZ_CHECK((const uint8_t *)p >= pool && (const uint8_t *)p < pool + POOL);
    return (uint32_t)((const uint8_t *)p - pool);
}

static const uint8_t *key_of(const ref_entry *e)
{
    return m.arena + e->off;
}

static uint32_t model_hash(const uint8_t *k, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ k[i]) * 16777619u;
    return h & (BUCKETS - 1);
}

typedef struct key {
    uint8_t buf[320];
    size_t len;
    const uint8_t *ptr; /* buf, or NULL */
} key;

static int key_valid(const key *k)
{
    return k->len <= PHN_OPTABLE_MAX_KEY && (k->ptr != NULL || k->len == 0);
}

static int key_is(const ref_entry *e, const uint8_t *k, size_t len)
{
    return e->len == len && (len == 0 || memcmp(key_of(e), k, len) == 0);
}

/* Index of the entry with this (valid) key, or m.n. */
static uint32_t model_find_bytes(const uint8_t *k, size_t len)
{
    for (int32_t i = m.bucket[model_hash(k, len)]; i >= 0; i = m.e[i].next)
        if (key_is(&m.e[i], k, len))
            return (uint32_t)i;
    return m.n;
}

static uint32_t model_find(const key *k)
{
    return key_valid(k) ? model_find_bytes(k->buf, k->len) : m.n;
}

static uint32_t model_by_payload(const void *p)
{
    int32_t i = m.where[payload_id(p)];
    FZ_CHECK(i >= 0 && (uint32_t)i < m.n);
    return (uint32_t)i;
}

/* Replace `from` by `to` in the hash chain holding entry `from`. */
static void relink(uint32_t from, int32_t to)
{
    int32_t *link = &m.bucket[model_hash(key_of(&m.e[from]), m.e[from].len)];
    while (*link != (int32_t)from) {
        FZ_CHECK(*link >= 0);
        link = &m.e[*link].next;
    }
    *link = to;
}

static void model_add(const uint8_t *k, size_t len, int64_t deadline, uint32_t payload)
{
    FZ_CHECK(m.n < MODEL_MAX && m.arena_used + len <= ARENA && payload < POOL);
    ref_entry *e = &m.e[m.n];
    e->off = m.arena_used;
    e->len = (uint32_t)len;
    if (len != 0)
        memcpy(m.arena + m.arena_used, k, len);
    m.arena_used += (uint32_t)len;
    e->deadline = deadline;
    e->payload = payload;
    uint32_t b = model_hash(k, len);
    e->next = m.bucket[b];
    m.bucket[b] = (int32_t)m.n;
    m.where[payload] = (int32_t)m.n;
    m.n++;
}

static void model_drop(uint32_t i)
{
    relink(i, m.e[i].next);
    m.where[m.e[i].payload] = -1;
    uint32_t last = --m.n;
    if (i != last) {
        relink(last, (int32_t)i);
        m.e[i] = m.e[last];
        m.where[m.e[i].payload] = (int32_t)i;
    }
}

/* 1 and the earliest deadline, or 0 when empty. */
static int model_min(int64_t *min)
{
    for (uint32_t i = 0; i < m.n; i++)
        if (i == 0 || m.e[i].deadline < *min)
            *min = m.e[i].deadline;
    return m.n != 0;
}

/* Caller keys for this input (phn_optable_*_key); invalid byte keys still go through the
 * byte functions, which refuse them. */
static int caller_keys;

static int match_entry(const void *payload, const void *arg, void *ctx)
{
    (void)ctx;
    const key *k = arg;
    return key_is(&m.e[model_by_payload(payload)], k->ptr, k->len);
}

/* Caller keys hash weakly on purpose, so that lookups meet entries of the same hash and
 * the match callback decides: by the first byte (256 hashes) in the fast target; by 16
 * bits of the whole key in the bulk one, where tens of thousands of entries on 256 hashes
 * would make every lookup walk thousands of slots (a timeout of the harness, not a fault
 * of the table: real keys hash with enif_hash over 64 bits). */
static phn_optable_key caller_key(const key *k)
{
    uint64_t h = 7;
    if (FUZZ_OPTABLE_BULK) {
        uint32_t f = 2166136261u;
        for (size_t i = 0; i < k->len; i++)
            f = (f ^ k->ptr[i]) * 16777619u;
        h = (uint64_t)(f & 0xFFFFu) * UINT64_C(0x9e3779b97f4a7c15);
    } else if (k->len != 0) {
        h = (uint64_t)k->ptr[0] * UINT64_C(0x9e3779b97f4a7c15);
    }
    return (phn_optable_key){h, match_entry, k, NULL};
}

static int use_caller(const key *k)
{
    return caller_keys && key_valid(k);
}

static int tbl_insert(phn_optable *t, const key *k, int64_t deadline, void *payload)
{
    if (!use_caller(k))
        return phn_optable_insert(t, k->ptr, k->len, deadline, payload);
    phn_optable_key ck = caller_key(k);
    return phn_optable_insert_key(t, &ck, deadline, payload);
}

static void *tbl_get(const phn_optable *t, const key *k)
{
    if (!use_caller(k))
        return phn_optable_get(t, k->ptr, k->len);
    phn_optable_key ck = caller_key(k);
    return phn_optable_get_key(t, &ck);
}

static void *tbl_remove(phn_optable *t, const key *k)
{
    if (!use_caller(k))
        return phn_optable_remove(t, k->ptr, k->len);
    phn_optable_key ck = caller_key(k);
    return phn_optable_remove_key(t, &ck);
}

static int tbl_set_deadline(phn_optable *t, const key *k, int64_t deadline)
{
    if (!use_caller(k))
        return phn_optable_set_deadline(t, k->ptr, k->len, deadline);
    phn_optable_key ck = caller_key(k);
    return phn_optable_set_deadline_key(t, &ck, deadline);
}

/* The key of a model entry (its bytes stay in the arena). */
static key entry_key(const ref_entry *e)
{
    key k;
    k.ptr = key_of(e);
    k.len = e->len;
    return k;
}

/* A popped or visited entry's key: its bytes, or none with caller keys. */
static int key_out_is(const ref_entry *e, const uint8_t *k, size_t len)
{
    return caller_keys ? len == 0 : key_is(e, k, len);
}

static void pick_key(fz_in *in, key *k)
{
    uint8_t sel = fz_u8(in);
    k->ptr = k->buf;
    if ((sel & 0x80) && m.n != 0) {
        const ref_entry *e = &m.e[fz_u16(in) % m.n];
        memcpy(k->buf, key_of(e), e->len);
        k->len = e->len;
        if ((sel & 0x40) && k->len != 0) /* a near miss: one byte changed */
            k->buf[fz_u8(in) % k->len] ^= (uint8_t)(1u << (sel & 7));
        return;
    }
    if (sel & 0x40) { /* long: up to 299 bytes, over the 255 limit sometimes */
        k->len = fz_u16(in) % 300;
        uint8_t b = fz_u8(in);
        for (size_t i = 0; i < k->len; i++)
            k->buf[i] = (uint8_t)(b ^ i);
    } else {
        k->len = sel & 0x0f;
        for (size_t i = 0; i < k->len; i++)
            k->buf[i] = fz_u8(in);
    }
    if ((sel & 0x30) == 0x30)
        k->ptr = NULL; /* valid only with len 0 */
}

static void check_sizes(const phn_optable *t)
{
    FZ_CHECK(phn_optable_size(t) == m.n);
    FZ_CHECK(phn_optable_bytes(t) == fz_live_bytes());
}

static void check_all(const phn_optable *t)
{
    check_sizes(t);
    for (uint32_t i = 0; i < m.n; i++) {
        key k = entry_key(&m.e[i]);
        FZ_CHECK(tbl_get(t, &k) == payload_ptr(m.e[i].payload));
    }
}

static void visit(const uint8_t *k, size_t keylen, int64_t deadline, void *payload, void *ctx)
{
    size_t *count = ctx;
    uint32_t i = model_by_payload(payload);
    FZ_CHECK(!m.visited[m.e[i].payload]);
    m.visited[m.e[i].payload] = 1;
    FZ_CHECK(key_out_is(&m.e[i], k, keylen));
    FZ_CHECK(deadline == m.e[i].deadline);
    (*count)++;
}

static void free_payload(void *payload, void *ctx)
{
    size_t *count = ctx;
    uint32_t id = payload_id(payload);
    FZ_CHECK(!m.visited[id]);
    m.visited[id] = 1;
    (void)model_by_payload(payload);
    (*count)++;
}

static void clear_visited(void)
{
    for (uint32_t i = 0; i < m.n; i++)
        m.visited[m.e[i].payload] = 0;
}

typedef struct run {
    phn_optable *t;
    size_t max_ops;
    uint32_t next_payload;
    uint32_t bulk_added;
    uint32_t bulk_serial;
} run;

/* One insert checked against the model; returns the result. */
static int insert(run *r, const key *k, int64_t deadline, int null_payload)
{
    uint32_t id = r->next_payload;
    uint32_t at = model_find(k);
    size_t failures = fz_failures();
    int rc = tbl_insert(r->t, k, deadline, null_payload ? NULL : payload_ptr(id));
    if (!key_valid(k) || null_payload) {
        FZ_CHECK(rc == PHN_EINVAL);
    } else if (at < m.n) {
        FZ_CHECK(rc == PHN_EEXIST);
    } else if (r->max_ops != 0 && m.n >= r->max_ops) {
        FZ_CHECK(rc == PHN_ELIMIT);
    } else if (rc == PHN_ENOMEM) {
        FZ_CHECK(fz_failures() > failures);
    } else {
        FZ_CHECK(rc == PHN_OK);
        model_add(k->buf, k->len, deadline, id);
        r->next_payload++;
    }
    return rc;
}

#if FUZZ_OPTABLE_BULK
static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Many entries with keys of their own family ("BK" + serial), deadlines base + i % spread. */
static void bulk_insert(run *r, fz_in *in)
{
    uint32_t count = fz_u16(in);
    int64_t base = fz_i64(in);
    uint32_t spread = 1u + fz_u8(in);
    if (count > BULK_MAX - r->bulk_added)
        count = BULK_MAX - r->bulk_added;
    for (uint32_t i = 0; i < count; i++) {
        key k;
        uint32_t serial = r->bulk_serial++;
        k.buf[0] = 'B';
        k.buf[1] = 'K';
        memcpy(k.buf + 2, &serial, sizeof(serial));
        k.len = 2 + sizeof(serial);
        k.ptr = k.buf;
        int64_t deadline = (int64_t)((uint64_t)base + i % spread);
        int rc = insert(r, &k, deadline, 0);
        r->bulk_added++;
        if (rc == PHN_ELIMIT || rc == PHN_ENOMEM)
            break;
    }
}

/* Remove the newest `count` model entries by key. */
static void bulk_remove(run *r, fz_in *in)
{
    uint32_t count = fz_u16(in);
    while (count-- > 0 && m.n > 0) {
        uint32_t i = m.n - 1;
        key k = entry_key(&m.e[i]);
        void *p = tbl_remove(r->t, &k);
        FZ_CHECK(p == payload_ptr(m.e[i].payload));
        model_drop(i);
    }
}

/* Expire up to `count` entries at `now`: they come out in deadline order. */
static void bulk_pop(run *r, fz_in *in)
{
    uint32_t count = fz_u16(in);
    int64_t now = fz_i64(in);
    for (uint32_t i = 0; i < m.n; i++)
        m.sorted[i] = m.e[i].deadline;
    uint32_t total = m.n;
    qsort(m.sorted, total, sizeof(m.sorted[0]), cmp_i64);
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *kout;
        size_t klen;
        void *p = phn_optable_pop_expired(r->t, now, &kout, &klen);
        if (i == total || !(now > m.sorted[i])) {
            FZ_CHECK(p == NULL);
            return;
        }
        FZ_CHECK(p != NULL);
        uint32_t at = model_by_payload(p);
        FZ_CHECK(m.e[at].deadline == m.sorted[i]);
        FZ_CHECK(key_out_is(&m.e[at], kout, klen));
        model_drop(at);
    }
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = fz_input(data, size);
    m.n = 0;
    m.arena_used = 0;
    memset(m.bucket, 0xff, sizeof(m.bucket));
    /* Only the payload ids the previous input used can be set (visited[] is always
     * cleared after use). */
    static uint32_t used = POOL;
    memset(m.where, 0xff, used * sizeof(m.where[0]));
    run r = {NULL, 0, 0, 0, 0};
    uint8_t cfg = fz_u8(&in);
    caller_keys = (cfg & 0x10) != 0;
    r.max_ops = (cfg & 0x80) ? (size_t)fz_num(&in) : (cfg & 0x0f);

    fz_alloc_begin();
    if (cfg & 0x40)
        fz_fail_from_input(&in);
    r.t = phn_optable_new(r.max_ops);
    if (r.t == NULL) {
        FZ_CHECK(fz_failures() > 0);
        fz_alloc_end();
        return 0;
    }
    fz_disarm();
    phn_optable *t = r.t;
    phn_counters counters = {0, 0};
    int counting = 0;

    for (int steps = 0; fz_more(&in) && steps < 4096; steps++) {
        uint8_t op = fz_u8(&in);
        key k;
        phn_counters before = counters;
        switch (op % 16) {
        case 0:
        case 1:
        case 2: { /* insert */
            pick_key(&in, &k);
            int64_t deadline = fz_i64(&in);
            (void)insert(&r, &k, deadline, (op & 0xc0) == 0xc0);
            break;
        }
        case 3: { /* get */
            pick_key(&in, &k);
            uint32_t at = model_find(&k);
            void *p = tbl_get(t, &k);
            FZ_CHECK(p == (at < m.n ? payload_ptr(m.e[at].payload) : NULL));
            if (counting)
                FZ_CHECK(!key_valid(&k) || counters.probes > before.probes);
            break;
        }
        case 4: { /* remove */
            pick_key(&in, &k);
            uint32_t at = model_find(&k);
            void *p = tbl_remove(t, &k);
            FZ_CHECK(p == (at < m.n ? payload_ptr(m.e[at].payload) : NULL));
            if (at < m.n)
                model_drop(at);
            break;
        }
        case 5:
        case 6: { /* pop_expired; peek_expired first must agree */
            int64_t now = fz_i64(&in);
            int64_t min = 0;
            int expired = model_min(&min) && now > min;
            void *peeked = phn_optable_peek_expired(t, now);
            const uint8_t *kout = NULL;
            size_t klen = SIZE_MAX;
            void *p = phn_optable_pop_expired(t, now, (op & 0x80) ? NULL : &kout,
                                              (op & 0x40) ? NULL : &klen);
            FZ_CHECK(peeked == p);
            if (!expired) {
                FZ_CHECK(p == NULL);
                break;
            }
            FZ_CHECK(p != NULL);
            uint32_t i = model_by_payload(p);
            FZ_CHECK(m.e[i].deadline == min); /* ties in any order */
            if (!(op & 0x40))
                FZ_CHECK(klen == (caller_keys ? 0 : m.e[i].len));
            if (!(op & 0x80) && !caller_keys)
                FZ_CHECK(kout != NULL && key_is(&m.e[i], kout, m.e[i].len));
            model_drop(i);
            break;
        }
        case 7: { /* set_deadline: never allocates */
            pick_key(&in, &k);
            int64_t deadline = fz_i64(&in);
            uint32_t at = model_find(&k);
            size_t calls = fz_alloc()->calls;
            int rc = tbl_set_deadline(t, &k, deadline);
            FZ_CHECK(fz_alloc()->calls == calls);
            if (!key_valid(&k)) {
                FZ_CHECK(rc == PHN_EINVAL);
            } else if (at == m.n) {
                FZ_CHECK(rc == PHN_ENOTFOUND);
            } else {
                FZ_CHECK(rc == PHN_OK);
                m.e[at].deadline = deadline;
            }
            break;
        }
        case 8: { /* foreach */
            size_t count = 0;
            clear_visited();
            phn_optable_foreach(t, visit, &count);
            FZ_CHECK(count == m.n);
            clear_visited();
            break;
        }
        case 9:
            if (op & 0x80)
                fz_disarm();
            else
                fz_fail_from_input(&in);
            break;
        case 10:
            counting = !(op & 0x80);
            phn_optable_set_counters(t, counting ? &counters : NULL);
            break;
#if FUZZ_OPTABLE_BULK
        case 11:
            bulk_insert(&r, &in);
            break;
        case 12:
            bulk_remove(&r, &in);
            break;
        case 13:
            bulk_pop(&r, &in);
            break;
#endif
        default:
            check_all(t);
            break;
        }
        check_sizes(t);
        /* Counters only ever grow, and only while attached. */
        FZ_CHECK(counters.probes >= before.probes && counters.heap_moves >= before.heap_moves);
        if (!counting)
            FZ_CHECK(counters.probes == before.probes && counters.heap_moves == before.heap_moves);
    }
    fz_disarm();
    check_all(t);

    /* Free: every payload handed back exactly once (or none, without a callback). */
    size_t count = 0;
    clear_visited();
    if (cfg & 0x20) {
        phn_optable_free(t, NULL, NULL);
    } else {
        phn_optable_free(t, free_payload, &count);
        FZ_CHECK(count == m.n);
    }
    clear_visited();
    phn_optable_free(NULL, free_payload, &count);
    used = r.next_payload;
    fz_alloc_end();
    return 0;
}
