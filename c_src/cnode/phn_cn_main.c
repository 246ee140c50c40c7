/* phn_cnode: a C-node that joins the cluster (ei), collects operation responses and
 * answers partition checks. Started by phn_cnode.erl through a port; see phn_cn_*.h. */
#include <arpa/inet.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "phn_cn.h"
#include "phn_cn_args.h"
#include "phn_cn_check.h"
#include "phn_cn_compat.h"
#include "phn_cn_loop.h"
#include "phn_cn_secret.h"
#include "phn_cn_send.h"
#include "phn_cn_sock.h"

#define COOKIE_WAIT_MS 30000
#define EPMD_TMO_MS 5000u
#define LISTEN_BACKLOG 128

static int start_node(phn_cn *cn)
{
    char cookie[EI_MAX_COOKIE_SIZE + 1];
    struct in_addr addr;
    /* Loopback unless told otherwise: a cluster on several hosts names its address. */
    addr.s_addr = htonl(INADDR_LOOPBACK);
    if (cn->cfg.bind_addr[0] != '\0' && inet_pton(AF_INET, cn->cfg.bind_addr, &addr) != 1) {
        phn_cn_log(NULL, "bad --bind address");
        return -1;
    }
    int rc = phn_cn_cookie_get(&cn->ctl, cookie, sizeof(cookie), COOKIE_WAIT_MS);
    if (rc == PHN_CN_COOKIE_REFUSED) {
        phn_cn_log(NULL, "refusing an empty cookie or 'nocookie' (is the owning VM "
                         "distributed, with a cookie set?)");
        return -1;
    }
    if (rc < 0) {
        phn_cn_log(NULL, "no cookie (control channel or environment)");
        return -1;
    }
    if (ei_init() != 0) {
        phn_cn_wipe(cookie, sizeof(cookie));
        return -1;
    }
    /* A fresh creation per run, so that pids and refs of a restarted C-node differ. */
    unsigned creation = (unsigned)(time(NULL) ^ ((unsigned)getpid() << 16));
    rc = ei_connect_xinit_ussi(&cn->ec, cn->cfg.host, cn->cfg.alive, cn->cfg.node, &addr, cookie,
                               creation, &phn_cn_socket_callbacks, sizeof(phn_cn_socket_callbacks),
                               NULL);
    phn_cn_wipe(cookie, sizeof(cookie));
    if (rc < 0) {
        phn_cn_log(NULL, "ei_connect_xinit failed");
        return -1;
    }
    cn->port = cn->cfg.port;
    cn->listen_fd = ei_xlisten(&cn->ec, &addr, &cn->port, LISTEN_BACKLOG);
    if (cn->listen_fd < 0) {
        phn_cn_log(NULL, "listen failed");
        return -1;
    }
    cn->epmd_fd = ei_publish_tmo(&cn->ec, cn->port, EPMD_TMO_MS);
    if (cn->epmd_fd < 0) {
        phn_cn_log(NULL, "epmd registration of %s failed (is the name taken, epmd down?)",
                   cn->cfg.alive);
        return -1;
    }
    return 0;
}

static void send_ready(phn_cn *cn)
{
    ei_x_buff x;
    ei_x_new_with_version(&x);
    ei_x_encode_tuple_header(&x, 3);
    ei_x_encode_atom(&x, "ready");
    ei_x_encode_atom(&x, cn->cfg.node);
    ei_x_encode_long(&x, cn->port);
    phn_cn_send_ctl(cn, &x);
    ei_x_free(&x);
}

int main(int argc, char **argv)
{
    static phn_cn cn; /* large (ei_cnode); static keeps it off the stack */
    phn_cn_harden();
    phn_cn_ignore_sigpipe(); /* never die of a write to a closed peer */
    phn_cn_config_defaults(&cn.cfg);
    if (phn_cn_args_parse(&cn.cfg, argc, argv) < 0)
        return 2;
    if (phn_cn_check_set_owner(cn.cfg.owner_node) < 0) {
        fprintf(stderr, "phn_cnode: bad --owner\n");
        return 2;
    }
    phn_cn_ctl_init(&cn.ctl, STDIN_FILENO, STDOUT_FILENO, cn.cfg.max_ctl_bytes);

    int status = 1;
    if (phn_cn_state_init(&cn) < 0)
        goto out;
    if (start_node(&cn) < 0)
        goto out;
    if (phn_cn_threads_start(&cn.thr, &cn.ec, cn.listen_fd, cn.cfg.handshake_ms,
                             (int)cn.cfg.handshakes) < 0) {
        phn_cn_log(NULL, "cannot start threads");
        goto out;
    }
    send_ready(&cn);
    phn_cn_log(&cn, "%s listening on port %d", cn.cfg.node, cn.port);
    phn_cn_loop_run(&cn);
    status = 0;
    phn_cn_threads_stop(&cn.thr);
out:
    phn_cn_loop_close_all(&cn);
    if (cn.listen_fd >= 0)
        ei_close_connection(cn.listen_fd);
    if (cn.epmd_fd >= 0)
        close(cn.epmd_fd);
    phn_cn_ctl_drain(&cn.ctl, 1000);
    phn_cn_state_free(&cn);
    return status;
}
