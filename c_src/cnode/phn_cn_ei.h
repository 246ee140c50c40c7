/* Every C-node file includes ei through here: the C-node is multi-threaded (handshake
 * threads), so erl_errno must be the per-thread one that _REENTRANT selects.
 *
 * It also makes every ei_x_* encoding failure sticky. ei's self-growing buffers report an
 * out-of-memory (or an impossible encoding) only in the return value of the one call that
 * failed; the later calls may succeed on a fresh allocation and leave a buffer that looks
 * whole but misses a part. Here each ei_x_new* / ei_x_encode_* / ei_x_append* call of the
 * C-node is wrapped (a function-like macro of the same name, so call sites stay plain ei):
 * on failure the buffer is freed and left dead (buff NULL, and a size that makes ei never
 * allocate for it again), so every later call on it fails too. The senders (phn_cn_send.c)
 * check `buff != NULL` once, at the end, and drop or replace a dead message. The wrappers
 * also grow the buffer themselves before each call (phn_cn_x_room), because ei's growth
 * leaks the old block when realloc fails. */
#ifndef PHN_CN_EI_H
#define PHN_CN_EI_H

#ifndef _REENTRANT
#define _REENTRANT 1
#endif

#include <limits.h>
#include <stdlib.h>

#include <ei.h>

/* ei grows a buffer when index + len + ei_x_extra (100) passes its size: our margin is
 * above that, so ei never finds a C-node buffer too small. */
#define PHN_CN_X_MARGIN 256

/* Room for `need` more bytes (plus ei's own margin) in a live buffer, grown here with a
 * realloc that keeps the old block on failure: ei's own growth (x_fix_buff) loses the old
 * block when realloc fails, a leak that no caller can undo. With this room reserved before
 * every call, ei never has to grow a C-node buffer itself. 0, or -1 (buffer unchanged). */
static inline int phn_cn_x_room(ei_x_buff *x, long need)
{
    if (x->buff == NULL || need < 0 || x->index < 0 || (long)x->index > INT_MAX / 2 - need)
        return -1;
    long want = (long)x->index + need + PHN_CN_X_MARGIN;
    if (want <= (long)x->buffsz)
        return 0;
    long size = 2 * (long)x->buffsz > want ? 2 * (long)x->buffsz : want;
    if (size > INT_MAX / 2)
        size = want;
    char *grown = realloc(x->buff, (size_t)size);
    if (grown == NULL)
        return -1;
    x->buff = grown;
    x->buffsz = (int)size;
    return 0;
}

/* A failed call kills the buffer: freed, buff NULL, and a size so large that ei never
 * allocates for it again, so every later call on it fails too. */
static inline int phn_cn_x_chk(ei_x_buff *x, int rc)
{
    if (rc < 0) {
        if (x->buff != NULL)
            ei_x_free(x);
        x->buff = NULL;
        x->buffsz = INT_MAX;
        return -1;
    }
    return rc;
}

/* 1 if every encoding into x so far succeeded. */
static inline int phn_cn_x_ok(const ei_x_buff *x)
{
    return x->buff != NULL;
}

/* The most one encode call below writes: an atom of 255 four-byte characters with its
 * header (1023 bytes), or a pid / reference whose node is such an atom (1050). */
#define PHN_CN_X_ROOM 1536

#define PHN_CN_X(x, room, call) phn_cn_x_chk((x), phn_cn_x_room((x), (room)) < 0 ? -1 : (call))

#define ei_x_new(x) phn_cn_x_chk((x), ei_x_new(x))
#define ei_x_new_with_version(x) phn_cn_x_chk((x), ei_x_new_with_version(x))
#define ei_x_append_buf(x, buf, len) PHN_CN_X((x), (long)(len), ei_x_append_buf((x), (buf), (len)))
/* Atom texts are UTF-8 everywhere in the C-node (phn_cn_get_atom decodes every atom tag to
 * UTF-8), so they are encoded back as UTF-8 atoms: plain ei_x_encode_atom would write the
 * UTF-8 bytes as Latin-1 characters (a different atom) and refuse names over 255 bytes. */
#define ei_x_encode_atom(x, s)                                                                     \
    PHN_CN_X((x), PHN_CN_X_ROOM, ei_x_encode_atom_as((x), (s), ERLANG_UTF8, ERLANG_UTF8))
#define ei_x_encode_boolean(x, b) PHN_CN_X((x), PHN_CN_X_ROOM, ei_x_encode_boolean((x), (b)))
#define ei_x_encode_empty_list(x) PHN_CN_X((x), PHN_CN_X_ROOM, ei_x_encode_empty_list(x))
#define ei_x_encode_list_header(x, n)                                                              \
    PHN_CN_X((x), PHN_CN_X_ROOM, ei_x_encode_list_header((x), (n)))
#define ei_x_encode_long(x, n) PHN_CN_X((x), PHN_CN_X_ROOM, ei_x_encode_long((x), (n)))
#define ei_x_encode_longlong(x, n) PHN_CN_X((x), PHN_CN_X_ROOM, ei_x_encode_longlong((x), (n)))
#define ei_x_encode_map_header(x, n) PHN_CN_X((x), PHN_CN_X_ROOM, ei_x_encode_map_header((x), (n)))
#define ei_x_encode_pid(x, p) PHN_CN_X((x), PHN_CN_X_ROOM, ei_x_encode_pid((x), (p)))
#define ei_x_encode_ref(x, r) PHN_CN_X((x), PHN_CN_X_ROOM, ei_x_encode_ref((x), (r)))
#define ei_x_encode_tuple_header(x, n)                                                             \
    PHN_CN_X((x), PHN_CN_X_ROOM, ei_x_encode_tuple_header((x), (n)))
#define ei_x_encode_ulong(x, n) PHN_CN_X((x), PHN_CN_X_ROOM, ei_x_encode_ulong((x), (n)))
#define ei_x_encode_ulonglong(x, n) PHN_CN_X((x), PHN_CN_X_ROOM, ei_x_encode_ulonglong((x), (n)))
#define ei_x_encode_version(x) PHN_CN_X((x), PHN_CN_X_ROOM, ei_x_encode_version(x))

#endif
