#include "phn_cn_buf.h"

#include <string.h>

#include "phn_alloc.h"
#include "phn_status.h"

int phn_cn_buf_reserve(phn_cn_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return PHN_OK;
    /* Reclaim the consumed prefix first: a FIFO that is drained as fast as it is filled
     * then never grows. */
    if (b->off > 0) {
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->cap - b->len >= extra)
            return PHN_OK;
    }
    if (extra > SIZE_MAX - b->len)
        return PHN_ENOMEM;
    size_t cap = phn_grow_cap(b->cap < 256 ? 256 : b->cap, b->len + extra);
    uint8_t *data = phn_reallocarray(b->data, cap, 1);
    if (data == NULL)
        return PHN_ENOMEM;
    b->data = data;
    b->cap = cap;
    return PHN_OK;
}

int phn_cn_buf_append(phn_cn_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return PHN_OK;
    if (phn_cn_buf_reserve(b, n) != PHN_OK)
        return PHN_ENOMEM;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return PHN_OK;
}

void phn_cn_buf_consume(phn_cn_buf *b, size_t n)
{
    b->off += n;
    if (b->off >= b->len) {
        b->off = b->len = 0;
        /* Drop a large idle buffer so that one burst does not pin memory forever. */
        if (b->cap > (1u << 20)) {
            phn_free(b->data);
            b->data = NULL;
            b->cap = 0;
        }
    }
}

void phn_cn_buf_free(phn_cn_buf *b)
{
    phn_free(b->data);
    memset(b, 0, sizeof(*b));
}
