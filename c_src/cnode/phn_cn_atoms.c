#include "phn_cn_atoms.h"

#include <string.h>

#include "phn_alloc.h"
#include "phn_hash.h"
#include "phn_nodeset.h"

#define ATOMS_SEED UINT64_C(0x13198a2e03707344)

struct phn_cn_atoms {
    phn_nodeset index; /* id -> id, hashed by text; key 0 probes `probe` */
    char **texts;      /* texts[id - 1] */
    size_t count;
    size_t cap;
    size_t max;
    const char *probe; /* the text being looked up (key 0 in the index) */
};

static const char *text_of(const phn_cn_atoms *a, uint64_t key)
{
    return key == 0 ? a->probe : a->texts[key - 1];
}

static int text_eq(uint64_t stored, uint64_t probe, void *ctx)
{
    const phn_cn_atoms *a = ctx;
    return strcmp(text_of(a, stored), text_of(a, probe)) == 0;
}

static uint64_t text_hash(const char *s)
{
    return phn_hash_bytes((const uint8_t *)s, strlen(s), ATOMS_SEED);
}

phn_cn_atoms *phn_cn_atoms_new(size_t max_atoms)
{
    phn_cn_atoms *a = phn_calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->max = max_atoms;
    if (phn_nodeset_init(&a->index, 64, text_eq, a) != 0) {
        phn_free(a);
        return NULL;
    }
    return a;
}

void phn_cn_atoms_free(phn_cn_atoms *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->count; i++)
        phn_free(a->texts[i]);
    phn_free(a->texts);
    phn_nodeset_free(&a->index);
    phn_free(a);
}

uint32_t phn_cn_atoms_find(const phn_cn_atoms *a, const char *name)
{
    uint64_t id;
    ((phn_cn_atoms *)a)->probe = name;
    if (!phn_nodeset_find(&a->index, 0, text_hash(name), &id))
        return 0;
    return (uint32_t)id;
}

uint32_t phn_cn_atoms_intern(phn_cn_atoms *a, const char *name)
{
    uint32_t found = phn_cn_atoms_find(a, name);
    if (found != 0)
        return found;
    if (a->count >= a->max || a->count >= UINT32_MAX - 1)
        return 0;
    if (a->count == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        char **texts = phn_reallocarray(a->texts, cap, sizeof(*texts));
        if (texts == NULL)
            return 0;
        a->texts = texts;
        a->cap = cap;
    }
    size_t len = strlen(name);
    char *copy = phn_malloc(len + 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, name, len + 1);
    uint32_t id = (uint32_t)a->count + 1;
    a->texts[a->count] = copy;
    a->count++;
    if (phn_nodeset_insert(&a->index, id, text_hash(name), id, NULL) < 0) {
        a->count--;
        phn_free(copy);
        return 0;
    }
    return id;
}

const char *phn_cn_atoms_text(const phn_cn_atoms *a, uint32_t id)
{
    return id >= 1 && id <= a->count ? a->texts[id - 1] : "";
}

size_t phn_cn_atoms_count(const phn_cn_atoms *a)
{
    return a->count;
}
