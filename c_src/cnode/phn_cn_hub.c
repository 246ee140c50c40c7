#include "phn_cn_hub_int.h"

#include <string.h>

#include "phn_alloc.h"
#include "phn_cn_send.h"
#include "phn_cn_strategy.h"
#include "phn_cn_term.h"

void phn_cn_hub_free(cn_hub *h)
{
    for (size_t i = 0; i < h->nsubs; i++)
        phn_free(h->subs[i].pid_ext);
    phn_free(h->subs);
    phn_free(h->nodes);
    phn_free(h->eff);
    phn_pt_state_free(&h->st);
    phn_free(h);
}

phn_cn_hubs *phn_cn_hubs_new(phn_cn *cn)
{
    (void)cn;
    return phn_calloc(1, sizeof(phn_cn_hubs));
}

void phn_cn_hubs_free(phn_cn_hubs *h)
{
    if (h == NULL)
        return;
    for (size_t i = 0; i < h->len; i++)
        phn_cn_hub_free(h->items[i]);
    phn_free(h->items);
    phn_free(h);
}

size_t phn_cn_hubs_count(const phn_cn_hubs *h)
{
    return h->len;
}

cn_hub *phn_cn_hub_find(const phn_cn_hubs *h, uint32_t id)
{
    for (size_t i = 0; id != 0 && i < h->len; i++)
        if (h->items[i]->id == id)
            return h->items[i];
    return NULL;
}

static int lost_in_view(phn_cn *cn, const cn_hub *h, uint32_t node)
{
    const phn_cn_peer *p = phn_cn_peer_find(&cn->conns, node);
    return h->watch && node != cn->self_id && p != NULL && p->lost;
}

/* The effective node list: pushed nodes minus the ones the own view lost. */
uint32_t *phn_cn_hub_effective(phn_cn *cn, const cn_hub *h, size_t *n)
{
    uint32_t *out = phn_calloc(h->nnodes ? h->nnodes : 1, sizeof(*out));
    *n = 0;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < h->nnodes; i++)
        if (!lost_in_view(cn, h, h->nodes[i]))
            out[(*n)++] = h->nodes[i];
    return out;
}

static void encode_atoms(ei_x_buff *x, phn_cn *cn, const uint32_t *ids, size_t n)
{
    if (n > 0) {
        ei_x_encode_list_header(x, (long)n);
        for (size_t i = 0; i < n; i++)
            ei_x_encode_atom(x, phn_cn_atoms_text(cn->atoms, ids[i]));
    }
    ei_x_encode_empty_list(x);
}

static void to_subscribers(phn_cn *cn, cn_hub *h, const ei_x_buff *msg)
{
    for (size_t i = 0; i < h->nsubs; i++) {
        erlang_pid pid;
        int at = 0;
        if (ei_decode_pid(h->subs[i].pid_ext, &at, &pid) == 0)
            phn_cn_send_pid(cn, &pid, msg->buff, msg->index);
    }
}

void phn_cn_hub_push_verdict(phn_cn *cn, cn_hub *h)
{
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 3);
    ei_x_encode_atom(&x, "phn_cnode_partition");
    ei_x_encode_atom(&x, phn_cn_atoms_text(cn->atoms, h->id));
    ei_x_encode_boolean(&x, h->partitioned);
    to_subscribers(cn, h, &x);
    ei_x_free(&x);
    cn->stats.verdict_changes++;
}

/* {hub_state, HubId, Partitioned, State}: lets phn_cnode re-seed a restarted C-node. */
void phn_cn_hub_report_state(phn_cn *cn, const cn_hub *h)
{
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 4);
    ei_x_encode_atom(&x, "hub_state");
    ei_x_encode_atom(&x, phn_cn_atoms_text(cn->atoms, h->id));
    ei_x_encode_boolean(&x, h->partitioned);
    phn_cn_state_encode(&x, cn->atoms, &h->st);
    phn_cn_send_ctl(cn, &x);
    ei_x_free(&x);
}

/* Replay the change from a[] to b[] as the coordinator's node-down / node-up batches. */
static void transition(phn_cn *cn, cn_hub *h, const uint32_t *a, size_t na, const uint32_t *b,
                       size_t nb)
{
    size_t marks = phn_cn_atoms_count(cn->atoms) + 1;
    uint8_t *mark = phn_calloc(marks, 1); /* bit 1: in a, bit 2: in b */
    if (mark == NULL) {
        phn_cn_log(cn, "hub re-evaluation skipped: out of memory");
        return;
    }
    for (size_t i = 0; i < na; i++)
        mark[a[i]] |= 1;
    for (size_t i = 0; i < nb; i++)
        mark[b[i]] |= 2;
    size_t both = 0, changes = 0;
    for (size_t i = 0; i < na; i++)
        both += mark[a[i]] == 3;
    int64_t now = phn_cn_unix_s();
    int was = h->partitioned, rc;
    for (size_t i = 0; i < na; i++) {
        if (mark[a[i]] != 1)
            continue;
        changes++;
        rc = phn_pt_toggle_lock(&h->strat, both, a[i], now, &h->st);
        if (rc == 1) {
            h->partitioned = 1;
            break;
        }
    }
    for (size_t i = 0; i < nb; i++) {
        if (mark[b[i]] != 2)
            continue;
        changes++;
        rc = phn_pt_toggle_unlock(&h->strat, nb, b[i], now, &h->st);
        if (rc == 1) {
            h->partitioned = 0;
            break;
        }
    }
    phn_free(mark);
    if (h->partitioned != was)
        phn_cn_hub_push_verdict(cn, h);
    if (changes > 0)
        phn_cn_hub_report_state(cn, h);
}

void phn_cn_hub_reevaluate(phn_cn *cn, cn_hub *h)
{
    size_t nb;
    uint32_t *b = phn_cn_hub_effective(cn, h, &nb);
    if (b == NULL)
        return;
    transition(cn, h, h->eff, h->neff, b, nb);
    phn_free(h->eff);
    h->eff = b;
    h->neff = nb;
}

void phn_cn_hubs_recount_wanted(phn_cn *cn)
{
    phn_cn_conns *t = &cn->conns;
    for (size_t i = 0; i < t->npeers; i++) {
        t->peers[i].wanted = 0;
    }
    for (size_t k = 0; k < cn->hubs->len; k++) {
        const cn_hub *h = cn->hubs->items[k];
        for (size_t i = 0; h->watch && i < h->nnodes; i++) {
            phn_cn_peer *p = phn_cn_peer_get(t, h->nodes[i]);
            if (p == NULL || h->nodes[i] == cn->self_id)
                continue;
            if (p->wanted++ == 0 && p->wanted_since == 0)
                p->wanted_since = cn->now_ms;
        }
    }
    /* A node nobody watches any more starts its grace period afresh if watched again. */
    for (size_t i = 0; i < t->npeers; i++) {
        if (t->peers[i].wanted == 0) {
            t->peers[i].wanted_since = 0;
            t->peers[i].lost = 0;
        }
    }
}

void phn_cn_hubs_view_changed(phn_cn *cn, uint32_t node, int lost)
{
    for (size_t k = 0; k < cn->hubs->len; k++) {
        cn_hub *h = cn->hubs->items[k];
        int listed = 0;
        for (size_t i = 0; h->watch && i < h->nnodes && !listed; i++)
            listed = h->nodes[i] == node;
        if (!listed)
            continue;
        ei_x_buff x;
        ei_x_new_with_version(&x);
        ei_x_encode_tuple_header(&x, 4);
        ei_x_encode_atom(&x, "phn_cnode_node");
        ei_x_encode_atom(&x, phn_cn_atoms_text(cn->atoms, h->id));
        ei_x_encode_atom(&x, phn_cn_atoms_text(cn->atoms, node));
        ei_x_encode_atom(&x, lost ? "lost" : "found");
        to_subscribers(cn, h, &x);
        ei_x_free(&x);
        phn_cn_hub_reevaluate(cn, h);
    }
}

/* Decode a node list, interned and de-duplicated. 0, -1 (bad) or -2 (limit / memory). */
int phn_cn_hub_decode_nodes(phn_cn *cn, const char *buf, int *idx, uint32_t **out, size_t *n)
{
    int arity, type, size;
    *out = NULL;
    *n = 0;
    if (ei_get_type(buf, idx, &type, &size) < 0 || (type != ERL_LIST_EXT && type != ERL_NIL_EXT))
        return -1;
    if (ei_decode_list_header(buf, idx, &arity) < 0 || arity < 0)
        return -1;
    if ((size_t)arity > cn->cfg.max_hub_nodes)
        return -2;
    uint32_t *ids = phn_calloc(arity ? (size_t)arity : 1, sizeof(*ids));
    if (ids == NULL)
        return -2;
    int rc = 0;
    for (int i = 0; i < arity && rc == 0; i++) {
        char name[MAXATOMLEN_UTF8];
        if (phn_cn_get_atom(buf, idx, name) < 0) {
            rc = -1;
            break;
        }
        uint32_t id = phn_cn_atoms_intern(cn->atoms, name);
        if (id == 0) {
            rc = -2;
            break;
        }
        ids[(*n)++] = id;
    }
    /* Drop duplicates (first one kept) with a mark per atom id: linear, any list size. */
    uint8_t *seen = rc == 0 ? phn_calloc(phn_cn_atoms_count(cn->atoms) + 1, 1) : NULL;
    if (rc == 0 && seen == NULL)
        rc = -2;
    if (rc == 0) {
        size_t kept = 0;
        for (size_t i = 0; i < *n; i++) {
            if (!seen[ids[i]])
                ids[kept++] = ids[i];
            seen[ids[i]] = 1;
        }
        *n = kept;
    }
    phn_free(seen);
    if (rc == 0 && arity > 0 && (ei_decode_list_header(buf, idx, &type) < 0 || type != 0))
        rc = -1;
    if (rc != 0) {
        phn_free(ids);
        *n = 0;
        return rc;
    }
    *out = ids;
    return 0;
}

void phn_cn_reply_error(ei_x_buff *x, const char *reason)
{
    ei_x_encode_tuple_header(x, 2);
    ei_x_encode_atom(x, "error");
    ei_x_encode_atom(x, reason);
}

void phn_cn_reply_ok_bool(ei_x_buff *x, int b)
{
    ei_x_encode_tuple_header(x, 2);
    ei_x_encode_atom(x, "ok");
    ei_x_encode_boolean(x, b);
}

void phn_cn_hub_status(phn_cn *cn, const cn_hub *h, ei_x_buff *x)
{
    int has = phn_pt_has_quorum(&h->strat, h->neff, &h->st);
    ei_x_encode_map_header(x, 11);
    ei_x_encode_atom(x, "hub_id");
    ei_x_encode_atom(x, phn_cn_atoms_text(cn->atoms, h->id));
    ei_x_encode_atom(x, "strategy");
    ei_x_encode_atom(x, phn_cn_strategy_module(h->strat.kind));
    ei_x_encode_atom(x, "partitioned");
    ei_x_encode_boolean(x, h->partitioned);
    ei_x_encode_atom(x, "has_quorum");
    ei_x_encode_boolean(x, has == 1);
    ei_x_encode_atom(x, "nodes");
    encode_atoms(x, cn, h->nodes, h->nnodes);
    ei_x_encode_atom(x, "effective");
    encode_atoms(x, cn, h->eff, h->neff);
    ei_x_encode_atom(x, "lost");
    size_t nlost = 0;
    for (size_t i = 0; i < h->nnodes; i++)
        nlost += lost_in_view(cn, h, h->nodes[i]);
    if (nlost > 0) {
        ei_x_encode_list_header(x, (long)nlost);
        for (size_t i = 0; i < h->nnodes; i++)
            if (lost_in_view(cn, h, h->nodes[i]))
                ei_x_encode_atom(x, phn_cn_atoms_text(cn->atoms, h->nodes[i]));
    }
    ei_x_encode_empty_list(x);
    ei_x_encode_atom(x, "cluster_size");
    ei_x_encode_ulong(x, (unsigned long)h->neff);
    ei_x_encode_atom(x, "watch");
    ei_x_encode_boolean(x, h->watch);
    ei_x_encode_atom(x, "subscribers");
    ei_x_encode_ulong(x, (unsigned long)h->nsubs);
    ei_x_encode_atom(x, "state");
    phn_cn_state_encode(x, cn->atoms, &h->st);
}

static int pid_equal(const char *a, const char *b)
{
    erlang_pid pa, pb;
    int ia = 0, ib = 0;
    return ei_decode_pid(a, &ia, &pa) == 0 && ei_decode_pid(b, &ib, &pb) == 0 &&
           strcmp(pa.node, pb.node) == 0 && pa.num == pb.num && pa.serial == pb.serial &&
           pa.creation == pb.creation;
}

/* Subscribe (on = 1) or unsubscribe the pid at *idx. */
void phn_cn_hub_subscription(phn_cn *cn, cn_hub *h, const char *buf, int *idx, int on, ei_x_buff *x)
{
    erlang_pid pid;
    int at = *idx;
    size_t len;
    if (ei_decode_pid(buf, &at, &pid) < 0) {
        phn_cn_reply_error(x, "badarg");
        return;
    }
    char *ext = phn_cn_term_dup(buf, idx, INT32_MAX, &len);
    if (ext == NULL) {
        phn_cn_reply_error(x, "enomem");
        return;
    }
    for (size_t i = 0; i < h->nsubs; i++) {
        if (!pid_equal(h->subs[i].pid_ext, ext))
            continue;
        if (!on) {
            phn_free(h->subs[i].pid_ext);
            h->subs[i] = h->subs[--h->nsubs];
        }
        phn_free(ext);
        ei_x_encode_atom(x, "ok");
        return;
    }
    if (!on) {
        phn_free(ext);
        ei_x_encode_atom(x, "ok");
        return;
    }
    hub_sub *subs = h->nsubs < cn->cfg.max_subscribers
                        ? phn_reallocarray(h->subs, h->nsubs + 1, sizeof(*subs))
                        : NULL;
    if (subs == NULL) {
        phn_free(ext);
        phn_cn_reply_error(x, "limit");
        return;
    }
    h->subs = subs;
    h->subs[h->nsubs++] = (hub_sub){ext, len};
    ei_x_encode_atom(x, "ok");
}
