#include "phn_cn_strategy.h"

#include <string.h>

#include "phn_alloc.h"
#include "phn_cn_term.h"

#define PT_PREFIX "Elixir.ProcessHub.Strategy.PartitionTolerance."

static const char *const modules[] = {
    PT_PREFIX "Divergence",
    PT_PREFIX "StaticQuorum",
    PT_PREFIX "DynamicQuorum",
    PT_PREFIX "MajorityQuorum",
};

const char *phn_cn_strategy_module(phn_pt_kind kind)
{
    return modules[kind];
}

/* Position of the value for atom key `name` in the map at idx, or -1. */
static int map_find(const char *buf, int idx, const char *name)
{
    int arity;
    if (ei_decode_map_header(buf, &idx, &arity) < 0)
        return -1;
    for (int i = 0; i < arity; i++) {
        if (phn_cn_match_atom(buf, &idx, name))
            return idx;
        if (phn_cn_term_skip(buf, &idx, INT32_MAX) < 0 ||
            phn_cn_term_skip(buf, &idx, INT32_MAX) < 0)
            return -1;
    }
    return -1;
}

static int field_number(const char *buf, int map, const char *name, int required, double *out)
{
    int at = map_find(buf, map, name);
    if (at < 0)
        return required ? -1 : 0;
    return phn_cn_get_number(buf, &at, out);
}

static int field_flag(const char *buf, int map, const char *name, int *out)
{
    int at = map_find(buf, map, name);
    return at < 0 ? 0 : phn_cn_get_flag(buf, &at, out);
}

int phn_cn_strategy_decode(const char *buf, int *idx, phn_pt_strategy *s)
{
    int map = *idx, at = map_find(buf, map, "__struct__");
    char mod[MAXATOMLEN_UTF8];
    if (at < 0 || phn_cn_get_atom(buf, &at, mod) < 0)
        return -1;
    int kind = -1;
    for (int k = 0; k < 4; k++)
        if (strcmp(mod, modules[k]) == 0)
            kind = k;
    if (kind < 0)
        return -1;
    phn_pt_defaults(s, (phn_pt_kind)kind);
    int rc = 0;
    switch (s->kind) {
    case PHN_PT_STATIC:
        rc = field_number(buf, map, "quorum_size", 1, &s->quorum_size) < 0 ||
             field_flag(buf, map, "startup_confirm", &s->startup_confirm) < 0;
        break;
    case PHN_PT_DYNAMIC:
        rc = field_number(buf, map, "quorum_size", 1, &s->quorum_size) < 0 ||
             field_number(buf, map, "threshold_time", 0, &s->threshold_time) < 0;
        break;
    case PHN_PT_MAJORITY: {
        int init = map_find(buf, map, "initial_cluster_size");
        rc = (init >= 0 && phn_cn_get_int64(buf, &init, &s->initial_cluster_size) < 0) ||
             field_flag(buf, map, "track_max_size", &s->track_max_size) < 0;
        break;
    }
    default:
        break;
    }
    if (rc)
        return -1;
    return phn_cn_term_skip(buf, idx, INT32_MAX);
}

int phn_cn_log_decode(const char *buf, int *idx, phn_cn_atoms *atoms, phn_pt_state *st)
{
    int arity, type, size;
    if (ei_get_type(buf, idx, &type, &size) < 0 || (type != ERL_LIST_EXT && type != ERL_NIL_EXT))
        return -1;
    if (ei_decode_list_header(buf, idx, &arity) < 0 || arity < 0)
        return -1;
    phn_pt_down *rows = arity ? phn_calloc((size_t)arity, sizeof(*rows)) : NULL;
    if (arity && rows == NULL)
        return -2;
    int rc = 0;
    for (int i = 0; i < arity && rc == 0; i++) {
        int tuple;
        char node[MAXATOMLEN_UTF8];
        int64_t time;
        if (ei_decode_tuple_header(buf, idx, &tuple) < 0 || tuple != 2 ||
            phn_cn_get_atom(buf, idx, node) < 0 || phn_cn_get_int64(buf, idx, &time) < 0) {
            rc = -1;
            break;
        }
        uint32_t id = phn_cn_atoms_intern(atoms, node);
        if (id == 0)
            rc = -2;
        rows[i] = (phn_pt_down){id, time};
    }
    if (rc == 0 && arity > 0 && ei_decode_list_header(buf, idx, &type) < 0)
        rc = -1; /* the tail must be [] */
    if (rc == 0 && arity > 0 && type != 0)
        rc = -1;
    if (rc == 0 && phn_pt_state_set_log(st, rows, (size_t)arity) != 0)
        rc = -2;
    phn_free(rows);
    return rc;
}

int phn_cn_state_decode(const char *buf, int *idx, phn_cn_atoms *atoms, phn_pt_state *st)
{
    int map = *idx, arity, at;
    memset(st, 0, sizeof(*st));
    if (ei_decode_map_header(buf, &map, &arity) < 0)
        return -1;
    if ((at = map_find(buf, *idx, "majority_quorum_max_seen")) >= 0 &&
        !phn_cn_match_atom(buf, &at, "nil")) {
        if (phn_cn_get_int64(buf, &at, &st->max_seen) < 0)
            return -1;
        st->has_max_seen = 1;
    }
    if ((at = map_find(buf, *idx, "dynamic_quorum_down_nodes")) >= 0 &&
        !phn_cn_match_atom(buf, &at, "nil")) {
        int rc = phn_cn_log_decode(buf, &at, atoms, st);
        if (rc < 0)
            return rc;
    }
    return phn_cn_term_skip(buf, idx, INT32_MAX);
}

void phn_cn_state_encode(ei_x_buff *x, const phn_cn_atoms *atoms, const phn_pt_state *st)
{
    ei_x_encode_map_header(x, st->has_log + st->has_max_seen);
    if (st->has_log) {
        ei_x_encode_atom(x, "dynamic_quorum_down_nodes");
        if (st->log_len > 0) {
            ei_x_encode_list_header(x, (long)st->log_len);
            for (size_t i = 0; i < st->log_len; i++) {
                ei_x_encode_tuple_header(x, 2);
                ei_x_encode_atom(x, phn_cn_atoms_text(atoms, (uint32_t)st->log[i].node));
                ei_x_encode_longlong(x, st->log[i].time);
            }
        }
        ei_x_encode_empty_list(x);
    }
    if (st->has_max_seen) {
        ei_x_encode_atom(x, "majority_quorum_max_seen");
        ei_x_encode_longlong(x, st->max_seen);
    }
}
