/* A counting allocator for the core's tests, installed through phn_set_allocator. It
 * counts calls and live blocks (so a test can assert that it leaked nothing, on top of
 * valgrind and ASan) and fails on demand (so every PHN_ENOMEM path can be driven). */
#ifndef FAILING_ALLOC_H
#define FAILING_ALLOC_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "phn_alloc.h"

typedef struct fa_state {
    size_t calls;    /* alloc + realloc calls since fa_install, failed ones included */
    size_t live;     /* blocks allocated and not yet freed */
    size_t failures; /* calls refused */
    size_t fail_at;  /* the call with this number (0-based) fails ... */
    int fail_rest;   /* ... and, when set, every call after it too */
    int armed;
} fa_state;

/* Function-local static: one state per test binary, no unused-variable warnings. */
static inline fa_state *fa(void)
{
    static fa_state state;
    return &state;
}

static inline int fa_refuse(void)
{
    fa_state *s = fa();
    size_t n = s->calls++;
    if (s->armed && (n == s->fail_at || (s->fail_rest && n > s->fail_at))) {
        s->failures++;
        return 1;
    }
    return 0;
}

static inline void *fa_alloc(size_t size)
{
    if (fa_refuse())
        return NULL;
    void *p = malloc(size);
    if (p != NULL)
        fa()->live++;
    return p;
}

static inline void *fa_realloc(void *ptr, size_t size)
{
    if (fa_refuse())
        return NULL; /* like realloc: ptr stays valid */
    void *p = realloc(ptr, size);
    if (p != NULL && ptr == NULL)
        fa()->live++;
    return p;
}

static inline void fa_free(void *ptr)
{
    if (ptr != NULL)
        fa()->live--;
    free(ptr);
}

/* Install the counting allocator with fresh counters and no failure planned. */
static inline void fa_install(void)
{
    static const phn_allocator allocator = {fa_alloc, fa_realloc, fa_free};
    memset(fa(), 0, sizeof(*fa()));
    phn_set_allocator(&allocator);
}

static inline void fa_uninstall(void)
{
    phn_set_allocator(NULL);
}

/* The n-th allocator call from now (0-based) fails; the ones after succeed. */
static inline void fa_fail_nth(size_t n)
{
    fa_state *s = fa();
    s->fail_at = s->calls + n;
    s->fail_rest = 0;
    s->armed = 1;
    s->failures = 0;
}

/* The n-th allocator call from now and every later one fail. */
static inline void fa_fail_from(size_t n)
{
    fa_fail_nth(n);
    fa()->fail_rest = 1;
}

static inline void fa_disarm(void)
{
    fa()->armed = 0;
}

static inline size_t fa_live(void)
{
    return fa()->live;
}

static inline size_t fa_calls(void)
{
    return fa()->calls;
}

static inline size_t fa_failures(void)
{
    return fa()->failures;
}

/* cmocka per-test setup/teardown: every test runs on the counting allocator, and a test
 * that leaves a live block fails in its teardown. */
static inline int fa_setup(void **state)
{
    (void)state;
    fa_install();
    return 0;
}

static inline int fa_teardown(void **state)
{
    (void)state;
    size_t live = fa_live();
    fa_uninstall();
    return live == 0 ? 0 : -1;
}

#define FA_TEST(f) cmocka_unit_test_setup_teardown(f, fa_setup, fa_teardown)

#endif
