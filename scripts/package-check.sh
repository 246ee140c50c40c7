#!/usr/bin/env bash
# make package-check: the files a hex package would ship (phn_40_package_tests:shipped/0,
# from the .app.src's `files') build and load as a rebar3 dependency. A scratch project
# takes a copy of those files only as a checkout; `rebar3 compile` builds the C through
# rebar.config's pre_hooks; then the NIF is loaded and called, the C-node binary is in
# the dependency's priv/, and the plain-Erlang oracle is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
REBAR=${REBAR:-rebar3}

die() { echo "package-check: $*" >&2; exit 1; }

$REBAR as test compile >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pkg=$work/pkg/process_hub_native
mkdir -p "$pkg" "$work/user/src" "$work/user/_checkouts"

erl -noshell -pa "$top/_build/test/lib/process_hub_native/test" -eval \
    '[io:format("~s~n", [F]) || F <- phn_40_package_tests:shipped()], halt().' >"$work/files"
[ -s "$work/files" ] || die "no file would ship"
tar -cf - -T "$work/files" | tar -xf - -C "$pkg"
echo "package-check: $(wc -l <"$work/files") files would ship; building them as a dependency"

ln -s "$pkg" "$work/user/_checkouts/process_hub_native"
cd "$work/user"
cat >src/pkg_user.app.src <<'EOF'
{application, pkg_user, [{description, "uses process_hub_native"}, {vsn, "0.1.0"},
                         {applications, [kernel, stdlib, process_hub_native]}]}.
EOF
echo '{deps, [process_hub_native]}.' >rebar.config
$REBAR compile >"$work/build.log" 2>&1 || { cat "$work/build.log"; die "rebar3 compile failed"; }

# rebar3 builds a checkout into _build/default/checkouts/ (3.14+) or _build/default/lib/.
ebin=$(ls -d _build/default/*/process_hub_native/ebin 2>/dev/null | head -1 || true)
[ -n "$ebin" ] || die "no ebin for process_hub_native"
[ -x "$pkg/priv/phn_cnode" ] || die "the dependency's priv/ has no phn_cnode"
erl -noshell -pa "$ebin" -eval '
    #{trackers := _} = phn_nif:tracker_global_stats(),
    non_existing = code:which(phn_request_manager_erl),
    io:format("package-check: NIF loaded from ~s~n", [code:priv_dir(process_hub_native)]),
    halt().' || die "the NIF did not load, or the oracle shipped"
echo "package-check: OK"
