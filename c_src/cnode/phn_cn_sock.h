/* ei user-supplied socket callbacks (ei_connect_xinit_ussi) used for the handshakes only:
 * plain blocking TCP with every timeout done by poll(), never select(), so descriptors
 * above FD_SETSIZE are safe. After the handshake the event loop owns the descriptor and
 * does its own non-blocking framing; ei only closes it. */
#ifndef PHN_CN_SOCK_H
#define PHN_CN_SOCK_H

#include "phn_cn_ei.h"

extern ei_socket_callbacks phn_cn_socket_callbacks;

/* A budget for a whole handshake on the calling thread. ei gives each step of a
 * handshake its own timeout, so a peer that sends a byte now and then could hold a
 * handshake forever. With a budget set (ms > 0), the budget starts when the callbacks
 * accept a connection (or at once with phn_cn_sock_budget_start, for outgoing ones), and
 * every wait of the handshake ends by then, whatever ei asked: ETIMEDOUT after it.
 * phn_cn_sock_budget_end ends the current handshake's deadline. Per thread. */
void phn_cn_sock_budget(unsigned ms);
void phn_cn_sock_budget_start(void);
void phn_cn_sock_budget_end(void);
/* 1 while a handshake's budget runs on this thread (a connection was accepted). */
int phn_cn_sock_budget_running(void);

#endif
