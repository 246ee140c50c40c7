/* Term helpers shared by the NIFs: list walking, Elixir MapSet access, node hashing and
 * the small/big input dispatch. */
#ifndef PHN_NIF_TERMS_H
#define PHN_NIF_TERMS_H

#include <stddef.h>
#include <stdint.h>

#include <erl_nif.h>

/* Inputs past this many elements run on a dirty CPU scheduler: below it a call stays well
 * under 1 ms on a normal scheduler (bench/ measures it). */
#ifndef PHN_DIRTY_THRESHOLD
#define PHN_DIRTY_THRESHOLD 10000
#endif

/* A growable array of terms. Small ones live inline (no allocation on the common path of
 * a few nodes); larger ones are allocated with enif_alloc. Not copyable: items may point
 * into the struct. */
#define PHN_TERMS_INLINE 32
typedef struct phn_terms {
    ERL_NIF_TERM *items;
    size_t len;
    size_t cap;
    ERL_NIF_TERM inline_items[PHN_TERMS_INLINE];
} phn_terms;

void phn_terms_init(phn_terms *t);
void phn_terms_free(phn_terms *t);
int phn_terms_push(phn_terms *t, ERL_NIF_TERM item); /* PHN_OK / PHN_ENOMEM */

/* Copy a proper list's elements: PHN_OK, PHN_EINVAL (not a proper list), PHN_ENOMEM. */
int phn_list_to_terms(ErlNifEnv *env, ERL_NIF_TERM list, phn_terms *out);

/* Length of a list up to `limit`: PHN_OK with *len when it is proper and at most `limit`
 * long, PHN_ELIMIT when it has more cells, PHN_EINVAL when it ends in a non-list. Walks at
 * most limit + 1 cells. */
int phn_list_length_upto(ErlNifEnv *env, ERL_NIF_TERM list, size_t limit, size_t *len);

/* 1 if the list has more than `limit` cells (proper or not), 0 otherwise. Walks at most
 * limit + 1 cells. */
int phn_list_longer_than(ErlNifEnv *env, ERL_NIF_TERM list, size_t limit);

/* Elixir MapSet (%MapSet{map: %{elem => []}}): the inner map, or 0 if `set` is not one. */
int phn_mapset_inner(ErlNifEnv *env, ERL_NIF_TERM set, ERL_NIF_TERM *inner);
/* MapSet.put: 1 and *out on success, 0 if `set` is not a MapSet. */
int phn_mapset_put(ErlNifEnv *env, ERL_NIF_TERM set, ERL_NIF_TERM elem, ERL_NIF_TERM *out);

/* Node keys for phn_nodeset: the term itself, exact (=:=) equality, as map keys compare. */
uint64_t phn_term_hash(ERL_NIF_TERM term);
int phn_term_identical(uint64_t a, uint64_t b, void *ctx);

ERL_NIF_TERM phn_raise_enomem(ErlNifEnv *env);

/* Elements of work that cost about 1 % of a timeslice (~10 us at up to ~65 ns each: a
 * lookup in a large map plus a hash-set insert). Overcounting only preempts sooner. */
#define PHN_WORK_PER_PERCENT 150

/* The number of cells of a list, counting at most limit + 1 (proper or not). */
size_t phn_list_count_upto(ErlNifEnv *env, ERL_NIF_TERM list, size_t limit);

/* Report `work` elements walked on this scheduler (enif_consume_timeslice). */
void phn_consume_work(ErlNifEnv *env, size_t work);

/* Run `fun` on this scheduler when `work` (elements to walk) is at most
 * PHN_DIRTY_THRESHOLD, and report the time used with enif_consume_timeslice so that a
 * process calling many NIFs in a row is preempted as if it ran Erlang code; run it on a
 * dirty CPU scheduler otherwise. */
ERL_NIF_TERM phn_run_work(ErlNifEnv *env, const char *name,
                          ERL_NIF_TERM (*fun)(ErlNifEnv *, int, const ERL_NIF_TERM[]), size_t work,
                          int argc, const ERL_NIF_TERM argv[]);

/* Run `fun` now, or on a dirty CPU scheduler when `big`. */
ERL_NIF_TERM phn_run_sized(ErlNifEnv *env, const char *name,
                           ERL_NIF_TERM (*fun)(ErlNifEnv *, int, const ERL_NIF_TERM[]), int big,
                           int argc, const ERL_NIF_TERM argv[]);

#endif
