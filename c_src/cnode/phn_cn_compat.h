/* The C-node's few calls that are not plain POSIX, each with a POSIX fallback. The native
 * path is chosen here from the platform; -DPHN_NO_<X> forces the fallback, which is how
 * `make test-portable' (c_src/Makefile PHN_PORTABLE=1) builds and tests every fallback on
 * Linux. Native paths: accept4 and pipe2 on Linux with _GNU_SOURCE; SOCK_CLOEXEC,
 * MSG_NOSIGNAL and MSG_DONTWAIT where the headers define them; prctl on Linux.
 * Fallbacks: accept/socket/pipe then fcntl(FD_CLOEXEC) (the C-node never execs, so the
 * window between the two is harmless); SO_NOSIGPIPE on each socket where it exists (Darwin,
 * the BSDs) and SIGPIPE ignored process-wide everywhere, so no write to a closed peer can
 * kill the C-node; no flag for MSG_DONTWAIT (the loop's sockets are O_NONBLOCK anyway);
 * core dumps off by setrlimit alone where prctl is missing. */
#ifndef PHN_CN_COMPAT_H
#define PHN_CN_COMPAT_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#if defined(__linux__) && defined(_GNU_SOURCE) && !defined(PHN_NO_ACCEPT4)
#define PHN_CN_HAVE_ACCEPT4 1
#else
#define PHN_CN_HAVE_ACCEPT4 0
#endif

#if defined(__linux__) && defined(_GNU_SOURCE) && !defined(PHN_NO_PIPE2)
#define PHN_CN_HAVE_PIPE2 1
#else
#define PHN_CN_HAVE_PIPE2 0
#endif

#if defined(SOCK_CLOEXEC) && !defined(PHN_NO_SOCK_CLOEXEC)
#define PHN_CN_HAVE_SOCK_CLOEXEC 1
#else
#define PHN_CN_HAVE_SOCK_CLOEXEC 0
#endif

/* glibc defines these flags as enum names, which #if reads as 0: test defined() only. */
#if defined(MSG_NOSIGNAL) && !defined(PHN_NO_MSG_NOSIGNAL)
#define PHN_CN_HAVE_MSG_NOSIGNAL 1
#define PHN_CN_MSG_NOSIGNAL MSG_NOSIGNAL
#else
#define PHN_CN_HAVE_MSG_NOSIGNAL 0
#define PHN_CN_MSG_NOSIGNAL 0
#endif

#if defined(MSG_DONTWAIT) && !defined(PHN_NO_MSG_DONTWAIT)
#define PHN_CN_HAVE_MSG_DONTWAIT 1
#define PHN_CN_MSG_DONTWAIT MSG_DONTWAIT
#else
#define PHN_CN_HAVE_MSG_DONTWAIT 0
#define PHN_CN_MSG_DONTWAIT 0 /* callers' descriptors are O_NONBLOCK */
#endif

#if defined(__linux__) && !defined(PHN_NO_PRCTL)
#define PHN_CN_HAVE_PRCTL 1
#else
#define PHN_CN_HAVE_PRCTL 0
#endif

/* socket(2) whose descriptor is close-on-exec (and SO_NOSIGPIPE where MSG_NOSIGNAL is
 * missing and the option exists). -1 with errno on failure. */
int phn_cn_socket(int domain, int type, int protocol);

/* accept(2) whose descriptor is close-on-exec and blocking, whatever the listener's
 * O_NONBLOCK (BSD and Darwin accept() inherit it, Linux does not). -1 with errno. */
int phn_cn_accept(int lfd, struct sockaddr *addr, socklen_t *len);

/* pipe(2) with both ends close-on-exec. -1 with errno (and nothing open) on failure. */
int phn_cn_pipe(int p[2]);

/* send(2) that never raises SIGPIPE where the platform can say so per call or per
 * socket; elsewhere phn_cn_ignore_sigpipe() is what keeps the process alive. */
ssize_t phn_cn_send(int fd, const void *buf, size_t n, int flags);

/* SIGPIPE ignored for the whole process: a write to a closed socket or pipe (ei's writev,
 * the owner's stdout) then fails with EPIPE instead of killing the C-node. */
void phn_cn_ignore_sigpipe(void);

/* No core file, and (Linux) not dumpable, so not ptrace-attachable by the same user. */
void phn_cn_no_dump(void);

/* Which paths this build took, e.g. "accept4 sock_cloexec pipe2 msg_nosignal ...", or
 * "accept+fcntl socket+fcntl ..." for the fallbacks: what the tests check. */
const char *phn_cn_compat_paths(void);

#endif
