/* The event loop: one poll() over the control channel, the handshake hand-off pipe and
 * every connection. Reads are non-blocking and bounded per turn, packets are framed here
 * (a length above --max-msg closes the connection before anything is buffered), ticks are
 * answered, writes are queued and flushed as sockets allow. The queue to the owner is
 * bounded by backpressure: past --max-ctl-out the loop stops reading peers and commands
 * until the owner has taken its output. Returns when stdin closes or on SIGTERM/SIGINT. */
#ifndef PHN_CN_LOOP_H
#define PHN_CN_LOOP_H

#include "phn_cn.h"

void phn_cn_loop_run(phn_cn *cn);

/* Frame and handle the complete distribution packets buffered in c->in (what the loop
 * does after each read): ticks answered, a length above --max-msg marks c closing, each
 * packet through phn_cn_dist_packet. Stops early, leaving packets buffered, while the
 * owner is backlogged. Tests and fuzz targets call it on a filled buffer. */
void phn_cn_loop_dist_input(phn_cn *cn, phn_cn_conn *c);

/* Handle up to one turn's worth of the complete control packets buffered in cn->ctl
 * (phn_cn_cmd_packet each); also stops while the owner is backlogged. */
void phn_cn_loop_ctl_input(phn_cn *cn);

/* 1 when more than --max-ctl-out bytes wait to be written to the owner. */
int phn_cn_loop_owner_backlogged(const phn_cn *cn);

/* Close every connection (shutdown). */
void phn_cn_loop_close_all(phn_cn *cn);

#endif
