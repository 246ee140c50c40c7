/* The C-node's process-wide state apart from its sockets and threads (phn_cn.h): clocks,
 * diagnostics, and the tables every handler works on. main() builds it this way, and so do
 * the tests and fuzz targets that drive the handlers without a network. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "phn_cn.h"
#include "phn_cn_collect.h"
#include "phn_cn_hub.h"

int64_t phn_cn_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t phn_cn_unix_s(void)
{
    return (int64_t)time(NULL);
}

void phn_cn_log(const phn_cn *cn, const char *fmt, ...)
{
    if (cn != NULL && !cn->cfg.verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("phn_cnode: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int phn_cn_state_init(phn_cn *cn)
{
    cn->listen_fd = cn->epmd_fd = -1;
    cn->now_ms = phn_cn_monotonic_ms();
    cn->atoms = phn_cn_atoms_new(cn->cfg.max_atoms);
    cn->collect = phn_cn_collect_new(cn);
    cn->hubs = phn_cn_hubs_new(cn);
    if (cn->atoms == NULL || cn->collect == NULL || cn->hubs == NULL)
        return -1;
    cn->self_id = phn_cn_atoms_intern(cn->atoms, cn->cfg.node);
    return cn->self_id != 0 ? 0 : -1;
}

void phn_cn_state_free(phn_cn *cn)
{
    phn_cn_hubs_free(cn->hubs);
    phn_cn_collect_free(cn->collect);
    phn_cn_atoms_free(cn->atoms);
    phn_cn_conns_free(&cn->conns);
    phn_cn_ctl_free(&cn->ctl);
    cn->hubs = NULL;
    cn->collect = NULL;
    cn->atoms = NULL;
}
