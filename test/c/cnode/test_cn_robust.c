/* The C-node's handlers under conditions a cluster rarely produces on demand:
 *  - atom names outside Latin-1 (and of 255 four-byte characters) go out as the same atoms
 *    they came in as (they used to be re-encoded as Latin-1 bytes: another atom, or an
 *    encoding failure for names over 255 bytes);
 *  - an ei_x encoding failure kills its buffer for good, and nothing half-built is sent;
 *  - out of memory at any single allocation while an operation completes, or while a
 *    command is answered: the owner still gets exactly one well-formed op_result / reply
 *    ({error, enomem} when the real one could not be built);
 *  - any single allocation failure while an operation is registered: an answer, no crash
 *    and nothing leaked;
 *  - the queue to the owner is bounded: past --max-ctl-out the C-node stops taking peer
 *    packets (they wait in their buffers) and resumes once the owner has read;
 *  - the control input buffer stays bounded however much the owner writes at once. */
/* F_SETPIPE_SZ (test_owner_backlog) is Linux's, behind _GNU_SOURCE, which the portable
 * build (make test-portable) leaves out of the product code. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cn_harness.h"

/* {register, Seq, #Ref<t@h.1.2.N>, Hub, Expected (nodes, one chunk each), TimeoutMs} */
static ei_x_buff register_packet(long seq, unsigned n, const char *hub, const char **nodes,
                                 int nnodes, long timeout)
{
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 6);
    ei_x_encode_atom(&x, "register");
    ei_x_encode_long(&x, seq);
    cnh_encode_ref(&x, n);
    ei_x_encode_atom(&x, hub);
    ei_x_encode_list_header(&x, nnodes);
    for (int i = 0; i < nnodes; i++)
        ei_x_encode_atom(&x, nodes[i]);
    ei_x_encode_empty_list(&x);
    ei_x_encode_long(&x, timeout);
    assert_true(phn_cn_x_ok(&x));
    return x;
}

static void cmd_register(cnh *h, long seq, unsigned n, const char *hub, const char **nodes,
                         int nnodes, long timeout)
{
    ei_x_buff x = register_packet(seq, n, hub, nodes, nnodes, timeout);
    cnh_command(h, &x);
}

/* A response from a@h to hub `hub` for ref N with `bytes` of binary result. */
static void feed_response(cnh *h, unsigned n, const char *hub, size_t bytes)
{
    ei_x_buff ctl, msg;
    erlang_pid from;
    memset(&from, 0, sizeof(from));
    strcpy(from.node, "a@h");
    from.num = 7;
    from.creation = 1;
    ei_x_new_with_version(&ctl);
    ei_x_encode_tuple_header(&ctl, 4);
    ei_x_encode_long(&ctl, 6); /* REG_SEND */
    ei_x_encode_pid(&ctl, &from);
    ei_x_encode_atom(&ctl, "");
    ei_x_encode_atom(&ctl, hub);
    ei_x_new_with_version(&msg);
    ei_x_encode_tuple_header(&msg, 2);
    ei_x_encode_atom(&msg, "$gen_cast");
    ei_x_encode_tuple_header(&msg, 4);
    ei_x_encode_atom(&msg, "operation_response");
    cnh_encode_ref(&msg, n);
    ei_x_encode_atom(&msg, "a@h");
    ei_x_encode_list_header(&msg, 1);
    char *blob = calloc(1, bytes ? bytes : 1);
    assert_non_null(blob);
    ei_x_encode_binary(&msg, blob, (int)bytes);
    free(blob);
    ei_x_encode_empty_list(&msg);
    assert_true(phn_cn_x_ok(&ctl) && phn_cn_x_ok(&msg));
    cnh_feed(h, &ctl, &msg);
    ei_x_free(&ctl);
    ei_x_free(&msg);
}

/* The owner frames that are {Tag, ...} tuples with Tag == tag. */
static size_t count_tagged(const cnh *h, const char *tag)
{
    size_t n = 0, len = 0;
    const char *f;
    for (size_t i = 0; (f = cnh_frame(h, i, &len)) != NULL; i++) {
        int idx = 0, version, arity, end = (int)len, all;
        assert_int_equal(ei_decode_version(f, &idx, &version), 0);
        all = idx;
        assert_int_equal(phn_cn_term_skip(f, &all, end), 0); /* every frame well-formed */
        assert_int_equal(all, end);
        if (ei_decode_tuple_header(f, &idx, &arity) == 0 && phn_cn_match_atom(f, &idx, tag))
            n++;
    }
    return n;
}

/* The body of the only op_result frame: "complete", "expired" or "error". */
static void op_result_kind(const cnh *h, char *kind)
{
    size_t len = 0;
    const char *f;
    kind[0] = '\0';
    for (size_t i = 0; (f = cnh_frame(h, i, &len)) != NULL; i++) {
        int idx = 1, arity;
        if (ei_decode_tuple_header(f, &idx, &arity) == 0 && arity == 3 &&
            phn_cn_match_atom(f, &idx, "op_result")) {
            assert_int_equal(phn_cn_term_skip(f, &idx, (int)len), 0); /* the ref */
            assert_int_equal(ei_decode_tuple_header(f, &idx, &arity), 0);
            assert_int_equal(phn_cn_get_atom(f, &idx, kind), 0);
        }
    }
}

static void test_utf8_atoms_round_trip(void **state)
{
    (void)state;
    cnh h;
    cnh_config(&h);
    cnh_start(&h);
    /* 255 x U+1F600: the longest atom, 1020 bytes of UTF-8. */
    char smileys[255 * 4 + 8];
    for (int i = 0; i < 255; i++)
        memcpy(smileys + 4 * i, "\xF0\x9F\x98\x80", 4);
    smileys[255 * 4] = '\0';
    const char *nodes[] = {"\xC3\xBC@h", smileys}; /* "ü@h" and the smileys */
    cmd_register(&h, 1, 1,
                 "h\xC3\xBC"
                 "b",
                 nodes, 2, 0);
    h.cn.now_ms += 1;
    phn_cn_collect_tick(h.cn.collect, h.cn.now_ms);
    cnh_read_owner(&h);
    assert_int_equal(count_tagged(&h, "reply"), 1);
    assert_int_equal(count_tagged(&h, "op_result"), 1);
    /* {op_result, Ref, {expired, [], [Node1, Node2]}}: the names as they were given. */
    size_t len = 0;
    const char *f = cnh_frame(&h, 1, &len);
    assert_non_null(f);
    int idx = 1, arity;
    char atom[MAXATOMLEN_UTF8];
    assert_int_equal(ei_decode_tuple_header(f, &idx, &arity), 0);
    assert_true(phn_cn_match_atom(f, &idx, "op_result"));
    assert_int_equal(phn_cn_term_skip(f, &idx, (int)len), 0);
    assert_int_equal(ei_decode_tuple_header(f, &idx, &arity), 0);
    assert_int_equal(arity, 3);
    assert_true(phn_cn_match_atom(f, &idx, "expired"));
    assert_int_equal(ei_decode_list_header(f, &idx, &arity), 0);
    assert_int_equal(arity, 0);
    assert_int_equal(ei_decode_list_header(f, &idx, &arity), 0);
    assert_int_equal(arity, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(phn_cn_get_atom(f, &idx, atom), 0);
        assert_string_equal(atom, nodes[i]);
    }
    assert_int_equal(h.cn.stats.encode_failures, 0);
    cnh_stop(&h);
}

static void test_dead_buffer_is_never_sent(void **state)
{
    (void)state;
    cnh h;
    cnh_config(&h);
    cnh_start(&h);
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_atom(&x, "ok");
    assert_true(phn_cn_x_ok(&x));
    /* A failing encode (invalid UTF-8 cannot be an atom) kills the buffer ... */
    assert_int_equal(ei_x_encode_atom(&x, "\xFF\xFE"), -1);
    assert_false(phn_cn_x_ok(&x));
    /* ... for good: later encodes fail too instead of writing into a fresh allocation. */
    assert_int_equal(ei_x_encode_atom(&x, "fine"), -1);
    assert_int_equal(ei_x_append_buf(&x, "abcdefgh", 8), -1);
    assert_null(x.buff);
    assert_int_equal(phn_cn_send_ctl(&h.cn, &x), -1);
    ei_x_free(&x);
    cnh_read_owner(&h);
    assert_int_equal(h.got_len, 0);
    assert_int_equal(h.cn.stats.encode_failures, 1);
    /* The failure of ei_x_new itself is sticky as well. */
    cnh_fail_nth(0, 0);
    assert_int_equal(ei_x_new_with_version(&x), -1);
    cnh_fail_off();
    assert_int_equal(ei_x_encode_atom(&x, "late"), -1);
    assert_false(phn_cn_x_ok(&x));
    ei_x_free(&x);
    cnh_stop(&h);
}

/* Every single allocation failure while a response completes an operation with a 64 KB
 * result: the owner gets exactly one op_result, whole ("complete") or the short
 * {error, enomem}, and some failure point does reach the fallback. */
static void test_completion_under_enomem(void **state)
{
    (void)state;
    int saw_fallback = 0, saw_complete = 0;
    for (long k = 0; k < 60; k++) {
        cnh h;
        cnh_config(&h);
        cnh_start(&h);
        const char *nodes[] = {"a@h"};
        cmd_register(&h, 1, 9, "hub", nodes, 1, 60000);
        feed_response(&h, 9, "hub", 65536);
        cnh_fail_nth(k, 0); /* one failure only: the call after it succeeds */
        phn_cn_loop_dist_input(&h.cn, h.conn);
        cnh_fail_off();
        h.cn.now_ms += 120000; /* what did not complete expires */
        phn_cn_collect_tick(h.cn.collect, h.cn.now_ms);
        cnh_read_owner(&h);
        assert_int_equal(count_tagged(&h, "op_result"), 1);
        char kind[MAXATOMLEN_UTF8];
        op_result_kind(&h, kind);
        saw_fallback |= strcmp(kind, "error") == 0;
        saw_complete |= strcmp(kind, "complete") == 0;
        cnh_stop(&h);
    }
    assert_true(saw_fallback);
    assert_true(saw_complete);
}

/* The same for a command's reply: one reply per command, whatever single call fails. */
static void test_reply_under_enomem(void **state)
{
    (void)state;
    int saw_fallback = 0;
    for (long k = 0; k < 40; k++) {
        cnh h;
        cnh_config(&h);
        cnh_start(&h);
        ei_x_buff x;
        ei_x_new_with_version(&x);
        ei_x_encode_tuple_header(&x, 2);
        ei_x_encode_atom(&x, "stats");
        ei_x_encode_long(&x, 77);
        cnh_fail_nth(k, 0);
        phn_cn_cmd_packet(&h.cn, x.buff, (size_t)x.index);
        cnh_fail_off();
        ei_x_free(&x);
        cnh_read_owner(&h);
        assert_int_equal(count_tagged(&h, "reply"), 1);
        saw_fallback |= h.cn.stats.encode_failures > 0;
        cnh_stop(&h);
    }
    assert_true(saw_fallback);
}

/* Registering an operation of 3 nodes (one of them owing a response held as an early one)
 * with each single allocation failing in turn: the reply is ok or {error, enomem}, never a
 * crash (a failure of the results array used to make the cleanup walk a NULL array: found
 * by fuzz_cn_session), and whatever was registered expires and is freed. */
static void test_register_under_enomem(void **state)
{
    (void)state;
    int saw_enomem = 0, saw_ok = 0;
    for (long k = 0; k < 40; k++) {
        cnh h;
        cnh_config(&h);
        cnh_start(&h);
        feed_response(&h, 5, "hub", 100);
        phn_cn_loop_dist_input(&h.cn, h.conn); /* held: the operation is not there yet */
        assert_int_equal(h.cn.stats.early_held, 1);
        const char *nodes[] = {"a@h", "b@h", "c@h"};
        ei_x_buff x = register_packet(1, 5, "hub", nodes, 3, 1000);
        cnh_fail_nth(k, 0);
        phn_cn_cmd_packet(&h.cn, x.buff, (size_t)x.index);
        cnh_fail_off();
        ei_x_free(&x);
        cnh_read_owner(&h);
        assert_int_equal(count_tagged(&h, "reply"), 1);
        phn_cn_collect_usage u;
        phn_cn_collect_usage_get(h.cn.collect, &u);
        saw_ok |= u.ops == 1;
        saw_enomem |= h.cn.stats.ops_refused > 0;
        h.cn.now_ms += 1 << 20;
        phn_cn_collect_tick(h.cn.collect, h.cn.now_ms);
        phn_cn_collect_usage_get(h.cn.collect, &u);
        assert_int_equal(u.ops + u.early + u.early_bytes + u.result_bytes, 0);
        cnh_stop(&h);
    }
    assert_true(saw_ok);
    assert_true(saw_enomem);
}

static void test_owner_backlog(void **state)
{
    (void)state;
    cnh h;
    cnh_config(&h);
    h.cn.cfg.max_ctl_out = 8192;
    cnh_start(&h);
    /* The owner's pipe holds one page, so the C-node's own queue fills quickly. */
    assert_true(fcntl(h.owner[1], F_SETPIPE_SZ, 4096) >= 4096);
    cnh_nonblock(h.owner[1]);
    const int ops = 40;
    const char *nodes[] = {"a@h"};
    for (int i = 0; i < ops; i++)
        cmd_register(&h, i, 100 + (unsigned)i, "hub", nodes, 1, 60000);
    for (int i = 0; i < ops; i++)
        feed_response(&h, 100 + (unsigned)i, "hub", 2000);
    phn_cn_loop_dist_input(&h.cn, h.conn);
    /* Stopped: the queue is within the bound plus one message, the rest still waits. */
    assert_true(phn_cn_loop_owner_backlogged(&h.cn));
    assert_true(phn_cn_buf_avail(&h.cn.ctl.out) <= h.cn.cfg.max_ctl_out + 4096);
    assert_true(phn_cn_buf_avail(&h.conn->in) > 0);
    assert_true(h.cn.stats.ops_completed < (uint64_t)ops);
    /* The owner reads: everything goes through, each operation completed once. */
    for (int round = 0; round < 1000 && phn_cn_buf_avail(&h.conn->in) > 0; round++) {
        cnh_read_owner(&h);
        phn_cn_loop_dist_input(&h.cn, h.conn);
    }
    cnh_read_owner(&h);
    assert_int_equal(phn_cn_buf_avail(&h.conn->in), 0);
    assert_int_equal(h.cn.stats.ops_completed, ops);
    assert_int_equal(count_tagged(&h, "op_result"), ops);
    cnh_stop(&h);
}

static void test_ctl_input_bounded(void **state)
{
    (void)state;
    /* 4 MB of small commands ready at once on stdin (a file here). */
    char path[] = "/tmp/phn_cn_ctl_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_atom(&x, "stats");
    ei_x_encode_long(&x, 1);
    uint8_t hdr[4];
    phn_cn_put32be(hdr, (uint32_t)x.index);
    size_t written = 0;
    while (written < ((size_t)4 << 20)) {
        assert_int_equal(write(fd, hdr, 4), 4);
        assert_int_equal(write(fd, x.buff, (size_t)x.index), x.index);
        written += 4 + (size_t)x.index;
    }
    ei_x_free(&x);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    phn_cn_ctl ctl;
    phn_cn_ctl_init(&ctl, fd, -1, 1u << 20);
    phn_cn_ctl_read(&ctl);
    assert_false(ctl.eof);
    assert_true(phn_cn_ctl_has_packet(&ctl));
    assert_false(phn_cn_ctl_want_input(&ctl));
    assert_true(phn_cn_buf_avail(&ctl.in) < ((size_t)1 << 20) + 65536 + 64);
    phn_cn_ctl_free(&ctl);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_atoms_round_trip),
        cmocka_unit_test(test_dead_buffer_is_never_sent),
        cmocka_unit_test(test_completion_under_enomem),
        cmocka_unit_test(test_reply_under_enomem),
        cmocka_unit_test(test_register_under_enomem),
        cmocka_unit_test(test_owner_backlog),
        cmocka_unit_test(test_ctl_input_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
