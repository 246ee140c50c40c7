/* phn_bytes: the growable buffer (inline, then heap, unchanged on allocation failure),
 * LEB128 varints and zigzag round trips at every boundary, and the reader refusing
 * truncated input, over-long varints and reads past the end. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "failing_alloc.h"
#include "phn_bytes.h"

static void test_inline_then_heap(void **state)
{
    (void)state;
    phn_bytes b;
    phn_bytes_init(&b);
    for (unsigned i = 0; i < PHN_BYTES_INLINE; i++)
        assert_int_equal(phn_bytes_put_u8(&b, (uint8_t)i), PHN_OK);
    assert_int_equal(fa_live(), 0); /* still inline */
    assert_int_equal(phn_bytes_put_u8(&b, 0xAB), PHN_OK);
    assert_int_equal(fa_live(), 1);
    assert_int_equal(b.len, PHN_BYTES_INLINE + 1);
    for (unsigned i = 0; i < PHN_BYTES_INLINE; i++)
        assert_int_equal(b.data[i], (uint8_t)i);
    assert_int_equal(b.data[PHN_BYTES_INLINE], 0xAB);
    uint8_t big[10000];
    memset(big, 7, sizeof(big));
    assert_int_equal(phn_bytes_put(&b, big, sizeof(big)), PHN_OK);
    assert_int_equal(b.len, PHN_BYTES_INLINE + 1 + sizeof(big));
    assert_int_equal(b.data[b.len - 1], 7);
    assert_int_equal(phn_bytes_put(&b, NULL, 0), PHN_OK);
    phn_bytes_free(&b);
    assert_int_equal(fa_live(), 0);
    assert_int_equal(b.len, 0);
    assert_int_equal(phn_bytes_put_u8(&b, 1), PHN_OK); /* reusable */
    phn_bytes_free(&b);
}

static void test_enomem_leaves_buffer(void **state)
{
    (void)state;
    phn_bytes b;
    phn_bytes_init(&b);
    uint8_t chunk[PHN_BYTES_INLINE];
    memset(chunk, 3, sizeof(chunk));
    assert_int_equal(phn_bytes_put(&b, chunk, sizeof(chunk)), PHN_OK);
    fa_fail_nth(0); /* moving to the heap fails */
    assert_int_equal(phn_bytes_put_u8(&b, 9), PHN_ENOMEM);
    assert_int_equal(b.len, sizeof(chunk));
    assert_int_equal(phn_bytes_put_u8(&b, 9), PHN_OK);
    uint8_t more[4 * PHN_BYTES_INLINE];
    memset(more, 4, sizeof(more));
    fa_fail_nth(0); /* growing on the heap fails */
    assert_int_equal(phn_bytes_put(&b, more, sizeof(more)), PHN_ENOMEM);
    assert_int_equal(b.len, sizeof(chunk) + 1);
    assert_int_equal(b.data[sizeof(chunk)], 9);
    while (b.len < b.cap)
        assert_int_equal(phn_bytes_put_u8(&b, 5), PHN_OK);
    size_t full = b.len;
    fa_fail_nth(0);
    assert_int_equal(phn_bytes_put_varint(&b, UINT64_MAX), PHN_ENOMEM);
    assert_int_equal(b.len, full);
    phn_bytes_free(&b);
    assert_int_equal(fa_live(), 0);
}

static void round_trip(uint64_t v, size_t expected_len)
{
    phn_bytes b;
    phn_bytes_init(&b);
    assert_int_equal(phn_bytes_put_varint(&b, v), PHN_OK);
    assert_int_equal(b.len, expected_len);
    phn_reader r;
    phn_reader_init(&r, b.data, b.len);
    uint64_t back = 0;
    assert_int_equal(phn_read_varint(&r, &back), 1);
    assert_true(back == v);
    assert_int_equal(phn_reader_left(&r), 0);
    /* Every truncation is refused and leaves the reader where it was. */
    for (size_t cut = 0; cut < b.len; cut++) {
        phn_reader_init(&r, b.data, cut);
        assert_int_equal(phn_read_varint(&r, &back), 0);
        assert_int_equal(phn_reader_left(&r), cut);
    }
    phn_bytes_free(&b);
}

static void test_varints(void **state)
{
    (void)state;
    round_trip(0, 1);
    round_trip(1, 1);
    round_trip(127, 1);
    round_trip(128, 2);
    round_trip(16383, 2);
    round_trip(16384, 3);
    for (unsigned bits = 1; bits < 64; bits++) {
        round_trip((UINT64_C(1) << bits) - 1, (bits + 6) / 7);
        round_trip(UINT64_C(1) << bits, (bits + 7) / 7);
    }
    round_trip(UINT64_MAX, 10);
}

static void test_zigzag(void **state)
{
    (void)state;
    const int64_t values[] = {0,
                              1,
                              -1,
                              2,
                              -2,
                              63,
                              -64,
                              64,
                              -65,
                              INT32_MAX,
                              INT32_MIN,
                              INT64_MAX,
                              INT64_MIN,
                              INT64_MAX - 1,
                              INT64_MIN + 1};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        assert_true(phn_unzigzag(phn_zigzag(values[i])) == values[i]);
    assert_true(phn_zigzag(0) == 0);
    assert_true(phn_zigzag(-1) == 1);
    assert_true(phn_zigzag(1) == 2);
    assert_true(phn_zigzag(INT64_MIN) == UINT64_MAX);
}

static void test_reader_refuses(void **state)
{
    (void)state;
    /* 11 continuation bytes: longer than any 64-bit varint. */
    uint8_t longer[11];
    memset(longer, 0x80, sizeof(longer));
    phn_reader r;
    uint64_t v;
    phn_reader_init(&r, longer, sizeof(longer));
    assert_int_equal(phn_read_varint(&r, &v), 0);
    /* 10 bytes whose last carries more than the 64th bit. */
    uint8_t overflow[10] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    phn_reader_init(&r, overflow, sizeof(overflow));
    assert_int_equal(phn_read_varint(&r, &v), 0);
    assert_int_equal(phn_reader_left(&r), sizeof(overflow));
    /* Bytes and u8 past the end. */
    uint8_t three[3] = {1, 2, 3};
    const uint8_t *p = NULL;
    uint8_t u;
    phn_reader_init(&r, three, sizeof(three));
    assert_int_equal(phn_read_bytes(&r, 4, &p), 0);
    assert_int_equal(phn_read_bytes(&r, 2, &p), 1);
    assert_int_equal(p[0], 1);
    assert_int_equal(phn_read_bytes(&r, SIZE_MAX, &p), 0);
    assert_int_equal(phn_read_u8(&r, &u), 1);
    assert_int_equal(u, 3);
    assert_int_equal(phn_read_u8(&r, &u), 0);
    assert_int_equal(phn_read_bytes(&r, 0, &p), 1);
    phn_reader_init(&r, NULL, 0);
    assert_int_equal(phn_read_varint(&r, &v), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FA_TEST(test_inline_then_heap), FA_TEST(test_enomem_leaves_buffer), FA_TEST(test_varints),
        FA_TEST(test_zigzag),           FA_TEST(test_reader_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
