#!/usr/bin/env bash
# The Elixir check (test/elixir/): a mix project that depends on this project by plain
# path (its mix.exs builds the Erlang modules, the Elixir face and the C through its
# compile.process_hub_native compiler) and runs its ExUnit suite: the drop-in driven with
# ProcessHub-named structs, a ProcessHub-shaped coordinator across peer nodes in its
# three modes (map, tracker, C-node), and ProcessHubNative.install/1 behind a coordinator
# that calls ProcessHub.Service.RequestManager by name. Then it runs `make demo`'s script
# and checks its report and its cleanup (scripts/demo-test.sh). Nothing comes from hex.pm.
#
# The nodes use a private epmd on a free port (ERL_EPMD_PORT, which erl turns into
# -epmd_port for every VM started below, peers included); it is killed on exit.
#
#   scripts/elixir-check.sh            # format check, build, every test
#   scripts/elixir-check.sh --trace    # extra arguments go to `mix test`
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

die() { echo "elixir-check: $*" >&2; exit 1; }

command -v mix >/dev/null || die "mix not found (Debian package elixir; make deps installs it)"
command -v epmd >/dev/null || die "epmd not found (Debian package erlang-base)"
export MIX_ENV=test HEX_OFFLINE=1

# A private epmd on a free port.
port=$(erl -noshell -eval \
    '{ok, S} = gen_tcp:listen(0, [{ip, {127,0,0,1}}]), {ok, P} = inet:port(S),
     io:format("~b", [P]), gen_tcp:close(S), halt().')
[ -n "$port" ] || die "could not find a free port for epmd"
epmd -daemon -relaxed_command_check -port "$port"
cleanup() { epmd -relaxed_command_check -port "$port" -kill >/dev/null 2>&1 || true; }
trap cleanup EXIT
for _ in $(seq 50); do
    epmd -port "$port" -names >/dev/null 2>&1 && break
    sleep 0.1
done
epmd -port "$port" -names >/dev/null 2>&1 || die "private epmd did not start on port $port"
export ERL_EPMD_PORT=$port

cd "$top/test/elixir"
echo "== elixir-check: mix format --check-formatted"
mix format --check-formatted
echo "== elixir-check: mix deps.get, mix deps.compile (epmd port $port)"
mix deps.get
mix deps.compile
echo "== elixir-check: mix test"
timeout --kill-after=10 600 mix test --warnings-as-errors "$@"

echo "== elixir-check: the demo (scripts/demo-test.sh)"
cd "$top"
bash scripts/demo-test.sh
