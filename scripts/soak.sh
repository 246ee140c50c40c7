#!/usr/bin/env bash
# make soak: SOAK_SECONDS (default 600) of mixed load through phn_tracker and the C-node
# in a cluster of peer nodes on a private epmd, checking that no completion is lost or
# duplicated (test/phn_soak.erl). Prints the rates every 10 s and ends with
# "SOAK PASS ..." (exit 0) or "SOAK FAIL ..." (exit 1). Needs the test build
# (rebar3 as test compile); REBAR_BASE_DIR is honoured.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-${SOAK_SECONDS:-600}}
base=${REBAR_BASE_DIR:-_build}
app=$base/test/lib/process_hub_native
[ -f "$app/test/phn_soak.beam" ] || { echo "soak: no test build in $app (rebar3 as test compile)" >&2; exit 2; }
exec erl -noshell -pa "$app/ebin" -pa "$app/test" -eval "
    R = phn_soak:run($seconds),
    halt(case R of pass -> 0; _ -> 1 end)."
