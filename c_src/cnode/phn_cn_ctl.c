#include "phn_cn_ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "phn_status.h"

#define READ_CHUNK 65536
/* Input buffered beyond the packet at the head: commands the loop has not handled yet. */
#define CTL_IN_SLACK ((size_t)1 << 20)

static void set_nonblock(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        (void)fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

void phn_cn_ctl_init(phn_cn_ctl *c, int in_fd, int out_fd, size_t max_in)
{
    memset(c, 0, sizeof(*c));
    c->in_fd = in_fd;
    c->out_fd = out_fd;
    c->max_in = max_in;
    set_nonblock(in_fd);
    set_nonblock(out_fd);
}

void phn_cn_ctl_free(phn_cn_ctl *c)
{
    /* Incoming packets may hold secrets (the cookie): wipe before freeing. */
    if (c->in.data != NULL)
        memset(c->in.data, 0, c->in.cap);
    phn_cn_buf_free(&c->in);
    phn_cn_buf_free(&c->out);
}

/* Length of the packet at the head, or -1 if its header is not complete. */
static long head_len(const phn_cn_ctl *c)
{
    if (phn_cn_buf_avail(&c->in) < 4)
        return -1;
    return (long)phn_cn_get32be(phn_cn_buf_head(&c->in));
}

int phn_cn_ctl_has_packet(const phn_cn_ctl *c)
{
    long want = head_len(c);
    return want >= 0 && (size_t)want <= c->max_in && phn_cn_buf_avail(&c->in) - 4 >= (size_t)want;
}

int phn_cn_ctl_want_input(const phn_cn_ctl *c)
{
    return !phn_cn_ctl_has_packet(c) || phn_cn_buf_avail(&c->in) < CTL_IN_SLACK;
}

void phn_cn_ctl_read(phn_cn_ctl *c)
{
    for (int rounds = 0; rounds < 64 && !c->eof && phn_cn_ctl_want_input(c); rounds++) {
        long want = head_len(c);
        if (want >= 0 && (size_t)want > c->max_in) {
            c->eof = 1; /* the owner is broken; nothing sane can follow */
            return;
        }
        if (phn_cn_buf_reserve(&c->in, READ_CHUNK) != PHN_OK) {
            c->eof = 1;
            return;
        }
        ssize_t n = read(c->in_fd, c->in.data + c->in.len, c->in.cap - c->in.len);
        if (n > 0) {
            c->in.len += (size_t)n;
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            c->eof = 1;
        return;
    }
}

int phn_cn_ctl_next(phn_cn_ctl *c, const char **payload, size_t *len)
{
    long want = head_len(c);
    if (want < 0 || (size_t)want > c->max_in || phn_cn_buf_avail(&c->in) - 4 < (size_t)want)
        return 0;
    *payload = (const char *)phn_cn_buf_head(&c->in) + 4;
    *len = (size_t)want;
    return 1;
}

void phn_cn_ctl_consume(phn_cn_ctl *c)
{
    long want = head_len(c);
    if (want >= 0) {
        memset(phn_cn_buf_head(&c->in), 0, 4 + (size_t)want);
        phn_cn_buf_consume(&c->in, 4 + (size_t)want);
    }
}

int phn_cn_ctl_send(phn_cn_ctl *c, const char *payload, size_t len)
{
    uint8_t hdr[4];
    if (len > UINT32_MAX)
        return PHN_EINVAL;
    phn_cn_put32be(hdr, (uint32_t)len);
    if (phn_cn_buf_reserve(&c->out, 4 + len) != PHN_OK)
        return PHN_ENOMEM;
    phn_cn_buf_append(&c->out, hdr, 4);
    phn_cn_buf_append(&c->out, payload, len);
    (void)phn_cn_ctl_flush(c);
    return PHN_OK;
}

int phn_cn_ctl_flush(phn_cn_ctl *c)
{
    while (phn_cn_buf_avail(&c->out) > 0) {
        ssize_t n = write(c->out_fd, phn_cn_buf_head(&c->out), phn_cn_buf_avail(&c->out));
        if (n > 0) {
            phn_cn_buf_consume(&c->out, (size_t)n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return 0;
        return -1;
    }
    return 0;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int phn_cn_ctl_wait_packet(phn_cn_ctl *c, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    const char *p;
    size_t len;
    while (!phn_cn_ctl_next(c, &p, &len)) {
        long long left = deadline - now_ms();
        if (c->eof || left <= 0)
            return 0;
        struct pollfd pfd = {c->in_fd, POLLIN, 0};
        if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
            return 0;
        phn_cn_ctl_read(c);
    }
    return 1;
}

void phn_cn_ctl_drain(phn_cn_ctl *c, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    while (phn_cn_buf_avail(&c->out) > 0) {
        long long left = deadline - now_ms();
        if (left <= 0 || phn_cn_ctl_flush(c) < 0)
            return;
        if (phn_cn_buf_avail(&c->out) == 0)
            return;
        struct pollfd pfd = {c->out_fd, POLLOUT, 0};
        if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
            return;
    }
}
