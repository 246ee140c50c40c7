/* Interned atom texts (node and hub names) -> small ids, so that the core's tables (keyed
 * by uint64) and the hub code compare names as integers. Two kinds of holders:
 *   - the owner (hub names, hub and operation nodes): pinned, kept for the C-node's life;
 *   - established connections: a peer's name is held while it has a connection (interned
 *     only after its handshake authenticated it and a connection slot was free) and freed
 *     when its last connection closes, unless the owner pinned it meanwhile. Its id is
 *     then reused, so that a member connecting under ever new names cannot fill the table.
 * Response decoding only looks names up, so a peer cannot grow the table by sending
 * made-up names. At most max_atoms names at once. */
#ifndef PHN_CN_ATOMS_H
#define PHN_CN_ATOMS_H

#include <stddef.h>
#include <stdint.h>

typedef struct phn_cn_atoms phn_cn_atoms;

phn_cn_atoms *phn_cn_atoms_new(size_t max_atoms);
void phn_cn_atoms_free(phn_cn_atoms *a);

/* The id of name (>= 1), interned and pinned. 0 when the table is full or out of memory. */
uint32_t phn_cn_atoms_intern(phn_cn_atoms *a, const char *name);

/* The id of name, interned if new, with one more connection holding it. 0 when full. */
uint32_t phn_cn_atoms_hold(phn_cn_atoms *a, const char *name);

/* One connection less on id. 1 when that freed the name (its id may be reused: the caller
 * forgets what it kept under it), else 0. */
int phn_cn_atoms_release(phn_cn_atoms *a, uint32_t id);

/* The id of name, or 0 if it is not interned. */
uint32_t phn_cn_atoms_find(const phn_cn_atoms *a, const char *name);

/* The text of id, or "" for an unknown or freed id. */
const char *phn_cn_atoms_text(const phn_cn_atoms *a, uint32_t id);

/* Every id is <= phn_cn_atoms_count (for arrays indexed by id). */
size_t phn_cn_atoms_count(const phn_cn_atoms *a);

/* Names interned now. */
size_t phn_cn_atoms_live(const phn_cn_atoms *a);

#endif
