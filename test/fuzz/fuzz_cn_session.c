/* A whole C-node session, statefully: the input is a sequence of records
 * <<Kind, Len:16/little, Bytes:Len>> run in order on the seeded state of fuzz_cn_common.h:
 *   0  a control command (phn_cn_cmd_packet)
 *   1  a distribution packet from a@h, framed and handed to phn_cn_loop_dist_input
 *   2  the same from b@h
 *   3  raw bytes of a@h's stream (any framing)
 *   4  time passes: Bytes[0..1] milliseconds; expiry and the own view's housekeeping run
 *   5  the C-node's allocator fails the call the bytes choose (fz_fail_from_input)
 *   6  b@h's connection closes
 *   7  the output is drained (as the owner and the peers read it)
 * so that early responses meet their registration, chunks complete or expire operations,
 * hubs change verdicts and push them, connections are lost, and allocations fail between
 * and inside all of it. Everything written is checked well-formed; at the end everything
 * expires, the collector's accounting must be back to zero and nothing may leak.
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
    if (size > (1u << 20))
        return 0;
    phn_cn *cn = fzcn_begin();
    fz_in in = fz_input(data, size);
    while (fz_more(&in)) {
        uint8_t kind = fz_u8(&in) % 8u;
        size_t len = fz_u16(&in);
        if (len > in.n)
            len = in.n;
        const uint8_t *p = in.p;
        in.p += len;
        in.n -= len;
        switch (kind) {
        case 0: {
            char *pkt = malloc(len ? len : 1);
            FZ_CHECK(pkt != NULL);
            memcpy(pkt, p, len);
            phn_cn_cmd_packet(cn, pkt, len);
            free(pkt);
            break;
        }
        case 1:
        case 2:
            fzcn_feed_packet(kind - 1, p, len);
            break;
        case 3:
            if (fzcn_g.conn[0] != NULL && !fzcn_g.conn[0]->closing &&
                phn_cn_buf_append(&fzcn_g.conn[0]->in, p, len) == 0)
                phn_cn_loop_dist_input(cn, fzcn_g.conn[0]);
            break;
        case 4: {
            fz_in t = fz_input(p, len);
            fzcn_advance(fz_u16(&t));
            break;
        }
        case 5: {
            fz_in f = fz_input(p, len);
            fz_fail_from_input(&f);
            break;
        }
        case 6:
            fzcn_close(1);
            break;
        default:
            fzcn_drain();
            break;
        }
        for (int k = 0; k < 2; k++)
            if (fzcn_g.conn[k] != NULL && fzcn_g.conn[k]->closing)
                fzcn_close(k);
    }
    fzcn_end();
    return 0;
}
