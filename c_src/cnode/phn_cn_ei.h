/* Every C-node file includes ei through here: the C-node is multi-threaded (handshake
 * threads), so erl_errno must be the per-thread one that _REENTRANT selects. */
#ifndef PHN_CN_EI_H
#define PHN_CN_EI_H

#ifndef _REENTRANT
#define _REENTRANT 1
#endif

#include <ei.h>

#endif
