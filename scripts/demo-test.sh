#!/usr/bin/env bash
# The test of `make demo` (called by scripts/elixir-check.sh, so by `make test`):
#   1. scripts/demo.sh exits 0 and prints its report: the C-node started under
#      ProcessHubNative.Application, the drop-in installed by ProcessHubNative.install/1
#      (C-node mode on a, map mode on b and c), 5 000/5 000 children, per node
#      the children started and 2 chunks received, the C-node's 6 responses and one
#      completed operation, the four strategies' verdicts before and after stopping a
#      node (the C-node agreeing with phn_partition), the cleanup, OK;
#   2. afterwards no process of that run is left (its epmd, nodes and C-node: pgrep);
#   3. a demo whose C-node cannot start (PHN_CNODE_WRAPPER=false) says what failed,
#      exits non-zero and also leaves nothing behind.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

out=$(mktemp /tmp/phn_demo_test.XXXXXX)
trap 'rm -f "$out"' EXIT
errors=0
bad() { echo "demo-test: FAIL: $*" >&2; errors=$((errors + 1)); }
has() { grep -Eq -- "$1" "$out" || bad "no line matching: $1"; }

# Nothing left of the run whose node suffix and epmd port the output names.
nothing_left() {
    local id port
    id=$(sed -nE 's/.*nodes: demo_a_([0-9]+)@.*/\1/p' "$out" | head -1)
    port=$(sed -nE 's/.*private epmd on port ([0-9]+).*/\1/p' "$out" | head -1)
    if [ -z "$id" ] || [ -z "$port" ]; then bad "run id or epmd port not in the output"; return; fi
    if pgrep -af "demo_[abc]_${id}@" >/dev/null; then bad "processes of run $id left: $(pgrep -af "demo_[abc]_${id}@")"; fi
    if pgrep -af "epmd .*-port ${port}\$" >/dev/null; then bad "epmd on port $port left"; fi
    # The C-node by its pid: not even a zombie.
    cpid=$(sed -nE 's/.*C-node: .* \(os pid ([0-9]+).*/\1/p' "$out" | head -1)
    if [ -n "$cpid" ] && [ -n "$(ps -o pid= -p "$cpid")" ]; then bad "C-node pid $cpid left: $(ps -o stat=,args= -p "$cpid")"; fi
}

echo "== demo-test: scripts/demo.sh"
bash scripts/demo.sh >"$out" 2>&1
rc=$?
cat "$out"
[ "$rc" -eq 0 ] || bad "scripts/demo.sh exited $rc"
has '^== demo: private epmd on port [0-9]+$'
has '^== demo: C-node: phn_cnode_demo_a_[0-9]+@127\.0\.0\.1 \(os pid [0-9]+, phn_cnode under ProcessHubNative\.Application'
has '^== demo: ProcessHubNative\.install/1: a cnode, b map, c map \(the coordinators call ProcessHub\.Service\.RequestManager\)$'
has '^== demo: starting 5000 children over 3 nodes, chunks of 1000: '
has '^   \[ *[0-9]+ ms\] running: a +[0-9]+  b +[0-9]+  c +[0-9]+   responses at the C-node: [0-9]+$'
has '^== demo: complete in [0-9]+ ms: 5000/5000 children reported$'
for n in a b c; do has "^   demo_${n}_[0-9]+@127\.0\.0\.1 +1[0-9]{3} +2$"; done
has '^   C-node: 6 responses recorded, 1 operation completed, 0 unexpected$'
has '^   Divergence +ok +ok +agrees$'
has '^   StaticQuorum\(quorum_size: 3\) +ok +PARTITIONED +agrees$'
has '^   DynamicQuorum\(quorum_size: 75%\) +ok +PARTITIONED +agrees$'
has '^   MajorityQuorum +ok +ok +agrees$'
has '^== demo: cleaned up: '
has '^== demo: OK$'
grep -q 'FAILED' "$out" && bad "the successful run printed FAILED"
nothing_left

echo "== demo-test: scripts/demo.sh with a C-node that cannot start"
PHN_CNODE_WRAPPER=false bash scripts/demo.sh >"$out" 2>&1
rc=$?
cat "$out"
[ "$rc" -ne 0 ] || bad "a failing demo exited 0"
has '^demo: FAILED: starting the C-node: phn_cnode did not start'
has '^== demo: cleaned up: '
grep -q '^== demo: OK$' "$out" && bad "a failing demo printed OK"
nothing_left

if [ "$errors" -ne 0 ]; then
    echo "demo-test: $errors failure(s)" >&2
    exit 1
fi
echo "== demo-test: OK"
