/* Shared by the C-node targets (fuzz_cn_*.c): a whole C-node state (phn_cn) built without
 * a network for every input, driven through the same entry points the event loop uses.
 *
 *  - The state: small limits (so that every bound is reached), our node fz@h, two
 *    distribution connections from a@h and b@h on socketpairs, the owner's channel on a
 *    pipe. Each input starts from the same seeded state: a StaticQuorum hub `hub0' over
 *    [a@h, b@h, fz@h] (watched) with a subscriber on a@h, operation R0 on hub0 expecting
 *    {a@h, 2 chunks} and b@h, and operation R1 (any hub) expecting a@h, where R0 and R1
 *    are the references #Ref<fz@h.1.2.3> and #Ref<fz@h.1.2.4> that the seeds use.
 *  - Every byte the C-node writes, to the owner or to a peer, is read back and checked: a
 *    sequence of whole frames, each one well-formed external terms that end the frame
 *    exactly (a half-encoded message would fail this).
 *  - The end of every input expires everything (far-future tick) and checks that the
 *    collector's accounting is back to zero, frees the state and checks that no block of
 *    the C-node's own allocator is left (fz_alloc_end); LSan sees ei's blocks.
 *
 * fuzz-srcs and friends are given by each target (see test/fuzz/Makefile). */
#ifndef FUZZ_CN_COMMON_H
#define FUZZ_CN_COMMON_H

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_common.h"

#include "phn_cn.h"
#include "phn_cn_args.h"
#include "phn_cn_cmd.h"
#include "phn_cn_collect.h"
#include "phn_cn_dist.h"
#include "phn_cn_loop.h"
#include "phn_cn_term.h"
#include "phn_cn_watch.h"

#define FZCN_T0 1000000 /* the monotonic clock of every input's start */

typedef struct fzcn_stream {
    uint8_t *data; /* bytes read back, not yet parsed into frames */
    size_t len, cap;
} fzcn_stream;

typedef struct fzcn {
    phn_cn cn;
    int owner[2];   /* [0] read back here, [1] the C-node's stdout */
    int peer[2][2]; /* [k][0] the C-node's end of connection k, [k][1] the peer's */
    uint32_t node[2];
    phn_cn_conn *conn[2];
    fzcn_stream out[3]; /* owner, peer 0, peer 1 */
    ei_x_buff setup[4]; /* control packets run at the start of every input */
    size_t frames;      /* frames checked during this input */
    size_t replies;     /* of them, {reply, Seq, Result} to the owner */
} fzcn;

static fzcn fzcn_g;

static void fzcn_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    FZ_CHECK(fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0);
}

/* R0 / R1: #Ref<fz@h.1.2.{3,4}>, creation 1. */
static void fzcn_encode_ref(ei_x_buff *x, unsigned last)
{
    erlang_ref r;
    memset(&r, 0, sizeof(r));
    strcpy(r.node, "fz@h");
    r.len = 3;
    r.n[0] = 1;
    r.n[1] = 2;
    r.n[2] = last;
    r.creation = 1;
    ei_x_encode_ref(x, &r);
}

static void fzcn_encode_pid(ei_x_buff *x, const char *node, unsigned num)
{
    erlang_pid p;
    memset(&p, 0, sizeof(p));
    strcpy(p.node, node);
    p.num = num;
    p.serial = 0;
    p.creation = 1;
    ei_x_encode_pid(x, &p);
}

static void fzcn_build_setup(void)
{
    ei_x_buff *x = fzcn_g.setup;
    /* {set_hub, 0, hub0, StaticQuorum(2), [a@h, b@h, fz@h], #{watch => true}} */
    ei_x_new_with_version(&x[0]);
    ei_x_encode_tuple_header(&x[0], 6);
    ei_x_encode_atom(&x[0], "set_hub");
    ei_x_encode_long(&x[0], 0);
    ei_x_encode_atom(&x[0], "hub0");
    ei_x_encode_map_header(&x[0], 3);
    ei_x_encode_atom(&x[0], "__struct__");
    ei_x_encode_atom(&x[0], "Elixir.ProcessHub.Strategy.PartitionTolerance.StaticQuorum");
    ei_x_encode_atom(&x[0], "quorum_size");
    ei_x_encode_long(&x[0], 2);
    ei_x_encode_atom(&x[0], "startup_confirm");
    ei_x_encode_atom(&x[0], "false");
    ei_x_encode_list_header(&x[0], 3);
    ei_x_encode_atom(&x[0], "a@h");
    ei_x_encode_atom(&x[0], "b@h");
    ei_x_encode_atom(&x[0], "fz@h");
    ei_x_encode_empty_list(&x[0]);
    ei_x_encode_map_header(&x[0], 1);
    ei_x_encode_atom(&x[0], "watch");
    ei_x_encode_atom(&x[0], "true");
    /* {subscribe, 1, hub0, <a@h.7.0>} */
    ei_x_new_with_version(&x[1]);
    ei_x_encode_tuple_header(&x[1], 4);
    ei_x_encode_atom(&x[1], "subscribe");
    ei_x_encode_long(&x[1], 1);
    ei_x_encode_atom(&x[1], "hub0");
    fzcn_encode_pid(&x[1], "a@h", 7);
    /* {register, 2, R0, hub0, [{a@h, 2}, b@h], 5000} */
    ei_x_new_with_version(&x[2]);
    ei_x_encode_tuple_header(&x[2], 6);
    ei_x_encode_atom(&x[2], "register");
    ei_x_encode_long(&x[2], 2);
    fzcn_encode_ref(&x[2], 3);
    ei_x_encode_atom(&x[2], "hub0");
    ei_x_encode_list_header(&x[2], 2);
    ei_x_encode_tuple_header(&x[2], 2);
    ei_x_encode_atom(&x[2], "a@h");
    ei_x_encode_long(&x[2], 2);
    ei_x_encode_atom(&x[2], "b@h");
    ei_x_encode_empty_list(&x[2]);
    ei_x_encode_long(&x[2], 5000);
    /* {register, 3, R1, undefined, [a@h], 20000} */
    ei_x_new_with_version(&x[3]);
    ei_x_encode_tuple_header(&x[3], 6);
    ei_x_encode_atom(&x[3], "register");
    ei_x_encode_long(&x[3], 3);
    fzcn_encode_ref(&x[3], 4);
    ei_x_encode_atom(&x[3], "undefined");
    ei_x_encode_list_header(&x[3], 1);
    ei_x_encode_atom(&x[3], "a@h");
    ei_x_encode_empty_list(&x[3]);
    ei_x_encode_long(&x[3], 20000);
    for (int i = 0; i < 4; i++)
        FZ_CHECK(phn_cn_x_ok(&x[i]));
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FZ_CHECK(ei_init() == 0);
    struct in_addr addr;
    addr.s_addr = htonl(INADDR_LOOPBACK);
    /* No network: this only fills in our identity (ei_self) for the encoders. */
    FZ_CHECK(ei_connect_xinit(&fzcn_g.cn.ec, "h", "fz", "fz@h", &addr, "fuzzcookie", 1) >= 0);
    FZ_CHECK(pipe(fzcn_g.owner) == 0);
    fzcn_nonblock(fzcn_g.owner[0]);
    fzcn_nonblock(fzcn_g.owner[1]);
    for (int k = 0; k < 2; k++) {
        FZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, fzcn_g.peer[k]) == 0);
        fzcn_nonblock(fzcn_g.peer[k][0]);
        fzcn_nonblock(fzcn_g.peer[k][1]);
    }
    fzcn_build_setup();
    return 0;
}

/* ---- reading back and checking what the C-node wrote ------------------------------- */

/* One frame's payload: a version byte and a term ending it exactly, or (peer frames) the
 * pass-through byte, the control tuple and the message, both with version bytes. */
static void fzcn_check_payload(const uint8_t *p, size_t len, int is_peer)
{
    const char *b = (const char *)p;
    int end = (int)len, idx = 0;
    FZ_CHECK(len > 0 && len < (size_t)INT32_MAX);
    if (is_peer) {
        FZ_CHECK(b[0] == 'p');
        idx = 1;
        FZ_CHECK(idx < end && (uint8_t)b[idx] == 131);
        idx++;
        FZ_CHECK(phn_cn_term_skip(b, &idx, end) == 0);
    }
    FZ_CHECK(idx < end && (uint8_t)b[idx] == 131);
    int term = ++idx, arity;
    FZ_CHECK(phn_cn_term_skip(b, &idx, end) == 0);
    FZ_CHECK(idx == end);
    fzcn_g.frames++;
    if (!is_peer && ei_decode_tuple_header(b, &term, &arity) == 0 && arity == 3 &&
        phn_cn_match_atom(b, &term, "reply"))
        fzcn_g.replies++;
}

static void fzcn_read_back(int which)
{
    int fd = which == 0 ? fzcn_g.owner[0] : fzcn_g.peer[which - 1][1];
    fzcn_stream *s = &fzcn_g.out[which];
    for (;;) {
        if (s->cap - s->len < 65536) {
            size_t cap = s->cap ? s->cap * 2 : 1 << 17;
            uint8_t *d = realloc(s->data, cap);
            FZ_CHECK(d != NULL);
            s->data = d;
            s->cap = cap;
        }
        ssize_t n = read(fd, s->data + s->len, s->cap - s->len);
        if (n <= 0)
            break;
        s->len += (size_t)n;
    }
    size_t at = 0;
    while (s->len - at >= 4) {
        uint32_t len = phn_cn_get32be(s->data + at);
        if (len == 0 && which != 0) { /* a tick's answer */
            at += 4;
            continue;
        }
        if (s->len - at - 4 < len)
            break;
        fzcn_check_payload(s->data + at + 4, len, which != 0);
        at += 4 + (size_t)len;
    }
    memmove(s->data, s->data + at, s->len - at);
    s->len -= at;
}

/* Let the C-node write what it queued, read it all back and check it. */
static void fzcn_drain(void)
{
    phn_cn *cn = &fzcn_g.cn;
    for (int round = 0; round < 1000; round++) {
        (void)phn_cn_ctl_flush(&cn->ctl);
        for (int k = 0; k < 2; k++)
            if (fzcn_g.conn[k] != NULL)
                phn_cn_conn_flush(fzcn_g.conn[k]);
        for (int w = 0; w < 3; w++)
            fzcn_read_back(w);
        int more = phn_cn_buf_avail(&cn->ctl.out) > 0;
        for (int k = 0; k < 2; k++)
            more |= fzcn_g.conn[k] != NULL && !fzcn_g.conn[k]->closing &&
                    phn_cn_buf_avail(&fzcn_g.conn[k]->out) > 0;
        if (!more)
            return;
    }
    FZ_CHECK(!"output never drained");
}

/* ---- per input -------------------------------------------------------------------- */

static phn_cn *fzcn_begin(void)
{
    phn_cn *cn = &fzcn_g.cn;
    fz_alloc_begin();
    fzcn_g.frames = fzcn_g.replies = 0;
    phn_cn_config *c = &cn->cfg;
    phn_cn_config_defaults(c);
    strcpy(c->node, "fz@h");
    strcpy(c->alive, "fz");
    strcpy(c->host, "h");
    c->max_msg_bytes = 1 << 20;
    c->max_ctl_bytes = 1 << 20;
    c->max_ctl_out = 1 << 16;
    c->max_out_bytes = 1 << 18;
    c->max_ops = 8;
    c->max_op_bytes = 1 << 14;
    c->max_total_bytes = 1 << 16;
    c->early_max = 6;
    c->early_bytes = 4096;
    c->early_hold_ms = 100;
    c->max_hubs = 3;
    c->max_hub_nodes = 12;
    c->max_subscribers = 3;
    c->max_atoms = 40;
    c->silence_ms = 300;
    c->reconnect_ms = 50;
    memset(&cn->stats, 0, sizeof(cn->stats));
    memset(&cn->conns, 0, sizeof(cn->conns));
    memset(&cn->thr, 0, sizeof(cn->thr));
    /* No threads: a connect request fails at once ("busy"), as with a full queue. */
    cn->thr.handoff[0] = cn->thr.handoff[1] = cn->thr.requests[0] = cn->thr.requests[1] = -1;
    phn_cn_ctl_init(&cn->ctl, -1, fzcn_g.owner[1], c->max_ctl_bytes);
    FZ_CHECK(phn_cn_state_init(cn) == 0);
    cn->now_ms = FZCN_T0;
    const char *names[2] = {"a@h", "b@h"};
    for (int k = 0; k < 2; k++) {
        fzcn_g.node[k] = phn_cn_atoms_intern(cn->atoms, names[k]);
        FZ_CHECK(fzcn_g.node[k] != 0);
        fzcn_g.conn[k] = phn_cn_conn_add(&cn->conns, fzcn_g.peer[k][0], fzcn_g.node[k], FZCN_T0);
        FZ_CHECK(fzcn_g.conn[k] != NULL);
    }
    for (int i = 0; i < 4; i++)
        phn_cn_cmd_packet(cn, fzcn_g.setup[i].buff, (size_t)fzcn_g.setup[i].index);
    FZ_CHECK(cn->stats.ops_registered == 2);
    fzcn_drain();
    FZ_CHECK(fzcn_g.replies == 4);
    fzcn_g.frames = fzcn_g.replies = 0;
    return cn;
}

/* Drop connection k (as the loop does when it closes one). */
static inline void fzcn_close(int k)
{
    phn_cn *cn = &fzcn_g.cn;
    if (fzcn_g.conn[k] == NULL)
        return;
    phn_cn_conn_remove(&cn->conns, fzcn_g.conn[k]);
    fzcn_g.conn[k] = NULL;
    phn_cn_watch_down(cn, fzcn_g.node[k]);
}

/* Time passes: expiry and the own view's housekeeping, as once per loop turn. */
static void fzcn_advance(int64_t ms)
{
    phn_cn *cn = &fzcn_g.cn;
    cn->now_ms += ms;
    phn_cn_collect_tick(cn->collect, cn->now_ms);
    phn_cn_watch_tick(cn);
    for (int k = 0; k < 2; k++)
        if (fzcn_g.conn[k] != NULL && fzcn_g.conn[k]->closing)
            fzcn_close(k);
}

static void fzcn_end(void)
{
    phn_cn *cn = &fzcn_g.cn;
    fz_disarm();
    fzcn_drain();
    /* Everything expires; what the collector holds must then be nothing at all. */
    fzcn_advance(INT64_C(1) << 40);
    fzcn_drain();
    phn_cn_collect_usage u;
    phn_cn_collect_usage_get(cn->collect, &u);
    FZ_CHECK(u.ops == 0 && u.early == 0 && u.early_bytes == 0 && u.result_bytes == 0);
    FZ_CHECK(cn->stats.ops_registered ==
             cn->stats.ops_completed + cn->stats.ops_expired + cn->stats.ops_cancelled);
    for (int k = 0; k < 2; k++)
        fzcn_g.conn[k] = NULL;
    phn_cn_state_free(cn);
    fz_alloc_end();
    for (int w = 0; w < 3; w++)
        fzcn_g.out[w].len = 0; /* a partial frame left by a closed connection */
}

/* Append a distribution packet to connection k's input as the peer would frame it. */
static inline void fzcn_feed_packet(int k, const uint8_t *p, size_t n)
{
    phn_cn_conn *c = fzcn_g.conn[k];
    if (c == NULL || c->closing)
        return;
    uint8_t hdr[4];
    phn_cn_put32be(hdr, (uint32_t)n);
    if (phn_cn_buf_append(&c->in, hdr, 4) != 0 || phn_cn_buf_append(&c->in, p, n) != 0)
        return; /* a chosen allocation failure */
    phn_cn_loop_dist_input(&fzcn_g.cn, c);
}

#endif
