/* Decoding of the partition service's requests: control-channel commands from phn_cnode
 * and gen_server calls from any node. The buffers are validated packets; every decode is
 * still checked and a wrong shape answers {error, badarg}. */
#include <string.h>

#include "phn_alloc.h"
#include "phn_cn_hub_int.h"
#include "phn_cn_strategy.h"
#include "phn_cn_term.h"

/* The options of set_hub: #{watch => bool, state => Map, partitioned => bool}. */
typedef struct hub_opts {
    int watch;
    int restore; /* state or partitioned given: re-seeding after a restart, no init */
    int partitioned;
    phn_pt_state st;
} hub_opts;

static int decode_opts(phn_cn *cn, const char *buf, int *idx, hub_opts *o)
{
    int arity;
    memset(o, 0, sizeof(*o));
    if (ei_decode_map_header(buf, idx, &arity) < 0)
        return -1;
    for (int i = 0; i < arity; i++) {
        if (phn_cn_match_atom(buf, idx, "watch")) {
            if (phn_cn_get_flag(buf, idx, &o->watch) < 0)
                return -1;
        } else if (phn_cn_match_atom(buf, idx, "partitioned")) {
            if (phn_cn_get_flag(buf, idx, &o->partitioned) < 0)
                return -1;
            o->restore = 1;
        } else if (phn_cn_match_atom(buf, idx, "state")) {
            phn_pt_state_free(&o->st);
            if (phn_cn_state_decode(buf, idx, cn->atoms, &o->st) < 0)
                return -1;
            o->restore = 1;
        } else if (phn_cn_term_skip(buf, idx, INT32_MAX) < 0 ||
                   phn_cn_term_skip(buf, idx, INT32_MAX) < 0) {
            return -1; /* unknown keys are ignored */
        }
    }
    return 0;
}

static void set_hub(phn_cn *cn, const char *buf, int *idx, ei_x_buff *x)
{
    char name[MAXATOMLEN_UTF8];
    phn_pt_strategy strat;
    uint32_t *nodes = NULL;
    size_t n = 0;
    hub_opts o;
    memset(&o, 0, sizeof(o));
    int rc = -1;
    if (phn_cn_get_atom(buf, idx, name) < 0 || phn_cn_strategy_decode(buf, idx, &strat) < 0 ||
        (rc = phn_cn_hub_decode_nodes(cn, buf, idx, &nodes, &n)) < 0 ||
        (rc = decode_opts(cn, buf, idx, &o)) < 0) {
        phn_cn_reply_error(x, rc == -2 ? "limit" : "badarg");
        goto out;
    }
    uint32_t id = phn_cn_atoms_intern(cn->atoms, name);
    phn_cn_hubs *hubs = cn->hubs;
    cn_hub *h = phn_cn_hub_find(hubs, id);
    int is_new = h == NULL, was = h ? h->partitioned : 0;
    if (is_new) {
        cn_hub **items = NULL;
        if (id != 0 && hubs->len < cn->cfg.max_hubs)
            items = phn_reallocarray(hubs->items, hubs->len + 1, sizeof(*items));
        if (items != NULL)
            hubs->items = items;
        h = items ? phn_calloc(1, sizeof(*h)) : NULL;
        if (h == NULL) {
            phn_cn_reply_error(x, "limit");
            goto out;
        }
        h->id = id;
        hubs->items[hubs->len++] = h;
    }
    h->strat = strat;
    h->watch = o.watch;
    phn_free(h->nodes);
    h->nodes = nodes;
    h->nnodes = n;
    nodes = NULL;
    phn_pt_state_free(&h->st);
    h->st = o.st;
    memset(&o.st, 0, sizeof(o.st));
    phn_cn_hubs_recount_wanted(cn);
    phn_free(h->eff);
    h->eff = phn_cn_hub_effective(cn, h, &h->neff);
    if (h->eff == NULL)
        h->neff = 0;
    h->partitioned = o.restore ? o.partitioned : phn_pt_init(&h->strat, h->neff, &h->st) == 1;
    if (!is_new && h->partitioned != was)
        phn_cn_hub_push_verdict(cn, h);
    phn_cn_hub_report_state(cn, h);
    phn_cn_reply_ok_bool(x, h->partitioned);
out:
    phn_free(nodes);
    phn_pt_state_free(&o.st);
}

static cn_hub *hub_arg(phn_cn *cn, const char *buf, int *idx, ei_x_buff *x)
{
    char name[MAXATOMLEN_UTF8];
    if (phn_cn_get_atom(buf, idx, name) < 0) {
        phn_cn_reply_error(x, "badarg");
        return NULL;
    }
    cn_hub *h = phn_cn_hub_find(cn->hubs, phn_cn_atoms_find(cn->atoms, name));
    if (h == NULL)
        phn_cn_reply_error(x, "unknown_hub");
    return h;
}

static void hub_nodes(phn_cn *cn, cn_hub *h, const char *buf, int *idx, ei_x_buff *x)
{
    uint32_t *nodes;
    size_t n;
    int rc = phn_cn_hub_decode_nodes(cn, buf, idx, &nodes, &n);
    if (rc < 0) {
        phn_cn_reply_error(x, rc == -2 ? "limit" : "badarg");
        return;
    }
    phn_free(h->nodes);
    h->nodes = nodes;
    h->nnodes = n;
    phn_cn_hubs_recount_wanted(cn);
    phn_cn_hub_reevaluate(cn, h);
    phn_cn_reply_ok_bool(x, h->partitioned);
}

static void remove_hub(phn_cn *cn, cn_hub *h, ei_x_buff *x)
{
    phn_cn_hubs *hubs = cn->hubs;
    for (size_t i = 0; i < hubs->len; i++) {
        if (hubs->items[i] == h) {
            hubs->items[i] = hubs->items[--hubs->len];
            break;
        }
    }
    phn_cn_hub_free(h);
    phn_cn_hubs_recount_wanted(cn);
    ei_x_encode_atom(x, "ok");
}

static void reset_cluster_size(phn_cn *cn, cn_hub *h, const char *buf, int *idx, ei_x_buff *x)
{
    int64_t n;
    if (phn_cn_get_int64(buf, idx, &n) < 0 || n <= 0) {
        phn_cn_reply_error(x, "badarg");
        return;
    }
    h->st.max_seen = n;
    h->st.has_max_seen = 1;
    phn_cn_hub_report_state(cn, h);
    ei_x_encode_atom(x, "ok");
}

static void sync_log(phn_cn *cn, cn_hub *h, const char *buf, int *idx, ei_x_buff *x)
{
    phn_pt_state remote;
    memset(&remote, 0, sizeof(remote));
    int rc = phn_cn_log_decode(buf, idx, cn->atoms, &remote);
    if (rc < 0) {
        phn_pt_state_free(&remote);
        phn_cn_reply_error(x, rc == -2 ? "limit" : "badarg");
        return;
    }
    int take = phn_pt_sync_takes_remote(&h->st, remote.log_len);
    if (take && phn_pt_state_set_log(&h->st, remote.log, remote.log_len) != 0)
        take = 0;
    phn_pt_state_free(&remote);
    if (take)
        phn_cn_hub_report_state(cn, h);
    phn_cn_reply_ok_bool(x, take);
}

static void list_hubs(phn_cn *cn, ei_x_buff *x)
{
    phn_cn_hubs *hubs = cn->hubs;
    if (hubs->len > 0) {
        ei_x_encode_list_header(x, (long)hubs->len);
        for (size_t i = 0; i < hubs->len; i++)
            ei_x_encode_atom(x, phn_cn_atoms_text(cn->atoms, hubs->items[i]->id));
    }
    ei_x_encode_empty_list(x);
}

int phn_cn_hubs_ctl(phn_cn *cn, const char *cmd, const char *buf, int *idx, int args, ei_x_buff *x)
{
    static const struct {
        const char *name;
        int args; /* after the sequence term */
    } cmds[] = {
        {"set_hub", 4},     {"hub_nodes", 2}, {"remove_hub", 1},         {"subscribe", 2},
        {"unsubscribe", 2}, {"status", 1},    {"reset_cluster_size", 2}, {"sync_quorum_log", 2},
        {"hubs", 0},
    };
    int known = -1;
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (strcmp(cmd, cmds[i].name) == 0)
            known = (int)i;
    if (known < 0)
        return 0;
    if (args != cmds[known].args) {
        phn_cn_reply_error(x, "badarg");
        return 1;
    }
    if (known == 0) {
        set_hub(cn, buf, idx, x);
        return 1;
    }
    if (known == 8) {
        list_hubs(cn, x);
        return 1;
    }
    cn_hub *h = hub_arg(cn, buf, idx, x);
    if (h == NULL)
        return 1;
    switch (known) {
    case 1:
        hub_nodes(cn, h, buf, idx, x);
        break;
    case 2:
        remove_hub(cn, h, x);
        break;
    case 3:
    case 4:
        phn_cn_hub_subscription(cn, h, buf, idx, known == 3, x);
        break;
    case 5:
        ei_x_encode_tuple_header(x, 2);
        ei_x_encode_atom(x, "ok");
        phn_cn_hub_status(cn, h, x);
        break;
    case 6:
        reset_cluster_size(cn, h, buf, idx, x);
        break;
    default:
        sync_log(cn, h, buf, idx, x);
        break;
    }
    return 1;
}

void phn_cn_hubs_call(phn_cn *cn, const char *hub_name, const char *buf, int idx, ei_x_buff *x)
{
    cn->stats.calls++;
    cn_hub *h = phn_cn_hub_find(cn->hubs, phn_cn_atoms_find(cn->atoms, hub_name));
    if (h == NULL) {
        cn->stats.calls_unknown_hub++;
        phn_cn_reply_error(x, "unknown_hub");
        return;
    }
    int arity = 0;
    if (phn_cn_match_atom(buf, &idx, "is_partitioned")) {
        ei_x_encode_boolean(x, h->partitioned);
    } else if (phn_cn_match_atom(buf, &idx, "status")) {
        phn_cn_hub_status(cn, h, x);
    } else if (phn_cn_match_atom(buf, &idx, "ping")) {
        ei_x_encode_atom(x, "pong");
    } else if (ei_decode_tuple_header(buf, &idx, &arity) == 0 && arity == 2 &&
               phn_cn_match_atom(buf, &idx, "subscribe")) {
        phn_cn_hub_subscription(cn, h, buf, &idx, 1, x);
    } else if (arity == 2 && phn_cn_match_atom(buf, &idx, "unsubscribe")) {
        phn_cn_hub_subscription(cn, h, buf, &idx, 0, x);
    } else {
        cn->stats.calls_badarg++;
        phn_cn_reply_error(x, "badarg");
    }
}
