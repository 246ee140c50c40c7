#!/usr/bin/env bash
# make demo: installs what is missing (Debian packages), builds, starts a private epmd,
# three BEAM nodes and the C-node (under ProcessHubNative.Application, from config),
# installs the native drop-in with ProcessHubNative.install/1 (C-node mode on the
# coordinator's node, map mode on the others) behind a ProcessHub-shaped coordinator that
# calls ProcessHub.Service.RequestManager by name, starts 5 000 children over the nodes,
# reports, then stops one node and shows the four partition strategies' verdicts before
# and after (PhnCheck.Demo in test/elixir/lib/phn_check/demo.ex).
#
# Everything it starts (epmd, the BEAM nodes, the C-node) is stopped on exit, whatever
# happens, and checked with pgrep. Exit status 0 on success; on failure it says what
# failed and exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

say() { printf '== demo: %s\n' "$*"; }
fail() { echo "demo: FAILED: $*" >&2; exit 1; }

id=$$
work=$(mktemp -d /tmp/phn_demo.XXXXXX)
port=""
vm=""
status=1

# Running (a zombie waiting for its reaper is not).
alive() {
    local st
    [ -n "$1" ] && st=$(ps -o stat= -p "$1" 2>/dev/null) && [ -n "$st" ] && [ "${st#Z}" = "$st" ]
}

# What this run may have left: the mix VM, the peers and the C-node (their OS pids are
# in $work/pids), anything named after this run, and the private epmd.
cleanup() {
    set +e
    alive "$vm" && kill "$vm" 2>/dev/null
    # shellcheck disable=SC2013 # one pid a line
    for p in $(cat "$work/pids" 2>/dev/null); do alive "$p" && kill "$p" 2>/dev/null; done
    sleep 0.5
    for p in $vm $(cat "$work/pids" 2>/dev/null); do alive "$p" && kill -9 "$p" 2>/dev/null; done
    # Processes named after this run only (the id is this script's pid).
    for p in $(pgrep -f "demo_[abc]_${id}@"); do kill -9 "$p" 2>/dev/null; done
    if [ -n "$port" ]; then
        epmd -port "$port" -relaxed_command_check -kill >/dev/null 2>&1
        sleep 0.2
        for p in $(pgrep -f "epmd -daemon -relaxed_command_check -port $port\$"); do kill "$p"; done
    fi
    left=$(pgrep -af "demo_[abc]_${id}@|epmd -daemon -relaxed_command_check -port ${port:-none}\$" || true)
    for p in $vm $(cat "$work/pids" 2>/dev/null); do
        alive "$p" && left="$left pid $p"
    done
    if [ -n "$left" ]; then
        echo "demo: FAILED: processes left after cleanup: $left" >&2
        status=1
    else
        say "cleaned up: epmd, the three BEAM nodes and the C-node are gone (pgrep finds none)"
    fi
    rm -rf "$work"
    [ "$status" -eq 0 ] && say "OK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

say "installing what is missing (scripts/install-deps.sh)"
bash scripts/install-deps.sh || fail "installing the Debian packages (scripts/install-deps.sh)"

command -v mix >/dev/null || fail "mix not found (Debian package elixir)"
command -v epmd >/dev/null || fail "epmd not found (Debian package erlang-base)"
export MIX_ENV=test HEX_OFFLINE=1

# Plain mix: the path dependency's own mix.exs builds the Erlang modules, the Elixir face
# and the C (its compile.process_hub_native compiler) into test/elixir/_build, never into
# the source tree.
say "building (mix deps.get, deps.compile, compile in test/elixir; log: $work/build.log)"
if ! (cd test/elixir && mix deps.get && mix deps.compile && mix compile) >"$work/build.log" 2>&1; then
    tail -30 "$work/build.log" >&2
    fail "the build (see the lines above)"
fi
cnode_bin=test/elixir/_build/$MIX_ENV/lib/process_hub_native/priv/phn_cnode
[ -x "$cnode_bin" ] || fail "the build did not produce $cnode_bin"

# A private epmd on a free port; every VM below (and the C-node) uses it.
port=$(erl -noshell -eval \
    '{ok, S} = gen_tcp:listen(0, [{ip, {127,0,0,1}}]), {ok, P} = inet:port(S),
     io:format("~b", [P]), gen_tcp:close(S), halt().')
[ -n "$port" ] || fail "no free port for epmd"
epmd -daemon -relaxed_command_check -port "$port"
for _ in $(seq 50); do
    epmd -port "$port" -names >/dev/null 2>&1 && break
    sleep 0.1
done
epmd -port "$port" -names >/dev/null 2>&1 || fail "the private epmd did not start on port $port"
say "private epmd on port $port"
export ERL_EPMD_PORT=$port PHN_DEMO_ID=$id PHN_DEMO_PIDS=$work/pids

cd "$top/test/elixir"
timeout --kill-after=5 90 mix run --no-compile --no-deps-check -e 'PhnCheck.Demo.main()' &
vm=$!
if wait "$vm"; then
    status=0
else
    rc=$?
    [ "$rc" -eq 124 ] && echo "demo: FAILED: timed out after 90 s" >&2
    fail "the demo run (exit status $rc)"
fi
