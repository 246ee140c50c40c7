#include "phn_cn_loop.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "phn_alloc.h"
#include "phn_cn_cmd.h"
#include "phn_cn_collect.h"
#include "phn_cn_compat.h"
#include "phn_cn_dist.h"
#include "phn_cn_watch.h"
#include "phn_status.h"

#define TURN_MS 50        /* housekeeping cadence: expiry, liveness */
#define READ_CHUNK 65536  /* one recv() */
#define READS_PER_TURN 16 /* per connection, so one busy peer cannot starve the rest */
#define CTL_PACKETS_PER_TURN 256

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    (void)sig;
    stop_signal = 1;
}

/* A connection's hold on its name ends: a name nothing else uses is freed (and its id
 * reused), so what the C-node knew under that id is forgotten with it. */
static void release_name(phn_cn *cn, uint32_t node)
{
    if (phn_cn_atoms_release(cn->atoms, node)) {
        phn_cn_peer *peer = phn_cn_peer_find(&cn->conns, node);
        if (peer != NULL)
            memset(peer, 0, sizeof(*peer));
    }
}

/* Bytes of the packet at the head of c->in when it is incomplete (header included; a
 * partial header counts as 4), else 0 (nothing buffered, a tick, a complete packet). */
static size_t head_need(const phn_cn_conn *c)
{
    size_t avail = phn_cn_buf_avail(&c->in);
    if (avail == 0)
        return 0;
    if (avail < 4)
        return 4;
    uint32_t len = phn_cn_get32be(phn_cn_buf_head(&c->in));
    return len == 0 || avail - 4 >= len ? 0 : 4 + (size_t)len;
}

/* Whether the head packet has (or would get) its room in --max-in-total. */
static int head_fits(const phn_cn *cn, const phn_cn_conn *c)
{
    size_t need = head_need(c);
    return need <= c->reserved || cn->in_reserved - c->reserved + need <= cn->cfg.max_in_total;
}

static void unreserve(phn_cn *cn, phn_cn_conn *c)
{
    cn->in_reserved -= c->reserved;
    c->reserved = 0;
}

static void close_conn(phn_cn *cn, phn_cn_conn *c, int notify)
{
    uint32_t node = c->node;
    unreserve(cn, c);
    ei_close_connection(c->fd);
    phn_cn_conn_remove(&cn->conns, c);
    cn->stats.conns_closed++;
    if (notify)
        phn_cn_watch_down(cn, node);
    release_name(cn, node);
}

void phn_cn_loop_close_all(phn_cn *cn)
{
    while (cn->conns.len > 0)
        close_conn(cn, cn->conns.items[0], 0);
}

/* Finished handshakes from the acceptor and connector threads. */
static void take_handoffs(phn_cn *cn)
{
    phn_cn_handoff h;
    while (phn_cn_threads_next(&cn->thr, &h)) {
        /* Dialled nodes are watched, so their names are interned already. */
        uint32_t node = phn_cn_atoms_find(cn->atoms, h.node);
        if (h.outbound && node != 0)
            phn_cn_watch_connect_failed(cn, node); /* clears "connecting" either way */
        if (h.fd < 0) {
            cn->stats.connect_failures++;
            continue;
        }
        phn_cn_peer *peer = phn_cn_peer_find(&cn->conns, node);
        int replacing = peer != NULL && peer->conn != NULL;
        /* The slot first, the name after: a refused connection interns nothing. */
        if (!replacing && cn->conns.len >= cn->cfg.max_conns) {
            ei_close_connection(h.fd);
            cn->stats.conns_refused++;
            continue;
        }
        /* Held before an old connection's hold is released, so the id stays. */
        node = phn_cn_atoms_hold(cn->atoms, h.node);
        peer = node ? phn_cn_peer_get(&cn->conns, node) : NULL;
        if (peer == NULL) {
            release_name(cn, node);
            ei_close_connection(h.fd);
            cn->stats.conns_refused++;
            continue;
        }
        /* A node has one connection: a new handshake means the old one is dead. */
        if (replacing)
            close_conn(cn, peer->conn, 0);
        int flags = fcntl(h.fd, F_GETFL);
        phn_cn_conn *c = NULL;
        if (flags >= 0 && fcntl(h.fd, F_SETFL, flags | O_NONBLOCK) == 0)
            c = phn_cn_conn_add(&cn->conns, h.fd, node, cn->now_ms);
        if (c == NULL) {
            release_name(cn, node);
            ei_close_connection(h.fd);
            cn->stats.conns_refused++;
            continue;
        }
        if (h.outbound)
            cn->stats.conns_connected++;
        else
            cn->stats.conns_accepted++;
        phn_cn_log(cn, "connected %s (%s)", h.node, h.outbound ? "out" : "in");
        phn_cn_watch_up(cn, node);
    }
}

/* A complete packet (or a tick, or an oversized header to refuse) at the head of c->in. */
static int has_packet(const phn_cn *cn, const phn_cn_conn *c)
{
    size_t avail = phn_cn_buf_avail(&c->in);
    if (c->closing || avail < 4)
        return 0;
    uint32_t len = phn_cn_get32be(phn_cn_buf_head(&c->in));
    return len == 0 || len > cn->cfg.max_msg_bytes || avail - 4 >= len;
}

int phn_cn_loop_owner_backlogged(const phn_cn *cn)
{
    return phn_cn_buf_avail(&cn->ctl.out) > cn->cfg.max_ctl_out;
}

void phn_cn_loop_dist_input(phn_cn *cn, phn_cn_conn *c)
{
    while (!c->closing && phn_cn_buf_avail(&c->in) >= 4 && !phn_cn_loop_owner_backlogged(cn)) {
        uint32_t len = phn_cn_get32be(phn_cn_buf_head(&c->in));
        if (len == 0) { /* a tick: answer it, as ei does */
            phn_cn_buf_consume(&c->in, 4);
            static const char tock[4] = {0, 0, 0, 0};
            if (phn_cn_conn_queue(c, tock, 4, cn->cfg.max_out_bytes) < 0)
                cn->stats.conns_slow_closed++;
            c->partial_since = 0; /* a whole packet, as below */
            continue;
        }
        if (len > cn->cfg.max_msg_bytes) {
            cn->stats.msgs_oversized++;
            c->closing = 1;
            return;
        }
        if (phn_cn_buf_avail(&c->in) - 4 < len)
            break;
        const char *pkt = (const char *)phn_cn_buf_head(&c->in) + 4;
        if (phn_cn_dist_packet(cn, c, pkt, (int)len) < 0)
            c->closing = 1;
        phn_cn_buf_consume(&c->in, 4 + (size_t)len);
        unreserve(cn, c); /* the next packet starts now */
        c->partial_since = 0;
    }
    if (phn_cn_buf_avail(&c->in) > 0 && c->partial_since == 0)
        c->partial_since = cn->now_ms;
}

static void read_conn(phn_cn *cn, phn_cn_conn *c)
{
    phn_cn_peer *peer = phn_cn_peer_find(&cn->conns, c->node);
    for (int round = 0; round < READS_PER_TURN && !c->closing; round++) {
        /* Nothing more from peers while the owner has not taken what we owe it. */
        if (phn_cn_loop_owner_backlogged(cn))
            break;
        /* Refuse an oversized packet from its header, before buffering its body. */
        if (phn_cn_buf_avail(&c->in) >= 4 &&
            phn_cn_get32be(phn_cn_buf_head(&c->in)) > cn->cfg.max_msg_bytes) {
            cn->stats.msgs_oversized++;
            c->closing = 1;
            break;
        }
        /* An incomplete packet is read only with its room in --max-in-total taken: the
         * total of them stays bounded, and the ones holding room can always finish. */
        size_t need = head_need(c);
        if (need > cn->cfg.max_in_total) {
            cn->stats.msgs_oversized++; /* could never fit */
            c->closing = 1;
            break;
        }
        if (!head_fits(cn, c)) {
            cn->stats.input_waits++;
            break;
        }
        if (need > c->reserved) {
            cn->in_reserved += need - c->reserved;
            c->reserved = need;
        }
        if (phn_cn_buf_reserve(&c->in, READ_CHUNK) != PHN_OK) {
            c->closing = 1;
            break;
        }
        ssize_t n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, PHN_CN_MSG_DONTWAIT);
        if (n > 0) {
            c->in.len += (size_t)n;
            if (peer != NULL)
                peer->last_rx = cn->now_ms;
            phn_cn_loop_dist_input(cn, c);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            break;
        c->closing = 1; /* EOF or error */
    }
}

void phn_cn_loop_ctl_input(phn_cn *cn)
{
    const char *pkt;
    size_t len;
    for (int i = 0; i < CTL_PACKETS_PER_TURN && !phn_cn_loop_owner_backlogged(cn) &&
                    phn_cn_ctl_next(&cn->ctl, &pkt, &len);
         i++) {
        phn_cn_cmd_packet(cn, pkt, len);
        phn_cn_ctl_consume(&cn->ctl);
    }
}

void phn_cn_loop_run(phn_cn *cn)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    struct pollfd *fds = NULL;
    size_t fds_cap = 0;
    int was_backlogged = 0;
    while (!stop_signal && !cn->ctl.eof) {
        size_t need = cn->conns.len + 3;
        if (need > fds_cap) {
            struct pollfd *grown = phn_reallocarray(fds, need * 2, sizeof(*fds));
            if (grown == NULL) {
                phn_cn_log(cn, "out of memory in the event loop");
                break;
            }
            fds = grown;
            fds_cap = need * 2;
        }
        size_t nconn = cn->conns.len;
        /* While the owner is backlogged, only its output and the handshakes are waited
         * for: peers and commands wait in their sockets (bounded by the kernel), so the
         * queue to the owner stays within --max-ctl-out plus one message. */
        int backlogged = phn_cn_loop_owner_backlogged(cn);
        if (backlogged && !was_backlogged)
            cn->stats.owner_backlogged++;
        was_backlogged = backlogged;
        short in_ev = backlogged ? 0 : POLLIN;
        /* Packets already buffered (left by a backlog or by the per-turn cap) are handled
         * this turn without waiting for the socket to become readable again. */
        int buffered = !backlogged && phn_cn_ctl_has_packet(&cn->ctl);
        /* A descriptor with nothing to wait for is left out (-1): poll reports a hang-up
         * whatever events were asked, which would turn the wait into a spin. */
        short ctl_in = phn_cn_ctl_want_input(&cn->ctl) ? in_ev : 0;
        fds[0] = (struct pollfd){ctl_in ? cn->ctl.in_fd : -1, ctl_in, 0};
        int ctl_out = phn_cn_buf_avail(&cn->ctl.out) > 0;
        fds[1] = (struct pollfd){ctl_out ? cn->ctl.out_fd : -1, ctl_out ? POLLOUT : 0, 0};
        fds[2] = (struct pollfd){cn->thr.handoff[0], POLLIN, 0};
        for (size_t i = 0; i < nconn; i++) {
            phn_cn_conn *c = cn->conns.items[i];
            /* A packet waiting for room in --max-in-total is not read (nor polled). */
            short ev = head_fits(cn, c) ? in_ev : 0;
            if (phn_cn_buf_avail(&c->out) > 0)
                ev |= POLLOUT;
            fds[3 + i] = (struct pollfd){ev ? c->fd : -1, ev, 0};
            buffered |= !backlogged && has_packet(cn, c);
        }
        int r = poll(fds, 3 + nconn, buffered ? 0 : TURN_MS);
        if (r < 0 && errno != EINTR)
            break;
        cn->now_ms = phn_cn_monotonic_ms();

        if (fds[0].revents)
            phn_cn_ctl_read(&cn->ctl);
        phn_cn_loop_ctl_input(cn);
        if (fds[2].revents)
            take_handoffs(cn);
        /* Connections: the array may have changed above only by appends and by the
         * replacement of a node's connection, so match descriptors, not positions. */
        for (size_t k = 0; k < cn->conns.len; k++)
            if (has_packet(cn, cn->conns.items[k]))
                phn_cn_loop_dist_input(cn, cn->conns.items[k]);
        for (size_t i = 0; i < nconn; i++) {
            if (fds[3 + i].revents == 0)
                continue;
            for (size_t k = 0; k < cn->conns.len; k++) {
                phn_cn_conn *c = cn->conns.items[k];
                if (c->fd != fds[3 + i].fd || c->closing)
                    continue;
                if (fds[3 + i].revents & (POLLIN | POLLHUP | POLLERR))
                    read_conn(cn, c);
                break;
            }
        }
        phn_cn_collect_tick(cn->collect, cn->now_ms);
        phn_cn_watch_tick(cn);
        for (size_t k = 0; k < cn->conns.len; k++)
            phn_cn_conn_flush(cn->conns.items[k]);
        for (size_t k = 0; k < cn->conns.len;) {
            phn_cn_conn *c = cn->conns.items[k];
            /* A packet that has not completed within --frame-ms while we read it: the peer
             * is too slow or is holding memory on purpose. While we do not read it (the
             * owner is behind, or it waits for room in --max-in-total) its clock waits. */
            size_t owed = c->closing || c->partial_since == 0 ? 0 : head_need(c);
            if (owed != 0 && (phn_cn_loop_owner_backlogged(cn) || !head_fits(cn, c))) {
                c->partial_since = cn->now_ms;
            } else if (owed != 0 && cn->now_ms - c->partial_since >= (int64_t)cn->cfg.frame_ms) {
                cn->stats.frames_timed_out++;
                c->closing = 1;
            }
            if (c->closing)
                close_conn(cn, c, 1); /* swaps the last one into k */
            else
                k++;
        }
        if (phn_cn_ctl_flush(&cn->ctl) < 0)
            break; /* stdout gone: the owner is gone */
    }
    phn_free(fds);
}
