#!/usr/bin/env bash
# PHN_CNODE_WRAPPER for make asan: phn_cnode (the Erlang owner) starts "<wrapper>
# <priv/phn_cnode> <args>"; this runs the C-node built with AddressSanitizer + UBSan
# ($PHN_ASAN_CNODE, default c_src/_obj_asan/priv/phn_cnode) with the same arguments instead. Every report goes to
# a file under $PHN_ASAN_LOG_DIR (default c_src/_obj_asan/cnode-logs), which
# scripts/asan-ct.sh requires to be empty after the suite; the first error stops the
# C-node with a non-zero status (which the suite's clean_exit case checks), and leaks are
# reported at every exit (detect_leaks=1).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
shift # the regular executable
logs=${PHN_ASAN_LOG_DIR:-$top/c_src/_obj_asan/cnode-logs}
mkdir -p "$logs"
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:exitcode=86:disable_coredump=1:log_path=$logs/asan"
export LSAN_OPTIONS="exitcode=87"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan"
exec "${PHN_ASAN_CNODE:-$top/c_src/_obj_asan/priv/phn_cnode}" "$@"
