#!/usr/bin/env bash
# Runs EUnit suites against a NIF built with AddressSanitizer + UBSan (make asan).
# The instrumented library lives in c_src/_obj_asan/priv; an app directory whose ebin is
# the test build and whose priv is that library makes code:priv_dir/1 find it, so no
# production code knows about sanitizers. Leak detection is off: the BEAM itself does
# not free everything at exit, and NIF memory comes from enif_alloc, not malloc.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
app="$top/c_src/_obj_asan/app/process_hub_native"
rm -rf "$top/c_src/_obj_asan/app"
mkdir -p "$app"
ln -s "$top/_build/test/lib/process_hub_native/ebin" "$app/ebin"
ln -s "$top/c_src/_obj_asan/priv" "$app/priv"

suites=${ASAN_SUITES:-phn_02_tracking_tests,phn_03_split_forward_tests,phn_10_differential_tests,phn_11_bad_input_tests,phn_13_reload_tests,phn_20_tracker_tests,phn_21_tracker_statem_tests,phn_22_tracker_mode_tests,phn_24_tracker_image_tests,phn_30_nif_fuzz_tests,phn_partition_tests}
export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
exec erl -noshell -pa "$app/ebin" -pa "$top/_build/test/lib/process_hub_native/test" -eval "
    {ok, Dir} = {ok, code:priv_dir(process_hub_native)},
    io:format(\"asan: NIF from ~s~n\", [Dir]),
    Suites = [list_to_atom(S) || S <- string:tokens(\"$suites\", \",\")],
    R = eunit:test(Suites, []),
    halt(case R of ok -> 0; _ -> 1 end)."
