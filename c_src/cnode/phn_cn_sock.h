/* ei user-supplied socket callbacks (ei_connect_xinit_ussi) used for the handshakes only:
 * plain blocking TCP with every timeout done by poll(), never select(), so descriptors
 * above FD_SETSIZE are safe. After the handshake the event loop owns the descriptor and
 * does its own non-blocking framing; ei only closes it. */
#ifndef PHN_CN_SOCK_H
#define PHN_CN_SOCK_H

#include "phn_cn_ei.h"

extern ei_socket_callbacks phn_cn_socket_callbacks;

#endif
