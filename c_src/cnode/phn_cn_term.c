#include "phn_cn_term.h"

#include <string.h>

#include "phn_alloc.h"
#include "phn_status.h"

/* Longest atom text in bytes: 255 characters of up to 4 UTF-8 bytes. */
#define ATOM_MAX_BYTES (255 * 4)

static uint32_t be16(const char *p)
{
    return (uint32_t)(uint8_t)p[0] << 8 | (uint8_t)p[1];
}

static uint32_t be32(const char *p)
{
    return phn_cn_get32be((const uint8_t *)p);
}

/* Room for n more bytes at i? */
static int has(int i, int end, uint64_t n)
{
    return i >= 0 && i <= end && (uint64_t)(end - i) >= n;
}

/* Skip an atom used inside a pid/port/ref (node name); only atom tags are legal there. */
static int skip_atom(const char *buf, int *idx, int end)
{
    int i = *idx;
    if (!has(i, end, 1))
        return -1;
    uint8_t tag = (uint8_t)buf[i++];
    uint32_t len;
    switch (tag) {
    case ERL_ATOM_EXT:
    case ERL_ATOM_UTF8_EXT:
        if (!has(i, end, 2))
            return -1;
        len = be16(buf + i);
        i += 2;
        break;
    case ERL_SMALL_ATOM_EXT:
    case ERL_SMALL_ATOM_UTF8_EXT:
        if (!has(i, end, 1))
            return -1;
        len = (uint8_t)buf[i++];
        break;
    default:
        return -1;
    }
    /* Latin-1 atoms grow up to 2x when ei converts them to UTF-8. */
    uint32_t max = (tag == ERL_ATOM_EXT || tag == ERL_SMALL_ATOM_EXT) ? 255 : ATOM_MAX_BYTES;
    if (len > max || !has(i, end, len))
        return -1;
    *idx = i + (int)len;
    return 0;
}

int phn_cn_term_skip(const char *buf, int *idx, int end)
{
    /* Terms still to walk. A compound adds its children; every term takes at least one
     * byte, so a count above the bytes left is a lie and stops the walk at once. */
    uint64_t pending = 1;
    int i = *idx;
    while (pending > 0) {
        pending--;
        if (!has(i, end, 1))
            return -1;
        uint8_t tag = (uint8_t)buf[i++];
        uint64_t n = 0; /* bytes to skip after the header */
        switch (tag) {
        case ERL_SMALL_INTEGER_EXT:
            n = 1;
            break;
        case ERL_INTEGER_EXT:
            n = 4;
            break;
        case NEW_FLOAT_EXT:
            n = 8;
            break;
        case ERL_ATOM_EXT:
        case ERL_ATOM_UTF8_EXT:
        case ERL_SMALL_ATOM_EXT:
        case ERL_SMALL_ATOM_UTF8_EXT:
            i--;
            if (skip_atom(buf, &i, end) < 0)
                return -1;
            break;
        case ERL_NIL_EXT:
            break;
        case ERL_STRING_EXT:
            if (!has(i, end, 2))
                return -1;
            n = be16(buf + i);
            i += 2;
            break;
        case ERL_BINARY_EXT:
            if (!has(i, end, 4))
                return -1;
            n = be32(buf + i);
            i += 4;
            break;
        case ERL_BIT_BINARY_EXT:
            if (!has(i, end, 5))
                return -1;
            n = be32(buf + i);
            if (n == 0 && (uint8_t)buf[i + 4] != 0)
                return -1;
            i += 5;
            break;
        case ERL_SMALL_BIG_EXT:
            if (!has(i, end, 2))
                return -1;
            n = (uint8_t)buf[i];
            i += 2;
            break;
        case ERL_LARGE_BIG_EXT:
            if (!has(i, end, 5))
                return -1;
            n = be32(buf + i);
            i += 5;
            break;
        case ERL_SMALL_TUPLE_EXT:
            if (!has(i, end, 1))
                return -1;
            pending += (uint8_t)buf[i++];
            break;
        case ERL_LARGE_TUPLE_EXT:
            if (!has(i, end, 4))
                return -1;
            pending += be32(buf + i);
            i += 4;
            break;
        case ERL_LIST_EXT:
            if (!has(i, end, 4))
                return -1;
            pending += (uint64_t)be32(buf + i) + 1; /* elements and the tail */
            i += 4;
            break;
        case ERL_MAP_EXT:
            if (!has(i, end, 4))
                return -1;
            pending += 2 * (uint64_t)be32(buf + i);
            i += 4;
            break;
        case ERL_NEW_PID_EXT:
        case ERL_PID_EXT:
            if (skip_atom(buf, &i, end) < 0)
                return -1;
            n = tag == ERL_NEW_PID_EXT ? 12 : 9;
            break;
        case ERL_NEW_PORT_EXT:
        case ERL_V4_PORT_EXT:
        case ERL_PORT_EXT:
            if (skip_atom(buf, &i, end) < 0)
                return -1;
            n = tag == ERL_V4_PORT_EXT ? 12 : tag == ERL_NEW_PORT_EXT ? 8 : 5;
            break;
        case ERL_REFERENCE_EXT:
            if (skip_atom(buf, &i, end) < 0)
                return -1;
            n = 5;
            break;
        case ERL_NEW_REFERENCE_EXT:
        case ERL_NEWER_REFERENCE_EXT: {
            if (!has(i, end, 2))
                return -1;
            uint32_t words = be16(buf + i);
            i += 2;
            if (words == 0 || words > 5) /* erlang_ref holds 5 words */
                return -1;
            if (skip_atom(buf, &i, end) < 0)
                return -1;
            n = (tag == ERL_NEWER_REFERENCE_EXT ? 4 : 1) + 4 * (uint64_t)words;
            break;
        }
        case ERL_NEW_FUN_EXT:
            /* Size counts itself; the contents are never decoded here. */
            if (!has(i, end, 4))
                return -1;
            n = be32(buf + i);
            if (n < 4)
                return -1;
            break;
        case ERL_EXPORT_EXT:
            pending += 3; /* module, function, arity */
            break;
        default:
            /* Atom cache refs, old funs, local ext and unknown tags are refused, and so are
             * old text floats (FLOAT_EXT, unused since OTP R12): ei parses those with
             * sscanf, which would read on past their 31 bytes. */
            return -1;
        }
        if (!has(i, end, n))
            return -1;
        i += (int)n;
        if (pending > (uint64_t)(end - i))
            return -1;
    }
    *idx = i;
    return 0;
}

int phn_cn_get_atom(const char *buf, int *idx, char *out)
{
    return ei_decode_atom_as(buf, idx, out, MAXATOMLEN_UTF8, ERLANG_UTF8, NULL, NULL) < 0 ? -1 : 0;
}

int phn_cn_match_atom(const char *buf, int *idx, const char *name)
{
    char atom[MAXATOMLEN_UTF8];
    int i = *idx;
    if (phn_cn_get_atom(buf, &i, atom) < 0 || strcmp(atom, name) != 0)
        return 0;
    *idx = i;
    return 1;
}

int phn_cn_get_int64(const char *buf, int *idx, int64_t *out)
{
    long long v;
    if (ei_decode_longlong(buf, idx, &v) < 0)
        return -1;
    *out = (int64_t)v;
    return 0;
}

int phn_cn_get_number(const char *buf, int *idx, double *out)
{
    int64_t i;
    int at = *idx;
    if (phn_cn_get_int64(buf, &at, &i) == 0) {
        *out = (double)i;
        *idx = at;
        return 0;
    }
    return ei_decode_double(buf, idx, out) < 0 ? -1 : 0;
}

int phn_cn_get_flag(const char *buf, int *idx, int *out)
{
    if (phn_cn_match_atom(buf, idx, "true"))
        *out = 1;
    else if (phn_cn_match_atom(buf, idx, "false") || phn_cn_match_atom(buf, idx, "nil"))
        *out = 0;
    else
        return -1;
    return 0;
}

int phn_cn_ref_key(const erlang_ref *ref, uint8_t key[255])
{
    size_t node_len = strnlen(ref->node, sizeof(ref->node));
    size_t words = ref->len < 0 ? 0 : (size_t)ref->len;
    if (words > 5)
        return -1;
    size_t len = 1 + 4 + 4 * words + node_len;
    if (len > 255)
        return -1;
    key[0] = (uint8_t)words;
    phn_cn_put32be(key + 1, ref->creation);
    for (size_t i = 0; i < words; i++)
        phn_cn_put32be(key + 5 + 4 * i, ref->n[i]);
    memcpy(key + 5 + 4 * words, ref->node, node_len);
    return (int)len;
}

int phn_cn_list_span(const char *buf, int *idx, int end, phn_cn_span *span)
{
    int type, size;
    int at = *idx;
    /* Validate first, so that the ei calls below only see well-formed bytes. */
    if (phn_cn_term_skip(buf, &at, end) < 0 || ei_get_type(buf, idx, &type, &size) < 0)
        return -1;
    memset(span, 0, sizeof(*span));
    if (type == ERL_NIL_EXT) {
        span->start = span->end = *idx + 1;
        *idx += 1;
        return 0;
    }
    if (type == ERL_STRING_EXT) {
        span->start = *idx + 3;
        span->end = span->start + size;
        span->count = (uint32_t)size;
        span->is_string = 1;
        *idx = span->end;
        return 0;
    }
    if (type != ERL_LIST_EXT)
        return -1;
    int arity;
    if (ei_decode_list_header(buf, idx, &arity) < 0 || arity < 0)
        return -1;
    span->start = *idx;
    span->count = (uint32_t)arity;
    for (int k = 0; k < arity; k++) {
        if (phn_cn_term_skip(buf, idx, end) < 0)
            return -1;
    }
    span->end = *idx;
    /* Improper lists are refused: a response is always a proper list. */
    if (ei_get_type(buf, idx, &type, &size) < 0 || type != ERL_NIL_EXT)
        return -1;
    *idx += 1;
    return 0;
}

size_t phn_cn_span_bytes(const phn_cn_span *span)
{
    size_t raw = (size_t)(span->end - span->start);
    return span->is_string ? 2 * raw : raw;
}

int phn_cn_span_append(phn_cn_buf *out, const char *buf, const phn_cn_span *span)
{
    if (!span->is_string)
        return phn_cn_buf_append(out, buf + span->start, (size_t)(span->end - span->start));
    if (phn_cn_buf_reserve(out, phn_cn_span_bytes(span)) != PHN_OK)
        return PHN_ENOMEM;
    for (int k = span->start; k < span->end; k++) {
        out->data[out->len++] = ERL_SMALL_INTEGER_EXT;
        out->data[out->len++] = (uint8_t)buf[k];
    }
    return PHN_OK;
}

char *phn_cn_term_dup(const char *buf, int *idx, int end, size_t *len)
{
    int start = *idx;
    if (phn_cn_term_skip(buf, idx, end) < 0)
        return NULL;
    *len = (size_t)(*idx - start);
    char *copy = phn_malloc(*len);
    if (copy != NULL)
        memcpy(copy, buf + start, *len);
    return copy;
}
