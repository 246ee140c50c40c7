#include "phn_cn_args.h"

#include "phn_cn_threads.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MiB ((size_t)1 << 20)

void phn_cn_config_defaults(phn_cn_config *c)
{
    memset(c, 0, sizeof(*c));
    c->handshake_ms = 5000;
    c->handshakes = 16;
    c->max_msg_bytes = 64 * MiB;
    c->max_in_total = 256 * MiB;
    c->frame_ms = 30000;
    c->max_ctl_bytes = 64 * MiB;
    c->max_ctl_out = 64 * MiB;
    c->max_out_bytes = 64 * MiB;
    c->max_conns = 512;
    c->max_ops = 1000000;
    c->max_op_bytes = 256 * MiB;
    c->max_total_bytes = 1024 * MiB;
    c->early_max = 10000;
    c->early_bytes = 16 * MiB;
    c->early_hold_ms = 10000;
    c->max_hubs = 1024;
    c->max_hub_nodes = 10000;
    c->max_subscribers = 1024;
    c->max_atoms = 100000;
    c->silence_ms = 0;
    c->reconnect_ms = 1000;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: phn_cnode --name ALIVE@HOST [--owner NODE] [--bind IPV4 (default 127.0.0.1)]\n"
            "  [--port N]\n"
            "  [--handshake-ms N] [--handshakes N] [--max-msg BYTES] [--max-ctl BYTES] "
            "[--max-ctl-out BYTES]\n"
            "  [--max-out BYTES] [--max-in-total BYTES] [--frame-ms N]\n"
            "  [--max-conns N] [--max-ops N] [--max-op-bytes B] [--max-total-bytes B]\n"
            "  [--early-max N] [--early-bytes B] [--early-hold-ms N] [--max-hubs N]\n"
            "  [--max-hub-nodes N] [--max-subscribers N] [--max-atoms N]\n"
            "  [--silence-ms N] [--reconnect-ms N] [--verbose]\n"
            "The cookie is read from the control channel (stdin) or PHN_CNODE_COOKIE,\n"
            "never from the command line. ERL_EPMD_PORT selects the epmd.\n");
}

/* A decimal count within [min, max]. */
static int number(const char *s, unsigned long long min, unsigned long long max,
                  unsigned long long *out)
{
    char *end;
    errno = 0;
    if (*s == '-' || *s == '\0')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

typedef struct size_opt {
    const char *flag;
    size_t offset; /* into phn_cn_config */
    int is_unsigned;
    unsigned long long min, max;
} size_opt;

#define SZ(flag, field, min, max)                                                                  \
    {                                                                                              \
        flag, offsetof(phn_cn_config, field), 0, min, max                                          \
    }
#define UN(flag, field, min, max)                                                                  \
    {                                                                                              \
        flag, offsetof(phn_cn_config, field), 1, min, max                                          \
    }

static const size_opt size_opts[] = {
    UN("--handshake-ms", handshake_ms, 10, 600000),
    SZ("--handshakes", handshakes, 1, PHN_CN_ACCEPTORS_MAX),
    SZ("--max-msg", max_msg_bytes, 1024, (size_t)1 << 30),
    SZ("--max-in-total", max_in_total, 1024, (size_t)1 << 40),
    UN("--frame-ms", frame_ms, 10, 3600000),
    SZ("--max-ctl", max_ctl_bytes, 1024, (size_t)1 << 30),
    SZ("--max-ctl-out", max_ctl_out, 1024, (size_t)1 << 34),
    SZ("--max-out", max_out_bytes, 1024, (size_t)1 << 31),
    SZ("--max-conns", max_conns, 1, 100000),
    SZ("--max-ops", max_ops, 1, 100000000),
    SZ("--max-op-bytes", max_op_bytes, 1024, (size_t)1 << 30),
    SZ("--max-total-bytes", max_total_bytes, 1024, (size_t)1 << 40),
    SZ("--early-max", early_max, 0, 100000000),
    SZ("--early-bytes", early_bytes, 0, (size_t)1 << 34),
    UN("--early-hold-ms", early_hold_ms, 0, 3600000),
    SZ("--max-hubs", max_hubs, 1, 1000000),
    SZ("--max-hub-nodes", max_hub_nodes, 1, 1000000),
    SZ("--max-subscribers", max_subscribers, 0, 1000000),
    SZ("--max-atoms", max_atoms, 16, 10000000),
    UN("--silence-ms", silence_ms, 0, 3600000),
    UN("--reconnect-ms", reconnect_ms, 10, 3600000),
};

static int set_name(phn_cn_config *c, const char *name)
{
    const char *at = strchr(name, '@');
    size_t alive_len = at ? (size_t)(at - name) : 0;
    if (at == NULL || alive_len == 0 || alive_len >= sizeof(c->alive) || at[1] == '\0' ||
        strlen(at + 1) >= sizeof(c->host) || strlen(name) >= sizeof(c->node) ||
        strchr(at + 1, '@') != NULL)
        return -1;
    memcpy(c->alive, name, alive_len);
    c->alive[alive_len] = '\0';
    strcpy(c->host, at + 1);
    strcpy(c->node, name);
    return 0;
}

int phn_cn_args_parse(phn_cn_config *c, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(flag, "--verbose") == 0) {
            c->verbose = 1;
            continue;
        }
        if (strcmp(flag, "--help") == 0) {
            usage();
            return -1;
        }
        if (strcmp(flag, "--cookie") == 0 || strcmp(flag, "-setcookie") == 0) {
            fprintf(stderr, "phn_cnode: the cookie is never accepted on the command line\n");
            return -1;
        }
        if (val == NULL) {
            fprintf(stderr, "phn_cnode: %s needs a value\n", flag);
            usage();
            return -1;
        }
        i++;
        if (strcmp(flag, "--name") == 0) {
            if (set_name(c, val) < 0) {
                fprintf(stderr, "phn_cnode: bad --name (want alive@host)\n");
                return -1;
            }
            continue;
        }
        if (strcmp(flag, "--owner") == 0) {
            if (strlen(val) >= sizeof(c->owner_node) || strchr(val, '@') == NULL) {
                fprintf(stderr, "phn_cnode: bad --owner (want alive@host)\n");
                return -1;
            }
            strcpy(c->owner_node, val);
            continue;
        }
        if (strcmp(flag, "--bind") == 0) {
            if (strlen(val) >= sizeof(c->bind_addr)) {
                fprintf(stderr, "phn_cnode: bad --bind\n");
                return -1;
            }
            strcpy(c->bind_addr, val);
            continue;
        }
        if (strcmp(flag, "--port") == 0) {
            unsigned long long v;
            if (number(val, 0, 65535, &v) < 0) {
                fprintf(stderr, "phn_cnode: bad --port\n");
                return -1;
            }
            c->port = (int)v;
            continue;
        }
        const size_opt *opt = NULL;
        for (size_t k = 0; k < sizeof(size_opts) / sizeof(size_opts[0]); k++)
            if (strcmp(flag, size_opts[k].flag) == 0)
                opt = &size_opts[k];
        unsigned long long v;
        if (opt == NULL || number(val, opt->min, opt->max, &v) < 0) {
            fprintf(stderr, "phn_cnode: bad option %s\n", flag);
            usage();
            return -1;
        }
        char *field = (char *)c + opt->offset;
        if (opt->is_unsigned)
            *(unsigned *)(void *)field = (unsigned)v;
        else
            *(size_t *)(void *)field = (size_t)v;
    }
    if (c->node[0] == '\0') {
        fprintf(stderr, "phn_cnode: --name is required\n");
        usage();
        return -1;
    }
    return 0;
}
