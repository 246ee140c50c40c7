#include "phn_cn_sock.h"

#include "phn_cn_compat.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static _Thread_local unsigned budget_ms; /* 0: no whole-handshake bound */
static _Thread_local int64_t deadline;   /* monotonic ms; 0: none running */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void phn_cn_sock_budget(unsigned ms)
{
    budget_ms = ms;
    deadline = 0;
}

void phn_cn_sock_budget_start(void)
{
    deadline = budget_ms > 0 ? now_ms() + budget_ms : 0;
}

void phn_cn_sock_budget_end(void)
{
    deadline = 0;
}

int phn_cn_sock_budget_running(void)
{
    return deadline != 0;
}

/* The context is the descriptor itself; sockets are never 0 (stdin is open). */
static int fd_of(void *ctx)
{
    return (int)(intptr_t)ctx;
}

static void *ctx_of(int fd)
{
    return (void *)(intptr_t)fd;
}

static int wait_fd(int fd, short events, unsigned tmo)
{
    int ms = tmo == EI_SCLBK_INF_TMO ? -1 : (int)(tmo > 0x7fffffff ? 0x7fffffff : tmo);
    struct pollfd p = {fd, events, 0};
    for (;;) {
        if (deadline != 0) { /* the whole handshake's budget governs, not ei's step */
            int64_t left = deadline - now_ms();
            if (left <= 0)
                return ETIMEDOUT;
            ms = (int)(left > 0x7fffffff ? 0x7fffffff : left);
        }
        int r = poll(&p, 1, ms);
        if (r > 0)
            return 0;
        if (r == 0)
            return ETIMEDOUT;
        if (errno != EINTR)
            return errno;
    }
}

static int cb_socket(void **ctx, void *setup_ctx)
{
    (void)setup_ctx;
    int fd = phn_cn_socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return errno;
    *ctx = ctx_of(fd);
    return 0;
}

static int cb_close(void *ctx)
{
    return close(fd_of(ctx)) < 0 ? errno : 0;
}

static int cb_listen(void *ctx, void *addr, int *len, int backlog)
{
    int fd = fd_of(ctx), on = 1;
    socklen_t sz = (socklen_t)*len;
    /* Non-blocking, so that several acceptor threads can wait on it: the ones that lose
     * the race for a connection get EAGAIN instead of blocking in accept(). */
    int flags = fcntl(fd, F_GETFL);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
        bind(fd, (struct sockaddr *)addr, sz) < 0 ||
        getsockname(fd, (struct sockaddr *)addr, &sz) < 0 || listen(fd, backlog) < 0 || flags < 0 ||
        fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return errno;
    *len = (int)sz;
    return 0;
}

static int cb_accept(void **ctx, void *addr, int *len, unsigned tmo)
{
    int lfd = fd_of(*ctx);
    int err = wait_fd(lfd, POLLIN, tmo);
    if (err)
        return err;
    socklen_t sz = (socklen_t)*len;
    /* The accepted socket is blocking: ei's handshake expects that. */
    int fd = phn_cn_accept(lfd, (struct sockaddr *)addr, &sz);
    if (fd < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno;
    *len = (int)sz;
    *ctx = ctx_of(fd);
    phn_cn_sock_budget_start(); /* the handshake starts now */
    return 0;
}

static int cb_connect(void *ctx, void *addr, int len, unsigned tmo)
{
    int fd = fd_of(ctx);
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return errno;
    int err = 0;
    if (connect(fd, (struct sockaddr *)addr, (socklen_t)len) < 0) {
        if (errno != EINPROGRESS)
            err = errno;
        else if ((err = wait_fd(fd, POLLOUT, tmo)) == 0) {
            socklen_t sz = sizeof(err);
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sz) < 0)
                err = errno;
        }
    }
    if (fcntl(fd, F_SETFL, flags) < 0 && err == 0)
        err = errno;
    return err;
}

static int cb_writev(void *ctx, const void *iov, int iovcnt, ssize_t *len, unsigned tmo)
{
    int fd = fd_of(ctx);
    int err = wait_fd(fd, POLLOUT, tmo);
    if (err)
        return err;
    ssize_t n = writev(fd, (const struct iovec *)iov, iovcnt);
    if (n < 0)
        return errno;
    *len = n;
    return 0;
}

static int cb_write(void *ctx, const char *buf, ssize_t *len, unsigned tmo)
{
    int fd = fd_of(ctx);
    int err = wait_fd(fd, POLLOUT, tmo);
    if (err)
        return err;
    ssize_t n = phn_cn_send(fd, buf, (size_t)*len, 0);
    if (n < 0)
        return errno;
    *len = n;
    return 0;
}

static int cb_read(void *ctx, char *buf, ssize_t *len, unsigned tmo)
{
    int fd = fd_of(ctx);
    int err = wait_fd(fd, POLLIN, tmo);
    if (err)
        return err;
    ssize_t n = read(fd, buf, (size_t)*len);
    if (n < 0)
        return errno;
    *len = n;
    return 0;
}

static int cb_hs_header_size(void *ctx, int *sz)
{
    (void)ctx;
    *sz = 2;
    return 0;
}

static int cb_handshake_complete(void *ctx)
{
    int fd = fd_of(ctx), one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) < 0)
        return errno;
    return 0;
}

static int cb_get_fd(void *ctx, int *fd)
{
    *fd = fd_of(ctx);
    return 0;
}

ei_socket_callbacks phn_cn_socket_callbacks = {
    EI_SCLBK_FLG_FULL_IMPL,
    cb_socket,
    cb_close,
    cb_listen,
    cb_accept,
    cb_connect,
    cb_writev,
    cb_write,
    cb_read,
    cb_hs_header_size,
    cb_handshake_complete,
    cb_handshake_complete,
    cb_get_fd,
};
