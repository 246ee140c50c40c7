defmodule PhnCheck.ApplicationTest do
  @moduledoc """
  `ProcessHubNative.Application`: no children without configuration; with
  `config :process_hub_native, cnode: [start: true, ...]` it runs the C-node owner
  (`phn_cnode`) and `ProcessHubNative.CNodeMonitor`, which logs the C-node's start, a
  restart of its OS process, and the owner's exit (and emits them as `:telemetry`
  events when telemetry is there: a stand-in on the peer). Run on a fresh peer node (one
  `phn_cnode` per node, and this node's may belong to the coordinator tests).
  """
  use ExUnit.Case, async: false

  alias PhnCheck.Cluster
  alias ProcessHubNative.Application, as: App

  @moduletag timeout: 120_000

  @telemetry_double """
  defmodule :telemetry do
    def execute(event, measurements, metadata) do
      if pid = :persistent_term.get(:phn_telemetry_sink, nil), do: send(pid, {:telemetry, event, measurements, metadata})
      :ok
    end
  end
  """

  test "children/1: none unless start: true; the owner gets the other options as a map" do
    assert App.children([]) == []
    assert App.children(start: false, name: :x) == []

    assert [owner, monitor] = App.children(start: true, name: :x, args: [max_ops: 5], poll_ms: 50)
    assert owner == %{id: :phn_cnode, start: {:phn_cnode, :start_link, [%{name: :x, args: %{max_ops: 5}}]}}
    assert monitor == {ProcessHubNative.CNodeMonitor, poll_ms: 50}
  end

  test "this node's application runs with no children by default" do
    assert Process.whereis(ProcessHubNative.Supervisor)
    assert Supervisor.which_children(ProcessHubNative.Supervisor) == []
  end

  test "with cnode: [start: true] the C-node runs supervised; start, restart and exit are logged" do
    {peer, node} = Cluster.start_peer!("phn_app")

    try do
      # The peer's log comes here only (not to this run's console).
      :ok = :erpc.call(node, PhnCheck.LogForward, :add, [self()])
      :ok = :erpc.call(node, Logger, :remove_backend, [:console])
      # A telemetry stand-in on the peer: its events come here too.
      :erpc.call(node, Code, :compile_string, [@telemetry_double])
      :ok = :erpc.call(node, :persistent_term, :put, [:phn_telemetry_sink, self()])
      :ok = :erpc.call(node, Application, :put_env, [:process_hub_native, :cnode, [start: true, poll_ms: 50]])
      {:ok, _} = :erpc.call(node, Application, :ensure_all_started, [:process_hub_native])

      children = :erpc.call(node, Supervisor, :which_children, [ProcessHubNative.Supervisor])

      assert Enum.sort([:phn_cnode, ProcessHubNative.CNodeMonitor]) ==
               Enum.sort(Enum.map(children, &elem(&1, 0)))

      cnode = :erpc.call(node, :phn_cnode, :cnode, [])
      assert_log(node, ~r/C-node #{cnode} started/)
      assert_receive {:telemetry, [:process_hub_native, :cnode, :start], _, %{cnode: ^cnode}}, 5000

      # The C-node OS process dies: phn_cnode restarts it, the monitor reports it.
      os_pid = :erpc.call(node, :phn_cnode, :os_pid, [])
      {_, 0} = System.cmd("kill", ["-9", to_string(os_pid)])
      assert_log(node, ~r/C-node #{cnode} restarted \(OS pid #{os_pid} -> \d+\)/)

      assert_receive {:telemetry, [:process_hub_native, :cnode, :restart], _, %{previous_os_pid: ^os_pid}},
                     5000

      # The owner exits: logged; the supervisor starts it again (and the monitor).
      owner = :erpc.call(node, Process, :whereis, [:phn_cnode])
      :ok = :erpc.call(node, :phn_cnode, :stop, [])
      assert_log(node, ~r/C-node owner exited: :normal/)
      assert_receive {:telemetry, [:process_hub_native, :cnode, :exit], _, %{reason: :normal}}, 5000
      assert_log(node, ~r/C-node #{cnode} started/)
      new_owner = :erpc.call(node, Process, :whereis, [:phn_cnode])
      assert is_pid(new_owner) and new_owner != owner
    after
      Cluster.stop_peer(peer)
    end
  end

  defp assert_log(node, regex) do
    receive do
      {:phn_log, ^node, _level, message} ->
        unless message =~ regex, do: assert_log(node, regex)
    after
      10_000 -> flunk("no log matching #{inspect(regex)} from #{node}")
    end
  end
end
