#!/usr/bin/env bash
# make test-portable: the NIF, the C-node and the cmocka tests built as another platform
# would build them (c_src/Makefile PHN_PORTABLE=1: plain POSIX, no _GNU_SOURCE, every
# Linux-only call off, see c_src/cnode/phn_cn_compat.h), in c_src/_obj_portable. Then:
#  0. phn_cn_compat.c also compiles as on a BSD and on Darwin (compile only);
#  1. neither phn_cnode nor phn_nif.so may reference accept4, pipe2 or prctl (the same
#     check must find accept4 in the normal build's C-node, or it proves nothing);
#  2. every cmocka test passes, test_cn_compat also checking that it ran the fallbacks;
#  3. the C-node Common Test suite (PORTABLE_CT_SUITE, default test/phn_cnode_SUITE)
#     passes with every C-node the owner starts being the portable binary: this script,
#     as PHN_CNODE_WRAPPER with --cnode, runs it instead of priv/phn_cnode and counts the
#     launches (at least one required). The suite's own direct starts of priv/phn_cnode
#     (cookie_from_env_and_exit_on_port_close) still run the normal build.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
obj=$top/c_src/_obj_portable
exe=${PHN_PORTABLE_CNODE:-$obj/priv/phn_cnode}
launches=$obj/cnode-launches

if [ "${1:-}" = "--cnode" ]; then # wrapper mode: "<this> --cnode <priv/phn_cnode> <args>"
    shift 2
    echo "$$ $*" >>"$launches"
    exec "$exe" "$@"
fi

cd "$top"
${MAKE:-make} -C c_src all # the normal build: the symbol check's own check, and CT's NIF
${MAKE:-make} -C c_src PHN_PORTABLE=1 OBJ=_obj_portable PRIV=_obj_portable/priv all tests

# The compat branches no Linux build takes still compile: a BSD-like mix (no __linux__:
# accept/pipe fallbacks, no prctl, native SOCK_CLOEXEC and MSG_NOSIGNAL) and a Darwin-like
# one (neither flag, SO_NOSIGPIPE per socket; the value only has to be an int here).
cc=${CC:-cc}
for flags in "-D_GNU_SOURCE -U__linux__" \
             "-D_POSIX_C_SOURCE=200809L -U__linux__ -DPHN_NO_SOCK_CLOEXEC -DPHN_NO_MSG_NOSIGNAL -DPHN_NO_MSG_DONTWAIT -DSO_NOSIGPIPE=0x1022"; do
    # shellcheck disable=SC2086
    "$cc" -std=c11 $flags -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Ic_src/cnode -c c_src/cnode/phn_cn_compat.c -o /dev/null
done
echo "portable-test: the BSD- and Darwin-like branches of phn_cn_compat.c compile"

# Undefined dynamic symbols of a binary, one name a line (nm -D, else objdump -T).
imports() {
    if command -v nm >/dev/null; then
        nm -D --undefined-only "$1" | awk '{print $NF}'
    else
        objdump -T "$1" | awk '/\*UND\*/ {print $NF}'
    fi | sed 's/@.*//'
}
linux_only() { imports "$1" | grep -xE 'accept4|pipe2|prctl' || true; }

for bin in "$exe" "$obj/priv/phn_nif.so"; do
    found=$(linux_only "$bin")
    if [ -n "$found" ]; then
        echo "portable-test: $bin references Linux-only calls: $(echo "$found" | tr "\n" " ")" >&2
        exit 1
    fi
done
normal=$top/priv/phn_cnode
linux_only "$normal" | grep -qx accept4 ||
    { echo "portable-test: the symbol check does not see accept4 in $normal" >&2; exit 1; }
echo "portable-test: no accept4, pipe2 or prctl in the portable phn_cnode and phn_nif.so"

for t in "$obj"/test/test_*; do
    echo "== portable $t"
    PHN_EXPECT_PORTABLE=1 "$t" >/dev/null
done
echo "portable-test: every cmocka test passed on the fallbacks"

suite=${PORTABLE_CT_SUITE:-test/phn_cnode_SUITE}
rm -f "$launches"
PHN_CNODE_WRAPPER="$top/scripts/portable-test.sh --cnode" ${REBAR:-rebar3} ct --suite "$suite"
n=$( [ -f "$launches" ] && wc -l <"$launches" || echo 0)
if [ "$n" -lt 1 ]; then
    echo "portable-test: $suite never started the portable C-node" >&2
    exit 1
fi
echo "portable-test: $suite passed on the portable C-node ($n instances)"
