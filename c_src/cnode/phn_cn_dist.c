#include "phn_cn_dist.h"

#include <string.h>

#include "phn_cn_check.h"
#include "phn_cn_collect.h"
#include "phn_cn_hub_int.h"
#include "phn_cn_send.h"
#include "phn_cn_term.h"

#define DOP_SEND 2
#define DOP_REG_SEND 6
#define DOP_SEND_TT 12
#define DOP_REG_SEND_TT 16
#define VERSION_MAGIC 131 /* the external term format version byte */

/* {'$gen_cast', {operation_response, TxRef, Node, Results}} (after the '$gen_cast'). */
static void cast(phn_cn *cn, phn_cn_conn *conn, const char *to_name, const char *buf, int idx,
                 int end)
{
    int arity;
    erlang_ref ref;
    char node[MAXATOMLEN_UTF8];
    uint8_t key[255];
    phn_cn_span span;
    if (ei_decode_tuple_header(buf, &idx, &arity) < 0 || arity != 4 ||
        !phn_cn_match_atom(buf, &idx, "operation_response")) {
        cn->stats.msgs_unknown++;
        return;
    }
    int keylen;
    if (ei_decode_ref(buf, &idx, &ref) < 0 || (keylen = phn_cn_ref_key(&ref, key)) < 0 ||
        phn_cn_get_atom(buf, &idx, node) < 0 || phn_cn_list_span(buf, &idx, end, &span) < 0 ||
        idx != end) {
        cn->stats.msgs_malformed++;
        return;
    }
    /* Only the node itself may answer for itself. */
    if (strcmp(node, phn_cn_atoms_text(cn->atoms, conn->node)) != 0) {
        cn->stats.responses_spoofed++;
        return;
    }
    phn_cn_collect_response(cn->collect, key, (size_t)keylen, to_name, node, buf, &span);
}

/* The alias of a gen call tag, if it has one: [alias | Ref] or [[alias | Ref] | _]. */
static int tag_alias(const char *buf, int idx, erlang_ref *alias)
{
    for (int depth = 0; depth < 2; depth++) {
        int type, size, arity;
        if (ei_get_type(buf, &idx, &type, &size) < 0 || type != ERL_LIST_EXT ||
            ei_decode_list_header(buf, &idx, &arity) < 0 || arity != 1)
            return 0;
        if (phn_cn_match_atom(buf, &idx, "alias"))
            return ei_decode_ref(buf, &idx, alias) == 0; /* the improper tail */
    }
    return 0;
}

/* net_adm:ping/1 asks the peer's net_kernel {is_auth, Node}; a C-node has no net_kernel,
 * so answer it here, as a node that accepted our cookie would: yes. */
static void net_kernel_call(const char *buf, int idx, ei_x_buff *reply)
{
    int arity;
    if (ei_decode_tuple_header(buf, &idx, &arity) == 0 && arity == 2 &&
        phn_cn_match_atom(buf, &idx, "is_auth"))
        ei_x_encode_atom(reply, "yes");
    else
        phn_cn_reply_error(reply, "badarg");
}

/* {'$gen_call', {Pid, Tag}, Request} (after the '$gen_call'). */
static void call(phn_cn *cn, const char *to_name, const char *buf, int idx, int end)
{
    int arity;
    erlang_pid from;
    if (ei_decode_tuple_header(buf, &idx, &arity) < 0 || arity != 2 ||
        ei_decode_pid(buf, &idx, &from) < 0) {
        cn->stats.msgs_malformed++; /* nobody to answer */
        return;
    }
    int tag = idx;
    if (phn_cn_term_skip(buf, &idx, end) < 0) {
        cn->stats.msgs_malformed++;
        return;
    }
    int tag_len = idx - tag;

    ei_x_buff reply;
    ei_x_new_with_version(&reply);
    ei_x_encode_tuple_header(&reply, 2);
    ei_x_append_buf(&reply, buf + tag, tag_len);
    if (strcmp(to_name, "net_kernel") == 0)
        net_kernel_call(buf, idx, &reply);
    else
        phn_cn_hubs_call(cn, to_name, buf, idx, &reply);
    if (!phn_cn_x_ok(&reply)) {
        cn->stats.encode_failures++;
        ei_x_new_with_version(&reply);
        ei_x_encode_tuple_header(&reply, 2);
        ei_x_append_buf(&reply, buf + tag, tag_len);
        phn_cn_reply_error(&reply, "enomem");
    }

    erlang_ref alias;
    if (tag_alias(buf, tag, &alias))
        phn_cn_send_alias(cn, &alias, reply.buff, reply.index);
    else
        phn_cn_send_pid(cn, &from, reply.buff, reply.index);
    ei_x_free(&reply);
}

static void named(phn_cn *cn, phn_cn_conn *conn, const char *to_name, const char *buf, int idx,
                  int end)
{
    int arity;
    if (ei_decode_tuple_header(buf, &idx, &arity) < 0) {
        cn->stats.msgs_unknown++;
        return;
    }
    if (arity == 2 && phn_cn_match_atom(buf, &idx, "$gen_cast"))
        cast(cn, conn, to_name, buf, idx, end);
    else if (arity == 3 && phn_cn_match_atom(buf, &idx, "$gen_call"))
        call(cn, to_name, buf, idx, end);
    else
        cn->stats.msgs_unknown++;
}

int phn_cn_dist_packet(phn_cn *cn, phn_cn_conn *conn, const char *pkt, int len)
{
    int idx = 1, version, arity, ctl_end;
    long type;
    cn->stats.msgs_in++;
    /* Pass-through, then the control tuple. ei advertises no atom cache, so a peer that
     * sends anything else is not speaking to us properly. A lone 'p' has no version byte
     * to read (ei_decode_version would read past the packet). */
    if (len < 2 || pkt[0] != ERL_PASS_THROUGH || ei_decode_version(pkt, &idx, &version) < 0 ||
        version != VERSION_MAGIC) {
        cn->stats.msgs_malformed++;
        return -1;
    }
    ctl_end = idx;
    if (phn_cn_term_skip(pkt, &ctl_end, len) < 0 || ei_decode_tuple_header(pkt, &idx, &arity) < 0 ||
        arity < 1 || ei_decode_long(pkt, &idx, &type) < 0) {
        cn->stats.msgs_malformed++;
        return -1;
    }
    if (type != DOP_SEND && type != DOP_REG_SEND && type != DOP_SEND_TT &&
        type != DOP_REG_SEND_TT) {
        cn->stats.ctl_ignored++; /* links, monitors, exits: nothing to do for a C-node */
        return 0;
    }
    /* The message: version byte and one term that ends the packet exactly. */
    int msg = ctl_end, msg_end = ctl_end;
    if (msg_end >= len || ei_decode_version(pkt, &msg, &version) < 0 || version != VERSION_MAGIC ||
        (msg_end = msg, phn_cn_term_skip(pkt, &msg_end, len) < 0) || msg_end != len) {
        cn->stats.msgs_malformed++;
        return 0;
    }
    if (type == DOP_SEND || type == DOP_SEND_TT) {
        cn->stats.msgs_to_self++;
        return 0;
    }
    /* Parts of the message reach the owner as they are (a call's tag, an operation's
     * results), where binary_to_term/1 decodes them: refuse what it would refuse. */
    int checked = msg;
    if (phn_cn_term_check(pkt, &checked, len) < 0 || checked != len) {
        cn->stats.msgs_malformed++;
        cn->stats.msgs_undecodable++;
        return 0;
    }
    erlang_pid from;
    char cookie[MAXATOMLEN_UTF8], to_name[MAXATOMLEN_UTF8];
    if (arity < 4 || ei_decode_pid(pkt, &idx, &from) < 0 ||
        phn_cn_get_atom(pkt, &idx, cookie) < 0 || phn_cn_get_atom(pkt, &idx, to_name) < 0) {
        cn->stats.msgs_malformed++;
        return 0;
    }
    named(cn, conn, to_name, pkt, msg, msg_end);
    return 0;
}
