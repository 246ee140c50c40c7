/* The control channel: the input is the byte stream the owner writes to the C-node's stdin
 * ({packet, 4} frames of external terms), buffered as phn_cn_ctl_read leaves it and handled
 * by phn_cn_loop_ctl_input turn after turn, on the seeded state of fuzz_cn_common.h (so
 * commands about hub0, R0 and R1 find them). Every command must get exactly one
 * well-formed reply, unless not even its sequence term decodes (then it is counted as
 * malformed): replies + malformed = frames handled. Then the whole input is taken as the
 * first packet, the cookie: accepted only as {cookie, Binary} of 1..255 bytes without NUL,
 * and the packet's bytes are wiped once read.
 * fuzz-srcs: c_src/cnode/phn_cn_check.c c_src/cnode/phn_cn_sock.c c_src/cnode/phn_cn_compat.c
 * fuzz-srcs: c_src/cnode/phn_cn_args.c c_src/cnode/phn_cn_atoms.c c_src/cnode/phn_cn_buf.c
 * fuzz-srcs: c_src/cnode/phn_cn_cmd.c c_src/cnode/phn_cn_collect.c c_src/cnode/phn_cn_conn.c
 * fuzz-srcs: c_src/cnode/phn_cn_ctl.c c_src/cnode/phn_cn_dist.c c_src/cnode/phn_cn_hub.c
 * fuzz-srcs: c_src/cnode/phn_cn_hub_cmd.c c_src/cnode/phn_cn_loop.c c_src/cnode/phn_cn_send.c
 * fuzz-srcs: c_src/cnode/phn_cn_state.c c_src/cnode/phn_cn_strategy.c c_src/cnode/phn_cn_term.c
 * fuzz-srcs: c_src/cnode/phn_cn_threads.c c_src/cnode/phn_cn_watch.c c_src/cnode/phn_cn_secret.c
 * fuzz-cflags: -Ic_src/cnode -I$(EI_DIR)/include
 * fuzz-ldlibs: -L$(EI_DIR)/lib -lei -lpthread
 */
#include "fuzz_cn_common.h"

#include "phn_cn_secret.h"

/* Complete frames at the start of the stream that the channel accepts (length <= max). */
static size_t frames_in(const uint8_t *p, size_t len, size_t max)
{
    size_t n = 0, at = 0;
    while (len - at >= 4) {
        uint32_t l = phn_cn_get32be(p + at);
        if (l > max || len - at - 4 < l)
            break;
        n++;
        at += 4 + (size_t)l;
    }
    return n;
}

static void cookie(const uint8_t *data, size_t size)
{
    phn_cn_ctl ctl;
    phn_cn_ctl_init(&ctl, -1, -1, 1u << 20);
    uint8_t hdr[4];
    phn_cn_put32be(hdr, (uint32_t)size);
    if (phn_cn_buf_append(&ctl.in, hdr, 4) != 0 || phn_cn_buf_append(&ctl.in, data, size) != 0) {
        phn_cn_ctl_free(&ctl);
        return;
    }
    char out[EI_MAX_COOKIE_SIZE + 1];
    if (phn_cn_cookie_get(&ctl, out, sizeof(out), 0) == 0) {
        size_t n = strlen(out);
        FZ_CHECK(n > 0 && n < sizeof(out));
        FZ_CHECK(memmem(data, size, out, n) != NULL);
    }
    /* The packet was consumed and its bytes zeroed (the buffer may also be gone). */
    FZ_CHECK(phn_cn_buf_avail(&ctl.in) == 0);
    for (size_t i = 0; ctl.in.data != NULL && i < ctl.in.cap && i < size + 4; i++)
        FZ_CHECK(ctl.in.data[i] == 0);
    phn_cn_ctl_free(&ctl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20))
        return 0;
    phn_cn *cn = fzcn_begin();
    size_t frames = frames_in(data, size, cn->cfg.max_ctl_bytes);
    if (phn_cn_buf_append(&cn->ctl.in, data, size) == 0) {
        for (int turn = 0; turn < 1000 && phn_cn_ctl_has_packet(&cn->ctl); turn++) {
            phn_cn_loop_ctl_input(cn);
            fzcn_drain();
        }
        FZ_CHECK(!phn_cn_ctl_has_packet(&cn->ctl));
        FZ_CHECK(fzcn_g.replies + cn->stats.msgs_malformed == frames);
    }
    fzcn_advance(10);
    fzcn_end();
    if (size > 0)
        cookie(data, size);
    return 0;
}
