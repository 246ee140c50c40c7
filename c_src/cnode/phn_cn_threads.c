#include "phn_cn_threads.h"

#include "phn_cn_compat.h"
#include "phn_cn_sock.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* How often the acceptor wakes to look at the stop flag. */
#define ACCEPT_POLL_MS 250u
/* Handshakes need little stack; many acceptors should not reserve 8 MiB each. */
#define THREAD_STACK (1u << 20)

typedef struct connect_request {
    char node[MAXNODELEN + 1];
} connect_request;

static int make_pipe(int p[2])
{
    return phn_cn_pipe(p);
}

static void close_pipe(int p[2])
{
    for (int i = 0; i < 2; i++) {
        if (p[i] >= 0)
            close(p[i]);
        p[i] = -1;
    }
}

/* Records are smaller than PIPE_BUF, so each write is atomic. A full pipe means the loop
 * is gone or stuck: drop the connection rather than block the thread forever. */
static void hand_off(phn_cn_threads *t, int fd, int outbound, const char *node)
{
    phn_cn_handoff h;
    memset(&h, 0, sizeof(h));
    h.fd = fd;
    h.outbound = outbound;
    strncpy(h.node, node, sizeof(h.node) - 1);
    ssize_t n;
    do {
        n = write(t->handoff[1], &h, sizeof(h));
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(h) && fd >= 0)
        ei_close_connection(fd);
}

static void *acceptor_main(void *arg)
{
    phn_cn_threads *t = arg;
    phn_cn_sock_budget(t->handshake_ms);
    while (!atomic_load(&t->stop)) {
        ErlConnect peer;
        memset(&peer, 0, sizeof(peer));
        /* The first wait is the stop-flag poll; once a connection is accepted, the whole
         * handshake has --handshake-ms (the socket callbacks start the clock). */
        phn_cn_sock_budget_end();
        int fd = ei_accept_tmo(t->ec, t->listen_fd, &peer, ACCEPT_POLL_MS);
        int handshaking = phn_cn_sock_budget_running(); /* not just the stop-flag poll */
        phn_cn_sock_budget_end();
        if (fd >= 0) {
            if (atomic_load(&t->stop)) {
                ei_close_connection(fd);
                break;
            }
            peer.nodename[sizeof(peer.nodename) - 1] = '\0';
            hand_off(t, fd, 0, peer.nodename);
        } else if (erl_errno != ETIMEDOUT || handshaking) {
            /* Wrong cookie, garbage, a dropped or timed-out handshake: ei closed it. */
            atomic_fetch_add(&t->handshake_failures, 1);
        }
    }
    return NULL;
}

static void *connector_main(void *arg)
{
    phn_cn_threads *t = arg;
    phn_cn_sock_budget(t->handshake_ms);
    for (;;) {
        connect_request req;
        ssize_t n = read(t->requests[0], &req, sizeof(req));
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof(req) || atomic_load(&t->stop))
            break; /* EOF: the loop closed its end */
        req.node[sizeof(req.node) - 1] = '\0';
        phn_cn_sock_budget_start(); /* epmd lookup, connect and handshake: one budget */
        int fd = ei_connect_tmo(t->ec, req.node, t->handshake_ms);
        phn_cn_sock_budget_end();
        if (fd < 0)
            atomic_fetch_add(&t->handshake_failures, 1);
        hand_off(t, fd < 0 ? -1 : fd, 1, req.node);
    }
    return NULL;
}

int phn_cn_threads_start(phn_cn_threads *t, ei_cnode *ec, int listen_fd, unsigned handshake_ms,
                         int acceptors)
{
    pthread_attr_t attr;
    int have_attr = pthread_attr_init(&attr) == 0;
    if (have_attr)
        (void)pthread_attr_setstacksize(&attr, THREAD_STACK);
    memset(t, 0, sizeof(*t));
    t->handoff[0] = t->handoff[1] = t->requests[0] = t->requests[1] = -1;
    t->ec = ec;
    t->listen_fd = listen_fd;
    t->handshake_ms = handshake_ms;
    atomic_init(&t->stop, 0);
    atomic_init(&t->handshake_failures, 0);
    if (make_pipe(t->handoff) < 0 || make_pipe(t->requests) < 0)
        goto fail;
    /* The loop never blocks on either pipe; the threads block only on their own reads. */
    if (fcntl(t->handoff[0], F_SETFL, O_NONBLOCK) < 0 ||
        fcntl(t->handoff[1], F_SETFL, O_NONBLOCK) < 0 ||
        fcntl(t->requests[1], F_SETFL, O_NONBLOCK) < 0)
        goto fail;
    if (acceptors < 1 || acceptors > PHN_CN_ACCEPTORS_MAX)
        goto fail;
    for (; t->acceptors < acceptors; t->acceptors++)
        if (pthread_create(&t->acceptor[t->acceptors], have_attr ? &attr : NULL, acceptor_main,
                           t) != 0)
            goto fail;
    if (pthread_create(&t->connector, have_attr ? &attr : NULL, connector_main, t) != 0)
        goto fail;
    t->have_connector = 1;
    if (have_attr)
        pthread_attr_destroy(&attr);
    return 0;
fail:
    if (have_attr)
        pthread_attr_destroy(&attr);
    phn_cn_threads_stop(t);
    return -1;
}

void phn_cn_threads_stop(phn_cn_threads *t)
{
    atomic_store(&t->stop, 1);
    if (t->requests[1] >= 0) {
        close(t->requests[1]); /* wakes the connector with EOF */
        t->requests[1] = -1;
    }
    for (int i = 0; i < t->acceptors; i++)
        pthread_join(t->acceptor[i], NULL);
    if (t->have_connector)
        pthread_join(t->connector, NULL);
    t->acceptors = t->have_connector = 0;
    phn_cn_handoff h;
    while (t->handoff[0] >= 0 && phn_cn_threads_next(t, &h))
        if (h.fd >= 0)
            ei_close_connection(h.fd);
    close_pipe(t->handoff);
    close_pipe(t->requests);
}

int phn_cn_threads_connect(phn_cn_threads *t, const char *node)
{
    connect_request req;
    memset(&req, 0, sizeof(req));
    if (strlen(node) >= sizeof(req.node))
        return -1;
    strcpy(req.node, node);
    ssize_t n = write(t->requests[1], &req, sizeof(req));
    return n == (ssize_t)sizeof(req) ? 0 : -1;
}

int phn_cn_threads_next(phn_cn_threads *t, phn_cn_handoff *out)
{
    ssize_t n;
    do {
        n = read(t->handoff[0], out, sizeof(*out));
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(*out))
        return 0;
    out->node[sizeof(out->node) - 1] = '\0';
    return 1;
}
