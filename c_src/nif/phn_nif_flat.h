/* A compact, process-independent image of a term, for the terms phn_tracker keeps between
 * calls (meta, chunk results) without an ERTS environment per operation.
 *
 * Atoms are kept as their term word (atoms live as long as the VM, as the atoms cached at
 * load do), so that neither writing nor reading touches the atom table; integers of 64
 * bits, floats, whole-byte binaries and local pids (ErlNifPid) by value; lists, tuples and
 * maps by structure. Anything else (references, funs, ports, remote pids, bignums,
 * bitstrings with trailing bits) is kept in the external term format
 * (enif_term_to_binary) inside the image. Both directions walk the term iteratively (no
 * recursion, whatever the depth) and cost O(size); writing counts the term's weight and
 * stops at a limit, so that a caller on a normal scheduler learns that a term is too big
 * for it after bounded work. Images never leave the VM that wrote them. */
#ifndef PHN_NIF_FLAT_H
#define PHN_NIF_FLAT_H

#include <stddef.h>
#include <stdint.h>

#include <erl_nif.h>

#include "phn_bytes.h"

/* What writing (or reading) an image walks, in elements: one per term, one more per list
 * cell, and one per PHN_FLAT_BINARY_BYTES bytes copied (binaries, external-format parts).
 * Above PHN_DIRTY_THRESHOLD of them, callers use a dirty scheduler. */
#define PHN_FLAT_BINARY_BYTES 64

/* Append term's image to out, and its weight to *weight (if not NULL). PHN_OK,
 * PHN_ENOMEM, or PHN_ELIMIT as soon as the weight passes limit (out then holds a part of
 * an image: discard it); a tuple or a map too big for the limit is refused before its
 * elements are walked. With limit below SIZE_MAX, a bitstring with trailing bits, a fun
 * and an integer beyond 64 bits are PHN_ELIMIT too (their size is unknown to the NIF API
 * without a copy): such a term is written only by an unbounded walk, on a dirty
 * scheduler. */
int phn_flat_encode(ErlNifEnv *env, ERL_NIF_TERM term, size_t limit, phn_bytes *out,
                    size_t *weight);

/* The term of an image, built in env: 1, or 0 when out of memory (or when the bytes are
 * not one image, which cannot happen for bytes phn_flat_encode wrote). */
int phn_flat_decode(ErlNifEnv *env, const uint8_t *data, size_t len, ERL_NIF_TERM *out);

#endif
