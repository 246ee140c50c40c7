defmodule PhnCheck.CoordinatorTest do
  @moduledoc """
  A ProcessHub-shaped coordinator (`PhnCheck.Coordinator`) on this node and two peer
  nodes started with OTP's `:peer`: operations are composed here, split and dispatched
  to the peers' coordinators, whose workers start/stop the children and answer with
  `send_response(:operation_response, ...)`; `ProcessHub.Future.await/1` resolves them.

  Map mode runs with the NIF drop-in and with the plain-Erlang oracle (ProcessHub's
  quirks included); tracker mode (`PhnCheck.Pending.Tracker`, `phn_tracker`) and C-node
  mode (`PhnCheck.Pending.CNode`: this node's C-node collects the peers' responses) run
  the same coordinator and report every child of split operations.
  """
  use ExUnit.Case, async: false

  alias PhnCheck.{Child, Cluster, Coordinator}
  alias ProcessHub.{Future, StartResult, StopResult}

  @moduletag timeout: 120_000

  # Targets wait this long before running requests (ProcessHub's worker-queue latency):
  # v0.5.0-beta keeps no result once an operation completes, so the test's await must
  # reach the coordinator first.
  @exec_delay 150

  @hubs [phn_hub_nif: :phn_request_manager, phn_hub_erl: :phn_request_manager_erl]

  setup_all do
    {peer1, p1} = Cluster.start_peer!("phn_w1")
    {peer2, p2} = Cluster.start_peer!("phn_w2")
    nodes = [node(), p1, p2]

    for {hub, rm} <- @hubs, n <- nodes do
      opts = [
        hub_id: hub,
        nodes: nodes,
        mode: :map,
        request_manager: rm,
        req_cleanup_interval: 200,
        exec_delay: @exec_delay
      ]

      {:ok, _} = :erpc.call(n, Coordinator, :start, [opts])
    end

    on_exit(fn ->
      for {hub, _} <- @hubs, pid = Process.whereis(hub), do: GenServer.stop(pid)
      Cluster.stop_peer(peer1)
      Cluster.stop_peer(peer2)
    end)

    %{p1: p1, p2: p2, nodes: nodes}
  end

  defp cids(range, tag), do: Enum.map(range, &{tag, &1})

  # nodes_data lists each node's children newest first; split cuts that list in 1000s.
  defp chunk_sets(cids_in_order),
    do: cids_in_order |> Enum.reverse() |> Enum.chunk_every(1000) |> Enum.map(&MapSet.new/1)

  defp by_node(entries), do: Enum.group_by(entries, fn {_cid, [{n, _}]} -> n end, fn {cid, _} -> cid end)

  for {hub, rm} <- @hubs do
    describe "map mode, #{rm}" do
      @hub hub

      test "2 500 children over two nodes: split into chunks, one chunk per node reported (ProcessHub's quirk)",
           %{p1: p1, p2: p2} do
        all = cids(1..2500, :big)
        {evens, odds} = Enum.split_with(all, fn {_, i} -> rem(i, 2) == 0 end)
        mapping = Map.new(evens, &{&1, [p1]}) |> Map.merge(Map.new(odds, &{&1, [p2]}))
        specs = Enum.map(all, &Child.spec/1)

        assert {:ok, %Future{ref: ref, action: :start} = future} =
                 Coordinator.start_children(@hub, specs, awaitable: true, child_mapping: mapping)

        assert is_reference(ref)
        assert %StartResult{status: :ok, errors: [], rollback: false} = result = Future.await(future)

        # Each node was sent 1 250 children in two chunks (1 000 + 250) and answered twice
        # under the same transaction id: the node's results are those of exactly one chunk.
        started = by_node(result.started)
        assert Map.keys(started) |> Enum.sort() == Enum.sort([p1, p2])

        for {node, expected} <- [{p1, evens}, {p2, odds}] do
          got = MapSet.new(started[node])
          assert got in chunk_sets(expected), "#{node}: not exactly one chunk (#{MapSet.size(got)} children)"
        end

        assert length(result.started) in [2000, 1250, 500]
        assert Coordinator.pending_operation(@hub, ref) == nil

        # The children themselves all started: the loss is in the report only.
        # (The other chunk may still be starting when the first response completes it.)
        Cluster.wait_until(fn -> Coordinator.alive_count({@hub, p1}, evens) == 1250 end)
        Cluster.wait_until(fn -> Coordinator.alive_count({@hub, p2}, odds) == 1250 end)

        for {_cid, [{node, pid}]} <- result.started,
            do: assert(:erpc.call(node, Process, :alive?, [pid]))

        # Stop them all from here (the registry learnt them by PidsRegisterRequest): the
        # stop operation is split the same way, with the same quirk.
        Cluster.wait_until(fn -> Coordinator.registered_count(@hub, all) == 2500 end)
        assert {:ok, stop_future} = Coordinator.stop_children(@hub, all, awaitable: true)
        assert %Future{action: :stop} = stop_future
        assert %StopResult{status: :ok, errors: []} = stop_result = Future.await(stop_future)

        stopped = Enum.group_by(stop_result.stopped, fn {_, [n]} -> n end, fn {cid, _} -> cid end)

        for {node, expected} <- [{p1, evens}, {p2, odds}] do
          assert MapSet.new(stopped[node]) in chunk_sets(expected)
        end

        Cluster.wait_until(fn -> Coordinator.alive_count({@hub, p1}, evens) == 0 end)
        Cluster.wait_until(fn -> Coordinator.alive_count({@hub, p2}, odds) == 0 end)
        Cluster.wait_until(fn -> Coordinator.registered_count(@hub, all) == 0 end)
      end

      test "a small operation over the three nodes reports every child where the strategy put it",
           %{nodes: nodes} do
        all = cids(1..30, :small)
        specs = Enum.map(all, &Child.spec/1)
        hub_view = %{nodes: nodes}

        expected =
          Map.new(all, fn cid ->
            {cid,
             ProcessHub.Strategy.Distribution.Base.belongs_to(%PhnCheck.Strategy.Hash{}, hub_view, cid, 1)}
          end)

        assert {:ok, future} = Coordinator.start_children(@hub, specs, awaitable: true)
        assert %StartResult{status: :ok, errors: [], started: started} = Future.await(future)
        assert length(started) == 30
        assert Map.new(started, fn {cid, [{node, _pid}]} -> {cid, [node]} end) == expected
        assert MapSet.new(Enum.flat_map(Map.values(expected), & &1)) |> MapSet.subset?(MapSet.new(nodes))

        # check_existing: once the registry knows them, a second start is refused.
        Cluster.wait_until(fn -> Coordinator.registered_count(@hub, all) == 30 end)
        first_two = Enum.take(specs, 2)

        assert {:error, {:already_started, [{:small, 1}, {:small, 2}]}} =
                 Coordinator.start_children(@hub, first_two, awaitable: true)

        assert {:ok, :stop_initiated} = Coordinator.stop_children(@hub, all)
        Cluster.wait_until(fn -> Coordinator.registered_count(@hub, all) == 0 end)
        for n <- nodes, do: Cluster.wait_until(fn -> Coordinator.alive_count({@hub, n}, all) == 0 end)
      end

      test "stop of unknown children answers at once with not_found; await edge cases" do
        assert {:error, :no_children} = Coordinator.start_children(@hub, [])
        assert {:error, :no_children} = Coordinator.stop_children(@hub, [])

        assert {:ok, future} = Coordinator.stop_children(@hub, [:ghost1, :ghost2], awaitable: true)

        assert %StopResult{status: :error, stopped: [], errors: errors} = Future.await(future)
        assert errors == [ghost1: {:error, :not_found}, ghost2: {:error, :not_found}]

        # Unknown reference, and a future that does not resolve.
        unknown = %Future{future | ref: make_ref()}
        assert {:error, :pending_request_not_found} = Future.await(unknown)
        assert {:error, :invalid_argument} = Future.await(%Future{})
        assert {:error, :noproc} = Future.await(%Future{future | future_resolver: {:no_such_hub, node()}})

        # v0.5.0-beta keeps no result: awaiting after completion finds nothing.
        assert {:ok, late} = Coordinator.start_children(@hub, [Child.spec(:late)], awaitable: true)
        Cluster.wait_until(fn -> Coordinator.pending_operation(@hub, late.ref) == nil end)
        assert {:error, :pending_request_not_found} = Future.await(late)
        Cluster.wait_until(fn -> Coordinator.registered_count(@hub, [:late]) == 1 end)
        assert {:ok, :stop_initiated} = Coordinator.stop_children(@hub, [:late])
      end

      test "partitioned target: no response; the await timer answers with no_response errors",
           %{p1: p1, p2: p2} do
        assert :ok = Coordinator.toggle_quorum_failure({@hub, p2})
        on_exit(fn -> Coordinator.toggle_quorum_success({@hub, p2}) end)

        all = cids(1..10, :part)
        {to_p1, to_p2} = Enum.split(all, 5)
        mapping = Map.new(to_p1, &{&1, [p1]}) |> Map.merge(Map.new(to_p2, &{&1, [p2]}))
        specs = Enum.map(all, &Child.spec/1)

        assert {:ok, future} =
                 Coordinator.start_children(@hub, specs, awaitable: true, child_mapping: mapping, timeout: 600)

        assert %StartResult{status: :error, started: started, errors: errors} = Future.await(future)
        assert started |> Enum.map(&elem(&1, 0)) |> Enum.sort() == to_p1
        assert Enum.sort(errors) == Enum.map(to_p2, &{&1, {:error, :no_response}})
        assert Coordinator.pending_operation(@hub, future.ref) == nil

        # timeout: 0 answers at once, with whatever has arrived (nothing yet).
        more = cids(11..12, :part)

        assert {:ok, now} =
                 Coordinator.start_children(@hub, Enum.map(more, &Child.spec/1),
                   awaitable: true,
                   timeout: 0,
                   child_mapping: Map.new(more, &{&1, [p1]})
                 )

        assert %StartResult{status: :error, started: [], errors: errors} = Future.await(now)
        assert Enum.sort(errors) == Enum.map(more, &{&1, {:error, :no_response}})

        # The cleanup timer drops an expired operation nobody awaits.
        refs_before = Coordinator.pending_refs(@hub)

        assert {:ok, :start_initiated} =
                 Coordinator.start_children(@hub, [Child.spec({:part, 99})],
                   request_timeout: 50,
                   child_mapping: %{{:part, 99} => [p2]}
                 )

        assert [expiring] = Coordinator.pending_refs(@hub) -- refs_before

        assert %ProcessHub.Service.RequestManager{awaiter: nil} =
                 Coordinator.pending_operation(@hub, expiring)

        Cluster.wait_until(fn -> Coordinator.pending_operation(@hub, expiring) == nil end, 3000)

        assert :ok = Coordinator.toggle_quorum_success({@hub, p2})
        Cluster.wait_until(fn -> Coordinator.registered_count(@hub, to_p1 ++ more) == 7 end)
        assert {:ok, :stop_initiated} = Coordinator.stop_children(@hub, to_p1 ++ more)
        Cluster.wait_until(fn -> Coordinator.alive_count({@hub, p1}, to_p1 ++ more) == 0 end)
      end

      test "on_failure: :rollback terminates only the coordinator node's children", %{p1: p1} do
        specs = [Child.spec(:rb_local), Child.spec(:rb_remote), Child.failing_spec(:rb_bad, :boom)]
        mapping = %{rb_local: [node()], rb_remote: [p1], rb_bad: [p1]}

        assert {:ok, future} =
                 Coordinator.start_children(@hub, specs,
                   awaitable: true,
                   child_mapping: mapping,
                   on_failure: :rollback
                 )

        assert %StartResult{status: :error, rollback: true, errors: [rb_bad: :boom], started: started} =
                 Future.await(future)

        pids = Map.new(started, fn {cid, [{_node, pid}]} -> {cid, pid} end)
        assert Map.keys(pids) |> Enum.sort() == [:rb_local, :rb_remote]
        refute Process.alive?(pids.rb_local)
        assert Coordinator.alive_count(@hub, [:rb_local]) == 0
        assert Coordinator.registered_count(@hub, [:rb_local]) == 0
        # Quirk: the remote child is left running.
        assert :erpc.call(p1, Process, :alive?, [pids.rb_remote])
        Cluster.wait_until(fn -> Coordinator.registered_count(@hub, [:rb_remote]) == 1 end)
        assert {:ok, :stop_initiated} = Coordinator.stop_children(@hub, [:rb_remote])
      end
    end
  end

  # The modes that fix the split-chunk quirk: the tracker (phn_tracker) and the C-node
  # collecting the responses. Same coordinator, same calls; every child is reported.
  for mode <- [:tracker, :cnode] do
    describe "#{mode} mode" do
      @mode mode
      @mode_hub :"phn_hub_#{mode}"

      setup %{nodes: nodes} do
        for n <- nodes do
          {:ok, _} =
            :erpc.call(n, Coordinator, :start, [
              [
                hub_id: @mode_hub,
                nodes: nodes,
                mode: @mode,
                exec_delay: @exec_delay,
                req_cleanup_interval: 200
              ]
            ])
        end

        on_exit(fn -> for n <- nodes, do: :erpc.call(n, GenServer, :stop, [@mode_hub]) end)
        %{hub: @mode_hub}
      end

      test "2 500 children over two nodes: every child reported, on start and on stop",
           %{hub: hub, p1: p1, p2: p2, nodes: nodes} do
        before = collector_stats(@mode, hub)
        all = cids(1..2500, :big)
        {evens, odds} = Enum.split_with(all, fn {_, i} -> rem(i, 2) == 0 end)
        mapping = Map.new(evens, &{&1, [p1]}) |> Map.merge(Map.new(odds, &{&1, [p2]}))

        assert {:ok, future} =
                 Coordinator.start_children(hub, Enum.map(all, &Child.spec/1),
                   awaitable: true,
                   child_mapping: mapping
                 )

        assert %StartResult{status: :ok, errors: [], started: started} = Future.await(future)
        assert Enum.map(started, &elem(&1, 0)) |> Enum.sort() == Enum.sort(all)
        # Each node answered in two chunks (1 000 + 250): both are in the report.
        by = by_node(started)
        assert MapSet.new(by[p1]) == MapSet.new(evens)
        assert MapSet.new(by[p2]) == MapSet.new(odds)
        for {_cid, [{node, pid}]} <- started, do: assert(:erpc.call(node, Process, :alive?, [pid]))
        assert Coordinator.pending_operation(hub, future.ref) == nil
        assert Coordinator.pending_count(hub) == 0

        Cluster.wait_until(fn -> Coordinator.registered_count(hub, all) == 2500 end)
        assert {:ok, stop_future} = Coordinator.stop_children(hub, all, awaitable: true)
        assert %StopResult{status: :ok, errors: [], stopped: stopped} = Future.await(stop_future)
        assert Enum.map(stopped, &elem(&1, 0)) |> Enum.sort() == Enum.sort(all)
        Cluster.wait_until(fn -> Coordinator.alive_count({hub, p1}, evens) == 0 end)
        Cluster.wait_until(fn -> Coordinator.alive_count({hub, p2}, odds) == 0 end)
        # Let the unregistrations reach every node before the hubs stop.
        for n <- nodes, do: Cluster.wait_until(fn -> Coordinator.registered_count({hub, n}, all) == 0 end)

        assert_collected(@mode, before, collector_stats(@mode, hub))
      end

      test "partitioned target: the await ends with the answering node's children and no_response for the other",
           %{hub: hub, p1: p1, p2: p2, nodes: nodes} do
        assert :ok = Coordinator.toggle_quorum_failure({hub, p2})
        on_exit(fn -> Coordinator.toggle_quorum_success({hub, p2}) end)

        all = cids(1..10, :part)
        {to_p1, to_p2} = Enum.split(all, 5)
        mapping = Map.new(to_p1, &{&1, [p1]}) |> Map.merge(Map.new(to_p2, &{&1, [p2]}))

        assert {:ok, future} =
                 Coordinator.start_children(hub, Enum.map(all, &Child.spec/1),
                   awaitable: true,
                   child_mapping: mapping,
                   timeout: 600
                 )

        assert %StartResult{status: :error, started: started, errors: errors} = Future.await(future)
        assert started |> Enum.map(&elem(&1, 0)) |> Enum.sort() == to_p1
        assert Enum.sort(errors) == Enum.map(to_p2, &{&1, {:error, :no_response}})
        assert Coordinator.pending_operation(hub, future.ref) == nil

        # The cleanup timer drops an expired operation nobody awaits.
        assert {:ok, :start_initiated} =
                 Coordinator.start_children(hub, [Child.spec({:part, 99})],
                   request_timeout: 50,
                   child_mapping: %{{:part, 99} => [p2]}
                 )

        Cluster.wait_until(fn -> Coordinator.pending_count(hub) == 0 end, 3000)

        Cluster.wait_until(fn -> Coordinator.registered_count(hub, to_p1) == 5 end)
        assert {:ok, :stop_initiated} = Coordinator.stop_children(hub, to_p1)
        Cluster.wait_until(fn -> Coordinator.alive_count({hub, p1}, to_p1) == 0 end)
        for n <- nodes, do: Cluster.wait_until(fn -> Coordinator.registered_count({hub, n}, to_p1) == 0 end)
      end
    end
  end

  # What collected the responses: the coordinator's own tracker, or this node's C-node.
  defp collector_stats(:tracker, hub), do: :phn_tracker.stats(:phn_rm_tracker.tracker(:sys.get_state(hub)))

  defp collector_stats(:cnode, _hub) do
    {:ok, stats} = :phn_cnode.stats()
    stats
  end

  # Two operations (start, stop), each node answering in two chunks: 8 responses recorded
  # and both operations completed by them.
  defp assert_collected(:tracker, before, after_stats) do
    assert after_stats.debug.records - before.debug.records == 8
    assert after_stats.debug.completes - before.debug.completes == 2
    assert after_stats.ops == 0
  end

  defp assert_collected(:cnode, before, after_stats) do
    assert after_stats.responses - before.responses == 8
    assert after_stats.ops_completed - before.ops_completed == 2
    assert after_stats.ops == 0
  end
end
