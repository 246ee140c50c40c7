/* phn_cn_atoms: names held by connections are freed with their last connection and their
 * ids reused, so that connecting under ever new names never fills the table; names the
 * owner interned stay pinned; the bound holds for live names; lookups of freed names miss.
 * (The network side, through the real C-node: phn_security_SUITE,
 * names_of_closed_connections_reclaimed.) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cn_harness.h"

static void test_hold_release_reuse(void **state)
{
    (void)state;
    phn_cn_atoms *a = phn_cn_atoms_new(16);
    assert_non_null(a);
    uint32_t self = phn_cn_atoms_intern(a, "self@h");
    assert_int_not_equal(self, 0);
    char name[64];
    /* 10 000 names one after the other through a table of 16. */
    for (int i = 0; i < 10000; i++) {
        snprintf(name, sizeof(name), "n%d@h", i);
        uint32_t id = phn_cn_atoms_hold(a, name);
        assert_int_not_equal(id, 0);
        assert_int_equal(phn_cn_atoms_find(a, name), id);
        assert_string_equal(phn_cn_atoms_text(a, id), name);
        assert_int_equal(phn_cn_atoms_release(a, id), 1);
        assert_int_equal(phn_cn_atoms_find(a, name), 0);
        assert_string_equal(phn_cn_atoms_text(a, id), "");
    }
    assert_int_equal(phn_cn_atoms_live(a), 1);
    assert_true(phn_cn_atoms_count(a) <= 2);
    /* Two holders: freed with the second release only. */
    uint32_t x = phn_cn_atoms_hold(a, "x@h");
    assert_int_equal(phn_cn_atoms_hold(a, "x@h"), x);
    assert_int_equal(phn_cn_atoms_release(a, x), 0);
    assert_int_equal(phn_cn_atoms_find(a, "x@h"), x);
    assert_int_equal(phn_cn_atoms_release(a, x), 1);
    /* Pinned by the owner meanwhile: kept. */
    uint32_t y = phn_cn_atoms_hold(a, "y@h");
    assert_int_equal(phn_cn_atoms_intern(a, "y@h"), y);
    assert_int_equal(phn_cn_atoms_release(a, y), 0);
    assert_int_equal(phn_cn_atoms_find(a, "y@h"), y);
    assert_int_equal(phn_cn_atoms_release(a, self), 0);
    /* The bound is on live names: 16 held, the 17th refused until one goes. */
    uint32_t ids[16];
    int held = 0;
    for (int i = 0; held < 16; i++) {
        snprintf(name, sizeof(name), "m%d@h", i);
        ids[held] = phn_cn_atoms_hold(a, name);
        if (ids[held] == 0)
            break;
        held++;
    }
    assert_int_equal(phn_cn_atoms_live(a), 16);
    assert_int_equal(phn_cn_atoms_hold(a, "late@h"), 0);
    assert_int_equal(phn_cn_atoms_release(a, ids[0]), 1);
    assert_int_not_equal(phn_cn_atoms_hold(a, "late@h"), 0);
    phn_cn_atoms_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hold_release_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
