/* phn_cn_term_check: what the C-node forwards to its owner must decode with the BEAM's
 * binary_to_term/1. Each refused case below is one that binary_to_term/1 refuses (checked
 * on OTP 25), most of them accepted by phn_cn_term_skip; each accepted case is one it
 * decodes. Map keys
 * are compared as =:= compares them, across their encodings. Through the distribution
 * path: a call whose tag is an invalid atom and a response whose results are one are
 * dropped and counted, never forwarded. And a lone 'p' packet is refused without reading
 * past it (run under `make valgrind-c`: the read used to be one byte past the packet). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cn_harness.h"
#include "phn_cn_check.h"

/* Check buf[0, len) copied into an allocation of exactly len bytes: 1 accepted (and the
 * walk ended at len), 0 refused. What the structural walk refuses, the check refuses. */
static int ok(const void *buf, size_t len)
{
    char *b = malloc(len ? len : 1);
    assert_non_null(b);
    memcpy(b, buf, len);
    int idx = 0, skip = 0;
    int skipped = phn_cn_term_skip(b, &skip, (int)len);
    int rc = phn_cn_term_check(b, &idx, (int)len);
    free(b);
    if (skipped < 0)
        assert_int_equal(rc, -1);
    if (rc == 0)
        assert_int_equal(idx, (int)len);
    return rc == 0;
}

#define OK(lit) ok(lit, sizeof(lit) - 1)

static void test_atoms(void **state)
{
    (void)state;
    assert_false(OK("\x77\x01\xff"));             /* <<255>> as UTF-8 */
    assert_false(OK("\x77\x03\xed\xa0\x80"));     /* a surrogate */
    assert_false(OK("\x77\x02\xc0\x80"));         /* overlong */
    assert_false(OK("\x77\x04\xf4\x90\x80\x80")); /* past U+10FFFF */
    assert_false(OK("\x77\x02\xc3"));             /* cut short... */
    assert_true(OK("\x73\x01\xff"));              /* Latin-1 255 is fine */
    assert_true(OK("\x77\x02\xc3\xbc"));          /* "ü" */
    assert_true(OK("\x77\x04\xf0\x9f\x98\x80"));  /* U+1F600 */
    /* 256 characters: refused in UTF-8 and Latin-1, 255 accepted. */
    uint8_t a[3 + 256];
    a[0] = 118;
    a[1] = 1;
    a[2] = 0;
    memset(a + 3, 'a', 256);
    assert_false(ok(a, sizeof(a)));
    a[0] = 100;
    assert_false(ok(a, sizeof(a)));
    a[1] = 0;
    a[2] = 255;
    assert_true(ok(a, sizeof(a) - 1));
    /* Inside a compound, and as a node name. */
    assert_false(OK("\x68\x02\x61\x01\x6c\x00\x00\x00\x01\x77\x01\xff\x6a"));
    assert_false(OK("\x58\x77\x01\xff\0\0\0\x01\0\0\0\0\0\0\0\x01"));
    assert_true(OK("\x58\x64\0\x03"
                   "a@b"
                   "\0\0\0\x01\0\0\0\0\0\0\0\x01"));
}

static void test_numbers_and_binaries(void **state)
{
    (void)state;
    assert_false(OK("\x46\x7f\xf8\0\0\0\0\0\0")); /* NaN */
    assert_false(OK("\x46\xff\xf0\0\0\0\0\0\0")); /* -inf */
    assert_true(OK("\x46\x80\0\0\0\0\0\0\0"));    /* -0.0 */
    assert_false(OK("\x4d\0\0\0\x01\x00\x05"));   /* bit binary, 0 bits in its last byte */
    assert_false(OK("\x4d\0\0\0\x01\x09\x05"));   /* 9 bits */
    assert_false(OK("\x4d\0\0\0\x00\x03"));       /* empty with 3 bits */
    assert_true(OK("\x4d\0\0\0\x00\x00"));
    assert_true(OK("\x4d\0\0\0\x01\x03\xff"));
    assert_true(OK("\x6e\x01\x02\x05")); /* a sign byte of 2: negative, as for the BEAM */
    assert_true(OK("\x6e\x02\x01\x05\x00"));
    /* A bignum past the BEAM's limit, and one just within. */
    size_t n = 2097149;
    uint8_t *big = calloc(1, 6 + n);
    assert_non_null(big);
    big[0] = 111;
    phn_cn_put32be(big + 1, (uint32_t)n);
    big[6] = 1;
    assert_false(ok(big, 6 + n));
    phn_cn_put32be(big + 1, (uint32_t)(n - 1));
    assert_true(ok(big, 6 + n - 1));
    free(big);
}

static void test_funs_exports_old_ids(void **state)
{
    (void)state;
    assert_true(OK("\x71\x64\0\x01m\x64\0\x01"
                   "f\x61\x02"));
    assert_false(OK("\x71\x61\x01\x64\0\x01"
                    "f\x61\x02")); /* module not an atom */
    assert_false(OK("\x71\x64\0\x01m\x64\0\x01"
                    "f\x64\0\x01x")); /* arity not an integer */
    assert_false(OK("\x67\x64\0\x03"
                    "a@b"
                    "\0\0\0\x01\0\0\0\0\x07")); /* PID_EXT */
    /* Identifiers past what the BEAM accepts for its own node: pid id 2^15, serial 2^13,
     * port id 2^28, a V4 port id past 32 bits, a 4-word reference, a first reference
     * word of 2^18, NEW_REFERENCE_EXT; and the largest accepted. */
    assert_false(OK("\x58\x64\0\x03"
                    "a@b"
                    "\0\0\x80\0\0\0\0\0\0\0\0\x01"));
    assert_false(OK("\x58\x64\0\x03"
                    "a@b"
                    "\0\0\0\x01\0\0\x20\0\0\0\0\x01"));
    assert_true(OK("\x58\x64\0\x03"
                   "a@b"
                   "\0\0\x7f\xff\0\0\x1f\xff\0\0\0\x01"));
    assert_false(OK("\x59\x64\0\x03"
                    "a@b"
                    "\x10\0\0\0\0\0\0\x01"));
    assert_true(OK("\x59\x64\0\x03"
                   "a@b"
                   "\x0f\xff\xff\xff\0\0\0\x01"));
    assert_false(OK("\x78\x64\0\x03"
                    "a@b"
                    "\0\0\0\x01\0\0\0\0\0\0\0\x01"));
    assert_false(OK("\x5a\0\x04\x64\0\x03"
                    "a@b"
                    "\0\0\0\x01\0\0\0\x01\0\0\0\x02\0\0\0\x03"
                    "\0\0\0\x04"));
    assert_false(OK("\x5a\0\x03\x64\0\x03"
                    "a@b"
                    "\0\0\0\x01\0\x04\0\0\0\0\0\x02\0\0\0\x03"));
    assert_true(OK("\x5a\0\x03\x64\0\x03"
                   "a@b"
                   "\0\0\0\x01\0\x03\xff\xff\0\0\0\x02\0\0\0\x03"));
    assert_false(OK("\x72\0\x01\x64\0\x03"
                    "a@b"
                    "\x01\0\0\0\x01"));
    /* fun: size, arity 1, uniq, index, one free variable; m, 0, 0, a pid; the atom x. */
    uint8_t fun[] = {112, 0,   0,  0,  0,  1,  1, 2, 3, 4,  5,   6, 7,   8,   9,   10,
                     11,  12,  13, 14, 15, 16, 0, 0, 0, 0,  0,   0, 0,   1,   100, 0,
                     1,   'm', 97, 0,  98, 0,  0, 0, 0, 88, 100, 0, 3,   'a', '@', 'b',
                     0,   0,   0,  1,  0,  0,  0, 0, 0, 0,  0,   1, 100, 0,   1,   'x'};
    phn_cn_put32be(fun + 1, (uint32_t)(sizeof(fun) - 1));
    assert_true(ok(fun, sizeof(fun)));
    phn_cn_put32be(fun + 1, (uint32_t)(sizeof(fun) - 2)); /* a size that lies */
    assert_false(ok(fun, sizeof(fun)));
    phn_cn_put32be(fun + 1, (uint32_t)(sizeof(fun) - 1));
    fun[30] = 119; /* module as UTF-8 atom: fine */
    fun[31] = 1;
    fun[32] = 'm';
    /* (re-pack: drop the second length byte) */
    uint8_t fun2[sizeof(fun) - 1];
    memcpy(fun2, fun, 32);
    memcpy(fun2 + 32, fun + 33, sizeof(fun) - 33);
    phn_cn_put32be(fun2 + 1, (uint32_t)(sizeof(fun2) - 1));
    assert_true(ok(fun2, sizeof(fun2)));
    fun2[31] = 2; /* a module atom that runs into the next field: the size no longer fits */
    assert_false(ok(fun2, sizeof(fun2)));
}

static void test_map_keys(void **state)
{
    (void)state;
    /* #{1 => 2, 1 => 3} in one encoding and in two. */
    assert_false(OK("\x74\0\0\0\x02\x61\x01\x61\x02\x61\x01\x61\x03"));
    assert_false(OK("\x74\0\0\0\x02\x61\x01\x61\x02\x62\0\0\0\x01\x61\x03"));
    assert_false(OK("\x74\0\0\0\x02\x61\x01\x61\x02\x6e\x02\x00\x01\x00\x61\x03"));
    assert_false(OK("\x74\0\0\0\x02\x64\0\x01"
                    "a"
                    "\x61\x02\x77\x01"
                    "a"
                    "\x61\x03"));
    assert_false(OK("\x74\0\0\0\x02\x46\0\0\0\0\0\0\0\0\x61\x02\x46\x80\0\0\0\0\0\0\0\x61\x03"));
    /* "ab" as a string and as a list; [1, 2] as one cell list and as two. */
    assert_false(OK("\x74\0\0\0\x02\x6b\0\x02"
                    "ab"
                    "\x61\x01\x6c\0\0\0\x02\x61\x61\x61\x62\x6a"
                    "\x61\x02"));
    assert_false(OK("\x74\0\0\0\x02\x6c\0\0\0\x02\x61\x01\x61\x02\x6a\x61\x00"
                    "\x6c\0\0\0\x01\x61\x01\x6c\0\0\0\x01\x61\x02\x6a\x61\x00"));
    /* [1 | "b"] vs [1, 98] inside a tuple key; binaries vs 8-bit bit binaries. */
    assert_false(OK("\x74\0\0\0\x02\x68\x01\x6c\0\0\0\x01\x61\x01\x6b\0\x01"
                    "b"
                    "\x61\x00"
                    "\x68\x01\x6c\0\0\0\x02\x61\x01\x61\x62\x6a\x61\x00"));
    assert_false(OK("\x74\0\0\0\x02\x6d\0\0\0\x01"
                    "z"
                    "\x61\x00\x4d\0\0\0\x01\x08"
                    "z"
                    "\x61\x00"));
    /* Maps as keys, their pairs in another order. */
    assert_false(OK("\x74\0\0\0\x02"
                    "\x74\0\0\0\x02\x61\x01\x61\x01\x61\x02\x61\x02"
                    "\x61\x00"
                    "\x74\0\0\0\x02\x61\x02\x61\x02\x61\x01\x61\x01"
                    "\x61\x00"));
    /* Distinct keys: 1 and 1.0, "ab" and <<"ab">>, [1, 2] and [1 | 2], [] and {}. */
    assert_true(OK("\x74\0\0\0\x02\x61\x01\x61\x00\x46\x3f\xf0\0\0\0\0\0\0\x61\x00"));
    assert_true(OK("\x74\0\0\0\x02\x6b\0\x02"
                   "ab"
                   "\x61\x00\x6d\0\0\0\x02"
                   "ab"
                   "\x61\x00"));
    assert_true(OK("\x74\0\0\0\x02\x6c\0\0\0\x02\x61\x01\x61\x02\x6a\x61\x00"
                   "\x6c\0\0\0\x01\x61\x01\x61\x02\x61\x00"));
    assert_true(OK("\x74\0\0\0\x02\x6a\x61\x00\x68\x00\x61\x00"));
    /* A duplicate in a map nested in a value, and equal values (fine). */
    assert_false(OK("\x68\x02\x61\x00\x74\0\0\0\x01\x61\x00"
                    "\x74\0\0\0\x02\x61\x01\x61\x02\x61\x01\x61\x03"));
    assert_true(OK("\x74\0\0\0\x02\x61\x01\x61\x07\x61\x02\x61\x07"));
    /* 10 000 distinct keys, then the same with one repeated at the end. */
    size_t n = 10000, len = 5 + n * 7;
    uint8_t *m = malloc(len);
    assert_non_null(m);
    m[0] = 116;
    phn_cn_put32be(m + 1, (uint32_t)n);
    for (size_t k = 0; k < n; k++) {
        m[5 + 7 * k] = 98;
        phn_cn_put32be(m + 6 + 7 * k, (uint32_t)k);
        m[10 + 7 * k] = 97;
        m[11 + 7 * k] = 0;
    }
    assert_true(ok(m, len));
    phn_cn_put32be(m + 6 + 7 * (n - 1), 17);
    assert_false(ok(m, len));
    free(m);
}

static void test_nesting(void **state)
{
    (void)state;
    /* 200 000 nested 1-tuples: no frames, any depth. */
    size_t n = 200000;
    uint8_t *t = malloc(2 * n + 1);
    assert_non_null(t);
    for (size_t k = 0; k < n; k++) {
        t[2 * k] = 104;
        t[2 * k + 1] = 1;
    }
    t[2 * n] = 106;
    assert_true(ok(t, 2 * n + 1));
    free(t);
    /* Maps nested past the bound are refused; within it, accepted. */
    for (int deep = 0; deep < 2; deep++) {
        size_t d = deep ? PHN_CN_CHECK_MAX_DEPTH + 1 : 1000;
        uint8_t *m = malloc(7 * d + 1);
        assert_non_null(m);
        for (size_t k = 0; k < d; k++) {
            m[7 * k] = 116;
            phn_cn_put32be(m + 7 * k + 1, 1);
            m[7 * k + 5] = 97;
            m[7 * k + 6] = 1;
        }
        m[7 * d] = 106;
        if (deep)
            assert_false(ok(m, 7 * d + 1));
        else
            assert_true(ok(m, 7 * d + 1));
        free(m);
    }
}

/* Through the distribution path: a gen_call whose tag is an invalid atom is dropped and
 * counted, nothing reaches the owner (the caller's node has no connection: its reply would
 * go through the owner). */
static void test_bad_tag_not_forwarded(void **state)
{
    (void)state;
    cnh h;
    cnh_config(&h);
    cnh_start(&h);
    ei_x_buff ctl, msg;
    ei_x_new_with_version(&ctl);
    ei_x_encode_tuple_header(&ctl, 4);
    ei_x_encode_long(&ctl, 6);
    erlang_pid from;
    memset(&from, 0, sizeof(from));
    strcpy(from.node, "far@away");
    from.num = 1;
    from.creation = 1;
    ei_x_encode_pid(&ctl, &from);
    ei_x_encode_atom(&ctl, "");
    ei_x_encode_atom(&ctl, "net_kernel");
    ei_x_new_with_version(&msg);
    ei_x_encode_tuple_header(&msg, 3);
    ei_x_encode_atom(&msg, "$gen_call");
    ei_x_encode_tuple_header(&msg, 2);
    ei_x_encode_pid(&msg, &from);
    ei_x_append_buf(&msg, "\x77\x01\xff", 3); /* the tag */
    ei_x_encode_tuple_header(&msg, 2);
    ei_x_encode_atom(&msg, "is_auth");
    ei_x_encode_atom(&msg, "far@away");
    cnh_feed(&h, &ctl, &msg);
    phn_cn_loop_dist_input(&h.cn, h.conn);
    cnh_read_owner(&h);
    assert_int_equal(cnh_frames(&h), 0);
    assert_int_equal(h.cn.stats.msgs_undecodable, 1);
    assert_int_equal(h.cn.stats.deliver_via_port, 0);
    /* The same call with a valid tag is answered through the owner. */
    msg.index = 0;
    ei_x_encode_version(&msg);
    ei_x_encode_tuple_header(&msg, 3);
    ei_x_encode_atom(&msg, "$gen_call");
    ei_x_encode_tuple_header(&msg, 2);
    ei_x_encode_pid(&msg, &from);
    ei_x_append_buf(&msg, "\x77\x02\xc3\xbc", 4);
    ei_x_encode_tuple_header(&msg, 2);
    ei_x_encode_atom(&msg, "is_auth");
    ei_x_encode_atom(&msg, "far@away");
    cnh_feed(&h, &ctl, &msg);
    phn_cn_loop_dist_input(&h.cn, h.conn);
    cnh_read_owner(&h);
    assert_int_equal(cnh_frames(&h), 1);
    assert_int_equal(h.cn.stats.deliver_via_port, 1);
    ei_x_free(&ctl);
    ei_x_free(&msg);
    cnh_stop(&h);
}

/* An operation_response from a@h for #Ref<t@h.1.2.1> whose one result is `result` (raw
 * encoding, no version byte). */
static void feed_result(cnh *h, const char *result, int len)
{
    ei_x_buff ctl, msg;
    erlang_pid from;
    memset(&from, 0, sizeof(from));
    strcpy(from.node, "a@h");
    from.num = 7;
    from.creation = 1;
    ei_x_new_with_version(&ctl);
    ei_x_encode_tuple_header(&ctl, 4);
    ei_x_encode_long(&ctl, 6);
    ei_x_encode_pid(&ctl, &from);
    ei_x_encode_atom(&ctl, "");
    ei_x_encode_atom(&ctl, "hub");
    ei_x_new_with_version(&msg);
    ei_x_encode_tuple_header(&msg, 2);
    ei_x_encode_atom(&msg, "$gen_cast");
    ei_x_encode_tuple_header(&msg, 4);
    ei_x_encode_atom(&msg, "operation_response");
    cnh_encode_ref(&msg, 1);
    ei_x_encode_atom(&msg, "a@h");
    ei_x_encode_list_header(&msg, 1);
    ei_x_append_buf(&msg, result, len);
    ei_x_encode_empty_list(&msg);
    cnh_feed(h, &ctl, &msg);
    ei_x_free(&ctl);
    ei_x_free(&msg);
    phn_cn_loop_dist_input(&h->cn, h->conn);
}

/* A registered operation's results with an invalid atom: the response is dropped and
 * counted, nothing completes; a valid one then completes the operation. */
static void test_bad_results_not_forwarded(void **state)
{
    (void)state;
    cnh h;
    cnh_config(&h);
    cnh_start(&h);
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 6);
    ei_x_encode_atom(&x, "register");
    ei_x_encode_long(&x, 1);
    cnh_encode_ref(&x, 1);
    ei_x_encode_atom(&x, "hub");
    ei_x_encode_list_header(&x, 1);
    ei_x_encode_atom(&x, "a@h");
    ei_x_encode_empty_list(&x);
    ei_x_encode_long(&x, 60000);
    cnh_command(&h, &x);
    cnh_read_owner(&h);
    assert_int_equal(cnh_frames(&h), 1); /* the reply */
    feed_result(&h, "\x77\x01\xff", 3);
    cnh_read_owner(&h);
    assert_int_equal(cnh_frames(&h), 1);
    assert_int_equal(h.cn.stats.msgs_undecodable, 1);
    assert_int_equal(h.cn.stats.responses, 0);
    feed_result(&h, "\x77\x02\xc3\xbc", 4);
    cnh_read_owner(&h);
    assert_int_equal(cnh_frames(&h), 2); /* the op_result */
    assert_int_equal(h.cn.stats.ops_completed, 1);
    cnh_stop(&h);
}

/* A lone 'p' as the last byte of its allocation: refused, and (under valgrind) nothing
 * read past it. */
static void test_lone_pass_through(void **state)
{
    (void)state;
    cnh h;
    cnh_config(&h);
    cnh_start(&h);
    char *pkt = malloc(1);
    assert_non_null(pkt);
    pkt[0] = 'p';
    assert_int_equal(phn_cn_dist_packet(&h.cn, h.conn, pkt, 1), -1);
    assert_int_equal(h.cn.stats.msgs_malformed, 1);
    free(pkt);
    cnh_stop(&h);
}

/* Once the owner's node is known, only identifiers naming it are held to the BEAM's local
 * rules; another node's take any 32-bit words and references of up to 5 words, as the
 * BEAM decodes them (OTP 26 and later send pid ids past 2^15). */
static void test_owner_node_rules(void **state)
{
    (void)state;
    assert_int_equal(phn_cn_check_set_owner("o@h"), 0);
    /* pid id 2^15 and a V4 port id past 32 bits: accepted from a@b, refused from o@h */
    assert_true(OK("\x58\x64\0\x03"
                   "a@b"
                   "\0\0\x80\0\0\0\0\0\0\0\0\x01"));
    assert_false(OK("\x58\x64\0\x03"
                    "o@h"
                    "\0\0\x80\0\0\0\0\0\0\0\0\x01"));
    assert_true(OK("\x78\x64\0\x03"
                   "a@b"
                   "\0\0\0\x01\0\0\0\0\0\0\0\x01"));
    assert_false(OK("\x78\x64\0\x03"
                    "o@h"
                    "\0\0\0\x01\0\0\0\0\0\0\0\x01"));
    /* a 5-word reference: accepted from a@b, refused from o@h; 6 words from anyone */
    assert_true(OK("\x5a\0\x05\x64\0\x03"
                   "a@b"
                   "\0\0\0\x01\xff\xff\xff\xff\0\0\0\x02\0\0\0\x03\0\0\0\x04\0\0\0\x05"));
    assert_false(OK("\x5a\0\x05\x64\0\x03"
                    "o@h"
                    "\0\0\0\x01\0\0\0\x01\0\0\0\x02\0\0\0\x03\0\0\0\x04\0\0\0\x05"));
    assert_false(OK("\x5a\0\x06\x64\0\x03"
                    "a@b"
                    "\0\0\0\x01\0\0\0\x01\0\0\0\x02\0\0\0\x03\0\0\0\x04\0\0\0\x05"
                    "\0\0\0\x06"));
    /* forgotten: every node held to the local rules again */
    assert_int_equal(phn_cn_check_set_owner(NULL), 0);
    assert_false(OK("\x58\x64\0\x03"
                    "a@b"
                    "\0\0\x80\0\0\0\0\0\0\0\0\x01"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_atoms),
        cmocka_unit_test(test_numbers_and_binaries),
        cmocka_unit_test(test_funs_exports_old_ids),
        cmocka_unit_test(test_map_keys),
        cmocka_unit_test(test_nesting),
        cmocka_unit_test(test_bad_tag_not_forwarded),
        cmocka_unit_test(test_bad_results_not_forwarded),
        cmocka_unit_test(test_lone_pass_through),
        cmocka_unit_test(test_owner_node_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
