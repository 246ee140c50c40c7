/* Incoming distribution packets, after framing. A packet is pass-through ('p'), a control
 * tuple and usually a message; both are validated (phn_cn_term_skip) before anything is
 * decoded. Only messages are acted on:
 *   REG_SEND to a name, {'$gen_cast', {operation_response, TxRef, Node, Results}}
 *       -> the collector;
 *   REG_SEND to a name, {'$gen_call', {Pid, Tag}, Request} -> the partition service, and
 *       the reply goes back as gen:reply/2 sends it ({Tag, Reply} to Pid, or to the alias
 *       when Tag is [alias | Ref] or [[alias | Ref] | _]);
 *   SEND to our own pid: answers to our liveness pings, ignored.
 * Links, monitors and other signals are ignored; unknown messages are dropped and
 * counted. Nothing a peer sends can crash the C-node: at worst its connection is closed
 * (a malformed packet means the peer is not speaking the protocol). */
#ifndef PHN_CN_DIST_H
#define PHN_CN_DIST_H

#include "phn_cn.h"

/* Handle one packet (without its 4-byte length; len > 0). Returns -1 when the connection
 * must be closed. */
int phn_cn_dist_packet(phn_cn *cn, phn_cn_conn *conn, const char *pkt, int len);

#endif
