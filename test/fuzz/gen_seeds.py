#!/usr/bin/env python3
"""Writes the seed corpus of test/fuzz: corpus/<target>/<name>, a few small programs per
target in the byte language its fuzz_<target>.c reads (see the op tables there). Run it
again after changing a target's input format:  python3 test/fuzz/gen_seeds.py
Seeds are tiny by design; libFuzzer grows its own corpus from them during a run."""

import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")

# ---- encoders matching fuzz_common.h ----------------------------------------------------

U64_EDGES = [0, 1, 2, 3, 7, 8, 15, 16, 255, 256, 1000, 1024, 2**32 - 2, 2**32 - 1, 2**32,
             2**53, 2**53 + 1, 2**63 - 2, 2**63 - 1, 2**63, 2**63, 2**64 - 2, 2**64 - 1]
I64_EDGES = [-2**63, -2**63 + 1, -2**62, -1000000, -1, 0, 1, 1000000, 2**62, 2**63 - 2,
             2**63 - 1, -30, 30, 29, 31, 1700000000]


def u8(v):
    return bytes([v & 0xff])


def u16(v):
    return struct.pack("<H", v & 0xffff)


def u32(v):
    return struct.pack("<I", v & 0xffffffff)


def u64(v):
    return struct.pack("<Q", v & 0xffffffffffffffff)


def num(v):
    """fz_num: the shortest encoding of an unsigned 64-bit value."""
    if v < 64:
        return u8(v)
    if v in U64_EDGES:
        return u8(0xc0 | U64_EDGES.index(v))
    if v < 65536:
        return u8(0x40) + u16(v)
    return u8(0x80) + u64(v)


def i64(v):
    """fz_i64: the shortest encoding of a signed 64-bit value."""
    if -32 <= v < 32:
        return u8(v + 32)
    if v in I64_EDGES:
        return u8(0xc0 | I64_EDGES.index(v))
    if -32768 <= v < 32768:
        return u8(0x40) + u16(v)
    return u8(0x80) + u64(v)


def fail(nth, rest=False):
    """fz_fail_from_input: the nth allocator call from now fails (and later ones)."""
    if nth < 8:
        return u8(nth | (8 if rest else 0))
    return u8(0x10 | (8 if rest else 0)) + u16(nth)


# ---- per-target seed programs -------------------------------------------------------------

def chunk_seeds():
    def triple(n, size, how, *extra):
        return num(n) + num(size) + u8(how) + b"".join(extra)
    return {
        "split_2500_by_1000": triple(2500, 1000, 3),
        "exact_multiple": triple(3000, 1000, 3) + triple(3000, 1000, 1),
        "index_past_end": triple(10, 3, 0, num(4)) + triple(10, 3, 0, num(3)),
        "size_zero": triple(5, 0, 1) + triple(0, 0, 3),
        "huge_n": triple(2**64 - 1, 1000, 1) + triple(2**64 - 1, 2**64 - 2, 3)
        + triple(2**64 - 1, 1, 2, u8(1)),
    }


def hash_seeds():
    etf_ref = bytes([131, 90, 0, 3, 119, 13]) + b"nodea@host.x" + bytes(
        [0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0])
    return {
        "empty": u64(0) + u8(0) + u8(0) + u8(0),
        "short_flip": u64(42) + u8(2) + u8(0x80) + u8(3) + b"abcde",
        "eight": u64(2**63) + u8(7) + u8(1) + u8(1) + b"12345678",
        "etf_ref": u64(0x243f6a8885a308d3) + u8(5) + u8(0) + u8(9) + etf_ref,
    }


def alloc_seeds():
    def op(kind, slot):
        return u8((slot << 4) | kind)
    MALLOC, CALLOC, REALLOC, FREE, FAIL, DISARM = range(6)
    return {
        "malloc_free": op(MALLOC, 0) + num(0) + op(MALLOC, 1) + num(100) + op(FREE, 0)
        + op(FREE, 1) + op(FREE, 2),
        "calloc_overflow": op(CALLOC, 0) + num(2**64 - 1) + num(2) + op(CALLOC, 1) + num(0)
        + num(8) + op(CALLOC, 2) + num(64) + num(8),
        "realloc_grow_shrink": op(REALLOC, 0) + num(4) + num(4) + op(REALLOC, 0) + num(4096)
        + num(4) + op(REALLOC, 0) + num(0) + num(4) + op(REALLOC, 0) + num(2**63) + num(2),
        "fail_then_retry": op(FAIL, 0) + fail(0) + op(MALLOC, 0) + num(10) + op(MALLOC, 0)
        + num(10) + op(FAIL, 0) + fail(0, True) + op(REALLOC, 0) + num(100) + num(1)
        + op(DISARM, 0) + op(REALLOC, 0) + num(100) + num(1),
        "over_limit": op(MALLOC, 0) + num(2**32) + op(CALLOC, 1) + num(2**32) + num(2**32 - 1),
    }


def nodeset_seeds():
    INSERT, FIND, SET, FREE, FAIL, DISARM, CHECK = 0, 2, 3, 4, 5, 6, 7

    def small(k):
        return u8(k & 0x3f)

    def existing(i):
        return u8(0x80) + u8(i)

    def mode(classes, mask_index):
        return u8((mask_index << 1) | classes)

    grow = b"".join(u8(INSERT) + small(k) + num(k * 3) for k in range(40))
    return {
        "identity_grow": mode(0, 0) + num(0) + grow + u8(CHECK),
        "all_collide": mode(0, 1) + num(4) + b"".join(
            u8(INSERT) + small(k) + num(k) for k in range(12)) + u8(FIND) + small(5)
        + u8(FIND) + small(50) + u8(SET) + small(3) + num(99) + u8(CHECK),
        "classes_eq": mode(1, 4) + num(0) + u8(INSERT) + u8(0x40) + u64(0x10001)
        + num(1) + u8(INSERT) + u8(0x40) + u64(0x20001) + num(2) + u8(FIND) + existing(0)
        + u8(0xc0 | FIND) + u8(0xc0) + u8(0) + u8(7) + u8(CHECK),
        "enomem_grow": mode(0, 0) + num(0) + b"".join(
            u8(INSERT) + small(k) + num(k) for k in range(5)) + u8(FAIL) + fail(0)
        + b"".join(u8(0x80 | INSERT) + small(k) + num(k) for k in range(5, 9))
        + u8(INSERT) + existing(0) + num(1) + u8(DISARM) + u8(CHECK),
        "free_reuse": mode(0, 2) + num(1000) + u8(INSERT) + small(1) + num(1) + u8(0xc0 | FREE)
        + num(2**63) + u8(INSERT) + small(2) + num(2) + u8(FREE) + u8(INSERT) + small(3)
        + num(3) + u8(CHECK),
    }


def heap_seeds():
    PUSH, POP, PEEK, REMOVE, UPDATE, FREE, FAILOP, CHECK = 0, 3, 4, 5, 6, 7, 8, 9
    pushes = b"".join(u8(PUSH) + i64(d) for d in [5, 3, 3, 9, -1, 3, 2**63 - 1, -2**63, 0])
    return {
        "push_pop_ties": u8(0) + pushes + u8(CHECK) + u8(POP) * 10,
        "remove_update": u8(0) + pushes + u8(REMOVE) + u8(2) + u8(UPDATE) + u8(0) + i64(-5)
        + u8(UPDATE) + u8(3) + i64(100) + u8(REMOVE) + u8(0x85) + u8(CHECK) + u8(POP) * 3,
        "untracked": u8(1) + pushes + u8(REMOVE) + u8(4) + u8(PEEK) + u8(POP) + u8(CHECK),
        "grow_shrink": u8(0) + b"".join(u8(PUSH) + i64(d % 7) for d in range(40))
        + u8(POP) * 35 + u8(CHECK),
        "enomem_push": u8(0) + b"".join(u8(PUSH) + i64(d) for d in range(16)) + u8(FAILOP)
        + fail(0) + u8(PUSH) + i64(1) + u8(0x80 | FAILOP) + u8(PUSH) + i64(1) + u8(FREE)
        + u8(PUSH) + i64(2) + u8(CHECK),
    }


def optable_seeds():
    (INSERT, GET, REMOVE, POP, SETDL, FOREACH, FAILOP, COUNTERS, BULK_INSERT, BULK_REMOVE,
     BULK_POP, CHECK) = 0, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14

    def key(bs):
        assert len(bs) < 16
        return u8(len(bs)) + bs

    def existing(i):
        return u8(0x80) + u16(i)

    def ref(i):
        return key(bytes([131, 90, 0, 3, 119, 1, ord("a"), i]))

    inserts = b"".join(u8(INSERT) + ref(i) + i64(d)
                       for i, d in enumerate([10, 5, 5, 20, -3, 1700000000]))
    return {
        "insert_get_remove": u8(0) + inserts + u8(GET) + ref(1) + u8(GET) + ref(9)
        + u8(REMOVE) + ref(2) + u8(REMOVE) + ref(2) + u8(FOREACH) + u8(CHECK),
        "expire_in_order": u8(0) + inserts + u8(POP) + i64(4) + u8(POP) + i64(6)
        + u8(POP) + i64(6) + u8(POP) + i64(6) + u8(0xc0 | POP) + i64(2**63 - 1) + u8(CHECK),
        "limits_and_invalid": u8(3) + inserts + u8(INSERT) + u8(0x40) + u16(256) + u8(7)
        + i64(0) + u8(INSERT) + u8(0x30) + i64(0) + u8(INSERT) + u8(0x31) + u8(1) + i64(0)
        + u8(0xc0 | INSERT) + key(b"np") + i64(0) + u8(CHECK),
        "set_deadline_counters": u8(0x20) + inserts + u8(COUNTERS) + u8(SETDL) + existing(0)
        + i64(-100) + u8(SETDL) + key(b"zz") + i64(1) + u8(GET) + existing(3) + u8(POP)
        + i64(-50) + u8(0x80 | COUNTERS) + u8(CHECK),
        "enomem_churn": u8(0x40) + fail(1) + u8(0) + u8(FAILOP) + fail(2) + b"".join(
            u8(INSERT) + key(bytes([i])) + i64(i) for i in range(20)) + u8(0x80 | FAILOP)
        + b"".join(u8(REMOVE) + key(bytes([i])) for i in range(0, 20, 2)) + u8(CHECK),
    }


def optable_bulk_seeds():
    BULK_INSERT, BULK_REMOVE, BULK_POP = 11, 12, 13
    GET, FOREACH, FAILOP, CHECK = 3, 8, 9, 14

    def existing(i):
        return u8(0x80) + u16(i)

    return {
        # Past the split point (the single shard fills at 22528 entries, over SPLIT_AT) and
        # back below the merge threshold (2048).
        "split_and_merge": u8(0) + u8(BULK_INSERT) + u16(23000) + i64(0) + u8(50)
        + u8(GET) + existing(16999) + u8(BULK_POP) + u16(3000) + i64(10) + u8(BULK_REMOVE)
        + u16(19000) + u8(CHECK),
        "split_free": u8(0) + u8(BULK_INSERT) + u16(23000) + i64(-5) + u8(200)
        + u8(BULK_POP) + u16(100) + i64(0) + u8(FOREACH),
        # The split's 100th shard allocation fails: it falls back to growing one shard.
        "split_enomem": u8(0) + u8(BULK_INSERT) + u16(22520) + i64(7) + u8(1) + u8(FAILOP)
        + fail(108) + u8(BULK_INSERT) + u16(2000) + i64(9) + u8(3) + u8(0x80 | FAILOP)
        + u8(BULK_INSERT) + u16(2000) + i64(9) + u8(3) + u8(CHECK),
    }


def progress_seeds():
    EXPECT, RECORD, BURST, FAILOP, COUNTERS, CHECK = 0, 2, 4, 5, 6, 7

    def node(k):
        return u8(k & 0x3f)

    def chunks(c):
        if c == 1:
            return u8(0x40)
        assert c < 64
        return u8(c)

    return {
        "complete_three_nodes": u8(0) + num(3) + b"".join(
            u8(EXPECT) + node(k) + chunks(1) for k in (1, 2, 3)) + b"".join(
            u8(RECORD) + node(k) for k in (2, 1, 9, 3, 3)) + u8(CHECK),
        "chunked": u8(0) + num(0) + u8(EXPECT) + node(1) + chunks(3) + u8(EXPECT) + node(2)
        + chunks(1) + u8(BURST) + node(1) + u8(5) + u8(RECORD) + node(2) + u8(EXPECT)
        + node(2) + chunks(2) + u8(BURST) + node(2) + u8(3) + u8(CHECK),
        "overflow_zero": u8(0) + num(0) + u8(EXPECT) + node(1) + u8(0x80) + u8(EXPECT)
        + node(1) + u8(0) + u8(EXPECT) + node(1) + u8(0x80) + u8(RECORD) + node(1)
        + u8(CHECK),
        "classes_collide": u8(1 | (1 << 1)) + num(2) + u8(EXPECT) + u8(0x40) + u64(0x101)
        + chunks(2) + u8(RECORD) + u8(0x40) + u64(0x201) + u8(COUNTERS) + u8(0)
        + u8(0x80 | RECORD) + u8(0xc0) + u8(0) + u8(3) + u8(CHECK),
        "enomem": u8(0x80) + fail(0) + num(4) + u8(0) + num(0) + u8(FAILOP) + fail(0, True)
        + b"".join(u8(EXPECT) + node(k) + chunks(1) for k in range(6)) + u8(0x80 | FAILOP)
        + b"".join(u8(EXPECT) + node(k) + chunks(1) for k in range(6)) + u8(CHECK),
    }


def partition_seeds():
    INIT, LOCK, UNLOCK, QUORUM, SETLOG, SYNC, BLOCKS, STRATEGY, FREE, FAILOP = (
        0, 1, 3, 5, 6, 7, 8, 9, 10, 11)
    NOW = 1700000000
    DIV, STATIC, DYN, MAJ = 0, 1, 2, 3

    def dbl(v):  # pick_double: small non-negative integers only here
        assert 0 <= v < 64
        return u8(v)

    def strategy(kind, quorum=0, startup=False, threshold=None, initial=None, track=True):
        flags = (8 if startup else 0) | (0x10 if threshold is not None else 0) \
            | (0x20 if initial is not None else 0) | (0 if track else 0x40)
        # The kind is b % 5; bits 0..2 are free, so one of them makes the residue.
        b = next(flags | low for low in range(8) if (flags | low) % 5 == kind)
        out = u8(b) + dbl(quorum)
        if b & 0x10:
            out += dbl(threshold)
        if b & 0x20:
            out += i64(initial)
        return out

    def cl(n):
        assert n < 16
        return u8(n)

    def lock(n, node, now=NOW):
        return u8(LOCK) + cl(n) + u8(node) + i64(now)

    def unlock(n, node, now=NOW):
        return u8(UNLOCK) + cl(n) + u8(node) + i64(now)

    def rows(rs):
        return u8(len(rs)) + b"".join(u8(node) + i64(t) for node, t in rs)

    return {
        "static_quorum_3": strategy(STATIC, 3) + lock(1, 1) + lock(3, 1) + unlock(3, 1)
        + unlock(2, 1) + u8(INIT) + cl(2) + u8(QUORUM) + cl(4),
        "dynamic_log": strategy(DYN, 50) + u8(SETLOG) + rows([(2, NOW), (3, NOW), (4, NOW)])
        + lock(1, 5) + u8(SETLOG) + rows([(3, NOW - 100), (4, NOW - 100)]) + lock(2, 5)
        + unlock(1, 5) + unlock(0, 1) + u8(SYNC) + u8(3) + u8(QUORUM) + cl(0),
        "dynamic_edges": strategy(DYN, 50, threshold=30) + lock(10, 4, -2**63 + 1)
        + lock(10, 1, -2**63 + 1) + lock(3, 2, 2**63 - 1) + u8(BLOCKS)
        + rows([(1, -2**63), (2, 0)]) + u8(5) + i64(-2**63 + 1) + dbl(30) + cl(3)
        + i64(2**63 - 1) + u8(2),
        "majority": strategy(MAJ, initial=5) + u8(INIT) + cl(1) + lock(1, 1) + unlock(3, 1)
        + u8(STRATEGY) + strategy(MAJ) + unlock(7, 2)
        + lock(4, 2) + lock(3, 2) + u8(FREE) + unlock(2, 1),
        "enomem_and_divergence": strategy(DYN, 50) + u8(FAILOP) + fail(0) + lock(3, 1)
        + lock(3, 1) + u8(FAILOP) + fail(0, True) + u8(SETLOG) + rows([(1, 1)] * 9)
        + u8(0x80 | FAILOP) + u8(STRATEGY) + strategy(DIV) + lock(0, 0) + unlock(0, 0)
        + u8(QUORUM) + cl(0),
    }


TARGETS = {
    "alloc": alloc_seeds,
    "chunk": chunk_seeds,
    "hash": hash_seeds,
    "heap": heap_seeds,
    "nodeset": nodeset_seeds,
    "optable": optable_seeds,
    "optable_bulk": lambda: {**optable_seeds(), **optable_bulk_seeds()},
    "partition": partition_seeds,
    "progress": progress_seeds,
}


def main():
    for target, make in TARGETS.items():
        d = os.path.join(CORPUS, target)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for name, data in make().items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
    total = sum(os.path.getsize(os.path.join(r, f))
                for r, _, fs in os.walk(CORPUS) for f in fs)
    print(f"corpus: {sum(len(m()) for m in TARGETS.values())} seeds, {total} bytes")


if __name__ == "__main__":
    main()
