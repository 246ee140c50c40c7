/* The event loop: one poll() over the control channel, the handshake hand-off pipe and
 * every connection. Reads are non-blocking and bounded per turn, packets are framed here
 * (a length above --max-msg closes the connection before anything is buffered), ticks are
 * answered, writes are queued and flushed as sockets allow. Returns when stdin closes or
 * on SIGTERM/SIGINT. */
#ifndef PHN_CN_LOOP_H
#define PHN_CN_LOOP_H

#include "phn_cn.h"

void phn_cn_loop_run(phn_cn *cn);

/* Close every connection (shutdown). */
void phn_cn_loop_close_all(phn_cn *cn);

#endif
