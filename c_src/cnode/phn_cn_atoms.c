#include "phn_cn_atoms.h"

#include <string.h>

#include "phn_alloc.h"
#include "phn_hash.h"

#define ATOMS_SEED UINT64_C(0x13198a2e03707344)

typedef struct slot {
    char *text;     /* NULL: free */
    uint32_t next;  /* next id in its bucket's chain, or in the free list; 0 ends */
    uint32_t conns; /* connections holding it */
    int pinned;     /* interned by the owner */
} slot;

struct phn_cn_atoms {
    slot *slots;       /* slots[id - 1] */
    size_t nslots;     /* ids ever handed out: 1..nslots */
    size_t cap;        /* of slots */
    uint32_t *buckets; /* chain heads (ids), a power of two of them */
    size_t nbuckets;
    uint32_t free_ids; /* head of the free list */
    size_t live;
    size_t max;
};

static uint64_t text_hash(const char *s)
{
    return phn_hash_bytes((const uint8_t *)s, strlen(s), ATOMS_SEED);
}

static uint32_t *head_of(const phn_cn_atoms *a, const char *name)
{
    return &a->buckets[text_hash(name) & (a->nbuckets - 1)];
}

/* Twice the buckets, every live name re-chained. 0 or -1. */
static int grow_buckets(phn_cn_atoms *a)
{
    size_t n = a->nbuckets * 2;
    uint32_t *b = phn_calloc(n, sizeof(*b));
    if (b == NULL)
        return -1;
    phn_free(a->buckets);
    a->buckets = b;
    a->nbuckets = n;
    for (size_t i = 0; i < a->nslots; i++) {
        if (a->slots[i].text == NULL)
            continue;
        uint32_t *head = head_of(a, a->slots[i].text);
        a->slots[i].next = *head;
        *head = (uint32_t)i + 1;
    }
    return 0;
}

phn_cn_atoms *phn_cn_atoms_new(size_t max_atoms)
{
    phn_cn_atoms *a = phn_calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->max = max_atoms;
    a->nbuckets = 64;
    a->buckets = phn_calloc(a->nbuckets, sizeof(*a->buckets));
    if (a->buckets == NULL) {
        phn_free(a);
        return NULL;
    }
    return a;
}

void phn_cn_atoms_free(phn_cn_atoms *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->nslots; i++)
        phn_free(a->slots[i].text);
    phn_free(a->slots);
    phn_free(a->buckets);
    phn_free(a);
}

uint32_t phn_cn_atoms_find(const phn_cn_atoms *a, const char *name)
{
    for (uint32_t id = *head_of(a, name); id != 0; id = a->slots[id - 1].next)
        if (strcmp(a->slots[id - 1].text, name) == 0)
            return id;
    return 0;
}

static uint32_t intern(phn_cn_atoms *a, const char *name)
{
    uint32_t found = phn_cn_atoms_find(a, name);
    if (found != 0)
        return found;
    if (a->live >= a->max || a->nslots >= UINT32_MAX - 1)
        return 0;
    if (a->live >= a->nbuckets && grow_buckets(a) < 0)
        return 0;
    size_t len = strlen(name);
    char *copy = phn_malloc(len + 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, name, len + 1);
    uint32_t id = a->free_ids;
    if (id != 0) {
        a->free_ids = a->slots[id - 1].next;
    } else {
        if (a->nslots == a->cap) {
            size_t cap = a->cap ? a->cap * 2 : 64;
            slot *slots = phn_reallocarray(a->slots, cap, sizeof(*slots));
            if (slots == NULL) {
                phn_free(copy);
                return 0;
            }
            a->slots = slots;
            a->cap = cap;
        }
        id = (uint32_t)++a->nslots;
    }
    uint32_t *head = head_of(a, name);
    a->slots[id - 1] = (slot){copy, *head, 0, 0};
    *head = id;
    a->live++;
    return id;
}

uint32_t phn_cn_atoms_intern(phn_cn_atoms *a, const char *name)
{
    uint32_t id = intern(a, name);
    if (id != 0)
        a->slots[id - 1].pinned = 1;
    return id;
}

uint32_t phn_cn_atoms_hold(phn_cn_atoms *a, const char *name)
{
    uint32_t id = intern(a, name);
    if (id != 0)
        a->slots[id - 1].conns++;
    return id;
}

int phn_cn_atoms_release(phn_cn_atoms *a, uint32_t id)
{
    if (id == 0 || id > a->nslots || a->slots[id - 1].text == NULL)
        return 0;
    slot *s = &a->slots[id - 1];
    if (s->conns > 0)
        s->conns--;
    if (s->conns > 0 || s->pinned)
        return 0;
    /* Unlink from its chain, free the text, and put the id on the free list. */
    uint32_t *link = head_of(a, s->text);
    while (*link != id)
        link = &a->slots[*link - 1].next;
    *link = s->next;
    phn_free(s->text);
    s->text = NULL;
    s->next = a->free_ids;
    a->free_ids = id;
    a->live--;
    return 1;
}

const char *phn_cn_atoms_text(const phn_cn_atoms *a, uint32_t id)
{
    return id >= 1 && id <= a->nslots && a->slots[id - 1].text ? a->slots[id - 1].text : "";
}

size_t phn_cn_atoms_count(const phn_cn_atoms *a)
{
    return a->nslots;
}

size_t phn_cn_atoms_live(const phn_cn_atoms *a)
{
    return a->live;
}
