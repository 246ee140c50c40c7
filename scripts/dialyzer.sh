#!/usr/bin/env bash
# make dialyzer: rebar3 dialyzer with rebar.config's settings (PLT of OTP's erts, kernel,
# stdlib, compiler built once under _build/dialyzer), then every warning it wrote except
# the unknown functions and types of ProcessHub's Elixir modules ('Elixir.*'), which are
# not present at analysis time. Any other warning fails, listed with the count.
set -u
REBAR=${REBAR:-rebar3}
BASE=${REBAR_BASE_DIR:-_build}
mkdir -p "$BASE/dialyzer"
log="$BASE/dialyzer/rebar3.log"
rm -f "$BASE"/default/*.dialyzer_warnings
"$REBAR" dialyzer >"$log" 2>&1
rc=$?
shopt -s nullglob
files=("$BASE"/default/*.dialyzer_warnings)
if [ "$rc" -eq 0 ]; then
    echo "dialyzer: no warnings"
    exit 0
fi
if [ ${#files[@]} -eq 0 ]; then
    cat "$log" >&2
    echo "dialyzer: rebar3 dialyzer failed (rc $rc) without writing warnings" >&2
    exit 1
fi
# One warning per paragraph (they are separated by blank lines).
kept=$(awk 'BEGIN { RS = ""; ORS = "\n\n" }
            !/Unknown (function|type) '"'"'Elixir\./ { print }' "${files[@]}")
if [ -z "$kept" ]; then
    echo "dialyzer: no warnings (unknown 'Elixir.*' functions and types ignored)"
    exit 0
fi
printf '%s\n\n' "$kept"
n=$(printf '%s\n\n' "$kept" | awk 'BEGIN { RS = "" } END { print NR }')
echo "dialyzer: $n warning(s)" >&2
exit 1
