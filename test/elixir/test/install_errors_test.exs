defmodule PhnCheck.InstallErrorsTest do
  @moduledoc """
  `ProcessHubNative.install/1` where it must refuse, on a peer node whose code path lacks
  this test project: no ProcessHub at all, a RequestManager with a function the drop-in
  lacks, a RequestManager loaded from memory (no object code to restore). In a module of
  its own, so that no other test's peers are up when this peer comes and goes.
  """
  use ExUnit.Case, async: false

  alias PhnCheck.Cluster
  alias ProcessHub.Service.RequestManager

  @moduletag timeout: 60_000

  test "without ProcessHub, with functions the drop-in lacks, without object code: clear errors" do
    # A node whose code path lacks this test project (so ProcessHub's modules).
    {peer, node} =
      Cluster.start_peer!("phn_noph", paths: &(not String.contains?(to_string(&1), "phn_elixir_check")))

    try do
      assert :erpc.call(node, ProcessHubNative, :install, [[mode: :map]]) == {:error, :process_hub_not_loaded}

      # A RequestManager with a function the drop-in lacks.
      compile(node, "def new(a, b, c, d), do: {a, b, c, d}\ndef frobnicate(a, b), do: {a, b}")

      assert :erpc.call(node, ProcessHubNative, :install, [[mode: :map]]) ==
               {:error, {:missing_functions, [frobnicate: 2]}}

      # Loaded from memory: no object code to restore later, so no install.
      compile(node, "def new(a, b, c, d), do: {a, b, c, d}")

      assert :erpc.call(node, ProcessHubNative, :install, [[mode: :map]]) ==
               {:error, {:no_object_code, RequestManager}}

      refute :erpc.call(node, ProcessHubNative, :installed?, [])
    after
      Cluster.stop_peer(peer)
    end
  end

  defp compile(node, body) do
    src = "defmodule ProcessHub.Service.RequestManager do\n#{body}\nend"
    :erpc.call(node, Code, :put_compiler_option, [:ignore_module_conflict, true])
    :erpc.call(node, :code, :purge, [RequestManager])
    [{RequestManager, _}] = :erpc.call(node, Code, :compile_string, [src])
  end
end
