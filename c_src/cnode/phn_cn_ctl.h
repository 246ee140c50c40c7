/* The control channel with the owning port: stdin/stdout, {packet, 4} framing, payloads
 * in the external term format. The owner is trusted, but its terms are validated like any
 * other. When stdin reaches EOF the port is gone and the C-node exits. */
#ifndef PHN_CN_CTL_H
#define PHN_CN_CTL_H

#include <stddef.h>

#include "phn_cn_buf.h"

typedef struct phn_cn_ctl {
    int in_fd;
    int out_fd;
    phn_cn_buf in;
    phn_cn_buf out;
    size_t max_in; /* largest packet accepted */
    int eof;       /* stdin closed (or a fatal framing error) */
} phn_cn_ctl;

void phn_cn_ctl_init(phn_cn_ctl *c, int in_fd, int out_fd, size_t max_in);
void phn_cn_ctl_free(phn_cn_ctl *c);

/* Read what stdin has (non-blocking). Sets eof on EOF, a read error or an oversized
 * packet header. Stops once a complete packet and 1 MiB are buffered, so the input
 * buffer holds at most one partial packet (<= max_in) or ~1 MiB of unhandled commands
 * (plus one read). */
void phn_cn_ctl_read(phn_cn_ctl *c);

/* 1 when a complete packet is buffered. */
int phn_cn_ctl_has_packet(const phn_cn_ctl *c);

/* 0 when the buffered input is at its bound (phn_cn_ctl_read would not read). */
int phn_cn_ctl_want_input(const phn_cn_ctl *c);

/* 1 and the next complete packet's payload (valid until phn_cn_ctl_consume), or 0. */
int phn_cn_ctl_next(phn_cn_ctl *c, const char **payload, size_t *len);
void phn_cn_ctl_consume(phn_cn_ctl *c);

/* Frame and queue one payload, then try to write. PHN_OK or PHN_ENOMEM. */
int phn_cn_ctl_send(phn_cn_ctl *c, const char *payload, size_t len);

/* Write queued output without blocking. -1 when stdout is gone. */
int phn_cn_ctl_flush(phn_cn_ctl *c);

/* Block (poll) until one full packet is buffered or timeout_ms passes: 1, 0 (timeout or
 * EOF). Used only before the event loop starts, for the cookie. */
int phn_cn_ctl_wait_packet(phn_cn_ctl *c, int timeout_ms);

/* Write all queued output, blocking up to timeout_ms (shutdown). */
void phn_cn_ctl_drain(phn_cn_ctl *c, int timeout_ms);

#endif
