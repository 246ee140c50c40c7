#include "phn_cn_secret.h"

#include <stdlib.h>
#include <string.h>

#include "phn_cn_compat.h"
#include "phn_cn_term.h"

#define COOKIE_ENV "PHN_CNODE_COOKIE"

void phn_cn_wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n-- > 0)
        *v++ = 0;
}

void phn_cn_harden(void)
{
    phn_cn_no_dump();
}

/* Cookies no cluster uses on purpose. */
static int refused(const char *cookie)
{
    return cookie[0] == '\0' || strcmp(cookie, "nocookie") == 0;
}

static int from_env(char *out, size_t cap)
{
    char *v = getenv(COOKIE_ENV);
    if (v == NULL)
        return -1;
    size_t len = strlen(v);
    if (len == 0) {
        unsetenv(COOKIE_ENV);
        return PHN_CN_COOKIE_REFUSED;
    }
    int ok = len < cap;
    if (ok)
        memcpy(out, v, len + 1);
    /* The initial environment is what /proc/<pid>/environ shows: wipe it in place. */
    phn_cn_wipe(v, len);
    unsetenv(COOKIE_ENV);
    return ok ? 0 : -1;
}

/* {cookie, Binary} */
static int from_packet(const char *pkt, size_t len, char *out, size_t cap)
{
    int idx = 0, version, arity, type, size, end = (int)len, all;
    long got;
    if (len > 65536 || ei_decode_version(pkt, &idx, &version) < 0)
        return -1;
    all = idx;
    if (phn_cn_term_skip(pkt, &all, end) < 0 || all != end ||
        ei_decode_tuple_header(pkt, &idx, &arity) < 0 || arity != 2 ||
        !phn_cn_match_atom(pkt, &idx, "cookie") || ei_get_type(pkt, &idx, &type, &size) < 0 ||
        type != ERL_BINARY_EXT || size < 0 || (size_t)size >= cap)
        return -1;
    if (size == 0)
        return PHN_CN_COOKIE_REFUSED;
    if (ei_decode_binary(pkt, &idx, out, &got) < 0 || got != size ||
        memchr(out, '\0', (size_t)got) != NULL)
        return -1;
    out[got] = '\0';
    return 0;
}

int phn_cn_cookie_get(phn_cn_ctl *ctl, char *out, size_t cap, int timeout_ms)
{
    int rc = from_env(out, cap);
    if (rc == -1) {
        const char *pkt;
        size_t len;
        if (!phn_cn_ctl_wait_packet(ctl, timeout_ms) || !phn_cn_ctl_next(ctl, &pkt, &len))
            return -1;
        rc = from_packet(pkt, len, out, cap);
        phn_cn_ctl_consume(ctl); /* wipes the packet */
    }
    if (rc == 0 && refused(out)) {
        phn_cn_wipe(out, cap);
        rc = PHN_CN_COOKIE_REFUSED;
    }
    return rc;
}
