#include "phn_bytes.h"

#include <string.h>

#include "phn_alloc.h"

void phn_bytes_init(phn_bytes *b)
{
    b->data = b->inline_buf;
    b->len = 0;
    b->cap = PHN_BYTES_INLINE;
}

void phn_bytes_free(phn_bytes *b)
{
    if (b->data != b->inline_buf)
        phn_free(b->data);
    phn_bytes_init(b);
}

static int reserve(phn_bytes *b, size_t n)
{
    if (n <= b->cap - b->len)
        return PHN_OK;
    if (n > SIZE_MAX - b->len)
        return PHN_ENOMEM;
    size_t cap = phn_grow_cap(b->cap, b->len + n);
    uint8_t *data;
    if (b->data == b->inline_buf) {
        data = phn_malloc(cap);
        if (data != NULL)
            memcpy(data, b->data, b->len);
    } else {
        data = phn_reallocarray(b->data, cap, 1);
    }
    if (data == NULL)
        return PHN_ENOMEM;
    b->data = data;
    b->cap = cap;
    return PHN_OK;
}

int phn_bytes_put(phn_bytes *b, const void *src, size_t n)
{
    if (reserve(b, n) != PHN_OK)
        return PHN_ENOMEM;
    if (n > 0)
        memcpy(b->data + b->len, src, n);
    b->len += n;
    return PHN_OK;
}

int phn_bytes_put_u8(phn_bytes *b, uint8_t v)
{
    return phn_bytes_put(b, &v, 1);
}

int phn_bytes_put_varint(phn_bytes *b, uint64_t v)
{
    uint8_t buf[10];
    size_t n = 0;
    do {
        uint8_t byte = (uint8_t)(v & 0x7f);
        v >>= 7;
        buf[n++] = (uint8_t)(byte | (v != 0 ? 0x80 : 0));
    } while (v != 0);
    return phn_bytes_put(b, buf, n);
}

uint64_t phn_zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (v < 0 ? UINT64_MAX : 0);
}

int64_t phn_unzigzag(uint64_t v)
{
    uint64_t mag = v >> 1;
    return (v & 1) ? (int64_t)(~mag) : (int64_t)mag;
}

void phn_reader_init(phn_reader *r, const uint8_t *data, size_t len)
{
    r->p = data;
    r->end = data + len;
}

size_t phn_reader_left(const phn_reader *r)
{
    return (size_t)(r->end - r->p);
}

int phn_read_u8(phn_reader *r, uint8_t *v)
{
    if (r->p >= r->end)
        return 0;
    *v = *r->p++;
    return 1;
}

int phn_read_varint(phn_reader *r, uint64_t *v)
{
    uint64_t out = 0;
    const uint8_t *p = r->p;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (p >= r->end)
            return 0;
        uint8_t byte = *p++;
        uint64_t bits = (uint64_t)(byte & 0x7f);
        if (shift == 63 && bits > 1)
            return 0; /* overflows 64 bits */
        out |= bits << shift;
        if (!(byte & 0x80)) {
            r->p = p;
            *v = out;
            return 1;
        }
    }
    return 0; /* more than 10 bytes */
}

int phn_read_bytes(phn_reader *r, size_t n, const uint8_t **out)
{
    if (n > phn_reader_left(r))
        return 0;
    *out = r->p;
    r->p += n;
    return 1;
}
