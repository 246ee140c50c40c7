/* phn_cn_term: the validator every peer and owner byte passes before ei decodes it. Old
 * text floats are refused (ei parses them with sscanf, which would read on past their 31
 * bytes: found by fuzz_cn_term), lengths that lie are refused before anything is
 * allocated or walked, any depth is walked without recursion, and the list helpers refuse
 * improper lists. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cn_harness.h"

/* Validate buf[0, len) copied into an allocation of exactly len bytes (so that ASan and
 * valgrind see a read past it). Returns the end index or -1. */
static int term_end(const void *buf, size_t len)
{
    char *b = malloc(len ? len : 1);
    assert_non_null(b);
    memcpy(b, buf, len);
    int idx = 0;
    int rc = phn_cn_term_skip(b, &idx, (int)len);
    free(b);
    return rc < 0 ? -1 : idx;
}

static void test_old_float_refused(void **state)
{
    (void)state;
    /* FLOAT_EXT: 'c' and 31 characters, all digits up to the end of the buffer. */
    uint8_t old[32];
    old[0] = 99;
    memset(old + 1, '1', 31);
    assert_int_equal(term_end(old, sizeof(old)), -1);
    /* Inside a tuple as well. */
    uint8_t in_tuple[34] = {104, 1};
    memcpy(in_tuple + 2, old, sizeof(old));
    assert_int_equal(term_end(in_tuple, sizeof(in_tuple)), -1);
    /* NEW_FLOAT_EXT, what every OTP since R12 sends, is accepted and decodes. */
    ei_x_buff x;
    ei_x_new(&x);
    ei_x_encode_double(&x, 1.5);
    assert_int_equal(term_end(x.buff, (size_t)x.index), x.index);
    int idx = 0;
    double d;
    assert_int_equal(phn_cn_get_number(x.buff, &idx, &d), 0);
    assert_true(d == 1.5);
    ei_x_free(&x);
}

static void test_lying_lengths(void **state)
{
    (void)state;
    const uint8_t cache_ref[] = {82, 0};
    const uint8_t list[] = {108, 0xff, 0xff, 0xff, 0xff, 106};
    const uint8_t tuple[] = {104, 255, 106, 106};
    const uint8_t map[] = {116, 0, 0, 0, 2, 106, 106, 106};
    const uint8_t binary[] = {109, 0, 0, 0, 5, 'a', 'b'};
    const uint8_t atom[] = {100, 1, 0, 'a'};        /* Latin-1 atom of 256 bytes */
    const uint8_t ref6[] = {90, 0, 6, 119, 1, 'a'}; /* 6 id words: erlang_ref holds 5 */
    const uint8_t bits[] = {77, 0, 0, 0, 0, 3};     /* empty bitstring with 3 bits */
    assert_int_equal(term_end(cache_ref, sizeof(cache_ref)), -1);
    assert_int_equal(term_end(list, sizeof(list)), -1);
    assert_int_equal(term_end(tuple, sizeof(tuple)), -1);
    assert_int_equal(term_end(map, sizeof(map)), -1);
    assert_int_equal(term_end(binary, sizeof(binary)), -1);
    assert_int_equal(term_end(atom, sizeof(atom)), -1);
    assert_int_equal(term_end(ref6, sizeof(ref6)), -1);
    assert_int_equal(term_end(bits, sizeof(bits)), -1);
}

static void test_any_depth(void **state)
{
    (void)state;
    /* 1 000 000 nested one-element lists: [[[...[]...]]], walked without recursion. */
    const size_t depth = 1000000;
    size_t len = depth * 5 + 1 + depth;
    uint8_t *b = malloc(len);
    assert_non_null(b);
    size_t at = 0;
    for (size_t i = 0; i < depth; i++) {
        const uint8_t head[5] = {108, 0, 0, 0, 1};
        memcpy(b + at, head, 5);
        at += 5;
    }
    memset(b + at, 106, depth + 1); /* the innermost [] and every tail */
    assert_int_equal(term_end(b, len), (int)len);
    assert_int_equal(term_end(b, len - 1), -1);
    free(b);
}

static void test_list_span(void **state)
{
    (void)state;
    ei_x_buff x;
    ei_x_new(&x);
    ei_x_encode_list_header(&x, 2);
    ei_x_encode_atom(&x, "a");
    ei_x_encode_atom(&x, "b");
    ei_x_encode_atom(&x, "improper");
    int idx = 0;
    phn_cn_span span;
    assert_int_equal(phn_cn_list_span(x.buff, &idx, x.index, &span), -1);
    ei_x_free(&x);

    ei_x_new(&x);
    ei_x_encode_string(&x, "abc");
    idx = 0;
    assert_int_equal(phn_cn_list_span(x.buff, &idx, x.index, &span), 0);
    assert_true(span.is_string);
    assert_int_equal(span.count, 3);
    phn_cn_buf out = {0};
    assert_int_equal(phn_cn_span_append(&out, x.buff, &span), 0);
    assert_int_equal(phn_cn_buf_avail(&out), 6); /* three SMALL_INTEGER_EXT terms */
    phn_cn_buf_free(&out);
    ei_x_free(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_old_float_refused),
        cmocka_unit_test(test_lying_lengths),
        cmocka_unit_test(test_any_depth),
        cmocka_unit_test(test_list_span),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
