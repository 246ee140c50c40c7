/* The C-node's term validator, phn_cn_term_skip, which every byte from a peer or from the
 * owner passes before ei decodes anything. The input is an external term (no version
 * byte) in a buffer of exactly its size, so ASan sees any read past the end.
 *  - The validator never reads outside [0, end) and, when it accepts, stops inside.
 *  - What it accepts, ei can walk without going past it: ei_skip_term ends at or before
 *    the validated end (before when ei refuses some subterm, e.g. invalid UTF-8 in an
 *    atom: ei_skip_term ignores failures inside tuples). Terms holding a fun are left out:
 *    ei decodes a fun's insides, which the C-node never asks of it, and which the
 *    validator treats as opaque bytes.
 *  - Every C-node decoder used on validated bytes (phn_cn_get_atom, _get_int64,
 *    _get_number, _get_flag, _list_span and _span_append, _term_dup, ei_decode_ref with
 *    phn_cn_ref_key, ei_decode_pid, headers) runs on each subterm of an accepted term and
 *    stays within it; a list span's elements are themselves valid terms.
 *  - A validated prefix of a longer buffer validates the same way.
 *  - The strict check (phn_cn_term_check) stays within [0, end), accepts only what the
 *    structural walk accepts, and ends where it ends.
 * fuzz-srcs: c_src/cnode/phn_cn_term.c c_src/cnode/phn_cn_buf.c c_src/cnode/phn_cn_check.c
 * fuzz-cflags: -Ic_src/cnode -I$(EI_DIR)/include
 * fuzz-ldlibs: -L$(EI_DIR)/lib -lei -lpthread
 */
#include "fuzz_common.h"

#include "phn_cn_check.h"
#include "phn_cn_term.h"
#include "phn_status.h"

/* Decode the term at *idx with every helper that accepts its type, then step over it. */
static void exercise(const char *b, int idx, int end)
{
    int type, size, at;
    char atom[MAXATOMLEN_UTF8];
    int64_t i64;
    double d;
    int flag;
    erlang_ref ref;
    erlang_pid pid;
    uint8_t key[255];

    at = idx;
    if (phn_cn_get_atom(b, &at, atom) == 0) {
        FZ_CHECK(at > idx && at <= end);
        FZ_CHECK(strlen(atom) < MAXATOMLEN_UTF8);
    }
    at = idx;
    if (phn_cn_get_int64(b, &at, &i64) == 0)
        FZ_CHECK(at > idx && at <= end);
    at = idx;
    if (phn_cn_get_number(b, &at, &d) == 0)
        FZ_CHECK(at > idx && at <= end);
    at = idx;
    if (phn_cn_get_flag(b, &at, &flag) == 0)
        FZ_CHECK(at > idx && at <= end && (flag == 0 || flag == 1));
    at = idx;
    if (ei_decode_ref(b, &at, &ref) == 0) {
        FZ_CHECK(at > idx && at <= end);
        int kl = phn_cn_ref_key(&ref, key);
        FZ_CHECK(kl == -1 || (kl >= 5 && kl <= 255));
    }
    at = idx;
    if (ei_decode_pid(b, &at, &pid) == 0)
        FZ_CHECK(at > idx && at <= end);
    at = idx;
    phn_cn_span span;
    if (phn_cn_list_span(b, &at, end, &span) == 0) {
        FZ_CHECK(at > idx && at <= end);
        FZ_CHECK(span.start >= idx && span.start <= span.end && span.end <= end);
        if (!span.is_string) {
            int e = span.start;
            for (uint32_t k = 0; k < span.count; k++)
                FZ_CHECK(phn_cn_term_skip(b, &e, span.end) == 0);
            FZ_CHECK(e == span.end);
        } else {
            FZ_CHECK((uint32_t)(span.end - span.start) == span.count);
        }
        phn_cn_buf out = {0};
        if (phn_cn_span_append(&out, b, &span) == PHN_OK)
            FZ_CHECK(phn_cn_buf_avail(&out) == phn_cn_span_bytes(&span));
        phn_cn_buf_free(&out);
    }
    at = idx;
    size_t len = 0;
    char *dup = phn_cn_term_dup(b, &at, end, &len);
    if (dup != NULL) {
        FZ_CHECK(len == (size_t)(at - idx) && memcmp(dup, b + idx, len) == 0);
        free(dup);
    }
    at = idx;
    FZ_CHECK(ei_get_type(b, &at, &type, &size) == 0);
}

/* Walk every subterm of a validated term, iteratively, exercising each one. */
static void walk(const char *b, int start, int end)
{
    int idx = start;
    uint64_t pending = 1;
    while (pending > 0) {
        pending--;
        FZ_CHECK(idx < end);
        exercise(b, idx, end);
        int type, size, arity, at = idx;
        FZ_CHECK(ei_get_type(b, &at, &type, &size) == 0);
        switch (type) {
        case ERL_SMALL_TUPLE_EXT:
        case ERL_LARGE_TUPLE_EXT:
            FZ_CHECK(ei_decode_tuple_header(b, &idx, &arity) == 0);
            pending += (uint64_t)arity;
            continue;
        case ERL_LIST_EXT:
            FZ_CHECK(ei_decode_list_header(b, &idx, &arity) == 0);
            pending += (uint64_t)arity + 1;
            continue;
        case ERL_MAP_EXT:
            FZ_CHECK(ei_decode_map_header(b, &idx, &arity) == 0);
            pending += 2 * (uint64_t)arity;
            continue;
        default:
            FZ_CHECK(phn_cn_term_skip(b, &idx, end) == 0);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > (1u << 20))
        return 0;
    char *b = malloc(size);
    FZ_CHECK(b != NULL);
    memcpy(b, data, size);
    int end = (int)size, idx = 0, checked = 0;
    int strict = phn_cn_term_check(b, &checked, end);
    if (phn_cn_term_skip(b, &idx, end) == 0) {
        FZ_CHECK(strict < 0 || checked == idx);
        FZ_CHECK(idx > 0 && idx <= end);
        int term_end = idx;
        /* The same verdict on exactly the term's bytes. */
        int again = 0;
        FZ_CHECK(phn_cn_term_skip(b, &again, term_end) == 0 && again == term_end);
        if (memchr(b, ERL_NEW_FUN_EXT, (size_t)term_end) == NULL) {
            int ei_idx = 0;
            if (ei_skip_term(b, &ei_idx) == 0)
                FZ_CHECK(ei_idx <= term_end);
        }
        walk(b, 0, term_end);
    } else {
        FZ_CHECK(strict < 0);
        /* A refused term is refused inside any shorter buffer as well. */
        int shorter = 0;
        FZ_CHECK(size < 2 || phn_cn_term_skip(b, &shorter, end - 1) < 0);
    }
    free(b);
    return 0;
}
