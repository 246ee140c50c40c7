#!/usr/bin/env bash
# The Mix build of this checkout (mix.exs, lib/, the compile.process_hub_native compiler):
#   1. mix format check and a warning-free `mix compile` of the top level;
#   2. the C lands in the Mix build's priv, nothing is written into the source tree;
#   3. docs and specs: every public function of the ProcessHubNative modules has both;
#   4. a new app outside the checkout depends on it by path, builds with plain
#      `mix deps.get && mix compile` (no manager, no MIX_REBAR3, no hex), and installs
#      the drop-in over its own ProcessHub-named RequestManager, then uninstalls it: the
#      NIF loads from the app's _build, not from the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

die() { echo "mix-check: FAILED: $*" >&2; exit 1; }
command -v mix >/dev/null || die "mix not found (Debian package elixir; make deps installs it)"
export HEX_OFFLINE=1 MIX_ENV=prod
unset MIX_REBAR3

source_files() { find priv c_src -type f -not -path 'c_src/_obj*' | sort; }
before=$(source_files)

echo "== mix-check: mix format --check-formatted"
mix format --check-formatted
echo "== mix-check: mix compile (top level, MIX_ENV=prod)"
mix compile --warnings-as-errors
app=_build/mix/prod/lib/process_hub_native
for f in phn_nif.so phn_cnode; do
    [ -f "$app/priv/$f" ] && [ ! -L "$app/priv" ] || die "$app/priv/$f not built into the Mix build"
done
[ "$before" = "$(source_files)" ] || die "the Mix build wrote into priv/ or c_src/"

echo "== mix-check: @doc and @spec on every public function"
mix run --no-start -e '
  _ = Application.load(:process_hub_native)
  mods = for m <- Application.spec(:process_hub_native, :modules),
             String.starts_with?(Atom.to_string(m), "Elixir.ProcessHubNative"), do: m
  bad =
    for m <- mods, Code.ensure_loaded!(m), {:docs_v1, _, _, _, mdoc, _, docs} = Code.fetch_docs(m),
        {:ok, specs} = Code.Typespec.fetch_specs(m),
        problem <-
          (if mdoc in [:none], do: [{m, :moduledoc}], else: []) ++
          for({{:function, f, a}, _, _, doc, _} <- docs, doc != :hidden,
              problem <- (if doc == :none, do: [{m, f, a, :doc}], else: []) ++
                         (if List.keymember?(specs, {f, a}, 0), do: [], else: [{m, f, a, :spec}]),
              do: problem),
        do: problem
  if mods == [] or bad != [], do: (IO.inspect(bad, label: "missing"); System.halt(1))
  IO.puts("   #{length(mods)} modules documented")
' || die "a public function without @doc or @spec"

echo "== mix-check: a new app depends on this checkout by path"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/app/lib"
cat > "$tmp/app/mix.exs" <<EOS
defmodule NewApp.MixProject do
  use Mix.Project
  def project, do: [app: :new_app, version: "0.1.0", deps: [{:process_hub_native, path: "$top"}]]
  def application, do: [extra_applications: [:logger]]
end
EOS
cat > "$tmp/app/lib/request_manager.ex" <<'EOS'
# ProcessHub's RequestManager as far as this check needs: its struct, and functions whose
# answers say they are the original's.
defmodule ProcessHub.Service.RequestManager do
  defstruct transaction_id: nil, hub_id: nil, handler: nil, nodes_data: nil, sub_requests: [],
            completed_nodes: MapSet.new(), expires_at: nil, awaiter: nil, future: nil, options: []
  def store(state, _op), do: Map.put(state, :stored_by, :original)
  def get(_state, _ref), do: :original
  def split(_req), do: :original
end
EOS
(
    cd "$tmp/app"
    mix deps.get
    mix compile
    mix run -e '
      alias ProcessHub.Service.RequestManager, as: RM
      op = %RM{transaction_id: make_ref(), nodes_data: []}
      :original = RM.get(%{}, op.transaction_id)
      :ok = ProcessHubNative.install(mode: :map)
      true = ProcessHubNative.installed?()
      %{pending_operations: p} = state = RM.store(%{pending_operations: %{}}, op)
      false = Map.has_key?(state, :stored_by)
      ^op = RM.get(%{pending_operations: p}, op.transaction_id)
      priv = to_string(:code.priv_dir(:process_hub_native))
      true = String.starts_with?(priv, File.cwd!() <> "/_build/")
      true = is_reference(:phn_tracker.new())
      :ok = ProcessHubNative.uninstall()
      :original = RM.get(%{}, op.transaction_id)
      IO.puts("   installed: stored and read through the drop-in, NIF from " <> priv <> "; uninstalled: the original answers")
    '
) || die "the new app did not build or install"
[ "$before" = "$(source_files)" ] || die "the new app's build wrote into priv/ or c_src/"
echo "== mix-check: OK"
