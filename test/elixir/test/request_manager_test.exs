defmodule PhnCheck.RequestManagerTest do
  @moduledoc """
  Drives the RequestManager modules from Elixir with ProcessHub-named structs and checks,
  with Elixir's own MapSet, struct, Keyword and Enum functions, that the results are what
  ProcessHub's RequestManager returns (REFERENCE.md §1, §2, §6.1). Every case runs
  against the NIF drop-in `:phn_request_manager` and the plain-Erlang oracle
  `:phn_request_manager_erl`.
  """
  use ExUnit.Case, async: true

  alias ProcessHub.Future
  alias ProcessHub.Request.Handler.{PidsRegisterRequest, PidsUnregisterRequest}
  alias ProcessHub.Request.Handler.{StartChildrenRequest, StopChildrenRequest}
  alias ProcessHub.Service.RequestManager
  alias ProcessHub.StartResult

  @fields ~w(transaction_id hub_id handler nodes_data sub_requests completed_nodes
             expires_at awaiter future options)a

  defp now, do: System.monotonic_time(:millisecond)

  defp hub_state(pending \\ %{}), do: %{hub_id: :test_hub, pending_operations: pending}

  defp make_operation(opts \\ []) do
    %RequestManager{
      transaction_id: make_ref(),
      hub_id: :test_hub,
      handler: Keyword.get(opts, :handler, StartChildrenRequest),
      nodes_data: Keyword.get(opts, :nodes_data, [{node(), []}]),
      completed_nodes: Keyword.get(opts, :completed_nodes, MapSet.new()),
      expires_at: now() + Keyword.get(opts, :timeout, 60_000),
      sub_requests: Keyword.get(opts, :sub_requests, []),
      awaiter: Keyword.get(opts, :awaiter),
      options: Keyword.get(opts, :options, [])
    }
  end

  defp sr(node, results, status, children \\ []) do
    %StartChildrenRequest{node: node, results: results, status: status, children: children}
  end

  defp children(n), do: for(i <- 1..n, do: %{child_id: :"child_#{i}", nodes: [node()]})

  for rm <- [:phn_request_manager, :phn_request_manager_erl] do
    describe "#{rm}: the operation struct" do
      @rm rm

      test "new/4 builds a %RequestManager{} with exactly the ten v0.5.0-beta fields" do
        nodes_data = [{node(), [%{child_id: :c1}]}]
        before = now()
        op = @rm.new(%{hub_id: :test_hub}, StartChildrenRequest, nodes_data, [])

        assert %RequestManager{hub_id: :test_hub, handler: StartChildrenRequest, sub_requests: []} = op
        assert is_struct(op, RequestManager)
        assert op.nodes_data == nodes_data
        assert is_reference(op.transaction_id)
        assert op.awaiter == nil
        assert op.options == []
        assert MapSet.equal?(op.completed_nodes, MapSet.new())
        assert MapSet.size(op.completed_nodes) == 0
        assert op.completed_nodes == MapSet.new()
        assert op.expires_at >= before + 600_000 and op.expires_at <= now() + 600_000
        assert MapSet.new(Map.keys(Map.from_struct(op))) == MapSet.new(@fields)
        assert Map.keys(op) |> Enum.sort() == Map.keys(%RequestManager{}) |> Enum.sort()

        ref = op.transaction_id
        node = node()

        assert %Future{future_resolver: {:test_hub, ^node}, ref: ^ref, timeout: 5000, action: :start} =
                 op.future
      end

      test "new/4: the future's action comes from the handler's last name segment" do
        assert @rm.new(%{hub_id: :h}, StopChildrenRequest, [], []).future.action == :stop
        assert @rm.new(%{hub_id: :h}, PidsRegisterRequest, [], []).future.action == :unknown
        assert @rm.new(%{hub_id: :h}, Some.Other.StartChildrenRequest, [], []).future.action == :start
        # Module.split/1 raises on a plain Erlang module name.
        assert_raise ArgumentError, fn -> @rm.new(%{hub_id: :h}, :lists, [], []) end
      end

      test "new/4: request_timeout, timeout and extra options" do
        before = now()

        op =
          @rm.new(%{hub_id: :h}, StartChildrenRequest, [],
            request_timeout: 30_000,
            timeout: 1234,
            my_opt: :val
          )

        assert op.expires_at >= before + 30_000 and op.expires_at <= now() + 30_000
        assert op.future.timeout == 1234
        assert Keyword.get(op.options, :my_opt) == :val
        assert op.options == [request_timeout: 30_000, timeout: 1234, my_opt: :val]
      end

      test "compose_sub_requests/1: one handler struct per nodes_data entry, in order" do
        assert {:error, :no_children} = @rm.compose_sub_requests(make_operation(nodes_data: []))

        nodes_data = [{:node1, [%{child_id: :c1}]}, {:node2, [%{child_id: :c2}]}, {:node3, []}]

        op =
          make_operation(
            nodes_data: nodes_data,
            options: [request_signature: 42, reply_to: [self()], custom_opt: true]
          )

        assert {:ok, %RequestManager{sub_requests: subs} = composed} = @rm.compose_sub_requests(op)
        assert %{composed | sub_requests: []} == op
        assert Enum.map(subs, & &1.node) == Keyword.keys(nodes_data)
        assert Enum.map(subs, & &1.children) == Keyword.values(nodes_data)

        for sub <- subs do
          assert %StartChildrenRequest{status: :dispatched, request_signature: 42} = sub
          assert sub.transaction_id == op.transaction_id
          assert sub.hub_id == :test_hub
          assert sub.originating_node == node()
          assert sub.reply_to == [self()]
          refute Keyword.has_key?(sub.options, :reply_to)
          assert sub.options == [request_signature: 42, custom_opt: true]
        end

        stop_op = make_operation(handler: StopChildrenRequest, nodes_data: [{node(), [%{child_id: :c1}]}])
        assert {:ok, %{sub_requests: [%StopChildrenRequest{node: n}]}} = @rm.compose_sub_requests(stop_op)
        assert n == node()

        # A plain map is not an operation.
        assert_raise FunctionClauseError, fn -> @rm.compose_sub_requests(Map.from_struct(op)) end
      end
    end

    describe "#{rm}: state management" do
      @rm rm

      test "store/get/update/remove keep other operations and other state keys" do
        op1 = make_operation()
        op2 = make_operation()
        state = Map.put(hub_state(), :other, :kept)

        s1 = @rm.store(state, op1)
        assert s1.pending_operations == %{op1.transaction_id => op1}
        s2 = @rm.store(s1, op2)
        assert map_size(s2.pending_operations) == 2
        assert s2.other == :kept
        assert @rm.get(s2, op1.transaction_id) == op1
        assert @rm.get(s2, make_ref()) == nil

        s3 = @rm.update(s2, %RequestManager{op1 | hub_id: :updated_hub})
        assert %RequestManager{hub_id: :updated_hub} = @rm.get(s3, op1.transaction_id)

        s4 = @rm.remove(s3, op1.transaction_id)
        assert Map.keys(s4.pending_operations) == [op2.transaction_id]
        assert @rm.remove(s4, make_ref()) == s4
      end

      test "cleanup_expired/1 drops only expired operations, keeps other keys" do
        expired = make_operation(timeout: -1000)
        valid = make_operation(timeout: 60_000)
        state = Map.put(hub_state(%{expired.transaction_id => expired, valid.transaction_id => valid}), :x, 1)

        assert %{pending_operations: pending, x: 1} = @rm.cleanup_expired(state)
        assert pending == %{valid.transaction_id => valid}
        assert @rm.cleanup_expired(hub_state()) == hub_state()
      end

      test "cleanup_expired/2 and expired?/2 take the clock; equal is not expired" do
        op = %RequestManager{make_operation() | expires_at: 1000}
        refute @rm.expired?(op, 1000)
        assert @rm.expired?(op, 1001)
        state = hub_state(%{op.transaction_id => op})
        assert @rm.cleanup_expired(state, 1000) == state
        assert @rm.cleanup_expired(state, 1001).pending_operations == %{}
        assert @rm.expired?(make_operation(timeout: -1000))
        refute @rm.expired?(make_operation(timeout: 60_000))
      end
    end

    describe "#{rm}: tracking" do
      @rm rm

      test "all_responded?/1 is set equality of nodes_data keys and completed_nodes" do
        nd = [{:node1, []}, {:node2, []}]
        assert @rm.all_responded?(%{nodes_data: nd, completed_nodes: MapSet.new([:node1, :node2])})
        refute @rm.all_responded?(%{nodes_data: nd, completed_nodes: MapSet.new([:node1])})
        assert @rm.all_responded?(%{nodes_data: [], completed_nodes: MapSet.new()})
        # A node outside the operation makes the sets unequal forever (quirk).
        refute @rm.all_responded?(%{nodes_data: nd, completed_nodes: MapSet.new([:node1, :node2, :node3])})
        # Duplicate keys collapse.
        assert @rm.all_responded?(%{nodes_data: [{:n, []}, {:n, []}], completed_nodes: MapSet.new([:n])})
      end

      test "set_awaiter/2" do
        from = {self(), make_ref()}
        assert %RequestManager{awaiter: ^from} = @rm.set_awaiter(make_operation(), from)
      end

      test "record_response/4 on a plain map: every matching sub-request, node always added" do
        results = [{:child1, {:ok, self()}}]
        map = %{sub_requests: [sr(:node1, nil, :dispatched)], completed_nodes: MapSet.new()}
        out = @rm.record_response(map, :node1, results, :results)

        assert MapSet.member?(out.completed_nodes, :node1)
        assert MapSet.equal?(out.completed_nodes, MapSet.new([:node1]))
        assert out.completed_nodes == MapSet.new([:node1])
        assert [%StartChildrenRequest{results: ^results, status: :completed}] = out.sub_requests

        two = %{
          sub_requests: [
            sr(:node1, nil, :dispatched),
            sr(:node2, nil, :dispatched),
            sr(:node1, nil, :dispatched)
          ],
          completed_nodes: MapSet.new()
        }

        out = @rm.record_response(two, :node1, [:r], :results)

        assert Enum.map(out.sub_requests, &{&1.node, &1.results, &1.status}) ==
                 [{:node1, [:r], :completed}, {:node2, nil, :dispatched}, {:node1, [:r], :completed}]

        # Unknown node: nothing matched, but the node is recorded.
        out = @rm.record_response(two, :stranger, [:r], :results)
        assert out.sub_requests == two.sub_requests
        assert MapSet.to_list(out.completed_nodes) == [:stranger]

        # A second response from the same node overwrites; the set does not change.
        out2 = @rm.record_response(@rm.record_response(two, :node1, [:a], :results), :node1, [:b], :results)
        assert Enum.map(out2.sub_requests, & &1.results) == [[:b], nil, [:b]]
        assert MapSet.equal?(out2.completed_nodes, MapSet.new([:node1]))

        # The recorded set is a genuine MapSet: Elixir's functions work on it.
        assert out2.completed_nodes |> MapSet.put(:node2) |> Enum.sort() == [:node1, :node2]
        assert inspect(out2.completed_nodes) == "MapSet.new([:node1])"
      end

      test "process_response/3: complete and pending" do
        op = make_operation(nodes_data: [{node(), []}], sub_requests: [sr(node(), nil, :dispatched)])
        assert {:complete, %RequestManager{} = op1} = @rm.process_response(op, node(), [])
        assert MapSet.member?(op1.completed_nodes, node())

        op =
          make_operation(
            nodes_data: [{:node1, []}, {:node2, []}],
            sub_requests: [sr(:node1, nil, :dispatched), sr(:node2, nil, :dispatched)]
          )

        assert {:pending, op1} = @rm.process_response(op, :node1, [{:c, {:ok, self()}}])
        assert MapSet.member?(op1.completed_nodes, :node1)
        refute MapSet.member?(op1.completed_nodes, :node2)
        assert {:complete, op2} = @rm.process_response(op1, :node2, [])
        assert MapSet.equal?(op2.completed_nodes, MapSet.new(Keyword.keys(op.nodes_data)))

        assert_raise FunctionClauseError, fn -> @rm.process_response(Map.from_struct(op), :node1, []) end
      end
    end

    describe "#{rm}: split" do
      @rm rm

      test "Start/Stop: up to 1000 children stay one request; more become Enum.chunk_every(_, 1000)" do
        for mod <- [StartChildrenRequest, StopChildrenRequest] do
          small = struct(mod, transaction_id: make_ref(), node: :n1, children: children(100), options: [a: 1])
          assert [^small] = @rm.split(small)
          exact = %{small | children: children(1000)}
          assert [^exact] = @rm.split(exact)
          assert length(@rm.split(%{small | children: children(1001)})) == 2

          all = children(2500)
          big = %{small | children: all, status: :dispatched, results: [:kept]}
          chunks = @rm.split(big)
          assert length(chunks) == 3
          assert Enum.map(chunks, & &1.children) == Enum.chunk_every(all, 1000)
          assert Enum.map(chunks, &length(&1.children)) == [1000, 1000, 500]
          assert Enum.sum(Enum.map(chunks, &length(&1.children))) == 2500

          for chunk <- chunks do
            assert is_struct(chunk, mod)
            # Every other field is kept.
            assert %{chunk | children: nil} == %{big | children: nil}
          end
        end
      end

      test "PidsRegisterRequest: 10 000 per chunk, fresh structs (durable dropped)" do
        small = PidsRegisterRequest.new(Map.new(1..100, &{&1, {%{}, [], %{}}}), durable: true)
        assert [^small] = @rm.split(small)

        data = Map.new(1..20_000, &{&1, {%{}, [{node(), self()}], %{}}})
        chunks = @rm.split(PidsRegisterRequest.new(data, durable: true))
        assert length(chunks) == 2

        assert Enum.all?(
                 chunks,
                 &(is_struct(&1, PidsRegisterRequest) and map_size(&1.children_data) == 10_000)
               )

        assert Enum.reduce(chunks, %{}, &Map.merge(&2, &1.children_data)) == data
        # Quirk: each chunk is a fresh struct, so `durable` is back at its default.
        assert Enum.all?(chunks, &(&1.durable == false))
      end

      test "PidsUnregisterRequest: 10 000 per chunk, fields kept" do
        small = PidsUnregisterRequest.new(Enum.map(1..100, &{:"child_#{&1}", [node()]}))
        assert [^small] = @rm.split(small)

        list = Enum.map(1..20_000, &{&1, [node()]})
        chunks = @rm.split(PidsUnregisterRequest.new(list, on_empty: :stopped))
        assert Enum.map(chunks, & &1.removable_cid_nodes) == Enum.chunk_every(list, 10_000)
        assert Enum.all?(chunks, &match?(%PidsUnregisterRequest{on_empty: :stopped}, &1))
      end

      test "anything else is returned whole" do
        assert @rm.split(%{unknown: true}) == [%{unknown: true}]
      end
    end

    describe "#{rm}: forwarding and options" do
      @rm rm

      test "populate_forward/3 has Keyword.update/4 semantics" do
        assert @rm.populate_forward([], [:n1], :c) == [n1: [:c]]
        assert @rm.populate_forward([], [:n1, :n2], :c) == [n1: [:c], n2: [:c]]
        assert [n1: [:c2, :c1]] = @rm.populate_forward(@rm.populate_forward([], [:n1], :c1), [:n1], :c2)
        assert @rm.populate_forward([n1: [:e]], [:n2], :c) == [n1: [:e], n2: [:c]]
        assert @rm.populate_forward([n1: [:e]], [], :c) == [n1: [:e]]

        reference = fn forward, targets, child ->
          Enum.reduce(targets, forward, fn n, acc -> Keyword.update(acc, n, [child], &[child | &1]) end)
        end

        :rand.seed(:exsss, {1, 2, 3})
        nodes = [:a, :b, :c, :d, :e]

        for i <- 1..300 do
          forward = for _ <- 0..:rand.uniform(6), do: {Enum.random(nodes), [make_ref()]}
          targets = for _ <- 0..:rand.uniform(4), do: Enum.random(nodes)

          assert @rm.populate_forward(forward, targets, {:child, i}) ==
                   reference.(forward, targets, {:child, i})
        end
      end

      test "request_to_opts/1 prepends the truthy routing fields" do
        ref = make_ref()

        req = %StartChildrenRequest{
          transaction_id: ref,
          hub_id: :my_hub,
          originating_node: node(),
          reply_to: [self()],
          options: [some_opt: true, hub_id: :old]
        }

        opts = @rm.request_to_opts(req)

        assert opts == [
                 reply_to: [self()],
                 originating_node: node(),
                 hub_id: :my_hub,
                 transaction_id: ref,
                 some_opt: true,
                 hub_id: :old
               ]

        assert Keyword.keyword?(opts)
        assert Keyword.get(opts, :hub_id) == :my_hub
        assert Keyword.get_values(opts, :hub_id) == [:my_hub, :old]
        assert Keyword.get(opts, :some_opt)

        assert @rm.request_to_opts(%StopChildrenRequest{}) == []

        opts = @rm.request_to_opts(%StartChildrenRequest{hub_id: :h, reply_to: false, options: [o: 1]})
        assert opts == [hub_id: :h, o: 1]
        refute Enum.any?([:transaction_id, :originating_node, :reply_to], &Keyword.has_key?(opts, &1))
      end

      test "send_response/3: a GenServer cast to {hub_id, originating_node}, or :skip" do
        hub = :"phn_check_hub_#{System.unique_integer([:positive])}"
        Process.register(self(), hub)
        ref = make_ref()
        results = [{:c1, {:ok, self()}}]
        opts = [hub_id: hub, transaction_id: ref, originating_node: node(), hub_id: :ignored]

        assert :ok = @rm.send_response(:operation_response, opts, results)
        me = node()
        assert_receive {:"$gen_cast", {:operation_response, ^ref, ^me, ^results}}

        assert :skip = @rm.send_response(:operation_response, Keyword.delete(opts, :hub_id), results)
        assert :skip = @rm.send_response(:operation_response, Keyword.delete(opts, :transaction_id), results)
        assert :skip = @rm.send_response(:operation_response, [originating_node: node()], results)

        assert :skip =
                 @rm.send_response(:operation_response, Keyword.put(opts, :originating_node, nil), results)

        refute_receive {:"$gen_cast", _}, 50
      end
    end

    describe "#{rm}: GenServer handlers" do
      @rm rm

      test "handle_response/4: unknown reference leaves the state identical" do
        state = hub_state(%{make_ref() => make_operation()})
        assert {:noreply, ^state} = @rm.handle_response(state, make_ref(), node(), [])
      end

      test "handle_response/4: completion finalizes, replies to the awaiter, removes" do
        tag = make_ref()
        child = %{child_id: :child1}

        op =
          make_operation(
            sub_requests: [sr(node(), nil, :dispatched, [child])],
            awaiter: {self(), tag}
          )

        state = hub_state(%{op.transaction_id => op})
        pid = self()
        me = node()

        assert {:noreply, %{pending_operations: pending}} =
                 @rm.handle_response(state, op.transaction_id, node(), [{:child1, {:ok, pid}}])

        assert pending == %{}

        assert_receive {^tag,
                        %StartResult{
                          status: :ok,
                          started: [{:child1, [{^me, ^pid}]}],
                          errors: [],
                          rollback: false
                        }}
      end

      test "handle_response/4: a partial response keeps the operation pending" do
        op =
          make_operation(
            nodes_data: [{:node1, []}, {:node2, []}],
            sub_requests: [sr(:node1, nil, :dispatched), sr(:node2, nil, :dispatched)]
          )

        state = hub_state(%{op.transaction_id => op})
        assert {:noreply, s} = @rm.handle_response(state, op.transaction_id, :node1, [])
        stored = @rm.get(s, op.transaction_id)
        assert MapSet.member?(stored.completed_nodes, :node1)
        refute MapSet.member?(stored.completed_nodes, :node2)
      end

      test "handle_await/3: unknown, all responded, timeout 0, deferred" do
        state = hub_state()
        from = {self(), make_ref()}

        assert {:reply, {:error, :pending_request_not_found}, ^state} =
                 @rm.handle_await(state, make_ref(), from)

        done =
          make_operation(
            completed_nodes: MapSet.new([node()]),
            sub_requests: [sr(node(), [{:child1, {:ok, self()}}], :completed)]
          )

        assert {:reply, %StartResult{status: :ok}, %{pending_operations: p}} =
                 @rm.handle_await(hub_state(%{done.transaction_id => done}), done.transaction_id, from)

        assert p == %{}

        two = [{:node1, []}, {:node2, []}]

        subs = [
          sr(:node1, nil, :dispatched, [%{child_id: :a}]),
          sr(:node2, nil, :dispatched, [%{child_id: :b}])
        ]

        now_op = make_operation(nodes_data: two, sub_requests: subs, options: [timeout: 0])

        assert {:reply, %StartResult{status: :error, errors: errors}, %{pending_operations: p}} =
                 @rm.handle_await(hub_state(%{now_op.transaction_id => now_op}), now_op.transaction_id, from)

        assert p == %{}
        assert errors == [{:b, {:error, :no_response}}, {:a, {:error, :no_response}}]

        later = make_operation(nodes_data: two, sub_requests: subs, options: [timeout: 30])
        ref = later.transaction_id
        assert {:noreply, s} = @rm.handle_await(hub_state(%{ref => later}), ref, from)
        assert @rm.get(s, ref).awaiter == from
        # The await timer is a plain message to the caller of handle_await (the coordinator).
        assert_receive {:await_timeout, ^ref, ^from}, 1000
      end

      test "handle_timeout/3: replies to the awaiter with the partial result (GenServer.reply format)" do
        state = hub_state(%{make_ref() => make_operation()})
        assert {:noreply, ^state} = @rm.handle_timeout(state, make_ref(), {self(), make_ref()})

        tag = make_ref()
        from = {self(), tag}

        op =
          make_operation(awaiter: from, sub_requests: [sr(node(), nil, :dispatched, [%{child_id: :child1}])])

        state = hub_state(%{op.transaction_id => op})

        assert {:noreply, %{pending_operations: p}} = @rm.handle_timeout(state, op.transaction_id, from)
        assert p == %{}

        assert_receive {^tag,
                        %StartResult{status: :error, started: [], errors: [{:child1, {:error, :no_response}}]}}

        # A different From: nothing happens.
        other = {self(), make_ref()}
        assert {:noreply, ^state} = @rm.handle_timeout(state, op.transaction_id, other)
        refute_receive {_, %StartResult{}}, 20
      end

      test "handle_timeout/3: an OTP alias tag is answered through the alias" do
        alias_ref = :erlang.alias()
        from = {self(), [:alias | alias_ref]}
        op = make_operation(awaiter: from, sub_requests: [sr(node(), [{:c, {:ok, self()}}], :completed)])

        assert {:noreply, _} =
                 @rm.handle_timeout(hub_state(%{op.transaction_id => op}), op.transaction_id, from)

        assert_receive {[:alias | ^alias_ref], %StartResult{status: :ok}}
        :erlang.unalias(alias_ref)
      end
    end
  end
end
