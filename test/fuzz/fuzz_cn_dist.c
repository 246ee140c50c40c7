/* Distribution input of the C-node as it arrives after the handshake: the input is the
 * byte stream of the connection from a@h (4-byte lengths, ticks, pass-through packets with
 * a control tuple and a message), handed to phn_cn_loop_dist_input in pieces whose sizes
 * the first input byte sets, as recv() would cut it; then the same bytes once more as one
 * single packet from b@h through phn_cn_dist_packet. The state is the seeded one of
 * fuzz_cn_common.h, so responses to R0 / R1 and calls to hub0 reach the collector and the
 * partition service. Every reply and message the C-node writes is checked well-formed;
 * nothing may crash, leak or read out of bounds, and after everything expired the
 * collector holds nothing.
 * fuzz-srcs: c_src/cnode/phn_cn_check.c c_src/cnode/phn_cn_sock.c c_src/cnode/phn_cn_compat.c
 * fuzz-srcs: c_src/cnode/phn_cn_args.c c_src/cnode/phn_cn_atoms.c c_src/cnode/phn_cn_buf.c
 * fuzz-srcs: c_src/cnode/phn_cn_cmd.c c_src/cnode/phn_cn_collect.c c_src/cnode/phn_cn_conn.c
 * fuzz-srcs: c_src/cnode/phn_cn_ctl.c c_src/cnode/phn_cn_dist.c c_src/cnode/phn_cn_hub.c
 * fuzz-srcs: c_src/cnode/phn_cn_hub_cmd.c c_src/cnode/phn_cn_loop.c c_src/cnode/phn_cn_send.c
 * fuzz-srcs: c_src/cnode/phn_cn_state.c c_src/cnode/phn_cn_strategy.c c_src/cnode/phn_cn_term.c
 * fuzz-srcs: c_src/cnode/phn_cn_threads.c c_src/cnode/phn_cn_watch.c
 * fuzz-cflags: -Ic_src/cnode -I$(EI_DIR)/include
 * fuzz-ldlibs: -L$(EI_DIR)/lib -lei -lpthread
 */
#include "fuzz_cn_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > (1u << 20))
        return 0;
    phn_cn *cn = fzcn_begin();
    size_t piece = 1 + data[0] % 64u;
    piece = piece == 64 ? size : piece * 7;
    const uint8_t *p = data + 1;
    size_t left = size - 1;
    phn_cn_conn *a = fzcn_g.conn[0];
    while (left > 0 && !a->closing) {
        size_t n = left < piece ? left : piece;
        if (phn_cn_buf_append(&a->in, p, n) != 0)
            break;
        p += n;
        left -= n;
        phn_cn_loop_dist_input(cn, a);
        fzcn_drain();
    }
    if (size > 1) {
        /* The whole input as one packet, straight to the packet handler. */
        char *pkt = malloc(size - 1);
        FZ_CHECK(pkt != NULL);
        memcpy(pkt, data + 1, size - 1);
        (void)phn_cn_dist_packet(cn, fzcn_g.conn[1], pkt, (int)(size - 1));
        free(pkt);
        fzcn_drain();
    }
    fzcn_advance(50);
    fzcn_end();
    return 0;
}
