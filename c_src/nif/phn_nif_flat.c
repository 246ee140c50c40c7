/* phn_nif_flat: the compact term image (see the header). Layout, one tag byte then:
 *   F_NIL                          []
 *   F_ATOM   varint word           the atom's term word
 *   F_INT    varint zigzag         an integer that fits 64 bits
 *   F_FLOAT  8 bytes               a double
 *   F_BIN    varint n, n bytes     a binary
 *   F_PID    sizeof(ErlNifPid)     a local pid
 *   F_LIST   varint n, n terms     a proper list of n >= 1 elements
 *   F_ILIST  varint n, n + 1 terms n >= 1 elements, then the tail of an improper list
 *   F_TUPLE  varint n, n terms
 *   F_MAP    varint n, 2n terms    the n keys, then the n values in the keys' order
 *   F_EXT    varint n, n bytes     the external term format of anything else */
#include "phn_nif_flat.h"

#include <string.h>

#include "phn_alloc.h"
#include "phn_nif_terms.h"
#include "phn_status.h"

enum {
    F_NIL = 1,
    F_ATOM,
    F_INT,
    F_FLOAT,
    F_BIN,
    F_PID,
    F_LIST,
    F_ILIST,
    F_TUPLE,
    F_MAP,
    F_EXT,
};

#define TRY(x)                                                                                     \
    do {                                                                                           \
        if ((rc = (x)) != PHN_OK)                                                                  \
            goto out;                                                                              \
    } while (0)

/* The common small writes, without a call when the buffer has room. */
static inline int put_u8(phn_bytes *out, uint8_t v)
{
    if (out->len < out->cap) {
        out->data[out->len++] = v;
        return PHN_OK;
    }
    return phn_bytes_put_u8(out, v);
}

static int put_header(phn_bytes *out, uint8_t tag, uint64_t n)
{
    if (out->cap - out->len >= 11) {
        uint8_t *p = out->data + out->len;
        *p++ = tag;
        do {
            uint8_t byte = (uint8_t)(n & 0x7f);
            n >>= 7;
            *p++ = (uint8_t)(byte | (n != 0 ? 0x80 : 0));
        } while (n != 0);
        out->len = (size_t)(p - out->data);
        return PHN_OK;
    }
    if (phn_bytes_put_u8(out, tag) != PHN_OK)
        return PHN_ENOMEM;
    return phn_bytes_put_varint(out, n);
}

static inline int push(phn_terms *stack, ERL_NIF_TERM t)
{
    if (stack->len < stack->cap) {
        stack->items[stack->len++] = t;
        return PHN_OK;
    }
    return phn_terms_push(stack, t);
}

/* Weight is counted as a copy walks: one per term, one more per list cell, and one per
 * PHN_FLAT_BINARY_BYTES bytes a binary (or an external-format part) copies. */
static inline size_t add(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static int put_ext(ErlNifEnv *env, ERL_NIF_TERM t, phn_bytes *out, size_t *weight)
{
    ErlNifBinary bin;
    if (!enif_term_to_binary(env, t, &bin))
        return PHN_ENOMEM;
    int rc = put_header(out, F_EXT, bin.size);
    if (rc == PHN_OK)
        rc = phn_bytes_put(out, bin.data, bin.size);
    *weight = add(*weight, bin.size / PHN_FLAT_BINARY_BYTES);
    enif_release_binary(&bin);
    return rc;
}

int phn_flat_encode(ErlNifEnv *env, ERL_NIF_TERM term, size_t limit, phn_bytes *out,
                    size_t *weight_out)
{
    phn_terms stack, items;
    phn_terms_init(&stack);
    phn_terms_init(&items);
    size_t weight = 0;
    int rc = PHN_OK;
    TRY(push(&stack, term));
    while (stack.len > 0) {
        if ((weight = add(weight, 1)) > limit) {
            rc = PHN_ELIMIT;
            goto out;
        }
        ERL_NIF_TERM t = stack.items[--stack.len];
        switch (enif_term_type(env, t)) {
        case ERL_NIF_TERM_TYPE_ATOM:
            TRY(put_header(out, F_ATOM, (uint64_t)t));
            break;
        case ERL_NIF_TERM_TYPE_INTEGER: {
            ErlNifSInt64 v;
            ErlNifUInt64 u;
            if (enif_get_int64(env, t, &v)) {
                TRY(put_header(out, F_INT, phn_zigzag((int64_t)v)));
            } else if (limit != SIZE_MAX && !enif_get_uint64(env, t, &u)) {
                /* A bignum beyond 64 bits: no size without a copy (as bitstrings). */
                rc = PHN_ELIMIT;
                goto out;
            } else {
                TRY(put_ext(env, t, out, &weight));
            }
            break;
        }
        case ERL_NIF_TERM_TYPE_FLOAT: {
            double d;
            if (!enif_get_double(env, t, &d)) {
                TRY(put_ext(env, t, out, &weight));
                break;
            }
            TRY(put_u8(out, F_FLOAT));
            TRY(phn_bytes_put(out, &d, sizeof(d)));
            break;
        }
        case ERL_NIF_TERM_TYPE_BITSTRING: {
            ErlNifBinary bin;
            if (enif_is_binary(env, t) && enif_inspect_binary(env, t, &bin)) {
                if ((weight = add(weight, bin.size / PHN_FLAT_BINARY_BYTES)) > limit) {
                    rc = PHN_ELIMIT;
                    goto out;
                }
                TRY(put_header(out, F_BIN, bin.size));
                TRY(phn_bytes_put(out, bin.data, bin.size));
            } else if (limit != SIZE_MAX) {
                /* Trailing bits: no size without a copy, so only an unbounded walk (on a
                 * dirty scheduler) takes it. */
                rc = PHN_ELIMIT;
                goto out;
            } else {
                TRY(put_ext(env, t, out, &weight));
            }
            break;
        }
        case ERL_NIF_TERM_TYPE_PID: {
            ErlNifPid pid;
            if (enif_get_local_pid(env, t, &pid)) {
                TRY(put_u8(out, F_PID));
                TRY(phn_bytes_put(out, &pid, sizeof(pid)));
            } else {
                TRY(put_ext(env, t, out, &weight));
            }
            break;
        }
        case ERL_NIF_TERM_TYPE_LIST: {
            ERL_NIF_TERM head, tail = t;
            items.len = 0;
            while (enif_get_list_cell(env, tail, &head, &tail)) {
                if ((weight = add(weight, 1)) > limit) {
                    rc = PHN_ELIMIT;
                    goto out;
                }
                TRY(push(&items, head));
            }
            if (items.len == 0) {
                TRY(put_u8(out, F_NIL));
                break;
            }
            int proper = enif_is_empty_list(env, tail);
            TRY(put_header(out, proper ? F_LIST : F_ILIST, items.len));
            if (!proper)
                TRY(push(&stack, tail)); /* comes off after the elements */
            for (size_t i = items.len; i-- > 0;)
                TRY(push(&stack, items.items[i]));
            break;
        }
        case ERL_NIF_TERM_TYPE_TUPLE: {
            int arity;
            const ERL_NIF_TERM *elems;
            if (!enif_get_tuple(env, t, &arity, &elems)) {
                TRY(put_ext(env, t, out, &weight));
                break;
            }
            /* Every element costs at least 1: past the limit before anything is pushed. */
            if (add(weight, (size_t)arity) > limit) {
                rc = PHN_ELIMIT;
                goto out;
            }
            TRY(put_header(out, F_TUPLE, (uint64_t)arity));
            for (int i = arity; i-- > 0;)
                TRY(push(&stack, elems[i]));
            break;
        }
        case ERL_NIF_TERM_TYPE_MAP: {
            ErlNifMapIterator it;
            ERL_NIF_TERM k, v;
            size_t pairs;
            /* Every key and value costs at least 1: past the limit before iterating. */
            if (enif_get_map_size(env, t, &pairs) && pairs > (limit - weight) / 2) {
                rc = PHN_ELIMIT;
                goto out;
            }
            if (!enif_map_iterator_create(env, t, &it, ERL_NIF_MAP_ITERATOR_FIRST)) {
                TRY(put_ext(env, t, out, &weight));
                break;
            }
            items.len = 0;
            while (rc == PHN_OK && enif_map_iterator_get_pair(env, &it, &k, &v)) {
                rc = push(&items, k);
                if (rc == PHN_OK)
                    rc = push(&items, v);
                enif_map_iterator_next(env, &it);
            }
            enif_map_iterator_destroy(env, &it);
            TRY(rc);
            /* Keys first, then values, so that reading builds the map straight from its
             * children (enif_make_map_from_arrays) without regrouping them. */
            size_t n = items.len / 2;
            TRY(put_header(out, F_MAP, n));
            for (size_t i = n; i-- > 0;)
                TRY(push(&stack, items.items[2 * i + 1]));
            for (size_t i = n; i-- > 0;)
                TRY(push(&stack, items.items[2 * i]));
            break;
        }
        case ERL_NIF_TERM_TYPE_FUN:
            /* A fun's environment may hold anything (a big binary): its size is unknown
             * without a copy, so only an unbounded walk (dirty) encodes it. */
            if (limit != SIZE_MAX) {
                rc = PHN_ELIMIT;
                goto out;
            }
            TRY(put_ext(env, t, out, &weight));
            break;
        default: /* references, ports */
            TRY(put_ext(env, t, out, &weight));
            break;
        }
    }
    if (weight > limit)
        rc = PHN_ELIMIT;
out:
    phn_terms_free(&items);
    phn_terms_free(&stack);
    if (weight_out != NULL)
        *weight_out = weight;
    return rc;
}

/* --- decoding ------------------------------------------------------------------------- */

/* A container being filled: its children are values[base ..]. */
typedef struct frame {
    uint8_t tag;
    size_t need; /* children it takes */
    size_t base;
} frame;

/* The open containers, innermost last; shallow images need no allocation. */
#define FRAMES_INLINE 16
typedef struct frames {
    frame *items;
    size_t len;
    size_t cap;
    frame inline_items[FRAMES_INLINE];
} frames;

static int frames_push(frames *f, frame fr)
{
    if (f->len == f->cap) {
        size_t cap = f->cap * 2;
        frame *items = f->items == f->inline_items
                           ? phn_calloc(cap, sizeof(*items))
                           : phn_reallocarray(f->items, cap, sizeof(*items));
        if (items == NULL)
            return PHN_ENOMEM;
        if (f->items == f->inline_items)
            memcpy(items, f->inline_items, sizeof(f->inline_items));
        f->items = items;
        f->cap = cap;
    }
    f->items[f->len++] = fr;
    return PHN_OK;
}

/* The container of a complete frame, from its children. */
static int build(ErlNifEnv *env, const frame *fr, ERL_NIF_TERM *kids, ERL_NIF_TERM *out)
{
    switch (fr->tag) {
    case F_LIST:
        *out = enif_make_list_from_array(env, kids, (unsigned)fr->need);
        return 1;
    case F_ILIST: {
        ERL_NIF_TERM list = kids[fr->need - 1];
        for (size_t i = fr->need - 1; i-- > 0;)
            list = enif_make_list_cell(env, kids[i], list);
        *out = list;
        return 1;
    }
    case F_TUPLE:
        *out = enif_make_tuple_from_array(env, kids, (unsigned)fr->need);
        return 1;
    default: /* F_MAP: the keys, then the values */
        return enif_make_map_from_arrays(env, kids, kids + fr->need / 2, fr->need / 2, out);
    }
}

/* One leaf (or an empty container) from its tag, or a new frame. 1 ok, 0 bad or out of
 * memory. */
static int read_item(ErlNifEnv *env, phn_reader *r, phn_terms *values, frames *fs)
{
    uint8_t tag;
    uint64_t n;
    const uint8_t *bytes;
    ERL_NIF_TERM t;
    if (!phn_read_u8(r, &tag))
        return 0;
    switch (tag) {
    case F_NIL:
        t = enif_make_list(env, 0);
        break;
    case F_ATOM:
        if (!phn_read_varint(r, &n))
            return 0;
        t = (ERL_NIF_TERM)n;
        break;
    case F_INT:
        if (!phn_read_varint(r, &n))
            return 0;
        t = enif_make_int64(env, (ErlNifSInt64)phn_unzigzag(n));
        break;
    case F_FLOAT: {
        double d;
        if (!phn_read_bytes(r, sizeof(d), &bytes))
            return 0;
        memcpy(&d, bytes, sizeof(d));
        t = enif_make_double(env, d);
        break;
    }
    case F_BIN: {
        if (!phn_read_varint(r, &n) || !phn_read_bytes(r, (size_t)n, &bytes))
            return 0;
        unsigned char *data = enif_make_new_binary(env, (size_t)n, &t);
        if (data == NULL)
            return 0;
        if (n > 0)
            memcpy(data, bytes, (size_t)n);
        break;
    }
    case F_PID: {
        ErlNifPid pid;
        if (!phn_read_bytes(r, sizeof(pid), &bytes))
            return 0;
        memcpy(&pid, bytes, sizeof(pid));
        t = enif_make_pid(env, &pid);
        break;
    }
    case F_EXT:
        if (!phn_read_varint(r, &n) || !phn_read_bytes(r, (size_t)n, &bytes) ||
            enif_binary_to_term(env, bytes, (size_t)n, &t, 0) != (size_t)n)
            return 0;
        break;
    case F_LIST:
    case F_ILIST:
    case F_TUPLE:
    case F_MAP: {
        if (!phn_read_varint(r, &n) || n > phn_reader_left(r))
            return 0; /* every child takes at least one byte */
        size_t need = (size_t)n;
        if (tag == F_ILIST)
            need++;
        else if (tag == F_MAP)
            need *= 2;
        if (need == 0) { /* {} or #{} */
            if (tag == F_TUPLE)
                t = enif_make_tuple(env, 0);
            else if (tag == F_MAP)
                t = enif_make_new_map(env);
            else
                return 0; /* lists are never empty here */
            break;
        }
        return frames_push(fs, (frame){tag, need, values->len}) == PHN_OK;
    }
    default:
        return 0;
    }
    return phn_terms_push(values, t) == PHN_OK;
}

int phn_flat_decode(ErlNifEnv *env, const uint8_t *data, size_t len, ERL_NIF_TERM *out)
{
    phn_reader r;
    phn_terms values;
    frames fs;
    fs.items = fs.inline_items;
    fs.len = 0;
    fs.cap = FRAMES_INLINE;
    int ok = 1;
    phn_reader_init(&r, data, len);
    phn_terms_init(&values);
    do {
        ok = read_item(env, &r, &values, &fs);
        /* Close every frame that has all its children. */
        while (ok && fs.len > 0 &&
               values.len - fs.items[fs.len - 1].base == fs.items[fs.len - 1].need) {
            frame fr = fs.items[--fs.len];
            ERL_NIF_TERM t;
            ok = build(env, &fr, values.items + fr.base, &t);
            values.len = fr.base;
            ok = ok && phn_terms_push(&values, t) == PHN_OK;
        }
    } while (ok && fs.len > 0);
    ok = ok && values.len == 1 && phn_reader_left(&r) == 0;
    if (ok)
        *out = values.items[0];
    phn_terms_free(&values);
    if (fs.items != fs.inline_items)
        phn_free(fs.items);
    return ok;
}
