/* Outgoing messages. Each is a term encoded with its version byte. A message for a node
 * we hold a connection to is framed as a distribution packet and queued on it; otherwise
 * it goes to the owner as {deliver, To, Msg} and phn_cnode sends it (Erlang can reach any
 * node). Queuing never blocks. A message whose encoding failed (msg NULL, a dead ei_x_buff)
 * is dropped and counted (encode_failures), never sent half-built. */
#ifndef PHN_CN_SEND_H
#define PHN_CN_SEND_H

#include "phn_cn.h"

/* To a pid (SEND). */
void phn_cn_send_pid(phn_cn *cn, const erlang_pid *to, const char *msg, int msglen);

/* To a process alias (ALIAS_SEND, OTP 24+), as gen:reply/2 does for [alias | Ref] tags. */
void phn_cn_send_alias(phn_cn *cn, const erlang_ref *alias, const char *msg, int msglen);

/* To a registered name on the connection's node (REG_SEND). */
void phn_cn_send_reg(phn_cn *cn, phn_cn_conn *conn, const char *name, const char *msg, int msglen);

/* Send a control-channel payload built in x (with version byte). 0, or -1 when x is dead
 * (an encoding failed, see phn_cn_ei.h) or the output cannot be queued: nothing was sent
 * and encode_failures counts it. */
int phn_cn_send_ctl(phn_cn *cn, const ei_x_buff *x);

#endif
