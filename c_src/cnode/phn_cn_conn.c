#include "phn_cn_conn.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "phn_alloc.h"
#include "phn_cn_compat.h"
#include "phn_status.h"

void phn_cn_conns_free(phn_cn_conns *t)
{
    for (size_t i = 0; i < t->len; i++) {
        phn_cn_buf_free(&t->items[i]->in);
        phn_cn_buf_free(&t->items[i]->out);
        phn_free(t->items[i]);
    }
    phn_free(t->items);
    phn_free(t->peers);
    memset(t, 0, sizeof(*t));
}

phn_cn_peer *phn_cn_peer_find(const phn_cn_conns *t, uint32_t node)
{
    return node != 0 && node < t->npeers ? &t->peers[node] : NULL;
}

phn_cn_peer *phn_cn_peer_get(phn_cn_conns *t, uint32_t node)
{
    if (node == 0)
        return NULL;
    if (node >= t->npeers) {
        size_t n = t->npeers ? t->npeers : 64;
        while (n <= node)
            n *= 2;
        phn_cn_peer *peers = phn_reallocarray(t->peers, n, sizeof(*peers));
        if (peers == NULL)
            return NULL;
        memset(peers + t->npeers, 0, (n - t->npeers) * sizeof(*peers));
        t->peers = peers;
        t->npeers = n;
    }
    return &t->peers[node];
}

phn_cn_conn *phn_cn_conn_add(phn_cn_conns *t, int fd, uint32_t node, int64_t now)
{
    phn_cn_peer *peer = phn_cn_peer_get(t, node);
    if (peer == NULL)
        return NULL;
    if (t->len == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        phn_cn_conn **items = phn_reallocarray(t->items, cap, sizeof(*items));
        if (items == NULL)
            return NULL;
        t->items = items;
        t->cap = cap;
    }
    phn_cn_conn *c = phn_calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->fd = fd;
    c->node = node;
    t->items[t->len++] = c;
    peer->conn = c;
    peer->last_rx = now;
    return c;
}

void phn_cn_conn_remove(phn_cn_conns *t, phn_cn_conn *c)
{
    for (size_t i = 0; i < t->len; i++) {
        if (t->items[i] == c) {
            t->items[i] = t->items[--t->len];
            break;
        }
    }
    phn_cn_peer *peer = phn_cn_peer_find(t, c->node);
    if (peer != NULL && peer->conn == c)
        peer->conn = NULL;
    phn_cn_buf_free(&c->in);
    phn_cn_buf_free(&c->out);
    phn_free(c);
}

int phn_cn_conn_queue(phn_cn_conn *c, const void *p, size_t n, size_t max_out)
{
    if (c->closing)
        return -1;
    if (phn_cn_buf_avail(&c->out) + n > max_out || phn_cn_buf_append(&c->out, p, n) != PHN_OK) {
        c->closing = 1; /* a peer that does not read is dropped, never waited for */
        return -1;
    }
    return 0;
}

void phn_cn_conn_flush(phn_cn_conn *c)
{
    while (!c->closing && phn_cn_buf_avail(&c->out) > 0) {
        ssize_t n = phn_cn_send(c->fd, phn_cn_buf_head(&c->out), phn_cn_buf_avail(&c->out),
                                PHN_CN_MSG_DONTWAIT);
        if (n > 0) {
            phn_cn_buf_consume(&c->out, (size_t)n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        c->closing = 1;
    }
}
