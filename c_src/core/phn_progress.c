#include "phn_progress.h"

#include "phn_alloc.h"

typedef struct progress_node {
    uint64_t node;
    uint32_t expected;
    uint32_t received;
} progress_node;

struct phn_progress {
    phn_nodeset index;    /* node -> position in nodes[] */
    progress_node *nodes; /* declaration order */
    size_t count;
    size_t cap;
    size_t missing; /* nodes with received < expected */
};

static int reserve(phn_progress *p, size_t need)
{
    if (need <= p->cap)
        return PHN_OK;
    size_t cap = p->cap < 4 ? 4 : p->cap;
    while (cap < need) {
        if (cap > SIZE_MAX / 2)
            return PHN_ENOMEM;
        cap *= 2;
    }
    progress_node *nodes = phn_reallocarray(p->nodes, cap, sizeof(*nodes));
    if (nodes == NULL)
        return PHN_ENOMEM;
    p->nodes = nodes;
    p->cap = cap;
    return PHN_OK;
}

phn_progress *phn_progress_new(size_t expected_nodes, phn_key_eq_fn eq, void *ctx)
{
    phn_progress *p = phn_calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    if (phn_nodeset_init(&p->index, expected_nodes, eq, ctx) != PHN_OK ||
        reserve(p, expected_nodes) != PHN_OK) {
        phn_progress_free(p);
        return NULL;
    }
    return p;
}

void phn_progress_free(phn_progress *p)
{
    if (p == NULL)
        return;
    phn_nodeset_free(&p->index);
    phn_free(p->nodes);
    phn_free(p);
}

int phn_progress_expect(phn_progress *p, uint64_t node, uint64_t hash, uint32_t chunks)
{
    if (chunks == 0)
        return PHN_EINVAL;

    uint64_t at;
    if (phn_nodeset_find(&p->index, node, hash, &at)) {
        progress_node *n = &p->nodes[at];
        if (chunks > UINT32_MAX - n->expected)
            return PHN_EINVAL;
        if (n->received == n->expected)
            p->missing++; /* it was done; now it owes again */
        n->expected += chunks;
        return PHN_OK;
    }

    /* Room in nodes[] first: if the index insert then fails, the spare room is harmless. */
    if (reserve(p, p->count + 1) != PHN_OK)
        return PHN_ENOMEM;
    int rc = phn_nodeset_insert(&p->index, node, hash, p->count, NULL);
    if (rc < 0)
        return rc;
    p->nodes[p->count] = (progress_node){node, chunks, 0};
    p->count++;
    p->missing++;
    return PHN_OK;
}

phn_rec_result phn_progress_record(phn_progress *p, uint64_t node, uint64_t hash,
                                   size_t *node_index)
{
    uint64_t at;
    if (!phn_nodeset_find(&p->index, node, hash, &at))
        return PHN_REC_UNEXPECTED;
    progress_node *n = &p->nodes[at];
    if (n->received == n->expected)
        return PHN_REC_EXTRA;
    n->received++;
    if (node_index != NULL)
        *node_index = (size_t)at;
    if (n->received == n->expected && --p->missing == 0)
        return PHN_REC_COMPLETE;
    return PHN_REC_PENDING;
}

size_t phn_progress_nodes(const phn_progress *p)
{
    return p->count;
}

size_t phn_progress_missing_nodes(const phn_progress *p)
{
    return p->missing;
}

uint64_t phn_progress_node_at(const phn_progress *p, size_t i)
{
    return i < p->count ? p->nodes[i].node : 0;
}

uint32_t phn_progress_expected_at(const phn_progress *p, size_t i)
{
    return i < p->count ? p->nodes[i].expected : 0;
}

uint32_t phn_progress_received_at(const phn_progress *p, size_t i)
{
    return i < p->count ? p->nodes[i].received : 0;
}

void phn_progress_set_counters(phn_progress *p, phn_counters *c)
{
    p->index.counters = c;
}

size_t phn_progress_bytes(const phn_progress *p)
{
    return sizeof(*p) + phn_nodeset_bytes(&p->index) + p->cap * sizeof(progress_node);
}
