/* The cookie and the process hardening around it. The cookie comes from the control
 * channel ({cookie, Binary} as the first packet) or, failing that, PHN_CNODE_COOKIE, whose
 * text is wiped from the environment block once read. Never argv, never logged. Core
 * dumps are disabled and (Linux) the process is made non-dumpable, so the cookie (which ei
 * keeps in memory for handshakes) cannot leak through a core file or a same-user ptrace. */
#ifndef PHN_CN_SECRET_H
#define PHN_CN_SECRET_H

#include <stddef.h>

#include "phn_cn_ctl.h"

void phn_cn_harden(void);

/* Fill out (size cap, NUL-terminated) with the cookie: the environment first, else the
 * first control packet (waiting up to timeout_ms). 0, -1 (none, or malformed), or
 * PHN_CN_COOKIE_REFUSED: empty, or `nocookie' (what erlang:get_cookie() says in a VM
 * without distribution): a C-node with such a cookie would let anyone in. */
#define PHN_CN_COOKIE_REFUSED (-2)
int phn_cn_cookie_get(phn_cn_ctl *ctl, char *out, size_t cap, int timeout_ms);

/* Overwrite a secret so that the compiler cannot drop the store. */
void phn_cn_wipe(void *p, size_t n);

#endif
