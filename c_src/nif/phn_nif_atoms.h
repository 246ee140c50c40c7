/* Atoms are made once, in load/upgrade, never per call. Each concern keeps its own list;
 * this header joins them. */
#ifndef PHN_NIF_ATOMS_H
#define PHN_NIF_ATOMS_H

#include <erl_nif.h>

/* X(field, "text") */
#define PHN_ATOMS_COMMON(X)                                                                        \
    X(ok, "ok")                                                                                    \
    X(error, "error")                                                                              \
    X(true_, "true")                                                                               \
    X(false_, "false")                                                                             \
    X(nil, "nil")                                                                                  \
    X(enomem, "enomem")                                                                            \
    X(struct_, "__struct__")

#define PHN_ATOMS_REQUEST_MANAGER(X)                                                               \
    X(complete, "complete")                                                                        \
    X(pending, "pending")                                                                          \
    X(completed, "completed")                                                                      \
    X(status, "status")                                                                            \
    X(node, "node")                                                                                \
    X(results, "results")                                                                          \
    X(sub_requests, "sub_requests")                                                                \
    X(completed_nodes, "completed_nodes")                                                          \
    X(nodes_data, "nodes_data")                                                                    \
    X(expires_at, "expires_at")                                                                    \
    X(map, "map")                                                                                  \
    X(mapset, "Elixir.MapSet")

#define PHN_ATOMS(X)                                                                               \
    PHN_ATOMS_COMMON(X)                                                                            \
    PHN_ATOMS_REQUEST_MANAGER(X)

typedef struct phn_atoms_t {
#define PHN_ATOM_FIELD(field, text) ERL_NIF_TERM field;
    PHN_ATOMS(PHN_ATOM_FIELD)
#undef PHN_ATOM_FIELD
} phn_atoms_t;

extern phn_atoms_t phn_atoms;

void phn_atoms_init(ErlNifEnv *env);

#endif
