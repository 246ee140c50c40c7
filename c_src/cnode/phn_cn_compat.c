#include "phn_cn_compat.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>
#if PHN_CN_HAVE_PRCTL
#include <sys/prctl.h>
#endif

#if !PHN_CN_HAVE_ACCEPT4 || !PHN_CN_HAVE_SOCK_CLOEXEC || !PHN_CN_HAVE_PIPE2
/* Sets FD_CLOEXEC; on failure closes fd (errno kept) and returns -1. */
static int cloexec_or_close(int fd)
{
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}
#endif

/* Where neither MSG_NOSIGNAL nor SO_NOSIGPIPE exists, only ignored SIGPIPE protects. */
static int nosigpipe_or_close(int fd)
{
#if !PHN_CN_HAVE_MSG_NOSIGNAL && defined(SO_NOSIGPIPE)
    int on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof(on)) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
#endif
    return fd;
}

int phn_cn_socket(int domain, int type, int protocol)
{
#if PHN_CN_HAVE_SOCK_CLOEXEC
    int fd = socket(domain, type | SOCK_CLOEXEC, protocol);
#else
    int fd = socket(domain, type, protocol);
    if (fd >= 0)
        fd = cloexec_or_close(fd);
#endif
    return fd < 0 ? -1 : nosigpipe_or_close(fd);
}

int phn_cn_accept(int lfd, struct sockaddr *addr, socklen_t *len)
{
#if PHN_CN_HAVE_ACCEPT4
    int fd = accept4(lfd, addr, len, SOCK_CLOEXEC); /* no SOCK_NONBLOCK: blocking */
#else
    int fd = accept(lfd, addr, len);
    if (fd >= 0)
        fd = cloexec_or_close(fd);
    if (fd >= 0) {
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || ((flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
    }
#endif
    return fd < 0 ? -1 : nosigpipe_or_close(fd);
}

int phn_cn_pipe(int p[2])
{
#if PHN_CN_HAVE_PIPE2
    return pipe2(p, O_CLOEXEC) < 0 ? -1 : 0;
#else
    if (pipe(p) < 0)
        return -1;
    if (cloexec_or_close(p[0]) < 0) {
        int e = errno;
        close(p[1]);
        errno = e;
        return -1;
    }
    if (cloexec_or_close(p[1]) < 0) {
        int e = errno;
        close(p[0]);
        errno = e;
        return -1;
    }
    return 0;
#endif
}

ssize_t phn_cn_send(int fd, const void *buf, size_t n, int flags)
{
    return send(fd, buf, n, flags | PHN_CN_MSG_NOSIGNAL);
}

void phn_cn_ignore_sigpipe(void)
{
    struct sigaction sa;
    sa.sa_handler = SIG_IGN;
    sa.sa_flags = 0;
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGPIPE, &sa, NULL);
}

void phn_cn_no_dump(void)
{
    struct rlimit none = {0, 0};
    (void)setrlimit(RLIMIT_CORE, &none);
#if PHN_CN_HAVE_PRCTL
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#endif
}

#if PHN_CN_HAVE_ACCEPT4
#define P_ACCEPT "accept4"
#else
#define P_ACCEPT "accept+fcntl"
#endif
#if PHN_CN_HAVE_SOCK_CLOEXEC
#define P_SOCKET "sock_cloexec"
#else
#define P_SOCKET "socket+fcntl"
#endif
#if PHN_CN_HAVE_PIPE2
#define P_PIPE "pipe2"
#else
#define P_PIPE "pipe+fcntl"
#endif
#if PHN_CN_HAVE_MSG_NOSIGNAL
#define P_SIGPIPE "msg_nosignal"
#elif defined(SO_NOSIGPIPE)
#define P_SIGPIPE "so_nosigpipe"
#else
#define P_SIGPIPE "sigpipe_ignored"
#endif
#if PHN_CN_HAVE_MSG_DONTWAIT
#define P_DONTWAIT "msg_dontwait"
#else
#define P_DONTWAIT "o_nonblock"
#endif
#if PHN_CN_HAVE_PRCTL
#define P_DUMP "prctl"
#else
#define P_DUMP "rlimit_core"
#endif

const char *phn_cn_compat_paths(void)
{
    return P_ACCEPT " " P_SOCKET " " P_PIPE " " P_SIGPIPE " " P_DONTWAIT " " P_DUMP;
}
