/* Interned atom texts (node and hub names) -> small ids, so that the core's tables (keyed
 * by uint64) and the hub code compare names as integers. Only the control channel and
 * accepted connections intern; response decoding only looks names up, so a peer cannot
 * grow the table by sending made-up names. Capped; ids are never reused. */
#ifndef PHN_CN_ATOMS_H
#define PHN_CN_ATOMS_H

#include <stddef.h>
#include <stdint.h>

typedef struct phn_cn_atoms phn_cn_atoms;

phn_cn_atoms *phn_cn_atoms_new(size_t max_atoms);
void phn_cn_atoms_free(phn_cn_atoms *a);

/* The id of name (>= 1), interning it if new. 0 when the table is full or out of memory. */
uint32_t phn_cn_atoms_intern(phn_cn_atoms *a, const char *name);

/* The id of name, or 0 if it was never interned. */
uint32_t phn_cn_atoms_find(const phn_cn_atoms *a, const char *name);

/* The text of id, or "" for an unknown id. */
const char *phn_cn_atoms_text(const phn_cn_atoms *a, uint32_t id);

size_t phn_cn_atoms_count(const phn_cn_atoms *a);

#endif
