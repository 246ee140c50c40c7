#include "phn_cn_watch.h"

#include "phn_cn_hub.h"
#include "phn_cn_send.h"

static int enabled(const phn_cn *cn, const phn_cn_peer *p)
{
    return cn->cfg.silence_ms > 0 && p != NULL && p->wanted > 0;
}

static void set_lost(phn_cn *cn, uint32_t node, phn_cn_peer *p, int lost)
{
    if (p->lost == lost)
        return;
    p->lost = lost;
    if (lost)
        cn->stats.nodes_lost++;
    else
        cn->stats.nodes_found++;
    phn_cn_hubs_view_changed(cn, node, lost);
}

/* gen_server:call(net_kernel, {is_auth, Us}) without waiting: the reply proves life. */
static void ping(phn_cn *cn, phn_cn_conn *conn)
{
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 3);
    ei_x_encode_atom(&x, "$gen_call");
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_pid(&x, ei_self(&cn->ec));
    ei_x_encode_atom(&x, "phn_cnode_ping");
    ei_x_encode_tuple_header(&x, 2);
    ei_x_encode_atom(&x, "is_auth");
    ei_x_encode_atom(&x, cn->cfg.node);
    phn_cn_send_reg(cn, conn, "net_kernel", x.buff, x.index);
    ei_x_free(&x);
    cn->stats.pings_sent++;
}

void phn_cn_watch_tick(phn_cn *cn)
{
    if (cn->cfg.silence_ms == 0)
        return;
    int64_t now = cn->now_ms, silence = cn->cfg.silence_ms;
    for (uint32_t id = 1; id < cn->conns.npeers; id++) {
        phn_cn_peer *p = &cn->conns.peers[id];
        if (!enabled(cn, p))
            continue;
        if (p->conn != NULL) {
            if (now - p->last_rx > silence)
                p->conn->closing = 1; /* hung: the loop closes it, then watch_down */
            else if (now - p->last_ping >= silence / 3) {
                p->last_ping = now;
                ping(cn, p->conn);
            }
            continue;
        }
        if (!p->lost && now - p->wanted_since > silence)
            set_lost(cn, id, p, 1);
        if (!p->connecting && now >= p->next_connect) {
            p->next_connect = now + cn->cfg.reconnect_ms;
            if (phn_cn_threads_connect(&cn->thr, phn_cn_atoms_text(cn->atoms, id)) == 0)
                p->connecting = 1;
        }
    }
}

void phn_cn_watch_up(phn_cn *cn, uint32_t node)
{
    phn_cn_peer *p = phn_cn_peer_find(&cn->conns, node);
    if (p == NULL)
        return;
    p->last_ping = cn->now_ms;
    if (enabled(cn, p))
        set_lost(cn, node, p, 0);
}

void phn_cn_watch_down(phn_cn *cn, uint32_t node)
{
    phn_cn_peer *p = phn_cn_peer_find(&cn->conns, node);
    if (!enabled(cn, p))
        return;
    p->next_connect = cn->now_ms; /* try again at once, then every reconnect_ms */
    set_lost(cn, node, p, 1);
}

void phn_cn_watch_connect_failed(phn_cn *cn, uint32_t node)
{
    phn_cn_peer *p = phn_cn_peer_find(&cn->conns, node);
    if (p != NULL)
        p->connecting = 0;
}
