#include "phn_cn_check.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phn_alloc.h"
#include "phn_cn_ei.h"
#include "phn_hash.h"

/* Largest bignum magnitude binary_to_term/1 takes (16 777 192 bits, less a margin). */
#define BIG_MAX_BYTES 2097148u
#define ATOM_MAX_CHARS 255u

/* Seeds of the key hashes: equal terms hash equally whatever their encoding. */
#define H_INT UINT64_C(0x51ed270b2702b9d1)
#define H_FLOAT UINT64_C(0x3c6ef372fe94f82b)
#define H_ATOM UINT64_C(0xa54ff53a5f1d36f1)
#define H_BIN UINT64_C(0x510e527fade682d1)
#define H_TUPLE UINT64_C(0x9b05688c2b3e6c1f)
#define H_LIST UINT64_C(0x1f83d9abfb41bd6b)
#define H_TAIL_NIL UINT64_C(0x5be0cd19137e2179)
#define H_IMPROPER UINT64_C(0xcbbb9d5dc1059ed8)
#define H_MAP UINT64_C(0x629a292a367cd507)
#define H_PID UINT64_C(0x9159015a3070dd17)
#define H_PORT UINT64_C(0x152fecd8f70e5939)
#define H_REF UINT64_C(0x67332667ffc00b31)
#define H_FUN UINT64_C(0x8eb44a8768581511)
#define H_EXPORT UINT64_C(0xdb0c2e0d64f98fa7)

enum { K_ROOT, K_TUPLE, K_LIST, K_MAP, K_FUN };

/* A compound whose children matter: the root, a map, a fun, or any compound inside a map
 * key (its hash is needed). Other tuples and lists are only counted in `owed`. */
typedef struct frame {
    int kind;
    int hashing;   /* its hash is needed: it is, or is inside, a map key */
    uint64_t left; /* direct children not complete yet */
    uint64_t owed; /* terms to walk before the current child is complete */
    uint64_t child;
    uint64_t acc;
    uint64_t key;   /* map: hash of the key whose value comes next */
    size_t keys_at; /* map: its key hashes start here in walk.keys */
    int end;        /* fun: where its encoding must end */
} frame;

typedef struct walk {
    frame *st;
    size_t depth, cap;
    uint64_t *keys;
    size_t nkeys, kcap;
} walk;

/* What one step found. */
typedef struct step {
    int kind; /* S_LEAF, S_OPEN (frame filled), S_PLAIN (n more terms), S_EXTEND */
    uint64_t h;
    int nil_tail; /* a leaf that ends a list the way [] does */
    uint64_t n;
    frame f;
} step;

enum { S_LEAF, S_OPEN, S_PLAIN, S_EXTEND };

static uint64_t mix2(uint64_t a, uint64_t b)
{
    return phn_mix64(a * UINT64_C(0x9e3779b97f4a7c15) + b + 1);
}

static int has(int i, int end, uint64_t n)
{
    return i >= 0 && i <= end && (uint64_t)(end - i) >= n;
}

static uint32_t be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Characters in valid UTF-8, or -1. */
static long utf8_chars(const uint8_t *p, size_t n)
{
    long chars = 0;
    for (size_t i = 0; i < n; chars++) {
        uint8_t c = p[i];
        size_t more;
        uint8_t lo = 0x80, hi = 0xbf; /* range of the first continuation byte */
        if (c < 0x80)
            more = 0;
        else if (c >= 0xc2 && c <= 0xdf)
            more = 1;
        else if (c >= 0xe0 && c <= 0xef) {
            more = 2;
            if (c == 0xe0)
                lo = 0xa0; /* overlong */
            if (c == 0xed)
                hi = 0x9f; /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            more = 3;
            if (c == 0xf0)
                lo = 0x90; /* overlong */
            if (c == 0xf4)
                hi = 0x8f; /* past U+10FFFF */
        } else
            return -1;
        if (n - i - 1 < more)
            return -1;
        for (size_t k = 1; k <= more; k++) {
            uint8_t b = p[i + k];
            if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xbf))
                return -1;
        }
        i += 1 + more;
    }
    return chars;
}

/* An atom at *i (any atom tag): valid as the BEAM sees it; its hash (of the UTF-8 text,
 * so that latin-1 and UTF-8 encodings of one atom agree) when want_hash. */
static int atom(const uint8_t *b, int *i, int end, int want_hash, uint64_t *h)
{
    int at = *i;
    if (!has(at, end, 1))
        return -1;
    uint8_t tag = b[at++];
    uint32_t len;
    if (tag == ERL_ATOM_EXT || tag == ERL_ATOM_UTF8_EXT) {
        if (!has(at, end, 2))
            return -1;
        len = be16(b + at);
        at += 2;
    } else if (tag == ERL_SMALL_ATOM_EXT || tag == ERL_SMALL_ATOM_UTF8_EXT) {
        if (!has(at, end, 1))
            return -1;
        len = b[at++];
    } else
        return -1;
    if (!has(at, end, len))
        return -1;
    const uint8_t *text = b + at;
    int latin1 = tag == ERL_ATOM_EXT || tag == ERL_SMALL_ATOM_EXT;
    long chars = latin1 ? (long)len : utf8_chars(text, len);
    if (chars < 0 || chars > (long)ATOM_MAX_CHARS)
        return -1;
    if (want_hash) {
        if (latin1) {
            uint8_t utf8[2 * ATOM_MAX_CHARS];
            size_t n = 0;
            for (uint32_t k = 0; k < len; k++) {
                if (text[k] < 0x80) {
                    utf8[n++] = text[k];
                } else {
                    utf8[n++] = (uint8_t)(0xc0 | text[k] >> 6);
                    utf8[n++] = (uint8_t)(0x80 | (text[k] & 0x3f));
                }
            }
            *h = phn_hash_bytes(utf8, n, H_ATOM);
        } else {
            *h = phn_hash_bytes(text, len, H_ATOM);
        }
    }
    *i = at + (int)len;
    return 0;
}

/* An integer's hash from its sign and little-endian magnitude (leading zeros ignored). */
static uint64_t int_hash(int negative, const uint8_t *le, size_t n)
{
    while (n > 0 && le[n - 1] == 0)
        n--;
    return phn_hash_bytes(le, n, H_INT ^ (uint64_t)(n > 0 && negative));
}

static uint64_t small_int_hash(int64_t v)
{
    uint8_t le[8];
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    for (int k = 0; k < 8; k++)
        le[k] = (uint8_t)(mag >> (8 * k));
    return int_hash(v < 0, le, 8);
}

/* The BEAM validates the identifiers of its own node more strictly than other nodes'
 * (any 32-bit pid and port words, references of up to 5 words: what OTP 26 and later
 * send). The owner's node is a node a peer can name, so identifiers naming it are held to
 * the local rules, which all the BEAM and ei ever create keep: a pid's id below 2^15 and
 * serial below 2^13, a port's id below 2^28, and a reference of at most 3 words whose
 * first is below 2^18 (the BEAM's 4- and 5-word pid references are refused). Until the
 * owner's node is known (phn_cn_check_set_owner), every node is held to them. */
static int owner_known;
static uint64_t owner_hash;

int phn_cn_check_set_owner(const char *node)
{
    owner_known = 0;
    if (node == NULL || node[0] == '\0')
        return 0;
    size_t len = strlen(node);
    if (len > ATOM_MAX_CHARS)
        return -1;
    uint8_t enc[2 + ATOM_MAX_CHARS];
    enc[0] = ERL_SMALL_ATOM_UTF8_EXT;
    enc[1] = (uint8_t)len;
    memcpy(enc + 2, node, len);
    int at = 0;
    if (atom(enc, &at, (int)(len + 2), 1, &owner_hash) < 0)
        return -1;
    owner_known = 1;
    return 0;
}

static int strict_for(uint64_t node)
{
    return !owner_known || node == owner_hash;
}

/* Node atom, then `words` 32-bit numbers (hashed) and `skip` bytes (creation, not hashed:
 * a coarser hash only makes a duplicate key more likely to be suspected, never missed). */
static int ident(const uint8_t *b, int *i, int end, uint64_t seed, int words, int wide,
                 uint64_t skip, uint64_t *h)
{
    uint64_t node;
    if (atom(b, i, end, 1, &node) < 0 || !has(*i, end, (uint64_t)words * 4 + skip))
        return -1;
    const uint8_t *n = b + *i;
    int strict = strict_for(node);
    if (strict && seed == H_PID && (be32(n) >= (1u << 15) || be32(n + 4) >= (1u << 13)))
        return -1;
    if (strict && seed == H_PORT &&
        (wide ? be32(n) != 0 || be32(n + 4) >= (1u << 28) : be32(n) >= (1u << 28)))
        return -1;
    uint64_t acc = mix2(seed, node);
    if (wide) { /* V4_PORT_EXT: one 64-bit id */
        acc = mix2(acc, (uint64_t)be32(b + *i) << 32 | be32(b + *i + 4));
    } else {
        /* Trailing zero words are dropped: refs of 3 and 5 words may be equal. */
        int last = words;
        while (last > 0 && be32(b + *i + 4 * (last - 1)) == 0)
            last--;
        for (int k = 0; k < last; k++)
            acc = mix2(acc, be32(b + *i + 4 * k));
    }
    *i += words * 4 + (int)skip;
    *h = acc;
    return 0;
}

static int push(walk *w, const frame *f)
{
    if (w->depth >= PHN_CN_CHECK_MAX_DEPTH)
        return -1;
    if (w->depth == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        frame *st = phn_reallocarray(w->st, cap, sizeof(*st));
        if (st == NULL)
            return -1;
        w->st = st;
        w->cap = cap;
    }
    w->st[w->depth++] = *f;
    return 0;
}

static int add_key(walk *w, uint64_t h)
{
    if (w->nkeys == w->kcap) {
        size_t cap = w->kcap ? w->kcap * 2 : 32;
        uint64_t *keys = phn_reallocarray(w->keys, cap, sizeof(*keys));
        if (keys == NULL)
            return -1;
        w->keys = keys;
        w->kcap = cap;
    }
    w->keys[w->nkeys++] = h;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* One term's head at *i, in the context of frame f (its next child). */
static int one(const uint8_t *b, int *i, int end, const frame *f, step *s)
{
    int hashing = f->hashing || (f->kind == K_MAP && f->child % 2 == 0);
    int tail = f->kind == K_LIST && f->hashing && f->left == 1 && f->owed == 1;
    int at = *i;
    memset(s, 0, sizeof(*s));
    s->kind = S_LEAF;
    if (!has(at, end, 1))
        return -1;
    uint8_t tag = b[at++];
    uint64_t n;
    switch (tag) {
    case ERL_SMALL_INTEGER_EXT:
        if (!has(at, end, 1))
            return -1;
        s->h = small_int_hash(b[at]);
        at += 1;
        break;
    case ERL_INTEGER_EXT:
        if (!has(at, end, 4))
            return -1;
        s->h = small_int_hash((int32_t)be32(b + at));
        at += 4;
        break;
    case NEW_FLOAT_EXT: {
        if (!has(at, end, 8))
            return -1;
        uint64_t bits = (uint64_t)be32(b + at) << 32 | be32(b + at + 4);
        if (((bits >> 52) & 0x7ff) == 0x7ff)
            return -1; /* NaN, infinities */
        if (bits == UINT64_C(0x8000000000000000))
            bits = 0; /* -0.0 and 0.0 are one key to the BEAM */
        s->h = mix2(H_FLOAT, bits);
        at += 8;
        break;
    }
    case ERL_ATOM_EXT:
    case ERL_ATOM_UTF8_EXT:
    case ERL_SMALL_ATOM_EXT:
    case ERL_SMALL_ATOM_UTF8_EXT:
        at--;
        if (atom(b, &at, end, hashing, &s->h) < 0)
            return -1;
        break;
    case ERL_NIL_EXT:
        /* As a tail: the list so far (deliver ends it); alone: the empty list. */
        s->h = tail ? f->acc : mix2(H_LIST, H_TAIL_NIL);
        s->nil_tail = tail;
        break;
    case ERL_STRING_EXT: {
        if (!has(at, end, 2))
            return -1;
        n = be16(b + at);
        at += 2;
        if (!has(at, end, n))
            return -1;
        if (hashing) {
            /* Continues the list it ends, or is a list of its own. */
            uint64_t acc = tail ? f->acc : H_LIST;
            for (uint64_t k = 0; k < n; k++)
                acc = mix2(acc, small_int_hash(b[at + (int)k]));
            s->h = tail ? acc : mix2(acc, H_TAIL_NIL);
            s->nil_tail = tail;
        }
        at += (int)n;
        break;
    }
    case ERL_BINARY_EXT:
    case ERL_BIT_BINARY_EXT: {
        int bitbin = tag == ERL_BIT_BINARY_EXT;
        if (!has(at, end, bitbin ? 5 : 4))
            return -1;
        n = be32(b + at);
        unsigned bits = bitbin ? b[at + 4] : 8;
        at += bitbin ? 5 : 4;
        if (!has(at, end, n) || (n == 0 && bitbin && bits != 0) ||
            (n > 0 && (bits < 1 || bits > 8)))
            return -1;
        if (hashing && n > 0) {
            uint8_t last = (uint8_t)(b[at + (int)n - 1] & (0xff00u >> bits));
            s->h = mix2(mix2(phn_hash_bytes(b + at, n - 1, H_BIN), last), (n - 1) * 8 + bits);
        } else if (hashing) {
            s->h = mix2(phn_hash_bytes(b + at, 0, H_BIN), 0);
        }
        at += (int)n;
        break;
    }
    case ERL_SMALL_BIG_EXT:
    case ERL_LARGE_BIG_EXT: {
        int large = tag == ERL_LARGE_BIG_EXT;
        if (!has(at, end, large ? 5 : 2))
            return -1;
        n = large ? be32(b + at) : b[at];
        uint8_t sign = b[at + (large ? 4 : 1)];
        at += large ? 5 : 2;
        if (n > BIG_MAX_BYTES || !has(at, end, n))
            return -1;
        if (hashing)
            s->h = int_hash(sign != 0, b + at, n); /* any sign byte but 0 is negative */
        at += (int)n;
        break;
    }
    case ERL_SMALL_TUPLE_EXT:
    case ERL_LARGE_TUPLE_EXT:
    case ERL_LIST_EXT:
    case ERL_MAP_EXT: {
        int small = tag == ERL_SMALL_TUPLE_EXT;
        if (!has(at, end, small ? 1 : 4))
            return -1;
        n = small ? b[at] : be32(b + at);
        at += small ? 1 : 4;
        if (tag == ERL_LIST_EXT && tail) {
            s->kind = S_EXTEND; /* [a | [b]] is [a, b] */
            s->n = n;
            break;
        }
        uint64_t kids = tag == ERL_LIST_EXT ? n + 1 : tag == ERL_MAP_EXT ? 2 * n : n;
        if (kids > (uint64_t)(end - at))
            return -1; /* every term takes a byte */
        if (kids == 0) {
            s->h = tag == ERL_MAP_EXT ? mix2(H_MAP, 0) : mix2(H_TUPLE, 0);
            break;
        }
        if (tag != ERL_MAP_EXT && !hashing) {
            s->kind = S_PLAIN;
            s->n = kids;
            break;
        }
        s->kind = S_OPEN;
        s->f.kind = tag == ERL_MAP_EXT ? K_MAP : tag == ERL_LIST_EXT ? K_LIST : K_TUPLE;
        s->f.hashing = hashing;
        s->f.left = kids;
        s->f.owed = 1;
        s->f.acc = tag == ERL_MAP_EXT ? 0 : tag == ERL_LIST_EXT ? H_LIST : mix2(H_TUPLE, n);
        break;
    }
    case ERL_NEW_PID_EXT:
        if (ident(b, &at, end, H_PID, 2, 0, 4, &s->h) < 0)
            return -1;
        break;
    case ERL_NEW_PORT_EXT:
        if (ident(b, &at, end, H_PORT, 1, 0, 4, &s->h) < 0)
            return -1;
        break;
    case ERL_V4_PORT_EXT:
        if (ident(b, &at, end, H_PORT, 2, 1, 4, &s->h) < 0)
            return -1;
        break;
    case ERL_NEWER_REFERENCE_EXT: {
        /* (NEW_REFERENCE_EXT, with its 8-bit creation, is pre-OTP-23: refused below.) */
        if (!has(at, end, 2))
            return -1;
        uint32_t words = be16(b + at);
        at += 2;
        if (words == 0 || words > 5)
            return -1;
        uint64_t node;
        if (atom(b, &at, end, 1, &node) < 0)
            return -1;
        if (!has(at, end, 4 + 4 * (uint64_t)words))
            return -1;
        at += 4;
        if (strict_for(node) && (words > 3 || be32(b + at) >= (1u << 18))) /* see ident() */
            return -1;
        uint64_t acc = mix2(H_REF, node);
        int last = (int)words;
        while (last > 0 && be32(b + at + 4 * (last - 1)) == 0)
            last--;
        for (int k = 0; k < last; k++)
            acc = mix2(acc, be32(b + at + 4 * k));
        s->h = acc;
        at += 4 * (int)words;
        break;
    }
    case ERL_EXPORT_EXT: {
        uint64_t m, fn;
        if (atom(b, &at, end, 1, &m) < 0 || atom(b, &at, end, 1, &fn) < 0 || !has(at, end, 2) ||
            b[at] != ERL_SMALL_INTEGER_EXT)
            return -1;
        s->h = mix2(mix2(mix2(H_EXPORT, m), fn), b[at + 1]);
        at += 2;
        break;
    }
    case ERL_NEW_FUN_EXT: {
        /* Size (counting itself), arity, uniq[16], index, free count; module, old index,
         * old uniq, creator pid; then the free variables. */
        int start = at;
        if (!has(at, end, 4 + 1 + 16 + 4 + 4))
            return -1;
        uint64_t size = be32(b + at);
        uint64_t nfree = be32(b + at + 25);
        if (size < 29 || !has(start, end, size))
            return -1;
        uint64_t acc = mix2(phn_hash_bytes(b + at + 5, 20, H_FUN), 0);
        at += 29;
        uint64_t m, pid;
        if (atom(b, &at, end, 1, &m) < 0)
            return -1;
        for (int k = 0; k < 2; k++) { /* old index, old uniq */
            if (has(at, end, 2) && b[at] == ERL_SMALL_INTEGER_EXT)
                at += 2;
            else if (has(at, end, 5) && b[at] == ERL_INTEGER_EXT)
                at += 5;
            else
                return -1;
        }
        if (!has(at, end, 1) || b[at] != ERL_NEW_PID_EXT)
            return -1;
        at++;
        if (ident(b, &at, end, H_PID, 2, 0, 4, &pid) < 0)
            return -1;
        s->h = mix2(acc, m);
        int fun_end = start + (int)size;
        if (at > fun_end || nfree > (uint64_t)(fun_end - at))
            return -1;
        if (nfree == 0) {
            if (at != fun_end)
                return -1;
            break;
        }
        s->kind = S_OPEN;
        s->f.kind = K_FUN;
        s->f.hashing = hashing;
        s->f.left = nfree;
        s->f.owed = 1;
        s->f.acc = s->h;
        s->f.end = fun_end;
        break;
    }
    default:
        /* Atom cache refs, old funs, local ext, FLOAT_EXT, and the pre-OTP-23 PID_EXT,
         * PORT_EXT, REFERENCE_EXT and NEW_REFERENCE_EXT. */
        return -1;
    }
    *i = at;
    return 0;
}

/* f's current child is complete, with hash h. */
static int deliver(walk *w, frame *f, uint64_t h, int nil_tail)
{
    switch (f->kind) {
    case K_TUPLE:
        f->acc = mix2(f->acc, h);
        break;
    case K_LIST:
        if (f->left > 1)
            f->acc = mix2(f->acc, h);
        else if (nil_tail) /* h is the list so far (a string tail adds its characters) */
            f->acc = mix2(h, H_TAIL_NIL);
        else
            f->acc = mix2(f->acc, mix2(H_IMPROPER, h));
        break;
    case K_MAP:
        if (f->child % 2 == 0) {
            f->key = h;
            if (add_key(w, h) < 0)
                return -1;
        } else {
            f->acc += phn_mix64(mix2(f->key, h)); /* order-free: maps are sets of pairs */
        }
        break;
    default:
        break; /* the root; a fun's hash is its identity, not its free variables */
    }
    f->left--;
    f->child++;
    f->owed = f->left > 0;
    return 0;
}

/* A frame with no children left: its own checks and hash. */
static int finish(walk *w, const frame *f, int i, uint64_t *h)
{
    if (f->kind == K_MAP) {
        size_t n = w->nkeys - f->keys_at;
        uint64_t *keys = w->keys + f->keys_at;
        qsort(keys, n, sizeof(*keys), cmp_u64);
        for (size_t k = 1; k < n; k++)
            if (keys[k] == keys[k - 1])
                return -1; /* equal keys (or, once in 2^64, a collision: refused alike) */
        w->nkeys = f->keys_at;
        *h = mix2(H_MAP ^ n, f->acc);
        return 0;
    }
    if (f->kind == K_FUN && i != f->end)
        return -1;
    *h = f->acc;
    return 0;
}

int phn_cn_term_check(const char *buf, int *idx, int end)
{
    const uint8_t *b = (const uint8_t *)buf;
    walk w = {0};
    int i = *idx, rc = -1;
    frame root = {.kind = K_ROOT, .left = 1, .owed = 1};
    if (push(&w, &root) < 0)
        goto out;
    for (;;) {
        frame *f = &w.st[w.depth - 1];
        step s;
        if (one(b, &i, end, f, &s) < 0)
            goto out;
        if (s.kind == S_EXTEND) {
            f->left += s.n; /* the tail slot stays, now after n more elements */
            if (f->left > (uint64_t)(end - i))
                goto out;
            continue;
        }
        f->owed--;
        if (s.kind == S_PLAIN) {
            f->owed += s.n;
            if (f->owed > (uint64_t)(end - i))
                goto out;
            continue;
        }
        if (s.kind == S_OPEN) {
            s.f.keys_at = w.nkeys;
            if (push(&w, &s.f) < 0)
                goto out;
            continue;
        }
        uint64_t h = s.h;
        int nil_tail = s.nil_tail;
        /* Completed terms travel up as long as they complete their parent's child. */
        while (f->owed == 0) {
            if (deliver(&w, f, h, nil_tail) < 0)
                goto out;
            if (f->left > 0)
                break;
            if (f->kind == K_ROOT) {
                *idx = i;
                rc = 0;
                goto out;
            }
            if (finish(&w, f, i, &h) < 0)
                goto out;
            nil_tail = 0;
            w.depth--;
            f = &w.st[w.depth - 1];
        }
    }
out:
    phn_free(w.st);
    phn_free(w.keys);
    return rc;
}
