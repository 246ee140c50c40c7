/* cleanup_expired over the drop-in's pending_operations map (REFERENCE.md §2.2): drop each
 * operation whose expires_at is below Now in Erlang term order (Now > ExpiresAt, so a nil
 * expires_at never expires, as in the original). */
#include "phn_alloc.h"
#include "phn_nif_atoms.h"
#include "phn_nif_funcs.h"
#include "phn_nif_terms.h"
#include "phn_status.h"

/* Collect the keys of expired operations; PHN_EINVAL if a value has no expires_at. */
static int find_expired(ErlNifEnv *env, ERL_NIF_TERM pending, ERL_NIF_TERM now, phn_terms *expired)
{
    ErlNifMapIterator iter;
    ERL_NIF_TERM key, op, expires_at;
    int rc = PHN_OK;
    if (!enif_map_iterator_create(env, pending, &iter, ERL_NIF_MAP_ITERATOR_FIRST))
        return PHN_EINVAL;
    while (rc == PHN_OK && enif_map_iterator_get_pair(env, &iter, &key, &op)) {
        if (!enif_get_map_value(env, op, phn_atoms.expires_at, &expires_at))
            rc = PHN_EINVAL;
        else if (enif_compare(now, expires_at) > 0)
            rc = phn_terms_push(expired, key);
        enif_map_iterator_next(env, &iter);
    }
    enif_map_iterator_destroy(env, &iter);
    return rc;
}

static ERL_NIF_TERM cleanup_expired_run(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    ERL_NIF_TERM pending = argv[0], out = pending;
    if (!enif_is_map(env, pending) || !enif_is_number(env, argv[1]))
        return enif_make_badarg(env);

    phn_terms expired;
    phn_terms_init(&expired);
    int rc = find_expired(env, pending, argv[1], &expired);
    for (size_t i = 0; rc == PHN_OK && i < expired.len; i++) {
        if (!enif_make_map_remove(env, out, expired.items[i], &out))
            rc = PHN_EINVAL;
    }
    phn_terms_free(&expired);
    if (rc == PHN_ENOMEM)
        return phn_raise_enomem(env);
    return rc == PHN_OK ? out : enif_make_badarg(env);
}

ERL_NIF_TERM phn_nif_cleanup_expired(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    size_t size = 0;
    if (!enif_get_map_size(env, argv[0], &size))
        size = 0; /* not a map: cleanup_expired_run raises badarg */
    return phn_run_work(env, "cleanup_expired", cleanup_expired_run, size, argc, argv);
}
