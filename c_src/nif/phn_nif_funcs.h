/* The NIF function table, one X(name, arity, c_function, flags) line per exported NIF.
 * Each concern's functions are declared in its own list; phn_nif.c builds the table. */
#ifndef PHN_NIF_FUNCS_H
#define PHN_NIF_FUNCS_H

#include <erl_nif.h>

#define PHN_FUNCS_REQUEST_MANAGER(X)                                                               \
    X(record_response, 4, phn_nif_record_response, 0)                                              \
    X(all_responded, 1, phn_nif_all_responded, 0)                                                  \
    X(process_response, 3, phn_nif_process_response, 0)                                            \
    X(split_list, 3, phn_nif_split_list, 0)                                                        \
    X(split_map, 4, phn_nif_split_map, 0)                                                          \
    X(populate_forward, 3, phn_nif_populate_forward, 0)                                            \
    X(cleanup_expired, 2, phn_nif_cleanup_expired, 0)

#define PHN_FUNCS(X) PHN_FUNCS_REQUEST_MANAGER(X)

#define PHN_FUNC_DECL(name, arity, cfun, flags)                                                    \
    ERL_NIF_TERM cfun(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[]);
PHN_FUNCS(PHN_FUNC_DECL)
#undef PHN_FUNC_DECL

#endif
