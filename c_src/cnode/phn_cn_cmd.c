#include "phn_cn_cmd.h"

#include <string.h>

#include "phn_alloc.h"
#include "phn_cn_collect.h"
#include "phn_cn_hub.h"
#include "phn_cn_send.h"
#include "phn_cn_term.h"
#include "phn_status.h"

static void error_reply(ei_x_buff *x, const char *reason)
{
    ei_x_encode_tuple_header(x, 2);
    ei_x_encode_atom(x, "error");
    ei_x_encode_atom(x, reason);
}

static const char *status_reason(int rc)
{
    switch (rc) {
    case PHN_EEXIST:
        return "exists";
    case PHN_ELIMIT:
        return "limit";
    case PHN_ENOMEM:
        return "enomem";
    default:
        return "badarg";
    }
}

/* [{Node, Chunks} | Node] -> expectations (nodes interned). 0, -1 bad, -2 limit. */
static int decode_expect(phn_cn *cn, const char *buf, int *idx, phn_cn_expect **out, size_t *n)
{
    int arity, type, size;
    *out = NULL;
    *n = 0;
    if (ei_get_type(buf, idx, &type, &size) < 0 || type != ERL_LIST_EXT ||
        ei_decode_list_header(buf, idx, &arity) < 0 || arity <= 0)
        return -1;
    if ((size_t)arity > cn->cfg.max_hub_nodes)
        return -2;
    phn_cn_expect *e = phn_calloc((size_t)arity, sizeof(*e));
    if (e == NULL)
        return -2;
    int rc = 0, count = arity;
    for (int i = 0; i < count && rc == 0; i++) {
        char node[MAXATOMLEN_UTF8];
        int64_t chunks = 1;
        int tuple;
        if (ei_decode_tuple_header(buf, idx, &tuple) == 0) {
            if (tuple != 2 || phn_cn_get_atom(buf, idx, node) < 0 ||
                phn_cn_get_int64(buf, idx, &chunks) < 0 || chunks < 1 || chunks > UINT32_MAX)
                rc = -1;
        } else if (phn_cn_get_atom(buf, idx, node) < 0) {
            rc = -1;
        }
        if (rc == 0) {
            e[i].node = phn_cn_atoms_intern(cn->atoms, node);
            e[i].chunks = (uint32_t)chunks;
            if (e[i].node == 0)
                rc = -2;
        }
    }
    if (rc == 0 && (ei_decode_list_header(buf, idx, &arity) < 0 || arity != 0))
        rc = -1;
    if (rc != 0) {
        phn_free(e);
        return rc;
    }
    *out = e;
    *n = (size_t)count;
    return 0;
}

static void do_register(phn_cn *cn, const char *buf, int *idx, ei_x_buff *x)
{
    erlang_ref ref;
    uint8_t key[255];
    int keylen, ref_at = *idx;
    char hub[MAXATOMLEN_UTF8];
    phn_cn_expect *expect = NULL;
    size_t n = 0;
    int64_t timeout;
    if (ei_decode_ref(buf, idx, &ref) < 0 || (keylen = phn_cn_ref_key(&ref, key)) < 0) {
        error_reply(x, "badarg");
        return;
    }
    int ref_len = *idx - ref_at;
    if (phn_cn_get_atom(buf, idx, hub) < 0) {
        error_reply(x, "badarg");
        return;
    }
    int rc = decode_expect(cn, buf, idx, &expect, &n);
    if (rc < 0 || phn_cn_get_int64(buf, idx, &timeout) < 0 || timeout < 0) {
        phn_free(expect);
        error_reply(x, rc == -2 ? "limit" : "badarg");
        return;
    }
    uint32_t hub_id = 0;
    if (strcmp(hub, "undefined") != 0 && (hub_id = phn_cn_atoms_intern(cn->atoms, hub)) == 0) {
        phn_free(expect);
        error_reply(x, "limit");
        return;
    }
    /* Saturate: a huge timeout means "never", not an overflow. */
    int64_t deadline = timeout > INT64_MAX - cn->now_ms ? INT64_MAX : cn->now_ms + timeout;
    rc = phn_cn_collect_register(cn->collect, key, (size_t)keylen, buf + ref_at, (size_t)ref_len,
                                 hub_id, expect, n, deadline);
    phn_free(expect);
    if (rc == PHN_OK) {
        ei_x_encode_atom(x, "ok");
    } else {
        cn->stats.ops_refused++;
        error_reply(x, status_reason(rc));
    }
}

static void do_cancel(phn_cn *cn, const char *buf, int *idx, ei_x_buff *x)
{
    erlang_ref ref;
    uint8_t key[255];
    int keylen;
    if (ei_decode_ref(buf, idx, &ref) < 0 || (keylen = phn_cn_ref_key(&ref, key)) < 0) {
        error_reply(x, "badarg");
        return;
    }
    if (phn_cn_collect_cancel(cn->collect, key, (size_t)keylen))
        ei_x_encode_atom(x, "ok");
    else
        error_reply(x, "not_found");
}

static void do_connect(phn_cn *cn, const char *buf, int *idx, ei_x_buff *x)
{
    char node[MAXATOMLEN_UTF8];
    if (phn_cn_get_atom(buf, idx, node) < 0 || strchr(node, '@') == NULL) {
        error_reply(x, "badarg");
        return;
    }
    if (phn_cn_threads_connect(&cn->thr, node) < 0)
        error_reply(x, "busy");
    else
        ei_x_encode_atom(x, "ok");
}

static void stat(ei_x_buff *x, const char *name, uint64_t v)
{
    ei_x_encode_atom(x, name);
    ei_x_encode_ulonglong(x, v);
}

static void do_stats(phn_cn *cn, ei_x_buff *x)
{
    phn_cn_collect_usage u;
    phn_cn_collect_usage_get(cn->collect, &u);
    int counters = 0;
#define PHN_CN_COUNT(name) counters++;
    PHN_CN_STATS(PHN_CN_COUNT)
#undef PHN_CN_COUNT
    ei_x_encode_tuple_header(x, 2);
    ei_x_encode_atom(x, "ok");
    ei_x_encode_map_header(x, counters + 11);
#define PHN_CN_ENCODE(name) stat(x, #name, cn->stats.name);
    PHN_CN_STATS(PHN_CN_ENCODE)
#undef PHN_CN_ENCODE
    stat(x, "ops", u.ops);
    stat(x, "result_bytes", u.result_bytes);
    stat(x, "early", u.early);
    stat(x, "early_bytes", u.early_bytes);
    stat(x, "table_bytes", u.table_bytes);
    stat(x, "conns", cn->conns.len);
    stat(x, "input_reserved", cn->in_reserved);
    stat(x, "hubs", phn_cn_hubs_count(cn->hubs));
    stat(x, "atoms", phn_cn_atoms_live(cn->atoms));
    stat(x, "handshake_failures", atomic_load(&cn->thr.handshake_failures));
    stat(x, "port", (uint64_t)cn->port);
}

void phn_cn_cmd_packet(phn_cn *cn, const char *pkt, size_t len)
{
    int idx = 0, version, arity, end = (int)len;
    char cmd[MAXATOMLEN_UTF8];
    if (len > INT32_MAX || ei_decode_version(pkt, &idx, &version) < 0) {
        cn->stats.msgs_malformed++;
        return;
    }
    int all = idx;
    if (phn_cn_term_skip(pkt, &all, end) < 0 || all != end ||
        ei_decode_tuple_header(pkt, &idx, &arity) < 0 || arity < 2 ||
        phn_cn_get_atom(pkt, &idx, cmd) < 0) {
        cn->stats.msgs_malformed++; /* no sequence to answer to */
        return;
    }
    int seq = idx;
    if (phn_cn_term_skip(pkt, &idx, end) < 0) {
        cn->stats.msgs_malformed++;
        return;
    }
    int seq_len = idx - seq, args = arity - 2;

    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 3);
    ei_x_encode_atom(&x, "reply");
    ei_x_append_buf(&x, pkt + seq, seq_len);
    if (strcmp(cmd, "register") == 0 && args == 4)
        do_register(cn, pkt, &idx, &x);
    else if (strcmp(cmd, "cancel") == 0 && args == 1)
        do_cancel(cn, pkt, &idx, &x);
    else if (strcmp(cmd, "stats") == 0 && args == 0)
        do_stats(cn, &x);
    else if (strcmp(cmd, "connect") == 0 && args == 1)
        do_connect(cn, pkt, &idx, &x);
    else if (strcmp(cmd, "shutdown") == 0 && args == 0) {
        ei_x_encode_atom(&x, "ok");
        cn->ctl.eof = 1; /* leave the loop as if the port had closed */
    } else if (!phn_cn_hubs_ctl(cn, cmd, pkt, &idx, args, &x))
        error_reply(&x, "badarg");
    if (phn_cn_send_ctl(cn, &x) == 0) {
        ei_x_free(&x);
        return;
    }
    /* Every command gets its one reply, even when the real one could not be encoded or
     * queued (out of memory): a short one is more likely to fit. */
    ei_x_free(&x);
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 3);
    ei_x_encode_atom(&x, "reply");
    ei_x_append_buf(&x, pkt + seq, seq_len);
    error_reply(&x, "enomem");
    phn_cn_send_ctl(cn, &x);
    ei_x_free(&x);
}
