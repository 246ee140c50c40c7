#!/usr/bin/env bash
# Installs what `make test` / `make demo` need from Debian's packages, only if missing.
# Runs `apt-get update` at most once. Nothing is fetched from anywhere else.
set -euo pipefail

need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in erlang-nox erlang-dev erlang-eunit erlang-common-test erlang-tools rebar3 \
         libcmocka-dev erlang-proper erlang-proper-dev elixir \
         gcc clang libclang-rt-14-dev make valgrind clang-format; do
    have_pkg "$p" || need+=("$p")
done

if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing Debian packages: ${need[*]} (run as root, or install them)" >&2
    exit 1
fi
echo "install-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}"
