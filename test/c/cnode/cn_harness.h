/* A C-node state for the cmocka tests of c_src/cnode (test_cn_*.c): no sockets of its own,
 * no threads, the owner's channel on a pipe whose other end the test reads, and
 * distribution connections on socketpairs. The binaries are linked with
 * -Wl,--wrap=malloc,--wrap=realloc (c_src/Makefile), so that a test can make the next
 * allocation of ei or of the C-node fail (cnh_fail_nth) and drive the out-of-memory paths
 * that no real run reaches on demand. */
#ifndef CN_HARNESS_H
#define CN_HARNESS_H

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "phn_cn.h"
#include "phn_cn_args.h"
#include "phn_cn_cmd.h"
#include "phn_cn_collect.h"
#include "phn_cn_dist.h"
#include "phn_cn_loop.h"
#include "phn_cn_send.h"
#include "phn_cn_term.h"

/* ---- allocation failures (ld --wrap) -------------------------------------------------- */

void *__real_malloc(size_t size);
void *__real_realloc(void *ptr, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_realloc(void *ptr, size_t size);

static long cnh_fail_countdown = -1; /* successful calls left before a failure; -1 off */
static int cnh_fail_rest;            /* after the first failure, fail every call */
static long cnh_failures;

static int cnh_refuse(void)
{
    if (cnh_fail_countdown < 0)
        return 0;
    if (cnh_fail_countdown > 0) {
        cnh_fail_countdown--;
        return 0;
    }
    cnh_failures++;
    if (!cnh_fail_rest)
        cnh_fail_countdown = -1;
    return 1;
}

void *__wrap_malloc(size_t size)
{
    return cnh_refuse() ? NULL : __real_malloc(size);
}

void *__wrap_realloc(void *ptr, size_t size)
{
    return cnh_refuse() ? NULL : __real_realloc(ptr, size);
}

/* After `calls` more successful malloc/realloc calls, the next one fails, and with `rest`
 * every later one too. */
static inline void cnh_fail_nth(long calls, int rest)
{
    cnh_fail_countdown = calls;
    cnh_fail_rest = rest;
    cnh_failures = 0;
}

static inline void cnh_fail_off(void)
{
    cnh_fail_countdown = -1;
}

/* ---- the state ------------------------------------------------------------------------ */

typedef struct cnh {
    phn_cn cn;
    int owner[2]; /* [0] the test reads the owner's messages here */
    int peer[2];  /* [0] the C-node's end of the connection from a@h, [1] the peer's */
    uint32_t a;   /* atom id of a@h */
    phn_cn_conn *conn;
    uint8_t *got; /* owner bytes read back */
    size_t got_len;
} cnh;

static inline void cnh_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
        abort();
}

/* cfg tweaks go in between cnh_config and cnh_start. */
static inline void cnh_config(cnh *h)
{
    memset(h, 0, sizeof(*h));
    phn_cn_config_defaults(&h->cn.cfg);
    strcpy(h->cn.cfg.node, "t@h");
    strcpy(h->cn.cfg.alive, "t");
    strcpy(h->cn.cfg.host, "h");
}

static inline void cnh_start(cnh *h)
{
    phn_cn *cn = &h->cn;
    if (pipe(h->owner) != 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, h->peer) != 0)
        abort();
    cnh_nonblock(h->owner[0]);
    cnh_nonblock(h->peer[0]);
    cnh_nonblock(h->peer[1]);
    cn->thr.handoff[0] = cn->thr.handoff[1] = cn->thr.requests[0] = cn->thr.requests[1] = -1;
    phn_cn_ctl_init(&cn->ctl, -1, h->owner[1], cn->cfg.max_ctl_bytes);
    if (phn_cn_state_init(cn) != 0)
        abort();
    h->a = phn_cn_atoms_intern(cn->atoms, "a@h");
    h->conn = phn_cn_conn_add(&cn->conns, h->peer[0], h->a, cn->now_ms);
    if (h->a == 0 || h->conn == NULL)
        abort();
}

static inline void cnh_stop(cnh *h)
{
    phn_cn_state_free(&h->cn);
    close(h->owner[0]);
    close(h->owner[1]);
    close(h->peer[0]);
    close(h->peer[1]);
    free(h->got);
    h->got = NULL;
}

/* Write what the C-node queued for the owner and read it back into h->got. */
static inline void cnh_read_owner(cnh *h)
{
    uint8_t buf[65536];
    for (;;) {
        (void)phn_cn_ctl_flush(&h->cn.ctl);
        ssize_t n = read(h->owner[0], buf, sizeof(buf));
        if (n <= 0)
            break;
        uint8_t *g = realloc(h->got, h->got_len + (size_t)n);
        if (g == NULL)
            abort();
        memcpy(g + h->got_len, buf, (size_t)n);
        h->got = g;
        h->got_len += (size_t)n;
    }
}

/* The payload of the i-th complete owner frame read so far (NULL if there is none). */
static inline const char *cnh_frame(const cnh *h, size_t i, size_t *len)
{
    size_t at = 0;
    for (size_t k = 0; h->got_len - at >= 4; k++) {
        uint32_t l = phn_cn_get32be(h->got + at);
        if (h->got_len - at - 4 < l)
            return NULL;
        if (k == i) {
            *len = l;
            return (const char *)h->got + at + 4;
        }
        at += 4 + (size_t)l;
    }
    return NULL;
}

static inline size_t cnh_frames(const cnh *h)
{
    size_t n = 0, len;
    while (cnh_frame(h, n, &len) != NULL)
        n++;
    return n;
}

/* Run one control command given as an ei_x_buff (with version byte); frees it. */
static inline void cnh_command(cnh *h, ei_x_buff *x)
{
    phn_cn_cmd_packet(&h->cn, x->buff, (size_t)x->index);
    ei_x_free(x);
}

/* #Ref<t@h.1.2.N> */
static inline void cnh_encode_ref(ei_x_buff *x, unsigned n)
{
    erlang_ref r;
    memset(&r, 0, sizeof(r));
    strcpy(r.node, "t@h");
    r.len = 3;
    r.n[0] = 1;
    r.n[1] = 2;
    r.n[2] = n;
    r.creation = 1;
    ei_x_encode_ref(x, &r);
}

/* Frame a distribution packet (pass-through, control tuple, message) on a@h's input. */
static inline void cnh_feed(cnh *h, const ei_x_buff *ctl, const ei_x_buff *msg)
{
    uint8_t hdr[4];
    phn_cn_put32be(hdr, (uint32_t)(1 + ctl->index + msg->index));
    if (phn_cn_buf_append(&h->conn->in, hdr, 4) != 0 || phn_cn_buf_append(&h->conn->in, "p", 1) ||
        phn_cn_buf_append(&h->conn->in, ctl->buff, (size_t)ctl->index) != 0 ||
        phn_cn_buf_append(&h->conn->in, msg->buff, (size_t)msg->index) != 0)
        abort();
}

#endif
