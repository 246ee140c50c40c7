/* A growable byte buffer (small contents stay inline, so the common small write needs no
 * allocation) and a bounded reader over bytes, with LEB128 varints and zigzag for signed
 * values: the NIF's compact term format (nif/phn_nif_flat.c) is written and read with
 * them. Pure C; allocation through phn_alloc. */
#ifndef PHN_BYTES_H
#define PHN_BYTES_H

#include <stddef.h>
#include <stdint.h>

#include "phn_status.h"

#define PHN_BYTES_INLINE 256

/* Not copyable: data may point into the struct. */
typedef struct phn_bytes {
    uint8_t *data;
    size_t len;
    size_t cap;
    uint8_t inline_buf[PHN_BYTES_INLINE];
} phn_bytes;

void phn_bytes_init(phn_bytes *b);
void phn_bytes_free(phn_bytes *b); /* back to empty and inline; reusable */

/* Append: PHN_OK, or PHN_ENOMEM (the buffer is unchanged). */
int phn_bytes_put(phn_bytes *b, const void *src, size_t n);
int phn_bytes_put_u8(phn_bytes *b, uint8_t v);
int phn_bytes_put_varint(phn_bytes *b, uint64_t v); /* 1 to 10 bytes */

uint64_t phn_zigzag(int64_t v);
int64_t phn_unzigzag(uint64_t v);

typedef struct phn_reader {
    const uint8_t *p;
    const uint8_t *end;
} phn_reader;

void phn_reader_init(phn_reader *r, const uint8_t *data, size_t len);
/* 1 and the value, or 0 when the input ends (or a varint is longer than 10 bytes or
 * overflows 64 bits); the reader does not move on failure. */
int phn_read_u8(phn_reader *r, uint8_t *v);
int phn_read_varint(phn_reader *r, uint64_t *v);
int phn_read_bytes(phn_reader *r, size_t n, const uint8_t **out);
size_t phn_reader_left(const phn_reader *r);

#endif
