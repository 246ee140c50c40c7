defmodule PhnCheck.InstallTest do
  @moduledoc """
  `ProcessHubNative.install/1` behind a coordinator that knows nothing of this library:
  `PhnCheck.Coordinator` started with `request_manager: ProcessHub.Service.RequestManager`
  and `mode: :map` calls that module by name only (its Distributor, Worker and pending
  map all go through `state.rm`), as ProcessHub's coordinator does. The test project's
  `ProcessHub.Service.RequestManager` runs the plain-Erlang oracle
  (`:phn_request_manager_erl`), so call counts (`:erlang.trace_pattern/3`,
  `call_count`) on the three nodes tell which code ran: the oracle before the install,
  the native drop-in (`:phn_request_manager`, `:phn_nif`) after it, the oracle again after
  `uninstall/0`.
  """
  use ExUnit.Case, async: false

  alias PhnCheck.{CallCount, Child, Cluster, Coordinator}
  alias ProcessHub.{Future, StartResult, StopResult}
  alias ProcessHub.Service.RequestManager

  @moduletag timeout: 180_000
  @hub :phn_hub_installed
  @exec_delay 150
  @counted [:phn_request_manager, :phn_nif, :phn_request_manager_erl]

  setup_all do
    {peer1, p1} = Cluster.start_peer!("phn_i1")
    {peer2, p2} = Cluster.start_peer!("phn_i2")
    nodes = [node(), p1, p2]

    for n <- nodes do
      opts = [
        hub_id: @hub,
        nodes: nodes,
        mode: :map,
        request_manager: RequestManager,
        req_cleanup_interval: 200,
        exec_delay: @exec_delay
      ]

      {:ok, _} = :erpc.call(n, Coordinator, :start, [opts])
    end

    on_exit(fn ->
      # The peers went with the setup_all process (linked); this node may still be swapped.
      ProcessHubNative.uninstall()
      if pid = Process.whereis(@hub), do: GenServer.stop(pid)
      Cluster.stop_peer(peer1)
      Cluster.stop_peer(peer2)
    end)

    %{nodes: nodes}
  end

  defp count_calls(nodes, fun), do: CallCount.count(nodes, @counted, fun)

  # A start then a stop of `n` children over the three nodes, awaited; every child
  # reported (n =< 1 000 per node: no split chunks, so no quirk in the way).
  defp start_and_stop(nodes, tag, n) do
    cids = Enum.map(1..n, &{tag, &1})
    specs = Enum.map(cids, &Child.spec/1)
    {:ok, future} = Coordinator.start_children(@hub, specs, awaitable: true)
    assert %StartResult{status: :ok, errors: []} = result = Future.await(future)
    assert length(result.started) == n

    assert result.started |> Enum.map(fn {_, [{node, _}]} -> node end) |> Enum.uniq() |> Enum.sort() ==
             Enum.sort(nodes)

    registered_everywhere(nodes, @hub, cids, n)
    {:ok, stop} = Coordinator.stop_children(@hub, cids, awaitable: true)
    assert %StopResult{status: :ok, errors: []} = stop_result = Future.await(stop)
    assert length(stop_result.stopped) == n
    registered_everywhere(nodes, @hub, cids, 0)
    assert Coordinator.pending_refs(@hub) == []
  end

  # Every node's registry has applied the (un)registrations: nothing of the operation is
  # still queued when the next step (or the hub's stop) comes.
  defp registered_everywhere(nodes, hub, cids, count) do
    for n <- nodes,
        do: Cluster.wait_until(fn -> Coordinator.registered_count({hub, n}, cids) == count end, 10_000)
  end

  defp on_all(nodes, fun, args), do: for(n <- nodes, do: :erpc.call(n, ProcessHubNative, fun, args))

  test "map mode: the coordinator runs on the native drop-in after install/1, on the original after uninstall/0",
       %{nodes: nodes} do
    original_md5 = RequestManager.module_info(:md5)
    original_file = :code.which(RequestManager)
    assert on_all(nodes, :installed?, []) == [false, false, false]

    before = count_calls(nodes, fn -> start_and_stop(nodes, :before, 60) end)
    assert before.phn_request_manager_erl > 0
    assert before.phn_request_manager == 0
    assert before.phn_nif == 0

    assert on_all(nodes, :install, [[mode: :map]]) == [:ok, :ok, :ok]
    assert on_all(nodes, :installed?, []) == [true, true, true]
    assert on_all(nodes, :mode, []) == [:map, :map, :map]

    installed = count_calls(nodes, fn -> start_and_stop(nodes, :installed, 60) end)
    assert installed.phn_request_manager > 0
    assert installed.phn_nif > 0, "no NIF call: #{inspect(installed)}"
    assert installed.phn_request_manager_erl == 0

    assert on_all(nodes, :uninstall, []) == [:ok, :ok, :ok]
    assert on_all(nodes, :installed?, []) == [false, false, false]
    # The original's object code, exactly, from where it was loaded.
    assert RequestManager.module_info(:md5) == original_md5
    assert :code.which(RequestManager) == original_file

    again = count_calls(nodes, fn -> start_and_stop(nodes, :after, 60) end)
    assert again.phn_request_manager_erl > 0
    assert again.phn_request_manager == 0
    assert again.phn_nif == 0
  end

  test "map mode installed keeps ProcessHub's split-chunk quirk: one chunk per node reported",
       %{nodes: [_ | [p1 | _]] = nodes} do
    assert on_all(nodes, :install, [[mode: :map]]) == [:ok, :ok, :ok]

    try do
      cids = Enum.map(1..1500, &{:split, &1})
      specs = Enum.map(cids, &Child.spec/1)
      mapping = Map.new(cids, &{&1, [p1]})

      counts =
        count_calls(nodes, fn ->
          {:ok, future} = Coordinator.start_children(@hub, specs, awaitable: true, child_mapping: mapping)
          assert %StartResult{status: :ok} = result = Future.await(future)
          assert length(result.started) in [1000, 500]
          Cluster.wait_until(fn -> Coordinator.alive_count({@hub, p1}, cids) == 1500 end)
        end)

      assert counts.phn_nif > 0 and counts.phn_request_manager_erl == 0
      registered_everywhere(nodes, @hub, cids, 1500)
      {:ok, stop} = Coordinator.stop_children(@hub, cids, awaitable: true)
      assert %StopResult{status: :ok} = Future.await(stop)
      Cluster.wait_until(fn -> Coordinator.alive_count({@hub, p1}, cids) == 0 end)
      registered_everywhere(nodes, @hub, cids, 0)
    after
      on_all(nodes, :uninstall, [])
    end
  end

  # A hub of its own on the three nodes for one test (stopped after it).
  defp with_hub(nodes, hub, extra, fun) do
    for n <- nodes do
      opts = [hub_id: hub, nodes: nodes, mode: :map, request_manager: RequestManager] ++ extra
      {:ok, _} = :erpc.call(n, Coordinator, :start, [opts])
    end

    try do
      fun.()
    after
      for n <- nodes, do: :erpc.call(n, GenServer, :stop, [hub])
    end
  end

  @handle_response {:phn_request_manager, :handle_response, 4}

  test "an operation pending in ProcessHub's map when install/1 runs finishes on the drop-in",
       %{nodes: nodes} do
    hub = :phn_hub_midway

    # The targets wait 3 s before they run the requests: the responses come after the install.
    with_hub(nodes, hub, [exec_delay: 3000], fn ->
      cids = Enum.map(1..30, &{:midway, &1})
      {:ok, future} = Coordinator.start_children(hub, Enum.map(cids, &Child.spec/1), awaitable: true)
      assert [_] = Coordinator.pending_refs(hub)

      try do
        assert on_all(nodes, :install, [[mode: :map]]) == [:ok, :ok, :ok]

        counts =
          CallCount.count(nodes, [@handle_response, :phn_request_manager_erl], fn ->
            assert %StartResult{status: :ok, errors: []} = result = Future.await(future)
            assert length(result.started) == 30
          end)

        assert counts[@handle_response] > 0
        assert counts.phn_request_manager_erl == 0
        assert Coordinator.pending_refs(hub) == []
        registered_everywhere(nodes, hub, cids, 30)
        {:ok, stop} = Coordinator.stop_children(hub, cids, awaitable: true)
        assert %StopResult{status: :ok} = Future.await(stop)
        registered_everywhere(nodes, hub, cids, 0)
      after
        on_all(nodes, :uninstall, [])
      end
    end)
  end

  # Tracker mode: the drop-in takes over ProcessHub's %{} on the first store
  # (:phn_request_manager.set_default_mode(:tracker)).
  test "tracker mode: every split chunk reported behind the unchanged coordinator",
       %{nodes: [_, p1, _] = nodes} do
    assert on_all(nodes, :install, [[mode: :tracker]]) == [:ok, :ok, :ok]
    tracker_mode_run(nodes, p1)
    assert_default_mode_map(nodes)
  end

  defp tracker_mode_run(nodes, p1) do
    with_hub(nodes, :phn_hub_tracker, [exec_delay: @exec_delay], fn ->
      assert on_all(nodes, :mode, []) == [:tracker, :tracker, :tracker]

      try do
        cids = Enum.map(1..1500, &{:tracked, &1})
        mapping = Map.new(cids, &{&1, [p1]})

        counts =
          CallCount.count(nodes, [@handle_response, :phn_request_manager_erl], fn ->
            {:ok, future} =
              Coordinator.start_children(:phn_hub_tracker, Enum.map(cids, &Child.spec/1),
                awaitable: true,
                child_mapping: mapping
              )

            # Two chunks (1 000 + 500), both reported: map mode would report one.
            assert %StartResult{status: :ok, errors: []} = result = Future.await(future)
            assert length(result.started) == 1500
          end)

        assert counts[@handle_response] >= 2
        assert counts.phn_request_manager_erl == 0
        registered_everywhere(nodes, :phn_hub_tracker, cids, 1500)
        {:ok, stop} = Coordinator.stop_children(:phn_hub_tracker, cids, awaitable: true)
        assert %StopResult{status: :ok} = stop_result = Future.await(stop)
        assert length(stop_result.stopped) == 1500

        registered_everywhere(nodes, :phn_hub_tracker, cids, 0)
      after
        assert on_all(nodes, :uninstall, []) == [:ok, :ok, :ok]
      end
    end)
  end

  defp assert_default_mode_map(nodes) do
    assert for(n <- nodes, do: :erpc.call(n, :phn_request_manager, :default_mode, [])) ==
             [:map, :map, :map]
  end

  # C-node mode needs phn_cnode on the coordinator's node; the peers run none, so there it
  # is refused.
  test "C-node mode: this node's C-node collects every chunk behind the unchanged coordinator",
       %{nodes: [_, p1, p2] = nodes} do
    PhnCheck.Pending.CNode.ensure_cnode!()

    assert ProcessHubNative.install(mode: :cnode) == :ok

    try do
      for p <- [p1, p2] do
        assert :erpc.call(p, ProcessHubNative, :install, [[mode: :cnode]]) == {:error, :cnode_not_running}
        assert :erpc.call(p, ProcessHubNative, :install, [[mode: :map]]) == :ok
      end

      cnode_mode_run(nodes, p1)
    after
      assert on_all(nodes, :uninstall, []) == [:ok, :ok, :ok]
      assert_default_mode_map(nodes)
    end
  end

  defp cnode_mode_run(nodes, p1) do
    hub = :phn_hub_cnode

    with_hub(nodes, hub, [exec_delay: @exec_delay], fn ->
      cids = Enum.map(1..1500, &{:cnode, &1})
      {:ok, before} = :phn_cnode.stats()

      counts =
        CallCount.count(nodes, [@handle_response, :phn_request_manager_erl], fn ->
          {:ok, future} =
            Coordinator.start_children(hub, Enum.map(cids, &Child.spec/1),
              awaitable: true,
              child_mapping: Map.new(cids, &{&1, [p1]})
            )

          # Two chunks (1 000 + 500), both collected by the C-node: map mode reports one.
          assert %StartResult{status: :ok, errors: []} = result = Future.await(future)
          assert length(result.started) == 1500
        end)

      {:ok, stats} = :phn_cnode.stats()
      assert stats.ops_completed > before.ops_completed
      assert stats.responses >= before.responses + 2
      # The coordinator got the C-node's one report and handed it to the drop-in.
      assert counts[@handle_response] >= 1
      assert counts.phn_request_manager_erl == 0

      registered_everywhere(nodes, hub, cids, 1500)
      {:ok, stop} = Coordinator.stop_children(hub, cids, awaitable: true)
      assert %StopResult{status: :ok} = stop_result = Future.await(stop)
      assert length(stop_result.stopped) == 1500
      registered_everywhere(nodes, hub, cids, 0)
    end)
  end

  # A stand-in for the telemetry application, loaded for one test only: every event goes
  # to the process registered as :phn_telemetry_sink.
  @telemetry_double """
  defmodule :telemetry do
    def execute(event, measurements, metadata) do
      if pid = Process.whereis(:phn_telemetry_sink), do: send(pid, {:telemetry, event, measurements, metadata})
      :ok
    end
  end
  """

  test "with :telemetry loaded at install: operation completion and expiry events", %{nodes: nodes} do
    with_telemetry_double(nodes, :map, fn -> events_run(nodes, @hub, :events) end)
  end

  # Tracker mode too: the events read the operations in tracker mode's layout. A hub of its
  # own, as its state is taken over and must not outlive the install.
  test "with :telemetry loaded at install, tracker mode: completion and expiry events",
       %{nodes: nodes} do
    with_telemetry_double(nodes, :tracker, fn ->
      with_hub(nodes, :phn_hub_events_tracker, [req_cleanup_interval: 200, exec_delay: @exec_delay], fn ->
        events_run(nodes, :phn_hub_events_tracker, :tracked_events)
        assert {:phn_pending, _, _, _, _} = :sys.get_state(:phn_hub_events_tracker).pending_operations
      end)
    end)
  end

  # The stand-in :telemetry loaded, every node installed in `mode`, then `fun`; everything
  # undone after, whatever happened.
  defp with_telemetry_double(nodes, mode, fun) do
    Code.compile_string(@telemetry_double)
    Process.register(self(), :phn_telemetry_sink)

    try do
      assert on_all(nodes, :install, [[mode: mode]]) == [:ok, :ok, :ok]
      fun.()
    after
      on_all(nodes, :uninstall, [])
      Process.unregister(:phn_telemetry_sink)
      :code.purge(:telemetry)
      :code.delete(:telemetry)
      :code.purge(:telemetry)
    end

    refute Code.ensure_loaded?(:telemetry)
  end

  defp events_run(nodes, hub, tag) do
    cids = Enum.map(1..30, &{tag, &1})
    {:ok, future} = Coordinator.start_children(hub, Enum.map(cids, &Child.spec/1), awaitable: true)
    assert %StartResult{status: :ok} = Future.await(future)
    ref = future.ref

    assert_receive {:telemetry, [:process_hub_native, :operation, :complete], %{system_time: _},
                    %{transaction_id: ^ref}}

    # An expired operation, dropped by the coordinator's cleanup tick.
    now = System.monotonic_time(:millisecond)
    expired = %RequestManager{transaction_id: make_ref(), nodes_data: [], expires_at: now - 1000}
    :sys.replace_state(Process.whereis(hub), &RequestManager.store(&1, expired))
    assert_receive {:telemetry, [:process_hub_native, :operation, :expired], _, %{count: 1}}, 5000

    registered_everywhere(nodes, hub, cids, 30)
    {:ok, stop} = Coordinator.stop_children(hub, cids, awaitable: true)
    assert %StopResult{status: :ok} = Future.await(stop)
    registered_everywhere(nodes, hub, cids, 0)
  end

  test "install twice, uninstall without install, modes: each a clear result" do
    assert ProcessHubNative.uninstall() == {:error, :not_installed}
    assert ProcessHubNative.install(mode: :map) == :ok
    assert ProcessHubNative.install(mode: :map) == {:error, {:already_installed, :map}}
    assert ProcessHubNative.installed?()
    assert ProcessHubNative.uninstall() == :ok
    assert ProcessHubNative.uninstall() == {:error, :not_installed}
    refute ProcessHubNative.installed?()

    assert ProcessHubNative.install(mode: :nope) == {:error, {:invalid_mode, :nope}}
    refute ProcessHubNative.installed?()
  end

  test "the mode comes from config :process_hub_native, mode: ... when not given" do
    previous = Application.fetch_env(:process_hub_native, :mode)
    Application.put_env(:process_hub_native, :mode, :nope)

    try do
      assert ProcessHubNative.install([]) == {:error, {:invalid_mode, :nope}}
      Application.put_env(:process_hub_native, :mode, :map)
      assert ProcessHubNative.install([]) == :ok
      assert ProcessHubNative.mode() == :map
      assert ProcessHubNative.uninstall() == :ok
    after
      case previous do
        {:ok, value} -> Application.put_env(:process_hub_native, :mode, value)
        :error -> Application.delete_env(:process_hub_native, :mode)
      end
    end
  end

  test "the generated module has the original's struct and every function of it" do
    exports = RequestManager.module_info(:exports)
    struct = RequestManager.__struct__()
    info = RequestManager.__info__(:struct)
    assert ProcessHubNative.install(mode: :map) == :ok

    try do
      assert RequestManager.__struct__() == struct
      assert RequestManager.__info__(:struct) == info
      assert Enum.sort(RequestManager.module_info(:exports)) == Enum.sort(exports)
      assert struct(RequestManager, hub_id: :h).hub_id == :h
    after
      assert ProcessHubNative.uninstall() == :ok
    end
  end
end
