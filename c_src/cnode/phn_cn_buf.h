/* A growable byte buffer used as a FIFO: appends at the end, consumption from the front.
 * Every buffer that a peer can grow has a cap checked by its owner before appending. */
#ifndef PHN_CN_BUF_H
#define PHN_CN_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct phn_cn_buf {
    uint8_t *data;
    size_t off; /* consumed prefix */
    size_t len; /* bytes written, consumed ones included */
    size_t cap;
} phn_cn_buf;

/* Room for `extra` more bytes at the end. PHN_OK or PHN_ENOMEM (buffer unchanged). */
int phn_cn_buf_reserve(phn_cn_buf *b, size_t extra);
int phn_cn_buf_append(phn_cn_buf *b, const void *p, size_t n);
void phn_cn_buf_consume(phn_cn_buf *b, size_t n);
void phn_cn_buf_free(phn_cn_buf *b);

static inline size_t phn_cn_buf_avail(const phn_cn_buf *b)
{
    return b->len - b->off;
}

static inline uint8_t *phn_cn_buf_head(const phn_cn_buf *b)
{
    return b->data + b->off;
}

static inline uint32_t phn_cn_get32be(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void phn_cn_put32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif
