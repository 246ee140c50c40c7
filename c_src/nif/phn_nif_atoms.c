#include "phn_nif_atoms.h"

phn_atoms_t phn_atoms;

void phn_atoms_init(ErlNifEnv *env)
{
#define PHN_ATOM_MAKE(field, text) phn_atoms.field = enif_make_atom(env, text);
    PHN_ATOMS(PHN_ATOM_MAKE)
#undef PHN_ATOM_MAKE
}
