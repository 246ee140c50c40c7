/* Library entry: function table, load/upgrade/unload. Core allocations go through
 * enif_alloc so the VM accounts for them. */
#include <erl_nif.h>

#include "phn_alloc.h"
#include "phn_nif_atoms.h"
#include "phn_nif_funcs.h"
#include "phn_nif_tracker.h"

static ErlNifFunc phn_nif_funcs[] = {
#define PHN_FUNC_ENTRY(name, arity, cfun, flags) {#name, arity, cfun, flags},
    PHN_FUNCS(PHN_FUNC_ENTRY)
#undef PHN_FUNC_ENTRY
};

static void *phn_enif_realloc(void *ptr, size_t size)
{
    return enif_realloc(ptr, size);
}

static int phn_setup(ErlNifEnv *env)
{
    static const phn_allocator enif_allocator = {enif_alloc, phn_enif_realloc, enif_free};
    phn_set_allocator(&enif_allocator);
    phn_atoms_init(env);
    return phn_nif_tracker_load(env);
}

static int phn_load(ErlNifEnv *env, void **priv_data, ERL_NIF_TERM load_info)
{
    (void)load_info;
    *priv_data = NULL;
    return phn_setup(env);
}

/* Reload of the module (code:purge + load): the new instance re-creates its atoms. */
static int phn_upgrade(ErlNifEnv *env, void **priv_data, void **old_priv_data,
                       ERL_NIF_TERM load_info)
{
    (void)load_info;
    *priv_data = *old_priv_data;
    return phn_setup(env);
}

static void phn_unload(ErlNifEnv *env, void *priv_data)
{
    (void)env;
    (void)priv_data;
    phn_nif_tracker_unload();
}

ERL_NIF_INIT(phn_nif, phn_nif_funcs, phn_load, NULL, phn_upgrade, phn_unload)
