/* Checked term handling on top of ei. ei's decoders trust the lengths inside the encoding
 * and recurse on nesting, so every term that arrives (from a peer or the control channel)
 * is first walked by phn_cn_term_skip: iterative (no recursion, any depth), every length
 * checked against the buffer end, only the tags OTP 25 sends to a C-node accepted. After
 * that, ei_decode_* on the validated bytes cannot read out of bounds, and each of their
 * results is still checked. */
#ifndef PHN_CN_TERM_H
#define PHN_CN_TERM_H

#include <stddef.h>
#include <stdint.h>

#include "phn_cn_ei.h"

#include "phn_cn_buf.h"

/* Advance *idx over one complete term in buf[0, end). 0, or -1 on any malformation
 * (*idx is then unspecified). */
int phn_cn_term_skip(const char *buf, int *idx, int end);

/* Decode an atom (any atom tag) as UTF-8 into out[MAXATOMLEN_UTF8]. 0 or -1. */
int phn_cn_get_atom(const char *buf, int *idx, char *out);

/* 1 if the atom at *idx equals name (and *idx advanced), 0 if it is another atom or not an
 * atom (*idx unchanged). */
int phn_cn_match_atom(const char *buf, int *idx, const char *name);

/* A 64-bit integer (small, integer or big within range). 0 or -1. */
int phn_cn_get_int64(const char *buf, int *idx, int64_t *out);

/* An integer or a float as a double. 0 or -1. */
int phn_cn_get_number(const char *buf, int *idx, double *out);

/* true -> 1, false or nil -> 0; anything else -1. */
int phn_cn_get_flag(const char *buf, int *idx, int *out);

/* The canonical key of a reference: length, creation, id words and node name, so that
 * the same ref encoded by different nodes (atom tags differ) gives the same key. Returns
 * the key length (<= 255), or -1 when it does not fit (absurdly long node name). */
int phn_cn_ref_key(const erlang_ref *ref, uint8_t key[255]);

/* The elements of a proper list: [start, end) holds `count` encoded elements, or, for a
 * STRING_EXT, `count` bytes (is_string). *idx is advanced past the list. 0 or -1 (not a
 * proper list). Lengths are checked against end. */
typedef struct phn_cn_span {
    int start;
    int end;
    uint32_t count;
    int is_string;
} phn_cn_span;
int phn_cn_list_span(const char *buf, int *idx, int end, phn_cn_span *span);

/* Append a span's elements as encoded terms (a STRING_EXT's bytes become SMALL_INTEGER_EXT
 * terms). PHN_OK or PHN_ENOMEM. */
int phn_cn_span_append(phn_cn_buf *out, const char *buf, const phn_cn_span *span);

/* Bytes phn_cn_span_append would add. */
size_t phn_cn_span_bytes(const phn_cn_span *span);

/* Copy the raw encoding of the term at *idx (validated) into a fresh allocation; *idx is
 * advanced. NULL on ENOMEM or a malformed term. */
char *phn_cn_term_dup(const char *buf, int *idx, int end, size_t *len);

#endif
