#include "phn_cn_send.h"

#include <string.h>

/* Distribution control message types (the distribution protocol). */
#define DOP_SEND 2
#define DOP_REG_SEND 6
#define DOP_ALIAS_SEND 33

static phn_cn_conn *conn_for(phn_cn *cn, const char *node)
{
    phn_cn_peer *peer = phn_cn_peer_find(&cn->conns, phn_cn_atoms_find(cn->atoms, node));
    return peer != NULL && peer->conn != NULL && !peer->conn->closing ? peer->conn : NULL;
}

/* Header: 4-byte length, pass-through 'p', then the control tuple (with version). */
static void begin_packet(ei_x_buff *x)
{
    ei_x_new(x);
    ei_x_append_buf(x, "\0\0\0\0p", 5);
    ei_x_encode_version(x);
}

static void queue_packet(phn_cn *cn, phn_cn_conn *conn, ei_x_buff *hdr, const char *msg, int msglen)
{
    if (!phn_cn_x_ok(hdr)) {
        cn->stats.encode_failures++;
        return;
    }
    phn_cn_put32be((uint8_t *)hdr->buff, (uint32_t)(hdr->index - 4 + msglen));
    if (phn_cn_conn_queue(conn, hdr->buff, (size_t)hdr->index, cn->cfg.max_out_bytes) < 0 ||
        phn_cn_conn_queue(conn, msg, (size_t)msglen, cn->cfg.max_out_bytes) < 0)
        cn->stats.conns_slow_closed++;
    else
        phn_cn_conn_flush(conn);
}

/* {deliver, To, Msg} to the owner; `to` already encoded (without version) in dest. */
static void deliver_via_owner(phn_cn *cn, const ei_x_buff *dest, const char *msg, int msglen)
{
    ei_x_buff x;
    if (!phn_cn_x_ok(dest)) {
        cn->stats.encode_failures++;
        return;
    }
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 3);
    ei_x_encode_atom(&x, "deliver");
    ei_x_append_buf(&x, dest->buff, dest->index);
    ei_x_append_buf(&x, msg + 1, msglen - 1); /* without its version byte */
    phn_cn_send_ctl(cn, &x);
    ei_x_free(&x);
    cn->stats.deliver_via_port++;
}

void phn_cn_send_pid(phn_cn *cn, const erlang_pid *to, const char *msg, int msglen)
{
    if (msg == NULL) { /* the message's encoding failed */
        cn->stats.encode_failures++;
        return;
    }
    phn_cn_conn *conn = conn_for(cn, to->node);
    ei_x_buff x;
    if (conn == NULL) {
        ei_x_new(&x);
        ei_x_encode_pid(&x, to);
        deliver_via_owner(cn, &x, msg, msglen);
        ei_x_free(&x);
        return;
    }
    begin_packet(&x);
    ei_x_encode_tuple_header(&x, 3);
    ei_x_encode_long(&x, DOP_SEND);
    ei_x_encode_atom(&x, "");
    ei_x_encode_pid(&x, to);
    queue_packet(cn, conn, &x, msg, msglen);
    ei_x_free(&x);
}

void phn_cn_send_alias(phn_cn *cn, const erlang_ref *alias, const char *msg, int msglen)
{
    if (msg == NULL) {
        cn->stats.encode_failures++;
        return;
    }
    phn_cn_conn *conn = conn_for(cn, alias->node);
    ei_x_buff x;
    if (conn == NULL) {
        ei_x_new(&x);
        ei_x_encode_ref(&x, alias);
        deliver_via_owner(cn, &x, msg, msglen);
        ei_x_free(&x);
        return;
    }
    begin_packet(&x);
    ei_x_encode_tuple_header(&x, 3);
    ei_x_encode_long(&x, DOP_ALIAS_SEND);
    ei_x_encode_pid(&x, ei_self(&cn->ec));
    ei_x_encode_ref(&x, alias);
    queue_packet(cn, conn, &x, msg, msglen);
    ei_x_free(&x);
}

void phn_cn_send_reg(phn_cn *cn, phn_cn_conn *conn, const char *name, const char *msg, int msglen)
{
    ei_x_buff x;
    if (msg == NULL) {
        cn->stats.encode_failures++;
        return;
    }
    begin_packet(&x);
    ei_x_encode_tuple_header(&x, 4);
    ei_x_encode_long(&x, DOP_REG_SEND);
    ei_x_encode_pid(&x, ei_self(&cn->ec));
    ei_x_encode_atom(&x, "");
    ei_x_encode_atom(&x, name);
    queue_packet(cn, conn, &x, msg, msglen);
    ei_x_free(&x);
}

int phn_cn_send_ctl(phn_cn *cn, const ei_x_buff *x)
{
    if (!phn_cn_x_ok(x)) {
        cn->stats.encode_failures++;
        phn_cn_log(cn, "control output dropped (encoding failed)");
        return -1;
    }
    if (phn_cn_ctl_send(&cn->ctl, x->buff, (size_t)x->index) != 0) {
        cn->stats.encode_failures++;
        phn_cn_log(cn, "control output dropped (out of memory)");
        return -1;
    }
    return 0;
}
