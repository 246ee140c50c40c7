defmodule PhnCheck.HandlersTest do
  @moduledoc """
  `finalize/2` with the Elixir handler structs (REFERENCE.md §3.1, §3.2, §6.2), the
  handler constructors, and the functions that read the hub: `with_partition_check/2`
  (a real `Registry`), `load_strategies/1` (an ETS misc storage) and the migration and
  contraction factories (a distribution strategy protocol implementation).
  """
  use ExUnit.Case, async: true

  alias ProcessHub.Constant.StorageKey
  alias ProcessHub.Request.Handler.{PidsRegisterRequest, PidsUnregisterRequest}
  alias ProcessHub.Request.Handler.{StartChildrenRequest, StopChildrenRequest}
  alias ProcessHub.Service.{RequestManager, Storage}
  alias ProcessHub.{StartResult, StopResult}

  defp op(handler, sub_requests, options \\ []) do
    %RequestManager{
      transaction_id: make_ref(),
      hub_id: :test_hub,
      handler: handler,
      nodes_data: Enum.map(sub_requests, &{&1.node, &1.children}),
      sub_requests: sub_requests,
      options: options
    }
  end

  defp start_sr(node, results, children \\ []),
    do: %StartChildrenRequest{node: node, results: results, children: children, status: :completed}

  defp stop_sr(node, results, children \\ []),
    do: %StopChildrenRequest{node: node, results: results, children: children, status: :completed}

  test "handler constructors and response types" do
    base = %RequestManager{
      transaction_id: make_ref(),
      hub_id: :h,
      options: [request_signature: 42, reply_to: [self()], custom_opt: 1, hub_id: :x]
    }

    start = StartChildrenRequest.new(base, :target, [%{child_id: :c}])

    assert %StartChildrenRequest{node: :target, status: :dispatched, request_signature: 42, reply_to: [_]} =
             start

    assert start.originating_node == node()
    assert start.options == [request_signature: 42, custom_opt: 1]

    stop = StopChildrenRequest.new(base, :target, [%{child_id: :c}])
    assert %StopChildrenRequest{node: :target, status: :dispatched, hub_id: :h} = stop
    assert Keyword.get(stop.options, :custom_opt) == 1
    refute Keyword.has_key?(stop.options, :reply_to)

    assert StartChildrenRequest.response_type() == :operation_response
    assert StopChildrenRequest.response_type() == :operation_response
    assert %PidsRegisterRequest{children_data: %{}, durable: false} = PidsRegisterRequest.new(%{})
    assert %PidsUnregisterRequest{removable_cid_nodes: [], on_empty: :churn} = PidsUnregisterRequest.new([])
    assert %ProcessHub.Future{}.action == :start
  end

  for rm <- [:phn_request_manager, :phn_request_manager_erl] do
    describe "#{rm}: finalize/2" do
      @rm rm

      test "start: ok, no_response, mixed, bare pid; lists reversed" do
        pid = self()
        me = node()

        assert %StartResult{status: :ok, started: [{:child1, [{^me, ^pid}]}], errors: [], rollback: false} =
                 @rm.finalize(op(StartChildrenRequest, [start_sr(me, [{:child1, {:ok, pid}}])]), %{})

        assert %StartResult{status: :error, started: [], errors: [{:child1, {:error, :no_response}}]} =
                 @rm.finalize(op(StartChildrenRequest, [start_sr(me, nil, [%{child_id: :child1}])]), %{})

        mixed = [
          start_sr(:n1, [{:a, {:ok, pid}}, {:b, {:error, :crash}}, {:c, pid}]),
          start_sr(:n2, [{:d, {:ok, pid}}])
        ]

        assert %StartResult{status: :error, started: started, errors: [{:b, :crash}]} =
                 @rm.finalize(op(StartChildrenRequest, mixed), %{})

        assert started == [{:d, [{:n2, pid}]}, {:c, [{:n1, pid}]}, {:a, [{:n1, pid}]}]

        # {:error, {:already_started, pid}} is an error (quirk).
        assert %StartResult{status: :error, errors: [{:x, {:already_started, ^pid}}]} =
                 @rm.finalize(
                   op(StartChildrenRequest, [start_sr(:n1, [{:x, {:error, {:already_started, pid}}}])]),
                   %{}
                 )
      end

      test "start: on_failure: :rollback terminates the started children on this node" do
        {:ok, sup} = DynamicSupervisor.start_link(strategy: :one_for_one)
        registry = :ets.new(:reg, [:set, :public])
        {:ok, child} = DynamicSupervisor.start_child(sup, PhnCheck.Child.spec(:ok_child))
        :ets.insert(registry, {:ok_child, :row})
        hub = %{procs: %{dist_sup: sup}, storage: %{registry: registry}}
        subs = [start_sr(node(), [{:ok_child, {:ok, child}}, {:bad, {:error, :boom}}])]

        ok_op =
          op(StartChildrenRequest, [start_sr(node(), [{:ok_child, {:ok, child}}])], on_failure: :rollback)

        assert %StartResult{status: :ok, rollback: false} = @rm.finalize(ok_op, hub)
        assert Process.alive?(child)

        assert %StartResult{status: :error, rollback: false} =
                 @rm.finalize(op(StartChildrenRequest, subs, on_failure: :continue), hub)

        assert Process.alive?(child)

        assert %StartResult{status: :error, rollback: true, errors: [{:bad, :boom}]} =
                 @rm.finalize(op(StartChildrenRequest, subs, on_failure: :rollback), hub)

        refute Process.alive?(child)
        assert :ets.lookup(registry, :ok_child) == []
      end

      test "stop: ok, no_response (appended), not_found, other results" do
        me = node()

        assert %StopResult{status: :ok, stopped: [{:child1, [^me]}], errors: []} =
                 @rm.finalize(op(StopChildrenRequest, [stop_sr(me, [{:child1, :ok}])]), %{})

        assert %StopResult{status: :error, errors: [{:child1, {:error, :no_response}}]} =
                 @rm.finalize(op(StopChildrenRequest, [stop_sr(me, nil, [%{child_id: :child1}])]), %{})

        assert %StopResult{
                 status: :error,
                 stopped: [{:child1, [^me]}],
                 errors: [{:child_missing, {:error, :not_found}}]
               } =
                 @rm.finalize(
                   op(StopChildrenRequest, [stop_sr(me, [{:child1, :ok}])],
                     not_found_children: [:child_missing]
                   ),
                   %{}
                 )

        assert %StopResult{status: :error, errors: [{:child1, :timeout}]} =
                 @rm.finalize(op(StopChildrenRequest, [stop_sr(me, [{:child1, {:error, :timeout}}])]), %{})

        assert %StopResult{status: :ok, stopped: stopped} =
                 @rm.finalize(
                   op(StopChildrenRequest, [stop_sr(:n1, [{:a, :ok}]), stop_sr(:n2, [{:b, :ok}])]),
                   %{}
                 )

        assert stopped == [{:b, [:n2]}, {:a, [:n1]}]

        # Mixed order: no_response errors are appended, answered errors prepended.
        subs = [stop_sr(:n1, nil, [%{child_id: :x}]), stop_sr(:n2, [{:y, {:error, :e}}])]

        assert %StopResult{errors: [{:y, :e}, {:x, {:error, :no_response}}]} =
                 @rm.finalize(op(StopChildrenRequest, subs), %{})
      end
    end

    describe "#{rm}: hub readers" do
      @rm rm

      setup do
        registry = :"phn_check_sysreg_#{System.unique_integer([:positive])}"
        start_supervised!({Registry, keys: :unique, name: registry})
        misc = Storage.new()
        Storage.insert(misc, StorageKey.strsyn(), :sync_s)
        Storage.insert(misc, StorageKey.strdist(), %PhnCheck.Strategy.Hash{})
        Storage.insert(misc, StorageKey.strred(), :redun_s)
        Storage.insert(misc, StorageKey.strmigr(), :migr_s)

        %{
          hub: %{
            hub_id: :test_hub,
            nodes: [node()],
            procs: %{system_registry: registry},
            storage: %{misc: misc}
          }
        }
      end

      test "with_partition_check/2 follows the system registry's \"dist_sup\" entry", %{hub: hub} do
        assert {:error, :partitioned} = @rm.with_partition_check(hub, fn -> flunk("must not run") end)

        test_pid = self()

        holder =
          spawn(fn ->
            {:ok, _} = Registry.register(hub.procs.system_registry, "dist_sup", nil)
            send(test_pid, :registered)
            receive do: (:stop -> :ok)
          end)

        assert_receive :registered
        assert @rm.with_partition_check(hub, fn -> :my_result end) == :my_result
        send(holder, :stop)
        ref = Process.monitor(holder)
        assert_receive {:DOWN, ^ref, _, _, _}
        PhnCheck.Cluster.wait_until(fn -> Registry.lookup(hub.procs.system_registry, "dist_sup") == [] end)
        assert {:error, :partitioned} = @rm.with_partition_check(hub, fn -> :my_result end)
      end

      test "load_strategies/1 returns the four v0.5.0-beta keys", %{hub: hub} do
        assert @rm.load_strategies(hub) == %{
                 sync: :sync_s,
                 dist: %PhnCheck.Strategy.Hash{},
                 redun: :redun_s,
                 migr: :migr_s
               }
      end

      test "migration_request and contraction_request build fire-and-forget start requests", %{hub: hub} do
        spec = PhnCheck.Child.spec(:migr_child)

        req = @rm.migration_request(hub, :target_node, [{spec, %{some: :meta}}], post_action: :pa, keep: 1)

        assert %StartChildrenRequest{
                 hub_id: :test_hub,
                 originating_node: nil,
                 reply_to: nil,
                 node: :target_node
               } = req

        assert [
                 %{
                   child_id: :migr_child,
                   child_spec: ^spec,
                   metadata: %{some: :meta},
                   nodes: [:target_node],
                   migration: true
                 }
               ] = req.children

        assert req.request_signature != nil
        assert req.post_action == :pa
        assert req.options == [keep: 1]
        assert req.status == :pending
        assert is_reference(req.transaction_id)

        local = @rm.contraction_request(hub, [{spec, %{}}])
        assert %StartChildrenRequest{node: n, options: [migration_add: true]} = local
        assert n == node()
        assert [%{nodes: [^n], migration: true}] = local.children
      end
    end
  end
end
