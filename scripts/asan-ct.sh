#!/usr/bin/env bash
# make asan, the C-node part: a multi-node Common Test suite (default the C-node suite;
# ASAN_CT_SUITE=test/phn_faults_SUITE for the fault suite) with every C-node instance
# built with AddressSanitizer + UBSan (scripts/asan-cnode.sh as PHN_CNODE_WRAPPER).
# Fails when the suite fails, when an instance's exit status is not 0 where the suite
# checks it, or when any instance wrote a sanitizer report (leaks at exit included).
# Needs c_src/_obj_asan/priv/phn_cnode (make -C c_src ... SAN=... cnode).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
export PHN_ASAN_CNODE=${PHN_ASAN_CNODE:-$top/c_src/_obj_asan/priv/phn_cnode}
exe=$PHN_ASAN_CNODE
[ -x "$exe" ] || { echo "asan-ct: $exe missing (build it with SAN flags first)" >&2; exit 2; }
case "$(nm -D "$exe" 2>/dev/null)" in
*__asan_init*) ;;
*) echo "asan-ct: $exe is not built with ASan" >&2; exit 2 ;;
esac
export PHN_ASAN_LOG_DIR=${PHN_ASAN_LOG_DIR:-$top/c_src/_obj_asan/cnode-logs}
rm -rf "$PHN_ASAN_LOG_DIR"
mkdir -p "$PHN_ASAN_LOG_DIR"
suite=${ASAN_CT_SUITE:-test/phn_cnode_SUITE}
status=0
PHN_CNODE_WRAPPER="$top/scripts/asan-cnode.sh" ${REBAR:-rebar3} ct --suite "$suite" "$@" || status=$?
reports=$(find "$PHN_ASAN_LOG_DIR" -type f | sort)
if [ -n "$reports" ]; then
    for f in $reports; do echo "== $f"; cat "$f"; done
    echo "asan-ct: the C-node wrote sanitizer reports (above)" >&2
    exit 1
fi
if [ "$status" -ne 0 ]; then
    echo "asan-ct: $suite failed under the ASan C-node" >&2
    exit "$status"
fi
echo "asan-ct: $suite passed, no sanitizer report from any C-node instance"
