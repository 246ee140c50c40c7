/* Commands from the owner on the control channel. Every command is
 * {Name, Seq, Args...} and gets exactly one {reply, Seq, Result}; a malformed one gets
 * {reply, Seq, {error, badarg}} (or is dropped and counted when not even Seq decodes).
 *   {register, Seq, TxRef, HubId | undefined, [{Node, Chunks} | Node], TimeoutMs}
 *   {cancel, Seq, TxRef}   {stats, Seq}   {connect, Seq, Node}   {shutdown, Seq}
 *   and the partition service's commands (phn_cn_hub.h). */
#ifndef PHN_CN_CMD_H
#define PHN_CN_CMD_H

#include <stddef.h>

#include "phn_cn.h"

void phn_cn_cmd_packet(phn_cn *cn, const char *pkt, size_t len);

#endif
