/* phn_nodeset: a program of init / insert / find / set / free-and-reuse operations, with
 * allocation failures the input chooses, checked against a reference array after every
 * step. The input picks how keys compare and hash, so collisions are common:
 *   - identity: eq NULL, hash = key, or hash from only a few key bits;
 *   - classes:  an eq callback that treats keys with equal low 16 bits as one key (as
 *     enif_is_identical treats distinct words of equal terms), hash from that class.
 * The eq callback checks its contract (only called for equal caller hashes), size and
 * bytes match the reference and the allocator's count, and nothing leaks. */
/* Large sizing hints fail fast instead of clearing megabytes on every input. */
#define FZ_ALLOC_LIMIT ((size_t)1 << 20)
#include "fuzz_common.h"
#include "phn_hash.h"
#include "phn_nodeset.h"

#define MODEL_MAX 1024

typedef struct model {
    uint64_t key[MODEL_MAX]; /* the representative stored first */
    uint64_t value[MODEL_MAX];
    size_t n;
} model;

typedef struct keying {
    int classes;    /* eq compares low 16 bits */
    uint64_t hmask; /* the caller hash keeps only these bits of the (class) key */
    size_t eq_calls;
} keying;

static uint64_t key_class(const keying *k, uint64_t key)
{
    return k->classes ? (key & 0xffffu) : key;
}

static uint64_t key_hash(const keying *k, uint64_t key)
{
    return key_class(k, key) & k->hmask;
}

static int key_eq(uint64_t a, uint64_t b, void *ctx)
{
    keying *k = ctx;
    k->eq_calls++;
    /* Hashes 0 and phn_mix64^-1(0x9e37..) share a stored hash; nothing else may meet. */
    FZ_CHECK(key_hash(k, a) == key_hash(k, b) || key_hash(k, a) == 0 || key_hash(k, b) == 0);
    return key_class(k, a) == key_class(k, b);
}

static size_t model_find(const model *m, const keying *k, uint64_t key)
{
    for (size_t i = 0; i < m->n; i++)
        if (key_class(k, m->key[i]) == key_class(k, key))
            return i;
    return m->n;
}

/* A key: mostly one already in the model (hits), else a small or full-width new one. */
static uint64_t pick_key(fz_in *in, const model *m)
{
    uint8_t sel = fz_u8(in);
    if ((sel & 0x80) && m->n != 0) {
        uint64_t key = m->key[fz_u8(in) % m->n];
        /* In class mode, the same class under another representative. */
        return (sel & 0x40) ? key ^ ((uint64_t)fz_u8(in) << 16) : key;
    }
    return (sel & 0x40) ? fz_u64(in) : (sel & 0x3f);
}

static void check_all(const phn_nodeset *s, const model *m, const keying *k)
{
    FZ_CHECK(phn_nodeset_size(s) == m->n);
    FZ_CHECK(phn_nodeset_bytes(s) == fz_live_bytes());
    FZ_CHECK(s->cap == 0 || (s->cap & (s->cap - 1)) == 0);
    FZ_CHECK(s->size < s->cap || s->cap == 0);
    for (size_t i = 0; i < m->n; i++) {
        uint64_t v = ~m->value[i];
        FZ_CHECK(phn_nodeset_find(s, m->key[i], key_hash(k, m->key[i]), &v) == 1);
        FZ_CHECK(v == m->value[i]);
    }
}

static void reinit(phn_nodeset *s, model *m, keying *k, fz_in *in)
{
    uint64_t expected = fz_num(in);
    size_t calls = fz_alloc()->calls, failures = fz_failures();
    int rc = phn_nodeset_init(s, (size_t)expected, k->classes ? key_eq : NULL, k);
    m->n = 0;
    if (rc == PHN_ENOMEM) {
        /* Zeroed and usable: free is safe, and it grows from nothing on insert. */
        FZ_CHECK(fz_failures() > failures || fz_alloc()->calls == calls);
        FZ_CHECK(s->slots == NULL && s->cap == 0 && s->size == 0);
    } else {
        FZ_CHECK(rc == PHN_OK);
        /* `expected` keys fit without regrowth. */
        FZ_CHECK(expected == 0 || s->cap - s->cap / 4 - s->cap / 16 >= expected);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static model m;
    fz_in in = fz_input(data, size);
    keying k = {0, 0, 0};
    uint8_t mode = fz_u8(&in);
    k.classes = mode & 1;
    static const uint64_t masks[] = {UINT64_MAX, 0, 1, 3, 0xff, UINT64_C(0xffffffff00000000)};
    k.hmask = masks[(mode >> 1) % (sizeof(masks) / sizeof(masks[0]))];

    fz_alloc_begin();
    phn_nodeset s;
    reinit(&s, &m, &k, &in);

    for (int steps = 0; fz_more(&in) && steps < 2048; steps++) {
        uint8_t op = fz_u8(&in);
        switch (op % 8) {
        case 0:
        case 1: { /* insert */
            uint64_t key = pick_key(&in, &m);
            uint64_t value = fz_num(&in);
            size_t at = model_find(&m, &k, key);
            if (at == m.n && m.n == MODEL_MAX)
                break;
            size_t failures = fz_failures();
            uint64_t found = 0x1234;
            int rc = phn_nodeset_insert(&s, key, key_hash(&k, key), value, &found);
            if (at < m.n) {
                /* Present: 0 and the old value, even when allocation would fail. */
                FZ_CHECK(rc == 0 && found == m.value[at]);
            } else if (rc == PHN_ENOMEM) {
                FZ_CHECK(fz_failures() > failures);
                FZ_CHECK(found == 0x1234);
            } else {
                FZ_CHECK(rc == 1 && found == 0x1234);
                m.key[m.n] = key;
                m.value[m.n] = value;
                m.n++;
            }
            if (op & 0x80) { /* found == NULL is accepted; a retry may now succeed */
                rc = phn_nodeset_insert(&s, key, key_hash(&k, key), value + 1, NULL);
                if (model_find(&m, &k, key) < m.n) {
                    FZ_CHECK(rc == 0);
                } else if (rc == 1) {
                    m.key[m.n] = key;
                    m.value[m.n] = value + 1;
                    m.n++;
                } else {
                    FZ_CHECK(rc == PHN_ENOMEM);
                }
            }
            break;
        }
        case 2: { /* find */
            uint64_t key = pick_key(&in, &m);
            size_t at = model_find(&m, &k, key);
            uint64_t v = 0x777;
            int rc = phn_nodeset_find(&s, key, key_hash(&k, key), &v);
            FZ_CHECK(rc == (at < m.n));
            FZ_CHECK(at < m.n ? v == m.value[at] : v == 0x777);
            FZ_CHECK(phn_nodeset_find(&s, key, key_hash(&k, key), NULL) == rc);
            break;
        }
        case 3: { /* set: updates only */
            uint64_t key = pick_key(&in, &m);
            uint64_t value = fz_num(&in);
            size_t at = model_find(&m, &k, key);
            size_t calls = fz_alloc()->calls;
            FZ_CHECK(phn_nodeset_set(&s, key, key_hash(&k, key), value) == (at < m.n));
            FZ_CHECK(fz_alloc()->calls == calls);
            if (at < m.n)
                m.value[at] = value;
            break;
        }
        case 4: /* free, maybe twice, then reuse (possibly re-initialised) */
            phn_nodeset_free(&s);
            if (op & 0x80)
                phn_nodeset_free(&s);
            FZ_CHECK(fz_live_bytes() == 0 && s.size == 0);
            m.n = 0;
            if (op & 0x40)
                reinit(&s, &m, &k, &in);
            break;
        case 5:
            fz_fail_from_input(&in);
            break;
        case 6:
            fz_disarm();
            break;
        default:
            check_all(&s, &m, &k);
            break;
        }
        FZ_CHECK(phn_nodeset_size(&s) == m.n);
        FZ_CHECK(phn_nodeset_bytes(&s) == fz_live_bytes());
    }
    fz_disarm();
    check_all(&s, &m, &k);
    if (!k.classes)
        FZ_CHECK(k.eq_calls == 0);
    phn_nodeset_free(&s);
    fz_alloc_end();
    return 0;
}
