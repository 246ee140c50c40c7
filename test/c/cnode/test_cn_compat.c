/* phn_cn_compat: the C-node's non-POSIX calls and their POSIX fallbacks. Every descriptor
 * the C-node makes is close-on-exec; an accepted socket is blocking even when the listener
 * is not (BSD and Darwin accept() inherit O_NONBLOCK, and ei's handshake needs blocking);
 * a send or writev to a closed peer fails with EPIPE instead of killing the process; core
 * dumps are off. The same tests run against the native paths (make test-c) and against
 * the fallbacks (make test-portable, which sets PHN_EXPECT_PORTABLE=1 so that this binary
 * also proves it was built with every fallback). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cn_harness.h"
#include "phn_cn_compat.h"
#if PHN_CN_HAVE_PRCTL
#include <sys/prctl.h>
#endif

static int is_cloexec(int fd)
{
    int flags = fcntl(fd, F_GETFD);
    assert_true(flags >= 0);
    return (flags & FD_CLOEXEC) != 0;
}

static int is_nonblock(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    assert_true(flags >= 0);
    return (flags & O_NONBLOCK) != 0;
}

static void test_paths_match_build(void **state)
{
    (void)state;
    const char *paths = phn_cn_compat_paths();
    print_message("compat paths: %s\n", paths);
    const char *want = getenv("PHN_EXPECT_PORTABLE");
    if (want != NULL && strcmp(want, "1") == 0)
        assert_string_equal(paths,
                            "accept+fcntl socket+fcntl pipe+fcntl sigpipe_ignored o_nonblock "
                            "rlimit_core");
}

static void test_socket_cloexec(void **state)
{
    (void)state;
    int fd = phn_cn_socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_true(is_cloexec(fd));
    assert_false(is_nonblock(fd));
    close(fd);
}

/* A listener on 127.0.0.1, non-blocking as the C-node's is (cb_listen). */
static int listener(struct sockaddr_in *addr)
{
    int lfd = phn_cn_socket(AF_INET, SOCK_STREAM, 0);
    assert_true(lfd >= 0);
    memset(addr, 0, sizeof(*addr));
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(*addr);
    assert_int_equal(bind(lfd, (struct sockaddr *)addr, len), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)addr, &len), 0);
    assert_int_equal(listen(lfd, 4), 0);
    assert_int_equal(fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK), 0);
    return lfd;
}

static void test_accept_cloexec_blocking(void **state)
{
    (void)state;
    struct sockaddr_in addr, peer;
    int lfd = listener(&addr);
    socklen_t len = sizeof(peer);
    /* Nothing pending: the non-blocking listener says so, nothing is opened. */
    errno = 0;
    assert_int_equal(phn_cn_accept(lfd, (struct sockaddr *)&peer, &len), -1);
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);

    int cfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(cfd >= 0);
    assert_int_equal(connect(cfd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    struct pollfd p = {lfd, POLLIN, 0};
    assert_int_equal(poll(&p, 1, 5000), 1);
    len = sizeof(peer);
    int fd = phn_cn_accept(lfd, (struct sockaddr *)&peer, &len);
    assert_true(fd >= 0);
    assert_int_equal(len, sizeof(peer));
    assert_true(is_cloexec(fd));
    assert_false(is_nonblock(fd));
    /* The accepted socket carries data both ways. */
    assert_int_equal(phn_cn_send(fd, "ping", 4, 0), 4);
    char buf[4];
    assert_int_equal(read(cfd, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "ping", 4);
    close(fd);
    close(cfd);
    close(lfd);
}

static void test_pipe_cloexec(void **state)
{
    (void)state;
    int p[2] = {-1, -1};
    assert_int_equal(phn_cn_pipe(p), 0);
    assert_true(is_cloexec(p[0]));
    assert_true(is_cloexec(p[1]));
    assert_int_equal(write(p[1], "x", 1), 1);
    char c = 0;
    assert_int_equal(read(p[0], &c, 1), 1);
    assert_int_equal(c, 'x');
    close(p[0]);
    close(p[1]);
}

/* With SIGPIPE at its default (death), then set up as the C-node's main() does: send and
 * writev to a closed TCP peer and a write to a pipe without a reader all fail with EPIPE
 * (or ECONNRESET), and the process lives to report it. */
static int write_to_closed_peers(void)
{
    signal(SIGPIPE, SIG_DFL);
    phn_cn_ignore_sigpipe();
    struct sockaddr_in addr, peer;
    int lfd = listener(&addr);
    int cfd = phn_cn_socket(AF_INET, SOCK_STREAM, 0);
    if (cfd < 0 || connect(cfd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
        return 10;
    struct pollfd p = {lfd, POLLIN, 0};
    socklen_t len = sizeof(peer);
    int sfd = poll(&p, 1, 5000) == 1 ? phn_cn_accept(lfd, (struct sockaddr *)&peer, &len) : -1;
    if (sfd < 0)
        return 11;
    close(sfd); /* the peer is gone; the first write may still succeed, later ones fail */
    char buf[4096];
    memset(buf, 'x', sizeof(buf));
    int send_failed = 0, writev_failed = 0;
    for (int i = 0; i < 1000 && !send_failed; i++)
        if (phn_cn_send(cfd, buf, sizeof(buf), 0) < 0) {
            if (errno != EPIPE && errno != ECONNRESET)
                return 12;
            send_failed = 1;
        }
    struct iovec iov = {buf, sizeof(buf)};
    for (int i = 0; i < 1000 && !writev_failed; i++)
        if (writev(cfd, &iov, 1) < 0) {
            if (errno != EPIPE && errno != ECONNRESET)
                return 13;
            writev_failed = 1;
        }
    int pp[2];
    if (phn_cn_pipe(pp) < 0)
        return 14;
    close(pp[0]);
    if (write(pp[1], "x", 1) != -1 || errno != EPIPE)
        return 15;
    close(pp[1]);
    close(cfd);
    close(lfd);
    return send_failed && writev_failed ? 0 : 16;
}

/* In this process, so that valgrind (make valgrind-c) sees no forked copy: a broken
 * fallback kills the test binary with SIGPIPE, which fails make test-c as surely. */
static void test_no_death_by_sigpipe(void **state)
{
    (void)state;
    assert_int_equal(write_to_closed_peers(), 0);
}

static int no_dump(void)
{
    phn_cn_no_dump();
    struct rlimit r;
    if (getrlimit(RLIMIT_CORE, &r) < 0 || r.rlim_cur != 0 || r.rlim_max != 0)
        return 1;
#if PHN_CN_HAVE_PRCTL
    if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
        return 2;
#endif
    return 0;
}

static void test_no_dump(void **state)
{
    (void)state;
    assert_int_equal(no_dump(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths_match_build),       cmocka_unit_test(test_socket_cloexec),
        cmocka_unit_test(test_accept_cloexec_blocking), cmocka_unit_test(test_pipe_cloexec),
        cmocka_unit_test(test_no_death_by_sigpipe),     cmocka_unit_test(test_no_dump),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
